//! Files: get, list with filters and pages, patch, delete, restore, purge, scopes (docs/kommo-api.md#single-files-trash-and-versions).

use std::time::Duration;

use kommo_files_emulator::{DeleteStatus, DownloadStatus, Emulator, MissingFileStatus, Scope};
use serde_json::{json, Value};

use crate::common::Api;

const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

fn uuids(answer: &crate::common::Answer) -> Vec<String> {
    if answer.status == 204 {
        return Vec::new();
    }
    answer.json()["_embedded"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["uuid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn get_returns_the_file_object_and_unknown_files_are_404() {
    let api = Api::start();
    let file = api.upload("notes.txt", b"some text");
    let got = api.drive(
        "GET",
        &format!("/v1.0/files/{}", file["uuid"].as_str().unwrap()),
        None,
    );
    assert_eq!(got.status, 200);
    let mut expected = file.clone();
    expected.as_object_mut().unwrap().remove("session_id");
    assert_eq!(
        got.json(),
        expected,
        "GET shows the upload's file object minus session_id"
    );
    let missing = api.drive("GET", &format!("/v1.0/files/{UNKNOWN}"), None);
    assert_eq!(missing.status, 404);
    insta::assert_json_snapshot!("get_missing_file", missing.json());
}

#[test]
fn missing_file_204_variant() {
    let api = Api::with(Emulator::builder().missing_file_status(MissingFileStatus::NoContent204));
    let missing = api.drive("GET", &format!("/v1.0/files/{UNKNOWN}"), None);
    assert_eq!(missing.status, 204);
    assert!(missing.body.is_empty());
}

#[test]
fn list_pages_and_filters() {
    let api = Api::start();
    let a = api.upload("alpha.jpg", b"1234567890");
    let b = api.upload("beta.png", b"12345");
    let c = api.upload("Gamma report.pdf", &[0u8; 2000]);
    let id = |f: &Value| f["uuid"].as_str().unwrap().to_owned();

    let first = api.drive("GET", "/v1.0/files?limit=2&page=1", None);
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["_count"], 2);
    assert_eq!(uuids(&first), [id(&c), id(&b)], "newest first");
    insta::assert_json_snapshot!("list_first_page", api.redact(&first.json()));
    let next = first.json()["_links"]["next"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = api.send("GET", &next, Some(&api.token()), None);
    assert_eq!(uuids(&second), [id(&a)]);
    assert!(
        second.json()["_links"].get("next").is_none(),
        "no next on the last page"
    );
    assert_eq!(
        api.drive("GET", "/v1.0/files?limit=2&page=3", None).status,
        204
    );

    let query = |q: &str| uuids(&api.drive("GET", &format!("/v1.0/files?{q}"), None));
    assert_eq!(
        query(&format!("filter[uuid]={},{}", id(&a), id(&c))),
        [id(&c), id(&a)]
    );
    assert_eq!(query("filter%5Bname%5D=beta"), [id(&b)]);
    assert_eq!(
        query("filter[extensions][]=jpg&filter[extensions][]=pdf"),
        [id(&c), id(&a)]
    );
    assert_eq!(query("filter[extensions][0]=png"), [id(&b)]);
    assert_eq!(query("filter[term]=gamma"), [id(&c)]);
    assert_eq!(query("filter[size][from]=6&filter[size][to]=10"), [id(&a)]);
    assert_eq!(
        query("filter[size][unit]=1000&filter[size][from]=1"),
        [id(&c)]
    );
    let now = api.emu.now();
    let around_now = format!(
        "filter[date][type]=created_at&filter[date][from]={}&filter[date][to]={}",
        now - 3600,
        now + 3600
    );
    assert_eq!(query(&around_now).len(), 3);
    // Presets that cannot hold files made a moment ago, even across midnight.
    assert_eq!(
        query("filter[date][date_preset]=tomorrow"),
        Vec::<String>::new()
    );
    assert_eq!(
        query("filter[date][type]=updated_at&filter[date][date_preset]=next_week"),
        Vec::<String>::new()
    );
    assert_eq!(
        query("filter[date][from]=0&filter[date][to]=1"),
        Vec::<String>::new()
    );
    assert_eq!(query("filter[created_by][]=581651").len(), 3);
    assert_eq!(query("filter[updated_by][]=-1"), Vec::<String>::new());
    assert_eq!(query("filter[source_id]=5"), Vec::<String>::new());

    // The term also matches the name of a linked entity.
    let attach = api.account(
        "PUT",
        "/api/v4/leads/1001/files",
        Some(json!([{ "file_uuid": id(&b) }])),
    );
    assert_eq!(attach.status, 202);
    assert_eq!(query("filter[term]=lead%20%231001"), [id(&b)]);

    for bad in [
        "limit=0",
        "limit=251",
        "page=0",
        "limit=x",
        "filter[date][date_preset]=someday",
        "filter[date][type]=x",
    ] {
        assert_eq!(
            api.drive("GET", &format!("/v1.0/files?{bad}"), None).status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn an_empty_account_lists_204() {
    let api = Api::start();
    let answer = api.drive("GET", "/v1.0/files", None);
    assert_eq!(answer.status, 204);
    assert!(answer.body.is_empty());
}

#[test]
fn patch_renames_or_switches_version_but_not_both() {
    let api = Api::start();
    let file = api.upload("old name.txt", b"x");
    let path = format!("/v1.0/files/{}", file["uuid"].as_str().unwrap());
    let renamed = api.drive("PATCH", &path, Some(json!({ "name": "Новое имя.txt" })));
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.json()["name"], "Новое имя");
    assert_eq!(renamed.json()["sanitized_name"], "Novoe_imya");
    assert_eq!(renamed.json()["metadata"]["extension"], "txt");

    let both = api.drive(
        "PATCH",
        &path,
        Some(json!({ "name": "x", "version_uuid": file["version_uuid"] })),
    );
    assert_eq!(both.status, 400);
    insta::assert_json_snapshot!("patch_both", both.json());
    let bad_version = api.drive("PATCH", &path, Some(json!({ "version_uuid": UNKNOWN })));
    assert_eq!(bad_version.status, 400);
    let unknown = api.drive(
        "PATCH",
        &format!("/v1.0/files/{UNKNOWN}"),
        Some(json!({ "name": "x" })),
    );
    assert_eq!(unknown.status, 404);
}

#[test]
fn delete_trashes_restore_brings_back_and_30_days_purge() {
    let api = Api::start();
    let keep = api.upload("keep.txt", b"keep");
    let gone = api.upload("gone.txt", b"gone");
    let uuid = gone["uuid"].as_str().unwrap();

    let deleted = api.drive("DELETE", "/v1.0/files", Some(json!([{ "uuid": uuid }])));
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    let trashed = api
        .drive("GET", &format!("/v1.0/files/{uuid}"), None)
        .json();
    assert_eq!(trashed["is_trashed"], true);
    assert!(trashed["deleted_at"].is_number());
    assert_eq!(
        trashed["deleted_by"],
        json!({ "id": 581651, "type": "internal" })
    );
    assert_eq!(
        uuids(&api.drive("GET", "/v1.0/files", None)),
        [keep["uuid"].as_str().unwrap()]
    );
    assert_eq!(
        uuids(&api.drive("GET", "/v1.0/files?filter[deleted]=1", None)),
        [uuid]
    );

    let restored = api.drive(
        "POST",
        "/v1.0/files/restore",
        Some(json!([{ "uuid": uuid }])),
    );
    assert_eq!(restored.status, 200);
    insta::assert_json_snapshot!("restore", api.redact(&restored.json()));

    // Trash again, then let 30 days pass on the clock.
    api.drive("DELETE", "/v1.0/files", Some(json!([{ "uuid": uuid }])));
    api.emu.advance_clock(Duration::from_secs(29 * 86_400));
    assert_eq!(
        api.drive("GET", &format!("/v1.0/files/{uuid}"), None)
            .status,
        200
    );
    api.emu.advance_clock(Duration::from_secs(86_400));
    assert_eq!(
        api.drive("GET", &format!("/v1.0/files/{uuid}"), None)
            .status,
        404
    );
    assert_eq!(api.emu.files().len(), 1, "purged for good");
    let href = gone["_links"]["download"]["href"].as_str().unwrap();
    assert_eq!(api.send("GET", href, None, None).status, 404);
    let restore_purged = api.drive(
        "POST",
        "/v1.0/files/restore",
        Some(json!([{ "uuid": uuid }])),
    );
    assert_eq!(restore_purged.status, 400);

    let unknown = api.drive("DELETE", "/v1.0/files", Some(json!([{ "uuid": UNKNOWN }])));
    assert_eq!(unknown.status, 400);
    insta::assert_json_snapshot!("delete_unknown", unknown.json());
    assert_eq!(
        api.drive("DELETE", "/v1.0/files", Some(json!([]))).status,
        400
    );
}

#[test]
fn delete_200_empty_object_variant() {
    let api = Api::with(Emulator::builder().delete_status(DeleteStatus::OkEmptyObject200));
    let file = api.upload("a.txt", b"a");
    let deleted = api.drive(
        "DELETE",
        "/v1.0/files",
        Some(json!([{ "uuid": file["uuid"] }])),
    );
    assert_eq!((deleted.status, deleted.json()), (200, json!({})));
}

#[test]
fn tokens_and_scopes_are_enforced() {
    let api = Api::with(
        Emulator::builder()
            .token("full", Scope::ALL)
            .token("files-only", [Scope::Files])
            .token("crm-only", [Scope::Crm]),
    );
    let file = api.upload("a.txt", b"a");
    let drive = api.emu.drive_url().to_owned();
    let account = api.emu.account_url().to_owned();
    let delete_body = json!([{ "uuid": file["uuid"] }]).to_string();
    let status = |method: &str, url: &str, token: Option<&str>, body: Option<&str>| {
        api.send(method, url, token, body.map(str::as_bytes)).status
    };
    let files_url = format!("{drive}/v1.0/files");
    let account_url = format!("{account}/api/v4/account");

    let no_token = api.send("GET", &files_url, None, None);
    assert_eq!(no_token.status, 401);
    insta::assert_json_snapshot!("unauthorized", no_token.json());
    assert_eq!(status("GET", &files_url, Some("nope"), None), 401);
    assert_eq!(status("GET", &files_url, Some("crm-only"), None), 403);
    assert_eq!(status("GET", &files_url, Some("files-only"), None), 200);
    let forbidden = api.send(
        "DELETE",
        &files_url,
        Some("files-only"),
        Some(delete_body.as_bytes()),
    );
    assert_eq!(forbidden.status, 403);
    insta::assert_json_snapshot!("forbidden_delete", forbidden.json());
    assert_eq!(status("GET", &account_url, Some("files-only"), None), 403);
    assert_eq!(status("GET", &account_url, Some("crm-only"), None), 200);
    let on_account = api.send("GET", &account_url, None, None);
    assert_eq!(on_account.status, 401);
    assert_eq!(on_account.content_type, "application/problem+json");
    // Restore needs only `files` (docs/kommo-api.md#scopes).
    assert_eq!(
        status(
            "POST",
            &format!("{drive}/v1.0/files/restore"),
            Some("files-only"),
            Some(&delete_body)
        ),
        200
    );
    assert_eq!(
        status("DELETE", &files_url, Some("full"), Some(&delete_body)),
        204
    );
}

#[test]
fn remaining_error_statuses() {
    let api = Api::start();
    let file = api.upload("a.txt", b"a");
    let uuid = file["uuid"].as_str().unwrap();
    assert_eq!(
        api.drive("GET", &format!("/v1.0/files/{UNKNOWN}/versions"), None)
            .status,
        404
    );
    let version_self = format!(
        "/v1.0/files/{uuid}/versions/{}",
        file["version_uuid"].as_str().unwrap()
    );
    assert_eq!(
        api.drive("GET", &version_self, None).status,
        404,
        "undocumented: not served"
    );
    let href = file["_links"]["download_version"]["href"].as_str().unwrap();
    let wrong_version = href.replace(file["version_uuid"].as_str().unwrap(), UNKNOWN);
    assert_eq!(api.send("GET", &wrong_version, None, None).status, 404);
    let wrong_account = format!("{}/download/{UNKNOWN}/{uuid}/a.txt", api.emu.drive_url());
    assert_eq!(api.send("GET", &wrong_account, None, None).status, 404);
    let not_json = api.send(
        "PATCH",
        &format!("{}/v1.0/files/{uuid}", api.emu.drive_url()),
        Some(&api.token()),
        Some(b"name=x"),
    );
    assert_eq!(not_json.status, 400);
    assert_eq!(
        api.drive("POST", "/v1.0/files/restore", Some(json!({ "uuid": uuid })))
            .status,
        400
    );
    assert_eq!(
        api.account("GET", "/api/v4/leads/abc/files", None).status,
        404
    );
    assert_eq!(
        api.account("GET", "/api/v4/deals/1/files", None).status,
        404
    );
    let unauthorized_restore = api.send(
        "POST",
        &format!("{}/v1.0/files/restore", api.emu.drive_url()),
        None,
        Some(b"[]"),
    );
    assert_eq!(unauthorized_restore.status, 401);
}

#[test]
fn download_links_redirect_to_storage_or_answer_directly() {
    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let location_of = |href: &str| {
        let response = no_redirects.get(href).call().unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), location)
    };

    // Default: 301 to a storage URL on the drive host, which serves the exact bytes.
    let api = Api::start();
    let file = api.upload("scan.pdf", b"%PDF-1.7 bytes");
    let href = file["_links"]["download"]["href"].as_str().unwrap();
    let (status, location) = location_of(href);
    assert_eq!(status, 301);
    let location = location.expect("a Location header");
    let version = file["version_uuid"].as_str().unwrap();
    assert_eq!(
        location,
        format!("{}/storage/{version}/scan.pdf", api.emu.drive_url())
    );
    assert_eq!(
        api.download(href),
        b"%PDF-1.7 bytes",
        "followed to the bytes"
    );
    let storage = api.send("GET", &location, None, None);
    assert_eq!(storage.body, b"%PDF-1.7 bytes");
    let unknown = location.replace(version, UNKNOWN);
    assert_eq!(api.send("GET", &unknown, None, None).status, 404);

    // A trashed file's storage URL is gone too.
    let uuid = file["uuid"].as_str().unwrap();
    let deleted = api.drive("DELETE", "/v1.0/files", Some(json!([{ "uuid": uuid }])));
    assert_eq!(deleted.status, 204);
    assert_eq!(api.send("GET", &location, None, None).status, 404);

    // The 200 variant answers the bytes at the link itself.
    let api = Api::with(Emulator::builder().download_status(DownloadStatus::Ok200));
    let file = api.upload("scan.pdf", b"direct");
    let href = file["_links"]["download"]["href"].as_str().unwrap();
    assert_eq!(location_of(href), (200, None));
    assert_eq!(api.download(href), b"direct");
}
