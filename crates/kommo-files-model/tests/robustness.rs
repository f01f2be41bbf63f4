//! Nothing a server, a file or a user can send makes the model panic.
//!
//! The `*_twin` tests run the harnesses of the `cargo fuzz` targets (`fuzz/`, nightly) on
//! proptest's inputs, so `cargo test` on stable covers every target a few hundred times; the
//! `regression_*` tests keep what fuzzing found. See docs/reliability.md.

mod fuzzing;

use bytes::Bytes;
use kommo_files_model::download::{DownloadAction, DownloadMachine};
use kommo_files_model::endpoint::{self, DriveHost};
use kommo_files_model::retry::RetryPolicy;
use kommo_files_model::upload::Checkpoint;
use kommo_files_model::{redact_url, AccessToken, BaseUrl, RetryAfter};
use proptest::prelude::*;

fn drive() -> DriveHost {
    DriveHost::new(
        BaseUrl::parse("https://drive-c.kommo.com").unwrap(),
        AccessToken::new("t").unwrap(),
    )
}

fn response(status: u16, body: Vec<u8>) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(body));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
    response
}

/// Bodies that are often almost right: JSON fragments of the real shapes, cut and spliced.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let fragments = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"uuid\"",
        "\"next_url\"",
        "\"size\"",
        "\"_embedded\"",
        "\"files\"",
        "\"versions\"",
        "\"notes\"",
        "null",
        "1",
        "-1",
        "1e999",
        "\"x\"",
        "true",
        "\"custom_fields_values\"",
        "\"field_id\"",
        "\"value\"",
        "\"file_uuid\"",
        "\"drive_url\"",
        "\"https://drive-c.kommo.com/upload/1\"",
        "<html>",
        "\u{feff}",
        "\"\\ud800\"",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(fragments, 0..40).prop_map(|f| f.concat().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn parsers_never_panic(status in prop::sample::select(vec![200u16, 202, 204, 301, 400, 401, 403, 404, 429, 500]), body in body()) {
        let r = response(status, body);
        let _ = endpoint::parse_account(&r);
        let _ = endpoint::parse_drive_url(&r);
        let _ = endpoint::parse_create_session(&r);
        let _ = endpoint::parse_upload_part(&r);
        let _ = endpoint::parse_file_page(&r);
        let _ = endpoint::parse_get_file(&r);
        let _ = endpoint::parse_edit_file(&r);
        let _ = endpoint::parse_delete_files(&r);
        let _ = endpoint::parse_restore_files(&r);
        let _ = endpoint::parse_versions(&r);
        let _ = endpoint::parse_entity_files(&r);
        let _ = endpoint::parse_link_change(&r);
        let _ = endpoint::parse_file_entities(&r);
        let _ = endpoint::parse_created_notes(&r);
        if let Ok(notes) = endpoint::parse_notes(&r) {
            notes.iter().for_each(|n| drop(n.attachment()));
        }
        if let Ok(entity) = endpoint::parse_entity(&r) {
            let _ = endpoint::file_field_values(&entity, 1);
        }
        let _ = Checkpoint::from_json(r.body());
        if let Err(error) = endpoint::parse_get_file(&r) {
            let _ = error.to_string();
            let _ = format!("{error:?}");
        }
    }

    #[test]
    fn urls_never_panic(url in "\\PC{0,40}", tail in "[a-zA-Zа-я0-9 %/?#:@\\[\\]<>.-]{0,30}") {
        for candidate in [url.clone(), format!("https://drive-c.kommo.com{tail}"), format!("http://{tail}"), format!("https://{url}")] {
            let _ = BaseUrl::parse(&candidate);
            let _ = endpoint::upload_part_request(&drive(), &candidate, Bytes::new());
            let _ = endpoint::next_page_request(&drive(), &candidate);
            let _ = endpoint::download_request(&drive(), &candidate);
            let previous = endpoint::get_file_request(&drive(), "x");
            let _ = endpoint::redirect_request(&drive(), &previous, &candidate);
            let _ = endpoint::get_file_request(&drive(), &candidate);
            let _ = RetryAfter::parse(&candidate);
            let _ = redact_url(&candidate);
            let _ = DownloadMachine::new(drive(), &candidate, RetryPolicy::default(), 1);
        }
    }

    /// Whatever the upload token and the query values, the redacted URL holds neither.
    #[test]
    fn redaction_never_shows_the_token(token in "[a-zA-Z0-9._~%-]{8,40}", value in "[a-zA-Z0-9%-]{8,20}") {
        let url = format!("https://drive-c.kommo.com/v1.0/sessions/upload/{token}?sig={value}&exp=1");
        let redacted = redact_url(&url);
        prop_assert!(!redacted.contains(&token), "{}", redacted);
        prop_assert!(!redacted.contains(&value), "{}", redacted);
        prop_assert!(redacted.starts_with("https://drive-c.kommo.com/v1.0/sessions/upload/"));
    }

    /// Whatever head a server sends, and however many bytes follow, the download machine
    /// neither panics nor loops.
    #[test]
    fn download_heads_never_panic(
        heads in prop::collection::vec((100u16..600, "\\PC{0,30}", "\\PC{0,12}"), 1..8),
        chunks in prop::collection::vec(0usize..10, 0..5),
    ) {
        let link = "https://drive-c.kommo.com/download/f/v/a.txt";
        let mut machine = DownloadMachine::new(drive(), link, RetryPolicy::default(), 1).unwrap();
        let mut now = std::time::UNIX_EPOCH;
        let mut heads = heads.into_iter();
        for _ in 0..200 {
            match machine.poll_action(now) {
                DownloadAction::Pace => machine.handle_slot(now),
                DownloadAction::Wait { until } => now = until,
                DownloadAction::Send { .. } => {
                    let Some((status, location, length)) = heads.next() else { break };
                    let mut head = http::Response::new(());
                    *head.status_mut() = http::StatusCode::from_u16(status).unwrap();
                    if let Ok(value) = http::HeaderValue::from_str(&location) {
                        head.headers_mut().insert(http::header::LOCATION, value);
                    }
                    if let Ok(value) = http::HeaderValue::from_str(&length) {
                        head.headers_mut().insert(http::header::CONTENT_LENGTH, value.clone());
                        head.headers_mut().insert(http::header::RETRY_AFTER, value);
                    }
                    machine.handle_head(Ok(head), now);
                }
                DownloadAction::ReadBody { .. } => {
                    chunks.iter().for_each(|len| machine.handle_chunk(*len));
                    machine.handle_end();
                }
                DownloadAction::ReadErrorBody { .. } => machine.handle_error_body(Bytes::new(), now),
                DownloadAction::Done { .. } | DownloadAction::Failed(_) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Whatever a user passes as a UUID stays inside its path segment.
    #[test]
    fn identifiers_cannot_escape_their_segment(uuid in "\\PC{0,30}") {
        let request = endpoint::get_file_request(&drive(), &uuid);
        let path = request.uri().path();
        prop_assert!(path.starts_with("/v1.0/files/"));
        prop_assert_eq!(path.matches('/').count(), 3);
        prop_assert_eq!(request.uri().host(), Some("drive-c.kommo.com"));
        prop_assert!(request.uri().query().is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// Twins of the fuzz targets: the same harness (tests/fuzzing/mod.rs), proptest's inputs.

/// Scripts: arbitrary bytes, or mostly zeros (the well-behaved choices) with a few arbitrary
/// bytes, which go deeper into the machines.
fn script() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        prop::collection::vec(prop_oneof![4 => Just(0u8), 1 => any::<u8>()], 0..400),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parse_response_twin(parser in 0u8..17, status in 100u16..1000, flags in any::<u8>(), body in body()) {
        let mut data = vec![parser];
        data.extend_from_slice(&(status - 100).to_le_bytes());
        data.push(flags);
        data.extend_from_slice(&body);
        fuzzing::parse_response(&data);
    }

    #[test]
    fn checkpoint_twin(mode in any::<u8>(), json in checkpoint_json()) {
        let mut data = vec![mode];
        data.extend_from_slice(json.as_bytes());
        fuzzing::checkpoint(&data);
    }

    #[test]
    fn base_url_twin(choice in any::<u8>(), url in url_text()) {
        let mut data = vec![choice];
        data.extend_from_slice(url.as_bytes());
        fuzzing::base_url(&data);
    }

    #[test]
    fn retry_after_twin(value in prop_oneof![
        "[0-9 ]{0,25}",
        "(Mon|Sun|Thu), [0-9]{1,3} (Jan|Feb|Nov|Foo) [0-9]{1,14} [0-9]{1,2}:[0-9]{1,3}:[0-9]{1,2} (GMT|UTC)",
        "\\PC{0,40}",
    ]) {
        fuzzing::retry_after_header(value.as_bytes());
    }

    #[test]
    fn upload_machine_twin(data in script()) {
        fuzzing::upload_script(&data);
    }

    #[test]
    fn call_machine_twin(data in script()) {
        fuzzing::call_script(&data);
    }

    #[test]
    fn download_machine_twin(data in script()) {
        fuzzing::download_script(&data);
    }
}

/// Checkpoints and saved states: the real documents with one value replaced or cut short.
fn checkpoint_json() -> impl Strategy<Value = String> {
    let checkpoint = r#"{"drive_url":"https://drive-c.kommo.com","format":"kommo-files/upload-checkpoint","max_file_size":314572800,"max_part_size":1024,"next_url":"https://drive-c.kommo.com/upload/26136001-3","offset":2048,"session":{"content_type":"application/pdf","file_name":"contract.pdf","file_size":3072},"session_expires_at":1700086400,"session_id":26136001,"session_opened_at":1700000000,"source":{"modified":null,"prefix_sha256":"bdc2d5cd894a4cc0f9e84d2bd664d5532bac2f8755d2a7214c504ed354063ed6","size":3072},"version":1}"#;
    let state = format!(
        r#"{{"checkpoint":{checkpoint},"config":{{"expiry_margin":{{"nanos":0,"secs":60}},"on_session_lost":{{"restart":{{"max_restarts":2}}}},"part_size_limit":67108864,"retry":{{"base_delay":{{"nanos":500000000,"secs":0}},"max_attempts":6,"max_delay":{{"nanos":0,"secs":30}},"max_elapsed":{{"nanos":0,"secs":300}}}}}},"drive_url":"https://drive-c.kommo.com","failures":0,"first_failure_at":null,"jitter":{{"state":1}},"request":{{"content_type":"application/pdf","file_name":"contract.pdf","file_size":3072}},"restarts":0,"source":{{"modified":null,"size":3072}},"version":1,"wait_until":null}}"#
    );
    let values = prop::sample::select(vec![
        "0",
        "1",
        "-1",
        "3072",
        "18446744073709551615",
        "1e3",
        "null",
        "\"\"",
        "{}",
        "[]",
        "\"https://evil.example/upload/1\"",
        "\"http://127.0.0.1:1\"",
        "true",
    ]);
    (
        prop::sample::select(vec![checkpoint.to_owned(), state]),
        prop::sample::select(vec![
            "offset",
            "max_part_size",
            "size",
            "next_url",
            "drive_url",
            "session_opened_at",
            "session_expires_at",
            "version",
            "file_size",
            "max_attempts",
            "secs",
            "failures",
            "wait_until",
            "restarts",
            "checkpoint",
            "modified",
        ]),
        values,
        0usize..600,
    )
        .prop_map(|(document, key, value, cut)| {
            let needle = format!("\"{key}\":");
            let mut text = document.clone();
            if let Some(at) = document.find(&needle) {
                let start = at + needle.len();
                let end = start
                    + document[start..]
                        .find([',', '}'])
                        .unwrap_or(document.len() - start);
                text = format!("{}{value}{}", &document[..start], &document[end..]);
            }
            if cut < text.len() && cut % 7 == 0 {
                text.truncate(cut);
            }
            text
        })
}

fn url_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "(https?://)?(drive-c\\.kommo\\.com|DRIVE-C\\.kommo\\.com|127\\.0\\.0\\.1|\\[::1\\]|evil\\.example)(:[0-9]{0,6})?([@#?/\\\\][a-z@.:/#?]{0,20})?",
        "[a-z:/@#?.\\[\\]0-9\n]{0,40}",
    ]
}

// ---------------------------------------------------------------------------------------------
// What fuzzing found.

/// `retry_after` target: a `Retry-After` date with a twelve-digit year overflowed the day count
/// and `SystemTime` in `RetryAfter::delay_from`, so one header from a server panicked any client.
/// Now an IMF-fixdate's year has at most four digits and `delay_from` cannot overflow.
#[test]
fn regression_retry_after_far_future_date() {
    fuzzing::retry_after_header(b"Thu, 01 Jan 424901974400 00:00:0 GMT\n3");
    assert_eq!(
        RetryAfter::parse("Thu, 01 Jan 424901974400 00:00:0 GMT"),
        None
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("Sun, 06 Nov 18446744073709551615 08:49:37 GMT"),
    );
    assert_eq!(RetryAfter::from_headers(&headers), None);
    let _ = RetryAfter::At(u64::MAX).delay_from(std::time::UNIX_EPOCH);
}

/// `checkpoint` target: a checkpoint file whose `session_expires_at` is past what a
/// `SystemTime` holds panicked in `Checkpoint::expires_at` as soon as `resume` asked whether it
/// had expired. Such an expiry is now never reached (the session has not expired).
#[test]
fn regression_checkpoint_expiry_beyond_system_time() {
    let json = r#"{"drive_url":"https://drive-c.kommo.com","format":"kommo-files/upload-checkpoint","max_file_size":314572800,"max_part_size":1024,"next_url":"https://drive-c.kommo.com/upload/26136001-3","offset":0,"session":{"content_type":"application/pdf","file_name":"contract.pdf","file_size":3072},"session_expires_at":18446744073709551615,"session_id":26136001,"session_opened_at":1700000000,"source":{"modified":null,"prefix_sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":3072},"version":1}"#;
    let mut data = vec![0u8];
    data.extend_from_slice(json.as_bytes());
    fuzzing::checkpoint(&data);
    let checkpoint = Checkpoint::from_json(json.as_bytes()).unwrap();
    assert!(!checkpoint.is_expired(fuzzing::start(), std::time::Duration::from_secs(60)));
    assert!(checkpoint.expires_at() > fuzzing::start());
}

/// `checkpoint` target: a saved state whose retry policy allows any wait, then a server
/// asking for `Retry-After: 18446744073709551615`, overflowed `now + delay` in the upload
/// machine. A wait past what a `SystemTime` holds now gives up instead.
#[test]
fn regression_state_with_unbounded_wait() {
    let json = r#"{"checkpoint":null,"config":{"expiry_margin":{"nanos":0,"secs":60},"on_session_lost":{"restart":{"max_restarts":2}},"part_size_limit":67108864,"retry":{"base_delay":{"nanos":500000000,"secs":0},"max_attempts":6,"max_delay":{"nanos":0,"secs":30},"max_elapsed":{"nanos":0,"secs":18446744073709551615}}},"drive_url":"https://drive-c.kommo.com","failures":0,"first_failure_at":null,"jitter":{"state":1},"request":{"content_type":"application/pdf","file_name":"contract.pdf","file_size":3072},"restarts":0,"source":{"modified":null,"size":3072},"version":1,"wait_until":null}"#;
    let mut data = vec![1u8];
    data.extend_from_slice(json.as_bytes());
    fuzzing::checkpoint(&data);
}
