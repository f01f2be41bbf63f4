//! Integration tests of the built-in adapters (`UreqTransport`, `ReqwestTransport`) and of the
//! handles around them (`Arc<dyn BlockingTransport>`, `SharedAsyncTransport`, closures), against
//! the in-process emulator and two tiny raw TCP servers.
//!
//! Every check is written once, in [`scenarios`], as an async function over a [`common::Harness`]:
//! a blocking transport is driven through `common::Blocking` (its calls simply block), an async
//! one through `common::Async`. The adapter modules only say which transport to build.

// The scenarios and macros are shared by modules that each use a subset of them, and an adapter
// feature left off leaves some unused.
#![allow(dead_code, unused_macros)]

/// One `#[test]` per scenario, for a blocking transport made by `$make: Fn(Timeouts) -> H`.
macro_rules! blocking_scenarios {
    ($make:expr; $($name:ident),+ $(,)?) => {$(
        #[test]
        fn $name() {
            let emulator = $crate::common::emulator_builder()
                .start()
                .expect("the emulator starts");
            $crate::common::block_on($crate::scenarios::$name(&emulator, &$make));
        }
    )+};
}

/// One `#[tokio::test]` per scenario, for an async transport made by `$make: Fn(Timeouts) -> H`.
macro_rules! async_scenarios {
    ($make:expr; $($name:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let emulator = $crate::common::emulator_builder()
                .start_async()
                .await
                .expect("the emulator starts");
            $crate::scenarios::$name(&emulator, &$make).await;
        }
    )+};
}

/// The scenarios any transport handle must pass, whether or not it streams.
macro_rules! handle_scenarios {
    ($runner:ident, $make:expr) => {
        $runner!($make;
            statuses_are_responses,
            redirect_is_returned_not_followed,
            request_reaches_server,
            connection_refused_is_connect,
            closed_before_answer_is_transient,
            errors_hide_the_upload_token,
        );
    };
}

/// The scenarios of a real network adapter, on top of [`handle_scenarios`].
macro_rules! adapter_scenarios {
    ($runner:ident, $make:expr) => {
        handle_scenarios!($runner, $make);
        $runner!($make;
            streaming_matches_buffered,
            streaming_returns_before_the_body,
            read_timeout_is_timeout,
            truncated_body_is_incomplete,
            connections_are_reused,
            raw_request_and_response,
            slow_body_within_read_timeout,
            silence_mid_body_is_timeout,
            body_limit_applies_to_send,
            slow_request_body_within_timeouts,
            stalled_request_body_is_timeout,
        );
    };
}

mod common;
mod scenarios;

#[cfg(any(feature = "rustls", feature = "native-tls"))]
mod tls;
#[cfg(feature = "reqwest")]
mod with_reqwest;
#[cfg(feature = "ureq")]
mod with_ureq;
