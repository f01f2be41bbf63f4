//! `export DIR`: the account's files (or those `ls`'s filters select) out to disk, with a
//! `manifest.json` of their metadata and SHA-256.
//!
//! Layout: active versions at `DIR/<name>`, other versions (`--all-versions`) in
//! `DIR/versions/`, trashed files (`--trashed`) in `DIR/trash/`; every name made safe and
//! unique (`names.rs`). Each download goes to a temporary file renamed when complete, and is
//! journaled (`DIR/.kommo-export.jsonl`) as soon as it is: a re-run after a kill downloads
//! only what is missing. `--jobs N` downloads N at a time through clones of one client, so
//! they share its pacing.

mod names;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use kommo_files::model::wire::{Author, FileVersion, LinkedEntity};
use kommo_files::{CancelHandle, FileObject};
use serde::{Deserialize, Serialize};

use self::names::Names;
use super::files::{collect, query_of};
use super::Context;
use crate::cli::ExportArgs;
use crate::failure::Failure;
use crate::output::{print, print_json, printable};

const MANIFEST: &str = "manifest.json";
const JOURNAL: &str = ".kommo-export.jsonl";
const FORMAT: &str = "kommo-files/export";

/// `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    files: Vec<ExportFile>,
}

/// One Kommo file in the manifest.
#[derive(Debug, Serialize, Deserialize)]
struct ExportFile {
    uuid: String,
    name: String,
    size: u64,
    trashed: bool,
    active_version: Option<String>,
    created_at: Option<i64>,
    created_by: Option<Author>,
    updated_at: Option<i64>,
    updated_by: Option<Author>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted_at: Option<i64>,
    versions: Vec<ExportVersion>,
    /// With `--links`: the entities it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    links: Option<Vec<LinkedEntity>>,
}

/// One version and where its bytes are.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExportVersion {
    uuid: String,
    name: String,
    size: u64,
    is_active: bool,
    created_at: Option<i64>,
    created_by: Option<Author>,
    /// Relative to the export folder, `/`-separated; none when not exported (failed).
    path: Option<String>,
    sha256: Option<String>,
    /// Why the bytes are not exported (the server does not serve a trashed file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
}

/// One finished download, as journaled.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Done {
    /// The Kommo file.
    #[serde(default)]
    file: String,
    version: String,
    path: String,
    size: u64,
    sha256: String,
}

/// One version to download.
#[derive(Debug)]
struct Unit {
    file: usize,
    /// The Kommo file's UUID.
    file_uuid: String,
    /// The version's UUID.
    uuid: String,
    version: usize,
    href: Option<String>,
    path: String,
    size: u64,
}

/// What a file needs besides its listing: its versions and links.
#[derive(Debug, Default)]
struct Details {
    versions: Vec<FileVersion>,
    links: Option<Vec<LinkedEntity>>,
    error: Option<String>,
}

