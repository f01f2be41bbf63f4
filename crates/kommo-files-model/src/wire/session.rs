use serde::{Deserialize, Serialize};

use super::Author;

/// Body of `POST /v1.0/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NewSession {
    /// File name with extension.
    pub file_name: String,
    /// Total size in bytes.
    pub file_size: u64,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Set to upload a new version of this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_uuid: Option<String>,
    /// Ask for previews (sent only when true, like the official SDK).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_preview: bool,
    /// Undocumented author override the official SDK sends when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Author>,
}

impl NewSession {
    /// A session for a new file.
    pub fn new(file_name: impl Into<String>, file_size: u64) -> Self {
        Self {
            file_name: file_name.into(),
            file_size,
            content_type: None,
            file_uuid: None,
            with_preview: false,
            created_by: None,
        }
    }

    /// Sets the MIME type.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Makes the upload a new version of `file_uuid`.
    pub fn new_version_of(mut self, file_uuid: impl Into<String>) -> Self {
        self.file_uuid = Some(file_uuid.into());
        self
    }

    /// Asks the server to generate previews.
    pub fn with_preview(mut self, with_preview: bool) -> Self {
        self.with_preview = with_preview;
        self
    }
}

/// The answer to `POST /v1.0/sessions`. `Debug` shows `upload_url` redacted (see
/// [`crate::redact_url`]): it carries the session's signed upload token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadSession {
    /// Session id.
    pub session_id: i64,
    /// Where the first part goes.
    pub upload_url: String,
    /// Largest file the server accepts.
    pub max_file_size: u64,
    /// Largest part the server accepts.
    pub max_part_size: u64,
}

/// The answer to a non-final part: where the next part goes. `Debug` shows `next_url`
/// redacted, as [`UploadSession`] does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NextPart {
    /// Session id (RU examples show a different number than the session's; not relied upon).
    #[serde(default)]
    pub session_id: Option<i64>,
    /// Where the next part goes.
    pub next_url: String,
}

impl std::fmt::Debug for UploadSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSession")
            .field("session_id", &self.session_id)
            .field("upload_url", &crate::redact_url(&self.upload_url))
            .field("max_file_size", &self.max_file_size)
            .field("max_part_size", &self.max_part_size)
            .finish()
    }
}

impl std::fmt::Debug for NextPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextPart")
            .field("session_id", &self.session_id)
            .field("next_url", &crate::redact_url(&self.next_url))
            .finish()
    }
}
