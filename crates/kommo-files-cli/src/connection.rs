//! Which account a command talks to, and as whom: `--emulator`, the environment, or a config
//! file, in that order, field by field. Credentials: a token (`KOMMO_TOKEN`, else `token` in the
//! config file) wins; without one, the OAuth login `auth login` stored for the account. Tokens
//! are read here and never printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kommo_files::auth::Credentials;
use kommo_files::blocking::Client;
use kommo_files::model::pacing::KOMMO_REQUESTS_PER_SECOND;
use kommo_files::model::BaseUrl;
use kommo_files::oauth::{self, ConsentMode, OAuthApp, TokenSet};
use kommo_files::{AccessToken, ClientConfig, Domain, FileBudget};
use kommo_files_emulator::{Emulator, EmulatorHandle, Integration};
use serde::Deserialize;

use crate::failure::Failure;
use crate::login::{self, Login, Logins};

/// A long-lived token this close to its `exp` earns a warning.
const LONG_LIVED_WARNING: i64 = 7 * 86_400;

/// A connected client, and the emulator behind it when there is one (kept alive with it).
#[derive(Debug)]
pub struct Connection {
    pub client: Client,
    /// The account's URL: names the account in the upload state, never holds the token.
    pub account_url: String,
    pub emulator: Option<EmulatorHandle>,
    /// The token set the embedded emulator's OAuth login obtained (`--emulator`, `demo`).
    pub emulator_login: Option<TokenSet>,
}

/// The settings a config file may hold; the environment overrides each of them.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    base_url: Option<String>,
    subdomain: Option<String>,
    domain: Option<String>,
    token: Option<String>,
    drive_url: Option<String>,
    requests_per_second: Option<u32>,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    /// Where the token came from (`KOMMO_TOKEN` or the config file), for messages.
    #[serde(skip)]
    token_source: Option<String>,
    /// Where the client secret came from.
    #[serde(skip)]
    secret_source: Option<String>,
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
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

impl Settings {
    /// The token given by `KOMMO_TOKEN` or the config file, and which of them.
    pub fn token(&self) -> Option<(&str, &str)> {
        Some((
            self.token.as_deref()?,
            self.token_source.as_deref().unwrap_or("the config file"),
        ))
    }

    /// The integration's client secret (`KOMMO_CLIENT_SECRET`, else `client_secret` in the
    /// config file), and which of them.
    pub fn client_secret(&self) -> Option<(&str, &str)> {
        Some((
            self.client_secret.as_deref()?,
            self.secret_source.as_deref().unwrap_or("the config file"),
        ))
    }

    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// The account the settings name, if they name one.
    pub fn account(&self) -> Result<Option<BaseUrl>, Failure> {
        let config = match (&self.base_url, &self.subdomain) {
            (Some(url), _) => ClientConfig::for_url(url, "-"),
            (None, Some(subdomain)) => {
                ClientConfig::for_account(subdomain, parse_domain(self.domain.as_deref())?, "-")
            }
            (None, None) => return Ok(None),
        };
        config
            .map(|config| Some(config.account_url().clone()))
            .map_err(|e| config_failure(e, "the account"))
    }
}

/// The settings of the config file (`--config`, `KOMMO_CONFIG`, or the default one) with the
/// environment over them.
pub fn load_settings(config_file: Option<&Path>) -> Result<Settings, Failure> {
    let mut settings = match config_file {
        Some(path) => read_settings(path)?,
        None => match default_config_file() {
            Some(path) if path.exists() => read_settings(&path)?,
            _ => Settings::default(),
        },
    };
    overlay_environment(&mut settings);
    Ok(settings)
}

/// Connects as the command line and environment say; `ca_cert` (`--ca-cert`, `KOMMO_CA_CERT`)
/// is a CA certificate (PEM) to trust instead of the built-in roots.
pub fn connect(
    emulator: bool,
    config_file: Option<&Path>,
    ca_cert: Option<&Path>,
) -> Result<Connection, Failure> {
    if emulator {
        return connect_emulator(Emulator::builder());
    }
    let settings = load_settings(config_file)?;
    let config = match settings.token() {
        Some((token, source)) => {
            warn_if_expiring(token, source, login::unix_now());
            client_config(&settings)?
        }
        None => {
            let login = find_login(&settings)?;
            let credentials = stored_credentials(&settings, &login)?;
            let config = ClientConfig::with_credentials(&login.record.account_url, credentials)
                .map_err(|e| config_failure(e, "the stored login's account"))?;
            finish_config(config, &settings)?
        }
    };
    let config = trust_ca(config, ca_cert)?;
    let account_url = config.account_url().to_string();
    let client = Client::new(config).map_err(Failure::from)?;
    Ok(Connection {
        client,
        account_url,
        emulator: None,
        emulator_login: None,
    })
}

