//! Folder sync: make the account reflect a local folder, idempotently.
//!
//! A sync is three steps, each usable on its own:
//!
//! 1. **scan** the folder ([`scan_folder`]) and read the [`ManifestStore`] (relative path →
//!    Kommo file, version, size, modification time, SHA-256);
//! 2. **plan** ([`plan`]): a pure function of (local scan, manifest, remote state) that says,
//!    path by path, [`Action::Upload`] (new), [`Action::NewVersion`] (changed: a new version
//!    of the *same* Kommo file, so its history and links survive), [`Action::Unchanged`] (no
//!    request at all), [`Action::Delete`], or [`Action::Conflict`] (the remote copy was
//!    trashed or got another version: skipped unless [`SyncOptions::force`]). Only the files
//!    that changed or are gone are looked up in the account ([`remote_checks`]);
//! 3. **execute**: uploads with a checkpoint each (a killed sync continues them), the manifest
//!    updated after each file (journaled, so a kill loses nothing and repeats nothing),
//!    attachments and notes of new files batched per entity.
//!
//! `blocking::Client::sync_folder` and the async `Client::sync_folder` run all three;
//! `plan_sync` and `execute_sync` split them (to show a plan and ask before deleting).
//!
//! ```
//! # let emulator = kommo_files_emulator::Emulator::builder().start()?;
//! # let client = kommo_files::blocking::Client::new(kommo_files::ClientConfig::for_url(emulator.account_url(), &emulator.token())?)?;
//! # let root = std::env::temp_dir().join(format!("kommo-files-doc-sync-mod-{}", std::process::id()));
//! # std::fs::create_dir_all(root.join("folder"))?;
//! use kommo_files::sync::SyncOptions;
//!
//! std::fs::write(root.join("folder/a.txt"), b"hello")?;
//! let options = SyncOptions::new(root.join("manifest.json"));
//! let report = client.sync_folder(root.join("folder"), options)?;
//! assert_eq!(report.uploaded(), 1);
//! // Nothing changed: nothing is sent.
//! let report = client.sync_folder(root.join("folder"), SyncOptions::new(root.join("manifest.json")))?;
//! assert_eq!(report.uploaded(), 0);
//! # std::fs::remove_dir_all(&root)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod manifest;
mod plan;
mod scan;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

pub use manifest::{Manifest, ManifestEntry, ManifestStore, Uploading};
pub use plan::{
    plan, remote_checks, requests_to_check, Action, Conflict, LocalFile, Plan, PlanCounts,
    PlanItem, PlanRules, RemoteFile, RemoteState, CHECK_BATCH, DELETE_BATCH,
};
pub use scan::{scan_folder, sha256_file, Scan, Skipped};

use crate::{CancelHandle, EntityType};

/// A CRM entity to attach new files to or note them on: `leads:123`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkTarget {
    /// `leads`, `contacts`, `companies`, `customers`.
    pub entity: String,
    /// The entity's id.
    pub id: i64,
}

impl LinkTarget {
    /// `entity:id`.
    pub fn new(entity: &EntityType, id: i64) -> Self {
        Self {
            entity: entity.as_str().to_owned(),
            id,
        }
    }

    /// The entity type.
    pub fn entity_type(&self) -> EntityType {
        EntityType::from(self.entity.as_str())
    }
}

impl fmt::Display for LinkTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.entity, self.id)
    }
}

impl FromStr for LinkTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (entity, id) = text
            .split_once(':')
            .ok_or_else(|| format!("expected ENTITY:ID, got {text:?}"))?;
        let id = id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| format!("expected a positive id, got {id:?}"))?;
        Ok(Self {
            entity: entity.to_owned(),
            id,
        })
    }
}

type Observer = Arc<Mutex<Box<dyn FnMut(&SyncEvent) + Send>>>;

/// How to sync: where the manifest is, what the plan may do, and who watches.
///
/// ```
/// use kommo_files::sync::SyncOptions;
/// use kommo_files::EntityType;
///
/// let options = SyncOptions::new("/var/lib/app/sync/manifest.json")
///     .delete(true)
///     .attach(&EntityType::Leads, 123)
///     .on_event(|event| eprintln!("{event:?}"));
/// # drop(options);
/// ```
#[derive(Clone)]
pub struct SyncOptions {
    pub(crate) manifest: PathBuf,
    pub(crate) rules: PlanRules,
    pub(crate) attach: Vec<LinkTarget>,
    pub(crate) notes: Vec<LinkTarget>,
    pub(crate) observer: Option<Observer>,
    pub(crate) cancel: CancelHandle,
}

