//! Spans and events for the `tracing` feature; without it, every item here is nothing (no
//! `tracing` dependency, no field computed).
//!
//! The driver calls the helpers below, one line at each place something worth telling happens,
//! and wraps each operation in a span with the flavour's `traced` (see `blocking.rs` and
//! `asynchronous.rs`): [`in_span`] enters the span around a blocking call, [`in_span_async`]
//! instruments the future, so an async span is entered only while its future is polled.
//!
//! What is never recorded: tokens (access, refresh, authorization codes; they travel in headers
//! and bodies, which are never recorded) and upload URLs (their path holds a signed session
//! token). A download URL appears only through [`kommo_files_model::redact_url`]. Error messages
//! are the transport's and the model's, which are scrubbed of both already.
//!
//! Everything has the target `kommo_files`; docs/observability.md lists the spans and fields.

#[cfg(feature = "tracing")]
mod enabled {
    use std::time::{Duration, Instant, SystemTime};

    use kommo_files_model::upload::UploadEvent;
    use kommo_files_model::Operation;
    use kommo_files_transport::{OperationContext, Request, TransportError};

    /// An event of target `kommo_files` at `$level` (`INFO`, `DEBUG`, ...).
    macro_rules! trace_event {
        ($level:ident, $($rest:tt)*) => {
            ::tracing::event!(target: "kommo_files", ::tracing::Level::$level, $($rest)*)
        };
    }

    /// A span of target `kommo_files` at `$level`.
    macro_rules! trace_span {
        ($level:ident, $($rest:tt)*) => {
            ::tracing::span!(target: "kommo_files", ::tracing::Level::$level, $($rest)*)
        };
    }

    pub(crate) use tracing::Span;

