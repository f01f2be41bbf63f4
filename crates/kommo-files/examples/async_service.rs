//! A service: upload several files concurrently through clones of one async client.
//!
//! The clones share connections, the drive host and the 7 requests/s pacing, so running many
//! uploads at once never exceeds Kommo's limit.
//!
//! ```text
//! cargo run -p kommo-files --example async_service
//! ```

mod common;

use kommo_files::{Client, UploadOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The emulator runs its own runtime; build it before entering ours.
    let (config, _emulator) = tokio::task::block_in_place(common::config)?;
    let client = Client::new(config)?;

    let mut uploads = Vec::new();
    for index in 0..5 {
        let client = client.clone();
        uploads.push(tokio::spawn(async move {
            let data: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8 ^ index).collect();
            let name = format!("invoice-{index}.pdf");
            let options = UploadOptions::new().content_type("application/pdf");
            client.upload_bytes(&name, data, options).await
        }));
    }
    for upload in uploads {
        let file = upload.await??;
        println!("{}  {:>8} bytes  {}", file.uuid, file.size, file.name);
    }

    let mut files = client.list(Default::default());
    let mut count = 0;
    while let Some(file) = files.next().await {
        file?;
        count += 1;
    }
    println!("the drive now lists {count} files");
    Ok(())
}
