//! The live token: put on each request as it is sent, refreshed before it expires and after a
//! 401, single-flight across clones (see `crate::auth`). Decisions are the model's
//! (`oauth::refresh_due`, the grant and its answer); this moves them over the wire, the store
//! and the hook.

use http::header::AUTHORIZATION;
use http::StatusCode;
use kommo_files_model::oauth::{self, OAuthApp, RefreshDue, TokenError, TokenSet};
use kommo_files_model::{AccessToken, ApiError, Operation};
use kommo_files_transport::{Request, Response, TransportError};

use super::io::*;
use super::{flavour, off_thread, traced, wait_for_refresh, Body, Client};
use crate::auth::{AuthError, Credentials, Lead, Source, StoreGuard, Turn};
use crate::support::{self, Attempt};
use crate::trace;
use crate::Error;

/// A 401's body, read only to be quoted.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// What a new set's saving came to: saved, or kept in memory with the reason it is not saved.
type Refreshed = (TokenSet, Option<AuthError>);

#[flavour(AFIT)]
impl Client {
    /// Exchanges an authorization code (from the consent redirect, see
    /// [`kommo_files_model::oauth::parse_redirect`]) for the first token set of `app`, on this
    /// client's account. Sent once, never retried: the code is single-use. Save the set (a
    /// [`crate::auth::FileTokenStore`]) before using it.
    ///
    #[doc = example!(
        "use kommo_files::oauth::OAuthApp;\n"
        "let app = OAuthApp::new(\"client-id\", \"secret\", \"https://example.com/cb\");\n"
        "match client.exchange_code(&app, \"code-from-the-redirect\")" await " {\n"
        "    Ok(tokens) => println!(\"expires at {:?}\", tokens.expires_at()),\n"
        "    Err(error) => eprintln!(\"login failed: {error}\"),\n"
        "}\n"
    )]
    pub async fn exchange_code(&self, app: &OAuthApp, code: &str) -> Result<TokenSet, Error> {
        let request = oauth::code_exchange_request(&self.account().base, app, code);
        Ok(self.grant(Operation::ExchangeCode, request).await?)
    }

    /// One grant request, paced, sent once; its answer read by the model.
    async fn grant(&self, operation: Operation, request: Request) -> Result<TokenSet, AuthError> {
        self.pause_until(self.slot(), None).await;
        let response = self
            .send_buffered_raw(request, Attempt::call(operation, 1))
            .await
            .map_err(|e| AuthError::NoAnswer(support::send_failure(e)))?;
        oauth::parse_token_response(&response, support::unix_now()).map_err(|error| match error {
            TokenError::Refused(api) if is_transient(api.status()) => AuthError::Failed(api),
            TokenError::Refused(api) => AuthError::Refused(api),
            malformed => AuthError::Malformed(malformed),
        })
    }

    /// Sends one attempt with the live token in place of the one it was built with; a 401 to
    /// a token that can be renewed renews it (once, shared) and replays the request once. The
    /// outer error ends the call; the inner result is the attempt's, for the machines.
    pub(super) async fn send_authorized(
        &self,
        request: Request,
        attempt: Attempt,
    ) -> Result<Result<http::Response<Body>, TransportError>, Error> {
        if !request.headers().contains_key(AUTHORIZATION) {
            // Not for the API hosts (an upload URL carries its own token; a foreign redirect).
            return Ok(self.send_raw(request, attempt).await);
        }
        let credentials = &self.inner.config.credentials;
        let token = self.live_token().await?;
        let replay = credentials.renewable().then(|| copy(&request));
        let response = match self.send_raw(with_token(request, &token), attempt).await {
            Ok(response) => response,
            failed => return Ok(failed),
        };
        let Some(replay) = replay.filter(|_| response.status() == StatusCode::UNAUTHORIZED) else {
            return Ok(Ok(response));
        };
        let _ = response.into_body().read_to_end(ERROR_BODY_LIMIT).await;
        trace::rejected();
        let fresh = self.token_after_401(&token).await?;
        self.pause_until(self.slot(), None).await;
        let second = self.send_raw(with_token(replay, &fresh), attempt).await;
        match second {
            Ok(response) if response.status() == StatusCode::UNAUTHORIZED => {
                let (head, body) = response.into_parts();
                let body = body.read_to_end(ERROR_BODY_LIMIT).await.unwrap_or_default();
                let api = ApiError::from_response(&http::Response::from_parts(head, body));
                Err(AuthError::Revoked(api).into())
            }
            other => Ok(other),
        }
    }

    /// The token to send now: refreshed first when the model says it is due.
    async fn live_token(&self) -> Result<AccessToken, Error> {
        let credentials = &self.inner.config.credentials;
        let (set, generation) = credentials.state.current();
        match &*credentials.source {
            Source::Static => Ok(set.access().clone()),
            Source::Provider(provider) => {
                let provider = provider.clone();
                off_thread(move || provider.access_token(None))
                    .await?
                    .map_err(|e| AuthError::Provider(e.to_string()).into())
            }
            Source::OAuth { .. } => {
                let now = support::unix_now();
                let due = refresh_due_now(credentials, &set, now);
                if !due && !credentials.state.unsaved() {
                    return Ok(set.access().clone());
                }
                let still_valid = set.expires_at().is_none_or(|at| now < at);
                if let Some(failure) = credentials.state.terminal_failure(generation) {
                    // Refused for good: use the token while it lasts, then say why.
                    return if still_valid && !credentials.state.unsaved() {
                        Ok(set.access().clone())
                    } else {
                        Err(failure.into())
                    };
                }
                match self.refresh(generation, None).await {
                    Ok(fresh) => Ok(fresh.access().clone()),
                    // A refresh ahead of time failed: the old token still works for now.
                    Err(_) if still_valid && !credentials.state.unsaved() => {
                        Ok(set.access().clone())
                    }
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// The token to replay with after the server answered 401 to `rejected`.
    async fn token_after_401(&self, rejected: &AccessToken) -> Result<AccessToken, Error> {
        let credentials = &self.inner.config.credentials;
        match &*credentials.source {
            Source::Static => Ok(rejected.clone()),
            Source::Provider(provider) => {
                let (provider, rejected) = (provider.clone(), rejected.clone());
                off_thread(move || provider.access_token(Some(&rejected)))
                    .await?
                    .map_err(|e| AuthError::Provider(e.to_string()).into())
            }
            Source::OAuth { .. } => {
                let (set, generation) = credentials.state.current();
                if set.access() != rejected {
                    // Refreshed since this request was sent: replay with the new token.
                    return Ok(set.access().clone());
                }
                let fresh = self.refresh(generation, Some(rejected)).await?;
                Ok(fresh.access().clone())
            }
        }
    }

    /// Refreshes generation `seen` of the set, single-flight: one caller leads, the others
    /// wait for its result.
    async fn refresh(&self, seen: u64, rejected: Option<&AccessToken>) -> Result<TokenSet, Error> {
        let state = &self.inner.config.credentials.state;
        let mut waited = None;
        loop {
            match state.turn(seen, waited) {
                Turn::Done(set) => return Ok(set),
                Turn::Failed(error) => return Err(error.into()),
                Turn::Wait { attempts } => {
                    trace::refresh_awaited();
                    wait_for_refresh(state, attempts).await;
                    waited = Some(attempts);
                }
                Turn::Lead(lead) => {
                    let span = trace::refresh_span(rejected.is_some(), lead.unsaved);
                    let led = traced(span.clone(), || self.lead_refresh(&lead, rejected)).await;
                    trace::refresh_outcome(&span, &led);
                    return match led {
                        Ok((set, None)) => {
                            lead.finish(Ok((set.clone(), true)));
                            Ok(set)
                        }
                        Ok((set, Some(unsaved))) => {
                            lead.finish(Ok((set, false)));
                            Err(unsaved.into())
                        }
                        Err(error) => {
                            lead.finish(Err(error.clone()));
                            Err(error.into())
                        }
                    };
                }
            }
        }
    }

    /// The leader's work: under the store's lock, adopt a set another process stored, or spend
    /// the refresh token; then save the new set before anyone uses it.
    async fn lead_refresh(
        &self,
        lead: &Lead<'_>,
        rejected: Option<&AccessToken>,
    ) -> Result<Refreshed, AuthError> {
        let credentials = &self.inner.config.credentials;
        let Source::OAuth { app, store, .. } = &*credentials.source else {
            return Err(AuthError::NoRefreshToken);
        };
        let mut guard = match store.clone() {
            Some(store) => Some(
                off_thread(move || store.lock())
                    .await?
                    .map_err(AuthError::Store)?,
            ),
            None => None,
        };
        let stored = match guard.take() {
            Some(held) => {
                let (held, stored) = off_thread(move || {
                    let mut held = held;
                    let stored = held.load();
                    (held, stored)
                })
                .await?;
                guard = Some(held);
                Some(stored.map_err(AuthError::Store)?)
            }
            None => None,
        };
        let mut base = lead.base.clone();
        if let Some(Some(newer)) = stored.as_ref().filter(|s| s.as_ref() != Some(&base)) {
            // Another process refreshed (or logged in) meanwhile: its set, unless it too is
            // the one refused or due.
            let spent = match rejected {
                Some(rejected) => newer.access() == rejected,
                None => refresh_due_now(credentials, newer, support::unix_now()),
            };
            if !spent {
                trace::refresh_adopted();
                return Ok((newer.clone(), None));
            }
            base = newer.clone();
        }
        let new = if lead.unsaved && base == lead.base {
            // Only the saving failed last time: save the same set again.
            base
        } else {
            let refresh = base.refresh().ok_or(AuthError::NoRefreshToken)?;
            let request = oauth::refresh_request(&self.account().base, app, refresh);
            self.grant(Operation::RefreshToken, request).await?
        };
        let unsaved = self.save(guard, stored.flatten(), &new).await?;
        Ok((new, unsaved))
    }

    /// Saves `new` in the store (compare-and-swap against what it held) and through the hook;
    /// what failed, if anything.
    async fn save(
        &self,
        guard: Option<Box<dyn StoreGuard>>,
        stored: Option<TokenSet>,
        new: &TokenSet,
    ) -> Result<Option<AuthError>, AuthError> {
        let source = self.inner.config.credentials.source.clone();
        let new = new.clone();
        off_thread(move || {
            if let Some(mut guard) = guard {
                if let Err(error) = guard.save(stored.as_ref(), &new) {
                    return Some(AuthError::NotSaved {
                        message: error.to_string(),
                    });
                }
            }
            match &*source {
                Source::OAuth {
                    hook: Some(hook), ..
                } => hook(&new).err().map(|e| AuthError::NotSaved {
                    message: format!("the refresh hook failed: {e}"),
                }),
                _ => None,
            }
        })
        .await
    }

    /// Sends one attempt as it is (no token handling), streaming the answer.
    pub(super) async fn send_raw(
        &self,
        request: Request,
        attempt: Attempt,
    ) -> Result<http::Response<Body>, TransportError> {
        let request = support::prepare(request, attempt, &self.inner.config.user_agent);
        let sent = trace::Sent::of(&request);
        let response = self.inner.transport.send_streaming(request).await;
        sent.answered(&response);
        let response = response?;
        self.heard(response.status());
        Ok(response)
    }

    /// [`Client::send_raw`], buffering the answer up to the configured limit.
    async fn send_buffered_raw(
        &self,
        request: Request,
        attempt: Attempt,
    ) -> Result<Response, TransportError> {
        let response = self.send_raw(request, attempt).await?;
        let (head, body) = response.into_parts();
        let body = body
            .read_to_end(self.inner.config.max_response_body)
            .await?;
        Ok(http::Response::from_parts(head, body))
    }
}

/// Whether the model says `set` is due for a refresh ahead of time.
fn refresh_due_now(credentials: &Credentials, set: &TokenSet, now: i64) -> bool {
    set.refresh().is_some()
        && oauth::refresh_due(set, now, credentials.margin, None) == Some(RefreshDue::Expiring)
}

/// A 429 or 5xx from the token endpoint: the grant was not processed (or may not have been).
fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `request` with `token` in its `Authorization` header.
fn with_token(mut request: Request, token: &AccessToken) -> Request {
    request
        .headers_mut()
        .insert(AUTHORIZATION, token.header_value());
    request
}

/// A copy of a request (method, URI, headers, body) to replay it.
fn copy(request: &Request) -> Request {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}
