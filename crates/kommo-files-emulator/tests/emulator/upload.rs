//! Upload sessions and parts (docs/kommo-api.md#uploads).

use std::time::Duration;

use kommo_files_emulator::{Emulator, PartStatus, RetryMode, UploadUrlShape};
use serde_json::json;

use crate::common::{pattern, sha256_hex, Api};

#[test]
fn a_file_uploads_in_parts_and_is_stored_byte_for_byte() {
    let api = Api::with(Emulator::builder().max_part_size(4));
    let bytes = b"hello world!!";
    let session = api.session(json!({
        "file_name": "Отчёт за май (1).pdf",
        "file_size": bytes.len(),
        "content_type": "application/pdf",
    }));
    insta::assert_json_snapshot!("session", api.redact(&session));

    let first = api.send(
        "POST",
        session["upload_url"].as_str().unwrap(),
        None,
        Some(&bytes[..4]),
    );
    assert_eq!(first.status, 202);
    assert_eq!(first.content_type, "application/json");
    insta::assert_json_snapshot!("non_final_part", api.redact(&first.json()));
    let file = api.upload_with(
        json!({ "max_part_size": 4, "upload_url": first.json()["next_url"] }),
        &bytes[4..],
    );
    insta::assert_json_snapshot!("final_part_file_object", api.redact(&file));

    let stored = api.emu.files();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].versions[0].size, bytes.len() as u64);
    assert_eq!(stored[0].versions[0].sha256, sha256_hex(bytes));
    assert_eq!(
        api.download(file["_links"]["download"]["href"].as_str().unwrap()),
        bytes
    );
    assert_eq!(
        api.download(file["_links"]["download_version"]["href"].as_str().unwrap()),
        bytes
    );
    let parts: Vec<_> = api
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/upload/"))
        .map(|r| (r.status, r.bytes_in))
        .collect();
    assert_eq!(
        parts,
        [
            (Some(202), 4),
            (Some(202), 4),
            (Some(202), 4),
            (Some(200), 1)
        ]
    );
}

#[test]
fn a_larger_file_in_default_parts_hashes_correctly() {
    let api = Api::start();
    let bytes = pattern(524_288 * 2 + 1000);
    let file = api.upload("big.bin", &bytes);
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["type"], "file");
    assert_eq!(api.emu.files()[0].versions[0].sha256, sha256_hex(&bytes));
    assert_eq!(
        api.emu
            .version_bytes(file["version_uuid"].as_str().unwrap())
            .unwrap(),
        bytes
    );
}

#[test]
fn part_status_200_variant_and_sessions_url_shape() {
    let api = Api::with(
        Emulator::builder()
            .max_part_size(3)
            .part_status(PartStatus::Ok200)
            .upload_url_shape(UploadUrlShape::Sessions),
    );
    let session = api.session(json!({ "file_name": "a.txt", "file_size": 5 }));
    let url = session["upload_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/v1.0/sessions/upload/", api.emu.drive_url())));
    let first = api.send("POST", url, None, Some(b"abc"));
    assert_eq!(first.status, 200);
    let next = first.json()["next_url"].as_str().unwrap().to_owned();
    // Both URL shapes reach the same session.
    let short = next.replace("/v1.0/sessions/upload/", "/upload/");
    let last = api.send("POST", &short, None, Some(b"de"));
    assert_eq!(last.status, 200);
    assert_eq!(last.json()["size"], 5);
}

#[test]
fn oversized_parts_and_bytes_beyond_file_size_are_refused() {
    let api = Api::with(Emulator::builder().max_part_size(4));
    let session = api.session(json!({ "file_name": "a.bin", "file_size": 6 }));
    let url = session["upload_url"].as_str().unwrap();
    let too_big = api.send("POST", url, None, Some(b"12345"));
    assert_eq!(too_big.status, 400);
    insta::assert_json_snapshot!("part_too_large", too_big.json());
    let first = api.send("POST", url, None, Some(b"1234"));
    assert_eq!(first.status, 202, "a refused part does not use up the URL");
    let next = first.json()["next_url"].as_str().unwrap().to_owned();
    let beyond = api.send("POST", &next, None, Some(b"567"));
    assert_eq!(beyond.status, 400);
    insta::assert_json_snapshot!("part_beyond_file_size", beyond.json());
    let empty = api.send("POST", &next, None, Some(b""));
    assert_eq!(empty.status, 400);
    assert_eq!(api.send("POST", &next, None, Some(b"56")).status, 200);
}