/// The stored login for the account the settings name, or, when they name none, the only one
/// stored.
pub fn find_login(settings: &Settings) -> Result<Login, Failure> {
    if let Some(login) = lookup_login(settings)? {
        return Ok(login);
    }
    let hint = "set KOMMO_BASE_URL (or KOMMO_SUBDOMAIN) and KOMMO_TOKEN, run \
                `kommo-files auth login`, or try --emulator";
    Err(match settings.account()? {
        Some(account) => Failure::config(format!(
            "no access token for {}: no KOMMO_TOKEN, no token in the config file, no stored login",
            account.as_str()
        )),
        None => Failure::config("no access token"),
    }
    .hint(hint))
}

/// Like [`find_login`], but `None` when there is no login to use.
pub fn lookup_login(settings: &Settings) -> Result<Option<Login>, Failure> {
    let logins = Logins::open();
    if let Some(account) = settings.account()? {
        return logins.find(account.as_str());
    }
    let mut all = logins.all()?;
    match all.len() {
        0 => Ok(None),
        1 => Ok(Some(all.remove(0))),
        _ => {
            let accounts: Vec<&str> = all.iter().map(|l| l.record.account_url.as_str()).collect();
            Err(Failure::config(format!(
                "several accounts are logged in ({}): which one?",
                accounts.join(", ")
            ))
            .hint("set KOMMO_BASE_URL (or KOMMO_SUBDOMAIN) to one of them"))
        }
    }
}

/// OAuth credentials whose tokens live in the login's shared file store: every process that
/// uses it refreshes under its lock, so a refresh token is spent once.
fn stored_credentials(settings: &Settings, login: &Login) -> Result<Credentials, Failure> {
    let app = login
        .record
        .app(settings.client_secret().map(|(secret, _)| secret))
        .ok_or_else(|| {
            Failure::config(format!(
                "the stored login for {} needs the integration's client secret to refresh its tokens",
                login.record.account_url
            ))
            .hint(
                "set KOMMO_CLIENT_SECRET (or client_secret in the config file), or log in again \
                 with `kommo-files auth login --save-secret`",
            )
        })?;
    Credentials::oauth_stored(app, login.store()).map_err(Failure::from)
}

/// A warning on stderr when a long-lived token (a JWT with `exp`) expires within 7 days or
/// has expired.
fn warn_if_expiring(token: &str, source: &str, now: i64) {
    if let Some(warning) = expiry_warning(token, source, now) {
        eprintln!("{warning}");
    }
}

fn expiry_warning(token: &str, source: &str, now: i64) -> Option<String> {
    let exp = AccessToken::new(token)
        .ok()
        .and_then(|token| TokenSet::long_lived(token).expires_at())?;
    let date = crate::dates::format_utc(exp);
    if exp <= now {
        Some(format!(
            "warning: the long-lived token in {source} expired on {date} UTC ({}): issue a new \
             one in the integration's settings",
            login::relative(exp, now)
        ))
    } else if exp - now <= LONG_LIVED_WARNING {
        Some(format!(
            "warning: the long-lived token in {source} expires on {date} UTC ({}): issue a new \
             one in the integration's settings",
            login::relative(exp, now)
        ))
    } else {
        None
    }
}

/// A fresh embedded emulator and a client for it, logged in with OAuth 2.0 as an integration
/// would be: the emulator's consent page, the code in its redirect, the token endpoint.
pub fn connect_emulator(
    builder: kommo_files_emulator::EmulatorBuilder,
) -> Result<Connection, Failure> {
    let app = login::emulator_app();
    let emulator = builder
        .integration(Integration::new(
            &app.client_id,
            app.client_secret.expose(),
            &app.redirect_uri,
        ))
        .start()
        .map_err(|e| Failure::io("starting the embedded emulator", e))?;
    let tokens = emulator_login(emulator.account_url(), &app)?;
    let credentials = Credentials::oauth(app, tokens.clone());
    let config = ClientConfig::with_credentials(emulator.account_url(), credentials)
        .map_err(Failure::from)?;
    Ok(Connection {
        client: Client::new(config).map_err(Failure::from)?,
        account_url: emulator.account_url().to_owned(),
        emulator: Some(emulator),
        emulator_login: Some(tokens),
    })
}

/// The embedded emulator's consent page, followed at once, and its code exchanged.
fn emulator_login(account_url: &str, app: &OAuthApp) -> Result<TokenSet, Failure> {
    let failed =
        |what: String| Failure::refused(format!("logging in to the embedded emulator: {what}"));
    let account = BaseUrl::parse(account_url).map_err(|e| failed(e.to_string()))?;
    let state = login::random_state();
    let consent = oauth::authorize_url(&account, &app.client_id, &state, ConsentMode::PostMessage);
    let redirect = login::follow_local_consent(&consent).map_err(failed)?;
    let grant = oauth::parse_redirect(&redirect, &state).map_err(|e| failed(e.to_string()))?;
    login_client(grant.account.as_str(), None)?
        .exchange_code(app, grant.code.expose())
        .map_err(Failure::from)
}

