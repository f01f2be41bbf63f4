//! Resumable uploads: a killed upload continues from its checkpoint, a finished batch forgets
//! its state, and `--no-resume` starts over.

use std::path::{Path, PathBuf};

use kommo_files_emulator::{Emulator, Fault, FaultAction, RetryMode};

use crate::support::{arg, sha256_file, uploaded_uuid, wait_until, TestEnv, PART_SIZE};

const SIZE: usize = 3 * 1024 * 1024;
const PARTS: usize = SIZE / PART_SIZE as usize;
/// The part that hangs: the run is killed while it waits.
const HANGING_PART: u32 = 5;

/// The batch directories under `<state>/uploads`.
fn batches(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("uploads"))
        .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default()
}

fn checkpoints(state: &Path) -> Vec<PathBuf> {
    batches(state)
        .iter()
        .flat_map(|batch| std::fs::read_dir(batch).into_iter().flatten())
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.to_string_lossy().ends_with(".checkpoint.json"))
        .collect()
}

/// Starts `upload PATH`, lets it hang on part [`HANGING_PART`], and kills it once it has a
/// checkpoint. Returns the number of parts the server acknowledged.
fn upload_and_kill(env: &TestEnv, path: &Path) -> usize {
    env.emulator.add_fault(
        Fault::new(FaultAction::Delay { millis: 600_000 })
            .method("POST")
            .path("*/upload/*")
            .nth(HANGING_PART),
    );
    let running = env.cli().spawn(&["upload", arg(path)]);
    wait_until("the upload hangs with a checkpoint", || {
        env.emulator.faults()[0].fired == 1 && !checkpoints(&env.state_dir()).is_empty()
    });
    let acknowledged = env
        .part_requests()
        .iter()
        .filter(|r| r.status.is_some())
        .count();
    assert!(acknowledged >= 3, "{acknowledged} parts before the kill");
    let killed = running.kill();
    assert_ne!(killed.code, 0);
    assert!(killed.stdout.is_empty(), "{}", killed.stdout);
    env.emulator.clear_faults();
    acknowledged
}

#[test]
fn a_killed_upload_resumes_where_it_stopped() {
    let env = TestEnv::new();
    let path = env.file("large.bin", SIZE, 1);
    let before_kill = upload_and_kill(&env, &path);
    assert_eq!(before_kill, HANGING_PART as usize - 1);
    assert_eq!(env.sessions(), 1);
    assert!(env.emulator.files().is_empty(), "nothing finished yet");

    let output = env.ok(&["upload", arg(&path)]);
    assert!(
        output
            .stdout
            .starts_with(&format!("resumed {} -> ", path.display())),
        "{}",
        output.stdout
    );
    assert_eq!(env.sessions(), 1, "the same session, not a second one");
    let parts = env.part_requests();
    assert!(parts.len() <= PARTS + 2, "{} part requests", parts.len());
    assert_eq!(
        parts.len() - before_kill,
        PARTS - before_kill,
        "the second run sends only the remaining parts"
    );
    let uuid = uploaded_uuid(&output.stdout, "large.bin");
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
    assert_eq!(env.emulator.files().len(), 1);
    assert!(
        batches(&env.state_dir()).is_empty(),
        "the batch state is removed"
    );

    // The progress of the resumed file starts where it stopped (4 parts of 256 KiB), and ends
    // at 100%; the run counts only what it sent itself.
    for line in [
        "[1/1] large.bin: resuming at 1.0 MiB of 3.0 MiB",
        "[1/1] large.bin: 100% (3.0 MiB of 3.0 MiB)",
        "sent 2.0 MiB in",
    ] {
        assert!(output.stderr.contains(line), "{line}: {}", output.stderr);
    }
    assert!(
        output.stdout.contains("(3.0 MiB, 2.0 MiB sent now)"),
        "{}",
        output.stdout
    );

    // Nothing is left to resume: the same command uploads a new file.
    let again = env.ok(&["upload", arg(&path)]);
    assert!(again.stdout.starts_with("uploaded "), "{}", again.stdout);
    let second = uploaded_uuid(&again.stdout, "large.bin");
    assert_ne!(second, uuid);
    assert_eq!(env.sessions(), 2);
    assert_eq!(env.emulator.files().len(), 2);
    assert_eq!(env.stored_sha(&second), sha256_file(&path));
    assert!(batches(&env.state_dir()).is_empty());
}

