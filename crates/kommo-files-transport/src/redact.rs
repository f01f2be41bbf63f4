//! URIs fit for logs: an upload URL carries a signed session token in its path.

use std::error::Error as StdError;
use std::fmt;

use crate::Request;

/// What stands in for a hidden segment or value.
const HIDDEN: &str = "…";

/// `uri` without its secrets, for logs and error messages.
///
/// Keeps the scheme, the authority and the path up to and including a segment named `upload`;
/// every later segment becomes `…`, and so does every query value (the names stay). Nothing else
/// in a Kommo URL is secret: the token that authorizes API calls travels in a header.
///
/// ```
/// use kommo_files_transport::redacted_uri;
///
/// let upload: http::Uri = "https://drive-c.kommo.com/upload/abc.def?x=1".parse()?;
/// assert_eq!(redacted_uri(&upload), "https://drive-c.kommo.com/upload/…?x=…");
/// let files: http::Uri = "/v1.0/files?page=2".parse()?;
/// assert_eq!(redacted_uri(&files), "/v1.0/files?page=…");
/// # Ok::<(), http::uri::InvalidUri>(())
/// ```
pub fn redacted_uri(uri: &http::Uri) -> String {
    let mut out = String::new();
    if let Some(scheme) = uri.scheme_str() {
        out.push_str(scheme);
        out.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        // `user:password@` would be a secret too; the host and port are not.
        out.push_str(hide_userinfo(authority.as_str()).as_ref());
    }
    let path = uri.path();
    let mut hiding = false;
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        if hiding && !segment.is_empty() {
            out.push_str(HIDDEN);
        } else {
            out.push_str(segment);
        }
        hiding |= segment == "upload";
    }
    if let Some(query) = uri.query() {
        out.push('?');
        for (index, pair) in query.split('&').enumerate() {
            if index > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(HIDDEN);
                }
                None => out.push_str(pair),
            }
        }
    }
    out
}

/// `"{METHOD} {redacted uri}"`: a request as a log line, with [`redacted_uri`].
///
/// ```
/// use kommo_files_transport::redacted;
///
/// let request = http::Request::post("https://drive-c.kommo.com/upload/abc.def")
///     .body(bytes::Bytes::new())?;
/// assert_eq!(redacted(&request), "POST https://drive-c.kommo.com/upload/…");
/// # Ok::<(), http::Error>(())
/// ```
pub fn redacted(request: &Request) -> String {
    format!("{} {}", request.method(), redacted_uri(request.uri()))
}

fn hide_userinfo(authority: &str) -> std::borrow::Cow<'_, str> {
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{HIDDEN}@{host}").into(),
        None => authority.into(),
    }
}

#[cfg_attr(not(any(feature = "ureq", feature = "reqwest")), allow(dead_code))]
/// Removes what [`redacted_uri`] hides from `message`, a backend's text that may quote `uri`.
pub(crate) fn scrub(message: &str, uri: &http::Uri) -> String {
    // (secret, stand-in): the whole URI and its pieces, in the forms a backend may print them,
    // then each hidden piece alone.
    let mut secrets: Vec<(String, String)> = Vec::new();
    let whole = uri.to_string();
    let redacted_whole = redacted_uri(uri);
    secrets.push((whole.clone(), redacted_whole.clone()));
    if let Some(trimmed) = whole.strip_suffix('/') {
        let stand_in = redacted_whole.strip_suffix('/').unwrap_or(&redacted_whole);
        secrets.push((trimmed.to_owned(), stand_in.to_owned()));
    }
    if let Some(path_and_query) = uri.path_and_query() {
        let alone = http::Uri::from(path_and_query.clone());
        secrets.push((path_and_query.as_str().to_owned(), redacted_uri(&alone)));
    }
    let mut hiding = false;
    let mut tail = String::new();
    for segment in uri.path().split('/') {
        if hiding && !segment.is_empty() {
            secrets.push((segment.to_owned(), HIDDEN.to_owned()));
            tail.push('/');
            tail.push_str(segment);
        }
        hiding |= segment == "upload";
    }
    let hidden_tail = tail.replace(|c| c != '/', "").replace('/', "/…");
    secrets.push((tail, hidden_tail));
    if let Some(query) = uri.query() {
        for pair in query.split('&') {
            if let Some((_, value)) = pair.split_once('=') {
                // A short value (`page=2`) is no secret and would mangle unrelated text.
                if value.len() >= 6 {
                    secrets.push((value.to_owned(), HIDDEN.to_owned()));
                }
            }
        }
    }
    if let Some(authority) = uri.authority() {
        if let Some((userinfo, _)) = authority.as_str().rsplit_once('@') {
            secrets.push((userinfo.to_owned(), HIDDEN.to_owned()));
        }
    }
    secrets.retain(|(secret, stand_in)| secret.len() > 1 && secret != stand_in);
    // Longest first, so that the whole URI goes before its pieces.
    secrets.sort_by_key(|(secret, _)| std::cmp::Reverse(secret.len()));
    let mut text = message.to_owned();
    for (secret, stand_in) in &secrets {
        text = text.replace(secret.as_str(), stand_in);
    }
    text
}

