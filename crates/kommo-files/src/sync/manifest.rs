//! The sync manifest (relative path → Kommo file) and its crash-safe store.
//!
//! On disk it is two files: `PATH` (a JSON snapshot, replaced whole through a temporary file,
//! `fsync` and a rename) and `PATH.journal` (one JSON line per change, appended and
//! `fsync`ed before the change is acted on further). Opening replays the journal over the
//! snapshot (a line torn by a crash is skipped), so a process killed at any moment loses no
//! finished file; [`ManifestStore::compact`] folds the journal into a new snapshot. Writing a
//! line costs the same for the 10 000th file as for the first.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

const FORMAT: &str = "kommo-files/sync-manifest";

/// What the manifest knows about one synced path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The Kommo file (stable across versions).
    pub file_uuid: String,
    /// The version this sync last uploaded or adopted.
    #[serde(default)]
    pub version_uuid: Option<String>,
    /// Size when synced.
    pub size: u64,
    /// Modification time when synced, nanoseconds since the Unix epoch.
    pub modified_ns: u64,
    /// SHA-256 when synced (lowercase hex).
    #[serde(default)]
    pub sha256: Option<String>,
    /// A new version of this content was being uploaded (cleared when it completed): after a
    /// crash, the remote version of this size is ours, not a conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploading: Option<Uploading>,
    /// Entities (`leads:123`) the file still has to be attached to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_attach: Vec<String>,
    /// Entities the file still needs an attachment note on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_notes: Vec<String>,
}

/// The local content a new version was started for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploading {
    /// Its size.
    pub size: u64,
    /// Its modification time (ns).
    pub modified_ns: u64,
}

/// Every synced path of one folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// By relative, `/`-separated path.
    pub files: BTreeMap<String, ManifestEntry>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: String,
    version: u32,
    files: BTreeMap<String, ManifestEntry>,
}

/// One journal line: an entry set, or removed.
#[derive(Serialize, Deserialize)]
struct Line {
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry: Option<ManifestEntry>,
}

/// A manifest on disk: read at open, changed line by line, compacted at the end of a run.
///
/// ```
/// use kommo_files::sync::{ManifestEntry, ManifestStore};
///
/// let path = std::env::temp_dir().join(format!("kommo-files-doc-manifest-{}.json", std::process::id()));
/// let mut store = ManifestStore::open(&path)?;
/// store.set("a.txt", ManifestEntry { file_uuid: "f".into(), size: 1, ..Default::default() })?;
/// drop(store); // a crash here loses nothing:
/// let store = ManifestStore::open(&path)?;
/// assert_eq!(store.manifest().files["a.txt"].file_uuid, "f");
/// # store.delete_files()?;
/// # Ok::<(), kommo_files::Error>(())
/// ```
#[derive(Debug)]
pub struct ManifestStore {
    path: PathBuf,
    manifest: Manifest,
    journal: Option<std::fs::File>,
}

