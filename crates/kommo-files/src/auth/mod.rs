//! Who the client is: a long-lived token, OAuth 2.0 credentials that refresh themselves, or a
//! token provider of your own.
//!
//! - **A static or long-lived token** ([`Credentials::token`]): sent as is. A 401 is an error.
//! - **OAuth 2.0** ([`Credentials::oauth`]): the access token is refreshed before it expires
//!   (within [`Credentials::refresh_margin`], default 5 minutes) and after a 401 on the current
//!   token. A refresh is *single-flight*: however many requests, clones and clients made from
//!   these credentials need it at once, one refresh request is sent and the others wait for its
//!   result. The request that met the 401 is replayed once; a second 401 is
//!   [`AuthError::Revoked`]. Every new set is saved — to the [`TokenStore`], then through the
//!   [`Credentials::on_refresh`] hook — **before** it is used: the refresh token is single-use,
//!   and one that was never saved is lost access. A refresh is never retried blindly: when its
//!   answer is lost the server may have rotated the tokens anyway ([`AuthError::NoAnswer`]).
//! - **A provider** ([`Credentials::provider`]): asked for the token before each request, and
//!   again after a 401, for a secrets manager or anything else.
//!
//! Upload sessions are not affected by a refresh: their part URLs carry their own signed token.
//!
//! ```
//! # let emulator = kommo_files_emulator::Emulator::builder().start()?;
//! use kommo_files::auth::{Credentials, FileTokenStore};
//! use kommo_files::oauth::{OAuthApp, TokenSet};
//! use kommo_files::{blocking::Client, ClientConfig};
//! # let tokens = kommo_files::AccessToken::new(emulator.token())?;
//!
//! let app = OAuthApp::new("client-id", "client-secret", "https://example.com/oauth/callback");
//! let store = FileTokenStore::new(std::env::temp_dir().join("doc-tokens.json"));
//! # let tokens = TokenSet::new(tokens, Some(kommo_files::oauth::RefreshToken::new("r")), None);
//! # store.save_initial(&tokens)?;
//! // The set saved at login; every refresh replaces it there, under the store's lock.
//! let credentials = Credentials::oauth_stored(app, store)?
//!     .on_refresh(|_tokens| { /* also tell a secrets manager, say */ Ok(()) });
//! let client = Client::new(ClientConfig::with_credentials(emulator.account_url(), credentials)?)?;
//! # client.list(Default::default()).next();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod state;
mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kommo_files_model::oauth::{OAuthApp, TokenError, TokenSet};
use kommo_files_model::upload::SendFailure;
use kommo_files_model::{AccessToken, ApiError};

pub(crate) use state::{Lead, TokenState, Turn};
pub use store::{FileTokenStore, StoreError, StoreErrorKind, StoreGuard, TokenStore};

/// The error a token provider or a refresh hook returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A source of access tokens of your own (a secrets manager, a sidecar), for
/// [`Credentials::provider`].
///
/// The blocking client calls it on the calling thread, the async one on tokio's blocking pool.
pub trait TokenProvider: Send + Sync + 'static {
    /// The token to send. `rejected` is the token the server has just answered 401 to: return
    /// another one (or an error) — returning it again ends the call with
    /// [`AuthError::Revoked`].
    fn access_token(&self, rejected: Option<&AccessToken>) -> Result<AccessToken, BoxError>;
}

type RefreshHook = dyn Fn(&TokenSet) -> Result<(), BoxError> + Send + Sync;

/// How a client authenticates; see the [module documentation](self).
///
/// Clones share the live token set: clients made from clones of one `Credentials` refresh
/// once between them. `Debug` never shows a token or the client secret.
#[derive(Clone)]
pub struct Credentials {
    pub(crate) source: Arc<Source>,
    pub(crate) state: Arc<TokenState>,
    pub(crate) margin: Duration,
}

