//! Ctrl-C during an upload: the first press stops every upload at its next step (each keeps its
//! checkpoint, so the same command continues later), the second quits at once.

use std::sync::OnceLock;

use kommo_files::CancelHandle;

/// Exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The handle Ctrl-C cancels; the first call starts watching for it.
pub fn cancel_on_ctrl_c() -> CancelHandle {
    static HANDLE: OnceLock<CancelHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = CancelHandle::new();
            let cancel = handle.clone();
            // Without the watcher Ctrl-C still ends the process, and checkpoints still hold.
            let _ = std::thread::Builder::new()
                .name("ctrl-c".to_owned())
                .spawn(move || watch(&cancel));
            handle
        })
        .clone()
}

fn watch(cancel: &CancelHandle) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\ninterrupted: stopping the uploads at their next step (Ctrl-C again quits now)"
        );
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}
