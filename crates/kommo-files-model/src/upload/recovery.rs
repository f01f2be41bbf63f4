//! After [`UploadError::FinalPartUnconfirmed`](super::UploadError::FinalPartUnconfirmed): pure
//! rules to find the file the ambiguous last part may have stored, and to decide whether to
//! adopt it or upload again.
//!
//! The driver lists the files of [`recovery_query`] (or, for a new version, the versions of
//! the file), keeps those [`is_candidate_file`] (or [`is_candidate_version`]) accepts,
//! downloads each to compare its SHA-256 with the source's
//! ([`UploadMachine::source_sha256`](super::UploadMachine::source_sha256)), and lets
//! [`verdict`] decide.
//!
//! ```
//! use kommo_files_model::upload::recovery::{self, Verdict};
//! use kommo_files_model::upload::Checkpoint;
//! use kommo_files_model::wire::FileObject;
//! use std::time::Duration;
//! # let json = r#"{"format":"kommo-files/upload-checkpoint","version":1,
//! #   "drive_url":"https://drive-c.kommo.com","session":{"file_name":"contract.pdf","file_size":3},
//! #   "session_id":1,"next_url":"https://drive-c.kommo.com/upload/t","offset":0,
//! #   "max_part_size":4,"max_file_size":9,"session_opened_at":1700000000,
//! #   "session_expires_at":1700086400,"source":{"size":3,"modified":null,"prefix_sha256":""}}"#;
//! let checkpoint = Checkpoint::from_json(json.as_bytes())?;
//! let skew = Duration::from_secs(120);
//! let query = recovery::recovery_query(&checkpoint, skew);
//! assert_eq!(query.name.as_deref(), Some("contract.pdf"));
//!
//! let listed: FileObject = serde_json::from_str(
//!     r#"{"uuid":"f1","name":"contract","size":3,"created_at":1700000005,
//!         "metadata":{"extension":"pdf"}}"#,
//! )?;
//! assert!(recovery::is_candidate_file(&listed, &checkpoint, skew));
//! // Its bytes were downloaded and their SHA-256 is the source's:
//! let proven = vec![listed];
//! assert!(matches!(recovery::verdict(proven, 0), Verdict::Adopt(file) if file.uuid == "f1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use super::Checkpoint;
use crate::endpoint::{DateField, DateFilter, DateRange, FileQuery};
use crate::wire::{FileObject, FileVersion};

/// The files an ambiguous last part may have stored: those named as the session's file and
/// created since the session opened, less `clock_skew` (our clock and the server's differ).
///
/// ```
/// use kommo_files_model::upload::{recovery::recovery_query, Checkpoint};
/// use std::time::Duration;
/// # let json = r#"{"format":"kommo-files/upload-checkpoint","version":1,
/// #   "drive_url":"https://drive-c.kommo.com","session":{"file_name":"a.txt","file_size":3},
/// #   "session_id":1,"next_url":"https://drive-c.kommo.com/upload/t","offset":0,
/// #   "max_part_size":4,"max_file_size":9,"session_opened_at":1000,"session_expires_at":87400,
/// #   "source":{"size":3,"modified":null,"prefix_sha256":""}}"#;
/// let checkpoint = Checkpoint::from_json(json.as_bytes())?;
/// let query = recovery_query(&checkpoint, Duration::from_secs(120));
/// assert_eq!(
///     query.to_query_string(),
///     "?filter%5Bname%5D=a.txt&filter%5Bdate%5D%5Btype%5D=created_at&filter%5Bdate%5D%5Bfrom%5D=880"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn recovery_query(checkpoint: &Checkpoint, clock_skew: Duration) -> FileQuery {
    FileQuery::new()
        .name(checkpoint.session.file_name.clone())
        .date(DateFilter::new(
            DateField::CreatedAt,
            DateRange::Between {
                from: Some(earliest(checkpoint, clock_skew)),
                to: None,
            },
        ))
}

