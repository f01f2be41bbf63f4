//! How a command fails: one line saying what went wrong, a hint saying what to do, and the
//! exit code (1 for a failure, 2 for a usage or configuration mistake).

use kommo_files::model::upload::UploadError;
use kommo_files::model::ApiError;
use kommo_files::transport::{ErrorKind, Operation};
use kommo_files::Error;
use serde::Serialize;

use crate::args::EntityRef;

/// Exit code of a failed command.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of a mistake in the command line or the configuration.
pub const EXIT_USAGE: u8 = 2;

/// A command's failure, ready to print.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// `usage`, `config`, `api`, `network`, `upload`, `io`, `refused`, `cancelled`.
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip)]
    pub exit_code: u8,
    /// The server refused for the request rate (a blocked account, a 429): an upload can
    /// also send fewer files at a time ([`Failure::in_upload`]).
    #[serde(skip)]
    too_many_requests: bool,
}

impl Failure {
    /// The command line asks for something impossible (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new("usage", message, EXIT_USAGE)
    }

    /// The connection settings are missing or wrong (exit 2).
    pub fn config(message: impl Into<String>) -> Self {
        Self::new("config", message, EXIT_USAGE)
    }

    /// Something was refused on purpose, e.g. an unsafe file name (exit 1).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new("refused", message, EXIT_FAILED)
    }

    /// What the command names does not exist (exit 1).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("not_found", message, EXIT_FAILED)
    }

    /// Ctrl-C stopped the command; what it did is kept (exit 130).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new("cancelled", message, crate::interrupt::EXIT_INTERRUPTED)
            .hint("run the same command again to continue where it stopped")
    }

    /// A local file operation failed (exit 1).
    pub fn io(context: impl std::fmt::Display, error: std::io::Error) -> Self {
        Self::new("io", format!("{context}: {error}"), EXIT_FAILED)
    }

    fn new(kind: &'static str, message: impl Into<String>, exit_code: u8) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            status: None,
            exit_code,
            too_many_requests: false,
        }
    }

    /// `failed` of `total` files of a batch went wrong (`what`: "failed", "were not
    /// downloaded"). Each failure was printed on its own line already: this one names the
    /// first (`first`: its path or UUID, and its failure, which lends its kind, status and
    /// hint) without repeating its message.
    pub fn of_batch(
        failed: usize,
        total: usize,
        what: &str,
        first: Option<(&str, &Failure)>,
    ) -> Self {
        let which = match (first, failed) {
            (None, _) => String::new(),
            (Some((name, _)), 1) => format!(": {name} (see above)"),
            (Some((name, _)), _) => format!(", the first {name} (see above)"),
        };
        let first = first.map(|(_, failure)| failure);
        let mut failure = Self::refused(format!("{failed} of {total} file(s) {what}{which}")).hint(
            first
                .and_then(|f| f.hint.clone())
                .unwrap_or_else(|| "run the same command again to retry them".to_owned()),
        );
        if let Some(first) = first {
            failure.kind = first.kind;
            failure.status = first.status;
        }
        failure
    }

    /// The failure of a request about `entity` (attach, detach, links, notes, fields): a 404,
    /// a 204 to reading it (Kommo's answer for no such entity), or a 400 saying its
    /// `entity_id` was not found (notes) means the entity does not exist.
    pub fn about_entity(error: Error, entity: &EntityRef) -> Self {
        let missing = match error.status().map(|s| s.as_u16()) {
            Some(404) => true,
            Some(204) => matches!(
                error,
                Error::Api {
                    operation: Operation::GetEntity,
                    ..
                }
            ),
            Some(400) => error
                .api_error()
                .and_then(ApiError::problem)
                .is_some_and(|problem| {
                    problem
                        .validation_errors
                        .iter()
                        .flat_map(|v| &v.errors)
                        .any(|item| {
                            item.code.as_deref() == Some("NotFound")
                                && matches!(item.path.as_deref(), Some("entity_id" | "id"))
                        })
                }),
            _ => false,
        };
        let mut failure = Self::from(error);
        if missing {
            failure.kind = "not_found";
            failure.hint = Some(format!(
                "{entity} was not found: check the entity's type and id \
                 (leads, contacts, companies or customers)"
            ));
        }
        failure
    }

    /// The same failure met by `upload`, which can also send fewer files at a time.
    pub fn in_upload(mut self) -> Self {
        if self.too_many_requests {
            if let Some(hint) = &mut self.hint {
                hint.push_str(", and lower --concurrency (-j)");
            }
            self.too_many_requests = false;
        }
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `error: …` and `hint: …`, or one JSON object.
    pub fn render(&self, json: bool) -> String {
        if json {
            return serde_json::json!({ "error": self }).to_string();
        }
        match &self.hint {
            Some(hint) => format!("error: {}\nhint: {hint}", self.message),
            None => format!("error: {}", self.message),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let status = error.status().map(|s| s.as_u16());
        let (kind, hint) = classify(&error);
        let exit_code = match kind {
            "cancelled" => crate::interrupt::EXIT_INTERRUPTED,
            _ => EXIT_FAILED,
        };
        let mut failure = Self::new(kind, describe(&error), exit_code);
        failure.status = status;
        failure.hint = hint.map(str::to_owned);
        failure.too_many_requests = matches!(status, Some(429)) || is_blocked(&error);
        failure
    }
}

/// The `error:` line of an SDK error. An answer's HTML page (a blocked account, a proxy's
/// 502) is summed up, never shown raw; and the SDK's own scope advice is left to the hint,
/// which knows better what the command needed.
fn describe(error: &Error) -> String {
    match error {
        Error::Api { operation, error } => format!("{operation}: {}", describe_api(error)),
        Error::Upload { error, .. } if error.status().is_some() => {
            format!("upload failed: {}", describe_upload(error))
        }
        _ => error.to_string(),
    }
}

fn describe_upload(error: &UploadError) -> String {
    match error {
        UploadError::Api(error) => describe_api(error),
        UploadError::RetriesExhausted {
            attempts,
            elapsed,
            last,
        } => format!(
            "gave up after {attempts} attempts over {:.1} s: {}",
            elapsed.as_secs_f64(),
            describe_upload(last)
        ),
        other => other.to_string(),
    }
}

fn describe_api(error: &ApiError) -> String {
    if !looks_like_html(error.body()) {
        return error.to_string();
    }
    let status = error.status();
    let summary = html_summary(error.body(), status.as_u16(), status.canonical_reason());
    match error {
        ApiError::Decode { .. } => format!("unexpected HTML page (HTTP {status}): {summary}"),
        _ => format!("HTTP {status}: {summary}"),
    }
}

/// Whether a body is markup rather than JSON or text.
fn looks_like_html(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    let text = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let mut chars = text.chars();
    chars.next() == Some('<')
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '!' || c == '?')
}

