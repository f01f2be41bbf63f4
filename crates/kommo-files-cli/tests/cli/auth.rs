//! `auth login`, `auth status`, `auth logout`, and commands on a stored OAuth login: against
//! an emulator with an integration, whose clock the tests move. No output may hold a token, a
//! refresh token, a code or the client secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kommo_files::auth::{FileTokenStore, TokenStore};
use kommo_files::oauth::{RefreshToken, TokenSet};
use kommo_files::AccessToken;
use kommo_files_emulator::{Emulator, Integration};

use crate::support::{Cli, Output, TestEnv};

const CLIENT_ID: &str = "cli-oauth-client";
const SECRET: &str = "cli-oauth-secret-93ad1";
const REDIRECT: &str = "https://integration.example/oauth/callback";

fn env() -> TestEnv {
    TestEnv::with(Emulator::builder().integration(Integration::new(CLIENT_ID, SECRET, REDIRECT)))
}

/// The command without any token: only a stored login can authenticate it.
fn cli(env: &TestEnv) -> Cli {
    Cli::new(env.home.path()).env("KOMMO_STATE_DIR", env.state_dir())
}

/// The same, naming the account.
fn cli_for_account(env: &TestEnv) -> Cli {
    cli(env).env("KOMMO_BASE_URL", env.emulator.account_url())
}

fn integration_flags() -> Vec<&'static str> {
    vec![
        "auth",
        "login",
        "--client-id",
        CLIENT_ID,
        "--redirect-uri",
        REDIRECT,
    ]
}

