//! Fault injection (each kind), the request log, rate limiting and the blocked account.

use std::time::{Duration, Instant};

use kommo_files_emulator::{Emulator, Fault, FaultAction, HostKind, RateClock, Scope, TokenGrant};
use serde_json::json;

use crate::common::{sha256_hex, Api};

fn part_fault(action: FaultAction) -> Fault {
    Fault::new(action).method("POST").path("/upload/*")
}

#[test]
fn status_fault_answers_instead_of_the_endpoint_on_the_nth_match_only() {
    let api = Api::start();
    api.emu.add_fault(
        Fault::new(FaultAction::Status {
            status: 503,
            body: Some("{\"oops\":true}".to_owned()),
            content_type: None,
        })
        .host(HostKind::Drive)
        .method("GET")
        .path("/v1.0/files")
        .nth(2),
    );
    assert_eq!(api.drive("GET", "/v1.0/files", None).status, 204);
    let faulted = api.drive("GET", "/v1.0/files", None);
    assert_eq!(
        (faulted.status, faulted.json()),
        (503, json!({ "oops": true }))
    );
    assert_eq!(api.drive("GET", "/v1.0/files", None).status, 204);
    let status = &api.emu.faults()[0];
    assert_eq!((status.matched, status.fired), (3, 1));
    let log = api.emu.requests();
    assert_eq!(log[1].status, Some(503));
    assert_eq!(log[1].fault.as_deref(), Some("status"));
}

#[test]
fn every_fault_fires_on_each_match_and_can_be_removed() {
    let api = Api::start();
    let id = api.emu.add_fault(
        Fault::new(FaultAction::Status {
            status: 500,
            body: None,
            content_type: None,
        })
        .path("/api/v4/*")
        .every(),
    );
    for _ in 0..3 {
        let answer = api.account("GET", "/api/v4/account", None);
        assert_eq!(answer.status, 500);
        assert_eq!(answer.json()["status"], 500);
    }
    assert_eq!(
        api.drive("GET", "/v1.0/files", None).status,
        204,
        "other paths are untouched"
    );
    assert!(api.emu.remove_fault(id));
    assert_eq!(api.account("GET", "/api/v4/account", None).status, 200);
}

