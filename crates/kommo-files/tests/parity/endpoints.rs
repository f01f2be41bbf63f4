//! Scenario 1: every endpoint, under each of the emulator's answers where the public sources
//! disagree (missing file 404/204, delete 204/200, attach 202/200, download 301/200).

/// The endpoint scenarios, for one flavour (see the crate docs).
macro_rules! scenarios {
    ($mode:meta) => {
        pub(crate) mod endpoints {
            use kommo_files::model::endpoint::{EntityFilesQuery, FileQuery};
            use kommo_files::model::wire::{AttachmentNote, EntityType, FileFieldValue};
            use kommo_files::UploadOptions;
            use kommo_files_emulator::{
                AttachStatus, DeleteStatus, DownloadStatus, MissingFileStatus,
            };

            use super::{start, Client};
            use crate::common::{self, PART};

            /// `list` follows every page of a small `limit`; `list_page` + `next_page` do the
            /// same by hand; neither asks for a page twice or one too many.
            #[$mode]
            pub(crate) async fn list_follows_every_page() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let mut uploaded = Vec::new();
                for i in 0..5u8 {
                    let name = format!("file-{i}.txt");
                    let bytes = common::data(10 + u64::from(i), i);
                    let file = client
                        .upload_bytes(&name, bytes, UploadOptions::new())
                        .await
                        .unwrap();
                    uploaded.push(file.uuid);
                }
                // The emulator lists newest first.
                uploaded.reverse();

                emulator.clear_requests();
                let mut files = client.list(FileQuery::new().limit(2));
                let mut listed = Vec::new();
                while let Some(file) = files.next().await {
                    listed.push(file.unwrap().uuid);
                }
                assert_eq!(listed, uploaded);
                let pages = common::count(&emulator, |r| {
                    r.method == "GET" && r.path.starts_with("/v1.0/files?")
                });
                assert_eq!(pages, 3, "5 files, 2 a page:{}", common::log(&emulator));
                assert_eq!(emulator.requests().len(), 3, "{}", common::log(&emulator));

                emulator.clear_requests();
                let mut page = client.list_page(&FileQuery::new().limit(2)).await.unwrap();
                let mut paged: Vec<String> = page.files.iter().map(|f| f.uuid.clone()).collect();
                loop {
                    let next = client.next_page(&page).await.unwrap();
                    let Some(next) = next else { break };
                    paged.extend(next.files.iter().map(|f| f.uuid.clone()));
                    page = next;
                }
                assert_eq!(paged, uploaded);
                assert_eq!(emulator.requests().len(), 3, "{}", common::log(&emulator));

                // An empty listing (204) ends at once.
                emulator.clear_requests();
                let mut files = client.list(FileQuery::new().deleted(true));
                let first = files.next().await;
                assert!(first.is_none(), "{first:?}");
                assert_eq!(emulator.requests().len(), 1, "{}", common::log(&emulator));
            }

            /// Get (present, and missing as `None` whether the server says 404 or 204), rename,
            /// a new version, versions, downloading a given version, switching the active one.
            #[$mode]
            pub(crate) async fn files_and_versions() {
                for missing in [
                    MissingFileStatus::NotFound404,
                    MissingFileStatus::NoContent204,
                ] {
                    let emulator = start(common::emulator().missing_file_status(missing)).await;
                    let client = Client::new(common::config(&emulator)).unwrap();
                    let v1 = common::data(PART + 10, 1);
                    let options = UploadOptions::new().content_type("text/plain");
                    let file = client
                        .upload_bytes("report.txt", v1.clone(), options)
                        .await
                        .unwrap();
                    assert_eq!(file.size, v1.len() as u64);
                    let first_version = file.version_uuid.clone().expect("a version uuid");

                    let got = client.get_file(&file.uuid).await.unwrap().expect("present");
                    assert_eq!(got.uuid, file.uuid);
                    assert_eq!(got.version_uuid, file.version_uuid);
                    assert_eq!(got.size, file.size);
                    let absent = client
                        .get_file("00000000-0000-4000-8000-000000000000")
                        .await
                        .unwrap();
                    assert!(absent.is_none(), "{missing:?}: {absent:?}");

                    let renamed = client.rename(&file.uuid, "final.txt").await.unwrap();
                    assert_eq!(renamed.uuid, file.uuid);
                    assert_eq!(renamed.name_with_extension(), "final.txt");
                    let got = client.get_file(&file.uuid).await.unwrap().expect("present");
                    assert_eq!(got.name_with_extension(), "final.txt");

                    let v2 = common::data(2 * PART + 1, 2);
                    let options = UploadOptions::new().new_version_of(&file.uuid);
                    let second = client
                        .upload_bytes("final.txt", v2.clone(), options)
                        .await
                        .unwrap();
                    assert_eq!(second.uuid, file.uuid);
                    assert_ne!(second.version_uuid.as_deref(), Some(first_version.as_str()));
                    assert!(second.has_multiple_versions);
                    common::assert_stored(&emulator, &file.uuid, &v2);
                    assert_eq!(
                        common::version_sha256(&emulator, &first_version),
                        common::sha256_hex(&v1)
                    );

                    let versions = client.versions(&file.uuid).await.unwrap();
                    assert_eq!(versions.len(), 2);
                    let old = versions
                        .iter()
                        .find(|v| v.uuid == first_version)
                        .expect("the first version is listed");
                    assert!(!old.is_main);
                    let new = versions.iter().find(|v| v.uuid != first_version).unwrap();
                    assert!(new.is_main);

                    let mut bytes = Vec::new();
                    let written = client.download_version(old, &mut bytes).await.unwrap();
                    assert_eq!(written, v1.len() as u64);
                    assert!(bytes == v1, "the first version's bytes");
                    let mut bytes = Vec::new();
                    client.download(&second, &mut bytes).await.unwrap();
                    assert!(bytes == v2, "the active version's bytes");

                    let switched = client
                        .set_active_version(
                            &file.uuid,
                            kommo_files::VersionUuid::new(&first_version),
                        )
                        .await
                        .unwrap();
                    assert_eq!(
                        switched.version_uuid.as_deref(),
                        Some(first_version.as_str())
                    );
                    common::assert_stored(&emulator, &file.uuid, &v1);
                    let got = client.get_file(&file.uuid).await.unwrap().expect("present");
                    let mut bytes = Vec::new();
                    client.download(&got, &mut bytes).await.unwrap();
                    assert!(bytes == v1, "the active version is the first again");
                    assert!(
                        emulator
                            .requests()
                            .iter()
                            .all(|r| r.status.is_some_and(|s| s < 400)
                                || (r.status == Some(404) && r.path.contains("00000000-"))),
                        "{}",
                        common::log(&emulator)
                    );
                }
            }

            /// Delete moves files to the trash (the server answering 204 or 200 `{}`); restore
            /// brings back the ones asked for.
            #[$mode]
            pub(crate) async fn delete_and_restore() {
                for status in [DeleteStatus::NoContent204, DeleteStatus::OkEmptyObject200] {
                    let emulator = start(common::emulator().delete_status(status)).await;
                    let client = Client::new(common::config(&emulator)).unwrap();
                    let a = client
                        .upload_bytes("a.txt", common::data(5, 1), UploadOptions::new())
                        .await
                        .unwrap();
                    let b = client
                        .upload_bytes("b.txt", common::data(7, 2), UploadOptions::new())
                        .await
                        .unwrap();

                    client.delete(&[&a.uuid, &b.uuid]).await.unwrap();
                    let trashed: Vec<bool> =
                        emulator.files().iter().map(|f| f.is_trashed).collect();
                    assert_eq!(trashed, [true, true], "{status:?}");
                    let mut live = client.list(FileQuery::new());
                    let first = live.next().await;
                    assert!(first.is_none(), "{status:?}: {first:?}");
                    let mut in_trash = Vec::new();
                    let mut deleted = client.list(FileQuery::new().deleted(true));
                    while let Some(file) = deleted.next().await {
                        let file = file.unwrap();
                        assert!(file.is_trashed);
                        in_trash.push(file.uuid);
                    }
                    in_trash.sort();
                    let mut expected = vec![a.uuid.clone(), b.uuid.clone()];
                    expected.sort();
                    assert_eq!(in_trash, expected);

                    let restored = client.restore(&[&a.uuid]).await.unwrap();
                    assert_eq!(restored.len(), 1);
                    assert_eq!(restored[0].uuid, a.uuid);
                    assert!(!restored[0].is_trashed);
                    for stored in emulator.files() {
                        assert_eq!(stored.is_trashed, stored.uuid == b.uuid, "{status:?}");
                    }
                    let got = client.get_file(&a.uuid).await.unwrap().expect("restored");
                    assert!(!got.is_trashed);
                }
            }

            /// Attach, list and detach on every entity type (the server answering 202 or
            /// 200 `{}`), and the reverse lookup of a file's entities.
            #[$mode]
            pub(crate) async fn entity_links() {
                for status in [AttachStatus::Accepted202, AttachStatus::OkEmptyObject200] {
                    let emulator = start(common::emulator().attach_status(status)).await;
                    let client = Client::new(common::config(&emulator)).unwrap();
                    let file = client
                        .upload_bytes("deal.pdf", common::data(100, 3), UploadOptions::new())
                        .await
                        .unwrap();
                    let other = client
                        .upload_bytes("other.pdf", common::data(50, 4), UploadOptions::new())
                        .await
                        .unwrap();
                    let targets = [
                        (EntityType::Leads, 1001),
                        (EntityType::Contacts, 2001),
                        (EntityType::Companies, 3001),
                        (EntityType::Customers, 4001),
                    ];
                    for (entity, id) in &targets {
                        client
                            .attach(entity, *id, &[&file.uuid, &other.uuid])
                            .await
                            .unwrap();
                        let links = client
                            .entity_files(entity, *id, &EntityFilesQuery::default())
                            .await
                            .unwrap();
                        let mut linked: Vec<&str> =
                            links.files.iter().map(|l| l.file_uuid.as_str()).collect();
                        linked.sort_unstable();
                        let mut expected = vec![file.uuid.as_str(), other.uuid.as_str()];
                        expected.sort_unstable();
                        assert_eq!(linked, expected, "{entity} {status:?}");
                        // One link a page, from the newest: the paging the model describes.
                        let query = EntityFilesQuery::new(Some(1), None);
                        let first = client.entity_files(entity, *id, &query).await.unwrap();
                        assert_eq!(first.files.len(), 1, "{entity}");
                        let query = EntityFilesQuery::new(Some(1), first.next_before_id());
                        let second = client.entity_files(entity, *id, &query).await.unwrap();
                        assert_eq!(second.files.len(), 1, "{entity}");
                        assert_ne!(second.files[0].file_uuid, first.files[0].file_uuid);
                    }

                    let linked = client.file_entities(&file.uuid).await.unwrap();
                    let mut ids: Vec<i64> = linked.entities.iter().map(|e| e.id).collect();
                    ids.sort_unstable();
                    assert_eq!(ids, [1001, 2001, 3001, 4001], "{status:?}");
                    for entity in &linked.entities {
                        let expected = targets.iter().find(|(_, id)| *id == entity.id).unwrap();
                        assert_eq!(entity.entity_type.as_ref(), Some(&expected.0));
                    }

                    for (entity, id) in &targets {
                        client.detach(entity, *id, &[&file.uuid]).await.unwrap();
                        let links = client
                            .entity_files(entity, *id, &EntityFilesQuery::default())
                            .await
                            .unwrap();
                        let linked: Vec<&str> =
                            links.files.iter().map(|l| l.file_uuid.as_str()).collect();
                        assert_eq!(linked, [other.uuid.as_str()], "{entity} {status:?}");
                    }
                    let linked = client.file_entities(&file.uuid).await.unwrap();
                    assert!(linked.entities.is_empty(), "{:?}", linked.entities);
                    let linked = client.file_entities(&other.uuid).await.unwrap();
                    assert_eq!(linked.entities.len(), 4);
                }
            }

            /// Attachment notes, a file with a comment (two notes with the same `created_at`,
            /// read back), and a `file` custom field set and read back.
            #[$mode]
            pub(crate) async fn notes_and_file_field() {
                let emulator = start(common::emulator()).await;
                let client = Client::new(common::config(&emulator)).unwrap();
                let file = client
                    .upload_bytes("scan.pdf", common::data(300, 5), UploadOptions::new())
                    .await
                    .unwrap();

                let note = AttachmentNote::new(1001, &file.uuid).file_name("scan.pdf");
                let created = client
                    .add_attachment_notes(&EntityType::Leads, &[note])
                    .await
                    .unwrap();
                assert_eq!(created.notes.len(), 1);
                let notes = client.notes(&EntityType::Leads, 1001).await.unwrap();
                assert_eq!(notes.len(), 1);
                assert_eq!(notes[0].id, created.notes[0].id);
                let attachment = notes[0].attachment().expect("an attachment note");
                assert_eq!(attachment.file_uuid, file.uuid);

                let note = AttachmentNote::new(2001, &file.uuid).file_name("scan.pdf");
                let created = client
                    .add_file_with_comment(&EntityType::Contacts, note, "Signed by both")
                    .await
                    .unwrap();
                assert_eq!(created.notes.len(), 2);
                let notes = client.notes(&EntityType::Contacts, 2001).await.unwrap();
                assert_eq!(notes.len(), 2, "{notes:?}");
                let attachment = notes
                    .iter()
                    .find(|n| n.note_type.as_deref() == Some("attachment"))
                    .expect("the attachment note");
                let comment = notes
                    .iter()
                    .find(|n| n.note_type.as_deref() == Some("common"))
                    .expect("the comment note");
                assert!(attachment.created_at.is_some());
                assert_eq!(attachment.created_at, comment.created_at);
                assert_eq!(attachment.attachment().unwrap().file_uuid, file.uuid);
                let text = comment.params.as_ref().and_then(|p| p.get("text"));
                assert_eq!(text.and_then(|t| t.as_str()), Some("Signed by both"));

                let field = kommo_files_emulator::FILE_FIELD_ID_LEADS as i64;
                let value = FileFieldValue::from_file(&file);
                client
                    .set_file_field(&EntityType::Leads, 1001, field, &[value])
                    .await
                    .unwrap();
                let values = client
                    .file_field(&EntityType::Leads, 1001, field)
                    .await
                    .unwrap();
                assert_eq!(values.len(), 1);
                assert_eq!(values[0].value.file_uuid, file.uuid);
                assert_eq!(values[0].value.version_uuid, file.version_uuid);
                assert!(!values[0].is_deleted);
                let untouched = client
                    .file_field(&EntityType::Leads, 1002, field)
                    .await
                    .unwrap();
                assert!(untouched.is_empty(), "{untouched:?}");
            }

            /// Downloads of the active version and of a given one, to memory and to a path
            /// (nothing else left in the directory), with the link answering 301 or 200.
            #[$mode]
            pub(crate) async fn downloads() {
                for status in [DownloadStatus::MovedPermanently301, DownloadStatus::Ok200] {
                    let emulator = start(common::emulator().download_status(status)).await;
                    let client = Client::new(common::config(&emulator)).unwrap();
                    let source = common::data(3 * PART + 7, 6);
                    let file = client
                        .upload_bytes("photo.bin", source.clone(), UploadOptions::new())
                        .await
                        .unwrap();

                    emulator.clear_requests();
                    let mut bytes = Vec::new();
                    let written = client.download(&file, &mut bytes).await.unwrap();
                    assert_eq!(written, source.len() as u64);
                    assert!(bytes == source, "{status:?}: downloaded bytes differ");
                    let hops = match status {
                        DownloadStatus::MovedPermanently301 => 2,
                        _ => 1,
                    };
                    assert_eq!(
                        emulator.requests().len(),
                        hops,
                        "{}",
                        common::log(&emulator)
                    );

                    let versions = client.versions(&file.uuid).await.unwrap();
                    let mut bytes = Vec::new();
                    client
                        .download_version(&versions[0], &mut bytes)
                        .await
                        .unwrap();
                    assert!(bytes == source, "{status:?}: version bytes differ");

                    let listed = client.list_page(&FileQuery::new()).await.unwrap();
                    let mut bytes = Vec::new();
                    client.download(&listed.files[0], &mut bytes).await.unwrap();
                    assert!(bytes == source, "{status:?}: bytes of a listed file differ");

                    let dir = common::TempDir::new();
                    let path = dir.path().join("copy.bin");
                    let written = client.download_to_path(&file, &path).await.unwrap();
                    assert_eq!(written, source.len() as u64);
                    assert!(
                        std::fs::read(&path).unwrap() == source,
                        "{status:?}: file differs"
                    );
                    assert_eq!(dir.entries(), ["copy.bin"]);
                    // Replacing an existing file works the same way, and progress only grows,
                    // up to the size.
                    std::fs::write(&path, b"stale").unwrap();
                    let mut seen = Vec::new();
                    client
                        .download_link_to_path_with_progress(
                            file.download_url().unwrap(),
                            &path,
                            |p| seen.push((p.acknowledged, p.total)),
                        )
                        .await
                        .unwrap();
                    let size = source.len() as u64;
                    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
                    assert_eq!(seen.last(), Some(&(size, size)), "{status:?}");
                    assert!(
                        std::fs::read(&path).unwrap() == source,
                        "{status:?}: file differs"
                    );
                    assert_eq!(dir.entries(), ["copy.bin"]);
                }
            }
        }
    };
}

pub(crate) use scenarios;
