//! Requests a strict server refuses: duplicate JSON keys, a malformed `Authorization` header,
//! invalid `file` field values and out-of-range paging numbers (issue 15, "Hardening").

use kommo_files_emulator::FILE_FIELD_ID_LEADS;
use serde_json::{json, Value};

use crate::common::{Answer, Api};

/// Sends a raw (possibly invalid) JSON body with the default token.
fn raw(api: &Api, method: &str, url: &str, body: &str) -> Answer {
    api.send(method, url, Some(&api.token()), Some(body.as_bytes()))
}

/// Asserts a 400 problem whose first validation error is `(request_id, path, code)`.
fn assert_invalid(answer: &Answer, request_id: &str, path: &str, code: &str) {
    assert_eq!(answer.status, 400, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["status"], 400, "{body}");
    assert_eq!(body["type"], "https://httpstatus.es/400", "{body}");
    let group = &body["validation-errors"][0];
    assert_eq!(group["request_id"], request_id, "{body}");
    assert_eq!(group["errors"][0]["path"], path, "{body}");
    assert_eq!(group["errors"][0]["code"], code, "{body}");
}

#[test]
fn duplicate_json_keys_are_a_validation_error_on_every_host() {
    let api = Api::start();
    let drive = api.emu.drive_url().to_owned();
    let account = api.emu.account_url().to_owned();

    let session = raw(
        &api,
        "POST",
        &format!("{drive}/v1.0/sessions"),
        r#"{"file_name":"a.txt","file_size":1,"file_size":2}"#,
    );
    assert_invalid(&session, "0", "file_size", "DuplicateKey");
    assert_eq!(session.content_type, "application/json");

    // In a batch the request id is the item's index and the path is inside the item.
    let batch = raw(
        &api,
        "PATCH",
        &format!("{account}/api/v4/leads"),
        r#"[{"id":1001,"name":"ok"},{"id":1002,"name":"b","name":"c"}]"#,
    );
    assert_invalid(&batch, "1", "name", "DuplicateKey");
    assert_eq!(batch.content_type, "application/problem+json");
    // Nothing of the batch was applied.
    assert_eq!(
        api.account("GET", "/api/v4/leads/1001", None).json()["name"],
        "Lead #1001"
    );

    // Nested keys get the full path, with array indexes.
    let file = api.upload("dup.txt", b"dup");
    let uuid = file["uuid"].as_str().unwrap();
    let nested = raw(
        &api,
        "PATCH",
        &format!("{account}/api/v4/leads/1001"),
        &format!(
            r#"{{"custom_fields_values":[{{"field_id":{FILE_FIELD_ID_LEADS},"values":[{{"value":{{"file_uuid":"{uuid}","file_uuid":"{uuid}"}}}}]}}]}}"#
        ),
    );
    assert_invalid(
        &nested,
        "0",
        "custom_fields_values.0.values.0.value.file_uuid",
        "DuplicateKey",
    );

    // A top-level array of objects on the drive host too (delete, restore).
    let delete = raw(
        &api,
        "DELETE",
        &format!("{drive}/v1.0/files"),
        &format!(r#"[{{"uuid":"{uuid}","uuid":"{uuid}"}}]"#),
    );
    assert_invalid(&delete, "0", "uuid", "DuplicateKey");
    assert!(!api.emu.files()[0].is_trashed, "nothing was deleted");

    // The control API reads bodies the same way.
    let config = api.send(
        "PATCH",
        &format!("{drive}/__emulator/config"),
        None,
        Some(br#"{"max_part_size":3,"max_part_size":4}"#),
    );
    assert_invalid(&config, "0", "max_part_size", "DuplicateKey");
    assert_ne!(api.emu.behavior().max_part_size, 3);
    assert_ne!(api.emu.behavior().max_part_size, 4);

    // The same key in two different objects is no duplicate.
    let fine = raw(
        &api,
        "PATCH",
        &format!("{account}/api/v4/leads"),
        r#"[{"id":1001,"name":"x"},{"id":1002,"name":"y"}]"#,
    );
    assert_eq!(fine.status, 200, "{}", fine.text());
}

#[test]
fn a_doubled_space_after_bearer_is_an_invalid_token() {
    let api = Api::start();
    let token = api.token();
    for (host, path) in [
        (api.emu.drive_url(), "/v1.0/files"),
        (api.emu.account_url(), "/api/v4/account"),
    ] {
        let url = format!("{host}{path}");
        // `Api::send` writes `Bearer {token}`.
        assert_ne!(api.send("GET", &url, Some(&token), None).status, 401);
        for malformed in [
            format!(" {token}"),
            format!("{token} x"),
            format!("\t{token}"),
        ] {
            let answer = api.send("GET", &url, Some(&malformed), None);
            assert_eq!(answer.status, 401, "Bearer {malformed:?} on {url}");
            assert_eq!(answer.json()["status"], 401);
        }
    }
}

#[test]
fn a_file_field_value_must_have_a_valid_size_and_name() {
    let api = Api::start();
    let file = api.upload("sized.txt", b"twelve bytes");
    for (value, path, code) in [
        (json!({ "file_size": -5 }), "file_size", "InvalidType"),
        (json!({ "file_size": 1.5 }), "file_size", "InvalidType"),
        (json!({ "file_size": "12" }), "file_size", "InvalidType"),
        (json!({ "file_name": 7 }), "file_name", "InvalidType"),
    ] {
        let mut value = value;
        value["file_uuid"] = file["uuid"].clone();
        let body = json!({ "custom_fields_values": [{ "field_id": FILE_FIELD_ID_LEADS,
            "values": [{ "value": value }] }] });
        let answer = api.account("PATCH", "/api/v4/leads/1001", Some(body.clone()));
        assert_invalid(
            &answer,
            "0",
            &format!("custom_fields_values.0.values.0.value.{path}"),
            code,
        );
        let mut item = body;
        item["id"] = json!(1001);
        let batch = api.account("PATCH", "/api/v4/leads", Some(json!([item])));
        assert_eq!(batch.status, 400, "{}", batch.text());
    }
    let lead = api.account("GET", "/api/v4/leads/1001", None).json();
    assert_eq!(
        lead["custom_fields_values"],
        Value::Null,
        "nothing was set: {lead}"
    );

    // Explicit sizes and names that are valid still pass, and `null` means the default.
    let ok = json!({ "custom_fields_values": [{ "field_id": FILE_FIELD_ID_LEADS, "values": [
        { "value": { "file_uuid": file["uuid"], "file_size": 0, "file_name": "n.txt" } },
        { "value": { "file_uuid": file["uuid"], "file_size": null, "file_name": null } } ] }] });
    assert_eq!(
        api.account("PATCH", "/api/v4/leads/1001", Some(ok)).status,
        200
    );
    let lead = api.account("GET", "/api/v4/leads/1001", None).json();
    let values = &lead["custom_fields_values"][0]["values"];
    assert_eq!(values[0]["value"]["file_size"], 0);
    assert_eq!(values[1]["value"]["file_size"], 12);
    assert_eq!(values[1]["value"]["file_name"], "sized.txt");
}

#[test]
fn paging_numbers_out_of_range_are_400_on_every_list() {
    let api = Api::start();
    let file = api.upload("paged.txt", b"p");
    api.account(
        "PUT",
        "/api/v4/leads/1001/files",
        Some(json!([{ "file_uuid": file["uuid"] }])),
    );
    let not_numbers = [
        "-1",
        "-0",
        "%2B5",
        "%205",
        "5%20",
        "1.0",
        "1e2",
        "",
        "0x10",
        "99999999999999999999999",
    ];
    let lists: [(&str, bool, &[&str]); 4] = [
        ("/v1.0/files", false, &["limit", "page"]),
        ("/api/v4/leads/1001/files", true, &["limit", "before_id"]),
        ("/api/v4/leads/notes", true, &["limit", "page"]),
        ("/api/v4/leads/1001/notes", true, &["limit", "page"]),
    ];
    for (path, on_account, params) in lists {
        let get = |query: &str| {
            let path = format!("{path}?{query}");
            if on_account {
                api.account("GET", &path, None)
            } else {
                api.drive("GET", &path, None)
            }
        };
        for param in params {
            let out_of_range: &[&str] = match *param {
                "limit" => &["0", "251"],
                _ => &["0"],
            };
            for value in not_numbers.iter().chain(out_of_range) {
                let answer = get(&format!("{param}={value}"));
                assert_invalid(&answer, "0", param, "InvalidValue");
            }
            for value in ["1", "250"] {
                let answer = get(&format!("{param}={value}"));
                assert!(
                    answer.status == 200 || answer.status == 204,
                    "{path}?{param}={value}: {} {}",
                    answer.status,
                    answer.text()
                );
            }
        }
    }
}
