//! Validated base URLs of the two hosts, and the rule that keeps the token on them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a URL was refused.
///
/// The variants keep the URL as given, for code that needs it; `Display` and `Debug` show it
/// through [`redact_url`] only, so a `user:password@`, a query value or an upload token never
/// reaches a message or a log.
///
/// ```
/// use kommo_files_model::BaseUrl;
/// let error = BaseUrl::parse("http://secret@drive.example?key=secret").unwrap_err();
/// assert!(!error.to_string().contains("secret"));
/// assert!(!format!("{error:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Not an absolute URL we can parse.
    Invalid(String),
    /// `http://` to a host that is not loopback: the token would travel in clear text.
    InsecureScheme(String),
    /// A URL the server handed us points at another origin than the host it came from.
    ForeignOrigin {
        /// The URL received.
        url: String,
        /// The origin it had to be on.
        expected: String,
    },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(url) => write!(
                f,
                "not an absolute http(s) URL such as https://example.kommo.com: \"{}\"",
                redact_url(url)
            ),
            Self::InsecureScheme(url) => write!(
                f,
                "plain http is only allowed for loopback hosts (127.0.0.0/8, [::1], localhost): \"{}\"",
                redact_url(url)
            ),
            Self::ForeignOrigin { url, expected } => write!(
                f,
                "\"{}\" is not on {}: refusing to send the token or data there",
                redact_url(url),
                redact_url(expected)
            ),
        }
    }
}

impl fmt::Debug for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(url) => f.debug_tuple("Invalid").field(&redact_url(url)).finish(),
            Self::InsecureScheme(url) => f
                .debug_tuple("InsecureScheme")
                .field(&redact_url(url))
                .finish(),
            Self::ForeignOrigin { url, expected } => f
                .debug_struct("ForeignOrigin")
                .field("url", &redact_url(url))
                .field("expected", &redact_url(expected))
                .finish(),
        }
    }
}

impl std::error::Error for UrlError {}

/// The origin of a host (`https://drive-c.kommo.com`): scheme and authority, no path.
///
/// ```
/// use kommo_files_model::BaseUrl;
/// let drive = BaseUrl::parse("https://drive-c.kommo.com/").unwrap();
/// assert_eq!(drive.as_str(), "https://drive-c.kommo.com");
/// assert!(drive.owns("https://drive-c.kommo.com/upload/abc"));
/// assert!(!drive.owns("https://evil.example/upload/abc"));
/// assert!(BaseUrl::parse("http://drive-c.kommo.com").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUrl {
    origin: String,
}

impl BaseUrl {
    /// Parses and validates a base URL; a trailing slash is dropped, a path is refused.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let origin = origin_of(url).ok_or_else(|| UrlError::Invalid(url.to_owned()))?;
        let rest = &url[origin.len()..];
        if !(rest.is_empty() || rest == "/") {
            return Err(UrlError::Invalid(url.to_owned()));
        }
        Self::from_origin(origin.to_ascii_lowercase(), url)
    }

    /// The account host of `subdomain` on `domain` (`kommo.com`, `amocrm.ru`, `amocrm.com`).
    ///
    /// ```
    /// use kommo_files_model::BaseUrl;
    /// let account = BaseUrl::for_account("example", "kommo.com").unwrap();
    /// assert_eq!(account.as_str(), "https://example.kommo.com");
    /// ```
    pub fn for_account(subdomain: &str, domain: &str) -> Result<Self, UrlError> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        };
        if !valid(subdomain) || subdomain.contains('.') || !valid(domain) {
            return Err(UrlError::Invalid(format!("{subdomain}.{domain}")));
        }
        Self::parse(&format!("https://{subdomain}.{domain}"))
    }

    fn from_origin(origin: String, original: &str) -> Result<Self, UrlError> {
        if origin.starts_with("http://") && !is_loopback(&origin["http://".len()..]) {
            return Err(UrlError::InsecureScheme(original.to_owned()));
        }
        Ok(Self { origin })
    }

    /// `scheme://authority`, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.origin
    }

    /// The absolute URL of `path_and_query` (which starts with `/`) on this host.
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin)
    }

    /// Whether `url` is on this origin (same scheme, host and port).
    pub fn owns(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| o.eq_ignore_ascii_case(&self.origin))
    }

    /// `url` itself if it is on this origin, an error otherwise.
    pub fn check<'u>(&self, url: &'u str) -> Result<&'u str, UrlError> {
        if self.owns(url) {
            Ok(url)
        } else {
            Err(UrlError::ForeignOrigin {
                url: url.to_owned(),
                expected: self.origin.clone(),
            })
        }
    }
}

