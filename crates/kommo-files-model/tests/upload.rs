//! The upload machine driven with simulated time against a simulated drive host.

mod upload_sim;

use std::time::Duration;

use kommo_files_model::retry::RetryPolicy;
use kommo_files_model::upload::{
    Checkpoint, CheckpointError, ModifiedTime, PrefixHash, ProtocolViolation, SendFailureKind,
    SessionLostPolicy, SourceChange, SourceInfo, UploadConfig, UploadError, UploadEvent,
    UploadMachine, UploadRequest,
};
use proptest::prelude::*;
use upload_sim::{drive, t0, FakeDrive, Fault, RetryMode, Sim, T0};

const PART: u64 = 1024;

fn parts_of(size: u64, part: u64) -> u64 {
    // A 0-byte file is sent as one empty part (see the machine's docs).
    size.div_ceil(part).max(1)
}

/// After a successful upload the server holds exactly the source's bytes.
fn assert_stored(sim: &Sim) {
    let stored = sim
        .server
        .completed
        .as_ref()
        .expect("the server completed the file");
    assert_eq!(stored, &sim.source, "stored bytes differ from the source");
}

/// Progress only counts acknowledged bytes, never goes back between restarts, ends at the size.
fn assert_progress_sane(sim: &Sim) {
    let mut last = 0;
    for event in &sim.events {
        match event {
            UploadEvent::Restarted { .. } => last = 0,
            UploadEvent::Progress {
                acknowledged,
                total,
            } => {
                assert!(
                    *acknowledged >= last,
                    "progress went back: {last} -> {acknowledged}"
                );
                assert!(
                    *acknowledged > last || *total == 0,
                    "progress counted twice"
                );
                assert!(acknowledged <= total);
                last = *acknowledged;
            }
            _ => {}
        }
    }
    assert_eq!(last, sim.source.len() as u64);
}

#[test]
fn happy_path_at_several_sizes() {
    for size in [
        0,
        1,
        PART - 1,
        PART,
        PART + 1,
        3 * PART,
        3 * PART + 7,
        10 * PART,
    ] {
        let mut sim = Sim::new(size as usize, FakeDrive::new(PART), UploadConfig::default());
        let file = sim.run().unwrap_or_else(|e| panic!("size {size}: {e}"));
        assert_eq!(file.size, size);
        assert_stored(&sim);
        assert_progress_sane(&sim);
        let parts = parts_of(size, PART);
        assert_eq!(sim.server.requests as u64, parts + 1, "size {size}");
        assert_eq!(
            sim.checkpoints().len() as u64,
            parts,
            "one checkpoint when the session opens, one per non-final part"
        );
        assert!(sim.waits.is_empty(), "no waiting when nothing fails");
        // Each part is read exactly once: memory holds one part at a time.
        assert_eq!(sim.reads.len() as u64, parts);
        assert!(sim.reads.iter().all(|(_, len)| *len as u64 <= PART));
    }
}

#[test]
fn zero_byte_file_sends_one_empty_part() {
    let mut sim = Sim::new(0, FakeDrive::new(PART), UploadConfig::default());
    assert_eq!(sim.run().unwrap().size, 0);
    let log: Vec<_> = sim
        .server
        .log
        .iter()
        .map(|(m, p, n)| (m.as_str(), p.as_str(), *n))
        .collect();
    assert_eq!(
        log,
        [
            ("POST", "/v1.0/sessions", log[0].2),
            ("POST", "/upload/26136001-1", 0)
        ]
    );
}

#[test]
fn non_final_parts_may_answer_200_or_202() {
    let server = FakeDrive::new(PART)
        .fault(2, Fault::NonFinal200)
        .fault(3, Fault::NonFinal200);
    let mut sim = Sim::new(3 * PART as usize, server, UploadConfig::default());
    sim.run().unwrap();
    assert_stored(&sim);
    assert_eq!(sim.server.requests, 4);
}

/// One row of the fault table: a fault on a request, and what must follow.
struct Row {
    name: &'static str,
    size: u64,
    faults: Vec<(usize, Fault)>,
    retry_mode: RetryMode,
    expect: Expect,
}

enum Expect {
    /// Success with this many requests in all and this many restarts.
    Success { requests: usize, restarts: usize },
    /// Failure matching the predicate, after exactly this many requests.
    Failure {
        requests: usize,
        check: fn(&UploadError) -> bool,
    },
}

fn row(name: &'static str, size: u64, faults: Vec<(usize, Fault)>, expect: Expect) -> Row {
    Row {
        name,
        size,
        faults,
        retry_mode: RetryMode::Replay,
        expect,
    }
}

