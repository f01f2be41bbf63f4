//! Where OAuth tokens live between processes: the [`TokenStore`] trait and a file-backed one.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use kommo_files_model::oauth::TokenSet;

/// Where a token set is kept, shared by every process (or machine) that uses the account.
///
/// A refresh spends the single-use refresh token, so two processes must never refresh the same
/// set: the client takes the store's lock ([`TokenStore::lock`]), reads the set under it (another
/// process may have refreshed meanwhile: then that set is used and nothing is spent), and saves
/// the new set with a compare-and-swap ([`StoreGuard::save`]) before it releases the lock and
/// before the new access token is used.
///
/// [`FileTokenStore`] is one for processes on one machine; a store shared between machines
/// (Redis, a database row with `SELECT … FOR UPDATE`) implements the same two traits. The async
/// client calls them on tokio's blocking pool.
pub trait TokenStore: Send + Sync + 'static {
    /// The stored set, if any (without taking the lock).
    fn load(&self) -> Result<Option<TokenSet>, StoreError>;

    /// Takes the store's exclusive lock, waiting for it; dropping the guard releases it.
    fn lock(&self) -> Result<Box<dyn StoreGuard>, StoreError>;
}

/// The store's lock, held: read, and compare-and-swap.
pub trait StoreGuard: Send {
    /// The stored set, read under the lock.
    fn load(&mut self) -> Result<Option<TokenSet>, StoreError>;

    /// Stores `new` if the store still holds `expected` (`None`: empty); otherwise
    /// [`StoreErrorKind::Conflict`] and nothing is written.
    fn save(&mut self, expected: Option<&TokenSet>, new: &TokenSet) -> Result<(), StoreError>;
}

/// What kind of store failure it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be read, written or locked.
    Io,
    /// The stored set is unreadable.
    Damaged,
    /// The store no longer holds the set a save expected (someone else wrote it).
    Conflict,
}

/// A token store failed. The message never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token store {}: {message}", path.as_deref().map_or_else(String::new, |p| format!("{}", p.display())))]
#[non_exhaustive]
pub struct StoreError {
    /// What kind of failure.
    pub kind: StoreErrorKind,
    /// What happened.
    pub message: String,
    /// The file, for a file store.
    pub path: Option<PathBuf>,
}

impl StoreError {
    /// A failure of a store of your own.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            path: None,
        }
    }

    fn at(path: &Path, kind: StoreErrorKind, message: impl fmt::Display) -> Self {
        Self {
            kind,
            message: message.to_string(),
            path: Some(path.to_owned()),
        }
    }
}

/// A token set in a file, shared safely by processes on one machine: owner-only permissions
/// (0600), atomic replace (temporary file, fsync, rename), and an OS lock on `<file>.lock` held
/// around each refresh, so two processes never spend the same refresh token.
///
/// ```
/// use kommo_files::auth::{FileTokenStore, TokenStore};
/// use kommo_files::oauth::{RefreshToken, TokenSet};
/// use kommo_files::AccessToken;
///
/// let dir = std::env::temp_dir().join(format!("kommo-doc-store-{}", std::process::id()));
/// let store = FileTokenStore::new(dir.join("tokens.json"));
/// let set = TokenSet::new(AccessToken::new("access")?, Some(RefreshToken::new("refresh")), Some(1_900_000_000));
/// store.save_initial(&set)?;
/// assert_eq!(store.load()?, Some(set));
/// # std::fs::remove_dir_all(dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

impl FileTokenStore {
    /// A store in `path` (created on the first save, with its directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `set` whatever the store holds, under the lock: after a login, when the set
    /// comes from the authorization code rather than from a refresh.
    pub fn save_initial(&self, set: &TokenSet) -> Result<(), StoreError> {
        let mut guard = self.lock()?;
        let current = guard.load().ok().flatten();
        guard.save(current.as_ref(), set)
    }

    /// Removes the stored set (a logout), under the lock.
    pub fn clear(&self) -> Result<(), StoreError> {
        let _guard = self.lock()?;
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError::at(&self.path, StoreErrorKind::Io, e))
            }
            _ => Ok(()),
        }
    }

    fn read(&self) -> Result<Option<TokenSet>, StoreError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::at(&self.path, StoreErrorKind::Io, e)),
        };
        TokenSet::from_json(&text)
            .map(Some)
            .map_err(|e| StoreError::at(&self.path, StoreErrorKind::Damaged, e))
    }

    fn write(&self, set: &TokenSet) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::at(&self.path, StoreErrorKind::Io, e);
        let temp = sibling(&self.path, &format!(".tmp{}", std::process::id()));
        let mut file = owner_only(&temp, true).map_err(io)?;
        let written = file
            .write_all(set.to_json().as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&temp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(io(e));
        }
        // The rename itself survives a crash only once the directory is synced.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        self.read()
    }

    fn lock(&self) -> Result<Box<dyn StoreGuard>, StoreError> {
        let io = |e: std::io::Error| StoreError::at(&self.path, StoreErrorKind::Io, e);
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let lock = owner_only(&sibling(&self.path, ".lock"), false).map_err(io)?;
        lock.lock().map_err(io)?;
        Ok(Box::new(FileGuard {
            store: self.clone(),
            _lock: lock,
        }))
    }
}

/// The lock file, held (the OS releases the lock when it is closed).
struct FileGuard {
    store: FileTokenStore,
    _lock: File,
}

impl StoreGuard for FileGuard {
    fn load(&mut self) -> Result<Option<TokenSet>, StoreError> {
        self.store.read()
    }

    fn save(&mut self, expected: Option<&TokenSet>, new: &TokenSet) -> Result<(), StoreError> {
        if self.store.read()?.as_ref() != expected {
            return Err(StoreError::at(
                &self.store.path,
                StoreErrorKind::Conflict,
                "the stored token set changed since it was read",
            ));
        }
        self.store.write(new)
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

/// Opens (creating) a file only its owner can read and write; `truncate` for a fresh file.
fn owner_only(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