/// `auth login --code …`, with the secret from the environment.
fn login_with_code(env: &TestEnv, extra: &[&str]) -> (Output, String) {
    let code = env.emulator.authorization_code(CLIENT_ID);
    let mut args = integration_flags();
    args.extend(["--code", code.as_str()]);
    args.extend_from_slice(extra);
    let output = cli_for_account(env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run(&args);
    (output, code)
}

/// The account as a file name, as the CLI names its files.
fn account_key(url: &str) -> String {
    url.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn token_file(env: &TestEnv) -> PathBuf {
    env.state_dir()
        .join("tokens")
        .join(format!("{}.json", account_key(env.emulator.account_url())))
}

fn record_file(env: &TestEnv) -> PathBuf {
    env.state_dir().join("tokens").join(format!(
        "{}.login.json",
        account_key(env.emulator.account_url())
    ))
}

fn stored(env: &TestEnv) -> TokenSet {
    FileTokenStore::new(token_file(env))
        .load()
        .expect("readable store")
        .expect("a stored set")
}

/// The stored access and refresh token, to look for in outputs.
fn secrets_of(set: &TokenSet) -> Vec<String> {
    let mut secrets = vec![set.access().expose().to_owned()];
    secrets.extend(set.refresh().map(|r| r.expose().to_owned()));
    secrets
}

#[track_caller]
fn assert_no_secret(outputs: &[&Output], secrets: &[String]) {
    for output in outputs {
        for secret in secrets.iter().chain(std::iter::once(&SECRET.to_owned())) {
            assert!(
                !output.stdout.contains(secret.as_str())
                    && !output.stderr.contains(secret.as_str()),
                "a secret leaked:\n--- stdout\n{}\n--- stderr\n{}",
                output.stdout,
                output.stderr
            );
        }
    }
}

#[cfg(unix)]
#[track_caller]
fn assert_owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .expect("the file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
}

#[cfg(not(unix))]
fn assert_owner_only(path: &Path) {
    assert!(path.exists());
}

fn token_requests(env: &TestEnv) -> usize {
    env.count_requests("POST", |path| path == "/oauth2/access_token")
}

#[test]
fn login_with_a_code_stores_the_tokens_and_status_shows_them() {
    let env = env();
    let (login, code) = login_with_code(&env, &[]);
    let login = login.success();
    let account = env.emulator.account_url();
    assert!(
        login.stdout.contains(&format!("Logged in to {account}")),
        "{}",
        login.stdout
    );
    assert!(login.stdout.contains("OAuth 2.0"), "{}", login.stdout);
    assert!(login.stdout.contains("expires"), "{}", login.stdout);
    assert!(
        login.stdout.contains("KOMMO_CLIENT_SECRET"),
        "{}",
        login.stdout
    );
    assert_owner_only(&token_file(&env));
    assert_owner_only(&record_file(&env));
    let record = std::fs::read_to_string(record_file(&env)).unwrap();
    assert!(
        record.contains(CLIENT_ID) && !record.contains(SECRET),
        "{record}"
    );
    let set = stored(&env);
    assert!(set.refresh().is_some() && set.expires_at().is_some());
    assert_eq!(token_requests(&env), 1, "one code exchange");

    let status = cli_for_account(&env).run(&["auth", "status"]).success();
    for expected in [
        "OAuth 2.0",
        CLIENT_ID,
        "expires:",
        " UTC (in ",
        "stored in:",
        "missing",
    ] {
        assert!(
            status.stdout.contains(expected),
            "{expected}: {}",
            status.stdout
        );
    }
    assert!(status
        .stdout
        .contains(&token_file(&env).display().to_string()));
    // Without an account in the environment: the only stored login.
    let json = cli(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run(&["auth", "status", "--json"])
        .success();
    let value = json.stdout_json();
    assert_eq!(value["kind"], "oauth");
    assert_eq!(value["account"], account);
    assert_eq!(value["expired"], false);
    assert_eq!(value["expires_at"], set.expires_at().unwrap());
    assert_eq!(value["client_secret"], "from KOMMO_CLIENT_SECRET");

    // Refreshing needs the secret: without it, a clear configuration error.
    let no_secret = cli_for_account(&env).run(&["ls"]).expect_code(2);
    assert!(
        no_secret.stderr.contains("client secret"),
        "{}",
        no_secret.stderr
    );
    assert!(
        no_secret.stderr.contains("--save-secret"),
        "{}",
        no_secret.stderr
    );
    // With it, commands use the stored login.
    let ls = cli_for_account(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run(&["ls"])
        .success();
    assert!(ls.stdout.contains("0 files"), "{}", ls.stdout);

    let mut secrets = secrets_of(&set);
    secrets.push(code);
    assert_no_secret(&[&login, &status, &json, &no_secret, &ls], &secrets);
}

#[test]
fn login_with_a_pasted_redirect_url_learns_the_account() {
    let env = env();
    let code = env.emulator.authorization_code(CLIENT_ID);
    let referer = env
        .emulator
        .account_url()
        .trim_start_matches("http://")
        .to_owned();
    let pasted = format!("{REDIRECT}?code={code}&state=s-41&referer={referer}\n");
    let mut args = integration_flags();
    args.extend(["--state", "s-41", "--save-secret"]);
    // No KOMMO_BASE_URL: the redirect's `referer` names the account.
    let login = cli(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run_with_stdin(&args, &pasted)
        .success();
    // No account known yet: Kommo's consent page, where the user picks it.
    assert!(
        login.stderr.contains(&format!(
            "https://www.kommo.com/oauth?client_id={CLIENT_ID}&state=s-41&mode=post_message"
        )),
        "the consent URL: {}",
        login.stderr
    );
    assert!(
        login
            .stdout
            .contains(&format!("Logged in to {}", env.emulator.account_url())),
        "{}",
        login.stdout
    );
    assert!(
        login.stdout.contains("the client secret is stored"),
        "{}",
        login.stdout
    );
    assert_owner_only(&record_file(&env));
    // With --save-secret, commands need neither the account nor the secret.
    let ls = cli(&env).run(&["ls"]).success();
    let status = cli(&env).run(&["auth", "status"]).success();
    assert!(
        status.stdout.contains("stored with the login"),
        "{}",
        status.stdout
    );
    let mut secrets = secrets_of(&stored(&env));
    secrets.push(code);
    assert_no_secret(&[&login, &ls, &status], &secrets);
}

/// What a browser does with the emulator's consent page: a `GET`, whose redirect's `Location`
/// is the URL the user pastes.
fn follow_consent(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("a local consent URL");
    let slash = rest.find('/').expect("a path");
    let mut stream = std::net::TcpStream::connect(&rest[..slash]).expect("connect");
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        &rest[slash..],
        &rest[..slash]
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    answer
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .expect("a Location")
}

/// The whole interactive login: the consent URL it prints (the emulator's own, as the account
/// is on this machine) with a random `state`, followed as a browser would, its redirect pasted.
#[test]
fn an_interactive_login_through_the_consent_page() {
    let env = env();
    let mut consent = None;
    let login = cli_for_account(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run_interactive(&integration_flags(), |line| {
            let url = line.trim();
            url.starts_with("http").then(|| {
                consent = Some(url.to_owned());
                format!("{}\n", follow_consent(url))
            })
        })
        .success();
    let consent = consent.expect("a consent URL was printed");
    assert!(
        consent.starts_with(&format!(
            "{}/oauth?client_id={CLIENT_ID}&state=",
            env.emulator.account_url()
        )),
        "{consent}"
    );
    let state = consent
        .split("state=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap();
    assert_eq!(state.len(), 32, "16 random bytes: {consent}");
    assert!(login.stdout.contains("Logged in to"), "{}", login.stdout);
    assert_owner_only(&token_file(&env));
    assert_eq!(token_requests(&env), 1);
    assert_no_secret(&[&login], &secrets_of(&stored(&env)));
}

#[test]
fn a_redirect_with_another_state_is_refused() {
    let env = env();
    let code = env.emulator.authorization_code(CLIENT_ID);
    let referer = env
        .emulator
        .account_url()
        .trim_start_matches("http://")
        .to_owned();
    let forged = format!("{REDIRECT}?code={code}&state=not-mine&referer={referer}");
    let mut args = integration_flags();
    args.extend(["--state", "mine"]);
    let pasted = cli(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run_with_stdin(&args, &format!("{forged}\n"))
        .expect_code(2);
    assert!(
        pasted.stderr.contains("`state` does not match"),
        "{}",
        pasted.stderr
    );
    // A random state (no --state) refuses it too.
    let random = cli(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run_with_stdin(&integration_flags(), &format!("{forged}\n"))
        .expect_code(2);
    assert!(
        random.stderr.contains("`state` does not match"),
        "{}",
        random.stderr
    );
    args.extend(["--redirect-url", forged.as_str(), "--json"]);
    let flag = cli(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run(&args)
        .expect_code(2);
    assert_eq!(flag.stderr_json()["error"]["kind"], "auth");
    assert!(!token_file(&env).exists(), "nothing stored");
    assert_eq!(token_requests(&env), 0, "the code was never sent");
    assert_no_secret(&[&pasted, &random, &flag], std::slice::from_ref(&code));

    // The refused redirect's code was never sent: it still works once, then it is spent,
    // and the token endpoint's refusal is a clear error.
    let mut args = integration_flags();
    args.extend(["--code", code.as_str()]);
    let first = cli_for_account(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run(&args)
        .success();
    let spent = cli_for_account(&env)
        .env("KOMMO_CLIENT_SECRET", SECRET)
        .run(&args)
        .expect_code(2);
    assert!(
        spent.stderr.contains("refused the code"),
        "{}",
        spent.stderr
    );
    assert!(spent.stderr.contains("auth login"), "{}", spent.stderr);
    let mut secrets = secrets_of(&stored(&env));
    secrets.push(code);
    assert_no_secret(&[&first, &spent], &secrets);
}

#[test]
fn an_expired_access_token_is_refreshed_transparently() {
    let env = env();
    login_with_code(&env, &["--save-secret"]).0.success();
    let before = stored(&env);
    // A day and a minute later on the emulator's clock: the access token is refused there.
    env.emulator.advance_clock(Duration::from_secs(86_400 + 60));
    env.emulator.clear_requests();
    let ls = cli_for_account(&env).run(&["ls"]).success();
    assert!(ls.stdout.contains("0 files"), "{}", ls.stdout);
    assert_eq!(token_requests(&env), 1, "one refresh");
    let after = stored(&env);
    assert_ne!(after.access().expose(), before.access().expose());
    assert_ne!(
        after.refresh().map(RefreshToken::expose),
        before.refresh().map(RefreshToken::expose),
        "the rotated pair is stored"
    );
    let mut secrets = secrets_of(&before);
    secrets.extend(secrets_of(&after));
    assert_no_secret(&[&ls], &secrets);
}

#[test]
fn two_processes_on_an_expired_store_refresh_once() {
    let env = env();
    login_with_code(&env, &["--save-secret"]).0.success();
    let issued = stored(&env);
    // Expired on both clocks: the server's, and the stored expiry the CLI reads.
    env.emulator.advance_clock(Duration::from_secs(86_400 + 60));
    let expired = TokenSet::new(
        AccessToken::new(issued.access().expose()).unwrap(),
        issued.refresh().cloned(),
        Some(1_000_000_000),
    );
    FileTokenStore::new(token_file(&env))
        .save_initial(&expired)
        .unwrap();
    env.emulator.clear_requests();

    let first = cli_for_account(&env).spawn(&["ls"]);
    let second = cli_for_account(&env).spawn(&["ls"]);
    let (first, second) = (first.wait().success(), second.wait().success());
    assert_eq!(
        token_requests(&env),
        1,
        "one refresh for both: {:#?}",
        env.emulator.requests()
    );
    let refreshed = stored(&env);
    assert_ne!(refreshed.access().expose(), issued.access().expose());
    let mut secrets = secrets_of(&issued);
    secrets.extend(secrets_of(&refreshed));
    assert_no_secret(&[&first, &second], &secrets);
}

#[test]
fn logout_removes_the_stored_login() {
    let env = env();
    login_with_code(&env, &["--save-secret"]).0.success();
    let set = stored(&env);
    let logout = cli(&env).run(&["auth", "logout"]).success();
    assert!(logout.stdout.contains("Logged out of"), "{}", logout.stdout);
    assert!(!token_file(&env).exists() && !record_file(&env).exists());
    let status = cli_for_account(&env)
        .run(&["auth", "status"])
        .expect_code(2);
    assert!(status.stderr.contains("auth login"), "{}", status.stderr);
    let ls = cli_for_account(&env).run(&["ls"]).expect_code(2);
    assert!(ls.stderr.contains("auth login"), "{}", ls.stderr);
    let again = cli(&env).run(&["auth", "logout"]).success();
    assert!(again.stdout.contains("Not logged in"), "{}", again.stdout);
    assert_no_secret(&[&logout, &status, &ls, &again], &secrets_of(&set));
}

#[test]
fn a_revoked_integration_is_a_clear_auth_error() {
    let env = env();
    login_with_code(&env, &["--save-secret"]).0.success();
    let set = stored(&env);
    assert!(env.emulator.revoke_integration(CLIENT_ID));
    let ls = cli_for_account(&env).run(&["ls", "--json"]).expect_code(2);
    let error = ls.stderr_json();
    assert_eq!(error["error"]["kind"], "auth", "{error}");
    assert!(
        error["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("auth login"),
        "{error}"
    );
    assert_no_secret(&[&ls], &secrets_of(&set));
}

#[test]
fn a_token_in_the_environment_wins_over_the_stored_login() {
    let env = env();
    login_with_code(&env, &["--save-secret"]).0.success();
    let set = stored(&env);
    env.emulator.clear_requests();
    let status = env.cli().run(&["auth", "status"]).success();
    assert!(
        status.stdout.contains("from KOMMO_TOKEN"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("is not used"), "{}", status.stdout);
    // The emulator's default token is a JWT whose `exp` is years away: no warning.
    let ls = env.ok(&["ls"]);
    assert!(!ls.stderr.contains("warning"), "{}", ls.stderr);
    assert_eq!(token_requests(&env), 0);
    assert_no_secret(&[&status, &ls], &secrets_of(&set));
}