pub(crate) enum Source {
    Static,
    OAuth {
        app: OAuthApp,
        store: Option<Arc<dyn TokenStore>>,
        hook: Option<Box<RefreshHook>>,
    },
    Provider(Arc<dyn TokenProvider>),
}

impl Credentials {
    /// The default [`Credentials::refresh_margin`].
    pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

    /// A long-lived token (a private integration's) or any access token used as is.
    ///
    /// ```
    /// use kommo_files::auth::Credentials;
    /// let credentials = Credentials::token("long-lived-token")?;
    /// assert!(!format!("{credentials:?}").contains("long-lived-token"));
    /// assert!(Credentials::token("two words").is_err());
    /// # Ok::<(), kommo_files::Error>(())
    /// ```
    pub fn token(token: &str) -> Result<Self, crate::Error> {
        let token = AccessToken::new(token).map_err(|_| crate::Error::InvalidToken)?;
        Ok(Self::new(Source::Static, TokenSet::long_lived(token)))
    }

    /// OAuth 2.0 credentials: the integration and the token set obtained at login (see
    /// [`crate::oauth`] and the clients' `exchange_code`). Kept in memory only, unless a
    /// [`Credentials::store`] or a [`Credentials::on_refresh`] hook saves each new set.
    pub fn oauth(app: OAuthApp, tokens: TokenSet) -> Self {
        Self::new(
            Source::OAuth {
                app,
                store: None,
                hook: None,
            },
            tokens,
        )
    }

    /// OAuth 2.0 credentials whose set lives in `store`: loaded now, and every refresh is done
    /// under the store's lock and saved there first.
    pub fn oauth_stored(app: OAuthApp, store: impl TokenStore) -> Result<Self, crate::Error> {
        let store: Arc<dyn TokenStore> = Arc::new(store);
        let tokens = store
            .load()
            .map_err(AuthError::Store)?
            .ok_or(AuthError::NotLoggedIn)?;
        Ok(Self::oauth(app, tokens).store(store))
    }

    /// No token at all: for a client that only logs in ([`crate::blocking::Client::exchange_code`]).
    /// Any other request is answered 401.
    pub fn none() -> Self {
        Self::new(
            Source::Static,
            TokenSet::long_lived(AccessToken::new("-").expect("a valid token")),
        )
    }

    /// Whether a 401 can be answered by a new token (OAuth, a provider), rather than being
    /// the call's answer.
    pub(crate) fn renewable(&self) -> bool {
        !matches!(*self.source, Source::Static)
    }

    /// Tokens from your own provider.
    pub fn provider(provider: impl TokenProvider) -> Self {
        let placeholder = TokenSet::long_lived(AccessToken::new("-").expect("a valid token"));
        Self::new(Source::Provider(Arc::new(provider)), placeholder)
    }

    fn new(source: Source, tokens: TokenSet) -> Self {
        Self {
            source: Arc::new(source),
            state: Arc::new(TokenState::new(tokens)),
            margin: Self::DEFAULT_REFRESH_MARGIN,
        }
    }