/// At most this many characters of an HTML page's summary.
const SUMMARY_CHARS: usize = 80;

/// An HTML page in a few words: its `<title>`, unless that only repeats the status (then the
/// first words of its visible text), trimmed to about 80 characters.
fn html_summary(body: &[u8], code: u16, reason: Option<&str>) -> String {
    let page = String::from_utf8_lossy(body);
    let title = element_text(&page, "title").unwrap_or_default();
    let says_only_status = |text: &str| {
        let code = code.to_string();
        let reason = reason.unwrap_or("").to_ascii_lowercase();
        text.to_ascii_lowercase()
            .replace(&code, " ")
            .replace(&reason, " ")
            .split(|c: char| !c.is_alphanumeric())
            .all(|word| word.is_empty() || word == "error" || word == "http")
    };
    let summary = if !title.is_empty() && !says_only_status(&title) {
        title
    } else {
        let visible = visible_text(&page);
        let visible = visible
            .strip_prefix(title.as_str())
            .map_or(visible.as_str(), str::trim_start)
            .to_owned();
        if visible.is_empty() || says_only_status(&visible) {
            title
        } else {
            visible
        }
    };
    match summary.is_empty() {
        true => "an HTML page".to_owned(),
        false => shorten(&summary, SUMMARY_CHARS),
    }
}

