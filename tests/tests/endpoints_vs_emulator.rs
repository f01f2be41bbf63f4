//! Every endpoint of docs/kommo-api.md#endpoints through the model's builders and parsers against the emulator:
//! the two independent implementations must agree on every shape, in every variant the
//! emulator can play.

use std::time::Duration;

use kommo_files_emulator::{
    AttachStatus, DeleteStatus, DownloadStatus, Emulator, EmulatorHandle, MissingFileStatus,
    RateClock, Scope, FILE_FIELD_ID_LEADS,
};
use kommo_files_model::endpoint::{
    self, AccountHost, DateField, DateFilter, DateRange, DriveHost, EntityFilesQuery, FileEdit,
    FileQuery, SizeRange,
};
use kommo_files_model::upload::UploadConfig;
use kommo_files_model::wire::{
    AttachmentNote, EntityType, FileFieldValue, FileObject, FileType, NewSession,
};
use kommo_files_model::{AccessToken, BaseUrl};
use kommo_files_tests::{agent, discover_drive, download, send, sha256_hex, upload};

struct Account {
    emulator: EmulatorHandle,
    agent: ureq::Agent,
    account: AccountHost,
    drive: DriveHost,
}

impl Account {
    fn new(builder: kommo_files_emulator::EmulatorBuilder) -> Self {
        let emulator = builder.start().expect("emulator starts");
        let agent = agent();
        let drive = discover_drive(&agent, emulator.account_url(), &emulator.token()).unwrap();
        let account = AccountHost::new(
            BaseUrl::parse(emulator.account_url()).unwrap(),
            AccessToken::new(emulator.token()).unwrap(),
        );
        Self {
            emulator,
            agent,
            account,
            drive,
        }
    }

    fn send(&self, request: http::Request<bytes::Bytes>) -> http::Response<bytes::Bytes> {
        send(&self.agent, request).expect("the emulator answers")
    }

    fn upload(&self, name: &str, data: &[u8]) -> FileObject {
        upload(
            &self.agent,
            self.drive.clone(),
            NewSession::new(name, 0),
            data,
            UploadConfig::default(),
            |_| {},
        )
        .unwrap()
    }
}

