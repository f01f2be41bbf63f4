//! The file and file-version objects of the drive host (docs/kommo-api.md#the-file-object).

use serde::{Deserialize, Serialize};

use super::open_enum::open_enum;
use super::Link;

open_enum! {
    /// What kind of content a file holds, as the drive classifies it.
    pub enum FileType {
        /// Pictures.
        Image = "image",
        /// Video.
        Video = "video",
        /// Audio.
        Audio = "audio",
        /// Office documents, PDF and the like.
        Document = "document",
        /// Anything else.
        File = "file",
    }
}

open_enum! {
    /// Who created or changed a file.
    pub enum AuthorType {
        /// A user of the account.
        Internal = "internal",
    }
}

/// The author of a change: `{ "id": 7758337, "type": "internal" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Author {
    /// User id; `-1` stands for a client and `0` for a robot in filters.
    pub id: i64,
    /// Kind of author.
    #[serde(rename = "type")]
    pub kind: AuthorType,
}

impl Author {
    /// An author of the given kind.
    pub fn new(id: i64, kind: AuthorType) -> Self {
        Self { id, kind }
    }
}

/// Extension and MIME type of a stored file; `mime_type` may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileMetadata {
    /// File extension without the dot.
    #[serde(default)]
    pub extension: Option<String>,
    /// MIME type, possibly `""`.
    #[serde(default)]
    pub mime_type: Option<String>,
}

/// A generated preview of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Preview {
    /// Where the preview can be downloaded.
    pub download_link: String,
    /// Width in pixels.
    #[serde(default)]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default)]
    pub height: Option<u32>,
}

/// The HAL links of a file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileLinks {
    /// `{drive}/v1.0/files/{uuid}`.
    #[serde(default, rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    /// Download of the active version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<Link>,
    /// Download of this exact version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_version: Option<Link>,
}

/// A file on the drive host, as returned by the final upload part, get, edit, list and restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileObject {
    /// Numeric id: undocumented, but real responses carry it (the official PHP SDK requires it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The file's UUID, stable across versions.
    pub uuid: String,
    /// The active version's UUID.
    #[serde(default)]
    pub version_uuid: Option<String>,
    /// Content kind.
    #[serde(default, rename = "type")]
    pub kind: Option<FileType>,
    /// Name without extension (the extension is in `metadata`).
    #[serde(default)]
    pub name: String,
    /// The name transliterated to ASCII.
    #[serde(default)]
    pub sanitized_name: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// The source the file came from (integration, messenger), if any.
    #[serde(default)]
    pub source_id: Option<i64>,
    /// Whether the file is in the trash.
    #[serde(default)]
    pub is_trashed: bool,
    /// Whether more than one version exists.
    #[serde(default)]
    pub has_multiple_versions: bool,
    /// Extension and MIME type.
    #[serde(default)]
    pub metadata: Option<FileMetadata>,
    /// Previews, when generated.
    #[serde(default)]
    pub previews: Option<Vec<Preview>>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Creator.
    #[serde(default)]
    pub created_by: Option<Author>,
    /// Unix seconds.
    #[serde(default)]
    pub updated_at: Option<i64>,
    /// Last editor.
    #[serde(default)]
    pub updated_by: Option<Author>,
    /// Unix seconds, when trashed.
    #[serde(default)]
    pub deleted_at: Option<i64>,
    /// Who trashed it.
    #[serde(default)]
    pub deleted_by: Option<Author>,
    /// Present on the final upload answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i64>,
    /// HAL links.
    #[serde(default, rename = "_links")]
    pub links: FileLinks,
}

impl FileObject {
    /// The name to show and to save the file under: the server keeps the extension apart from
    /// `name` (`invoice-1` + `pdf`), this puts them together (`invoice-1.pdf`).
    ///
    /// ```
    /// let file: kommo_files_model::wire::FileObject = serde_json::from_str(
    ///     r#"{"uuid":"u","name":"invoice-1","size":3,"metadata":{"extension":"pdf"}}"#,
    /// ).unwrap();
    /// assert_eq!(file.display_name(), "invoice-1.pdf");
    /// ```
    pub fn display_name(&self) -> String {
        self.name_with_extension()
    }

    /// The name with its extension, as a user would save it (`product` + `png` → `product.png`).
    pub fn name_with_extension(&self) -> String {
        name_with_extension(&self.name, self.metadata.as_ref())
    }

    /// The download URL of the active version, if the server sent one.
    pub fn download_url(&self) -> Option<&str> {
        self.links.download.as_ref().map(|l| l.href.as_str())
    }
}

impl FileVersion {
    /// The name to show and to save this version under (see [`FileObject::display_name`]).
    pub fn display_name(&self) -> String {
        self.name_with_extension()
    }

    /// The name with its extension, as a user would save this version.
    pub fn name_with_extension(&self) -> String {
        name_with_extension(&self.name, self.metadata.as_ref())
    }
}

/// Files and versions keep the extension in `metadata`, apart from the name.
fn name_with_extension(name: &str, metadata: Option<&FileMetadata>) -> String {
    match metadata.and_then(|m| m.extension.as_deref()) {
        Some(ext) if !ext.is_empty() => format!("{name}.{ext}"),
        _ => name.to_owned(),
    }
}

/// The HAL links of a version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VersionLinks {
    /// `{drive}/v1.0/files/{file_uuid}/versions/{uuid}`.
    #[serde(default, rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    /// Download of this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<Link>,
}

/// One version of a file (`GET /v1.0/files/{uuid}/versions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileVersion {
    /// The version's UUID.
    pub uuid: String,
    /// The file it belongs to.
    #[serde(default)]
    pub file_uuid: Option<String>,
    /// Whether this is the active version.
    #[serde(default)]
    pub is_main: bool,
    /// Content kind.
    #[serde(default, rename = "type")]
    pub kind: Option<FileType>,
    /// Name without extension.
    #[serde(default)]
    pub name: String,
    /// ASCII name.
    #[serde(default)]
    pub sanitized_name: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Source id.
    #[serde(default)]
    pub source_id: Option<i64>,
    /// Extension and MIME type.
    #[serde(default)]
    pub metadata: Option<FileMetadata>,
    /// Previews.
    #[serde(default)]
    pub previews: Option<Vec<Preview>>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Creator.
    #[serde(default)]
    pub created_by: Option<Author>,
    /// Unix seconds.
    #[serde(default)]
    pub updated_at: Option<i64>,
    /// Last editor.
    #[serde(default)]
    pub updated_by: Option<Author>,
    /// HAL links.
    #[serde(default, rename = "_links")]
    pub links: VersionLinks,
}
