//! The control API over HTTP (the same operations as the handle methods).

use serde_json::{json, Value};

use crate::common::{sha256_hex, Api};

fn control(api: &Api, method: &str, path: &str, body: Option<Value>) -> crate::common::Answer {
    // Served on both listeners; use the drive one here.
    let url = format!("{}/__emulator/{path}", api.emu.drive_url());
    let body = body.map(|b| b.to_string().into_bytes());
    api.send(method, &url, None, body.as_deref())
}

#[test]
fn faults_clock_log_files_config_and_tokens_over_http() {
    let api = Api::start();
    let health = control(&api, "GET", "health", None);
    assert_eq!(health.json()["drive_url"], api.emu.drive_url());

    // Faults.
    let added = control(
        &api,
        "POST",
        "faults",
        Some(
            json!({ "method": "GET", "path": "/v1.0/files", "occurrence": "every",
                     "action": { "kind": "html_error", "status": 503 } }),
        ),
    );
    assert_eq!(added.status, 201);
    let id = added.json()["id"].as_u64().unwrap();
    assert_eq!(api.drive("GET", "/v1.0/files", None).status, 503);
    let listed = control(&api, "GET", "faults", None).json();
    assert_eq!(listed[0]["fired"], 1);
    assert_eq!(
        control(&api, "DELETE", &format!("faults/{id}"), None).status,
        204
    );
    assert_eq!(
        control(&api, "DELETE", &format!("faults/{id}"), None).status,
        404
    );
    let nth = control(
        &api,
        "POST",
        "faults",
        Some(
            json!({ "occurrence": { "nth": 1 }, "action": { "kind": "retry_after", "status": 503, "seconds": 2 } }),
        ),
    );
    assert_eq!(nth.status, 201);
    assert_eq!(
        api.drive("GET", "/v1.0/files", None).retry_after.as_deref(),
        Some("2")
    );
    assert_eq!(control(&api, "DELETE", "faults", None).status, 204);
    assert_eq!(
        control(
            &api,
            "POST",
            "faults",
            Some(json!({ "action": { "kind": "bogus" } }))
        )
        .status,
        400
    );

    // Request log.
    let log = control(&api, "GET", "requests", None).json();
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["method"], "GET");
    assert_eq!(last["path"], "/v1.0/files");
    assert_eq!(last["status"], 503);
    assert_eq!(last["fault"], "retry_after");
    assert_eq!(control(&api, "DELETE", "requests", None).status, 204);
    assert_eq!(control(&api, "GET", "requests", None).json(), json!([]));

    // Clock.
    let before = control(&api, "GET", "clock", None).json();
    let after = control(
        &api,
        "POST",
        "clock/advance",
        Some(json!({ "seconds": 86_400 })),
    )
    .json();
    assert_eq!(after["offset_secs"], 86_400);
    assert!(after["now"].as_i64().unwrap() >= before["now"].as_i64().unwrap() + 86_400);

    // Stored files and their hashes.
    let file = api.upload("a.txt", b"hash me");
    let files = control(&api, "GET", "files", None).json();
    assert_eq!(files[0]["uuid"], file["uuid"]);
    assert_eq!(files[0]["versions"][0]["sha256"], sha256_hex(b"hash me"));
    assert_eq!(files[0]["versions"][0]["size"], 7);

    // Behaviour switches.
    let config = control(
        &api,
        "PATCH",
        "config",
        Some(json!({ "delete_status": "ok_empty_object200", "max_part_size": 3 })),
    );
    assert_eq!(config.status, 200, "{}", config.text());
    assert_eq!(config.json()["max_part_size"], 3);
    assert_eq!(api.emu.behavior().max_part_size, 3);
    let deleted = api.drive(
        "DELETE",
        "/v1.0/files",
        Some(json!([{ "uuid": file["uuid"] }])),
    );
    assert_eq!(deleted.status, 200);
    assert_eq!(
        control(&api, "PATCH", "config", Some(json!({ "nope": 1 }))).status,
        400
    );
    insta::assert_json_snapshot!("config", control(&api, "GET", "config", None).json());

    // Tokens.
    let added = control(
        &api,
        "POST",
        "tokens",
        Some(json!({ "token": "late", "scopes": ["crm"] })),
    );
    assert_eq!(added.status, 201);
    let account = format!("{}/api/v4/account", api.emu.account_url());
    assert_eq!(api.send("GET", &account, Some("late"), None).status, 200);
    assert_eq!(
        control(&api, "GET", "tokens", None)
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    assert_eq!(control(&api, "GET", "nothing", None).status, 404);
}

