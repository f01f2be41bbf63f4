//! Every command against the emulator: output (redacted snapshots), exit codes, and the effect
//! on the server.

use kommo_files::model::wire::EntityType;

use crate::support::{
    arg, pattern, redact, sha256, sha256_file, uploaded_uuid, TestEnv, PART_SIZE,
};

const BIG: usize = 700 * 1024;

/// Uploads `small.txt` (12 B) then `big.bin` (700 KiB, three parts), one at a time so the
/// listing order is fixed; returns their UUIDs.
fn upload_pair(env: &TestEnv) -> (String, String) {
    let small = env.file("small.txt", 12, 1);
    let big = env.file("big.bin", BIG, 2);
    let output = env.ok(&["upload", "-j", "1", arg(&small), arg(&big)]);
    insta::assert_snapshot!("upload_pair", redact(&output.stdout, env.home.path()));
    (
        uploaded_uuid(&output.stdout, "small.txt"),
        uploaded_uuid(&output.stdout, "big.bin"),
    )
}

/// The names (with extension) of a `--json` listing, in order.
fn listed_names(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut full = vec!["ls", "--json"];
    full.extend_from_slice(args);
    let json = env.ok(&full).stdout_json();
    json.as_array()
        .expect("an array")
        .iter()
        .map(|file| {
            let extension = file["metadata"]["extension"].as_str().unwrap_or_default();
            let name = file["name"].as_str().expect("a name");
            match extension {
                "" => name.to_owned(),
                ext => format!("{name}.{ext}"),
            }
        })
        .collect()
}

