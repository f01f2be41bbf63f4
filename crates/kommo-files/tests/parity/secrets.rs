//! Scenario 9: the token never shows in the `Debug` of a client or a configuration, nor in the
//! `Display`, `Debug` or source chain of the errors these scenarios produce.

/// The secret scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod secrets {
            use kommo_files::model::endpoint::FileQuery;
            use kommo_files::{CancelHandle, ClientConfig, Error, UploadOptions};
            use kommo_files_emulator::{Fault, FaultAction, Scope, TokenGrant};

            use super::{start, Client};
            use crate::common::{self, PART, TOKEN};

            /// Checks `error`, its `Debug`, and every source's `Display` for `secret`.
            fn assert_hidden(what: &str, error: &Error, secret: &str) {
                common::assert_no_secret(what, &error.to_string(), &format!("{error:?}"), secret);
                let mut source = std::error::Error::source(error);
                while let Some(inner) = source {
                    common::assert_no_secret(
                        what,
                        &inner.to_string(),
                        &format!("{inner:?}"),
                        secret,
                    );
                    source = inner.source();
                }
                if let Some(checkpoint) = error.checkpoint() {
                    let json = String::from_utf8(checkpoint.to_json()).unwrap();
                    assert!(
                        !json.contains(secret),
                        "{what}: the checkpoint holds the token"
                    );
                }
            }

            /// A port nothing listens on.
            fn closed_port() -> u16 {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                listener.local_addr().unwrap().port()
            }

            #[$mode]
            pub(crate) async fn token_is_never_shown() {
                let emulator = start(common::emulator()).await;
                let crm_only = "parity-crm-only-5d1e";
                let no_delete = "parity-no-delete-8b0c";
                let unknown = "parity-unknown-token-3f9a";
                emulator.add_token(TokenGrant::new(crm_only, [Scope::Crm]));
                emulator.add_token(TokenGrant::new(no_delete, [Scope::Crm, Scope::Files]));

                let config = common::config(&emulator);
                common::assert_no_secret(
                    "config",
                    &format!("{config:?}"),
                    &format!("{config:#?}"),
                    TOKEN,
                );
                let client = Client::new(config.clone()).unwrap();
                common::assert_no_secret(
                    "client",
                    &format!("{client:?}"),
                    &format!("{client:#?}"),
                    TOKEN,
                );
                let file = client
                    .upload_bytes("a.txt", common::data(3 * PART, 1), UploadOptions::new())
                    .await
                    .unwrap();

                let mut errors: Vec<(&str, Error, &str)> = Vec::new();

                let stranger = Client::new(common::config_with_token(&emulator, unknown)).unwrap();
                let error = stranger
                    .list_page(&FileQuery::new())
                    .await
                    .expect_err("401");
                assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
                errors.push(("401", error, unknown));

                let reader = Client::new(common::config_with_token(&emulator, crm_only)).unwrap();
                let error = reader.get_file(&file.uuid).await.expect_err("403");
                assert_eq!(error.status().map(|s| s.as_u16()), Some(403));
                errors.push(("403", error, crm_only));
                let error = reader
                    .upload_bytes("b", &b"b"[..], UploadOptions::new())
                    .await
                    .expect_err("403");
                errors.push(("403 upload", error, crm_only));

                let keeper = Client::new(common::config_with_token(&emulator, no_delete)).unwrap();
                let error = keeper.delete(&[&file.uuid]).await.expect_err("403");
                assert_eq!(error.status().map(|s| s.as_u16()), Some(403));
                errors.push(("403 delete", error, no_delete));

                let nowhere = format!("http://127.0.0.1:{}", closed_port());
                let config = ClientConfig::for_url(&nowhere, TOKEN)
                    .unwrap()
                    .retry(common::fast_retry());
                let offline = Client::new(config).unwrap();
                let error = offline
                    .get_file(&file.uuid)
                    .await
                    .expect_err("connection refused");
                assert!(matches!(&error, Error::Transport { .. }), "{error:?}");
                errors.push(("connect", error, TOKEN));

                emulator.add_fault(
                    Fault::new(FaultAction::CloseBeforeBody)
                        .method("GET")
                        .path("/v1.0/files/*")
                        .every(),
                );
                let error = client
                    .get_file(&file.uuid)
                    .await
                    .expect_err("connection closed");
                assert!(matches!(&error, Error::Transport { .. }), "{error:?}");
                errors.push(("closed", error, TOKEN));
                emulator.clear_faults();

                emulator.add_fault(
                    Fault::new(common::status_fault(401))
                        .method("POST")
                        .path("/upload/*")
                        .nth(2),
                );
                let error = client
                    .upload_bytes("c.bin", common::data(2 * PART, 2), UploadOptions::new())
                    .await
                    .expect_err("401 on a part");
                assert!(error.checkpoint().is_some());
                errors.push(("401 part", error, TOKEN));
                emulator.clear_faults();

                emulator.add_fault(
                    Fault::new(common::status_fault(503))
                        .method("POST")
                        .path("/upload/*")
                        .every(),
                );
                let error = client
                    .upload_bytes("d.bin", common::data(PART, 3), UploadOptions::new())
                    .await
                    .expect_err("retries run out");
                errors.push(("503 part", error, TOKEN));
                emulator.clear_faults();

                emulator.add_fault(
                    Fault::new(FaultAction::CloseBeforeBody)
                        .method("POST")
                        .path("/upload/*")
                        .every(),
                );
                let error = client
                    .upload_bytes("e.bin", common::data(PART, 4), UploadOptions::new())
                    .await
                    .expect_err("the connection always closes");
                errors.push(("closed part", error, TOKEN));
                emulator.clear_faults();

                let cancel = CancelHandle::new();
                let stop = cancel.clone();
                let options = UploadOptions::new()
                    .cancel_handle(cancel)
                    .on_progress(move |_| stop.cancel());
                common::assert_no_secret("options", "", &format!("{options:?}"), TOKEN);
                let error = client
                    .upload_bytes("f.bin", common::data(2 * PART, 5), options)
                    .await
                    .expect_err("cancelled");
                assert!(
                    matches!(
                        &error,
                        Error::Cancelled {
                            checkpoint: Some(_),
                            ..
                        }
                    ),
                    "{error:?}"
                );
                errors.push(("cancelled", error, TOKEN));

                emulator.add_fault(
                    Fault::new(FaultAction::TruncatedBody)
                        .method("GET")
                        .path("/storage/*"),
                );
                let error = client
                    .download(&file, &mut Vec::new())
                    .await
                    .expect_err("cut short");
                errors.push(("download", error, TOKEN));

                for (what, error, secret) in &errors {
                    assert_hidden(what, error, secret);
                    assert_hidden(what, error, TOKEN);
                }
            }
        }
    };
}

pub(crate) use scenarios;
