//! [`UploadOptions`]: what an upload is (content type, new version, preview) and who watches it
//! (progress, checkpoints, cancellation).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kommo_files_model::upload::{Checkpoint, UploadEvent};
use kommo_files_model::wire::NewSession;

use crate::Error;

/// Progress of a transfer. An upload counts bytes the server has acknowledged (never bytes
/// merely read or sent); a download counts bytes written to the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes acknowledged (uploads) or written (downloads) so far.
    pub acknowledged: u64,
    /// The file size; for a download the `Content-Length`, or 0 when the server sent none.
    pub total: u64,
}

impl Progress {
    pub(crate) fn new(acknowledged: u64, total: u64) -> Self {
        Self {
            acknowledged,
            total,
        }
    }
}

/// Stops an upload from another thread or task; the upload returns [`Error::Cancelled`] with
/// its checkpoint. (An async upload also stops when its future is dropped.)
///
/// ```
/// use kommo_files::{CancelHandle, UploadOptions};
///
/// let cancel = CancelHandle::new();
/// let options = UploadOptions::new().cancel_handle(cancel.clone());
/// std::thread::spawn(move || cancel.cancel()); // e.g. on Ctrl-C
/// # drop(options);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    /// A handle not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the upload to stop at the next step.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelHandle::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

type Observer<T> = Box<dyn FnMut(T) + Send>;
type CheckpointObserver = dyn FnMut(&Checkpoint) + Send;
type EventObserver = dyn FnMut(&UploadEvent) + Send;

/// How to upload: session fields and observers. All optional.
///
/// ```
/// use kommo_files::UploadOptions;
///
/// let options = UploadOptions::new()
///     .content_type("application/pdf")
///     .with_preview(true)
///     .on_progress(|p| eprintln!("{}/{} bytes", p.acknowledged, p.total))
///     .checkpoint_file("contract.pdf.checkpoint.json");
/// # drop(options);
/// ```
pub struct UploadOptions {
    content_type: Option<String>,
    new_version_of: Option<String>,
    with_preview: bool,
    file_name: Option<String>,
    on_progress: Option<Observer<Progress>>,
    on_checkpoint: Option<Box<CheckpointObserver>>,
    on_event: Option<Box<EventObserver>>,
    checkpoint_file: Option<PathBuf>,
    resume: bool,
    recover_final_part: bool,
    pub(crate) cancel: CancelHandle,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            content_type: None,
            new_version_of: None,
            with_preview: false,
            file_name: None,
            on_progress: None,
            on_checkpoint: None,
            on_event: None,
            checkpoint_file: None,
            resume: true,
            recover_final_part: true,
            cancel: CancelHandle::default(),
        }
    }
}