pub fn export(context: &Context, args: &ExportArgs) -> Result<(), Failure> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::io(format!("creating {}", dir.display()), e))?;
    let files = list(context, args)?;
    let cancel = crate::interrupt::cancel_on_ctrl_c();
    let jobs = usize::from(args.jobs);

    // Versions (--all-versions) and links (--links), N at a time.
    let details: Vec<Details> =
        parallel(jobs, &files, &cancel, |file| details(context, args, file));
    let mut manifest: Vec<ExportFile> = files
        .iter()
        .zip(&details)
        .map(|(file, details)| entry(file, details))
        .collect();

    let earlier = earlier_downloads(dir);
    let units = assign_paths(&mut manifest, &files, &details, &earlier);
    remove_temporaries(dir);

    let journal = Mutex::new(open_journal(dir)?);
    let done = AtomicUsize::new(0);
    let results: Vec<Option<Result<(Done, bool), String>>> =
        parallel(jobs, &units, &cancel, |unit| {
            let result = fetch(context, dir, unit, &earlier);
            if let Ok((record, downloaded)) = &result {
                if *downloaded {
                    let mut line = serde_json::to_vec(record).unwrap_or_default();
                    line.push(b'\n');
                    let mut journal = journal
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let _ = journal.write_all(&line).and_then(|()| journal.sync_data());
                }
                if !context.json && !context.quiet && *downloaded {
                    let _ = print(&format!("exported {}\n", printable(&record.path)));
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
            Some(result)
        });

    let mut failures = Vec::new();
    let (mut downloaded, mut kept, mut unavailable) = (0, 0, 0);
    for (unit, result) in units.iter().zip(&results) {
        let trashed = manifest[unit.file].trashed;
        let version = &mut manifest[unit.file].versions[unit.version];
        match result {
            None => {
                version.path = None;
                failures.push((unit.path.clone(), "not exported (interrupted)".to_owned()));
            }
            Some(Ok((record, fresh))) => {
                version.sha256 = Some(record.sha256.clone());
                if *fresh {
                    downloaded += 1;
                } else {
                    kept += 1;
                }
            }
            Some(Err(message)) if trashed_404(trashed, message) => {
                version.path = None;
                version.unavailable = Some("the server does not serve a trashed file".into());
                unavailable += 1;
            }
            Some(Err(message)) => {
                version.path = None;
                failures.push((unit.path.clone(), message.clone()));
            }
        }
    }
    for (file, details) in files.iter().zip(&details) {
        if let Some(error) = &details.error {
            failures.push((file.uuid.clone(), error.clone()));
        }
    }
    let complete = failures.is_empty() && !cancel.is_cancelled();
    write_manifest(dir, manifest)?;
    if complete {
        let _ = std::fs::remove_file(dir.join(JOURNAL));
    }
    for (what, message) in &failures {
        eprintln!("failed {}: {message}", printable(what));
    }
    if context.json {
        print_json(&serde_json::json!({
            "dir": dir,
            "files": files.len(),
            "versions": units.len(),
            "downloaded": downloaded,
            "already_there": kept,
            "unavailable": unavailable,
            "failed": failures.len(),
        }))?;
    } else if !context.quiet {
        print(&format!(
            "exported {} file(s), {} version(s) to {}: {downloaded} downloaded, {kept} already there{}\n",
            files.len(),
            units.len(),
            printable(&dir.display().to_string()),
            match unavailable {
                0 => String::new(),
                n => format!(", {n} trashed not served (metadata only)"),
            }
        ))?;
    }
    if cancel.is_cancelled() {
        return Err(Failure::interrupted(
            "interrupted: what was exported is kept",
        ));
    }
    match failures.first() {
        None => Ok(()),
        Some((what, _)) => Err(Failure::refused(format!(
            "{} of {} could not be exported, the first {} (see above)",
            failures.len(),
            units.len(),
            printable(what)
        ))
        .hint("run the same command again to retry them")),
    }
}

/// The files to export: `ls`'s selection, and with `--trashed` the trashed ones too.
fn list(context: &Context, args: &ExportArgs) -> Result<Vec<FileObject>, Failure> {
    let query = query_of(&args.filter)?;
    let mut files = collect(context, query.clone(), args.filter.limit)?;
    if args.trashed && !args.filter.deleted {
        let mut trashed = collect(context, query.deleted(true), args.filter.limit)?;
        trashed.retain(|f| f.is_trashed);
        files.extend(trashed);
    }
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.uuid.clone()));
    // Oldest first: an older file keeps the plain name when two share it.
    files.sort_by(|a, b| (a.created_at, &a.uuid).cmp(&(b.created_at, &b.uuid)));
    Ok(files)
}

fn details(context: &Context, args: &ExportArgs, file: &FileObject) -> Details {
    let mut details = Details::default();
    if args.all_versions {
        match context.client().versions(&file.uuid) {
            Ok(versions) => details.versions = versions,
            Err(error) => details.error = Some(format!("its versions: {}", error.chain_message())),
        }
    }
    if args.links {
        match context.client().file_entities(&file.uuid) {
            Ok(linked) => details.links = Some(linked.entities),
            Err(error) => details.error = Some(format!("its links: {}", error.chain_message())),
        }
    }
    details
}

/// The manifest entry of a file, its versions not yet placed.
fn entry(file: &FileObject, details: &Details) -> ExportFile {
    let active = file.version_uuid.clone();
    let versions = if details.versions.is_empty() {
        vec![ExportVersion {
            uuid: active.clone().unwrap_or_else(|| file.uuid.clone()),
            name: file.display_name(),
            size: file.size,
            is_active: true,
            created_at: file.updated_at.or(file.created_at),
            created_by: file.updated_by.clone().or(file.created_by.clone()),
            path: None,
            sha256: None,
            unavailable: None,
        }]
    } else {
        details
            .versions
            .iter()
            .map(|v| ExportVersion {
                uuid: v.uuid.clone(),
                name: v.display_name(),
                size: v.size,
                is_active: v.is_main || Some(&v.uuid) == active.as_ref(),
                created_at: v.created_at,
                created_by: v.created_by.clone(),
                path: None,
                sha256: None,
                unavailable: None,
            })
            .collect()
    };
    ExportFile {
        uuid: file.uuid.clone(),
        name: file.display_name(),
        size: file.size,
        trashed: file.is_trashed,
        active_version: active,
        created_at: file.created_at,
        created_by: file.created_by.clone(),
        updated_at: file.updated_at,
        updated_by: file.updated_by.clone(),
        deleted_at: file.deleted_at,
        versions,
        links: details.links.clone(),
    }
}

