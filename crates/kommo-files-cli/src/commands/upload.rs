//! `upload`: files and directory trees, a few at a time, each resumable. A re-run of the same
//! command skips what is done, continues what was cut off from its checkpoint, and repeats
//! no attachment or note.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kommo_files::blocking::Client;
use kommo_files::model::upload::UploadError;
use kommo_files::model::wire::{AttachmentNote, FileObject};
use kommo_files::{CancelHandle, Error, UploadOptions};
use serde::Serialize;

use super::Context;
use crate::cli::UploadArgs;
use crate::failure::Failure;
use crate::output::{human_size, print_json, printable};
use crate::progress::{FileProgress, Reporter};
use crate::state::{default_state_dir, digest, Batch, FileRecord};

/// One file to upload.
#[derive(Debug, Clone)]
struct Source {
    path: PathBuf,
    size: u64,
    modified: u64,
}

/// What became of one file, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Outcome {
    path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    uuid: Option<String>,
    /// `uploaded`, `resumed`, `already uploaded` or `failed`.
    status: &'static str,
    size: u64,
    /// Bytes this run sent: less than `size` for a resumed upload, 0 for one done before.
    sent: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Failure>,
}

pub fn upload(context: &Context, args: &UploadArgs) -> Result<(), Failure> {
    // An embedded emulator ends with this process, and so does its uploads' state.
    let throwaway_state = (args.state_dir.is_none() && context.is_emulator()).then(|| {
        std::env::temp_dir().join(format!("kommo-files-emulator-state-{}", std::process::id()))
    });
    let result = upload_batch(context, args, throwaway_state.as_deref());
    if let Some(directory) = throwaway_state {
        let _ = std::fs::remove_dir_all(directory);
    }
    result
}

fn upload_batch(
    context: &Context,
    args: &UploadArgs,
    throwaway_state: Option<&Path>,
) -> Result<(), Failure> {
    let sources = collect_sources(&args.paths)?;
    if args.version_of.is_some() && sources.len() != 1 {
        return Err(Failure::usage(format!(
            "--version-of takes exactly one file, and {} were given",
            sources.len()
        )));
    }
    let state_dir = match (&args.state_dir, throwaway_state) {
        (Some(directory), _) => directory.clone(),
        (None, Some(directory)) => directory.to_owned(),
        (None, None) => default_state_dir(),
    };
    let batch = Batch::open(
        &state_dir,
        &batch_key(context, args, &sources),
        args.no_resume,
    )?;
    let total_bytes = sources.iter().map(|s| s.size).sum();
    let reporter = Reporter::new(sources.len(), total_bytes, context.json, "sent");

    let cancel = crate::interrupt::cancel_on_ctrl_c();
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let workers = usize::from(args.concurrency).min(sources.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if cancel.is_cancelled() {
                    break;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(source) = sources.get(index) else {
                    break;
                };
                let job = Job {
                    client: context.client().clone(),
                    args,
                    cancel: &cancel,
                    batch: &batch,
                    reporter: &reporter,
                };
                let outcome = job.run(index, source);
                reporter.file_finished(finished.fetch_add(1, Ordering::SeqCst) + 1);
                outcomes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((index, outcome));
            });
        }
    });

    let mut outcomes = outcomes
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    outcomes.sort_by_key(|(index, _)| *index);
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, outcome)| outcome).collect();
    reporter.finish();
    let done = outcomes.iter().filter(|o| o.error.is_none()).count();
    if done == sources.len() {
        batch.remove()?;
    }
    if context.json {
        print_json(&outcomes)?;
    }
    if done == sources.len() {
        return Ok(());
    }
    if cancel.is_cancelled() {
        return Err(Failure::interrupted(format!(
            "interrupted: {done} of {} file(s) uploaded",
            sources.len()
        )));
    }
    let first = outcomes.iter().find_map(|o| o.error.as_ref());
    let mut failure = Failure::refused(format!(
        "{} of {} file(s) failed{}",
        sources.len() - done,
        sources.len(),
        first.map_or(String::new(), |f| format!("; first: {}", f.message))
    ))
    .hint(
        first
            .and_then(|f| f.hint.clone())
            .unwrap_or_else(|| "run the same command again to retry them".to_owned()),
    );
    failure.kind = first.map_or("upload", |f| f.kind);
    Err(failure)
}

