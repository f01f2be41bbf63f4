//! HTTPS for both listeners (feature `tls`): at start, a fresh CA and a server certificate it
//! signs, for `127.0.0.1`, `::1`, `localhost` (and the bind address), both ECDSA P-256. The CA
//! certificate is what clients trust; its key is dropped once the server certificate is
//! signed, so it can sign nothing else.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// What the listeners need and what the handle shows.
pub(crate) struct TlsSetup {
    pub(crate) acceptor: TlsAcceptor,
    /// The CA certificate, PEM.
    pub(crate) ca_pem: String,
}

fn tls_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("cannot set up TLS: {e}"))
}

/// `(year, month, day)` of Unix day `days` (days since 1970-01-01), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        i32::try_from(year).unwrap_or(1970),
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

/// `(year, month, day)` of the day `offset_days` from today (real time: certificates are
/// checked against the client's clock, not the emulator's).
fn day(offset_days: i64) -> (i32, u8, u8) {
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs() / 86_400).unwrap_or(0));
    civil_from_days(today + offset_days)
}

/// Makes the CA and the server certificate; `bind` is added to the names when it is a
/// specific address other than the loopback ones.
pub(crate) fn generate(bind: IpAddr) -> io::Result<TlsSetup> {
    let ca_key = KeyPair::generate().map_err(tls_error)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kommo-files-emulator local CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    {
        let (y, mo, d) = day(-1);
        ca_params.not_before = rcgen::date_time_ymd(y, mo, d);
    }
    {
        let (y, mo, d) = day(365);
        ca_params.not_after = rcgen::date_time_ymd(y, mo, d);
    }
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_error)?;

    let key = KeyPair::generate().map_err(tls_error)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(tls_error)?;
    let mut ips: Vec<IpAddr> = vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    if !bind.is_unspecified() && !ips.contains(&bind) {
        ips.push(bind);
    }
    params
        .subject_alt_names
        .extend(ips.into_iter().map(SanType::IpAddress));
    params
        .distinguished_name
        .push(DnType::CommonName, "kommo-files-emulator");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // Well inside the CA's validity, and under the 825 days some platforms require.
    {
        let (y, mo, d) = day(-1);
        params.not_before = rcgen::date_time_ymd(y, mo, d);
    }
    {
        let (y, mo, d) = day(364);
        params.not_after = rcgen::date_time_ymd(y, mo, d);
    }
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).map_err(tls_error)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(tls_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca_cert.pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_722), (2023, 12, 31));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }
}