/// Gives every version a unique, safe path (the one an earlier run gave, when there was one)
/// and returns the downloads.
fn assign_paths(
    manifest: &mut [ExportFile],
    files: &[FileObject],
    details: &[Details],
    earlier: &BTreeMap<String, Done>,
) -> Vec<Unit> {
    let mut folders: BTreeMap<&'static str, Names> = BTreeMap::new();
    let top = folders.entry("").or_default();
    for reserved in [MANIFEST, "versions", "trash"] {
        top.reserve(reserved);
    }
    for done in earlier.values() {
        let (folder, name) = match done.path.rsplit_once('/') {
            Some(("versions", name)) => ("versions", name),
            Some(("trash", name)) => ("trash", name),
            _ => ("", done.path.as_str()),
        };
        folders.entry(folder).or_default().reserve(name);
    }
    // A file's active version goes where its earlier active version went (replacing it).
    let earlier_active: BTreeMap<&str, &str> = earlier
        .values()
        .filter(|d| !d.path.contains('/'))
        .map(|d| (d.file.as_str(), d.path.as_str()))
        .collect();
    let mut units = Vec::new();
    for (index, entry) in manifest.iter_mut().enumerate() {
        let trashed = entry.trashed;
        for (at, version) in entry.versions.iter_mut().enumerate() {
            let path = match earlier.get(&version.uuid) {
                Some(done) => done.path.clone(),
                None if version.is_active
                    && !trashed
                    && earlier_active.contains_key(entry.uuid.as_str()) =>
                {
                    earlier_active[entry.uuid.as_str()].to_owned()
                }
                None => {
                    let folder = match (trashed, version.is_active) {
                        (true, _) => "trash",
                        (false, true) => "",
                        (false, false) => "versions",
                    };
                    let raw = match (folder, version.is_active) {
                        ("", _) | (_, true) => version.name.clone(),
                        _ => versioned_name(&version.name, &version.uuid),
                    };
                    let name = folders.entry(folder).or_default().unique(&raw);
                    match folder {
                        "" => name,
                        folder => format!("{folder}/{name}"),
                    }
                }
            };
            let href = match details[index].versions.get(at) {
                Some(v) => v.links.download.as_ref().map(|l| l.href.clone()),
                None => files[index].download_url().map(str::to_owned),
            };
            version.path = Some(path.clone());
            units.push(Unit {
                file: index,
                file_uuid: entry.uuid.clone(),
                uuid: version.uuid.clone(),
                version: at,
                href,
                path,
                size: version.size,
            });
        }
    }
    units
}

/// `report.pdf` of version `0b7c5a4e-…` → `report.0b7c5a4e.pdf`.
fn versioned_name(name: &str, version: &str) -> String {
    let short: String = version
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    match name.rfind('.') {
        Some(at) if at > 0 => format!("{}.{short}{}", &name[..at], &name[at..]),
        _ => format!("{name}.{short}"),
    }
}

