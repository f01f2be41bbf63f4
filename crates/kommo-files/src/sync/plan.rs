//! The planner: what a sync does, as a pure function of (local scan, manifest, remote state).
//!
//! No I/O here: the scan, the manifest store and the remote listing are read by the driver
//! (`src/driver/sync_folder.rs`); this module only decides, so every case is a row of a test
//! table (`tests` below).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::manifest::{Manifest, ManifestEntry};

/// One regular file of the local folder, as the scan saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalFile {
    /// Relative to the folder, `/`-separated (`reports/2026/q1.pdf`).
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 before it or unknown).
    pub modified_ns: u64,
    /// SHA-256 (lowercase hex), when the scan computed it (`--checksum`).
    pub sha256: Option<String>,
}

impl LocalFile {
    /// A file as scanned, without its hash.
    pub fn new(path: impl Into<String>, size: u64, modified_ns: u64) -> Self {
        Self {
            path: path.into(),
            size,
            modified_ns,
            sha256: None,
        }
    }

    /// The same file with its SHA-256.
    pub fn with_sha256(mut self, sha256: impl Into<String>) -> Self {
        self.sha256 = Some(sha256.into());
        self
    }

    /// The name the file gets in Kommo: the last component (the drive has no folders).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// What the account says about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteFile {
    /// The file's UUID.
    pub uuid: String,
    /// Its active version.
    pub version_uuid: Option<String>,
    /// Its name with the extension.
    pub name: String,
    /// The active version's size.
    pub size: u64,
    /// In the trash.
    pub trashed: bool,
}

impl From<&crate::FileObject> for RemoteFile {
    fn from(file: &crate::FileObject) -> Self {
        Self {
            uuid: file.uuid.clone(),
            version_uuid: file.version_uuid.clone(),
            name: file.display_name(),
            size: file.size,
            trashed: file.is_trashed,
        }
    }
}

/// What the account said about the files the plan needed to know about
/// ([`remote_checks`]), or, to adopt, about every file. A UUID that was asked about and is
/// not here is gone (trashed or purged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteState {
    /// The files found, by UUID.
    pub files: BTreeMap<String, RemoteFile>,
}

impl RemoteState {
    /// The state made of these files.
    pub fn of(files: impl IntoIterator<Item = RemoteFile>) -> Self {
        Self {
            files: files.into_iter().map(|f| (f.uuid.clone(), f)).collect(),
        }
    }

    fn active(&self, uuid: &str) -> Option<&RemoteFile> {
        self.files.get(uuid).filter(|f| !f.trashed)
    }
}

/// The choices that change a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PlanRules {
    /// Files whose local copy is gone are moved to the trash.
    pub delete: bool,
    /// Remote changes are overwritten instead of reported as conflicts.
    pub force: bool,
    /// A file whose size matches is compared by SHA-256, not by modification time.
    pub checksum: bool,
    /// Files not in the manifest are matched to the account's files by name and size.
    pub adopt: bool,
    /// The part size assumed when counting requests (the server announces the real one).
    pub part_size: u64,
    /// Requests after each new file: attachments and notes, one per entity in a batch of
    /// `link_batch` files.
    pub link_targets: u32,
    /// Files per attachment or note request.
    pub link_batch: u32,
    /// Whether each upload is read back to compare its SHA-256 (one more request per file).
    pub verify: bool,
}

/// Why a file's remote copy stops the plan from touching it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Conflict {
    /// The remote file is trashed or gone.
    RemoteGone,
    /// Someone made another version active since the manifest recorded ours.
    RemoteChanged {
        /// The version the manifest recorded.
        ours: String,
        /// The active version now.
        theirs: Option<String>,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RemoteGone => f.write_str("the remote file is trashed or gone"),
            Self::RemoteChanged { .. } => {
                f.write_str("the remote file has a newer version than the one synced")
            }
        }
    }
}

