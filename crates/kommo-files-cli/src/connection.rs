//! Which account a command talks to: `--emulator`, the environment, or a config file, in that
//! order, field by field. The token is read here and never printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kommo_files::blocking::Client;
use kommo_files::model::pacing::KOMMO_REQUESTS_PER_SECOND;
use kommo_files::{ClientConfig, Domain, FileBudget};
use kommo_files_emulator::{Emulator, EmulatorHandle};
use serde::Deserialize;

use crate::failure::Failure;
use crate::state::default_state_dir;

/// A connected client, and the emulator behind it when there is one (kept alive with it).
#[derive(Debug)]
pub struct Connection {
    pub client: Client,
    /// The account's URL: names the account in the upload state, never holds the token.
    pub account_url: String,
    pub emulator: Option<EmulatorHandle>,
}

/// The settings a config file may hold; the environment overrides each of them.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    base_url: Option<String>,
    subdomain: Option<String>,
    domain: Option<String>,
    token: Option<String>,
    drive_url: Option<String>,
    requests_per_second: Option<u32>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("base_url", &self.base_url)
            .field("subdomain", &self.subdomain)
            .field("domain", &self.domain)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("drive_url", &self.drive_url)
            .field("requests_per_second", &self.requests_per_second)
            .finish()
    }
}

/// Connects as the command line and environment say.
pub fn connect(emulator: bool, config_file: Option<&Path>) -> Result<Connection, Failure> {
    if emulator {
        return connect_emulator(Emulator::builder());
    }
    let mut settings = match config_file {
        Some(path) => read_settings(path)?,
        None => match default_config_file() {
            Some(path) if path.exists() => read_settings(&path)?,
            _ => Settings::default(),
        },
    };
    overlay_environment(&mut settings);
    let config = client_config(&settings)?;
    let account_url = config.account_url().to_string();
    let client = Client::new(config).map_err(Failure::from)?;
    Ok(Connection {
        client,
        account_url,
        emulator: None,
    })
}

/// A fresh embedded emulator and a client for it.
pub fn connect_emulator(
    builder: kommo_files_emulator::EmulatorBuilder,
) -> Result<Connection, Failure> {
    let emulator = builder
        .start()
        .map_err(|e| Failure::io("starting the embedded emulator", e))?;
    let config =
        ClientConfig::for_url(emulator.account_url(), &emulator.token()).map_err(Failure::from)?;
    Ok(Connection {
        client: Client::new(config).map_err(Failure::from)?,
        account_url: emulator.account_url().to_owned(),
        emulator: Some(emulator),
    })
}

fn default_config_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("kommo-files").join("config.toml"))
}

fn read_settings(path: &Path) -> Result<Settings, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("reading the config file {}: {e}", path.display())))?;
    warn_if_readable_by_others(path);
    toml::from_str(&text).map_err(|e| {
        Failure::config(format!("the config file {} is not valid: {}", path.display(), e.message()))
            .hint("expected TOML keys: base_url or subdomain (+ domain), token, drive_url, requests_per_second")
    })
}

/// A token in a file others can read is a token others can use.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            if metadata.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "warning: {} can be read by other users; it holds a token (chmod 600 it)",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn overlay_environment(settings: &mut Settings) {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(url) = var("KOMMO_BASE_URL") {
        settings.base_url = Some(url);
        settings.subdomain = None;
    } else if let Some(subdomain) = var("KOMMO_SUBDOMAIN") {
        settings.subdomain = Some(subdomain);
        settings.base_url = None;
    }
    if let Some(domain) = var("KOMMO_DOMAIN") {
        settings.domain = Some(domain);
    }
    if let Some(token) = var("KOMMO_TOKEN") {
        settings.token = Some(token);
    }
    if let Some(drive_url) = var("KOMMO_DRIVE_URL") {
        settings.drive_url = Some(drive_url);
    }
}

fn client_config(settings: &Settings) -> Result<ClientConfig, Failure> {
    let missing_hint = "set KOMMO_BASE_URL (or KOMMO_SUBDOMAIN) and KOMMO_TOKEN, write them to \
                        ~/.config/kommo-files/config.toml, or try --emulator";
    let token = settings
        .token
        .as_deref()
        .ok_or_else(|| Failure::config("no access token").hint(missing_hint))?;
    let config = match (&settings.base_url, &settings.subdomain) {
        (Some(url), _) => ClientConfig::for_url(url, token),
        (None, Some(subdomain)) => {
            ClientConfig::for_account(subdomain, parse_domain(settings.domain.as_deref())?, token)
        }
        (None, None) => return Err(Failure::config("no account given").hint(missing_hint)),
    }
    .map_err(|e| config_failure(e, "the account"))?;
    let config = match &settings.drive_url {
        Some(url) => config
            .drive_url(url)
            .map_err(|e| config_failure(e, "drive_url"))?,
        None => config,
    };
    let config = match settings.requests_per_second {
        Some(0) => config.requests_per_second(None),
        Some(rate) => with_shared_budget(config, rate),
        None => with_shared_budget(config, KOMMO_REQUESTS_PER_SECOND),
    };
    Ok(config.user_agent(concat!("kommo-files-cli/", env!("CARGO_PKG_VERSION"))))
}

