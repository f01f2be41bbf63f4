//! Wire types: every object the Files API sends or receives (files and versions, upload
//! sessions, list pages, entity links, notes, `file` field values, error problems).
//!
//! Parsing is tolerant by design: unknown fields are ignored, nullable fields are `Option`, and
//! unknown enum strings are preserved (see [`FileType::Other`]).

mod account;
mod embedded;
mod entity;
mod file;
mod list;
mod note;
pub(crate) mod open_enum;
mod problem;
mod session;

pub use account::Account;
pub use entity::{
    EntityFileLink, EntityFileLinks, EntityType, FileEntities, FileUuidRef, LinkedEntity,
};
pub use file::{
    Author, AuthorType, FileLinks, FileMetadata, FileObject, FileType, FileVersion, Preview,
    VersionLinks,
};
pub use list::{FilePage, PageLinks, RestoredFiles, VersionList};
pub use note::{
    AttachmentNote, AttachmentNoteParams, AttachmentRead, CreatedNote, CreatedNotes,
    FileFieldValue, FileFieldValueRead, NoteRead,
};
pub use problem::{Problem, ValidationError, ValidationErrorItem};
pub use session::{NewSession, NextPart, UploadSession};

use serde::{Deserialize, Serialize};

/// A HAL link: `{ "href": "…" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Link {
    /// The absolute URL.
    pub href: String,
}

impl Link {
    /// A link to `href`.
    pub fn new(href: impl Into<String>) -> Self {
        Self { href: href.into() }
    }
}
