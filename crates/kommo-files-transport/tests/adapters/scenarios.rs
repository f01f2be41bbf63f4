//! The checks, each written once for any transport: `make(timeouts)` builds the transport under
//! test (wrapped in a [`Harness`]) and `emulator` is a fresh emulator.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, LOCATION};
use http::Method;
use kommo_files_emulator::{EmulatorHandle, Fault, FaultAction};
use kommo_files_transport::{
    ErrorKind, Operation, OperationContext, Timeouts, TransportError, DEFAULT_BODY_LIMIT,
};
use serde_json::json;

use crate::common::*;

/// 200, 401, 404, 502 and 503 all come back as responses, with their bodies and headers; none
/// is a transport error.
pub async fn statuses_are_responses<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let transport = make(Timeouts::default());
    let account = emulator.account_url();

    let ok = expect_status(transport.send(account_request(emulator)).await, 200);
    assert_account(&ok, emulator.drive_url());
    if let Some(length) = header(ok.headers(), "content-length") {
        assert_eq!(length, ok.body().len().to_string());
    }

    for token in [Some("not-a-token"), None] {
        let unauthorized = expect_status(
            transport
                .send(get(
                    &format!("{account}/api/v4/account?with=drive_url"),
                    token,
                ))
                .await,
            401,
        );
        assert_eq!(json(&unauthorized)["status"], 401);
    }

    let token = emulator.token();
    let not_found = expect_status(
        transport
            .send(get(
                &format!("{account}/api/v4/no-such-thing"),
                Some(&token),
            ))
            .await,
        404,
    );
    assert_eq!(json(&not_found)["status"], 404);
    let unknown_file = format!(
        "{}/v1.0/files/00000000-0000-0000-0000-000000000000",
        emulator.drive_url()
    );
    expect_status(transport.send(get(&unknown_file, Some(&token))).await, 404);

    emulator.add_fault(
        Fault::new(FaultAction::RetryAfter {
            status: 503,
            seconds: 7,
        })
        .path("/api/v4/account"),
    );
    let unavailable = expect_status(transport.send(account_request(emulator)).await, 503);
    assert_eq!(header(unavailable.headers(), "retry-after"), Some("7"));
    assert_eq!(json(&unavailable)["status"], 503);

    emulator.add_fault(Fault::new(FaultAction::HtmlError { status: 502 }).path("/api/v4/account"));
    let bad_gateway = expect_status(transport.send(account_request(emulator)).await, 502);
    assert!(header(bad_gateway.headers(), "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(bad_gateway.body()).contains("<html"));

    // The streaming path answers statuses the same way.
    let streamed = transport
        .send_streaming(get(&unknown_file, Some(&token)))
        .await
        .expect("a 404 is a response");
    assert_eq!(streamed.head.status, 404);
    streamed.end.as_ref().expect("the 404 body is read whole");
    let body: serde_json::Value = serde_json::from_slice(&streamed.body()).unwrap();
    assert_eq!(body["status"], 404);
}

/// A 301 is handed back with its `Location`; the transport does not go there by itself.
pub async fn redirect_is_returned_not_followed<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let transport = make(Timeouts::default());
    let data = b"redirect me, but not by yourself".to_vec();
    let uploaded = upload(&transport, emulator, "note.txt", &data).await;
    emulator.clear_requests();

    let token = emulator.token();
    let download = uploaded.download_url();
    let moved = expect_status(transport.send(get(&download, Some(&token))).await, 301);
    let location = header(moved.headers(), "location")
        .expect("a Location")
        .to_owned();
    assert!(
        location.starts_with(&format!("{}/storage/", emulator.drive_url())),
        "{location}"
    );
    let streamed = transport
        .send_streaming(get(&download, Some(&token)))
        .await
        .expect("a 301 is a response");
    assert_eq!(streamed.head.status, 301);
    assert_eq!(
        streamed.head.headers.get(LOCATION).unwrap(),
        location.as_str()
    );
    streamed.end.expect("the 301 body is read whole");

    let paths: Vec<String> = emulator.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.iter().all(|path| !path.starts_with("/storage/")),
        "a redirect was followed: {paths:?}"
    );
    assert_eq!(paths.len(), 2, "{paths:?}");

    // Followed by hand, it serves the bytes.
    let bytes = expect_status(transport.send(get(&location, None)).await, 200);
    assert_eq!(bytes.body().as_ref(), data.as_slice());
}

