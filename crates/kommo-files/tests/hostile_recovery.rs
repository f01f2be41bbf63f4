//! The search after an ambiguous last part against a hostile server: it never runs for ever and
//! never adopts what it has not proven.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kommo_files::blocking::Client;
use kommo_files::model::upload::{UploadConfig, UploadError};
use kommo_files::transport::{fn_transport, Request};
use kommo_files::{ClientConfig, Error, UploadOptions};

const DRIVE: &str = "https://drive-c.kommo.com";
const SOURCE: &[u8] = b"0123456789";

fn answer(status: u16, body: String) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(body));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
    response
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A candidate file: the upload's name and size, created now, downloadable at `/download/c`.
fn candidate(uuid: &str) -> String {
    format!(
        r#"{{"uuid":"{uuid}","name":"a","size":{},"created_at":{},"metadata":{{"extension":"bin"}},
            "_links":{{"download":{{"href":"{DRIVE}/download/{uuid}"}}}}}}"#,
        SOURCE.len(),
        now()
    )
}

/// A drive whose last part answers an unreadable 200 (the file may or may not be stored), and
/// whose listing and downloads are `listing` and `download`. Records every request's path.
fn hostile_drive(
    listing: impl Fn(&str) -> String + Send + Sync + 'static,
    download: impl Fn() -> http::Response<Bytes> + Send + Sync + 'static,
) -> (Client, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let transport = fn_transport(move |request: Request| {
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or("").to_owned();
        log.lock().unwrap().push(path.clone());
        Ok(match path.as_str() {
            "/v1.0/sessions" => answer(
                200,
                format!(
                    r#"{{"session_id":1,"upload_url":"{DRIVE}/upload/p1","max_file_size":100,"max_part_size":4}}"#
                ),
            ),
            "/upload/p1" => answer(202, format!(r#"{{"next_url":"{DRIVE}/upload/p2"}}"#)),
            "/upload/p2" => answer(202, format!(r#"{{"next_url":"{DRIVE}/upload/p3"}}"#)),
            "/upload/p3" => answer(200, "<html>oops</html> {".to_owned()),
            "/v1.0/files" => answer(200, listing(&query)),
            "/v1.0/files/c" => answer(200, candidate("c")),
            _ if path.starts_with("/download/") => download(),
            _ => answer(404, "{}".to_owned()),
        })
    });
    // The fake drive answers with 4-byte parts: allowed below the default 1 KiB minimum.
    let config = ClientConfig::for_url("https://example.kommo.com", "token")
        .unwrap()
        .drive_url(DRIVE)
        .unwrap()
        .upload(UploadConfig::default().min_part_size(1))
        .requests_per_second(None);
    (Client::with_transport(config, transport), seen)
}

fn count(seen: &Mutex<Vec<String>>, path: &str) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|p| p.as_str() == path)
        .count()
}

/// A listing that always links a next page: the search reads ten pages, then reports the
/// ambiguity instead of paging for ever (or uploading again while pages were unread).
#[test]
fn an_endless_listing_is_cut_and_reported() {
    let (client, seen) = hostile_drive(
        |query| {
            let page: u32 = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("page="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            format!(
                r#"{{"_embedded":{{"files":[{{"uuid":"x{page}","name":"other","size":1}}]}},
                    "_links":{{"next":{{"href":"{DRIVE}/v1.0/files?page={}"}}}}}}"#,
                page + 1
            )
        },
        || answer(404, "{}".to_owned()),
    );
    let error = client
        .upload_bytes("a.bin", SOURCE, UploadOptions::new())
        .unwrap_err();
    assert!(
        matches!(error, Error::FinalPartUnproven { .. }),
        "{error:?}"
    );
    assert_eq!(count(&seen, "/v1.0/files"), 10);
    assert_eq!(count(&seen, "/v1.0/sessions"), 1, "nothing uploaded again");
}

/// A candidate whose download never ends (no `Content-Length`, more bytes than the file): it is
/// not read to its end and not adopted; with nothing proven, the file is uploaded again, and a
/// server that keeps losing the last answer stops the upload after two more tries.
#[test]
fn an_endless_candidate_is_not_adopted_and_uploads_again_are_bounded() {
    let (client, seen) = hostile_drive(
        |_| format!(r#"{{"_embedded":{{"files":[{}]}}}}"#, candidate("c")),
        || answer(200, "9".repeat(1 << 20)),
    );
    let error = client
        .upload_bytes("a.bin", SOURCE, UploadOptions::new())
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Upload {
                error: UploadError::FinalPartUnconfirmed { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        count(&seen, "/v1.0/sessions"),
        3,
        "the first upload and two again"
    );
    assert_eq!(count(&seen, "/download/c"), 2);
}

/// The candidate holds exactly the source's bytes: it is proven, and it is the result.
#[test]
fn a_candidate_with_the_source_bytes_is_adopted() {
    let (client, seen) = hostile_drive(
        |_| format!(r#"{{"_embedded":{{"files":[{}]}}}}"#, candidate("c")),
        || answer(200, String::from_utf8(SOURCE.to_vec()).unwrap()),
    );
    let file = client
        .upload_bytes("a.bin", SOURCE, UploadOptions::new())
        .unwrap_or_else(|e| panic!("{}", e.chain_message()));
    assert_eq!(file.uuid, "c");
    assert_eq!(count(&seen, "/v1.0/sessions"), 1);
}