/// Every `kommo-files` process with the same state directory (`KOMMO_STATE_DIR`, else the
/// default) spends one rate budget per account, kept in a file there, so commands run at once
/// stay under the account's limit together.
/// Without a usable file, the process keeps its own budget.
fn with_shared_budget(config: ClientConfig, rate: u32) -> ClientConfig {
    let account: String = config
        .account_url()
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let state_dir = std::env::var_os("KOMMO_STATE_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(default_state_dir, PathBuf::from);
    let path = state_dir.join("budgets").join(format!("{account}.rate"));
    match FileBudget::open(&path, rate) {
        Ok(budget) => config.rate_budget(Arc::new(budget)),
        Err(_) => config.requests_per_second(Some(rate)),
    }
}

/// A setting the SDK refused (`what`: the account, or `drive_url`), with what to fix. The
/// message is the SDK's, whose URLs are redacted: a `user:password@` or a query value in a URL
/// is never printed.
fn config_failure(error: kommo_files::Error, what: &str) -> Failure {
    let hint = match error.kind() {
        kommo_files::ErrorKind::InvalidToken => {
            "set KOMMO_TOKEN (or `token` in the config file) to the token exactly as Kommo shows \
             it: visible ASCII characters only, no spaces, quotes or other letters"
        }
        kommo_files::ErrorKind::Url => {
            "give the https URL of the account (https://mycompany.kommo.com) or of the drive, \
             without user:password@, path or query; plain http only for this machine \
             (127.0.0.0/8, [::1], localhost)"
        }
        _ => "check KOMMO_BASE_URL / KOMMO_SUBDOMAIN, KOMMO_TOKEN and KOMMO_DRIVE_URL",
    };
    Failure::config(format!("{what}: {}", error.chain_message())).hint(hint)
}

fn parse_domain(domain: Option<&str>) -> Result<Domain, Failure> {
    match domain.unwrap_or("kommo.com") {
        "kommo.com" => Ok(Domain::Kommo),
        "amocrm.ru" => Ok(Domain::AmocrmRu),
        "amocrm.com" => Ok(Domain::AmocrmCom),
        other => Err(Failure::config(format!("unknown domain {other:?}"))
            .hint("use kommo.com, amocrm.ru or amocrm.com, or give the whole KOMMO_BASE_URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_names_the_account_and_rejects_typos() {
        let settings: Settings =
            toml::from_str("subdomain = \"acme\"\ndomain = \"amocrm.ru\"\ntoken = \"t\"\n")
                .unwrap();
        let config = client_config(&settings).unwrap();
        assert_eq!(config.account_url().to_string(), "https://acme.amocrm.ru");
        assert!(toml::from_str::<Settings>("tokne = \"t\"").is_err());
        assert!(!format!("{settings:?}").contains("\"t\""));
    }

    /// A token no header can carry is a configuration error (exit 2) with a hint, found
    /// before any request.
    #[test]
    fn a_non_ascii_token_is_a_configuration_error() {
        for token in ["tök", "two words", "токен"] {
            let settings = Settings {
                base_url: Some("https://acme.kommo.com".into()),
                token: Some(token.into()),
                ..Settings::default()
            };
            let failure = client_config(&settings).unwrap_err();
            assert_eq!((failure.kind, failure.exit_code), ("config", 2), "{token}");
            assert!(
                failure.message.contains("visible ASCII"),
                "{}",
                failure.message
            );
            assert!(failure.hint.unwrap().contains("KOMMO_TOKEN"));
        }
    }

    /// No URL setting echoes a secret in a user:password@ or a query value.
    #[test]
    fn refused_urls_are_not_echoed_with_their_secrets() {
        for (base_url, drive_url) in [
            (Some("http://secret@acme.kommo.com"), None),
            (Some("https://user:secret@acme.kommo.com"), None),
            (Some("https://acme.kommo.com/?key=secret"), None),
            (Some("http://127.example.com?secret"), None),
            (
                Some("https://acme.kommo.com"),
                Some("https://secret@drive-c.kommo.com"),
            ),
            (
                Some("https://acme.kommo.com"),
                Some("http://drive-c.kommo.com?t=secret"),
            ),
        ] {
            let settings = Settings {
                base_url: base_url.map(str::to_owned),
                drive_url: drive_url.map(str::to_owned),
                token: Some("t".into()),
                ..Settings::default()
            };
            let failure = client_config(&settings).unwrap_err();
            assert_eq!((failure.kind, failure.exit_code), ("config", 2));
            let text = failure.render(false) + &failure.render(true) + &format!("{failure:?}");
            assert!(!text.contains("secret"), "{text}");
            assert!(text.contains("…"), "{text}");
        }
    }

    #[test]
    fn missing_settings_are_configuration_errors() {
        let failure = client_config(&Settings::default()).unwrap_err();
        assert_eq!((failure.kind, failure.exit_code), ("config", 2));
        let no_account = Settings {
            token: Some("t".into()),
            ..Settings::default()
        };
        assert_eq!(
            client_config(&no_account).unwrap_err().message,
            "no account given"
        );
    }
}