/// What the plan does with one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// A new file: uploaded.
    Upload,
    /// Changed since the manifest's record: uploaded as a new version of the same file.
    NewVersion {
        /// The Kommo file.
        file_uuid: String,
    },
    /// Nothing to do, no request.
    Unchanged,
    /// The same content under a new modification time (`--checksum`): the manifest is
    /// updated, no request.
    Touched,
    /// Found in the account by name and size (`--adopt`): recorded, no request.
    Adopt {
        /// The Kommo file.
        file_uuid: String,
        /// Its active version.
        version_uuid: Option<String>,
    },
    /// A version this sync uploaded before a crash is the active one: recorded, no request.
    Recovered {
        /// The Kommo file.
        file_uuid: String,
        /// Its active version.
        version_uuid: Option<String>,
    },
    /// The local copy is gone: the Kommo file goes to the trash.
    Delete {
        /// The Kommo file.
        file_uuid: String,
    },
    /// The local copy is gone and the Kommo file too: the manifest forgets it.
    Forget,
    /// The local copy is gone; without `--delete` the Kommo file stays.
    Missing,
    /// Skipped: the remote copy changed (see [`PlanRules::force`]).
    Conflict {
        /// The Kommo file.
        file_uuid: String,
        /// What changed.
        conflict: Conflict,
    },
    /// Skipped: `--adopt` found several files of this name and size (never guessed).
    Ambiguous {
        /// The candidates.
        candidates: Vec<String>,
    },
}

impl Action {
    /// A short label: `new`, `changed`, `unchanged`, `delete`, `conflict`, …
    pub fn label(&self) -> &'static str {
        match self {
            Self::Upload => "new",
            Self::NewVersion { .. } => "changed",
            Self::Unchanged => "unchanged",
            Self::Touched => "touched",
            Self::Adopt { .. } => "adopt",
            Self::Recovered { .. } => "recovered",
            Self::Delete { .. } => "delete",
            Self::Forget => "forget",
            Self::Missing => "missing",
            Self::Conflict { .. } => "conflict",
            Self::Ambiguous { .. } => "ambiguous",
        }
    }
}

/// One path and what the plan does with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    /// Relative, `/`-separated.
    pub path: String,
    /// What is done.
    #[serde(flatten)]
    pub action: Action,
    /// The local file (none for a path whose local copy is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalFile>,
}

/// What a sync will do, path by path (sorted), and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Plan {
    /// Every path seen locally or in the manifest.
    pub items: Vec<PlanItem>,
}

/// How many paths of each kind a plan has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PlanCounts {
    /// New files.
    pub new: usize,
    /// Changed files (new versions).
    pub changed: usize,
    /// Unchanged (including touched, adopted and recovered: no request).
    pub unchanged: usize,
    /// To the trash.
    pub delete: usize,
    /// Conflicts and ambiguous adoptions: skipped.
    pub conflict: usize,
    /// Gone locally, kept remotely (no `--delete`), or forgotten.
    pub missing: usize,
}

impl Plan {
    /// The items that upload (new files and new versions).
    pub fn uploads(&self) -> impl Iterator<Item = &PlanItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, Action::Upload | Action::NewVersion { .. }))
    }

    /// How many paths of each kind.
    pub fn counts(&self) -> PlanCounts {
        let mut counts = PlanCounts::default();
        for item in &self.items {
            match item.action {
                Action::Upload => counts.new += 1,
                Action::NewVersion { .. } => counts.changed += 1,
                Action::Unchanged
                | Action::Touched
                | Action::Adopt { .. }
                | Action::Recovered { .. } => counts.unchanged += 1,
                Action::Delete { .. } => counts.delete += 1,
                Action::Conflict { .. } | Action::Ambiguous { .. } => counts.conflict += 1,
                Action::Missing | Action::Forget => counts.missing += 1,
            }
        }
        counts
    }

    /// The requests executing the plan takes: a session and its parts per upload (parts of
    /// [`PlanRules::part_size`]), a read-back per upload with `verify`, the attachment and
    /// note batches, and one trash request per 50 deletions. (The remote checks made while
    /// planning are [`requests_to_check`].)
    pub fn requests(&self, rules: &PlanRules) -> u64 {
        let part = rules.part_size.max(1);
        let mut total = 0u64;
        let mut new_files = 0u64;
        for item in self.uploads() {
            let size = item.local.as_ref().map_or(0, |l| l.size);
            total += 1 + size.div_ceil(part).max(1);
            if rules.verify {
                total += 1;
            }
            if item.action == Action::Upload {
                new_files += 1;
            }
        }
        let batch = u64::from(rules.link_batch.max(1));
        total += u64::from(rules.link_targets) * new_files.div_ceil(batch);
        let deletes = self
            .items
            .iter()
            .filter(|i| matches!(i.action, Action::Delete { .. }))
            .count() as u64;
        total + deletes.div_ceil(DELETE_BATCH as u64)
    }
}

