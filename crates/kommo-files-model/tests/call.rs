//! The call machine driven with simulated time: a table of canned answers per row, the actions
//! and delays that must follow.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Response, StatusCode};
use kommo_files_model::call::{CallAction, CallFailure, CallMachine};
use kommo_files_model::endpoint::{self, DriveHost};
use kommo_files_model::retry::RetryPolicy;
use kommo_files_model::upload::{SendFailure, SendFailureKind};
use kommo_files_model::wire::NewSession;
use kommo_files_model::{AccessToken, BaseUrl, Operation};

const T0: u64 = 1_700_000_000;
const SEED: u64 = 42;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0)
}

fn drive() -> DriveHost {
    DriveHost::new(
        BaseUrl::parse("https://drive-c.kommo.com").unwrap(),
        AccessToken::new("secret-token").unwrap(),
    )
}

/// What the simulated server or transport answers to one attempt.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// A status with a `Retry-After` value.
    RetryAfter(u16, &'static str),
    Fail(SendFailureKind),
}

impl Answer {
    fn result(self) -> Result<Response<Bytes>, SendFailure> {
        let status = match self {
            Self::Status(code) | Self::RetryAfter(code, _) => code,
            Self::Fail(kind) => return Err(SendFailure::new(kind, "simulated")),
        };
        let mut response = Response::new(Bytes::from_static(b"{}"));
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        if let Self::RetryAfter(_, value) = self {
            response
                .headers_mut()
                .insert("retry-after", value.parse().unwrap());
        }
        Ok(response)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Done(u16),
    Failed {
        kind: SendFailureKind,
        attempts: u32,
    },
}

/// Everything a run did.
#[derive(Debug)]
struct Run {
    /// (attempt, time) of every send.
    sends: Vec<(u32, SystemTime)>,
    /// Every wait, as a duration from the time it was asked.
    waits: Vec<Duration>,
    /// Slots asked for.
    paces: usize,
    end: End,
    failure: Option<CallFailure>,
}

/// A pacer that lets every request go at once.
fn no_pacing(now: SystemTime) -> SystemTime {
    now
}

fn run(
    operation: Operation,
    policy: RetryPolicy,
    answers: &[Answer],
    mut pacer: impl FnMut(SystemTime) -> SystemTime,
) -> Run {
    let request = endpoint::get_file_request(&drive(), "f");
    let mut machine = CallMachine::new(operation, request, policy, SEED);
    assert_eq!(machine.operation(), operation);
    let mut now = t0();
    let mut answers = answers.iter();
    let (mut sends, mut waits, mut paces) = (Vec::new(), Vec::new(), 0);
    for _ in 0..1000 {
        match machine.poll_action(now) {
            CallAction::Pace => {
                paces += 1;
                machine.handle_slot(pacer(now));
            }
            CallAction::Wait { until } => {
                assert!(until > now, "a wait into the past");
                waits.push(until.duration_since(now).unwrap());
                now = until;
            }
            CallAction::Send { request, attempt } => {
                assert_eq!(request.uri().path(), "/v1.0/files/f");
                assert_eq!(attempt, machine.attempt());
                sends.push((attempt, now));
                let answer = answers.next().expect("more attempts than answers");
                // Answers take 10 ms.
                now += Duration::from_millis(10);
                machine.handle_response(answer.result(), now);
            }
            CallAction::Done(response) => {
                return Run {
                    sends,
                    waits,
                    paces,
                    end: End::Done(response.status().as_u16()),
                    failure: None,
                };
            }
            CallAction::Failed(failure) => {
                return Run {
                    sends,
                    waits,
                    paces,
                    end: End::Failed {
                        kind: failure.failure.kind,
                        attempts: failure.attempts,
                    },
                    failure: Some(failure),
                };
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("the machine never finished");
}

struct Row {
    name: &'static str,
    operation: Operation,
    answers: Vec<Answer>,
    end: End,
    /// Exact waits, when they do not come from the jittered backoff.
    waits: Option<Vec<Duration>>,
}

fn row(name: &'static str, operation: Operation, answers: Vec<Answer>, end: End) -> Row {
    Row {
        name,
        operation,
        answers,
        end,
        waits: None,
    }
}

#[test]
fn retry_table() {
    use Answer::*;
    use Operation::*;
    use SendFailureKind::*;
    let secs = Duration::from_secs;
    let failed = |kind, attempts| End::Failed { kind, attempts };
    let rows = vec![
        Row {
            waits: Some(vec![]),
            ..row("200 first try", GetFile, vec![Status(200)], End::Done(200))
        },
        Row {
            waits: Some(vec![secs(7)]),
            ..row(
                "429 with Retry-After seconds",
                ListFiles,
                vec![RetryAfter(429, "7"), Status(200)],
                End::Done(200),
            )
        },
        Row {
            // T0 + 30 s; the answer comes 10 ms after T0, so the wait is 29.99 s.
            waits: Some(vec![Duration::from_millis(29_990)]),
            ..row(
                "429 with Retry-After as an HTTP-date",
                GetFile,
                vec![
                    RetryAfter(429, "Tue, 14 Nov 2023 22:13:50 GMT"),
                    Status(200),
                ],
                End::Done(200),
            )
        },
        Row {
            waits: Some(vec![secs(3)]),
            ..row(
                "429 is retried even for a non-idempotent operation",
                CreateSession,
                vec![RetryAfter(429, "3"), Status(200)],
                End::Done(200),
            )
        },
        row(
            "503 retried for an idempotent operation",
            GetFile,
            vec![Status(503), Status(502), Status(200)],
            End::Done(200),
        ),
        row(
            "408 retried for an idempotent operation",
            DeleteFiles,
            vec![Status(408), Status(204)],
            End::Done(204),
        ),
        row(
            "503 not retried for CreateSession",
            CreateSession,
            vec![Status(503)],
            End::Done(503),
        ),
        row(
            "503 not retried for AddNotes",
            AddNotes,
            vec![Status(503)],
            End::Done(503),
        ),
        row(
            "408 not retried for AddNotes",
            AddNotes,
            vec![Status(408)],
            End::Done(408),
        ),
        row(
            "401 never retried",
            GetFile,
            vec![Status(401)],
            End::Done(401),
        ),
        row(
            "403 never retried (a blocked account)",
            ListFiles,
            vec![Status(403)],
            End::Done(403),
        ),
        row(
            "404 is an answer",
            GetFile,
            vec![Status(404)],
            End::Done(404),
        ),
        row(
            "400 is an answer",
            AttachFiles,
            vec![Status(400)],
            End::Done(400),
        ),
        row(
            "timeout retried for an idempotent operation",
            ListVersions,
            vec![Fail(Timeout), Fail(Io), Status(200)],
            End::Done(200),
        ),
        row(
            "timeout not retried for AddNotes (the note may exist)",
            AddNotes,
            vec![Fail(Timeout)],
            failed(Timeout, 1),
        ),
        row(
            "a broken connection not retried for CreateSession",
            CreateSession,
            vec![Fail(Io)],
            failed(Io, 1),
        ),
        row(
            "a refused connection retried even for AddNotes (nothing was sent)",
            AddNotes,
            vec![Fail(Connect), Fail(Connect), Status(200)],
            End::Done(200),
        ),
        row(
            "TLS failure not retried",
            GetFile,
            vec![Fail(Tls)],
            failed(Tls, 1),
        ),
        row(
            "Other failure not retried",
            GetFile,
            vec![Fail(Other)],
            failed(Other, 1),
        ),
        row(
            "attempts bound on statuses: the last response is the answer",
            GetFile,
            vec![Status(500); 6],
            End::Done(500),
        ),
        row(
            "attempts bound on failures: Failed with the attempts",
            GetFile,
            vec![Fail(Timeout); 6],
            failed(Timeout, 6),
        ),
        row(
            "a retried refused connection then a timeout on AddNotes",
            AddNotes,
            vec![Fail(Connect), Fail(Timeout)],
            failed(Timeout, 2),
        ),
        Row {
            waits: Some(vec![]),
            ..row(
                "Retry-After beyond max_elapsed gives up with the response",
                GetFile,
                vec![RetryAfter(429, "400")],
                End::Done(429),
            )
        },
    ];
    for row in rows {
        let result = run(
            row.operation,
            RetryPolicy::default(),
            &row.answers,
            no_pacing,
        );
        assert_eq!(result.end, row.end, "{}", row.name);
        assert_eq!(
            result.sends.len(),
            row.answers.len(),
            "{}: every answer used",
            row.name
        );
        let attempts: Vec<u32> = result.sends.iter().map(|(a, _)| *a).collect();
        let expected: Vec<u32> = (1..=row.answers.len() as u32).collect();
        assert_eq!(attempts, expected, "{}: attempts", row.name);
        assert_eq!(
            result.paces,
            result.sends.len(),
            "{}: one slot per attempt",
            row.name
        );
        match &row.waits {
            Some(waits) => assert_eq!(&result.waits, waits, "{}: waits", row.name),
            None => {
                // Full jitter below the doubling ceiling.
                let caps = [500, 1000, 2000, 4000, 8000].map(Duration::from_millis);
                assert_eq!(result.waits.len(), row.answers.len() - 1, "{}", row.name);
                for (wait, cap) in result.waits.iter().zip(caps) {
                    assert!(wait < &cap, "{}: {wait:?} ≥ {cap:?}", row.name);
                }
            }
        }
    }
}

#[test]
fn elapsed_time_bounds_the_retries() {
    let policy = RetryPolicy::default()
        .max_attempts(100)
        .max_elapsed(Duration::from_secs(60));
    let answers = vec![Answer::RetryAfter(503, "25"); 10];
    let result = run(Operation::GetFile, policy, &answers, no_pacing);
    // Failures at 0 s, ~25 s, ~50 s: a third wait of 25 s would end past 60 s.
    assert_eq!(result.end, End::Done(503));
    assert_eq!(result.sends.len(), 3);
    assert_eq!(result.waits, vec![Duration::from_secs(25); 2]);
}

#[test]
fn failure_reports_attempts_and_elapsed_time() {
    let answers = [
        Answer::RetryAfter(503, "5"),
        Answer::Fail(SendFailureKind::Tls),
    ];
    let result = run(
        Operation::GetFile,
        RetryPolicy::default(),
        &answers,
        no_pacing,
    );
    let failure = result.failure.unwrap();
    assert_eq!(failure.attempts, 2);
    // Sent at T0 and at T0 + 10 ms + 5 s, failed 10 ms later.
    assert_eq!(failure.elapsed, Duration::from_millis(5_020));
    assert_eq!(
        failure.to_string(),
        "Tls: simulated (after 2 attempts over 5.02s)"
    );
    let single = run(
        Operation::GetFile,
        RetryPolicy::default(),
        &[Answer::Fail(SendFailureKind::Tls)],
        no_pacing,
    );
    assert_eq!(single.failure.unwrap().to_string(), "Tls: simulated");
}

#[test]
fn the_pacing_slot_is_honoured() {
    // The pacer hands out slots one second apart, the first one second from now.
    let mut next_slot = t0();
    let pacer = |now: SystemTime| {
        next_slot = next_slot.max(now) + Duration::from_secs(1);
        next_slot
    };
    let answers = [Answer::RetryAfter(429, "0"), Answer::Status(200)];
    let result = run(Operation::GetFile, RetryPolicy::default(), &answers, pacer);
    assert_eq!(result.end, End::Done(200));
    let at = |ms: u64| t0() + Duration::from_millis(ms);
    assert_eq!(result.sends, vec![(1, at(1000)), (2, at(2010))]);
    assert_eq!(
        result.waits,
        vec![Duration::from_secs(1), Duration::from_secs(1)]
    );
    assert_eq!(result.paces, 2);
}

#[test]
fn the_first_actions_are_pace_wait_send() {
    let request = endpoint::create_session_request(&drive(), &NewSession::new("a.txt", 1));
    let mut machine = CallMachine::new(
        Operation::CreateSession,
        request,
        RetryPolicy::default(),
        SEED,
    );
    let later = t0() + Duration::from_millis(300);
    assert!(matches!(machine.poll_action(t0()), CallAction::Pace));
    assert!(matches!(
        machine.poll_action(t0()),
        CallAction::AwaitResponse
    ));
    machine.handle_slot(later);
    assert!(matches!(machine.poll_action(t0()), CallAction::Wait { until } if until == later));
    let CallAction::Send { request, attempt } = machine.poll_action(later) else {
        panic!("expected a send");
    };
    assert_eq!((request.uri().path(), attempt), ("/v1.0/sessions", 1));
    assert!(matches!(
        machine.poll_action(later),
        CallAction::AwaitResponse
    ));
}

#[test]
fn out_of_order_calls_are_ignored() {
    let request = endpoint::get_file_request(&drive(), "f");
    let mut machine = CallMachine::new(Operation::GetFile, request, RetryPolicy::default(), SEED);
    // A response nobody asked for, and a slot before any Pace: both ignored.
    machine.handle_response(Answer::Status(200).result(), t0());
    machine.handle_slot(t0() + Duration::from_secs(60));
    assert!(matches!(machine.poll_action(t0()), CallAction::Pace));
    machine.handle_slot(t0());
    machine.handle_slot(t0() + Duration::from_secs(60)); // a second answer changes nothing
    assert!(matches!(machine.poll_action(t0()), CallAction::Send { .. }));
    machine.handle_slot(t0());
    machine.handle_response(Answer::Status(404).result(), t0());
    machine.handle_response(Answer::Status(200).result(), t0());
    for _ in 0..2 {
        let CallAction::Done(response) = machine.poll_action(t0()) else {
            panic!("expected the answer");
        };
        assert_eq!(response.status(), 404);
    }
}

#[test]
fn runs_are_deterministic_for_a_seed() {
    let answers = vec![Answer::Status(500); 6];
    let first = run(
        Operation::GetFile,
        RetryPolicy::default(),
        &answers,
        no_pacing,
    );
    let again = run(
        Operation::GetFile,
        RetryPolicy::default(),
        &answers,
        no_pacing,
    );
    assert_eq!(first.waits, again.waits);
    assert_eq!(first.sends, again.sends);
}
