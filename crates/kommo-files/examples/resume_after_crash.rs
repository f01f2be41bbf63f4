//! Resume after a crash: an upload saves a checkpoint after every part; a new process (here,
//! a new client) continues from it instead of starting over.
//!
//! ```text
//! cargo run -p kommo-files --example resume_after_crash
//! ```

mod common;

use kommo_files::blocking::Client;
use kommo_files::{CancelHandle, UploadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (config, _emulator) = common::config()?;
    let path = common::sample_file("kommo-files-backup.tar", 2_000_000)?;
    let checkpoint_file = path.with_extension("checkpoint.json");

    // First run: "crash" once a third of the file is on the server.
    let crash = CancelHandle::new();
    let trigger = crash.clone();
    let options = UploadOptions::new()
        .checkpoint_file(&checkpoint_file)
        .cancel_handle(crash)
        .on_progress(move |progress| {
            if progress.acknowledged * 3 >= progress.total {
                trigger.cancel();
            }
        });
    let first = Client::new(config.clone())?;
    match first.upload_path(&path, options) {
        Err(kommo_files::Error::Cancelled { .. }) => eprintln!("interrupted"),
        other => return Err(format!("expected an interruption, got {other:?}").into()),
    }
    drop(first);

    // Second run: a new client reads the checkpoint file and continues.
    let checkpoint = kommo_files::load_checkpoint(&checkpoint_file)?;
    eprintln!(
        "resuming at byte {} of {} (session {})",
        checkpoint.offset, checkpoint.source.size, checkpoint.session_id
    );
    let second = Client::new(config)?;
    let options = UploadOptions::new().checkpoint_file(&checkpoint_file);
    let file = second.resume_path(checkpoint, &path, options)?;
    eprintln!("done: {} ({} bytes)", file.uuid, file.size);
    assert!(
        !checkpoint_file.exists(),
        "a completed upload removes its checkpoint"
    );
    Ok(())
}