    /// Milliseconds, as the fields carry durations.
    fn millis(duration: Duration) -> u64 {
        u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `work` inside `span` (the blocking flavour's `traced`).
    pub(crate) fn in_span<T>(span: Span, work: impl FnOnce() -> T) -> T {
        span.in_scope(work)
    }

    /// Runs the future `work` makes inside `span`, entered only while it is polled (the async
    /// flavour's `traced`).
    pub(crate) async fn in_span_async<F: std::future::Future>(
        span: Span,
        work: impl FnOnce() -> F,
    ) -> F::Output {
        tracing::Instrument::instrument(work(), span).await
    }

    /// The span of one API call (a call machine run).
    pub(crate) fn call_span(operation: Operation) -> Span {
        trace_span!(INFO, "call", operation = operation.name())
    }

    /// The span of one upload (every session and part of it, restarts included).
    pub(crate) fn upload_span(name: &str, size: u64, resumed: bool) -> Span {
        trace_span!(INFO, "upload", file = name, size, resumed)
    }

    /// The span of one download (every redirect hop and retry of it).
    pub(crate) fn download_span(url: &str) -> Span {
        let url = kommo_files_model::redact_url(url);
        trace_span!(INFO, "download", url = url.as_str())
    }

    /// The span of one token refresh led by this client: `rejected` when the server answered
    /// 401, `unsaved` when only the saving of the last set is repeated, `expiring` otherwise.
    pub(crate) fn refresh_span(rejected: bool, unsaved: bool) -> Span {
        let reason = match (rejected, unsaved) {
            (true, _) => "rejected",
            (false, true) => "unsaved",
            (false, false) => "expiring",
        };
        trace_span!(
            INFO,
            "token_refresh",
            reason,
            outcome = tracing::field::Empty
        )
    }

    /// How a refresh this client led ended (inside its span, and recorded on it).
    pub(crate) fn refresh_outcome<T, E: std::fmt::Display>(
        span: &Span,
        led: &Result<(T, Option<E>), E>,
    ) {
        let _entered = span.enter();
        match led {
            Ok((_, None)) => {
                span.record("outcome", "saved");
                trace_event!(INFO, outcome = "saved", "token refreshed");
            }
            Ok((_, Some(unsaved))) => {
                span.record("outcome", "not_saved");
                trace_event!(WARN, outcome = "not_saved", error = %unsaved, "token refreshed but not saved");
            }
            Err(error) => {
                span.record("outcome", "failed");
                trace_event!(WARN, outcome = "failed", error = %error, "token refresh failed");
            }
        }
    }

    /// The refresh found a newer set another process stored, and takes it instead.
    pub(crate) fn refresh_adopted() {
        trace_event!(
            DEBUG,
            "token set taken from the store (refreshed by another process)"
        );
    }

    /// Another caller leads the refresh; this one waits for its result.
    pub(crate) fn refresh_awaited() {
        trace_event!(DEBUG, "waiting for the token refresh another caller leads");
    }

    /// The server answered 401 to a renewable token: the request is replayed with a new one.
    pub(crate) fn rejected() {
        trace_event!(
            INFO,
            status = 401u16,
            "token rejected; replaying with a new one"
        );
    }

    /// A reserved pacing slot that is not now.
    pub(crate) fn paced(wait: Duration) {
        if !wait.is_zero() {
            trace_event!(DEBUG, wait_ms = millis(wait), "paced");
        }
    }

    /// One request as it leaves, to be told with its answer ([`Sent::answered`]).
    #[derive(Debug)]
    pub(crate) struct Sent {
        context: Option<OperationContext>,
        bytes: usize,
        at: Instant,
    }

    impl Sent {
        /// `request` (its operation context stamped), now.
        pub(crate) fn of(request: &Request) -> Self {
            Self {
                context: OperationContext::of(request).copied(),
                bytes: request.body().len(),
                at: Instant::now(),
            }
        }

        /// The answer's status (an error status at `INFO`, the rest at `DEBUG`), or the
        /// transport's failure (at `INFO`).
        pub(crate) fn answered<B>(self, result: &Result<http::Response<B>, TransportError>) {
            let operation = self.context.map(|c| c.operation.name());
            let attempt = self.context.map(|c| c.attempt);
            let part = self.context.and_then(|c| c.part);
            let (bytes, elapsed_ms) = (self.bytes, millis(self.at.elapsed()));
            match result {
                Ok(response)
                    if response.status().is_client_error()
                        || response.status().is_server_error() =>
                {
                    let status = response.status().as_u16();
                    trace_event!(
                        INFO, operation, attempt, part, bytes, status, elapsed_ms, "answered"
                    );
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    trace_event!(
                        DEBUG, operation, attempt, part, bytes, status, elapsed_ms, "answered"
                    );
                }
                Err(error) => {
                    trace_event!(INFO, operation, attempt, part, bytes, elapsed_ms, error = %error, "no answer");
                }
            }
        }
    }

    /// Tells a call or download machine's backoff from its pacing wait (both are `Wait`s; the
    /// pacing one was told by [`paced`] when its slot was reserved).
    #[derive(Debug)]
    pub(crate) struct Waits {
        operation: Operation,
        slot: Option<SystemTime>,
        told: Option<SystemTime>,
    }

    impl Waits {
        /// For a machine running `operation`.
        pub(crate) fn new(operation: Operation) -> Self {
            Self {
                operation,
                slot: None,
                told: None,
            }
        }

        /// The slot handed to the machine, passed through.
        pub(crate) fn slot(&mut self, at: SystemTime) -> SystemTime {
            self.slot = Some(at);
            at
        }

        /// The machine says wait until `until` after `attempt`: a backoff unless it is the slot.
        pub(crate) fn wait(&mut self, attempt: Option<u32>, until: SystemTime) {
            if self.slot == Some(until) || self.told == Some(until) {
                return;
            }
            self.told = Some(until);
            let delay = until.duration_since(SystemTime::now()).unwrap_or_default();
            trace_event!(
                INFO,
                operation = self.operation.name(),
                attempt,
                delay_ms = millis(delay),
                "retrying"
            );
        }
    }

    /// What the upload machine (or the driver, for its own events) told: retries, restarts and
    /// their reasons, the session, completion. Progress and checkpoints at `TRACE`.
    pub(crate) fn upload_event(event: &UploadEvent) {
        match event {
            UploadEvent::SessionOpened {
                session_id,
                expires_at,
            } => trace_event!(DEBUG, session_id, expires_at, "upload session opened"),
            UploadEvent::Verified { offset } => {
                trace_event!(DEBUG, offset, "resumed upload verified")
            }
            UploadEvent::Progress {
                acknowledged,
                total,
            } => trace_event!(TRACE, acknowledged, total, "acknowledged"),
            UploadEvent::Checkpoint(checkpoint) => {
                trace_event!(TRACE, offset = checkpoint.offset, "checkpoint")
            }
            UploadEvent::Retrying {
                part,
                failures,
                delay,
                reason,
            } => trace_event!(
                INFO,
                operation = match part {
                    Some(_) => Operation::UploadPart.name(),
                    None => Operation::CreateSession.name(),
                },
                part,
                attempt = failures,
                delay_ms = millis(*delay),
                error = %reason,
                "retrying"
            ),
            UploadEvent::Restarted { restart } => trace_event!(
                INFO,
                restart,
                reason = "session_lost",
                "upload restarts from byte 0"
            ),
            UploadEvent::CheckpointRefused { reason } => trace_event!(
                INFO,
                reason = "checkpoint_refused",
                detail = %reason,
                "upload starts over"
            ),
            UploadEvent::FinalPartFound { file_uuid } => trace_event!(
                INFO,
                file_uuid = file_uuid.as_str(),
                "last part's answer lost; the stored file proven by its SHA-256"
            ),
            UploadEvent::FinalPartNotStored => trace_event!(
                INFO,
                reason = "final_part_not_stored",
                "upload restarts from byte 0"
            ),
            UploadEvent::Completed { file_uuid } => {
                trace_event!(INFO, file_uuid = file_uuid.as_str(), "upload completed")
            }
            _ => {}
        }
    }
}

#[cfg(not(feature = "tracing"))]
mod disabled {
    //! The same items, doing nothing: each inlines to nothing.
    use std::time::{Duration, SystemTime};

    use kommo_files_model::upload::UploadEvent;
    use kommo_files_model::Operation;
    use kommo_files_transport::{Request, TransportError};

    /// No span.
    #[derive(Debug, Clone)]
    pub(crate) struct Span;

    #[inline(always)]
    pub(crate) fn in_span<T>(_: Span, work: impl FnOnce() -> T) -> T {
        work()
    }

    #[inline(always)]
    pub(crate) async fn in_span_async<F: std::future::Future>(
        _: Span,
        work: impl FnOnce() -> F,
    ) -> F::Output {
        work().await
    }

    #[inline(always)]
    pub(crate) fn call_span(_: Operation) -> Span {
        Span
    }

    #[inline(always)]
    pub(crate) fn upload_span(_: &str, _: u64, _: bool) -> Span {
        Span
    }

    #[inline(always)]
    pub(crate) fn download_span(_: &str) -> Span {
        Span
    }

    #[inline(always)]
    pub(crate) fn refresh_span(_: bool, _: bool) -> Span {
        Span
    }

    #[inline(always)]
    pub(crate) fn refresh_outcome<T, E>(_: &Span, _: &Result<(T, Option<E>), E>) {}

    #[inline(always)]
    pub(crate) fn refresh_adopted() {}

    #[inline(always)]
    pub(crate) fn refresh_awaited() {}

    #[inline(always)]
    pub(crate) fn rejected() {}

    #[inline(always)]
    pub(crate) fn paced(_: Duration) {}

    #[derive(Debug)]
    pub(crate) struct Sent;

    impl Sent {
        #[inline(always)]
        pub(crate) fn of(_: &Request) -> Self {
            Self
        }

        #[inline(always)]
        pub(crate) fn answered<B>(self, _: &Result<http::Response<B>, TransportError>) {}
    }

    #[derive(Debug)]
    pub(crate) struct Waits;

    impl Waits {
        #[inline(always)]
        pub(crate) fn new(_: Operation) -> Self {
            Self
        }

        #[inline(always)]
        pub(crate) fn slot(&mut self, at: SystemTime) -> SystemTime {
            at
        }

        #[inline(always)]
        pub(crate) fn wait(&mut self, _: Option<u32>, _: SystemTime) {}
    }

    #[inline(always)]
    pub(crate) fn upload_event(_: &UploadEvent) {}
}

#[cfg(not(feature = "tracing"))]
pub(crate) use disabled::*;
#[cfg(feature = "tracing")]
pub(crate) use enabled::*;
