//! Listeners and connections. Each connection is served by hyper's HTTP/1 connection in its
//! own task, next to a per-connection "kill" signal: a fault that must close the socket without
//! an answer fires it, and the task drops the connection mid-request.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::app::{App, Request, RequestRecord};
use crate::control;
use crate::faults::{FaultAction, HostKind};
use crate::http::{html_page, into_response, problem, ApiError, Reply, ResponseBody, RouteResult};

/// The TLS acceptor of a listener, when it serves HTTPS.
#[cfg(feature = "tls")]
pub(crate) type Tls = Option<tokio_rustls::TlsAcceptor>;
/// The TLS acceptor of a listener: always `None` without the `tls` feature.
#[cfg(not(feature = "tls"))]
pub(crate) type Tls = Option<NoTls>;

/// Stands for a TLS acceptor without the `tls` feature: no value exists.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub(crate) enum NoTls {}

/// How long a client gets to complete the TLS handshake.
#[cfg(feature = "tls")]
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until shutdown is signalled.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    host: HostKind,
    tls: Tls,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (app, shutdown) = (app.clone(), shutdown.clone());
                match tls.clone() {
                    None => {
                        tokio::spawn(serve_connection(stream, app, host, shutdown));
                    }
                    #[cfg(feature = "tls")]
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            // A failed or stalled handshake only drops this connection.
                            let handshake =
                                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                            if let Ok(Ok(stream)) = handshake.await {
                                serve_connection(stream, app, host, shutdown).await;
                            }
                        });
                    }
                    #[cfg(not(feature = "tls"))]
                    Some(never) => match never {},
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn serve_connection<S>(
    stream: S,
    app: Arc<App>,
    host: HostKind,
    mut shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let service = {
        let kill = kill.clone();
        service_fn(move |request| handle(app.clone(), host, kill.clone(), request))
    };
    // A client may shut down its side once the request is sent: it still gets its answer
    // (without this, hyper closes the connection on that EOF, before or after answering,
    // depending on timing).
    let connection = http1::Builder::new()
        .half_close(true)
        .serve_connection(TokioIo::new(stream), service);
    // Dropping the connection future closes the socket, whatever state the request is in.
    tokio::select! {
        _ = connection => {}
        _ = kill.notified() => {}
        _ = shutdown.changed() => {}
    }
}

/// The most of an unread request body read (and dropped) before answering: enough for any
/// part the emulator hands out sizes for.
pub(crate) const DRAIN_LIMIT: u64 = 128 * 1024 * 1024;

/// Closes the connection without an answer: fire the kill signal and never complete.
async fn close_connection(kill: &Notify) -> Response<ResponseBody> {
    kill.notify_one();
    std::future::pending().await
}

fn fault_name(action: &FaultAction) -> &'static str {
    match action {
        FaultAction::Status { .. } => "status",
        FaultAction::Delay { .. } => "delay",
        FaultAction::CloseBeforeBody => "close_before_body",
        FaultAction::CloseAfterCommit => "close_after_commit",
        FaultAction::TruncatedBody => "truncated_body",
        FaultAction::GarbageAfterCommit => "garbage_after_commit",
        FaultAction::NonJsonBody { .. } => "non_json_body",
        FaultAction::HtmlError { .. } => "html_error",
        FaultAction::RetryAfter { .. } => "retry_after",
    }
}