#[test]
fn delay_fault_waits_then_answers() {
    let api = Api::start();
    api.emu
        .add_fault(Fault::new(FaultAction::Delay { millis: 300 }).path("/api/v4/account"));
    let started = Instant::now();
    assert_eq!(api.account("GET", "/api/v4/account", None).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn response_latency_delays_every_api_answer() {
    let api = Api::with(Emulator::builder().response_latency(Duration::from_millis(150)));
    for (host, path) in [("account", "/api/v4/account"), ("drive", "/v1.0/files")] {
        let started = Instant::now();
        let answer = match host {
            "account" => api.account("GET", path, None),
            _ => api.drive("GET", path, None),
        };
        assert!(answer.status < 500, "{host} {path}: {}", answer.status);
        assert!(started.elapsed() >= Duration::from_millis(150), "{host}");
    }
    api.emu.update_config(|b| b.response_latency_ms = 0);
    assert_eq!(api.emu.behavior().response_latency_ms, 0);
}

#[test]
fn close_before_body_stores_nothing_and_the_url_stays_usable() {
    let api = Api::with(Emulator::builder().max_part_size(4));
    api.emu.add_fault(part_fault(FaultAction::CloseBeforeBody));
    let session = api.session(json!({ "file_name": "a.bin", "file_size": 6 }));
    let url = session["upload_url"].as_str().unwrap();
    assert!(api.try_send("POST", url, None, Some(b"abcd")).is_err());
    let record = api.emu.requests().pop().unwrap();
    assert_eq!((record.status, record.bytes_in), (None, 0));
    assert_eq!(record.fault.as_deref(), Some("close_before_body"));

    let first = api.send("POST", url, None, Some(b"abcd"));
    assert_eq!(first.status, 202, "nothing was consumed");
    let last = api.send(
        "POST",
        first.json()["next_url"].as_str().unwrap(),
        None,
        Some(b"ef"),
    );
    assert_eq!(last.status, 200);
    assert_eq!(api.emu.files()[0].versions[0].sha256, sha256_hex(b"abcdef"));
}

#[test]
fn close_after_commit_loses_the_answer_and_a_retry_is_replayed() {
    let api = Api::with(Emulator::builder().max_part_size(4));
    api.emu.add_fault(part_fault(FaultAction::CloseAfterCommit));
    let session = api.session(json!({ "file_name": "a.bin", "file_size": 6 }));
    let url = session["upload_url"].as_str().unwrap();
    assert!(api.try_send("POST", url, None, Some(b"abcd")).is_err());
    let record = api.emu.requests().pop().unwrap();
    assert_eq!(
        (record.status, record.bytes_in),
        (None, 4),
        "the part was read and stored"
    );

    let retry = api.send("POST", url, None, Some(b"abcd"));
    assert_eq!(retry.status, 202, "replayed, not appended again");
    let last = api.send(
        "POST",
        retry.json()["next_url"].as_str().unwrap(),
        None,
        Some(b"ef"),
    );
    assert_eq!(last.status, 200);
    assert_eq!(api.emu.files()[0].versions[0].sha256, sha256_hex(b"abcdef"));
}

#[test]
fn close_after_commit_on_delete_still_deletes() {
    let api = Api::start();
    let file = api.upload("a.txt", b"a");
    api.emu
        .add_fault(Fault::new(FaultAction::CloseAfterCommit).method("DELETE"));
    let body = json!([{ "uuid": file["uuid"] }]).to_string();
    let url = format!("{}/v1.0/files", api.emu.drive_url());
    assert!(api
        .try_send("DELETE", &url, Some(&api.token()), Some(body.as_bytes()))
        .is_err());
    assert!(api.emu.files()[0].is_trashed);
}

#[test]
fn truncated_body_announces_more_than_it_sends() {
    let api = Api::start();
    let file = api.upload("a.txt", &[b'x'; 1000]);
    let href = file["_links"]["download"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    api.emu
        .add_fault(Fault::new(FaultAction::TruncatedBody).path("/storage/*"));
    match api.try_send("GET", &href, None, None) {
        Err(_) => {}
        Ok(answer) => assert!(answer.body.len() < 1000, "got the whole body"),
    }
    assert_eq!(
        api.emu.requests().pop().unwrap().fault.as_deref(),
        Some("truncated_body")
    );
    assert_eq!(
        api.download(&href).len(),
        1000,
        "only the first request was cut"
    );
}

#[test]
fn garbage_after_commit_stores_then_answers_nonsense() {
    let api = Api::start();
    api.emu.add_fault(
        Fault::new(FaultAction::GarbageAfterCommit)
            .method("PATCH")
            .path("/v1.0/files/*"),
    );
    let file = api.upload("a.txt", b"abc");
    let uuid = file["uuid"].as_str().unwrap().to_owned();
    let path = format!("/v1.0/files/{uuid}");
    let body = serde_json::json!({ "name": "renamed.txt" });
    let answer = api.drive("PATCH", &path, Some(body));
    assert_eq!(answer.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&answer.body).is_err());
    assert_eq!(
        api.emu.requests().pop().unwrap().fault.as_deref(),
        Some("garbage_after_commit")
    );
    let read_back = api.drive("GET", &path, None);
    let read_back: serde_json::Value = serde_json::from_slice(&read_back.body).unwrap();
    assert_eq!(read_back["name"], "renamed", "the edit was made");
}

#[test]
fn non_json_html_and_retry_after_faults() {
    let api = Api::start();
    api.emu
        .add_fault(Fault::new(FaultAction::NonJsonBody { status: 500 }).nth(1));
    api.emu
        .add_fault(Fault::new(FaultAction::HtmlError { status: 502 }).nth(2));
    api.emu.add_fault(
        Fault::new(FaultAction::RetryAfter {
            status: 429,
            seconds: 7,
        })
        .nth(3),
    );

    let non_json = api.drive("GET", "/v1.0/files", None);
    assert_eq!(non_json.status, 500);
    assert_eq!(non_json.content_type, "application/json");
    assert!(serde_json::from_slice::<serde_json::Value>(&non_json.body).is_err());

    let html = api.drive("GET", "/v1.0/files", None);
    assert_eq!(html.status, 502);
    assert!(html.content_type.starts_with("text/html"));
    assert!(html.text().starts_with("<!DOCTYPE html>"));

    let limited = api.account("GET", "/api/v4/account", None);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.retry_after.as_deref(), Some("7"));
    assert_eq!(limited.json()["status"], 429);
}

/// On the manual rate clock the windows move only with `advance_clock`, so exactly the
/// requests beyond the limit are refused, however slow the machine.
#[test]
fn rate_limit_answers_429_per_token() {
    let api = Api::with(
        Emulator::builder()
            .rate_limit(Some(2))
            .rate_clock(RateClock::Manual),
    );
    let statuses = |n: usize| -> Vec<u16> {
        (0..n)
            .map(|_| api.account("GET", "/api/v4/account", None).status)
            .collect()
    };
    assert_eq!(statuses(4), [200, 200, 429, 429]);
    let limited = api.account("GET", "/api/v4/account", None);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["status"], 429);

    // Per token: another token has a window of its own.
    api.emu.add_token(TokenGrant::new("other", Scope::ALL));
    let url = format!("{}/api/v4/account", api.emu.account_url());
    let other: Vec<u16> = (0..3)
        .map(|_| api.send("GET", &url, Some("other"), None).status)
        .collect();
    assert_eq!(other, [200, 200, 429]);

    // A window lasts one second of the rate clock, to the nanosecond.
    api.emu.advance_clock(Duration::from_millis(999));
    assert_eq!(statuses(1), [429]);
    api.emu.advance_clock(Duration::from_millis(1));
    assert_eq!(statuses(3), [200, 200, 429]);
    assert_eq!(api.send("GET", &url, Some("other"), None).status, 200);

    // The switch reads back.
    assert_eq!(api.emu.behavior().rate_clock, RateClock::Manual);
}

