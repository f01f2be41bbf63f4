//! How a command fails: one line saying what went wrong, a hint saying what to do, and the
//! exit code (1 for a failure, 2 for a usage or configuration mistake).

use kommo_files::model::upload::UploadError;
use kommo_files::transport::{ErrorKind, Operation};
use kommo_files::Error;
use serde::Serialize;

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
        }
    }

    /// `failed` of `total` files of a batch went wrong (`what`: "failed", "were not
    /// downloaded"); the first failure lends its kind and hint.
    pub fn of_batch(failed: usize, total: usize, what: &str, first: Option<&Failure>) -> Self {
        let first_message = first.map_or(String::new(), |f| format!("; first: {}", f.message));
        let mut failure =
            Self::refused(format!("{failed} of {total} file(s) {what}{first_message}")).hint(
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
        let mut failure = Self::new(kind, error.to_string(), exit_code);
        failure.status = status;
        failure.hint = hint.map(str::to_owned);
        failure
    }
}

/// What kind of failure it is, and what the user can do about it.
fn classify(error: &Error) -> (&'static str, Option<&'static str>) {
    let blocked = error
        .body()
        .is_some_and(|body| body.starts_with(b"<") || body.windows(7).any(|w| w == b"blocked"));
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
            Some(403) if blocked => (
                "api",
                Some("Kommo blocks an account that sends too many requests: wait before retrying and lower --concurrency"),
            ),
            Some(403) if matches!(error, Error::Api { operation: Operation::DeleteFiles, .. }) => (
                "api",
                Some("give the integration the \"Deleting files\" scope, then issue a new token"),
            ),
            Some(403) => (
                "api",
                Some("give the integration the \"Access to files\" scope, then issue a new token"),
            ),
            Some(404) => ("api", Some("check the UUID: `kommo-files ls` lists files, `kommo-files trash` trashed ones")),
            Some(429) => ("api", Some("too many requests: wait a little and lower --concurrency")),
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
}