#[test]
fn the_async_start_serves_inside_an_existing_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let emulator = kommo_files_emulator::Emulator::builder()
            .start_async()
            .await
            .unwrap();
        let url = format!("{}/api/v4/account?with=drive_url", emulator.account_url());
        let token = emulator.token();
        let body = tokio::task::spawn_blocking(move || {
            let agent = crate::common::agent();
            let mut response = agent
                .get(&url)
                .header("Authorization", format!("Bearer {token}"))
                .call()
                .unwrap();
            response.body_mut().read_to_string().unwrap()
        })
        .await
        .unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["drive_url"], emulator.drive_url());
    });
}

/// 9999-12-31T23:59:59Z: where the emulator clock stops (docs/emulator.md, "Control API").
const CLOCK_CEILING: i64 = 253_402_300_799;

/// After the clock reached its ceiling, the emulator still works: a session opened now lives
/// (it is not born expired), its upload completes, and a date preset lists without overflow.
fn still_serves_at_the_ceiling(api: &Api) {
    let file = api.upload("late.txt", b"after the end of time");
    assert_eq!(file["created_at"], CLOCK_CEILING);
    for preset in [
        "day",
        "tomorrow",
        "next_week",
        "next_month",
        "next_quarter",
        "year",
    ] {
        let answer = api.drive(
            "GET",
            &format!("/v1.0/files?filter[date][date_preset]={preset}"),
            None,
        );
        assert!(
            answer.status == 200 || answer.status == 204,
            "{preset}: {}",
            answer.status
        );
    }
}

#[test]
fn huge_clock_advances_saturate_on_the_handle() {
    use std::time::Duration;
    let api = Api::start();
    let start = api.emu.now();
    let first = api.emu.advance_clock(Duration::MAX);
    let second = api.emu.advance_clock(Duration::from_secs(u64::MAX));
    let third = api.emu.advance_clock(Duration::from_secs(1));
    assert!(first.now >= start);
    for (earlier, later) in [(first, second), (second, third)] {
        assert!(
            later.now >= earlier.now,
            "time went back: {earlier:?} -> {later:?}"
        );
        assert!(
            later.offset_secs >= earlier.offset_secs,
            "{earlier:?} -> {later:?}"
        );
    }
    assert_eq!(third.now, CLOCK_CEILING);
    assert_eq!(api.emu.now(), CLOCK_CEILING);
    still_serves_at_the_ceiling(&api);
}

#[test]
fn huge_clock_advances_saturate_over_http() {
    let api = Api::start();
    let advance = |seconds: u64| {
        let answer = control(
            &api,
            "POST",
            "clock/advance",
            Some(json!({ "seconds": seconds })),
        );
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()
    };
    let first = advance(u64::MAX);
    let second = advance(u64::MAX);
    let third = advance(i64::MAX as u64);
    for (earlier, later) in [(&first, &second), (&second, &third)] {
        assert!(
            later["now"].as_i64() >= earlier["now"].as_i64(),
            "{earlier} -> {later}"
        );
        assert!(
            later["offset_secs"].as_i64() >= earlier["offset_secs"].as_i64(),
            "{earlier} -> {later}"
        );
    }
    assert_eq!(third["now"], CLOCK_CEILING);
    assert_eq!(
        control(&api, "GET", "clock", None).json()["now"],
        CLOCK_CEILING
    );
    still_serves_at_the_ceiling(&api);
}
