//! Folder sync: plan (scan, manifest, the remote state of what changed) and execute (uploads
//! with checkpoints, the manifest journaled after each file, attachments and notes batched).
//! The decisions are `crate::sync::plan`'s; this moves bytes.
//!
//! The scan, the hashing of local files and the manifest's journal use `std::fs` in both
//! flavours (small, bounded work between requests).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use kommo_files_model::endpoint::FileQuery;
use kommo_files_model::upload::UploadEvent;
use kommo_files_model::wire::AttachmentNote;

use super::{flavour, Client};
use crate::support::Sha256Sink;
use crate::sync::{
    self, Action, LinkTarget, LocalFile, ManifestEntry, ManifestStore, Plan, PlanItem, RemoteFile,
    RemoteState, SyncEvent, SyncOptions, SyncOutcome, SyncReport, Uploading,
};
use crate::{Error, UploadOptions};

type Store = Arc<Mutex<ManifestStore>>;

fn lock(store: &Store) -> std::sync::MutexGuard<'_, ManifestStore> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// New files waiting for their attachment or note request, per entity.
#[derive(Debug, Default)]
struct LinkQueues {
    attach: BTreeMap<LinkTarget, Vec<String>>,
    notes: BTreeMap<LinkTarget, Vec<String>>,
}

