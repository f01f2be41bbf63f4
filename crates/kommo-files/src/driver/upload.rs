//! Uploads: the entry points, and the loop that runs the model's upload machine over a source.

use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use kommo_files_model::upload::{
    Action, Checkpoint, SourceChange, SourceInfo, UploadError, UploadEvent, UploadMachine,
};
use kommo_files_model::wire::{FileObject, NewSession};

use super::sources::{cannot_rewind, BytesSource, FileSource, PartSource, ReaderSource};
use super::{files_available, flavour, fs, traced, watch_handle, Client, UploadRead};
use crate::support::{self, Attempt};
use crate::trace;
use crate::{Error, UploadOptions};

/// How many times an upload starts again after an ambiguous last part that stored nothing: a
/// server that keeps losing last answers must not keep an upload going for ever.
const MAX_UPLOADS_AGAIN: u32 = 2;

#[flavour(AFIT)]
impl Client {
    /// Uploads bytes in memory as a file called `name`.
    ///
    #[doc = example!(
        "use kommo_files::UploadOptions;\n"
        "let file = client.upload_bytes(\"hello.txt\", &b\"hello\"[..], UploadOptions::new().content_type(\"text/plain\"))" await "?;\n"
        "assert_eq!(file.size, 5);"
    )]
    pub async fn upload_bytes(
        &self,
        name: &str,
        bytes: impl Into<Bytes>,
        options: UploadOptions,
    ) -> Result<FileObject, Error> {
        let bytes = bytes.into();
        let info = SourceInfo::of_size(bytes.len() as u64);
        self.upload(name, info, BytesSource(bytes), options).await
    }

    /// Uploads `size` bytes read from `reader` as a file called `name`.
    ///
    /// The reader is read once, in order; if the server loses the session and the upload must
    /// start over, this fails (use [`Client::upload_path`] or [`Client::upload_bytes`] for
    /// that guarantee).
    ///
    #[doc = example!(
        "let data = vec![7u8; 100_000];\n"
        "let file = client.upload_reader(\"data.bin\", &data[..], data.len() as u64, Default::default())" await "?;\n"
        "assert_eq!(file.size, 100_000);"
    )]
    pub async fn upload_reader<R: UploadRead>(
        &self,
        name: &str,
        reader: R,
        size: u64,
        options: UploadOptions,
    ) -> Result<FileObject, Error> {
        let info = SourceInfo::of_size(size);
        self.upload(name, info, ReaderSource::new(reader), options)
            .await
    }

    /// Uploads the file at `path` (named after it unless [`UploadOptions::file_name`] says
    /// otherwise).
    ///
    /// Memory stays at about two parts whatever the file size (three in the async client,
    /// which reads the next part while one is sent). With
    /// [`UploadOptions::checkpoint_file`], running the same upload again after a crash
    /// continues it (see [`UploadOptions::resume`]).
    ///
    #[doc = example!(
        "use kommo_files::UploadOptions;\n"
        "let path = std::env::temp_dir().join(\"kommo-files-doc-upload.txt\");\n"
        "std::fs::write(&path, b\"contract\")?;\n"
        "let options = UploadOptions::new().on_progress(|p| eprintln!(\"{}/{}\", p.acknowledged, p.total));\n"
        "let file = client.upload_path(&path, options)" await "?;\n"
        "assert_eq!(file.size, 8);"
    )]
    pub async fn upload_path(
        &self,
        path: impl AsRef<Path>,
        options: UploadOptions,
    ) -> Result<FileObject, Error> {
        let path = path.as_ref();
        let (source, info) = open_source(path).await?;
        self.upload(&support::file_name(path), info, source, options)
            .await
    }

    /// Continues the upload of `checkpoint` from the file at `path`, after checking that the
    /// file is the one the checkpoint was taken of (size, modification time, and the SHA-256
    /// of the bytes already sent). The first progress event reports the checkpoint's offset.
    ///
    #[doc = example!(
        "use kommo_files::{CancelHandle, UploadOptions};\n"
        "let path = std::env::temp_dir().join(\"kommo-files-doc-resume.bin\");\n"
        "std::fs::write(&path, vec![1u8; 3 * 1024 * 1024])?;\n"
        "let cancel = CancelHandle::new();\n"
        "let stop = cancel.clone();\n"
        "let options = UploadOptions::new().on_progress(move |_| stop.cancel()).cancel_handle(cancel);\n"
        "let error = client.upload_path(&path, options)" await ".unwrap_err();\n"
        "let checkpoint = error.checkpoint().cloned().expect(\"the session was open\");\n"
        "let file = client.resume_path(checkpoint, &path, Default::default())" await "?;\n"
        "assert_eq!(file.size, 3 * 1024 * 1024);"
    )]
    pub async fn resume_path(
        &self,
        checkpoint: Checkpoint,
        path: impl AsRef<Path>,
        options: UploadOptions,
    ) -> Result<FileObject, Error> {
        let (source, info) = open_source(path.as_ref()).await?;
        self.resume(checkpoint, info, source, options).await
    }

    /// Continues the upload of `checkpoint` with the same bytes.
    ///
    #[doc = example!(
        "use kommo_files::{CancelHandle, UploadOptions};\n"
        "let data = vec![1u8; 3 * 1024 * 1024];\n"
        "let cancel = CancelHandle::new();\n"
        "let stop = cancel.clone();\n"
        "let options = UploadOptions::new().on_progress(move |_| stop.cancel());\n"
        "let error = client.upload_bytes(\"big.bin\", data.clone(), options.cancel_handle(cancel))" await ".unwrap_err();\n"
        "let checkpoint = error.checkpoint().cloned().expect(\"the session was open\");\n"
        "let file = client.resume_bytes(checkpoint, data, Default::default())" await "?;\n"
        "assert_eq!(file.size, 3 * 1024 * 1024);"
    )]
    pub async fn resume_bytes(
        &self,
        checkpoint: Checkpoint,
        bytes: impl Into<Bytes>,
        options: UploadOptions,
    ) -> Result<FileObject, Error> {
        let bytes = bytes.into();
        let info = SourceInfo::new(bytes.len() as u64, checkpoint.source.modified);
        self.resume(checkpoint, info, BytesSource(bytes), options)
            .await
    }

    /// Continues the upload of `checkpoint` reading the source again from its start (the
    /// bytes already sent are re-read and verified first).
    ///
    /// See [`Client::resume_bytes`] for an example.
    pub async fn resume_reader<R: UploadRead>(
        &self,
        checkpoint: Checkpoint,
        reader: R,
        options: UploadOptions,
    ) -> Result<FileObject, Error> {
        let info = SourceInfo::new(checkpoint.source.size, checkpoint.source.modified);
        self.resume(checkpoint, info, ReaderSource::new(reader), options)
            .await
    }

    /// A new upload, or the continuation of the one in the options' checkpoint file when
    /// there is a usable one.
    async fn upload<S: PartSource>(
        &self,
        name: &str,
        info: SourceInfo,
        source: S,
        options: UploadOptions,
    ) -> Result<FileObject, Error> {
        let span = trace::upload_span(name, info.size, false);
        traced(span, || self.start_upload(name, info, source, options)).await
    }

    /// [`Client::upload`], inside its span.
    async fn start_upload<S: PartSource>(
        &self,
        name: &str,
        info: SourceInfo,
        mut source: S,
        mut options: UploadOptions,
    ) -> Result<FileObject, Error> {
        options.check_checkpoint_file()?;
        let refusal = match options.saved_checkpoint() {
            Ok(Some(checkpoint)) => match self.resumed_machine(checkpoint, info).await? {
                Ok(machine) => match self.finish(machine, &mut source, &mut options).await {
                    // The prefix the checkpoint vouches for is not the source's (a damaged
                    // hash, or a file edited without a new modification time): refused like
                    // any unusable checkpoint, before any part was sent.
                    Err(Error::Upload {
                        error: error @ UploadError::SourceChanged(SourceChange::Content { .. }),
                        ..
                    }) if source.can_restart() => Some(error.to_string()),
                    outcome => return outcome,
                },
                Err(refusal) => Some(refusal.to_string()),
            },
            Ok(None) => None,
            Err(unreadable) => Some(unreadable),
        };
        if let Some(reason) = refusal {
            tell(
                &mut options,
                &UploadEvent::CheckpointRefused { reason },
                info.size,
            )?;
        }
        // Nobody keeps checkpoints: hash the prefix only if an error needs one.
        let lazy_hash = !options.observes_checkpoints() && source.rereadable();
        let session = options.session(name, info.size);
        let machine = self.new_machine(session, info, lazy_hash).await?;
        self.finish(machine, &mut source, &mut options).await
    }

    /// Continues the upload of `checkpoint`.
    async fn resume<S: PartSource>(
        &self,
        checkpoint: Checkpoint,
        info: SourceInfo,
        source: S,
        options: UploadOptions,
    ) -> Result<FileObject, Error> {
        let span = trace::upload_span(&checkpoint.session.file_name, info.size, true);
        traced(span, || {
            self.resume_upload(checkpoint, info, source, options)
        })
        .await
    }

    /// [`Client::resume`], inside its span.
    async fn resume_upload<S: PartSource>(
        &self,
        checkpoint: Checkpoint,
        info: SourceInfo,
        mut source: S,
        mut options: UploadOptions,
    ) -> Result<FileObject, Error> {
        options.check_checkpoint_file()?;
        let kept = Box::new(checkpoint.clone());
        let machine = self
            .resumed_machine(checkpoint, info)
            .await?
            .map_err(|error| Error::upload(error, Some(kept)))?;
        self.finish(machine, &mut source, &mut options).await
    }

    async fn new_machine(
        &self,
        session: NewSession,
        info: SourceInfo,
        lazy_hash: bool,
    ) -> Result<UploadMachine, Error> {
        let config = self.inner.config.upload_config();
        let machine =
            UploadMachine::new(self.drive().await?, session, info, config, support::seed());
        Ok(if lazy_hash {
            machine.without_prefix_hash()
        } else {
            machine
        })
    }

    /// A machine continuing `checkpoint`, or why the checkpoint cannot be continued.
    async fn resumed_machine(
        &self,
        checkpoint: Checkpoint,
        info: SourceInfo,
    ) -> Result<Result<UploadMachine, UploadError>, Error> {
        let drive = self.drive().await?;
        let config = self.inner.config.upload_config();
        let now = SystemTime::now();
        Ok(UploadMachine::resume(
            drive,
            checkpoint,
            info,
            config,
            now,
            support::seed(),
        ))
    }

    /// Runs the machine to the end; after an ambiguous last part, finds out whether the file
    /// was stored (see `recovery.rs`) instead of failing or storing it twice.
    async fn finish<S: PartSource>(
        &self,
        machine: UploadMachine,
        source: &mut S,
        options: &mut UploadOptions,
    ) -> Result<FileObject, Error> {
        let mut machine = machine;
        let mut uploaded_again = 0;
        loop {
            let error = match self.run_upload(&mut machine, source, options).await {
                Ok(file) => return completed(file, options, machine.total()),
                Err(error) => error,
            };
            let recover = error.is_final_part_unconfirmed() && options.recovers_final_part();
            if !recover || uploaded_again == MAX_UPLOADS_AGAIN {
                return Err(error);
            }
            match self.recover_final_part(&machine, source, error).await? {
                Some(file) => {
                    let found = UploadEvent::FinalPartFound {
                        file_uuid: file.uuid.clone(),
                    };
                    tell(options, &found, machine.total())?;
                    return completed(file, options, machine.total());
                }
                None => {
                    if !source.can_restart() {
                        let reading = cannot_rewind(machine.total());
                        return Err(Error::io(
                            "uploading again after the last part was lost",
                            reading,
                        ));
                    }
                    tell(options, &UploadEvent::FinalPartNotStored, machine.total())?;
                    machine = machine.start_over(support::seed());
                    uploaded_again += 1;
                }
            }
        }
    }

    /// Runs the upload machine: reads what it asks, sends what it builds, sleeps when it says,
    /// and reports its events.
    async fn run_upload<S: PartSource>(
        &self,
        machine: &mut UploadMachine,
        source: &mut S,
        options: &mut UploadOptions,
    ) -> Result<FileObject, Error> {
        loop {
            while let Some(event) = machine.poll_event() {
                tell(options, &event, machine.total())?;
                if matches!(event, UploadEvent::Restarted { .. }) && !source.can_restart() {
                    // Before a new session is opened for nothing.
                    let reading = cannot_rewind(machine.acknowledged());
                    return Err(Error::io("restarting the upload", reading));
                }
            }
            if options.cancel.is_cancelled() {
                let checkpoint = checkpoint_of(machine, source).await;
                return Err(Error::cancelled(checkpoint));
            }
            match machine.poll_action(SystemTime::now()) {
                Action::Read { offset, len } => {
                    let reading = |e| Error::io(format!("reading the source at byte {offset}"), e);
                    let read = source.read_part(offset, len).await;
                    // Checked after the read, so a change made before or during it is seen (a
                    // file cut short fails the read: that too is a change, not an I/O error).
                    match (read, source.changed().await.map_err(reading)?) {
                        (_, Some(change)) => machine.handle_source_changed(change),
                        (Ok(bytes), None) => machine.handle_read(bytes, SystemTime::now()),
                        (Err(error), None) => return Err(reading(error)),
                    }
                }
                Action::Send(request) => {
                    let attempt = match machine.sending() {
                        Some((kind, attempt)) => Attempt::upload(kind, attempt),
                        None => {
                            return Err(Error::internal("upload machine: a request of no kind"))
                        }
                    };
                    self.pause_until(self.slot(), None).await;
                    let result = self.send_buffered(request, attempt).await?;
                    machine
                        .handle_response(result.map_err(support::send_failure), SystemTime::now());
                }
                Action::Wait { until } => self.pause_until(until, Some(&options.cancel)).await,
                Action::Done(file) => return Ok(*file),
                Action::Failed(error) => {
                    // A changed source cannot vouch for what the server has: no hash of it.
                    let checkpoint = match &error {
                        UploadError::SourceChanged(_) if !machine.hashes_prefix() => None,
                        _ => checkpoint_of(machine, source).await,
                    };
                    return Err(Error::upload(error, checkpoint));
                }
                other => return Err(Error::internal(format!("upload machine: {other:?}"))),
            }
        }
    }
}

