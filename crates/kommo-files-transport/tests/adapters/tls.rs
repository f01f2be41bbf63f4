//! https through the built-in adapters against the emulator's TLS listeners: its CA trusted
//! through [`TransportOptions::trust_ca_pem`], and refused (with [`ErrorKind::Certificate`],
//! before any request reaches the server) when it is not.

use bytes::Bytes;
use kommo_files_emulator::{Emulator, EmulatorHandle};
use kommo_files_transport::{ErrorKind, TransportError, TransportOptions};

/// `GET /api/v4/account` with the emulator's token.
fn account_request(emulator: &EmulatorHandle) -> http::Request<Bytes> {
    http::Request::get(format!("{}/api/v4/account", emulator.account_url()))
        .header("authorization", format!("Bearer {}", emulator.token()))
        .body(Bytes::new())
        .expect("a request")
}

fn tls_emulator() -> EmulatorHandle {
    let emulator = Emulator::builder()
        .tls(true)
        .start()
        .expect("the emulator starts with TLS");
    assert!(emulator.account_url().starts_with("https://"));
    emulator
}

fn trusting(emulator: &EmulatorHandle) -> TransportOptions {
    TransportOptions::new().trust_ca_pem(emulator.ca_certificate_pem().expect("a CA"))
}

/// The refusal of an untrusted certificate: its own kind, never retried, nothing sent.
fn assert_refused(error: &TransportError, emulator: &EmulatorHandle) {
    assert_eq!(error.kind(), ErrorKind::Certificate, "{error}");
    assert!(!error.kind().may_have_reached_server());
    assert!(!error.is_retry_safe(true));
    assert!(
        emulator.requests().is_empty(),
        "a request reached the server: {:?}",
        emulator.requests()
    );
}

#[cfg(feature = "ureq")]
mod ureq {
    use super::*;
    use kommo_files_transport::{BlockingTransport, UreqTransport};

    #[test]
    fn trusted_ca_gives_https() {
        let emulator = tls_emulator();
        let transport = UreqTransport::with_options(&trusting(&emulator)).expect("a transport");
        let response = transport
            .send(account_request(&emulator))
            .expect("an answer over https");
        assert_eq!(response.status(), 200);
        assert_eq!(emulator.requests().len(), 1);
    }

    #[test]
    fn untrusted_certificate_is_refused_before_sending() {
        let emulator = tls_emulator();
        let transport = UreqTransport::with_options(&TransportOptions::new()).expect("a transport");
        let error = transport.send(account_request(&emulator)).unwrap_err();
        assert_refused(&error, &emulator);
    }

    #[test]
    fn another_ca_is_refused_too() {
        let emulator = tls_emulator();
        let other = tls_emulator();
        let transport = UreqTransport::with_options(&trusting(&other)).expect("a transport");
        let error = transport.send(account_request(&emulator)).unwrap_err();
        assert_refused(&error, &emulator);
    }

    #[test]
    fn a_pem_without_certificate_is_refused() {
        let options = TransportOptions::new().trust_ca_pem("-----BEGIN NOTHING-----\n");
        let error = UreqTransport::with_options(&options).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Other, "{error}");
    }
}

#[cfg(feature = "reqwest")]
mod reqwest {
    use super::*;
    use kommo_files_transport::{AsyncTransport, ReqwestTransport};

    #[tokio::test]
    async fn trusted_ca_gives_https() {
        let emulator = tls_emulator();
        let transport = ReqwestTransport::with_options(&trusting(&emulator)).expect("a transport");
        let response = transport
            .send(account_request(&emulator))
            .await
            .expect("an answer over https");
        assert_eq!(response.status(), 200);
        assert_eq!(emulator.requests().len(), 1);
    }

    #[tokio::test]
    async fn untrusted_certificate_is_refused_before_sending() {
        let emulator = tls_emulator();
        let transport =
            ReqwestTransport::with_options(&TransportOptions::new()).expect("a transport");
        let error = transport
            .send(account_request(&emulator))
            .await
            .unwrap_err();
        assert_refused(&error, &emulator);
    }

    #[test]
    fn a_pem_without_certificate_is_refused() {
        let options = TransportOptions::new().trust_ca_pem("-----BEGIN NOTHING-----\n");
        let error = ReqwestTransport::with_options(&options).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Other, "{error}");
    }
}
