//! How a command fails: one line saying what went wrong, a hint saying what to do, and the
//! exit code (1 for a failure, 2 for a usage or configuration mistake).

use kommo_files::auth::{AuthError, StoreErrorKind};
use kommo_files::model::upload::SendFailureKind;
use kommo_files::model::upload::UploadError;
use kommo_files::model::ApiError;
use kommo_files::Error;
use kommo_files::Operation;
use serde::Serialize;

use crate::args::EntityRef;

/// Exit code of a failed command.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of a mistake in the command line or the configuration.
pub const EXIT_USAGE: u8 = 2;

/// A command's failure, ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// `usage`, `config`, `auth`, `api`, `network`, `upload`, `io`, `refused`, `cancelled`.
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

    /// Logging in failed, or the stored login cannot be used without a new one (exit 2).
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new("auth", message, EXIT_USAGE)
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
        let exit_code = match (&error, kind) {
            (_, "cancelled") => crate::interrupt::EXIT_INTERRUPTED,
            (Error::Auth(auth), _) if needs_login(auth) => EXIT_USAGE,
            _ => EXIT_FAILED,
        };
        let mut failure = Self::new(kind, describe(&error), exit_code);
        failure.status = status;
        failure.hint = hint.map(str::to_owned);
        failure.too_many_requests = matches!(status, Some(429)) || is_blocked(&error);
        failure
    }
}

/// The `error:` line of an SDK error: its message and its sources' in one line (an HTML
/// answer is already summed up by the SDK, never shown raw). The SDK's own scope advice is left
/// to the hint, which knows better what the command needed.
fn describe(error: &Error) -> String {
    match error {
        Error::Api {
            operation, error, ..
        } => format!("{operation}: {error}"),
        _ => error.chain_message(),
    }
}

/// An authentication failure only a new login (or a new token) fixes: exit 2, as for a
/// configuration mistake. The others (no answer, a failing endpoint) may pass: exit 1.
fn needs_login(error: &AuthError) -> bool {
    match error {
        AuthError::Refused(_)
        | AuthError::Revoked(_)
        | AuthError::NoRefreshToken
        | AuthError::NotLoggedIn => true,
        AuthError::Store(store) => store.kind == StoreErrorKind::Damaged,
        _ => false,
    }
}

/// What to do about an authentication failure.
fn auth_hint(error: &AuthError) -> &'static str {
    match error {
        AuthError::Refused(_) => {
            "the login can no longer be renewed (its refresh token was used, expired or revoked, \
             or the client id, secret or redirect URI are wrong): run `kommo-files auth login` again"
        }
        AuthError::Revoked(_) => {
            "the integration was revoked or disabled in the account, or its access was removed: \
             enable it again, then run `kommo-files auth login`"
        }
        AuthError::NoRefreshToken => {
            "the token has expired and cannot be renewed: issue a new long-lived token and set \
             KOMMO_TOKEN, or run `kommo-files auth login`"
        }
        AuthError::NotLoggedIn => "run `kommo-files auth login`, or set KOMMO_TOKEN",
        AuthError::NoAnswer(_) => {
            "check the network and run the command again; if the next refresh is refused, run \
             `kommo-files auth login` again"
        }
        AuthError::Failed(_) => "the token endpoint is failing: try again later",
        AuthError::Malformed(_) => {
            "run the command again; if the next refresh is refused, run `kommo-files auth login` again"
        }
        AuthError::Store(store) if store.kind == StoreErrorKind::Damaged => {
            "the stored tokens are unreadable: run `kommo-files auth login` again"
        }
        AuthError::Store(_) => {
            "check the token file and its directory (permissions, free space); \
             `kommo-files auth status` shows where it is"
        }
        AuthError::NotSaved { .. } => {
            "the renewed tokens could not be stored: fix the token file (permissions, free space) \
             and run the command again; if it is then refused, run `kommo-files auth login` again"
        }
        _ => "run the command again; if it fails again, run `kommo-files auth login`",
    }
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
        Error::Auth(auth) => ("auth", Some(auth_hint(auth))),
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
        Error::Upload {
            error: UploadError::SourceChanged(_),
            ..
        } => (
            "upload",
            Some("the file changed while it was being uploaded, so nothing was stored: run the command again once nothing writes to it"),
        ),
        _ if error.kind() == kommo_files::ErrorKind::Certificate => (
            "certificate",
            Some("the server's certificate is not trusted, so nothing was sent: if it is your TLS proxy's or your server's, trust its CA with --ca-cert PATH or KOMMO_CA_CERT=PATH (PEM); otherwise check the URL"),
        ),
        Error::Transport { failure, .. } => (
            "network",
            Some(match failure.kind {
                SendFailureKind::Connect => "cannot reach the server: check KOMMO_BASE_URL / KOMMO_SUBDOMAIN and the network",
                SendFailureKind::Timeout => "the server did not answer in time; try again later",
                SendFailureKind::Tls => "the TLS handshake failed: check the URL and the system's certificates",
                _ => "the connection broke; run the command again",
            }),
        ),
        Error::Client(_) => (
            "network",
            Some("the HTTP client could not be set up: check the system's TLS certificates and resolver"),
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
                Error::Upload { .. } | Error::FinalPartUnproven { .. } => ("upload", None),
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
