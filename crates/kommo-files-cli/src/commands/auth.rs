//! `auth login`, `auth status`, `auth logout`: OAuth 2.0 for a public integration. The login
//! prints the consent URL, takes the redirect (or the code) back, exchanges the code and stores
//! the tokens per account (see `login.rs`); later commands use them when no token is given.
//! No token, refresh token, code or client secret is ever printed.

use std::io::BufRead;

use kommo_files::auth::{AuthError, TokenStore};
use kommo_files::model::BaseUrl;
use kommo_files::oauth::{self, ConsentMode, OAuthApp, Secret, TokenKind, TokenSet};
use kommo_files::AccessToken;
use kommo_files_emulator::{Emulator, EmulatorHandle, Integration};
use serde_json::json;

use crate::cli::{AuthCommand, Global, LoginArgs};
use crate::connection::{find_login, load_settings, login_client, lookup_login, Settings};
use crate::dates::format_utc;
use crate::failure::Failure;
use crate::login::{self, LoginRecord, Logins};
use crate::output::{print, print_json};

pub fn run(command: &AuthCommand, global: &Global) -> Result<(), Failure> {
    match command {
        AuthCommand::Login(args) => login(args, global),
        AuthCommand::Status => status(global),
        AuthCommand::Logout => logout(global),
    }
}

fn login(args: &LoginArgs, global: &Global) -> Result<(), Failure> {
    let settings = load_settings(global.config.as_deref())?;
    let app = integration(args, &settings)?;
    // With --emulator: an embedded emulator that knows the integration, and ends with us.
    let (emulator, app, configured) = if global.emulator {
        let app = app.unwrap_or_else(login::emulator_app);
        let emulator = start_emulator(&app)?;
        let account = BaseUrl::parse(emulator.account_url())
            .map_err(|e| Failure::config(format!("the embedded emulator: {e}")))?;
        (Some(emulator), app, Some(account))
    } else {
        let app = app.ok_or_else(|| {
            Failure::usage("logging in needs the integration's client id, secret and redirect URI")
                .hint(
                    "give --client-id, --redirect-uri and KOMMO_CLIENT_SECRET (or client_id, \
                     client_secret and redirect_uri in the config file), as the integration's \
                     settings in Kommo show them",
                )
        })?;
        (None, app, settings.account()?)
    };

    let (code, account) = grant(args, &app, configured.as_ref())?;
    let tokens = login_client(account.as_str(), global.ca_cert.as_deref())?
        .exchange_code(&app, code.expose())
        .map_err(exchange_failure)?;
    let now = login::unix_now();
    let expiry = describe_expiry(tokens.expires_at(), now);

    if emulator.is_some() {
        return done(
            global.json,
            &format!(
                "Logged in to the embedded emulator {} (integration {}): OAuth 2.0 tokens, \
                 the access token expires {expiry}.\n\
                 Not stored: the embedded emulator ends with this command.\n",
                account.as_str(),
                app.client_id
            ),
            json!({
                "account": account.as_str(),
                "client_id": app.client_id,
                "kind": kind_name(&tokens),
                "expires_at": tokens.expires_at(),
                "stored_in": null,
            }),
        );
    }

    let logins = Logins::open();
    let store = kommo_files::auth::FileTokenStore::new(logins.token_path(account.as_str()));
    store
        .save_initial(&tokens)
        .map_err(|e| Failure::from(kommo_files::Error::from(AuthError::Store(e))))?;
    let record = LoginRecord::new(account.as_str(), &app, args.save_secret, now);
    let saved = logins.save(&record)?;
    let secret_note = if args.save_secret {
        "the client secret is stored with it".to_owned()
    } else {
        format!(
            "the client secret is not stored: refreshing the tokens needs KOMMO_CLIENT_SECRET \
             (or client_secret in the config file); `--save-secret` stores it in {}",
            saved.record_path.display()
        )
    };
    done(
        global.json,
        &format!(
            "Logged in to {} (integration {}): OAuth 2.0 tokens, the access token expires \
             {expiry} and is renewed automatically.\n\
             Stored in {} (owner-only); {secret_note}.\n",
            account.as_str(),
            app.client_id,
            store.path().display(),
        ),
        json!({
            "account": account.as_str(),
            "client_id": app.client_id,
            "kind": kind_name(&tokens),
            "expires_at": tokens.expires_at(),
            "stored_in": store.path(),
            "client_secret_stored": args.save_secret,
        }),
    )
}

/// A refused code: the code, or the integration's settings, are wrong.
fn exchange_failure(error: kommo_files::Error) -> Failure {
    match &error {
        kommo_files::Error::Auth(AuthError::Refused(api)) => {
            Failure::auth(format!("the token endpoint refused the code: {api}")).hint(
                "a code works once and for about 20 minutes, and only with the integration's own \
                 client id, secret and redirect URI: check them and run `kommo-files auth login` again",
            )
        }
        _ => Failure::from(error),
    }
}

