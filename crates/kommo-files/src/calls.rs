//! The table of API calls: for every endpoint, its operation (which says whether it may be
//! repeated), its request and its parser, all from the model. The clients' public methods are
//! one line over this table and [`ApiCall`] is what their one call runner takes.

use kommo_files_model::endpoint::{
    self, AccountHost, DriveHost, EntityFilesQuery, FileEdit, FileQuery,
};
use kommo_files_model::wire::{
    AttachmentNote, CreatedNotes, EntityFileLinks, EntityType, FileEntities, FileFieldValue,
    FileObject, FilePage, NoteRead, RestoredFiles, VersionList,
};
use kommo_files_model::{ApiError, BaseUrl, Operation, UrlError};
use kommo_files_transport::{Request, Response};

/// One API call: what it is, what to send, how to read the answer.
pub(crate) struct ApiCall<T> {
    pub(crate) operation: Operation,
    pub(crate) request: Request,
    pub(crate) parse: fn(&Response) -> Result<T, ApiError>,
}

fn call<T>(
    operation: Operation,
    request: Request,
    parse: fn(&Response) -> Result<T, ApiError>,
) -> ApiCall<T> {
    ApiCall {
        operation,
        request,
        parse,
    }
}

pub(crate) fn discover_drive(account: &AccountHost) -> ApiCall<BaseUrl> {
    let request = endpoint::account_request(account);
    call(Operation::DiscoverDrive, request, endpoint::parse_drive_url)
}

pub(crate) fn list_files(drive: &DriveHost, query: &FileQuery) -> ApiCall<FilePage> {
    let request = endpoint::list_files_request(drive, query);
    call(Operation::ListFiles, request, endpoint::parse_file_page)
}

pub(crate) fn next_page(drive: &DriveHost, url: &str) -> Result<ApiCall<FilePage>, UrlError> {
    let request = endpoint::next_page_request(drive, url)?;
    Ok(call(
        Operation::ListFiles,
        request,
        endpoint::parse_file_page,
    ))
}

pub(crate) fn get_file(drive: &DriveHost, file_uuid: &str) -> ApiCall<Option<FileObject>> {
    let request = endpoint::get_file_request(drive, file_uuid);
    call(Operation::GetFile, request, endpoint::parse_get_file)
}

pub(crate) fn edit_file(
    drive: &DriveHost,
    file_uuid: &str,
    edit: &FileEdit,
) -> ApiCall<FileObject> {
    let request = endpoint::edit_file_request(drive, file_uuid, edit);
    call(Operation::EditFile, request, endpoint::parse_edit_file)
}

pub(crate) fn versions(drive: &DriveHost, file_uuid: &str) -> ApiCall<VersionList> {
    let request = endpoint::versions_request(drive, file_uuid);
    call(Operation::ListVersions, request, endpoint::parse_versions)
}

pub(crate) fn delete(drive: &DriveHost, file_uuids: &[impl AsRef<str>]) -> ApiCall<()> {
    let request = endpoint::delete_files_request(drive, file_uuids);
    call(
        Operation::DeleteFiles,
        request,
        endpoint::parse_delete_files,
    )
}

pub(crate) fn restore(drive: &DriveHost, file_uuids: &[impl AsRef<str>]) -> ApiCall<RestoredFiles> {
    let request = endpoint::restore_files_request(drive, file_uuids);
    call(
        Operation::RestoreFiles,
        request,
        endpoint::parse_restore_files,
    )
}

pub(crate) fn entity_files(
    account: &AccountHost,
    entity: &EntityType,
    entity_id: i64,
    query: EntityFilesQuery,
) -> ApiCall<EntityFileLinks> {
    let request = endpoint::entity_files_request(account, entity, entity_id, query);
    call(
        Operation::EntityFiles,
        request,
        endpoint::parse_entity_files,
    )
}

pub(crate) fn attach(
    account: &AccountHost,
    entity: &EntityType,
    entity_id: i64,
    file_uuids: &[impl AsRef<str>],
) -> ApiCall<()> {
    let request = endpoint::attach_files_request(account, entity, entity_id, file_uuids);
    call(Operation::AttachFiles, request, endpoint::parse_link_change)
}

pub(crate) fn detach(
    account: &AccountHost,
    entity: &EntityType,
    entity_id: i64,
    file_uuids: &[impl AsRef<str>],
) -> ApiCall<()> {
    let request = endpoint::detach_files_request(account, entity, entity_id, file_uuids);
    call(Operation::DetachFiles, request, endpoint::parse_link_change)
}

pub(crate) fn file_entities(account: &AccountHost, file_uuid: &str) -> ApiCall<FileEntities> {
    let request = endpoint::file_entities_request(account, file_uuid);
    call(
        Operation::FileEntities,
        request,
        endpoint::parse_file_entities,
    )
}

pub(crate) fn add_notes(
    account: &AccountHost,
    entity: &EntityType,
    notes: &[AttachmentNote],
) -> ApiCall<CreatedNotes> {
    let request = endpoint::notes_request(account, entity, notes);
    call(Operation::AddNotes, request, endpoint::parse_created_notes)
}

/// The attachment note and its text note, as `endpoint::comment_note` makes them.
pub(crate) fn add_comment_notes(
    account: &AccountHost,
    entity: &EntityType,
    notes: &[serde_json::Value],
) -> ApiCall<CreatedNotes> {
    let request = endpoint::notes_request(account, entity, notes);
    call(Operation::AddNotes, request, endpoint::parse_created_notes)
}

pub(crate) fn read_notes(
    account: &AccountHost,
    entity: &EntityType,
    entity_id: i64,
) -> ApiCall<Vec<NoteRead>> {
    let request = endpoint::read_notes_request(account, entity, entity_id);
    call(Operation::ReadNotes, request, endpoint::parse_notes)
}

pub(crate) fn get_entity(
    account: &AccountHost,
    entity: &EntityType,
    entity_id: i64,
) -> ApiCall<serde_json::Value> {
    let request = endpoint::entity_request(account, entity, entity_id);
    call(Operation::GetEntity, request, endpoint::parse_entity)
}

pub(crate) fn set_file_field(
    account: &AccountHost,
    entity: &EntityType,
    entity_id: i64,
    field_id: i64,
    values: &[FileFieldValue],
) -> ApiCall<()> {
    let request = endpoint::set_file_field_request(account, entity, entity_id, field_id, values);
    call(Operation::SetFileField, request, |response| {
        endpoint::parse_entity(response).map(drop)
    })
}
