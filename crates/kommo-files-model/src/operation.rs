//! [`Operation`]: the canonical list of API operations and which of them are idempotent.

use std::fmt;

/// One API operation. Retry rules depend on it (see [`Operation::is_idempotent`]).
///
/// ```
/// use kommo_files_model::Operation;
/// assert_eq!(Operation::GetFile.name(), "get_file");
/// assert_eq!(Operation::AddNotes.to_string(), "add_notes");
/// assert!(Operation::GetFile.is_idempotent());
/// assert!(!Operation::CreateSession.is_idempotent());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /api/v4/account?with=drive_url`.
    DiscoverDrive,
    /// Opening an upload session.
    CreateSession,
    /// Sending one part of an upload.
    UploadPart,
    /// Listing files (one page).
    ListFiles,
    /// Reading one file.
    GetFile,
    /// Renaming a file or switching its active version.
    EditFile,
    /// Moving files to the trash.
    DeleteFiles,
    /// Restoring files from the trash.
    RestoreFiles,
    /// Listing a file's versions.
    ListVersions,
    /// Downloading bytes (including redirects).
    Download,
    /// Listing an entity's files.
    EntityFiles,
    /// Attaching files to an entity.
    AttachFiles,
    /// Detaching files from an entity.
    DetachFiles,
    /// Listing the entities a file is linked to.
    FileEntities,
    /// Adding notes to an entity.
    AddNotes,
    /// Reading an entity's notes.
    ReadNotes,
    /// Reading an entity.
    GetEntity,
    /// Setting a file-type custom field.
    SetFileField,
    /// Exchanging an OAuth authorization code for tokens (`POST /oauth2/access_token`).
    ExchangeCode,
    /// Refreshing OAuth tokens (`POST /oauth2/access_token`).
    RefreshToken,
}

impl Operation {
    /// A stable snake_case name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::DiscoverDrive => "discover_drive",
            Self::CreateSession => "create_session",
            Self::UploadPart => "upload_part",
            Self::ListFiles => "list_files",
            Self::GetFile => "get_file",
            Self::EditFile => "edit_file",
            Self::DeleteFiles => "delete_files",
            Self::RestoreFiles => "restore_files",
            Self::ListVersions => "list_versions",
            Self::Download => "download",
            Self::EntityFiles => "entity_files",
            Self::AttachFiles => "attach_files",
            Self::DetachFiles => "detach_files",
            Self::FileEntities => "file_entities",
            Self::AddNotes => "add_notes",
            Self::ReadNotes => "read_notes",
            Self::GetEntity => "get_entity",
            Self::SetFileField => "set_file_field",
            Self::ExchangeCode => "exchange_code",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// Whether sending the request twice leaves the server as sending it once did, so that a
    /// request whose answer was lost may be repeated.
    ///
    /// The `POST`s that create something are not: a repeated session request opens a second
    /// session, a repeated note request adds a second note, and a repeated grant spends a
    /// single-use code or refresh token twice (the second is refused, the first pair lost). A part re-sent to the same
    /// URL is recognised by the server, so [`Operation::UploadPart`] counts as idempotent.
    pub fn is_idempotent(self) -> bool {
        !matches!(
            self,
            Self::CreateSession | Self::AddNotes | Self::ExchangeCode | Self::RefreshToken
        )
    }
}

impl Operation {
    /// Every operation, in a stable order (for tables and for checking a mapping is complete).
    pub const ALL: &'static [Operation] = &[
        Self::DiscoverDrive,
        Self::CreateSession,
        Self::UploadPart,
        Self::ListFiles,
        Self::GetFile,
        Self::EditFile,
        Self::DeleteFiles,
        Self::RestoreFiles,
        Self::ListVersions,
        Self::Download,
        Self::EntityFiles,
        Self::AttachFiles,
        Self::DetachFiles,
        Self::FileEntities,
        Self::AddNotes,
        Self::ReadNotes,
        Self::GetEntity,
        Self::SetFileField,
        Self::ExchangeCode,
        Self::RefreshToken,
    ];
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Operation::{self, *};
    const ALL: &[Operation] = Operation::ALL;

    #[test]
    fn idempotence_table() {
        let table: Vec<(&str, bool)> = ALL.iter().map(|o| (o.name(), o.is_idempotent())).collect();
        assert_eq!(
            table,
            [
                ("discover_drive", true),
                ("create_session", false),
                ("upload_part", true),
                ("list_files", true),
                ("get_file", true),
                ("edit_file", true),
                ("delete_files", true),
                ("restore_files", true),
                ("list_versions", true),
                ("download", true),
                ("entity_files", true),
                ("attach_files", true),
                ("detach_files", true),
                ("file_entities", true),
                ("add_notes", false),
                ("read_notes", true),
                ("get_entity", true),
                ("set_file_field", true),
                ("exchange_code", false),
                ("refresh_token", false),
            ]
        );
    }

    #[test]
    fn display_is_the_name_and_pads() {
        assert_eq!(format!("{:>10}", GetFile), "  get_file");
        assert_eq!(ListVersions.to_string(), "list_versions");
    }
}
