//! The parity suite: every scenario is written once, as `async fn`s in a `macro_rules!` template,
//! and expanded twice, the way the library itself is built: in [`blocking`] with
//! `maybe_async::must_be_sync` (driving `kommo_files::blocking::Client`) and in [`asynchronous`]
//! with `maybe_async::must_be_async(AFIT)` (driving the async `kommo_files::Client`). Each test
//! starts its own emulator.
//!
//! A template may use what both flavour modules define under the same names:
//! - `Client`, `Files`-or-`FileStream` iteration through `.next().await`;
//! - `start(builder).await`: an emulator (`.start()` or `.start_async().await`);
//! - `upload_all(&client, jobs).await`: uploads run concurrently through clones of `client`.
//!
//! Each template expands to a module named after its file (`blocking::faults`, ...), and
//! `parity_tests!` turns each of its scenarios into `blocking_<name>` and `async_<name>`.
//! `must_be_sync` does not look inside macro calls: await a value before `assert!`ing on it.
//!
//! The only flavour-specific scenario is the async client's dropped future
//! (`resume::async_dropped_future_resumes`): a blocking call cannot be dropped half-way, it is
//! stopped with a `CancelHandle` instead, which the shared scenarios cover for both.
//!
//! No assertion is about elapsed time: the machine may be slow and busy.

mod common;
mod endpoints;
mod exactly_once;
mod faults;
mod oauth;
mod pacing;
mod resume;
mod secrets;
mod sessions;
mod uploads;

/// The blocking client's expansion of every template.
pub(crate) mod blocking {
    pub(crate) use kommo_files::blocking::Client;
    use kommo_files::model::wire::FileObject;
    use kommo_files::Error;
    use kommo_files_emulator::{EmulatorBuilder, EmulatorHandle};

    /// Starts an emulator on its own runtime.
    pub(crate) fn start(builder: EmulatorBuilder) -> EmulatorHandle {
        builder.start().expect("the emulator starts")
    }

    /// Uploads every `(name, bytes)` at once, one thread each, through clones of `client`.
    pub(crate) fn upload_all(
        client: &Client,
        jobs: Vec<(String, Vec<u8>)>,
    ) -> Vec<Result<FileObject, Error>> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|(name, bytes)| {
                    let client = client.clone();
                    scope.spawn(move || client.upload_bytes(&name, bytes, Default::default()))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("upload thread"))
                .collect()
        })
    }

    crate::endpoints::scenarios!(maybe_async::must_be_sync);
    crate::uploads::scenarios!(maybe_async::must_be_sync);
    crate::faults::scenarios!(maybe_async::must_be_sync);
    crate::sessions::scenarios!(maybe_async::must_be_sync);
    crate::exactly_once::scenarios!(maybe_async::must_be_sync);
    crate::resume::scenarios!(maybe_async::must_be_sync);
    crate::secrets::scenarios!(maybe_async::must_be_sync);
    crate::pacing::scenarios!(maybe_async::must_be_sync);
    crate::oauth::scenarios!(maybe_async::must_be_sync);

    /// `count` calls at once, one thread each, through clones of `client`.
    pub(crate) fn concurrent_gets(
        client: &Client,
        count: usize,
    ) -> Vec<Result<Option<FileObject>, Error>> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|_| {
                    let client = client.clone();
                    scope.spawn(move || client.get_file("no-such-file"))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("call thread"))
                .collect()
        })
    }
}

/// The async client's expansion of every template.
pub(crate) mod asynchronous {
    use kommo_files::model::wire::FileObject;
    pub(crate) use kommo_files::Client;
    use kommo_files::Error;
    use kommo_files_emulator::{EmulatorBuilder, EmulatorHandle};

    /// Starts an emulator on the test's runtime.
    pub(crate) async fn start(builder: EmulatorBuilder) -> EmulatorHandle {
        builder.start_async().await.expect("the emulator starts")
    }

    /// Uploads every `(name, bytes)` at once, one task each, through clones of `client`.
    pub(crate) async fn upload_all(
        client: &Client,
        jobs: Vec<(String, Vec<u8>)>,
    ) -> Vec<Result<FileObject, Error>> {
        let tasks: Vec<_> = jobs
            .into_iter()
            .map(|(name, bytes)| {
                let client = client.clone();
                tokio::spawn(
                    async move { client.upload_bytes(&name, bytes, Default::default()).await },
                )
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await.expect("upload task"));
        }
        results
    }

