//! A batch where one file fails: the others are uploaded, attached and noted; a re-run uploads
//! only the failed one and repeats no attachment or note.

use kommo_files::model::wire::EntityType;

use crate::support::{arg, redact_sorted, sha256_file, TestEnv};

/// The emulator refuses sessions over this size: `b.bin` fails until it is raised.
const LIMIT: u64 = 512 * 1024;

fn attach_requests(env: &TestEnv) -> usize {
    env.count_requests("PUT", |path| path.starts_with("/api/v4/leads/1001/files"))
}

#[test]
fn a_failed_file_is_retried_alone_and_links_are_not_repeated() {
    let env = TestEnv::new();
    env.emulator.update_config(|b| b.max_file_size = LIMIT);
    let dir = env.home.join("batch");
    let a = env.file("batch/a.txt", 10, 1);
    let b = env.file("batch/b.bin", 600 * 1024, 2);
    let c = env.file("batch/c.txt", 20, 3);
    let args = [
        "upload",
        arg(&dir),
        "--attach",
        "leads:1001",
        "--note",
        "leads:1002",
    ];

    let first = env.cli().run(&args).expect_code(1);
    insta::assert_snapshot!(
        "batch_first_run_stdout",
        redact_sorted(&first.stdout, env.home.path())
    );
    // The failure is told once, on its file's line; the summary points at it.
    let error = first.stderr.lines().rev().nth(1).expect("an error line");
    assert_eq!(
        error,
        format!("error: 1 of 3 file(s) failed: {} (see above)", b.display()),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.lines().last().unwrap().starts_with("hint: "),
        "{}",
        first.stderr
    );
    let failed = format!("failed {}: ", b.display());
    let line = first
        .stderr
        .lines()
        .find(|line| line.starts_with(&failed))
        .unwrap_or_else(|| panic!("no line for b.bin: {}", first.stderr));
    let message = &line[failed.len()..];
    assert!(message.contains("HTTP 400"), "{line}");
    assert_eq!(first.stderr.matches(message).count(), 1, "{}", first.stderr);
    assert_eq!(env.emulator.files().len(), 2);
    // a and c in one attachment request and one note request (batched).
    assert_eq!(attach_requests(&env), 1);
    assert_eq!(env.sdk().notes(&EntityType::Leads, 1002).unwrap().len(), 2);
    let sessions_before = env.sessions();
    assert_eq!(sessions_before, 3, "three sessions asked for, one refused");

    // The limit is lifted: only b.bin is uploaded; a and c are not touched again.
    env.emulator
        .update_config(|b| b.max_file_size = 300 * 1024 * 1024);
    let second = env.ok(&args);
    insta::assert_snapshot!(
        "batch_second_run_stdout",
        redact_sorted(&second.stdout, env.home.path())
    );
    assert_eq!(env.sessions(), sessions_before + 1);
    assert_eq!(env.emulator.files().len(), 3);
    assert_eq!(
        attach_requests(&env),
        2,
        "one attachment request per run, each file attached once"
    );

    let notes = env.sdk().notes(&EntityType::Leads, 1002).unwrap();
    assert_eq!(notes.len(), 3, "one note per file: {notes:?}");
    let linked = env
        .ok(&["links", "--entity", "leads:1001", "--json"])
        .stdout_json();
    let mut linked: Vec<String> = linked
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["file_uuid"].as_str().unwrap().to_owned())
        .collect();
    linked.sort();
    let mut stored: Vec<String> = env.emulator.files().into_iter().map(|f| f.uuid).collect();
    stored.sort();
    assert_eq!(linked, stored, "every file attached to the lead, once");
    for note in &notes {
        let text = format!("{note:?}");
        assert_eq!(
            stored
                .iter()
                .filter(|uuid| text.contains(uuid.as_str()))
                .count(),
            1,
            "each note names one file: {text}"
        );
    }
    for (path, name) in [(&a, "a.txt"), (&b, "b.bin"), (&c, "c.txt")] {
        let uuid = crate::support::uploaded_uuid(
            &(first.stdout.clone() + &second.stdout),
            &format!("/{name}"),
        );
        assert_eq!(env.stored_sha(&uuid), sha256_file(path), "{name}");
    }
}

