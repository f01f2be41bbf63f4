//! The download machine driven with simulated time: a table of canned heads and bodies per row,
//! the requests, waits and outcome that must follow.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Response, StatusCode};
use kommo_files_model::download::{
    DownloadAction, DownloadFailure, DownloadMachine, ERROR_BODY_LIMIT,
};
use kommo_files_model::endpoint::DriveHost;
use kommo_files_model::retry::RetryPolicy;
use kommo_files_model::upload::{SendFailure, SendFailureKind};
use kommo_files_model::{AccessToken, BaseUrl, UrlError};

const T0: u64 = 1_700_000_000;
const SEED: u64 = 42;
const DRIVE: &str = "https://drive-c.kommo.com";
const LINK: &str = "https://drive-c.kommo.com/download/f-uuid/v-uuid/report.pdf";
const BODY: &[u8] = b"hello, world";
/// The simulated transport hands the body over in chunks of this size.
const CHUNK: usize = 5;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0)
}

fn drive() -> DriveHost {
    DriveHost::new(
        BaseUrl::parse(DRIVE).unwrap(),
        AccessToken::new("secret-token").unwrap(),
    )
}

/// What the simulated server or transport does with one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    /// 200 with `BODY` and this `Content-Length` header (`None`: no header).
    Full(Option<&'static str>),
    /// 200 with `BODY`, whose stream breaks after `after` bytes.
    BreaksAfter(usize),
    /// 302 with this `Location` (`None`: no header).
    Redirect(Option<&'static str>),
    /// An error status with this body and `Retry-After`.
    Status(u16, &'static str, Option<&'static str>),
    /// No head at all.
    NoHead(SendFailureKind),
}

#[derive(Debug)]
struct Sent {
    uri: String,
    has_token: bool,
    attempt: u32,
}

#[derive(Debug)]
struct Run {
    sent: Vec<Sent>,
    waits: Vec<Duration>,
    paces: usize,
    sink: Vec<u8>,
    outcome: Result<u64, DownloadFailure>,
    machine: DownloadMachine,
}

impl Run {
    fn uris(&self) -> Vec<&str> {
        self.sent.iter().map(|s| s.uri.as_str()).collect()
    }
}

fn head(reply: Reply) -> Result<Response<()>, SendFailure> {
    let mut builder = Response::builder();
    builder = match reply {
        Reply::Full(Some(length)) => builder.header("content-length", length),
        Reply::Full(None) => builder,
        Reply::BreaksAfter(_) => builder.header("content-length", BODY.len()),
        Reply::Redirect(location) => {
            let builder = builder.status(302);
            match location {
                Some(location) => builder.header("location", location),
                None => builder,
            }
        }
        Reply::Status(code, _, retry_after) => {
            let builder = builder.status(code);
            match retry_after {
                Some(value) => builder.header("retry-after", value),
                None => builder,
            }
        }
        Reply::NoHead(kind) => return Err(SendFailure::new(kind, "simulated")),
    };
    Ok(builder.body(()).unwrap())
}

fn run(replies: &[Reply]) -> Run {
    run_with(replies, RetryPolicy::default())
}

fn run_with(replies: &[Reply], policy: RetryPolicy) -> Run {
    let mut machine = DownloadMachine::new(drive(), LINK, policy, SEED).unwrap();
    let mut now = t0();
    let mut replies = replies.iter().copied();
    let mut current = None;
    let (mut sent, mut waits, mut paces, mut sink) = (Vec::new(), Vec::new(), 0, Vec::new());
    for _ in 0..1000 {
        match machine.poll_action(now) {
            DownloadAction::Pace => {
                paces += 1;
                machine.handle_slot(now);
            }
            DownloadAction::Wait { until } => {
                waits.push(until.duration_since(now).unwrap());
                now = until;
            }
            DownloadAction::Send { request, attempt } => {
                sent.push(Sent {
                    uri: request.uri().to_string(),
                    has_token: request.headers().contains_key("authorization"),
                    attempt,
                });
                let reply = replies.next().expect("more requests than replies");
                current = Some(reply);
                now += Duration::from_millis(10);
                machine.handle_head(head(reply), now);
            }
            DownloadAction::ReadBody { expected } => {
                assert_eq!(expected, machine.expected());
                let breaks_after = match current {
                    Some(Reply::BreaksAfter(after)) => Some(after),
                    _ => None,
                };
                let available = &BODY[..breaks_after.unwrap_or(BODY.len())];
                for chunk in available.chunks(CHUNK) {
                    sink.extend_from_slice(chunk);
                    machine.handle_chunk(chunk.len());
                    // Polling mid-body says whether to go on.
                    if !matches!(machine.poll_action(now), DownloadAction::AwaitResponse) {
                        break;
                    }
                }
                match breaks_after {
                    Some(_) => machine
                        .handle_body_error(SendFailure::new(SendFailureKind::Body, "reset"), now),
                    None => machine.handle_end(),
                }
            }
            DownloadAction::ReadErrorBody { limit } => {
                assert_eq!(limit, ERROR_BODY_LIMIT);
                let Some(Reply::Status(_, body, _)) = current else {
                    panic!("an error body for {current:?}");
                };
                let body = &body.as_bytes()[..body.len().min(limit)];
                machine.handle_error_body(Bytes::copy_from_slice(body), now);
            }
            DownloadAction::Done { written } => {
                return Run {
                    sent,
                    waits,
                    paces,
                    sink,
                    outcome: Ok(written),
                    machine,
                };
            }
            DownloadAction::Failed(failure) => {
                return Run {
                    sent,
                    waits,
                    paces,
                    sink,
                    outcome: Err(failure),
                    machine,
                };
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("the machine never finished");
}

/// One row: replies, the outcome, and how many requests it took.
struct Row {
    name: &'static str,
    replies: Vec<Reply>,
    check: fn(&Result<u64, DownloadFailure>) -> bool,
    requests: usize,
}

#[test]
fn download_table() {
    use Reply::*;
    use SendFailureKind::*;
    let len = BODY.len() as u64;
    let ok = Full(Some("12"));
    let rows = vec![
        Row {
            name: "200 first try",
            replies: vec![ok],
            check: |o| o == &Ok(12),
            requests: 1,
        },
        Row {
            name: "no Content-Length: read to the end",
            replies: vec![Full(None)],
            check: |o| o == &Ok(12),
            requests: 1,
        },
        Row {
            name: "a garbage Content-Length counts as unknown",
            replies: vec![Full(Some("twelve"))],
            check: |o| o == &Ok(12),
            requests: 1,
        },
        Row {
            name: "body shorter than Content-Length",
            replies: vec![Full(Some("20"))],
            check: |o| {
                o == &Err(DownloadFailure::Incomplete {
                    expected: 20,
                    received: 12,
                })
            },
            requests: 1,
        },
        Row {
            name: "body longer than Content-Length: fails at the first byte too many",
            replies: vec![Full(Some("7"))],
            check: |o| {
                o == &Err(DownloadFailure::Incomplete {
                    expected: 7,
                    received: 10,
                })
            },
            requests: 1,
        },
        Row {
            name: "5 redirects are followed",
            replies: vec![
                Redirect(Some("/download/1")),
                Redirect(Some("/download/2")),
                Redirect(Some("/download/3")),
                Redirect(Some("/download/4")),
                Redirect(Some("/download/5")),
                ok,
            ],
            check: |o| o == &Ok(12),
            requests: 6,
        },
        Row {
            name: "a 6th redirect is too many",
            replies: vec![Redirect(Some("/download/again")); 6],
            check: |o| o == &Err(DownloadFailure::TooManyRedirects { limit: 5 }),
            requests: 6,
        },
        Row {
            name: "a redirect without Location",
            replies: vec![Redirect(None)],
            check: |o| o == &Err(DownloadFailure::MissingLocation),
            requests: 1,
        },
        Row {
            name: "a redirect with an empty Location",
            replies: vec![Redirect(Some(" "))],
            check: |o| o == &Err(DownloadFailure::MissingLocation),
            requests: 1,
        },
        Row {
            name: "https → http downgrade refused",
            replies: vec![Redirect(Some("http://drive-c.kommo.com/download/x"))],
            check: |o| {
                matches!(
                    o,
                    Err(DownloadFailure::Refused(UrlError::InsecureScheme(_)))
                )
            },
            requests: 1,
        },
        Row {
            name: "a redirect to another scheme refused",
            replies: vec![Redirect(Some("ftp://drive-c.kommo.com/x"))],
            check: |o| matches!(o, Err(DownloadFailure::Refused(UrlError::Invalid(_)))),
            requests: 1,
        },
        Row {
            name: "a body error before the first byte is retried",
            replies: vec![BreaksAfter(0), ok],
            check: |o| o == &Ok(12),
            requests: 2,
        },
        Row {
            name: "a body error after the first byte is not retried",
            replies: vec![BreaksAfter(7), ok],
            check: |o| {
                matches!(o, Err(DownloadFailure::Transport { failure, attempts: 1 })
                    if failure.kind == Body)
            },
            requests: 1,
        },
        Row {
            name: "5xx before the body retried, then success",
            replies: vec![Status(503, "busy", None), Status(500, "", None), ok],
            check: |o| o == &Ok(12),
            requests: 3,
        },
        Row {
            name: "408 retried",
            replies: vec![Status(408, "", None), ok],
            check: |o| o == &Ok(12),
            requests: 2,
        },
        Row {
            name: "no head (timeout) retried",
            replies: vec![NoHead(Timeout), NoHead(Connect), ok],
            check: |o| o == &Ok(12),
            requests: 3,
        },
        Row {
            name: "TLS failure not retried",
            replies: vec![NoHead(Tls)],
            check: |o| {
                matches!(o, Err(DownloadFailure::Transport { failure, attempts: 1 })
                    if failure.kind == Tls)
            },
            requests: 1,
        },
        Row {
            name: "no head six times exhausts the retries",
            replies: vec![NoHead(Io); 6],
            check: |o| matches!(o, Err(DownloadFailure::Transport { attempts: 6, .. })),
            requests: 6,
        },
        Row {
            name: "503 six times: the last error",
            replies: vec![Status(503, "still busy", None); 6],
            check: |o| matches!(o, Err(DownloadFailure::Api(e)) if e.status() == 503 && e.body() == "still busy"),
            requests: 6,
        },
        Row {
            name: "404 fails at once with the body",
            replies: vec![Status(
                404,
                r#"{"title":"Not Found","detail":"no such file"}"#,
                None,
            )],
            check: |o| {
                matches!(o, Err(DownloadFailure::Api(e))
                    if e.status() == 404 && e.problem().and_then(|p| p.detail.as_deref()) == Some("no such file"))
            },
            requests: 1,
        },
        Row {
            name: "401 fails at once",
            replies: vec![Status(401, "", None)],
            check: |o| matches!(o, Err(DownloadFailure::Api(e)) if e.status() == 401),
            requests: 1,
        },
        Row {
            name: "403 fails at once (a blocked account)",
            replies: vec![Status(403, "<html>blocked</html>", None)],
            check: |o| matches!(o, Err(DownloadFailure::Api(e)) if e.status() == 403 && e.body() == "<html>blocked</html>"),
            requests: 1,
        },
        Row {
            name: "a redirect then 5xx on the new host retries that host",
            replies: vec![
                Redirect(Some("https://cdn.example.net/x")),
                Status(502, "", None),
                ok,
            ],
            check: |o| o == &Ok(12),
            requests: 3,
        },
    ];
    for row in rows {
        let run = run(&row.replies);
        assert!((row.check)(&run.outcome), "{}: {:?}", row.name, run.outcome);
        assert_eq!(run.sent.len(), row.requests, "{}: requests", row.name);
        assert_eq!(
            run.paces, row.requests,
            "{}: one slot per request",
            row.name
        );
        if let Ok(written) = run.outcome {
            assert_eq!(written, len, "{}", row.name);
            assert_eq!(run.sink, BODY, "{}: the sink holds the body once", row.name);
            assert_eq!(run.machine.written(), len);
        }
    }
}

#[test]
fn redirects_relative_and_absolute_keep_the_token_on_the_drive_host_only() {
    use Reply::*;
    let run = run(&[
        Redirect(Some("/download/moved/report.pdf")),
        Redirect(Some("https://DRIVE-C.kommo.com/download/again/report.pdf")),
        Redirect(Some("https://cdn.example.net/signed/report.pdf?sig=abc")),
        Redirect(Some("/signed/next.pdf")),
        Full(Some("12")),
    ]);
    assert_eq!(run.outcome, Ok(12));
    assert_eq!(
        run.uris(),
        [
            LINK,
            "https://drive-c.kommo.com/download/moved/report.pdf",
            "https://DRIVE-C.kommo.com/download/again/report.pdf",
            "https://cdn.example.net/signed/report.pdf?sig=abc",
            // A relative redirect stays on the host that sent it.
            "https://cdn.example.net/signed/next.pdf",
        ]
    );
    let tokens: Vec<bool> = run.sent.iter().map(|s| s.has_token).collect();
    assert_eq!(tokens, [true, true, true, false, false]);
    // Redirect hops are not retries.
    assert!(run.sent.iter().all(|s| s.attempt == 1));
    assert!(run.waits.is_empty());
}

#[test]
fn a_link_off_the_drive_host_goes_without_the_token() {
    let machine = DownloadMachine::new(
        drive(),
        "https://cdn.example.net/x.pdf",
        RetryPolicy::default(),
        SEED,
    );
    let mut machine = machine.unwrap();
    assert!(matches!(machine.poll_action(t0()), DownloadAction::Pace));
    machine.handle_slot(t0());
    let DownloadAction::Send { request, .. } = machine.poll_action(t0()) else {
        panic!("expected a send");
    };
    assert!(!request.headers().contains_key("authorization"));
}

#[test]
fn bad_links_are_refused_up_front() {
    for link in [
        "http://drive-c.kommo.com/download/x",
        "ftp://drive-c.kommo.com/x",
        "/download/x",
        "",
    ] {
        let result = DownloadMachine::new(drive(), link, RetryPolicy::default(), SEED);
        assert!(result.is_err(), "{link}");
    }
}

#[test]
fn retries_wait_for_retry_after_and_count_attempts() {
    use Reply::*;
    let run = run(&[
        Status(429, "", Some("4")),
        Status(503, "", Some("Tue, 14 Nov 2023 22:13:50 GMT")),
        Full(Some("12")),
    ]);
    assert_eq!(run.outcome, Ok(12));
    // The second failure comes at T0 + 10 ms + 4 s + 10 ms; the date is T0 + 30 s.
    assert_eq!(
        run.waits,
        [Duration::from_secs(4), Duration::from_millis(25_980)]
    );
    let attempts: Vec<u32> = run.sent.iter().map(|s| s.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
}

#[test]
fn retry_after_beyond_the_elapsed_bound_gives_up_with_the_error() {
    let policy = RetryPolicy::default().max_elapsed(Duration::from_secs(60));
    let run = run_with(&[Reply::Status(429, "slow down", Some("120"))], policy);
    assert!(
        matches!(&run.outcome, Err(DownloadFailure::Api(e)) if e.status() == StatusCode::TOO_MANY_REQUESTS),
        "{:?}",
        run.outcome
    );
    assert!(run.waits.is_empty());
}

#[test]
fn error_bodies_are_read_only_up_to_the_limit() {
    let mut machine = DownloadMachine::new(drive(), LINK, RetryPolicy::never(), SEED).unwrap();
    assert!(matches!(machine.poll_action(t0()), DownloadAction::Pace));
    machine.handle_slot(t0());
    assert!(matches!(
        machine.poll_action(t0()),
        DownloadAction::Send { .. }
    ));
    machine.handle_head(head(Reply::Status(500, "", None)), t0());
    assert!(matches!(
        machine.poll_action(t0()),
        DownloadAction::ReadErrorBody { limit } if limit == ERROR_BODY_LIMIT
    ));
    // Asked once; polling again while it is read only waits.
    assert!(matches!(
        machine.poll_action(t0()),
        DownloadAction::AwaitResponse
    ));
    machine.handle_error_body(Bytes::new(), t0());
    assert!(matches!(
        machine.poll_action(t0()),
        DownloadAction::Failed(DownloadFailure::Api(e)) if e.status() == 500
    ));
}

#[test]
fn out_of_order_calls_are_ignored() {
    let mut machine = DownloadMachine::new(drive(), LINK, RetryPolicy::default(), SEED).unwrap();
    let now = t0();
    // Nothing asked for any of these yet.
    machine.handle_head(head(Reply::Full(Some("12"))), now);
    machine.handle_chunk(5);
    machine.handle_end();
    machine.handle_error_body(Bytes::from_static(b"x"), now);
    machine.handle_body_error(SendFailure::new(SendFailureKind::Body, "x"), now);
    assert!(matches!(machine.poll_action(now), DownloadAction::Pace));
    assert!(matches!(
        machine.poll_action(now),
        DownloadAction::AwaitResponse
    ));
    machine.handle_slot(now);
    assert!(matches!(
        machine.poll_action(now),
        DownloadAction::Send { attempt: 1, .. }
    ));
    machine.handle_end();
    machine.handle_head(head(Reply::Full(Some("3"))), now);
    machine.handle_head(head(Reply::Status(500, "", None)), now);
    assert!(matches!(
        machine.poll_action(now),
        DownloadAction::ReadBody { expected: Some(3) }
    ));
    machine.handle_error_body(Bytes::from_static(b"x"), now);
    machine.handle_chunk(3);
    machine.handle_end();
    machine.handle_end();
    machine.handle_chunk(3);
    for _ in 0..2 {
        assert!(matches!(
            machine.poll_action(now),
            DownloadAction::Done { written: 3 }
        ));
    }
}

#[test]
fn failures_read_well() {
    let transport = DownloadFailure::Transport {
        failure: SendFailure::new(SendFailureKind::Timeout, "no answer"),
        attempts: 3,
    };
    assert_eq!(
        transport.to_string(),
        "transport failure after 3 attempt(s): Timeout: no answer"
    );
    assert_eq!(
        DownloadFailure::Incomplete {
            expected: 10,
            received: 4
        }
        .to_string(),
        "received 4 bytes where Content-Length announced 10"
    );
}
