//! https with a CA of your own: the emulator serves TLS with a certificate signed by a CA it
//! makes at start, which no root store knows; the clients trust it through
//! `ClientConfig::trust_ca_pem` (a corporate TLS proxy's CA is trusted the same way), then
//! upload and download over https, the blocking client first, then the async one.
//!
//! ```text
//! cargo run -p kommo-files --example tls_emulator
//! ```
//!
//! `tests/tls.rs` runs these same functions.

use kommo_files::{ClientConfig, FileObject, UploadOptions};
use kommo_files_emulator::{Emulator, EmulatorHandle};

/// Bigger than one part, so an upload takes several https requests.
const SIZE: usize = 3 * 1024 * 1024 + 17;

/// An emulator serving https (`tls(true)`; the emulator's `tls` feature).
pub fn start_emulator() -> std::io::Result<EmulatorHandle> {
    Emulator::builder().tls(true).start()
}

/// A configuration for `emulator` that trusts its CA, and nothing else.
pub fn config(emulator: &EmulatorHandle) -> Result<ClientConfig, kommo_files::Error> {
    let ca_pem = emulator
        .ca_certificate_pem()
        .expect("an emulator started with tls(true) has a CA");
    Ok(ClientConfig::for_url(emulator.account_url(), &emulator.token())?.trust_ca_pem(ca_pem))
}

/// The bytes the round trips upload.
pub fn content(seed: u8) -> Vec<u8> {
    (0..SIZE).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// Upload and download through the blocking client over https.
pub fn blocking_round_trip(
    emulator: &EmulatorHandle,
) -> Result<FileObject, Box<dyn std::error::Error>> {
    let client = kommo_files::blocking::Client::new(config(emulator)?)?;
    let data = content(1);
    let file = client.upload_bytes("blocking.bin", data.clone(), UploadOptions::new())?;
    let mut copy = Vec::new();
    client.download(&file, &mut copy)?;
    assert!(copy == data, "the download differs from the upload");
    Ok(file)
}

/// Upload and download through the async client over https.
pub async fn async_round_trip(
    emulator: &EmulatorHandle,
) -> Result<FileObject, Box<dyn std::error::Error>> {
    let client = kommo_files::Client::new(config(emulator)?)?;
    let data = content(2);
    let file = client
        .upload_bytes("async.bin", data.clone(), UploadOptions::new())
        .await?;
    let mut copy = Vec::new();
    client.download(&file, &mut copy).await?;
    assert!(copy == data, "the download differs from the upload");
    Ok(file)
}

#[allow(dead_code)] // `tests/tls.rs` includes this file for the functions above.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = start_emulator()?;
    println!("emulator: {}", emulator.account_url());
    let file = blocking_round_trip(&emulator)?;
    println!("blocking: {} ({} bytes) over https", file.name, file.size);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let file = runtime.block_on(async_round_trip(&emulator))?;
    println!("async:    {} ({} bytes) over https", file.name, file.size);
    Ok(())
}