/// A backend error with the request's secrets removed from its text and its chain's: what the
/// adapters keep as a [`crate::TransportError`]'s source, so that neither `Display` nor `Debug`
/// can print a token.
#[cfg_attr(not(any(feature = "ureq", feature = "reqwest")), allow(dead_code))]
#[derive(Clone)]
pub(crate) struct Scrubbed {
    text: String,
    source: Option<Box<Scrubbed>>,
}

#[cfg_attr(not(any(feature = "ureq", feature = "reqwest")), allow(dead_code))]
impl Scrubbed {
    /// `error` and its sources, scrubbed of `uri`'s secrets.
    pub(crate) fn new(error: &(dyn StdError + 'static), uri: &http::Uri) -> Self {
        Self {
            text: scrub(&error.to_string(), uri),
            source: error
                .source()
                .map(|source| Box::new(Self::new(source, uri))),
        }
    }
}

impl fmt::Display for Scrubbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Scrubbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_tuple("Scrubbed");
        debug.field(&self.text);
        if let Some(source) = &self.source {
            debug.field(source);
        }
        debug.finish()
    }
}

impl StdError for Scrubbed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_uris() {
        let table = [
            (
                "https://drive-c.kommo.com/upload/abc.def?x=1",
                "https://drive-c.kommo.com/upload/…?x=…",
            ),
            ("/v1.0/sessions/upload/TOKEN", "/v1.0/sessions/upload/…"),
            ("/v1.0/files?page=2", "/v1.0/files?page=…"),
            ("/v1.0/files", "/v1.0/files"),
            ("/", "/"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
            (
                "http://127.0.0.1:8080/upload",
                "http://127.0.0.1:8080/upload",
            ),
            (
                "http://127.0.0.1:8080/upload/",
                "http://127.0.0.1:8080/upload/",
            ),
            (
                "http://h/upload/a/b/c?k=v&flag&e=",
                "http://h/upload/…/…/…?k=…&flag&e=…",
            ),
            ("http://h/uploads/a", "http://h/uploads/a"),
            ("http://h/x/upload/a/upload/b", "http://h/x/upload/…/…/…"),
            ("http://user:pw@h/upload/t", "http://…@h/upload/…"),
            ("http://h/a?q=%20x&r=1", "http://h/a?q=…&r=…"),
        ];
        for (uri, expected) in table {
            let parsed: http::Uri = uri.parse().unwrap();
            assert_eq!(redacted_uri(&parsed), expected, "{uri}");
        }
    }

    #[test]
    fn redacted_requests() {
        let request = http::Request::put("http://h/upload/secret?part=3")
            .body(bytes::Bytes::new())
            .unwrap();
        assert_eq!(redacted(&request), "PUT http://h/upload/…?part=…");
    }

    #[test]
    fn scrubbing_messages() {
        let uri: http::Uri = "http://127.0.0.1:9/upload/s3cr3t.t0ken?sig=abcdef123&n=2"
            .parse()
            .unwrap();
        for message in [
            "bad uri: http://127.0.0.1:9/upload/s3cr3t.t0ken?sig=abcdef123&n=2",
            "GET /upload/s3cr3t.t0ken?sig=abcdef123&n=2 failed",
            "token s3cr3t.t0ken and sig abcdef123",
        ] {
            let scrubbed = scrub(message, &uri);
            assert!(
                !scrubbed.contains("s3cr3t") && !scrubbed.contains("abcdef123"),
                "{scrubbed}"
            );
        }
        assert_eq!(
            scrub(
                "error at http://127.0.0.1:9/upload/s3cr3t.t0ken?sig=abcdef123&n=2!",
                &uri
            ),
            "error at http://127.0.0.1:9/upload/…?sig=…&n=…!"
        );
        // Short values are left alone: they are no secret and would mangle the text.
        assert_eq!(scrub("error 2 of 3", &uri), "error 2 of 3");
    }

    #[test]
    fn scrubbed_chains() {
        let uri: http::Uri = "http://h/upload/s3cr3t".parse().unwrap();
        let inner = std::io::Error::other("inner http://h/upload/s3cr3t");
        let outer = TestError(inner);
        let scrubbed = Scrubbed::new(&outer, &uri);
        assert_eq!(scrubbed.to_string(), "outer s3cr3t".replace("s3cr3t", "…"));
        let debug = format!("{scrubbed:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        let source = scrubbed.source().unwrap();
        assert_eq!(source.to_string(), "inner http://h/upload/…");
    }

    #[derive(Debug)]
    struct TestError(std::io::Error);

    impl fmt::Display for TestError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer s3cr3t")
        }
    }

    impl StdError for TestError {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }
}
