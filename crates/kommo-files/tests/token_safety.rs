//! The token goes to the account and drive hosts only: a download redirected elsewhere loses it,
//! a downgrade to plain http is refused, and no `Debug` output or error message contains it.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{AUTHORIZATION, LOCATION};
use kommo_files::blocking::Client;
use kommo_files::transport::{fn_transport, Request};
use kommo_files::{ClientConfig, Error};

const TOKEN: &str = "secret-token-7f3a";
const DRIVE: &str = "https://drive-c.kommo.com";

fn response(
    status: u16,
    headers: &[(http::HeaderName, &str)],
    body: &'static str,
) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A client whose transport answers downloads with a redirect to `location`, then 200 "bytes",
/// and records every request.
fn redirecting_client(location: &'static str) -> (Client, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let transport = fn_transport(move |request: Request| {
        let first = log.lock().unwrap().is_empty();
        log.lock().unwrap().push(request);
        Ok(if first {
            response(301, &[(LOCATION, location)], "")
        } else {
            response(200, &[], "bytes")
        })
    });
    let config = ClientConfig::for_url("https://example.kommo.com", TOKEN)
        .unwrap()
        .drive_url(DRIVE)
        .unwrap()
        .requests_per_second(None);
    (Client::with_transport(config, transport), seen)
}

fn authorization(request: &Request) -> Option<String> {
    request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| value.to_str().unwrap().to_owned())
}

#[test]
fn a_redirect_to_another_host_drops_the_token() {
    let (client, seen) = redirecting_client("https://storage.example.net/blob/1");
    let mut sink = Vec::new();
    let written = client
        .download_link(&format!("{DRIVE}/download/a/f/name.pdf"), &mut sink)
        .unwrap();
    assert_eq!((written, sink.as_slice()), (5, &b"bytes"[..]));
    let seen = seen.lock().unwrap();
    assert_eq!(authorization(&seen[0]), Some(format!("Bearer {TOKEN}")));
    assert_eq!(seen[1].uri(), "https://storage.example.net/blob/1");
    assert_eq!(authorization(&seen[1]), None);
}

#[test]
fn a_redirect_on_the_drive_host_keeps_the_token() {
    let (client, seen) = redirecting_client("/storage/v/name.pdf");
    client
        .download_link(&format!("{DRIVE}/download/a/f/name.pdf"), &mut Vec::new())
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[1].uri(),
        "https://drive-c.kommo.com/storage/v/name.pdf"
    );
    assert_eq!(authorization(&seen[1]), Some(format!("Bearer {TOKEN}")));
}

#[test]
fn a_downgrade_to_plain_http_is_refused() {
    let (client, seen) = redirecting_client("http://drive-c.kommo.com/storage/v/name.pdf");
    let mut sink = Vec::new();
    let error = client
        .download_link(&format!("{DRIVE}/download/a/f/name.pdf"), &mut sink)
        .unwrap_err();
    assert!(matches!(error, Error::Url(_)), "{error:?}");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "nothing sent after the refused redirect"
    );
    assert!(sink.is_empty());
    assert!(!error.to_string().contains(TOKEN));
}

#[test]
fn no_debug_output_or_error_message_holds_the_token() {
    let config = ClientConfig::for_url("https://example.kommo.com", TOKEN).unwrap();
    assert!(!format!("{config:?}").contains(TOKEN));
    let unauthorized = fn_transport(|_request| {
        Ok(response(
            401,
            &[],
            r#"{"title":"Unauthorized","status":401}"#,
        ))
    });
    let client = Client::with_transport(config, unauthorized);
    assert!(!format!("{client:?}").contains(TOKEN));
    let error = client.get_file("f").unwrap_err();
    assert_eq!(error.status(), Some(http::StatusCode::UNAUTHORIZED));
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(TOKEN), "{text}");
    }
    assert!(error.to_string().contains("invalid or expired"), "{error}");
}

/// The upload URL's signed session token: a failed upload's error carries the checkpoint, and
/// neither its `Debug`, its message nor its chain shows the token (the checkpoint's JSON, which
/// a resume needs, does).
#[test]
fn a_failed_upload_never_shows_its_session_token() {
    const SESSION_TOKEN: &str = "sessiontoken.a1b2c3d4e5f6";
    let upload_url: &'static str =
        Box::leak(format!("{DRIVE}/upload/{SESSION_TOKEN}").into_boxed_str());
    let transport = fn_transport(move |request: Request| {
        Ok(if request.uri().path() == "/v1.0/sessions" {
            let body = format!(
                r#"{{"session_id":7,"upload_url":"{upload_url}","max_file_size":1000,"max_part_size":4}}"#
            );
            let mut answer = http::Response::new(Bytes::from(body));
            *answer.status_mut() = http::StatusCode::OK;
            answer
        } else {
            response(400, &[], r#"{"title":"Bad Request","status":400}"#)
        })
    });
    // 4-byte parts: allowed below the default 1 KiB minimum.
    let config = ClientConfig::for_url("https://example.kommo.com", TOKEN)
        .unwrap()
        .drive_url(DRIVE)
        .unwrap()
        .upload(kommo_files::model::upload::UploadConfig::default().min_part_size(1));
    let client = Client::with_transport(config, transport);
    let options = kommo_files::UploadOptions::new().on_checkpoint(|_| {});
    let error = client
        .upload_bytes("a.bin", &b"0123456789"[..], options)
        .unwrap_err();
    let checkpoint = error.checkpoint().expect("the session was open");
    let json = String::from_utf8(checkpoint.to_json()).unwrap();
    assert!(json.contains(SESSION_TOKEN), "{json}");
    for text in [
        error.to_string(),
        error.chain_message(),
        format!("{error:?}"),
    ] {
        assert!(!text.contains(SESSION_TOKEN), "{text}");
        assert!(!text.contains(TOKEN), "{text}");
    }
}