/// Method, query, headers (the token) and body bytes reach the server intact: POST and PATCH
/// with JSON, POST with raw parts (including an empty one), DELETE with a body.
pub async fn request_reaches_server<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let transport = make(Timeouts::default());
    let token = emulator.token();
    let drive = emulator.drive_url().to_owned();

    // The query string arrives (the drive URL is only sent with `with=drive_url`).
    let account = expect_status(transport.send(account_request(emulator)).await, 200);
    assert_account(&account, &drive);

    // A multi-part upload: the session's JSON and every part's bytes arrive.
    let data = test_data(300 * 1024 + 17);
    let uploaded = upload(&transport, emulator, "blob.bin", &data).await;
    assert_eq!(uploaded.part_statuses, [202, 202, 200]);
    assert_eq!(uploaded.file["size"], data.len());
    let version = uploaded.file["version_uuid"].as_str().unwrap();
    assert!(emulator.version_bytes(version).unwrap() == data);
    let log = emulator.requests();
    let session = log
        .iter()
        .find(|r| r.method == "POST" && r.path == "/v1.0/sessions")
        .expect("the session request is logged");
    let session_body =
        serde_json::to_vec(&json!({ "file_name": "blob.bin", "file_size": data.len() })).unwrap();
    assert_eq!(session.bytes_in, session_body.len() as u64);
    let parts: Vec<u64> = log
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/upload/"))
        .map(|r| r.bytes_in)
        .collect();
    let lengths: Vec<u64> = uploaded.part_lengths.iter().map(|&n| n as u64).collect();
    assert_eq!(parts, lengths);

    // PATCH with a body.
    let uuid = uploaded.file["uuid"].as_str().unwrap().to_owned();
    let renamed = expect_status(
        transport
            .send(json_request(
                Method::PATCH,
                &format!("{drive}/v1.0/files/{uuid}"),
                &token,
                &json!({ "name": "renamed" }),
            ))
            .await,
        200,
    );
    assert_eq!(json(&renamed)["name"], "renamed");

    // A 0-byte file: a POST with an empty body.
    let empty = upload(&transport, emulator, "empty.txt", &[]).await;
    assert_eq!(empty.file["size"], 0);

    // DELETE with a JSON body.
    let delete_body = json!([{ "uuid": uuid }]);
    expect_status(
        transport
            .send(json_request(
                Method::DELETE,
                &format!("{drive}/v1.0/files"),
                &token,
                &delete_body,
            ))
            .await,
        204,
    );
    let trashed = expect_status(
        transport
            .send(get(&format!("{drive}/v1.0/files/{uuid}"), Some(&token)))
            .await,
        200,
    );
    assert_eq!(json(&trashed)["is_trashed"], true);

    let log = emulator.requests();
    let methods: Vec<&str> = log.iter().map(|r| r.method.as_str()).collect();
    assert!(
        methods.contains(&"PATCH") && methods.contains(&"DELETE"),
        "{methods:?}"
    );
    let delete = log.iter().find(|r| r.method == "DELETE").unwrap();
    assert_eq!(
        delete.bytes_in,
        serde_json::to_vec(&delete_body).unwrap().len() as u64
    );
    assert!(log
        .iter()
        .any(|r| r.path == "/api/v4/account?with=drive_url" && r.status == Some(200)));
}

/// `send_streaming` gives the same bytes and headers as `send`, in several chunks, for a body
/// well over 64 KiB.
pub async fn streaming_matches_buffered<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let transport = make(Timeouts::default());
    let data = test_data(300 * 1024);
    let uploaded = upload(&transport, emulator, "big.bin", &data).await;
    let moved = expect_status(
        transport.send(get(&uploaded.download_url(), None)).await,
        301,
    );
    let location = header(moved.headers(), "location").unwrap().to_owned();

    let buffered = expect_status(transport.send(get(&location, None)).await, 200);
    assert!(buffered.body().as_ref() == data.as_slice());
    assert_eq!(
        header(buffered.headers(), "content-length"),
        Some(data.len().to_string().as_str())
    );

    let streamed = transport
        .send_streaming(get(&location, None))
        .await
        .expect("the head arrives");
    assert_eq!(streamed.head.status, 200);
    assert_eq!(
        streamed.head.headers.get(CONTENT_LENGTH),
        buffered.headers().get(CONTENT_LENGTH)
    );
    assert_eq!(
        streamed.head.headers.get("content-type"),
        buffered.headers().get("content-type")
    );
    streamed.end.as_ref().expect("the body ends cleanly");
    assert!(streamed.chunks.iter().all(|chunk| !chunk.is_empty()));
    assert!(streamed.body() == buffered.body().as_ref());
}