#[test]
fn list_get_edit_versions_delete_restore() {
    let a = Account::new(Emulator::builder());
    let photo = a.upload("photo.jpg", &[7; 3000]);
    let contract = a.upload("Договор.pdf", &[1; 100]);
    assert_eq!(contract.name, "Договор");
    assert_eq!(contract.kind, Some(FileType::Document));
    assert_eq!(contract.name_with_extension(), "Договор.pdf");

    // List with filters, and pages that follow `_links.next` on the drive host.
    let page = endpoint::parse_file_page(
        &a.send(endpoint::list_files_request(&a.drive, &FileQuery::new())),
    )
    .unwrap();
    assert_eq!(page.files.len(), 2);
    let jpg = FileQuery::new()
        .extension("jpg")
        .size(SizeRange::new(1000, Some(2), Some(4)));
    let page =
        endpoint::parse_file_page(&a.send(endpoint::list_files_request(&a.drive, &jpg))).unwrap();
    assert_eq!(
        page.files
            .iter()
            .map(|f| f.uuid.as_str())
            .collect::<Vec<_>>(),
        [photo.uuid.as_str()]
    );
    let none = FileQuery::new().name("no such name");
    let empty =
        endpoint::parse_file_page(&a.send(endpoint::list_files_request(&a.drive, &none))).unwrap();
    assert!(empty.files.is_empty() && empty.next_url().is_none());
    let today = FileQuery::new().date(DateFilter::new(
        DateField::CreatedAt,
        DateRange::Between {
            from: Some(0),
            to: None,
        },
    ));
    let page =
        endpoint::parse_file_page(&a.send(endpoint::list_files_request(&a.drive, &today))).unwrap();
    assert_eq!(page.files.len(), 2);
    let first = endpoint::parse_file_page(&a.send(endpoint::list_files_request(
        &a.drive,
        &FileQuery::new().limit(1),
    )))
    .unwrap();
    let next = first.next_url().expect("a second page");
    let second =
        endpoint::parse_file_page(&a.send(endpoint::next_page_request(&a.drive, next).unwrap()))
            .unwrap();
    assert_eq!(second.files.len(), 1);
    assert_ne!(second.files[0].uuid, first.files[0].uuid);
    assert!(second.next_url().is_none());

    // Get, rename, versions, switch version.
    let got = endpoint::parse_get_file(&a.send(endpoint::get_file_request(&a.drive, &photo.uuid)))
        .unwrap()
        .unwrap();
    assert_eq!(got.uuid, photo.uuid);
    assert_eq!(got.id, photo.id);
    let renamed = endpoint::parse_edit_file(&a.send(endpoint::edit_file_request(
        &a.drive,
        &photo.uuid,
        &FileEdit::Rename("holiday".into()),
    )))
    .unwrap();
    assert_eq!(renamed.name, "holiday");
    let v2 = upload(
        &a.agent,
        a.drive.clone(),
        NewSession::new("photo.jpg", 0).new_version_of(photo.uuid.clone()),
        &[9; 10],
        UploadConfig::default(),
        |_| {},
    )
    .unwrap();
    let versions =
        endpoint::parse_versions(&a.send(endpoint::versions_request(&a.drive, &photo.uuid)))
            .unwrap();
    assert_eq!(versions.versions.len(), 2);
    assert!(versions
        .versions
        .iter()
        .any(|v| v.is_main && Some(&v.uuid) == v2.version_uuid.as_ref()));
    let back = endpoint::parse_edit_file(&a.send(endpoint::edit_file_request(
        &a.drive,
        &photo.uuid,
        &FileEdit::SetVersion(photo.version_uuid.clone().unwrap()),
    )))
    .unwrap();
    assert_eq!(back.version_uuid, photo.version_uuid);

    // Delete into the trash, list the trash, restore.
    endpoint::parse_delete_files(&a.send(endpoint::delete_files_request(&a.drive, &[&photo.uuid])))
        .unwrap();
    let trash = endpoint::parse_file_page(&a.send(endpoint::list_files_request(
        &a.drive,
        &FileQuery::new().deleted(true),
    )))
    .unwrap();
    assert_eq!(trash.files.len(), 1);
    assert!(trash.files[0].is_trashed && trash.files[0].deleted_at.is_some());
    let restored = endpoint::parse_restore_files(
        &a.send(endpoint::restore_files_request(&a.drive, &[&photo.uuid])),
    )
    .unwrap();
    assert_eq!(restored.files.len(), 1);
    assert!(!restored.files[0].is_trashed && restored.files[0].deleted_at.is_none());

    // Unknown file: `None`, in both variants.
    let missing = "00000000-0000-4000-8000-000000000000";
    assert_eq!(
        endpoint::parse_get_file(&a.send(endpoint::get_file_request(&a.drive, missing))).unwrap(),
        None
    );
    a.emulator
        .update_config(|b| b.missing_file_status = MissingFileStatus::NoContent204);
    assert_eq!(
        endpoint::parse_get_file(&a.send(endpoint::get_file_request(&a.drive, missing))).unwrap(),
        None
    );
}

#[test]
fn downloads_serve_the_stored_bytes_of_each_version() {
    let a = Account::new(Emulator::builder());
    let v1_bytes: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
    let v1 = a.upload("data.bin", &v1_bytes);
    let v2 = upload(
        &a.agent,
        a.drive.clone(),
        NewSession::new("data.bin", 0).new_version_of(v1.uuid.clone()),
        b"second",
        UploadConfig::default(),
        |_| {},
    )
    .unwrap();
    let active = download(&a.agent, &a.drive, v2.download_url().unwrap()).unwrap();
    assert_eq!(active.as_ref(), b"second");
    let old_link = v1.links.download_version.as_ref().unwrap().href.clone();
    let old = download(&a.agent, &a.drive, &old_link).unwrap();
    assert_eq!(sha256_hex(&old), sha256_hex(&v1_bytes));

    // The link answers 301 first, as live; the model follows it on the drive host.
    let first = a.send(endpoint::download_request(&a.drive, &old_link).unwrap());
    assert_eq!(first.status(), 301);

    // And the variant that answers the bytes directly.
    a.emulator
        .update_config(|b| b.download_status = DownloadStatus::Ok200);
    let direct = a.send(endpoint::download_request(&a.drive, &old_link).unwrap());
    assert_eq!(direct.status(), 200);
    assert_eq!(direct.body().as_ref(), v1_bytes.as_slice());
}