/// UUIDs per trash request.
pub const DELETE_BATCH: usize = 50;
/// UUIDs per listing request that checks remote state.
pub const CHECK_BATCH: usize = 50;

/// The files whose remote state the plan needs: those the manifest knows and that changed
/// or are gone locally. Unchanged files need nothing, so a sync that changes nothing sends
/// no request.
pub fn remote_checks(local: &[LocalFile], manifest: &Manifest, rules: &PlanRules) -> Vec<String> {
    let by_path: BTreeMap<&str, &LocalFile> = local.iter().map(|l| (l.path.as_str(), l)).collect();
    let mut uuids = BTreeSet::new();
    for (path, entry) in &manifest.files {
        let needs = match by_path.get(path.as_str()) {
            Some(local) => compare(local, entry, rules) == Comparison::Changed,
            None => rules.delete,
        };
        if needs {
            uuids.insert(entry.file_uuid.clone());
        }
    }
    uuids.into_iter().collect()
}

/// The listing requests [`remote_checks`] costs (adopting lists every file instead).
pub fn requests_to_check(uuids: usize) -> u64 {
    uuids.div_ceil(CHECK_BATCH) as u64
}

#[derive(Debug, PartialEq, Eq)]
enum Comparison {
    Same,
    Touched,
    Changed,
}

fn compare(local: &LocalFile, entry: &ManifestEntry, rules: &PlanRules) -> Comparison {
    if local.size != entry.size {
        return Comparison::Changed;
    }
    if rules.checksum {
        return match (&local.sha256, &entry.sha256) {
            (Some(ours), Some(recorded)) if ours == recorded => {
                if local.modified_ns == entry.modified_ns {
                    Comparison::Same
                } else {
                    Comparison::Touched
                }
            }
            _ => Comparison::Changed,
        };
    }
    if local.modified_ns == entry.modified_ns {
        Comparison::Same
    } else {
        Comparison::Changed
    }
}

/// The plan: a pure function of what is on disk, what the manifest recorded, and what the
/// account said about the files [`remote_checks`] named (or about every file, to adopt).
///
/// ```
/// use kommo_files::sync::{plan, Action, LocalFile, Manifest, PlanRules, RemoteState};
///
/// let local = [LocalFile::new("a.txt", 5, 1_000)];
/// let plan = plan(&local, &Manifest::default(), &RemoteState::default(), &PlanRules::default());
/// assert_eq!(plan.items[0].action, Action::Upload);
/// ```
pub fn plan(
    local: &[LocalFile],
    manifest: &Manifest,
    remote: &RemoteState,
    rules: &PlanRules,
) -> Plan {
    let mut items = Vec::new();
    let by_path: BTreeMap<&str, &LocalFile> = local.iter().map(|l| (l.path.as_str(), l)).collect();
    let adoptions = if rules.adopt {
        adopt(local, manifest, remote)
    } else {
        BTreeMap::new()
    };
    let mut paths: BTreeSet<&str> = by_path.keys().copied().collect();
    paths.extend(manifest.files.keys().map(String::as_str));
    for path in paths {
        let local = by_path.get(path).copied();
        let action = match (local, manifest.files.get(path)) {
            (Some(_), None) => adoptions.get(path).cloned().unwrap_or(Action::Upload),
            (Some(local), Some(entry)) => changed(local, entry, remote, rules),
            (None, Some(entry)) => gone(entry, remote, rules),
            (None, None) => continue,
        };
        items.push(PlanItem {
            path: path.to_owned(),
            action,
            local: local.cloned(),
        });
    }
    Plan { items }
}

/// A file the manifest knows and that is still here.
fn changed(
    local: &LocalFile,
    entry: &ManifestEntry,
    remote: &RemoteState,
    rules: &PlanRules,
) -> Action {
    match compare(local, entry, rules) {
        Comparison::Same => return Action::Unchanged,
        Comparison::Touched => return Action::Touched,
        Comparison::Changed => {}
    }
    let file_uuid = entry.file_uuid.clone();
    let Some(found) = remote.active(&entry.file_uuid) else {
        return match rules.force {
            // The old file is gone: the new content becomes a new file.
            true => Action::Upload,
            false => Action::Conflict {
                file_uuid,
                conflict: Conflict::RemoteGone,
            },
        };
    };
    if found.version_uuid == entry.version_uuid || entry.version_uuid.is_none() {
        return Action::NewVersion { file_uuid };
    }
    // A version this sync started uploading before a crash may be the active one now.
    if let Some(uploading) = &entry.uploading {
        if uploading.size == local.size
            && uploading.modified_ns == local.modified_ns
            && found.size == local.size
        {
            return Action::Recovered {
                file_uuid,
                version_uuid: found.version_uuid.clone(),
            };
        }
    }
    match rules.force {
        true => Action::NewVersion { file_uuid },
        false => Action::Conflict {
            file_uuid,
            conflict: Conflict::RemoteChanged {
                ours: entry.version_uuid.clone().unwrap_or_default(),
                theirs: found.version_uuid.clone(),
            },
        },
    }
}

