//! Where file bytes and state live: in memory, or in a data directory where part bodies are
//! appended to a file as they arrive (at most one part is held in memory) and the state is
//! written as JSON after every change, so a restart keeps the files.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

use crate::state::Data;

const STATE_FILE: &str = "state.json";
const BLOB_DIR: &str = "blobs";
const UPLOAD_DIR: &str = "uploads";

/// Stored bytes of every file version, keyed by version uuid.
#[derive(Debug)]
pub(crate) enum BlobStore {
    Memory(HashMap<String, Bytes>),
    Disk(PathBuf),
}

/// Bytes of an upload in progress.
#[derive(Debug)]
pub(crate) enum UploadSink {
    Memory(Vec<u8>),
    Disk { path: PathBuf, file: fs::File },
}

impl UploadSink {
    /// Throws away an unfinished upload (its temporary file, if any).
    pub(crate) fn discard(self) {
        if let UploadSink::Disk { path, file } = self {
            drop(file);
            // Best effort: a leftover is also removed at the next start.
            let _ = fs::remove_file(path);
        }
    }

    pub(crate) fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            UploadSink::Memory(buffer) => {
                buffer.extend_from_slice(bytes);
                Ok(())
            }
            UploadSink::Disk { file, .. } => file.write_all(bytes),
        }
    }
}

/// A stored version's bytes, ready to be served.
#[derive(Debug)]
pub(crate) enum Blob {
    Memory(Bytes),
    Disk(PathBuf),
}

impl BlobStore {
    /// Opens (creating) a data directory, dropping leftovers of unfinished uploads.
    pub(crate) fn open(dir: Option<&Path>) -> io::Result<Self> {
        let Some(dir) = dir else {
            return Ok(BlobStore::Memory(HashMap::new()));
        };
        fs::create_dir_all(dir.join(BLOB_DIR))?;
        let uploads = dir.join(UPLOAD_DIR);
        if uploads.exists() {
            fs::remove_dir_all(&uploads)?;
        }
        fs::create_dir_all(&uploads)?;
        Ok(BlobStore::Disk(dir.to_owned()))
    }

    /// The persisted state, if the data directory has one.
    pub(crate) fn load_state(&self) -> io::Result<Option<Data>> {
        let BlobStore::Disk(dir) = self else {
            return Ok(None);
        };
        match fs::read(dir.join(STATE_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the state atomically (temp file + rename); a no-op in memory.
    pub(crate) fn save_state(&self, data: &Data) -> io::Result<()> {
        let BlobStore::Disk(dir) = self else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(data).map_err(io::Error::other)?;
        let tmp = dir.join("state.json.tmp");
        fs::write(&tmp, json)?;
        fs::rename(tmp, dir.join(STATE_FILE))
    }

    pub(crate) fn open_sink(&self, session_id: u64) -> io::Result<UploadSink> {
        match self {
            BlobStore::Memory(_) => Ok(UploadSink::Memory(Vec::new())),
            BlobStore::Disk(dir) => {
                let path = dir.join(UPLOAD_DIR).join(format!("{session_id}.part"));
                let file = fs::File::create(&path)?;
                Ok(UploadSink::Disk { path, file })
            }
        }
    }

    /// Turns a finished upload into the stored bytes of `version_uuid`.
    pub(crate) fn commit(&mut self, sink: UploadSink, version_uuid: &str) -> io::Result<()> {
        match (self, sink) {
            (BlobStore::Memory(blobs), UploadSink::Memory(buffer)) => {
                blobs.insert(version_uuid.to_owned(), Bytes::from(buffer));
                Ok(())
            }
            (BlobStore::Disk(dir), UploadSink::Disk { path, file }) => {
                file.sync_all()?;
                drop(file);
                fs::rename(path, dir.join(BLOB_DIR).join(version_uuid))
            }
            _ => Err(io::Error::other("upload sink does not match the store")),
        }
    }

    pub(crate) fn blob(&self, version_uuid: &str) -> Option<Blob> {
        match self {
            BlobStore::Memory(blobs) => blobs.get(version_uuid).cloned().map(Blob::Memory),
            BlobStore::Disk(dir) => {
                let path = dir.join(BLOB_DIR).join(version_uuid);
                path.exists().then_some(Blob::Disk(path))
            }
        }
    }

    pub(crate) fn remove(&mut self, version_uuid: &str) {
        match self {
            BlobStore::Memory(blobs) => {
                blobs.remove(version_uuid);
            }
            BlobStore::Disk(dir) => {
                // A blob that is already gone is what we wanted anyway.
                let _ = fs::remove_file(dir.join(BLOB_DIR).join(version_uuid));
            }
        }
    }
}

/// A response body that streams a file from disk in 64 KiB chunks.
#[derive(Debug)]
pub(crate) struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
}

impl FileBody {
    pub(crate) async fn open(path: &Path) -> io::Result<Self> {
        let file = tokio::fs::File::open(path).await?;
        let remaining = file.metadata().await?.len();
        Ok(FileBody { file, remaining })
    }

    pub(crate) fn len(&self) -> u64 {
        self.remaining
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let mut chunk = vec![0u8; usize::try_from(this.remaining.min(64 * 1024)).unwrap_or(0)];
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut this.file).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stored blob is shorter than expected",
                ))))
            }
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                this.remaining -= n as u64;
                chunk.truncate(n);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