#[test]
fn upload_then_list_with_filters() {
    let env = TestEnv::new();
    let (small, big) = upload_pair(&env);

    // Server side: both stored whole, the big one in three parts.
    assert_eq!(env.stored_sha(&small), sha256(&pattern(12, 1)));
    assert_eq!(env.stored_sha(&big), sha256(&pattern(BIG, 2)));
    assert_eq!(
        env.part_requests().len(),
        1 + BIG.div_ceil(PART_SIZE as usize)
    );
    assert_eq!(env.sessions(), 2);
    assert!(
        !env.state_dir().join("uploads").exists()
            || std::fs::read_dir(env.state_dir().join("uploads"))
                .unwrap()
                .next()
                .is_none(),
        "a finished batch leaves no state"
    );

    let ls = env.ok(&["ls"]);
    insta::assert_snapshot!("ls", redact(&ls.stdout, env.home.path()));

    let json = env.ok(&["ls", "--json"]).stdout_json();
    let files = json.as_array().expect("an array");
    let summary: Vec<(String, String, u64)> = files
        .iter()
        .map(|f| {
            (
                f["uuid"].as_str().unwrap().to_owned(),
                f["name"].as_str().unwrap().to_owned(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (big.clone(), "big".to_owned(), BIG as u64),
            (small.clone(), "small".to_owned(), 12)
        ]
    );

    assert_eq!(listed_names(&env, &["--ext", "txt"]), ["small.txt"]);
    assert_eq!(listed_names(&env, &["--ext", ".bin"]), ["big.bin"]);
    assert_eq!(listed_names(&env, &["--name", "BIG"]), ["big.bin"]);
    assert_eq!(listed_names(&env, &["--min-size", "1KiB"]), ["big.bin"]);
    assert_eq!(listed_names(&env, &["--max-size", "1k"]), ["small.txt"]);
    assert_eq!(
        listed_names(&env, &["--min-size", "10", "--max-size", "1MiB"]),
        ["big.bin", "small.txt"]
    );
    assert_eq!(listed_names(&env, &["-n", "1"]), ["big.bin"]);
    assert!(listed_names(&env, &["--name", "nothing-like-this"]).is_empty());
    assert!(listed_names(&env, &["--deleted"]).is_empty());
    let output = env
        .cli()
        .run(&["ls", "--min-size", "2k", "--max-size", "1k"])
        .expect_code(2);
    assert!(output
        .stderr
        .contains("--min-size is larger than --max-size"));

    let empty = env.ok(&["ls", "--name", "nothing-like-this"]);
    assert_eq!(empty.stdout, "UUID  SIZE  UPDATED  NAME\n0 files\n");
}

#[test]
fn info_rename_versions_and_set_version() {
    let env = TestEnv::new();
    let first = env.file("report.pdf", 300, 3);
    let uuid = uploaded_uuid(&env.ok(&["upload", arg(&first)]).stdout, "report.pdf");

    let info = env.ok(&["info", &uuid]);
    insta::assert_snapshot!("info", redact(&info.stdout, env.home.path()));
    let json = env.ok(&["info", &uuid, "--json"]).stdout_json();
    assert_eq!(json["uuid"], uuid.as_str());
    assert_eq!(json["size"], 300);

    let renamed = env.ok(&["rename", &uuid, "summary.pdf"]);
    assert_eq!(renamed.stdout, format!("renamed {uuid} to summary.pdf\n"));
    let json = env.ok(&["info", &uuid, "--json"]).stdout_json();
    assert_eq!(json["name"], "summary");
    let empty_name = env.cli().run(&["rename", &uuid, " "]).expect_code(2);
    assert!(empty_name.stderr.contains("the new name is empty"));

    // A new version of the same file.
    let second = env.file("v2/report.pdf", 400 * 1024, 4);
    let output = env.ok(&["upload", arg(&second), "--version-of", &uuid]);
    assert!(
        output.stdout.ends_with(", a new version\n"),
        "{}",
        output.stdout
    );
    assert_eq!(uploaded_uuid(&output.stdout, "report.pdf"), uuid);
    let stored = env.stored(&uuid);
    assert_eq!(stored.versions.len(), 2);
    assert_eq!(stored.versions[0].sha256, sha256(&pattern(300, 3)));
    assert_eq!(stored.versions[1].sha256, sha256_file(&second));
    assert!(stored.versions[1].is_main && !stored.versions[0].is_main);
    assert_eq!(env.emulator.files().len(), 1, "no second file");

    let versions = env.ok(&["versions", &uuid]);
    insta::assert_snapshot!("versions", redact(&versions.stdout, env.home.path()));
    let rows: Vec<&str> = versions.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].starts_with('*') && rows[0].contains(&stored.versions[1].uuid));

    let old = &stored.versions[0].uuid;
    let set = env.ok(&["set-version", &uuid, old]);
    assert_eq!(set.stdout, format!("{uuid} now serves version {old}\n"));
    let stored = env.stored(&uuid);
    assert!(stored.versions[0].is_main && !stored.versions[1].is_main);
    let versions = env.ok(&["versions", &uuid, "--json"]).stdout_json();
    let main: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["is_main"] == true)
        .map(|v| v["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(main, [old.as_str()]);
}

#[test]
fn rm_trash_and_restore() {
    let env = TestEnv::new();
    let path = env.file("old.pdf", 2048, 5);
    let keep = env.file("keep.txt", 10, 6);
    let output = env.ok(&["upload", arg(&path), arg(&keep)]);
    let uuid = uploaded_uuid(&output.stdout, "old.pdf");

    // No --yes and no terminal to ask on: nothing happens.
    let refused = env.cli().run(&["rm", &uuid]).expect_code(2);
    assert_eq!(
        refused.stderr,
        "error: refusing to delete without confirmation\nhint: pass --yes to delete from a script\n"
    );
    assert!(!env.stored(&uuid).is_trashed);
    assert_eq!(env.count_requests("DELETE", |p| p == "/v1.0/files"), 0);

    let removed = env.ok(&["rm", "--yes", &uuid]);
    assert_eq!(
        removed.stdout,
        "moved 1 file to the trash (kept 30 days; `kommo-files restore` brings them back)\n"
    );
    assert!(env.stored(&uuid).is_trashed);
    assert_eq!(listed_names(&env, &[]), ["keep.txt"]);
    assert_eq!(listed_names(&env, &["--deleted"]), ["old.pdf"]);

    let trash = env.ok(&["trash"]);
    insta::assert_snapshot!("trash", redact(&trash.stdout, env.home.path()));
    let row = trash.stdout.lines().nth(1).expect("a row");
    // Columns are separated by two spaces or more; a cell has single spaces at most.
    let cells: Vec<&str> = row
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cells.len(), 5, "{row}");
    let dates = [cells[2], cells[3]];
    assert_eq!(
        minutes(dates[1]) - minutes(dates[0]),
        30 * 24 * 60,
        "purged 30 days after the deletion: {row}"
    );
    let json = env.ok(&["trash", "--json"]).stdout_json();
    let entry = &json[0];
    assert_eq!(entry["file"]["uuid"], uuid.as_str());
    assert_eq!(
        entry["purge_at"].as_i64().unwrap(),
        entry["file"]["deleted_at"].as_i64().unwrap() + 30 * 86_400
    );
    let info = env.ok(&["info", &uuid]).stdout;
    assert!(
        info.contains("\ntrashed ") && info.contains("\npurged on "),
        "{info}"
    );

    let restored = env.ok(&["restore", &uuid]);
    assert_eq!(restored.stdout, format!("restored {uuid} old.pdf\n"));
    assert!(!env.stored(&uuid).is_trashed);
    assert!(listed_names(&env, &["--deleted"]).is_empty());
    assert_eq!(
        env.ok(&["trash"]).stdout,
        "UUID  SIZE  DELETED  PURGED ON  NAME\n0 files in the trash; `kommo-files restore UUID` takes one out\n"
    );
}

