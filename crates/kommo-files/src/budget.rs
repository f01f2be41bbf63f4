//! [`RateBudget`]: where a client gets its request slots. Kommo allows an account about 7
//! requests per second, counted for all its integrations together, and blocks an account that
//! keeps going faster; a budget spaces the requests of everything that shares it, and slows
//! down when the server says others spend the same budget (429).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kommo_files_model::pacing::AdaptiveBucket;

/// Request slots for one Kommo account, shared by everything that holds the same budget.
///
/// The SDK calls [`RateBudget::acquire`] before every request (retries included) and waits
/// what it returns, then reports the answer: [`RateBudget::throttled`] for a 429,
/// [`RateBudget::answered`] for anything else. Implement it to share a budget between machines
/// (a Redis key, say); [`LocalBudget`] shares it within a process, [`FileBudget`] between the
/// processes of one machine.
///
/// ```
/// use std::sync::Arc;
/// use kommo_files::{ClientConfig, LocalBudget};
///
/// // Two clients (of different configurations) spending one budget of 7 requests per second.
/// let budget = Arc::new(LocalBudget::new(7));
/// let first = ClientConfig::for_url("https://acme.kommo.com", "token")?.rate_budget(budget.clone());
/// let second = ClientConfig::for_url("https://acme.kommo.com", "token")?
///     .user_agent("nightly-export")
///     .rate_budget(budget);
/// # Ok::<(), kommo_files::Error>(())
/// ```
pub trait RateBudget: Send + Sync + fmt::Debug {
    /// Reserves the next request slot: how long to wait before sending.
    fn acquire(&self) -> Duration;

    /// The server answered 429: someone else spends this account's budget too.
    fn throttled(&self);

    /// A request was answered, not with 429.
    fn answered(&self);
}

/// A budget shared by the clients of one process: an adaptive token bucket
/// ([`AdaptiveBucket`]) behind a lock. Every client made with `requests_per_second` has one,
/// shared with its clones.
#[derive(Debug)]
pub struct LocalBudget {
    origin: Instant,
    bucket: Mutex<AdaptiveBucket>,
}

impl LocalBudget {
    /// `per_second` requests per second as the server counts them (the clients send 6.67 at
    /// 7: see [`AdaptiveBucket`]), slowed down after a 429.
    pub fn new(per_second: u32) -> Self {
        Self {
            origin: Instant::now(),
            bucket: Mutex::new(AdaptiveBucket::new(per_second)),
        }
    }

    fn bucket(&self) -> std::sync::MutexGuard<'_, AdaptiveBucket> {
        // A poisoned lock only means another thread panicked mid-reserve; the bucket is still a
        // valid schedule.
        self.bucket.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RateBudget for LocalBudget {
    fn acquire(&self) -> Duration {
        let now = self.origin.elapsed();
        self.bucket().reserve(now).saturating_sub(now)
    }

    fn throttled(&self) {
        let now = self.origin.elapsed();
        self.bucket().throttled(now);
    }

    fn answered(&self) {
        self.bucket().answered();
    }
}

/// A budget shared by the processes of one machine through a small file (the CLI keeps one per
/// account in its state directory): each slot is reserved under an exclusive lock on the file,
/// which holds when the next request may go and the current slowdown.
///
/// If the file cannot be used (a read-only disk, say), the budget falls back to one of its
/// own process rather than failing requests.
///
/// ```
/// use kommo_files::{ClientConfig, FileBudget};
///
/// let path = std::env::temp_dir().join("kommo-files-doc-budget").join("acme.kommo.com.rate");
/// let budget = FileBudget::open(&path, 7)?;
/// let config = ClientConfig::for_url("https://acme.kommo.com", "token")?
///     .rate_budget(std::sync::Arc::new(budget));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileBudget {
    path: PathBuf,
    per_second: u32,
    file: Mutex<File>,
    fallback: LocalBudget,
}

/// The file's layout: the next slot in nanoseconds since the Unix epoch, then the slowdown.
const STATE_LEN: usize = 12;

impl FileBudget {
    /// Opens (or creates, readable by its owner only) the budget file at `path`, for
    /// `per_second` requests per second.
    pub fn open(path: impl AsRef<Path>, per_second: u32) -> std::io::Result<Self> {
        let path = path.as_ref().to_owned();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        Ok(Self {
            path,
            per_second,
            file: Mutex::new(file),
            fallback: LocalBudget::new(per_second),
        })
    }