/// On the default (real) rate clock, `advance_clock` moves the windows too: a refused token is
/// served again right after it, without waiting for a real second.
#[test]
fn advancing_the_clock_opens_a_new_rate_window() {
    let api = Api::with(Emulator::builder().rate_limit(Some(1)));
    assert_eq!(api.emu.behavior().rate_clock, RateClock::Real);
    let mut statuses = Vec::new();
    // However slow the machine, twenty requests in a row exceed one per second.
    for _ in 0..20 {
        statuses.push(api.account("GET", "/api/v4/account", None).status);
        if statuses.last() == Some(&429) {
            break;
        }
    }
    assert_eq!(statuses[0], 200);
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    api.emu.advance_clock(Duration::from_secs(1));
    assert_eq!(api.account("GET", "/api/v4/account", None).status, 200);
}

/// The rate clock is a switch like any other, over the control API too.
#[test]
fn the_rate_clock_switches_over_http() {
    let api = Api::with(Emulator::builder().rate_limit(Some(1)));
    let url = format!("{}/__emulator/config", api.emu.drive_url());
    let body = serde_json::to_vec(&json!({"rate_clock": "manual"})).unwrap();
    let answer = api.send("PATCH", &url, None, Some(&body));
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["rate_clock"], "manual");
    assert_eq!(api.emu.behavior().rate_clock, RateClock::Manual);
    let statuses: Vec<u16> = (0..3)
        .map(|_| api.account("GET", "/api/v4/account", None).status)
        .collect();
    assert_eq!(statuses, [200, 429, 429]);
    let advance = serde_json::to_vec(&json!({"seconds": 1})).unwrap();
    let clock_url = format!("{}/__emulator/clock/advance", api.emu.drive_url());
    assert_eq!(
        api.send("POST", &clock_url, None, Some(&advance)).status,
        200
    );
    assert_eq!(api.account("GET", "/api/v4/account", None).status, 200);
}

#[test]
fn a_blocked_account_answers_403_html_everywhere_but_control() {
    let api = Api::start();
    api.emu.update_config(|b| b.blocked = true);
    for answer in [
        api.account("GET", "/api/v4/account", None),
        api.drive("GET", "/v1.0/files", None),
        api.send(
            "GET",
            &format!("{}/nothing/here", api.emu.drive_url()),
            None,
            None,
        ),
    ] {
        assert_eq!(answer.status, 403);
        assert!(answer.content_type.starts_with("text/html"));
        assert!(answer.text().contains("blocked"));
    }
    let health = api.send(
        "GET",
        &format!("{}/__emulator/health", api.emu.account_url()),
        None,
        None,
    );
    assert_eq!(health.status, 200);
    api.emu.update_config(|b| b.blocked = false);
    assert_eq!(api.account("GET", "/api/v4/account", None).status, 200);
}
