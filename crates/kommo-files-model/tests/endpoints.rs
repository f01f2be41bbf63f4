//! Snapshot tests of every request we build and every response we parse, from the documented examples
//! (Kommo's public Files API documentation). Requests render as `{method, uri, headers, body}` with the
//! token redacted; parsed values render through their `Serialize`; errors through
//! [`support::render_error`].

mod support;

use bytes::Bytes;
use http::{header, Method, StatusCode};
use kommo_files_model::endpoint::{
    self, DateField, DateFilter, DatePreset, DateRange, EntityFilesQuery, FileEdit, FileQuery,
    PartOutcome, SizeRange,
};
use kommo_files_model::wire::{
    AttachmentNote, AuthorType, EntityType, FileFieldValue, FileObject, FileType, NewSession,
};
use kommo_files_model::{ApiError, RetryAfter, UrlError};
use serde_json::{json, Value};
use support::{
    account, authorization, drive, render_error, render_request, response, response_with, snap,
};

// ---------------------------------------------------------------------------------------------
// Fixtures: the documented examples (the sources are named in docs/kommo-api.md).
// ---------------------------------------------------------------------------------------------

/// The file object (Kommo host, with the undocumented numeric `id`).
const FILE: &str = r#"{
  "_links": {
    "download": { "href": "https://drive-c.kommo.com/download/aff5603a-28b1-4c17-8e98-16e473b323b3/367b9f38-5f01-4cea-947e-dfab47aea522/picture.png" },
    "download_version": { "href": "https://drive-c.kommo.com/download/aff5603a-28b1-4c17-8e98-16e473b323b3/367b9f38-5f01-4cea-947e-dfab47aea522/43de3be7-307b-4766-a23e-5e88211b9a8d/picture.png" },
    "self": { "href": "https://drive-c.kommo.com/v1.0/files/367b9f38-5f01-4cea-947e-dfab47aea522" }
  },
  "id": 4511234,
  "uuid": "367b9f38-5f01-4cea-947e-dfab47aea522",
  "version_uuid": "43de3be7-307b-4766-a23e-5e88211b9a8d",
  "type": "image",
  "name": "product",
  "sanitized_name": "product",
  "size": 7526,
  "source_id": null,
  "is_trashed": false,
  "has_multiple_versions": false,
  "metadata": { "extension": "png", "mime_type": "image/png" },
  "previews": null,
  "created_at": 1671687247,
  "created_by": { "type": "internal", "id": 7758337 },
  "updated_at": 1671687247,
  "updated_by": { "type": "internal", "id": 7758337 },
  "deleted_at": null,
  "deleted_by": null
}"#;

const FILE_UUID: &str = "367b9f38-5f01-4cea-947e-dfab47aea522";
const FILE_UUID_2: &str = "bf1097fb-58fe-42c1-b385-ac443228ddd0";
const VERSION_UUID: &str = "0b6e1c50-3a5c-4e0b-9a7f-1d2c3b4a5e6f";

/// The session answer.
const SESSION: &str = r#"{
  "max_file_size": 314572800,
  "max_part_size": 524288,
  "session_id": 26136001,
  "upload_url": "https://drive-c.kommo.com/v1.0/sessions/upload/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.<payload>.<sig>"
}"#;
const UPLOAD_URL: &str =
    "https://drive-c.kommo.com/v1.0/sessions/upload/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.<payload>.<sig>";
/// The documented `upload_url` with its `<payload>.<sig>` placeholders filled in (a real JWT shape).
const REAL_UPLOAD_URL: &str = "https://drive-c.kommo.com/v1.0/sessions/upload/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzZXNzaW9uX2lkIjoyNjEzNjAwMSwicGFydF9udW0iOjF9.c2lnbmF0dXJl";

/// The answer to a non-final part.
const NEXT_PART: &str = r#"{ "next_url": "https://drive-c.kommo.com/v1.0/sessions/upload/eyJ...<part 2 token>", "session_id": 26136001 }"#;

/// The `_links` of a list page.
const PAGE_SELF: &str = "https://drive-b.amocrm.ru/v1.0/files?filter%5Bextensions%5D%5B%5D=jpg&filter%5Bsize%5D%5Bunit%5D=1000000&limit=25&page=1";
const PAGE_NEXT: &str = "https://drive-b.amocrm.ru/v1.0/files?filter%5Bextensions%5D%5B%5D=jpg&filter%5Bsize%5D%5Bunit%5D=1000000&limit=25&page=2";

/// Two versions of a file.
const VERSIONS: &str = r#"{
  "_count": 2,
  "_embedded": { "versions": [
    { "_links": { "download": { "href": "https://drive-c.kommo.com/download/21c0e773-0b10-57ac-96d1-c0b97ba6a3f7/89a61e7b-ba30-476f-b2f6-705a964e85c6/fd8401e1-c1db-4033-851c-1df68d40f579/source.jpeg" },
                  "self": { "href": "https://drive-c.kommo.com/v1.0/files/89a61e7b-ba30-476f-b2f6-705a964e85c6/versions/fd8401e1-c1db-4033-851c-1df68d40f579" } },
      "uuid": "fd8401e1-c1db-4033-851c-1df68d40f579",
      "file_uuid": "89a61e7b-ba30-476f-b2f6-705a964e85c6",
      "is_main": true, "type": "image", "name": "source", "sanitized_name": "source", "size": 93425,
      "source_id": null, "metadata": { "extension": "jpeg", "mime_type": "image/jpeg" }, "previews": null,
      "created_at": 1671995440, "created_by": { "type": "internal", "id": 7758337 },
      "updated_at": 1671995440, "updated_by": { "type": "internal", "id": 7758337 } },
    { "uuid": "17006a5b-aa43-4b2f-a380-e851786b9a57", "file_uuid": "89a61e7b-ba30-476f-b2f6-705a964e85c6",
      "is_main": false, "type": "file", "name": "consoleText", "sanitized_name": "consoleText", "size": 7347,
      "metadata": { "extension": "txt", "mime_type": "" }, "previews": null, "source_id": null,
      "created_at": 1663233556, "updated_at": 1670599185, "...": "..." }
  ] },
  "_links": { "self": { "href": "https://drive-c.kommo.com/v1.0/files/89a61e7b-ba30-476f-b2f6-705a964e85c6/versions" } }
}"#;

/// An entity's file links.
const ENTITY_FILES: &str = r#"{
  "_links": { "self": { "href": "https://example.kommo.com/api/v4/leads/18437733/files?limit=50" } },
  "_embedded": { "files": [
    { "file_uuid": "50ca4b6b-0b88-4ece-9f89-d48961579ae0", "id": 2140857 },
    { "file_uuid": "5ef222cd-bce4-4df8-8466-3dee7d16e70d", "id": 2128681 }
  ] }
}"#;

