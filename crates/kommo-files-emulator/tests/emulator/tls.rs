//! `tls`: both listeners serve HTTPS with a certificate made at start, trusted through the CA
//! certificate the handle exposes and writes to a file.

use std::sync::Arc;

use kommo_files_emulator::Emulator;
use serde_json::json;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::common::{pattern, sha256_hex, Api};

/// A client that trusts only `ca_pem`.
pub fn trusting(ca_pem: &str) -> ureq::Agent {
    let ca = Certificate::from_pem(ca_pem.as_bytes()).expect("the CA is PEM");
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![ca])))
                .build(),
        )
        .build()
        .new_agent()
}

#[test]
fn https_listeners_answer_a_client_that_trusts_the_ca() {
    let emulator = Emulator::builder().tls(true).start().expect("starts");
    assert!(emulator.account_url().starts_with("https://127.0.0.1:"));
    assert!(emulator.drive_url().starts_with("https://127.0.0.1:"));
    let pem = emulator.ca_certificate_pem().expect("a CA").to_owned();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let path = emulator
        .ca_certificate_path()
        .expect("a CA file")
        .to_owned();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);

    // The whole API works over HTTPS: account, session, part, download (with its redirect).
    let api = Api {
        emu: emulator,
        agent: trusting(&pem),
    };
    let account = api.account("GET", "/api/v4/account?with=drive_url", None);
    assert_eq!(account.status, 200);
    assert_eq!(account.json()["drive_url"], api.emu.drive_url());
    let bytes = pattern(70_000);
    let file = api.upload("secure.bin", &bytes);
    let download = file["_links"]["download"]["href"].as_str().unwrap();
    assert!(download.starts_with("https://"), "{download}");
    assert_eq!(sha256_hex(&api.download(download)), sha256_hex(&bytes));

    // A client that does not trust the CA is refused the handshake.
    let stranger = ureq::Agent::config_builder().build().new_agent();
    let url = format!("{}/api/v4/account", api.emu.account_url());
    assert!(stranger.get(&url).call().is_err());

    // The temp CA file goes with the emulator.
    drop(api);
    assert!(!path.exists());
}

#[test]
fn the_ca_file_goes_where_asked_and_plain_http_has_none() {
    let dir = crate::common::temp_dir("tls");
    let path = dir.join("my-ca.pem");
    let emulator = Emulator::builder()
        .tls(true)
        .tls_ca_path(&path)
        .start()
        .expect("starts");
    assert_eq!(emulator.ca_certificate_path(), Some(path.as_path()));
    let agent = trusting(&std::fs::read_to_string(&path).unwrap());
    let url = format!("{}/__emulator/health", emulator.drive_url());
    let mut answer = agent.get(&url).call().unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value =
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["status"], json!("ok"));
    drop(emulator);
    assert!(path.exists(), "a file asked for is kept");

    let plain = Emulator::builder().start().unwrap();
    assert!(plain.ca_certificate_pem().is_none() && plain.ca_certificate_path().is_none());
}
