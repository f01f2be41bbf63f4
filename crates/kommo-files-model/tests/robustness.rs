//! Nothing a server, a file or a user can send makes the model panic.

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