/// The integration from the flags, the environment and the config file: all three parts or
/// none.
fn integration(args: &LoginArgs, settings: &Settings) -> Result<Option<OAuthApp>, Failure> {
    let client_id = args.client_id.as_deref().or(settings.client_id());
    let secret = args
        .client_secret
        .as_deref()
        .or(settings.client_secret().map(|(secret, _)| secret));
    let redirect_uri = args.redirect_uri.as_deref().or(settings.redirect_uri());
    match (client_id, secret, redirect_uri) {
        (Some(id), Some(secret), Some(redirect)) => Ok(Some(OAuthApp::new(id, secret, redirect))),
        (None, None, None) => Ok(None),
        (id, secret, redirect) => {
            let missing: Vec<&str> = [
                (id.is_none(), "the client id (--client-id, KOMMO_CLIENT_ID)"),
                (
                    secret.is_none(),
                    "the client secret (KOMMO_CLIENT_SECRET, --client-secret)",
                ),
                (
                    redirect.is_none(),
                    "the redirect URI (--redirect-uri, KOMMO_REDIRECT_URI)",
                ),
            ]
            .into_iter()
            .filter_map(|(missing, what)| missing.then_some(what))
            .collect();
            Err(
                Failure::usage(format!("logging in also needs {}", missing.join(" and ")))
                    .hint("copy them from the integration's settings in Kommo"),
            )
        }
    }
}

fn start_emulator(app: &OAuthApp) -> Result<EmulatorHandle, Failure> {
    Emulator::builder()
        .integration(Integration::new(
            &app.client_id,
            app.client_secret.expose(),
            &app.redirect_uri,
        ))
        .start()
        .map_err(|e| Failure::io("starting the embedded emulator", e))
}

/// The authorization code and the account it is for: from --code, --redirect-url, or what
/// the user pastes after opening the consent URL.
fn grant(
    args: &LoginArgs,
    app: &OAuthApp,
    configured: Option<&BaseUrl>,
) -> Result<(Secret, BaseUrl), Failure> {
    if let Some(code) = &args.code {
        return Ok((Secret::new(code), bare_code_account(configured)?));
    }
    if let Some(url) = &args.redirect_url {
        let state = args.state.as_deref().unwrap_or_default();
        return from_redirect(url, state, configured);
    }
    let state = args.state.clone().unwrap_or_else(login::random_state);
    let consent = oauth::authorize_url(
        &login::consent_origin(configured),
        &app.client_id,
        &state,
        ConsentMode::PostMessage,
    );
    eprintln!(
        "Open this URL in a browser, choose the account and allow access:\n\n  {consent}\n\n\
         Then paste here the URL the browser was sent to (it has ?code=…), or just the code:"
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::io("reading the redirect URL from standard input", e))?;
    let pasted = line.trim();
    if pasted.is_empty() {
        return Err(Failure::usage("nothing was pasted: not logged in").hint(
            "run `kommo-files auth login` again and paste the redirect URL, or give --code or \
             --redirect-url with --state",
        ));
    }
    if pasted.contains("code=") {
        from_redirect(pasted, &state, configured)
    } else {
        Ok((Secret::new(pasted), bare_code_account(configured)?))
    }
}

/// A bare code says nothing of the account: the settings must.
fn bare_code_account(configured: Option<&BaseUrl>) -> Result<BaseUrl, Failure> {
    configured.cloned().ok_or_else(|| {
        Failure::config("a code alone does not say which account it is for").hint(
            "set KOMMO_BASE_URL (or KOMMO_SUBDOMAIN), or paste the whole redirect URL: its \
             `referer` names the account",
        )
    })
}

/// The code and the account of a redirect URL that carries this login's `state`.
fn from_redirect(
    url: &str,
    state: &str,
    configured: Option<&BaseUrl>,
) -> Result<(Secret, BaseUrl), Failure> {
    let grant = oauth::parse_redirect(url, state).map_err(|e| {
        let hint = match e {
            oauth::RedirectError::StateMismatch => {
                "paste the redirect of the consent URL this login printed (a redirect of an \
                 earlier login needs that login's --state); run `kommo-files auth login` again"
            }
            oauth::RedirectError::Denied(_) => {
                "allow the integration access on the consent page, then run `kommo-files auth \
                 login` again"
            }
            _ => "paste the whole URL the browser was sent to after allowing access",
        };
        Failure::auth(format!("the redirect was refused: {e}")).hint(hint)
    })?;
    if let Some(configured) = configured {
        if configured != &grant.account {
            return Err(Failure::config(format!(
                "the consent was given for {}, but the settings name {}",
                grant.account.as_str(),
                configured.as_str()
            ))
            .hint("choose the same account on the consent page, or fix KOMMO_BASE_URL / KOMMO_SUBDOMAIN"));
        }
    }
    Ok((grant.code, grant.account))
}