impl ManifestStore {
    /// Reads the manifest at `path` and its journal (neither existing is an empty manifest).
    /// A snapshot that is not a manifest is [`Error::Io`] with `InvalidData`, never replaced.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let mut manifest = Manifest::default();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let snapshot: Snapshot = serde_json::from_slice(&bytes)
                    .ok()
                    .filter(|s: &Snapshot| s.format == FORMAT && s.version == 1)
                    .ok_or_else(|| {
                        Error::io(
                            format!("reading the sync manifest {}", path.display()),
                            std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                "not a kommo-files sync manifest (version 1)",
                            ),
                        )
                    })?;
                manifest.files = snapshot.files;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::io(
                    format!("reading the sync manifest {}", path.display()),
                    e,
                ))
            }
        }
        let journal = journal_path(&path);
        match std::fs::read(&journal) {
            Ok(bytes) => replay(&mut manifest, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("reading {}", journal.display()), e)),
        }
        Ok(Self {
            path,
            manifest,
            journal: None,
        })
    }

    /// What it holds now.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where the snapshot lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A directory beside the manifest for the checkpoints of unfinished uploads.
    pub fn work_dir(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(".uploads");
        self.path.with_file_name(name)
    }

    /// Records `entry` for `path`; on disk (`fsync`ed) before it returns.
    pub fn set(&mut self, path: &str, entry: ManifestEntry) -> Result<(), Error> {
        self.append(&Line {
            path: path.to_owned(),
            entry: Some(entry.clone()),
        })?;
        self.manifest.files.insert(path.to_owned(), entry);
        Ok(())
    }

    /// Forgets `path`; on disk before it returns.
    pub fn remove(&mut self, path: &str) -> Result<(), Error> {
        self.append(&Line {
            path: path.to_owned(),
            entry: None,
        })?;
        self.manifest.files.remove(path);
        Ok(())
    }

    fn append(&mut self, line: &Line) -> Result<(), Error> {
        let journal = journal_path(&self.path);
        let writing = |e| Error::io(format!("writing {}", journal.display()), e);
        if self.journal.is_none() {
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent).map_err(writing)?;
            }
            let earlier = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&journal)
                .map_err(writing)?;
            // A line torn by a crash must not swallow the next one.
            if earlier > 0 {
                file.write_all(b"\n").map_err(writing)?;
            }
            self.journal = Some(file);
        }
        let mut bytes = serde_json::to_vec(line).map_err(|e| writing(std::io::Error::other(e)))?;
        bytes.push(b'\n');
        let file = self
            .journal
            .as_mut()
            .ok_or_else(|| Error::internal("no journal"))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_data())
            .map_err(writing)
    }

    /// Writes the whole manifest as a new snapshot (temporary file, `fsync`, rename, and the
    /// directory synced), then drops the journal it now contains.
    pub fn compact(&mut self) -> Result<(), Error> {
        let snapshot = Snapshot {
            format: FORMAT.to_owned(),
            version: 1,
            files: self.manifest.files.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&snapshot)
            .map_err(|e| Error::io("encoding the sync manifest", std::io::Error::other(e)))?;
        write_whole(&self.path, &bytes)
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))?;
        self.journal = None;
        let journal = journal_path(&self.path);
        match std::fs::remove_file(&journal) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io(format!("removing {}", journal.display()), e))
            }
            _ => Ok(()),
        }
    }

    /// Removes the manifest, its journal and its work directory.
    pub fn delete_files(self) -> Result<(), Error> {
        for path in [self.path.clone(), journal_path(&self.path)] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(format!("removing {}", path.display()), e))
                }
                _ => {}
            }
        }
        let _ = std::fs::remove_dir_all(self.work_dir());
        Ok(())
    }
}

fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".journal");
    path.with_file_name(name)
}

fn replay(manifest: &mut Manifest, bytes: &[u8]) {
    for line in bytes.split(|b| *b == b'\n') {
        let Ok(line) = serde_json::from_slice::<Line>(line) else {
            continue;
        };
        match line.entry {
            Some(entry) => manifest.files.insert(line.path, entry),
            None => manifest.files.remove(&line.path),
        };
    }
}

/// Writes `bytes` to `path` so that `path` is always either the old file or the new one:
/// a sibling temporary file, `fsync`, rename, then the directory `fsync`ed (on Unix).
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = crate::support::sibling_temp_path(path);
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "kommo-files-manifest-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("manifest.json")
    }

    fn entry(uuid: &str) -> ManifestEntry {
        ManifestEntry {
            file_uuid: uuid.into(),
            ..ManifestEntry::default()
        }
    }

    #[test]
    fn changes_survive_without_compaction_and_a_torn_line_is_skipped() {
        let path = temp("torn");
        let mut store = ManifestStore::open(&path).unwrap();
        store.set("a", entry("1")).unwrap();
        store.set("b", entry("2")).unwrap();
        store.remove("b").unwrap();
        drop(store);
        let mut journal = std::fs::OpenOptions::new()
            .append(true)
            .open(journal_path(&path))
            .unwrap();
        journal.write_all(br#"{"path":"c","entry":{"fi"#).unwrap();
        drop(journal);
        let mut store = ManifestStore::open(&path).unwrap();
        assert_eq!(store.manifest().files.keys().collect::<Vec<_>>(), ["a"]);
        store.set("d", entry("4")).unwrap();
        drop(store);
        let mut store = ManifestStore::open(&path).unwrap();
        assert!(
            store.manifest().files.contains_key("d"),
            "the line after a torn one is kept"
        );
        store.compact().unwrap();
        assert!(!journal_path(&path).exists());
        let store = ManifestStore::open(&path).unwrap();
        assert_eq!(store.manifest().files.len(), 2);
        store.delete_files().unwrap();
    }

    #[test]
    fn a_foreign_file_is_an_error_not_an_empty_manifest() {
        let path = temp("foreign");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{\"hello\": 1}").unwrap();
        let error = ManifestStore::open(&path).unwrap_err();
        assert!(error.to_string().contains("sync manifest"), "{error}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
