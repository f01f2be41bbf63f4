//! Exactly once after an ambiguous last part: its answer lost (the connection closed after the
//! server completed the file), unreadable (a garbage 200), or a process that stopped while it
//! was in flight. The client resolves it itself and adopts a file only when it is proven to be
//! the upload: created since the session opened and with the source's SHA-256. The regression
//! this guards: an older file of the same name and size was adopted and the new bytes were
//! stored nowhere.

/// The exactly-once scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod exactly_once {
            use std::sync::{Arc, Mutex};

            use kommo_files::model::upload::{UploadError, UploadEvent};
            use kommo_files::{Checkpoint, Error, UploadOptions};
            use kommo_files_emulator::{Fault, FaultAction, RetryMode};

            use super::{start, Client};
            use crate::common::{self, PART};

            const SIZE: u64 = 3 * PART;

            /// A fault on the third (last) part of a 3-part upload.
            fn on_last_part(action: FaultAction) -> Fault {
                Fault::new(action).method("POST").path("/upload/*").nth(3)
            }

            /// The recovery events an upload reported.
            fn recovery_events(options: UploadOptions) -> (UploadOptions, Arc<Mutex<Vec<String>>>) {
                let seen = Arc::new(Mutex::new(Vec::new()));
                let log = seen.clone();
                let options = options.on_event(move |event| match event {
                    UploadEvent::FinalPartFound { file_uuid } => {
                        log.lock().unwrap().push(format!("found {file_uuid}"))
                    }
                    UploadEvent::FinalPartNotStored => {
                        log.lock().unwrap().push("not stored".to_owned())
                    }
                    _ => {}
                });
                (options, seen)
            }

            /// An older file with the upload's name and size but other bytes is in the account,
            /// and the answer to the last part is lost or unreadable after the server stored
            /// the new file. The upload returns the new file, never the older one.
            #[$mode]
            pub(crate) async fn an_older_file_of_the_same_name_and_size_is_never_adopted() {
                let faults = [
                    FaultAction::CloseAfterCommit,
                    FaultAction::GarbageAfterCommit,
                ];
                for fault in faults {
                    let emulator = start(common::emulator().retry_mode(RetryMode::Strict)).await;
                    let client = Client::new(common::config(&emulator)).unwrap();
                    let older = client
                        .upload_bytes("report.bin", common::data(SIZE, 1), UploadOptions::new())
                        .await
                        .unwrap();
                    let source = common::data(SIZE, 2);
                    emulator.add_fault(on_last_part(fault.clone()));
                    let (options, events) = recovery_events(UploadOptions::new());
                    let file = client
                        .upload_bytes("report.bin", source.clone(), options)
                        .await
                        .unwrap_or_else(|e| panic!("{fault:?}: {}", e.chain_message()));
                    assert_ne!(file.uuid, older.uuid, "{fault:?}: adopted the older file");
                    common::assert_stored(&emulator, &file.uuid, &source);
                    assert_eq!(
                        emulator.files().len(),
                        2,
                        "{fault:?}: {}",
                        common::log(&emulator)
                    );
                    assert_eq!(*events.lock().unwrap(), [format!("found {}", file.uuid)]);
                }
            }

            /// The last part's outcome is ambiguous and the server did not store it: the older
            /// file is not adopted and the file is uploaded again, once.
            #[$mode]
            pub(crate) async fn nothing_stored_means_upload_again() {
                let emulator = start(common::emulator().retry_mode(RetryMode::Strict)).await;
                let client =
                    Client::new(common::config(&emulator).retry(common::fast_retry())).unwrap();
                let older = client
                    .upload_bytes("report.bin", common::data(SIZE, 1), UploadOptions::new())
                    .await
                    .unwrap();
                let source = common::data(SIZE, 3);
                // The last part times out unprocessed, and its re-send finds the session gone.
                emulator.add_fault(on_last_part(FaultAction::CloseBeforeBody));
                emulator.add_fault(
                    Fault::new(common::status_fault(404))
                        .method("POST")
                        .path("/upload/*")
                        .nth(4),
                );
                let (options, events) = recovery_events(UploadOptions::new());
                let file = client
                    .upload_bytes("report.bin", source.clone(), options)
                    .await
                    .unwrap_or_else(|e| panic!("{}", e.chain_message()));
                assert_ne!(file.uuid, older.uuid);
                common::assert_stored(&emulator, &file.uuid, &source);
                assert_eq!(emulator.files().len(), 2, "{}", common::log(&emulator));
                assert_eq!(*events.lock().unwrap(), ["not stored"]);
            }

            /// Two files are proven to hold the upload's bytes (an identical one was uploaded
            /// moments before): nothing is adopted, the error names both.
            #[$mode]
            pub(crate) async fn two_proven_candidates_are_reported_not_adopted() {
                let emulator = start(common::emulator().retry_mode(RetryMode::Strict)).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let source = common::data(SIZE, 4);
                client
                    .upload_bytes("twin.bin", source.clone(), UploadOptions::new())
                    .await
                    .unwrap();
                emulator.add_fault(on_last_part(FaultAction::CloseAfterCommit));
                let error = client
                    .upload_bytes("twin.bin", source.clone(), UploadOptions::new())
                    .await
                    .expect_err("two candidates hold the same bytes");
                match &error {
                    Error::FinalPartUnproven { candidates, .. } => assert_eq!(candidates.len(), 2),
                    other => panic!("{other:?}"),
                }
                assert!(error.checkpoint().is_some());
                assert_eq!(emulator.files().len(), 2);
            }

            /// With the recovery switched off, the ambiguity is the caller's, as before.
            #[$mode]
            pub(crate) async fn recovery_can_be_switched_off() {
                let emulator = start(common::emulator().retry_mode(RetryMode::Strict)).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                emulator.add_fault(on_last_part(FaultAction::CloseAfterCommit));
                let options = UploadOptions::new().recover_final_part(false);
                let error = client
                    .upload_bytes("a.bin", common::data(SIZE, 5), options)
                    .await
                    .expect_err("the ambiguity is reported");
                assert!(
                    matches!(
                        &error,
                        Error::Upload {
                            error: UploadError::FinalPartUnconfirmed { .. },
                            ..
                        }
                    ),
                    "{error:?}"
                );
                assert_eq!(emulator.files().len(), 1);
            }

            /// A new version whose last answer is lost: the version is found among the file's
            /// versions by its bytes, and the file is returned once.
            #[$mode]
            pub(crate) async fn a_new_version_is_found_by_its_bytes() {
                let emulator = start(common::emulator().retry_mode(RetryMode::Strict)).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let first = client
                    .upload_bytes("deal.bin", common::data(SIZE, 6), UploadOptions::new())
                    .await
                    .unwrap();
                let source = common::data(SIZE, 7);
                emulator.add_fault(on_last_part(FaultAction::CloseAfterCommit));
                let options = UploadOptions::new().new_version_of(&first.uuid);
                let file = client
                    .upload_bytes("deal.bin", source.clone(), options)
                    .await
                    .unwrap_or_else(|e| panic!("{}", e.chain_message()));
                assert_eq!(file.uuid, first.uuid);
                common::assert_stored(&emulator, &file.uuid, &source);
                assert_eq!(emulator.files()[0].versions.len(), 2);
            }

            /// A process stopped while its last part was in flight, after the server stored
            /// the file; the next run resumes the checkpoint, finds the session gone, and adopts
            /// the stored file instead of uploading it again (an older namesake is ignored).
            #[$mode]
            pub(crate) async fn a_resumed_upload_finds_the_file_its_last_part_stored() {
                let emulator = start(common::emulator().retry_mode(RetryMode::Strict)).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                client
                    .upload_bytes("scan.bin", common::data(SIZE, 8), UploadOptions::new())
                    .await
                    .unwrap();
                let source = common::data(SIZE, 9);
                let last = Arc::new(Mutex::new(None::<Checkpoint>));
                let keep = last.clone();
                let options = UploadOptions::new().on_checkpoint(move |checkpoint| {
                    *keep.lock().unwrap() = Some(checkpoint.clone());
                });
                // The "stopped" process: its last checkpoint is the one before the last part.
                let stored = client
                    .upload_bytes("scan.bin", source.clone(), options)
                    .await
                    .unwrap();
                let checkpoint = last.lock().unwrap().clone().unwrap();
                assert_eq!(checkpoint.offset, 2 * PART);
                let (options, events) = recovery_events(UploadOptions::new());
                let file = client
                    .resume_bytes(checkpoint, source.clone(), options)
                    .await
                    .unwrap_or_else(|e| panic!("{}", e.chain_message()));
                assert_eq!(file.uuid, stored.uuid);
                assert_eq!(emulator.files().len(), 2, "{}", common::log(&emulator));
                assert_eq!(*events.lock().unwrap(), [format!("found {}", file.uuid)]);
            }

            /// The result is told (`Completed`) while the checkpoint file still exists: a caller
            /// that records it there survives a crash at any moment, with the checkpoint or the
            /// record to go on, never neither.
            #[$mode]
            pub(crate) async fn completion_is_told_before_the_checkpoint_file_goes() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let dir = common::TempDir::new();
                let checkpoint = dir.path().join("a.checkpoint.json");
                let seen = Arc::new(Mutex::new(Vec::new()));
                let log = seen.clone();
                let watched = checkpoint.clone();
                let options =
                    UploadOptions::new()
                        .checkpoint_file(&checkpoint)
                        .on_event(move |event| {
                            if let UploadEvent::Completed { file_uuid } = event {
                                log.lock()
                                    .unwrap()
                                    .push((file_uuid.clone(), watched.exists()));
                            }
                        });
                let file = client
                    .upload_bytes("a.bin", common::data(SIZE, 10), options)
                    .await
                    .unwrap();
                assert_eq!(*seen.lock().unwrap(), [(file.uuid.clone(), true)]);
                assert!(!checkpoint.exists(), "removed once the upload is done");
            }
        }
    };
}

pub(crate) use scenarios;
