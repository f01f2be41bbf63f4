//! One file of a batch: upload it (or continue its upload, or find it done), then attach and
//! note it, remembering each step in the batch's state.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kommo_files::blocking::Client;
use kommo_files::model::upload::UploadEvent;
use kommo_files::model::wire::FileObject;
use kommo_files::{CancelHandle, Error, UploadOptions};

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
    pub batch: &'a Arc<Batch>,
    pub reporter: &'a Arc<Reporter>,
    pub links: &'a super::links::Links<'a>,
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
                    "{} {} -> {uuid} ({}{partly}){version}{}",
                    outcome.status,
                    printable(&source.path.display().to_string()),
                    human_size(source.size),
                    match outcome.verified {
                        Some(true) => ", SHA-256 verified",
                        _ => "",
                    }
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
        let from_earlier_run = earlier.is_some();
        let record = match earlier {
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
                if self.args.verify {
                    verify(&self.client, &file, &source.path)?;
                    outcome.verified = Some(true);
                }
                let record = uploaded(source, file.uuid);
                // Usually saved already, when the SDK said the upload completed.
                if self.batch.record(&source.path).as_ref() != Some(&record) {
                    self.batch.save(&source.path, record.clone())?;
                }
                record
            }
        };
        self.links
            .add(&source.path, &record.uuid, name, from_earlier_run);
        Ok(record.uuid)
    }

    /// Uploads the file through the SDK, which continues the batch's checkpoint for it when
    /// there is a usable one (and starts over, saying why, when not) and resolves a lost answer
    /// to the last part itself. Returns the file and how it went: `resumed` only when the
    /// earlier session carried on.
    fn transfer(
        &self,
        index: usize,
        source: &Source,
        name: &str,
    ) -> Result<(FileObject, &'static str), Failure> {
        let checkpoint_path = self.batch.checkpoint_path(&source.path);
        let resumed_at = kommo_files::load_checkpoint(&checkpoint_path)
            .ok()
            .map(|checkpoint| checkpoint.offset);
        let progress = self
            .reporter
            .start(index, name, source.size, resumed_at.unwrap_or(0));
        let (result, started_over) = self.watched(
            progress,
            source,
            resumed_at.is_some(),
            &checkpoint_path,
            |options| self.client.upload_path(&source.path, options),
        );
        let status = match resumed_at {
            Some(_) if !started_over => "resumed",
            _ => "uploaded",
        };
        result
            .map(|file| (file, status))
            .map_err(|error| upload_failure(error, &source.path))
    }

    /// Runs `upload` with this batch's options, its checkpoint file and `progress` fed; says
    /// what the SDK decided on the way (a checkpoint refused, a lost session, a lost last
    /// answer), and returns whether the upload started over from byte 0.
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
        let (batch, journaled) = (Arc::clone(self.batch), source.clone());
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
                let note = |text: &str| reporter.note(&format!("{path}: {text}"));
                match event {
                    // Journaled before the SDK removes the checkpoint: a process killed in
                    // between finds one or the other, never neither (a second upload).
                    UploadEvent::Completed { file_uuid } => {
                        let record = uploaded(&journaled, file_uuid.clone());
                        if let Err(failure) = batch.save(&journaled.path, record) {
                            note(&format!("cannot save the upload state: {}", failure.message));
                        }
                    }
                    UploadEvent::CheckpointRefused { reason } => {
                        told.store(true, Ordering::SeqCst);
                        note(&format!("cannot continue the earlier upload ({reason}); starting over"));
                    }
                    UploadEvent::Restarted { .. } => {
                        let why = match (resuming, told.swap(true, Ordering::SeqCst)) {
                            (true, false) => "the earlier upload's session is gone",
                            _ => "the upload session was lost",
                        };
                        note(&format!("{why}; starting over from the beginning"));
                    }
                    UploadEvent::FinalPartFound { file_uuid } => note(&format!(
                        "the answer to its last part was lost; it is stored as {file_uuid} \
                         (its SHA-256 checked)"
                    )),
                    UploadEvent::FinalPartNotStored => {
                        told.store(true, Ordering::SeqCst);
                        note("the answer to its last part was lost and the file is not stored; starting over");
                    }
                    _ => {}
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
}

/// The journal record of a file just uploaded (nothing attached or noted yet).
fn uploaded(source: &Source, uuid: String) -> FileRecord {
    FileRecord {
        size: source.size,
        modified: source.modified,
        uuid,
        attached: Vec::new(),
        noted: Vec::new(),
    }
}

fn upload_failure(error: Error, path: &Path) -> Failure {
    let unproven = matches!(&error, Error::FinalPartUnproven { .. });
    let failure = Failure::from(error);
    if unproven {
        return failure.hint(format!(
            "the file may be stored more than once or not at all: look with \
             `kommo-files ls --name {:?}`, then remove the extra copy or upload again with --no-resume",
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

/// Reads the stored copy back (streamed into a hash, never to disk) and compares its SHA-256
/// with the local file's.
fn verify(client: &Client, file: &FileObject, path: &Path) -> Result<(), Failure> {
    use sha2::Digest;
    let local = kommo_files::sync::sha256_file(path)?;
    let mut hasher = sha2::Sha256::new();
    client.download(file, &mut hasher)?;
    let stored = kommo_files::model::upload::hex(&hasher.finalize());
    if stored == local {
        return Ok(());
    }
    Err(Failure::refused(format!(
        "the stored copy's SHA-256 {stored} differs from the local file's {local}"
    ))
    .hint("upload it again with --no-resume"))
}
