//! The client and its plumbing: pacing, sending one API call through the call machine, and
//! finding the drive host.
//!
//! This file, like every file in `src/driver/`, is compiled twice: in `blocking.rs` with
//! `maybe_async::must_be_sync` and in `asynchronous.rs` with `maybe_async::must_be_async`. Each
//! flavour module supplies the names that differ (`Transport`, `DriveCell`, `Client::sleep`,
//! `Client::drive`, `fs`, `io`). All decisions are the model's machines'; this only moves bytes
//! and sleeps.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kommo_files_model::call::{CallAction, CallMachine};
use kommo_files_model::endpoint::{AccountHost, DriveHost};
use kommo_files_transport::{Response, TransportError};

use super::{flavour, traced, DriveCell, Transport};
use crate::calls::ApiCall;
use crate::support::{self, Attempt};
use crate::trace;
use crate::{CancelHandle, ClientConfig, Error};

/// A Kommo Files client: cheap to clone, and clones share connections, the cached drive host
/// and the request pacing.
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) config: ClientConfig,
    pub(super) account: AccountHost,
    pub(super) transport: Transport,
    pub(super) budget: Option<crate::budget::SharedBudget>,
    pub(super) drive: DriveCell,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(super) fn from_parts(config: ClientConfig, transport: Transport) -> Self {
        // Requests are built with this token; the live one replaces it as each is sent.
        let token = config.credentials.initial_access();
        let account = AccountHost::new(config.account.clone(), token.clone());
        let drive = DriveCell::default();
        if let Some(base) = &config.drive {
            Self::preset_drive(&drive, DriveHost::new(base.clone(), token));
        }
        Self {
            inner: Arc::new(Inner {
                budget: config.budget(),
                account,
                transport,
                drive,
                config,
            }),
        }
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub(super) fn account(&self) -> &AccountHost {
        &self.inner.account
    }

    /// Reserves the next slot of the client's rate budget: when the request may go.
    pub(super) fn slot(&self) -> SystemTime {
        let wait = self
            .inner
            .budget
            .as_ref()
            .map_or(Duration::ZERO, |b| b.acquire());
        trace::paced(wait);
        SystemTime::now() + wait
    }

    /// Tells the rate budget how the server answered: a 429 slows everyone sharing it down.
    pub(super) fn heard(&self, status: http::StatusCode) {
        if let Some(budget) = &self.inner.budget {
            match status {
                http::StatusCode::TOO_MANY_REQUESTS => budget.throttled(),
                _ => budget.answered(),
            }
        }
    }
}

#[flavour(AFIT)]
impl Client {
    /// Sleeps until `until`, waking every 50 ms to stop early if `cancel` fires.
    pub(super) async fn pause_until(&self, until: SystemTime, cancel: Option<&CancelHandle>) {
        const CANCEL_POLL: Duration = Duration::from_millis(50);
        loop {
            if cancel.is_some_and(CancelHandle::is_cancelled) {
                return;
            }
            let left = until.duration_since(SystemTime::now()).unwrap_or_default();
            if left.is_zero() {
                return;
            }
            let step = if cancel.is_some() {
                left.min(CANCEL_POLL)
            } else {
                left
            };
            self.sleep(step).await;
        }
    }

    /// Sends one attempt with the live token, buffering the answer up to the configured limit.
    /// The outer error (authentication) ends the call; the inner result is the attempt's.
    pub(super) async fn send_buffered(
        &self,
        request: kommo_files_transport::Request,
        attempt: Attempt,
    ) -> Result<Result<Response, TransportError>, Error> {
        let response = match self.send_authorized(request, attempt).await? {
            Ok(response) => response,
            Err(error) => return Ok(Err(error)),
        };
        let (head, body) = response.into_parts();
        let body = body.read_to_end(self.inner.config.max_response_body).await;
        Ok(body.map(|body| http::Response::from_parts(head, body)))
    }

    /// Runs one API call through the call machine: pacing, attempts, backoff, `Retry-After`.
    pub(super) async fn execute(
        &self,
        operation: kommo_files_model::Operation,
        request: kommo_files_transport::Request,
    ) -> Result<Response, Error> {
        let span = trace::call_span(operation);
        traced(span, || self.run_call(operation, request)).await
    }

    /// [`Client::execute`], inside its span.
    async fn run_call(
        &self,
        operation: kommo_files_model::Operation,
        request: kommo_files_transport::Request,
    ) -> Result<Response, Error> {
        let policy = self.inner.config.retry;
        let mut machine = CallMachine::new(operation, request, policy, support::seed());
        let mut waits = trace::Waits::new(operation);
        loop {
            match machine.poll_action(SystemTime::now()) {
                CallAction::Pace => {
                    machine.handle_slot(waits.slot(self.slot()));
                }
                CallAction::Wait { until } => {
                    waits.wait(Some(machine.attempt()), until);
                    self.pause_until(until, None).await;
                }
                CallAction::Send { request, attempt } => {
                    let attempt = Attempt::call(operation, attempt);
                    let result = self.send_buffered(request, attempt).await?;
                    machine
                        .handle_response(result.map_err(support::send_failure), SystemTime::now());
                }
                CallAction::Done(response) => return Ok(response),
                CallAction::Failed(failure) => return Err(Error::call_failed(operation, failure)),
                other => return Err(Error::internal(format!("call machine: {other:?}"))),
            }
        }
    }

    /// [`Client::execute`] of a call from the table, then its parser.
    pub(super) async fn run<T>(&self, call: ApiCall<T>) -> Result<T, Error> {
        let operation = call.operation;
        let response = self.execute(operation, call.request).await?;
        (call.parse)(&response).map_err(|error| Error::api(operation, error))
    }

    /// Asks the account for its drive host (`GET /api/v4/account?with=drive_url`).
    pub(super) async fn discover_drive(&self) -> Result<DriveHost, Error> {
        let base = self
            .run(crate::calls::discover_drive(self.account()))
            .await?;
        Ok(DriveHost::new(
            base,
            self.inner.config.credentials.initial_access(),
        ))
    }
}
