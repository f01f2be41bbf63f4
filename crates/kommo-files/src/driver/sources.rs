//! Where an upload's bytes come from: memory, a file (read where the upload asks) or a reader
//! (read once, in order).

use std::sync::Arc;

use bytes::Bytes;
use kommo_files_model::upload::{ModifiedTime, PrefixHash, SourceChange, SourceInfo};

use super::io::*;
use super::{flavour, fs, ReadAhead, UploadRead};

/// How much of a source is read at a time when hashing it (a late checkpoint, a recovery).
const HASH_CHUNK: u64 = 8 * 1024 * 1024;

/// Where an upload's bytes come from.
#[flavour(AFIT)]
pub(super) trait PartSource: Send {
    async fn read_part(&mut self, offset: u64, len: usize) -> std::io::Result<Bytes>;

    /// How the source differs from what it was when the upload started, if it does: checked
    /// after every read, before the bytes go to the machine, so a file rewritten or grown
    /// during the upload stops it before its next part (the last one included) is sent. Bytes
    /// in memory and readers cannot change under us.
    async fn changed(&mut self) -> std::io::Result<Option<SourceChange>> {
        Ok(None)
    }

    /// Whether the source can be read again from byte 0 (a restarted upload needs it).
    fn can_restart(&self) -> bool {
        true
    }

    /// Whether any earlier bytes can be read again at any time, so that a hash of the prefix
    /// can be taken when it is wanted.
    fn rereadable(&self) -> bool {
        true
    }

    /// The SHA-256 (lowercase hex) of the source's first `end` bytes; `None` if they cannot be
    /// read again.
    async fn sha256_of_prefix(&mut self, end: u64) -> Option<String> {
        if !self.rereadable() {
            return None;
        }
        let mut prefix = PrefixHash::default();
        while prefix.len() < end {
            let len = (end - prefix.len()).min(HASH_CHUNK) as usize;
            prefix.update(&self.read_part(prefix.len(), len).await.ok()?);
        }
        Some(prefix.hex())
    }
}

/// Bytes in memory.
pub(super) struct BytesSource(pub(super) Bytes);

/// A file, read where the upload asks (restarts and resumes can go back).
pub(super) struct FileSource {
    file: fs::File,
    /// The same file, to look at its metadata: an `fstat` on an open file is answered from
    /// memory, so it is made in place rather than as a trip to tokio's blocking pool per part.
    watch: Arc<std::fs::File>,
    /// The next part, read while the current one is sent (async only: see `ReadAhead`).
    ahead: ReadAhead,
    /// Where the next read starts without a seek (an async seek is a trip to tokio's blocking
    /// pool, paid for every part if made each time); `None` when unknown.
    position: Option<u64>,
    /// Size and modification time when the upload started.
    opened: SourceInfo,
}

impl FileSource {
    /// `file`, whose size and modification time were `opened` when the upload started.
    pub(super) fn new(file: fs::File, watch: std::fs::File, opened: SourceInfo) -> Self {
        Self {
            file,
            watch: Arc::new(watch),
            ahead: ReadAhead::default(),
            position: Some(0),
            opened,
        }
    }
}

/// A reader read once from its start: it cannot go back, so a restart fails.
pub(super) struct ReaderSource<R> {
    reader: R,
    position: u64,
}

impl<R> ReaderSource<R> {
    pub(super) fn new(reader: R) -> Self {
        Self {
            reader,
            position: 0,
        }
    }
}

#[flavour(AFIT)]
impl PartSource for BytesSource {
    async fn read_part(&mut self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start.checked_add(len).filter(|end| *end <= self.0.len()) {
            Some(end) => Ok(self.0.slice(start..end)),
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

#[flavour(AFIT)]
impl PartSource for FileSource {
    async fn read_part(&mut self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let bytes = match self.ahead.take(offset, len).await? {
            Some(bytes) => bytes,
            None => {
                if self.position.take() != Some(offset) {
                    self.file.seek(std::io::SeekFrom::Start(offset)).await?;
                }
                let mut buffer = vec![0; len];
                self.file.read_exact(&mut buffer).await.map(drop)?;
                self.position = Some(offset + len as u64);
                Bytes::from(buffer)
            }
        };
        // The next part of the same size (or the rest), if there is one.
        let next = offset + len as u64;
        let next_len = (len as u64).min(self.opened.size.saturating_sub(next)) as usize;
        self.ahead.start(&self.watch, next, next_len);
        Ok(bytes)
    }

    /// Compares the file's metadata now with its metadata at the start (one `fstat` a part).
    async fn changed(&mut self) -> std::io::Result<Option<SourceChange>> {
        let metadata = self.watch.metadata()?;
        let was = self.opened;
        if metadata.len() != was.size {
            return Ok(Some(SourceChange::Size {
                was: was.size,
                now: metadata.len(),
            }));
        }
        let modified = metadata.modified().ok().map(ModifiedTime::from_system_time);
        Ok((modified != was.modified).then_some(SourceChange::ModifiedDuringUpload))
    }
}

#[flavour(AFIT)]
impl<R: UploadRead> PartSource for ReaderSource<R> {
    async fn read_part(&mut self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        if offset != self.position {
            return Err(cannot_rewind(self.position));
        }
        let mut buffer = vec![0; len];
        self.reader.read_exact(&mut buffer).await.map(drop)?;
        self.position += len as u64;
        Ok(Bytes::from(buffer))
    }

    fn can_restart(&self) -> bool {
        self.position == 0
    }

    fn rereadable(&self) -> bool {
        false
    }
}

/// A reader that already gave bytes away cannot give them again.
pub(super) fn cannot_rewind(position: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!(
            "the reader is at byte {position} and cannot go back to byte 0 \
             (a restarted upload needs a file or bytes)"
        ),
    )
}
