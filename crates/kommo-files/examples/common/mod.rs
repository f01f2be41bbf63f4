//! Where the examples connect: a real account when `KOMMO_ACCOUNT_URL` and `KOMMO_TOKEN` are
//! set, otherwise an emulator embedded in the example (no account needed).

use kommo_files::ClientConfig;
use kommo_files_emulator::{Emulator, EmulatorHandle};

/// The configuration to use, and the emulator to keep alive while it runs (if any).
pub fn config() -> Result<(ClientConfig, Option<EmulatorHandle>), Box<dyn std::error::Error>> {
    match (
        std::env::var("KOMMO_ACCOUNT_URL"),
        std::env::var("KOMMO_TOKEN"),
    ) {
        (Ok(url), Ok(token)) => Ok((ClientConfig::for_url(&url, &token)?, None)),
        _ => {
            let emulator = Emulator::builder().max_part_size(256 * 1024).start()?;
            eprintln!(
                "(no KOMMO_ACCOUNT_URL/KOMMO_TOKEN: using an embedded emulator at {})",
                emulator.account_url()
            );
            let config = ClientConfig::for_url(emulator.account_url(), &emulator.token())?;
            Ok((config, Some(emulator)))
        }
    }
}

/// A deterministic test file of `size` bytes in the temporary directory.
#[allow(dead_code)] // not every example needs one
pub fn sample_file(name: &str, size: usize) -> std::io::Result<std::path::PathBuf> {
    let path = std::env::temp_dir().join(name);
    let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&path, bytes)?;
    Ok(path)
}

/// Lowercase hex SHA-256 of a file, read in pieces (the examples compare files of any size).
#[allow(dead_code)] // not every example needs one
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        match file.read(&mut buffer)? {
            0 => break,
            n => hasher.update(&buffer[..n]),
        }
    }
    Ok(kommo_files::model::upload::hex(&hasher.finalize()))
}
