//! The harness that lets one scenario drive both flavours of transport, helpers for the
//! emulator's protocol, and two small std-only TCP servers: a scripted raw HTTP server and a
//! connection-counting proxy.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, StatusCode};
use kommo_files_emulator::{Emulator, EmulatorBuilder, EmulatorHandle};
use kommo_files_transport::{
    AsyncTransport, BlockingTransport, ErrorKind, OperationContext, Request, Response,
    TransportError,
};
use serde_json::Value;

/// The part size the emulator announces in these tests: a 300 KiB upload takes three parts.
pub const PART_SIZE: u64 = 128 * 1024;

/// The emulator every scenario runs against.
pub fn emulator_builder() -> EmulatorBuilder {
    Emulator::builder().max_part_size(PART_SIZE)
}

/// Runs a scenario of a blocking transport: its futures never wait, they block.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
        .block_on(future)
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// A streamed response read to its end, or to its first error.
#[derive(Debug)]
pub struct Streamed {
    /// Status and headers, as `send_streaming` returned them.
    pub head: http::response::Parts,
    /// Every chunk, in order.
    pub chunks: Vec<Bytes>,
    /// `Ok` when the body ended cleanly; the error that cut it otherwise.
    pub end: Result<(), TransportError>,
}

impl Streamed {
    /// The chunks put together.
    pub fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

/// One transport, driven from an async scenario whatever its flavour.
pub trait Harness {
    /// `send`.
    fn send(&self, request: Request) -> impl Future<Output = Result<Response, TransportError>>;

    /// `send_streaming`, then `on_head` as soon as the head is back, then every chunk.
    fn send_streaming_then(
        &self,
        request: Request,
        on_head: impl FnOnce(&http::response::Parts),
    ) -> impl Future<Output = Result<Streamed, TransportError>>;

    /// `send_streaming`, read to the end.
    fn send_streaming(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Streamed, TransportError>> {
        self.send_streaming_then(request, |_| {})
    }
}

/// A [`BlockingTransport`] as a harness: its calls block the scenario's thread.
#[derive(Debug)]
pub struct Blocking<T>(pub T);

impl<T: BlockingTransport> Harness for Blocking<T> {
    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.0.send(request)
    }