/// The earlier session is gone by the time the command runs again (the server forgot it):
/// the SDK starts over from byte 0, and the CLI says so instead of "resumed". What it counts as
/// sent is what the server took in this run, the same on both streams.
#[test]
fn a_resume_whose_session_is_gone_says_it_started_over() {
    let env = TestEnv::new();
    let path = env.file("large.bin", SIZE, 5);
    upload_and_kill(&env, &path);
    // Past the session's 24 h on the server's clock only: the checkpoint still looks usable
    // here, and the server answers the next part with a 404.
    env.emulator
        .advance_clock(std::time::Duration::from_secs(25 * 3600));

    let output = env.ok(&["upload", arg(&path)]);
    assert!(
        output
            .stdout
            .starts_with(&format!("uploaded {} -> ", path.display())),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.trim_end().ends_with("(3.0 MiB)"),
        "{}",
        output.stdout
    );
    assert!(
        output.stderr.contains(&format!(
            "{}: the earlier upload's session is gone; starting over from the beginning",
            path.display()
        )),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("sent 3.0 MiB in"),
        "{}",
        output.stderr
    );
    assert_eq!(env.sessions(), 2);
    let uuid = uploaded_uuid(&output.stdout, "large.bin");
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
}

/// `sent` in `--json` is what the run's closing line sums, for a resume as for a restart.
#[test]
fn json_sent_is_what_the_server_took_in_this_run() {
    let env = TestEnv::new();
    let path = env.file("large.bin", SIZE, 6);
    let before_kill = upload_and_kill(&env, &path);
    let output = env.ok(&["upload", "--json", arg(&path)]);
    let outcome = &output.stdout_json()[0];
    assert_eq!(outcome["status"], "resumed", "{outcome}");
    let sent = (PARTS - before_kill) as u64 * PART_SIZE;
    assert_eq!(outcome["sent"], sent, "{outcome}");
    assert!(
        output.stderr.contains("sent 2.0 MiB in"),
        "{}",
        output.stderr
    );

    let path = env.file("other.bin", SIZE, 7);
    upload_and_kill(&env, &path);
    env.emulator
        .advance_clock(std::time::Duration::from_secs(25 * 3600));
    let output = env.ok(&["upload", "--json", arg(&path)]);
    let outcome = &output.stdout_json()[0];
    assert_eq!(outcome["status"], "uploaded", "{outcome}");
    assert_eq!(outcome["sent"], SIZE as u64, "{outcome}");
    assert!(
        output.stderr.contains("sent 3.0 MiB in"),
        "{}",
        output.stderr
    );
}

#[test]
fn no_resume_after_a_kill_starts_a_new_session() {
    let env = TestEnv::new();
    let path = env.file("large.bin", SIZE, 2);
    let before_kill = upload_and_kill(&env, &path);

    let output = env.ok(&["upload", "--no-resume", arg(&path)]);
    assert!(output.stdout.starts_with("uploaded "), "{}", output.stdout);
    assert_eq!(env.sessions(), 2);
    assert_eq!(env.part_requests().len(), before_kill + PARTS);
    let uuid = uploaded_uuid(&output.stdout, "large.bin");
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
    assert_eq!(env.emulator.files().len(), 1);
    assert!(batches(&env.state_dir()).is_empty());
}

#[test]
fn a_changed_file_is_not_resumed() {
    let env = TestEnv::new();
    let path = env.file("large.bin", SIZE, 3);
    upload_and_kill(&env, &path);
    // Same size and name, other bytes and modification time (set, not waited for: the
    // filesystem's timestamp granularity is no concern).
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, crate::support::pattern(SIZE, 4)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified + std::time::Duration::from_secs(60))
        .unwrap();

    let output = env.ok(&["upload", arg(&path)]);
    assert!(output.stdout.starts_with("uploaded "), "{}", output.stdout);
    assert!(
        output.stderr.contains("cannot continue the earlier upload"),
        "{}",
        output.stderr
    );
    assert_eq!(env.sessions(), 2);
    let uuid = uploaded_uuid(&output.stdout, "large.bin");
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
}

