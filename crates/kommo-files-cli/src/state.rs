//! What an `upload` run remembers between runs, so a re-run of the same command continues:
//! one directory per batch (account + files + options) holding a journal of finished steps
//! and the SDK's checkpoint of each unfinished upload. A batch that ends well is removed.
//!
//! The journal (`journal.jsonl`) gets one line per step, so saving costs the same for the
//! 10 000th file as for the first; on reading, a file's last line wins, and a line torn by a
//! crash is skipped.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::failure::Failure;

/// The state directory: `--state-dir`/`KOMMO_STATE_DIR`, else `$XDG_STATE_HOME/kommo-files`,
/// else `~/.local/state/kommo-files`.
pub fn default_state_dir() -> PathBuf {
    // The XDG rule: an empty or relative value is ignored.
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
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

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
struct JournalLine {
    source: String,
    #[serde(flatten)]
    record: FileRecord,
}

/// One batch's directory and journal, shared by the upload workers.
#[derive(Debug)]
pub struct Batch {
    directory: PathBuf,
    journal: Mutex<Journal>,
}

#[derive(Debug)]
struct Journal {
    records: BTreeMap<String, FileRecord>,
    file: std::fs::File,
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
        let path = directory.join("journal.jsonl");
        // An unreadable journal only costs repeated uploads; it must not stop the run.
        let earlier = std::fs::read(&path).unwrap_or_default();
        let opening = |e| Failure::io(format!("opening {}", path.display()), e);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(opening)?;
        // A line torn by a crash must not swallow the next one.
        if earlier.last().is_some_and(|last| *last != b'\n') {
            file.write_all(b"\n").map_err(opening)?;
        }
        Ok(Self {
            directory,
            journal: Mutex::new(Journal {
                records: replay(&earlier),
                file,
            }),
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
        self.lock().records.get(&source_key(source)).cloned()
    }

    /// Replaces the record of `source`, and appends it to the journal before returning.
    pub fn save(&self, source: &Path, record: FileRecord) -> Result<(), Failure> {
        let line = JournalLine {
            source: source_key(source),
            record,
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|e| Failure::io("encoding the upload state", std::io::Error::other(e)))?;
        bytes.push(b'\n');
        let mut journal = self.lock();
        journal
            .file
            .write_all(&bytes)
            .and_then(|()| journal.file.sync_data())
            .map_err(|e| Failure::io("saving the upload state", e))?;
        journal.records.insert(line.source, line.record);
        Ok(())
    }

    /// Forgets the whole batch: it ended well.
    pub fn remove(&self) -> Result<(), Failure> {
        std::fs::remove_dir_all(&self.directory)
            .map_err(|e| Failure::io(format!("removing {}", self.directory.display()), e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The records a journal holds: each source's last readable line.
fn replay(bytes: &[u8]) -> BTreeMap<String, FileRecord> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<JournalLine>(line).ok())
        .map(|line| (line.source, line.record))
        .collect()
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
    fn a_torn_last_line_is_skipped_and_the_next_one_kept() {
        let state_dir =
            std::env::temp_dir().join(format!("kommo-files-torn-{}", std::process::id()));
        let record = |uuid: &str| FileRecord {
            uuid: uuid.into(),
            ..FileRecord::default()
        };
        let (a, b) = (Path::new("/a"), Path::new("/b"));
        let batch = Batch::open(&state_dir, "k", true).unwrap();
        batch.save(a, record("1")).unwrap();
        batch.save(a, record("2")).unwrap();
        drop(batch);
        let journal = state_dir.join("uploads").join("k").join("journal.jsonl");
        let mut torn = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .unwrap();
        torn.write_all(br#"{"source":"/b","si"#).unwrap();

        let batch = Batch::open(&state_dir, "k", false).unwrap();
        assert_eq!(batch.record(a), Some(record("2")), "the last line wins");
        assert_eq!(batch.record(b), None, "the torn line is skipped");
        batch.save(b, record("3")).unwrap();
        drop(batch);
        let batch = Batch::open(&state_dir, "k", false).unwrap();
        assert_eq!(batch.record(b), Some(record("3")));
        batch.remove().unwrap();
        let _ = std::fs::remove_dir_all(&state_dir);
    }

    #[test]
    fn digests_separate_their_parts() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_eq!(digest(&[b"x"]).len(), 32);
    }
}
