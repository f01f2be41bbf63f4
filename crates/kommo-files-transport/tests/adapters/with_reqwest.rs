//! `ReqwestTransport`, directly and behind the async handles.

use std::time::Duration;

use kommo_files_transport::{
    async_fn_streaming_transport, async_fn_transport, AsyncTransport, ReqwestTransport,
    SharedAsyncTransport, Timeouts,
};

use crate::common::{emulator_builder, Async, Recording, Seen};

/// A transport for the tests; building one cannot fail with plain HTTP.
fn reqwest(timeouts: Timeouts) -> ReqwestTransport {
    ReqwestTransport::new(timeouts).expect("a reqwest client")
}

mod direct {
    use super::*;

    adapter_scenarios!(async_scenarios, |timeouts: Timeouts| Async(reqwest(
        timeouts
    )));
}

/// Through `SharedAsyncTransport`, which must forward `send_streaming` too.
mod shared {
    use super::*;

    handle_scenarios!(async_scenarios, |timeouts: Timeouts| Async(
        SharedAsyncTransport::new(reqwest(timeouts))
    ));
    async_scenarios!(|timeouts: Timeouts| Async(
        SharedAsyncTransport::new(reqwest(timeouts))
    ); streaming_returns_before_the_body, read_timeout_is_timeout, body_limit_applies_to_send);
}

/// A streaming closure around the adapter: it streams like the adapter itself.
mod streaming_closure {
    use super::*;

    adapter_scenarios!(async_scenarios, |timeouts: Timeouts| {
        let inner = reqwest(timeouts);
        Async(async_fn_streaming_transport(
            move |request| {
                let inner = inner.clone();
                async move { inner.send_streaming(request).await }
            },
            tokio::time::sleep,
        ))
    });
}

/// Buffered closures around the adapter (their `send_streaming` wraps the bytes).
mod closure {
    use super::*;

    handle_scenarios!(async_scenarios, |timeouts: Timeouts| {
        let inner = reqwest(timeouts);
        Async(async_fn_transport(
            move |request| {
                let inner = inner.clone();
                async move { inner.send(request).await }
            },
            tokio::time::sleep,
        ))
    });
}

#[tokio::test]
async fn operation_context_reaches_a_wrapper() {
    let emulator = emulator_builder().start_async().await.unwrap();
    let seen = Seen::default();
    let wrapper = Recording::new(reqwest(Timeouts::default()), seen.clone());
    crate::scenarios::operation_context_reaches_wrapper(&emulator, Async(wrapper), &seen).await;

    // Behind the shared handle the context still gets there.
    let seen = Seen::default();
    let wrapper =
        SharedAsyncTransport::new(Recording::new(reqwest(Timeouts::default()), seen.clone()));
    crate::scenarios::operation_context_reaches_wrapper(&emulator, Async(wrapper), &seen).await;
}

#[tokio::test]
async fn handles_are_send_sync_clone_and_sleep() {
    fn check<T: AsyncTransport + Clone + Send + Sync + 'static>() {}
    check::<ReqwestTransport>();
    check::<SharedAsyncTransport>();

    let emulator = emulator_builder().start_async().await.unwrap();
    let original = SharedAsyncTransport::new(reqwest(Timeouts::default()));
    let clone = original.clone();
    drop(original);
    let response = clone
        .send(crate::common::account_request(&emulator))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // `sleep` waits on the runtime's timer (a lower bound only: the machine may be slow).
    let started = tokio::time::Instant::now();
    clone.sleep(Duration::from_millis(50)).await;
    reqwest(Timeouts::default())
        .sleep(Duration::from_millis(50))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(100));

    // The transport future is `Send`: `tokio::spawn` takes it.
    let account = crate::common::account_request(&emulator);
    let handle = clone.clone();
    let status = tokio::spawn(async move { handle.send(account).await.map(|r| r.status()) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn debug_shows_only_the_type_name() {
    let emulator = emulator_builder().start_async().await.unwrap();
    let transport = reqwest(Timeouts::default());
    transport
        .send(crate::common::account_request(&emulator))
        .await
        .unwrap();
    assert_eq!(format!("{transport:?}"), "ReqwestTransport");
    assert_eq!(format!("{transport:#?}"), "ReqwestTransport");
    let from_client = ReqwestTransport::from(reqwest::Client::new());
    assert_eq!(format!("{from_client:?}"), "ReqwestTransport");
    let shared = SharedAsyncTransport::new(transport.clone());
    assert_eq!(format!("{shared:?}"), "SharedAsyncTransport");
    let token = emulator.token();
    let closure = async_fn_transport(
        move |request| {
            let inner = transport.clone();
            async move { inner.send(request).await }
        },
        tokio::time::sleep,
    );
    let debug = format!("{closure:?}");
    assert_eq!(debug, "AsyncFnTransport");
    assert!(!debug.contains(&token) && !debug.contains(emulator.account_url()));
}

#[tokio::test]
async fn huge_timeouts_are_no_timeouts() {
    let emulator = emulator_builder().start_async().await.unwrap();
    let forever = Duration::MAX;
    let transport = reqwest(Timeouts::default().read(forever).write(forever));
    let mut request = crate::common::account_request(&emulator);
    *request.method_mut() = http::Method::POST;
    *request.body_mut() = bytes::Bytes::from_static(b"{}");
    transport.send(request).await.unwrap();
    let response = transport
        .send(crate::common::account_request(&emulator))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
