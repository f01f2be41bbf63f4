//! The harnesses shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/*.rs`, which include
//! this file by path) and their proptest twins in `tests/robustness.rs`.
//!
//! Each harness takes arbitrary bytes, never panics on its own account, and panics (with a
//! message) only when the model breaks one of its promises:
//!
//! - no parser, loader or machine panics, whatever it is fed;
//! - a machine driven by a script ends: once the script runs out the simulated server answers
//!   correctly, and the machine must finish within a bound;
//! - a finished upload acknowledged exactly the source's size;
//! - a finished download wrote exactly its `Content-Length`, when one was given;
//! - a call never makes more attempts than its policy allows, and never repeats what is unsafe
//!   to repeat;
//! - the token never appears in a request to a host that `BaseUrl::owns` refuses, nor in a
//!   checkpoint or a saved state.

#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use kommo_files_model::call::{CallAction, CallMachine};
use kommo_files_model::download::{DownloadAction, DownloadMachine};
use kommo_files_model::endpoint::{self, AccountHost, DriveHost};
use kommo_files_model::retry::RetryPolicy;
use kommo_files_model::upload::{
    Action, Checkpoint, ModifiedTime, SendFailure, SendFailureKind, SessionLostPolicy, SourceInfo,
    UploadConfig, UploadEvent, UploadMachine, UploadRequest, UploadState,
};
use kommo_files_model::wire::NewSession;
use kommo_files_model::{redact_url, AccessToken, BaseUrl, Operation, RetryAfter};
use sha2::{Digest, Sha256};

/// The token every harness uses: distinctive, so finding it anywhere is meaningful.
pub const TOKEN: &str = "fuzz-secret-token-7f3a9c";
/// The drive host of every harness.
pub const DRIVE: &str = "https://drive-c.kommo.com";
/// The account host of the call harness.
pub const ACCOUNT: &str = "https://example.kommo.com";

/// Simulated "now" at the start of every script.
pub fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub fn drive() -> DriveHost {
    DriveHost::new(
        BaseUrl::parse(DRIVE).unwrap(),
        AccessToken::new(TOKEN).unwrap(),
    )
}

/// Reads the fuzzer's bytes; once they run out every read is 0 (the "well-behaved" choice).
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((first, rest)) => {
                self.data = rest;
                *first
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// Up to `max` bytes, the length taken from the input.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = (self.byte() as usize).min(max).min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        taken
    }

    pub fn string(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }

    /// One of `choices`, by the next byte.
    pub fn pick<T: Clone>(&mut self, choices: &[T]) -> T {
        choices[self.byte() as usize % choices.len()].clone()
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

fn response(status: u16, headers: HeaderMap, body: impl Into<Bytes>) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    *response.headers_mut() = headers;
    response
}

/// A status from the ones that matter most, or any valid one.
fn status(input: &mut Input<'_>) -> u16 {
    match input.byte() % 4 {
        0 => input.pick(&[
            200, 201, 202, 204, 301, 302, 307, 400, 401, 403, 404, 408, 429, 500, 502, 503,
        ]),
        1 => 200,
        2 => 100 + input.u16() % 900,
        _ => input.pick(&[200, 202, 404, 429, 503]),
    }
}

/// A `Retry-After` value: none, small, huge, a date (sane or absurd), garbage.
fn retry_after(input: &mut Input<'_>) -> Option<String> {
    Some(match input.byte() % 8 {
        0 | 1 => return None,
        2 => (input.byte() % 4).to_string(),
        3 => input.u64().to_string(),
        4 => "Wed, 21 Oct 2015 07:28:00 GMT".to_owned(),
        5 => format!("Sun, 06 Nov {} 08:49:37 GMT", input.u64()),
        6 => format!(
            "Sun, {:02} Nov {} {:02}:{:02}:{:02} GMT",
            input.byte() % 32,
            1970 + u64::from(input.u16()),
            input.byte() % 24,
            input.byte() % 60,
            input.byte() % 61
        ),
        _ => input.string(40),
    })
}

fn headers_with_retry_after(input: &mut Input<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(value) = retry_after(input) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::RETRY_AFTER, value);
        }
    }
    headers
}

