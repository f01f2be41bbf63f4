//! Fault injection: rules that pick requests by host, method, path pattern and occurrence, and
//! what to do to them. The server applies the action (see `server.rs`).

use serde::{Deserialize, Serialize};

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HostKind {
    /// `/api/v4/...`
    Account,
    /// `/v1.0/...`, upload URLs, `/download/...`
    Drive,
}

/// What a fault does to the request it matches.
///
/// In JSON (control API) the variant is the `kind` field:
/// `{"kind":"status","status":503,"body":"{}"}`, `{"kind":"close_after_commit"}`, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer `status` with `body` (default: a problem JSON for that status) without running the
    /// endpoint.
    Status {
        /// HTTP status.
        status: u16,
        /// Body text; `None` gives a problem JSON.
        #[serde(default)]
        body: Option<String>,
        /// `Content-Type`; default `application/json`.
        #[serde(default)]
        content_type: Option<String>,
    },
    /// Wait, then handle the request normally.
    Delay {
        /// How long to wait, in milliseconds (real time).
        millis: u64,
    },
    /// Close the connection before reading the request body; nothing is stored.
    CloseBeforeBody,
    /// Handle the request (a part is stored, a file is deleted, ...) then close the connection
    /// instead of answering: the client cannot know it succeeded.
    CloseAfterCommit,
    /// Handle the request, announce the full `Content-Length`, send half the body, close.
    TruncatedBody,
    /// Handle the request (a part is stored, a file completed, ...) then answer its success
    /// status with a body that is not JSON: the client cannot read what happened.
    GarbageAfterCommit,
    /// Answer `status` with a body that is not JSON although it says `application/json`.
    NonJsonBody {
        /// HTTP status.
        status: u16,
    },
    /// Answer `status` with an HTML error page (`text/html`), as a proxy in front would.
    HtmlError {
        /// HTTP status.
        status: u16,
    },
    /// Answer `status` (e.g. 429 or 503) with a `Retry-After: seconds` header and a problem body.
    RetryAfter {
        /// HTTP status.
        status: u16,
        /// Value of the `Retry-After` header.
        seconds: u64,
    },
}

/// Which of the matching requests a fault fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Occurrence {
    /// Only the n-th matching request (1-based): `{"nth": 2}`.
    Nth(u32),
    /// Every matching request: `"every"`.
    Every,
}

/// A fault rule: which requests, and what happens to them.
///
/// ```
/// use kommo_files_emulator::{Fault, FaultAction};
/// // Lose the answer of the second part upload.
/// let fault = Fault::new(FaultAction::CloseAfterCommit).method("POST").path("/upload/*").nth(2);
/// assert!(fault.matches(kommo_files_emulator::HostKind::Drive, "POST", "/upload/abc"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Fault {
    /// Only requests on this listener; `None` means both.
    #[serde(default)]
    pub host: Option<HostKind>,
    /// Only this HTTP method (case-insensitive); `None` means any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path pattern (no query): exact, or with `*` wildcards that match any characters
    /// (`/upload/*`, `/v1.0/files/*/versions`). Default `*`.
    #[serde(default = "any_path")]
    pub path: String,
    /// Which matching request fires; default: the first.
    #[serde(default = "first")]
    pub occurrence: Occurrence,
    /// What happens.
    pub action: FaultAction,
}

fn any_path() -> String {
    "*".to_owned()
}

fn first() -> Occurrence {
    Occurrence::Nth(1)
}

impl Fault {
    /// A fault on the first request to any path; narrow it with the other methods.
    pub fn new(action: FaultAction) -> Self {
        Fault {
            host: None,
            method: None,
            path: any_path(),
            occurrence: first(),
            action,
        }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Only paths matching this pattern (`*` matches anything).
    pub fn path(mut self, pattern: impl Into<String>) -> Self {
        self.path = pattern.into();
        self
    }

    /// Only requests on this listener.
    pub fn host(mut self, host: HostKind) -> Self {
        self.host = Some(host);
        self
    }

    /// Fire on the n-th matching request only (1-based).
    pub fn nth(mut self, n: u32) -> Self {
        self.occurrence = Occurrence::Nth(n);
        self
    }

    /// Fire on every matching request.
    pub fn every(mut self) -> Self {
        self.occurrence = Occurrence::Every;
        self
    }

    /// Whether a request is one this rule counts.
    pub fn matches(&self, host: HostKind, method: &str, path: &str) -> bool {
        self.host.is_none_or(|h| h == host)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && glob_match(&self.path, path)
    }
}

/// A scheduled fault and how often it matched and fired, as the control API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultStatus {
    /// Id to refer to the rule (returned when it was added).
    pub id: u64,
    /// The rule.
    pub fault: Fault,
    /// Matching requests seen so far.
    pub matched: u32,
    /// Times the action was applied.
    pub fired: u32,
}

/// The schedule.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    next_id: u64,
    rules: Vec<FaultStatus>,
}

impl FaultBook {
    pub(crate) fn add(&mut self, fault: Fault) -> u64 {
        self.next_id += 1;
        self.rules.push(FaultStatus {
            id: self.next_id,
            fault,
            matched: 0,
            fired: 0,
        });
        self.next_id
    }

    pub(crate) fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        before != self.rules.len()
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn list(&self) -> Vec<FaultStatus> {
        self.rules.clone()
    }

    /// Counts the request against every matching rule and returns the action of the first rule
    /// that fires on it.
    pub(crate) fn check(
        &mut self,
        host: HostKind,
        method: &str,
        path: &str,
    ) -> Option<FaultAction> {
        let mut fired = None;
        for rule in &mut self.rules {
            if !rule.fault.matches(host, method, path) {
                continue;
            }
            rule.matched += 1;
            let fires = match rule.fault.occurrence {
                Occurrence::Nth(n) => rule.matched == n,
                Occurrence::Every => true,
            };
            if fires && fired.is_none() {
                rule.fired += 1;
                fired = Some(rule.fault.action.clone());
            }
        }
        fired
    }
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star, at)) = backtrack {
            pi = star + 1;
            ti = at + 1;
            backtrack = Some((star, at + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "/anything"));
        assert!(glob_match("/upload/*", "/upload/abc.def"));
        assert!(!glob_match("/upload/*", "/v1.0/sessions/upload/abc"));
        assert!(glob_match("*/upload/*", "/v1.0/sessions/upload/abc"));
        assert!(glob_match(
            "/v1.0/files/*/versions",
            "/v1.0/files/x-y/versions"
        ));
        assert!(!glob_match("/v1.0/files", "/v1.0/files/x"));
        assert!(glob_match("/v1.0/files", "/v1.0/files"));
    }

    #[test]
    fn nth_fires_once_every_fires_always() {
        let mut book = FaultBook::default();
        book.add(
            Fault::new(FaultAction::CloseBeforeBody)
                .method("POST")
                .nth(2),
        );
        let hits: Vec<bool> = (0..3)
            .map(|_| book.check(HostKind::Drive, "POST", "/x").is_some())
            .collect();
        assert_eq!(hits, [false, true, false]);
        assert!(book.check(HostKind::Drive, "GET", "/x").is_none());
        book.clear();
        book.add(Fault::new(FaultAction::TruncatedBody).every());
        assert!(book.check(HostKind::Account, "GET", "/a").is_some());
        assert!(book.check(HostKind::Account, "GET", "/a").is_some());
    }
}
