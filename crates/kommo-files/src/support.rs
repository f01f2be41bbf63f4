//! Small pieces both clients share outside the driver: what a request carries, how a transport
//! failure looks to the machines, names and temporary paths, a hashing sink.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::SystemTime;

use http::header::{HeaderValue, USER_AGENT};
use kommo_files_model::upload::{PrefixHash, SendFailure, SendFailureKind, UploadRequest};
use kommo_files_model::Operation;
use kommo_files_transport::{ErrorKind, OperationContext, Request, TransportError};

/// A jitter seed that differs between calls and processes.
pub(crate) fn seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Now, in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What one attempt is, as the machines said: it becomes the request's [`OperationContext`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt(OperationContext);

impl Attempt {
    /// Attempt `attempt` (1-based) of an API call.
    pub(crate) fn call(operation: Operation, attempt: u32) -> Self {
        let context =
            OperationContext::new(transport_operation(operation), operation.is_idempotent());
        Self(context.attempt(attempt))
    }

    /// Attempt `attempt` of an upload request of kind `kind`.
    pub(crate) fn upload(kind: UploadRequest, attempt: u32) -> Self {
        match kind {
            UploadRequest::Part { number, .. } => {
                let context = Self::call(Operation::UploadPart, attempt).0;
                Self(context.part(number))
            }
            _ => Self::call(Operation::CreateSession, attempt),
        }
    }
}

/// The transport's name for an operation (the transport crate does not know the model).
fn transport_operation(operation: Operation) -> kommo_files_transport::Operation {
    use kommo_files_transport::Operation as T;
    match operation {
        Operation::DiscoverDrive => T::DiscoverDrive,
        Operation::CreateSession => T::CreateSession,
        Operation::UploadPart => T::UploadPart,
        Operation::ListFiles => T::ListFiles,
        Operation::GetFile => T::GetFile,
        Operation::EditFile => T::EditFile,
        Operation::DeleteFiles => T::DeleteFiles,
        Operation::RestoreFiles => T::RestoreFiles,
        Operation::ListVersions => T::ListVersions,
        Operation::Download => T::Download,
        Operation::EntityFiles => T::EntityFiles,
        Operation::AttachFiles => T::AttachFiles,
        Operation::DetachFiles => T::DetachFiles,
        Operation::FileEntities => T::FileEntities,
        Operation::AddNotes => T::AddNotes,
        Operation::ReadNotes => T::ReadNotes,
        Operation::GetEntity => T::GetEntity,
        Operation::SetFileField => T::SetFileField,
        Operation::ExchangeCode => T::ExchangeCode,
        Operation::RefreshToken => T::RefreshToken,
        _ => T::GetFile,
    }
}

/// Stamps what every request carries: the operation context and the user agent.
pub(crate) fn prepare(mut request: Request, attempt: Attempt, user_agent: &str) -> Request {
    attempt.0.attach(&mut request);
    if let Ok(value) = HeaderValue::from_str(user_agent) {
        request.headers_mut().insert(USER_AGENT, value);
    }
    request
}

/// A transport failure as the machines see it.
pub(crate) fn send_failure(error: TransportError) -> SendFailure {
    let kind = match error.kind() {
        ErrorKind::Connect => SendFailureKind::Connect,
        ErrorKind::Timeout => SendFailureKind::Timeout,
        ErrorKind::Io => SendFailureKind::Io,
        ErrorKind::Body => SendFailureKind::Body,
        ErrorKind::Certificate => SendFailureKind::Certificate,
        ErrorKind::Tls => SendFailureKind::Tls,
        _ => SendFailureKind::Other,
    };
    SendFailure::new(kind, error.to_string())
}

/// The file name of `path`, for the session request.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || "file".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// The longest file name most file systems take, in bytes (`NAME_MAX`).
const MAX_FILE_NAME_BYTES: usize = 255;

