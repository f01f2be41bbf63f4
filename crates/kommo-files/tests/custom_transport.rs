//! A user-written wrapper transport (counting and recording requests) around the built-in one,
//! for both clients: every request goes through it, with its operation context.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kommo_files::transport::{
    AsyncBody, AsyncTransport, BlockingBody, BlockingTransport, ErrorKind, Operation,
    OperationContext, Request, ReqwestTransport, TransportError, UreqTransport,
};
use kommo_files::{ClientConfig, UploadOptions};
use kommo_files_emulator::{Emulator, EmulatorHandle};

const PART: u64 = 64 * 1024;
const SIZE: usize = 200_000; // 4 parts

/// Records each request's context; fails the first `fail_first` requests with a connect error.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<OperationContext>>>,
    fail_first: Arc<Mutex<u32>>,
}

impl Recorder {
    fn failing(count: u32) -> Self {
        let recorder = Self::default();
        *recorder.fail_first.lock().unwrap() = count;
        recorder
    }

    fn record(&self, request: &Request) -> Result<(), TransportError> {
        let context = *OperationContext::of(request).expect("the client sets a context");
        self.seen.lock().unwrap().push(context);
        let mut fail = self.fail_first.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return Err(TransportError::new(ErrorKind::Connect, "injected"));
        }
        Ok(())
    }

    fn seen(&self) -> Vec<OperationContext> {
        self.seen.lock().unwrap().clone()
    }
}

struct Blocking<T> {
    inner: T,
    recorder: Recorder,
}

impl<T: BlockingTransport> BlockingTransport for Blocking<T> {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        self.recorder.record(&request)?;
        self.inner.send_streaming(request)
    }
}

struct Async<T> {
    inner: T,
    recorder: Recorder,
}

impl<T: AsyncTransport> AsyncTransport for Async<T> {
    async fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<AsyncBody>, TransportError> {
        self.recorder.record(&request)?;
        self.inner.send_streaming(request).await
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration).await
    }
}

fn config(emulator: &EmulatorHandle) -> ClientConfig {
    let retry = kommo_files::model::retry::RetryPolicy::default()
        .delays(Duration::from_millis(5), Duration::from_millis(20));
    ClientConfig::for_url(emulator.account_url(), &emulator.token())
        .unwrap()
        .retry(retry)
        .requests_per_second(None)
}

fn data() -> Vec<u8> {
    (0..SIZE).map(|i| (i % 241) as u8).collect()
}

/// The recorder saw exactly what reached the server, in order, with sensible contexts.
fn check(recorder: &Recorder, emulator: &EmulatorHandle, injected: u32) {
    let seen = recorder.seen();
    let served = emulator.requests();
    assert_eq!(seen.len(), served.len() + injected as usize, "{seen:?}");
    let operations: Vec<_> = seen.iter().map(|c| c.operation).collect();
    let mut expected = vec![Operation::DiscoverDrive; 1 + injected as usize];
    expected.push(Operation::CreateSession);
    expected.extend([Operation::UploadPart; 4]);
    expected.push(Operation::EditFile);
    assert_eq!(operations, expected);
    let attempts: Vec<_> = seen[..=injected as usize]
        .iter()
        .map(|c| c.attempt)
        .collect();
    assert_eq!(attempts, (1..=injected + 1).collect::<Vec<_>>());
    let parts: Vec<_> = seen.iter().filter_map(|c| c.part).collect();
    assert_eq!(parts, [1, 2, 3, 4]);
    assert!(seen
        .iter()
        .all(|c| c.idempotent != (c.operation == Operation::CreateSession)));
}

#[test]
fn blocking_wrapper_sees_every_request() {
    let emulator = Emulator::builder().max_part_size(PART).start().unwrap();
    let recorder = Recorder::failing(1);
    let transport = Blocking {
        inner: UreqTransport::default(),
        recorder: recorder.clone(),
    };
    let client = kommo_files::blocking::Client::with_transport(config(&emulator), transport);
    let file = client
        .upload_bytes("a.bin", data(), UploadOptions::new())
        .unwrap();
    client.rename(&file.uuid, "b.bin").unwrap();
    check(&recorder, &emulator, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn async_wrapper_sees_every_request() {
    let emulator = Emulator::builder()
        .max_part_size(PART)
        .start_async()
        .await
        .unwrap();
    let recorder = Recorder::failing(1);
    let transport = Async {
        inner: ReqwestTransport::new(Default::default()).unwrap(),
        recorder: recorder.clone(),
    };
    let client = kommo_files::Client::with_transport(config(&emulator), transport);
    let file = client
        .upload_bytes("a.bin", data(), UploadOptions::new())
        .await
        .unwrap();
    client.rename(&file.uuid, "b.bin").await.unwrap();
    check(&recorder, &emulator, 1);
}
