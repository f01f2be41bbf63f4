//! Help, version, usage errors (exit 2) and missing configuration.

use crate::support::{arg, Cli, TempDir, TestEnv};

fn cli(home: &TempDir) -> Cli {
    Cli::new(home.path())
}

#[test]
fn help_texts() {
    let home = TempDir::new("help");
    let top = cli(&home).run(&["--help"]).success();
    assert!(top.stderr.is_empty(), "{}", top.stderr);
    insta::assert_snapshot!("help", top.stdout);
    let upload = cli(&home).run(&["upload", "--help"]).success();
    insta::assert_snapshot!("help_upload", upload.stdout);
    let ls = cli(&home).run(&["ls", "--help"]).success();
    insta::assert_snapshot!("help_ls", ls.stdout);
}

#[test]
fn version() {
    let home = TempDir::new("version");
    let output = cli(&home).run(&["--version"]).success();
    assert_eq!(
        output.stdout.trim(),
        format!("kommo-files {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    let home = TempDir::new("usage");
    let cases: [(&[&str], &str); 4] = [
        (&["frobnicate"], "unrecognized subcommand"),
        (&["upload"], "<PATH>"),
        (
            &["attach", "0b7c5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "deals:1"],
            "unknown entity \"deals\"",
        ),
        (&["ls", "--min-size", "five"], "--min-size"),
    ];
    for (args, expected) in cases {
        let output = cli(&home).run(args).expect_code(2);
        assert!(output.stdout.is_empty(), "{args:?}: {}", output.stdout);
        assert!(
            output.stderr.starts_with("error: ") && output.stderr.contains(expected),
            "{args:?}: {}",
            output.stderr
        );

        let mut with_json = args.to_vec();
        with_json.push("--json");
        let output = cli(&home).run(&with_json).expect_code(2);
        assert_eq!(output.stderr.trim().lines().count(), 1, "{}", output.stderr);
        let json = output.stderr_json();
        assert_eq!(json["error"]["kind"], "usage", "{args:?}: {json}");
        let message = json["error"]["message"].as_str().expect("a message");
        assert!(
            !message.is_empty() && !message.starts_with("error:"),
            "{json}"
        );
        assert_eq!(json["error"]["hint"], "see kommo-files --help");
    }
}

#[test]
fn missing_configuration_exits_2_with_a_hint() {
    let home = TempDir::new("noconfig");
    let output = cli(&home).run(&["ls"]).expect_code(2);
    assert!(output.stdout.is_empty());
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines[0], "error: no access token", "{}", output.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("hint: ") && l.contains("KOMMO_TOKEN")),
        "{}",
        output.stderr
    );

    let json = cli(&home)
        .run(&["ls", "--json"])
        .expect_code(2)
        .stderr_json();
    assert_eq!(json["error"]["kind"], "config");
    assert_eq!(json["error"]["message"], "no access token");

    // A token but no account.
    let output = cli(&home)
        .env("KOMMO_TOKEN", "t")
        .run(&["ls"])
        .expect_code(2);
    assert!(output.stderr.starts_with("error: no account given\nhint: "));
}

#[test]
fn version_of_takes_one_file() {
    let env = TestEnv::new();
    let a = env.file("a.txt", 10, 1);
    let b = env.file("b.txt", 10, 2);
    let output = env
        .cli()
        .run(&[
            "upload",
            arg(&a),
            arg(&b),
            "--version-of",
            "0b7c5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        ])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("--version-of takes exactly one file, and 2 were given"),
        "{}",
        output.stderr
    );
    assert_eq!(env.sessions(), 0, "nothing may be uploaded");
}
