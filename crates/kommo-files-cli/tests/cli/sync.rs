//! `sync DIR`: idempotent, versions instead of duplicates, deletions, a kill, a lost manifest,
//! remote conflicts. Every test runs the real binary against an emulator and reads the
//! emulator's request log.

use std::path::Path;
use std::time::{Duration, SystemTime};

use kommo_files::model::wire::EntityType;
use kommo_files::{FileQuery, UploadOptions};
use kommo_files_emulator::{Fault, FaultAction};

use crate::support::{arg, pattern, sha256, wait_until, TestEnv};

/// Sets a file's modification time: changes are told by the test, never by the clock's luck.
fn set_mtime(path: &Path, seconds: u64) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open to set mtime");
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
        .expect("set mtime");
}

/// Writes `bytes` at `relative` under the folder, with mtime `seconds`.
fn put(folder: &Path, relative: &str, bytes: &[u8], seconds: u64) {
    let path = folder.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    set_mtime(&path, seconds);
}

/// The active files' names in the account, sorted.
fn remote_names(env: &TestEnv) -> Vec<String> {
    let mut names: Vec<String> = env
        .sdk()
        .list(FileQuery::new().limit(250))
        .map(|f| f.expect("list").display_name())
        .collect();
    names.sort();
    names
}

fn uploads(env: &TestEnv) -> usize {
    env.sessions() + env.part_requests().len()
}

fn sync_json(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["--json", "sync"];
    full.extend_from_slice(args);
    env.ok(&full).stdout_json()
}

