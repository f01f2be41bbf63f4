//! What we know of the bytes being uploaded, to refuse resuming over a changed source.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Size and modification time of the source, as the driver read them (no clock, no file here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceInfo {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, when the source has one (a file does; a reader may not).
    pub modified: Option<ModifiedTime>,
}

impl SourceInfo {
    /// A source of `size` bytes without a modification time.
    pub fn of_size(size: u64) -> Self {
        Self {
            size,
            modified: None,
        }
    }

    /// A source of `size` bytes last modified at `modified`.
    pub fn new(size: u64, modified: Option<ModifiedTime>) -> Self {
        Self { size, modified }
    }
}

/// A modification time as Unix seconds and nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifiedTime {
    /// Seconds since the Unix epoch.
    pub unix_seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl ModifiedTime {
    /// The time a file system reported as its modification time.
    pub fn from_system_time(time: std::time::SystemTime) -> Self {
        match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Self {
                unix_seconds: d.as_secs() as i64,
                nanos: d.subsec_nanos(),
            },
            Err(before) => {
                let d = before.duration();
                Self {
                    unix_seconds: -(d.as_secs() as i64),
                    nanos: d.subsec_nanos(),
                }
            }
        }
    }
}

/// The fingerprint a checkpoint keeps: size, modification time and the SHA-256 of the bytes the
/// server already acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceFingerprint {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, if known.
    pub modified: Option<ModifiedTime>,
    /// Lowercase hex SHA-256 of bytes `[0, offset)`.
    pub prefix_sha256: String,
}

/// How the source differs from the one the checkpoint was taken of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceChange {
    /// Another size.
    #[error("its size changed from {was} to {now} bytes")]
    Size {
        /// Size in the checkpoint.
        was: u64,
        /// Size now.
        now: u64,
    },
    /// Another modification time.
    #[error("it was modified after the checkpoint was taken")]
    Modified,
    /// The source was modified while it was being uploaded: its modification time is not the
    /// one it had when the upload started (a file rewritten in place, same size or not).
    #[error("it was modified while it was being uploaded")]
    ModifiedDuringUpload,
    /// The bytes already uploaded are not the same any more.
    #[error("the first {offset} bytes are not the ones already uploaded")]
    Content {
        /// Length of the compared prefix.
        offset: u64,
    },
    /// Fewer bytes could be read than the source's size promised.
    #[error("expected {expected} bytes at offset {offset}, read {got}")]
    ShortRead {
        /// Where the read started.
        offset: u64,
        /// Bytes asked for.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
}

/// A running SHA-256 with its length: the hash of a source's prefix, as checkpoints keep it.
///
/// ```
/// use kommo_files_model::upload::PrefixHash;
/// let mut hash = PrefixHash::default();
/// hash.update(b"ab");
/// hash.update(b"c");
/// assert_eq!(hash.len(), 3);
/// assert_eq!(hash.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// ```
#[derive(Debug, Clone, Default)]
pub struct PrefixHash {
    hasher: Sha256,
    len: u64,
}

impl PrefixHash {
    /// Adds the next bytes of the prefix.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lowercase hex SHA-256 of the bytes so far.
    pub fn hex(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
