//! A service on OAuth 2.0: tokens that refresh themselves, saved before they are used.
//!
//! The token set lives in a [`FileTokenStore`] (owner-only, atomically replaced, locked around
//! each refresh), so any number of tasks, clients and processes sharing it spend each
//! single-use refresh token once. The hook shows where a service would also push the new set
//! to its secrets manager.
//!
//! ```text
//! cargo run -p kommo-files --example oauth_service
//! ```
//!
//! Against a real account, set `KOMMO_ACCOUNT_URL`, `KOMMO_CLIENT_ID`, `KOMMO_CLIENT_SECRET`,
//! `KOMMO_REDIRECT_URI` and `KOMMO_TOKEN_STORE` (a token set saved by `kommo-files auth login`
//! or by your own login page with `Client::exchange_code` and `FileTokenStore::save_initial`).
//! Without them the example logs in to an embedded emulator, then moves the emulator's clock
//! past the access token's 24 hours to show a refresh.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kommo_files::auth::{Credentials, FileTokenStore};
use kommo_files::oauth::OAuthApp;
use kommo_files::{Client, ClientConfig};
use kommo_files_emulator::{Emulator, EmulatorHandle, Integration};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).ok();
    let (account, app, store, emulator) = match (
        env("KOMMO_ACCOUNT_URL"),
        env("KOMMO_CLIENT_ID"),
        env("KOMMO_CLIENT_SECRET"),
        env("KOMMO_REDIRECT_URI"),
        env("KOMMO_TOKEN_STORE"),
    ) {
        (Some(url), Some(id), Some(secret), Some(redirect), Some(store)) => (
            url,
            OAuthApp::new(id, secret, redirect),
            FileTokenStore::new(store),
            None,
        ),
        _ => {
            let (url, app, store, emulator) = tokio::task::block_in_place(emulator_login)?;
            (url, app, store, Some(emulator))
        }
    };

    let store_path = store.path().to_owned();
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counter = refreshes.clone();
    let credentials = Credentials::oauth_stored(app, store)?
        .refresh_margin(Duration::from_secs(10 * 60))
        .on_refresh(move |tokens| {
            // Called with every new set, after the store has it and before it is used.
            counter.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "refreshed: the new access token expires at {:?}",
                tokens.expires_at()
            );
            Ok(())
        });
    let client = Client::new(ClientConfig::with_credentials(&account, credentials)?)?;

    if let Some(emulator) = &emulator {
        // A day later on the server: the access token is refused from now on.
        emulator.advance_clock(Duration::from_secs(25 * 60 * 60));
    }
    // Ten requests at once: the first 401 refreshes once, the others wait for it.
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.list_page(&Default::default()).await })
        })
        .collect();
    for call in calls {
        let page = call.await??;
        assert!(page.files.len() <= 50);
    }
    println!(
        "10 concurrent calls answered; {} refresh(es)",
        refreshes.load(Ordering::Relaxed)
    );
    if emulator.is_some() {
        // The emulator's tokens are worthless once it stops; don't leave them behind.
        let _ = std::fs::remove_file(&store_path);
        let _ = std::fs::remove_file(store_path.with_extension("json.lock"));
    }
    Ok(())
}

/// Logs in to a new embedded emulator as a user would: the consent page's code, exchanged for
/// the first token set, saved in a store.
fn emulator_login(
) -> Result<(String, OAuthApp, FileTokenStore, EmulatorHandle), Box<dyn std::error::Error>> {
    let app = OAuthApp::new("example-client", "example-secret", "https://example.com/cb");
    let emulator = Emulator::builder()
        .integration(Integration::new(
            &app.client_id,
            app.client_secret.expose(),
            &app.redirect_uri,
        ))
        .start()?;
    let code = emulator.authorization_code(&app.client_id);
    let login = kommo_files::blocking::Client::new(ClientConfig::with_credentials(
        emulator.account_url(),
        Credentials::none(),
    )?)?;
    let tokens = login.exchange_code(&app, &code)?;
    let store = FileTokenStore::new(
        std::env::temp_dir().join(format!("kommo-oauth-example-{}.json", std::process::id())),
    );
    store.save_initial(&tokens)?;
    eprintln!(
        "(no KOMMO_* OAuth settings: logged in to an embedded emulator at {}; tokens in {})",
        emulator.account_url(),
        store.path().display()
    );
    Ok((emulator.account_url().to_owned(), app, store, emulator))
}
