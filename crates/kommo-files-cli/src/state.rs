//! What an `upload` run remembers between runs, so a re-run of the same command continues:
//! one directory per batch (account + files + options) holding a manifest of finished steps
//! and the SDK's checkpoint of each unfinished upload. A batch that ends well is removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::failure::Failure;

/// The state directory: `--state-dir`/`KOMMO_STATE_DIR`, else `$XDG_STATE_HOME/kommo-files`,
/// else `~/.local/state/kommo-files`.
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local").join("state"))
        })
        .unwrap_or_else(std::env::temp_dir)
        .join("kommo-files")
}

/// What is known about one source file of the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Size and modification time when it was uploaded: a changed file is uploaded again.
    pub size: u64,
    pub modified: u64,
    /// The stored file, once uploaded.
    pub uuid: String,
    /// Entities it was attached to, and noted on (`leads:123`): never done twice.
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub noted: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: BTreeMap<String, FileRecord>,
}

/// One batch's directory and manifest, shared by the upload workers.
#[derive(Debug)]
pub struct Batch {
    directory: PathBuf,
    manifest: Mutex<Manifest>,
}

impl Batch {
    /// Opens (or with `fresh`, first wipes) the batch named by `key`.
    pub fn open(state_dir: &Path, key: &str, fresh: bool) -> Result<Self, Failure> {
        let directory = state_dir.join("uploads").join(key);
        if fresh && directory.exists() {
            std::fs::remove_dir_all(&directory)
                .map_err(|e| Failure::io(format!("clearing {}", directory.display()), e))?;
        }
        std::fs::create_dir_all(&directory).map_err(|e| {
            Failure::io(
                format!("creating the upload state {}", directory.display()),
                e,
            )
            .hint("choose another place with --state-dir or KOMMO_STATE_DIR")
        })?;
        let manifest_path = directory.join("manifest.json");
        let manifest = match std::fs::read(&manifest_path) {
            // An unreadable manifest only costs a repeated upload; it must not stop the run.
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => Manifest::default(),
        };
        Ok(Self {
            directory,
            manifest: Mutex::new(manifest),
        })
    }

    /// Where the SDK keeps the checkpoint of `source`'s upload.
    pub fn checkpoint_path(&self, source: &Path) -> PathBuf {
        let key = digest(&[source.to_string_lossy().as_bytes()]);
        self.directory
            .join(format!("{}.checkpoint.json", &key[..16]))
    }

    /// The record of `source`, if one was kept.
    pub fn record(&self, source: &Path) -> Option<FileRecord> {
        self.lock().files.get(&source_key(source)).cloned()
    }

    /// Replaces the record of `source` and saves the manifest.
    pub fn save(&self, source: &Path, record: FileRecord) -> Result<(), Failure> {
        let mut manifest = self.lock();
        manifest.files.insert(source_key(source), record);
        let bytes = serde_json::to_vec_pretty(&*manifest)
            .map_err(|e| Failure::io("encoding the upload state", std::io::Error::other(e)))?;
        write_atomically(&self.directory.join("manifest.json"), &bytes)
    }

    /// Forgets the whole batch: it ended well.
    pub fn remove(self) -> Result<(), Failure> {
        std::fs::remove_dir_all(&self.directory)
            .map_err(|e| Failure::io(format!("removing {}", self.directory.display()), e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Manifest> {
        self.manifest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A short, stable name for what identifies a batch.
pub fn digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    kommo_files::model::upload::hex(&hasher.finalize())[..32].to_owned()
}

fn source_key(source: &Path) -> String {
    source.to_string_lossy().into_owned()
}

/// Temp file, then rename: a crash leaves the old manifest or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| Failure::io(format!("saving {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_reopen_and_fresh_forgets_them() {
        let state_dir =
            std::env::temp_dir().join(format!("kommo-files-state-{}", std::process::id()));
        let source = Path::new("/data/a.pdf");
        let record = FileRecord {
            size: 3,
            modified: 7,
            uuid: "u".into(),
            attached: vec!["leads:1".into()],
            noted: vec![],
        };
        Batch::open(&state_dir, "k", false)
            .unwrap()
            .save(source, record.clone())
            .unwrap();
        assert_eq!(
            Batch::open(&state_dir, "k", false).unwrap().record(source),
            Some(record)
        );
        assert_eq!(
            Batch::open(&state_dir, "k", true).unwrap().record(source),
            None
        );
        Batch::open(&state_dir, "k", false)
            .unwrap()
            .remove()
            .unwrap();
        assert!(!state_dir.join("uploads").join("k").exists());
        let _ = std::fs::remove_dir_all(&state_dir);
    }

    #[test]
    fn digests_separate_their_parts() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_eq!(digest(&[b"x"]).len(), 32);
    }
}