/// `send_streaming` returns once the head is in, while the server still holds the rest of the
/// body back: the body really is streamed, not buffered first.
pub async fn streaming_returns_before_the_body<H: Harness>(
    _emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let first = test_data(100 * 1024);
    let second = test_data(200 * 1024);
    let whole = [first.clone(), second.clone()].concat();
    let server = {
        let (first, second) = (first.clone(), second.clone());
        RawServer::start(move |_| {
            vec![
                Step::Write(raw_head("200 OK", first.len() + second.len(), &[])),
                Step::Write(first.clone()),
                Step::AwaitRelease,
                Step::Write(second.clone()),
            ]
        })
    };
    let transport = make(Timeouts::default());
    let streamed = transport
        .send_streaming_then(get(&format!("{}/stream", server.url()), None), |head| {
            assert_eq!(head.status, 200);
            server.release();
        })
        .await
        .expect("the head arrives");
    assert!(
        server.released_in_time(),
        "send_streaming waited for the whole body"
    );
    streamed.end.as_ref().expect("the body ends cleanly");
    assert!(
        streamed.chunks.len() >= 2,
        "{} chunks",
        streamed.chunks.len()
    );
    assert!(streamed.body() == whole);
}

/// No connection: `Connect`, safe to retry even for a non-idempotent request; the token does
/// not show in the error.
pub async fn connection_refused_is_connect<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let transport = make(Timeouts::default());
    let token = emulator.token();
    let url = format!("http://127.0.0.1:{}/v1.0/sessions", refused_port());
    let post = json_request(Method::POST, &url, &token, &json!({ "file_name": "a" }));
    let error = expect_error(transport.send(post).await, &[ErrorKind::Connect]);
    assert!(error.is_retry_safe(false), "{error:?}");
    assert!(error.is_retry_safe(true), "{error:?}");
    assert!(!error.kind().may_have_reached_server());
    assert_no_secret(&error, &token);

    let error = expect_error(
        transport.send_streaming(get(&url, Some(&token))).await,
        &[ErrorKind::Connect],
    );
    assert_no_secret(&error, &token);
}

/// The server closes the connection without answering: a transient failure that may have
/// reached the server (so only idempotent requests retry). The transport recovers afterwards.
pub async fn closed_before_answer_is_transient<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let transport = make(Timeouts::default());
    let transient = [ErrorKind::Io, ErrorKind::Body];
    emulator.add_fault(Fault::new(FaultAction::CloseBeforeBody).path("/api/v4/account"));
    let error = expect_error(transport.send(account_request(emulator)).await, &transient);
    assert_transient_after_sending(&error);
    assert_no_secret(&error, &emulator.token());
    let record = emulator.requests().pop().unwrap();
    assert_eq!(record.fault.as_deref(), Some("close_before_body"));
    assert_eq!(record.status, None);

    // The same transport goes on working.
    let ok = expect_status(transport.send(account_request(emulator)).await, 200);
    assert_account(&ok, emulator.drive_url());

    // A POST with a body, closed before its body is read, and one closed after it was handled.
    let session = |emulator: &EmulatorHandle| {
        json_request(
            Method::POST,
            &format!("{}/v1.0/sessions", emulator.drive_url()),
            &emulator.token(),
            &json!({ "file_name": "a.txt", "file_size": 1 }),
        )
    };
    emulator.add_fault(
        Fault::new(FaultAction::CloseBeforeBody)
            .method("POST")
            .path("/v1.0/sessions"),
    );
    let error = expect_error(transport.send(session(emulator)).await, &transient);
    assert_transient_after_sending(&error);
    emulator.add_fault(
        Fault::new(FaultAction::CloseAfterCommit)
            .method("POST")
            .path("/v1.0/sessions")
            .nth(2),
    );
    expect_status(transport.send(session(emulator)).await, 200);
    let error = expect_error(transport.send(session(emulator)).await, &transient);
    assert_transient_after_sending(&error);

    // And the streaming path.
    emulator.add_fault(Fault::new(FaultAction::CloseBeforeBody).path("/api/v4/account"));
    let error = expect_error(
        transport.send_streaming(account_request(emulator)).await,
        &transient,
    );
    assert_transient_after_sending(&error);
    expect_status(transport.send(account_request(emulator)).await, 200);
}