    async fn send_streaming_then(
        &self,
        request: Request,
        on_head: impl FnOnce(&http::response::Parts),
    ) -> Result<Streamed, TransportError> {
        let (head, mut body) = self.0.send_streaming(request)?.into_parts();
        on_head(&head);
        let mut chunks = Vec::new();
        let end = loop {
            match body.chunk() {
                Ok(Some(chunk)) => chunks.push(chunk),
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        Ok(Streamed { head, chunks, end })
    }
}

/// An [`AsyncTransport`] as a harness.
#[derive(Debug)]
pub struct Async<T>(pub T);

impl<T: AsyncTransport> Harness for Async<T> {
    fn send(&self, request: Request) -> impl Future<Output = Result<Response, TransportError>> {
        self.0.send(request)
    }

    async fn send_streaming_then(
        &self,
        request: Request,
        on_head: impl FnOnce(&http::response::Parts),
    ) -> Result<Streamed, TransportError> {
        let (head, mut body) = self.0.send_streaming(request).await?.into_parts();
        on_head(&head);
        let mut chunks = Vec::new();
        let end = loop {
            match body.chunk().await {
                Ok(Some(chunk)) => chunks.push(chunk),
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        Ok(Streamed { head, chunks, end })
    }
}

// ---------------------------------------------------------------------------------------------
// A wrapper transport that records the `OperationContext` of what passes through it.

/// What a [`Recording`] saw: one entry per request, `None` when it carried no context.
pub type Seen = Arc<Mutex<Vec<Option<OperationContext>>>>;

/// A wrapper transport, as a user would write one: it reads the context, then delegates.
#[derive(Debug)]
pub struct Recording<T> {
    inner: T,
    seen: Seen,
}

impl<T> Recording<T> {
    /// Wraps `inner`, noting into `seen`.
    pub fn new(inner: T, seen: Seen) -> Self {
        Self { inner, seen }
    }

    fn note(&self, request: &Request) {
        let context = OperationContext::of(request).copied();
        self.seen.lock().unwrap().push(context);
    }
}

impl<T: BlockingTransport> BlockingTransport for Recording<T> {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<kommo_files_transport::BlockingBody>, TransportError> {
        self.note(&request);
        self.inner.send_streaming(request)
    }
}

impl<T: AsyncTransport> AsyncTransport for Recording<T> {
    async fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<kommo_files_transport::AsyncBody>, TransportError> {
        self.note(&request);
        self.inner.send_streaming(request).await
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and answers.

/// A request with an optional bearer token.
pub fn request(method: Method, url: &str, token: Option<&str>, body: Bytes) -> Request {
    let mut builder = http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(body).expect("a valid request")
}

/// `GET url`.
pub fn get(url: &str, token: Option<&str>) -> Request {
    request(Method::GET, url, token, Bytes::new())
}

/// A JSON request.
pub fn json_request(method: Method, url: &str, token: &str, body: &Value) -> Request {
    let mut request = request(
        method,
        url,
        Some(token),
        Bytes::from(serde_json::to_vec(body).unwrap()),
    );
    request
        .headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().unwrap());
    request
}

/// `GET {account}/api/v4/account?with=drive_url` with the emulator's token.
pub fn account_request(emulator: &EmulatorHandle) -> Request {
    account_request_at(emulator.account_url(), &emulator.token())
}

/// The account request against another base URL (a proxy in front of the account host).
pub fn account_request_at(base: &str, token: &str) -> Request {
    get(
        &format!("{base}/api/v4/account?with=drive_url"),
        Some(token),
    )
}

/// The answer, which must be a response with `status`.
#[track_caller]
pub fn expect_status(result: Result<Response, TransportError>, status: u16) -> Response {
    match result {
        Ok(response) => {
            assert_eq!(
                response.status(),
                status,
                "unexpected status; body: {}",
                String::from_utf8_lossy(response.body())
            );
            response
        }
        Err(error) => panic!("expected a {status} response, got the transport error {error:?}"),
    }
}

/// The body as JSON.
#[track_caller]
pub fn json(response: &Response) -> Value {
    serde_json::from_slice(response.body()).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}",
            String::from_utf8_lossy(response.body())
        )
    })
}

/// A header as text.
pub fn header<'a>(head: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    head.get(name)
        .map(|value| value.to_str().expect("an ASCII header"))
}

/// Checks the account answer: 200, JSON, with the drive URL.
#[track_caller]
pub fn assert_account(response: &Response, drive_url: &str) {
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = header(response.headers(), "content-type").expect("a Content-Type");
    assert!(content_type.contains("json"), "{content_type}");
    let body = json(response);
    assert_eq!(body["drive_url"], drive_url, "{body}");
    assert_eq!(body["id"], 31_000_001, "{body}");
}

/// The error, which must be of one of `kinds`.
#[track_caller]
pub fn expect_error<T: std::fmt::Debug>(
    result: Result<T, TransportError>,
    kinds: &[ErrorKind],
) -> TransportError {
    match result {
        Ok(value) => panic!("expected a transport error of kind {kinds:?}, got {value:?}"),
        Err(error) => {
            assert!(
                kinds.contains(&error.kind()),
                "expected a kind among {kinds:?}, got {error:?}"
            );
            error
        }
    }
}

/// A failure that may have reached the server: retried only when the request is idempotent.
#[track_caller]
pub fn assert_transient_after_sending(error: &TransportError) {
    assert!(error.kind().is_transient(), "{error:?}");
    assert!(error.is_retry_safe(true), "{error:?}");
    assert!(!error.is_retry_safe(false), "{error:?}");
}

/// Neither the message nor the debug form of `error` holds `secret`.
#[track_caller]
pub fn assert_no_secret(error: &TransportError, secret: &str) {
    assert!(!error.to_string().contains(secret), "{error}");
    assert!(!format!("{error:?}").contains(secret), "{error:?}");
    assert!(!error.message().contains(secret), "{}", error.message());
}

/// `len` bytes that are not all alike (so a misplaced chunk shows).
pub fn test_data(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A finished upload.
#[derive(Debug)]
pub struct Uploaded {
    /// The file object of the last part's answer.
    pub file: Value,
    /// The status of every part.
    pub part_statuses: Vec<u16>,
    /// The length of every part.
    pub part_lengths: Vec<usize>,
}

impl Uploaded {
    /// The file's download link (active version).
    pub fn download_url(&self) -> String {
        self.file["_links"]["download"]["href"]
            .as_str()
            .expect("a download link")
            .to_owned()
    }
}

/// Uploads `data` as `name` through the transport under test: a session, then the parts.
pub async fn upload<H: Harness>(
    transport: &H,
    emulator: &EmulatorHandle,
    name: &str,
    data: &[u8],
) -> Uploaded {
    let token = emulator.token();
    let session = expect_status(
        transport
            .send(json_request(
                Method::POST,
                &format!("{}/v1.0/sessions", emulator.drive_url()),
                &token,
                &serde_json::json!({ "file_name": name, "file_size": data.len() }),
            ))
            .await,
        200,
    );
    let session = json(&session);
    let part_size = usize::try_from(session["max_part_size"].as_u64().unwrap()).unwrap();
    let mut url = session["upload_url"].as_str().unwrap().to_owned();
    let mut parts: Vec<&[u8]> = data.chunks(part_size).collect();
    if parts.is_empty() {
        parts.push(&[]); // a 0-byte file takes one empty part
    }
    let (mut part_statuses, mut part_lengths) = (Vec::new(), Vec::new());
    for (index, part) in parts.iter().enumerate() {
        let mut request = request(Method::POST, &url, None, Bytes::copy_from_slice(part));
        request
            .headers_mut()
            .insert(CONTENT_TYPE, "application/octet-stream".parse().unwrap());
        let response = transport.send(request).await.expect("a part is answered");
        part_statuses.push(response.status().as_u16());
        part_lengths.push(part.len());
        let body = json(&response);
        if index + 1 == parts.len() {
            assert_eq!(response.status(), 200, "the last part: {body}");
            return Uploaded {
                file: body,
                part_statuses,
                part_lengths,
            };
        }
        assert_eq!(response.status(), 202, "part {}: {body}", index + 1);
        url = body["next_url"].as_str().unwrap().to_owned();
    }
    unreachable!("the loop returns at the last part")
}

/// A loopback port nothing listens on (bound, then released).
pub fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// The socket address of a base URL such as `http://127.0.0.1:4000`.
pub fn socket_of(base_url: &str) -> SocketAddr {
    base_url
        .strip_prefix("http://")
        .expect("an http URL")
        .trim_end_matches('/')
        .parse()
        .expect("an IP:port authority")
}

// ---------------------------------------------------------------------------------------------
// A scripted raw HTTP/1.1 server.

/// One request as the raw server read it.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// Request line and header lines, as sent.
    pub head: String,
    /// The body (read by `Content-Length`).
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The request line.
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    /// The values of header `name` (case-insensitive), in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
            .collect()
    }
}

