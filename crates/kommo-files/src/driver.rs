//! The driver template: the whole client written once, expanded twice.
//!
//! `client_driver!` is expanded in [`crate::blocking`] with `maybe_async::must_be_sync` (which
//! strips `async` and `.await`) and in the async client with `maybe_async::must_be_async(AFIT)`.
//! Neither expansion depends on a Cargo feature, so both clients live in one build.
//!
//! Names the template leaves open, each module defines them:
//! - `Transport` (the object-safe transport handle) and `DriveCell` (the cached drive host),
//!   with `Client::drive` and `Client::sleep`;
//! - `UploadRead` / `DownloadWrite`, the source and destination bounds, `fs` (std or tokio) and
//!   `files_available` (whether `fs` can be used here);
//! - the I/O extension traits in scope (`read_exact`, `seek`, `write_all`, `flush`).
//!
//! `$setup` and `$await` make each method's doc example compile in its own flavour.

macro_rules! client_driver {
    ($mode:meta, $flavour:literal, $setup:literal, $teardown:literal, $await:literal) => {
        /// A Kommo Files client: cheap to clone, and clones share connections, the cached drive
        /// host and the request pacing.
        #[derive(Clone)]
        pub struct Client {
            inner: std::sync::Arc<Inner>,
        }

        struct Inner {
            config: $crate::ClientConfig,
            account: kommo_files_model::endpoint::AccountHost,
            transport: Transport,
            pacer: $crate::pacer::Pacer,
            drive: DriveCell,
        }

        impl std::fmt::Debug for Client {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("Client")
                    .field("config", &self.inner.config)
                    .finish_non_exhaustive()
            }
        }

        impl Client {
            fn from_parts(config: $crate::ClientConfig, transport: Transport) -> Self {
                let account = kommo_files_model::endpoint::AccountHost::new(
                    config.account.clone(),
                    config.token.clone(),
                );
                let drive = DriveCell::default();
                if let Some(base) = &config.drive {
                    Self::preset_drive(
                        &drive,
                        kommo_files_model::endpoint::DriveHost::new(base.clone(), config.token.clone()),
                    );
                }
                Self {
                    inner: std::sync::Arc::new(Inner {
                        pacer: $crate::pacer::Pacer::new(config.requests_per_second),
                        account,
                        transport,
                        drive,
                        config,
                    }),
                }
            }

            /// The configuration this client was made with.
            pub fn config(&self) -> &$crate::ClientConfig {
                &self.inner.config
            }

        }

        /// Where an upload's bytes come from.
        #[$mode]
        trait PartSource: Send {
            async fn read_part(&mut self, offset: u64, len: usize) -> std::io::Result<bytes::Bytes>;

            /// Whether the source can be read again from byte 0 (a restarted upload needs it).
            fn can_restart(&self) -> bool {
                true
            }

            /// Whether any earlier bytes can be read again at any time, so that the prefix a
            /// checkpoint hashes can be read when the checkpoint is wanted.
            fn rereadable(&self) -> bool {
                true
            }
        }

        /// Bytes in memory.
        struct BytesSource(bytes::Bytes);

        /// A file, read where the upload asks (restarts and resumes can go back).
        struct FileSource {
            file: fs::File,
            /// Where the next read starts without a seek (an async seek is a trip to tokio's
            /// blocking pool, paid for every part if made each time); `None` when unknown.
            position: Option<u64>,
        }

        impl FileSource {
            fn new(file: fs::File) -> Self {
                Self { file, position: Some(0) }
            }
        }

        /// A reader read once from its start: it cannot go back, so a restart fails.
        struct ReaderSource<R> {
            reader: R,
            position: u64,
        }

        #[$mode]
        impl PartSource for BytesSource {
            async fn read_part(&mut self, offset: u64, len: usize) -> std::io::Result<bytes::Bytes> {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                match start.checked_add(len).filter(|end| *end <= self.0.len()) {
                    Some(end) => Ok(self.0.slice(start..end)),
                    None => Err(std::io::ErrorKind::UnexpectedEof.into()),
                }
            }
        }

        #[$mode]
        impl PartSource for FileSource {
            async fn read_part(&mut self, offset: u64, len: usize) -> std::io::Result<bytes::Bytes> {
                if self.position.take() != Some(offset) {
                    self.file.seek(std::io::SeekFrom::Start(offset)).await?;
                }
                let mut buffer = vec![0; len];
                let _ = self.file.read_exact(&mut buffer).await?;
                self.position = Some(offset + len as u64);
                Ok(bytes::Bytes::from(buffer))
            }
        }

        #[$mode]
        impl<R: UploadRead> PartSource for ReaderSource<R> {
            async fn read_part(&mut self, offset: u64, len: usize) -> std::io::Result<bytes::Bytes> {
                if offset != self.position {
                    return Err(cannot_rewind(self.position));
                }
                let mut buffer = vec![0; len];
                let _ = self.reader.read_exact(&mut buffer).await?;
                self.position += len as u64;
                Ok(bytes::Bytes::from(buffer))
            }
            fn can_restart(&self) -> bool {
                self.position == 0
            }
            fn rereadable(&self) -> bool {
                false
            }
        }

        /// A reader that already gave bytes away cannot give them again.
        fn cannot_rewind(position: u64) -> std::io::Error {
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!(
                    "the reader is at byte {position} and cannot go back to byte 0 \
                     (a restarted upload needs a file or bytes)"
                ),
            )
        }

        #[$mode]
        impl Client {
            // ---- plumbing -------------------------------------------------------------

            /// Waits for the shared rate, then sends one attempt.
            async fn send_once(
                &self,
                context: kommo_files_transport::OperationContext,
                request: kommo_files_transport::Request,
            ) -> Result<kommo_files_transport::Response, kommo_files_transport::TransportError> {
                self.paced().await;
                let request = $crate::support::prepare(request, context, &self.inner.config.user_agent);
                self.inner.transport.send(request).await
            }

            /// Sleeps `duration`, waking every 50 ms to stop early if `cancel` fires.
            async fn pause(&self, duration: std::time::Duration, cancel: &$crate::CancelHandle) {
                const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(50);
                let deadline = std::time::Instant::now() + duration;
                while !cancel.is_cancelled() {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.sleep(left.min(CANCEL_POLL)).await;
                }
            }

            async fn paced(&self) {
                let delay = self.inner.pacer.reserve();
                if !delay.is_zero() {
                    self.sleep(delay).await;
                }
            }

            /// Sends an API request, retrying what is safe to retry: 429 always (it was not
            /// processed), 408/5xx and broken connections only when `idempotent`.
            async fn execute(
                &self,
                operation: kommo_files_transport::Operation,
                idempotent: bool,
                request: kommo_files_transport::Request,
            ) -> Result<kommo_files_transport::Response, $crate::Error> {
                let mut retrier = $crate::support::Retrier::new(self.inner.config.retry);
                loop {
                    let context = kommo_files_transport::OperationContext::new(operation, idempotent)
                        .attempt(retrier.attempt());
                    match self.send_once(context, request.clone()).await {
                        Ok(response) => {
                            let status = response.status();
                            let retryable = status == http::StatusCode::TOO_MANY_REQUESTS
                                || (idempotent
                                    && kommo_files_model::retry::is_retryable_status(status));
                            if !retryable {
                                return Ok(response);
                            }
                            let hint = kommo_files_model::RetryAfter::from_headers(response.headers())
                                .map(|after| after.delay_from(std::time::SystemTime::now()));
                            match retrier.failed(hint) {
                                Some(delay) => self.sleep(delay).await,
                                None => return Ok(response),
                            }
                        }
                        Err(error) => {
                            let delay = if error.is_retry_safe(idempotent) {
                                retrier.failed(None)
                            } else {
                                None
                            };
                            match delay {
                                Some(delay) => self.sleep(delay).await,
                                None => return Err($crate::Error::Transport { operation, error }),
                            }
                        }
                    }
                }
            }

            /// [`Client::execute`], then `parse`.
            async fn call<T>(
                &self,
                operation: kommo_files_transport::Operation,
                idempotent: bool,
                request: kommo_files_transport::Request,
                parse: fn(&kommo_files_transport::Response) -> Result<T, kommo_files_model::ApiError>,
            ) -> Result<T, $crate::Error> {
                let response = self.execute(operation, idempotent, request).await?;
                parse(&response).map_err(|error| $crate::Error::Api { operation, error })
            }

            /// Asks the account for its drive host (`GET /api/v4/account?with=drive_url`).
            async fn discover_drive(
                &self,
            ) -> Result<kommo_files_model::endpoint::DriveHost, $crate::Error> {
                let base = self
                    .call(
                        kommo_files_transport::Operation::DiscoverDrive,
                        true,
                        kommo_files_model::endpoint::account_request(&self.inner.account),
                        kommo_files_model::endpoint::parse_drive_url,
                    )
                    .await?;
                Ok(kommo_files_model::endpoint::DriveHost::new(base, self.inner.config.token.clone()))
            }

            // ---- files ----------------------------------------------------------------

            /// One page of files matching `query` (see also [`Client::list`]).
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::model::endpoint::FileQuery;\n",
                "let page = client.list_page(&FileQuery::new().extension(\"pdf\").limit(50))", $await, "?;\n",
                "for file in &page.files { println!(\"{} {}\", file.uuid, file.name); }\n",
                $teardown, "```")]
            pub async fn list_page(
                &self,
                query: &kommo_files_model::endpoint::FileQuery,
            ) -> Result<kommo_files_model::wire::FilePage, $crate::Error> {
                self.fetch_page(&$crate::pages::Cursor::Query(Box::new(query.clone())))
                    .await
            }

            /// The page after `page`, or `None` on the last one.
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::model::endpoint::FileQuery;\n",
                "let mut page = client.list_page(&FileQuery::new().limit(10))", $await, "?;\n",
                "while let Some(next) = client.next_page(&page)", $await, "? { page = next; }\n",
                $teardown, "```")]
            pub async fn next_page(
                &self,
                page: &kommo_files_model::wire::FilePage,
            ) -> Result<Option<kommo_files_model::wire::FilePage>, $crate::Error> {
                match (page.files.is_empty(), page.next_url()) {
                    (false, Some(url)) => Ok(Some(
                        self.fetch_page(&$crate::pages::Cursor::Url(url.to_owned())).await?,
                    )),
                    _ => Ok(None),
                }
            }

            pub(crate) async fn fetch_page(
                &self,
                cursor: &$crate::pages::Cursor,
            ) -> Result<kommo_files_model::wire::FilePage, $crate::Error> {
                let drive = self.drive().await?;
                let request = match cursor {
                    $crate::pages::Cursor::Query(query) => {
                        kommo_files_model::endpoint::list_files_request(&drive, query)
                    }
                    $crate::pages::Cursor::Url(url) => {
                        kommo_files_model::endpoint::next_page_request(&drive, url)?
                    }
                };
                self.call(
                    kommo_files_transport::Operation::ListFiles,
                    true,
                    request,
                    kommo_files_model::endpoint::parse_file_page,
                )
                .await
            }

            /// One file, or `None` if there is no such file.
            ///
            #[doc = concat!("```\n", $setup,
                "assert!(client.get_file(\"00000000-0000-0000-0000-000000000000\")", $await, "?.is_none());\n",
                $teardown, "```")]
            pub async fn get_file(
                &self,
                file_uuid: &str,
            ) -> Result<Option<kommo_files_model::wire::FileObject>, $crate::Error> {
                let drive = self.drive().await?;
                self.call(
                    kommo_files_transport::Operation::GetFile,
                    true,
                    kommo_files_model::endpoint::get_file_request(&drive, file_uuid),
                    kommo_files_model::endpoint::parse_get_file,
                )
                .await
            }

            /// Renames a file.
            ///
            #[doc = concat!("```\n", $setup,
                "let file = client.upload_bytes(\"draft.txt\", &b\"text\"[..], Default::default())", $await, "?;\n",
                "let renamed = client.rename(&file.uuid, \"final.txt\")", $await, "?;\n",
                "assert!(renamed.name.starts_with(\"final\")); // the server may split off the extension\n",
                $teardown, "```")]
            pub async fn rename(
                &self,
                file_uuid: &str,
                name: &str,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                self.edit(file_uuid, kommo_files_model::endpoint::FileEdit::Rename(name.to_owned()))
                    .await
            }

            /// Makes `version_uuid` the active version of a file.
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::UploadOptions;\n",
                "let file = client.upload_bytes(\"a.txt\", &b\"v1\"[..], UploadOptions::new())", $await, "?;\n",
                "let first = file.version_uuid.clone().unwrap();\n",
                "client.upload_bytes(\"a.txt\", &b\"v2\"[..], UploadOptions::new().new_version_of(&file.uuid))", $await, "?;\n",
                "let file = client.set_active_version(&file.uuid, &first)", $await, "?;\n",
                "assert_eq!(file.version_uuid.as_deref(), Some(first.as_str()));\n",
                $teardown, "```")]
            pub async fn set_active_version(
                &self,
                file_uuid: &str,
                version_uuid: &str,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                self.edit(
                    file_uuid,
                    kommo_files_model::endpoint::FileEdit::SetVersion(version_uuid.to_owned()),
                )
                .await
            }

            async fn edit(
                &self,
                file_uuid: &str,
                edit: kommo_files_model::endpoint::FileEdit,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let drive = self.drive().await?;
                self.call(
                    kommo_files_transport::Operation::EditFile,
                    true,
                    kommo_files_model::endpoint::edit_file_request(&drive, file_uuid, &edit),
                    kommo_files_model::endpoint::parse_edit_file,
                )
                .await
            }

            /// The versions of a file, newest first as the server lists them.
            ///
            #[doc = concat!("```\n", $setup,
                "let file = client.upload_bytes(\"a.txt\", &b\"v1\"[..], Default::default())", $await, "?;\n",
                "let versions = client.versions(&file.uuid)", $await, "?;\n",
                "assert_eq!(versions.len(), 1);\n",
                $teardown, "```")]
            pub async fn versions(
                &self,
                file_uuid: &str,
            ) -> Result<Vec<kommo_files_model::wire::FileVersion>, $crate::Error> {
                let drive = self.drive().await?;
                let list = self
                    .call(
                        kommo_files_transport::Operation::ListVersions,
                        true,
                        kommo_files_model::endpoint::versions_request(&drive, file_uuid),
                        kommo_files_model::endpoint::parse_versions,
                    )
                    .await?;
                Ok(list.versions)
            }

            /// Moves files to the trash (kept 30 days); needs the "Deleting files" scope.
            ///
            #[doc = concat!("```\n", $setup,
                "let file = client.upload_bytes(\"old.txt\", &b\"x\"[..], Default::default())", $await, "?;\n",
                "client.delete(&[&file.uuid])", $await, "?;\n",
                "let restored = client.restore(&[&file.uuid])", $await, "?;\n",
                "assert_eq!(restored[0].uuid, file.uuid);\n",
                $teardown, "```")]
            pub async fn delete(&self, file_uuids: &[impl AsRef<str>]) -> Result<(), $crate::Error> {
                let drive = self.drive().await?;
                self.call(
                    kommo_files_transport::Operation::DeleteFiles,
                    true,
                    kommo_files_model::endpoint::delete_files_request(&drive, file_uuids),
                    kommo_files_model::endpoint::parse_delete_files,
                )
                .await
            }

            /// Restores files from the trash; returns them.
            ///
            /// See [`Client::delete`] for an example.
            pub async fn restore(
                &self,
                file_uuids: &[impl AsRef<str>],
            ) -> Result<Vec<kommo_files_model::wire::FileObject>, $crate::Error> {
                let drive = self.drive().await?;
                let restored = self
                    .call(
                        kommo_files_transport::Operation::RestoreFiles,
                        true,
                        kommo_files_model::endpoint::restore_files_request(&drive, file_uuids),
                        kommo_files_model::endpoint::parse_restore_files,
                    )
                    .await?;
                Ok(restored.files)
            }

            // ---- entities and notes ---------------------------------------------------

            /// The files attached to a lead, contact, company or customer (one page).
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::model::{endpoint::EntityFilesQuery, wire::EntityType};\n",
                "let file = client.upload_bytes(\"deal.pdf\", &b\"%PDF\"[..], Default::default())", $await, "?;\n",
                "client.attach(&EntityType::Leads, 1001, &[&file.uuid])", $await, "?;\n",
                "let links = client.entity_files(&EntityType::Leads, 1001, &EntityFilesQuery::default())", $await, "?;\n",
                "assert!(links.files.iter().any(|link| link.file_uuid == file.uuid));\n",
                "client.detach(&EntityType::Leads, 1001, &[&file.uuid])", $await, "?;\n",
                $teardown, "```")]
            pub async fn entity_files(
                &self,
                entity: &kommo_files_model::wire::EntityType,
                entity_id: i64,
                query: &kommo_files_model::endpoint::EntityFilesQuery,
            ) -> Result<kommo_files_model::wire::EntityFileLinks, $crate::Error> {
                self.call(
                    kommo_files_transport::Operation::EntityFiles,
                    true,
                    kommo_files_model::endpoint::entity_files_request(
                        &self.inner.account,
                        entity,
                        entity_id,
                        *query,
                    ),
                    kommo_files_model::endpoint::parse_entity_files,
                )
                .await
            }

            /// Attaches files to an entity. See [`Client::entity_files`] for an example.
            pub async fn attach(
                &self,
                entity: &kommo_files_model::wire::EntityType,
                entity_id: i64,
                file_uuids: &[impl AsRef<str>],
            ) -> Result<(), $crate::Error> {
                self.call(
                    kommo_files_transport::Operation::AttachFiles,
                    true,
                    kommo_files_model::endpoint::attach_files_request(
                        &self.inner.account,
                        entity,
                        entity_id,
                        file_uuids,
                    ),
                    kommo_files_model::endpoint::parse_link_change,
                )
                .await
            }

            /// Detaches files from an entity. See [`Client::entity_files`] for an example.
            pub async fn detach(
                &self,
                entity: &kommo_files_model::wire::EntityType,
                entity_id: i64,
                file_uuids: &[impl AsRef<str>],
            ) -> Result<(), $crate::Error> {
                self.call(
                    kommo_files_transport::Operation::DetachFiles,
                    true,
                    kommo_files_model::endpoint::detach_files_request(
                        &self.inner.account,
                        entity,
                        entity_id,
                        file_uuids,
                    ),
                    kommo_files_model::endpoint::parse_link_change,
                )
                .await
            }

            /// The entities a file is attached to.
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::model::wire::EntityType;\n",
                "let file = client.upload_bytes(\"deal.pdf\", &b\"%PDF\"[..], Default::default())", $await, "?;\n",
                "client.attach(&EntityType::Contacts, 2001, &[&file.uuid])", $await, "?;\n",
                "let linked = client.file_entities(&file.uuid)", $await, "?;\n",
                "assert_eq!(linked.entities.len(), 1);\n",
                $teardown, "```")]
            pub async fn file_entities(
                &self,
                file_uuid: &str,
            ) -> Result<kommo_files_model::wire::FileEntities, $crate::Error> {
                self.call(
                    kommo_files_transport::Operation::FileEntities,
                    true,
                    kommo_files_model::endpoint::file_entities_request(&self.inner.account, file_uuid),
                    kommo_files_model::endpoint::parse_file_entities,
                )
                .await
            }

            /// Adds attachment notes (a file shown in an entity's feed).
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::model::wire::{AttachmentNote, EntityType};\n",
                "let file = client.upload_bytes(\"scan.pdf\", &b\"%PDF\"[..], Default::default())", $await, "?;\n",
                "let note = AttachmentNote::new(1001, &file.uuid).file_name(\"scan.pdf\");\n",
                "let created = client.add_attachment_notes(&EntityType::Leads, &[note])", $await, "?;\n",
                "assert_eq!(created.notes.len(), 1);\n",
                $teardown, "```")]
            pub async fn add_attachment_notes(
                &self,
                entity: &kommo_files_model::wire::EntityType,
                notes: &[kommo_files_model::wire::AttachmentNote],
            ) -> Result<kommo_files_model::wire::CreatedNotes, $crate::Error> {
                self.call(
                    kommo_files_transport::Operation::AddNotes,
                    false,
                    kommo_files_model::endpoint::notes_request(&self.inner.account, entity, notes),
                    kommo_files_model::endpoint::parse_created_notes,
                )
                .await
            }

            /// Adds a file with a text comment: the attachment note and a text note with the same
            /// `created_at` (now, unless the note sets one), which Kommo shows together.
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::model::wire::{AttachmentNote, EntityType};\n",
                "let file = client.upload_bytes(\"contract.pdf\", &b\"%PDF\"[..], Default::default())", $await, "?;\n",
                "let note = AttachmentNote::new(1001, &file.uuid).file_name(\"contract.pdf\");\n",
                "let created = client.add_file_with_comment(&EntityType::Leads, note, \"Signed\")", $await, "?;\n",
                "assert_eq!(created.notes.len(), 2);\n",
                $teardown, "```")]
            pub async fn add_file_with_comment(
                &self,
                entity: &kommo_files_model::wire::EntityType,
                note: kommo_files_model::wire::AttachmentNote,
                comment: &str,
            ) -> Result<kommo_files_model::wire::CreatedNotes, $crate::Error> {
                let created_at = note.created_at.unwrap_or_else(|| {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() as i64)
                });
                let notes = kommo_files_model::endpoint::comment_note(note, comment, created_at);
                self.call(
                    kommo_files_transport::Operation::AddNotes,
                    false,
                    kommo_files_model::endpoint::notes_request(&self.inner.account, entity, &notes),
                    kommo_files_model::endpoint::parse_created_notes,
                )
                .await
            }

            /// An entity's notes (to read attachment notes back).
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::model::wire::EntityType;\n",
                "let notes = client.notes(&EntityType::Leads, 1001)", $await, "?;\n",
                "assert!(notes.iter().all(|note| note.entity_id == Some(1001)));\n",
                $teardown, "```")]
            pub async fn notes(
                &self,
                entity: &kommo_files_model::wire::EntityType,
                entity_id: i64,
            ) -> Result<Vec<kommo_files_model::wire::NoteRead>, $crate::Error> {
                self.call(
                    kommo_files_transport::Operation::ReadNotes,
                    true,
                    kommo_files_model::endpoint::read_notes_request(&self.inner.account, entity, entity_id),
                    kommo_files_model::endpoint::parse_notes,
                )
                .await
            }

            /// Sets the values of a file-type custom field on an entity.
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::model::wire::{EntityType, FileFieldValue};\n",
                "let file = client.upload_bytes(\"passport.jpg\", &b\"\\xFF\\xD8\"[..], Default::default())", $await, "?;\n",
                "let field = kommo_files_emulator::FILE_FIELD_ID_LEADS as i64;\n",
                "client.set_file_field(&EntityType::Leads, 1001, field, &[FileFieldValue::from_file(&file)])", $await, "?;\n",
                "let values = client.file_field(&EntityType::Leads, 1001, field)", $await, "?;\n",
                "assert_eq!(values[0].value.file_uuid, file.uuid);\n",
                $teardown, "```")]
            pub async fn set_file_field(
                &self,
                entity: &kommo_files_model::wire::EntityType,
                entity_id: i64,
                field_id: i64,
                values: &[kommo_files_model::wire::FileFieldValue],
            ) -> Result<(), $crate::Error> {
                self.execute(
                    kommo_files_transport::Operation::SetFileField,
                    true,
                    kommo_files_model::endpoint::set_file_field_request(
                        &self.inner.account,
                        entity,
                        entity_id,
                        field_id,
                        values,
                    ),
                )
                .await
                .and_then(|response| {
                    kommo_files_model::endpoint::parse_entity(&response)
                        .map(drop)
                        .map_err(|error| $crate::Error::Api {
                            operation: kommo_files_transport::Operation::SetFileField,
                            error,
                        })
                })
            }

            /// The values of a file-type custom field of an entity. See
            /// [`Client::set_file_field`] for an example.
            pub async fn file_field(
                &self,
                entity: &kommo_files_model::wire::EntityType,
                entity_id: i64,
                field_id: i64,
            ) -> Result<Vec<kommo_files_model::wire::FileFieldValueRead>, $crate::Error> {
                let operation = kommo_files_transport::Operation::GetEntity;
                let value = self
                    .call(
                        operation,
                        true,
                        kommo_files_model::endpoint::entity_request(&self.inner.account, entity, entity_id),
                        kommo_files_model::endpoint::parse_entity,
                    )
                    .await?;
                kommo_files_model::endpoint::file_field_values(&value, field_id)
                    .map_err(|error| $crate::Error::Api { operation, error })
            }

            // ---- uploads --------------------------------------------------------------

            /// Uploads bytes in memory as a file called `name`.
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::UploadOptions;\n",
                "let file = client.upload_bytes(\"hello.txt\", &b\"hello\"[..], UploadOptions::new().content_type(\"text/plain\"))", $await, "?;\n",
                "assert_eq!(file.size, 5);\n",
                $teardown, "```")]
            pub async fn upload_bytes(
                &self,
                name: &str,
                bytes: impl Into<bytes::Bytes>,
                options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let bytes = bytes.into();
                let source = kommo_files_model::upload::SourceInfo::of_size(bytes.len() as u64);
                self.start_upload(name, source, BytesSource(bytes), options).await
            }

            /// Uploads `size` bytes read from `reader` as a file called `name`.
            ///
            /// The reader is read once, in order; if the server loses the session and the
            /// upload must start over, this fails (use [`Client::upload_path`] or
            /// [`Client::upload_bytes`] for that guarantee).
            ///
            #[doc = concat!("```\n", $setup,
                "let data = vec![7u8; 100_000];\n",
                "let file = client.upload_reader(\"data.bin\", &data[..], data.len() as u64, Default::default())", $await, "?;\n",
                "assert_eq!(file.size, 100_000);\n",
                $teardown, "```")]
            pub async fn upload_reader<R: UploadRead>(
                &self,
                name: &str,
                reader: R,
                size: u64,
                options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let source = kommo_files_model::upload::SourceInfo::of_size(size);
                self.start_upload(name, source, ReaderSource { reader, position: 0 }, options)
                    .await
            }

            /// Uploads the file at `path` (named after it unless
            /// [`crate::UploadOptions::file_name`] says otherwise).
            ///
            /// Memory stays at about two parts whatever the file size. With
            /// [`crate::UploadOptions::checkpoint_file`], a crash can be resumed with
            /// [`Client::resume_path`].
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::UploadOptions;\n",
                "let path = std::env::temp_dir().join(\"kommo-files-doc-upload.txt\");\n",
                "std::fs::write(&path, b\"contract\")?;\n",
                "let file = client.upload_path(&path, UploadOptions::new().on_progress(|p| eprintln!(\"{}/{}\", p.acknowledged, p.total)))", $await, "?;\n",
                "assert_eq!(file.size, 8);\n",
                $teardown, "```")]
            pub async fn upload_path(
                &self,
                path: impl AsRef<std::path::Path>,
                options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let path = path.as_ref();
                let (file, source) = Self::open_source(path).await?;
                self.start_upload(&$crate::support::file_name(path), source, FileSource::new(file), options)
                    .await
            }

            /// Continues the upload of `checkpoint` from the file at `path`, after checking that
            /// the file is the one the checkpoint was taken of (size, modification time, and the
            /// SHA-256 of the bytes already sent).
            ///
            #[doc = concat!("```no_run\n", $setup,
                "let checkpoint = kommo_files::load_checkpoint(\"big.iso.checkpoint.json\")?;\n",
                "let file = client.resume_path(checkpoint, \"big.iso\", Default::default())", $await, "?;\n",
                $teardown, "```")]
            pub async fn resume_path(
                &self,
                checkpoint: kommo_files_model::upload::Checkpoint,
                path: impl AsRef<std::path::Path>,
                options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let (file, source) = Self::open_source(path.as_ref()).await?;
                self.continue_upload(checkpoint, source, FileSource::new(file), options).await
            }

            /// Continues the upload of `checkpoint` with the same bytes.
            ///
            #[doc = concat!("```\n", $setup,
                "use kommo_files::{CancelHandle, UploadOptions};\n",
                "let data = vec![1u8; 3 * 1024 * 1024];\n",
                "let cancel = CancelHandle::new();\n",
                "let stop = cancel.clone();\n",
                "let options = UploadOptions::new().on_progress(move |_| stop.cancel());\n",
                "let error = client.upload_bytes(\"big.bin\", data.clone(), options.cancel_handle(cancel))", $await, ".unwrap_err();\n",
                "let checkpoint = error.checkpoint().cloned().expect(\"a part was acknowledged\");\n",
                "let file = client.resume_bytes(checkpoint, data, Default::default())", $await, "?;\n",
                "assert_eq!(file.size, 3 * 1024 * 1024);\n",
                $teardown, "```")]
            pub async fn resume_bytes(
                &self,
                checkpoint: kommo_files_model::upload::Checkpoint,
                bytes: impl Into<bytes::Bytes>,
                options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let bytes = bytes.into();
                let source = kommo_files_model::upload::SourceInfo::new(
                    bytes.len() as u64,
                    checkpoint.source.modified,
                );
                self.continue_upload(checkpoint, source, BytesSource(bytes), options).await
            }

            /// Continues the upload of `checkpoint` reading the source again from its start
            /// (the bytes already sent are re-read and verified first).
            ///
            /// See [`Client::resume_bytes`] for an example.
            pub async fn resume_reader<R: UploadRead>(
                &self,
                checkpoint: kommo_files_model::upload::Checkpoint,
                reader: R,
                options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let source = kommo_files_model::upload::SourceInfo::new(
                    checkpoint.source.size,
                    checkpoint.source.modified,
                );
                self.continue_upload(checkpoint, source, ReaderSource { reader, position: 0 }, options)
                    .await
            }

            async fn open_source(
                path: &std::path::Path,
            ) -> Result<(fs::File, kommo_files_model::upload::SourceInfo), $crate::Error> {
                let opening = |e| $crate::Error::io(format!("opening {}", path.display()), e);
                files_available().map_err(opening)?;
                let file = fs::File::open(path).await.map_err(opening)?;
                let metadata = file.metadata().await.map_err(opening)?;
                let modified = metadata
                    .modified()
                    .ok()
                    .map(kommo_files_model::upload::ModifiedTime::from_system_time);
                let source = kommo_files_model::upload::SourceInfo::new(metadata.len(), modified);
                Ok((file, source))
            }

            async fn start_upload<S: PartSource>(
                &self,
                name: &str,
                source: kommo_files_model::upload::SourceInfo,
                part_source: S,
                options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let session = options.session(name, source.size);
                let mut machine = kommo_files_model::upload::UploadMachine::new(
                    self.drive().await?,
                    session,
                    source,
                    self.inner.config.upload.clone(),
                    $crate::support::seed(),
                );
                if !options.observes_checkpoints() && part_source.rereadable() {
                    // Nobody keeps checkpoints: hash the prefix only if an error needs one.
                    machine = machine.without_prefix_hash();
                }
                self.run_upload(machine, part_source, options).await
            }

            async fn continue_upload<S: PartSource>(
                &self,
                checkpoint: kommo_files_model::upload::Checkpoint,
                source: kommo_files_model::upload::SourceInfo,
                part_source: S,
                options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                let checkpoint_copy = Box::new(checkpoint.clone());
                let machine = kommo_files_model::upload::UploadMachine::resume(
                    self.drive().await?,
                    checkpoint,
                    source,
                    self.inner.config.upload.clone(),
                    std::time::SystemTime::now(),
                    $crate::support::seed(),
                )
                .map_err(|error| $crate::Error::Upload {
                    error,
                    checkpoint: Some(checkpoint_copy),
                })?;
                self.run_upload(machine, part_source, options).await
            }

            /// Runs the upload machine: reads what it asks, sends what it builds, sleeps when
            /// it says, and reports its events.
            async fn run_upload<S: PartSource>(
                &self,
                mut machine: kommo_files_model::upload::UploadMachine,
                mut source: S,
                mut options: $crate::UploadOptions,
            ) -> Result<kommo_files_model::wire::FileObject, $crate::Error> {
                use kommo_files_model::upload::Action;
                let mut attempts = $crate::support::AttemptCounter::default();
                let mut read_up_to = 0;
                loop {
                    while let Some(event) = machine.poll_event() {
                        options.observe(&event, machine.total())?;
                        let restarted = matches!(event, kommo_files_model::upload::UploadEvent::Restarted { .. });
                        if restarted && !source.can_restart() {
                            // Before a new session is opened for nothing.
                            return Err($crate::Error::io("restarting the upload", cannot_rewind(read_up_to)));
                        }
                    }
                    if options.cancel.is_cancelled() {
                        return Err($crate::Error::Cancelled {
                            checkpoint: Self::checkpoint_of(&machine, &mut source).await,
                        });
                    }
                    let now = std::time::SystemTime::now();
                    match machine.poll_action(now) {
                        Action::Read { offset, len } => {
                            let bytes = source.read_part(offset, len).await.map_err(|e| {
                                $crate::Error::io(format!("reading the source at byte {offset}"), e)
                            })?;
                            read_up_to = offset + bytes.len() as u64;
                            machine.handle_read(bytes, std::time::SystemTime::now());
                        }
                        Action::Send(request) => {
                            let context = attempts.context(&request, &machine);
                            let result = self
                                .send_once(context, request)
                                .await
                                .map_err($crate::support::send_failure);
                            machine.handle_response(result, std::time::SystemTime::now());
                        }
                        Action::Wait { until } => {
                            let delay = until.duration_since(now).unwrap_or_default();
                            self.pause(delay, &options.cancel).await;
                        }
                        Action::Done(file) => {
                            options.finished();
                            return Ok(*file);
                        }
                        Action::Failed(error) => {
                            return Err($crate::Error::Upload {
                                error,
                                checkpoint: Self::checkpoint_of(&machine, &mut source).await,
                            });
                        }
                        other => return Err($crate::support::driver_bug(&other)),
                    }
                }
            }

            /// The checkpoint an error carries. A machine without a prefix hash gets it here,
            /// from the source; if the source cannot be read now, there is no checkpoint.
            async fn checkpoint_of<S: PartSource>(
                machine: &kommo_files_model::upload::UploadMachine,
                source: &mut S,
            ) -> Option<Box<kommo_files_model::upload::Checkpoint>> {
                if machine.hashes_prefix() {
                    return machine.checkpoint().map(Box::new);
                }
                let end = machine.acknowledged();
                let mut prefix = kommo_files_model::upload::PrefixHash::default();
                while prefix.len() < end {
                    let len = (end - prefix.len()).min($crate::support::PREFIX_CHUNK) as usize;
                    prefix.update(&source.read_part(prefix.len(), len).await.ok()?);
                }
                machine.checkpoint_with_prefix(prefix.hex()).map(Box::new)
            }

            // ---- downloads ------------------------------------------------------------

            /// Streams the active version of `file` into `sink`; returns the bytes written.
            ///
            /// Redirects are followed; the token goes only to the drive host. A 5xx before the
            /// first byte is retried; a body cut short is [`crate::DownloadError::Incomplete`]
            /// (the sink then holds a prefix: [`Client::download_to_path`] never leaves one).
            ///
            #[doc = concat!("```\n", $setup,
                "let file = client.upload_bytes(\"a.txt\", &b\"hello\"[..], Default::default())", $await, "?;\n",
                "let mut bytes = Vec::new();\n",
                "client.download(&file, &mut bytes)", $await, "?;\n",
                "assert_eq!(bytes, b\"hello\");\n",
                $teardown, "```")]
            pub async fn download<W: DownloadWrite>(
                &self,
                file: &kommo_files_model::wire::FileObject,
                sink: &mut W,
            ) -> Result<u64, $crate::Error> {
                let href = $crate::support::download_href(file.links.download.as_ref())?;
                self.download_link(href, sink).await
            }

            /// Streams one version of a file into `sink`; returns the bytes written.
            ///
            #[doc = concat!("```\n", $setup,
                "let file = client.upload_bytes(\"a.txt\", &b\"v1\"[..], Default::default())", $await, "?;\n",
                "let versions = client.versions(&file.uuid)", $await, "?;\n",
                "let mut bytes = Vec::new();\n",
                "client.download_version(&versions[0], &mut bytes)", $await, "?;\n",
                "assert_eq!(bytes, b\"v1\");\n",
                $teardown, "```")]
            pub async fn download_version<W: DownloadWrite>(
                &self,
                version: &kommo_files_model::wire::FileVersion,
                sink: &mut W,
            ) -> Result<u64, $crate::Error> {
                let href = $crate::support::download_href(version.links.download.as_ref())?;
                self.download_link(href, sink).await
            }

            /// Downloads the active version of `file` to `path`: written to a temporary file
            /// beside it and renamed only when complete, so `path` never holds a partial file.
            ///
            #[doc = concat!("```\n", $setup,
                "let file = client.upload_bytes(\"a.txt\", &b\"hello\"[..], Default::default())", $await, "?;\n",
                "let path = std::env::temp_dir().join(\"kommo-files-doc-download.txt\");\n",
                "client.download_to_path(&file, &path)", $await, "?;\n",
                "assert_eq!(std::fs::read(&path)?, b\"hello\");\n",
                $teardown, "```")]
            pub async fn download_to_path(
                &self,
                file: &kommo_files_model::wire::FileObject,
                path: impl AsRef<std::path::Path>,
            ) -> Result<u64, $crate::Error> {
                let href = $crate::support::download_href(file.links.download.as_ref())?;
                self.download_link_to_path(href, path).await
            }

            /// Downloads a link (of a version, say) to `path`, with the guarantee of
            /// [`Client::download_to_path`].
            ///
            #[doc = concat!("```\n", $setup,
                "let file = client.upload_bytes(\"a.txt\", &b\"v1\"[..], Default::default())", $await, "?;\n",
                "let versions = client.versions(&file.uuid)", $await, "?;\n",
                "let link = versions[0].links.download.as_ref().unwrap();\n",
                "let path = std::env::temp_dir().join(\"kommo-files-doc-version.txt\");\n",
                "client.download_link_to_path(&link.href, &path)", $await, "?;\n",
                "assert_eq!(std::fs::read(&path)?, b\"v1\");\n",
                $teardown, "```")]
            pub async fn download_link_to_path(
                &self,
                url: &str,
                path: impl AsRef<std::path::Path>,
            ) -> Result<u64, $crate::Error> {
                self.download_link_to_path_with_progress(url, path, |_| {}).await
            }

            /// [`Client::download_link_to_path`], telling `on_progress` the bytes written so far
            /// (and the expected total, from `Content-Length`) after every chunk.
            ///
            #[doc = concat!("```\n", $setup,
                "let file = client.upload_bytes(\"a.txt\", &b\"hello\"[..], Default::default())", $await, "?;\n",
                "let path = std::env::temp_dir().join(\"kommo-files-doc-progress.txt\");\n",
                "let mut seen = Vec::new();\n",
                "let link = file.download_url().unwrap();\n",
                "client.download_link_to_path_with_progress(link, &path, |p| seen.push(p.acknowledged))", $await, "?;\n",
                "assert_eq!(seen.last(), Some(&5));\n",
                $teardown, "```")]
            pub async fn download_link_to_path_with_progress(
                &self,
                url: &str,
                path: impl AsRef<std::path::Path>,
                mut on_progress: impl FnMut($crate::Progress) + Send,
            ) -> Result<u64, $crate::Error> {
                let path = path.as_ref();
                let temporary = $crate::support::sibling_temp_path(path);
                let outcome = self.download_into_file(url, &temporary, &mut on_progress).await;
                let renamed = match outcome {
                    Ok(written) => fs::rename(&temporary, path)
                        .await
                        .map(|()| written)
                        .map_err(|e| $crate::Error::io(format!("renaming into {}", path.display()), e)),
                    Err(error) => Err(error),
                };
                if renamed.is_err() {
                    let _ = fs::remove_file(&temporary).await;
                }
                renamed
            }

            async fn download_into_file(
                &self,
                url: &str,
                temporary: &std::path::Path,
                on_progress: &mut (dyn FnMut($crate::Progress) + Send),
            ) -> Result<u64, $crate::Error> {
                let writing = |e| $crate::Error::io(format!("writing {}", temporary.display()), e);
                files_available().map_err(writing)?;
                let mut sink = fs::File::create(temporary).await.map_err(writing)?;
                let written = self.stream_link(url, &mut sink, on_progress).await?;
                sink.sync_all().await.map_err(writing)?;
                Ok(written)
            }

            /// Streams a download link (`_links.download.href` of a file or a version, or a note's
            /// link) into `sink`; returns the bytes written.
            ///
            /// See [`Client::download`] for an example.
            pub async fn download_link<W: DownloadWrite>(
                &self,
                url: &str,
                sink: &mut W,
            ) -> Result<u64, $crate::Error> {
                self.stream_link(url, sink, &mut |_| {}).await
            }

            async fn stream_link<W: DownloadWrite>(
                &self,
                url: &str,
                sink: &mut W,
                on_progress: &mut (dyn FnMut($crate::Progress) + Send),
            ) -> Result<u64, $crate::Error> {
                const MAX_REDIRECTS: u32 = 5;
                let operation = kommo_files_transport::Operation::Download;
                let drive = self.drive().await?;
                let mut request = kommo_files_model::endpoint::download_request(&drive, url)?;
                let mut retrier = $crate::support::Retrier::new(self.inner.config.retry);
                let mut redirects = 0;
                loop {
                    self.paced().await;
                    let context = kommo_files_transport::OperationContext::new(operation, true)
                        .attempt(retrier.attempt());
                    let prepared =
                        $crate::support::prepare(request.clone(), context, &self.inner.config.user_agent);
                    let mut response = match self.inner.transport.send_streaming(prepared).await {
                        Ok(response) => response,
                        Err(error) => match retrier.failed(None).filter(|_| error.is_retry_safe(true)) {
                            Some(delay) => {
                                self.sleep(delay).await;
                                continue;
                            }
                            None => return Err($crate::Error::Transport { operation, error }),
                        },
                    };
                    let status = response.status();
                    if status.is_redirection() {
                        redirects += 1;
                        if redirects > MAX_REDIRECTS {
                            return Err($crate::Error::Download(
                                $crate::DownloadError::TooManyRedirects(MAX_REDIRECTS),
                            ));
                        }
                        let location = response
                            .headers()
                            .get(http::header::LOCATION)
                            .and_then(|value| value.to_str().ok())
                            .ok_or($crate::Error::Download($crate::DownloadError::MissingLocation))?
                            .to_owned();
                        request = kommo_files_model::endpoint::redirect_request(&drive, &request, &location)?;
                        continue;
                    }
                    if !status.is_success() {
                        let body = $crate::support::error_body(response.body_mut().chunk().await);
                        let (parts, _) = response.into_parts();
                        let response = http::Response::from_parts(parts, body);
                        let hint = kommo_files_model::RetryAfter::from_headers(response.headers())
                            .map(|after| after.delay_from(std::time::SystemTime::now()));
                        if kommo_files_model::retry::is_retryable_status(status) {
                            if let Some(delay) = retrier.failed(hint) {
                                self.sleep(delay).await;
                                continue;
                            }
                        }
                        return Err($crate::Error::Api {
                            operation,
                            error: kommo_files_model::ApiError::from_response(&response),
                        });
                    }
                    let expected = $crate::support::content_length(&response);
                    let mut written = 0u64;
                    loop {
                        let chunk = response
                            .body_mut()
                            .chunk()
                            .await
                            .map_err(|error| $crate::Error::Transport { operation, error })?;
                        let Some(chunk) = chunk else { break };
                        sink.write_all(&chunk)
                            .await
                            .map_err(|e| $crate::Error::io("writing the download", e))?;
                        written += chunk.len() as u64;
                        on_progress($crate::Progress::new(written, expected.unwrap_or(0)));
                    }
                    sink.flush()
                        .await
                        .map_err(|e| $crate::Error::io("writing the download", e))?;
                    return match expected {
                        Some(expected) if expected != written => Err($crate::Error::Download(
                            $crate::DownloadError::Incomplete { expected, received: written },
                        )),
                        _ => Ok(written),
                    };
                }
            }
        }
    };
}

pub(crate) use client_driver;
