//! Attachments and notes of a batch, sent in batches: the attach endpoint takes a list of
//! files and the notes endpoint a list of notes, so a folder of small files costs about two
//! requests per file (session and part) instead of four.
//!
//! Each file's record says which entities it is attached to and noted on; a file is queued
//! per entity it still lacks, a full queue (and every queue at the end) is sent, and only then
//! is each file's record updated. A run killed in between finds the files unattached or
//! unnoted: attaching again is harmless, and a note is looked up on its entity first (once per
//! entity, for files of an earlier run only), so none is posted twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kommo_files::blocking::Client;
use kommo_files::model::wire::AttachmentNote;

use crate::args::EntityRef;
use crate::failure::Failure;
use crate::state::Batch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Attach,
    Note,
}

#[derive(Debug, Clone)]
struct Queued {
    path: PathBuf,
    uuid: String,
    name: String,
}

/// Files waiting, per kind and entity.
type Queues = BTreeMap<(Kind, String), (EntityRef, Vec<Queued>)>;

/// The queues of one upload batch, shared by its workers.
#[derive(Debug)]
pub struct Links<'a> {
    client: Client,
    batch: &'a Batch,
    attach: &'a [EntityRef],
    notes: &'a [EntityRef],
    size: usize,
    queues: Mutex<Queues>,
    /// The files each entity has notes for, read once when a file of an earlier run needs one.
    noted: Mutex<BTreeMap<String, BTreeSet<String>>>,
    failures: Mutex<Vec<(PathBuf, Failure)>>,
    /// Held while a record is read, changed and saved (two batches may finish one file).
    saving: Mutex<()>,
}

impl<'a> Links<'a> {
    pub fn new(
        client: Client,
        batch: &'a Batch,
        attach: &'a [EntityRef],
        notes: &'a [EntityRef],
        size: usize,
    ) -> Self {
        Self {
            client,
            batch,
            attach,
            notes,
            size: size.max(1),
            queues: Mutex::default(),
            noted: Mutex::default(),
            failures: Mutex::default(),
            saving: Mutex::default(),
        }
    }

    /// Queues `path` (stored as `uuid`) for every entity it is not yet attached to or noted
    /// on, and sends the queues that are full. `earlier`: the file was uploaded by an earlier
    /// run, so a note may have been posted without being recorded.
    pub fn add(&self, path: &Path, uuid: &str, name: &str, earlier: bool) {
        let record = self.batch.record(path).unwrap_or_default();
        let item = Queued {
            path: path.to_owned(),
            uuid: uuid.to_owned(),
            name: name.to_owned(),
        };
        let mut full = Vec::new();
        for (kind, entities, done) in [
            (Kind::Attach, self.attach, &record.attached),
            (Kind::Note, self.notes, &record.noted),
        ] {
            for entity in entities {
                let key = entity.to_string();
                if done.contains(&key) {
                    continue;
                }
                if kind == Kind::Note && earlier && self.already_noted(entity, uuid) {
                    self.record(&item.path, kind, &key);
                    continue;
                }
                let mut queues = self.lock_queues();
                let (_, queue) = queues
                    .entry((kind, key.clone()))
                    .or_insert_with(|| (entity.clone(), Vec::new()));
                queue.push(item.clone());
                if queue.len() >= self.size {
                    full.push((kind, entity.clone(), std::mem::take(queue)));
                }
            }
        }
        for (kind, entity, items) in full {
            self.send(kind, &entity, &items);
        }
    }

    /// Sends what is left in every queue; returns every failure, by file.
    pub fn finish(&self) -> Vec<(PathBuf, Failure)> {
        let queues = std::mem::take(&mut *self.lock_queues());
        for ((kind, _), (entity, items)) in queues {
            for chunk in items.chunks(self.size) {
                self.send(kind, &entity, chunk);
            }
        }
        std::mem::take(
            &mut *self
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn send(&self, kind: Kind, entity: &EntityRef, items: &[Queued]) {
        if items.is_empty() {
            return;
        }
        let result = match kind {
            Kind::Attach => {
                let uuids: Vec<&str> = items.iter().map(|i| i.uuid.as_str()).collect();
                self.client.attach(&entity.kind, entity.id, &uuids)
            }
            Kind::Note => {
                let notes: Vec<AttachmentNote> = items
                    .iter()
                    .map(|i| AttachmentNote::new(entity.id, &i.uuid).file_name(&i.name))
                    .collect();
                self.client
                    .add_attachment_notes(&entity.kind, &notes)
                    .map(drop)
            }
        };
        let key = entity.to_string();
        match result {
            Ok(()) => {
                for item in items {
                    self.record(&item.path, kind, &key);
                }
            }
            Err(error) => {
                let failure = Failure::about_entity(error, entity);
                let mut failures = self
                    .failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for item in items {
                    failures.push((item.path.clone(), failure.clone()));
                }
            }
        }
    }

    /// Saves that `path` is attached to or noted on `key`.
    fn record(&self, path: &Path, kind: Kind, key: &str) {
        let _saving = self
            .saving
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(mut record) = self.batch.record(path) else {
            return;
        };
        let list = match kind {
            Kind::Attach => &mut record.attached,
            Kind::Note => &mut record.noted,
        };
        if !list.iter().any(|k| k == key) {
            list.push(key.to_owned());
        }
        if let Err(failure) = self.batch.save(path, record) {
            self.failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((path.to_owned(), failure));
        }
    }

    /// Whether `entity` has an attachment note for `uuid` (its notes read once).
    fn already_noted(&self, entity: &EntityRef, uuid: &str) -> bool {
        let key = entity.to_string();
        let mut noted = self
            .noted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !noted.contains_key(&key) {
            let found = self
                .client
                .notes(&entity.kind, entity.id)
                .map(|notes| {
                    notes
                        .iter()
                        .filter_map(|n| n.attachment().map(|a| a.file_uuid))
                        .collect()
                })
                // Unknown: send the note (an error about the entity comes with it).
                .unwrap_or_default();
            noted.insert(key.clone(), found);
        }
        noted[&key].contains(uuid)
    }

    fn lock_queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