    /// Saves every new set in `store` (under its lock, with a compare-and-swap) before it is
    /// used. OAuth credentials only; others ignore it.
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.edit_oauth(|_, slot, _| *slot = Some(store));
        self
    }

    /// Calls `hook` with every new set, after the store and before the set is used. If it
    /// fails, the set is kept in memory (the old refresh token is spent: dropping the new one
    /// would lose access), the call that refreshed fails with [`AuthError::NotSaved`], and the
    /// next call saves it again before using it. OAuth credentials only; others ignore it.
    pub fn on_refresh(
        mut self,
        hook: impl Fn(&TokenSet) -> Result<(), BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.edit_oauth(|_, _, slot| *slot = Some(Box::new(hook)));
        self
    }

    /// Refresh when less than this remains of the access token's life (default 5 minutes;
    /// never earlier than half-way through it).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The live token set (for a status display; it holds the tokens).
    pub fn tokens(&self) -> TokenSet {
        self.state.current().0
    }

    fn edit_oauth(
        &mut self,
        edit: impl FnOnce(&OAuthApp, &mut Option<Arc<dyn TokenStore>>, &mut Option<Box<RefreshHook>>),
    ) {
        // Settings are made before the credentials are shared; a shared source is copied.
        let source = match Arc::try_unwrap(std::mem::replace(
            &mut self.source,
            Arc::new(Source::Static),
        )) {
            Ok(source) => source,
            Err(shared) => match &*shared {
                Source::OAuth { app, store, .. } => Source::OAuth {
                    app: app.clone(),
                    store: store.clone(),
                    hook: None,
                },
                Source::Static => Source::Static,
                Source::Provider(p) => Source::Provider(p.clone()),
            },
        };
        let mut source = source;
        if let Source::OAuth { app, store, hook } = &mut source {
            edit(app, store, hook);
        }
        self.source = Arc::new(source);
    }

    /// The token requests are built with (the live one replaces it when each is sent).
    pub(crate) fn initial_access(&self) -> AccessToken {
        self.tokens().access().clone()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &*self.source {
            Source::Static => "token",
            Source::OAuth { .. } => "oauth",
            Source::Provider(_) => "provider",
        };
        let mut out = f.debug_struct("Credentials");
        out.field("kind", &kind);
        if let Source::OAuth { app, store, .. } = &*self.source {
            out.field("client_id", &app.client_id)
                .field("stored", &store.is_some());
        }
        out.field("tokens", &self.tokens())
            .field("refresh_margin", &self.margin)
            .finish()
    }
}

/// Why authentication failed. Messages never hold a token or the client secret.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint refused the refresh (or the code): the refresh token was already
    /// used, has expired or was revoked, or the client id, secret or redirect URI are wrong.
    /// Not retried; log in again.
    #[error("the token endpoint refused the grant (refresh token used, expired or revoked, or wrong client id/secret/redirect URI): log in again")]
    Refused(#[source] ApiError),
    /// The token endpoint's 200 was not a token answer. The tokens may have been rotated
    /// anyway; the old set is kept.
    #[error("the token endpoint's answer was unreadable; it may have rotated the tokens anyway, so the old refresh token may be spent: if the next refresh is refused, log in again")]
    Malformed(#[source] TokenError),
    /// The refresh request got no answer. The server may have rotated the tokens anyway, in
    /// which case the kept (old) refresh token is spent; it is not retried blindly.
    #[error("the token refresh got no answer; the server may have rotated the tokens anyway (then the kept refresh token is spent and a login is needed)")]
    NoAnswer(#[source] SendFailure),
    /// The token endpoint kept failing (429 or 5xx after pacing).
    #[error("the token refresh failed")]
    Failed(#[source] ApiError),
    /// A freshly obtained token was refused too (401): the integration was revoked, or the
    /// token is invalid.
    #[error("the server refused a fresh access token (401): the integration was revoked or the token is invalid; log in again")]
    Revoked(#[source] ApiError),
    /// The set needs a refresh but has no refresh token.
    #[error("the access token has expired or was refused and there is no refresh token to renew it: issue a new token or log in again")]
    NoRefreshToken,
    /// The token store failed.
    #[error("the token store failed")]
    Store(#[source] StoreError),
    /// The new set could not be saved (by the store or the hook); it is used in memory and
    /// saved again before the next call.
    #[error("the refreshed tokens could not be saved: {message} (they are kept in memory and saved again before the next request)")]
    NotSaved {
        /// What failed.
        message: String,
    },
    /// The token store holds no set: log in first.
    #[error("no tokens are stored: log in first")]
    NotLoggedIn,
    /// The token provider failed.
    #[error("the token provider failed: {0}")]
    Provider(String),
    /// The refresh was interrupted (its future dropped, or a panic) before it finished.
    #[error("the token refresh was interrupted before it finished")]
    Interrupted,
}

impl AuthError {
    /// A failure that asking again cannot fix (a refused grant).
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self, Self::Refused(_) | Self::NoRefreshToken)
    }
}