/// The upload's result: told to the observers while its checkpoint file still exists (a caller
/// that records it then survives a crash at any moment), then the checkpoint file goes.
fn completed(
    file: FileObject,
    options: &mut UploadOptions,
    total: u64,
) -> Result<FileObject, Error> {
    let event = UploadEvent::Completed {
        file_uuid: file.uuid.clone(),
    };
    tell(options, &event, total)?;
    options.finished();
    Ok(file)
}

/// The checkpoint an error carries. A machine without a prefix hash gets it here, from the
/// source; if the source cannot be read now, there is no checkpoint.
#[flavour(AFIT)]
async fn checkpoint_of<S: PartSource>(
    machine: &UploadMachine,
    source: &mut S,
) -> Option<Box<Checkpoint>> {
    if machine.hashes_prefix() {
        return machine.checkpoint().map(Box::new);
    }
    let prefix = source.sha256_of_prefix(machine.acknowledged()).await?;
    machine.checkpoint_with_prefix(prefix).map(Box::new)
}

/// Opens a file to upload and describes it (size, modification time).
#[flavour(AFIT)]
async fn open_source(path: &Path) -> Result<(FileSource, SourceInfo), Error> {
    let opening = |e| Error::io(format!("opening {}", path.display()), e);
    files_available().map_err(opening)?;
    let file = fs::File::open(path).await.map_err(opening)?;
    let watch = watch_handle(&file).await.map_err(opening)?;
    let metadata = watch.metadata().map_err(opening)?;
    let modified = metadata
        .modified()
        .ok()
        .map(kommo_files_model::upload::ModifiedTime::from_system_time);
    let info = SourceInfo::new(metadata.len(), modified);
    Ok((FileSource::new(file, watch, info), info))
}

/// Tells `event` to the trace (feature `tracing`) and to the options' observers.
fn tell(options: &mut UploadOptions, event: &UploadEvent, total: u64) -> Result<(), Error> {
    trace::upload_event(event);
    options.observe(event, total)
}