/// Minutes since the epoch of a `YYYY-MM-DD HH:MM` UTC date (Howard Hinnant's days_from_civil).
fn minutes(date: &str) -> i64 {
    let number = |range: std::ops::Range<usize>| date[range].parse::<i64>().expect("a number");
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    days * 1440 + number(11..13) * 60 + number(14..16)
}

#[test]
fn download_active_and_old_versions() {
    let env = TestEnv::new();
    let original = env.file("data.bin", BIG, 7);
    let uuid = uploaded_uuid(&env.ok(&["upload", arg(&original)]).stdout, "data.bin");
    let newer = env.file("v2/data.bin", 1000, 8);
    env.ok(&["upload", arg(&newer), "--version-of", &uuid]);
    let old_version = env.stored(&uuid).versions[0].uuid.clone();

    let out = env.home.join("downloads");
    std::fs::create_dir_all(&out).unwrap();
    let downloaded = env.ok(&["download", &uuid, "-o", arg(&out)]);
    insta::assert_snapshot!("download", redact(&downloaded.stdout, env.home.path()));
    assert_eq!(sha256_file(&out.join("data.bin")), sha256_file(&newer));

    // The file is there now: no overwrite without --force.
    let refused = env
        .cli()
        .run(&["download", &uuid, "-o", arg(&out)])
        .expect_code(1);
    assert!(
        refused.stderr.contains("data.bin already exists"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("hint: pass --force"),
        "{}",
        refused.stderr
    );

    // --version: the first upload's bytes, replacing the file with --force.
    env.ok(&[
        "download",
        &uuid,
        "--version",
        &old_version,
        "-o",
        arg(&out),
        "--force",
    ]);
    assert_eq!(sha256_file(&out.join("data.bin")), sha256_file(&original));

    // A chosen file name, and the current directory by default.
    let chosen = out.join("copy.bin");
    let json = env
        .ok(&["download", &uuid, "-o", arg(&chosen), "--json"])
        .stdout_json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["bytes"], 1000);
    assert_eq!(std::fs::read(&chosen).unwrap(), pattern(1000, 8));
    let here = env.home.join("here");
    std::fs::create_dir_all(&here).unwrap();
    env.cli()
        .current_dir(&here)
        .run(&["download", &uuid])
        .success();
    assert_eq!(
        std::fs::read(here.join("data.bin")).unwrap(),
        pattern(1000, 8)
    );

    let unknown = env
        .cli()
        .run(&[
            "download",
            &uuid,
            "--version",
            "0b7c5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
            "-o",
            arg(&chosen),
            "--force",
        ])
        .expect_code(1);
    assert!(
        unknown.stderr.contains("has no version"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn attach_detach_links_and_notes() {
    let env = TestEnv::new();
    let path = env.file("contract.pdf", 100, 9);
    let uuid = uploaded_uuid(&env.ok(&["upload", arg(&path)]).stdout, "contract.pdf");

    let attached = env.ok(&["attach", &uuid, "leads:1001", "contacts:2001"]);
    assert_eq!(
        attached.stdout,
        format!("attached {uuid} to leads:1001, contacts:2001\n")
    );
    let links = env.ok(&["links", &uuid]);
    insta::assert_snapshot!("links", redact(&links.stdout, env.home.path()));
    let entity = env.ok(&["links", "--entity", "leads:1001"]);
    assert!(entity.stdout.contains(&uuid), "{}", entity.stdout);
    assert!(
        entity.stdout.ends_with("1 file attached to leads:1001\n"),
        "{}",
        entity.stdout
    );
    let json = env
        .ok(&["links", "--entity", "contacts:2001", "--json"])
        .stdout_json();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["file_uuid"], uuid.as_str());

    let detached = env.ok(&["detach", &uuid, "contacts:2001"]);
    assert_eq!(
        detached.stdout,
        format!("detached {uuid} from contacts:2001\n")
    );
    let json = env.ok(&["links", &uuid, "--json"]).stdout_json();
    let entities = json["entities"].as_array().expect("entities");
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0]["id"], 1001);
    let none = env.ok(&["links", "--entity", "contacts:2001"]);
    assert_eq!(
        none.stdout,
        "FILE  LINK ID\n0 files attached to contacts:2001\n"
    );

    let noted = env.ok(&["note", "leads:1001", &uuid, "--text", "hi"]);
    assert!(
        noted.stdout.starts_with("added note(s) ["),
        "{}",
        noted.stdout
    );
    assert!(noted
        .stdout
        .ends_with(&format!("] with {uuid} to leads:1001\n")));
    let notes = env.sdk().notes(&EntityType::Leads, 1001).expect("notes");
    let text: Vec<String> = notes.iter().map(|n| format!("{n:?}")).collect();
    assert_eq!(
        notes.len(),
        2,
        "an attachment note and a text note: {text:?}"
    );
    assert!(text.iter().any(|n| n.contains(&uuid)), "{text:?}");
    assert!(text.iter().any(|n| n.contains("\"hi\"")), "{text:?}");

    let json = env
        .ok(&["note", "companies:3001", &uuid, "--json"])
        .stdout_json();
    assert_eq!(json["entity"], "companies:3001");
    assert_eq!(json["note_ids"].as_array().unwrap().len(), 1);
    assert_eq!(
        env.sdk().notes(&EntityType::Companies, 3001).unwrap().len(),
        1
    );

    // An entity that does not exist is the server's to refuse; the hint names the entity.
    let missing = env
        .cli()
        .run(&["attach", &uuid, "leads:999999"])
        .expect_code(1);
    assert!(missing.stderr.starts_with("error: "), "{}", missing.stderr);
}