fn uuid_of(report: &serde_json::Value, path: &str) -> String {
    report["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|o| o["path"] == path)
        .and_then(|o| o["file_uuid"].as_str())
        .unwrap_or_else(|| panic!("no outcome for {path}: {report}"))
        .to_owned()
}

#[test]
fn a_second_sync_sends_no_request() {
    let env = TestEnv::new();
    let folder = env.home.join("folder");
    put(&folder, "a.txt", b"alpha", 1_000);
    put(&folder, "docs/b.pdf", &pattern(300 * 1024, 2), 1_000);
    put(&folder, "docs/deep/c.csv", b"1,2,3", 1_000);

    let first = env.ok(&["sync", arg(&folder)]);
    assert!(
        first.stdout.contains("uploaded docs/b.pdf -> "),
        "{}",
        first.stdout
    );
    assert_eq!(remote_names(&env), ["a.txt", "b.pdf", "c.csv"]);

    env.emulator.clear_requests();
    let second = env.ok(&["sync", arg(&folder)]);
    assert!(
        second.stdout.contains("0 new, 0 changed, 3 unchanged"),
        "{}",
        second.stdout
    );
    assert_eq!(uploads(&env), 0, "no upload request");
    assert!(
        env.emulator.requests().is_empty(),
        "no request at all: {:?}",
        env.emulator.requests()
    );

    // The dry run of a no-op costs nothing and says so.
    let plan = sync_json(&env, &["--dry-run", arg(&folder)]);
    assert_eq!(plan["requests"], 0);
    assert_eq!(plan["counts"]["unchanged"], 3);
    assert!(env.emulator.requests().is_empty());
}

#[test]
fn a_changed_file_is_a_new_version_of_the_same_file_with_its_links() {
    let env = TestEnv::new();
    let folder = env.home.join("folder");
    put(&folder, "contract.pdf", b"v1 of the contract", 1_000);
    put(&folder, "other.txt", b"unchanged", 1_000);
    let first = sync_json(
        &env,
        &[
            "--attach",
            "leads:1001",
            "--note",
            "leads:1002",
            arg(&folder),
        ],
    );
    let uuid = uuid_of(&first, "contract.pdf");
    let links = |env: &TestEnv| {
        env.sdk()
            .entity_files(&EntityType::Leads, 1001, &Default::default())
            .unwrap()
            .files
            .iter()
            .filter(|l| l.file_uuid == uuid)
            .count()
    };
    assert_eq!(links(&env), 1);
    // One attach and one note request for both files (batched), not one per file.
    assert_eq!(
        env.count_requests("PUT", |p| p.starts_with("/api/v4/leads/1001/files")),
        1
    );
    assert_eq!(env.count_requests("POST", |p| p.ends_with("/notes")), 1);
    assert_eq!(env.sdk().notes(&EntityType::Leads, 1002).unwrap().len(), 2);

    // The same size, another content and mtime: a new version of the same Kommo file.
    put(&folder, "contract.pdf", b"v2 of the contract", 2_000);
    env.emulator.clear_requests();
    let second = sync_json(
        &env,
        &[
            "--attach",
            "leads:1001",
            "--note",
            "leads:1002",
            arg(&folder),
        ],
    );
    assert_eq!(second["counts"]["changed"], 1, "{second}");
    assert_eq!(second["counts"]["unchanged"], 1, "{second}");
    assert_eq!(uuid_of(&second, "contract.pdf"), uuid, "the same file");
    assert_eq!(env.sessions(), 1);
    let stored = env.stored(&uuid);
    assert_eq!(stored.versions.len(), 2);
    assert_eq!(env.stored_sha(&uuid), sha256(b"v2 of the contract"));
    assert_eq!(links(&env), 1, "the link survived");
    assert_eq!(env.emulator.files().len(), 2, "no duplicate");
    // Links and notes are for new files: a new version repeats neither.
    assert_eq!(env.count_requests("PUT", |p| p.contains("/files")), 0);
    assert_eq!(env.sdk().notes(&EntityType::Leads, 1002).unwrap().len(), 2);

    // --checksum: a new mtime over the same bytes costs nothing.
    set_mtime(&folder.join("contract.pdf"), 3_000);
    env.emulator.clear_requests();
    let third = sync_json(&env, &["--checksum", arg(&folder)]);
    assert_eq!(third["counts"]["unchanged"], 2, "{third}");
    assert_eq!(uploads(&env), 0);
}

#[test]
fn delete_trashes_files_gone_locally_after_asking() {
    let env = TestEnv::new();
    let folder = env.home.join("folder");
    put(&folder, "keep.txt", b"keep", 1_000);
    put(&folder, "gone.txt", b"gone", 1_000);
    let first = sync_json(&env, &[arg(&folder)]);
    let gone = uuid_of(&first, "gone.txt");
    std::fs::remove_file(folder.join("gone.txt")).unwrap();

    // Without --delete the Kommo file stays; without --yes nobody can confirm.
    env.ok(&["sync", arg(&folder)]);
    assert!(!env.stored(&gone).is_trashed);
    let refused = env
        .cli()
        .run(&["sync", "--delete", arg(&folder)])
        .expect_code(2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(!env.stored(&gone).is_trashed);

    let plan = sync_json(&env, &["--delete", "--dry-run", arg(&folder)]);
    assert_eq!(plan["counts"]["delete"], 1);
    assert_eq!(plan["requests"], 1);
    let done = env.ok(&["sync", "--delete", "--yes", arg(&folder)]);
    assert!(done.stdout.contains("trashed gone.txt"), "{}", done.stdout);
    assert!(env.stored(&gone).is_trashed);
    // Recorded: the next sync has nothing to do.
    env.emulator.clear_requests();
    env.ok(&["sync", "--delete", "--yes", arg(&folder)]);
    assert!(env.emulator.requests().is_empty());
}

#[test]
fn a_killed_sync_resumes_without_duplicates() {
    let env = TestEnv::new();
    let folder = env.home.join("folder");
    for i in 0..6u8 {
        put(
            &folder,
            &format!("f{i}.bin"),
            &pattern(1000 + usize::from(i), i),
            1_000,
        );
    }
    // The fourth file's part hangs: three files are done when the sync is killed.
    env.emulator.add_fault(
        Fault::new(FaultAction::Delay { millis: 600_000 })
            .method("POST")
            .path("*/upload/*")
            .nth(4),
    );
    let running = env.cli().spawn(&["sync", arg(&folder)]);
    wait_until("the fourth upload hangs", || {
        env.emulator.faults()[0].fired == 1
    });
    running.kill();
    env.emulator.clear_faults();
    assert_eq!(env.emulator.files().len(), 3);
    let sessions_before = env.sessions();

    env.ok(&["sync", arg(&folder)]);
    let names = remote_names(&env);
    assert_eq!(
        names,
        ["f0.bin", "f1.bin", "f2.bin", "f3.bin", "f4.bin", "f5.bin"]
    );
    assert_eq!(env.emulator.files().len(), 6, "nothing uploaded twice");
    // The hanging upload continued its session: two new ones for f4 and f5.
    assert_eq!(env.sessions() - sessions_before, 2);
    env.emulator.clear_requests();
    env.ok(&["sync", arg(&folder)]);
    assert!(env.emulator.requests().is_empty());
}

#[test]
fn a_lost_manifest_is_rebuilt_by_adopting_and_ambiguity_is_reported() {
    let env = TestEnv::new();
    let folder = env.home.join("folder");
    put(&folder, "a.txt", b"alpha", 1_000);
    put(&folder, "x/same.txt", b"same", 1_000);
    put(&folder, "y/same.txt", b"SAME", 1_000);
    env.ok(&["sync", arg(&folder)]);
    std::fs::remove_dir_all(env.state_dir().join("sync")).unwrap();
    env.emulator.clear_requests();

    let plan = sync_json(&env, &["--adopt", "--dry-run", arg(&folder)]);
    assert_eq!(plan["counts"]["unchanged"], 1, "{plan}");
    assert_eq!(plan["counts"]["conflict"], 2, "{plan}");
    let adopted = env.cli().run(&["sync", "--adopt", arg(&folder)]).success();
    assert!(
        adopted.stdout.contains("adopted a.txt -> "),
        "{}",
        adopted.stdout
    );
    assert!(
        adopted.stderr.contains("ambiguous x/same.txt: 2 files"),
        "{}",
        adopted.stderr
    );
    assert_eq!(uploads(&env), 0, "adopting uploads nothing");
    assert_eq!(env.emulator.files().len(), 3);
    env.emulator.clear_requests();
    let again = sync_json(&env, &["--dry-run", arg(&folder)]);
    assert_eq!(again["counts"]["unchanged"], 1, "{again}");
}

#[test]
fn a_remote_change_is_a_conflict_unless_forced() {
    let env = TestEnv::new();
    let folder = env.home.join("folder");
    put(&folder, "a.txt", b"ours v1", 1_000);
    put(&folder, "b.txt", b"ours b1", 1_000);
    let first = sync_json(&env, &[arg(&folder)]);
    let (a, b) = (uuid_of(&first, "a.txt"), uuid_of(&first, "b.txt"));
    let sdk = env.sdk();
    sdk.upload_bytes(
        "a.txt",
        &b"theirs"[..],
        UploadOptions::new().new_version_of(&a),
    )
    .unwrap();
    sdk.delete(&[&b]).unwrap();
    put(&folder, "a.txt", b"ours v2!", 2_000);
    put(&folder, "b.txt", b"ours b2!", 2_000);

    env.emulator.clear_requests();
    let output = env.ok(&["sync", arg(&folder)]);
    assert!(
        output
            .stderr
            .contains("conflict a.txt: the remote file has a newer version"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("conflict b.txt: the remote file is trashed"),
        "{}",
        output.stderr
    );
    assert_eq!(uploads(&env), 0);
    assert_eq!(env.stored_sha(&a), sha256(b"theirs"));

    let forced = sync_json(&env, &["--force", arg(&folder)]);
    assert_eq!(
        uuid_of(&forced, "a.txt"),
        a,
        "a new version of the same file"
    );
    assert_eq!(env.stored(&a).versions.len(), 3);
    assert_eq!(env.stored_sha(&a), sha256(b"ours v2!"));
    assert_ne!(
        uuid_of(&forced, "b.txt"),
        b,
        "the trashed file is uploaded anew"
    );
}

#[test]
fn verify_reads_each_upload_back() {
    let env = TestEnv::new();
    let folder = env.home.join("folder");
    put(&folder, "a.bin", &pattern(300 * 1024, 9), 1_000);
    let report = sync_json(&env, &["--verify", arg(&folder)]);
    let outcome = &report["outcomes"][0];
    assert_eq!(outcome["verified"], true, "{report}");
    assert_eq!(env.count_requests("GET", |p| p.contains("/download")), 1);
}

/// The answer to a batch of notes is lost after the server stored them: the next sync finds
/// them on the entity and posts none again, and uploads nothing.
#[test]
fn a_lost_answer_to_a_notes_batch_is_not_posted_twice() {
    let env = TestEnv::new();
    let folder = env.home.join("folder");
    for i in 0..4u8 {
        put(&folder, &format!("f{i}.txt"), &pattern(10, i), 1_000);
    }
    env.emulator.add_fault(
        Fault::new(FaultAction::CloseAfterCommit)
            .method("POST")
            .path("*/notes")
            .nth(1),
    );
    let args = [
        "sync",
        "--attach",
        "leads:1001",
        "--note",
        "leads:1002",
        arg(&folder),
    ];
    env.cli().run(&args).expect_code(1);
    env.emulator.clear_faults();
    env.emulator.clear_requests();
    env.ok(&args);
    assert_eq!(uploads(&env), 0);
    let notes = env.sdk().notes(&EntityType::Leads, 1002).unwrap();
    assert_eq!(notes.len(), 4, "one note per file: {notes:?}");
    assert_eq!(env.count_requests("POST", |p| p.ends_with("/notes")), 0);
}
