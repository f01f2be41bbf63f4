//! The main job, end to end, with no account: start the embedded emulator, upload a generated
//! multi-part file with the SDK's blocking client, lose a part's answer on the way, and check
//! the stored bytes by SHA-256.
//!
//! `cargo run --release -p kommo-files-tests --example upload_demo [SIZE_IN_KIB]`

use std::io::Write;

use kommo_files::blocking::Client;
use kommo_files::model::upload::UploadEvent;
use kommo_files::{ClientConfig, UploadOptions};
use kommo_files_emulator::{Emulator, Fault, FaultAction};
use kommo_files_tests::sha256_hex;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kib: usize = std::env::args()
        .nth(1)
        .map_or(Ok(5 * 1024 + 3), |a| a.parse())?;
    let emulator = Emulator::builder().start()?;
    println!(
        "emulator: account {} drive {}",
        emulator.account_url(),
        emulator.drive_url()
    );

    // The answer to the third part is lost after the part was stored: the machine re-sends it
    // to the same URL and the emulator (in `replay` mode, the default) answers as before.
    emulator.add_fault(
        Fault::new(FaultAction::CloseAfterCommit)
            .method("POST")
            .path("*/upload/*")
            .nth(3),
    );

    let config = ClientConfig::for_url(emulator.account_url(), &emulator.token())?;
    let client = Client::new(config)?;
    let data: Vec<u8> = (0..kib * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let options = UploadOptions::new()
        .content_type("application/pdf")
        .on_event(|event| match event {
            UploadEvent::SessionOpened { session_id, .. } => {
                println!("session {session_id} opened")
            }
            UploadEvent::Progress {
                acknowledged,
                total,
            } => {
                print!("\racknowledged {acknowledged:>10} / {total} bytes");
                let _ = std::io::stdout().flush();
            }
            UploadEvent::Retrying {
                part,
                delay,
                reason,
                ..
            } => {
                println!("\npart {part:?} failed ({reason}); retrying in {delay:?}")
            }
            UploadEvent::Restarted { restart } => println!("\nsession lost; restart #{restart}"),
            _ => {}
        });
    let file = client.upload_bytes("demo-contract.pdf", data.clone(), options)?;
    println!();

    let stored = emulator
        .files()
        .into_iter()
        .find(|f| f.uuid == file.uuid)
        .and_then(|f| f.versions.into_iter().find(|v| v.is_main))
        .ok_or("the emulator does not have the file")?;
    let local = sha256_hex(&data);
    println!(
        "uploaded {} ({} bytes) as {}",
        file.name_with_extension(),
        file.size,
        file.uuid
    );
    println!("sha256 local  {local}\nsha256 stored {}", stored.sha256);
    let requests = emulator.requests().len();
    println!("{requests} requests (1 discovery, 1 session, parts, 1 re-sent part)");
    if stored.sha256 != local {
        return Err("stored bytes differ from the source".into());
    }
    println!("OK: the stored file is byte-for-byte the source");
    Ok(())
}