/// An unknown entity's failure names the entity, not a file UUID, whatever the command.
#[test]
fn an_unknown_entity_is_named_in_the_hint() {
    const FIELD: &str = "1150985";
    let env = TestEnv::new();
    let path = env.file("contract.pdf", 100, 9);
    let uuid = uploaded_uuid(&env.ok(&["upload", arg(&path)]).stdout, "contract.pdf");
    for args in [
        vec!["attach", &uuid, "leads:1001", "leads:999999"],
        vec!["detach", &uuid, "leads:999999"],
        vec!["links", "--entity", "leads:999999"],
        vec!["note", "leads:999999", &uuid],
        vec!["note", "leads:999999", &uuid, "--text", "hi"],
        vec!["field", "get", "leads:999999", FIELD],
        vec!["field", "set", "leads:999999", FIELD, &uuid],
        vec!["field", "clear", "leads:999999", FIELD],
        vec!["upload", arg(&path), "--attach", "leads:999999"],
        vec!["upload", arg(&path), "--note", "leads:999999"],
    ] {
        let output = env.cli().run(&args).expect_code(1);
        let hint = output.stderr.lines().last().unwrap();
        assert!(
            hint.starts_with("hint: leads:999999 was not found"),
            "{args:?}: {}",
            output.stderr
        );
        assert!(!hint.contains("UUID"), "{args:?}: {hint}");
        let mut json_args = args.clone();
        json_args.push("--json");
        let output = env.cli().run(&json_args).expect_code(1);
        let json: serde_json::Value =
            serde_json::from_str(output.stderr.lines().last().unwrap()).expect("JSON");
        assert_eq!(json["error"]["kind"], "not_found", "{args:?}: {json}");
        // The server's status, as it said it: notes answer a 400 naming `entity_id`, and
        // reading a missing entity a 204.
        assert!(
            matches!(json["error"]["status"].as_u64(), Some(204 | 400 | 404)),
            "{args:?}: {json}"
        );
    }
}