#[flavour(AFIT)]
impl Client {
    /// Makes the account reflect `folder`: new files uploaded, changed ones uploaded as new
    /// versions of the same Kommo files, unchanged ones left alone without a request, and
    /// with [`SyncOptions::delete`] files gone locally moved to the trash. The manifest at
    /// [`SyncOptions::new`]'s path records what is synced; a sync killed at any moment is
    /// continued by the next one, nothing uploaded twice. Per-path problems (a conflict, a
    /// failed upload) are in the report; an `Err` is a sync that could not run.
    ///
    #[doc = example!(
        "use kommo_files::sync::SyncOptions;\n"
        "let root = std::env::temp_dir().join(format!(\"kommo-files-doc-sync-{}\", std::process::id()));\n"
        "std::fs::create_dir_all(root.join(\"folder\"))?;\n"
        "std::fs::write(root.join(\"folder/a.txt\"), b\"v1\")?;\n"
        "let report = client.sync_folder(root.join(\"folder\"), SyncOptions::new(root.join(\"manifest.json\")))" await "?;\n"
        "assert_eq!(report.uploaded(), 1);\n"
        "let report = client.sync_folder(root.join(\"folder\"), SyncOptions::new(root.join(\"manifest.json\")))" await "?;\n"
        "assert_eq!(report.uploaded(), 0);\n"
        "std::fs::remove_dir_all(&root)?;"
    )]
    pub async fn sync_folder(
        &self,
        folder: impl AsRef<Path>,
        options: SyncOptions,
    ) -> Result<SyncReport, Error> {
        let folder = folder.as_ref();
        let plan = self.plan_sync(folder, &options).await?;
        self.execute_sync(folder, &plan, options).await
    }

    /// The plan of [`Client::sync_folder`], without changing anything: scans `folder`, reads
    /// the manifest, and asks the account about the files that changed or are gone (about
    /// every file with [`SyncOptions::adopt`]). [`Plan::requests`] says what executing it
    /// costs.
    ///
    #[doc = example!(
        "use kommo_files::sync::{Action, SyncOptions};\n"
        "let root = std::env::temp_dir().join(format!(\"kommo-files-doc-plan-{}\", std::process::id()));\n"
        "std::fs::create_dir_all(root.join(\"folder\"))?;\n"
        "std::fs::write(root.join(\"folder/a.txt\"), b\"v1\")?;\n"
        "let options = SyncOptions::new(root.join(\"manifest.json\"));\n"
        "let plan = client.plan_sync(root.join(\"folder\"), &options)" await "?;\n"
        "assert_eq!(plan.items[0].action, Action::Upload);\n"
        "assert_eq!(plan.requests(options.rules()), 2);\n"
        "std::fs::remove_dir_all(&root)?;"
    )]
    pub async fn plan_sync(
        &self,
        folder: impl AsRef<Path>,
        options: &SyncOptions,
    ) -> Result<Plan, Error> {
        let folder = folder.as_ref();
        let store = ManifestStore::open(&options.manifest)?;
        let manifest = store.manifest();
        let mut local = sync::scan_folder(folder)?.files;
        let rules = options.rules;
        if rules.checksum {
            for file in &mut local {
                let known = manifest.files.get(&file.path);
                if known.is_some_and(|entry| entry.size == file.size) {
                    file.sha256 = Some(sync::sha256_file(folder.join(&file.path))?);
                }
            }
        }
        let remote = if rules.adopt {
            self.remote_files(FileQuery::new().limit(250)).await?
        } else {
            let mut found = Vec::new();
            for chunk in sync::remote_checks(&local, manifest, &rules).chunks(sync::CHECK_BATCH) {
                let mut query = FileQuery::new().limit(250);
                query.uuids = chunk.to_vec();
                found.extend(self.remote_files(query).await?.files.into_values());
            }
            RemoteState::of(found)
        };
        Ok(sync::plan(&local, manifest, &remote, &rules))
    }

    /// Every file of a listing, as remote state.
    async fn remote_files(&self, query: FileQuery) -> Result<RemoteState, Error> {
        let mut files = Vec::new();
        let mut page = self.list_page(&query).await?;
        loop {
            files.extend(page.files.iter().map(RemoteFile::from));
            match self.next_page(&page).await? {
                Some(next) => page = next,
                None => return Ok(RemoteState::of(files)),
            }
        }
    }

    /// Executes `plan` (from [`Client::plan_sync`] with the same options): see
    /// [`Client::sync_folder`]. Attachments and notes an earlier, interrupted sync left
    /// pending are sent first (a note already posted is not posted again).
    ///
    #[doc = example!(
        "use kommo_files::sync::SyncOptions;\n"
        "let root = std::env::temp_dir().join(format!(\"kommo-files-doc-execute-{}\", std::process::id()));\n"
        "std::fs::create_dir_all(root.join(\"folder\"))?;\n"
        "std::fs::write(root.join(\"folder/a.txt\"), b\"v1\")?;\n"
        "let options = SyncOptions::new(root.join(\"manifest.json\")).delete(true);\n"
        "let plan = client.plan_sync(root.join(\"folder\"), &options)" await "?;\n"
        "if plan.counts().delete == 0 {\n"
        "    client.execute_sync(root.join(\"folder\"), &plan, options)" await "?;\n"
        "}\n"
        "std::fs::remove_dir_all(&root)?;"
    )]
    pub async fn execute_sync(
        &self,
        folder: impl AsRef<Path>,
        plan: &Plan,
        options: SyncOptions,
    ) -> Result<SyncReport, Error> {
        let folder = folder.as_ref();
        let store: Store = Arc::new(Mutex::new(ManifestStore::open(&options.manifest)?));
        let work_dir = lock(&store).work_dir();
        if plan.uploads().next().is_some() {
            std::fs::create_dir_all(&work_dir)
                .map_err(|e| Error::io(format!("creating {}", work_dir.display()), e))?;
        }
        let mut report = SyncReport::default();
        let mut queues = LinkQueues::default();
        self.pending_links(&store, &options, &mut queues, &mut report)
            .await?;
        let mut deletes: Vec<&PlanItem> = Vec::new();
        for item in &plan.items {
            if options.cancel.is_cancelled() {
                break;
            }
            let outcome = match &item.action {
                Action::Upload | Action::NewVersion { .. } => {
                    let outcome = self
                        .sync_upload(folder, item, &store, &options, &mut queues)
                        .await;
                    self.flush_links(&store, &options, &mut queues, false, &mut report)
                        .await;
                    outcome
                }
                Action::Delete { .. } => {
                    deletes.push(item);
                    continue;
                }
                action => record_only(item, action, &store)?,
            };
            options.emit(SyncEvent::Finished(outcome.clone()));
            report.outcomes.push(outcome);
        }
        if !options.cancel.is_cancelled() {
            for chunk in deletes.chunks(sync::DELETE_BATCH) {
                let uuids: Vec<&str> = chunk
                    .iter()
                    .filter_map(|item| match &item.action {
                        Action::Delete { file_uuid } => Some(file_uuid.as_str()),
                        _ => None,
                    })
                    .collect();
                let deleted = self.delete(&uuids).await;
                for (item, uuid) in chunk.iter().zip(&uuids) {
                    let mut outcome = outcome_of(item, "done", Some((*uuid).to_owned()));
                    match &deleted {
                        Ok(()) => lock(&store).remove(&item.path)?,
                        Err(error) => fail(&mut outcome, error),
                    }
                    options.emit(SyncEvent::Finished(outcome.clone()));
                    report.outcomes.push(outcome);
                }
            }
        }
        self.flush_links(&store, &options, &mut queues, true, &mut report)
            .await;
        lock(&store).compact()?;
        // Only when no checkpoint of an unfinished upload is left in it.
        let _ = std::fs::remove_dir(&work_dir);
        if options.cancel.is_cancelled() {
            return Err(Error::cancelled(None));
        }
        Ok(report)
    }

    /// Uploads one new or changed file, journaling it in the manifest before the SDK drops
    /// its checkpoint; reads it back with `verify`.
    async fn sync_upload(
        &self,
        folder: &Path,
        item: &PlanItem,
        store: &Store,
        options: &SyncOptions,
        queues: &mut LinkQueues,
    ) -> SyncOutcome {
        let mut outcome = outcome_of(item, "done", None);
        let Some(local) = item.local.as_ref() else {
            fail(
                &mut outcome,
                &Error::internal("an upload without a local file"),
            );
            return outcome;
        };
        match self
            .upload_item(folder, item, local, store, options, queues)
            .await
        {
            Ok((uuid, version, verified)) => {
                outcome.file_uuid = Some(uuid);
                outcome.version_uuid = version;
                outcome.verified = verified;
                if verified == Some(false) {
                    outcome.status = "failed";
                    outcome.message =
                        Some("the stored version's SHA-256 differs from the local file's".into());
                }
            }
            Err(error) => fail(&mut outcome, &error),
        }
        outcome
    }

    async fn upload_item(
        &self,
        folder: &Path,
        item: &PlanItem,
        local: &LocalFile,
        store: &Store,
        options: &SyncOptions,
        queues: &mut LinkQueues,
    ) -> Result<(String, Option<String>, Option<bool>), Error> {
        let path = folder.join(&item.path);
        let sha256 = match &local.sha256 {
            Some(sha) => sha.clone(),
            None => sync::sha256_file(&path)?,
        };
        let version_of = match &item.action {
            Action::NewVersion { file_uuid } => Some(file_uuid.clone()),
            _ => None,
        };
        let is_new = version_of.is_none();
        let mut entry = ManifestEntry {
            size: local.size,
            modified_ns: local.modified_ns,
            sha256: Some(sha256.clone()),
            ..ManifestEntry::default()
        };
        if is_new {
            entry.pending_attach = options.attach.iter().map(ToString::to_string).collect();
            entry.pending_notes = options.notes.iter().map(ToString::to_string).collect();
        }
        if let Some(uuid) = &version_of {
            // The intent, so a crash after the server stored the version is not a conflict.
            let mut intent = lock(store)
                .manifest()
                .files
                .get(&item.path)
                .cloned()
                .unwrap_or_default();
            intent.uploading = Some(Uploading {
                size: local.size,
                modified_ns: local.modified_ns,
            });
            uuid.clone_into(&mut intent.file_uuid);
            lock(store).set(&item.path, intent)?;
        }
        let checkpoint = lock(store).work_dir().join(format!(
            "{}.checkpoint.json",
            &sync::path_digest(&item.path)
        ));
        options.emit(SyncEvent::Started {
            path: item.path.clone(),
            label: item.action.label(),
            size: local.size,
        });
        let (journal, journaled, relative) = (Arc::clone(store), entry.clone(), item.path.clone());
        let (watcher, watched) = (options.clone(), item.path.clone());
        let mut upload = UploadOptions::new()
            .file_name(local.name())
            .checkpoint_file(&checkpoint)
            .cancel_handle(options.cancel.clone())
            .on_progress(move |p| {
                watcher.emit(SyncEvent::Progress {
                    path: watched.clone(),
                    acknowledged: p.acknowledged,
                    total: p.total,
                });
            })
            .on_event(move |event| {
                // Journaled before the SDK removes the checkpoint: a process killed in
                // between finds one or the other, never neither (a second upload).
                if let UploadEvent::Completed { file_uuid } = event {
                    let mut entry = journaled.clone();
                    file_uuid.clone_into(&mut entry.file_uuid);
                    let _ = lock(&journal).set(&relative, entry);
                }
            });
        if let Some(uuid) = &version_of {
            upload = upload.new_version_of(uuid);
        }
        let file = self.upload_path(&path, upload).await?;
        entry.file_uuid = file.uuid.clone();
        entry.version_uuid = file.version_uuid.clone();
        let mut verified = None;
        if options.rules.verify {
            let stored = self.stored_sha256(&file, local.size).await?;
            let matches = stored == sha256;
            if !matches {
                // The next sync sees a change and uploads a new version.
                entry.modified_ns = 0;
                entry.sha256 = None;
            }
            verified = Some(matches);
        }
        lock(store).set(&item.path, entry)?;
        if is_new {
            for target in &options.attach {
                queues
                    .attach
                    .entry(target.clone())
                    .or_default()
                    .push(item.path.clone());
            }
            for target in &options.notes {
                queues
                    .notes
                    .entry(target.clone())
                    .or_default()
                    .push(item.path.clone());
            }
        }
        Ok((file.uuid, file.version_uuid, verified))
    }

    /// The SHA-256 of `file`'s active version, streamed (never stored).
    async fn stored_sha256(&self, file: &crate::FileObject, size: u64) -> Result<String, Error> {
        let mut sink = Sha256Sink::up_to(size);
        match file.download_url() {
            Some(url) => self.download_link(url, &mut sink).await?,
            None => self.download(file, &mut sink).await?,
        };
        Ok(sink.hex())
    }

    /// Queues the links an interrupted sync left pending. A note that may have been posted
    /// before the crash is looked up first, so it is not posted twice.
    async fn pending_links(
        &self,
        store: &Store,
        options: &SyncOptions,
        queues: &mut LinkQueues,
        report: &mut SyncReport,
    ) -> Result<(), Error> {
        let pending: Vec<(String, ManifestEntry)> = lock(store)
            .manifest()
            .files
            .iter()
            .filter(|(_, e)| !e.pending_attach.is_empty() || !e.pending_notes.is_empty())
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect();
        let mut noted: BTreeMap<LinkTarget, Vec<String>> = BTreeMap::new();
        for (path, mut entry) in pending {
            for target in entry.pending_attach.iter().filter_map(|t| t.parse().ok()) {
                queues.attach.entry(target).or_default().push(path.clone());
            }
            let mut still = Vec::new();
            for text in &entry.pending_notes {
                let Ok(target) = text.parse::<LinkTarget>() else {
                    continue;
                };
                if !noted.contains_key(&target) {
                    let found = match self.notes(&target.entity_type(), target.id).await {
                        Ok(notes) => notes
                            .iter()
                            .filter_map(|n| n.attachment().map(|a| a.file_uuid))
                            .collect(),
                        Err(error) => {
                            let mut outcome = link_outcome(&path, "note", &target);
                            fail(&mut outcome, &error);
                            report.outcomes.push(outcome);
                            continue;
                        }
                    };
                    noted.insert(target.clone(), found);
                }
                if noted[&target].contains(&entry.file_uuid) {
                    continue;
                }
                still.push(text.clone());
                queues.notes.entry(target).or_default().push(path.clone());
            }
            if still != entry.pending_notes {
                entry.pending_notes = still;
                lock(store).set(&path, entry)?;
            }
        }
        let _ = options;
        Ok(())
    }

    /// Sends the attachment and note batches that are full (all of them at the end), and
    /// clears them from the manifest's entries. A failed batch stays pending for the next
    /// sync and is reported.
    async fn flush_links(
        &self,
        store: &Store,
        options: &SyncOptions,
        queues: &mut LinkQueues,
        all: bool,
        report: &mut SyncReport,
    ) {
        let batch = options.rules.link_batch.max(1) as usize;
        for note in [false, true] {
            let queue = if note {
                &mut queues.notes
            } else {
                &mut queues.attach
            };
            let ready: Vec<LinkTarget> = queue
                .iter()
                .filter(|(_, paths)| !paths.is_empty() && (all || paths.len() >= batch))
                .map(|(target, _)| target.clone())
                .collect();
            for target in ready {
                let paths = queue.remove(&target).unwrap_or_default();
                for chunk in paths.chunks(batch) {
                    let result = self.send_links(store, &target, chunk, note).await;
                    let kind = if note { "note" } else { "attach" };
                    match result {
                        Ok(()) => options.emit(SyncEvent::Linked {
                            kind,
                            target: target.to_string(),
                            files: chunk.len(),
                        }),
                        Err(error) => {
                            for path in chunk {
                                let mut outcome = link_outcome(path, kind, &target);
                                fail(&mut outcome, &error);
                                options.emit(SyncEvent::Finished(outcome.clone()));
                                report.outcomes.push(outcome);
                            }
                        }
                    }
                }
            }
        }
    }

    async fn send_links(
        &self,
        store: &Store,
        target: &LinkTarget,
        paths: &[String],
        note: bool,
    ) -> Result<(), Error> {
        let entries: Vec<(String, ManifestEntry)> = {
            let store = lock(store);
            paths
                .iter()
                .filter_map(|p| Some((p.clone(), store.manifest().files.get(p)?.clone())))
                .collect()
        };
        let entity = target.entity_type();
        if note {
            let notes: Vec<AttachmentNote> = entries
                .iter()
                .map(|(path, e)| {
                    let name = path.rsplit('/').next().unwrap_or(path);
                    AttachmentNote::new(target.id, &e.file_uuid).file_name(name)
                })
                .collect();
            self.add_attachment_notes(&entity, &notes).await?;
        } else {
            let uuids: Vec<&str> = entries.iter().map(|(_, e)| e.file_uuid.as_str()).collect();
            self.attach(&entity, target.id, &uuids).await?;
        }
        let key = target.to_string();
        let mut store = lock(store);
        for (path, mut entry) in entries {
            let list = if note {
                &mut entry.pending_notes
            } else {
                &mut entry.pending_attach
            };
            list.retain(|t| *t != key);
            store.set(&path, entry)?;
        }
        Ok(())
    }
}