/// `scheme://authority` of an absolute http(s) URL, as a slice of it.
pub(crate) fn origin_of(url: &str) -> Option<&str> {
    // Compared as bytes: slicing the `str` could split a multi-byte character.
    let starts_with = |scheme: &str| {
        url.as_bytes()
            .get(..scheme.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(scheme.as_bytes()))
    };
    let scheme_len = if starts_with("https://") {
        8
    } else if starts_with("http://") {
        7
    } else {
        return None;
    };
    let rest = &url[scheme_len..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    valid_authority(&rest[..end]).then(|| &url[..scheme_len + end])
}

/// `host[:port]` or `[ipv6][:port]`. Userinfo is refused: it would let
/// `https://drive.kommo.com@evil.example` pass a naive prefix check.
fn valid_authority(authority: &str) -> bool {
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((ip, rest)) => (
                !ip.is_empty()
                    && ip
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'),
                rest,
            ),
            None => return false,
        },
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, _)) => (host, &authority[host.len()..]),
                None => (authority, ""),
            };
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            (ok, port)
        }
    };
    let port_ok = match port.strip_prefix(':') {
        Some(digits) => {
            !digits.is_empty() && digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => port.is_empty(),
    };
    host_ok && port_ok
}

/// Whether the host of `authority` (`host[:port]` or `[ipv6][:port]`) is this machine: an IPv4
/// address in `127.0.0.0/8`, the IPv6 address `::1`, or the name `localhost`.
///
/// Decided on a parsed address, never on a prefix of the text: `127.example.com` or
/// `127.0.0.1.nip.io` are names anyone can point anywhere. Only the dotted-decimal form of an
/// IPv4 address counts (as [`core::net::Ipv4Addr`] parses it); numeric shorthands such as
/// `127.1`, `0x7f000001` or `2130706433` are refused, since resolvers disagree on them.
pub(crate) fn is_loopback(authority: &str) -> bool {
    match authority.strip_prefix('[') {
        Some(v6) => v6
            .split_once(']')
            .and_then(|(ip, _)| ip.parse::<core::net::Ipv6Addr>().ok())
            .is_some_and(|ip| ip.is_loopback()),
        None => {
            let host = authority.split(':').next().unwrap_or("");
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<core::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// What stands in for a redacted part.
const REDACTED: &str = "…";

/// `url` fit for logs and `Debug`: the signed upload token and every query value replaced by
/// `…`.
///
/// Scheme, host and port stay, and so does the path up to and including an `upload` segment;
/// every later segment (the upload token) becomes `…`. Query names stay, their values go; a
/// fragment and any `user:password@` go too. Anything that is neither an absolute URL nor an
/// absolute path becomes `…`, so garbage never leaks whatever it holds.
///
/// ```
/// use kommo_files_model::redact_url;
/// assert_eq!(
///     redact_url("https://drive-c.kommo.com/upload/abc.def?x=1"),
///     "https://drive-c.kommo.com/upload/…?x=…"
/// );
/// assert_eq!(redact_url("/v1.0/sessions/upload/TOKEN"), "/v1.0/sessions/upload/…");
/// assert_eq!(redact_url("https://drive-c.kommo.com/v1.0/files/f1"), "https://drive-c.kommo.com/v1.0/files/f1");
/// assert_eq!(redact_url("not a url"), "…");
/// ```
pub fn redact_url(url: &str) -> String {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let (before_query, query) = match without_fragment.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (without_fragment, None),
    };
    let Some((origin, path)) = split_origin(before_query) else {
        return REDACTED.to_owned();
    };
    let mut out = origin;
    out.push_str(&redact_path(path));
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(&redact_query(query));
    }
    out
}

/// `scheme://host[:port]` (userinfo redacted) and the path; for an absolute path, no origin.
fn split_origin(url: &str) -> Option<(String, &str)> {
    if url.starts_with('/') && !url.starts_with("//") {
        return Some((String::new(), url));
    }
    let (scheme, rest) = url.split_once("://")?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return None;
    }
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((_, host)) => (format!("{REDACTED}@"), host),
        None => (String::new(), authority),
    };
    let host_ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    let host = if host_ok { host } else { REDACTED };
    Some((format!("{scheme}://{userinfo}{host}"), path))
}