/// The entities of a file, with legacy field names.
const FILE_ENTITIES: &str = r#"{
  "file_uuid": "5ef222cd-bce4-4df8-8466-3dee7d16e70d",
  "entities": [
    { "id": 22859207, "name": "Lead #22859207", "created_by": 0, "main_user_id": 7758337,
      "date_create": 1669372247, "price": 20, "pipeline_id": 3858604, "date_update": 1672060100,
      "updated_by": 7758337, "entity_type": "leads", "status_id": 37066879, "closest_task_at": null }
  ]
}"#;

/// The answer to a note add.
const CREATED_NOTES: &str = r#"{ "_links": { "self": { "href": "https://example.kommo.com/api/v4/leads/notes" } },
  "_embedded": { "notes": [ { "id": 76787983, "entity_id": 167353, "request_id": "0",
      "_links": { "self": { "href": "https://example.kommo.com/api/v4/leads/167353/notes/76787983" } } } ] } }"#;

/// Notes read back: an attachment note with the documented read-back `params` and the text
/// note that shows as its comment (same `created_at`).
const NOTES: &str = r#"{
  "_page": 1,
  "_links": { "self": { "href": "https://example.kommo.com/api/v4/leads/167353/notes?page=1&limit=50" } },
  "_embedded": { "notes": [
    { "id": 76787983, "entity_id": 167353, "created_by": 7758337, "updated_by": 7758337,
      "created_at": 1670865105, "updated_at": 1670865105, "responsible_user_id": 7758337,
      "group_id": 0, "note_type": "attachment", "is_deleted": false, "account_id": 30215839,
      "params": {
        "is_drive_attachment": true,
        "text": "Снимок экрана 2022-12-12 в 20.11.45 (1).jpg",
        "original_name": "Снимок экрана 2022-12-12 в 20.11.45 (1).jpg",
        "file_uuid": "9905db7c-3a29-4d30-8953-bac68c05e8e8",
        "version_uuid": "5e316440-4122-4cad-b121-9709882b4cc1",
        "file_name": "Snimok_ekrana_2022-12-12_v_20.11.45_1_.jpg"
      },
      "_links": { "self": { "href": "https://example.kommo.com/api/v4/leads/167353/notes/76787983" } } },
    { "id": 76787984, "entity_id": 167353, "created_at": 1670865105, "note_type": "common",
      "params": { "text": "Signed contract" },
      "_links": { "self": { "href": "https://example.kommo.com/api/v4/leads/167353/notes/76787984" } } }
  ] }
}"#;

/// A lead (read back) whose `file` field value carries `is_deleted`, next to a text field.
const ENTITY: &str = r#"{
  "id": 18437733, "name": "Deal #18437733", "price": 0, "responsible_user_id": 7758337,
  "created_at": 1669372247, "updated_at": 1672060100, "account_id": 30215839,
  "custom_fields_values": [
    { "field_id": 1150983, "field_name": "Comment", "field_code": null, "field_type": "text",
      "values": [ { "value": "see the attached contract" } ] },
    { "field_id": 1150985, "field_name": "Contract", "field_code": null, "field_type": "file",
      "values": [ { "value": {
        "file_uuid": "3b454645-5c7f-4539-9ef9-0dd1b3638dad",
        "version_uuid": "13db6652-b3ed-4fff-aed8-0c6f3c43b887",
        "file_name": "wiki.odt", "file_size": 20763, "is_deleted": false } },
        { "value": {
        "file_uuid": "367b9f38-5f01-4cea-947e-dfab47aea522",
        "version_uuid": "43de3be7-307b-4766-a23e-5e88211b9a8d",
        "file_name": "product.png", "file_size": 7526, "is_deleted": true } } ] }
  ],
  "_links": { "self": { "href": "https://example.kommo.com/api/v4/leads/18437733" } }
}"#;

/// The account host's validation problem.
const PROBLEM: &str = r#"{
  "validation-errors": [
    { "request_id": "0",
      "errors": [ { "code": "NotSupportedChoice",
                    "path": "custom_fields_values.0.field_id",
                    "detail": "The value you selected is not a valid choice." } ] }
  ],
  "title": "Bad Request",
  "type": "https://httpstatus.es/400",
  "status": 400,
  "detail": "Request validation failed"
}"#;

/// The documented file object with `edit` applied to its JSON.
fn file_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut file: Value = serde_json::from_str(FILE).unwrap();
    edit(file.as_object_mut().unwrap());
    file.to_string()
}

fn file_value() -> Value {
    serde_json::from_str(FILE).unwrap()
}

fn render_outcome(outcome: &PartOutcome) -> Value {
    match outcome {
        PartOutcome::Next(next) => json!({ "outcome": "next", "next": next }),
        PartOutcome::Complete(file) => json!({ "outcome": "complete", "file": file }),
        other => panic!("unknown outcome {other:?}"),
    }
}

