//! Scenario 10: pacing shared by the clones of one client keeps concurrent uploads under the
//! server's rate limit.
//!
//! Nothing here depends on how fast or loaded the machine is. Each request is stamped as it
//! reaches the transport, and the stamps are held to the schedule pacing guarantees
//! ([`common::assert_paced`]: lower bounds only, which lateness cannot break). The emulator's
//! limiter, which counts arrivals on real time, is kept where its margin is seconds of stall.
//! That pacing with headroom absorbs delivery jitter at exactly the server's limit is arithmetic,
//! checked in `kommo_files_model::pacing` on simulated time.

/// The pacing scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod pacing {
            use super::{start, upload_all, Client};
            use crate::common::{self, PART};
            use std::time::SystemTime;

            /// Four uploads at once through clones of a client paced at `client_rate` requests
            /// per second, against an emulator that answers 429 beyond `server_rate` a second
            /// (if any): all stored whole, none refused (so none retried), and the requests
            /// kept the shared schedule.
            #[$mode]
            async fn paced_uploads(client_rate: u32, server_rate: Option<u32>) {
                let emulator = start(common::emulator().rate_limit(server_rate)).await;
                let config = common::config(&emulator).requests_per_second(Some(client_rate));
                let stamps = common::Stamps::default();
                let started = SystemTime::now();
                let client = Client::with_layer(config, |transport| stamps.layer(transport))
                    .expect("a client");
                let size = 3 * PART + 1;
                let jobs: Vec<(String, Vec<u8>)> = (0..4u8)
                    .map(|i| (format!("file-{i}.bin"), common::data(size, i)))
                    .collect();
                let results = upload_all(&client, jobs.clone()).await;
                for ((name, bytes), result) in jobs.iter().zip(results) {
                    let file = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(
                        common::active_sha256(&emulator, &file.uuid),
                        common::sha256_hex(bytes),
                        "{name}"
                    );
                }
                let statuses = common::statuses(&emulator);
                assert!(
                    statuses.iter().all(|s| matches!(s, Some(200 | 202))),
                    "a request was refused (client {client_rate}/s, server {server_rate:?}/s):{}",
                    common::log(&emulator)
                );
                // 21 requests: more than one second's worth, so the schedule is exercised.
                common::assert_uploads(&emulator, 4 * common::upload_requests(size));
                assert_eq!(
                    stamps.sorted().len(),
                    statuses.len(),
                    "every request went through the layer"
                );
                common::assert_paced(&stamps, started, client_rate);
            }

            /// One pacer for all clones: four pacers of their own would send 4 × 6 = 24
            /// requests a second, over the server's 20, and break the schedule at the second
            /// request. The server's check has seconds of margin: paced 175 ms apart, 21
            /// requests span 3.5 s, so only a stall of 2.5 s could squeeze them into one
            /// second.
            #[$mode]
            pub(crate) async fn paced_clones_stay_under_the_limit() {
                paced_uploads(6, Some(20)).await;
            }

            /// Pacing at a server's limit of 20/s keeps the headroom: 21 consecutive requests
            /// span at least 1 s + `DELIVERY_JITTER`, so the limiter's windows cannot catch 21
            /// of them if no request is delivered more than that late (proved in the model;
            /// real delivery on a busy machine may be later still, so the real-time limiter is
            /// not asked here).
            #[$mode]
            pub(crate) async fn paced_at_exactly_the_limit() {
                paced_uploads(20, None).await;
            }
        }
    };
}

pub(crate) use scenarios;
