//! Transport wrappers the SDK lets users write: they count the part bytes put on the wire and
//! note when each request left, around the built-in ureq and reqwest transports.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kommo_files::transport::{
    AsyncBody, AsyncTransport, BlockingBody, BlockingTransport, Request, ReqwestTransport,
    Timeouts, TransportError, UreqTransport,
};

/// What the wrappers saw, shared with the scenario.
#[derive(Debug, Default)]
pub struct Tally {
    part_bytes: AtomicU64,
    sent_at: Mutex<Vec<Instant>>,
}

impl Tally {
    fn note(&self, request: &Request) {
        if request.method() == "POST" && request.uri().path().contains("/upload/") {
            self.part_bytes
                .fetch_add(request.body().len() as u64, Ordering::Relaxed);
        }
        if let Ok(mut sent_at) = self.sent_at.lock() {
            sent_at.push(Instant::now());
        }
    }

    /// Body bytes of every part request handed to the transport, retries included.
    pub fn part_bytes(&self) -> u64 {
        self.part_bytes.load(Ordering::Relaxed)
    }

    /// When each request was handed to the transport, in order.
    pub fn sent_at(&self) -> Vec<Instant> {
        self.sent_at.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// The blocking client's transport, counted.
#[derive(Debug)]
pub struct CountingUreq {
    inner: UreqTransport,
    pub tally: Arc<Tally>,
}

impl CountingUreq {
    pub fn new() -> Self {
        Self {
            inner: UreqTransport::new(Timeouts::default()),
            tally: Arc::default(),
        }
    }
}

impl BlockingTransport for CountingUreq {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        self.tally.note(&request);
        self.inner.send_streaming(request)
    }
}

/// The async client's transport, counted.
#[derive(Debug)]
pub struct CountingReqwest {
    inner: ReqwestTransport,
    pub tally: Arc<Tally>,
}

impl CountingReqwest {
    pub fn new() -> Result<Self, TransportError> {
        Ok(Self {
            inner: ReqwestTransport::new(Timeouts::default())?,
            tally: Arc::default(),
        })
    }
}

impl AsyncTransport for CountingReqwest {
    fn send_streaming(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<AsyncBody>, TransportError>> + Send {
        self.tally.note(&request);
        self.inner.send_streaming(request)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.inner.sleep(duration)
    }
}