#[test]
fn delete_and_attach_status_variants_parse_alike() {
    for (delete, attach) in [
        (DeleteStatus::NoContent204, AttachStatus::Accepted202),
        (
            DeleteStatus::OkEmptyObject200,
            AttachStatus::OkEmptyObject200,
        ),
    ] {
        let a = Account::new(
            Emulator::builder()
                .delete_status(delete)
                .attach_status(attach),
        );
        let file = a.upload("a.txt", b"abc");
        endpoint::parse_link_change(&a.send(endpoint::attach_files_request(
            &a.account,
            &EntityType::Leads,
            1001,
            &[&file.uuid],
        )))
        .unwrap();
        endpoint::parse_delete_files(
            &a.send(endpoint::delete_files_request(&a.drive, &[&file.uuid])),
        )
        .unwrap();
    }
}

#[test]
fn entity_links_notes_and_file_fields() {
    let a = Account::new(Emulator::builder());
    let files: Vec<FileObject> = (0..3)
        .map(|i| a.upload(&format!("f{i}.txt"), b"x"))
        .collect();
    let leads = EntityType::Leads;

    // Attach, list with keyset pagination, detach; 204 as empty; 404 for an unknown lead.
    let list = |query| {
        endpoint::parse_entity_files(&a.send(endpoint::entity_files_request(
            &a.account, &leads, 1001, query,
        )))
    };
    assert!(list(EntityFilesQuery::default()).unwrap().files.is_empty());
    let uuids: Vec<&str> = files.iter().map(|f| f.uuid.as_str()).collect();
    endpoint::parse_link_change(&a.send(endpoint::attach_files_request(
        &a.account, &leads, 1001, &uuids,
    )))
    .unwrap();
    let page1 = list(EntityFilesQuery::new(Some(2), None)).unwrap();
    assert_eq!(page1.files.len(), 2);
    let page2 = list(EntityFilesQuery::new(Some(2), page1.next_before_id())).unwrap();
    assert_eq!(page2.files.len(), 1);
    let mut seen: Vec<_> = page1
        .files
        .iter()
        .chain(&page2.files)
        .map(|l| l.file_uuid.clone())
        .collect();
    seen.sort();
    let mut expected: Vec<_> = uuids.iter().map(|u| u.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
    let unknown = endpoint::parse_entity_files(&a.send(endpoint::entity_files_request(
        &a.account,
        &leads,
        999_999,
        EntityFilesQuery::default(),
    )));
    assert_eq!(unknown.unwrap_err().status(), 404);
    endpoint::parse_link_change(&a.send(endpoint::detach_files_request(
        &a.account,
        &leads,
        1001,
        &[uuids[0]],
    )))
    .unwrap();
    assert_eq!(list(EntityFilesQuery::default()).unwrap().files.len(), 2);

    // The file's entities, with legacy field names.
    let entities = endpoint::parse_file_entities(
        &a.send(endpoint::file_entities_request(&a.account, uuids[1])),
    )
    .unwrap();
    assert_eq!(entities.entities.len(), 1);
    assert_eq!(entities.entities[0].id, 1001);
    assert_eq!(entities.entities[0].entity_type, Some(EntityType::Leads));
    assert!(entities.entities[0].date_create.is_some());

    // An attachment note with a comment (two notes, one created_at), read back.
    let note = AttachmentNote::new(1001, uuids[1]).file_name("f1.txt");
    let pair = endpoint::comment_note(note, "signed", 1_700_000_000);
    let created =
        endpoint::parse_created_notes(&a.send(endpoint::notes_request(&a.account, &leads, &pair)))
            .unwrap();
    assert_eq!(created.notes.len(), 2);
    let notes =
        endpoint::parse_notes(&a.send(endpoint::read_notes_request(&a.account, &leads, 1001)))
            .unwrap();
    let attachment = notes
        .iter()
        .find_map(|n| n.attachment())
        .expect("an attachment note");
    assert!(attachment.is_drive_attachment);
    assert_eq!(attachment.file_uuid, uuids[1]);
    assert_eq!(attachment.original_name.as_deref(), Some("f1.txt"));
    assert!(notes.iter().all(|n| n.created_at == Some(1_700_000_000)));

    // A file custom field: set, read back with `is_deleted`, and trashed files show it.
    let field = FILE_FIELD_ID_LEADS as i64;
    let value = FileFieldValue::new(uuids[2]);
    let response = a.send(endpoint::set_file_field_request(
        &a.account,
        &leads,
        1001,
        field,
        &[value],
    ));
    assert_eq!(response.status(), 200, "{:?}", response.body());
    let read = |a: &Account| {
        let lead =
            endpoint::parse_entity(&a.send(endpoint::entity_request(&a.account, &leads, 1001)))
                .unwrap();
        endpoint::file_field_values(&lead, field).unwrap()
    };
    let values = read(&a);
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].value.file_uuid, uuids[2]);
    assert!(!values[0].is_deleted);
    endpoint::parse_delete_files(&a.send(endpoint::delete_files_request(&a.drive, &[uuids[2]])))
        .unwrap();
    assert!(read(&a)[0].is_deleted);

    // Trashed files cannot be attached: a problem body with the reason.
    let error = endpoint::parse_link_change(&a.send(endpoint::attach_files_request(
        &a.account,
        &leads,
        1002,
        &[uuids[2]],
    )))
    .unwrap_err();
    assert_eq!(error.status(), 400);
    assert!(error.problem().is_some(), "{error}");
}