/// Whether a listed file may be the one stored: the session's name (with extension), the
/// source's size, created since the session opened (less `clock_skew`), and not in the trash.
///
/// ```
/// use kommo_files_model::upload::{recovery::is_candidate_file, Checkpoint};
/// use kommo_files_model::wire::FileObject;
/// use std::time::Duration;
/// # let json = r#"{"format":"kommo-files/upload-checkpoint","version":1,
/// #   "drive_url":"https://drive-c.kommo.com","session":{"file_name":"a.txt","file_size":3},
/// #   "session_id":1,"next_url":"https://drive-c.kommo.com/upload/t","offset":0,
/// #   "max_part_size":4,"max_file_size":9,"session_opened_at":1000,"session_expires_at":87400,
/// #   "source":{"size":3,"modified":null,"prefix_sha256":""}}"#;
/// let checkpoint = Checkpoint::from_json(json.as_bytes())?;
/// let older: FileObject = serde_json::from_str(
///     r#"{"uuid":"f","name":"a","size":3,"created_at":500,"metadata":{"extension":"txt"}}"#,
/// )?;
/// assert!(!is_candidate_file(&older, &checkpoint, Duration::from_secs(120)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn is_candidate_file(file: &FileObject, checkpoint: &Checkpoint, clock_skew: Duration) -> bool {
    file.name_with_extension() == checkpoint.session.file_name
        && file.size == checkpoint.source.size
        && is_recent(file.created_at, checkpoint, clock_skew)
        && !file.is_trashed
        && file.deleted_at.is_none()
}

/// Whether a version (of the file a new-version upload targets) may be the one stored: the
/// source's size, created since the session opened (less `clock_skew`), and of that file when
/// both say which.
///
/// ```
/// use kommo_files_model::upload::{recovery::is_candidate_version, Checkpoint};
/// use kommo_files_model::wire::FileVersion;
/// use std::time::Duration;
/// # let json = r#"{"format":"kommo-files/upload-checkpoint","version":1,
/// #   "drive_url":"https://drive-c.kommo.com",
/// #   "session":{"file_name":"a.txt","file_size":3,"file_uuid":"f"},
/// #   "session_id":1,"next_url":"https://drive-c.kommo.com/upload/t","offset":0,
/// #   "max_part_size":4,"max_file_size":9,"session_opened_at":1000,"session_expires_at":87400,
/// #   "source":{"size":3,"modified":null,"prefix_sha256":""}}"#;
/// let checkpoint = Checkpoint::from_json(json.as_bytes())?;
/// let version: FileVersion =
///     serde_json::from_str(r#"{"uuid":"v2","file_uuid":"f","size":3,"created_at":1001}"#)?;
/// assert!(is_candidate_version(&version, &checkpoint, Duration::from_secs(120)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn is_candidate_version(
    version: &FileVersion,
    checkpoint: &Checkpoint,
    clock_skew: Duration,
) -> bool {
    let same_file = match (&version.file_uuid, &checkpoint.session.file_uuid) {
        (Some(of_version), Some(target)) => of_version == target,
        _ => true,
    };
    same_file
        && version.size == checkpoint.source.size
        && is_recent(version.created_at, checkpoint, clock_skew)
}

/// What to do after checking the candidates' content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict<T> {
    /// This candidate holds the source's bytes: it is the stored file.
    Adopt(T),
    /// No candidate at all: nothing was stored, upload again.
    UploadAgain,
    /// Cannot tell: several candidates hold the source's bytes, or some could not be checked.
    /// Never adopt; let the user decide.
    Ambiguous {
        /// Candidates whose SHA-256 is the source's.
        proven: usize,
        /// Candidates whose content could not be checked.
        unproven: usize,
    },
}

/// Decides from candidates whose content was checked: `proven` are those whose SHA-256 equals
/// the source's, `unproven` counts those that could not be checked (candidates whose content
/// differs are not counted: they are other files). Exactly one proven: adopt it (its bytes
/// are the source's, whatever the unchecked ones hold); none proven and none unproven: upload
/// again; anything else is ambiguous.
///
/// ```
/// use kommo_files_model::upload::recovery::{verdict, Verdict};
/// assert_eq!(verdict(vec!["f1"], 0), Verdict::Adopt("f1"));
/// assert_eq!(verdict(Vec::<&str>::new(), 0), Verdict::UploadAgain);
/// assert_eq!(verdict(Vec::<&str>::new(), 1), Verdict::Ambiguous { proven: 0, unproven: 1 });
/// assert_eq!(verdict(vec!["f1", "f2"], 0), Verdict::Ambiguous { proven: 2, unproven: 0 });
/// ```
pub fn verdict<T>(mut proven: Vec<T>, unproven: usize) -> Verdict<T> {
    match (proven.len(), unproven) {
        (1, _) => match proven.pop() {
            Some(file) => Verdict::Adopt(file),
            None => Verdict::UploadAgain,
        },
        (0, 0) => Verdict::UploadAgain,
        (count, _) => Verdict::Ambiguous {
            proven: count,
            unproven,
        },
    }
}