/// No answer within the read timeout: `Timeout`, retried only when idempotent.
pub async fn read_timeout_is_timeout<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let transport = make(Timeouts::default().read(Duration::from_millis(300)));
    emulator.add_fault(Fault::new(FaultAction::Delay { millis: 3000 }).path("/api/v4/account"));
    let error = expect_error(
        transport.send(account_request(emulator)).await,
        &[ErrorKind::Timeout],
    );
    assert_transient_after_sending(&error);
    assert_no_secret(&error, &emulator.token());

    // Without the delay the same transport answers.
    let ok = expect_status(transport.send(account_request(emulator)).await, 200);
    assert_account(&ok, emulator.drive_url());

    emulator.add_fault(Fault::new(FaultAction::Delay { millis: 3000 }).path("/api/v4/account"));
    let error = expect_error(
        transport.send_streaming(account_request(emulator)).await,
        &[ErrorKind::Timeout],
    );
    assert_transient_after_sending(&error);
}

/// The body stops short of its `Content-Length`: `Body` (or `Io`), retried only when
/// idempotent; on the streaming path the head arrives and the body read fails.
pub async fn truncated_body_is_incomplete<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let transport = make(Timeouts::default());
    let incomplete = [ErrorKind::Body, ErrorKind::Io];
    emulator.add_fault(Fault::new(FaultAction::TruncatedBody).path("/api/v4/account"));
    let error = expect_error(transport.send(account_request(emulator)).await, &incomplete);
    assert_transient_after_sending(&error);

    emulator.add_fault(Fault::new(FaultAction::TruncatedBody).path("/api/v4/account"));
    match transport.send_streaming(account_request(emulator)).await {
        Ok(streamed) => {
            assert_eq!(streamed.head.status, 200);
            let announced: usize = header(&streamed.head.headers, "content-length")
                .unwrap()
                .parse()
                .unwrap();
            assert!(streamed.body().len() < announced);
            let error = expect_error(streamed.end, &incomplete);
            assert_transient_after_sending(&error);
        }
        Err(error) => {
            assert!(incomplete.contains(&error.kind()), "{error:?}");
            assert_transient_after_sending(&error);
        }
    }

    let ok = expect_status(transport.send(account_request(emulator)).await, 200);
    assert_account(&ok, emulator.drive_url());
}

/// Many sequential requests on one transport all succeed, over a handful of connections.
pub async fn connections_are_reused<H: Harness>(
    emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let proxy = CountingProxy::start(socket_of(emulator.account_url()));
    let transport = make(Timeouts::default());
    let token = emulator.token();
    for _ in 0..20 {
        let ok = expect_status(
            transport
                .send(account_request_at(proxy.url(), &token))
                .await,
            200,
        );
        assert_account(&ok, emulator.drive_url());
    }
    for _ in 0..5 {
        let streamed = transport
            .send_streaming(account_request_at(proxy.url(), &token))
            .await
            .unwrap();
        assert_eq!(streamed.head.status, 200);
        streamed.end.unwrap();
    }
    let connections = proxy.connections();
    assert!(
        (1..=2).contains(&connections),
        "25 sequential requests took {connections} connections"
    );
}

