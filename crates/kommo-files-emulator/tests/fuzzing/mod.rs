//! The harness shared by the `emulator` fuzz target (`fuzz/fuzz_targets/emulator.rs`, which
//! includes this file by path) and its proptest twin (`tests/raw_requests.rs`): arbitrary bytes
//! sent as a raw HTTP/1.1 request to one emulator per process, started once.
//!
//! The emulator must answer with an HTTP response or close the connection, never panic, and
//! never answer 500 (in memory, a 500 can only be a bug). Requests to the control API
//! (`/__emulator/`) are skipped: they change the emulator for every later input.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use kommo_files_emulator::{Emulator, EmulatorHandle, Integration};

static EMULATOR: OnceLock<EmulatorHandle> = OnceLock::new();
static SENT: AtomicU64 = AtomicU64::new(0);

/// The emulator of this process.
pub fn emulator() -> &'static EmulatorHandle {
    EMULATOR.get_or_init(|| {
        Emulator::builder()
            .max_part_size(1024)
            .integration(Integration::new(
                "fuzz-client",
                "fuzz-secret",
                "http://127.0.0.1:9/cb",
            ))
            .start()
            .expect("the emulator starts")
    })
}

/// The first byte picks the host (even: drive, odd: account); the rest is sent as it is, after
/// replacing `{token}` with the emulator's token. Returns the raw answer.
pub fn raw_request(data: &[u8]) -> Vec<u8> {
    let Some((host, request)) = data.split_first() else {
        return Vec::new();
    };
    if request
        .windows(10)
        .any(|w| w.eq_ignore_ascii_case(b"__emulator"))
    {
        return Vec::new();
    }
    let emulator = emulator();
    let token = emulator.token();
    let request = replace(request, b"{token}", token.as_bytes());
    let url = if host % 2 == 0 {
        emulator.drive_url()
    } else {
        emulator.account_url()
    };
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("the emulator accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(&request);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = (&mut stream).take(4 << 20).read_to_end(&mut answer);
    if SENT.fetch_add(1, Ordering::Relaxed).is_multiple_of(1024) {
        // The request log would grow for ever.
        emulator.clear_requests();
    }
    // The first answer's status line (a later one could hide in a body: not looked at).
    if let Some(status_line) = answer.split(|b| *b == b'\n').next() {
        assert!(
            !status_line.starts_with(b"HTTP/1.1 500"),
            "the emulator answered {}",
            String::from_utf8_lossy(status_line)
        );
    }
    answer
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(from) {
            out.extend_from_slice(to);
            rest = &rest[from.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}