    crate::endpoints::scenarios!(maybe_async::must_be_async(AFIT));
    crate::uploads::scenarios!(maybe_async::must_be_async(AFIT));
    crate::faults::scenarios!(maybe_async::must_be_async(AFIT));
    crate::sessions::scenarios!(maybe_async::must_be_async(AFIT));
    crate::exactly_once::scenarios!(maybe_async::must_be_async(AFIT));
    crate::resume::scenarios!(maybe_async::must_be_async(AFIT));
    crate::secrets::scenarios!(maybe_async::must_be_async(AFIT));
    crate::pacing::scenarios!(maybe_async::must_be_async(AFIT));
    crate::oauth::scenarios!(maybe_async::must_be_async(AFIT));

    /// `count` calls at once, one task each, through clones of `client`.
    pub(crate) async fn concurrent_gets(
        client: &Client,
        count: usize,
    ) -> Vec<Result<Option<FileObject>, Error>> {
        let tasks: Vec<_> = (0..count)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.get_file("no-such-file").await })
            })
            .collect();
        let mut results = Vec::with_capacity(count);
        for task in tasks {
            results.push(task.await.expect("call task"));
        }
        results
    }
}

/// `#[test] fn $blocking` and `#[tokio::test] async fn $async` running scenario
/// `$module::$scenario` of each flavour.
macro_rules! parity_tests {
    ($(
        $(#[$attribute:meta])*
        $module:ident :: $scenario:ident => $blocking:ident, $async:ident;
    )*) => {
        $(
            #[test]
            $(#[$attribute])*
            fn $blocking() {
                blocking::$module::$scenario();
            }

            #[tokio::test(flavor = "multi_thread")]
            $(#[$attribute])*
            async fn $async() {
                asynchronous::$module::$scenario().await;
            }
        )*
    };
}

parity_tests! {
    endpoints::list_follows_every_page =>
        blocking_list_follows_every_page,
        async_list_follows_every_page;
    endpoints::files_and_versions =>
        blocking_files_and_versions,
        async_files_and_versions;
    endpoints::delete_and_restore =>
        blocking_delete_and_restore,
        async_delete_and_restore;
    endpoints::entity_links =>
        blocking_entity_links,
        async_entity_links;
    endpoints::notes_and_file_field =>
        blocking_notes_and_file_field,
        async_notes_and_file_field;
    endpoints::downloads =>
        blocking_downloads,
        async_downloads;
    uploads::every_size_through_every_source =>
        blocking_every_size_through_every_source,
        async_every_size_through_every_source;
    uploads::every_server_dialect =>
        blocking_every_server_dialect,
        async_every_server_dialect;
    uploads::default_part_size =>
        blocking_default_part_size,
        async_default_part_size;
    uploads::options_reach_the_server =>
        blocking_options_reach_the_server,
        async_options_reach_the_server;
    faults::upload_faults_are_retried =>
        blocking_upload_faults_are_retried,
        async_upload_faults_are_retried;
    faults::lost_session_restarts =>
        blocking_lost_session_restarts,
        async_lost_session_restarts;
    faults::upload_refusals_are_typed =>
        blocking_upload_refusals_are_typed,
        async_upload_refusals_are_typed;
    faults::api_faults_are_retried =>
        blocking_api_faults_are_retried,
        async_api_faults_are_retried;
    faults::notes_are_not_repeated =>
        blocking_notes_are_not_repeated,
        async_notes_are_not_repeated;
    faults::download_faults =>
        blocking_download_faults,
        async_download_faults;
    faults::api_refusals_are_typed =>
        blocking_api_refusals_are_typed,
        async_api_refusals_are_typed;
    sessions::lost_answer_in_both_retry_modes =>
        blocking_lost_answer_in_both_retry_modes,
        async_lost_answer_in_both_retry_modes;
    sessions::lost_final_answer_stores_one_file =>
        blocking_lost_final_answer_stores_one_file,
        async_lost_final_answer_stores_one_file;
    sessions::expired_session_restarts_or_fails =>
        blocking_expired_session_restarts_or_fails,
        async_expired_session_restarts_or_fails;
    sessions::restarts_are_bounded =>
        blocking_restarts_are_bounded,
        async_restarts_are_bounded;
    sessions::expired_checkpoint_restarts =>
        blocking_expired_checkpoint_restarts,
        async_expired_checkpoint_restarts;
    exactly_once::an_older_file_of_the_same_name_and_size_is_never_adopted =>
        blocking_an_older_file_of_the_same_name_and_size_is_never_adopted,
        async_an_older_file_of_the_same_name_and_size_is_never_adopted;
    exactly_once::nothing_stored_means_upload_again =>
        blocking_nothing_stored_means_upload_again,
        async_nothing_stored_means_upload_again;
    exactly_once::two_proven_candidates_are_reported_not_adopted =>
        blocking_two_proven_candidates_are_reported_not_adopted,
        async_two_proven_candidates_are_reported_not_adopted;
    exactly_once::recovery_can_be_switched_off =>
        blocking_recovery_can_be_switched_off,
        async_recovery_can_be_switched_off;
    exactly_once::a_new_version_is_found_by_its_bytes =>
        blocking_a_new_version_is_found_by_its_bytes,
        async_a_new_version_is_found_by_its_bytes;
    exactly_once::a_resumed_upload_finds_the_file_its_last_part_stored =>
        blocking_a_resumed_upload_finds_the_file_its_last_part_stored,
        async_a_resumed_upload_finds_the_file_its_last_part_stored;
    exactly_once::completion_is_told_before_the_checkpoint_file_goes =>
        blocking_completion_is_told_before_the_checkpoint_file_goes,
        async_completion_is_told_before_the_checkpoint_file_goes;
    resume::resumed_by_a_new_client =>
        blocking_resumed_by_a_new_client,
        async_resumed_by_a_new_client;
    resume::a_late_checkpoint_is_hashed_from_the_source =>
        blocking_a_late_checkpoint_is_hashed_from_the_source,
        async_a_late_checkpoint_is_hashed_from_the_source;
    resume::a_source_changed_during_the_upload_is_refused =>
        blocking_a_source_changed_during_the_upload_is_refused,
        async_a_source_changed_during_the_upload_is_refused;
    resume::damaged_checkpoint_files_start_over =>
        blocking_damaged_checkpoint_files_start_over,
        async_damaged_checkpoint_files_start_over;
    resume::changed_source_is_refused =>
        blocking_changed_source_is_refused,
        async_changed_source_is_refused;
    secrets::token_is_never_shown =>
        blocking_token_is_never_shown,
        async_token_is_never_shown;
    pacing::paced_clones_stay_under_the_limit =>
        blocking_paced_clones_stay_under_the_limit,
        async_paced_clones_stay_under_the_limit;
    pacing::paced_at_exactly_the_limit =>
        blocking_paced_at_exactly_the_limit,
        async_paced_at_exactly_the_limit;
    oauth::expiry_during_an_upload_refreshes_once =>
        blocking_expiry_during_an_upload_refreshes_once,
        async_expiry_during_an_upload_refreshes_once;
    oauth::concurrent_calls_on_an_expired_token_refresh_once =>
        blocking_concurrent_calls_on_an_expired_token_refresh_once,
        async_concurrent_calls_on_an_expired_token_refresh_once;
    oauth::concurrent_calls_refresh_ahead_once =>
        blocking_concurrent_calls_refresh_ahead_once,
        async_concurrent_calls_refresh_ahead_once;
    oauth::a_spent_refresh_token_is_a_clear_error =>
        blocking_a_spent_refresh_token_is_a_clear_error,
        async_a_spent_refresh_token_is_a_clear_error;
    oauth::a_revoked_integration_is_one_clear_error =>
        blocking_a_revoked_integration_is_one_clear_error,
        async_a_revoked_integration_is_one_clear_error;
    oauth::a_shared_store_refreshes_once =>
        blocking_a_shared_store_refreshes_once,
        async_a_shared_store_refreshes_once;
    oauth::the_hook_saves_before_use =>
        blocking_the_hook_saves_before_use,
        async_the_hook_saves_before_use;
    oauth::a_long_lived_token_is_not_refreshed =>
        blocking_a_long_lived_token_is_not_refreshed,
        async_a_long_lived_token_is_not_refreshed;
    oauth::a_code_is_exchanged_once =>
        blocking_a_code_is_exchanged_once,
        async_a_code_is_exchanged_once;
    oauth::a_broken_token_endpoint_is_never_retried_blindly =>
        blocking_a_broken_token_endpoint_is_never_retried_blindly,
        async_a_broken_token_endpoint_is_never_retried_blindly;
    oauth::a_garbled_token_answer_is_not_quoted =>
        blocking_a_garbled_token_answer_is_not_quoted,
        async_a_garbled_token_answer_is_not_quoted;
}