fn spec_file() -> FileObject {
    endpoint::parse_get_file(&response(200, FILE))
        .unwrap()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Requests: account host discovery and upload (endpoints 1–3 of docs/kommo-api.md#endpoints).
// ---------------------------------------------------------------------------------------------

#[test]
fn request_account() {
    let request = endpoint::account_request(&account());
    assert_eq!(request.method(), Method::GET);
    assert_eq!(
        request.uri(),
        "https://example.kommo.com/api/v4/account?with=drive_url"
    );
    snap!("request_account", render_request(&request));
}

#[test]
fn request_create_session() {
    let session = NewSession::new("contract.pdf", 3435).content_type("application/pdf");
    let request = endpoint::create_session_request(&drive(), &session);
    assert_eq!(request.uri(), "https://drive-c.kommo.com/v1.0/sessions");
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(
        body,
        json!({ "file_name": "contract.pdf", "file_size": 3435, "content_type": "application/pdf" })
    );
    snap!("request_create_session", render_request(&request));
}

#[test]
fn request_create_session_new_version_with_preview() {
    let session = NewSession::new("contract-v2.pdf", 4012)
        .content_type("application/pdf")
        .new_version_of(FILE_UUID)
        .with_preview(true);
    let request = endpoint::create_session_request(&drive(), &session);
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(
        body,
        json!({ "file_name": "contract-v2.pdf", "file_size": 4012, "content_type": "application/pdf",
                "file_uuid": FILE_UUID, "with_preview": true })
    );
    snap!(
        "request_create_session_new_version",
        render_request(&request)
    );
}

#[test]
fn request_upload_part() {
    let part = Bytes::from(vec![0x25; 524_288]);
    let request = endpoint::upload_part_request(&drive(), REAL_UPLOAD_URL, part).unwrap();
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.uri(), REAL_UPLOAD_URL);
    assert_eq!(request.body().len(), 524_288);
    snap!("request_upload_part", render_request(&request));

    // Characters a URI cannot hold as they are (the documented `<payload>` placeholder) are
    // percent-encoded rather than refused or panicked on.
    let request = endpoint::upload_part_request(&drive(), UPLOAD_URL, Bytes::new()).unwrap();
    assert!(
        request
            .uri()
            .to_string()
            .ends_with(".%3Cpayload%3E.%3Csig%3E"),
        "{}",
        request.uri()
    );
    assert!(matches!(
        endpoint::upload_part_request(&drive(), "https://drive-c.kommo.com:99999/x", Bytes::new()),
        Err(UrlError::ForeignOrigin { .. })
    ));

    // The token and the data never leave the drive host.
    for foreign in [
        "https://evil.example/v1.0/sessions/upload/x",
        "http://drive-c.kommo.com/upload/x",
        "https://drive-c.kommo.com@evil.example/upload/x",
    ] {
        let error = endpoint::upload_part_request(&drive(), foreign, Bytes::new()).unwrap_err();
        assert!(
            matches!(error, UrlError::ForeignOrigin { .. }),
            "{foreign}: {error:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Requests: listing (endpoint 4, every filter of docs/kommo-api.md#listing-files).
// ---------------------------------------------------------------------------------------------

fn list(query: &FileQuery) -> http::Request<Bytes> {
    let request = endpoint::list_files_request(&drive(), query);
    assert_eq!(request.method(), Method::GET);
    assert!(request.body().is_empty());
    request
}

#[test]
fn request_list_files_without_filter() {
    let request = list(&FileQuery::new());
    assert_eq!(request.uri(), "https://drive-c.kommo.com/v1.0/files");
    snap!("request_list_files_no_filter", render_request(&request));
}

#[test]
fn request_list_files_spec_page_link() {
    // The exact query of the documented `_links.self` (on this account's drive host).
    let query = FileQuery::new()
        .extension("jpg")
        .size(SizeRange::new(1_000_000, None, None))
        .limit(25)
        .page(1);
    let request = list(&query);
    assert_eq!(
        request.uri().to_string(),
        PAGE_SELF.replace("https://drive-b.amocrm.ru", "https://drive-c.kommo.com")
    );
    snap!("request_list_files_spec_link", render_request(&request));
}

#[test]
fn request_list_files_uuids_name_term_source() {
    let query = FileQuery::new()
        .uuid(FILE_UUID)
        .uuid(FILE_UUID_2)
        .name("Договор 1")
        .term("ACME & Co")
        .source_id(1_234);
    let request = list(&query);
    assert_eq!(
        request.uri().query(),
        Some(
            "filter%5Buuid%5D=367b9f38-5f01-4cea-947e-dfab47aea522%2Cbf1097fb-58fe-42c1-b385-ac443228ddd0\
             &filter%5Bname%5D=%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80%201\
             &filter%5Bterm%5D=ACME%20%26%20Co&filter%5Bsource_id%5D=1234"
        )
    );
    snap!(
        "request_list_files_uuids_name_term_source",
        render_request(&request)
    );
}

#[test]
fn request_list_files_extensions_and_size_range() {
    let query = FileQuery::new()
        .extension("jpg")
        .extension("png")
        .extension("pdf")
        .size(SizeRange::new(1_000_000, Some(1), Some(5)));
    let request = list(&query);
    let q = request.uri().query().unwrap();
    assert_eq!(q.matches("filter%5Bextensions%5D%5B%5D=").count(), 3);
    assert!(q.ends_with(
        "filter%5Bsize%5D%5Bunit%5D=1000000&filter%5Bsize%5D%5Bfrom%5D=1&filter%5Bsize%5D%5Bto%5D=5"
    ));
    snap!(
        "request_list_files_extensions_size",
        render_request(&request)
    );
}

#[test]
fn request_list_files_deleted() {
    let request = list(&FileQuery::new().deleted(true));
    assert_eq!(request.uri().query(), Some("filter%5Bdeleted%5D=1"));
    // `false` sends nothing, like the official SDK.
    assert_eq!(list(&FileQuery::new().deleted(false)).uri().query(), None);
    snap!("request_list_files_deleted", render_request(&request));
}

#[test]
fn request_list_files_date_preset() {
    let query = FileQuery::new().date(DateFilter::new(
        DateField::CreatedAt,
        DateRange::Preset(DatePreset::PreviousWeek),
    ));
    let request = list(&query);
    assert_eq!(
        request.uri().query(),
        Some(
            "filter%5Bdate%5D%5Btype%5D=created_at&filter%5Bdate%5D%5Bdate_preset%5D=previous_week"
        )
    );
    snap!("request_list_files_date_preset", render_request(&request));
}

#[test]
fn request_list_files_date_range() {
    let range = DateRange::Between {
        from: Some(1_671_687_247),
        to: Some(1_671_995_440),
    };
    let request = list(&FileQuery::new().date(DateFilter::new(DateField::UpdatedAt, range)));
    assert_eq!(
        request.uri().query(),
        Some(
            "filter%5Bdate%5D%5Btype%5D=updated_at&filter%5Bdate%5D%5Bfrom%5D=1671687247\
             &filter%5Bdate%5D%5Bto%5D=1671995440"
        )
    );
    snap!("request_list_files_date_range", render_request(&request));
}

#[test]
fn request_list_files_authors_and_paging() {
    let query = FileQuery::new()
        .created_by(-1)
        .created_by(0)
        .created_by(7_758_337)
        .updated_by(7_758_337)
        .updated_by(0)
        .limit(50)
        .page(3);
    let request = list(&query);
    assert_eq!(
        request.uri().query(),
        Some(
            "filter%5Bcreated_by%5D%5B%5D=-1&filter%5Bcreated_by%5D%5B%5D=0\
             &filter%5Bcreated_by%5D%5B%5D=7758337&filter%5Bupdated_by%5D%5B%5D=7758337\
             &filter%5Bupdated_by%5D%5B%5D=0&limit=50&page=3"
        )
    );
    snap!(
        "request_list_files_authors_paging",
        render_request(&request)
    );
}

#[test]
fn request_list_files_every_filter() {
    let mut query = FileQuery::new()
        .uuid(FILE_UUID)
        .name("product")
        .extension("png")
        .extension("jpg")
        .term("Lead #22859207")
        .source_id(77)
        .deleted(true)
        .size(SizeRange::new(1, Some(1_024), None))
        .date(DateFilter::new(
            DateField::CreatedAt,
            DateRange::Between {
                from: Some(1_671_687_247),
                to: None,
            },
        ))
        .created_by(7_758_337)
        .updated_by(-1)
        .limit(25)
        .page(2);
    query.with = vec!["deleted".to_owned(), "unbilled".to_owned()];
    let request = list(&query);
    snap!("request_list_files_every_filter", render_request(&request));
}

#[test]
fn request_next_page() {
    let next = PAGE_NEXT.replace("https://drive-b.amocrm.ru", "https://drive-c.kommo.com");
    let request = endpoint::next_page_request(&drive(), &next).unwrap();
    assert_eq!(request.uri().to_string(), next);
    snap!("request_next_page", render_request(&request));

    // A next link that leaves the drive host is refused (the token would go with it).
    let error = endpoint::next_page_request(&drive(), PAGE_NEXT).unwrap_err();
    assert!(matches!(error, UrlError::ForeignOrigin { .. }), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// Requests: single files, trash, versions, downloads (endpoints 5–9).
// ---------------------------------------------------------------------------------------------

#[test]
fn request_get_file() {
    let request = endpoint::get_file_request(&drive(), FILE_UUID);
    assert_eq!(
        request.uri(),
        "https://drive-c.kommo.com/v1.0/files/367b9f38-5f01-4cea-947e-dfab47aea522"
    );
    // A hostile "uuid" cannot change the path.
    let odd = endpoint::get_file_request(&drive(), "../account?x=1");
    assert_eq!(
        odd.uri(),
        "https://drive-c.kommo.com/v1.0/files/..%2Faccount%3Fx%3D1"
    );
    snap!("request_get_file", render_request(&request));
}

#[test]
fn request_edit_file_rename() {
    let edit = FileEdit::Rename("New file name".to_owned());
    let request = endpoint::edit_file_request(&drive(), FILE_UUID, &edit);
    assert_eq!(request.method(), Method::PATCH);
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body, json!({ "name": "New file name" }));
    snap!("request_edit_file_rename", render_request(&request));
}

#[test]
fn request_edit_file_set_version() {
    let edit = FileEdit::SetVersion(VERSION_UUID.to_owned());
    let request = endpoint::edit_file_request(&drive(), FILE_UUID, &edit);
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body, json!({ "version_uuid": VERSION_UUID }));
    snap!("request_edit_file_set_version", render_request(&request));
}

#[test]
fn request_delete_files() {
    let request = endpoint::delete_files_request(&drive(), &[FILE_UUID, FILE_UUID_2]);
    assert_eq!(request.method(), Method::DELETE);
    assert_eq!(request.uri(), "https://drive-c.kommo.com/v1.0/files");
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(
        body,
        json!([{ "uuid": FILE_UUID }, { "uuid": FILE_UUID_2 }])
    );
    snap!("request_delete_files", render_request(&request));
}

#[test]
fn request_restore_files() {
    let request = endpoint::restore_files_request(&drive(), &[FILE_UUID.to_owned()]);
    assert_eq!(request.method(), Method::POST);
    assert_eq!(
        request.uri(),
        "https://drive-c.kommo.com/v1.0/files/restore"
    );
    // Restore uses `uuid`, not `file_uuid` (docs/kommo-api.md#single-files-trash-and-versions).
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body, json!([{ "uuid": FILE_UUID }]));
    snap!("request_restore_files", render_request(&request));
}

#[test]
fn request_versions() {
    let request = endpoint::versions_request(&drive(), "89a61e7b-ba30-476f-b2f6-705a964e85c6");
    assert_eq!(
        request.uri(),
        "https://drive-c.kommo.com/v1.0/files/89a61e7b-ba30-476f-b2f6-705a964e85c6/versions"
    );
    snap!("request_versions", render_request(&request));
}

const DOWNLOAD: &str = "https://drive-c.kommo.com/download/21c0e773-0b10-57ac-96d1-c0b97ba6a3f7/89a61e7b-ba30-476f-b2f6-705a964e85c6/fd8401e1-c1db-4033-851c-1df68d40f579/source.jpeg";

#[test]
fn request_download_same_host_keeps_token() {
    let request = endpoint::download_request(&drive(), DOWNLOAD).unwrap();
    assert_eq!(request.method(), Method::GET);
    assert!(authorization(&request).is_some());
    assert_eq!(request.headers()[header::ACCEPT], "*/*");
    snap!("request_download_same_host", render_request(&request));
}

#[test]
fn request_download_other_host_drops_token() {
    let url = "https://cdn.example.net/files/source.jpeg?signature=abc";
    let request = endpoint::download_request(&drive(), url).unwrap();
    assert_eq!(authorization(&request), None);
    snap!("request_download_other_host", render_request(&request));
}

#[test]
fn request_redirect_relative_location() {
    let previous = endpoint::download_request(&drive(), DOWNLOAD).unwrap();
    let request =
        endpoint::redirect_request(&drive(), &previous, "/download/v2/source.jpeg?x=1").unwrap();
    assert_eq!(
        request.uri(),
        "https://drive-c.kommo.com/download/v2/source.jpeg?x=1"
    );
    assert!(
        authorization(&request).is_some(),
        "same host keeps the token"
    );
    snap!("request_redirect_relative", render_request(&request));
}

#[test]
fn request_redirect_absolute_same_host() {
    let previous = endpoint::download_request(&drive(), DOWNLOAD).unwrap();
    let location = "https://DRIVE-C.kommo.com/download/moved/source.jpeg";
    let request = endpoint::redirect_request(&drive(), &previous, location).unwrap();
    assert!(
        authorization(&request).is_some(),
        "same host keeps the token"
    );
    snap!(
        "request_redirect_absolute_same_host",
        render_request(&request)
    );
}

#[test]
fn request_redirect_cross_host_drops_token() {
    let previous = endpoint::download_request(&drive(), DOWNLOAD).unwrap();
    let location = "https://storage.kommo.com/b/21c0e773/source.jpeg?expires=1700000000";
    let request = endpoint::redirect_request(&drive(), &previous, location).unwrap();
    assert_eq!(authorization(&request), None);
    snap!("request_redirect_cross_host", render_request(&request));

    // A relative redirect after a cross-host hop stays on that host, still without the token.
    let again = endpoint::redirect_request(&drive(), &request, "/b/other.jpeg").unwrap();
    assert_eq!(again.uri(), "https://storage.kommo.com/b/other.jpeg");
    assert_eq!(authorization(&again), None);
}

#[test]
fn request_redirect_refusals() {
    let previous = endpoint::download_request(&drive(), DOWNLOAD).unwrap();
    // https → plain http to a non-loopback host would leak what we fetch.
    for location in [
        "http://drive-c.kommo.com/download/x.jpeg",
        "HTTP://cdn.example.net/x.jpeg",
    ] {
        let error = endpoint::redirect_request(&drive(), &previous, location).unwrap_err();
        assert!(
            matches!(error, UrlError::InsecureScheme(_)),
            "{location}: {error:?}"
        );
    }
    // Neither an absolute URL nor an absolute path.
    for location in [
        "//evil.example/x",
        "x.jpeg",
        "ftp://drive-c.kommo.com/x",
        "",
    ] {
        let error = endpoint::redirect_request(&drive(), &previous, location).unwrap_err();
        assert!(
            matches!(error, UrlError::Invalid(_)),
            "{location:?}: {error:?}"
        );
    }
    // Plain http to loopback is allowed (local emulator), without the token.
    let local = endpoint::redirect_request(&drive(), &previous, "http://127.0.0.1:8080/x").unwrap();
    assert_eq!(authorization(&local), None);
}

// ---------------------------------------------------------------------------------------------
// Requests: account host links, notes, fields (endpoints 10–15).
// ---------------------------------------------------------------------------------------------

const LINK_UUIDS: [&str; 2] = [
    "50ca4b6b-0b88-4ece-9f89-d48961579ae0",
    "367b9f38-5f01-4cea-947e-dfab47aea522",
];

#[test]
fn request_entity_files() {
    let query = EntityFilesQuery::new(Some(50), Some(2_140_857));
    let request = endpoint::entity_files_request(&account(), &EntityType::Leads, 18_437_733, query);
    assert_eq!(
        request.uri(),
        "https://example.kommo.com/api/v4/leads/18437733/files?limit=50&before_id=2140857"
    );
    snap!("request_entity_files", render_request(&request));

    let plain = endpoint::entity_files_request(
        &account(),
        &EntityType::Customers,
        5,
        EntityFilesQuery::default(),
    );
    assert_eq!(
        plain.uri(),
        "https://example.kommo.com/api/v4/customers/5/files"
    );
}

#[test]
fn request_attach_files() {
    let request =
        endpoint::attach_files_request(&account(), &EntityType::Leads, 18_437_733, &LINK_UUIDS);
    assert_eq!(request.method(), Method::PUT);
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(
        body,
        json!([{ "file_uuid": LINK_UUIDS[0] }, { "file_uuid": LINK_UUIDS[1] }])
    );
    snap!("request_attach_files", render_request(&request));
}

#[test]
fn request_detach_files() {
    let request =
        endpoint::detach_files_request(&account(), &EntityType::Contacts, 42, &LINK_UUIDS[..1]);
    assert_eq!(request.method(), Method::DELETE);
    assert_eq!(
        request.uri(),
        "https://example.kommo.com/api/v4/contacts/42/files"
    );
    snap!("request_detach_files", render_request(&request));
}

#[test]
fn request_file_entities() {
    let request =
        endpoint::file_entities_request(&account(), "5ef222cd-bce4-4df8-8466-3dee7d16e70d");
    assert_eq!(
        request.uri(),
        "https://example.kommo.com/api/v4/files/5ef222cd-bce4-4df8-8466-3dee7d16e70d/links"
    );
    snap!("request_file_entities", render_request(&request));
}

#[test]
fn request_notes_attachment() {
    let note = AttachmentNote::new(167_353, "9905db7c-3a29-4d30-8953-bac68c05e8e8")
        .version_uuid("5e316440-4122-4cad-b121-9709882b4cc1")
        .file_name("contract.pdf");
    let notes = [serde_json::to_value(&note).unwrap()];
    let request = endpoint::notes_request(&account(), &EntityType::Leads, &notes);
    assert_eq!(request.method(), Method::POST);
    assert_eq!(
        request.uri(),
        "https://example.kommo.com/api/v4/leads/notes"
    );
    // Exactly the documented example body (docs/kommo-api.md#notes).
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(
        body,
        json!([
          { "entity_id": 167353, "note_type": "attachment",
            "params": { "file_uuid": "9905db7c-3a29-4d30-8953-bac68c05e8e8",
                        "version_uuid": "5e316440-4122-4cad-b121-9709882b4cc1",
                        "file_name": "contract.pdf" } }
        ])
    );
    snap!("request_notes_attachment", render_request(&request));
}

#[test]
fn request_notes_with_comment() {
    let note = AttachmentNote::new(167_353, "9905db7c-3a29-4d30-8953-bac68c05e8e8")
        .file_name("contract.pdf");
    let notes = endpoint::comment_note(note, "Signed contract", 1_700_000_000);
    let request = endpoint::notes_request(&account(), &EntityType::Leads, &notes);
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body[0]["created_at"], 1_700_000_000);
    assert_eq!(
        body[0]["created_at"], body[1]["created_at"],
        "same created_at (the documented way to comment a file)"
    );
    assert_eq!(body[1]["note_type"], "common");
    snap!("request_notes_with_comment", render_request(&request));
}

#[test]
fn request_read_notes() {
    let request = endpoint::read_notes_request(&account(), &EntityType::Leads, 167_353);
    assert_eq!(
        request.uri(),
        "https://example.kommo.com/api/v4/leads/167353/notes"
    );
    snap!("request_read_notes", render_request(&request));
}

#[test]
fn request_set_file_field() {
    let mut value = FileFieldValue::new("3b454645-5c7f-4539-9ef9-0dd1b3638dad");
    value.version_uuid = Some("13db6652-b3ed-4fff-aed8-0c6f3c43b887".to_owned());
    value.file_name = Some("wiki.odt".to_owned());
    value.file_size = Some(20_763);
    let request = endpoint::set_file_field_request(
        &account(),
        &EntityType::Leads,
        18_437_733,
        1_150_985,
        &[value],
    );
    assert_eq!(request.method(), Method::PATCH);
    assert_eq!(
        request.uri(),
        "https://example.kommo.com/api/v4/leads/18437733"
    );
    // Exactly the documented example body (docs/kommo-api.md#file-custom-fields).
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(
        body,
        json!({ "custom_fields_values": [ { "field_id": 1150985, "values": [ { "value": {
            "file_uuid": "3b454645-5c7f-4539-9ef9-0dd1b3638dad",
            "version_uuid": "13db6652-b3ed-4fff-aed8-0c6f3c43b887",
            "file_name": "wiki.odt", "file_size": 20763 } } ] } ] })
    );
    snap!("request_set_file_field", render_request(&request));
}

#[test]
fn request_entity() {
    let request = endpoint::entity_request(&account(), &EntityType::Companies, 9);
    assert_eq!(
        request.uri(),
        "https://example.kommo.com/api/v4/companies/9"
    );
    snap!("request_entity", render_request(&request));
}

// ---------------------------------------------------------------------------------------------
// Responses: account and upload (endpoints 1–3).
// ---------------------------------------------------------------------------------------------

const ACCOUNT_BODY: &str = r#"{
  "id": 1231414,
  "name": "example",
  "subdomain": "example",
  "current_user_id": 581651,
  "country": "RU",
  "drive_url": "https://drive-b.amocrm.ru"
}"#;

#[test]
fn response_account() {
    let account = endpoint::parse_account(&response(200, ACCOUNT_BODY)).unwrap();
    assert_eq!(
        account.drive_url.as_deref(),
        Some("https://drive-b.amocrm.ru")
    );
    let drive = endpoint::parse_drive_url(&response(200, ACCOUNT_BODY)).unwrap();
    assert_eq!(drive.as_str(), "https://drive-b.amocrm.ru");
    snap!("response_account", account);
}

#[test]
fn response_drive_url_missing() {
    let body = r#"{ "id": 1231414, "name": "example", "subdomain": "example" }"#;
    let error = endpoint::parse_drive_url(&response(200, body)).unwrap_err();
    assert!(matches!(&error, ApiError::Decode { path, .. } if path == "drive_url"));
    snap!("response_drive_url_missing", render_error(&error));
}

#[test]
fn response_drive_url_insecure() {
    let body = ACCOUNT_BODY.replace("https://drive-b", "http://drive-b");
    let error = endpoint::parse_drive_url(&response(200, &body)).unwrap_err();
    assert!(matches!(&error, ApiError::Decode { path, .. } if path == "drive_url"));
    snap!("response_drive_url_insecure", render_error(&error));
}

#[test]
fn response_create_session() {
    let session = endpoint::parse_create_session(&response(200, SESSION)).unwrap();
    assert_eq!(session.session_id, 26_136_001);
    assert_eq!(session.upload_url, UPLOAD_URL);
    assert_eq!(session.max_file_size, 314_572_800);
    assert_eq!(session.max_part_size, 524_288);
    snap!("response_create_session", session);
}

#[test]
fn response_upload_part_202_next() {
    let outcome = endpoint::parse_upload_part(&response(202, NEXT_PART)).unwrap();
    let PartOutcome::Next(next) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        next.next_url,
        "https://drive-c.kommo.com/v1.0/sessions/upload/eyJ...<part 2 token>"
    );
    assert_eq!(next.session_id, Some(26_136_001));
    snap!("response_upload_part_202_next", render_outcome(&outcome));
}

