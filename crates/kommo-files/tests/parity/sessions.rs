//! Scenarios 5 and 6: a part the server committed but whose answer was lost, under both retry
//! modes of the emulator; and upload sessions that expire or vanish mid-upload.

/// The session scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod sessions {
            use std::sync::atomic::{AtomicBool, Ordering};
            use std::sync::{Arc, Mutex};
            use std::time::Duration;

            use kommo_files::model::upload::{
                SessionLostPolicy, UploadConfig, UploadError, UploadEvent,
            };
            use kommo_files::{CancelHandle, Checkpoint, Error, UploadOptions};
            use kommo_files_emulator::{Fault, FaultAction, RetryMode};

            use super::{start, Client};
            use crate::common::{self, ProgressLog, PART};

            /// Past the 24 hours a session lives.
            const EXPIRE: Duration = Duration::from_secs(25 * 60 * 60);

            /// Restarts seen through `on_event`.
            fn restarts(options: UploadOptions) -> (UploadOptions, Arc<Mutex<u32>>) {
                let count = Arc::new(Mutex::new(0));
                let seen = count.clone();
                let options = options.on_event(move |event| {
                    if let UploadEvent::Restarted { .. } = event {
                        *seen.lock().unwrap() += 1;
                    }
                });
                (options, count)
            }

            /// The answer to a middle part is lost after the server stored it. A replaying
            /// server answers the resent part as before; a strict one answers 404 and the
            /// upload starts over in a new session. Either way the exact bytes are stored once.
            #[$mode]
            pub(crate) async fn lost_answer_in_both_retry_modes() {
                let size = 3 * PART;
                let source = common::data(size, 1);
                // (mode, restarts, upload requests)
                let cases = [
                    (RetryMode::Replay, 0, 4 + 1),
                    (RetryMode::Strict, 1, 3 + 1 + 4),
                ];
                for (mode, expected_restarts, requests) in cases {
                    let emulator = start(common::emulator().retry_mode(mode)).await;
                    let client = Client::new(common::config(&emulator)).unwrap();
                    emulator.add_fault(
                        Fault::new(FaultAction::CloseAfterCommit)
                            .method("POST")
                            .path("/upload/*")
                            .nth(2),
                    );
                    let progress = ProgressLog::default();
                    let (options, seen) =
                        restarts(UploadOptions::new().on_progress(progress.callback()));
                    let file = client
                        .upload_bytes("a.bin", source.clone(), options)
                        .await
                        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
                    assert_eq!(
                        common::active_sha256(&emulator, &file.uuid),
                        common::sha256_hex(&source),
                        "{mode:?}"
                    );
                    assert_eq!(*seen.lock().unwrap(), expected_restarts, "{mode:?}");
                    assert_eq!(
                        common::only_uploads(&emulator),
                        requests,
                        "{mode:?}:{}",
                        common::log(&emulator)
                    );
                    assert_eq!(emulator.files().len(), 1, "{mode:?}");
                    let acknowledged: &[u64] = match mode {
                        RetryMode::Replay => &[PART, 2 * PART, 3 * PART],
                        _ => &[PART, 0, PART, 2 * PART, 3 * PART],
                    };
                    progress.assert_acknowledged(size, acknowledged);
                }
            }

            /// The answer to the **last** part is lost after the server completed the file.
            /// A replaying server hands the same file back on the re-send; a strict one answers
            /// 404, and the client finds the stored file (its bytes checked) instead of
            /// uploading it a second time. Either way the server holds exactly one, exact, file
            /// and the upload returns it.
            #[$mode]
            pub(crate) async fn lost_final_answer_stores_one_file() {
                let size = 3 * PART;
                let source = common::data(size, 2);
                for mode in [RetryMode::Replay, RetryMode::Strict] {
                    let emulator = start(common::emulator().retry_mode(mode)).await;
                    let client = Client::new(common::config(&emulator)).unwrap();
                    emulator.add_fault(
                        Fault::new(FaultAction::CloseAfterCommit)
                            .method("POST")
                            .path("/upload/*")
                            .nth(3),
                    );
                    let outcome = client
                        .upload_bytes("a.bin", source.clone(), UploadOptions::new())
                        .await;
                    let files = emulator.files();
                    assert_eq!(
                        files.len(),
                        1,
                        "{mode:?}: {outcome:?}:{}",
                        common::log(&emulator)
                    );
                    assert_eq!(
                        common::active_sha256(&emulator, &files[0].uuid),
                        common::sha256_hex(&source),
                        "{mode:?}"
                    );
                    // Session, 3 parts, the last one again (and, on a strict server, the
                    // search that finds the file: a listing, its download, the file).
                    assert_eq!(
                        common::count(&emulator, common::is_upload),
                        4 + 1,
                        "{mode:?}:{}",
                        common::log(&emulator)
                    );
                    let file =
                        outcome.unwrap_or_else(|e| panic!("{mode:?}: {}", e.chain_message()));
                    assert_eq!(file.uuid, files[0].uuid, "{mode:?}");
                }
            }

            /// The session expires on the server mid-upload (the emulator's clock jumps 25 h
            /// after part 1): the default policy opens a new session and sends the file again;
            /// `SessionLostPolicy::Fail` stops with a typed error and sends nothing more.
            #[$mode]
            pub(crate) async fn expired_session_restarts_or_fails() {
                let size = 4 * PART;
                let source = common::data(size, 4);
                for policy in [
                    SessionLostPolicy::Restart { max_restarts: 2 },
                    SessionLostPolicy::Fail,
                ] {
                    let emulator = Arc::new(start(common::emulator()).await);
                    let upload = UploadConfig::default()
                        .retry(common::fast_retry())
                        .on_session_lost(policy);
                    let client = Client::new(common::config(&emulator).upload(upload)).unwrap();
                    client.drive().await.unwrap();
                    emulator.clear_requests();
                    let clock = emulator.clone();
                    let jumped = AtomicBool::new(false);
                    let progress = ProgressLog::default();
                    let mut record = progress.callback();
                    let options = UploadOptions::new().on_progress(move |p| {
                        record(p);
                        if p.acknowledged == PART && !jumped.swap(true, Ordering::SeqCst) {
                            clock.advance_clock(EXPIRE);
                        }
                    });
                    let (options, seen) = restarts(options);
                    let outcome = client.upload_bytes("a.bin", source.clone(), options).await;
                    match policy {
                        SessionLostPolicy::Fail => {
                            let error = outcome.expect_err("the lost session is final");
                            assert!(
                                matches!(
                                    &error,
                                    Error::Upload {
                                        error: UploadError::SessionLost { restarts: 0 },
                                        ..
                                    }
                                ),
                                "{error:?}"
                            );
                            assert_eq!(error.status(), None);
                            // Session, part 1, part 2 (404).
                            common::assert_uploads(&emulator, 3);
                            progress.assert_acknowledged(size, &[PART]);
                            assert!(emulator.files().is_empty());
                        }
                        _ => {
                            let file = outcome.unwrap();
                            common::assert_stored(&emulator, &file.uuid, &source);
                            assert_eq!(*seen.lock().unwrap(), 1);
                            // Session, part 1, part 2 (404); a new session and its four parts.
                            common::assert_uploads(&emulator, 3 + 5);
                            let acknowledged = [PART, 0, PART, 2 * PART, 3 * PART, 4 * PART];
                            progress.assert_acknowledged(size, &acknowledged);
                        }
                    }
                }
            }

            /// A session lost over and over: the default policy restarts twice, then gives up.
            /// A reader cannot go back to byte 0, so its upload fails on the first restart.
            #[$mode]
            pub(crate) async fn restarts_are_bounded() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                client.drive().await.unwrap();
                let source = common::data(2 * PART, 5);

                emulator.clear_requests();
                let fault = emulator.add_fault(
                    Fault::new(common::status_fault(404))
                        .method("POST")
                        .path("/upload/*")
                        .every(),
                );
                let error = client
                    .upload_bytes("a.bin", source.clone(), UploadOptions::new())
                    .await
                    .expect_err("the session is never found");
                assert!(
                    matches!(
                        &error,
                        Error::Upload {
                            error: UploadError::SessionLost { restarts: 2 },
                            ..
                        }
                    ),
                    "{error:?}"
                );
                common::assert_uploads(&emulator, 3 * 2);
                emulator.remove_fault(fault);

                emulator.clear_requests();
                emulator.add_fault(
                    Fault::new(common::status_fault(404))
                        .method("POST")
                        .path("/upload/*")
                        .nth(2),
                );
                let error = client
                    .upload_reader(
                        "a.bin",
                        &source[..],
                        source.len() as u64,
                        UploadOptions::new(),
                    )
                    .await
                    .expect_err("a reader cannot restart");
                match &error {
                    Error::Io { source, .. } => {
                        assert_eq!(source.kind(), std::io::ErrorKind::Unsupported, "{error}");
                    }
                    other => panic!("{other:?}"),
                }
                let parts_after_restart = emulator
                    .requests()
                    .iter()
                    .skip_while(|r| !(common::is_part(r) && r.status == Some(404)))
                    .filter(|r| common::is_part(r))
                    .count();
                assert_eq!(
                    parts_after_restart,
                    1,
                    "nothing sent after the 404:{}",
                    common::log(&emulator)
                );
                let sessions = emulator
                    .requests()
                    .iter()
                    .filter(|r| r.path.starts_with("/v1.0/sessions"))
                    .count();
                assert_eq!(
                    sessions, 1,
                    "no session opened for a restart that cannot happen"
                );
                assert!(emulator.files().is_empty());
            }

            /// A checkpoint whose session expired on the server meanwhile: the resumed upload
            /// finds the session gone and starts over from the source.
            #[$mode]
            pub(crate) async fn expired_checkpoint_restarts() {
                let emulator = start(common::emulator()).await;
                let size = 3 * PART + 1;
                let source = common::data(size, 6);
                let first = Client::new(common::config(&emulator)).unwrap();
                let cancel = CancelHandle::new();
                let stop = cancel.clone();
                let options = UploadOptions::new()
                    .cancel_handle(cancel)
                    .on_progress(move |p| {
                        if p.acknowledged >= PART {
                            stop.cancel()
                        }
                    });
                let error = first
                    .upload_bytes("a.bin", source.clone(), options)
                    .await
                    .expect_err("cancelled");
                let checkpoint: Checkpoint = error.checkpoint().cloned().expect("a checkpoint");
                assert_eq!(checkpoint.offset, PART);

                emulator.advance_clock(EXPIRE);
                emulator.clear_requests();
                let second = Client::new(common::config(&emulator)).unwrap();
                let (options, seen) = restarts(UploadOptions::new());
                let file = second
                    .resume_bytes(checkpoint, source.clone(), options)
                    .await
                    .unwrap();
                common::assert_stored(&emulator, &file.uuid, &source);
                assert_eq!(*seen.lock().unwrap(), 1);
                // Part 2 (404); a new session and its four parts.
                common::assert_uploads(&emulator, 1 + 5);
            }
        }
    };
}

pub(crate) use scenarios;