/// What goes on the wire, seen raw: the request line, each header once, the exact body bytes,
/// and a `Content-Length` (no chunking); what comes back keeps repeated headers and binary bytes.
pub async fn raw_request_and_response<H: Harness>(
    _emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let answer: Vec<u8> = (0..=255).collect();
    let server = {
        let answer = answer.clone();
        RawServer::start(move |_| {
            vec![
                Step::Write(raw_head(
                    "418 I'm a teapot",
                    answer.len(),
                    &[
                        "X-Multi: one",
                        "X-Multi: two",
                        "Content-Type: application/octet-stream",
                    ],
                )),
                Step::Write(answer.clone()),
            ]
        })
    };
    let transport = make(Timeouts::default());
    let body: Vec<u8> = (0..=255).rev().cycle().take(70_000).collect();
    let mut request = request(
        Method::PUT,
        &format!("{}/api/v4/leads/1001/files?x=1&y=%20", server.url()),
        Some("secret-token"),
        Bytes::from(body.clone()),
    );
    request
        .headers_mut()
        .insert("x-request-id", "abc-123".parse().unwrap());
    let response = expect_status(transport.send(request).await, 418);
    let multi: Vec<&str> = response
        .headers()
        .get_all("x-multi")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(response.body().as_ref(), answer.as_slice());

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    let raw = &seen[0];
    assert_eq!(
        raw.request_line(),
        "PUT /api/v4/leads/1001/files?x=1&y=%20 HTTP/1.1"
    );
    assert_eq!(raw.header_values("authorization"), ["Bearer secret-token"]);
    assert_eq!(raw.header_values("x-request-id"), ["abc-123"]);
    assert_eq!(
        raw.header_values("content-length"),
        [body.len().to_string()]
    );
    assert!(
        raw.header_values("transfer-encoding").is_empty(),
        "{}",
        raw.head
    );
    assert_eq!(raw.header_values("host").len(), 1, "{}", raw.head);
    assert!(raw.body == body);
}

/// A body that trickles in for longer than the read timeout, never pausing anywhere near it,
/// arrives whole: the read timeout bounds silence, not the transfer.
pub async fn slow_body_within_read_timeout<H: Harness>(
    _emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    const PIECES: usize = 30;
    const GAP: Duration = Duration::from_millis(100);
    let piece = test_data(1024);
    let whole = piece.repeat(PIECES);
    let server = {
        let piece = piece.clone();
        RawServer::start(move |_| {
            let mut steps = vec![Step::Write(raw_head("200 OK", piece.len() * PIECES, &[]))];
            for _ in 0..PIECES {
                steps.push(Step::Sleep(GAP));
                steps.push(Step::Write(piece.clone()));
            }
            steps
        })
    };
    // 3 s of transfer against a 1.5 s read timeout, with 100 ms silences.
    let transport = make(Timeouts::default().read(Duration::from_millis(1500)));
    let url = format!("{}/slow", server.url());
    let response = expect_status(transport.send(get(&url, None)).await, 200);
    assert!(response.body().as_ref() == whole.as_slice());
    let streamed = transport
        .send_streaming(get(&url, None))
        .await
        .expect("the head arrives");
    streamed.end.as_ref().expect("the slow body is read whole");
    assert!(streamed.body() == whole);
}

/// The server goes silent in the middle of a body: `Timeout` on both paths.
pub async fn silence_mid_body_is_timeout<H: Harness>(
    _emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let half = test_data(4096);
    let server = {
        let half = half.clone();
        RawServer::start(move |_| {
            vec![
                Step::Write(raw_head("200 OK", half.len() * 2, &[])),
                Step::Write(half.clone()),
                Step::Sleep(Duration::from_secs(3)),
                Step::Write(half.clone()),
            ]
        })
    };
    let transport = make(Timeouts::default().read(Duration::from_millis(300)));
    let url = format!("{}/stall", server.url());
    let error = expect_error(transport.send(get(&url, None)).await, &[ErrorKind::Timeout]);
    assert_transient_after_sending(&error);
    let streamed = transport
        .send_streaming(get(&url, None))
        .await
        .expect("the head arrives before the silence");
    assert_eq!(streamed.head.status, 200);
    assert!(streamed.body().len() <= half.len());
    let error = expect_error(streamed.end, &[ErrorKind::Timeout]);
    assert_transient_after_sending(&error);
}

/// An `OperationContext` attached to a request reaches a wrapper transport, on both paths, and
/// the request still goes through.
pub async fn operation_context_reaches_wrapper<H: Harness>(
    emulator: &EmulatorHandle,
    wrapped: H,
    seen: &Seen,
) {
    let mut discover = account_request(emulator);
    OperationContext::new(Operation::DiscoverDrive, true).attach(&mut discover);
    let ok = expect_status(wrapped.send(discover).await, 200);
    assert_account(&ok, emulator.drive_url());

    let mut part = account_request(emulator);
    OperationContext::new(Operation::UploadPart, false)
        .part(3)
        .attempt(2)
        .attach(&mut part);
    let streamed = wrapped.send_streaming(part).await.unwrap();
    assert_eq!(streamed.head.status, 200);

    expect_status(wrapped.send(account_request(emulator)).await, 200);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let first = seen[0].expect("the first request carried a context");
    assert_eq!(
        (first.operation, first.idempotent, first.attempt, first.part),
        (Operation::DiscoverDrive, true, 1, None)
    );
    let second = seen[1].expect("the streamed request carried a context");
    assert_eq!(
        (
            second.operation,
            second.idempotent,
            second.attempt,
            second.part
        ),
        (Operation::UploadPart, false, 2, Some(3))
    );
    assert_eq!(seen[2], None);
}