fn status(global: &Global) -> Result<(), Failure> {
    if global.emulator {
        return Err(Failure::usage(
            "with --emulator, each command logs in to a fresh embedded emulator: nothing is stored",
        )
        .hint("run `kommo-files auth status` without --emulator"));
    }
    let settings = load_settings(global.config.as_deref())?;
    let now = login::unix_now();
    if let Some((token, source)) = settings.token() {
        let account = settings.account()?;
        let set = AccessToken::new(token).ok().map(TokenSet::long_lived);
        let expires_at = set.as_ref().and_then(TokenSet::expires_at);
        let kind = if expires_at.is_some() {
            "long_lived"
        } else {
            "static"
        };
        let overridden = match &account {
            Some(account) => Logins::open().find(account.as_str())?,
            None => None,
        };
        if global.json {
            return print_json(&json!({
                "account": account.as_ref().map(BaseUrl::as_str),
                "kind": kind,
                "source": source,
                "expires_at": expires_at,
                "expired": expires_at.map(|at| at <= now),
                "stored_login_unused": overridden.as_ref().map(|l| &l.token_path),
            }));
        }
        let mut text = format!(
            "account:      {}\ncredentials:  {} from {source}\nexpires:      {}\n",
            account.as_ref().map_or("(none given)", BaseUrl::as_str),
            if expires_at.is_some() {
                "a long-lived token"
            } else {
                "a token"
            },
            match expires_at {
                Some(at) => describe_expiry(Some(at), now),
                None => "unknown (not a JWT with `exp`)".to_owned(),
            }
        );
        if let Some(login) = overridden {
            text.push_str(&format!(
                "note:         the stored OAuth login ({}) is not used while {source} gives a token\n",
                login.token_path.display()
            ));
        }
        return print(&text);
    }

    let login = find_login(&settings)?;
    let tokens = login
        .store()
        .load()
        .map_err(|e| Failure::from(kommo_files::Error::from(AuthError::Store(e))))?
        .ok_or_else(|| Failure::from(kommo_files::Error::from(AuthError::NotLoggedIn)))?;
    let secret = match (settings.client_secret(), login.record.has_secret()) {
        (Some((_, source)), _) => format!("from {source}"),
        (None, true) => "stored with the login".to_owned(),
        (None, false) => "missing: set KOMMO_CLIENT_SECRET (or client_secret in the config \
                          file) to renew the tokens"
            .to_owned(),
    };
    let expires_at = tokens.expires_at();
    if global.json {
        return print_json(&json!({
            "account": login.record.account_url,
            "kind": kind_name(&tokens),
            "client_id": login.record.client_id,
            "expires_at": expires_at,
            "expired": expires_at.map(|at| at <= now),
            "stored_in": login.token_path,
            "client_secret": secret,
        }));
    }
    let renewal = match tokens.kind() {
        TokenKind::OAuth => "renewed automatically",
        _ => "no refresh token",
    };
    print(&format!(
        "account:      {}\ncredentials:  OAuth 2.0, integration {} (logged in {} UTC)\n\
         expires:      {} ({renewal})\nstored in:    {}\nclient secret: {secret}\n",
        login.record.account_url,
        login.record.client_id,
        format_utc(login.record.logged_in_at),
        describe_expiry(expires_at, now),
        login.token_path.display(),
    ))
}

fn logout(global: &Global) -> Result<(), Failure> {
    if global.emulator {
        return Err(Failure::usage(
            "with --emulator, each command logs in to a fresh embedded emulator: nothing is stored",
        ));
    }
    let settings = load_settings(global.config.as_deref())?;
    let Some(login) = lookup_login(&settings)? else {
        return done(
            global.json,
            "Not logged in: nothing to remove.\n",
            json!({ "removed": null }),
        );
    };
    login
        .store()
        .clear()
        .map_err(|e| Failure::from(kommo_files::Error::from(AuthError::Store(e))))?;
    match std::fs::remove_file(&login.record_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Failure::io(
                format!("removing {}", login.record_path.display()),
                e,
            ))
        }
        _ => {}
    }
    done(
        global.json,
        &format!(
            "Logged out of {}: removed the stored tokens ({}).\n",
            login.record.account_url,
            login.token_path.display()
        ),
        json!({
            "removed": login.record.account_url,
            "stored_in": login.token_path,
        }),
    )
}

fn done(json: bool, text: &str, details: serde_json::Value) -> Result<(), Failure> {
    if json {
        print_json(&details)
    } else {
        print(text)
    }
}

fn kind_name(tokens: &TokenSet) -> &'static str {
    match tokens.kind() {
        TokenKind::OAuth => "oauth",
        _ => "long_lived",
    }
}

/// `2026-12-03 18:11 UTC (in 23 h 59 min)`, `… (expired 2 h 3 min ago)`.
fn describe_expiry(expires_at: Option<i64>, now: i64) -> String {
    match expires_at {
        None => "at an unknown time".to_owned(),
        Some(at) if at <= now => format!(
            "{} UTC (expired {})",
            format_utc(at),
            login::relative(at, now)
        ),
        Some(at) => format!("{} UTC ({})", format_utc(at), login::relative(at, now)),
    }
}