#[test]
fn fault_table() {
    use Expect::*;
    let status = |code, body| Fault::Status(code, body, None);
    let rows = vec![
        row(
            "500 on part 2 then success",
            3 * PART,
            vec![(3, status(500, "oops"))],
            Success {
                requests: 5,
                restarts: 0,
            },
        ),
        row(
            "503 on the session request",
            PART,
            vec![(1, status(503, "<html>busy</html>"))],
            Success {
                requests: 3,
                restarts: 0,
            },
        ),
        row(
            "429 without Retry-After",
            2 * PART,
            vec![(2, status(429, ""))],
            Success {
                requests: 4,
                restarts: 0,
            },
        ),
        row(
            "connection reset before the server read the part",
            3 * PART,
            vec![(2, Fault::ResetBefore)],
            Success {
                requests: 5,
                restarts: 0,
            },
        ),
        row(
            "connection refused (nothing sent)",
            2 * PART,
            vec![(3, Fault::Transport(SendFailureKind::Connect))],
            Success {
                requests: 4,
                restarts: 0,
            },
        ),
        row(
            "timeout after the part was committed, replaying server",
            3 * PART,
            vec![(3, Fault::ResetAfterCommit)],
            Success {
                requests: 5,
                restarts: 0,
            },
        ),
        Row {
            name: "timeout after commit, strict server: 404, new session",
            size: 3 * PART,
            faults: vec![(3, Fault::ResetAfterCommit)],
            retry_mode: RetryMode::Strict,
            // session, part 1, part 2 (stored, answer lost), part 2 again (404); then a new session and 3 parts.
            expect: Success {
                requests: 4 + 4,
                restarts: 1,
            },
        },
        Row {
            name: "answer to the last part lost, strict server: 404, not uploaded twice",
            size: 3 * PART,
            faults: vec![(4, Fault::ResetAfterCommit)],
            retry_mode: RetryMode::Strict,
            // session, parts 1 and 2, part 3 (stored, answer lost), part 3 again (404).
            expect: Failure {
                requests: 5,
                check: |e| matches!(e, UploadError::FinalPartUnconfirmed { .. }),
            },
        },
        row(
            "a refused connection on the last part, then 404: nothing was stored, restart",
            3 * PART,
            vec![
                (4, Fault::Transport(SendFailureKind::Connect)),
                (5, status(404, "{}")),
            ],
            Success {
                requests: 5 + 4,
                restarts: 1,
            },
        ),
        row(
            "404 mid-upload restarts with a new session",
            3 * PART,
            vec![(3, status(404, "{}"))],
            Success {
                requests: 3 + 4,
                restarts: 1,
            },
        ),
        row(
            "401 is never retried",
            3 * PART,
            vec![(2, status(401, r#"{"detail":"Unauthorized"}"#))],
            Failure {
                requests: 2,
                check: |e| matches!(e, UploadError::Api(a) if a.status() == 401),
            },
        ),
        row(
            "403 is never retried",
            3 * PART,
            vec![(3, status(403, "<html>blocked</html>"))],
            Failure {
                requests: 3,
                check: |e| matches!(e, UploadError::Api(a) if a.status() == 403),
            },
        ),
        row(
            "400 on a part fails",
            3 * PART,
            vec![(2, status(400, "{}"))],
            Failure {
                requests: 2,
                check: |e| e.status() == Some(http::StatusCode::BAD_REQUEST),
            },
        ),
        row(
            "TLS failure is not retried",
            PART,
            vec![(1, Fault::Transport(SendFailureKind::Tls))],
            Failure {
                requests: 1,
                check: |e| matches!(e, UploadError::Transport(_)),
            },
        ),
        row(
            "500 six times exhausts the retries",
            2 * PART,
            (2..=7).map(|n| (n, status(500, "{}"))).collect(),
            Failure {
                requests: 7,
                check: |e| matches!(e, UploadError::RetriesExhausted { attempts: 6, .. }),
            },
        ),
        row(
            "early final file",
            3 * PART,
            vec![(2, Fault::EarlyFinal)],
            Failure {
                requests: 2,
                check: |e| {
                    matches!(e,
                UploadError::Protocol(ProtocolViolation::EarlyFinal { sent: PART, size }) if *size == 3 * PART)
                },
            },
        ),
        row(
            "wrong final size",
            2 * PART,
            vec![(3, Fault::WrongFinalSize)],
            Failure {
                requests: 3,
                check: |e| {
                    matches!(
                        e,
                        UploadError::Protocol(ProtocolViolation::SizeMismatch { .. })
                    )
                },
            },
        ),
        row(
            "non-final answer without next_url",
            3 * PART,
            vec![(2, Fault::NoNextUrl)],
            Failure {
                requests: 2,
                check: |e| matches!(e, UploadError::Protocol(ProtocolViolation::BadAnswer(_))),
            },
        ),
        row(
            "server expects bytes past the end",
            PART,
            vec![(2, Fault::MoreExpected)],
            Failure {
                requests: 2,
                check: |e| {
                    matches!(
                        e,
                        UploadError::Protocol(ProtocolViolation::MoreExpected { .. })
                    )
                },
            },
        ),
        row(
            "an unreadable success answer to the last part: it may be stored, not uploaded twice",
            3 * PART,
            vec![(4, Fault::Unreadable)],
            Failure {
                requests: 4,
                check: |e| {
                    matches!(
                        e,
                        UploadError::FinalPartUnconfirmed {
                            session_id: 26_136_001
                        }
                    )
                },
            },
        ),
        row(
            "an unreadable success answer to an earlier part is a bad answer",
            3 * PART,
            vec![(3, Fault::Unreadable)],
            Failure {
                requests: 3,
                check: |e| matches!(e, UploadError::Protocol(ProtocolViolation::BadAnswer(_))),
            },
        ),
        row(
            "next_url on a foreign host",
            3 * PART,
            vec![(2, Fault::ForeignNextUrl)],
            Failure {
                requests: 2,
                check: |e| matches!(e, UploadError::ForeignUrl(_)),
            },
        ),
    ];
    for row in rows {
        let mut server = FakeDrive::new(PART);
        server.retry_mode = row.retry_mode;
        for (n, fault) in row.faults {
            server = server.fault(n, fault);
        }
        let mut sim = Sim::new(row.size as usize, server, UploadConfig::default());
        let result = sim.run();
        match row.expect {
            Expect::Success { requests, restarts } => {
                let file = result.unwrap_or_else(|e| panic!("{}: {e}", row.name));
                assert_eq!(file.size, row.size, "{}", row.name);
                assert_stored(&sim);
                assert_progress_sane(&sim);
                assert_eq!(sim.server.requests, requests, "{}: requests", row.name);
                assert_eq!(sim.restarts(), restarts, "{}: restarts", row.name);
            }
            Expect::Failure { requests, check } => {
                let error = result
                    .err()
                    .unwrap_or_else(|| panic!("{}: succeeded", row.name));
                assert!(check(&error), "{}: unexpected {error:?}", row.name);
                assert_eq!(sim.server.requests, requests, "{}: requests", row.name);
                // Only an unconfirmed last part leaves a stored file (stored once).
                let stored = matches!(error, UploadError::FinalPartUnconfirmed { .. });
                assert_eq!(sim.server.completed.is_some(), stored, "{}", row.name);
            }
        }
    }
}

#[test]
fn retry_after_seconds_is_honoured_exactly() {
    let server = FakeDrive::new(PART).fault(2, Fault::Status(429, "", Some("7")));
    let mut sim = Sim::new(2 * PART as usize, server, UploadConfig::default());
    sim.run().unwrap();
    assert_eq!(sim.waits, vec![Duration::from_secs(7)]);
    let retrying = sim.events.iter().find_map(|e| match e {
        UploadEvent::Retrying {
            part,
            failures,
            delay,
            ..
        } => Some((*part, *failures, *delay)),
        _ => None,
    });
    assert_eq!(retrying, Some((Some(1), 1, Duration::from_secs(7))));
}

#[test]
fn retry_after_http_date_is_honoured() {
    // T0 + 30 s as an HTTP-date; the request fails about 10 ms after T0.
    let server = FakeDrive::new(PART).fault(
        2,
        Fault::Status(503, "", Some("Tue, 14 Nov 2023 22:13:50 GMT")),
    );
    let mut sim = Sim::new(PART as usize, server, UploadConfig::default());
    sim.run().unwrap();
    assert_eq!(T0 + 30, 1_700_000_030);
    assert_eq!(sim.waits.len(), 1);
    assert!(sim.waits[0] <= Duration::from_secs(30) && sim.waits[0] >= Duration::from_secs(29));
}

#[test]
fn backoff_without_retry_after_uses_full_jitter_below_the_cap() {
    let faults = (2..=5).map(|n| (n, Fault::Status(500, "", None)));
    let mut server = FakeDrive::new(PART);
    for (n, f) in faults {
        server = server.fault(n, f);
    }
    let mut sim = Sim::new(PART as usize, server, UploadConfig::default());
    sim.run().unwrap();
    let caps = [500, 1000, 2000, 4000].map(Duration::from_millis);
    assert_eq!(sim.waits.len(), 4);
    for (wait, cap) in sim.waits.iter().zip(caps) {
        assert!(*wait < cap, "{wait:?} ≥ {cap:?}");
    }
}

#[test]
fn retries_are_bounded_by_elapsed_time() {
    let config = UploadConfig::default().retry(
        RetryPolicy::default()
            .max_attempts(100)
            .max_elapsed(Duration::from_secs(60)),
    );
    let mut server = FakeDrive::new(PART);
    for n in 2..200 {
        server = server.fault(n, Fault::Status(429, "", Some("25")));
    }
    let mut sim = Sim::new(PART as usize, server, config);
    let error = sim.run().unwrap_err();
    assert!(
        matches!(error, UploadError::RetriesExhausted { attempts: 3, .. }),
        "{error:?}"
    );
}

#[test]
fn lost_session_fails_when_the_policy_says_so() {
    let config = UploadConfig::default().on_session_lost(SessionLostPolicy::Fail);
    let server = FakeDrive::new(PART).fault(3, Fault::Status(404, "{}", None));
    let mut sim = Sim::new(3 * PART as usize, server, config);
    assert_eq!(
        sim.run().unwrap_err(),
        UploadError::SessionLost { restarts: 0 }
    );
}

#[test]
fn restarts_are_bounded() {
    let mut server = FakeDrive::new(PART);
    for n in [3, 5, 7] {
        server = server.fault(n, Fault::Status(404, "{}", None));
    }
    let mut sim = Sim::new(3 * PART as usize, server, UploadConfig::default());
    assert_eq!(
        sim.run().unwrap_err(),
        UploadError::SessionLost { restarts: 2 }
    );
    assert_eq!(sim.restarts(), 2);
}

#[test]
fn unusable_part_sizes_are_refused_before_any_part() {
    // 0, beyond the buffer limit, and below the 1 KiB minimum for a file larger than a part.
    for (size, max_part_size) in [
        (10, 0),
        (10, 1 << 40),
        (10, u64::MAX),
        (2000, 1),
        (2000, 1023),
    ] {
        let mut sim = Sim::new(size, FakeDrive::new(max_part_size), UploadConfig::default());
        let error = sim.run().unwrap_err();
        assert!(
            matches!(error, UploadError::UnusablePartSize { .. }),
            "{error:?}"
        );
        assert_eq!(sim.server.requests, 1, "only the session request");
        assert!(sim.reads.is_empty(), "nothing read");
    }
}

/// Small parts are fine when the whole file fits in one: nothing to multiply.
#[test]
fn a_part_size_below_the_minimum_is_fine_for_a_file_that_fits_in_one_part() {
    for (size, max_part_size) in [(0, 1), (10, 10), (10, 16), (1000, 1000)] {
        let mut sim = Sim::new(size, FakeDrive::new(max_part_size), UploadConfig::default());
        assert_eq!(sim.run().unwrap().size, size as u64);
        assert_stored(&sim);
    }
}

#[test]
fn too_large_file_is_refused_before_any_part() {
    let mut server = FakeDrive::new(PART);
    server.max_file_size = 100;
    let mut sim = Sim::new(101, server, UploadConfig::default());
    assert_eq!(
        sim.run().unwrap_err(),
        UploadError::FileTooLarge {
            size: 101,
            max: 100
        }
    );
    assert_eq!(sim.server.requests, 1);
}

#[test]
fn foreign_upload_url_is_refused_before_any_part() {
    for host in [
        "https://evil.example",
        "http://drive-c.kommo.com",
        "https://drive-c.kommo.com:444",
    ] {
        let mut server = FakeDrive::new(PART);
        server.upload_host = host.to_owned();
        let mut sim = Sim::new(10, server, UploadConfig::default());
        assert!(
            matches!(sim.run().unwrap_err(), UploadError::ForeignUrl(_)),
            "{host}"
        );
        assert_eq!(sim.server.requests, 1);
    }
}

#[test]
fn a_source_shorter_than_announced_is_caught() {
    let mut sim = Sim::new(
        3 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    sim.source.truncate(PART as usize + 10);
    let error = sim.run().unwrap_err();
    assert!(
        matches!(
            error,
            UploadError::SourceChanged(SourceChange::ShortRead { .. })
        ),
        "{error:?}"
    );
    assert!(sim.server.completed.is_none());
}

#[test]
fn a_session_that_expires_mid_upload_is_replaced() {
    // A Retry-After of 25 h pushes the next attempt past the session's 24 h.
    let config = UploadConfig::default()
        .retry(RetryPolicy::default().max_elapsed(Duration::from_secs(90_000)));
    let server = FakeDrive::new(PART).fault(3, Fault::Status(503, "", Some("90000")));
    let mut sim = Sim::new(3 * PART as usize, server, config);
    sim.run().unwrap();
    assert_eq!(sim.restarts(), 1);
    assert_stored(&sim);
}

/// Runs an upload until `crash_after` requests, then continues it from its last checkpoint in a
/// fresh machine (as a new process would), with `source` as the file found on disk.
fn crash_and_resume(
    size: usize,
    crash_after: usize,
    change: impl FnOnce(&mut Vec<u8>, &mut SourceInfo),
    resume_at: std::time::SystemTime,
) -> (Sim, Result<UploadMachine, UploadError>) {
    let mut sim = Sim::new(size, FakeDrive::new(PART), UploadConfig::default());
    assert!(
        sim.run_until(crash_after).is_none(),
        "crashed before finishing"
    );
    let json = sim.checkpoints().last().expect("a checkpoint").to_json();
    let checkpoint = Checkpoint::from_json(&json).unwrap();
    let mut info = SourceInfo::of_size(size as u64);
    change(&mut sim.source, &mut info);
    let machine = UploadMachine::resume(
        drive(),
        checkpoint,
        info,
        UploadConfig::default(),
        resume_at,
        9,
    );
    (sim, machine)
}

#[test]
fn resume_from_a_checkpoint_in_a_new_machine() {
    let size = 5 * PART as usize + 3;
    let (mut sim, machine) = crash_and_resume(size, 3, |_, _| {}, t0() + Duration::from_secs(3600));
    sim.machine = machine.unwrap();
    sim.events.clear();
    let before = sim.server.requests;
    let file = sim.run().unwrap();
    assert_eq!(file.size, size as u64);
    assert_stored(&sim);
    // Parts 1 and 2 were acknowledged before the crash: 4 parts remain, no new session.
    assert_eq!(sim.server.requests - before, 4);
    assert!(sim
        .events
        .contains(&UploadEvent::Verified { offset: 2 * PART }));
    assert_eq!(sim.progress().first(), Some(&(2 * PART)));
}

/// Without a prefix hash the machine emits no checkpoint while it goes; the checkpoint built
/// afterwards from the caller's hash of the prefix is the one a hashing machine gives, and it
/// resumes. A machine that already acknowledged a part keeps hashing.
#[test]
fn a_machine_without_prefix_hash_checkpoints_from_the_callers_hash() {
    let size = 5 * PART as usize + 3;
    let mut hashing = Sim::new(size, FakeDrive::new(PART), UploadConfig::default());
    assert!(hashing.run_until(3).is_none());
    let expected = hashing
        .machine
        .checkpoint()
        .expect("parts 1 and 2 acknowledged");
    assert!(hashing.machine.hashes_prefix());
    let already_going = std::mem::replace(&mut hashing.machine, upload_sim::machine(size));
    assert!(already_going.without_prefix_hash().hashes_prefix());

    let mut lazy = Sim::new(size, FakeDrive::new(PART), UploadConfig::default());
    lazy.machine = upload_sim::machine(size).without_prefix_hash();
    assert!(lazy.run_until(3).is_none());
    assert!(lazy.checkpoints().is_empty(), "no checkpoint event");
    assert_eq!(lazy.machine.checkpoint(), None);
    let offset = lazy.machine.acknowledged() as usize;
    let mut prefix = PrefixHash::default();
    prefix.update(&lazy.source[..offset]);
    let built = lazy.machine.checkpoint_with_prefix(prefix.hex());
    assert_eq!(built.as_ref(), Some(&expected));

    let resumed = UploadMachine::resume(
        drive(),
        built.unwrap(),
        SourceInfo::of_size(size as u64),
        UploadConfig::default(),
        t0() + Duration::from_secs(60),
        9,
    );
    lazy.machine = resumed.unwrap();
    let file = lazy.run().unwrap();
    assert_eq!(file.size, size as u64);
    assert_stored(&lazy);
}

/// A crash while the first part is in flight: the new process continues the same session.
#[test]
fn a_crash_before_the_first_answer_resumes_the_same_session() {
    for size in [PART as usize / 2, 3 * PART as usize] {
        let (mut sim, machine) = crash_and_resume(size, 1, |_, _| {}, t0());
        sim.machine = machine.unwrap();
        let before = sim.server.requests;
        assert_eq!(sim.run().unwrap().size, size as u64);
        assert_stored(&sim);
        assert_eq!(sim.restarts(), 0);
        assert_eq!(
            (sim.server.requests - before) as u64,
            parts_of(size as u64, PART),
            "only the parts, no new session"
        );
    }
}

/// A crash can come while the last part is in flight: the server stores the file, the answer
/// is lost. Resuming then meets a 404, and must stop rather than store the file twice; before
/// any other part a 404 only means the session is gone, and the upload starts over.
#[test]
fn a_404_after_resuming_is_a_stored_file_only_on_the_last_part() {
    let resume_at = t0() + Duration::from_secs(60);
    for (size, stored_before) in [(3 * PART as usize, true), (4 * PART as usize, false)] {
        let (mut sim, machine) = crash_and_resume(size, 3, |_, _| {}, resume_at);
        sim.machine = machine.unwrap();
        let next = sim.server.requests + 1;
        let server = std::mem::replace(&mut sim.server, FakeDrive::new(PART));
        sim.server = server.fault(next, Fault::Status(404, "", None));
        let outcome = sim.run();
        if stored_before {
            assert!(
                matches!(outcome, Err(UploadError::FinalPartUnconfirmed { .. })),
                "{outcome:?}"
            );
            assert_eq!(sim.restarts(), 0);
        } else {
            assert_eq!(outcome.unwrap().size, size as u64);
            assert_eq!(sim.restarts(), 1);
        }
    }
}

#[test]
fn resume_refuses_an_expired_session() {
    let late = t0() + Duration::from_secs(24 * 3600);
    let (_, machine) = crash_and_resume(3 * PART as usize, 2, |_, _| {}, late);
    assert!(
        matches!(machine.unwrap_err(), UploadError::SessionExpired { expired_at } if expired_at == T0 + 86_400)
    );
}

#[test]
fn resume_refuses_a_changed_source() {
    let soon = t0() + Duration::from_secs(60);
    let (_, grown) = crash_and_resume(
        3 * PART as usize,
        2,
        |d, i| {
            d.push(1);
            i.size += 1
        },
        soon,
    );
    assert!(matches!(
        grown.unwrap_err(),
        UploadError::SourceChanged(SourceChange::Size { .. })
    ));

    // Same size, but a byte of the uploaded prefix changed: found by hashing before any send.
    let (mut sim, machine) = crash_and_resume(3 * PART as usize, 3, |d, _| d[5] ^= 0xff, soon);
    sim.machine = machine.unwrap();
    let before = sim.server.requests;
    let error = sim.run().unwrap_err();
    assert_eq!(
        error,
        UploadError::SourceChanged(SourceChange::Content { offset: 2 * PART })
    );
    assert_eq!(
        sim.server.requests, before,
        "nothing sent for a changed source"
    );

    // A changed byte after the acknowledged prefix is fine: those bytes were never sent.
    let (mut sim, machine) = crash_and_resume(
        3 * PART as usize,
        2,
        |d, _| d[3 * PART as usize - 1] ^= 1,
        soon,
    );
    sim.machine = machine.unwrap();
    sim.run().unwrap();
    assert_stored(&sim);
}

#[test]
fn resume_refuses_a_different_modification_time() {
    let mut sim = Sim::new(
        3 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    let modified = ModifiedTime {
        unix_seconds: T0 as i64 - 100,
        nanos: 5,
    };
    sim.machine = UploadMachine::new(
        drive(),
        kommo_files_model::wire::NewSession::new("a.bin", 0),
        SourceInfo::new(3 * PART, Some(modified)),
        UploadConfig::default(),
        1,
    );
    assert!(sim.run_until(2).is_none());
    let checkpoint = sim.checkpoints().pop().unwrap();
    let touched = ModifiedTime {
        nanos: 6,
        ..modified
    };
    let result = UploadMachine::resume(
        drive(),
        checkpoint.clone(),
        SourceInfo::new(3 * PART, Some(touched)),
        UploadConfig::default(),
        t0(),
        1,
    );
    assert!(matches!(
        result.unwrap_err(),
        UploadError::SourceChanged(SourceChange::Modified)
    ));
    let same = UploadMachine::resume(
        drive(),
        checkpoint,
        SourceInfo::new(3 * PART, Some(modified)),
        UploadConfig::default(),
        t0(),
        1,
    );
    assert!(same.is_ok());
}

#[test]
fn resume_refuses_another_drive_host() {
    let (_, _) = crash_and_resume(2 * PART as usize, 2, |_, _| {}, t0());
    let mut sim = Sim::new(
        2 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    assert!(sim.run_until(2).is_none());
    let checkpoint = sim.checkpoints().pop().unwrap();
    let other = kommo_files_model::endpoint::DriveHost::new(
        kommo_files_model::BaseUrl::parse("https://drive-b.amocrm.ru").unwrap(),
        kommo_files_model::AccessToken::new("t").unwrap(),
    );
    let result = UploadMachine::resume(
        other,
        checkpoint,
        SourceInfo::of_size(2 * PART),
        UploadConfig::default(),
        t0(),
        1,
    );
    assert!(matches!(result.unwrap_err(), UploadError::Checkpoint(_)));
}

#[test]
fn checkpoint_format_snapshot() {
    let mut sim = Sim::new(
        3 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    assert!(sim.run_until(3).is_none());
    let checkpoint = sim.checkpoints().pop().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&checkpoint.to_json()).unwrap();
    insta::assert_json_snapshot!("upload_checkpoint_v1", json);
    let text = String::from_utf8(checkpoint.to_json()).unwrap();
    assert!(
        !text.contains("secret-token"),
        "the checkpoint never holds the token"
    );
    assert_eq!(Checkpoint::from_json(text.as_bytes()).unwrap(), checkpoint);
}

#[test]
fn damaged_checkpoints_are_refused_with_a_path() {
    let mut sim = Sim::new(
        3 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    assert!(sim.run_until(3).is_none());
    let mut json: serde_json::Value =
        serde_json::from_slice(&sim.checkpoints().pop().unwrap().to_json()).unwrap();
    json["source"]["size"] = "big".into();
    let error = Checkpoint::from_json(json.to_string().as_bytes()).unwrap_err();
    insta::assert_snapshot!("upload_checkpoint_damaged", error.to_string());
    assert!(Checkpoint::from_json(b"not json").is_err());
    assert!(Checkpoint::from_json(br#"{"format":"other","version":1}"#).is_err());
}

/// A damaged checkpoint is refused by the rules a fresh session's answer meets, whether it is
/// read ([`Checkpoint::from_json`]) or resumed ([`UploadMachine::resume`]): never followed to a
/// foreign host, never in parts of 0 or 1 byte, never beyond the buffer limit.
#[test]
fn damaged_checkpoints_are_refused_like_a_session_answer() {
    let mut sim = Sim::new(
        3 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    assert!(sim.run_until(2).is_none());
    let good: serde_json::Value =
        serde_json::from_slice(&sim.checkpoints().pop().unwrap().to_json()).unwrap();
    let damaged = |field: &str, value: serde_json::Value| {
        let mut json = good.clone();
        json[field] = value;
        json.to_string()
    };
    // Refused on reading, whatever the configuration.
    for (json, path) in [
        (
            damaged("next_url", "https://evil.example/upload/t".into()),
            "next_url",
        ),
        (damaged("next_url", "garbage".into()), "next_url"),
        (
            damaged("next_url", "http://drive-c.kommo.com/upload/t".into()),
            "next_url",
        ),
        (damaged("max_part_size", 0.into()), "max_part_size"),
        (damaged("max_file_size", 10.into()), "max_file_size"),
        (damaged("offset", (PART + 1).into()), "offset"),
        (damaged("offset", (10 * PART).into()), "offset"),
    ] {
        match Checkpoint::from_json(json.as_bytes()) {
            Err(CheckpointError::Invalid { path: found, .. }) => assert_eq!(found, path, "{json}"),
            other => panic!("{json}: {other:?}"),
        }
    }
    // Readable, but not with the upload's configuration: refused on resume.
    let above_the_cap = {
        let mut json = good.clone();
        json["max_part_size"] = (1u64 << 40).into();
        json["offset"] = 0.into();
        json.to_string()
    };
    for (json, max_part_size) in [
        (damaged("max_part_size", 1.into()), 1),
        (damaged("max_part_size", 512.into()), 512),
        (above_the_cap, 1 << 40),
    ] {
        let checkpoint = Checkpoint::from_json(json.as_bytes()).unwrap();
        let resumed = UploadMachine::resume(
            drive(),
            checkpoint,
            SourceInfo::of_size(3 * PART),
            UploadConfig::default(),
            t0() + Duration::from_secs(60),
            1,
        );
        match resumed {
            Err(UploadError::UnusablePartSize {
                max_part_size: found,
                ..
            }) => {
                assert_eq!(found, max_part_size)
            }
            other => panic!("{json}: {other:?}"),
        }
    }
    // The undamaged one still resumes.
    let checkpoint = Checkpoint::from_json(good.to_string().as_bytes()).unwrap();
    let source = SourceInfo::of_size(3 * PART);
    let soon = t0() + Duration::from_secs(60);
    assert!(UploadMachine::resume(
        drive(),
        checkpoint,
        source,
        UploadConfig::default(),
        soon,
        1
    )
    .is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Parts tile `[0, size)` exactly, each at most the part size, and the request count is
    /// `ceil(size / part) + 1` (a 0-byte file counts one empty part).
    #[test]
    fn parts_tile_the_file(size in prop_oneof![0u64..5000, (1u64..6).prop_map(|k| k * 512)], part in 1u64..1100) {
        // Tiny parts are the point here: allowed below the default minimum.
        let config = UploadConfig::default().min_part_size(1);
        let mut sim = Sim::new(size as usize, FakeDrive::new(part), config);
        let file = sim.run().unwrap();
        prop_assert_eq!(file.size, size);
        prop_assert_eq!(sim.server.completed.as_ref().unwrap(), &sim.source);
        let mut next = 0;
        for (offset, len) in &sim.reads {
            prop_assert_eq!(*offset, next);
            prop_assert!(*len as u64 <= part);
            next += *len as u64;
        }
        prop_assert_eq!(next, size);
        prop_assert_eq!(sim.server.requests as u64, parts_of(size, part) + 1);
    }

    /// Whatever transient faults hit whichever requests, a finished upload stores the exact bytes
    /// and progress never counts a byte twice.
    #[test]
    fn transient_faults_never_corrupt(
        size in 0u64..4000,
        faults in proptest::collection::vec((1usize..30, 0u8..4), 0..5),
    ) {
        let mut server = FakeDrive::new(512);
        for (n, kind) in faults {
            let fault = match kind {
                0 => Fault::Status(500, "", None),
                1 => Fault::ResetBefore,
                2 => Fault::ResetAfterCommit,
                _ => Fault::Status(429, "", Some("1")),
            };
            server = server.fault(n, fault);
        }
        let config = UploadConfig::default().min_part_size(512);
        let mut sim = Sim::new(size as usize, server, config);
        if sim.run().is_ok() {
            prop_assert_eq!(sim.server.completed.as_ref().unwrap(), &sim.source);
            assert_progress_sane(&sim);
        }
    }
}

/// Runs `sim` for `steps` requests, then moves the machine through its serialised state into a
/// new one (as another process would) and runs that to the end.
fn move_through_state(sim: &mut Sim, steps: usize) -> kommo_files_model::upload::UploadState {
    assert!(
        sim.run_until(steps).is_none(),
        "still running after {steps} requests"
    );
    let state = sim.machine.state().expect("a running machine has a state");
    let json = serde_json::to_vec(&state).unwrap();
    assert!(
        !String::from_utf8_lossy(&json).contains("secret-token"),
        "no token in the state"
    );
    let restored = serde_json::from_slice(&json).unwrap();
    assert_eq!(restored, state);
    sim.machine = UploadMachine::from_state(drive(), restored, sim.now).unwrap();
    state
}

#[test]
fn the_machine_state_round_trips_at_every_step() {
    let size = 4 * PART as usize + 1;
    for steps in 0..=5 {
        let mut sim = Sim::new(size, FakeDrive::new(PART), UploadConfig::default());
        move_through_state(&mut sim, steps);
        let file = sim
            .run()
            .unwrap_or_else(|e| panic!("after {steps} requests: {e}"));
        assert_eq!(file.size, size as u64);
        assert_stored(&sim);
        let parts = parts_of(size as u64, PART) as usize;
        assert_eq!(
            sim.server.requests,
            parts + 1,
            "no request repeated after {steps} requests"
        );
        assert_eq!(
            sim.machine.state(),
            None,
            "a finished machine has nothing to persist"
        );
    }
}

#[test]
fn a_restored_machine_keeps_its_backoff_and_restarts() {
    let server = FakeDrive::new(PART)
        .fault(2, Fault::Status(404, "{}", None))
        .fault(4, Fault::Status(429, "", Some("7")));
    let mut sim = Sim::new(3 * PART as usize, server, UploadConfig::default());
    // Up to the 429 on request 4, which leaves the machine in a 7 s backoff.
    assert!(sim.run_until(3).is_none());
    let answer = sim.server.handle(sim.unsent.take().expect("request 4"));
    sim.machine.handle_response(answer, sim.now);
    let state = sim.machine.state().unwrap();
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!((state.restarts(), &json["failures"]), (1, &1.into()));
    let wait_until = serde_json::to_value(sim.now + Duration::from_secs(7)).unwrap();
    assert_eq!(json["wait_until"], wait_until);
    insta::assert_json_snapshot!("upload_state_v1", json);

    let json = serde_json::to_string(&state).unwrap();
    sim.machine =
        UploadMachine::from_state(drive(), serde_json::from_str(&json).unwrap(), sim.now).unwrap();
    sim.events.clear();
    sim.run().unwrap();
    assert_eq!(
        sim.waits,
        vec![Duration::from_secs(7)],
        "the restored machine still waits"
    );
    assert_stored(&sim);
    assert_eq!(sim.restarts(), 0, "no new restart");
}

#[test]
fn a_state_taken_while_verifying_verifies_again() {
    let soon = t0() + Duration::from_secs(60);
    let (mut sim, machine) = crash_and_resume(3 * PART as usize, 3, |_, _| {}, soon);
    sim.machine = machine.unwrap();
    let state = sim.machine.state().unwrap();
    assert_eq!(state.checkpoint().unwrap().offset, 2 * PART);
    sim.machine = UploadMachine::from_state(drive(), state, soon).unwrap();
    sim.run().unwrap();
    assert_stored(&sim);
}

/// The SHA-256 of a whole source, as `source_sha256` must give it.
fn sha256_of(bytes: &[u8]) -> String {
    let mut hash = PrefixHash::default();
    hash.update(bytes);
    hash.hex()
}

#[test]
fn sending_names_each_request_and_its_attempt() {
    let part = |number, last| UploadRequest::Part { number, last };
    let server = FakeDrive::new(PART)
        .fault(3, Fault::Status(500, "", None))
        .fault(4, Fault::Transport(SendFailureKind::Connect));
    let mut sim = Sim::new(3 * PART as usize, server, UploadConfig::default());
    sim.run().unwrap();
    assert_eq!(
        sim.sent,
        [
            (UploadRequest::OpenSession, 1),
            (part(1, false), 1),
            (part(2, false), 1),
            (part(2, false), 2),
            (part(2, false), 3),
            (part(3, true), 1),
        ]
    );

    // A 0-byte file: its one empty part is the last; a restart opens a session again.
    let mut empty = Sim::new(0, FakeDrive::new(PART), UploadConfig::default());
    empty.run().unwrap();
    assert_eq!(
        empty.sent,
        [(UploadRequest::OpenSession, 1), (part(1, true), 1)]
    );
    let server = FakeDrive::new(PART).fault(3, Fault::Status(404, "{}", None));
    let mut restarted = Sim::new(2 * PART as usize, server, UploadConfig::default());
    restarted.run().unwrap();
    assert_eq!(
        restarted.sent,
        [
            (UploadRequest::OpenSession, 1),
            (part(1, false), 1),
            (part(2, true), 1),
            (UploadRequest::OpenSession, 1),
            (part(1, false), 1),
            (part(2, true), 1),
        ]
    );
}

#[test]
fn the_source_hash_is_known_after_an_unconfirmed_last_part() {
    // An unreadable answer, and a lost answer then a 404 from a strict server.
    let unreadable = FakeDrive::new(PART).fault(4, Fault::Unreadable);
    let mut strict = FakeDrive::new(PART).fault(4, Fault::ResetAfterCommit);
    strict.retry_mode = RetryMode::Strict;
    for server in [unreadable, strict] {
        let mut sim = Sim::new(3 * PART as usize - 5, server, UploadConfig::default());
        let error = sim.run().unwrap_err();
        assert!(
            matches!(error, UploadError::FinalPartUnconfirmed { .. }),
            "{error:?}"
        );
        assert_eq!(sim.machine.source_sha256(), Some(sha256_of(&sim.source)));
        assert_eq!(sim.server.completed.as_ref(), Some(&sim.source));
    }
}

#[test]
fn the_source_hash_is_known_after_done_only_when_hashed() {
    let mut sim = Sim::new(
        2 * PART as usize + 1,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    sim.run().unwrap();
    assert_eq!(sim.machine.source_sha256(), Some(sha256_of(&sim.source)));

    let mut lazy = Sim::new(
        2 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    lazy.machine = upload_sim::machine(2 * PART as usize).without_prefix_hash();
    lazy.run().unwrap();
    assert_eq!(
        lazy.machine.source_sha256(),
        None,
        "the driver hashes its source"
    );

    // Mid-upload the machine has seen only part of the source.
    let mut going = Sim::new(
        3 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    assert!(going.run_until(2).is_none());
    assert_eq!(going.machine.source_sha256(), None);
}

#[test]
fn a_resumed_machine_knows_the_source_hash_only_after_verifying() {
    let size = 3 * PART as usize;
    let resume_at = t0() + Duration::from_secs(60);
    let (mut sim, machine) = crash_and_resume(size, 3, |_, _| {}, resume_at);
    sim.machine = machine.unwrap();
    assert_eq!(sim.machine.source_sha256(), None, "still verifying");
    sim.run().unwrap();
    assert_eq!(sim.machine.source_sha256(), Some(sha256_of(&sim.source)));
}

#[test]
fn checkpoint_debug_hides_the_upload_token_and_expiry_is_computed() {
    let mut sim = Sim::new(
        3 * PART as usize,
        FakeDrive::new(PART),
        UploadConfig::default(),
    );
    assert!(sim.run_until(2).is_none());
    let checkpoint = sim.checkpoints().pop().unwrap();
    assert!(checkpoint.next_url.ends_with("/upload/26136001-2"));
    let debug = format!("{checkpoint:?}");
    assert!(!debug.contains("26136001-2"), "{debug}");
    assert!(
        debug.contains(r#"next_url: "https://drive-c.kommo.com/upload/…""#),
        "{debug}"
    );

    let expires_at = t0() + Duration::from_secs(86_400);
    assert_eq!(checkpoint.expires_at(), expires_at);
    let minute = Duration::from_secs(60);
    assert!(!checkpoint.is_expired(t0(), minute));
    assert!(!checkpoint.is_expired(expires_at - 2 * minute, minute));
    assert!(checkpoint.is_expired(expires_at - minute, minute));
    assert!(checkpoint.is_expired(expires_at, Duration::ZERO));
    assert!(!checkpoint.is_expired(expires_at - Duration::from_millis(1), Duration::ZERO));
    assert!(checkpoint.is_expired(t0(), Duration::MAX));
}