/// One worker's view of the batch.
struct Job<'a> {
    client: Client,
    args: &'a UploadArgs,
    cancel: &'a CancelHandle,
    batch: &'a Batch,
    reporter: &'a Arc<Reporter>,
}

impl Job<'_> {
    fn run(&self, index: usize, source: &Source) -> Outcome {
        let mut outcome = Outcome {
            path: source.path.clone(),
            uuid: None,
            status: "failed",
            size: source.size,
            sent: 0,
            error: None,
        };
        let name = kommo_files_name(&source.path);
        let result = self.upload_and_link(index, source, &name, &mut outcome);
        match result {
            Ok(uuid) => {
                let version = if self.args.version_of.is_some() {
                    ", a new version"
                } else {
                    ""
                };
                let partly = if outcome.status == "resumed" {
                    format!(", {} sent now", human_size(outcome.sent))
                } else {
                    String::new()
                };
                self.reporter.result(&format!(
                    "{} {} -> {uuid} ({}{partly}){version}",
                    outcome.status,
                    printable(&source.path.display().to_string()),
                    human_size(source.size)
                ));
                outcome.uuid = Some(uuid);
            }
            Err(failure) => {
                let path = printable(&source.path.display().to_string());
                self.reporter.note(&match failure.kind {
                    "cancelled" => format!("stopped {path}; its checkpoint is kept"),
                    _ => format!("failed {path}: {}", failure.message),
                });
                outcome.status = "failed";
                outcome.error = Some(failure);
            }
        }
        outcome
    }

    /// Uploads (or finds the earlier upload of) `source`, then attaches and notes it.
    fn upload_and_link(
        &self,
        index: usize,
        source: &Source,
        name: &str,
        outcome: &mut Outcome,
    ) -> Result<String, Failure> {
        let earlier = self
            .batch
            .record(&source.path)
            .filter(|r| r.size == source.size && r.modified == source.modified);
        let mut record = match earlier {
            Some(record) => {
                outcome.status = "already uploaded";
                self.reporter.skipped(source.size);
                record
            }
            None => {
                let (file, status, sent) = self.transfer(index, source, name)?;
                outcome.status = status;
                outcome.sent = sent;
                let record = FileRecord {
                    size: source.size,
                    modified: source.modified,
                    uuid: file.uuid,
                    attached: Vec::new(),
                    noted: Vec::new(),
                };
                self.batch.save(&source.path, record.clone())?;
                record
            }
        };
        self.link(&mut record, &source.path, name)?;
        Ok(record.uuid)
    }

    /// Continues from a checkpoint when there is a usable one, else uploads from the start.
    /// Returns the file, how it went, and the bytes this run sent.
    fn transfer(
        &self,
        index: usize,
        source: &Source,
        name: &str,
    ) -> Result<(FileObject, &'static str, u64), Failure> {
        let checkpoint_path = self.batch.checkpoint_path(&source.path);
        if let Ok(checkpoint) = kommo_files::load_checkpoint(&checkpoint_path) {
            let offset = checkpoint.offset;
            let progress = self.reporter.start(index, name, source.size, offset);
            let resumed = self.watched(progress, &checkpoint_path, |options| {
                self.client.resume_path(checkpoint, &source.path, options)
            });
            match resumed {
                Err(error) if checkpoint_is_stale(&error) => {
                    self.reporter.note(&format!(
                        "{}: cannot continue the earlier upload ({error}); starting over",
                        printable(&source.path.display().to_string())
                    ));
                    let _ = std::fs::remove_file(&checkpoint_path);
                }
                other => {
                    return other
                        .map(|file| (file, "resumed", source.size.saturating_sub(offset)))
                        .map_err(|error| upload_failure(error, &source.path))
                }
            }
        }
        let progress = self.reporter.start(index, name, source.size, 0);
        self.watched(progress, &checkpoint_path, |options| {
            self.client.upload_path(&source.path, options)
        })
        .map(|file| (file, "uploaded", source.size))
        .map_err(|error| upload_failure(error, &source.path))
    }

    /// Runs `upload` with this batch's options, its checkpoint file and `progress` fed.
    fn watched(
        &self,
        progress: FileProgress,
        checkpoint_path: &Path,
        upload: impl FnOnce(UploadOptions) -> Result<FileObject, Error>,
    ) -> Result<FileObject, Error> {
        let progress = Arc::new(Mutex::new(progress));
        let fed = Arc::clone(&progress);
        let mut options = UploadOptions::new()
            .with_preview(self.args.preview)
            .checkpoint_file(checkpoint_path)
            .cancel_handle(self.cancel.clone())
            .on_progress(move |p| {
                fed.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .update(p.acknowledged)
            });
        if let Some(uuid) = &self.args.version_of {
            options = options.new_version_of(uuid);
        }
        let result = upload(options);
        // The options (and their clone of `progress`) are gone once `upload` returned.
        if let Ok(progress) = Arc::try_unwrap(progress) {
            progress
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .end();
        }
        result
    }

    /// Attaches and notes the file where asked, once each, saving each step.
    fn link(&self, record: &mut FileRecord, path: &Path, name: &str) -> Result<(), Failure> {
        for entity in &self.args.attach {
            let key = entity.to_string();
            if !record.attached.contains(&key) {
                self.client
                    .attach(&entity.kind, entity.id, &[&record.uuid])?;
                record.attached.push(key);
                self.batch.save(path, record.clone())?;
            }
        }
        for entity in &self.args.note {
            let key = entity.to_string();
            if !record.noted.contains(&key) {
                let note = AttachmentNote::new(entity.id, &record.uuid).file_name(name);
                self.client.add_attachment_notes(&entity.kind, &[note])?;
                record.noted.push(key);
                self.batch.save(path, record.clone())?;
            }
        }
        Ok(())
    }
}