/// The text of the first `<tag>` element, its entities decoded and its spaces collapsed.
fn element_text(page: &str, tag: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    let open = lower.find(&format!("<{tag}"))?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find(&format!("</{tag}"))?;
    Some(collapse(&decode_entities(&strip_tags(&page[start..end]))))
}

/// What a browser would show of the page's body: no head, scripts, styles, comments or tags.
fn visible_text(page: &str) -> String {
    let mut text = page.to_owned();
    for (open, close) in [
        ("<head", "</head>"),
        ("<script", "</script>"),
        ("<style", "</style>"),
        ("<!--", "-->"),
    ] {
        text = remove_between(&text, open, close);
    }
    collapse(&decode_entities(&strip_tags(&text)))
}

/// `text` without every span from `open` to `close` (ASCII, any case).
fn remove_between(text: &str, open: &str, close: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(open) {
        let start = at + found;
        out.push_str(&text[at..start]);
        out.push(' ');
        at = match lower[start..].find(close) {
            Some(end) => start + end + close.len(),
            None => text.len(),
        };
    }
    out.push_str(&text[at..]);
    out
}

/// Tags become spaces.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match (in_tag, c) {
            (false, '<') => in_tag = true,
            (true, '>') => {
                in_tag = false;
                out.push(' ');
            }
            (false, c) => out.push(c),
            (true, _) => {}
        }
    }
    out
}

