//! Account host: account info, entity links, reverse links, notes, `file` custom fields.

use kommo_files_emulator::{AttachStatus, Emulator, FILE_FIELD_ID_LEADS};
use serde_json::json;

use crate::common::Api;

#[test]
fn account_points_at_the_drive_listener() {
    let api = Api::start();
    let with = api.account("GET", "/api/v4/account?with=amojo_id,drive_url", None);
    assert_eq!(with.status, 200);
    assert_eq!(with.content_type, "application/hal+json");
    assert_eq!(with.json()["drive_url"], api.emu.drive_url());
    assert!(!api.emu.drive_url().ends_with('/'));
    insta::assert_json_snapshot!("account", api.redact(&with.json()));
    let without = api.account("GET", "/api/v4/account", None);
    assert!(without.json().get("drive_url").is_none());
}

#[test]
fn account_has_every_field_the_php_sdk_reads() {
    let api = Api::start();
    let body = api.account("GET", "/api/v4/account", None).json();
    let expected = [
        ("id", "number"),
        ("name", "string"),
        ("subdomain", "string"),
        ("created_at", "number"),
        ("created_by", "number"),
        ("updated_at", "number"),
        ("updated_by", "number"),
        ("current_user_id", "number"),
        ("country", "string"),
        ("currency", "string"),
        ("currency_symbol", "string"),
        ("customers_mode", "string"),
        ("is_unsorted_on", "bool"),
        ("mobile_feature_version", "number"),
        ("is_loss_reason_enabled", "bool"),
        ("is_helpbot_enabled", "bool"),
        ("is_technical_account", "bool"),
        ("contact_name_display_order", "number"),
    ];
    for (field, kind) in expected {
        let value = &body[field];
        let ok = match kind {
            "number" => value.is_u64(),
            "string" => value.as_str().is_some_and(|s| !s.is_empty()),
            _ => value.is_boolean(),
        };
        assert!(ok, "{field}: {value}");
    }
    assert_eq!(
        body["_links"]["self"]["href"],
        format!("{}/api/v4/account", api.emu.account_url())
    );
    assert!(body.get("drive_url").is_none() && body.get("amojo_id").is_none());
}

#[test]
fn each_host_answers_404_for_the_other_hosts_paths() {
    let api = Api::start();
    let file = api.upload("a.txt", b"a");
    let uuid = file["uuid"].as_str().unwrap();
    let on_account = api.account("GET", &format!("/api/v4/files/{uuid}"), None);
    assert_eq!(on_account.status, 404);
    assert_eq!(on_account.content_type, "application/problem+json");
    assert_eq!(api.account("GET", "/v1.0/files", None).status, 404);
    assert_eq!(
        api.account("POST", "/v1.0/sessions", Some(json!({})))
            .status,
        404
    );
    assert_eq!(api.drive("GET", "/api/v4/account", None).status, 404);
    assert_eq!(
        api.drive("GET", "/api/v4/leads/1001/files", None).status,
        404
    );
}

