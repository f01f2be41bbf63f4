//! Twin of the `emulator` fuzz target (`fuzz/`, nightly): raw HTTP/1.1 requests, well-formed
//! or not, to both listeners of one emulator. It answers or closes, never panics, never 500s.

mod fuzzing;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use proptest::prelude::*;

/// A panic in one of the emulator's tasks only drops its connection: catch it here.
static PANICKED: AtomicBool = AtomicBool::new(false);

fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            previous(info);
        }));
    });
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    let method = prop::sample::select(vec![
        "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "G\0T",
    ]);
    let path = prop::sample::select(vec![
        "/api/v4/account?with=drive_url",
        "/v1.0/sessions",
        "/v1.0/files",
        "/v1.0/files?limit=1&page=999999999999",
        "/v1.0/files/restore",
        "/v1.0/files/x/versions",
        "/v1.0/sessions/upload/1-1",
        "/upload/1-1",
        "/download/a/b/c.txt",
        "/api/v4/leads/1/files",
        "/api/v4/leads/1/notes",
        "/api/v4/leads/-1",
        "/%ff%00/..",
        "/oauth2/access_token",
        "/oauth?client_id=fuzz-client&state=%ff",
        "*",
    ]);
    let header = prop::sample::select(vec![
        "Authorization: Bearer {token}\r\n",
        "Authorization: Bearer nope\r\n",
        "Content-Type: application/json\r\n",
        "Content-Length: 5\r\n",
        "Content-Length: 99999999999999999999\r\n",
        "Transfer-Encoding: chunked\r\n",
        "Expect: 100-continue\r\n",
        "Connection: close\r\n",
    ]);
    let body = prop_oneof![
        Just(String::new()),
        Just(r#"{"file_name":"a.txt","file_size":3}"#.to_owned()),
        Just(r#"[{"uuid":"x"}]"#.to_owned()),
        Just(
            r#"{"client_id":"fuzz-client","client_secret":"fuzz-secret","grant_type":"refresh_token","refresh_token":"x"}"#
                .to_owned()
        ),
        Just("5\r\nhello\r\n0\r\n\r\n".to_owned()),
        "\\PC{0,60}",
    ];
    (
        any::<u8>(),
        method,
        path,
        prop::collection::vec(header, 0..4),
        body,
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(host, method, path, headers, body, noise)| {
            let mut data = vec![host];
            data.extend_from_slice(
                format!(
                    "{method} {path} HTTP/1.1\r\nHost: x\r\n{}\r\n{body}",
                    headers.concat()
                )
                .as_bytes(),
            );
            if host & 0x80 != 0 {
                data.extend_from_slice(&noise);
            }
            data
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn emulator_twin(data in prop_oneof![request(), prop::collection::vec(any::<u8>(), 0..200)]) {
        watch_panics();
        fuzzing::raw_request(&data);
        prop_assert!(!PANICKED.load(Ordering::SeqCst), "the emulator panicked");
    }
}

#[test]
fn a_well_formed_request_is_answered() {
    let answer = fuzzing::raw_request(
        b"\x01GET /api/v4/account?with=drive_url HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
    );
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
