//! What `auth login` leaves for later commands: per account, the OAuth token set (the SDK's
//! [`FileTokenStore`] format, shared with its lock by every `kommo-files` process) and a small
//! record of the integration it belongs to. Both files are owner-only (0600):
//!
//! - `<state>/tokens/<account>.json`: the token set (access and refresh token, expiry);
//! - `<state>/tokens/<account>.login.json`: the account URL, the integration's client id and
//!   redirect URI, and its client secret only when `auth login --save-secret` asked for it.
//!
//! Nothing here prints a token, a refresh token, a code or the client secret.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kommo_files::auth::FileTokenStore;
use kommo_files::model::BaseUrl;
use kommo_files::oauth::OAuthApp;
use serde::{Deserialize, Serialize};

use crate::failure::Failure;
use crate::state::default_state_dir;

/// The integration the embedded emulator registers (`--emulator`, `demo`): every command run
/// against it logs in through its consent page.
pub const EMULATOR_CLIENT_ID: &str = "kommo-files-cli";
pub const EMULATOR_CLIENT_SECRET: &str = "kommo-files-cli-emulator-secret";
pub const EMULATOR_REDIRECT_URI: &str = "http://127.0.0.1/kommo-files/callback";

/// The integration of the embedded emulator.
pub fn emulator_app() -> OAuthApp {
    OAuthApp::new(
        EMULATOR_CLIENT_ID,
        EMULATOR_CLIENT_SECRET,
        EMULATOR_REDIRECT_URI,
    )
}

