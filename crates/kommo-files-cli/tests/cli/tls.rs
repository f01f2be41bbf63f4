//! https to a server with its own CA (the emulator with `tls(true)`): trusted with `--ca-cert`
//! or `KOMMO_CA_CERT`, and refused without, as a `certificate` failure with a hint and no
//! request sent.

use kommo_files_emulator::Emulator;

use crate::support::TestEnv;

fn tls_env() -> TestEnv {
    let env = TestEnv::with(Emulator::builder().tls(true));
    assert!(env.emulator.account_url().starts_with("https://"));
    env
}

fn ca_path(env: &TestEnv) -> std::path::PathBuf {
    env.emulator
        .ca_certificate_path()
        .expect("a CA file")
        .to_path_buf()
}

#[test]
fn ca_cert_flag_trusts_the_servers_ca() {
    let env = tls_env();
    let file = env.file("report.bin", 40_000, 3);
    let ca = ca_path(&env);
    env.ok(&[
        "upload",
        "--ca-cert",
        ca.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let listed = env.ok(&["--ca-cert", ca.to_str().unwrap(), "ls", "--json"]);
    assert!(listed.stdout.contains("report.bin"), "{}", listed.stdout);
    assert_eq!(env.emulator.files().len(), 1);
}

#[test]
fn ca_cert_environment_variable_trusts_it_too() {
    let env = tls_env();
    let output = env
        .cli()
        .env("KOMMO_CA_CERT", ca_path(&env))
        .run(&["ls", "--json"]);
    output.success();
}

#[test]
fn an_untrusted_certificate_is_refused_with_a_hint_and_nothing_sent() {
    let env = tls_env();
    let output = env.cli().run(&["ls", "--json"]).expect_code(1);
    let json = output.stderr_json();
    assert_eq!(json["error"]["kind"], "certificate", "{json}");
    let hint = json["error"]["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains("--ca-cert") && hint.contains("KOMMO_CA_CERT"),
        "{hint}"
    );
    assert!(
        env.emulator.requests().is_empty(),
        "{:?}",
        env.emulator.requests()
    );
}

#[test]
fn a_ca_cert_that_is_not_a_certificate_is_a_configuration_error() {
    let env = tls_env();
    let not_pem = env.file("not-a-ca.pem", 100, 1);
    let output = env
        .cli()
        .run(&["--ca-cert", not_pem.to_str().unwrap(), "ls", "--json"])
        .expect_code(2);
    assert_eq!(output.stderr_json()["error"]["kind"], "config");
    let missing = env.home.join("missing.pem");
    env.cli()
        .run(&["--ca-cert", missing.to_str().unwrap(), "ls"])
        .expect_code(2);
    assert!(env.emulator.requests().is_empty());
}