#[test]
fn response_upload_part_200_next() {
    let outcome = endpoint::parse_upload_part(&response(200, NEXT_PART)).unwrap();
    assert_eq!(
        outcome,
        endpoint::parse_upload_part(&response(202, NEXT_PART)).unwrap()
    );
    snap!("response_upload_part_200_next", render_outcome(&outcome));
}

#[test]
fn response_upload_part_200_final() {
    let body = file_with(|f| {
        f.insert("session_id".into(), json!(26_136_001));
    });
    let outcome = endpoint::parse_upload_part(&response(200, &body)).unwrap();
    let PartOutcome::Complete(file) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(file.uuid, FILE_UUID);
    assert_eq!(file.size, 7_526);
    assert_eq!(file.session_id, Some(26_136_001));
    snap!("response_upload_part_200_final", render_outcome(&outcome));
}

#[test]
fn response_upload_part_without_next_or_file() {
    let error =
        endpoint::parse_upload_part(&response(200, r#"{ "session_id": 26136001 }"#)).unwrap_err();
    assert!(matches!(&error, ApiError::Decode { path, .. } if path == "."));
    snap!("response_upload_part_neither", render_error(&error));
}

#[test]
fn response_upload_part_404() {
    let body = r#"{"title":"Not Found","type":"https://httpstatus.es/404","status":404,"detail":"Upload session not found"}"#;
    let error = endpoint::parse_upload_part(&response(404, body)).unwrap_err();
    assert_eq!(error.status(), StatusCode::NOT_FOUND);
    assert!(matches!(error, ApiError::Status { .. }));
    snap!("response_upload_part_404", render_error(&error));
}

// ---------------------------------------------------------------------------------------------
// Responses: files (endpoints 4–9).
// ---------------------------------------------------------------------------------------------

fn page_body(next: bool) -> String {
    let mut links = json!({ "self": { "href": PAGE_SELF } });
    if next {
        links["next"] = json!({ "href": PAGE_NEXT });
    }
    json!({ "_count": 25, "_embedded": { "files": [file_value()] }, "_links": links }).to_string()
}

#[test]
fn response_file_page_with_next() {
    let page = endpoint::parse_file_page(&response(200, &page_body(true))).unwrap();
    assert_eq!(page.count, Some(25));
    assert_eq!(page.files, vec![spec_file()]);
    assert_eq!(page.next_url(), Some(PAGE_NEXT));
    snap!("response_file_page_with_next", page);
}

#[test]
fn response_file_page_last() {
    let page = endpoint::parse_file_page(&response(200, &page_body(false))).unwrap();
    assert_eq!(page.next_url(), None);
    assert_eq!(page.files.len(), 1);
    snap!("response_file_page_last", page);
}

#[test]
fn response_file_page_204_is_empty() {
    let page = endpoint::parse_file_page(&response(204, "")).unwrap();
    assert!(page.files.is_empty());
    assert_eq!(page.next_url(), None);
    assert_eq!(page, Default::default());
    snap!("response_file_page_204", page);
}

#[test]
fn response_file_page_decode_error_keeps_nested_path() {
    let body = page_body(true).replace(r#""size":7526"#, r#""size":"7526""#);
    let error = endpoint::parse_file_page(&response(200, &body)).unwrap_err();
    assert!(
        matches!(&error, ApiError::Decode { path, .. } if path == "_embedded.files[0].size"),
        "{error:?}"
    );
    assert_eq!(error.body().len(), body.len(), "the raw body is kept");
    snap!("response_file_page_decode_error", render_error(&error));
}

#[test]
fn response_get_file() {
    let file = endpoint::parse_get_file(&response(200, FILE))
        .unwrap()
        .unwrap();
    assert_eq!(file.id, Some(4_511_234));
    assert_eq!(file.kind, Some(FileType::Image));
    assert_eq!(file.name_with_extension(), "product.png");
    assert_eq!(
        file.download_url(),
        Some("https://drive-c.kommo.com/download/aff5603a-28b1-4c17-8e98-16e473b323b3/367b9f38-5f01-4cea-947e-dfab47aea522/picture.png")
    );
    assert_eq!(file.created_by.as_ref().unwrap().kind, AuthorType::Internal);
    // The file object round-trips to the documented JSON, key for key.
    assert_eq!(serde_json::to_value(&file).unwrap(), file_value());
    snap!("response_get_file", file);
}

#[test]
fn response_get_file_missing() {
    // 404 (amoCRM RU) and 204 (Kommo OpenAPI) both mean "no such file".
    let problem = r#"{"title":"Not Found","status":404,"detail":"File not found"}"#;
    assert_eq!(
        endpoint::parse_get_file(&response(404, problem)).unwrap(),
        None
    );
    assert_eq!(endpoint::parse_get_file(&response(404, "")).unwrap(), None);
    assert_eq!(endpoint::parse_get_file(&response(204, "")).unwrap(), None);
    let error = endpoint::parse_get_file(&response(401, "")).unwrap_err();
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn response_edit_file() {
    let body = file_with(|f| {
        f.insert("name".into(), json!("New file name"));
        f.insert("sanitized_name".into(), json!("New-file-name"));
        f.insert("updated_at".into(), json!(1_671_700_000));
    });
    let file = endpoint::parse_edit_file(&response(200, &body)).unwrap();
    assert_eq!(file.name, "New file name");
    assert_eq!(file.name_with_extension(), "New file name.png");
    snap!("response_edit_file", file);
}

#[test]
fn response_delete_files() {
    endpoint::parse_delete_files(&response(204, "")).unwrap();
    endpoint::parse_delete_files(&response(200, "{}")).unwrap();
    let body = r#"{"title":"Forbidden","type":"https://httpstatus.es/403","status":403,"detail":"not enough rights to call this method"}"#;
    let error = endpoint::parse_delete_files(&response(403, body)).unwrap_err();
    assert_eq!(error.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        error.problem().unwrap().detail.as_deref(),
        Some("not enough rights to call this method")
    );
    snap!("response_delete_files_403", render_error(&error));
}

#[test]
fn response_restore_files() {
    let body = json!({ "_count": 1, "_embedded": { "files": [file_value()] } }).to_string();
    let restored = endpoint::parse_restore_files(&response(200, &body)).unwrap();
    assert_eq!(restored.count, Some(1));
    assert!(!restored.files[0].is_trashed);
    assert_eq!(restored.files[0].deleted_at, None);
    assert_eq!(restored.files[0].deleted_by, None);
    snap!("response_restore_files", restored);
}

#[test]
fn response_versions() {
    let versions = endpoint::parse_versions(&response(200, VERSIONS)).unwrap();
    assert_eq!(versions.count, Some(2));
    assert_eq!(versions.versions.len(), 2);
    let [main, old] = &versions.versions[..] else {
        panic!()
    };
    assert!(main.is_main && !old.is_main);
    assert_eq!(main.uuid, "fd8401e1-c1db-4033-851c-1df68d40f579");
    assert_eq!(
        old.file_uuid.as_deref(),
        Some("89a61e7b-ba30-476f-b2f6-705a964e85c6")
    );
    assert_eq!(old.kind, Some(FileType::File));
    assert_eq!(
        old.metadata.as_ref().unwrap().mime_type.as_deref(),
        Some("")
    );
    assert_eq!(old.created_by, None);
    snap!("response_versions", versions);
}

// ---------------------------------------------------------------------------------------------
// Responses: account host (endpoints 10–15).
// ---------------------------------------------------------------------------------------------

#[test]
fn response_entity_files() {
    let links = endpoint::parse_entity_files(&response(200, ENTITY_FILES)).unwrap();
    assert_eq!(links.files.len(), 2);
    assert_eq!(
        links.files[0].file_uuid,
        "50ca4b6b-0b88-4ece-9f89-d48961579ae0"
    );
    assert_eq!(links.next_before_id(), Some(2_128_681));
    snap!("response_entity_files", links);

    let empty = endpoint::parse_entity_files(&response(204, "")).unwrap();
    assert!(empty.files.is_empty());
    assert_eq!(empty.next_before_id(), None);
}

#[test]
fn response_link_change() {
    endpoint::parse_link_change(&response(202, "")).unwrap();
    endpoint::parse_link_change(&response(200, "{}")).unwrap();
    endpoint::parse_link_change(&response(204, "")).unwrap();
    let error = endpoint::parse_link_change(&response(404, "")).unwrap_err();
    assert_eq!(error.status(), StatusCode::NOT_FOUND);
    let error = endpoint::parse_link_change(&response(200, "not json")).unwrap_err();
    assert!(matches!(error, ApiError::Decode { .. }));
}

#[test]
fn response_file_entities() {
    let entities = endpoint::parse_file_entities(&response(200, FILE_ENTITIES)).unwrap();
    assert_eq!(
        entities.file_uuid.as_deref(),
        Some("5ef222cd-bce4-4df8-8466-3dee7d16e70d")
    );
    let lead = &entities.entities[0];
    assert_eq!(lead.entity_type, Some(EntityType::Leads));
    assert_eq!(lead.date_create, Some(1_669_372_247));
    assert_eq!(lead.date_update, Some(1_672_060_100));
    assert_eq!(lead.closest_task_at, None);
    snap!("response_file_entities", entities);
}

#[test]
fn response_created_notes() {
    let created = endpoint::parse_created_notes(&response(200, CREATED_NOTES)).unwrap();
    assert_eq!(created.notes.len(), 1);
    assert_eq!(created.notes[0].id, 76_787_983);
    assert_eq!(created.notes[0].request_id.as_deref(), Some("0"));
    snap!("response_created_notes", created);
}

#[test]
fn response_notes_read_back() {
    let notes = endpoint::parse_notes(&response(200, NOTES)).unwrap();
    assert_eq!(notes.len(), 2);
    let attachment = notes[0].attachment().expect("an attachment note");
    assert!(attachment.is_drive_attachment);
    assert_eq!(attachment.file_uuid, "9905db7c-3a29-4d30-8953-bac68c05e8e8");
    assert_eq!(
        attachment.file_name.as_deref(),
        Some("Snimok_ekrana_2022-12-12_v_20.11.45_1_.jpg")
    );
    assert_eq!(attachment.original_name, attachment.text);
    assert_eq!(
        notes[1].attachment(),
        None,
        "a text note has no attachment params"
    );
    assert_eq!(notes[0].created_at, notes[1].created_at);
    assert!(endpoint::parse_notes(&response(204, ""))
        .unwrap()
        .is_empty());
    let rendered: Vec<Value> = notes
        .iter()
        .map(|note| json!({ "note": note, "attachment": note.attachment() }))
        .collect();
    snap!("response_notes_read_back", rendered);
}

#[test]
fn response_entity_file_field_values() {
    let entity = endpoint::parse_entity(&response(200, ENTITY)).unwrap();
    let values = endpoint::file_field_values(&entity, 1_150_985).unwrap();
    assert_eq!(values.len(), 2);
    assert!(!values[0].is_deleted);
    assert!(values[1].is_deleted);
    assert_eq!(values[0].value.file_size, Some(20_763));
    // Sending a value back drops the read-only `is_deleted`.
    let resend = serde_json::to_value(values[0].clone().into_value()).unwrap();
    assert_eq!(resend.get("is_deleted"), None);
    assert_eq!(resend["file_uuid"], "3b454645-5c7f-4539-9ef9-0dd1b3638dad");
    // Another field, or an entity without custom fields, has no file values.
    assert!(endpoint::file_field_values(&entity, 1).unwrap().is_empty());
    let bare = json!({ "id": 1, "custom_fields_values": null });
    assert!(endpoint::file_field_values(&bare, 1_150_985)
        .unwrap()
        .is_empty());
    snap!("response_entity_file_field_values", values);
}

#[test]
fn response_entity_file_field_decode_error() {
    let mut entity = endpoint::parse_entity(&response(200, ENTITY)).unwrap();
    entity["custom_fields_values"][1]["values"][1]["value"]["file_size"] = json!("big");
    let error = endpoint::file_field_values(&entity, 1_150_985).unwrap_err();
    assert!(
        matches!(&error, ApiError::Decode { path, .. }
            if path == "custom_fields_values[1].values[1].value.file_size"),
        "{error:?}"
    );
    // The body is the whole entity, not the field fragment.
    assert_eq!(error.body(), &Bytes::from(entity.to_string()));
    snap!(
        "response_entity_file_field_decode_error",
        render_error(&error)
    );

    // A value of the asked-for field without `file_uuid` fails at that value.
    entity["custom_fields_values"][1]["values"][0]["value"] = json!({ "file_name": "x" });
    let error = endpoint::file_field_values(&entity, 1_150_985).unwrap_err();
    assert!(
        matches!(&error, ApiError::Decode { path, .. }
            if path == "custom_fields_values[1].values[0].value"),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Responses: errors and tolerance.
// ---------------------------------------------------------------------------------------------

#[test]
fn response_problem_validation_error() {
    let http = response_with(
        400,
        PROBLEM,
        &[("content-type", "application/problem+json")],
    );
    let error = endpoint::parse_entity(&http).unwrap_err();
    let problem = error.problem().expect("a problem body");
    assert_eq!(problem.title.as_deref(), Some("Bad Request"));
    assert_eq!(problem.status, Some(400));
    let item = &problem.validation_errors[0].errors[0];
    assert_eq!(item.code.as_deref(), Some("NotSupportedChoice"));
    assert_eq!(
        item.path.as_deref(),
        Some("custom_fields_values.0.field_id")
    );
    assert_eq!(error.body().len(), PROBLEM.len());
    snap!("response_problem_validation_error", render_error(&error));
}

#[test]
fn response_html_403_blocked_account() {
    let html = "<!DOCTYPE html>\n<html>\n<head><title>403 Forbidden</title></head>\n<body>\n\
                <h1>Access denied</h1>\n<p>Your account has been blocked for repeatedly exceeding \
                the number of requests per second. Please contact support to restore access to \
                the API.</p>\n</body>\n</html>\n";
    let http = response_with(403, html, &[("content-type", "text/html; charset=utf-8")]);
    let error = endpoint::parse_get_file(&http).unwrap_err();
    assert!(
        matches!(&error, ApiError::Status { problem: None, .. }),
        "{error:?}"
    );
    assert_eq!(error.body(), &Bytes::from(html), "the raw body is kept");
    snap!("response_html_403", render_error(&error));
}

#[test]
fn response_429_with_retry_after() {
    let http = response_with(429, "", &[("retry-after", "2")]);
    let error = endpoint::parse_file_page(&http).unwrap_err();
    assert_eq!(error.retry_after(), Some(RetryAfter::Seconds(2)));
    snap!("response_429_retry_after", render_error(&error));
}

#[test]
fn response_decode_error_keeps_path() {
    let body = file_with(|f| {
        f.insert("size".into(), json!("7526"));
    });
    let error = endpoint::parse_get_file(&response(200, &body)).unwrap_err();
    assert!(
        matches!(&error, ApiError::Decode { path, .. } if path == "size"),
        "{error:?}"
    );
    assert_eq!(error.body().len(), body.len());
    snap!("response_decode_error_size_string", render_error(&error));
}

#[test]
fn response_unknown_enum_strings_preserved() {
    let body = file_with(|f| {
        f.insert("type".into(), json!("hologram"));
        f.insert("created_by".into(), json!({ "type": "robot", "id": 0 }));
        f.insert("updated_by".into(), json!({ "type": "client", "id": -1 }));
    });
    let file = endpoint::parse_get_file(&response(200, &body))
        .unwrap()
        .unwrap();
    assert_eq!(file.kind, Some(FileType::Other("hologram".to_owned())));
    assert_eq!(
        file.created_by.as_ref().unwrap().kind,
        AuthorType::Other("robot".to_owned())
    );
    assert_eq!(file.updated_by.as_ref().unwrap().kind.as_str(), "client");
    // … and written back unchanged.
    let out = serde_json::to_value(&file).unwrap();
    assert_eq!(out["type"], "hologram");
    assert_eq!(out["created_by"], json!({ "type": "robot", "id": 0 }));
    snap!(redacted: "response_unknown_enum_strings", file);
}

#[test]
fn response_unknown_fields_ignored() {
    let body = file_with(|f| {
        f.insert("is_favourite".into(), json!(true));
        f.insert(
            "processing".into(),
            json!({ "image": { "convertTo": "image/jpeg" } }),
        );
        f.get_mut("metadata").unwrap()["duration"] = json!(12.5);
        f.get_mut("_links").unwrap()["thumbnail"] =
            json!({ "href": "https://drive-c.kommo.com/t" });
        f.get_mut("created_by").unwrap()["name"] = json!("Jane");
    });
    let file = endpoint::parse_get_file(&response(200, &body))
        .unwrap()
        .unwrap();
    assert_eq!(file, spec_file(), "unknown fields change nothing");
    snap!(redacted: "response_unknown_fields_ignored", file);
}

#[test]
fn response_nullable_fields_null() {
    let body = file_with(|f| {
        for key in [
            "id",
            "version_uuid",
            "type",
            "sanitized_name",
            "source_id",
            "metadata",
            "previews",
            "created_at",
            "created_by",
            "updated_at",
            "updated_by",
            "deleted_at",
            "deleted_by",
        ] {
            f.insert(key.into(), Value::Null);
        }
    });
    let file = endpoint::parse_get_file(&response(200, &body))
        .unwrap()
        .unwrap();
    assert_eq!(file.uuid, FILE_UUID);
    assert_eq!(
        (file.id, file.kind.clone(), file.metadata.clone()),
        (None, None, None)
    );
    assert_eq!(file.name_with_extension(), "product");
    snap!(redacted: "response_nullable_fields_null", file);
}

#[test]
fn response_trashed_file_with_previews() {
    let body = file_with(|f| {
        f.insert("is_trashed".into(), json!(true));
        f.insert("deleted_at".into(), json!(1_671_790_000));
        f.insert(
            "deleted_by".into(),
            json!({ "type": "internal", "id": 7_758_337 }),
        );
        f.insert(
            "previews".into(),
            json!([{ "download_link": "https://drive-c.kommo.com/download/p/100x100.png", "width": 100, "height": 100 }]),
        );
    });
    let file = endpoint::parse_get_file(&response(200, &body))
        .unwrap()
        .unwrap();
    assert!(file.is_trashed);
    assert_eq!(file.previews.as_ref().unwrap()[0].width, Some(100));
    snap!(redacted: "response_trashed_file_with_previews", file);
}
