//! Scenario 10: pacing shared by the clones of one client keeps concurrent uploads under the
//! server's rate limit.

/// The pacing scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod pacing {
            use super::{start, upload_all, Client};
            use crate::common::{self, PART};

            /// Four uploads at once through clones of a client paced at `client_rate`
            /// requests per second, against an emulator that answers 429 beyond `server_rate`
            /// a second (fixed one-second windows per token): none may be refused, so none is
            /// retried. The log's statuses are checked, never the time taken.
            #[$mode]
            async fn paced_uploads(client_rate: u32, server_rate: u32) {
                let emulator = start(common::emulator().rate_limit(Some(server_rate))).await;
                let config = common::config(&emulator).requests_per_second(Some(client_rate));
                let client = Client::new(config).unwrap();
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
                    "a request was refused (client {client_rate}/s, server {server_rate}/s):{}",
                    common::log(&emulator)
                );
                // 21 requests: more than one window's worth, so the limiter is exercised.
                common::assert_uploads(&emulator, 4 * common::upload_requests(size));
            }

            /// One pacer for all clones: 4 × 18 requests a second would be refused; 18 a
            /// second in all never is (10 % below the limit absorbs delivery jitter).
            #[$mode]
            pub(crate) async fn paced_clones_stay_under_the_limit() {
                paced_uploads(18, 20).await;
            }

            /// Pacing at exactly the server's limit. A request's arrival lags its send by a
            /// varying delay, so a window can open on a late request (the first, which also
            /// connects) and still catch the 21st sent one second later: this is refused now
            /// and then (see the report on pacing margins).
            #[$mode]
            pub(crate) async fn paced_at_exactly_the_limit() {
                paced_uploads(20, 20).await;
            }
        }
    };
}

pub(crate) use scenarios;
