//! One file of a batch: upload it (or continue its upload, or find it done), then attach and
//! note it, remembering each step in the batch's state.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kommo_files::blocking::Client;
use kommo_files::model::upload::{UploadError, UploadEvent};
use kommo_files::model::wire::{AttachmentNote, FileObject};
use kommo_files::{CancelHandle, Error, UploadOptions};

use super::lost_answer::{find_stored, Stored};
use super::sources::Source;
use super::Outcome;
use crate::cli::UploadArgs;
use crate::failure::Failure;
use crate::output::{human_size, printable};
use crate::progress::{FileProgress, Reporter};
use crate::state::{Batch, FileRecord};

/// One worker's view of the batch.
pub struct Job<'a> {
    pub client: Client,
    pub args: &'a UploadArgs,
    pub cancel: &'a CancelHandle,
    pub batch: &'a Batch,
    pub reporter: &'a Arc<Reporter>,
}

impl Job<'_> {
    pub fn run(&self, index: usize, source: &Source) -> Outcome {
        let mut outcome = Outcome::of(source);
        let name = kommo_files_name(&source.path);
        let result = self.upload_and_link(index, source, &name, &mut outcome);
        match result {
            Ok(uuid) => {
                let version = if self.args.version_of.is_some() {
                    ", a new version"
                } else {
                    ""
                };
                // What this run sent, when it is not simply the file: a resume, or bytes the
                // server took twice (an upload that started over).
                let partly = if outcome.status == "resumed"
                    || (outcome.status == "uploaded" && outcome.sent != source.size)
                {
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
                let failure = failure.in_upload();
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
                self.reporter.skipped(index, source.size);
                record
            }
            None => {
                let transferred = self.transfer(index, source, name);
                // Every byte the server acknowledged in this run, over every attempt: the
                // number the closing `sent` line sums.
                outcome.sent = self.reporter.moved(index);
                let (file, status) = transferred?;
                outcome.status = status;
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
    /// Returns the file and how it went: `resumed` only when the earlier session carried on.
    fn transfer(
        &self,
        index: usize,
        source: &Source,
        name: &str,
    ) -> Result<(FileObject, &'static str), Failure> {
        let checkpoint_path = self.batch.checkpoint_path(&source.path);
        let mut attempt = None;
        if let Ok(checkpoint) = kommo_files::load_checkpoint(&checkpoint_path) {
            let offset = checkpoint.offset;
            let progress = self.reporter.start(index, name, source.size, offset);
            let (resumed, restarted) =
                self.watched(progress, source, true, &checkpoint_path, |options| {
                    self.client.resume_path(checkpoint, &source.path, options)
                });
            match resumed {
                Err(error) if checkpoint_is_stale(&error) => {
                    self.note(
                        source,
                        &format!(
                            "cannot continue the earlier upload ({}); starting over",
                            Failure::from(error).message
                        ),
                    );
                    let _ = std::fs::remove_file(&checkpoint_path);
                }
                // The session was gone after all: the SDK started over from byte 0 (and said so).
                other if restarted => attempt = Some((other, "uploaded")),
                other => attempt = Some((other, "resumed")),
            }
        }
        let (result, status) = match attempt {
            Some(attempt) => attempt,
            None => (
                self.upload_from_start(index, source, name, &checkpoint_path),
                "uploaded",
            ),
        };
        let error = match result {
            Ok(file) => return Ok((file, status)),
            Err(error) => error,
        };
        match find_stored(
            &self.client,
            self.args.version_of.as_deref(),
            &error,
            source,
            name,
        )? {
            Stored::Found(file) => {
                self.note(
                    source,
                    &format!(
                        "the answer to its last part was lost; it is stored as {}",
                        file.uuid
                    ),
                );
                let _ = std::fs::remove_file(&checkpoint_path);
                Ok((*file, status))
            }
            Stored::Not => {
                self.note(source, "the answer to its last part was lost and the file is not stored; starting over");
                let _ = std::fs::remove_file(&checkpoint_path);
                self.upload_from_start(index, source, name, &checkpoint_path)
                    .map(|file| (file, "uploaded"))
                    .map_err(|error| upload_failure(error, &source.path))
            }
            Stored::Unknown => Err(upload_failure(error, &source.path)),
        }
    }

    fn upload_from_start(
        &self,
        index: usize,
        source: &Source,
        name: &str,
        checkpoint_path: &Path,
    ) -> Result<FileObject, Error> {
        let progress = self.reporter.start(index, name, source.size, 0);
        self.watched(progress, source, false, checkpoint_path, |options| {
            self.client.upload_path(&source.path, options)
        })
        .0
    }

    fn note(&self, source: &Source, text: &str) {
        self.reporter.note(&format!(
            "{}: {text}",
            printable(&source.path.display().to_string())
        ));
    }

    /// Runs `upload` with this batch's options, its checkpoint file and `progress` fed; says so
    /// when the SDK starts over from byte 0 (its session was gone), and returns whether it did.
    fn watched(
        &self,
        progress: FileProgress,
        source: &Source,
        resuming: bool,
        checkpoint_path: &Path,
        upload: impl FnOnce(UploadOptions) -> Result<FileObject, Error>,
    ) -> (Result<FileObject, Error>, bool) {
        let progress = Arc::new(Mutex::new(progress));
        let restarted = Arc::new(AtomicBool::new(false));
        let fed = Arc::clone(&progress);
        let (told, reporter) = (Arc::clone(&restarted), Arc::clone(self.reporter));
        let path = printable(&source.path.display().to_string());
        let mut options = UploadOptions::new()
            .with_preview(self.args.preview)
            .checkpoint_file(checkpoint_path)
            .cancel_handle(self.cancel.clone())
            .on_progress(move |p| {
                fed.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .update(p.acknowledged)
            })
            .on_event(move |event| {
                if let UploadEvent::Restarted { .. } = event {
                    let why = match (resuming, told.swap(true, Ordering::SeqCst)) {
                        (true, false) => "the earlier upload's session is gone",
                        _ => "the upload session was lost",
                    };
                    reporter.note(&format!("{path}: {why}; starting over from the beginning"));
                }
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
        (result, restarted.load(Ordering::SeqCst))
    }

    /// Attaches and notes the file where asked, once each, saving each step.
    fn link(&self, record: &mut FileRecord, path: &Path, name: &str) -> Result<(), Failure> {
        for entity in &self.args.attach {
            let key = entity.to_string();
            if !record.attached.contains(&key) {
                self.client
                    .attach(&entity.kind, entity.id, &[&record.uuid])
                    .map_err(|error| Failure::about_entity(error, entity))?;
                record.attached.push(key);
                self.batch.save(path, record.clone())?;
            }
        }
        for entity in &self.args.note {
            let key = entity.to_string();
            if !record.noted.contains(&key) {
                let note = AttachmentNote::new(entity.id, &record.uuid).file_name(name);
                self.client
                    .add_attachment_notes(&entity.kind, &[note])
                    .map_err(|error| Failure::about_entity(error, entity))?;
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
