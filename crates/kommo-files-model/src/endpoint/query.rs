//! Query strings and path segments, percent-encoded the way Kommo's own links are.

use std::fmt::Write;

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Percent-encodes the bytes a URL may not contain as they are (non-ASCII, spaces, quotes, …)
/// and leaves everything else, `%` included, alone: server-sent links such as
/// `/download/…/Договор 1.pdf` then parse, and already-encoded links stay unchanged.
pub(crate) fn escape_unsafe(url: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_byte = |b: u8| b <= b' ' || b >= 0x7f || b"\"<>\\^`{|}".contains(&b);
    if !url.bytes().any(unsafe_byte) {
        return std::borrow::Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len() + 16);
    for byte in url.bytes() {
        if unsafe_byte(byte) {
            let _ = write!(out, "%{byte:02X}");
        } else {
            out.push(byte as char);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// An ordered list of query pairs, encoded on output.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn push(&mut self, key: &str, value: impl ToString) -> &mut Self {
        self.pairs.push((key.to_owned(), value.to_string()));
        self
    }

    pub(crate) fn push_opt(&mut self, key: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(value) = value {
            self.push(key, value);
        }
        self
    }

    /// `?k=v&…`, or nothing when empty.
    pub(crate) fn to_suffix(&self) -> String {
        if self.pairs.is_empty() {
            return String::new();
        }
        let encoded: Vec<String> = self
            .pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("?{}", encoded.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_what_a_url_cannot_hold() {
        assert_eq!(
            escape_unsafe("https://d/x/a%20b.pdf?x=1"),
            "https://d/x/a%20b.pdf?x=1"
        );
        assert_eq!(
            escape_unsafe("https://d/Дог 1.pdf"),
            "https://d/%D0%94%D0%BE%D0%B3%201.pdf"
        );
        assert_eq!(
            escape_unsafe("https://d/u/<p>.<s>"),
            "https://d/u/%3Cp%3E.%3Cs%3E"
        );
    }

    #[test]
    fn encodes_brackets_and_unicode() {
        assert_eq!(
            encode("filter[extensions][]"),
            "filter%5Bextensions%5D%5B%5D"
        );
        assert_eq!(
            encode("Договор 1.pdf"),
            "%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80%201.pdf"
        );
        assert_eq!(encode("a/b?c&d=e#"), "a%2Fb%3Fc%26d%3De%23");
    }
}
