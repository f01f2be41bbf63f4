//! The resume checkpoint: a versioned JSON document that lets another process continue an upload.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::machine::check_session_terms;
use super::{SourceFingerprint, UploadConfig, UploadError};
use crate::wire::NewSession;
use crate::{redact_url, BaseUrl};

/// The value of [`Checkpoint::format`].
pub const CHECKPOINT_FORMAT: &str = "kommo-files/upload-checkpoint";
/// The version this crate writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Everything needed to continue an upload within its session's 24 hours: where the next part
/// goes, how much the server has, and a fingerprint of the source to refuse a changed file.
///
/// It holds no access token: the process that resumes brings its own. `next_url` carries the
/// session's signed upload token, so `Debug` shows it redacted (see [`redact_url`]).
///
/// ```
/// use kommo_files_model::upload::Checkpoint;
/// let text = r#"{"format":"kommo-files/upload-checkpoint","version":99}"#;
/// assert!(Checkpoint::from_json(text.as_bytes()).is_err()); // a newer format is refused
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// When the session expires (24 h after it was opened). A damaged checkpoint's expiry past
    /// what a `SystemTime` can hold gives the latest time it can.
    pub fn expires_at(&self) -> SystemTime {
        let expiry = Duration::from_secs(self.session_expires_at);
        UNIX_EPOCH.checked_add(expiry).unwrap_or_else(|| {
            // The platform's latest time, approached from below (a checked add never panics).
            let (mut latest, mut step) = (UNIX_EPOCH, expiry);
            while step >= Duration::from_secs(1) {
                match latest.checked_add(step) {
                    Some(later) => latest = later,
                    None => step /= 2,
                }
            }
            latest
        })
    }

    /// Whether the session has expired at `now`, or will within `margin` (a part sent that
    /// close to the end could arrive too late).
    ///
    /// ```
    /// use kommo_files_model::upload::Checkpoint;
    /// use std::time::Duration;
    /// # let json = r#"{"format":"kommo-files/upload-checkpoint","version":1,
    /// #   "drive_url":"https://drive-c.kommo.com","session":{"file_name":"a.txt","file_size":3},
    /// #   "session_id":1,"next_url":"https://drive-c.kommo.com/upload/t","offset":0,
    /// #   "max_part_size":4,"max_file_size":9,"session_opened_at":1000,"session_expires_at":87400,
    /// #   "source":{"size":3,"modified":null,"prefix_sha256":""}}"#;
    /// let checkpoint = Checkpoint::from_json(json.as_bytes())?;
    /// let minute = Duration::from_secs(60);
    /// assert!(!checkpoint.is_expired(checkpoint.expires_at() - 2 * minute, minute));
    /// assert!(checkpoint.is_expired(checkpoint.expires_at() - minute, minute));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_expired(&self, now: SystemTime, margin: Duration) -> bool {
        // A time too far in the future to add to is past any expiry. Compared as durations
        // since the epoch: an expiry from a damaged file may be past what `SystemTime` holds.
        now.checked_add(margin).is_none_or(|deadline| {
            deadline
                .duration_since(UNIX_EPOCH)
                .is_ok_and(|since| since >= Duration::from_secs(self.session_expires_at))
        })
    }

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
        let checkpoint: Self = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))?;
        // Whatever the configuration: what it allows is checked again on resume.
        let any_part_size = UploadConfig {
            min_part_size: 1,
            part_size_limit: u64::MAX,
            ..UploadConfig::default()
        };
        match checkpoint.validate(&any_part_size) {
            Ok(_) => Ok(checkpoint),
            Err(UploadError::Checkpoint(error)) => Err(error),
            Err(error) => {
                let path = match error {
                    UploadError::UnusablePartSize { .. } => "max_part_size",
                    UploadError::FileTooLarge { .. } => "max_file_size",
                    _ => "next_url",
                };
                Err(invalid(path.to_owned(), error.to_string()))
            }
        }
    }

    /// Checks the session this checkpoint describes with the rules a fresh session's answer
    /// meets (the same function): `next_url` on `drive_url`, a `max_part_size` that `config`
    /// accepts, the file within `max_file_size`; and the checkpoint's own consistency: the
    /// session's file size is the source's, `offset` is a whole number of parts within it.
    /// Returns the part size.
    ///
    /// [`Checkpoint::from_json`] checks this with any part size from 1 byte up;
    /// [`UploadMachine::resume`](super::UploadMachine::resume) with the upload's
    /// configuration.
    ///
    /// ```
    /// use kommo_files_model::upload::{Checkpoint, UploadConfig, UploadError};
    /// # let json = r#"{"format":"kommo-files/upload-checkpoint","version":1,
    /// #   "drive_url":"https://drive-c.kommo.com","session":{"file_name":"a.bin","file_size":4096},
    /// #   "session_id":1,"next_url":"https://drive-c.kommo.com/upload/t","offset":0,
    /// #   "max_part_size":1,"max_file_size":9999,"session_opened_at":1000,"session_expires_at":87400,
    /// #   "source":{"size":4096,"modified":null,"prefix_sha256":""}}"#;
    /// // A checkpoint asking for 1-byte parts of a 4 KiB file.
    /// let checkpoint = Checkpoint::from_json(json.as_bytes())?;
    /// assert!(matches!(
    ///     checkpoint.validate(&UploadConfig::default()),
    ///     Err(UploadError::UnusablePartSize { max_part_size: 1, .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate(&self, config: &UploadConfig) -> Result<u64, UploadError> {
        let inconsistent = |path: &str, message: String| {
            UploadError::Checkpoint(CheckpointError::Invalid {
                path: path.to_owned(),
                message,
            })
        };
        let size = self.source.size;
        if self.session.file_size != size {
            return Err(inconsistent(
                "session.file_size",
                format!("{} bytes, the source has {size}", self.session.file_size),
            ));
        }
        let max_part_size = check_session_terms(
            &self.drive_url,
            &self.next_url,
            self.max_part_size,
            self.max_file_size,
            size,
            config,
        )?;
        if self.offset > size || (!self.offset.is_multiple_of(max_part_size) && self.offset != size)
        {
            return Err(inconsistent(
                "offset",
                format!(
                    "{} is not a whole number of {max_part_size}-byte parts of the {size} bytes",
                    self.offset
                ),
            ));
        }
        Ok(max_part_size)
    }
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("format", &self.format)
            .field("version", &self.version)
            .field("drive_url", &self.drive_url)
            .field("session", &self.session)
            .field("session_id", &self.session_id)
            .field("next_url", &redact_url(&self.next_url))
            .field("offset", &self.offset)
            .field("max_part_size", &self.max_part_size)
            .field("max_file_size", &self.max_file_size)
            .field("session_opened_at", &self.session_opened_at)
            .field("session_expires_at", &self.session_expires_at)
            .field("source", &self.source)
            .finish()
    }
}
