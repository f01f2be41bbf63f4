//! `--emulator` and `demo`: no account needed.

use crate::support::{arg, sha256_file, Cli, TempDir};

#[test]
fn emulator_flag_lists_an_empty_drive() {
    let home = TempDir::new("emulator-flag");
    let output = Cli::new(home.path()).run(&["--emulator", "ls"]).success();
    assert_eq!(output.stdout, "UUID  SIZE  UPDATED  NAME\n0 files\n");
    let json = Cli::new(home.path())
        .run(&["ls", "--emulator", "--json"])
        .success()
        .stdout_json();
    assert_eq!(json, serde_json::json!([]));
}

#[test]
fn demo_runs_the_tour_and_verifies_the_download() {
    let home = TempDir::new("demo");
    let output = Cli::new(home.path())
        .run(&["demo", "--size", "600KiB"])
        .success();
    assert!(output.stdout.contains("\nVerified: "), "{}", output.stdout);
    // It logged in through the emulator's consent page and token endpoint.
    assert!(
        output.stdout.contains("It logged in with OAuth 2.0"),
        "{}",
        output.stdout
    );
    for step in [
        "$ kommo-files upload ",
        "$ kommo-files versions ",
        "$ kommo-files restore ",
    ] {
        assert!(output.stdout.contains(step), "{step}: {}", output.stdout);
    }
    assert!(!output.stderr.contains('\x1b'));
    // Its workspace (under TMPDIR) is removed afterwards.
    let left: Vec<_> = std::fs::read_dir(home.join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // --keep-in keeps the downloaded copy: the bytes the tour verified.
    let kept = home.join("kept");
    let output = Cli::new(home.path())
        .run(&["demo", "--size", "1KiB", "--keep-in", arg(&kept)])
        .success();
    let verified = output
        .stdout
        .split("Verified: the download's SHA-256 is the uploaded version's (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no verified SHA-256 in:\n{}", output.stdout));
    assert_eq!(sha256_file(&kept.join("quarterly-report-v2.bin")), verified);

    // A tour for people: no --json.
    let json = Cli::new(home.path())
        .run(&["demo", "--json"])
        .expect_code(2)
        .stderr_json();
    assert_eq!(json["error"]["kind"], "usage");
}
