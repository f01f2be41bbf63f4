//! The model's upload machine against the emulator: two independent implementations of the
//! contract, checked against each other over real HTTP on loopback.

use std::time::Duration;

use kommo_files_emulator::{
    Emulator, EmulatorHandle, Fault, FaultAction, PartStatus, RetryMode, UploadUrlShape,
};
use kommo_files_model::endpoint::DriveHost;
use kommo_files_model::retry::RetryPolicy;
use kommo_files_model::upload::{Checkpoint, UploadConfig, UploadEvent, UploadMachine};
use kommo_files_model::wire::NewSession;
use kommo_files_tests::{agent, discover_drive, get_file, run_until, sha256_hex, upload};

const PART: usize = 64 * 1024;

fn emulator(builder: kommo_files_emulator::EmulatorBuilder) -> (EmulatorHandle, DriveHost) {
    let emulator = builder
        .max_part_size(PART as u64)
        .start()
        .expect("emulator starts");
    let drive = discover_drive(&agent(), emulator.account_url(), &emulator.token()).unwrap();
    (emulator, drive)
}

/// Quick retries: the scenarios inject faults on purpose.
fn config() -> UploadConfig {
    UploadConfig::default()
        .retry(RetryPolicy::default().delays(Duration::from_millis(5), Duration::from_millis(50)))
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 % 253) as u8).collect()
}

/// The emulator's SHA-256 of the file's active version.
fn stored_sha256(emulator: &EmulatorHandle, uuid: &str) -> String {
    let file = emulator
        .files()
        .into_iter()
        .find(|f| f.uuid == uuid)
        .expect("file stored");
    file.versions
        .into_iter()
        .find(|v| v.is_main)
        .expect("an active version")
        .sha256
}

/// Injects `action` on the second part POST.
fn fault_on_part_2(emulator: &EmulatorHandle, action: FaultAction) {
    emulator.add_fault(Fault::new(action).method("POST").path("*/upload/*").nth(2));
}

/// Runs an upload of `source` for `sends` requests, then "crashes"; returns the last checkpoint,
/// read back from its JSON as a new process would.
fn crash_after(drive: &DriveHost, source: &[u8], sends: usize) -> Checkpoint {
    let mut saved = None;
    let machine = UploadMachine::new(
        drive.clone(),
        NewSession::new("big.bin", 0),
        kommo_files_model::upload::SourceInfo::of_size(source.len() as u64),
        config(),
        1,
    );
    let outcome = run_until(&agent(), machine, source, sends, |e| {
        if let UploadEvent::Checkpoint(c) = e {
            saved = Some(c.to_json());
        }
    });
    assert!(outcome.is_none(), "crashed before finishing");
    Checkpoint::from_json(&saved.expect("a checkpoint")).unwrap()
}

fn upload_requests(emulator: &EmulatorHandle) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1.0/sessions") || r.path.starts_with("/upload/"))
        .count()
}

#[test]
fn uploads_of_every_shape_store_the_exact_bytes() {
    for shape in [UploadUrlShape::Upload, UploadUrlShape::Sessions] {
        for part_status in [PartStatus::Accepted202, PartStatus::Ok200] {
            let (emulator, drive) = emulator(
                Emulator::builder()
                    .upload_url_shape(shape)
                    .part_status(part_status),
            );
            for size in [1, PART - 1, PART, PART + 1, 3 * PART + 5] {
                emulator.clear_requests();
                let source = data(size);
                let session = NewSession::new("report.pdf", 0).content_type("application/pdf");
                let file =
                    upload(&agent(), drive.clone(), session, &source, config(), |_| {}).unwrap();
                assert_eq!(file.size, size as u64);
                assert_eq!(stored_sha256(&emulator, &file.uuid), sha256_hex(&source));
                let parts = size.div_ceil(PART);
                assert_eq!(
                    emulator.requests().len(),
                    parts + 1,
                    "{shape:?} {part_status:?} {size}"
                );
            }
        }
    }
}

#[test]
fn zero_byte_file() {
    let (emulator, drive) = emulator(Emulator::builder());
    let file = upload(
        &agent(),
        drive,
        NewSession::new("empty.txt", 0),
        &[],
        config(),
        |_| {},
    )
    .unwrap();
    assert_eq!(file.size, 0);
    assert_eq!(stored_sha256(&emulator, &file.uuid), sha256_hex(&[]));
    assert_eq!(upload_requests(&emulator), 2, "session + one empty part");
}

