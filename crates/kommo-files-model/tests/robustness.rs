//! Nothing a server, a file or a user can send makes the model panic.

use bytes::Bytes;
use kommo_files_model::endpoint::{self, DriveHost};
use kommo_files_model::upload::Checkpoint;
use kommo_files_model::{AccessToken, BaseUrl, RetryAfter};
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
