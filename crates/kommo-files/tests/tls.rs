//! https through both clients' built-in transports against the emulator's TLS listeners: the
//! `tls_emulator` example's own steps with its CA trusted, and a certificate nobody trusts
//! refused with `ErrorKind::Certificate` before any request is sent.

#[path = "../examples/tls_emulator.rs"]
mod example;

use kommo_files::{ClientConfig, ErrorKind, UploadOptions};
use kommo_files_emulator::EmulatorHandle;

#[test]
fn blocking_client_round_trip_over_https() {
    let emulator = example::start_emulator().expect("the emulator starts with TLS");
    let file = example::blocking_round_trip(&emulator).expect("the example's steps succeed");
    assert_eq!(emulator.files().len(), 1);
    assert_eq!(file.size, example::content(1).len() as u64);
    assert!(
        emulator.requests().len() > 2,
        "several requests went over https"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_round_trip_over_https() {
    let emulator =
        tokio::task::block_in_place(example::start_emulator).expect("the emulator starts with TLS");
    let file = example::async_round_trip(&emulator)
        .await
        .expect("the example's steps succeed");
    assert_eq!(emulator.files().len(), 1);
    assert_eq!(file.size, example::content(2).len() as u64);
}

/// The emulator's URL and token, but not its CA: the build's roots do not know it.
fn untrusting(emulator: &EmulatorHandle) -> ClientConfig {
    ClientConfig::for_url(emulator.account_url(), &emulator.token()).expect("a configuration")
}

fn assert_refused(error: &kommo_files::Error, emulator: &EmulatorHandle) {
    assert_eq!(
        error.kind(),
        ErrorKind::Certificate,
        "{}",
        error.chain_message()
    );
    assert!(!error.is_retryable());
    assert!(
        emulator.requests().is_empty(),
        "a request reached the server: {:?}",
        emulator.requests()
    );
    assert!(emulator.files().is_empty());
}

#[test]
fn blocking_client_refuses_an_untrusted_certificate_before_sending() {
    let emulator = example::start_emulator().expect("the emulator starts with TLS");
    let client = kommo_files::blocking::Client::new(untrusting(&emulator)).expect("a client");
    let error = client
        .upload_bytes("refused.txt", &b"secret"[..], UploadOptions::new())
        .unwrap_err();
    assert_refused(&error, &emulator);
    let error = client.get_file("any").unwrap_err();
    assert_refused(&error, &emulator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_refuses_an_untrusted_certificate_before_sending() {
    let emulator =
        tokio::task::block_in_place(example::start_emulator).expect("the emulator starts with TLS");
    let client = kommo_files::Client::new(untrusting(&emulator)).expect("a client");
    let error = client
        .upload_bytes("refused.txt", &b"secret"[..], UploadOptions::new())
        .await
        .unwrap_err();
    assert_refused(&error, &emulator);
}

#[test]
fn a_pem_without_certificate_fails_client_setup() {
    let config = ClientConfig::for_url("https://example.kommo.com", "token")
        .expect("a configuration")
        .trust_ca_pem("not a certificate");
    let error = kommo_files::blocking::Client::new(config.clone()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ClientSetup);
    let error = kommo_files::Client::new(config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ClientSetup);
}
