//! [`OperationContext`]: what a request is, carried in its extensions for wrapper transports.

use std::fmt;

/// The API operation a request belongs to.
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
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What a request is, set by the SDK in `request.extensions()` before it reaches a transport.
///
/// ```
/// use bytes::Bytes;
/// use kommo_files_transport::{Operation, OperationContext};
///
/// let mut request = http::Request::new(Bytes::new());
/// OperationContext::new(Operation::UploadPart, true).part(3).attempt(2).attach(&mut request);
/// let context = OperationContext::of(&request).unwrap();
/// assert_eq!((context.operation, context.attempt, context.part), (Operation::UploadPart, 2, Some(3)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationContext {
    /// The operation.
    pub operation: Operation,
    /// Whether repeating the request cannot change the outcome.
    pub idempotent: bool,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// For [`Operation::UploadPart`], the part number (1-based).
    pub part: Option<u64>,
}

impl OperationContext {
    /// The first attempt of `operation`.
    pub fn new(operation: Operation, idempotent: bool) -> Self {
        Self {
            operation,
            idempotent,
            attempt: 1,
            part: None,
        }
    }

    /// The context with this attempt number.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The context with this part number.
    pub fn part(mut self, part: u64) -> Self {
        self.part = Some(part);
        self
    }

    /// Stores the context in `request`'s extensions.
    pub fn attach<B>(self, request: &mut http::Request<B>) {
        request.extensions_mut().insert(self);
    }

    /// The context of `request`, if the SDK set one.
    pub fn of<B>(request: &http::Request<B>) -> Option<&Self> {
        request.extensions().get::<Self>()
    }
}