fn failure(input: &mut Input<'_>) -> SendFailure {
    let kind = input.pick(&[
        SendFailureKind::Connect,
        SendFailureKind::Timeout,
        SendFailureKind::Io,
        SendFailureKind::Body,
        SendFailureKind::Tls,
        SendFailureKind::Other,
    ]);
    SendFailure::new(kind, "fuzzed failure")
}

/// A URL a server might hand back: ours, or one of the ways to lure the token elsewhere.
fn url(input: &mut Input<'_>, path: &str) -> String {
    match input.byte() % 12 {
        0..=3 => format!("{DRIVE}{path}"),
        4 => format!("https://evil.example{path}"),
        5 => format!("https://drive-c.kommo.com@evil.example{path}"),
        6 => format!("http://drive-c.kommo.com{path}"),
        7 => format!("https://drive-c.kommo.com:8443{path}"),
        8 => format!("https://drive-c.kommo.com#@evil.example{path}"),
        9 => format!("https://DRIVE-C.kommo.com{path}"),
        10 => format!("//evil.example{path}"),
        _ => input.string(60),
    }
}

/// Panics if `request` carries the token anywhere while going to a host `owner` does not own.
pub fn assert_token_stays_home(owner: &BaseUrl, request: &Request<Bytes>) {
    let uri = request.uri();
    let target = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
        _ => String::new(),
    };
    // Headers only: the token reaches a request through `Authorization`, while a fuzzed URL
    // or a part's bytes could spell it by chance.
    let carries_token = request
        .headers()
        .iter()
        .any(|(_, value)| contains(value.as_bytes(), TOKEN.as_bytes()));
    if carries_token {
        assert!(
            target.eq_ignore_ascii_case(owner.as_str()) && owner.owns(&uri.to_string()),
            "the token goes to {uri} (origin {target:?}), not {owner}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Parsers.

/// Target `parse_response`: the first byte picks the parser, the next two the status, the next
/// one optional headers; the rest is the body.
pub fn parse_response(data: &[u8]) {
    let mut input = Input::new(data);
    let parser = input.byte();
    let status = 100 + input.u16() % 900;
    let flags = input.byte();
    let mut headers = HeaderMap::new();
    if flags & 1 != 0 {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
    }
    if flags & 2 != 0 {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    }
    if flags & 4 != 0 {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
    }
    let r = response(status, headers, Bytes::copy_from_slice(input.rest()));
    fn show<T: std::fmt::Debug>(result: Result<T, kommo_files_model::ApiError>) {
        match result {
            Ok(value) => drop(format!("{value:?}")),
            Err(error) => {
                let _ = error.to_string();
                let _ = format!("{error:?}");
                let _ = error.status();
                let _ = error.retry_after();
            }
        }
    }
    match parser % 17 {
        0 => show(endpoint::parse_account(&r)),
        1 => {
            if let Ok(base) = endpoint::parse_drive_url(&r) {
                // A drive URL we accept is a valid base URL that owns itself.
                assert_eq!(BaseUrl::parse(base.as_str()).as_ref(), Ok(&base));
                assert!(base.owns(base.as_str()));
            }
        }
        2 => show(endpoint::parse_create_session(&r)),
        3 => show(endpoint::parse_upload_part(&r)),
        4 => show(endpoint::parse_file_page(&r)),
        5 => show(endpoint::parse_get_file(&r)),
        6 => show(endpoint::parse_edit_file(&r)),
        7 => show(endpoint::parse_delete_files(&r)),
        8 => show(endpoint::parse_restore_files(&r)),
        9 => show(endpoint::parse_versions(&r)),
        10 => show(endpoint::parse_entity_files(&r)),
        11 => show(endpoint::parse_link_change(&r)),
        12 => show(endpoint::parse_file_entities(&r)),
        13 => show(endpoint::parse_created_notes(&r)),
        14 => {
            if let Ok(notes) = endpoint::parse_notes(&r) {
                notes
                    .iter()
                    .for_each(|n| drop(format!("{:?}", n.attachment())));
            }
        }
        15 => {
            if let Ok(entity) = endpoint::parse_entity(&r) {
                let field = i64::from(flags) - 100;
                let _ = endpoint::file_field_values(&entity, field);
            }
        }
        _ => show(Err::<(), _>(kommo_files_model::ApiError::from_response(&r))),
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints and saved states.

/// Target `checkpoint`: the first byte picks the loader and the clock; the rest is the JSON.
pub fn checkpoint(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let json = input.rest();
    if mode & 1 == 0 {
        let Ok(checkpoint) = Checkpoint::from_json(json) else {
            return;
        };
        let _ = format!("{checkpoint:?}");
        // What we load, we write back the same.
        assert_eq!(
            Checkpoint::from_json(&checkpoint.to_json()).as_ref(),
            Ok(&checkpoint)
        );
        let drive = DriveHost::new(
            checkpoint.drive_url.clone(),
            AccessToken::new(TOKEN).unwrap(),
        );
        let source = SourceInfo::new(checkpoint.source.size, checkpoint.source.modified);
        let now = clock(mode, checkpoint.session_opened_at);
        if let Ok(mut machine) =
            UploadMachine::resume(drive, checkpoint, source, UploadConfig::default(), now, 1)
        {
            drive_loaded(&mut machine, now);
        }
    } else {
        let Ok(state) = serde_json::from_slice::<UploadState>(json) else {
            return;
        };
        let drive = DriveHost::new(state.drive_url().clone(), AccessToken::new(TOKEN).unwrap());
        let opened = state
            .checkpoint()
            .map_or(1_700_000_000, |c| c.session_opened_at);
        let now = clock(mode, opened);
        let Ok(mut machine) = UploadMachine::from_state(drive.clone(), state, now) else {
            return;
        };
        // A restored machine's state restores again.
        if let Some(again) = machine.state() {
            let text = serde_json::to_vec(&again).unwrap();
            assert!(!contains(&text, TOKEN.as_bytes()));
            let reloaded: UploadState = serde_json::from_slice(&text).unwrap();
            assert_eq!(reloaded, again);
            UploadMachine::from_state(drive, reloaded, now)
                .expect("a state taken from a restored machine restores");
        }
        drive_loaded(&mut machine, now);
    }
}

/// "Now" for a loaded checkpoint: at its opening (so it is accepted), or far from it.
fn clock(mode: u8, opened_at: u64) -> SystemTime {
    let secs = match (mode >> 1) % 4 {
        0 | 1 => opened_at.saturating_add(u64::from(mode >> 3)),
        2 => 1_700_000_000,
        _ => opened_at.saturating_add(24 * 3600),
    };
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs.min(1 << 40)))
        .unwrap_or(UNIX_EPOCH)
}

/// A few steps of a loaded machine with well-behaved reads, as long as they stay small.
fn drive_loaded(machine: &mut UploadMachine, now: SystemTime) {
    for _ in 0..16 {
        while let Some(event) = machine.poll_event() {
            let _ = format!("{event:?}");
        }
        match machine.poll_action(now) {
            Action::Read { len, .. } if len <= 1 << 16 => {
                machine.handle_read(Bytes::from(vec![b'x'; len]), now)
            }
            Action::Send(request) => {
                assert_token_stays_home(&machine_base(machine), &request);
                // The loaded policy meets a server asking for the longest wait it can.
                let mut headers = HeaderMap::new();
                headers.insert(header::RETRY_AFTER, HeaderValue::from(u64::MAX));
                machine.handle_response(Ok(response(429, headers, "")), now);
                let _ = machine.poll_action(now);
                break;
            }
            _ => break,
        }
    }
}

fn machine_base(machine: &UploadMachine) -> BaseUrl {
    machine
        .checkpoint()
        .map(|c| c.drive_url)
        .or_else(|| machine.state().map(|s| s.drive_url().clone()))
        .unwrap_or_else(|| BaseUrl::parse(DRIVE).unwrap())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// Base URLs.

/// Target `base_url`: the first byte picks a base (or the input up to a newline is one); the
/// rest is a URL to judge.
pub fn base_url(data: &[u8]) {
    let mut input = Input::new(data);
    let choice = input.byte();
    let rest = String::from_utf8_lossy(input.rest()).into_owned();
    let (base, url) = match choice % 5 {
        0 => (DRIVE.to_owned(), rest),
        1 => ("http://127.0.0.1:8080".to_owned(), rest),
        2 => ("http://[::1]:9".to_owned(), rest),
        3 => ("https://example.kommo.com".to_owned(), rest),
        _ => match rest.split_once('\n') {
            Some((base, url)) => (base.to_owned(), url.to_owned()),
            None => (rest.clone(), rest),
        },
    };
    // Whatever parses is a valid base: idempotent, https or loopback, owning itself.
    for candidate in [&base, &url] {
        if let Ok(parsed) = BaseUrl::parse(candidate) {
            assert_eq!(BaseUrl::parse(parsed.as_str()).as_ref(), Ok(&parsed));
            assert!(!parsed.as_str().ends_with('/'));
            assert!(parsed.owns(parsed.as_str()), "{parsed} does not own itself");
            let text = serde_json::to_string(&parsed).unwrap();
            assert_eq!(serde_json::from_str::<BaseUrl>(&text).unwrap(), parsed);
        }
    }
    let _ = redact_url(&url);
    let Ok(base) = BaseUrl::parse(&base) else {
        return;
    };
    let owned = base.owns(&url);
    assert_eq!(base.check(&url).is_ok(), owned);
    // The one rule, seen from the request actually built: whatever carries the token goes to
    // the base's own origin.
    let host = DriveHost::new(base.clone(), AccessToken::new(TOKEN).unwrap());
    let requests = [
        endpoint::next_page_request(&host, &url),
        endpoint::upload_part_request(&host, &url, Bytes::new()),
        endpoint::download_request(&host, &url),
        endpoint::redirect_request(&host, &endpoint::get_file_request(&host, "f"), &url),
    ];
    for request in requests.into_iter().flatten() {
        assert_token_stays_home(&base, &request);
    }
    if !owned {
        assert!(endpoint::next_page_request(&host, &url).is_err());
        assert!(endpoint::upload_part_request(&host, &url, Bytes::new()).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Retry-After.

/// Target `retry_after`: the input, split at newlines, is the `Retry-After` values of one
/// response (the first one counts).
pub fn retry_after_header(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(header::RETRY_AFTER, value);
        }
    }
    let Some(parsed) = RetryAfter::from_headers(&headers) else {
        return;
    };
    let text = headers[header::RETRY_AFTER].to_str().unwrap();
    assert_eq!(RetryAfter::parse(text), Some(parsed));
    for now in [
        UNIX_EPOCH,
        start(),
        UNIX_EPOCH + Duration::from_secs(1 << 34),
    ] {
        let delay = parsed.delay_from(now);
        match parsed {
            RetryAfter::Seconds(s) => assert_eq!(delay, Duration::from_secs(s)),
            RetryAfter::At(at) => {
                if let Some(then) = UNIX_EPOCH.checked_add(Duration::from_secs(at)) {
                    assert_eq!(delay, then.duration_since(now).unwrap_or_default());
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The upload machine.

/// At most this many steps per script; once the script is exhausted the machine must finish
/// within [`upload_bound`] more.
const MAX_STEPS: usize = 16_000;

fn source_bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 % 251) as u8).collect()
}

/// Target `upload_machine`: a header (size, policy, seed) then one step per poll.
pub fn upload_script(data: &[u8]) {
    let mut input = Input::new(data);
    let size = u64::from(input.u16() % 600);
    let data = source_bytes(size as usize);
    let config_byte = input.byte();
    let retry = RetryPolicy::default()
        .max_attempts(u32::from(config_byte % 5) + 1)
        .max_elapsed(Duration::from_secs(input.pick(&[300, 0, 5, 1 << 20])));
    let on_lost = match (config_byte >> 3) % 3 {
        0 => SessionLostPolicy::Restart { max_restarts: 2 },
        1 => SessionLostPolicy::Restart { max_restarts: 0 },
        _ => SessionLostPolicy::Fail,
    };
    let config = UploadConfig::default()
        .retry(retry)
        .on_session_lost(on_lost);
    let modified = (config_byte & 0x40 != 0).then_some(ModifiedTime {
        unix_seconds: 1_600_000_000,
        nanos: 5,
    });
    let drive = drive();
    let base = drive.base.clone();
    let mut machine = UploadMachine::new(
        drive.clone(),
        NewSession::new("fuzz.bin", size),
        SourceInfo::new(size, modified),
        config,
        u64::from(input.byte()),
    );
    if config_byte & 0x80 != 0 {
        machine = machine.without_prefix_hash();
    }
    let mut now = start();
    let mut session_id = 0i64;
    let mut exhausted_at: Option<usize> = None;
    let mut restarts_seen = 0u32;
    // Once a read returned other bytes than the source's, the hash is of those bytes.
    let mut tampered = false;
    for step in 0..MAX_STEPS {
        if exhausted_at.is_none() && input.is_empty() {
            exhausted_at = Some(step);
        }
        if let Some(at) = exhausted_at {
            assert!(
                step - at <= upload_bound(size),
                "the upload does not finish under a well-behaved server ({} steps)",
                step - at
            );
        }
        while let Some(event) = machine.poll_event() {
            match event {
                UploadEvent::Progress {
                    acknowledged,
                    total,
                } => {
                    assert!(acknowledged <= total && total == size)
                }
                UploadEvent::Checkpoint(checkpoint) => {
                    let json = checkpoint.to_json();
                    assert!(!contains(&json, TOKEN.as_bytes()));
                    assert!(checkpoint.offset <= size);
                    assert_eq!(Checkpoint::from_json(&json).as_ref(), Ok(&*checkpoint));
                }
                UploadEvent::Restarted { restart } => {
                    restarts_seen += 1;
                    assert_eq!(restart, restarts_seen);
                }
                _ => {}
            }
        }
        // Now and then the machine moves to another process.
        if input.byte() % 16 == 15 {
            if let Some(state) = machine.state() {
                let json = serde_json::to_vec(&state).unwrap();
                assert!(!contains(&json, TOKEN.as_bytes()));
                let state: UploadState = serde_json::from_slice(&json).unwrap();
                match UploadMachine::from_state(drive.clone(), state, now) {
                    Ok(restored) => machine = restored,
                    Err(error) => drop(error.to_string()),
                }
            }
        }
        match machine.poll_action(now) {
            Action::Read { offset, len } => {
                let end = offset.checked_add(len as u64).expect("read overflows");
                assert!(
                    end <= size,
                    "read [{offset}, {end}) beyond a source of {size}"
                );
                let mut bytes = data[offset as usize..end as usize].to_vec();
                match input.byte() % 32 {
                    30 => {
                        bytes.pop();
                    }
                    31 => {
                        bytes.iter_mut().take(1).for_each(|b| *b ^= 1);
                        tampered = true;
                    }
                    _ => {}
                }
                machine.handle_read(bytes.into(), now);
            }
            Action::Send(request) => {
                assert_token_stays_home(&base, &request);
                let (kind, attempt) = machine.sending().expect("a request is in flight");
                assert!(attempt >= 1);
                let result = upload_answer(&mut input, kind, size, &mut session_id, &request);
                let late = Duration::from_millis(u64::from(input.byte() % 4) * 700);
                now += late;
                machine.handle_response(result, now);
            }
            Action::Wait { until } => {
                assert!(until > now, "a wait in the past");
                now = until;
            }
            Action::AwaitResponse => panic!("awaiting a response that was given"),
            Action::Done(file) => {
                assert_eq!(machine.acknowledged(), size, "done without every byte");
                assert_eq!(file.size, size);
                if let Some(sha) = machine.source_sha256().filter(|_| !tampered) {
                    assert_eq!(sha, sha256_hex(&data));
                }
                return;
            }
            Action::Failed(error) => {
                let _ = error.to_string();
                if let Some(sha) = machine.source_sha256().filter(|_| !tampered) {
                    assert_eq!(sha, sha256_hex(&data), "a wrong hash after {error}");
                }
                return;
            }
            other => panic!("unexpected {other:?}"),
        }
        // Time moves on sometimes (a session can expire).
        if input.byte() % 64 == 63 {
            now += Duration::from_secs(u64::from(input.u16()) * 8);
        }
    }
    assert!(
        exhausted_at.is_none(),
        "an upload of {size} bytes still running after {MAX_STEPS} steps"
    );
}

/// Steps a well-behaved server needs at most: every part read and sent (from byte 0 again
/// after each restart), a verification, and the backoffs in progress.
fn upload_bound(size: u64) -> usize {
    (4 * size as usize + 32) * 4
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn upload_answer(
    input: &mut Input<'_>,
    kind: UploadRequest,
    size: u64,
    session_id: &mut i64,
    request: &Request<Bytes>,
) -> Result<Response<Bytes>, SendFailure> {
    let choice = input.byte() % 16;
    let correct = |session_id: &mut i64| match kind {
        UploadRequest::OpenSession => {
            *session_id += 1;
            let part = (size / 3).max(1);
            let body = format!(
                r#"{{"session_id":{session_id},"upload_url":"{DRIVE}/upload/{session_id}-1","max_file_size":314572800,"max_part_size":{part}}}"#
            );
            response(200, HeaderMap::new(), body)
        }
        UploadRequest::Part {
            number,
            last: false,
        } => {
            let body = format!(
                r#"{{"session_id":{session_id},"next_url":"{DRIVE}/upload/{session_id}-{}"}}"#,
                number + 1
            );
            response(202, HeaderMap::new(), body)
        }
        UploadRequest::Part { last: true, .. } => {
            let body = format!(r#"{{"uuid":"f-{session_id}","name":"fuzz","size":{size}}}"#);
            response(200, HeaderMap::new(), body)
        }
        _ => response(500, HeaderMap::new(), ""),
    };
    Ok(match choice {
        0..=8 => correct(session_id),
        9 => return Err(failure(input)),
        10 => {
            let status = status(input);
            let headers = headers_with_retry_after(input);
            response(status, headers, r#"{"title":"x","status":500}"#)
        }
        11 => {
            // A session with fuzzed limits and URL.
            let part = match input.byte() % 4 {
                0 => 0,
                1 => u64::from(input.byte()) + 1,
                2 => 1 << 40,
                _ => u64::from(input.u32()),
            };
            let max = input.pick(&[314_572_800u64, 0, size, size.saturating_sub(1)]);
            let url = url(input, "/upload/s");
            let body = serde_json::json!({
                "session_id": input.u16(), "upload_url": url,
                "max_file_size": max, "max_part_size": part,
            });
            response(200, HeaderMap::new(), body.to_string())
        }
        12 => {
            let url = url(input, "/upload/next");
            let status = input.pick(&[200, 201, 202]);
            let body = serde_json::json!({ "session_id": 1, "next_url": url });
            response(status, HeaderMap::new(), body.to_string())
        }
        13 => {
            let stored = input.pick(&[size, size + 1, size.saturating_sub(1), 0]);
            let body = serde_json::json!({ "uuid": "f", "size": stored });
            response(
                input.pick(&[200, 201, 202]),
                HeaderMap::new(),
                body.to_string(),
            )
        }
        14 => {
            let status = status(input);
            let headers = headers_with_retry_after(input);
            response(status, headers, input.bytes(200).to_vec())
        }
        _ => {
            // The upload part echoed back, as a broken server might.
            let _ = request;
            response(
                404,
                HeaderMap::new(),
                r#"{"title":"Not Found","status":404}"#,
            )
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The call machine.

const OPERATIONS: [Operation; 20] = [
    Operation::DiscoverDrive,
    Operation::CreateSession,
    Operation::UploadPart,
    Operation::ListFiles,
    Operation::GetFile,
    Operation::EditFile,
    Operation::DeleteFiles,
    Operation::RestoreFiles,
    Operation::ListVersions,
    Operation::Download,
    Operation::EntityFiles,
    Operation::AttachFiles,
    Operation::DetachFiles,
    Operation::FileEntities,
    Operation::AddNotes,
    Operation::ReadNotes,
    Operation::GetEntity,
    Operation::SetFileField,
    Operation::ExchangeCode,
    Operation::RefreshToken,
];

/// Target `call_machine`: a header (operation, policy, seed) then one step per poll.
pub fn call_script(data: &[u8]) {
    let mut input = Input::new(data);
    let operation = input.pick(&OPERATIONS);
    let max_attempts = u32::from(input.byte() % 8) + 1;
    let policy = RetryPolicy::default()
        .max_attempts(max_attempts)
        .delays(
            Duration::from_millis(u64::from(input.u16())),
            Duration::from_secs(u64::from(input.byte())),
        )
        .max_elapsed(Duration::from_secs(input.pick(&[300, 0, 1, 1 << 30])));
    let drive = drive();
    let account = AccountHost::new(
        BaseUrl::parse(ACCOUNT).unwrap(),
        AccessToken::new(TOKEN).unwrap(),
    );
    let (owner, request) = if input.byte().is_multiple_of(2) {
        (
            drive.base.clone(),
            endpoint::get_file_request(&drive, &input.string(20)),
        )
    } else {
        (account.base.clone(), endpoint::account_request(&account))
    };
    let mut machine = CallMachine::new(operation, request, policy, u64::from(input.byte()));
    let mut now = start();
    let mut sends = 0u32;
    // Whether the last outcome forbids another attempt.
    let mut final_outcome: Option<String> = None;
    let mut exhausted_at: Option<usize> = None;
    for step in 0..512 {
        if exhausted_at.is_none() && input.is_empty() {
            exhausted_at = Some(step);
        }
        if let Some(at) = exhausted_at {
            assert!(
                step - at <= 8,
                "the call does not end under a well-behaved server"
            );
        }
        match machine.poll_action(now) {
            CallAction::Pace => {
                if input.byte() % 16 == 15 {
                    assert!(matches!(
                        machine.poll_action(now),
                        CallAction::AwaitResponse
                    ));
                }
                let send_at = match input.byte() % 4 {
                    0 | 1 => now,
                    2 => now + Duration::from_millis(u64::from(input.u16())),
                    _ => now - Duration::from_secs(5),
                };
                machine.handle_slot(send_at);
            }
            CallAction::Wait { until } => {
                assert!(until > now, "a wait in the past");
                now = until;
            }
            CallAction::Send { request, attempt } => {
                sends += 1;
                assert_eq!(attempt, sends, "attempt numbers count the sends");
                assert!(
                    sends <= max_attempts,
                    "{sends} attempts, the policy allows {max_attempts}"
                );
                if let Some(why) = &final_outcome {
                    panic!("{operation} sent again after {why}");
                }
                assert_token_stays_home(&owner, &request);
                if input.byte() % 16 == 15 {
                    // Spurious answers are ignored.
                    machine.handle_slot(now);
                    assert!(matches!(
                        machine.poll_action(now),
                        CallAction::AwaitResponse
                    ));
                }
                now += Duration::from_millis(u64::from(input.byte()) * 10);
                let result = if input.byte() % 5 == 4 {
                    let failure = failure(&mut input);
                    if !operation.is_idempotent() && failure.may_have_reached_server() {
                        final_outcome = Some(format!("{failure}"));
                    }
                    if !failure.is_retryable() {
                        final_outcome = Some(format!("{failure}"));
                    }
                    Err(failure)
                } else {
                    let status = if input.is_empty() {
                        200
                    } else {
                        status(&mut input)
                    };
                    let code = StatusCode::from_u16(status).unwrap();
                    let retryable = code == StatusCode::TOO_MANY_REQUESTS
                        || (operation.is_idempotent()
                            && (code == StatusCode::REQUEST_TIMEOUT || code.is_server_error()));
                    if !retryable {
                        final_outcome = Some(format!("HTTP {status}"));
                    }
                    let headers = headers_with_retry_after(&mut input);
                    Ok(response(status, headers, Bytes::new()))
                };
                machine.handle_response(result, now);
            }
            CallAction::AwaitResponse => panic!("awaiting what was given"),
            CallAction::Done(response) => {
                assert!(sends >= 1);
                let _ = response;
                return;
            }
            CallAction::Failed(failure) => {
                assert_eq!(failure.attempts, sends);
                let _ = failure.to_string();
                return;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        exhausted_at.is_none(),
        "a call still running after 512 steps"
    );
}

// ---------------------------------------------------------------------------------------------
// The download machine.

/// Target `download_machine`: a header (link, policy, seed) then one step per poll.
pub fn download_script(data: &[u8]) {
    let mut input = Input::new(data);
    let link = match input.byte() % 4 {
        0 | 1 => format!("{DRIVE}/download/f/v/a.txt"),
        2 => "https://cdn.example/download/f/v/a.txt".to_owned(),
        _ => url(&mut input, "/download/x"),
    };
    let max_attempts = u32::from(input.byte() % 6) + 1;
    let policy = RetryPolicy::default().max_attempts(max_attempts);
    let drive = drive();
    let base = drive.base.clone();
    let Ok(mut machine) = DownloadMachine::new(drive, &link, policy, u64::from(input.byte()))
    else {
        return;
    };
    let mut now = start();
    let mut sends = 0u32;
    let mut redirects = 0u32;
    // The Content-Length the last success head announced as one plain number, if it did.
    let mut announced: Option<u64> = None;
    let mut written = 0u64;
    let mut exhausted_at: Option<usize> = None;
    for step in 0..512 {
        if exhausted_at.is_none() && input.is_empty() {
            exhausted_at = Some(step);
        }
        if let Some(at) = exhausted_at {
            assert!(
                step - at <= 8,
                "the download does not end under a well-behaved server"
            );
        }
        match machine.poll_action(now) {
            DownloadAction::Pace => machine.handle_slot(now),
            DownloadAction::Wait { until } => {
                assert!(until > now, "a wait in the past");
                now = until;
            }
            DownloadAction::Send { request, attempt } => {
                sends += 1;
                assert!(
                    attempt <= max_attempts,
                    "attempt {attempt} of {max_attempts}"
                );
                assert!(
                    sends <= max_attempts + redirects,
                    "{sends} requests: {max_attempts} attempts and {redirects} redirects"
                );
                assert_token_stays_home(&base, &request);
                let head = download_head(&mut input, &mut announced, &mut redirects);
                machine.handle_head(head, now);
            }
            DownloadAction::ReadBody { expected } => {
                written = 0;
                let length = expected.unwrap_or(64);
                loop {
                    let choice = input.byte() % 8;
                    let chunk = match choice {
                        _ if input.is_empty() => length.saturating_sub(written),
                        0..=3 => (length.saturating_sub(written)).min(u64::from(input.byte()) + 1),
                        4 => u64::from(input.byte()),
                        5 => 0,
                        6 => {
                            machine.handle_body_error(failure(&mut input), now);
                            break;
                        }
                        _ => {
                            machine.handle_end();
                            break;
                        }
                    };
                    if chunk > 0 {
                        written += chunk;
                        machine.handle_chunk(chunk as usize);
                    }
                    if input.is_empty() && written >= length {
                        machine.handle_end();
                        break;
                    }
                    match machine.poll_action(now) {
                        DownloadAction::AwaitResponse => {}
                        DownloadAction::Failed(_) => break,
                        other => panic!("between chunks: {other:?}"),
                    }
                }
            }
            DownloadAction::ReadErrorBody { limit } => {
                let body = input.bytes(limit).to_vec();
                machine.handle_error_body(body.into(), now);
            }
            DownloadAction::AwaitResponse => panic!("awaiting what was given"),
            DownloadAction::Done { written: done } => {
                assert_eq!(done, written, "done with another count than the sink's");
                if let Some(length) = announced {
                    assert_eq!(done, length, "done short of or past Content-Length");
                }
                return;
            }
            DownloadAction::Failed(failure) => {
                let _ = failure.to_string();
                return;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        exhausted_at.is_none(),
        "a download still running after 512 steps"
    );
}

fn download_head(
    input: &mut Input<'_>,
    announced: &mut Option<u64>,
    redirects: &mut u32,
) -> Result<Response<()>, SendFailure> {
    let mut head = Response::new(());
    let choice = if input.is_empty() {
        0
    } else {
        input.byte() % 8
    };
    match choice {
        0..=2 => {
            let length = u64::from(input.byte());
            *head.status_mut() = StatusCode::OK;
            *announced = None;
            match input.byte() % 6 {
                0..=2 => {
                    head.headers_mut()
                        .insert(header::CONTENT_LENGTH, length.into());
                    *announced = Some(length);
                }
                3 => {}
                4 => {
                    head.headers_mut()
                        .append(header::CONTENT_LENGTH, length.into());
                    head.headers_mut()
                        .append(header::CONTENT_LENGTH, (length + 1).into());
                }
                _ => {
                    if let Ok(value) = HeaderValue::from_bytes(input.bytes(12)) {
                        head.headers_mut().insert(header::CONTENT_LENGTH, value);
                    }
                }
            }
        }
        3 | 4 => {
            *head.status_mut() =
                StatusCode::from_u16(input.pick(&[301, 302, 303, 307, 308])).unwrap();
            let location = match input.byte() % 4 {
                0 => "/download/moved".to_owned(),
                1 => "https://cdn.example/download/f".to_owned(),
                _ => url(input, "/download/moved"),
            };
            if let Ok(value) = HeaderValue::from_str(&location) {
                head.headers_mut().insert(header::LOCATION, value);
            }
            // Counted generously: every redirect head may be followed.
            *redirects += 1;
        }
        5 | 6 => {
            let status = status(input);
            *head.status_mut() = StatusCode::from_u16(status).unwrap();
            *head.headers_mut() = headers_with_retry_after(input);
            if head.status().is_redirection() {
                *redirects += 1;
            }
            if head.status().is_success() {
                *announced = None;
            }
        }
        _ => return Err(failure(input)),
    }
    Ok(head)
}