#[test]
fn unknown_forged_and_completed_sessions_are_404() {
    let api = Api::with(Emulator::builder().retry_mode(RetryMode::Strict));
    let drive = api.emu.drive_url().to_owned();
    let garbage = api.send(
        "POST",
        &format!("{drive}/upload/not-a-token"),
        None,
        Some(b"x"),
    );
    assert_eq!(garbage.status, 404);
    assert_eq!(garbage.content_type, "application/json");
    insta::assert_json_snapshot!("session_not_found", garbage.json());

    let session = api.session(json!({ "file_name": "a.txt", "file_size": 1 }));
    let url = session["upload_url"].as_str().unwrap().to_owned();
    // Flip one character inside the signature: a forged token. Not the last one: its low bits
    // are base64 padding, which a lenient decoder ignores (this test failed 1 run in ~16).
    let mut forged = url.clone().into_bytes();
    let inside = forged.len() - 10;
    forged[inside] = if forged[inside] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(api.send("POST", &forged, None, Some(b"x")).status, 404);

    assert_eq!(api.send("POST", &url, None, Some(b"x")).status, 200);
    assert_eq!(
        api.send("POST", &url, None, Some(b"x")).status,
        404,
        "completed"
    );
}

#[test]
fn sessions_expire_after_24_hours_on_the_emulator_clock() {
    let api = Api::with(Emulator::builder().max_part_size(1));
    let session = api.session(json!({ "file_name": "a.txt", "file_size": 2 }));
    let first = api.send(
        "POST",
        session["upload_url"].as_str().unwrap(),
        None,
        Some(b"a"),
    );
    let next = first.json()["next_url"].as_str().unwrap().to_owned();
    api.emu.advance_clock(Duration::from_secs(23 * 3600));
    let other = api.session(json!({ "file_name": "b.txt", "file_size": 1 }));
    api.emu.advance_clock(Duration::from_secs(3600));
    assert_eq!(api.send("POST", &next, None, Some(b"b")).status, 404);
    // The younger session still works.
    assert_eq!(
        api.send(
            "POST",
            other["upload_url"].as_str().unwrap(),
            None,
            Some(b"b")
        )
        .status,
        200
    );
}

#[test]
fn replay_mode_answers_a_repeated_part_as_before_without_appending() {
    let api = Api::with(Emulator::builder().max_part_size(2));
    let session = api.session(json!({ "file_name": "a.txt", "file_size": 3 }));
    let url = session["upload_url"].as_str().unwrap().to_owned();
    let first = api.send("POST", &url, None, Some(b"ab"));
    let again = api.send("POST", &url, None, Some(b"ab"));
    assert_eq!((again.status, again.json()), (first.status, first.json()));
    // Same URL but another length is not a retry.
    assert_eq!(api.send("POST", &url, None, Some(b"a")).status, 404);
    let next = first.json()["next_url"].as_str().unwrap().to_owned();
    let done = api.send("POST", &next, None, Some(b"c"));
    let done_again = api.send("POST", &next, None, Some(b"c"));
    assert_eq!(done_again.status, 200);
    assert_eq!(done_again.json(), done.json());
    let stored = api.emu.files();
    assert_eq!(
        stored.len(),
        1,
        "the replayed final part made no second file"
    );
    assert_eq!(stored[0].versions[0].sha256, sha256_hex(b"abc"));
}

#[test]
fn strict_mode_refuses_a_repeated_part() {
    let api = Api::with(
        Emulator::builder()
            .max_part_size(2)
            .retry_mode(RetryMode::Strict),
    );
    let session = api.session(json!({ "file_name": "a.txt", "file_size": 3 }));
    let url = session["upload_url"].as_str().unwrap().to_owned();
    assert_eq!(api.send("POST", &url, None, Some(b"ab")).status, 202);
    assert_eq!(api.send("POST", &url, None, Some(b"ab")).status, 404);
}

#[test]
fn a_zero_byte_file_completes_with_one_empty_post() {
    let api = Api::start();
    let file = api.upload("empty.txt", b"");
    assert_eq!(file["size"], 0);
    assert_eq!(api.emu.files()[0].versions[0].sha256, sha256_hex(b""));
    assert!(api
        .download(file["_links"]["download"]["href"].as_str().unwrap())
        .is_empty());
}