#[test]
fn files_attach_list_and_detach_on_entities() {
    let api = Api::start();
    let files: Vec<String> = (0..3)
        .map(|i| {
            api.upload(&format!("f{i}.txt"), b"x")["uuid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        api.account("GET", "/api/v4/leads/1001/files", None).status,
        204
    );

    let body = json!(files
        .iter()
        .map(|f| json!({ "file_uuid": f }))
        .collect::<Vec<_>>());
    let attached = api.account("PUT", "/api/v4/leads/1001/files", Some(body.clone()));
    assert_eq!(attached.status, 202);
    assert!(attached.body.is_empty());
    // Attaching again links nothing twice.
    api.account("PUT", "/api/v4/leads/1001/files", Some(body));

    let all = api.account("GET", "/api/v4/leads/1001/files", None);
    assert_eq!(all.status, 200);
    insta::assert_json_snapshot!("entity_files", api.redact(&all.json()));
    let ids: Vec<u64> = all.json()["_embedded"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "descending link ids");

    let page = api.account(
        "GET",
        &format!("/api/v4/leads/1001/files?limit=1&before_id={}", ids[0]),
        None,
    );
    let page_ids: Vec<u64> = page.json()["_embedded"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_u64().unwrap())
        .collect();
    assert_eq!(page_ids, [ids[1]]);
    assert_eq!(
        api.account(
            "GET",
            &format!("/api/v4/leads/1001/files?before_id={}", ids[2]),
            None
        )
        .status,
        204
    );
    assert_eq!(
        api.account("GET", "/api/v4/leads/1001/files?limit=0", None)
            .status,
        400
    );

    let links = api.account("GET", &format!("/api/v4/files/{}/links", files[0]), None);
    assert_eq!(links.status, 200);
    insta::assert_json_snapshot!("file_links", api.redact(&links.json()));

    let detached = api.account(
        "DELETE",
        "/api/v4/leads/1001/files",
        Some(json!([{ "file_uuid": files[0] }])),
    );
    assert_eq!(detached.status, 202);
    let links = api.account("GET", &format!("/api/v4/files/{}/links", files[0]), None);
    assert_eq!(links.json()["entities"], json!([]));

    for kind in ["contacts/2001", "companies/3001", "customers/4001"] {
        let put = api.account(
            "PUT",
            &format!("/api/v4/{kind}/files"),
            Some(json!([{ "file_uuid": files[1] }])),
        );
        assert_eq!(put.status, 202, "{kind}");
    }
    let links = api.account("GET", &format!("/api/v4/files/{}/links", files[1]), None);
    assert_eq!(links.json()["entities"].as_array().unwrap().len(), 4);
}

#[test]
fn entity_link_errors() {
    let api = Api::start();
    let file = api.upload("a.txt", b"a");
    let uuid = file["uuid"].as_str().unwrap();
    let unknown_entity = api.account("GET", "/api/v4/leads/999999/files", None);
    assert_eq!(unknown_entity.status, 404);
    insta::assert_json_snapshot!("unknown_entity", unknown_entity.json());
    assert_eq!(
        api.account(
            "PUT",
            "/api/v4/leads/999999/files",
            Some(json!([{ "file_uuid": uuid }]))
        )
        .status,
        404
    );
    let unknown_file = api.account(
        "PUT",
        "/api/v4/leads/1001/files",
        Some(json!([{ "file_uuid": "00000000-0000-4000-8000-000000000000" }])),
    );
    assert_eq!(unknown_file.status, 400);
    insta::assert_json_snapshot!("attach_unknown_file", unknown_file.json());
    assert_eq!(
        api.account("PUT", "/api/v4/leads/1001/files", Some(json!({})))
            .status,
        400
    );
    assert_eq!(
        api.account(
            "GET",
            "/api/v4/files/00000000-0000-4000-8000-000000000000/links",
            None
        )
        .status,
        400
    );

    api.drive("DELETE", "/v1.0/files", Some(json!([{ "uuid": uuid }])));
    let trashed = api.account(
        "PUT",
        "/api/v4/leads/1001/files",
        Some(json!([{ "file_uuid": uuid }])),
    );
    assert_eq!(trashed.status, 400);
    insta::assert_json_snapshot!("attach_trashed_file", api.redact(&trashed.json()));
}

#[test]
fn attach_200_variant() {
    let api = Api::with(Emulator::builder().attach_status(AttachStatus::OkEmptyObject200));
    let file = api.upload("a.txt", b"a");
    let put = api.account(
        "PUT",
        "/api/v4/leads/1001/files",
        Some(json!([{ "file_uuid": file["uuid"] }])),
    );
    assert_eq!((put.status, put.json()), (200, json!({})));
    let delete = api.account(
        "DELETE",
        "/api/v4/leads/1001/files",
        Some(json!([{ "file_uuid": file["uuid"] }])),
    );
    assert_eq!((delete.status, delete.json()), (200, json!({})));
}

#[test]
fn attachment_notes_are_validated_and_read_back() {
    let api = Api::start();
    let file = api.upload("Снимок экрана (1).jpg", b"jpeg bytes");
    assert_eq!(
        api.account("GET", "/api/v4/leads/1001/notes", None).status,
        204
    );

    let created = api.account(
        "POST",
        "/api/v4/leads/notes",
        Some(json!([
            { "entity_id": 1001, "note_type": "attachment", "created_at": 1_700_000_000,
              "params": { "file_uuid": file["uuid"], "file_name": "Снимок экрана (1).jpg" } },
            { "entity_id": 1001, "note_type": "common", "created_at": 1_700_000_000,
              "params": { "text": "the comment next to the file" } },
        ])),
    );
    assert_eq!(created.status, 200);
    insta::assert_json_snapshot!("notes_created", api.redact(&created.json()));

    let read = api.account(
        "GET",
        "/api/v4/leads/1001/notes?filter[note_type]=attachment",
        None,
    );
    assert_eq!(read.status, 200);
    insta::assert_json_snapshot!("notes_read_back", api.redact(&read.json()));
    let params = &read.json()["_embedded"]["notes"][0]["params"];
    assert_eq!(
        params["version_uuid"], file["version_uuid"],
        "omitted version → the active one"
    );
    assert_eq!(params["file_name"], "Snimok_ekrana_1_.jpg");
    let all = api.account("GET", "/api/v4/leads/notes", None);
    assert_eq!(
        all.json()["_embedded"]["notes"].as_array().unwrap().len(),
        2
    );

    let by_path = api.account(
        "POST",
        "/api/v4/contacts/2001/notes",
        Some(json!([{ "note_type": "attachment", "params": { "file_uuid": file["uuid"], "version_uuid": file["version_uuid"] } }])),
    );
    assert_eq!(by_path.status, 200);
    assert_eq!(by_path.json()["_embedded"]["notes"][0]["entity_id"], 2001);
}

#[test]
fn invalid_notes_are_refused() {
    let api = Api::start();
    let file = api.upload("a.txt", b"a");
    let trashed = api.upload("b.txt", b"b");
    api.drive(
        "DELETE",
        "/v1.0/files",
        Some(json!([{ "uuid": trashed["uuid"] }])),
    );
    let cases = [
        (
            "no_file_uuid",
            json!([{ "entity_id": 1001, "note_type": "attachment", "params": {} }]),
        ),
        (
            "trashed_file",
            json!([{ "entity_id": 1001, "note_type": "attachment", "params": { "file_uuid": trashed["uuid"] } }]),
        ),
        (
            "foreign_version",
            json!([{ "entity_id": 1001, "note_type": "attachment", "params": { "file_uuid": file["uuid"], "version_uuid": trashed["version_uuid"] } }]),
        ),
        (
            "bad_note_type",
            json!([{ "entity_id": 1001, "note_type": "attachments", "params": { "file_uuid": file["uuid"] } }]),
        ),
        (
            "unknown_entity",
            json!([{ "entity_id": 5, "note_type": "attachment", "params": { "file_uuid": file["uuid"] } }]),
        ),
    ];
    for (name, body) in cases {
        let answer = api.account("POST", "/api/v4/leads/notes", Some(body));
        assert_eq!(answer.status, 400, "{name}");
        insta::assert_json_snapshot!(format!("note_invalid_{name}"), api.redact(&answer.json()));
    }
    assert_eq!(
        api.account("POST", "/api/v4/leads/999999/notes", Some(json!([])))
            .status,
        404
    );
    assert_eq!(
        api.account("GET", "/api/v4/leads/999999/notes", None)
            .status,
        404
    );
}

#[test]
fn a_file_custom_field_round_trips_with_is_deleted() {
    let api = Api::start();
    let file = api.upload("wiki.odt", b"odt bytes");
    let value = json!({ "custom_fields_values": [{ "field_id": FILE_FIELD_ID_LEADS, "values": [
        { "value": { "file_uuid": file["uuid"] } } ] }] });
    let patched = api.account("PATCH", "/api/v4/leads/1001", Some(value));
    assert_eq!(patched.status, 200);

    let lead = api.account("GET", "/api/v4/leads/1001", None);
    assert_eq!(lead.status, 200);
    insta::assert_json_snapshot!("lead_with_file_field", api.redact(&lead.json()));

    // Sending back what GET returned (with is_deleted) is accepted, also in the batch form.
    let fields = lead.json()["custom_fields_values"].clone();
    let batch = api.account(
        "PATCH",
        "/api/v4/leads",
        Some(json!([{ "id": 1001, "custom_fields_values": fields }])),
    );
    assert_eq!(batch.status, 200);

    api.drive(
        "DELETE",
        "/v1.0/files",
        Some(json!([{ "uuid": file["uuid"] }])),
    );
    let lead = api.account("GET", "/api/v4/leads/1001", None).json();
    assert_eq!(
        lead["custom_fields_values"][0]["values"][0]["value"]["is_deleted"],
        true
    );
    let again = api.account(
        "PATCH",
        "/api/v4/leads/1001",
        Some(json!({ "custom_fields_values": lead["custom_fields_values"] })),
    );
    assert_eq!(again.status, 400, "a trashed file cannot be set");
    insta::assert_json_snapshot!("field_trashed_file", api.redact(&again.json()));

    let wrong_field = api.account(
        "PATCH",
        "/api/v4/leads/1001",
        Some(json!({ "custom_fields_values": [{ "field_id": 1, "values": [] }] })),
    );
    assert_eq!(wrong_field.status, 400);
    insta::assert_json_snapshot!("field_not_supported", wrong_field.json());
    assert_eq!(
        api.account("PATCH", "/api/v4/leads/999999", Some(json!({})))
            .status,
        404
    );
}

#[test]
fn entities_can_be_created_and_fetched() {
    let api = Api::start();
    let created = api.account(
        "POST",
        "/api/v4/contacts",
        Some(json!([{ "name": "Jane Roe" }])),
    );
    assert_eq!(created.status, 200);
    let id = created.json()["_embedded"]["contacts"][0]["id"]
        .as_u64()
        .unwrap();
    let contact = api.account("GET", &format!("/api/v4/contacts/{id}"), None);
    assert_eq!(contact.json()["name"], "Jane Roe");
    assert_eq!(
        api.account("GET", "/api/v4/contacts/999999", None).status,
        204
    );
    let fields = api.account("GET", "/api/v4/leads/custom_fields", None);
    assert_eq!(
        fields.json()["_embedded"]["custom_fields"][0]["id"],
        FILE_FIELD_ID_LEADS
    );
    assert_eq!(
        fields.json()["_embedded"]["custom_fields"][0]["type"],
        "file"
    );
}
