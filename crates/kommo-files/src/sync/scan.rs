//! Reading the local folder: every regular file below it, with its size and modification
//! time, and SHA-256 on demand.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::LocalFile;
use crate::Error;

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Regular files, sorted by relative path.
    pub files: Vec<LocalFile>,
    /// What was left out, and why (names that are not UTF-8, unreadable entries).
    pub skipped: Vec<Skipped>,
}

/// A path a scan left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The path as found.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Every regular file below `folder` (symbolic links to files followed, to directories
/// not: they could loop). A name that is not UTF-8 is skipped and reported, not lost.
///
/// ```
/// let folder = std::env::temp_dir().join(format!("kommo-files-doc-scan-{}", std::process::id()));
/// std::fs::create_dir_all(folder.join("sub"))?;
/// std::fs::write(folder.join("sub/a.txt"), b"abc")?;
/// let scan = kommo_files::sync::scan_folder(&folder)?;
/// assert_eq!(scan.files[0].path, "sub/a.txt");
/// # std::fs::remove_dir_all(&folder)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn scan_folder(folder: impl AsRef<Path>) -> Result<Scan, Error> {
    let folder = folder.as_ref();
    let metadata = std::fs::metadata(folder)
        .map_err(|e| Error::io(format!("reading {}", folder.display()), e))?;
    if !metadata.is_dir() {
        return Err(Error::io(
            format!("syncing {}", folder.display()),
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }
    let mut scan = Scan::default();
    walk(folder, "", &mut scan)?;
    scan.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scan)
}

fn walk(directory: &Path, prefix: &str, scan: &mut Scan) -> Result<(), Error> {
    let reading = |e| Error::io(format!("reading {}", directory.display()), e);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(directory)
        .map_err(reading)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(reading)?;
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            scan.skipped.push(Skipped {
                path,
                reason: "the name is not UTF-8".into(),
            });
            continue;
        };
        let relative = format!("{prefix}{name}");
        let link = match std::fs::symlink_metadata(&path) {
            Ok(link) => link,
            Err(e) => {
                scan.skipped.push(Skipped {
                    path,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if link.is_dir() {
            walk(&path, &format!("{relative}/"), scan)?;
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => {
                let modified_ns = metadata
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                scan.files
                    .push(LocalFile::new(relative, metadata.len(), modified_ns));
            }
            Ok(_) => {}
            Err(e) => scan.skipped.push(Skipped {
                path,
                reason: e.to_string(),
            }),
        }
    }
    Ok(())
}

/// The SHA-256 (lowercase hex) of the file at `path`, streamed (64 KiB at a time).
///
/// ```
/// let path = std::env::temp_dir().join(format!("kommo-files-doc-sha-{}", std::process::id()));
/// std::fs::write(&path, b"abc")?;
/// assert!(kommo_files::sync::sha256_file(&path)?.starts_with("ba7816bf"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String, Error> {
    let path = path.as_ref();
    let reading = |e| Error::io(format!("reading {}", path.display()), e);
    let mut file = std::fs::File::open(path).map_err(reading)?;
    let mut hash = kommo_files_model::upload::PrefixHash::default();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).map_err(reading)?;
        if read == 0 {
            return Ok(hash.hex());
        }
        hash.update(&buffer[..read]);
    }
}