#[test]
fn scopes_and_blocking_surface_as_typed_errors() {
    let a = Account::new(Emulator::builder().token("read-only", [Scope::Files, Scope::Crm]));
    let file = a.upload("a.txt", b"abc");
    let read_only = DriveHost::new(a.drive.base.clone(), AccessToken::new("read-only").unwrap());
    let error = endpoint::parse_delete_files(
        &a.send(endpoint::delete_files_request(&read_only, &[&file.uuid])),
    )
    .unwrap_err();
    assert_eq!(error.status(), 403);
    let stranger = DriveHost::new(a.drive.base.clone(), AccessToken::new("nobody").unwrap());
    let error = endpoint::parse_file_page(
        &a.send(endpoint::list_files_request(&stranger, &FileQuery::new())),
    )
    .unwrap_err();
    assert_eq!(error.status(), 401);

    a.emulator.update_config(|b| b.blocked = true);
    let error = endpoint::parse_get_file(&a.send(endpoint::get_file_request(&a.drive, &file.uuid)))
        .unwrap_err();
    assert_eq!(error.status(), 403);
    assert!(
        error.problem().is_none() && !error.body().is_empty(),
        "the HTML page is kept raw"
    );
}

#[test]
fn rate_limit_answers_429_that_the_model_reads() {
    // On the manual rate clock the second request in a window is refused however slow the
    // machine, and the next window opens when the test says so.
    let a = Account::new(
        Emulator::builder()
            .rate_limit(Some(1))
            .rate_clock(RateClock::Manual),
    );
    let list = || a.send(endpoint::list_files_request(&a.drive, &FileQuery::new()));
    // Drive discovery used up the first window.
    assert_eq!(list().status(), 429);
    a.emulator.advance_clock(Duration::from_secs(1));
    assert_eq!(list().status(), 204); // no files: an empty page
    let response = list();
    assert_eq!(response.status(), 429);
    let error = endpoint::parse_file_page(&response).unwrap_err();
    assert_eq!(error.status(), 429);
    assert!(kommo_files_model::retry::is_retryable_status(
        error.status()
    ));
    a.emulator.advance_clock(Duration::from_secs(1));
    assert_eq!(list().status(), 204);
}
