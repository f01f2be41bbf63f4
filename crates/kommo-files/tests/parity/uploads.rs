//! Scenario 2: uploads of every interesting size through every source, each checked against
//! the bytes the emulator stored and the requests it saw.

/// The upload scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod uploads {
            use kommo_files::UploadOptions;
            use kommo_files_emulator::{PartStatus, UploadUrlShape};

            use super::{start, Client};
            use crate::common::{self, ProgressLog, PART};

            /// 0, 1, part-size, part-size + 1 and multi-MiB bytes through `upload_bytes`,
            /// `upload_reader` and `upload_path`: the exact bytes are stored, and exactly a
            /// session plus one request a part are sent (the drive is discovered once).
            #[$mode]
            pub(crate) async fn every_size_through_every_source() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let dir = common::TempDir::new();
                let mut discoveries = 0;
                let sizes = [0, 1, PART, PART + 1, 2 * 1024 * 1024 + 3];
                for (seed, size) in sizes.into_iter().enumerate() {
                    let source = common::data(size, seed as u8);
                    let path = dir.path().join(format!("source-{size}.bin"));
                    std::fs::write(&path, &source).unwrap();
                    for via in ["bytes", "reader", "path"] {
                        emulator.clear_requests();
                        let progress = ProgressLog::default();
                        let options = UploadOptions::new().on_progress(progress.callback());
                        let uploaded = match via {
                            "bytes" => {
                                client
                                    .upload_bytes("source.bin", source.clone(), options)
                                    .await
                            }
                            "reader" => {
                                client
                                    .upload_reader("source.bin", &source[..], size, options)
                                    .await
                            }
                            _ => client.upload_path(&path, options).await,
                        };
                        let file = uploaded.unwrap_or_else(|e| panic!("{via} {size}: {e}"));
                        assert_eq!(file.size, size, "{via}");
                        assert_eq!(
                            common::active_sha256(&emulator, &file.uuid),
                            common::sha256_hex(&source),
                            "{via} {size}"
                        );
                        discoveries += common::count(&emulator, common::is_discovery);
                        let uploads = common::only_uploads(&emulator);
                        assert_eq!(
                            uploads,
                            common::upload_requests(size),
                            "{via} {size}:{}",
                            common::log(&emulator)
                        );
                        let sent: u64 = emulator
                            .requests()
                            .iter()
                            .filter(|r| common::is_part(r))
                            .map(|r| r.bytes_in)
                            .sum();
                        assert_eq!(sent, size, "{via}: every byte is sent once");
                        progress.assert_complete(size);
                    }
                }
                assert_eq!(
                    discoveries, 1,
                    "the drive host is discovered once per client"
                );
                assert_eq!(
                    dir.entries().len(),
                    sizes.len(),
                    "only the sources are left"
                );
            }

            /// Both part statuses (202 live, 200 documented) and both upload URL shapes.
            #[$mode]
            pub(crate) async fn every_server_dialect() {
                for (status, shape) in [
                    (PartStatus::Accepted202, UploadUrlShape::Sessions),
                    (PartStatus::Ok200, UploadUrlShape::Upload),
                    (PartStatus::Ok200, UploadUrlShape::Sessions),
                ] {
                    let emulator = start(
                        common::emulator()
                            .part_status(status)
                            .upload_url_shape(shape),
                    )
                    .await;
                    let client = Client::new(common::config(&emulator)).unwrap();
                    for size in [0, 2 * PART + 1] {
                        emulator.clear_requests();
                        let source = common::data(size, 9);
                        let progress = ProgressLog::default();
                        let options = UploadOptions::new().on_progress(progress.callback());
                        let file = client
                            .upload_bytes("a.bin", source.clone(), options)
                            .await
                            .unwrap();
                        assert_eq!(
                            common::active_sha256(&emulator, &file.uuid),
                            common::sha256_hex(&source),
                            "{status:?} {shape:?}"
                        );
                        assert_eq!(
                            common::only_uploads(&emulator),
                            common::upload_requests(size),
                            "{status:?} {shape:?}:{}",
                            common::log(&emulator)
                        );
                        progress.assert_complete(size);
                    }
                }
            }

            /// The emulator's default part size (512 KiB, as the live drive host announces):
            /// 3 MiB + 7 bytes in 7 parts, downloaded back whole.
            #[$mode]
            pub(crate) async fn default_part_size() {
                let part = kommo_files_emulator::DEFAULT_MAX_PART_SIZE;
                let emulator = start(common::emulator().max_part_size(part)).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let size = 3 * 1024 * 1024 + 7;
                let source = common::data(size, 11);
                let progress = ProgressLog::default();
                let options = UploadOptions::new().on_progress(progress.callback());
                let file = client
                    .upload_bytes("big.bin", source.clone(), options)
                    .await
                    .unwrap();
                common::assert_stored(&emulator, &file.uuid, &source);
                common::assert_uploads(&emulator, 7 + 1);
                progress.assert_complete(size);
                let mut bytes = Vec::new();
                client.download(&file, &mut bytes).await.unwrap();
                assert!(bytes == source, "downloaded bytes differ");
            }

            /// The session carries the options: a new name, the content type, a new version.
            #[$mode]
            pub(crate) async fn options_reach_the_server() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let dir = common::TempDir::new();
                let path = dir.path().join("scan-0001.tmp");
                std::fs::write(&path, b"%PDF-1.7").unwrap();
                let options = UploadOptions::new()
                    .file_name("contract.pdf")
                    .content_type("application/pdf");
                let file = client.upload_path(&path, options).await.unwrap();
                assert_eq!(file.name_with_extension(), "contract.pdf");
                let mime = file.metadata.as_ref().and_then(|m| m.mime_type.as_deref());
                assert_eq!(mime, Some("application/pdf"));

                let plain = client
                    .upload_path(&path, UploadOptions::new())
                    .await
                    .unwrap();
                assert_eq!(plain.name_with_extension(), "scan-0001.tmp");

                let options = UploadOptions::new().new_version_of(&file.uuid);
                let second = client
                    .upload_bytes("contract.pdf", &b"%PDF-2.0"[..], options)
                    .await
                    .unwrap();
                assert_eq!(second.uuid, file.uuid);
                assert_eq!(emulator.files().len(), 2);
                assert_eq!(
                    common::active_sha256(&emulator, &file.uuid),
                    common::sha256_hex(b"%PDF-2.0")
                );
            }
        }
    };
}

pub(crate) use scenarios;