/// The state directory: `KOMMO_STATE_DIR`, else the default one.
pub fn state_root() -> PathBuf {
    std::env::var_os("KOMMO_STATE_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(default_state_dir, PathBuf::from)
}

/// An account URL as a file name: `https___acme.kommo.com`.
pub fn account_key(account_url: &str) -> String {
    account_url
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The integration a stored login belongs to. `Debug` never shows the secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRecord {
    pub account_url: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Only with `auth login --save-secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// Unix seconds.
    pub logged_in_at: i64,
}

impl std::fmt::Debug for LoginRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRecord")
            .field("account_url", &self.account_url)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("logged_in_at", &self.logged_in_at)
            .finish()
    }
}

impl LoginRecord {
    pub fn new(account_url: &str, app: &OAuthApp, save_secret: bool, now: i64) -> Self {
        Self {
            account_url: account_url.to_owned(),
            client_id: app.client_id.clone(),
            redirect_uri: app.redirect_uri.clone(),
            client_secret: save_secret.then(|| app.client_secret.expose().to_owned()),
            logged_in_at: now,
        }
    }

    pub fn has_secret(&self) -> bool {
        self.client_secret.is_some()
    }

    /// The integration, with `secret` (from the environment or the config file) or the stored
    /// one.
    pub fn app(&self, secret: Option<&str>) -> Option<OAuthApp> {
        let secret = secret.or(self.client_secret.as_deref())?;
        Some(OAuthApp::new(&self.client_id, secret, &self.redirect_uri))
    }
}

/// One account's login: where its files are.
#[derive(Debug, Clone)]
pub struct Login {
    pub record: LoginRecord,
    pub token_path: PathBuf,
    pub record_path: PathBuf,
}

impl Login {
    pub fn store(&self) -> FileTokenStore {
        FileTokenStore::new(&self.token_path)
    }
}

/// The logins of one state directory.
#[derive(Debug)]
pub struct Logins {
    directory: PathBuf,
}

impl Logins {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            directory: state_dir.join("tokens"),
        }
    }

    pub fn open() -> Self {
        Self::new(&state_root())
    }

    pub fn token_path(&self, account_url: &str) -> PathBuf {
        self.directory
            .join(format!("{}.json", account_key(account_url)))
    }

    fn record_path(&self, account_url: &str) -> PathBuf {
        self.directory
            .join(format!("{}.login.json", account_key(account_url)))
    }

    /// The login for this account, if there is one.
    pub fn find(&self, account_url: &str) -> Result<Option<Login>, Failure> {
        let record_path = self.record_path(account_url);
        if !record_path.exists() {
            return Ok(None);
        }
        Ok(Some(self.read(record_path)?))
    }

    /// Every stored login (sorted by account).
    pub fn all(&self) -> Result<Vec<Login>, Failure> {
        let entries = match std::fs::read_dir(&self.directory) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Failure::io(
                    format!("reading {}", self.directory.display()),
                    e,
                ))
            }
        };
        let mut logins = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".login.json"))
            {
                logins.push(self.read(path)?);
            }
        }
        logins.sort_by(|a, b| a.record.account_url.cmp(&b.record.account_url));
        Ok(logins)
    }

    fn read(&self, record_path: PathBuf) -> Result<Login, Failure> {
        let damaged = |detail: String| {
            Failure::config(format!(
                "the stored login {} is unreadable: {detail}",
                record_path.display()
            ))
            .hint("run `kommo-files auth login` again")
        };
        let text = std::fs::read_to_string(&record_path).map_err(|e| damaged(e.to_string()))?;
        let record: LoginRecord = serde_json::from_str(&text).map_err(|e| {
            // serde_json's message names a line and a column, never the text.
            damaged(e.to_string())
        })?;
        Ok(Login {
            token_path: self.token_path(&record.account_url),
            record,
            record_path,
        })
    }

    /// Writes the login record (0600, atomically) beside the token set.
    pub fn save(&self, record: &LoginRecord) -> Result<Login, Failure> {
        let path = self.record_path(&record.account_url);
        // A struct of strings and integers always serialises.
        let text = serde_json::to_string_pretty(record).expect("a login record serialises");
        write_private(&path, text.as_bytes())
            .map_err(|e| Failure::io(format!("writing {}", path.display()), e))?;
        Ok(Login {
            token_path: self.token_path(&record.account_url),
            record: record.clone(),
            record_path: path,
        })
    }
}

/// Writes `bytes` to `path` readable by its owner only, replacing it atomically.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// A login's `state`: 16 random bytes in hex, from the OS, or (without /dev/urandom) from
/// std's randomly keyed hasher over the time and the process id.
pub fn random_state() -> String {
    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .is_ok();
    if !from_os {
        use std::hash::{BuildHasher, Hasher};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(nanos);
            hasher.write_u32(std::process::id());
            hasher.write_usize(i);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the consent page is: Kommo's (`https://www.kommo.com`), amoCRM's for a `.amocrm.ru`
/// account (`https://www.amocrm.ru`), or the account itself when it is on this machine (an
/// emulator serves its consent page at `/oauth`).
pub fn consent_origin(account: Option<&BaseUrl>) -> BaseUrl {
    let origin = match account.map(BaseUrl::as_str) {
        Some(url) if is_local(url) => url.to_owned(),
        Some(url) if url.ends_with(".amocrm.ru") => "https://www.amocrm.ru".to_owned(),
        _ => "https://www.kommo.com".to_owned(),
    };
    BaseUrl::parse(&origin).expect("a valid consent origin")
}

fn is_local(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

/// Follows an emulator's consent page once, as a browser would: a plain `GET` of `url`
/// (`http://127.0.0.1:PORT/oauth?...`) whose `Location` is the redirect with the code.
pub fn follow_local_consent(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("the consent URL is not a local http URL")?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let mut stream = std::net::TcpStream::connect(authority).map_err(|e| e.to_string())?;
    let timeout = Some(std::time::Duration::from_secs(30));
    let _ = stream.set_read_timeout(timeout);
    let _ = stream.set_write_timeout(timeout);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buffer[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let head = String::from_utf8_lossy(&answer);
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 302") && !status.contains(" 303") && !status.contains(" 301") {
        return Err(format!(
            "the consent page answered {:?} instead of a redirect",
            status.trim()
        ));
    }
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .ok_or_else(|| "the consent page's redirect has no Location".to_owned())
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `in 23 h 59 min`, `2 days ago`: how far `at` is from `now`.
pub fn relative(at: i64, now: i64) -> String {
    let seconds = (at - now).abs();
    let amount = if seconds >= 2 * 86_400 {
        format!("{} days", seconds / 86_400)
    } else if seconds >= 3_600 {
        format!("{} h {} min", seconds / 3_600, seconds % 3_600 / 60)
    } else if seconds >= 60 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    };
    if at >= now {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_random_hex() {
        let (a, b) = (random_state(), random_state());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_consent_page_follows_the_account() {
        let url = |u: &str| BaseUrl::parse(u).unwrap();
        assert_eq!(
            consent_origin(None).as_str(),
            "https://www.kommo.com",
            "Kommo's by default"
        );
        assert_eq!(
            consent_origin(Some(&url("https://acme.amocrm.ru"))).as_str(),
            "https://www.amocrm.ru"
        );
        assert_eq!(
            consent_origin(Some(&url("https://acme.kommo.com"))).as_str(),
            "https://www.kommo.com"
        );
        assert_eq!(
            consent_origin(Some(&url("http://127.0.0.1:4000"))).as_str(),
            "http://127.0.0.1:4000"
        );
    }

    #[test]
    fn a_record_keeps_the_secret_only_when_asked() {
        let app = OAuthApp::new("id", "s3cret", "https://example.com/cb");
        let record = LoginRecord::new("https://acme.kommo.com", &app, false, 1);
        assert!(!serde_json::to_string(&record).unwrap().contains("s3cret"));
        assert!(record.app(None).is_none());
        assert_eq!(
            record.app(Some("other")).unwrap().client_secret.expose(),
            "other"
        );
        let record = LoginRecord::new("https://acme.kommo.com", &app, true, 1);
        assert_eq!(record.app(None).unwrap().client_secret.expose(), "s3cret");
    }

    #[test]
    fn relative_times_read_well() {
        assert_eq!(relative(100 + 86_340, 100), "in 23 h 59 min");
        assert_eq!(relative(100, 100 + 3 * 86_400), "3 days ago");
        assert_eq!(relative(130, 100), "in 30 s");
    }
}