/// Ctrl-C stops at the next step with exit code 130 and the checkpoint kept; the same command
/// then continues in the same session.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_the_same_command_continues() {
    let env = TestEnv::new();
    let path = env.file("large.bin", SIZE, 3);
    // The hanging part answers after a few seconds, so the interrupted run can stop after it.
    env.emulator.add_fault(
        Fault::new(FaultAction::Delay { millis: 3_000 })
            .method("POST")
            .path("*/upload/*")
            .nth(HANGING_PART),
    );
    let running = env.cli().spawn(&["upload", arg(&path)]);
    wait_until("the upload waits on the slow part", || {
        env.emulator.faults()[0].fired == 1 && !checkpoints(&env.state_dir()).is_empty()
    });
    let stopped = running.interrupt();
    assert_eq!(stopped.code, 130, "{}", stopped.stderr);
    for line in [
        "interrupted: stopping the uploads",
        "stopped ",
        "error: interrupted: 0 of 1 file(s) uploaded",
        "hint: run the same command again",
    ] {
        assert!(stopped.stderr.contains(line), "{line}: {}", stopped.stderr);
    }
    assert_eq!(
        checkpoints(&env.state_dir()).len(),
        1,
        "the checkpoint is kept"
    );
    assert!(env.emulator.files().is_empty());

    let output = env.ok(&["upload", arg(&path)]);
    assert!(output.stdout.starts_with("resumed "), "{}", output.stdout);
    assert_eq!(env.sessions(), 1);
    let uuid = uploaded_uuid(&output.stdout, "large.bin");
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
}

/// A strict server (a used part URL answers 404) and a lost answer to the last part: the SDK
/// stops rather than store the file twice, and the CLI finds the stored file itself.
#[test]
fn a_lost_last_answer_finds_the_stored_file_instead_of_uploading_twice() {
    let env = TestEnv::with(Emulator::builder().retry_mode(RetryMode::Strict));
    let path = env.file("report.pdf", 700 * 1024, 6);
    // Parts 1 and 2 pass; the server stores part 3 (the last) and the answer is lost.
    env.emulator.add_fault(
        Fault::new(FaultAction::CloseAfterCommit)
            .method("POST")
            .path("*/upload/*")
            .nth(3),
    );
    let output = env.ok(&["upload", arg(&path)]);
    let uuid = uploaded_uuid(&output.stdout, "report.pdf");
    assert!(
        output.stderr.contains(&format!(
            "the answer to its last part was lost; it is stored as {uuid}"
        )),
        "{}",
        output.stderr
    );
    assert_eq!(env.emulator.files().len(), 1, "stored once");
    assert_eq!(env.sessions(), 1);
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
    assert!(
        batches(&env.state_dir()).is_empty(),
        "nothing left to resume"
    );

    // The same for a new version: one version more, not two.
    // (A fault counts the requests it matches from when it is added: the third is the last.)
    env.emulator.clear_faults();
    env.emulator.add_fault(
        Fault::new(FaultAction::CloseAfterCommit)
            .method("POST")
            .path("*/upload/*")
            .nth(3),
    );
    let second = env.file("report-v2.pdf", 600 * 1024, 7);
    let output = env.ok(&["upload", arg(&second), "--version-of", &uuid]);
    assert!(
        output
            .stderr
            .contains("the answer to its last part was lost"),
        "{}",
        output.stderr
    );
    assert_eq!(env.stored(&uuid).versions.len(), 2, "one new version");
    assert_eq!(env.stored_sha(&uuid), sha256_file(&second));
}

