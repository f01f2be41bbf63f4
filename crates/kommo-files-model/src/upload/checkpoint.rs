//! The resume checkpoint: a versioned JSON document that lets another process continue an upload.

use serde::{Deserialize, Serialize};

use super::SourceFingerprint;
use crate::wire::NewSession;
use crate::BaseUrl;

/// The value of [`Checkpoint::format`].
pub const CHECKPOINT_FORMAT: &str = "kommo-files/upload-checkpoint";
/// The version this crate writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Everything needed to continue an upload within its session's 24 hours: where the next part
/// goes, how much the server has, and a fingerprint of the source to refuse a changed file.
///
/// It holds no token: the process that resumes brings its own.
///
/// ```
/// use kommo_files_model::upload::Checkpoint;
/// let text = r#"{"format":"kommo-files/upload-checkpoint","version":99}"#;
/// assert!(Checkpoint::from_json(text.as_bytes()).is_err()); // a newer format is refused
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// Always [`CHECKPOINT_VERSION`] for this crate.
    pub version: u32,
    /// The drive host the session lives on.
    pub drive_url: BaseUrl,
    /// What the session was opened with.
    pub session: NewSession,
    /// The server's session id.
    pub session_id: i64,
    /// Where the next part goes.
    pub next_url: String,
    /// Bytes the server has acknowledged; the next part starts here.
    pub offset: u64,
    /// The server's part size limit.
    pub max_part_size: u64,
    /// The server's file size limit.
    pub max_file_size: u64,
    /// When the session was opened (Unix seconds).
    pub session_opened_at: u64,
    /// When the session expires (Unix seconds): 24 h after opening.
    pub session_expires_at: u64,
    /// The source the acknowledged bytes came from.
    pub source: SourceFingerprint,
}

/// Why a checkpoint could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Not a checkpoint of ours, or damaged.
    #[error("not a valid upload checkpoint at `{path}`: {message}")]
    Invalid {
        /// JSON path of the first bad value.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Written by a version of kommo-files this one cannot read.
    #[error("upload checkpoint version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// Version in the document.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
}

impl Checkpoint {
    /// Serialises to pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings and integers always serialises.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Reads a checkpoint, checking its format and version before anything else.
    pub fn from_json(bytes: &[u8]) -> Result<Self, CheckpointError> {
        #[derive(Deserialize)]
        struct Header {
            format: String,
            version: u32,
        }
        let invalid = |path: String, message: String| CheckpointError::Invalid { path, message };
        let header: Header =
            serde_json::from_slice(bytes).map_err(|e| invalid(".".to_owned(), e.to_string()))?;
        if header.format != CHECKPOINT_FORMAT {
            return Err(invalid(
                "format".to_owned(),
                format!("unknown format {:?}", header.format),
            ));
        }
        if header.version != CHECKPOINT_VERSION {
            return Err(CheckpointError::UnsupportedVersion {
                found: header.version,
                supported: CHECKPOINT_VERSION,
            });
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))
    }
}