#[test]
fn unknown_file_is_a_failure_with_a_hint() {
    let env = TestEnv::new();
    let uuid = "0b7c5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    let output = env.cli().run(&["info", uuid]).expect_code(1);
    assert!(output.stdout.is_empty());
    insta::assert_snapshot!("info_unknown", output.stderr);
    let json = env
        .cli()
        .run(&["info", uuid, "--json"])
        .expect_code(1)
        .stderr_json();
    assert_eq!(json["error"]["kind"], "not_found");
    assert!(json["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("kommo-files ls"));
}

#[test]
fn file_fields_are_set_appended_read_and_cleared() {
    const FIELD: &str = "1150985"; // the emulator's file field on leads
    let env = TestEnv::new();
    let first = env.file("offer.pdf", 30, 11);
    let second = env.file("terms.pdf", 40, 12);
    let output = env.ok(&["upload", "-j", "1", arg(&first), arg(&second)]);
    let (one, two) = (
        uploaded_uuid(&output.stdout, "offer.pdf"),
        uploaded_uuid(&output.stdout, "terms.pdf"),
    );
    let field = |env: &TestEnv| {
        let sdk = env.sdk();
        let values = sdk.file_field(&EntityType::Leads, 1001, 1150985).unwrap();
        values
            .into_iter()
            .map(|read| {
                (
                    read.value.file_uuid,
                    read.value.file_name.unwrap_or_default(),
                )
            })
            .collect::<Vec<_>>()
    };

    let set = env.ok(&["field", "set", "leads:1001", FIELD, &one]);
    assert_eq!(set.stdout, "field 1150985 of leads:1001 now holds 1 file\n");
    assert_eq!(field(&env), [(one.clone(), "offer.pdf".to_owned())]);

    env.ok(&["field", "set", "leads:1001", FIELD, &two, &one, "--append"]);
    assert_eq!(
        field(&env),
        [
            (one.clone(), "offer.pdf".to_owned()),
            (two.clone(), "terms.pdf".to_owned())
        ],
        "appended once each"
    );
    let table = env.ok(&["field", "get", "leads:1001", FIELD]);
    assert!(table.stdout.starts_with("FILE "), "{}", table.stdout);
    assert!(table
        .stdout
        .ends_with("2 files in field 1150985 of leads:1001\n"));
    let json = env
        .ok(&["field", "get", "leads:1001", FIELD, "--json"])
        .stdout_json();
    assert_eq!(json.as_array().unwrap().len(), 2);

    // A trashed file shows as deleted, and the field can still be replaced around it.
    env.ok(&["rm", &two, "--yes"]);
    let json = env
        .ok(&["field", "get", "leads:1001", FIELD, "--json"])
        .stdout_json();
    assert_eq!(json[1]["is_deleted"], true, "{json}");
    env.ok(&["field", "set", "leads:1001", FIELD, &one]);
    assert_eq!(field(&env).len(), 1);

    env.ok(&["field", "clear", "leads:1001", FIELD]);
    assert!(field(&env).is_empty());
    // An unknown file is refused before anything is sent.
    env.cli()
        .run(&["field", "set", "leads:1001", FIELD, "no-such-file"])
        .expect_code(1);
    assert!(field(&env).is_empty());
}

#[test]
fn several_files_download_into_one_directory() {
    let env = TestEnv::new();
    let a = env.file("a.bin", 300 * 1024, 21);
    let b = env.file("b.txt", 10, 22);
    let output = env.ok(&["upload", "-j", "1", arg(&a), arg(&b)]);
    let (ua, ub) = (
        uploaded_uuid(&output.stdout, "a.bin"),
        uploaded_uuid(&output.stdout, "b.txt"),
    );
    let out = env.home.join("several");
    std::fs::create_dir_all(&out).unwrap();

    let downloaded = env.ok(&["download", &ua, &ub, "-o", arg(&out)]);
    assert_eq!(
        downloaded.stdout.lines().count(),
        2,
        "{}",
        downloaded.stdout
    );
    assert!(
        downloaded.stderr.contains("[2/2] b.txt: started"),
        "{}",
        downloaded.stderr
    );
    assert_eq!(sha256_file(&out.join("a.bin")), sha256_file(&a));
    assert_eq!(sha256_file(&out.join("b.txt")), sha256_file(&b));

    // Again with --json and an unknown UUID in the middle: the others still come, the run
    // fails, and each entry says what happened.
    let output = env
        .cli()
        .run(&[
            "download",
            &ua,
            "no-such-file",
            &ub,
            "-o",
            arg(&out),
            "--force",
            "--json",
        ])
        .expect_code(1);
    let json = output.stdout_json();
    let oks: Vec<bool> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["ok"].as_bool().unwrap())
        .collect();
    assert_eq!(oks, [true, false, true], "{json}");
    assert_eq!(json[1]["error"]["kind"], "not_found", "{json}");
    // The failure is told once, on its own line; the summary points at it.
    let failure = json[1]["error"]["message"].as_str().unwrap();
    assert_eq!(
        output.stderr.matches(failure).count(),
        1,
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("1 of 3 file(s) were not downloaded: no-such-file (see above)"),
        "{}",
        output.stderr
    );

    // Usage: several files need a directory (an existing file is not one), and --version
    // takes one file.
    let file = out.join("a.bin");
    let refused = env
        .cli()
        .run(&["download", &ua, &ub, "-o", arg(&file)])
        .expect_code(2);
    assert!(
        refused.stderr.contains("is a file") && refused.stderr.contains("\nhint: "),
        "{}",
        refused.stderr
    );
    assert_eq!(sha256_file(&file), sha256_file(&a), "left alone");
    env.cli()
        .run(&["download", &ua, &ub, "--version", "v"])
        .expect_code(2);
    // Two files that would land on the same name: the second is refused, the first kept.
    let again = env.file("again/a.bin", 5, 23);
    let twin = uploaded_uuid(&env.ok(&["upload", arg(&again)]).stdout, "a.bin");
    let clash = env.home.join("clash");
    std::fs::create_dir_all(&clash).unwrap();
    let output = env
        .cli()
        .run(&["download", &ua, &twin, "-o", arg(&clash)])
        .expect_code(1);
    assert!(
        output.stderr.contains("like another file of this download"),
        "{}",
        output.stderr
    );
    assert_eq!(sha256_file(&clash.join("a.bin")), sha256_file(&a));
}

/// The README's `kommo-files download UUID1 UUID2 -o ./inbox/` on a fresh machine: a missing
/// directory is created when `-o` ends with a separator or several files go there.
#[test]
fn download_creates_a_missing_directory() {
    let env = TestEnv::new();
    let a = env.file("a.bin", 300 * 1024, 31);
    let b = env.file("b.txt", 10, 32);
    let output = env.ok(&["upload", "-j", "1", arg(&a), arg(&b)]);
    let (ua, ub) = (
        uploaded_uuid(&output.stdout, "a.bin"),
        uploaded_uuid(&output.stdout, "b.txt"),
    );

    // Several files, `./inbox/` relative to the current directory, which does not exist.
    env.ok(&["download", &ua, &ub, "-o", "./inbox/"]);
    assert_eq!(sha256_file(&env.home.join("inbox/a.bin")), sha256_file(&a));
    assert_eq!(sha256_file(&env.home.join("inbox/b.txt")), sha256_file(&b));

    // Several files, no trailing separator: still a directory, created with its parents.
    let nested = env.home.join("deep/er");
    env.ok(&["download", &ua, &ub, "-o", arg(&nested)]);
    assert_eq!(sha256_file(&nested.join("b.txt")), sha256_file(&b));

    // One file and a trailing separator: a directory, the file under its own name.
    env.ok(&["download", &ub, "-o", "one/"]);
    assert_eq!(sha256_file(&env.home.join("one/b.txt")), sha256_file(&b));

    // One file, no separator: the file itself, as before.
    env.ok(&["download", &ub, "-o", "copy.txt"]);
    assert_eq!(sha256_file(&env.home.join("copy.txt")), sha256_file(&b));
}

/// A server name of 250 bytes is kept whole (it fits the 255-byte limit of a file name), and
/// the temporary `.{name}.{hex}.part` next to it must fit too, or the download fails with
/// "File name too long" (issue 15). Multi-byte names are cut on a character boundary.
#[test]
fn a_download_with_a_250_byte_name_succeeds() {
    let env = TestEnv::new();
    let ascii = format!("{}.bin", "a".repeat(246));
    // 1 + 81 × 3 + 6 bytes: the temporary name's cut at 240 bytes falls inside a `€`.
    let multibyte = format!("x{}ab.txt", "€".repeat(81));
    let cyrillic = format!("{}.txt", "ж".repeat(123));
    let names = [ascii, multibyte, cyrillic];
    let out = env.home.join("long");
    std::fs::create_dir_all(&out).unwrap();
    for (seed, name) in (41..).zip(&names) {
        assert_eq!(name.len(), 250, "{name}");
        let source = env.file(&format!("src/{name}"), 3000 + usize::from(seed), seed);
        let uuid = uploaded_uuid(&env.ok(&["upload", arg(&source)]).stdout, name);
        let json = env
            .ok(&["download", &uuid, "-o", arg(&out), "--json"])
            .stdout_json();
        assert_eq!(json["ok"], true, "{json}");
        let target = out.join(name);
        assert_eq!(json["path"], target.to_str().unwrap(), "{json}");
        assert_eq!(
            std::fs::read(&target).unwrap(),
            std::fs::read(&source).unwrap()
        );
    }
    // Only the three files are left: no temporary file stayed behind.
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(left, expected);
}
