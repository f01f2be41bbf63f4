//! The async client over a user's transport needs no tokio: driven here by a ten-line executor,
//! it uploads from bytes, and a path upload (which would need tokio's file pool) is a typed
//! error, not a panic.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use kommo_files::transport::{async_fn_transport, Request};
use kommo_files::{Client, ClientConfig, Error, UploadOptions};

/// Runs a future to completion on this thread.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        std::thread::park();
    }
}

const DRIVE: &str = "https://drive-c.kommo.com";

/// A drive that opens a session with 4-byte parts and completes the file on its last part.
fn fake_drive(log: Arc<Mutex<Vec<String>>>) -> Client {
    let transport = async_fn_transport(
        move |request: Request| {
            let log = Arc::clone(&log);
            async move {
                let mut log = log.lock().unwrap();
                log.push(format!("{} {}", request.method(), request.uri().path()));
                let body = match log.len() {
                    1 => format!(
                        r#"{{"session_id": 1, "upload_url": "{DRIVE}/upload/p1", "max_part_size": 4, "max_file_size": 100}}"#
                    ),
                    2 => format!(r#"{{"next_url": "{DRIVE}/upload/p2"}}"#),
                    _ => r#"{"uuid": "f1", "name": "a.txt", "size": 6}"#.to_owned(),
                };
                Ok(http::Response::new(Bytes::from(body)))
            }
        },
        |_duration: Duration| async {},
    );
    // 4-byte parts: allowed below the default 1 KiB minimum.
    let config = ClientConfig::for_url("https://example.kommo.com", "token")
        .unwrap()
        .drive_url(DRIVE)
        .unwrap()
        .upload(kommo_files::model::upload::UploadConfig::default().min_part_size(1))
        .requests_per_second(None);
    Client::with_transport(config, transport)
}

#[test]
fn uploads_bytes_without_tokio() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let client = fake_drive(Arc::clone(&log));
    let file =
        block_on(client.upload_bytes("a.txt", &b"abcdef"[..], UploadOptions::new())).unwrap();
    assert_eq!((file.uuid.as_str(), file.size), ("f1", 6));
    assert_eq!(
        *log.lock().unwrap(),
        ["POST /v1.0/sessions", "POST /upload/p1", "POST /upload/p2"]
    );
}

#[test]
fn a_path_upload_without_tokio_is_an_error_not_a_panic() {
    let client = fake_drive(Arc::default());
    let error = block_on(client.upload_path("Cargo.toml", UploadOptions::new())).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
    assert!(error.chain_message().contains("tokio runtime"), "{error}");
}