/// What the raw server does for a request, step by step.
#[derive(Debug, Clone)]
pub enum Step {
    /// Write these bytes.
    Write(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Wait until the test calls [`RawServer::release`] (at most 20 s).
    AwaitRelease,
}

/// `HTTP/1.1 200` head with `Connection: close` and these extra header lines.
pub fn raw_head(status: &str, content_length: usize, extra_headers: &[&str]) -> Vec<u8> {
    let mut head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {content_length}\r\nConnection: close\r\n");
    for line in extra_headers {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

type Script = dyn Fn(&RawRequest) -> Vec<Step> + Send + Sync;

/// How a [`RawServer`] reads request bodies: `piece` bytes, then `gap` of silence, again and
/// again, until only `fast_tail` bytes are left, which it reads without pausing.
///
/// The fast tail is what makes a slow uplink independent of the machine: once the client has
/// written its last byte, what still sits in socket buffers (at most the capped receive buffer
/// plus the client's send buffer, a few MiB on loopback) is read at once, so the wait for the
/// answer is never a drain at the slow rate, however large the kernel lets buffers grow.
#[derive(Debug, Clone, Copy)]
pub struct Uplink {
    pub piece: usize,
    pub gap: Duration,
    pub fast_tail: usize,
}

/// The receive buffer a slow-reading server asks for (the kernel doubles it). Without a cap,
/// loopback autotuning may grow it to tens of MiB (`net.ipv4.tcp_rmem`).
const SLOW_READER_RCVBUF: usize = 256 * 1024;

/// A loopback listener whose connections keep a small, fixed receive buffer (set before
/// `listen`, so accepted sockets inherit it and the window scale is agreed on it).
fn small_buffer_listener() -> TcpListener {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(SLOW_READER_RCVBUF).unwrap();
    let address: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&address.into()).unwrap();
    socket.listen(128).unwrap();
    socket.into()
}

/// A one-request-per-connection HTTP server that answers by script, for what the emulator
/// cannot do: trickle a body, pause mid-body, send repeated headers, show the raw request.
#[derive(Debug)]
pub struct RawServer {
    url: String,
    requests: Arc<Mutex<Vec<RawRequest>>>,
    release: Mutex<Option<mpsc::Sender<()>>>,
    released_in_time: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Listens on a fresh loopback port.
    pub fn start(script: impl Fn(&RawRequest) -> Vec<Step> + Send + Sync + 'static) -> Self {
        Self::start_paced(None, script)
    }

    /// Like [`RawServer::start`], but reads request bodies as `uplink` says: a slow uplink,
    /// seen from the client.
    pub fn start_reading_slowly(
        uplink: Uplink,
        script: impl Fn(&RawRequest) -> Vec<Step> + Send + Sync + 'static,
    ) -> Self {
        Self::start_paced(Some(uplink), script)
    }

    fn start_paced(
        pace: Option<Uplink>,
        script: impl Fn(&RawRequest) -> Vec<Step> + Send + Sync + 'static,
    ) -> Self {
        let listener = if pace.is_some() {
            small_buffer_listener()
        } else {
            TcpListener::bind("127.0.0.1:0").unwrap()
        };
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = mpsc::channel();
        let released = Arc::new(Mutex::new(released));
        let released_in_time = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let thread = {
            let (requests, stop, released_in_time) =
                (requests.clone(), stop.clone(), released_in_time.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (requests, script, released, released_in_time) = (
                                requests.clone(),
                                script.clone(),
                                released.clone(),
                                released_in_time.clone(),
                            );
                            std::thread::spawn(move || {
                                let _ = serve_raw(
                                    stream,
                                    pace,
                                    &requests,
                                    &*script,
                                    &released,
                                    &released_in_time,
                                );
                            });
                        }
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Self {
            url,
            requests,
            release: Mutex::new(Some(release)),
            released_in_time,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The requests read so far.
    pub fn requests(&self) -> Vec<RawRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Lets a script waiting at [`Step::AwaitRelease`] go on.
    pub fn release(&self) {
        if let Some(release) = self.release.lock().unwrap().as_ref() {
            let _ = release.send(());
        }
    }

    /// Whether a script was released by [`RawServer::release`] rather than by its time limit.
    pub fn released_in_time(&self) -> bool {
        self.released_in_time.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_raw(
    mut stream: TcpStream,
    pace: Option<Uplink>,
    requests: &Mutex<Vec<RawRequest>>,
    script: &Script,
    released: &Mutex<mpsc::Receiver<()>>,
    released_in_time: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut data = Vec::new();
    let mut buffer = [0; 8192];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        data.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut request = RawRequest {
        head,
        body: Vec::new(),
    };
    let length: usize = request
        .header_values("content-length")
        .first()
        .map_or(0, |value| value.parse().expect("a numeric Content-Length"));
    let mut body = data[head_end..].to_vec();
    let mut since_gap = 0;
    while body.len() < length {
        if let Some(Uplink {
            piece,
            gap,
            fast_tail,
        }) = pace
        {
            if since_gap >= piece && length - body.len() > fast_tail {
                std::thread::sleep(gap);
                since_gap = 0;
            }
        }
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        since_gap += n;
        body.extend_from_slice(&buffer[..n]);
    }
    request.body = body;
    let steps = script(&request);
    requests.lock().unwrap().push(request);
    for step in steps {
        match step {
            Step::Write(bytes) => {
                stream.write_all(&bytes)?;
                stream.flush()?;
            }
            Step::Sleep(duration) => std::thread::sleep(duration),
            Step::AwaitRelease => {
                let on_time = released
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20))
                    .is_ok();
                released_in_time.store(on_time, Ordering::SeqCst);
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    // Let the client read to the end before the socket goes.
    let _ = stream.read(&mut buffer);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A connection-counting TCP proxy.

/// Forwards every connection to `upstream` and counts them: the emulator cannot tell sockets
/// apart, this can.
#[derive(Debug)]
pub struct CountingProxy {
    url: String,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CountingProxy {
    /// A proxy on a fresh loopback port.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (connections, stop) = (connections.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            connections.fetch_add(1, Ordering::SeqCst);
                            let _ = forward(client, upstream);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Self {
            url,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn forward(client: TcpStream, upstream: SocketAddr) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect(upstream)?;
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    };
    pipe(client.try_clone()?, server.try_clone()?);
    pipe(server, client);
    Ok(())
}
