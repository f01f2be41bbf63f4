//! Failures the server reports: one `error:` line and a `hint:` saying what to do.

use kommo_files::UploadOptions;
use kommo_files_emulator::{Emulator, Scope};

use crate::support::TestEnv;

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
    let json = env
        .cli()
        .run(&["ls", "--json"])
        .expect_code(1)
        .stderr_json();
    assert_eq!(json["error"]["status"], 403);
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