impl UploadOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The file's MIME type.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Upload a new version of this existing file instead of a new file.
    pub fn new_version_of(mut self, file_uuid: impl Into<String>) -> Self {
        self.new_version_of = Some(file_uuid.into());
        self
    }

    /// Ask the server to render previews (images, documents).
    pub fn with_preview(mut self, with_preview: bool) -> Self {
        self.with_preview = with_preview;
        self
    }

    /// The name stored on the server, instead of the path's file name.
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Called after every acknowledged part (and with 0 after a restart).
    pub fn on_progress(mut self, callback: impl FnMut(Progress) + Send + 'static) -> Self {
        self.on_progress = Some(Box::new(callback));
        self
    }

    /// Called with a new checkpoint when the session opens and after every acknowledged part;
    /// keep the last one to resume after a crash ([`Checkpoint::to_json`] serialises it).
    pub fn on_checkpoint(mut self, callback: impl FnMut(&Checkpoint) + Send + 'static) -> Self {
        self.on_checkpoint = Some(Box::new(callback));
        self
    }

    /// Called with every event of the upload (sessions, retries, restarts, progress).
    pub fn on_event(mut self, callback: impl FnMut(&UploadEvent) + Send + 'static) -> Self {
        self.on_event = Some(Box::new(callback));
        self
    }

    /// Keep the latest checkpoint in this file: replaced atomically when the session opens and
    /// after every part, removed when the upload completes. Running the same upload again with
    /// the same file continues it (see [`UploadOptions::resume`]); [`crate::load_checkpoint`]
    /// reads it. A directory at `path` fails the upload with [`Error::Io`] naming it, before
    /// any request (the checkpoint could not be kept; nothing is removed).
    pub fn checkpoint_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint_file = Some(path.into());
        self
    }

    /// Whether an upload given a [`UploadOptions::checkpoint_file`] that exists continues the
    /// upload it describes (default `true`). A checkpoint that cannot be continued (the file
    /// changed, the session expired, the checkpoint is damaged) starts the upload over, and
    /// says why with [`UploadEvent::CheckpointRefused`]. `false` always starts over. A
    /// continued upload's first progress event reports the checkpoint's offset.
    ///
    /// ```
    /// # let emulator = kommo_files_emulator::Emulator::builder().start()?;
    /// # let client = kommo_files::blocking::Client::new(kommo_files::ClientConfig::for_url(emulator.account_url(), &emulator.token())?)?;
    /// # let dir = std::env::temp_dir();
    /// # std::fs::write(dir.join("kommo-files-doc-resume-option.bin"), b"contract")?;
    /// use kommo_files::UploadOptions;
    ///
    /// // Run this again after a crash: it continues where the checkpoint says.
    /// let options = UploadOptions::new().checkpoint_file(dir.join("contract.checkpoint.json"));
    /// let file = client.upload_path(dir.join("kommo-files-doc-resume-option.bin"), options)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Whether an ambiguous last part (its answer lost or unreadable, the session gone) is
    /// resolved by the upload itself (default `true`): a file of the upload's name and size
    /// created since the session opened whose bytes hash to the source's SHA-256 (downloaded
    /// once to check) is the upload's result; when there is none, the file is uploaded again;
    /// anything less certain is [`Error::FinalPartUnproven`], never adopted. `false` stops
    /// with the ambiguous [`Error::Upload`] instead.
    pub fn recover_final_part(mut self, recover: bool) -> Self {
        self.recover_final_part = recover;
        self
    }

    /// Stop the upload when `handle` is cancelled.
    pub fn cancel_handle(mut self, handle: CancelHandle) -> Self {
        self.cancel = handle;
        self
    }

    /// The session request for a file called `default_name` (unless renamed) of `size` bytes.
    pub(crate) fn session(&self, default_name: &str, size: u64) -> NewSession {
        let name = self.file_name.as_deref().unwrap_or(default_name);
        let mut session = NewSession::new(name, size).with_preview(self.with_preview);
        if let Some(content_type) = &self.content_type {
            session = session.content_type(content_type);
        }
        if let Some(uuid) = &self.new_version_of {
            session = session.new_version_of(uuid);
        }
        session
    }

    /// The checkpoint to continue from, when resuming is on and the checkpoint file exists;
    /// `Err` says why an existing one cannot be read.
    pub(crate) fn saved_checkpoint(&self) -> Result<Option<Checkpoint>, String> {
        let Some(path) = self.checkpoint_file.as_ref().filter(|_| self.resume) else {
            return Ok(None);
        };
        match std::fs::read(path) {
            Ok(bytes) => Checkpoint::from_json(&bytes)
                .map(Some)
                .map_err(|error| format!("the checkpoint {} is damaged: {error}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!(
                "the checkpoint {} cannot be read: {error}",
                path.display()
            )),
        }
    }

    /// Fails before anything is sent when the checkpoint file cannot be a file: a directory
    /// stands at its path. Nothing is removed (it may hold anything); the error names the path.
    pub(crate) fn check_checkpoint_file(&self) -> Result<(), Error> {
        match &self.checkpoint_file {
            Some(path) if path.is_dir() => Err(Error::io(
                format!(
                    "the checkpoint file {} is a directory: remove it or choose another path",
                    path.display()
                ),
                std::io::ErrorKind::IsADirectory.into(),
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn recovers_final_part(&self) -> bool {
        self.recover_final_part
    }

    /// Whether anything here looks at checkpoints (a file, a callback, or every event).
    pub(crate) fn observes_checkpoints(&self) -> bool {
        self.checkpoint_file.is_some() || self.on_checkpoint.is_some() || self.on_event.is_some()
    }

    /// Hands `event` of an upload of `total` bytes to the observers; writes checkpoint files.
    pub(crate) fn observe(&mut self, event: &UploadEvent, total: u64) -> Result<(), Error> {
        if let Some(callback) = &mut self.on_event {
            callback(event);
        }
        match event {
            UploadEvent::Progress {
                acknowledged,
                total,
            } => self.progress(*acknowledged, *total),
            UploadEvent::Restarted { .. } => self.progress(0, total),
            UploadEvent::Checkpoint(checkpoint) => {
                if let Some(path) = &self.checkpoint_file {
                    write_atomically(path, &checkpoint.to_json()).map_err(|e| {
                        Error::io(format!("saving the checkpoint to {}", path.display()), e)
                    })?;
                }
                if let Some(callback) = &mut self.on_checkpoint {
                    callback(checkpoint);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn progress(&mut self, acknowledged: u64, total: u64) {
        if let Some(callback) = &mut self.on_progress {
            callback(Progress::new(acknowledged, total));
        }
    }

    /// The upload completed: a checkpoint file would only mislead a later resume.
    pub(crate) fn finished(&self) {
        if let Some(path) = &self.checkpoint_file {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("content_type", &self.content_type)
            .field("new_version_of", &self.new_version_of)
            .field("with_preview", &self.with_preview)
            .field("file_name", &self.file_name)
            .field("checkpoint_file", &self.checkpoint_file)
            .field("resume", &self.resume)
            .field("recover_final_part", &self.recover_final_part)
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash never leaves a
/// half-written checkpoint.
///
/// The file is readable by its owner only: a checkpoint holds the upload URL, whose signed
/// session token lets anyone who reads it add parts to the session.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = crate::support::sibling_temp_path(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temporary)
        .and_then(|mut file| std::io::Write::write_all(&mut file, bytes));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint file is replaced whole and is its owner's only (it holds a session token).
    #[test]
    fn checkpoints_are_written_whole_and_owner_only() {
        let dir = std::env::temp_dir().join(format!("kommo-files-options-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("upload.checkpoint.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
