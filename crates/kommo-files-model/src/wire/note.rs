use serde::{Deserialize, Serialize};

use super::embedded::embedded_list;
use super::Link;

/// `params` of an attachment note (`note_type: "attachment"`) when creating it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttachmentNoteParams {
    /// The file.
    pub file_uuid: String,
    /// A specific version; omitted → the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_uuid: Option<String>,
    /// The name shown in the note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// An attachment note to create on an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttachmentNote {
    /// The entity the note belongs to.
    pub entity_id: i64,
    /// Always `attachment`.
    pub note_type: String,
    /// The file reference.
    pub params: AttachmentNoteParams,
    /// Unix seconds; a text note with the same value shows as the file's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Author user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<i64>,
    /// Responsible user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsible_user_id: Option<i64>,
    /// Echoed back in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl AttachmentNote {
    /// An attachment note for `file_uuid` on entity `entity_id`.
    pub fn new(entity_id: i64, file_uuid: impl Into<String>) -> Self {
        Self {
            entity_id,
            note_type: "attachment".to_owned(),
            params: AttachmentNoteParams {
                file_uuid: file_uuid.into(),
                version_uuid: None,
                file_name: None,
            },
            created_at: None,
            created_by: None,
            responsible_user_id: None,
            request_id: None,
        }
    }

    /// Sets the name shown in the note.
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.params.file_name = Some(name.into());
        self
    }

    /// Pins a version.
    pub fn version_uuid(mut self, version_uuid: impl Into<String>) -> Self {
        self.params.version_uuid = Some(version_uuid.into());
        self
    }

    /// Sets `created_at` (Unix seconds).
    pub fn created_at(mut self, unix_seconds: i64) -> Self {
        self.created_at = Some(unix_seconds);
        self
    }
}

/// One created note in the answer to a note add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreatedNote {
    /// Note id.
    pub id: i64,
    /// Entity id.
    #[serde(default)]
    pub entity_id: Option<i64>,
    /// The request id sent, or the item's index.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// The answer to `POST /api/v4/{entity}/notes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreatedNotes {
    /// The created notes, in request order.
    #[serde(default, rename = "_embedded", with = "embedded_notes")]
    pub notes: Vec<CreatedNote>,
}

/// A note as read back; `params` of an attachment note carry the documented read-back keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NoteRead {
    /// Note id.
    pub id: i64,
    /// Entity id.
    #[serde(default)]
    pub entity_id: Option<i64>,
    /// `attachment`, `common`, …
    #[serde(default)]
    pub note_type: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Type-specific parameters, kept as sent.
    #[serde(default)]
    pub params: Option<serde_json::Value>,
    /// HAL links.
    #[serde(default, rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<std::collections::BTreeMap<String, Link>>,
}

impl NoteRead {
    /// The `params` of an attachment note in their documented read-back shape.
    pub fn attachment(&self) -> Option<AttachmentRead> {
        let params = self.params.clone()?;
        serde_json::from_value(params).ok()
    }
}

/// Read-back `params` of an attachment note: `file_name` here is the sanitised name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttachmentRead {
    /// Always true for drive attachments.
    #[serde(default)]
    pub is_drive_attachment: bool,
    /// Original file name.
    #[serde(default)]
    pub text: Option<String>,
    /// Original file name.
    #[serde(default)]
    pub original_name: Option<String>,
    /// The file.
    pub file_uuid: String,
    /// The version shown.
    #[serde(default)]
    pub version_uuid: Option<String>,
    /// Sanitised (transliterated) name.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// The value of a `file` custom field, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileFieldValue {
    /// The file.
    pub file_uuid: String,
    /// A version; omitted → the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_uuid: Option<String>,
    /// Name shown without waiting for the server to look it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Size shown without waiting for the server to look it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

impl FileFieldValue {
    /// A value pointing at `file_uuid`.
    pub fn new(file_uuid: impl Into<String>) -> Self {
        Self {
            file_uuid: file_uuid.into(),
            version_uuid: None,
            file_name: None,
            file_size: None,
        }
    }

    /// A value pointing at the active version of `file`, with its name (and extension) and size.
    ///
    /// ```
    /// use kommo_files_model::wire::{FileFieldValue, FileObject};
    /// let file: FileObject = serde_json::from_str(
    ///     r#"{"uuid": "f1", "version_uuid": "v2", "name": "a", "size": 3,
    ///         "metadata": {"extension": "pdf"}}"#,
    /// ).unwrap();
    /// let value = FileFieldValue::from_file(&file);
    /// assert_eq!((value.version_uuid.as_deref(), value.file_size), (Some("v2"), Some(3)));
    /// assert_eq!(value.file_name.as_deref(), Some("a.pdf"));
    /// ```
    pub fn from_file(file: &super::FileObject) -> Self {
        Self {
            file_uuid: file.uuid.clone(),
            version_uuid: file.version_uuid.clone(),
            // With its extension, as Kommo's own example sends it ("wiki.odt").
            file_name: Some(file.name_with_extension()),
            file_size: Some(file.size),
        }
    }
}

/// The value of a `file` custom field as read back: it carries `is_deleted`, which must not be
/// sent back (clients that sent back what they read have met errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileFieldValueRead {
    /// The value as it would be sent.
    #[serde(flatten)]
    pub value: FileFieldValue,
    /// Whether the file was deleted.
    #[serde(default)]
    pub is_deleted: bool,
}

impl FileFieldValueRead {
    /// The value without read-only keys, safe to send back.
    pub fn into_value(self) -> FileFieldValue {
        self.value
    }
}

embedded_list!(embedded_notes, CreatedNote, notes);
