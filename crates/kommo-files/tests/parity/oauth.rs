//! Scenario 11: OAuth 2.0 credentials against the emulator's token endpoint — expiry during an
//! upload, one refresh for many concurrent calls, a spent refresh token, a revoked integration,
//! two "processes" sharing a store, the refresh hook — and no token in any output.

/// The OAuth scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod oauth {
            use std::sync::{Arc, Mutex};
            use std::time::Duration;

            use kommo_files::auth::{AuthError, Credentials, FileTokenStore};
            use kommo_files::oauth::{OAuthApp, RefreshToken, TokenSet};
            use kommo_files::{AccessToken, ClientConfig, Error, ErrorKind, UploadOptions};
            use kommo_files_emulator::{
                EmulatorHandle, Fault, FaultAction, Integration, IssuedTokens,
            };

            use super::{concurrent_gets, start, Client};
            use crate::common::{self, PART};

            const CLIENT_ID: &str = "parity-oauth-client";
            const SECRET: &str = "parity-oauth-secret-2e71";
            const REDIRECT: &str = "https://integration.example/oauth/callback";

            fn app() -> OAuthApp {
                OAuthApp::new(CLIENT_ID, SECRET, REDIRECT)
            }

            #[$mode]
            async fn emulator() -> EmulatorHandle {
                start(
                    common::emulator()
                        .rate_limit(None)
                        .integration(Integration::new(CLIENT_ID, SECRET, REDIRECT)),
                )
                .await
            }

            /// The issued pair as a token set expiring at `expires_at` (Unix seconds, local
            /// clock): in the past, the client refreshes before its first request.
            fn set_of(issued: &IssuedTokens, expires_at: i64) -> TokenSet {
                TokenSet::new(
                    AccessToken::new(&issued.access_token).unwrap(),
                    Some(RefreshToken::new(&issued.refresh_token)),
                    Some(expires_at),
                )
            }

            fn now() -> i64 {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64
            }

            fn config(emulator: &EmulatorHandle, credentials: Credentials) -> ClientConfig {
                ClientConfig::with_credentials(emulator.account_url(), credentials)
                    .unwrap()
                    .retry(common::fast_retry())
                    .requests_per_second(None)
            }

            fn refreshes(emulator: &EmulatorHandle) -> usize {
                common::count(emulator, |r| r.path == "/oauth2/access_token")
            }

            /// The error, its `Debug` and its sources hold none of `secrets`.
            fn assert_hidden(error: &Error, secrets: &[&str]) {
                let mut texts = vec![
                    error.to_string(),
                    format!("{error:?}"),
                    error.chain_message(),
                ];
                let mut source = std::error::Error::source(error);
                while let Some(inner) = source {
                    texts.push(format!("{inner} {inner:?}"));
                    source = inner.source();
                }
                for secret in secrets {
                    for text in &texts {
                        assert!(!text.contains(secret), "a token leaked: {text}");
                    }
                }
            }

            /// The access token expires on the server between two parts of an upload: the
            /// parts go on with their session's own signed token, the upload completes whole,
            /// and the next call refreshes once and is replayed.
            #[$mode]
            pub(crate) async fn expiry_during_an_upload_refreshes_once() {
                let emulator = Arc::new(emulator().await);
                let issued = emulator.issue_tokens(CLIENT_ID);
                // Ten minutes of the token's life left on the server's clock.
                emulator.advance_clock(Duration::from_secs(86_400 - 600));
                let credentials = Credentials::oauth(app(), set_of(&issued, now() + 86_400));
                let client = Client::new(config(&emulator, credentials.clone())).unwrap();
                let bytes = common::data(4 * PART + 7, 3);
                let advanced = Arc::new(Mutex::new(false));
                let clock = emulator.clone();
                let once = advanced.clone();
                let options = UploadOptions::new().on_progress(move |progress| {
                    let mut done = once.lock().unwrap();
                    if progress.acknowledged >= PART && !*done {
                        // Twenty minutes later: the access token has expired, the session not.
                        clock.advance_clock(Duration::from_secs(1_200));
                        *done = true;
                    }
                });
                let file = client
                    .upload_bytes("contract.pdf", bytes.clone(), options)
                    .await
                    .expect("the upload completes across the expiry");
                assert!(*advanced.lock().unwrap(), "the clock moved between parts");
                common::assert_stored(&emulator, &file.uuid, &bytes);
                let again = client.get_file(&file.uuid).await;
                assert!(again.expect("refreshed and replayed").is_some());
                assert_eq!(refreshes(&emulator), 1, "{}", common::log(&emulator));
                assert_ne!(credentials.tokens().access().expose(), issued.access_token);
            }

            /// Fifty calls at once on a token the server no longer accepts: one refresh, every
            /// call replayed once and answered.
            #[$mode]
            pub(crate) async fn concurrent_calls_on_an_expired_token_refresh_once() {
                let emulator = emulator().await;
                let issued = emulator.issue_tokens(CLIENT_ID);
                emulator.advance_clock(Duration::from_secs(86_400 + 60));
                let credentials = Credentials::oauth(app(), set_of(&issued, now() + 86_400));
                let client = Client::new(config(&emulator, credentials)).unwrap();
                for result in concurrent_gets(&client, 50).await {
                    result.expect("answered after the refresh");
                }
                assert_eq!(refreshes(&emulator), 1, "{}", common::log(&emulator));
                let unauthorized = common::count(&emulator, |r| r.status == Some(401));
                assert!(unauthorized <= 50, "each call met at most one 401");
            }

            /// Fifty calls at once with a set the client knows has expired: refreshed once,
            /// before any of them is sent.
            #[$mode]
            pub(crate) async fn concurrent_calls_refresh_ahead_once() {
                let emulator = emulator().await;
                let issued = emulator.issue_tokens(CLIENT_ID);
                let credentials = Credentials::oauth(app(), set_of(&issued, now() - 1));
                let client = Client::new(config(&emulator, credentials)).unwrap();
                for result in concurrent_gets(&client, 50).await {
                    result.expect("answered after the refresh");
                }
                assert_eq!(refreshes(&emulator), 1, "{}", common::log(&emulator));
                assert_eq!(common::count(&emulator, |r| r.status == Some(401)), 0);
            }

            /// A refresh token spent by someone else: a clear error, the token endpoint asked
            /// once, and not again by the next call.
            #[$mode]
            pub(crate) async fn a_spent_refresh_token_is_a_clear_error() {
                let emulator = emulator().await;
                let issued = emulator.issue_tokens(CLIENT_ID);
                // Two unrelated holders of one pair: the first refresh spends it.
                let first = Credentials::oauth(app(), set_of(&issued, now() - 1));
                let second = Credentials::oauth(app(), set_of(&issued, now() - 1));
                let first = Client::new(config(&emulator, first)).unwrap();
                first
                    .get_file("no-such-file")
                    .await
                    .expect("the first refreshes");
                emulator.advance_clock(Duration::from_secs(86_400 + 60));
                let second = Client::new(config(&emulator, second)).unwrap();
                let error = second.get_file("no-such-file").await.unwrap_err();
                assert_eq!(error.kind(), ErrorKind::Auth, "{error:?}");
                assert!(
                    matches!(&error, Error::Auth(AuthError::Refused(_))),
                    "{error:?}"
                );
                assert!(error.chain_message().contains("log in again"), "{error}");
                assert_hidden(
                    &error,
                    &[&issued.access_token, &issued.refresh_token, SECRET],
                );
                assert_eq!(refreshes(&emulator), 2);
                // Refused for good: the next call does not ask again.
                let again = second.get_file("no-such-file").await.unwrap_err();
                assert_eq!(again.kind(), ErrorKind::Auth);
                assert_eq!(refreshes(&emulator), 2, "{}", common::log(&emulator));
            }

            /// A revoked integration: one 401, one refused refresh, one clear error; no storm.
            #[$mode]
            pub(crate) async fn a_revoked_integration_is_one_clear_error() {
                let emulator = emulator().await;
                let issued = emulator.issue_tokens(CLIENT_ID);
                let credentials = Credentials::oauth(app(), set_of(&issued, now() + 86_400));
                let client = Client::new(config(&emulator, credentials)).unwrap();
                client.get_file("no-such-file").await.expect("works before");
                assert!(emulator.revoke_integration(CLIENT_ID));
                emulator.clear_requests();
                let error = client.get_file("no-such-file").await.unwrap_err();
                assert_eq!(error.kind(), ErrorKind::Auth, "{error:?}");
                assert!(!error.is_retryable());
                assert_hidden(
                    &error,
                    &[&issued.access_token, &issued.refresh_token, SECRET],
                );
                assert_eq!(refreshes(&emulator), 1, "{}", common::log(&emulator));
                assert_eq!(emulator.requests().len(), 2, "{}", common::log(&emulator));
            }

            /// Two clients that share nothing but a token store (two processes, say), both
            /// with an expired set: one refresh; the other adopts the stored set.
            #[$mode]
            pub(crate) async fn a_shared_store_refreshes_once() {
                let emulator = emulator().await;
                let issued = emulator.issue_tokens(CLIENT_ID);
                let dir = common::TempDir::new();
                let store = FileTokenStore::new(dir.path().join("tokens.json"));
                store.save_initial(&set_of(&issued, now() - 1)).unwrap();
                let clients: Vec<Client> = (0..2)
                    .map(|_| {
                        let credentials = Credentials::oauth_stored(app(), store.clone()).unwrap();
                        Client::new(config(&emulator, credentials)).unwrap()
                    })
                    .collect();
                for client in &clients {
                    client.get_file("no-such-file").await.expect("answered");
                }
                assert_eq!(refreshes(&emulator), 1, "{}", common::log(&emulator));
                let stored = kommo_files::auth::TokenStore::load(&store)
                    .unwrap()
                    .unwrap();
                assert_ne!(stored.access().expose(), issued.access_token);
                let text = std::fs::read_to_string(store.path()).unwrap();
                assert!(text.contains(stored.refresh().unwrap().expose()));
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(store.path())
                        .unwrap()
                        .permissions()
                        .mode();
                    assert_eq!(mode & 0o777, 0o600, "owner-only");
                }
            }

            /// The hook sees every new set before it is used; when it fails, the call says so,
            /// the set stays in memory, and the next call saves it before using it.
            #[$mode]
            pub(crate) async fn the_hook_saves_before_use() {
                let emulator = emulator().await;
                let issued = emulator.issue_tokens(CLIENT_ID);
                let saved: Arc<Mutex<Vec<TokenSet>>> = Arc::default();
                let failures = Arc::new(Mutex::new(1));
                let (log, fail) = (saved.clone(), failures.clone());
                let credentials =
                    Credentials::oauth(app(), set_of(&issued, now() - 1)).on_refresh(move |set| {
                        let mut fail = fail.lock().unwrap();
                        if *fail > 0 {
                            *fail -= 1;
                            return Err("disk full".into());
                        }
                        log.lock().unwrap().push(set.clone());
                        Ok(())
                    });
                let client = Client::new(config(&emulator, credentials.clone())).unwrap();
                let error = client.get_file("no-such-file").await.unwrap_err();
                assert!(
                    matches!(&error, Error::Auth(AuthError::NotSaved { .. })),
                    "{error:?}"
                );
                assert!(saved.lock().unwrap().is_empty());
                client
                    .get_file("no-such-file")
                    .await
                    .expect("saved, then used");
                let saved = saved.lock().unwrap().clone();
                assert_eq!(saved.len(), 1);
                assert_eq!(saved[0], credentials.tokens());
                assert_eq!(refreshes(&emulator), 1, "one refresh, saved twice");
                assert!(!format!("{credentials:?}").contains(&issued.refresh_token));
                assert!(!format!("{credentials:?}").contains(SECRET));
            }

            /// A token endpoint that loses, garbles or fails its answers: each a clear error
            /// that keeps the old set and says what may have happened; never a loop, never a
            /// blind retry, and no token in any message.
            #[$mode]
            pub(crate) async fn a_broken_token_endpoint_is_never_retried_blindly() {
                let emulator = emulator().await;
                let issued = emulator.issue_tokens(CLIENT_ID);
                let secrets = [
                    issued.access_token.as_str(),
                    issued.refresh_token.as_str(),
                    SECRET,
                ];
                let credentials = Credentials::oauth(app(), set_of(&issued, now() + 86_400));
                let client = Client::new(config(&emulator, credentials.clone())).unwrap();
                // Refused from now on, so each call needs a refresh.
                emulator.advance_clock(Duration::from_secs(86_400 + 60));

                // 1. A 503: nothing rotated; the next call refreshes and works.
                emulator
                    .add_fault(Fault::new(common::status_fault(503)).path("/oauth2/access_token"));
                let error = client.get_file("no-such-file").await.unwrap_err();
                assert!(
                    matches!(&error, Error::Auth(AuthError::Failed(_))),
                    "{error:?}"
                );
                assert_hidden(&error, &secrets);
                assert_eq!(
                    refreshes(&emulator),
                    1,
                    "sent once: {}",
                    common::log(&emulator)
                );
                assert_eq!(credentials.tokens().access().expose(), issued.access_token);

                // 2. The answer is lost after the server rotated the pair: the error says so,
                // the old set is kept, and the next call's refresh is refused (spent).
                emulator.add_fault(
                    Fault::new(FaultAction::CloseAfterCommit).path("/oauth2/access_token"),
                );
                let error = client.get_file("no-such-file").await.unwrap_err();
                assert!(
                    matches!(&error, Error::Auth(AuthError::NoAnswer(_))),
                    "{error:?}"
                );
                assert!(
                    error.to_string().contains("rotated")
                        || error.chain_message().contains("rotated"),
                    "{error}"
                );
                assert_hidden(&error, &secrets);
                assert_eq!(
                    refreshes(&emulator),
                    2,
                    "not retried: {}",
                    common::log(&emulator)
                );
                assert_eq!(credentials.tokens().access().expose(), issued.access_token);
                let error = client.get_file("no-such-file").await.unwrap_err();
                assert!(
                    matches!(&error, Error::Auth(AuthError::Refused(_))),
                    "{error:?}"
                );
                assert_eq!(refreshes(&emulator), 3);
                // Terminal: no more token requests, however many calls.
                for _ in 0..3 {
                    let again = client.get_file("no-such-file").await;
                    assert!(again.is_err());
                }
                assert_eq!(refreshes(&emulator), 3, "{}", common::log(&emulator));
            }

            /// A token endpoint answering a 200 that is not a token answer: `Malformed`, the
            /// body never quoted (it may hold tokens), the old set kept.
            #[$mode]
            pub(crate) async fn a_garbled_token_answer_is_not_quoted() {
                let emulator = emulator().await;
                let issued = emulator.issue_tokens(CLIENT_ID);
                let credentials = Credentials::oauth(app(), set_of(&issued, now() - 1));
                let client = Client::new(config(&emulator, credentials.clone())).unwrap();
                emulator.add_fault(
                    Fault::new(FaultAction::GarbageAfterCommit).path("/oauth2/access_token"),
                );
                let error = client.get_file("no-such-file").await.unwrap_err();
                assert!(
                    matches!(&error, Error::Auth(AuthError::Malformed(_))),
                    "{error:?}"
                );
                assert_hidden(
                    &error,
                    &[&issued.access_token, &issued.refresh_token, SECRET],
                );
                assert_eq!(credentials.tokens().access().expose(), issued.access_token);
                assert_eq!(refreshes(&emulator), 1);
            }

            /// A long-lived token's 401 stays the call's own answer (nothing to refresh).
            #[$mode]
            pub(crate) async fn a_long_lived_token_is_not_refreshed() {
                let emulator = emulator().await;
                let client =
                    Client::new(common::config_with_token(&emulator, "unknown-token-9")).unwrap();
                let error = client.get_file("no-such-file").await.unwrap_err();
                assert_eq!(error.status(), Some(http::StatusCode::UNAUTHORIZED));
                assert_eq!(refreshes(&emulator), 0);
                assert_eq!(emulator.requests().len(), 1);
            }

            /// The authorization code from the consent redirect becomes a working token set.
            #[$mode]
            pub(crate) async fn a_code_is_exchanged_once() {
                let emulator = emulator().await;
                let code = emulator.authorization_code(CLIENT_ID);
                let login = Client::new(config(&emulator, Credentials::none())).unwrap();
                let tokens = login.exchange_code(&app(), &code).await.expect("exchanged");
                assert!(tokens.refresh().is_some());
                assert!(tokens.expires_at().is_some());
                let error = login.exchange_code(&app(), &code).await.unwrap_err();
                assert!(
                    matches!(&error, Error::Auth(AuthError::Refused(_))),
                    "{error:?}"
                );
                assert_hidden(&error, &[&code, SECRET]);
                let client =
                    Client::new(config(&emulator, Credentials::oauth(app(), tokens))).unwrap();
                client
                    .get_file("no-such-file")
                    .await
                    .expect("the new token works");
            }
        }
    };
}
pub(crate) use scenarios;