/// The outcome of an action that sends nothing: recorded in the manifest, or skipped.
fn record_only(item: &PlanItem, action: &Action, store: &Store) -> Result<SyncOutcome, Error> {
    let known = lock(store).manifest().files.get(&item.path).cloned();
    let mut outcome = outcome_of(item, "done", known.as_ref().map(|e| e.file_uuid.clone()));
    outcome.version_uuid = known.as_ref().and_then(|e| e.version_uuid.clone());
    let local = item.local.as_ref();
    let recorded = |file_uuid: &str, version_uuid: &Option<String>| ManifestEntry {
        file_uuid: file_uuid.to_owned(),
        version_uuid: version_uuid.clone(),
        size: local.map_or(0, |l| l.size),
        modified_ns: local.map_or(0, |l| l.modified_ns),
        sha256: local.and_then(|l| l.sha256.clone()),
        ..ManifestEntry::default()
    };
    match action {
        Action::Touched => {
            if let (Some(mut entry), Some(local)) = (known, local) {
                entry.modified_ns = local.modified_ns;
                lock(store).set(&item.path, entry)?;
            }
        }
        Action::Adopt {
            file_uuid,
            version_uuid,
        }
        | Action::Recovered {
            file_uuid,
            version_uuid,
        } => {
            let mut entry = recorded(file_uuid, version_uuid);
            if let Some(known) = known {
                entry.pending_attach = known.pending_attach;
                entry.pending_notes = known.pending_notes;
            }
            lock(store).set(&item.path, entry)?;
            outcome.file_uuid = Some(file_uuid.clone());
            outcome.version_uuid = version_uuid.clone();
        }
        Action::Forget => lock(store).remove(&item.path)?,
        Action::Conflict {
            file_uuid,
            conflict,
        } => {
            outcome.status = "skipped";
            outcome.file_uuid = Some(file_uuid.clone());
            outcome.message = Some(format!("{conflict}; --force overwrites it"));
        }
        Action::Ambiguous { candidates } => {
            outcome.status = "skipped";
            outcome.message = Some(format!(
                "{} files in the account have this name and size ({}); not adopted",
                candidates.len(),
                candidates.join(", ")
            ));
        }
        _ => {}
    }
    Ok(outcome)
}

fn outcome_of(item: &PlanItem, status: &'static str, file_uuid: Option<String>) -> SyncOutcome {
    SyncOutcome {
        path: item.path.clone(),
        action: item.action.label(),
        status,
        file_uuid,
        version_uuid: None,
        verified: None,
        message: None,
    }
}

fn link_outcome(path: &str, kind: &'static str, target: &LinkTarget) -> SyncOutcome {
    SyncOutcome {
        path: path.to_owned(),
        action: kind,
        status: "failed",
        file_uuid: None,
        version_uuid: None,
        verified: None,
        message: Some(format!("{kind} {target}")),
    }
}

fn fail(outcome: &mut SyncOutcome, error: &Error) {
    outcome.status = "failed";
    outcome.message = Some(match outcome.message.take() {
        Some(context) => format!("{context}: {}", error.chain_message()),
        None => error.chain_message(),
    });
}