/// Every segment after an `upload` segment becomes `…`.
fn redact_path(path: &str) -> String {
    let mut after_upload = false;
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            let redacted = if after_upload && !segment.is_empty() {
                REDACTED
            } else {
                segment
            };
            after_upload |= segment == "upload";
            redacted
        })
        .collect();
    segments.join("/")
}

/// `a=1&b=2` → `a=…&b=…`; a bare value without a name is redacted whole.
fn redact_query(query: &str) -> String {
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={REDACTED}"),
            None if pair.is_empty() => String::new(),
            None => REDACTED.to_owned(),
        })
        .collect();
    pairs.join("&")
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.origin)
    }
}

impl TryFrom<String> for BaseUrl {
    type Error = UrlError;
    fn try_from(value: String) -> Result<Self, UrlError> {
        Self::parse(&value)
    }
}

impl From<BaseUrl> for String {
    fn from(value: BaseUrl) -> String {
        value.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let drive = BaseUrl::parse("https://drive-c.kommo.com").unwrap();
        assert!(drive.owns("https://DRIVE-C.kommo.com/v1.0/sessions/upload/x"));
        assert!(!drive.owns("http://drive-c.kommo.com/upload/x"));
        assert!(!drive.owns("https://drive-c.kommo.com:8443/upload/x"));
        assert!(!drive.owns("https://drive-c.kommo.com.evil.example/upload/x"));
        assert!(!drive.owns("https://drive-c.kommo.com@evil.example/upload/x"));
        assert!(!drive.owns("/upload/x"));
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(BaseUrl::parse("http://127.0.0.1:8080").is_ok());
        assert!(BaseUrl::parse("http://[::1]:8080/").is_ok());
        assert!(BaseUrl::parse("http://localhost:1").is_ok());
        assert_eq!(
            BaseUrl::parse("http://drive.kommo.com"),
            Err(UrlError::InsecureScheme("http://drive.kommo.com".into()))
        );
        assert!(BaseUrl::parse("https://x.kommo.com/api").is_err());
        assert!(BaseUrl::parse("ftp://x").is_err());
    }

    /// Loopback is a parsed address (or `localhost`), never a prefix of the host's text.
    #[test]
    fn loopback_is_an_address_not_a_prefix() {
        let accepted = [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:9",
            "http://localhost:3000",
            "http://LOCALHOST",
            "http://[0:0:0:0:0:0:0:1]",
        ];
        // Numeric shorthands (`127.1`, hex, a bare integer) are refused on purpose.
        let refused = [
            "http://127.example.com",
            "http://127.0.0.1.nip.io",
            "http://127.0.0.1.nip.io:8080",
            "http://localhost.evil.com",
            "http://evil-localhost",
            "http://[::2]",
            "http://[::ffff:127.0.0.1]",
            "http://0x7f000001",
            "http://2130706433",
            "http://127.1",
            "http://127.0.0.01",
            "http://127.0.0.1.",
            "http://127.",
        ];
        for url in accepted {
            assert!(BaseUrl::parse(url).is_ok(), "{url} should be accepted");
        }
        for url in refused {
            assert!(
                matches!(BaseUrl::parse(url), Err(UrlError::InsecureScheme(_))),
                "{url} should be refused: {:?}",
                BaseUrl::parse(url)
            );
        }
        for base in accepted {
            let base = BaseUrl::parse(base).unwrap();
            for url in refused {
                assert!(!base.owns(&format!("{url}/upload/x")), "{base} owns {url}");
                assert!(base.check(&format!("{url}/upload/x")).is_err());
            }
        }
        // Over https any host is fine: the connection is encrypted.
        assert!(BaseUrl::parse("https://127.example.com").is_ok());
    }

