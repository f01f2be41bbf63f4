//! What a response can say instead of the value asked for.

use std::fmt;

use bytes::Bytes;
use http::StatusCode;

use crate::wire::Problem;
use crate::RetryAfter;

/// A response that is not the documented success, or a success body we could not read.
///
/// It keeps everything a caller needs to act: the status, the parsed problem body when there is
/// one, the raw body, `Retry-After`, and for a parse failure the JSON path that failed.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The server answered with an error status (or an undocumented one).
    #[error("{}", status_message(*.status, .problem.as_deref(), .body))]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The problem body, when the body was one.
        problem: Option<Box<Problem>>,
        /// The raw body, whatever it was (an HTML page from a blocked account, say).
        body: Bytes,
        /// The server's `Retry-After`, if sent.
        retry_after: Option<RetryAfter>,
    },
    /// A success status whose body does not have the documented shape.
    #[error("unexpected response body (HTTP {status}) at `{path}`: {message}")]
    Decode {
        /// The HTTP status.
        status: StatusCode,
        /// JSON path of the first value that did not fit, `.` for the whole body.
        path: String,
        /// What did not fit.
        message: String,
        /// The raw body.
        body: Bytes,
    },
}

impl ApiError {
    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Status { status, .. } | Self::Decode { status, .. } => *status,
        }
    }

    /// The raw body of the response.
    pub fn body(&self) -> &Bytes {
        match self {
            Self::Status { body, .. } | Self::Decode { body, .. } => body,
        }
    }

    /// The parsed problem body, if any.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Status { problem, .. } => problem.as_deref(),
            Self::Decode { .. } => None,
        }
    }

    /// The server's `Retry-After`, if sent.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            Self::Decode { .. } => None,
        }
    }

    /// Builds the error for a response whose status is not the documented success.
    pub fn from_response(response: &http::Response<Bytes>) -> Self {
        let body = response.body().clone();
        let problem = serde_json::from_slice::<Problem>(&body)
            .ok()
            .filter(|p| p.title.is_some() || p.detail.is_some() || !p.validation_errors.is_empty())
            .map(Box::new);
        Self::Status {
            status: response.status(),
            problem,
            body,
            retry_after: RetryAfter::from_headers(response.headers()),
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status {
                status,
                problem,
                body,
                retry_after,
            } => f
                .debug_struct("Status")
                .field("status", status)
                .field("problem", problem)
                .field("body", &BodyPreview(body))
                .field("retry_after", retry_after)
                .finish(),
            Self::Decode {
                status,
                path,
                message,
                body,
            } => f
                .debug_struct("Decode")
                .field("status", status)
                .field("path", path)
                .field("message", message)
                .field("body", &BodyPreview(body))
                .finish(),
        }
    }
}

/// At most this many bytes of a body appear in messages (an HTML error page can be large).
const BODY_PREVIEW: usize = 200;

struct BodyPreview<'a>(&'a Bytes);

impl fmt::Debug for BodyPreview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", preview(self.0))
    }
}

fn preview(body: &[u8]) -> String {
    if let Some(summary) = html_summary(body) {
        return summary;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_PREVIEW)]);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > BODY_PREVIEW {
        format!("{text}… ({} bytes)", body.len())
    } else {
        text
    }
}

/// How many characters of an HTML page's title or text a message shows.
const HTML_SUMMARY: usize = 80;

/// An HTML page (a blocked account's 403, a proxy's 502) summarised as its `<title>`, or its
/// first words without markup: raw markup in a message helps nobody.
fn html_summary(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_start();
    let is_html = trimmed.starts_with("<!doctype html")
        || trimmed.starts_with("<html")
        || (trimmed.starts_with('<') && (lower.contains("<body") || lower.contains("<title")));
    if !is_html {
        return None;
    }
    let title = lower.find("<title").and_then(|start| {
        let open_end = start + lower[start..].find('>')? + 1;
        let close = open_end + lower[open_end..].find("</title")?;
        Some(words(&text[open_end..close]))
    });
    // A title that only repeats the status ("403 Forbidden") says less than the page's text.
    let says_more =
        |title: &String| !title.is_empty() && !title.starts_with(|c: char| c.is_ascii_digit());
    let summary = match title.filter(says_more) {
        Some(title) => title,
        None => {
            let body_start = lower.find("<body").unwrap_or(0);
            words(&strip_tags(&text[body_start..]))
        }
    };
    let mut short: String = summary.chars().take(HTML_SUMMARY).collect();
    if short.len() < summary.len() {
        short.push('…');
    }
    Some(format!("{short} (an HTML page of {} bytes)", body.len()))
}

/// The text of HTML without its tags (and without scripts' and styles' contents).
fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag = &rest[open..];
        let skip_to = ["<script", "<style"]
            .iter()
            .find(|name| {
                tag.get(..name.len())
                    .is_some_and(|start| start.eq_ignore_ascii_case(name))
            })
            .and_then(|name| {
                let close = format!("</{}", &name[1..]);
                tag.to_ascii_lowercase().find(&close)
            });
        let from = skip_to.unwrap_or(0);
        match tag[from..].find('>') {
            Some(end) => rest = &tag[from + end + 1..],
            None => return text,
        }
    }
    text.push_str(rest);
    text
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn status_message(status: StatusCode, problem: Option<&Problem>, body: &[u8]) -> String {
    let detail = problem
        .and_then(|p| p.detail.clone().or_else(|| p.title.clone()))
        .unwrap_or_else(|| preview(body));
    let mut message = format!("HTTP {status}");
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(&detail);
    }
    if let Some(problem) = problem {
        for item in problem.validation_errors.iter().flat_map(|v| &v.errors) {
            let path = item.path.as_deref().unwrap_or("?");
            let detail = item
                .detail
                .as_deref()
                .or(item.code.as_deref())
                .unwrap_or("invalid");
            message.push_str(&format!("; {path}: {detail}"));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_html_page_is_summarised_by_its_title() {
        let page = b"<!DOCTYPE html><html><head><title>403 Forbidden \n - Account blocked</title>\
                     <style>body{}</style></head><body><h1>Blocked</h1></body></html>";
        let message = status_message(StatusCode::FORBIDDEN, None, page);
        assert!(message.contains("Blocked"), "{message}");
        assert!(!message.contains('<'), "{message}");
    }

    #[test]
    fn an_html_page_without_title_shows_its_first_words() {
        let page = "<html><script>var x = '<b>';</script><body><p>Bad   gateway</p> é<p>try later</p></body></html>";
        let summary = html_summary(page.as_bytes()).unwrap();
        assert!(summary.starts_with("Bad gateway é try later"), "{summary}");
        assert!(!summary.contains("var x"));
    }

    #[test]
    fn odd_markup_never_panics() {
        for body in [
            "<",
            "<html",
            "<html><title>",
            "<html><sc\u{e9}ript>",
            "<html><title>\u{e9}\u{e9}</title",
            "<\u{e9}\u{e9}\u{e9}<body",
        ] {
            let _ = preview(body.as_bytes());
        }
        let long = format!("<html><title>{}</title></html>", "word ".repeat(100));
        let summary = html_summary(long.as_bytes()).unwrap();
        assert!(summary.chars().count() < 130, "{summary}");
    }

    #[test]
    fn json_and_text_bodies_are_not_html() {
        assert_eq!(html_summary(br#"{"title":"x"}"#), None);
        assert_eq!(html_summary(b"plain text"), None);
    }
}
