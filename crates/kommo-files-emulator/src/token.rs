//! Signed upload tokens (docs/kommo-api.md#uploads): a JWT-shaped `header.payload.signature`, HS256 over the
//! session id, part number and expiry, so a forged or edited URL is refused with 404.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What an upload URL token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadClaims {
    pub(crate) session_id: u64,
    pub(crate) part_num: u32,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) account_id: u64,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Encodes and signs `claims` with `key`.
pub(crate) fn sign(key: &[u8], claims: &UploadClaims) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        base64url_encode(HEADER.as_bytes()),
        base64url_encode(&payload)
    );
    let signature = hmac_sha256(key, signing_input.as_bytes());
    format!("{signing_input}.{}", base64url_encode(&signature))
}

/// Checks the signature and decodes the claims; `None` for anything forged or malformed.
/// Expiry is the caller's business (it needs the emulator clock).
pub(crate) fn verify(key: &[u8], token: &str) -> Option<UploadClaims> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (_, payload) = signing_input.split_once('.')?;
    let expected = hmac_sha256(key, signing_input.as_bytes());
    let given = base64url_decode(signature)?;
    if !constant_time_eq(&expected, &given) {
        return None;
    }
    serde_json::from_slice(&base64url_decode(payload)?).ok()
}

/// HMAC-SHA256 (RFC 2104) on top of `sha2`, to avoid one more dependency.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let inner_pad: Vec<u8> = block_key.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block_key.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(crate) fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn base64url_round_trips() {
        for len in 0..10 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            assert_eq!(base64url_decode(&base64url_encode(&data)).unwrap(), data);
        }
        assert_eq!(base64url_encode(b"hi?"), "aGk_");
    }

    #[test]
    fn forged_tokens_are_refused() {
        let claims = UploadClaims {
            session_id: 7,
            part_num: 2,
            exp: 100,
            iat: 1,
            account_id: 3,
        };
        let token = sign(b"key", &claims);
        assert_eq!(verify(b"key", &token), Some(claims));
        assert_eq!(verify(b"other", &token), None);
        let forged = sign(
            b"other",
            &UploadClaims {
                part_num: 3,
                ..claims
            },
        );
        assert_eq!(verify(b"key", &forged), None);
        assert_eq!(verify(b"key", "garbage"), None);
    }
}
