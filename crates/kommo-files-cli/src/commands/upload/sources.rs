//! What an `upload` command line names: every regular file, absolute, sorted, once.

use std::path::{Path, PathBuf};

use crate::failure::Failure;

/// One file to upload.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub size: u64,
    /// Unix seconds: with the size, tells a changed file from the one uploaded before.
    pub modified: u64,
}

/// Every regular file under `paths`, absolute, in a stable order, each once.
pub fn collect_sources(paths: &[PathBuf]) -> Result<Vec<Source>, Failure> {
    let mut files = Vec::new();
    for path in paths {
        let absolute = std::path::absolute(path)
            .map_err(|e| Failure::io(format!("resolving {}", path.display()), e))?;
        let metadata = std::fs::metadata(&absolute)
            .map_err(|e| Failure::usage(format!("cannot upload {}: {e}", path.display())))?;
        if metadata.is_dir() {
            walk(&absolute, &mut files)?;
        } else if metadata.is_file() {
            files.push(absolute);
        } else {
            return Err(Failure::usage(format!(
                "{} is not a regular file or a directory",
                path.display()
            )));
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|path| seen.insert(path.clone()));
    if files.is_empty() {
        return Err(Failure::usage(
            "no files to upload (the directories are empty)",
        ));
    }
    files.into_iter().map(|path| source_of(&path)).collect()
}

/// Regular files below `directory`, sorted; symbolic links to directories are not followed
/// (they could loop).
fn walk(directory: &Path, files: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let reading = |e| Failure::io(format!("reading {}", directory.display()), e);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(directory)
        .map_err(reading)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(reading)?;
    entries.sort();
    for path in entries {
        let link = std::fs::symlink_metadata(&path).map_err(reading)?;
        if link.is_dir() {
            walk(&path, files)?;
        } else if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            files.push(path);
        }
    }
    Ok(())
}

fn source_of(path: &Path) -> Result<Source, Failure> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| Failure::io(format!("reading {}", path.display()), e))?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Ok(Source {
        path: path.to_owned(),
        size: metadata.len(),
        modified,
    })
}