/// A temporary path next to `path` (same directory, so a rename is atomic):
/// `.{name}.{8 hex digits}.part`. Whatever the length of `path`'s name, the temporary name fits
/// in [`MAX_FILE_NAME_BYTES`]: the borrowed name is cut (on a character boundary) to leave room
/// for the rest, and the random hex keeps two temporaries of one long name apart.
pub(crate) fn sibling_temp_path(path: &Path) -> PathBuf {
    let suffix = format!(".{:08x}.part", seed() & 0xFFFF_FFFF);
    let mut borrowed = file_name(path);
    let room = MAX_FILE_NAME_BYTES - 1 - suffix.len();
    if borrowed.len() > room {
        let mut cut = room;
        while !borrowed.is_char_boundary(cut) {
            cut -= 1;
        }
        borrowed.truncate(cut);
    }
    path.with_file_name(format!(".{borrowed}{suffix}"))
}

/// A download destination that keeps only the SHA-256 of what it is given, and refuses more
/// than a limit (a body longer than the file it should be is not worth reading to its end).
#[derive(Debug)]
pub(crate) struct Sha256Sink {
    hash: PrefixHash,
    limit: u64,
    overflowed: bool,
}

impl Sha256Sink {
    /// A sink for at most `limit` bytes.
    pub(crate) fn up_to(limit: u64) -> Self {
        Self {
            hash: PrefixHash::default(),
            limit,
            overflowed: false,
        }
    }

    /// The lowercase hex SHA-256 of everything written.
    pub(crate) fn hex(&self) -> String {
        self.hash.hex()
    }

    /// Whether more than the limit was offered.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    fn take(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.hash.len() + buf.len() as u64 > self.limit {
            self.overflowed = true;
            return Err(std::io::Error::other(
                "more bytes than the file should have",
            ));
        }
        self.hash.update(buf);
        Ok(buf.len())
    }
}

impl std::io::Write for Sha256Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.take(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncWrite for Sha256Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().take(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_name_fits_whatever_the_target_name() {
        let dir =
            std::env::temp_dir().join(format!("kf-sibling-{}-{:x}", std::process::id(), seed()));
        std::fs::create_dir_all(&dir).unwrap();
        let units = ["a", "é", "€", "😀"];
        for unit in units {
            for len in [1, 100, 239, 240, 241, 245, 250, 255, 300] {
                let mut name = String::new();
                while name.len() + unit.len() <= len {
                    name.push_str(unit);
                }
                // An odd start, so the cut falls inside a character for some lengths.
                let name = format!("x{name}");
                let target = dir.join(&name);
                let temporary = sibling_temp_path(&target);
                let other = sibling_temp_path(&target);
                assert_ne!(temporary, other, "unique");
                assert_eq!(temporary.parent(), Some(dir.as_path()), "a sibling");
                let temp_name = temporary.file_name().unwrap().to_str().unwrap();
                assert!(
                    temp_name.len() <= 255,
                    "{} bytes: {temp_name}",
                    temp_name.len()
                );
                assert!(temp_name.starts_with('.') && temp_name.ends_with(".part"));
                let borrowed = &temp_name[1..temp_name.len() - ".12345678.part".len()];
                assert!(
                    name.starts_with(borrowed),
                    "{borrowed} is not a prefix of {name}"
                );
                if name.len() + 15 <= 255 {
                    assert_eq!(borrowed, name, "a short name is kept whole");
                }
                // The file system takes it (when the target name itself is a valid one).
                if name.len() <= 255 {
                    std::fs::write(&temporary, b"x").unwrap();
                    std::fs::rename(&temporary, &target).unwrap();
                    std::fs::remove_file(&target).unwrap();
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The transport crate names operations itself; every one of the model's has its twin.
    #[test]
    fn every_operation_has_its_transport_twin() {
        for operation in Operation::ALL {
            assert_eq!(transport_operation(*operation).name(), operation.name());
        }
    }
}
