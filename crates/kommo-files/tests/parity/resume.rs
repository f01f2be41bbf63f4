//! Scenarios 7 and 8: an upload stopped half-way and resumed from its checkpoint by a new
//! client, sending only what the server lacks; and a changed source refused on resume.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kommo_files::{Checkpoint, UploadOptions};
use kommo_files_emulator::{EmulatorHandle, Fault, FaultAction};

use crate::common::{self, PART};

/// The resume scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod resume {
            use std::sync::{Arc, Mutex};
            use std::time::{Duration, SystemTime};

            use kommo_files::model::upload::{SourceChange, UploadError};
            use kommo_files::{CancelHandle, Checkpoint, Error, UploadOptions};

            use super::{start, Client};
            use crate::common::{self, ProgressLog, PART};

            /// Part URLs (paths) the log shows.
            fn part_paths(emulator: &kommo_files_emulator::EmulatorHandle) -> Vec<String> {
                emulator
                    .requests()
                    .into_iter()
                    .filter(|r| common::is_part(r))
                    .map(|r| r.path)
                    .collect()
            }

            /// An upload cancelled from its progress callback after three parts, through each
            /// source, is finished by a new client from the checkpoint it left (returned in the
            /// error, handed to `on_checkpoint`, and saved to `checkpoint_file`): no new session,
            /// no acknowledged part sent again, the exact bytes stored, the checkpoint file gone.
            #[$mode]
            pub(crate) async fn resumed_by_a_new_client() {
                let emulator = start(common::emulator()).await;
                let dir = common::TempDir::new();
                let size = 6 * PART + 5;
                let source = common::data(size, 8);
                let path = dir.path().join("big.bin");
                std::fs::write(&path, &source).unwrap();
                let checkpoint_path = dir.path().join("big.bin.checkpoint.json");
                for via in ["path", "bytes", "reader"] {
                    emulator.clear_requests();
                    let first = Client::new(common::config(&emulator)).unwrap();
                    let cancel = CancelHandle::new();
                    let stop = cancel.clone();
                    let saved: Arc<Mutex<Option<Checkpoint>>> = Arc::default();
                    let keep = saved.clone();
                    let options = UploadOptions::new()
                        .cancel_handle(cancel)
                        .checkpoint_file(&checkpoint_path)
                        .on_checkpoint(move |c| *keep.lock().unwrap() = Some(c.clone()))
                        .on_progress(move |p| {
                            if p.acknowledged >= 3 * PART {
                                stop.cancel();
                            }
                        });
                    let outcome = match via {
                        "path" => first.upload_path(&path, options).await,
                        "bytes" => first.upload_bytes("big.bin", source.clone(), options).await,
                        _ => {
                            first
                                .upload_reader("big.bin", &source[..], size, options)
                                .await
                        }
                    };
                    let checkpoint = match outcome {
                        Err(Error::Cancelled {
                            checkpoint: Some(checkpoint),
                            ..
                        }) => *checkpoint,
                        other => panic!("{via}: {other:?}"),
                    };
                    assert_eq!(checkpoint.offset, 3 * PART, "{via}");
                    assert_eq!(saved.lock().unwrap().as_ref(), Some(&checkpoint), "{via}");
                    let loaded = kommo_files::load_checkpoint(&checkpoint_path).unwrap();
                    assert_eq!(loaded, checkpoint, "{via}");
                    // Cancelled before part 4 went out.
                    assert_eq!(
                        common::only_uploads(&emulator),
                        1 + 3,
                        "{via}:{}",
                        common::log(&emulator)
                    );
                    let acknowledged_parts = part_paths(&emulator);
                    drop(first);

                    emulator.clear_requests();
                    let second = Client::new(common::config(&emulator)).unwrap();
                    let progress = ProgressLog::default();
                    let options = UploadOptions::new()
                        .checkpoint_file(&checkpoint_path)
                        .on_progress(progress.callback());
                    let resumed = match via {
                        "path" => second.resume_path(loaded, &path, options).await,
                        "bytes" => second.resume_bytes(loaded, source.clone(), options).await,
                        _ => second.resume_reader(loaded, &source[..], options).await,
                    };
                    let file = resumed.unwrap_or_else(|e| panic!("{via}: {e}"));
                    assert_eq!(file.size, size);
                    assert_eq!(
                        common::active_sha256(&emulator, &file.uuid),
                        common::sha256_hex(&source),
                        "{via}"
                    );
                    // Parts 4 to 7, and nothing else.
                    assert_eq!(
                        common::only_uploads(&emulator),
                        4,
                        "{via}:{}",
                        common::log(&emulator)
                    );
                    assert_eq!(common::count(&emulator, common::is_session), 0);
                    let resent: Vec<String> = part_paths(&emulator)
                        .into_iter()
                        .filter(|p| acknowledged_parts.contains(p))
                        .collect();
                    assert!(resent.is_empty(), "{via}: parts sent again: {resent:?}");
                    let sent: u64 = emulator
                        .requests()
                        .iter()
                        .filter(|r| common::is_part(r))
                        .map(|r| r.bytes_in)
                        .sum();
                    assert_eq!(sent, size - 3 * PART, "{via}");
                    assert_eq!(progress.values()[0].acknowledged, 3 * PART, "{via}");
                    progress.assert_complete(size);
                    assert!(
                        !checkpoint_path.exists(),
                        "{via}: the checkpoint file is removed"
                    );
                }
                assert_eq!(emulator.files().len(), 3);
            }

            /// With no checkpoint option the parts are not hashed as they go; the checkpoint a
            /// failed upload returns is hashed from the source afterwards, for a path and for
            /// bytes, equals what incremental hashing would give, and resumes. A reader cannot
            /// be read again, so it is hashed as it goes.
            #[$mode]
            pub(crate) async fn a_late_checkpoint_is_hashed_from_the_source() {
                let emulator = start(common::emulator()).await;
                let dir = common::TempDir::new();
                let size = 5 * PART + 9;
                let source = common::data(size, 12);
                let path = dir.path().join("late.bin");
                std::fs::write(&path, &source).unwrap();
                let client = Client::new(common::config(&emulator)).unwrap();
                for via in ["path", "bytes", "reader"] {
                    emulator.clear_faults();
                    emulator.add_fault(
                        kommo_files_emulator::Fault::new(common::status_fault(400))
                            .method("POST")
                            .path("/upload/*")
                            .nth(4),
                    );
                    let options = UploadOptions::new();
                    let outcome = match via {
                        "path" => client.upload_path(&path, options).await,
                        "bytes" => {
                            client
                                .upload_bytes("late.bin", source.clone(), options)
                                .await
                        }
                        _ => {
                            client
                                .upload_reader("late.bin", &source[..], size, options)
                                .await
                        }
                    };
                    let error = outcome.expect_err("part 4 is refused");
                    let checkpoint = error.checkpoint().cloned().expect("3 parts acknowledged");
                    assert_eq!(checkpoint.offset, 3 * PART, "{via}");
                    assert_eq!(
                        checkpoint.source.prefix_sha256,
                        common::sha256_hex(&source[..(3 * PART) as usize]),
                        "{via}"
                    );
                    let resumed = match via {
                        "path" => {
                            client
                                .resume_path(checkpoint, &path, Default::default())
                                .await
                        }
                        "bytes" => {
                            client
                                .resume_bytes(checkpoint, source.clone(), Default::default())
                                .await
                        }
                        _ => {
                            client
                                .resume_reader(checkpoint, &source[..], Default::default())
                                .await
                        }
                    };
                    let file = resumed.unwrap_or_else(|e| panic!("{via}: {e}"));
                    assert_eq!(
                        common::active_sha256(&emulator, &file.uuid),
                        common::sha256_hex(&source),
                        "{via}"
                    );
                }
            }

            /// A file changed while it is being uploaded (from the progress callback, once part
            /// 1 is acknowledged) stops the upload with a typed error before part 2 is sent, so
            /// the server never completes a file mixing two versions: rewritten in place with
            /// the same size (a new modification time), grown, cut short. With checkpoints kept,
            /// the error carries the checkpoint of what the server has; without, the prefix is
            /// not hashed from the changed file, so there is none.
            #[$mode]
            pub(crate) async fn a_source_changed_during_the_upload_is_refused() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let dir = common::TempDir::new();
                let size = 4 * PART;
                let path = dir.path().join("moving.bin");
                let checkpoint_path = dir.path().join("moving.checkpoint.json");
                let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
                for (how, keep_checkpoints) in [
                    ("rewrite", false),
                    ("rewrite", true),
                    ("append", false),
                    ("append", true),
                    ("truncate", true),
                ] {
                    let case = format!("{how}, checkpoints kept: {keep_checkpoints}");
                    std::fs::write(&path, common::data(size, 20)).unwrap();
                    let file = std::fs::File::options().write(true).open(&path).unwrap();
                    file.set_modified(modified).unwrap();
                    drop(file);
                    emulator.clear_requests();
                    let target = path.clone();
                    let mut done = false;
                    let mut options = UploadOptions::new().on_progress(move |p| {
                        if p.acknowledged < PART || done {
                            return;
                        }
                        done = true;
                        use std::io::Write;
                        let mut file = std::fs::File::options()
                            .write(true)
                            .append(how == "append")
                            .open(&target)
                            .unwrap();
                        match how {
                            "rewrite" => file.write_all(&common::data(size, 21)).unwrap(),
                            "append" => file.write_all(b"more").unwrap(),
                            _ => file.set_len(size - PART / 2).unwrap(),
                        }
                        file.set_modified(modified + Duration::from_secs(60))
                            .unwrap();
                    });
                    if keep_checkpoints {
                        options = options.checkpoint_file(&checkpoint_path);
                    }
                    let error = client
                        .upload_path(&path, options)
                        .await
                        .expect_err("the source changed");
                    let expected = match how {
                        "rewrite" => SourceChange::ModifiedDuringUpload,
                        "append" => SourceChange::Size {
                            was: size,
                            now: size + 4,
                        },
                        _ => SourceChange::Size {
                            was: size,
                            now: size - PART / 2,
                        },
                    };
                    match &error {
                        Error::Upload {
                            error: UploadError::SourceChanged(change),
                            checkpoint,
                            ..
                        } => {
                            assert_eq!(change, &expected, "{case}");
                            let offset = checkpoint.as_ref().map(|c| c.offset);
                            assert_eq!(offset, keep_checkpoints.then_some(PART), "{case}");
                        }
                        other => panic!("{case}: {other:?}"),
                    }
                    assert!(error.to_string().contains("upload failed"), "{error}");
                    assert!(
                        error.chain_message().contains("the source changed"),
                        "{}",
                        error.chain_message()
                    );
                    assert!(emulator.files().is_empty(), "{case}: a file was stored");
                    assert_eq!(
                        common::count(&emulator, common::is_part),
                        1,
                        "{case}: only part 1 went out: {}",
                        common::log(&emulator)
                    );
                    let _ = std::fs::remove_file(&checkpoint_path);
                }
            }

            /// A damaged checkpoint file is refused by the rules a session's answer meets, said
            /// with `CheckpointRefused`, and the upload starts over and succeeds: a foreign or
            /// garbage `next_url`, a part size of 0, of 1 byte, or above the cap. A directory
            /// at the checkpoint path fails before any request, naming the path.
            #[$mode]
            pub(crate) async fn damaged_checkpoint_files_start_over() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let dir = common::TempDir::new();
                let size = 3 * PART;
                let source = common::data(size, 30);
                let path = dir.path().join("doc.bin");
                std::fs::write(&path, &source).unwrap();
                let checkpoint_path = dir.path().join("doc.checkpoint.json");
                let cancel = CancelHandle::new();
                let stop = cancel.clone();
                let options = UploadOptions::new()
                    .cancel_handle(cancel)
                    .checkpoint_file(&checkpoint_path)
                    .on_progress(move |p| {
                        if p.acknowledged >= PART {
                            stop.cancel();
                        }
                    });
                let error = client.upload_path(&path, options).await;
                assert!(matches!(error, Err(Error::Cancelled { .. })), "{error:?}");
                let good: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&checkpoint_path).unwrap()).unwrap();
                for (field, value) in [
                    (
                        "next_url",
                        serde_json::json!("https://evil.example/upload/x"),
                    ),
                    ("next_url", serde_json::json!("garbage")),
                    ("max_part_size", serde_json::json!(0)),
                    ("max_part_size", serde_json::json!(1)),
                    ("max_part_size", serde_json::json!(1u64 << 40)),
                    ("prefix_sha256", serde_json::json!("00")),
                ] {
                    let mut damaged = good.clone();
                    match field {
                        "prefix_sha256" => damaged["source"][field] = value.clone(),
                        _ => damaged[field] = value.clone(),
                    }
                    if field == "max_part_size" {
                        damaged["offset"] = 0.into();
                    }
                    std::fs::write(&checkpoint_path, damaged.to_string()).unwrap();
                    emulator.clear_requests();
                    let refusals: Arc<Mutex<Vec<String>>> = Arc::default();
                    let seen = refusals.clone();
                    let options = UploadOptions::new()
                        .checkpoint_file(&checkpoint_path)
                        .on_event(move |event| {
                            if let kommo_files::model::upload::UploadEvent::CheckpointRefused {
                                reason,
                            } = event
                            {
                                seen.lock().unwrap().push(reason.clone());
                            }
                        });
                    let outcome = client.upload_path(&path, options).await;
                    let file = outcome.unwrap_or_else(|e| panic!("{field}={value}: {e:?}"));
                    common::assert_stored(&emulator, &file.uuid, &source);
                    let refusals = refusals.lock().unwrap().clone();
                    assert_eq!(refusals.len(), 1, "{field}={value}: {refusals:?}");
                    let why = match field {
                        "prefix_sha256" => "not the ones already uploaded",
                        _ => field,
                    };
                    assert!(refusals[0].contains(why), "{field}={value}: {refusals:?}");
                    assert_eq!(common::count(&emulator, common::is_part), 3, "{field}");
                    assert!(!checkpoint_path.exists());
                }

                std::fs::create_dir(&checkpoint_path).unwrap();
                emulator.clear_requests();
                let options = UploadOptions::new().checkpoint_file(&checkpoint_path);
                let error = client.upload_path(&path, options).await.unwrap_err();
                assert!(matches!(error, Error::Io { .. }), "{error:?}");
                let message = error.chain_message();
                assert!(
                    message.contains(&checkpoint_path.display().to_string())
                        && message.contains("is a directory"),
                    "{message}"
                );
                assert_eq!(emulator.requests().len(), 0, "{}", common::log(&emulator));
                assert!(checkpoint_path.is_dir(), "nothing removed");
            }

            /// A source that changed since the checkpoint is refused before any byte is sent:
            /// one byte changed inside the acknowledged prefix (same size, and for a file the
            /// same modification time), a new modification time, another size. The original
            /// source then resumes, and its checkpoint file is removed.
            #[$mode]
            pub(crate) async fn changed_source_is_refused() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let dir = common::TempDir::new();
                let size = 5 * PART;
                let source = common::data(size, 9);
                let path = dir.path().join("data.bin");
                let checkpoint_path = dir.path().join("data.checkpoint.json");
                let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
                let write = |bytes: &[u8], time: SystemTime| {
                    std::fs::write(&path, bytes).unwrap();
                    let file = std::fs::File::options().write(true).open(&path).unwrap();
                    file.set_modified(time).unwrap();
                };
                write(&source, modified);

                let cancel = CancelHandle::new();
                let stop = cancel.clone();
                let options = UploadOptions::new()
                    .cancel_handle(cancel)
                    .checkpoint_file(&checkpoint_path)
                    .on_progress(move |p| {
                        if p.acknowledged >= 2 * PART {
                            stop.cancel();
                        }
                    });
                let error = client
                    .upload_path(&path, options)
                    .await
                    .expect_err("cancelled");
                let checkpoint = error.checkpoint().cloned().expect("a checkpoint");
                assert_eq!(checkpoint.offset, 2 * PART);
                assert!(checkpoint_path.exists());

                let mut changed = source.clone();
                changed[(PART + 3) as usize] ^= 0xFF;
                let mut longer = source.clone();
                longer.push(0);

                emulator.clear_requests();
                let refused = |error: Error| -> SourceChange {
                    assert!(
                        error.checkpoint().is_some(),
                        "the checkpoint stays usable: {error:?}"
                    );
                    match error {
                        Error::Upload {
                            error: UploadError::SourceChanged(change),
                            ..
                        } => change,
                        other => panic!("{other:?}"),
                    }
                };
                let content = SourceChange::Content { offset: 2 * PART };

                write(&changed, modified);
                let error = client
                    .resume_path(checkpoint.clone(), &path, UploadOptions::new())
                    .await;
                assert_eq!(refused(error.expect_err("changed byte")), content);
                let error = client
                    .resume_bytes(checkpoint.clone(), changed.clone(), UploadOptions::new())
                    .await;
                assert_eq!(refused(error.expect_err("changed byte")), content);
                let error = client
                    .resume_reader(checkpoint.clone(), &changed[..], UploadOptions::new())
                    .await;
                assert_eq!(refused(error.expect_err("changed byte")), content);

                write(&source, modified + Duration::from_secs(60));
                let error = client
                    .resume_path(checkpoint.clone(), &path, UploadOptions::new())
                    .await;
                assert_eq!(refused(error.expect_err("touched")), SourceChange::Modified);

                write(&longer, modified);
                let error = client
                    .resume_path(checkpoint.clone(), &path, UploadOptions::new())
                    .await;
                let grown = SourceChange::Size {
                    was: size,
                    now: size + 1,
                };
                assert_eq!(refused(error.expect_err("grown")), grown);
                let error = client
                    .resume_bytes(checkpoint.clone(), longer.clone(), UploadOptions::new())
                    .await;
                assert_eq!(refused(error.expect_err("grown")), grown);
                let shorter = source[..source.len() - 1].to_vec();
                let error = client
                    .resume_bytes(checkpoint.clone(), shorter, UploadOptions::new())
                    .await;
                assert_eq!(
                    refused(error.expect_err("shrunk")),
                    SourceChange::Size {
                        was: size,
                        now: size - 1
                    }
                );

                assert_eq!(
                    common::count(&emulator, common::is_upload),
                    0,
                    "{}",
                    common::log(&emulator)
                );
                assert!(
                    checkpoint_path.exists(),
                    "a refused resume keeps the checkpoint file"
                );

                write(&source, modified);
                let loaded = kommo_files::load_checkpoint(&checkpoint_path).unwrap();
                let options = UploadOptions::new().checkpoint_file(&checkpoint_path);
                let file = client.resume_path(loaded, &path, options).await.unwrap();
                common::assert_stored(&emulator, &file.uuid, &source);
                assert_eq!(
                    common::count(&emulator, common::is_upload),
                    3,
                    "{}",
                    common::log(&emulator)
                );
                assert!(
                    !checkpoint_path.exists(),
                    "the checkpoint file is removed after success"
                );
                assert_eq!(dir.entries(), ["data.bin"]);

                // An upload that completes at once never leaves its checkpoint file either.
                let options = UploadOptions::new().checkpoint_file(&checkpoint_path);
                client.upload_path(&path, options).await.unwrap();
                assert_eq!(dir.entries(), ["data.bin"]);
            }
        }
    };
}