fn decode_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// One line: runs of whitespace (and control characters) become one space.
fn collapse(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max` characters, cut at a word when one ends close enough, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

/// Whether the answer is Kommo's page for an account blocked for too many requests.
fn is_blocked(error: &Error) -> bool {
    error.status().is_some_and(|s| s.as_u16() == 403)
        && error
            .body()
            .is_some_and(|body| body.starts_with(b"<") || body.windows(7).any(|w| w == b"blocked"))
}

/// The scope a 403 to `operation` says is missing.
fn missing_scope(operation: Option<Operation>) -> &'static str {
    match operation {
        Some(Operation::DiscoverDrive) => {
            "finding the account's file drive (GET /api/v4/account) needs the \"CRM\" scope \
             (access to account data): give it to the integration and issue a new token, or set \
             KOMMO_DRIVE_URL to skip this request"
        }
        Some(Operation::DeleteFiles) => {
            "give the integration the \"Deleting files\" scope, then issue a new token"
        }
        Some(
            Operation::EntityFiles
            | Operation::AttachFiles
            | Operation::DetachFiles
            | Operation::FileEntities
            | Operation::AddNotes
            | Operation::ReadNotes
            | Operation::GetEntity
            | Operation::SetFileField,
        ) => {
            "entities, their files and notes need the \"CRM\" scope (access to account data): \
             give it to the integration, then issue a new token"
        }
        _ => "give the integration the \"Access to files\" scope, then issue a new token",
    }
}

/// What kind of failure it is, and what the user can do about it.
fn classify(error: &Error) -> (&'static str, Option<&'static str>) {
    let operation = match error {
        Error::Api { operation, .. } | Error::Transport { operation, .. } => Some(*operation),
        _ => None,
    };
    match error {
        Error::Cancelled { .. } => (
            "cancelled",
            Some("run the same command again to continue where it stopped"),
        ),
        Error::Upload {
            error: UploadError::SessionExpired { .. },
            ..
        } => (
            "upload",
            Some("the upload session expired (sessions live 24 h); run the command again with --no-resume to start over"),
        ),
        Error::Transport { error, .. } | Error::Client(error) => (
            "network",
            Some(match error.kind() {
                ErrorKind::Connect => "cannot reach the server: check KOMMO_BASE_URL / KOMMO_SUBDOMAIN and the network",
                ErrorKind::Timeout => "the server did not answer in time; try again later",
                ErrorKind::Tls => "the TLS handshake failed: check the URL and the system's certificates",
                _ => "the connection broke; run the command again",
            }),
        ),
        _ => match error.status().map(|s| s.as_u16()) {
            Some(401) => (
                "api",
                Some("the token is invalid or expired: issue a new long-lived token in the integration's settings and set KOMMO_TOKEN"),
            ),
            Some(403) if is_blocked(error) => (
                "api",
                Some("Kommo blocks an account that sends too many requests (more than 7 a second, from all its integrations): wait before retrying"),
            ),
            Some(403) => ("api", Some(missing_scope(operation))),
            Some(404) => ("api", Some("check the UUID: `kommo-files ls` lists files, `kommo-files trash` trashed ones")),
            Some(429) => ("api", Some("too many requests (the account's limit is 7 a second, for all its integrations): wait a little before retrying")),
            Some(status) if status >= 500 => ("api", Some("the server failed; try again later")),
            Some(_) => ("api", None),
            None => match error {
                Error::Io { .. } => ("io", None),
                Error::Upload { checkpoint: Some(_), .. } => (
                    "upload",
                    Some("what was sent is kept: run the same command again to continue"),
                ),
                Error::Upload { .. } => ("upload", None),
                Error::Checkpoint(_) => (
                    "upload",
                    Some("the saved upload state is unreadable; run again with --no-resume"),
                ),
                Error::Download(_) => (
                    "network",
                    Some("the download did not complete and nothing was kept; run the command again"),
                ),
                Error::Url(_) => (
                    "refused",
                    Some("the server sent a link off the account's hosts or over plain http; nothing was sent to it"),
                ),
                _ => ("api", None),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_line_and_a_hint_or_json() {
        let failure = Failure::usage("--version-of takes one file").hint("upload one path");
        assert_eq!(
            failure.render(false),
            "error: --version-of takes one file\nhint: upload one path"
        );
        let json: serde_json::Value = serde_json::from_str(&failure.render(true)).unwrap();
        assert_eq!(json["error"]["kind"], "usage");
        assert_eq!(json["error"]["hint"], "upload one path");
        assert_eq!(failure.exit_code, EXIT_USAGE);
    }

    #[test]
    fn html_pages_are_summed_up_by_title_or_first_words() {
        let emulator = b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>\
            <h1>403 Forbidden</h1><p>Your account has been blocked for exceeding the API request \
            limits.</p></body></html>\n";
        assert_eq!(
            html_summary(emulator, 403, Some("Forbidden")),
            "Your account has been blocked for exceeding the API request limits."
        );
        let nginx = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
            <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n\
            </body>\r\n</html>";
        assert_eq!(
            html_summary(nginx, 502, Some("Bad Gateway")),
            "nginx/1.25.3"
        );
        let titled = b"<html><head><title>Account suspended &amp; locked</title>\
            <style>body{color:red}</style></head><body><p>x</p></body></html>";
        assert_eq!(
            html_summary(titled, 403, Some("Forbidden")),
            "Account suspended & locked"
        );
        let long = format!(
            "<html><body><script>var a = '<p>';</script><p>{}</p></body></html>",
            "word ".repeat(40)
        );
        let summary = html_summary(long.as_bytes(), 500, Some("Internal Server Error"));
        assert!(
            summary.ends_with('…') && summary.chars().count() <= SUMMARY_CHARS,
            "{summary}"
        );
        assert!(summary.starts_with("word word"), "{summary}");
        let bare = b"<html><head><title>403 Forbidden</title></head></html>";
        assert_eq!(html_summary(bare, 403, Some("Forbidden")), "403 Forbidden");
        assert_eq!(html_summary(b"<html></html>", 502, None), "an HTML page");
        assert!(looks_like_html(b"  <!doctype html><p>x"));
        assert!(looks_like_html(b"<html>"));
        assert!(!looks_like_html(b"{\"title\":\"<b>\"}"));
        assert!(!looks_like_html(
            b"Internal error: upstream said <nonsense>"
        ));
    }

    #[test]
    fn a_batch_names_its_first_failure_without_repeating_it() {
        let first = Failure::not_found("no file x").hint("look");
        let batch = Failure::of_batch(1, 3, "failed", Some(("a.txt", &first)));
        assert_eq!(batch.message, "1 of 3 file(s) failed: a.txt (see above)");
        assert_eq!(
            (batch.kind, batch.hint.as_deref()),
            ("not_found", Some("look"))
        );
        let batch = Failure::of_batch(2, 3, "failed", Some(("a.txt", &first)));
        assert_eq!(
            batch.message,
            "2 of 3 file(s) failed, the first a.txt (see above)"
        );
    }
}