/// A lost answer to the last part, and a 404 although nothing was stored: the search finds
/// nothing, and the file is uploaded from the start.
#[test]
fn a_lost_last_answer_with_nothing_stored_starts_over() {
    let env = TestEnv::with(Emulator::builder().retry_mode(RetryMode::Strict));
    let path = env.file("notes.txt", 300 * 1024, 8);
    // Part 2 (the last): the connection breaks before the body, then the re-send meets a 404.
    for (nth, action) in [
        (2, FaultAction::CloseBeforeBody),
        (
            3,
            FaultAction::Status {
                status: 404,
                body: None,
                content_type: None,
            },
        ),
    ] {
        env.emulator.add_fault(
            Fault::new(action)
                .method("POST")
                .path("*/upload/*")
                .nth(nth),
        );
    }
    let output = env.ok(&["upload", arg(&path)]);
    assert!(
        output
            .stderr
            .contains("the file is not stored; starting over"),
        "{}",
        output.stderr
    );
    let uuid = uploaded_uuid(&output.stdout, "notes.txt");
    assert_eq!(env.emulator.files().len(), 1);
    assert_eq!(env.sessions(), 2);
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
}

/// The data-loss regression: an older file of the same name and size (other bytes) is in the
/// account when the answer to the last part is lost on a strict server. The run must report
/// the new file, whose bytes are the source's, never the older one.
#[test]
fn a_lost_last_answer_never_adopts_an_older_namesake() {
    let env = TestEnv::with(Emulator::builder().retry_mode(RetryMode::Strict));
    let older = env.file("old/invoice.pdf", 700 * 1024, 9);
    let output = env.ok(&["upload", arg(&older)]);
    let older_uuid = uploaded_uuid(&output.stdout, "invoice.pdf");
    let path = env.file("invoice.pdf", 700 * 1024, 10);
    env.emulator.add_fault(
        Fault::new(FaultAction::CloseAfterCommit)
            .method("POST")
            .path("*/upload/*")
            .nth(3),
    );
    let output = env.ok(&["upload", arg(&path)]);
    let uuid = uploaded_uuid(&output.stdout, "invoice.pdf");
    assert_ne!(
        uuid, older_uuid,
        "adopted the older file: {}",
        output.stderr
    );
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
    assert_eq!(env.stored_sha(&older_uuid), sha256_file(&older));
    assert_eq!(env.emulator.files().len(), 2);
}

/// The same with a process killed while its last part was in flight: the next run continues
/// the checkpoint, and whether or not the server had stored the part, the run ends with the
/// new file stored once, under its own UUID, beside the older namesake.
#[test]
fn a_killed_last_part_never_adopts_an_older_namesake() {
    let env = TestEnv::with(Emulator::builder().retry_mode(RetryMode::Strict));
    let older = env.file("old/scan.pdf", 700 * 1024, 11);
    let older_uuid = uploaded_uuid(&env.ok(&["upload", arg(&older)]).stdout, "scan.pdf");
    let path = env.file("scan.pdf", 700 * 1024, 12);
    // The last (third) part is held for a moment: the run is killed while it is in flight.
    env.emulator.add_fault(
        Fault::new(FaultAction::Delay { millis: 1_500 })
            .method("POST")
            .path("*/upload/*")
            .nth(3),
    );
    let running = env.cli().spawn(&["upload", arg(&path)]);
    wait_until("the last part is in flight", || {
        env.emulator.faults()[0].fired == 1
    });
    let killed = running.kill();
    assert_ne!(killed.code, 0);
    env.emulator.clear_faults();
    let output = env.ok(&["upload", arg(&path)]);
    let uuid = uploaded_uuid(&output.stdout, "scan.pdf");
    assert_ne!(
        uuid, older_uuid,
        "adopted the older file: {}",
        output.stderr
    );
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
    let copies = env
        .emulator
        .files()
        .iter()
        .filter(|file| env.stored_sha(&file.uuid) == sha256_file(&path))
        .count();
    assert_eq!(copies, 1, "stored once: {}", output.stderr);
}