pub(crate) use scenarios;

/// Waits until fault `id` has fired (its request reached the emulator).
async fn fired(emulator: &EmulatorHandle, id: u64) {
    while !emulator.faults().iter().any(|f| f.id == id && f.fired > 0) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The async client only: the upload future is dropped while part 4 is on the wire (the
/// emulator holds it), the checkpoint comes from `on_checkpoint`, and a new client finishes
/// the upload without sending the acknowledged parts again.
#[tokio::test(flavor = "multi_thread")]
async fn async_dropped_future_resumes() {
    let emulator = common::emulator().start_async().await.unwrap();
    let size = 6 * PART + 5;
    let source = common::data(size, 10);
    let first = kommo_files::Client::new(common::config(&emulator)).unwrap();
    first.drive().await.unwrap();
    emulator.clear_requests();
    // Part 4 is held far longer than the test runs; the emulator drops it on shutdown.
    let hold = emulator.add_fault(
        Fault::new(FaultAction::Delay { millis: 600_000 })
            .method("POST")
            .path("/upload/*")
            .nth(4),
    );
    let saved: Arc<Mutex<Option<Checkpoint>>> = Arc::default();
    let keep = saved.clone();
    let options =
        UploadOptions::new().on_checkpoint(move |c| *keep.lock().unwrap() = Some(c.clone()));
    tokio::select! {
        outcome = first.upload_bytes("big.bin", source.clone(), options) => {
            panic!("part 4 is held, the upload cannot finish: {outcome:?}")
        }
        () = fired(&emulator, hold) => {}
    }
    emulator.remove_fault(hold);
    drop(first);
    let checkpoint = saved
        .lock()
        .unwrap()
        .clone()
        .expect("a checkpoint after part 3");
    assert_eq!(checkpoint.offset, 3 * PART);
    // Session and parts 1-3 answered; part 4 is held without an answer (not logged yet).
    common::assert_uploads(&emulator, 4);

    emulator.clear_requests();
    let second = kommo_files::Client::new(common::config(&emulator)).unwrap();
    let file = second
        .resume_bytes(checkpoint, source.clone(), UploadOptions::new())
        .await
        .unwrap();
    common::assert_stored(&emulator, &file.uuid, &source);
    assert_eq!(
        common::only_uploads(&emulator),
        4,
        "parts 4-7 only:{}",
        common::log(&emulator)
    );
    assert_eq!(common::count(&emulator, common::is_session), 0);
}