impl SyncOptions {
    /// Keep the manifest at `manifest` (and its journal and upload checkpoints beside it).
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            rules: PlanRules {
                part_size: 512 * 1024,
                link_batch: 50,
                ..PlanRules::default()
            },
            attach: Vec::new(),
            notes: Vec::new(),
            observer: None,
            cancel: CancelHandle::new(),
        }
    }

    /// Move Kommo files whose local copy is gone to the trash (default: keep them).
    pub fn delete(mut self, delete: bool) -> Self {
        self.rules.delete = delete;
        self
    }

    /// Overwrite remote changes instead of skipping them as conflicts.
    pub fn force(mut self, force: bool) -> Self {
        self.rules.force = force;
        self
    }

    /// Compare files of the same size by SHA-256 instead of modification time.
    pub fn checksum(mut self, checksum: bool) -> Self {
        self.rules.checksum = checksum;
        self
    }

    /// Rebuild a lost manifest: files not in it are matched to the account's by name and
    /// size (an ambiguous match is reported and skipped, never guessed). Lists the account.
    pub fn adopt(mut self, adopt: bool) -> Self {
        self.rules.adopt = adopt;
        self
    }

    /// Read every upload back and compare its SHA-256 (one more request per file).
    pub fn verify(mut self, verify: bool) -> Self {
        self.rules.verify = verify;
        self
    }

    /// Attach each new file to this entity (batched: one request per
    /// [`SyncOptions::link_batch`] files).
    pub fn attach(mut self, entity: &EntityType, id: i64) -> Self {
        self.attach.push(LinkTarget::new(entity, id));
        self.rules.link_targets += 1;
        self
    }

    /// Add an attachment note for each new file on this entity (batched like attachments).
    pub fn note(mut self, entity: &EntityType, id: i64) -> Self {
        self.notes.push(LinkTarget::new(entity, id));
        self.rules.link_targets += 1;
        self
    }

    /// Files per attachment or note request (default 50, at least 1).
    pub fn link_batch(mut self, files: u32) -> Self {
        self.rules.link_batch = files.max(1);
        self
    }

    /// The part size assumed when a plan counts its requests (default 512 KiB, Kommo's).
    pub fn part_size_hint(mut self, bytes: u64) -> Self {
        self.rules.part_size = bytes.max(1);
        self
    }

    /// Called with every [`SyncEvent`].
    pub fn on_event(mut self, callback: impl FnMut(&SyncEvent) + Send + 'static) -> Self {
        self.observer = Some(Arc::new(Mutex::new(Box::new(callback))));
        self
    }

    /// Stop at the next step when `handle` is cancelled (an upload in progress keeps its
    /// checkpoint; the next sync continues it).
    pub fn cancel_handle(mut self, handle: CancelHandle) -> Self {
        self.cancel = handle;
        self
    }

    /// The plan's rules.
    pub fn rules(&self) -> &PlanRules {
        &self.rules
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> &std::path::Path {
        &self.manifest
    }

    pub(crate) fn emit(&self, event: SyncEvent) {
        if let Some(observer) = &self.observer {
            let mut callback = observer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            callback(&event);
        }
    }
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("manifest", &self.manifest)
            .field("rules", &self.rules)
            .field("attach", &self.attach)
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

/// What a sync reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// An upload starts (`resumed` when a checkpoint of an earlier run exists).
    Started {
        /// Relative path.
        path: String,
        /// `new` or `changed`.
        label: &'static str,
        /// Bytes.
        size: u64,
    },
    /// Bytes of an upload the server acknowledged.
    Progress {
        /// Relative path.
        path: String,
        /// Acknowledged so far.
        acknowledged: u64,
        /// The file's size.
        total: u64,
    },
    /// A path is done (uploaded, recorded, trashed, skipped or failed).
    Finished(SyncOutcome),
    /// A batch of attachments or notes went out.
    Linked {
        /// `attach` or `note`.
        kind: &'static str,
        /// The entity.
        target: String,
        /// Files in the batch.
        files: usize,
    },
}

/// What became of one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncOutcome {
    /// Relative path.
    pub path: String,
    /// The plan's label ([`Action::label`]).
    pub action: &'static str,
    /// `done`, `skipped` or `failed`.
    pub status: &'static str,
    /// The Kommo file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_uuid: Option<String>,
    /// Its active version after this sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_uuid: Option<String>,
    /// `Some(true)` when read back and its SHA-256 matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What a sync did, path by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// One per path of the plan (unchanged ones included), then link failures.
    pub outcomes: Vec<SyncOutcome>,
}

impl SyncReport {
    /// Files uploaded (new files and new versions).
    pub fn uploaded(&self) -> usize {
        self.count(|o| o.status == "done" && matches!(o.action, "new" | "changed"))
    }

    /// Files moved to the trash.
    pub fn deleted(&self) -> usize {
        self.count(|o| o.status == "done" && o.action == "delete")
    }

    /// Paths skipped (conflicts, ambiguous adoptions).
    pub fn skipped(&self) -> usize {
        self.count(|o| o.status == "skipped")
    }

    /// Paths that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| o.status == "failed")
    }

    fn count(&self, keep: impl Fn(&SyncOutcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| keep(o)).count()
    }
}

/// A short, stable file name for a relative path (its upload checkpoint's).
pub(crate) fn path_digest(path: &str) -> String {
    let mut hash = kommo_files_model::upload::PrefixHash::default();
    hash.update(path.as_bytes());
    hash.hex()[..24].to_owned()
}
