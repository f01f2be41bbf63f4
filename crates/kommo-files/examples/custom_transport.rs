//! A transport layer: a wrapper that counts and logs requests around the built-in ureq one,
//! configured by the client's `ClientConfig` (timeouts included).
//!
//! ```text
//! cargo run -p kommo-files --example custom_transport
//! ```

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kommo_files::blocking::Client;
use kommo_files::transport::{
    redacted, BlockingBody, BlockingTransport, OperationContext, Request, TransportError,
};
use kommo_files::UploadOptions;

/// Counts requests and logs each one's operation, attempt, redacted URL and status.
///
/// It implements `send_streaming`, the one required method, so downloads stream through it; the
/// buffered `send` the SDK uses for small answers is built on it.
struct Counting<T> {
    inner: T,
    sent: Arc<AtomicUsize>,
}

impl<T: BlockingTransport> BlockingTransport for Counting<T> {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let context = OperationContext::of(&request).copied();
        // `redacted` hides an upload URL's session token.
        let line = redacted(&request);
        let response = self.inner.send_streaming(request);
        if let Some(context) = context {
            let status = response.as_ref().map(|r| r.status().as_u16());
            eprintln!(
                "{:<15} attempt {} part {:?} {line} -> {:?}",
                context.operation, context.attempt, context.part, status
            );
        }
        response
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (config, _emulator) = common::config()?;
    let sent = Arc::new(AtomicUsize::new(0));
    // `with_layer` hands the wrapper the built-in transport as the configuration made it
    // (timeouts included); `with_transport` would take a transport built by hand.
    let counted = Arc::clone(&sent);
    let client = Client::with_layer(config, move |inner| Counting {
        inner,
        sent: counted,
    })?;
    let file = client.upload_bytes("report.csv", vec![b'x'; 700_000], UploadOptions::new())?;
    client.rename(&file.uuid, "report-final.csv")?;
    println!(
        "{} requests went through the wrapper",
        sent.load(Ordering::Relaxed)
    );
    Ok(())
}
