//! Black-box HTTP tests of the emulator with a plain client (ureq), one test binary.

mod common;

mod account;
#[cfg(all(feature = "cli", unix))]
mod binary;
mod control;
mod faults;
mod files;
mod oauth;
mod persistence;
mod strict;
#[cfg(feature = "tls")]
mod tls;

/// Without the `tls` feature, asking for HTTPS is an error at start, not a silent plain HTTP.
#[cfg(not(feature = "tls"))]
#[test]
fn tls_without_the_feature_is_unsupported() {
    let error = kommo_files_emulator::Emulator::builder()
        .tls(true)
        .start()
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
}
mod upload;