#[test]
fn session_requests_are_validated() {
    let api = Api::with(Emulator::builder().max_file_size(10));
    let cases = [
        ("missing_name", json!({ "file_size": 1 })),
        (
            "negative_size",
            json!({ "file_name": "a", "file_size": -1 }),
        ),
        ("too_big", json!({ "file_name": "a", "file_size": 11 })),
        (
            "unknown_file_uuid",
            json!({ "file_name": "a", "file_size": 1, "file_uuid": "00000000-0000-4000-8000-000000000000" }),
        ),
    ];
    for (name, body) in cases {
        let answer = api.drive("POST", "/v1.0/sessions", Some(body));
        assert_eq!(answer.status, 400, "{name}");
        insta::assert_json_snapshot!(format!("session_invalid_{name}"), answer.json());
    }
    let not_json = api.send(
        "POST",
        &format!("{}/v1.0/sessions", api.emu.drive_url()),
        Some(&api.token()),
        Some(b"{nope"),
    );
    assert_eq!(not_json.status, 400);
}

#[test]
fn a_session_with_file_uuid_adds_an_active_version() {
    let api = Api::start();
    let v1 = api.upload("contract.pdf", b"version one");
    let uuid = v1["uuid"].as_str().unwrap();
    let session = api.session(json!({
        "file_name": "contract-v2.pdf", "file_size": 11, "file_uuid": uuid,
    }));
    let v2 = api.upload_with(session, b"version two");
    assert_eq!(v2["uuid"], v1["uuid"]);
    assert_ne!(v2["version_uuid"], v1["version_uuid"]);
    assert_eq!(v2["has_multiple_versions"], true);
    assert_eq!(v2["id"], v1["id"]);
    assert_eq!(v2["name"], "contract-v2");

    let versions = api.drive("GET", &format!("/v1.0/files/{uuid}/versions"), None);
    assert_eq!(versions.status, 200);
    insta::assert_json_snapshot!("versions", api.redact(&versions.json()));
    let list = versions.json();
    let old = &list["_embedded"]["versions"][1];
    assert_eq!(old["is_main"], false);
    assert_eq!(
        api.download(old["_links"]["download"]["href"].as_str().unwrap()),
        b"version one"
    );
    assert_eq!(
        api.download(v2["_links"]["download"]["href"].as_str().unwrap()),
        b"version two"
    );

    // Switch back to version one: the active download follows.
    let patched = api.drive(
        "PATCH",
        &format!("/v1.0/files/{uuid}"),
        Some(json!({ "version_uuid": v1["version_uuid"] })),
    );
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json()["version_uuid"], v1["version_uuid"]);
    assert_eq!(
        api.download(
            patched.json()["_links"]["download"]["href"]
                .as_str()
                .unwrap()
        ),
        b"version one"
    );
    let stored = &api.emu.files()[0];
    assert_eq!(stored.versions.len(), 2);
    assert!(stored.versions[0].is_main);
    assert_eq!(stored.versions[1].sha256, sha256_hex(b"version two"));
}

#[test]
fn images_get_previews_when_asked() {
    let api = Api::start();
    // A PNG header is all the emulator reads for the dimensions.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&640u32.to_be_bytes());
    png.extend_from_slice(&480u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0]);
    let session = api.session(json!({
        "file_name": "photo.png", "file_size": png.len(), "content_type": "image/png", "with_preview": true,
    }));
    let file = api.upload_with(session, &png);
    assert_eq!(file["type"], "image");
    assert_eq!(file["previews"][0]["width"], 640);
    assert_eq!(file["previews"][0]["height"], 480);
    let plain = api.upload("photo.png", &png);
    assert_eq!(plain["previews"], serde_json::Value::Null);
}

/// A part sent to a URL that is no longer valid is answered 404 after its body is read, never
/// by closing the connection under a client still writing (which would show as a broken pipe,
/// or not, depending on timing). Checked many times over, with a body far larger than a
/// socket buffer.
#[test]
fn a_refused_part_is_answered_after_its_body() {
    let api = Api::start();
    let url = format!("{}/upload/not-a-valid-token", api.emu.drive_url());
    let part = vec![7u8; 8 * 1024 * 1024];
    for attempt in 0..5 {
        let answer = api
            .try_send("POST", &url, None, Some(&part))
            .unwrap_or_else(|e| panic!("attempt {attempt}: no answer: {e}"));
        assert_eq!(answer.status, 404, "attempt {attempt}");
    }
}

/// Reads one HTTP/1.1 response (head plus a `Content-Length` body) from a raw socket; `Err`
/// when the connection fails or closes before the response is complete.
fn read_response(stream: &mut std::net::TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    use std::io::Read;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let body = buffer[end + 4..end + 4 + length].to_vec();
                return Ok((head, body));
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "closed after {} bytes: {}",
                    buffer.len(),
                    String::from_utf8_lossy(&buffer)
                ),
            ));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// POSTs `body` to `path` on a raw socket, `Content-Length` or chunked, writing it on another