/// A checkpoint that cannot be continued: the source changed, or the session expired.
fn checkpoint_is_stale(error: &Error) -> bool {
    matches!(
        error,
        Error::Checkpoint(_)
            | Error::Upload {
                error: UploadError::SourceChanged(_)
                    | UploadError::SessionExpired { .. }
                    | UploadError::Checkpoint(_),
                ..
            }
    )
}

fn upload_failure(error: Error, path: &Path) -> Failure {
    let unconfirmed = matches!(
        &error,
        Error::Upload {
            error: UploadError::FinalPartUnconfirmed { .. },
            ..
        }
    );
    let failure = Failure::from(error);
    if unconfirmed {
        return failure.hint(format!(
            "look for it with `kommo-files ls --name {:?}`; if it is not there, upload again with --no-resume",
            kommo_files_name(path)
        ));
    }
    failure
}

/// The name the file gets in Kommo: its own file name (the drive has no folders).
fn kommo_files_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The batch's identity: the account, the files and what is done with them.
fn batch_key(context: &Context, args: &UploadArgs, sources: &[Source]) -> String {
    let mut parts: Vec<Vec<u8>> = vec![
        context.account_url().as_bytes().to_vec(),
        args.version_of.clone().unwrap_or_default().into_bytes(),
        vec![u8::from(args.preview)],
    ];
    parts.extend(
        args.attach
            .iter()
            .map(|e| format!("attach {e}").into_bytes()),
    );
    parts.extend(args.note.iter().map(|e| format!("note {e}").into_bytes()));
    parts.extend(
        sources
            .iter()
            .map(|s| s.path.to_string_lossy().into_owned().into_bytes()),
    );
    let borrowed: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    digest(&borrowed)
}

/// Every regular file under `paths`, absolute, in a stable order, each once.
fn collect_sources(paths: &[PathBuf]) -> Result<Vec<Source>, Failure> {
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