    #[test]
    fn odd_authorities_are_refused_and_accepted_ones_make_valid_uris() {
        for bad in [
            "https:/Дddd",
            "httpД://x",
            "Д",
            "https://a[b",
            "https://[::1",
            "https://a:b",
            "https://a:",
            "https://:80",
            "https://a b",
            "https://[zz]",
            "https://a:123456",
            "https://a:1:2",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://a",
            "https://a.b-c:443",
            "http://[::1]:1",
            "https://[2001:db8::1]",
        ] {
            let base = BaseUrl::parse(good).unwrap();
            assert!(
                http::Uri::try_from(base.join("/v1.0/files?x=%20")).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn redaction_hides_upload_tokens_query_values_and_userinfo() {
        let cases = [
            (
                "https://drive-c.kommo.com/upload/abc.def?x=1",
                "https://drive-c.kommo.com/upload/…?x=…",
            ),
            (
                "https://drive-c.kommo.com/v1.0/sessions/upload/TOKEN/more",
                "https://drive-c.kommo.com/v1.0/sessions/upload/…/…",
            ),
            ("/v1.0/sessions/upload/TOKEN", "/v1.0/sessions/upload/…"),
            ("/upload/", "/upload/"),
            (
                "http://127.0.0.1:8080/v1.0/files?filter[name]=a.pdf&page=2",
                "http://127.0.0.1:8080/v1.0/files?filter[name]=…&page=…",
            ),
            ("https://[::1]:1/x?secret", "https://[::1]:1/x?…"),
            ("https://h/x?a=1&&b", "https://h/x?a=…&&…"),
            ("https://h/x?", "https://h/x"),
            ("https://h/x#frag-secret", "https://h/x"),
            ("https://user:pw@h/upload/t", "https://…@h/upload/…"),
            ("https://drive-c.kommo.com", "https://drive-c.kommo.com"),
            ("https://bad host secret/x", "https://…/x"),
            ("secret-token", "…"),
            ("//evil.example/upload/t", "…"),
            ("", "…"),
            ("://x", "…"),
            ("Д://x/upload/Д", "…"),
            ("https://Д/upload/Д?Д=Д", "https://…/upload/…?Д=…"),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact_url(url), redacted, "{url}");
        }
    }

    /// No message about a refused URL repeats its userinfo, query values or upload token.
    #[test]
    fn url_errors_never_repeat_secrets() {
        let drive = BaseUrl::parse("https://drive-c.kommo.com").unwrap();
        let errors = [
            BaseUrl::parse("http://secret@drive-c.kommo.com").unwrap_err(),
            BaseUrl::parse("https://user:secret@drive-c.kommo.com").unwrap_err(),
            BaseUrl::parse("https://secret:pw@evil.example").unwrap_err(),
            BaseUrl::parse("http://drive-c.kommo.com?key=secret").unwrap_err(),
            BaseUrl::parse("http://drive-c.kommo.com/x?key=secret").unwrap_err(),
            BaseUrl::parse("secret").unwrap_err(),
            BaseUrl::parse("https://bad host secret").unwrap_err(),
            drive
                .check("https://user:secret@evil.example/upload/secret?sig=secret")
                .unwrap_err(),
            drive
                .check("http://drive-c.kommo.com/upload/secret")
                .unwrap_err(),
            UrlError::Invalid("http://secret@h#secret".into()),
            UrlError::InsecureScheme("http://secret@h".into()),
        ];
        for error in errors {
            let display = error.to_string();
            let debug = format!("{error:?}");
            assert!(!display.contains("secret"), "{display}");
            assert!(!debug.contains("secret"), "{debug}");
        }
        // What is not secret still says what was wrong.
        let error = BaseUrl::parse("http://secret@drive-c.kommo.com").unwrap_err();
        assert_eq!(
            error.to_string(),
            "not an absolute http(s) URL such as https://example.kommo.com: \"http://…@drive-c.kommo.com\""
        );
        let error = BaseUrl::parse("http://drive-c.kommo.com").unwrap_err();
        assert!(
            error.to_string().contains("\"http://drive-c.kommo.com\""),
            "{error}"
        );
    }

    #[test]
    fn account_host_from_subdomain() {
        assert_eq!(
            BaseUrl::for_account("acme", "amocrm.ru").unwrap().as_str(),
            "https://acme.amocrm.ru"
        );
        assert!(BaseUrl::for_account("evil.example/x", "kommo.com").is_err());
        assert!(BaseUrl::for_account("", "kommo.com").is_err());
    }
}