/// Downloads one version unless it is there already; returns its record and whether it was
/// downloaded now.
fn fetch(
    context: &Context,
    dir: &Path,
    unit: &Unit,
    earlier: &BTreeMap<String, Done>,
) -> Result<(Done, bool), String> {
    let path = local_path(dir, &unit.path);
    let on_disk = std::fs::metadata(&path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let recorded = earlier.values().find(|d| d.path == unit.path);
    match recorded {
        // This very version was exported here.
        Some(done) if done.version == unit.uuid && on_disk == Some(done.size) => {
            return Ok((done_record(unit, done.sha256.clone()), false));
        }
        // Downloads are renamed into place only when whole: a file of the right size that
        // no record names was finished by a run killed before it journaled it.
        None if on_disk == Some(unit.size) => {
            let sha256 = kommo_files::sync::sha256_file(&path).map_err(|e| e.chain_message())?;
            return Ok((done_record(unit, sha256), false));
        }
        _ => {}
    }
    let href = unit
        .href
        .as_deref()
        .ok_or("the server gave no download link")?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    context
        .client()
        .download_link_to_path(href, &path)
        .map_err(|e| e.chain_message())?;
    let sha256 = kommo_files::sync::sha256_file(&path).map_err(|e| e.chain_message())?;
    Ok((done_record(unit, sha256), true))
}

fn done_record(unit: &Unit, sha256: String) -> Done {
    Done {
        file: unit.file_uuid.clone(),
        version: unit.uuid.clone(),
        path: unit.path.clone(),
        size: unit.size,
        sha256,
    }
}

fn local_path(dir: &Path, relative: &str) -> PathBuf {
    relative
        .split('/')
        .fold(dir.to_owned(), |path, part| path.join(part))
}

/// What an earlier run exported: its manifest, then its journal (a kill leaves only that),
/// by version UUID. Paths that are not plain relative names are ignored.
fn earlier_downloads(dir: &Path) -> BTreeMap<String, Done> {
    let mut done = BTreeMap::new();
    if let Some(manifest) = std::fs::read(dir.join(MANIFEST))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok())
        .filter(|m| m.format == FORMAT)
    {
        let versions = manifest
            .files
            .into_iter()
            .flat_map(|f| f.versions.into_iter().map(move |v| (f.uuid.clone(), v)));
        for (file_uuid, version) in versions {
            if let (Some(path), Some(sha256)) = (version.path, version.sha256) {
                let record = Done {
                    file: file_uuid.clone(),
                    version: version.uuid.clone(),
                    path,
                    size: version.size,
                    sha256,
                };
                done.insert(version.uuid, record);
            }
        }
    }
    let journal = std::fs::read(dir.join(JOURNAL)).unwrap_or_default();
    for line in journal.split(|b| *b == b'\n') {
        if let Ok(record) = serde_json::from_slice::<Done>(line) {
            done.insert(record.version.clone(), record);
        }
    }
    done.retain(|_, d| is_plain_relative(&d.path));
    done
}

/// `name`, `versions/name` or `trash/name`, each part a safe name: nothing a damaged or
/// hostile manifest could use to write outside the folder.
fn is_plain_relative(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let safe = |part: &str| !part.is_empty() && names::safe_name(part) == part;
    match parts.as_slice() {
        [name] => safe(name),
        [folder, name] => matches!(*folder, "versions" | "trash") && safe(name),
        _ => false,
    }
}

/// Temporary files a killed run left (`.name.1234abcd.part`).
fn remove_temporaries(dir: &Path) {
    for folder in [dir.to_owned(), dir.join("versions"), dir.join("trash")] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".part") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn open_journal(dir: &Path) -> Result<std::fs::File, Failure> {
    let path = dir.join(JOURNAL);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Failure::io(format!("opening {}", path.display()), e))?;
    // A line torn by a kill must not swallow the next one.
    let _ = file.write_all(b"\n");
    Ok(file)
}

/// Writes `manifest.json` whole: a temporary file, `fsync`, rename.
fn write_manifest(dir: &Path, files: Vec<ExportFile>) -> Result<(), Failure> {
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        version: 1,
        files,
    };
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Failure::io("encoding the manifest", std::io::Error::other(e)))?;
    let path = dir.join(MANIFEST);
    let temporary = dir.join(format!(".{MANIFEST}.{}.part", std::process::id()));
    let writing = |e| Failure::io(format!("writing {}", path.display()), e);
    let mut file = std::fs::File::create(&temporary).map_err(writing)?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(writing)?;
    std::fs::rename(&temporary, &path).map_err(writing)
}

/// Runs `work` over `items`, `jobs` at a time, results in the items' order; stops taking new
/// items once `cancel` fires (those get `R::default()`).
fn parallel<T: Sync, R: Send + Default>(
    jobs: usize,
    items: &[T],
    cancel: &CancelHandle,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                if cancel.is_cancelled() {
                    break;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(index) else {
                    break;
                };
                let result = work(item);
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((index, result));
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(index, _)| *index);
    let mut out: Vec<R> = Vec::with_capacity(items.len());
    let mut results = results.into_iter().peekable();
    for index in 0..items.len() {
        match results.next_if(|(at, _)| *at == index) {
            Some((_, result)) => out.push(result),
            None => out.push(R::default()),
        }
    }
    out
}

/// A trashed file's download refused as not found: its metadata is exported, not its bytes.
fn trashed_404(trashed: bool, message: &str) -> bool {
    trashed && message.contains("HTTP 404")
}