/// `send` reads at most [`DEFAULT_BODY_LIMIT`] bytes: exactly the limit arrives, one byte more
/// is `TooLarge` (not transient, the server answered); `send_streaming` still reads it all.
pub async fn body_limit_applies_to_send<H: Harness>(
    _emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    let server = RawServer::start(|request| {
        let len = if request.request_line().contains("/over") {
            DEFAULT_BODY_LIMIT + 1
        } else {
            DEFAULT_BODY_LIMIT
        };
        vec![
            Step::Write(raw_head("200 OK", len, &[])),
            Step::Write(vec![b'z'; len]),
        ]
    });
    let transport = make(Timeouts::default());
    let at = expect_status(
        transport
            .send(get(&format!("{}/at", server.url()), None))
            .await,
        200,
    );
    assert_eq!(at.body().len(), DEFAULT_BODY_LIMIT);

    let over = format!("{}/over", server.url());
    let error = expect_error(
        transport.send(get(&over, None)).await,
        &[ErrorKind::TooLarge],
    );
    assert!(!error.kind().is_transient(), "{error:?}");
    assert!(error.kind().may_have_reached_server(), "{error:?}");
    assert!(!error.is_retry_safe(true), "{error:?}");
    assert!(
        error.to_string().contains(&DEFAULT_BODY_LIMIT.to_string()),
        "{error}"
    );

    let streamed = transport.send_streaming(get(&over, None)).await.unwrap();
    streamed.end.as_ref().expect("streaming has no limit");
    assert_eq!(streamed.body().len(), DEFAULT_BODY_LIMIT + 1);
}

/// A failing request to an upload URL: neither the error's `Display`, its `Debug`, nor any
/// source in its chain holds the URL's token or signature, whatever went wrong.
pub async fn errors_hide_the_upload_token<H: Harness>(
    _emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    const TOKEN: &str = "SeSsIoNtOkEn.s1gn4tur3";
    const SIG: &str = "QuErYsIgNaTuRe";
    let transport = make(Timeouts::default().read(Duration::from_millis(300)));
    let check = |what: &str, error: &TransportError| {
        for secret in [TOKEN, SIG] {
            let mut texts = vec![
                error.to_string(),
                format!("{error:?}"),
                format!("{error:#?}"),
            ];
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                texts.push(inner.to_string());
                texts.push(format!("{inner:?}"));
                source = inner.source();
            }
            for text in texts {
                assert!(!text.contains(secret), "{what}: {text}");
            }
        }
    };
    let path = format!("/upload/{TOKEN}?sig={SIG}&part=2");

    // Nothing listens.
    let url = format!("http://127.0.0.1:{}{path}", refused_port());
    let body = Bytes::from_static(b"part");
    let error = expect_error(
        transport
            .send(request(Method::POST, &url, None, body.clone()))
            .await,
        &[ErrorKind::Connect],
    );
    check("refused", &error);
    let error = expect_error(
        transport
            .send_streaming(request(Method::POST, &url, None, body.clone()))
            .await,
        &[ErrorKind::Connect],
    );
    check("refused, streaming", &error);

    // No scheme and host: the backend refuses the URI itself, and likes to quote it.
    let result = transport
        .send(request(Method::POST, &path, None, body.clone()))
        .await;
    let error = result.expect_err("a relative URI cannot be sent");
    check("relative", &error);

    // The server hangs up, stays silent, or stops mid-body.
    let server = RawServer::start(|request| {
        if request.request_line().contains("part=2") && request.body == b"hangup" {
            vec![]
        } else if request.body == b"silence" {
            vec![Step::Sleep(Duration::from_secs(3))]
        } else {
            vec![
                Step::Write(raw_head("200 OK", 100, &[])),
                Step::Write(vec![b'x'; 10]),
            ]
        }
    });
    let url = format!("{}{path}", server.url());
    for (what, body, kinds) in [
        ("hangup", "hangup", &[ErrorKind::Io, ErrorKind::Body][..]),
        ("silence", "silence", &[ErrorKind::Timeout][..]),
        (
            "truncated",
            "truncated",
            &[ErrorKind::Io, ErrorKind::Body][..],
        ),
    ] {
        let post = || request(Method::POST, &url, None, Bytes::from(body));
        let error = expect_error(transport.send(post()).await, kinds);
        check(what, &error);
        match transport.send_streaming(post()).await {
            Err(error) => check(what, &error),
            Ok(streamed) => check(what, &expect_error(streamed.end, kinds)),
        }
    }
}

