//! The resumable upload, as a sans-IO state machine.
//!
//! The driver loop is the same for every runtime:
//!
//! ```text
//! loop {
//!     while let Some(event) = machine.poll_event() { /* progress, checkpoints */ }
//!     match machine.poll_action(now()) {
//!         Action::Read { offset, len } => machine.handle_read(read_exactly(offset, len), now()),
//!         Action::Send(request)         => machine.handle_response(transport.send(request), now()),
//!         Action::Wait { until }        => sleep_until(until),
//!         Action::Done(file)            => return Ok(file),
//!         Action::Failed(error)         => return Err(error),
//!     }
//! }
//! ```
//!
//! See [`UploadMachine`] for a complete example.

mod checkpoint;
mod error;
mod machine;
pub mod recovery;
mod source;

pub use checkpoint::{Checkpoint, CheckpointError, CHECKPOINT_FORMAT, CHECKPOINT_VERSION};
pub use error::{ProtocolViolation, SendFailure, SendFailureKind, UploadError};
pub use machine::{
    Action, SessionLostPolicy, UploadConfig, UploadEvent, UploadMachine, UploadRequest,
    UploadState, MIN_PART_SIZE, SESSION_LIFETIME,
};
pub use source::{hex, ModifiedTime, PrefixHash, SourceChange, SourceFingerprint, SourceInfo};
