//! Sync a folder: the first run uploads every file, the second sends nothing, a changed file
//! becomes a new version of the same Kommo file, and a deleted one goes to the trash.
//!
//! ```text
//! cargo run -p kommo-files --example sync_folder
//! ```

mod common;

use kommo_files::blocking::Client;
use kommo_files::sync::{SyncEvent, SyncOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (config, _emulator) = common::config()?;
    let client = Client::new(config)?;
    let root =
        std::env::temp_dir().join(format!("kommo-files-sync-example-{}", std::process::id()));
    let folder = root.join("folder");
    std::fs::create_dir_all(folder.join("reports"))?;
    std::fs::write(folder.join("contract.pdf"), b"%PDF-1.7 v1")?;
    std::fs::write(folder.join("reports/q1.csv"), b"month,total\n1,10\n")?;
    // The manifest (path -> Kommo file) lives outside the folder, e.g. in a state directory.
    let options = || {
        SyncOptions::new(root.join("state/manifest.json"))
            .delete(true)
            .on_event(|event| {
                if let SyncEvent::Finished(outcome) = event {
                    eprintln!(
                        "{:9} {} {} {}",
                        outcome.action,
                        outcome.path,
                        outcome.status,
                        outcome.message.as_deref().unwrap_or("")
                    );
                }
            })
    };

    let first = client.sync_folder(&folder, options())?;
    eprintln!("first run: {} uploaded", first.uploaded());

    let plan = client.plan_sync(&folder, &options())?;
    eprintln!(
        "second run: {:?}, {} request(s)",
        plan.counts(),
        plan.requests(options().rules())
    );
    assert_eq!(plan.requests(options().rules()), 0);

    std::fs::write(folder.join("contract.pdf"), b"%PDF-1.7 v2, signed")?;
    std::fs::remove_file(folder.join("reports/q1.csv"))?;
    let third = client.sync_folder(&folder, options())?;
    eprintln!(
        "third run: {} new version(s), {} trashed",
        third.uploaded(),
        third.deleted()
    );
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
