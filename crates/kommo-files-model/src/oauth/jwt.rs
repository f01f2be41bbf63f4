//! Reading a JWT's times without verifying it: enough to warn or refresh before expiry, never
//! to trust anything the token says.

use serde::Deserialize;

/// The claims of a JWT that decide when to refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct JwtClaims {
    /// `exp`: when the token expires (Unix seconds).
    pub exp: Option<i64>,
    /// `iat`: when it was issued (Unix seconds).
    pub iat: Option<i64>,
}

/// The `exp` and `iat` of `token` if it is a JWT (`header.payload.signature`, base64url); `None`
/// for anything else. The signature is not checked.
///
/// ```
/// use kommo_files_model::oauth::jwt_claims;
/// // {"alg":"none"} . {"exp":1700000000,"iat":1600000000} . sig
/// let token = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDAsImlhdCI6MTYwMDAwMDAwMH0.c2ln";
/// let claims = jwt_claims(token).unwrap();
/// assert_eq!(claims.exp, Some(1_700_000_000));
/// assert_eq!(claims.iat, Some(1_600_000_000));
/// assert_eq!(jwt_claims("opaque-token"), None);
/// ```
pub fn jwt_claims(token: &str) -> Option<JwtClaims> {
    let mut segments = token.split('.');
    let (_header, payload, _signature) = (segments.next()?, segments.next()?, segments.next()?);
    if segments.next().is_some() || payload.len() > MAX_PAYLOAD {
        return None;
    }
    #[derive(Deserialize)]
    struct Times {
        exp: Option<serde_json::Number>,
        iat: Option<serde_json::Number>,
    }
    let times: Times = serde_json::from_slice(&base64url_decode(payload)?).ok()?;
    Some(JwtClaims {
        exp: times.exp.as_ref().and_then(unix_seconds),
        iat: times.iat.as_ref().and_then(unix_seconds),
    })
}

/// A payload larger than this is not a token we read (Kommo's are well under 2 KiB).
const MAX_PAYLOAD: usize = 64 * 1024;

/// A NumericDate: integer or fractional seconds, within what an `i64` holds.
fn unix_seconds(number: &serde_json::Number) -> Option<i64> {
    number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

/// Base64url without padding (a trailing `=` is tolerated); `None` for any other byte.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64url_of_every_length() {
        assert_eq!(base64url_decode("").unwrap(), b"");
        assert_eq!(base64url_decode("YQ").unwrap(), b"a");
        assert_eq!(base64url_decode("YWI").unwrap(), b"ab");
        assert_eq!(base64url_decode("YWJj").unwrap(), b"abc");
        assert_eq!(base64url_decode("YWJj==").unwrap(), b"abc");
        assert_eq!(base64url_decode("_-8").unwrap(), [0xff, 0xef]);
        assert_eq!(base64url_decode("a b"), None);
    }

    #[test]
    fn anything_but_a_jwt_has_no_claims() {
        for token in [
            "",
            "a.b",
            "a.b.c.d",
            "x.!!!.y",
            "x.bm90IGpzb24.y",         // "not json"
            "x.eyJleHAiOiJzb29uIn0.y", // {"exp":"soon"}
            "x.eyJleHAiOjFlMzAwfQ.y",  // {"exp":1e300}
        ] {
            let claims = jwt_claims(token);
            assert!(claims.is_none() || claims.unwrap().exp.is_none(), "{token}");
        }
    }

    #[test]
    fn fractional_and_negative_times() {
        // {"exp":1700000000.5,"iat":-5}
        let claims = jwt_claims("x.eyJleHAiOjE3MDAwMDAwMDAuNSwiaWF0IjotNX0.y").unwrap();
        assert_eq!(claims.exp, Some(1_700_000_000));
        assert_eq!(claims.iat, Some(-5));
    }
}