/// A request body that takes longer than the read and write timeouts to go out, but never
/// stalls, is sent whole: the bounds are silences, not deadlines.
///
/// Robust on a slow, busy machine: the server's longest silence (one `GAP`, plus whatever the
/// scheduler adds) is a twentieth of the bounds, the slow phase alone sleeps at least twice the
/// bound (so the request's total time proves it was not cut by a deadline), and the tail that
/// may sit in socket buffers when the client finishes writing is read at once (see [`Uplink`]).
pub async fn slow_request_body_within_timeouts<H: Harness>(
    _emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    const BOUND: Duration = Duration::from_secs(2);
    const GAP: Duration = Duration::from_millis(100);
    const PIECE: usize = 256 * 1024;
    // More than the server's capped receive buffer and the client's send buffer hold together
    // (at most ~4.5 MiB on Linux loopback), so the client is still writing when the slow phase
    // ends.
    const FAST_TAIL: usize = 12 * 1024 * 1024;
    // 48 pauses of `GAP` before the tail: at least 4.8 s, against 2 s bounds.
    const SLOW_PIECES: usize = 48;
    const LEN: usize = SLOW_PIECES * PIECE + FAST_TAIL;
    let uplink = Uplink {
        piece: PIECE,
        gap: GAP,
        fast_tail: FAST_TAIL,
    };
    let server = RawServer::start_reading_slowly(uplink, |request| {
        let answer = request.body.len().to_string().into_bytes();
        vec![
            Step::Write(raw_head("200 OK", answer.len(), &[])),
            Step::Write(answer),
        ]
    });
    let transport = make(Timeouts::default().read(BOUND).write(BOUND));
    let url = format!("{}/upload/slow", server.url());
    let started = std::time::Instant::now();
    let response = expect_status(
        transport
            .send(request(Method::POST, &url, None, Bytes::from(vec![7; LEN])))
            .await,
        200,
    );
    let took = started.elapsed();
    assert_eq!(response.body().as_ref(), LEN.to_string().as_bytes());
    // A lower bound only (a slow machine makes it longer): the server slept this long.
    assert!(
        took >= 2 * BOUND,
        "the body went out in {took:?}: too fast to prove anything"
    );
}

/// The server stops reading a large request body: `Timeout` once the write bound passes with
/// nothing moving, long before the server would have read it.
///
/// The server stays silent for a minute, so any write bound fires; the elapsed time is only
/// checked against that minute (the error must come from the bound, not from the server).
pub async fn stalled_request_body_is_timeout<H: Harness>(
    _emulator: &EmulatorHandle,
    make: &impl Fn(Timeouts) -> H,
) {
    const LEN: usize = 48 * 1024 * 1024;
    const STALL: Duration = Duration::from_secs(60);
    let uplink = Uplink {
        piece: 1024 * 1024,
        gap: STALL,
        fast_tail: 0,
    };
    let server =
        RawServer::start_reading_slowly(uplink, |_| vec![Step::Write(raw_head("200 OK", 0, &[]))]);
    let transport = make(Timeouts::default().write(Duration::from_millis(400)));
    let url = format!("{}/upload/stalled", server.url());
    let started = std::time::Instant::now();
    let error = expect_error(
        transport
            .send(request(Method::POST, &url, None, Bytes::from(vec![7; LEN])))
            .await,
        &[ErrorKind::Timeout],
    );
    assert_transient_after_sending(&error);
    assert!(started.elapsed() < STALL / 2, "{:?}", started.elapsed());
}
