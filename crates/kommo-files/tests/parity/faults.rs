//! Scenarios 3 and 4: every fault kind of the emulator on upload parts, upload sessions, API
//! calls and downloads. What is safe to retry succeeds with exactly the expected extra requests;
//! what is not comes back as the right typed error with its status, and is not retried.

/// The fault scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod faults {
            use std::sync::{Arc, Mutex};
            use std::time::Duration;

            use kommo_files::model::endpoint::FileQuery;
            use kommo_files::model::upload::{UploadError, UploadEvent};
            use kommo_files::model::wire::{AttachmentNote, EntityType};
            use kommo_files::Operation;
            use kommo_files::{DownloadError, Error, UploadOptions};
            use kommo_files_emulator::{Fault, FaultAction, Scope, TokenGrant};

            use super::{start, Client};
            use crate::common::{self, ProgressLog, PART};

            /// The HTTP status of `error` as a number.
            fn status(error: &Error) -> Option<u16> {
                error.status().map(|s| s.as_u16())
            }

            /// `action` with `Retry-After: 0` instead of a longer wait.
            fn without_wait(action: &FaultAction) -> FaultAction {
                match action {
                    FaultAction::RetryAfter { status, .. } => FaultAction::RetryAfter {
                        status: *status,
                        seconds: 0,
                    },
                    other => other.clone(),
                }
            }

            /// Every transient fault on part 2 and on the session request, and both 429s on a
            /// middle part, the last part and the session: the upload completes with the exact
            /// bytes and exactly the expected extra requests, and a `Retry-After` sets the wait.
            #[$mode]
            pub(crate) async fn upload_faults_are_retried() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                client.drive().await.unwrap();
                let size = 3 * PART;
                let source = common::data(size, 1);
                let mut cases = Vec::new();
                for (action, extra) in common::transient_faults() {
                    cases.push(("/upload/*", action.clone(), 2, extra));
                    cases.push(("/v1.0/sessions", action, 1, extra));
                }
                for action in common::rate_limit_faults() {
                    cases.push(("/upload/*", action.clone(), 2, 1));
                    cases.push(("/upload/*", action.clone(), 3, 1));
                    cases.push(("/v1.0/sessions", action, 1, 1));
                }
                for (path, action, nth, extra) in cases {
                    emulator.clear_faults();
                    emulator.clear_requests();
                    emulator.add_fault(
                        Fault::new(action.clone())
                            .method("POST")
                            .path(path)
                            .nth(nth),
                    );
                    let progress = ProgressLog::default();
                    let retries = Arc::new(Mutex::new(Vec::new()));
                    let seen = retries.clone();
                    let options = UploadOptions::new()
                        .on_progress(progress.callback())
                        .on_event(move |event| {
                            if let UploadEvent::Retrying { delay, .. } = event {
                                seen.lock().unwrap().push(*delay);
                            }
                        });
                    let uploaded = client.upload_bytes("a.bin", source.clone(), options).await;
                    let file = uploaded.unwrap_or_else(|e| panic!("{action:?} on {path}: {e}"));
                    assert_eq!(
                        common::active_sha256(&emulator, &file.uuid),
                        common::sha256_hex(&source),
                        "{action:?} on {path}"
                    );
                    assert_eq!(emulator.faults()[0].fired, 1, "{action:?} on {path}");
                    assert_eq!(
                        common::only_uploads(&emulator),
                        common::upload_requests(size) + extra,
                        "{action:?} on {path}:{}",
                        common::log(&emulator)
                    );
                    progress.assert_complete(size);
                    let retries = retries.lock().unwrap().clone();
                    assert_eq!(retries.len(), extra, "{action:?} on {path}");
                    if let FaultAction::RetryAfter { seconds, .. } = action {
                        assert_eq!(
                            retries,
                            [Duration::from_secs(seconds)],
                            "Retry-After is obeyed"
                        );
                    }
                }
                // One file an upload: no duplicate from a retried session or part.
                let uploads = 2 * common::transient_faults().len() + 3 * 2;
                assert_eq!(emulator.files().len(), uploads);
            }

            /// A 404 on a part (the session is gone) starts the upload over in a new session.
            #[$mode]
            pub(crate) async fn lost_session_restarts() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                client.drive().await.unwrap();
                emulator.clear_requests();
                let size = 3 * PART;
                let source = common::data(size, 2);
                emulator.add_fault(
                    Fault::new(common::status_fault(404))
                        .method("POST")
                        .path("/upload/*")
                        .nth(2),
                );
                let progress = ProgressLog::default();
                let options = UploadOptions::new().on_progress(progress.callback());
                let file = client
                    .upload_bytes("a.bin", source.clone(), options)
                    .await
                    .unwrap();
                common::assert_stored(&emulator, &file.uuid, &source);
                // Session, part 1, part 2 (404); a new session and its three parts.
                common::assert_uploads(&emulator, 3 + 4);
                assert_eq!(common::count(&emulator, common::is_session), 2);
                progress.assert_acknowledged(size, &[PART, 0, PART, 2 * PART, 3 * PART]);
            }

            /// 400, 401 and 403 on a part are final: a typed error with the status, the
            /// checkpoint of what was acknowledged, no retry; 503 on every attempt gives up
            /// after the policy's attempts.
            #[$mode]
            pub(crate) async fn upload_refusals_are_typed() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                client.drive().await.unwrap();
                let source = common::data(3 * PART, 3);
                let refusals = [
                    (400, ""),
                    (401, "access token is invalid or expired"),
                    (403, "Access to files"),
                ];
                for (code, hint) in refusals {
                    emulator.clear_faults();
                    emulator.clear_requests();
                    emulator.add_fault(
                        Fault::new(common::status_fault(code))
                            .method("POST")
                            .path("/upload/*")
                            .nth(2),
                    );
                    let uploaded = client
                        .upload_bytes("a.bin", source.clone(), UploadOptions::new())
                        .await;
                    let error = uploaded.expect_err("a refused part fails the upload");
                    assert!(
                        matches!(
                            &error,
                            Error::Upload {
                                error: UploadError::Api(_),
                                ..
                            }
                        ),
                        "{code}: {error:?}"
                    );
                    assert_eq!(status(&error), Some(code), "{error:?}");
                    assert!(error.body().is_some_and(|b| !b.is_empty()), "{error:?}");
                    assert!(error.to_string().contains(hint), "{code}: {error}");
                    let checkpoint = error.checkpoint().expect("part 1 was acknowledged");
                    assert_eq!(checkpoint.offset, PART);
                    common::assert_uploads(&emulator, 3);
                }

                emulator.clear_faults();
                emulator.clear_requests();
                emulator.add_fault(
                    Fault::new(common::status_fault(503))
                        .method("POST")
                        .path("/upload/*")
                        .every(),
                );
                let uploaded = client
                    .upload_bytes("a.bin", source.clone(), UploadOptions::new())
                    .await;
                let error = uploaded.expect_err("retries run out");
                match &error {
                    Error::Upload {
                        error: UploadError::RetriesExhausted { attempts, .. },
                        ..
                    } => {
                        assert_eq!(*attempts, 6, "the default policy's attempts");
                    }
                    other => panic!("{other:?}"),
                }
                assert_eq!(status(&error), Some(503));
                assert!(error.checkpoint().is_some_and(|c| c.offset == 0));
                common::assert_uploads(&emulator, 1 + 6);
                assert!(emulator.files().is_empty());
            }

            /// Every transient fault on the idempotent API calls (get, list, versions, rename,
            /// delete, restore, attach, detach, entity files, file links, notes read, field
            /// read and write, drive discovery): each succeeds with exactly the expected extra
            /// requests.
            #[$mode]
            pub(crate) async fn api_faults_are_retried() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let file = client
                    .upload_bytes("a.txt", common::data(1000, 4), UploadOptions::new())
                    .await
                    .unwrap();
                let field = kommo_files_emulator::FILE_FIELD_ID_LEADS as i64;
                let uuids = [file.uuid.as_str()];
                let mut actions = common::transient_faults();
                actions.extend(common::rate_limit_faults().into_iter().map(|a| (a, 1)));
                for (action, extra) in actions {
                    // (method, path pattern, whether the success answer is empty)
                    let calls = [
                        ("GET", "/v1.0/files/*", false),
                        ("GET", "/v1.0/files", false),
                        ("GET", "/v1.0/files/*/versions", false),
                        ("PATCH", "/v1.0/files/*", false),
                        ("DELETE", "/v1.0/files", true),
                        ("POST", "/v1.0/files/restore", false),
                        ("PUT", "/api/v4/leads/1001/files", true),
                        ("GET", "/api/v4/leads/1001/files", false),
                        ("GET", "/api/v4/files/*/links", false),
                        ("DELETE", "/api/v4/leads/1001/files", true),
                        ("GET", "/api/v4/leads/1001/notes", true),
                        ("PATCH", "/api/v4/leads/1001", false),
                        ("GET", "/api/v4/leads/1001", false),
                    ];
                    for (index, (method, path, empty)) in calls.into_iter().enumerate() {
                        // `Retry-After: 1` is obeyed on the first call; the rest say 0 to keep
                        // the suite quick.
                        let action = if index == 0 {
                            action.clone()
                        } else {
                            without_wait(&action)
                        };
                        emulator.clear_faults();
                        emulator.clear_requests();
                        emulator.add_fault(Fault::new(action.clone()).method(method).path(path));
                        let outcome = match (method, path) {
                            ("GET", "/v1.0/files/*") => client
                                .get_file(&file.uuid)
                                .await
                                .map(|f| assert!(f.is_some())),
                            ("GET", "/v1.0/files") => client
                                .list_page(&FileQuery::new())
                                .await
                                .map(|p| assert_eq!(p.files.len(), 1)),
                            ("GET", "/v1.0/files/*/versions") => client
                                .versions(&file.uuid)
                                .await
                                .map(|v| assert_eq!(v.len(), 1)),
                            ("PATCH", "/v1.0/files/*") => {
                                client.rename(&file.uuid, "b.txt").await.map(drop)
                            }
                            ("DELETE", "/v1.0/files") => client.delete(&uuids).await,
                            ("POST", "/v1.0/files/restore") => {
                                client.restore(&uuids).await.map(|r| assert_eq!(r.len(), 1))
                            }
                            ("PUT", _) => client.attach(&EntityType::Leads, 1001, &uuids).await,
                            ("GET", "/api/v4/leads/1001/files") => client
                                .entity_files(&EntityType::Leads, 1001, &Default::default())
                                .await
                                .map(|l| assert_eq!(l.files.len(), 1)),
                            ("GET", "/api/v4/files/*/links") => client
                                .file_entities(&file.uuid)
                                .await
                                .map(|l| assert_eq!(l.entities.len(), 1)),
                            ("DELETE", _) => client.detach(&EntityType::Leads, 1001, &uuids).await,
                            ("GET", "/api/v4/leads/1001/notes") => {
                                client.notes(&EntityType::Leads, 1001).await.map(drop)
                            }
                            ("PATCH", _) => {
                                let value =
                                    kommo_files::model::wire::FileFieldValue::from_file(&file);
                                client
                                    .set_file_field(&EntityType::Leads, 1001, field, &[value])
                                    .await
                            }
                            _ => client
                                .file_field(&EntityType::Leads, 1001, field)
                                .await
                                .map(|v| assert_eq!(v.len(), 1)),
                        };
                        outcome.unwrap_or_else(|e| panic!("{action:?} on {method} {path}: {e}"));
                        assert_eq!(
                            emulator.faults()[0].fired,
                            1,
                            "{action:?} on {method} {path}"
                        );
                        let expected = 1 + common::extra_attempts(&action, extra, empty);
                        assert_eq!(
                            emulator.requests().len(),
                            expected,
                            "{action:?} on {method} {path}:{}",
                            common::log(&emulator)
                        );
                    }

                    // The drive host discovery of a new client.
                    emulator.clear_faults();
                    emulator.clear_requests();
                    emulator.add_fault(
                        Fault::new(without_wait(&action))
                            .method("GET")
                            .path("/api/v4/account"),
                    );
                    let fresh = Client::new(common::config(&emulator)).unwrap();
                    fresh
                        .drive()
                        .await
                        .unwrap_or_else(|e| panic!("{action:?} on discovery: {e}"));
                    assert_eq!(
                        emulator.requests().len(),
                        1 + extra,
                        "{}",
                        common::log(&emulator)
                    );
                }
                emulator.clear_faults();
                // Still one file, one version: nothing was applied twice in a harmful way.
                assert_eq!(emulator.files().len(), 1);
                assert_eq!(emulator.files()[0].versions.len(), 1);
            }

            /// Adding notes is not idempotent: a 5xx or a lost answer is not retried (a typed
            /// error comes back, and the note is not stored twice); a 429, which the server did
            /// not process, is.
            #[$mode]
            pub(crate) async fn notes_are_not_repeated() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let file = client
                    .upload_bytes("a.txt", common::data(10, 5), UploadOptions::new())
                    .await
                    .unwrap();
                let note = || vec![AttachmentNote::new(1001, &file.uuid).file_name("a.txt")];
                let mut stored = 0;

                emulator.clear_requests();
                emulator.add_fault(
                    Fault::new(common::status_fault(503))
                        .method("POST")
                        .path("/api/v4/leads/notes"),
                );
                let error = client
                    .add_attachment_notes(&EntityType::Leads, &note())
                    .await
                    .expect_err("a 503 on a non-idempotent call is final");
                assert!(
                    matches!(
                        &error,
                        Error::Api {
                            operation: Operation::AddNotes,
                            ..
                        }
                    ),
                    "{error:?}"
                );
                assert_eq!(status(&error), Some(503));
                assert_eq!(emulator.requests().len(), 1, "{}", common::log(&emulator));

                emulator.clear_faults();
                emulator.clear_requests();
                emulator.add_fault(
                    Fault::new(FaultAction::CloseAfterCommit)
                        .method("POST")
                        .path("/api/v4/leads/notes"),
                );
                let error = client
                    .add_attachment_notes(&EntityType::Leads, &note())
                    .await
                    .expect_err("a lost answer of a non-idempotent call is final");
                assert!(
                    matches!(
                        &error,
                        Error::Transport {
                            operation: Operation::AddNotes,
                            ..
                        }
                    ),
                    "{error:?}"
                );
                assert_eq!(status(&error), None);
                assert_eq!(emulator.requests().len(), 1, "{}", common::log(&emulator));
                stored += 1;

                for action in common::rate_limit_faults() {
                    emulator.clear_faults();
                    emulator.clear_requests();
                    emulator.add_fault(
                        Fault::new(action.clone())
                            .method("POST")
                            .path("/api/v4/leads/notes"),
                    );
                    let comment = AttachmentNote::new(1001, &file.uuid);
                    let created = client
                        .add_file_with_comment(&EntityType::Leads, comment, "429 then fine")
                        .await
                        .unwrap_or_else(|e| panic!("{action:?}: {e}"));
                    assert_eq!(created.notes.len(), 2);
                    assert_eq!(
                        emulator.requests().len(),
                        2,
                        "{action:?}:{}",
                        common::log(&emulator)
                    );
                    stored += 2;
                }
                emulator.clear_faults();
                let notes = client.notes(&EntityType::Leads, 1001).await.unwrap();
                assert_eq!(notes.len(), stored, "{notes:?}");
            }

            /// Faults on downloads: a 5xx before the body is retried; a body cut short is an
            /// error (and `download_to_path` leaves nothing behind); a 404 is final.
            #[$mode]
            pub(crate) async fn download_faults() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let source = common::data(2 * PART + 3, 6);
                let file = client
                    .upload_bytes("a.bin", source.clone(), UploadOptions::new())
                    .await
                    .unwrap();
                let dir = common::TempDir::new();
                let path = dir.path().join("a.bin");

                let mut actions: Vec<(FaultAction, usize)> = common::transient_faults()
                    .into_iter()
                    .filter(|(a, _)| !matches!(a, FaultAction::TruncatedBody))
                    .collect();
                actions.extend(common::rate_limit_faults().into_iter().map(|a| (a, 1)));
                for (action, extra) in actions {
                    for target in ["/download/*", "/storage/*"] {
                        // `Retry-After: 1` on the link; 0 on the redirect target, to be quick.
                        let action = match target {
                            "/download/*" => action.clone(),
                            _ => without_wait(&action),
                        };
                        emulator.clear_faults();
                        emulator.clear_requests();
                        emulator.add_fault(Fault::new(action.clone()).method("GET").path(target));
                        let mut bytes = Vec::new();
                        client
                            .download(&file, &mut bytes)
                            .await
                            .unwrap_or_else(|e| panic!("{action:?} on {target}: {e}"));
                        assert!(bytes == source, "{action:?} on {target}");
                        assert_eq!(
                            emulator.requests().len(),
                            2 + extra,
                            "{action:?} on {target}:{}",
                            common::log(&emulator)
                        );
                    }
                }

                // Bytes already went to the sink: a cut body cannot be retried.
                emulator.clear_faults();
                emulator.clear_requests();
                emulator.add_fault(
                    Fault::new(FaultAction::TruncatedBody)
                        .method("GET")
                        .path("/storage/*"),
                );
                let error = client
                    .download_to_path(&file, &path)
                    .await
                    .expect_err("a body cut short is an error");
                let cut = matches!(
                    &error,
                    Error::Transport {
                        operation: Operation::Download,
                        ..
                    } | Error::Download(DownloadError::Incomplete { .. })
                );
                assert!(cut, "{error:?}");
                assert!(dir.entries().is_empty(), "{:?}", dir.entries());
                assert_eq!(emulator.requests().len(), 2, "{}", common::log(&emulator));

                emulator.clear_faults();
                emulator.clear_requests();
                emulator.add_fault(
                    Fault::new(common::status_fault(404))
                        .method("GET")
                        .path("/download/*"),
                );
                let error = client
                    .download_to_path(&file, &path)
                    .await
                    .expect_err("404 is final");
                assert!(
                    matches!(
                        &error,
                        Error::Api {
                            operation: Operation::Download,
                            ..
                        }
                    ),
                    "{error:?}"
                );
                assert_eq!(status(&error), Some(404));
                assert_eq!(emulator.requests().len(), 1, "{}", common::log(&emulator));
                assert!(dir.entries().is_empty(), "{:?}", dir.entries());
            }

            /// 400, 401, 403 (missing scope, blocked account) on API calls: typed errors with
            /// their status, never retried; a 403 names the scope to grant.
            #[$mode]
            pub(crate) async fn api_refusals_are_typed() {
                let emulator = start(common::emulator()).await;
                emulator.add_token(TokenGrant::new("parity-crm-only", [Scope::Crm]));
                emulator.add_token(TokenGrant::new(
                    "parity-no-delete",
                    [Scope::Crm, Scope::Files],
                ));
                let client = Client::new(common::config(&emulator)).unwrap();
                let file = client
                    .upload_bytes("a.txt", common::data(10, 7), UploadOptions::new())
                    .await
                    .unwrap();

                for (code, hint) in [
                    (400, ""),
                    (401, "invalid or expired"),
                    (403, "Access to files"),
                ] {
                    emulator.clear_requests();
                    emulator.add_fault(
                        Fault::new(common::status_fault(code))
                            .method("GET")
                            .path("/v1.0/files/*"),
                    );
                    let error = client.get_file(&file.uuid).await.expect_err("refused");
                    assert!(
                        matches!(
                            &error,
                            Error::Api {
                                operation: Operation::GetFile,
                                ..
                            }
                        ),
                        "{error:?}"
                    );
                    assert_eq!(status(&error), Some(code));
                    assert!(error.to_string().contains(hint), "{error}");
                    assert_eq!(emulator.requests().len(), 1, "{}", common::log(&emulator));
                    emulator.clear_faults();
                }

                let crm_only =
                    Client::new(common::config_with_token(&emulator, "parity-crm-only")).unwrap();
                emulator.clear_requests();
                let error = crm_only
                    .get_file(&file.uuid)
                    .await
                    .expect_err("no files scope");
                assert_eq!(status(&error), Some(403));
                assert!(error.to_string().contains("\"Access to files\""), "{error}");
                let uploaded = crm_only
                    .upload_bytes("b.txt", &b"b"[..], UploadOptions::new())
                    .await;
                let error = uploaded.expect_err("no files scope");
                assert!(matches!(&error, Error::Upload { .. }), "{error:?}");
                assert_eq!(status(&error), Some(403));
                assert!(error.to_string().contains("\"Access to files\""), "{error}");
                assert!(error.checkpoint().is_none(), "no session was opened");
                // Discovery, get, session: nothing retried.
                assert_eq!(emulator.requests().len(), 3, "{}", common::log(&emulator));

                let no_delete =
                    Client::new(common::config_with_token(&emulator, "parity-no-delete")).unwrap();
                emulator.clear_requests();
                let error = no_delete
                    .delete(&[&file.uuid])
                    .await
                    .expect_err("no delete scope");
                assert!(
                    matches!(
                        &error,
                        Error::Api {
                            operation: Operation::DeleteFiles,
                            ..
                        }
                    ),
                    "{error:?}"
                );
                assert_eq!(status(&error), Some(403));
                assert!(error.to_string().contains("\"Deleting files\""), "{error}");
                assert_eq!(emulator.requests().len(), 2, "{}", common::log(&emulator));
                assert!(!emulator.files()[0].is_trashed);

                let unknown =
                    Client::new(common::config_with_token(&emulator, "parity-unknown")).unwrap();
                emulator.clear_requests();
                let error = unknown
                    .list_page(&FileQuery::new())
                    .await
                    .expect_err("unknown token");
                assert!(
                    matches!(
                        &error,
                        Error::Api {
                            operation: Operation::DiscoverDrive,
                            ..
                        }
                    ),
                    "{error:?}"
                );
                assert_eq!(status(&error), Some(401));
                assert!(error.to_string().contains("invalid or expired"), "{error}");
                assert_eq!(emulator.requests().len(), 1, "{}", common::log(&emulator));

                emulator.update_config(|b| b.blocked = true);
                emulator.clear_requests();
                let error = client.get_file(&file.uuid).await.expect_err("blocked");
                assert_eq!(status(&error), Some(403));
                assert!(
                    error.to_string().contains("7 requests per second"),
                    "{error}"
                );
                let body = error
                    .body()
                    .map(|b| String::from_utf8_lossy(b).into_owned());
                assert!(body.is_some_and(|b| b.contains("<html")), "{error:?}");
                assert_eq!(
                    emulator.requests().len(),
                    1,
                    "a blocked account is not hammered"
                );
            }
        }
    };
}

pub(crate) use scenarios;