#[test]
fn a_new_version_keeps_the_uuid() {
    let (emulator, drive) = emulator(Emulator::builder());
    let first = upload(
        &agent(),
        drive.clone(),
        NewSession::new("a.txt", 0),
        &data(10),
        config(),
        |_| {},
    )
    .unwrap();
    let v2 = data(PART + 3);
    let session = NewSession::new("a-v2.txt", 0).new_version_of(first.uuid.clone());
    let second = upload(&agent(), drive.clone(), session, &v2, config(), |_| {}).unwrap();
    assert_eq!(second.uuid, first.uuid);
    assert_ne!(second.version_uuid, first.version_uuid);
    assert!(second.has_multiple_versions);
    assert_eq!(stored_sha256(&emulator, &first.uuid), sha256_hex(&v2));
    let read = get_file(&agent(), &drive, &first.uuid).unwrap().unwrap();
    assert_eq!(read.version_uuid, second.version_uuid);
}

#[test]
fn a_lost_answer_is_replayed_or_restarts_by_server_mode() {
    // Strict: session, part 1, part 2 (stored, answer lost), part 2 again (404), then a new
    // session and its three parts.
    for (mode, restarts, requests) in [(RetryMode::Replay, 0, 5), (RetryMode::Strict, 1, 4 + 4)] {
        let (emulator, drive) = emulator(Emulator::builder().retry_mode(mode));
        fault_on_part_2(&emulator, FaultAction::CloseAfterCommit);
        let source = data(3 * PART);
        let mut seen = 0;
        let file = upload(
            &agent(),
            drive,
            NewSession::new("a.bin", 0),
            &source,
            config(),
            |e| {
                seen += usize::from(matches!(e, UploadEvent::Restarted { .. }));
            },
        )
        .unwrap();
        assert_eq!(
            stored_sha256(&emulator, &file.uuid),
            sha256_hex(&source),
            "{mode:?}"
        );
        assert_eq!(seen, restarts, "{mode:?}");
        assert_eq!(upload_requests(&emulator), requests, "{mode:?}");
    }
}

#[test]
fn transient_faults_are_retried() {
    let faults = [
        FaultAction::CloseBeforeBody,
        FaultAction::HtmlError { status: 502 },
        FaultAction::RetryAfter {
            status: 429,
            seconds: 1,
        },
        FaultAction::Status {
            status: 503,
            body: None,
            content_type: None,
        },
    ];
    for action in faults {
        let (emulator, drive) = emulator(Emulator::builder());
        fault_on_part_2(&emulator, action.clone());
        let source = data(2 * PART + 1);
        let file = upload(
            &agent(),
            drive,
            NewSession::new("a.bin", 0),
            &source,
            config(),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{action:?}: {e}"));
        assert_eq!(
            stored_sha256(&emulator, &file.uuid),
            sha256_hex(&source),
            "{action:?}"
        );
        assert_eq!(
            upload_requests(&emulator),
            5,
            "{action:?}: one part sent twice"
        );
    }
}

#[test]
fn a_crashed_upload_resumes_in_a_new_machine() {
    let (emulator, drive) = emulator(Emulator::builder());
    let source = data(5 * PART + 9);
    // Crash after the session and two parts.
    let checkpoint = crash_after(&drive, &source, 3);
    assert_eq!(checkpoint.offset, 2 * PART as u64);
    emulator.clear_requests();
    let file =
        kommo_files_tests::resume(&agent(), drive, checkpoint, &source, config(), |_| {}).unwrap();
    assert_eq!(stored_sha256(&emulator, &file.uuid), sha256_hex(&source));
    assert_eq!(
        emulator.requests().len(),
        4,
        "only the four remaining parts"
    );
}

#[test]
fn a_session_expired_on_the_server_restarts_from_zero() {
    let (emulator, drive) = emulator(Emulator::builder());
    let source = data(3 * PART);
    let checkpoint = crash_after(&drive, &source, 2);
    emulator.advance_clock(Duration::from_secs(25 * 3600));
    let mut restarted = false;
    let file = kommo_files_tests::resume(&agent(), drive, checkpoint, &source, config(), |e| {
        restarted |= matches!(e, UploadEvent::Restarted { .. });
    })
    .unwrap();
    assert!(
        restarted,
        "the 404 of the expired session leads to a new session"
    );
    assert_eq!(stored_sha256(&emulator, &file.uuid), sha256_hex(&source));
}

#[test]
fn a_file_above_the_limit_is_refused_before_any_part() {
    let (emulator, drive) = emulator(Emulator::builder().max_file_size(PART as u64));
    let error = upload(
        &agent(),
        drive,
        NewSession::new("big.bin", 0),
        &data(PART + 1),
        config(),
        |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            kommo_files_model::upload::UploadError::FileTooLarge { .. }
        ) || error.status() == Some(http::StatusCode::BAD_REQUEST),
        "{error:?}"
    );
    assert!(
        emulator
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/upload/")),
        "no part sent"
    );
}