/// A checkpoint damaged on disk (a foreign or garbage `next_url`, a part size of 0, of 1 byte,
/// or above the cap, a wrong prefix hash) is refused like a bad session answer: the same command
/// says so and starts over, without `--no-resume`.
#[test]
fn a_damaged_checkpoint_starts_over_without_no_resume() {
    let env = TestEnv::new();
    let cases: [(&str, serde_json::Value); 6] = [
        ("next_url", "https://evil.example/upload/t".into()),
        ("next_url", "garbage".into()),
        ("max_part_size", 0.into()),
        ("max_part_size", 1.into()),
        ("max_part_size", (1u64 << 40).into()),
        ("prefix_sha256", "00".into()),
    ];
    for (i, (field, value)) in cases.into_iter().enumerate() {
        let path = env.file(&format!("damaged-{i}.bin"), SIZE, 20 + i as u8);
        upload_and_kill(&env, &path);
        let saved = checkpoints(&env.state_dir());
        assert_eq!(saved.len(), 1, "{saved:?}");
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&saved[0]).unwrap()).unwrap();
        match field {
            "prefix_sha256" => json["source"][field] = value.clone(),
            _ => json[field] = value.clone(),
        }
        std::fs::write(&saved[0], json.to_string()).unwrap();

        let output = env.ok(&["upload", arg(&path)]);
        assert!(
            output.stdout.starts_with("uploaded "),
            "{field}={value}: {}",
            output.stdout
        );
        assert!(
            output.stderr.contains("cannot continue the earlier upload"),
            "{field}={value}: {}",
            output.stderr
        );
        let uuid = uploaded_uuid(&output.stdout, &format!("damaged-{i}.bin"));
        assert_eq!(env.stored_sha(&uuid), sha256_file(&path), "{field}={value}");
        assert!(batches(&env.state_dir()).is_empty(), "{field}={value}");
    }
}

/// A directory where the checkpoint file goes: the upload cannot keep its checkpoint, so it
/// fails before any request, naming the path (nothing is removed); once it is gone, the same
/// command uploads the file.
#[test]
fn a_directory_at_the_checkpoint_path_fails_clearly() {
    let env = TestEnv::new();
    let path = env.file("blocked.bin", SIZE, 40);
    upload_and_kill(&env, &path);
    let saved = checkpoints(&env.state_dir()).remove(0);
    std::fs::remove_file(&saved).unwrap();
    std::fs::create_dir(&saved).unwrap();
    let sessions = env.sessions();

    let output = env.cli().run(&["upload", arg(&path)]).expect_code(1);
    assert!(
        output.stderr.contains(&saved.display().to_string())
            && output.stderr.contains("is a directory"),
        "{}",
        output.stderr
    );
    assert_eq!(env.sessions(), sessions, "no session opened");
    assert!(saved.is_dir(), "nothing removed");

    std::fs::remove_dir(&saved).unwrap();
    let output = env.ok(&["upload", arg(&path)]);
    let uuid = uploaded_uuid(&output.stdout, "blocked.bin");
    assert_eq!(env.stored_sha(&uuid), sha256_file(&path));
}

/// A file rewritten in place (same size, new modification time) while it is being uploaded:
/// the upload stops before its next part, exit 1 with a clear message, and nothing is stored.
#[test]
fn a_file_changed_during_the_upload_fails_and_stores_nothing() {
    let env = TestEnv::new();
    let path = env.file("moving.bin", SIZE, 50);
    env.emulator.add_fault(
        Fault::new(FaultAction::Delay { millis: 1_500 })
            .method("POST")
            .path("*/upload/*")
            .nth(2),
    );
    let running = env.cli().spawn(&["upload", arg(&path)]);
    wait_until("part 2 is held", || env.emulator.faults()[0].fired == 1);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, crate::support::pattern(SIZE, 51)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified + std::time::Duration::from_secs(60))
        .unwrap();

    let output = running.wait();
    assert_eq!(output.code, 1, "{}\n{}", output.stdout, output.stderr);
    for line in [
        "the source changed: it was modified while it was being uploaded",
        "hint: the file changed while it was being uploaded, so nothing was stored",
    ] {
        assert!(output.stderr.contains(line), "{line}: {}", output.stderr);
    }
    assert!(env.emulator.files().is_empty(), "a file was stored");
    assert_eq!(env.part_requests().len(), 2, "parts 1 and 2 only");
}
