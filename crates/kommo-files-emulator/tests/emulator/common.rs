//! Shared helpers: a plain HTTP client (ureq, statuses are not errors), upload helpers, and the
//! one place where snapshot redactions live.

use std::collections::HashMap;
use std::time::Duration;

use kommo_files_emulator::{EmulatorBuilder, EmulatorHandle};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// An answer as the tests look at it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running emulator plus a client for it.
pub struct Api {
    pub emu: EmulatorHandle,
    pub agent: ureq::Agent,
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

impl Api {
    pub fn start() -> Self {
        Self::with(kommo_files_emulator::Emulator::builder())
    }

    pub fn with(builder: EmulatorBuilder) -> Self {
        Api {
            emu: builder.start().expect("emulator starts"),
            agent: agent(),
        }
    }

    pub fn token(&self) -> String {
        self.emu.token()
    }

    /// Sends a request; `Err` only for transport failures (closed connection, ...).
    pub fn try_send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Answer, ureq::Error> {
        let mut request = http::Request::builder().method(method).uri(url);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = match body {
            Some(body) => self
                .agent
                .run(request.body(body.to_vec()).expect("request builds"))?,
            None => self.agent.run(request.body(()).expect("request builds"))?,
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after");
        let body = response
            .into_body()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()?;
        Ok(Answer {
            status,
            content_type,
            retry_after,
            body,
        })
    }

    pub fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Answer {
        self.try_send(method, url, token, body)
            .unwrap_or_else(|e| panic!("{method} {url} failed: {e}"))
    }

    /// A request to the drive host with the default token and an optional JSON body.
    pub fn drive(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let url = format!("{}{path}", self.emu.drive_url());
        let body = body.map(|b| b.to_string().into_bytes());
        self.send(method, &url, Some(&self.token()), body.as_deref())
    }

    /// A request to the account host with the default token and an optional JSON body.
    pub fn account(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let url = format!("{}{path}", self.emu.account_url());
        let body = body.map(|b| b.to_string().into_bytes());
        self.send(method, &url, Some(&self.token()), body.as_deref())
    }

    /// Opens a session; returns its JSON.
    pub fn session(&self, body: Value) -> Value {
        let answer = self.drive("POST", "/v1.0/sessions", Some(body));
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()
    }

    /// Uploads `bytes` in parts of `max_part_size`; returns the final file object.
    pub fn upload_with(&self, session: Value, bytes: &[u8]) -> Value {
        let part_size = session["max_part_size"].as_u64().unwrap() as usize;
        let mut url = session["upload_url"].as_str().unwrap().to_owned();
        let mut chunks: Vec<&[u8]> = bytes.chunks(part_size).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let answer = self.send("POST", &url, None, Some(chunk));
            if i == last {
                assert_eq!(answer.status, 200, "final part: {}", answer.text());
                return answer.json();
            }
            assert_eq!(answer.status, 202, "part {i}: {}", answer.text());
            url = answer.json()["next_url"].as_str().unwrap().to_owned();
        }
        unreachable!()
    }

    /// Uploads a new file named `name`.
    pub fn upload(&self, name: &str, bytes: &[u8]) -> Value {
        let session = self.session(json!({ "file_name": name, "file_size": bytes.len() }));
        self.upload_with(session, bytes)
    }

    /// GETs a download link (absolute URL) and returns the bytes.
    pub fn download(&self, href: &str) -> Vec<u8> {
        let answer = self.send("GET", href, Some(&self.token()), None);
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.body
    }

    /// Normalises a body for a snapshot (see [`redact`]).
    pub fn redact(&self, value: &Value) -> Value {
        redact(value, self.emu.account_url(), self.emu.drive_url())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `n` bytes of a recognisable, non-repeating pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + i / 251) as u8).collect()
}

// ---- snapshot redactions: the only place that decides what is unstable ----

const TIMESTAMP_KEYS: &[&str] = &[
    "created_at",
    "updated_at",
    "deleted_at",
    "date_create",
    "date_update",
    "now",
];

/// Makes a body deterministic: hosts become `[account]` / `[drive]`, upload tokens `[token]`,
/// timestamps `[ts]`, and each distinct UUID `[uuid-N]` numbered by first appearance (so the
/// snapshot still shows which ids are the same).
pub fn redact(value: &Value, account_url: &str, drive_url: &str) -> Value {
    let mut uuids = HashMap::new();
    walk(value, &mut |s| {
        redact_str(s, account_url, drive_url, &mut uuids)
    })
}

fn walk(value: &Value, text: &mut dyn FnMut(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(text(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, text)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if TIMESTAMP_KEYS.contains(&k.as_str()) && v.is_number() {
                        json!("[ts]")
                    } else {
                        walk(v, text)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn redact_str(
    s: &str,
    account_url: &str,
    drive_url: &str,
    uuids: &mut HashMap<String, usize>,
) -> String {
    let mut s = s
        .replace(account_url, "[account]")
        .replace(drive_url, "[drive]");
    if let Some(at) = s.find("/upload/") {
        s.replace_range(at + "/upload/".len().., "[token]");
    }
    let mut out = String::new();
    let mut rest = s.as_str();
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && is_uuid(&rest[..36]) {
            let next = uuids.len() + 1;
            let n = *uuids.entry(rest[..36].to_owned()).or_insert(next);
            out.push_str(&format!("[uuid-{n}]"));
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_uuid(s: &str) -> bool {
    s.bytes().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("kfe-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