/// thread while this one waits for the answer (as Node's `http` does); returns the answer's
/// head and body and the socket, still open. Panics if the connection fails or closes first,
/// or if the body could not be written whole.
fn raw_post(
    address: &str,
    path: &str,
    body: &[u8],
    chunked: bool,
) -> (String, Vec<u8>, std::net::TcpStream) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {address}\r\n").into_bytes();
    if chunked {
        request.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        for piece in body.chunks(64 * 1024) {
            request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            request.extend_from_slice(piece);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
    } else {
        request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
    }
    let mut writer = stream.try_clone().unwrap();
    let written = std::thread::spawn(move || writer.write_all(&request));
    let (head, answer) = read_response(&mut stream)
        .unwrap_or_else(|e| panic!("POST {path} (chunked: {chunked}): no complete answer: {e}"));
    written
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("POST {path}: the body could not be written whole: {e}"));
    (head, answer, stream)
}

/// Sends another request on `stream` and checks that it is answered: the connection survived.
fn assert_still_usable(stream: &mut std::net::TcpStream, address: &str, token: &str) {
    use std::io::Write;
    let next = format!(
        "GET /v1.0/files HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(next.as_bytes()).unwrap();
    let (head, _) = read_response(stream).unwrap();
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
}

/// A part larger than `max_part_size` is answered 400 after its whole body was read: a client
/// that writes the body while the answer is decided reads a complete 400 and never a
/// connection reset; the connection even stays usable. Raw sockets, with `Content-Length` and
/// chunked bodies, many times over.
#[test]
fn an_oversized_part_gets_a_complete_400_after_its_body_on_a_raw_socket() {
    let api = Api::start();
    let max = kommo_files_emulator::DEFAULT_MAX_PART_SIZE as usize;
    let part = pattern(4 * max + 17);
    let session = api.session(json!({ "file_name": "big.bin", "file_size": 64 * max }));
    let url = session["upload_url"].as_str().unwrap().to_owned();
    let path = url.trim_start_matches(api.emu.drive_url()).to_owned();
    let address = api.emu.drive_url().trim_start_matches("http://").to_owned();
    for attempt in 0..20 {
        let (head, body, mut stream) = raw_post(&address, &path, &part, attempt % 2 == 1);
        assert!(
            head.starts_with("HTTP/1.1 400"),
            "attempt {attempt}: {head}"
        );
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("max_part_size"), "{problem}");
        assert_still_usable(&mut stream, &address, &api.token());
    }
    // Nothing was stored, and the URL still takes a part of the right size.
    assert!(api.emu.files().is_empty());
    let ok = api.send("POST", &url, None, Some(&part[..max]));
    assert_eq!(ok.status, 202, "{}", ok.text());
}

/// A fault that answers instead of the endpoint (`status`, `html_error`, ...) still answers
/// after the body is in, so a client sending a part reads the injected answer, not a reset.
#[test]
fn a_canned_fault_answers_a_large_part_after_its_body() {
    use kommo_files_emulator::{Fault, FaultAction};
    let api = Api::start();
    api.emu.add_fault(
        Fault::new(FaultAction::HtmlError { status: 502 })
            .path("*/upload/*")
            .every(),
    );
    let part = pattern(8 * 1024 * 1024);
    let address = api.emu.drive_url().trim_start_matches("http://").to_owned();
    for attempt in 0..6 {
        let (head, body, mut stream) =
            raw_post(&address, "/upload/any-token", &part, attempt % 2 == 1);
        assert!(
            head.starts_with("HTTP/1.1 502"),
            "attempt {attempt}: {head}"
        );
        assert!(String::from_utf8_lossy(&body).contains("<html>"));
        assert_still_usable(&mut stream, &address, &api.token());
    }
}

/// The control API refuses a body over its 1 MiB limit with a complete 400 too.
#[test]
fn the_control_api_answers_a_too_large_body_after_reading_it() {
    let api = Api::start();
    let address = api.emu.drive_url().trim_start_matches("http://").to_owned();
    let body = vec![b' '; 4 * 1024 * 1024];
    for chunked in [false, true] {
        let (head, _, mut stream) = raw_post(&address, "/__emulator/faults", &body, chunked);
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
        assert_still_usable(&mut stream, &address, &api.token());
    }
}