/// The earliest `created_at` the stored file can have, in Unix seconds.
fn earliest(checkpoint: &Checkpoint, clock_skew: Duration) -> i64 {
    let opened_at = i64::try_from(checkpoint.session_opened_at).unwrap_or(i64::MAX);
    let skew = i64::try_from(clock_skew.as_secs()).unwrap_or(i64::MAX);
    opened_at.saturating_sub(skew)
}

fn is_recent(created_at: Option<i64>, checkpoint: &Checkpoint, clock_skew: Duration) -> bool {
    created_at.is_some_and(|at| at >= earliest(checkpoint, clock_skew))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OPENED: u64 = 1_700_000_000;
    const SKEW: Duration = Duration::from_secs(120);

    fn checkpoint(new_version_of: Option<&str>) -> Checkpoint {
        Checkpoint::from_json(
            json!({
                "format": "kommo-files/upload-checkpoint",
                "version": 1,
                "drive_url": "https://drive-c.kommo.com",
                "session": {"file_name": "contract.pdf", "file_size": 300, "file_uuid": new_version_of},
                "session_id": 7,
                "next_url": "https://drive-c.kommo.com/upload/t",
                "offset": 200,
                "max_part_size": 100,
                "max_file_size": 1000,
                "session_opened_at": OPENED,
                "session_expires_at": OPENED + 86_400,
                "source": {"size": 300, "modified": null, "prefix_sha256": "00"},
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn file(changes: serde_json::Value) -> FileObject {
        let mut value = json!({
            "uuid": "f1",
            "name": "contract",
            "size": 300,
            "created_at": OPENED + 3,
            "metadata": {"extension": "pdf"},
        });
        for (key, changed) in changes.as_object().unwrap() {
            value[key] = changed.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    fn version(changes: serde_json::Value) -> FileVersion {
        let mut value =
            json!({"uuid": "v2", "file_uuid": "f1", "size": 300, "created_at": OPENED + 3});
        for (key, changed) in changes.as_object().unwrap() {
            value[key] = changed.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_query_asks_for_the_name_since_the_session_opened() {
        let query = recovery_query(&checkpoint(None), SKEW);
        assert_eq!(query.name.as_deref(), Some("contract.pdf"));
        assert_eq!(
            query.date,
            Some(DateFilter::new(
                DateField::CreatedAt,
                DateRange::Between {
                    from: Some(OPENED as i64 - 120),
                    to: None
                }
            ))
        );
        // An absurd skew saturates instead of overflowing.
        let far = recovery_query(&checkpoint(None), Duration::MAX);
        assert!(matches!(
            far.date.unwrap().range,
            DateRange::Between { from: Some(from), .. } if from == OPENED as i64 - i64::MAX
        ));
    }

    #[test]
    fn file_candidates() {
        let checkpoint = checkpoint(None);
        let cases = [
            (json!({}), true),
            (json!({"created_at": OPENED - 120}), true),
            (json!({"created_at": OPENED - 121}), false),
            (json!({"created_at": null}), false),
            (json!({"size": 299}), false),
            (json!({"name": "other"}), false),
            (json!({"metadata": {"extension": "txt"}}), false),
            (json!({"metadata": null}), false),
            (json!({"is_trashed": true}), false),
            (json!({"deleted_at": OPENED + 5}), false),
        ];
        for (changes, expected) in cases {
            let candidate = file(changes.clone());
            assert_eq!(
                is_candidate_file(&candidate, &checkpoint, SKEW),
                expected,
                "{changes}"
            );
        }
    }

    #[test]
    fn version_candidates() {
        let checkpoint = checkpoint(Some("f1"));
        let cases = [
            (json!({}), true),
            (json!({"file_uuid": null}), true),
            (json!({"file_uuid": "f2"}), false),
            (json!({"size": 301}), false),
            (json!({"created_at": OPENED - 500}), false),
            (json!({"created_at": null}), false),
        ];
        for (changes, expected) in cases {
            let candidate = version(changes.clone());
            assert_eq!(
                is_candidate_version(&candidate, &checkpoint, SKEW),
                expected,
                "{changes}"
            );
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(vec![1], 0), Verdict::Adopt(1));
        assert_eq!(verdict(vec![1], 2), Verdict::Adopt(1));
        assert_eq!(verdict(Vec::<u8>::new(), 0), Verdict::UploadAgain);
        assert_eq!(
            verdict(Vec::<u8>::new(), 3),
            Verdict::Ambiguous {
                proven: 0,
                unproven: 3
            }
        );
        assert_eq!(
            verdict(vec![1, 2], 1),
            Verdict::Ambiguous {
                proven: 2,
                unproven: 1
            }
        );
    }
}