fn status_or_500(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The canned answer of a fault that replaces the endpoint; `None` for the other kinds.
fn canned_reply(action: &FaultAction) -> Option<Reply> {
    let json_bytes = |status: StatusCode, body: Bytes, retry_after| Reply::Bytes {
        status,
        content_type: "application/json".to_owned(),
        body,
        retry_after,
    };
    match action {
        FaultAction::Status {
            status,
            body,
            content_type,
        } => {
            let status = status_or_500(*status);
            let body = body.clone().map_or_else(
                || Bytes::from(problem(status, "Injected fault").to_string()),
                Bytes::from,
            );
            Some(Reply::Bytes {
                status,
                content_type: content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".to_owned()),
                body,
                retry_after: None,
            })
        }
        FaultAction::NonJsonBody { status } => Some(json_bytes(
            status_or_500(*status),
            Bytes::from_static(b"Internal error: upstream said <nonsense> {not json"),
            None,
        )),
        FaultAction::HtmlError { status } => Some(html_page(
            status_or_500(*status),
            "The server is temporarily unable to service your request.",
        )),
        FaultAction::RetryAfter { status, seconds } => {
            let status = status_or_500(*status);
            Some(json_bytes(
                status,
                Bytes::from(problem(status, "Injected fault: retry later").to_string()),
                Some(*seconds),
            ))
        }
        _ => None,
    }
}

async fn handle(
    app: Arc<App>,
    host: HostKind,
    kill: Arc<Notify>,
    request: hyper::Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let (parts, body) = request.into_parts();
    if parts.uri.path().starts_with(control::PREFIX) {
        return Ok(control::handle(&app, parts, body).await);
    }
    let latency = app.lock().behavior.response_latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let mut request = Request {
        host,
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        bytes_in: 0,
    };
    let mut record = RequestRecord {
        seq: 0,
        host,
        method: request.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| request.path.clone(), ToString::to_string),
        status: None,
        bytes_in: 0,
        fault: None,
    };
    let fault = app
        .lock()
        .faults
        .check(host, request.method.as_str(), &request.path);
    record.fault = fault.as_ref().map(|f| fault_name(f).to_owned());

    match &fault {
        Some(FaultAction::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(*millis)).await;
        }
        Some(FaultAction::CloseBeforeBody) => {
            app.lock().record(record);
            return Ok(close_connection(&kill).await);
        }
        Some(action) => {
            if let Some(reply) = canned_reply(action) {
                // A canned answer replaces the endpoint, not the reading of the request: sent
                // before the body is in, it would reach a client still writing a part as a
                // connection reset, depending on timing.
                request.drain(DRAIN_LIMIT).await;
                let response = into_response(host, Ok(reply));
                record.status = Some(response.status().as_u16());
                app.lock().record(record);
                return Ok(response);
            }
        }
        None => {}
    }

    let result = dispatch(&app, &mut request).await;
    request.drain(DRAIN_LIMIT).await;
    let response = into_response(host, result);
    record.bytes_in = request.bytes_in;
    match fault {
        Some(FaultAction::CloseAfterCommit) => {
            app.lock().record(record);
            Ok(close_connection(&kill).await)
        }
        Some(FaultAction::TruncatedBody) => {
            record.status = Some(response.status().as_u16());
            app.lock().record(record);
            Ok(truncate(response).await)
        }
        Some(FaultAction::GarbageAfterCommit) => {
            let status = response.status();
            record.status = Some(status.as_u16());
            app.lock().record(record);
            let garbage = Reply::Bytes {
                status,
                content_type: "application/json".to_owned(),
                body: Bytes::from_static(b"<html>upstream hiccup</html> {not json"),
                retry_after: None,
            };
            Ok(into_response(host, Ok(garbage)))
        }
        _ => {
            record.status = Some(response.status().as_u16());
            app.lock().record(record);
            Ok(response)
        }
    }
}

/// Account-wide gates (blocked account, rate limit), then the host's routes.
async fn dispatch(app: &App, request: &mut Request) -> RouteResult {
    {
        let mut inner = app.lock();
        if inner.behavior.blocked {
            return Ok(html_page(
                StatusCode::FORBIDDEN,
                "Your account has been blocked for exceeding the API request limits.",
            ));
        }
        if let Some(per_second) = inner.behavior.rate_limit_per_second {
            let key = request.bearer().unwrap_or("").to_owned();
            let now = app.clock.rate_now(inner.behavior.rate_clock);
            if !inner.rate.allow(&key, per_second, now) {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many requests: the limit is {per_second} per second"),
                ));
            }
        }
    }
    match request.host {
        HostKind::Account => crate::account::route(app, request).await,
        HostKind::Drive => crate::drive::route(app, request).await,
    }
}

/// Keeps status and headers (with the full `Content-Length`), sends half the body, then fails
/// the body so hyper closes the connection.
async fn truncate(response: Response<ResponseBody>) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let half = bytes.slice(..bytes.len() / 2);
    Response::from_parts(parts, CutBody::new(half).boxed())
}

/// A body that yields its bytes, waits a moment so they reach the socket, then errors.
struct CutBody {
    data: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl CutBody {
    fn new(data: Bytes) -> Self {
        CutBody {
            data: Some(data),
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(100))),
        }
    }
}

impl Body for CutBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(io::Error::other(
                "body truncated by an injected fault",
            )))),
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