#[test]
fn json_outcomes_name_the_failed_file() {
    let env = TestEnv::new();
    env.emulator.update_config(|b| b.max_file_size = LIMIT);
    let ok = env.file("ok.txt", 10, 1);
    let too_big = env.file("too-big.bin", 600 * 1024, 2);
    let output = env
        .cli()
        .run(&["upload", "--json", arg(&ok), arg(&too_big)])
        .expect_code(1);

    // Standard output is the JSON document alone; progress went to standard error.
    let outcomes = output.stdout_json();
    let outcomes = outcomes.as_array().expect("an array of outcomes");
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0]["path"], arg(&ok));
    assert_eq!(outcomes[0]["status"], "uploaded");
    assert_eq!(outcomes[0]["size"], 10);
    assert!(outcomes[0]["uuid"].is_string());
    assert_eq!(outcomes[1]["path"], arg(&too_big));
    assert_eq!(outcomes[1]["status"], "failed");
    assert!(outcomes[1].get("uuid").is_none());
    assert_eq!(outcomes[1]["error"]["kind"], "api");
    assert_eq!(outcomes[1]["error"]["status"], 400);

    let last = output.stderr.lines().last().expect("an error");
    let error: serde_json::Value = serde_json::from_str(last).expect("the error as JSON");
    assert_eq!(error["error"]["kind"], "api");
    assert_eq!(
        error["error"]["message"],
        format!("1 of 2 file(s) failed: {} (see above)", too_big.display())
    );
    // The file's own failure is in its outcome, and not repeated in the summary.
    let message = outcomes[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("HTTP 400"), "{message}");
    assert!(!last.contains(message), "{last}");
}

/// The answer to a batch of notes is lost after the server stored them: the next run finds
/// them on the entity and posts none again; the attachments are not repeated either.
#[test]
fn a_lost_answer_to_a_notes_batch_repeats_no_note() {
    let env = TestEnv::new();
    let dir = env.home.join("batch");
    for i in 0..5u8 {
        env.file(&format!("batch/f{i}.txt"), 10 + usize::from(i), i);
    }
    env.emulator.add_fault(
        kommo_files_emulator::Fault::new(kommo_files_emulator::FaultAction::CloseAfterCommit)
            .method("POST")
            .path("*/notes")
            .nth(1),
    );
    let args = [
        "upload",
        arg(&dir),
        "--attach",
        "leads:1001",
        "--note",
        "leads:1002",
        "--link-batch",
        "3",
    ];
    env.cli().run(&args).expect_code(1);
    assert_eq!(env.emulator.faults()[0].fired, 1);
    env.emulator.clear_faults();
    env.ok(&args);
    let notes = env.sdk().notes(&EntityType::Leads, 1002).unwrap();
    assert_eq!(notes.len(), 5, "one note per file: {notes:?}");
    assert_eq!(env.emulator.files().len(), 5);
    let links = env
        .sdk()
        .entity_files(&EntityType::Leads, 1001, &Default::default())
        .unwrap();
    assert_eq!(links.files.len(), 5);
}

/// Small files with an attachment and a note each: about two requests per file.
#[test]
fn small_files_with_links_cost_about_two_requests_each() {
    let env = TestEnv::new();
    let dir = env.home.join("many");
    for i in 0..60u8 {
        env.file(&format!("many/f{i}.txt"), 20, i);
    }
    env.emulator.clear_requests();
    env.ok(&[
        "upload",
        arg(&dir),
        "--attach",
        "leads:1001",
        "--note",
        "leads:1002",
    ]);
    let requests = env.emulator.requests().len();
    // 60 sessions + 60 parts + 2 attach + 2 notes (+ the drive's discovery).
    assert!(requests <= 125, "{requests} requests for 60 files");
}

#[test]
fn verify_reads_the_upload_back() {
    let env = TestEnv::new();
    let path = env.file("v.bin", 300 * 1024, 4);
    let output = env.ok(&["upload", "--verify", arg(&path)]);
    assert!(
        output.stdout.contains("SHA-256 verified"),
        "{}",
        output.stdout
    );
    assert_eq!(
        env.count_requests("GET", |p| p.starts_with("/download/")),
        1
    );
}