    /// The budget file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `change` on the shared bucket under the file's lock.
    fn with_bucket<T>(&self, change: impl FnOnce(&mut AdaptiveBucket) -> T) -> std::io::Result<T> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.lock()?;
        let result = read_state(&mut file, self.per_second).and_then(|mut bucket| {
            let value = change(&mut bucket);
            write_state(&mut file, &bucket).map(|()| value)
        });
        let unlocked = file.unlock();
        let value = result?;
        unlocked?;
        Ok(value)
    }

    /// [`RateBudget::acquire`] at `now` (since the Unix epoch).
    fn acquire_at(&self, now: Duration) -> std::io::Result<Duration> {
        self.with_bucket(|bucket| bucket.reserve(now).saturating_sub(now))
    }
}

fn read_state(file: &mut File, per_second: u32) -> std::io::Result<AdaptiveBucket> {
    let mut bytes = Vec::with_capacity(STATE_LEN);
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    // A new, empty or damaged file is a budget nobody has spent yet.
    let Some(state) = bytes.get(..STATE_LEN) else {
        return Ok(AdaptiveBucket::new(per_second));
    };
    let (next, slowdown) = state.split_at(8);
    let next = u64::from_le_bytes(next.try_into().unwrap_or_default());
    let slowdown = u32::from_le_bytes(slowdown.try_into().unwrap_or_default());
    Ok(AdaptiveBucket::with_state(
        per_second,
        Duration::from_nanos(next),
        slowdown,
    ))
}

fn write_state(file: &mut File, bucket: &AdaptiveBucket) -> std::io::Result<()> {
    let (next, slowdown) = bucket.state();
    let next = u64::try_from(next.as_nanos()).unwrap_or(u64::MAX);
    let mut state = [0; STATE_LEN];
    state[..8].copy_from_slice(&next.to_le_bytes());
    state[8..].copy_from_slice(&slowdown.to_le_bytes());
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&state)?;
    file.set_len(STATE_LEN as u64)
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl RateBudget for FileBudget {
    fn acquire(&self) -> Duration {
        self.acquire_at(since_epoch())
            .unwrap_or_else(|_| self.fallback.acquire())
    }

    fn throttled(&self) {
        let now = since_epoch();
        if self.with_bucket(|bucket| bucket.throttled(now)).is_err() {
            self.fallback.throttled();
        }
    }

    fn answered(&self) {
        if self.with_bucket(AdaptiveBucket::answered).is_err() {
            self.fallback.answered();
        }
    }
}

/// The handle a configuration keeps.
pub(crate) type SharedBudget = Arc<dyn RateBudget>;

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kommo-files-budget-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("account.rate")
    }

    /// Two handles on one file stand for two processes: their slots interleave one interval
    /// apart, as one budget's would.
    #[test]
    fn two_processes_share_one_file() {
        let path = temp_file("share");
        let first = FileBudget::open(&path, 7).unwrap();
        let second = FileBudget::open(&path, 7).unwrap();
        let interval = AdaptiveBucket::new(7).interval();
        let t0 = Duration::from_secs(1_800_000_000);
        assert_eq!(first.acquire_at(t0).unwrap(), Duration::ZERO);
        assert_eq!(second.acquire_at(t0).unwrap(), interval);
        assert_eq!(first.acquire_at(t0).unwrap(), interval * 2);
        // Later on, the slots that passed are not owed.
        assert_eq!(
            second.acquire_at(t0 + interval * 10).unwrap(),
            Duration::ZERO
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A 429 seen by one process slows the other down too.
    #[test]
    fn a_429_slows_every_process_sharing_the_file() {
        let path = temp_file("throttle");
        let first = FileBudget::open(&path, 7).unwrap();
        let second = FileBudget::open(&path, 7).unwrap();
        let interval = AdaptiveBucket::new(7).interval();
        let t0 = Duration::from_secs(1_800_000_000);
        first.with_bucket(|bucket| bucket.throttled(t0)).unwrap();
        assert_eq!(second.acquire_at(t0).unwrap(), interval * 2);
        assert_eq!(second.acquire_at(t0).unwrap(), interval * 4);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A damaged file is a fresh budget, and is repaired.
    #[test]
    fn a_damaged_file_is_a_fresh_budget() {
        let path = temp_file("damaged");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"garbage").unwrap();
        let budget = FileBudget::open(&path, 7).unwrap();
        let t0 = Duration::from_secs(1_800_000_000);
        assert_eq!(budget.acquire_at(t0).unwrap(), Duration::ZERO);
        assert_eq!(std::fs::read(&path).unwrap().len(), STATE_LEN);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_its_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_file("mode");
        let _budget = FileBudget::open(&path, 7).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// The local budget backs off on a 429 and recovers with answers.
    #[test]
    fn the_local_budget_adapts() {
        let budget = LocalBudget::new(1000);
        budget.throttled();
        let slowed = budget.bucket().interval();
        for _ in 0..kommo_files_model::pacing::STEPS_PER_RATE {
            budget.answered();
        }
        assert_eq!(budget.bucket().interval() * 2, slowed);
    }
}
