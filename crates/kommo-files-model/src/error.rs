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
                .field("body", &BodyPreview(body, *status))
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
                .field("body", &BodyPreview(body, *status))
                .finish(),
        }
    }
}

/// At most this many bytes of a body appear in messages (an HTML error page can be large).
const BODY_PREVIEW: usize = 200;

struct BodyPreview<'a>(&'a Bytes, StatusCode);

impl fmt::Debug for BodyPreview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", preview(self.0, self.1))
    }
}

fn preview(body: &[u8], status: StatusCode) -> String {
    if let Some(summary) = crate::html::summary(body, status) {
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

fn status_message(status: StatusCode, problem: Option<&Problem>, body: &[u8]) -> String {
    let detail = problem
        .and_then(|p| p.detail.clone().or_else(|| p.title.clone()))
        .unwrap_or_else(|| preview(body, status));
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
