//! A script: upload a file, attach it to a lead with a comment, download it back.
//!
//! ```text
//! cargo run -p kommo-files --example blocking_upload [-- PATH LEAD_ID]
//! ```
//!
//! Without `KOMMO_ACCOUNT_URL`/`KOMMO_TOKEN` it runs against an embedded emulator.

mod common;

use kommo_files::blocking::Client;
use kommo_files::model::wire::{AttachmentNote, EntityType};
use kommo_files::UploadOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (config, _emulator) = common::config()?;
    let mut args = std::env::args().skip(1);
    let path = match args.next() {
        Some(path) => path.into(),
        None => common::sample_file("kommo-files-contract.pdf", 1_500_000)?,
    };
    let lead_id: i64 = args.next().map_or(Ok(1001), |id| id.parse())?;

    let client = Client::new(config)?;
    let options = UploadOptions::new().on_progress(|progress| {
        eprint!("\r{:>10} / {} bytes", progress.acknowledged, progress.total);
    });
    let file = client.upload_path(&path, options)?;
    eprintln!("\nuploaded {} as {}", path.display(), file.uuid);

    client.attach(&EntityType::Leads, lead_id, &[&file.uuid])?;
    let note = AttachmentNote::new(lead_id, &file.uuid).file_name(&file.name);
    client.add_file_with_comment(&EntityType::Leads, note, "Uploaded by kommo-files")?;
    eprintln!("attached to lead {lead_id} with a comment");

    let copy = std::env::temp_dir().join("kommo-files-download.bin");
    let bytes = client.download_to_path(&file, &copy)?;
    let same = common::sha256_file(&copy)? == common::sha256_file(&path)?;
    eprintln!(
        "downloaded {bytes} bytes to {}: identical = {same}",
        copy.display()
    );
    if !same {
        return Err("the download differs from the upload".into());
    }
    Ok(())
}
