//! File names, types and ids: the small pure rules behind the file object's fields (docs/kommo-api.md#the-file-object).

use sha2::{Digest, Sha256};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Splits `report.final.pdf` into (`report.final`, `pdf`). A leading dot is part of the name.
pub(crate) fn split_extension(file_name: &str) -> (String, String) {
    match file_name.rfind('.') {
        Some(dot) if dot > 0 && dot + 1 < file_name.len() => {
            (file_name[..dot].to_owned(), file_name[dot + 1..].to_owned())
        }
        _ => (file_name.to_owned(), String::new()),
    }
}

/// Joins a name and an extension back into a file name.
pub(crate) fn with_extension(name: &str, extension: &str) -> String {
    if extension.is_empty() {
        name.to_owned()
    } else {
        format!("{name}.{extension}")
    }
}

/// ASCII transliteration as the drive does it: Cyrillic to Latin, ASCII letters, digits, `.`,
/// `-` and `_` kept, any run of other characters (spaces, brackets, other scripts) becomes one
/// `_`: `Снимок экрана (1)` → `Snimok_ekrana_1_` (after the docs' example, docs/kommo-api.md#notes).
pub(crate) fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut replaced_last = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            out.push(c);
            replaced_last = false;
        } else if let Some(latin) = transliterate(c) {
            out.push_str(latin);
            replaced_last = false;
        } else if !replaced_last {
            // A run of spaces/brackets becomes one underscore: " (1)" -> "_1_".
            out.push('_');
            replaced_last = true;
        }
    }
    out
}

fn transliterate(c: char) -> Option<&'static str> {
    let lower = c.to_lowercase().next()?;
    let latin = match lower {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' | 'э' => "e",
        'ё' => "yo",
        'ж' => "zh",
        'з' => "z",
        'и' => "i",
        'й' => "j",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "h",
        'ц' => "c",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ъ' | 'ь' => "",
        'ы' => "y",
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    };
    if c.is_uppercase() && !latin.is_empty() {
        // Capitalise the first letter only: "Ш" -> "Sh".
        Some(match latin {
            "a" => "A",
            "b" => "B",
            "v" => "V",
            "g" => "G",
            "d" => "D",
            "e" => "E",
            "yo" => "Yo",
            "zh" => "Zh",
            "z" => "Z",
            "i" => "I",
            "j" => "J",
            "k" => "K",
            "l" => "L",
            "m" => "M",
            "n" => "N",
            "o" => "O",
            "p" => "P",
            "r" => "R",
            "s" => "S",
            "t" => "T",
            "u" => "U",
            "f" => "F",
            "h" => "H",
            "c" => "C",
            "ch" => "Ch",
            "sh" => "Sh",
            "shch" => "Shch",
            "y" => "Y",
            "yu" => "Yu",
            "ya" => "Ya",
            other => other,
        })
    } else {
        Some(latin)
    }
}

/// MIME type for an extension when the client sent no `content_type`; `""` when unknown, as the
/// drive reports for e.g. `.txt` in the docs' example.
pub(crate) fn mime_from_extension(extension: &str) -> &'static str {
    match extension.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        "heic" => "image/heic",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "csv" => "text/csv",
        "zip" => "application/zip",
        "json" => "application/json",
        _ => "",
    }
}

/// The file object's `type`: `image`, `video`, `audio`, `document` or `file`.
pub(crate) fn file_type(mime_type: &str, extension: &str) -> &'static str {
    let mime = mime_type.to_ascii_lowercase();
    if mime.starts_with("image/") {
        return "image";
    }
    if mime.starts_with("video/") {
        return "video";
    }
    if mime.starts_with("audio/") {
        return "audio";
    }
    let document_mime = mime == "application/pdf"
        || mime.starts_with("application/msword")
        || mime.starts_with("application/vnd.openxmlformats-officedocument")
        || mime.starts_with("application/vnd.ms-")
        || mime.starts_with("application/vnd.oasis.opendocument")
        || mime == "text/plain"
        || mime == "text/csv"
        || mime == "application/rtf";
    let document_ext = matches!(
        extension.to_ascii_lowercase().as_str(),
        "pdf"
            | "doc"
            | "docx"
            | "xls"
            | "xlsx"
            | "ppt"
            | "pptx"
            | "odt"
            | "ods"
            | "odp"
            | "txt"
            | "rtf"
            | "csv"
    );
    match mime_from_extension(extension) {
        m if mime.is_empty() && !m.is_empty() => file_type(m, ""),
        _ if document_mime || document_ext => "document",
        _ => "file",
    }
}