/// A client that only logs in to `account_url` (no token), trusting `ca_cert` if given.
pub fn login_client(account_url: &str, ca_cert: Option<&Path>) -> Result<Client, Failure> {
    let config = ClientConfig::with_credentials(account_url, Credentials::none())
        .map_err(|e| config_failure(e, "the account"))?;
    let config = with_shared_budget(config, KOMMO_REQUESTS_PER_SECOND)
        .user_agent(concat!("kommo-files-cli/", env!("CARGO_PKG_VERSION")));
    Client::new(trust_ca(config, ca_cert)?).map_err(Failure::from)
}

/// `config` trusting the CA certificate (PEM) at `path` (`--ca-cert`, `KOMMO_CA_CERT`), if
/// one is given, instead of the built-in roots.
fn trust_ca(config: ClientConfig, path: Option<&Path>) -> Result<ClientConfig, Failure> {
    let Some(path) = path else {
        return Ok(config);
    };
    let pem = std::fs::read(path).map_err(|e| {
        Failure::config(format!(
            "reading the CA certificate {}: {e}",
            path.display()
        ))
        .hint("--ca-cert / KOMMO_CA_CERT names a PEM file of the CA to trust")
    })?;
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(Failure::config(format!(
            "the CA certificate {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ))
        .hint("--ca-cert / KOMMO_CA_CERT names a PEM file of the CA to trust"));
    }
    Ok(config.trust_ca_pem(pem))
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
    let mut settings: Settings = toml::from_str(&text).map_err(|e| {
        Failure::config(format!("the config file {} is not valid: {}", path.display(), e.message()))
            .hint("expected TOML keys: base_url or subdomain (+ domain), token, drive_url, requests_per_second, client_id, client_secret, redirect_uri")
    })?;
    let source = format!("the config file {}", path.display());
    if settings.token.is_some() {
        settings.token_source = Some(source.clone());
    }
    if settings.client_secret.is_some() {
        settings.secret_source = Some(source);
    }
    Ok(settings)
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
        settings.token_source = Some("KOMMO_TOKEN".to_owned());
    }
    if let Some(drive_url) = var("KOMMO_DRIVE_URL") {
        settings.drive_url = Some(drive_url);
    }
    if let Some(client_id) = var("KOMMO_CLIENT_ID") {
        settings.client_id = Some(client_id);
    }
    if let Some(secret) = var("KOMMO_CLIENT_SECRET") {
        settings.client_secret = Some(secret);
        settings.secret_source = Some("KOMMO_CLIENT_SECRET".to_owned());
    }
    if let Some(redirect_uri) = var("KOMMO_REDIRECT_URI") {
        settings.redirect_uri = Some(redirect_uri);
    }
}

fn client_config(settings: &Settings) -> Result<ClientConfig, Failure> {
    let missing_hint = "set KOMMO_BASE_URL (or KOMMO_SUBDOMAIN) and KOMMO_TOKEN, write them to \
                        ~/.config/kommo-files/config.toml, run `kommo-files auth login`, or try \
                        --emulator";
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
    finish_config(config, settings)
}

/// The drive, the pacing and the user agent, whatever the credentials.
fn finish_config(config: ClientConfig, settings: &Settings) -> Result<ClientConfig, Failure> {
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
    let account = login::account_key(config.account_url().as_str());
    let path = login::state_root()
        .join("budgets")
        .join(format!("{account}.rate"));
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

    /// A JWT-shaped token whose payload is `{"exp":exp}`.
    fn jwt_expiring_at(exp: i64) -> String {
        fn base64url(bytes: &[u8]) -> String {
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
                for i in 0..=chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
                }
            }
            out
        }
        format!(
            "{}.{}.c2ln",
            base64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            base64url(format!(r#"{{"exp":{exp}}}"#).as_bytes())
        )
    }

    /// A long-lived token within 7 days of its `exp`, or past it, earns a warning; one
    /// further away, or a token that is not a JWT, none. The warning never holds the token.
    #[test]
    fn long_lived_tokens_near_their_expiry_are_warned_about() {
        let now = 1_800_000_000;
        let soon = jwt_expiring_at(now + 2 * 86_400);
        let warning = expiry_warning(&soon, "KOMMO_TOKEN", now).expect("a warning");
        assert!(
            warning.contains("expires on ") && warning.contains("in 2 days"),
            "{warning}"
        );
        assert!(!warning.contains(&soon));
        let past = jwt_expiring_at(now - 3_600);
        let warning = expiry_warning(&past, "KOMMO_TOKEN", now).expect("a warning");
        assert!(
            warning.contains("expired on ") && warning.contains("ago"),
            "{warning}"
        );
        assert_eq!(
            expiry_warning(&jwt_expiring_at(now + 30 * 86_400), "KOMMO_TOKEN", now),
            None
        );
        assert_eq!(expiry_warning("plain-token", "KOMMO_TOKEN", now), None);
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
