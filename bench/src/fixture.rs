//! What every scenario needs: test files and their digests, a fresh emulator, a client
//! configuration pointed at it, and the checks that an upload stored exactly the source.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use kommo_files::ClientConfig;
use kommo_files_emulator::{
    Emulator, EmulatorBuilder, EmulatorHandle, HostKind, RequestRecord, DEFAULT_MAX_FILE_SIZE,
};
use sha2::{Digest, Sha256};

use crate::BenchResult;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;
pub const GIB: u64 = 1024 * MIB;

/// A temporary directory, removed with everything in it when dropped.
#[derive(Debug)]
pub struct Workdir(PathBuf);

impl Workdir {
    pub fn new(tag: &str) -> BenchResult<Self> {
        let dir =
            std::env::temp_dir().join(format!("kommo-files-bench-{tag}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file the size of an upload, with its SHA-256 to compare the stored bytes against.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

impl TestFile {
    /// Writes `size` pseudo-random bytes (nothing along the way can compress or dedupe them).
    pub fn create(path: PathBuf, size: u64, seed: u64) -> BenchResult<Self> {
        let mut out = BufWriter::with_capacity(MIB as usize, File::create(&path)?);
        let mut hasher = Sha256::new();
        let mut state = seed | 1;
        let mut chunk = vec![0u8; MIB as usize];
        let mut left = size;
        while left > 0 {
            let len = left.min(MIB) as usize;
            for word in chunk[..len].chunks_mut(8) {
                // xorshift64: fast and good enough to defeat compression.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
            }
            hasher.update(&chunk[..len]);
            out.write_all(&chunk[..len])?;
            left -= len as u64;
        }
        out.flush()?;
        Ok(Self {
            path,
            size,
            sha256: hex(&hasher.finalize()),
        })
    }

    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Upload requests one upload of this file takes: the session, then one per part.
    pub fn expected_upload_requests(&self, part: u64) -> usize {
        1 + self.size.div_ceil(part).max(1) as usize
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn start(builder: EmulatorBuilder) -> BenchResult<EmulatorHandle> {
    Ok(builder.start()?)
}

/// A fresh emulator that takes `file` in parts of `part` bytes, however large the file.
pub fn emulator_for(file: &TestFile, part: u64) -> BenchResult<EmulatorHandle> {
    start(
        Emulator::builder()
            .max_part_size(part)
            .max_file_size(file.size.max(DEFAULT_MAX_FILE_SIZE)),
    )
}

/// The clients' configuration for `emulator`, with pacing on or off.
pub fn client_config(emulator: &EmulatorHandle, paced: bool) -> BenchResult<ClientConfig> {
    let config = ClientConfig::for_url(emulator.account_url(), &emulator.token())?;
    Ok(if paced {
        config
    } else {
        config.requests_per_second(None)
    })
}

/// Fails unless the emulator holds a file `uuid` whose bytes are exactly `source`'s.
pub fn verify_stored(emulator: &EmulatorHandle, uuid: &str, source: &TestFile) -> BenchResult<()> {
    let files = emulator.files();
    let file = files
        .iter()
        .find(|file| file.uuid == uuid)
        .ok_or_else(|| format!("the emulator has no file {uuid}"))?;
    let version = file
        .versions
        .iter()
        .find(|version| version.is_main)
        .ok_or_else(|| format!("file {uuid} has no main version"))?;
    if version.size != source.size || version.sha256 != source.sha256 {
        return Err(format!(
            "{uuid} stored {} bytes with SHA-256 {}, the source has {} bytes and {}",
            version.size, version.sha256, source.size, source.sha256
        )
        .into());
    }
    Ok(())
}

/// Whether a logged request belongs to an upload: a session or a part.
pub fn is_upload_request(record: &RequestRecord) -> bool {
    record.host == HostKind::Drive
        && record.method == "POST"
        && (record.path == "/v1.0/sessions" || record.path.contains("/upload/"))
}

pub fn upload_requests(emulator: &EmulatorHandle) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| is_upload_request(r))
        .count()
}
