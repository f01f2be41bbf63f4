//! The live token of a client and its clones, and the bookkeeping that makes a refresh
//! single-flight: one caller leads, the others wait for its result (on a condition variable in
//! the blocking client, a `Notify` in the async one, so both flavours can share one set).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use kommo_files_model::oauth::TokenSet;

use super::AuthError;

#[derive(Debug)]
struct Shared {
    set: TokenSet,
    /// Bumped by every new set.
    generation: u64,
    /// Bumped by every finished refresh attempt, whatever its result.
    attempts: u64,
    refreshing: bool,
    /// The last attempt's failure, with the generation it failed to refresh.
    failure: Option<(u64, AuthError)>,
    /// A new set that is in use in memory but not yet saved (the store or the hook failed):
    /// saving it again comes before using it.
    unsaved: bool,
}

/// The token state shared by a client, its clones, and every client made from the same
/// credentials.
#[derive(Debug)]
pub(crate) struct TokenState {
    shared: Mutex<Shared>,
    blocking_waiters: Condvar,
    async_waiters: tokio::sync::Notify,
}

/// What a caller that wants a refresh of generation `seen` should do.
pub(crate) enum Turn<'a> {
    /// Refresh, then [`Lead::finish`].
    Lead(Lead<'a>),
    /// Someone is refreshing: wait for [`TokenState::wait_blocking`] / `wait_async`, then ask
    /// again.
    Wait { attempts: u64 },
    /// Already refreshed meanwhile: use this set.
    Done(TokenSet),
    /// The refresh this caller needs has failed and must not be repeated.
    Failed(AuthError),
}

impl TokenState {
    pub(crate) fn new(set: TokenSet) -> Self {
        Self {
            shared: Mutex::new(Shared {
                set,
                generation: 0,
                attempts: 0,
                refreshing: false,
                failure: None,
                unsaved: false,
            }),
            blocking_waiters: Condvar::new(),
            async_waiters: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current set and its generation.
    pub(crate) fn current(&self) -> (TokenSet, u64) {
        let shared = self.lock();
        (shared.set.clone(), shared.generation)
    }

    /// Whether the current set still waits to be saved.
    pub(crate) fn unsaved(&self) -> bool {
        self.lock().unsaved
    }

    /// The failure that stops refreshing generation `generation` for good (a refused grant):
    /// asking again would only repeat it.
    pub(crate) fn terminal_failure(&self, generation: u64) -> Option<AuthError> {
        let shared = self.lock();
        match &shared.failure {
            Some((failed, error)) if *failed == generation && error.is_terminal() => {
                Some(error.clone())
            }
            _ => None,
        }
    }

    /// Decides who refreshes generation `seen`. `waited` is the attempt count a caller saw
    /// before it waited: an attempt that finished meanwhile without a new set is its answer.
    pub(crate) fn turn(&self, seen: u64, waited: Option<u64>) -> Turn<'_> {
        let mut shared = self.lock();
        if shared.generation != seen && !shared.unsaved {
            return Turn::Done(shared.set.clone());
        }
        if shared.refreshing {
            return Turn::Wait {
                attempts: shared.attempts,
            };
        }
        if let Some((failed, error)) = &shared.failure {
            let answered = waited.is_some_and(|before| before != shared.attempts);
            if *failed == shared.generation && (answered || error.is_terminal()) {
                return Turn::Failed(error.clone());
            }
        }
        shared.refreshing = true;
        Turn::Lead(Lead {
            state: self,
            base: shared.set.clone(),
            generation: shared.generation,
            unsaved: shared.unsaved,
            finished: false,
        })
    }

    /// Blocks until the attempt running when `attempts` was read has finished.
    pub(crate) fn wait_blocking(&self, attempts: u64) {
        let mut shared = self.lock();
        while shared.refreshing && shared.attempts == attempts {
            shared = self
                .blocking_waiters
                .wait(shared)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits until the attempt running when `attempts` was read has finished.
    pub(crate) async fn wait_async(&self, attempts: u64) {
        loop {
            let notified = self.async_waiters.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a finish between the two is not missed.
            notified.as_mut().enable();
            {
                let shared = self.lock();
                if !(shared.refreshing && shared.attempts == attempts) {
                    return;
                }
            }
            notified.await;
        }
    }

    fn finish(&self, result: Result<(TokenSet, bool), (u64, AuthError)>) {
        let mut shared = self.lock();
        match result {
            Ok((set, saved)) => {
                if set != shared.set {
                    shared.generation += 1;
                }
                shared.set = set;
                shared.unsaved = !saved;
                shared.failure = None;
            }
            Err(failure) => shared.failure = Some(failure),
        }
        shared.attempts += 1;
        shared.refreshing = false;
        drop(shared);
        self.blocking_waiters.notify_all();
        self.async_waiters.notify_waiters();
    }
}

/// The right and duty to refresh: whoever holds it must [`Lead::finish`]; dropping it unfinished
/// (a cancelled future, a panic) lets the waiters go on, as after a failure.
pub(crate) struct Lead<'a> {
    state: &'a TokenState,
    /// The set to refresh.
    pub(crate) base: TokenSet,
    generation: u64,
    /// The base set is in use but not saved yet: saving it again is the job.
    pub(crate) unsaved: bool,
    finished: bool,
}

impl Lead<'_> {
    /// Publishes the new set (`saved`: stored and handed to the hook), or the failure.
    pub(crate) fn finish(mut self, result: Result<(TokenSet, bool), AuthError>) {
        self.finished = true;
        let generation = self.generation;
        self.state.finish(result.map_err(|e| (generation, e)));
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.state
                .finish(Err((self.generation, AuthError::Interrupted)));
        }
    }
}
