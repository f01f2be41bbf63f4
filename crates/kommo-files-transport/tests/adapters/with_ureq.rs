//! `UreqTransport`, directly and behind the blocking handles.

use std::sync::{Arc, Mutex};

use kommo_files_transport::{
    fn_streaming_transport, fn_transport, BlockingTransport, SharedBlockingTransport, Timeouts,
    UreqTransport,
};

use crate::common::{block_on, emulator_builder, Blocking, Recording, Seen};

mod direct {
    use super::*;

    adapter_scenarios!(blocking_scenarios, |timeouts: Timeouts| Blocking(
        UreqTransport::new(timeouts)
    ));
}

/// Through `SharedBlockingTransport`, which must stream too.
mod shared {
    use super::*;

    handle_scenarios!(blocking_scenarios, |timeouts: Timeouts| Blocking(
        SharedBlockingTransport::new(UreqTransport::new(timeouts))
    ));
    blocking_scenarios!(|timeouts: Timeouts| Blocking(
        SharedBlockingTransport::new(UreqTransport::new(timeouts))
    ); streaming_returns_before_the_body, body_limit_applies_to_send);
}

/// Through `Arc<dyn BlockingTransport>`.
mod arc {
    use super::*;

    handle_scenarios!(blocking_scenarios, |timeouts: Timeouts| Blocking(Arc::new(
        UreqTransport::new(timeouts)
    )
        as Arc<dyn BlockingTransport>));
    blocking_scenarios!(|timeouts: Timeouts| Blocking(
        Arc::new(UreqTransport::new(timeouts)) as Arc<dyn BlockingTransport>
    ); streaming_returns_before_the_body);
}

/// Through `Box<dyn BlockingTransport>`.
mod boxed {
    use super::*;

    handle_scenarios!(blocking_scenarios, |timeouts: Timeouts| Blocking(Box::new(
        UreqTransport::new(timeouts)
    )
        as Box<dyn BlockingTransport>));
    blocking_scenarios!(|timeouts: Timeouts| Blocking(
        Box::new(UreqTransport::new(timeouts)) as Box<dyn BlockingTransport>
    ); streaming_returns_before_the_body);
}

/// A buffered closure around the adapter (its `send_streaming` wraps the bytes).
mod closure {
    use super::*;

    handle_scenarios!(blocking_scenarios, |timeouts: Timeouts| {
        let inner = UreqTransport::new(timeouts);
        Blocking(fn_transport(move |request| inner.send(request)))
    });
}

/// A streaming closure around the adapter: it streams like the adapter itself.
mod streaming_closure {
    use super::*;

    handle_scenarios!(blocking_scenarios, |timeouts: Timeouts| {
        let inner = UreqTransport::new(timeouts);
        Blocking(fn_streaming_transport(move |request| {
            inner.send_streaming(request)
        }))
    });
    blocking_scenarios!(|timeouts: Timeouts| {
        let inner = UreqTransport::new(timeouts);
        Blocking(fn_streaming_transport(move |request| {
            inner.send_streaming(request)
        }))
    }; streaming_returns_before_the_body, body_limit_applies_to_send);
}

#[test]
fn operation_context_reaches_a_wrapper() {
    let emulator = emulator_builder().start().unwrap();
    let seen = Seen::default();
    let wrapper = Recording::new(UreqTransport::new(Timeouts::default()), seen.clone());
    block_on(crate::scenarios::operation_context_reaches_wrapper(
        &emulator,
        Blocking(wrapper),
        &seen,
    ));

    // Behind the shared handle the context still gets there.
    let seen = Seen::default();
    let wrapper = SharedBlockingTransport::new(Recording::new(
        UreqTransport::new(Timeouts::default()),
        seen.clone(),
    ));
    block_on(crate::scenarios::operation_context_reaches_wrapper(
        &emulator,
        Blocking(wrapper),
        &seen,
    ));
}

#[test]
fn handles_are_send_sync_and_clone() {
    fn check<T: BlockingTransport + Clone + Send + Sync + 'static>() {}
    check::<UreqTransport>();
    check::<SharedBlockingTransport>();

    // Clones share one agent: a clone keeps working after the original is gone.
    let emulator = emulator_builder().start().unwrap();
    let original = UreqTransport::new(Timeouts::default());
    let clone = original.clone();
    drop(original);
    let response = clone
        .send(crate::common::account_request(&emulator))
        .unwrap();
    assert_eq!(response.status(), 200);

    // A handle can be used from several threads at once.
    let shared = SharedBlockingTransport::new(clone);
    let statuses = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (shared, statuses, emulator) = (shared.clone(), statuses.clone(), &emulator);
            scope.spawn(move || {
                for _ in 0..5 {
                    let status = shared
                        .send(crate::common::account_request(emulator))
                        .unwrap()
                        .status();
                    statuses.lock().unwrap().push(status.as_u16());
                }
            });
        }
    });
    assert_eq!(*statuses.lock().unwrap(), [200; 20]);
}

#[test]
fn debug_shows_only_the_type_name() {
    let emulator = emulator_builder().start().unwrap();
    let transport = UreqTransport::new(Timeouts::default());
    // Use it first, so that a pooled connection (and its URL) exists.
    transport
        .send(crate::common::account_request(&emulator))
        .unwrap();
    assert_eq!(format!("{transport:?}"), "UreqTransport");
    assert_eq!(format!("{transport:#?}"), "UreqTransport");
    let from_agent = UreqTransport::from(ureq::Agent::new_with_defaults());
    assert_eq!(format!("{from_agent:?}"), "UreqTransport");
    assert_eq!(format!("{:?}", UreqTransport::default()), "UreqTransport");
    let shared = SharedBlockingTransport::new(transport.clone());
    assert_eq!(format!("{shared:?}"), "SharedBlockingTransport");
    let token = emulator.token();
    let closure = fn_transport(move |request| transport.send(request));
    let debug = format!("{closure:?}");
    assert_eq!(debug, "FnTransport");
    assert!(!debug.contains(&token) && !debug.contains(emulator.account_url()));
}

#[test]
fn huge_timeouts_are_no_timeouts() {
    let emulator = emulator_builder().start().unwrap();
    let forever = std::time::Duration::MAX;
    let transport = UreqTransport::new(Timeouts::default().read(forever).write(forever));
    let response = transport
        .send(crate::common::account_request(&emulator))
        .unwrap();
    assert_eq!(response.status(), 200);
}