/// Width and height of a PNG, GIF or JPEG from its first bytes; `None` for anything else.
pub(crate) fn image_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let be16 = |at: usize| {
        Some(u32::from(u16::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let w = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
        let h = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
        return Some((w, h));
    }
    if bytes.starts_with(b"GIF8") {
        let w = u16::from_le_bytes([*bytes.get(6)?, *bytes.get(7)?]);
        let h = u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]);
        return Some((u32::from(w), u32::from(h)));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        // Walk the JPEG segments to the first start-of-frame marker.
        let mut at = 2;
        while at + 4 <= bytes.len() {
            if bytes[at] != 0xFF {
                return None;
            }
            let marker = bytes[at + 1];
            let len = be16(at + 2)? as usize;
            let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
            if is_sof {
                return Some((be16(at + 7)?, be16(at + 5)?));
            }
            at += 2 + len;
        }
    }
    None
}

/// Source of fresh UUIDs: SHA-256 over a per-process random seed and a counter, shaped as
/// version 4 UUIDs. Good enough to be unique; not meant to be unguessable.
#[derive(Debug)]
pub(crate) struct IdSource {
    seed: [u8; 16],
    counter: AtomicU64,
}

impl IdSource {
    pub(crate) fn new() -> Self {
        let mut seed = [0u8; 16];
        for half in seed.chunks_mut(8) {
            // RandomState is seeded from the OS; this is std's way to a few random bytes.
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            half.copy_from_slice(&hasher.finish().to_le_bytes());
        }
        IdSource {
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// 32 random-looking bytes (used as the upload-token key).
    pub(crate) fn secret(&self) -> [u8; 32] {
        self.digest(b"secret")
    }

    /// A fresh lowercase hyphenated UUID.
    pub(crate) fn uuid(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.digest(&n.to_le_bytes())[..16]);
        format_uuid(bytes, 4)
    }

    /// `len` fresh random-looking bytes (opaque token parts: OAuth codes, refresh tokens, the
    /// signature segment of access tokens).
    pub(crate) fn bytes(&self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 32);
        while out.len() < len {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let mut extra = b"bytes".to_vec();
            extra.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&self.digest(&extra));
        }
        out.truncate(len);
        out
    }

    fn digest(&self, extra: &[u8]) -> [u8; 32] {
        Sha256::new()
            .chain_update(self.seed)
            .chain_update(extra)
            .finalize()
            .into()
    }
}

/// A name-based UUID (version 5 shape) for stable ids such as the account's download prefix.
pub(crate) fn stable_uuid(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format_uuid(bytes, 5)
}

fn format_uuid(mut bytes: [u8; 16], version: u8) -> String {
    bytes[6] = (bytes[6] & 0x0f) | (version << 4);
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Lowercase hex of bytes (for SHA-256 digests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex_digit = |b: u8| char::from(b).to_digit(16);
                match (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a query-string component: unreserved characters (RFC 3986 §2.3) stay, every other
/// byte becomes `%XX`.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Query string as decoded `(key, value)` pairs, in order.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_and_sanitize() {
        assert_eq!(split_extension("a.tar.gz"), ("a.tar".into(), "gz".into()));
        assert_eq!(
            split_extension(".bashrc"),
            (".bashrc".into(), String::new())
        );
        assert_eq!(split_extension("noext"), ("noext".into(), String::new()));
        assert_eq!(
            sanitize("Снимок экрана 2022-12-12 в 20.11.45 (1)"),
            "Snimok_ekrana_2022-12-12_v_20.11.45_1_"
        );
    }

    #[test]
    fn types_follow_mime_then_extension() {
        assert_eq!(file_type("image/png", "png"), "image");
        assert_eq!(file_type("", "png"), "image");
        assert_eq!(file_type("application/pdf", "pdf"), "document");
        assert_eq!(file_type("", "txt"), "document");
        assert_eq!(file_type("application/octet-stream", "bin"), "file");
        assert_eq!(file_type("audio/mp4", "m4a"), "audio");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("filter%5Bname%5D"), "filter[name]");
        assert_eq!(percent_decode("a+b%2"), "a b%2");
        assert_eq!(percent_decode("%"), "%");
    }

    #[test]
    fn uuids_look_like_uuids() {
        let ids = IdSource::new();
        let a = ids.uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, ids.uuid());
    }
}