/// A file the manifest knows whose local copy is gone.
fn gone(entry: &ManifestEntry, remote: &RemoteState, rules: &PlanRules) -> Action {
    if !rules.delete {
        return Action::Missing;
    }
    let file_uuid = entry.file_uuid.clone();
    match remote.active(&entry.file_uuid) {
        None => Action::Forget,
        Some(found)
            if rules.force
                || entry.version_uuid.is_none()
                || found.version_uuid == entry.version_uuid =>
        {
            Action::Delete { file_uuid }
        }
        Some(found) => Action::Conflict {
            file_uuid,
            conflict: Conflict::RemoteChanged {
                ours: entry.version_uuid.clone().unwrap_or_default(),
                theirs: found.version_uuid.clone(),
            },
        },
    }
}

/// Matches local files missing from the manifest to the account's files by name and size.
/// A file with several candidates, or a candidate claimed by several files (or already in
/// the manifest), is ambiguous: reported, never guessed.
fn adopt(
    local: &[LocalFile],
    manifest: &Manifest,
    remote: &RemoteState,
) -> BTreeMap<String, Action> {
    let known: BTreeSet<&str> = manifest
        .files
        .values()
        .map(|e| e.file_uuid.as_str())
        .collect();
    let mut candidates: BTreeMap<&str, Vec<&RemoteFile>> = BTreeMap::new();
    let mut claims: BTreeMap<&str, usize> = BTreeMap::new();
    for file in local
        .iter()
        .filter(|l| !manifest.files.contains_key(&l.path))
    {
        let found: Vec<&RemoteFile> = remote
            .files
            .values()
            .filter(|r| !r.trashed && r.name == file.name() && r.size == file.size)
            .collect();
        for r in &found {
            *claims.entry(r.uuid.as_str()).or_default() += 1;
        }
        candidates.insert(file.path.as_str(), found);
    }
    candidates
        .into_iter()
        .filter(|(_, found)| !found.is_empty())
        .map(|(path, found)| {
            let action = match found.as_slice() {
                [one]
                    if claims.get(one.uuid.as_str()) == Some(&1)
                        && !known.contains(one.uuid.as_str()) =>
                {
                    Action::Adopt {
                        file_uuid: one.uuid.clone(),
                        version_uuid: one.version_uuid.clone(),
                    }
                }
                _ => Action::Ambiguous {
                    candidates: found.iter().map(|r| r.uuid.clone()).collect(),
                },
            };
            (path.to_owned(), action)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::manifest::Uploading;

    fn entry(uuid: &str, version: &str, size: u64, modified_ns: u64) -> ManifestEntry {
        ManifestEntry {
            file_uuid: uuid.into(),
            version_uuid: Some(version.into()),
            size,
            modified_ns,
            sha256: Some(format!("sha-{size}")),
            ..ManifestEntry::default()
        }
    }

    fn remote(uuid: &str, version: &str, name: &str, size: u64) -> RemoteFile {
        RemoteFile {
            uuid: uuid.into(),
            version_uuid: Some(version.into()),
            name: name.into(),
            size,
            trashed: false,
        }
    }

    fn manifest(entries: &[(&str, ManifestEntry)]) -> Manifest {
        let mut m = Manifest::default();
        for (path, e) in entries {
            m.files.insert((*path).to_owned(), e.clone());
        }
        m
    }

    fn rules(delete: bool, force: bool, checksum: bool, adopt: bool) -> PlanRules {
        PlanRules {
            delete,
            force,
            checksum,
            adopt,
            part_size: 512 * 1024,
            link_batch: 50,
            ..PlanRules::default()
        }
    }

    /// (name, local, manifest, remote, rules, expected action of "a.txt").
    type Row<'a> = (
        &'a str,
        Vec<LocalFile>,
        &'a Manifest,
        &'a RemoteState,
        PlanRules,
        Action,
    );

    #[test]
    fn the_plan_table() {
        let m = manifest(&[("a.txt", entry("F", "V1", 5, 100))]);
        let same_remote = RemoteState::of([remote("F", "V1", "a.txt", 5)]);
        let newer_remote = RemoteState::of([remote("F", "V2", "a.txt", 9)]);
        let mut trashed = remote("F", "V1", "a.txt", 5);
        trashed.trashed = true;
        let trashed_remote = RemoteState::of([trashed]);
        let none = RemoteState::default();
        let empty = Manifest::default();
        let plain = rules(false, false, false, false);
        let delete = rules(true, false, false, false);
        let force = rules(false, true, false, false);
        let delete_force = rules(true, true, false, false);
        let checksum = rules(false, false, true, false);
        let new_version = Action::NewVersion {
            file_uuid: "F".into(),
        };
        let changed = |size, modified| vec![LocalFile::new("a.txt", size, modified)];
        let hashed =
            |modified, sha: &str| vec![LocalFile::new("a.txt", 5, modified).with_sha256(sha)];
        let conflict_changed = Action::Conflict {
            file_uuid: "F".into(),
            conflict: Conflict::RemoteChanged {
                ours: "V1".into(),
                theirs: Some("V2".into()),
            },
        };
        let gone = Action::Conflict {
            file_uuid: "F".into(),
            conflict: Conflict::RemoteGone,
        };
        let table: Vec<Row<'_>> = vec![
            (
                "new file",
                changed(5, 100),
                &empty,
                &none,
                plain,
                Action::Upload,
            ),
            (
                "unchanged",
                changed(5, 100),
                &m,
                &none,
                plain,
                Action::Unchanged,
            ),
            (
                "size changed",
                changed(6, 100),
                &m,
                &same_remote,
                plain,
                new_version.clone(),
            ),
            (
                "mtime changed",
                changed(5, 101),
                &m,
                &same_remote,
                plain,
                new_version.clone(),
            ),
            (
                "checksum: same hash, new mtime",
                hashed(101, "sha-5"),
                &m,
                &none,
                checksum,
                Action::Touched,
            ),
            (
                "checksum: same hash, same mtime",
                hashed(100, "sha-5"),
                &m,
                &none,
                checksum,
                Action::Unchanged,
            ),
            (
                "checksum: new hash, same mtime",
                hashed(100, "other"),
                &m,
                &same_remote,
                checksum,
                new_version.clone(),
            ),
            (
                "changed, remote newer",
                changed(6, 100),
                &m,
                &newer_remote,
                plain,
                conflict_changed.clone(),
            ),
            (
                "changed, remote newer, force",
                changed(6, 100),
                &m,
                &newer_remote,
                force,
                new_version.clone(),
            ),
            (
                "changed, remote trashed",
                changed(6, 100),
                &m,
                &trashed_remote,
                plain,
                gone.clone(),
            ),
            (
                "changed, remote purged",
                changed(6, 100),
                &m,
                &none,
                plain,
                gone,
            ),
            (
                "changed, remote trashed, force",
                changed(6, 100),
                &m,
                &trashed_remote,
                force,
                Action::Upload,
            ),
            (
                "gone locally, no --delete",
                vec![],
                &m,
                &none,
                plain,
                Action::Missing,
            ),
            (
                "gone locally, --delete",
                vec![],
                &m,
                &same_remote,
                delete,
                Action::Delete {
                    file_uuid: "F".into(),
                },
            ),
            (
                "gone locally and remotely",
                vec![],
                &m,
                &trashed_remote,
                delete,
                Action::Forget,
            ),
            (
                "gone locally, remote newer",
                vec![],
                &m,
                &newer_remote,
                delete,
                conflict_changed,
            ),
            (
                "gone locally, remote newer, force",
                vec![],
                &m,
                &newer_remote,
                delete_force,
                Action::Delete {
                    file_uuid: "F".into(),
                },
            ),
        ];
        for (name, local, manifest, remote, rules, expected) in table {
            let plan = plan(&local, manifest, remote, &rules);
            let got = plan
                .items
                .iter()
                .find(|i| i.path == "a.txt")
                .map(|i| &i.action);
            assert_eq!(got, Some(&expected), "{name}");
        }
    }

    #[test]
    fn an_interrupted_new_version_is_recovered_not_a_conflict() {
        let mut e = entry("F", "V1", 5, 100);
        e.uploading = Some(Uploading {
            size: 6,
            modified_ns: 200,
        });
        let m = manifest(&[("a.txt", e)]);
        let ours = RemoteState::of([remote("F", "V2", "a.txt", 6)]);
        let local = [LocalFile::new("a.txt", 6, 200)];
        let plan = plan(&local, &m, &ours, &rules(false, false, false, false));
        assert_eq!(
            plan.items[0].action,
            Action::Recovered {
                file_uuid: "F".into(),
                version_uuid: Some("V2".into())
            }
        );
        // Someone else's version of another size stays a conflict.
        let theirs = RemoteState::of([remote("F", "V2", "a.txt", 7)]);
        let plan = super::plan(&local, &m, &theirs, &rules(false, false, false, false));
        assert!(matches!(plan.items[0].action, Action::Conflict { .. }));
    }

    #[test]
    fn unchanged_files_need_no_remote_check() {
        let m = manifest(&[
            ("a.txt", entry("A", "V", 5, 100)),
            ("b.txt", entry("B", "V", 5, 100)),
            ("c.txt", entry("C", "V", 5, 100)),
        ]);
        let local = [
            LocalFile::new("a.txt", 5, 100),
            LocalFile::new("b.txt", 6, 100),
            LocalFile::new("new.txt", 1, 1),
        ];
        let plain = rules(false, false, false, false);
        assert_eq!(remote_checks(&local, &m, &plain), vec!["B".to_owned()]);
        let delete = rules(true, false, false, false);
        assert_eq!(
            remote_checks(&local, &m, &delete),
            vec!["B".to_owned(), "C".to_owned()]
        );
        let same: Vec<LocalFile> = ["a.txt", "b.txt", "c.txt"]
            .iter()
            .map(|p| LocalFile::new(*p, 5, 100))
            .collect();
        assert!(remote_checks(&same, &m, &delete).is_empty());
        assert_eq!(requests_to_check(0), 0);
        assert_eq!(requests_to_check(51), 2);
    }

    #[test]
    fn adoption_matches_by_name_and_size_and_never_guesses() {
        let local = [
            LocalFile::new("docs/one.pdf", 10, 1),
            LocalFile::new("two.pdf", 20, 1),
            LocalFile::new("x/same.txt", 3, 1),
            LocalFile::new("y/same.txt", 3, 1),
            LocalFile::new("fresh.txt", 1, 1),
            LocalFile::new("resized.pdf", 99, 1),
        ];
        let remote = RemoteState::of([
            remote("ONE", "V1", "one.pdf", 10),
            remote("TWO-A", "V", "two.pdf", 20),
            remote("TWO-B", "V", "two.pdf", 20),
            remote("SAME", "V", "same.txt", 3),
            remote("RESIZED", "V", "resized.pdf", 98),
        ]);
        let plan = plan(
            &local,
            &Manifest::default(),
            &remote,
            &rules(false, false, false, true),
        );
        let action = |path: &str| {
            plan.items
                .iter()
                .find(|i| i.path == path)
                .map(|i| i.action.clone())
                .unwrap()
        };
        assert_eq!(
            action("docs/one.pdf"),
            Action::Adopt {
                file_uuid: "ONE".into(),
                version_uuid: Some("V1".into())
            }
        );
        assert_eq!(
            action("two.pdf"),
            Action::Ambiguous {
                candidates: vec!["TWO-A".into(), "TWO-B".into()]
            }
        );
        assert!(matches!(action("x/same.txt"), Action::Ambiguous { .. }));
        assert!(matches!(action("y/same.txt"), Action::Ambiguous { .. }));
        assert_eq!(action("fresh.txt"), Action::Upload);
        assert_eq!(action("resized.pdf"), Action::Upload);
    }

    #[test]
    fn requests_are_counted_from_the_plan() {
        let local: Vec<LocalFile> = (0..200)
            .map(|i| LocalFile::new(format!("f{i}.txt"), 100, 1))
            .collect();
        let mut r = rules(false, false, false, false);
        r.link_targets = 2;
        let p = plan(&local, &Manifest::default(), &RemoteState::default(), &r);
        // 2 per file (session + part) + 4 batches of attach and of notes.
        assert_eq!(p.requests(&r), 400 + 8);
        assert_eq!(p.counts().new, 200);
        let big = [LocalFile::new("big.bin", 3 * 512 * 1024 + 1, 1)];
        let p = plan(&big, &Manifest::default(), &RemoteState::default(), &r);
        assert_eq!(p.requests(&r), 1 + 4 + 2);
    }
}
