//! Failures the server reports: one `error:` line and a `hint:` saying what to do.

use kommo_files::UploadOptions;
use kommo_files_emulator::{Emulator, Fault, FaultAction, Scope};

use crate::support::{arg, TestEnv};

/// Runs `args` expecting exit 1 with exactly an `error:` line and a `hint:` line; returns the
/// hint.
#[track_caller]
fn hint_of(env: &TestEnv, args: &[&str]) -> String {
    let output = env.cli().run(args).expect_code(1);
    assert!(output.stdout.is_empty(), "{}", output.stdout);
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", output.stderr);
    assert!(lines[0].starts_with("error: "), "{}", output.stderr);
    lines[1]
        .strip_prefix("hint: ")
        .unwrap_or_else(|| panic!("no hint: {}", output.stderr))
        .to_owned()
}

#[test]
fn a_token_without_the_files_scope() {
    let env = TestEnv::with(Emulator::builder().token("crm-only", [Scope::Crm]));
    let hint = hint_of(&env, &["ls"]);
    assert!(hint.contains("\"Access to files\" scope"), "{hint}");

    let output = env.cli().run(&["ls", "--json"]).expect_code(1);
    assert!(output.stdout.is_empty());
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    let json = output.stderr_json();
    assert_eq!(json["error"]["kind"], "api");
    assert_eq!(json["error"]["status"], 403);
    assert!(json["error"]["message"].is_string());
    assert!(json["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("Access to files"));
}

#[test]
fn a_token_without_the_delete_scope_cannot_rm() {
    let env = TestEnv::with(
        Emulator::builder()
            .token("full", Scope::ALL)
            .token("no-delete", [Scope::Crm, Scope::Files]),
    );
    let file = env
        .sdk()
        .upload_bytes("keep.txt", &b"keep"[..], UploadOptions::new())
        .unwrap();
    let env = env.using_token("no-delete");
    // Reading works with this token...
    env.ok(&["info", &file.uuid]);
    // ...deleting does not.
    let hint = hint_of(&env, &["rm", "--yes", &file.uuid]);
    assert!(hint.contains("\"Deleting files\""), "{hint}");
    assert!(!env.stored(&file.uuid).is_trashed);
}

#[test]
fn a_blocked_account() {
    let env = TestEnv::with(Emulator::builder().blocked(true));
    let hint = hint_of(&env, &["ls"]);
    assert!(hint.contains("blocks an account"), "{hint}");
    // `ls` has no --concurrency to lower.
    assert!(!hint.contains("--concurrency"), "{hint}");
    let json = env
        .cli()
        .run(&["ls", "--json"])
        .expect_code(1)
        .stderr_json();
    assert_eq!(json["error"]["status"], 403);
    assert!(
        !json["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--concurrency"),
        "{json}"
    );

    // `upload` has.
    let path = env.file("a.txt", 10, 1);
    let output = env.cli().run(&["upload", arg(&path)]).expect_code(1);
    let hint = output.stderr.lines().last().unwrap();
    assert!(
        hint.starts_with("hint: ") && hint.contains("lower --concurrency"),
        "{}",
        output.stderr
    );
}

/// An error answer that is an HTML page (a blocked account's, a proxy's) is summed up in a few
/// words, in the `error:` line and in `--json`: the markup never reaches the terminal.
#[test]
fn html_error_pages_are_summed_up_not_shown() {
    let env = TestEnv::with(Emulator::builder().blocked(true));
    let output = env.cli().run(&["ls"]).expect_code(1);
    let error = output.stderr.lines().next().unwrap();
    assert_eq!(
        error,
        "error: discover_drive: HTTP 403 Forbidden: Your account has been blocked for exceeding the \
         API request limits. (an HTML page)"
    );
    let json = env
        .cli()
        .run(&["ls", "--json"])
        .expect_code(1)
        .stderr_json();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains("Your account has been blocked"), "{json}");
    assert!(!message.contains('<'), "{json}");

    // A proxy's 502 page, on a request the SDK does not repeat.
    let env = TestEnv::new();
    let file = env
        .sdk()
        .upload_bytes("a.txt", &b"a"[..], UploadOptions::new())
        .unwrap();
    env.emulator.add_fault(
        Fault::new(FaultAction::HtmlError { status: 502 })
            .method("POST")
            .path("/api/v4/leads/*notes")
            .every(),
    );
    for args in [
        vec!["note", "leads:1001", file.uuid.as_str()],
        vec!["note", "leads:1001", file.uuid.as_str(), "--json"],
    ] {
        let output = env.cli().run(&args).expect_code(1);
        assert!(!output.stderr.contains('<'), "{}", output.stderr);
        assert!(
            output.stderr.contains(
                "HTTP 502 Bad Gateway: The server is temporarily unable to service your request."
            ),
            "{}",
            output.stderr
        );
    }
}

/// Finding the drive (`GET /api/v4/account?with=drive_url`) needs the CRM scope, not the
/// files one: the hint names the scope this request lacked.
#[test]
fn a_token_without_the_crm_scope_fails_at_drive_discovery() {
    let env = TestEnv::with(
        Emulator::builder()
            .token("full", Scope::ALL)
            .token("files-only", [Scope::Files]),
    )
    .using_token("files-only");
    let hint = hint_of(&env, &["ls"]);
    assert!(hint.contains("\"CRM\" scope"), "{hint}");
    assert!(!hint.contains("Access to files"), "{hint}");
    let json = env
        .cli()
        .run(&["ls", "--json"])
        .expect_code(1)
        .stderr_json();
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("discover_drive: HTTP 403"),
        "{json}"
    );
    assert!(!json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Access to files"));
    // What the hint offers instead works: the drive named, no discovery.
    env.cli()
        .env("KOMMO_DRIVE_URL", env.emulator.drive_url())
        .run(&["ls"])
        .success();
    // Entities need the CRM scope too.
    let output = env
        .cli()
        .env("KOMMO_DRIVE_URL", env.emulator.drive_url())
        .run(&["links", "--entity", "leads:1001"])
        .expect_code(1);
    let hint = output.stderr.lines().last().unwrap();
    assert!(hint.contains("\"CRM\" scope"), "{}", output.stderr);
}

#[test]
fn an_unknown_token() {
    let env = TestEnv::new().using_token("not-a-token");
    let hint = hint_of(&env, &["ls"]);
    assert!(hint.contains("the token is invalid or expired"), "{hint}");
}

#[test]
fn an_unreachable_server() {
    let env = TestEnv::new();
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = env
        .cli()
        .env("KOMMO_BASE_URL", format!("http://127.0.0.1:{port}"))
        .run(&["ls", "--json"])
        .expect_code(1);
    let json = output.stderr_json();
    assert_eq!(json["error"]["kind"], "network", "{json}");
    assert!(json["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("cannot reach the server"));
}
