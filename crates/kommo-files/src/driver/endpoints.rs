//! The public API calls: one line each over the table in `calls.rs`.

use kommo_files_model::endpoint::{EntityFilesQuery, FileEdit, FileQuery};
use kommo_files_model::wire::{
    AttachmentNote, CreatedNotes, EntityFileLinks, EntityType, FileEntities, FileFieldValue,
    FileFieldValueRead, FileObject, FilePage, FileVersion, NoteRead,
};
use kommo_files_model::{endpoint, Operation};

use super::{flavour, Client};
use crate::calls;
use crate::pages::Cursor;
use crate::{Error, VersionUuid};

#[flavour(AFIT)]
impl Client {
    /// One page of files matching `query` (see also [`Client::list`]).
    ///
    #[doc = example!(
        "use kommo_files::FileQuery;\n"
        "let page = client.list_page(&FileQuery::new().extension(\"pdf\").limit(50))" await "?;\n"
        "for file in &page.files { println!(\"{} {}\", file.uuid, file.display_name()); }"
    )]
    pub async fn list_page(&self, query: &FileQuery) -> Result<FilePage, Error> {
        self.fetch_page(&Cursor::Query(Box::new(query.clone())))
            .await
    }

    /// The page after `page`, or `None` on the last one.
    ///
    #[doc = example!(
        "use kommo_files::FileQuery;\n"
        "let mut page = client.list_page(&FileQuery::new().limit(10))" await "?;\n"
        "while let Some(next) = client.next_page(&page)" await "? { page = next; }"
    )]
    pub async fn next_page(&self, page: &FilePage) -> Result<Option<FilePage>, Error> {
        match (page.files.is_empty(), page.next_url()) {
            (false, Some(url)) => Ok(Some(self.fetch_page(&Cursor::Url(url.to_owned())).await?)),
            _ => Ok(None),
        }
    }

    pub(crate) async fn fetch_page(&self, cursor: &Cursor) -> Result<FilePage, Error> {
        let drive = self.drive().await?;
        let call = match cursor {
            Cursor::Query(query) => calls::list_files(&drive, query),
            Cursor::Url(url) => calls::next_page(&drive, url)?,
        };
        self.run(call).await
    }

    /// One file, or `None` if there is no such file.
    ///
    #[doc = example!(
        "assert!(client.get_file(\"00000000-0000-0000-0000-000000000000\")" await "?.is_none());"
    )]
    pub async fn get_file(&self, file_uuid: &str) -> Result<Option<FileObject>, Error> {
        self.run(calls::get_file(&self.drive().await?, file_uuid))
            .await
    }

    /// Renames a file.
    ///
    #[doc = example!(
        "let file = client.upload_bytes(\"draft.txt\", &b\"text\"[..], Default::default())" await "?;\n"
        "let renamed = client.rename(&file.uuid, \"final.txt\")" await "?;\n"
        "assert_eq!(renamed.display_name(), \"final.txt\");"
    )]
    pub async fn rename(&self, file_uuid: &str, name: &str) -> Result<FileObject, Error> {
        let edit = FileEdit::Rename(name.to_owned());
        self.run(calls::edit_file(&self.drive().await?, file_uuid, &edit))
            .await
    }

    /// Makes `version` the active version of the file `file_uuid`. The version is its own
    /// type ([`VersionUuid`], from a [`FileVersion`] or [`VersionUuid::new`]), so the two
    /// UUIDs cannot be swapped by mistake.
    ///
    #[doc = example!(
        "use kommo_files::UploadOptions;\n"
        "let file = client.upload_bytes(\"a.txt\", &b\"v1\"[..], UploadOptions::new())" await "?;\n"
        "client.upload_bytes(\"a.txt\", &b\"v2\"[..], UploadOptions::new().new_version_of(&file.uuid))" await "?;\n"
        "let versions = client.versions(&file.uuid)" await "?;\n"
        "let first = versions.iter().find(|v| !v.is_main).unwrap();\n"
        "let file = client.set_active_version(&file.uuid, first)" await "?;\n"
        "assert_eq!(file.version_uuid.as_deref(), Some(first.uuid.as_str()));"
    )]
    pub async fn set_active_version(
        &self,
        file_uuid: &str,
        version: impl Into<VersionUuid>,
    ) -> Result<FileObject, Error> {
        let edit = FileEdit::SetVersion(version.into().into_string());
        self.run(calls::edit_file(&self.drive().await?, file_uuid, &edit))
            .await
    }

    /// The versions of a file, newest first as the server lists them.
    ///
    #[doc = example!(
        "let file = client.upload_bytes(\"a.txt\", &b\"v1\"[..], Default::default())" await "?;\n"
        "let versions = client.versions(&file.uuid)" await "?;\n"
        "assert_eq!(versions.len(), 1);"
    )]
    pub async fn versions(&self, file_uuid: &str) -> Result<Vec<FileVersion>, Error> {
        let list = self
            .run(calls::versions(&self.drive().await?, file_uuid))
            .await?;
        Ok(list.versions)
    }

    /// Moves files to the trash (kept 30 days); needs the "Deleting files" scope.
    ///
    #[doc = example!(
        "let file = client.upload_bytes(\"old.txt\", &b\"x\"[..], Default::default())" await "?;\n"
        "client.delete(&[&file.uuid])" await "?;\n"
        "let restored = client.restore(&[&file.uuid])" await "?;\n"
        "assert_eq!(restored[0].uuid, file.uuid);"
    )]
    pub async fn delete(&self, file_uuids: &[impl AsRef<str>]) -> Result<(), Error> {
        self.run(calls::delete(&self.drive().await?, file_uuids))
            .await
    }

    /// Restores files from the trash; returns them.
    ///
    /// See [`Client::delete`] for an example.
    pub async fn restore(&self, file_uuids: &[impl AsRef<str>]) -> Result<Vec<FileObject>, Error> {
        let restored = self
            .run(calls::restore(&self.drive().await?, file_uuids))
            .await?;
        Ok(restored.files)
    }

    /// The files attached to a lead, contact, company or customer (one page).
    ///
    #[doc = example!(
        "use kommo_files::{EntityType, model::endpoint::EntityFilesQuery};\n"
        "let file = client.upload_bytes(\"deal.pdf\", &b\"%PDF\"[..], Default::default())" await "?;\n"
        "client.attach(&EntityType::Leads, 1001, &[&file.uuid])" await "?;\n"
        "let links = client.entity_files(&EntityType::Leads, 1001, &EntityFilesQuery::default())" await "?;\n"
        "assert!(links.files.iter().any(|link| link.file_uuid == file.uuid));\n"
        "client.detach(&EntityType::Leads, 1001, &[&file.uuid])" await "?;"
    )]
    pub async fn entity_files(
        &self,
        entity: &EntityType,
        entity_id: i64,
        query: &EntityFilesQuery,
    ) -> Result<EntityFileLinks, Error> {
        self.run(calls::entity_files(
            self.account(),
            entity,
            entity_id,
            *query,
        ))
        .await
    }

    /// Attaches files to an entity. See [`Client::entity_files`] for an example.
    pub async fn attach(
        &self,
        entity: &EntityType,
        entity_id: i64,
        file_uuids: &[impl AsRef<str>],
    ) -> Result<(), Error> {
        self.run(calls::attach(self.account(), entity, entity_id, file_uuids))
            .await
    }

    /// Detaches files from an entity. See [`Client::entity_files`] for an example.
    pub async fn detach(
        &self,
        entity: &EntityType,
        entity_id: i64,
        file_uuids: &[impl AsRef<str>],
    ) -> Result<(), Error> {
        self.run(calls::detach(self.account(), entity, entity_id, file_uuids))
            .await
    }

    /// The entities a file is attached to.
    ///
    #[doc = example!(
        "use kommo_files::EntityType;\n"
        "let file = client.upload_bytes(\"deal.pdf\", &b\"%PDF\"[..], Default::default())" await "?;\n"
        "client.attach(&EntityType::Contacts, 2001, &[&file.uuid])" await "?;\n"
        "let linked = client.file_entities(&file.uuid)" await "?;\n"
        "assert_eq!(linked.entities.len(), 1);"
    )]
    pub async fn file_entities(&self, file_uuid: &str) -> Result<FileEntities, Error> {
        self.run(calls::file_entities(self.account(), file_uuid))
            .await
    }

    /// Adds attachment notes (a file shown in an entity's feed).
    ///
    #[doc = example!(
        "use kommo_files::{AttachmentNote, EntityType};\n"
        "let file = client.upload_bytes(\"scan.pdf\", &b\"%PDF\"[..], Default::default())" await "?;\n"
        "let note = AttachmentNote::new(1001, &file.uuid).file_name(\"scan.pdf\");\n"
        "let created = client.add_attachment_notes(&EntityType::Leads, &[note])" await "?;\n"
        "assert_eq!(created.notes.len(), 1);"
    )]
    pub async fn add_attachment_notes(
        &self,
        entity: &EntityType,
        notes: &[AttachmentNote],
    ) -> Result<CreatedNotes, Error> {
        self.run(calls::add_notes(self.account(), entity, notes))
            .await
    }

    /// Adds a file with a text comment: the attachment note and a text note with the same
    /// `created_at` (now, unless the note sets one), which Kommo shows together.
    ///
    #[doc = example!(
        "use kommo_files::{AttachmentNote, EntityType};\n"
        "let file = client.upload_bytes(\"contract.pdf\", &b\"%PDF\"[..], Default::default())" await "?;\n"
        "let note = AttachmentNote::new(1001, &file.uuid).file_name(\"contract.pdf\");\n"
        "let created = client.add_file_with_comment(&EntityType::Leads, note, \"Signed\")" await "?;\n"
        "assert_eq!(created.notes.len(), 2);"
    )]
    pub async fn add_file_with_comment(
        &self,
        entity: &EntityType,
        note: AttachmentNote,
        comment: &str,
    ) -> Result<CreatedNotes, Error> {
        let created_at = note.created_at.unwrap_or_else(crate::support::unix_now);
        let notes = endpoint::comment_note(note, comment, created_at);
        self.run(calls::add_comment_notes(self.account(), entity, &notes))
            .await
    }

    /// An entity's notes (to read attachment notes back).
    ///
    #[doc = example!(
        "use kommo_files::EntityType;\n"
        "let notes = client.notes(&EntityType::Leads, 1001)" await "?;\n"
        "assert!(notes.iter().all(|note| note.entity_id == Some(1001)));"
    )]
    pub async fn notes(&self, entity: &EntityType, entity_id: i64) -> Result<Vec<NoteRead>, Error> {
        self.run(calls::read_notes(self.account(), entity, entity_id))
            .await
    }

    /// Sets the values of a file-type custom field on an entity.
    ///
    #[doc = example!(
        "use kommo_files::{EntityType, model::wire::FileFieldValue};\n"
        "let file = client.upload_bytes(\"passport.jpg\", &b\"\\xFF\\xD8\"[..], Default::default())" await "?;\n"
        "let field = kommo_files_emulator::FILE_FIELD_ID_LEADS as i64;\n"
        "client.set_file_field(&EntityType::Leads, 1001, field, &[FileFieldValue::from_file(&file)])" await "?;\n"
        "let values = client.file_field(&EntityType::Leads, 1001, field)" await "?;\n"
        "assert_eq!(values[0].value.file_uuid, file.uuid);"
    )]
    pub async fn set_file_field(
        &self,
        entity: &EntityType,
        entity_id: i64,
        field_id: i64,
        values: &[FileFieldValue],
    ) -> Result<(), Error> {
        let call = calls::set_file_field(self.account(), entity, entity_id, field_id, values);
        self.run(call).await
    }

    /// The values of a file-type custom field of an entity. See [`Client::set_file_field`]
    /// for an example.
    pub async fn file_field(
        &self,
        entity: &EntityType,
        entity_id: i64,
        field_id: i64,
    ) -> Result<Vec<FileFieldValueRead>, Error> {
        let value = self
            .run(calls::get_entity(self.account(), entity, entity_id))
            .await?;
        endpoint::file_field_values(&value, field_id)
            .map_err(|error| Error::api(Operation::GetEntity, error))
    }
}
