//! Scenario 5, sync and export: a folder of small files synced with an attachment and a note
//! each at Kommo's 7 requests/s (requests per file), a sync that changes nothing over many
//! files (wall time, no request), a sync after 1 % of them changed, and `kommo-files export`
//! of many files over a network's latency at several `--jobs`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use kommo_files::blocking::Client;
use kommo_files::sync::SyncOptions;
use kommo_files::{EntityType, UploadOptions};
use kommo_files_emulator::{Emulator, EmulatorHandle};

use crate::fixture::{self, Workdir};
use crate::report::{fixed, Check, Section, Table};
use crate::BenchResult;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Files synced with `--attach` and `--note` at 7 requests/s.
    pub linked_files: usize,
    /// Files of the no-op sync (and of the 1 % change).
    pub noop_files: usize,
    /// Files exported.
    pub export_files: usize,
    /// The emulator's answer latency during the export.
    pub export_latency_ms: u64,
    /// `--jobs` of the export.
    pub export_jobs: Vec<usize>,
}

/// Kommo's limit, which the emulator enforces in the paced runs.
const LIMIT: u32 = 7;
const FILE_SIZE: usize = 2 * 1024;

pub fn run(settings: &Settings, cli: Option<&Path>, work: &Workdir) -> BenchResult<Section> {
    let mut section = Section::new(
        "5. Sync and export",
        &format!(
            "`sync_folder` (the SDK's engine behind `kommo-files sync`) and `kommo-files \
             export` against the emulator. Small files are {} KiB. The linked sync and the 1 % \
             change run at Kommo's 7 requests/s with the emulator enforcing it; the no-op sync \
             and the export run with pacing off, the export with every answer {} ms late. One \
             run each (they are request counts and long runs, not noisy microbenchmarks).",
            FILE_SIZE / 1024,
            settings.export_latency_ms
        ),
    );
    linked(settings, work, &mut section)?;
    noop_and_change(settings, work, &mut section)?;
    match cli {
        Some(cli) => export(settings, cli, work, &mut section)?,
        None => section
            .checks
            .push(Check::skipped("export (needs --cli PATH)")),
    }
    Ok(section)
}

fn folder_of(work: &Workdir, name: &str, files: usize) -> BenchResult<std::path::PathBuf> {
    let folder = work.path().join(name);
    for i in 0..files {
        let path = folder
            .join(format!("d{:02}", i % 50))
            .join(format!("f{i:05}.txt"));
        std::fs::create_dir_all(path.parent().unwrap_or(&folder))?;
        let mut bytes = format!("file {i}\n").into_bytes();
        bytes.resize(FILE_SIZE, b'.');
        std::fs::write(&path, bytes)?;
    }
    Ok(folder)
}

fn client(emulator: &EmulatorHandle, paced: bool) -> BenchResult<Client> {
    Ok(Client::new(fixture::client_config(emulator, paced)?)?)
}

/// 200 small files, each attached and noted: requests per file and files per minute.
fn linked(settings: &Settings, work: &Workdir, section: &mut Section) -> BenchResult<()> {
    let files = settings.linked_files;
    let folder = folder_of(work, "linked", files)?;
    let emulator = fixture::start(Emulator::builder().rate_limit(Some(LIMIT)))?;
    let client = client(&emulator, true)?;
    let options = SyncOptions::new(work.path().join("linked-state/manifest.json"))
        .attach(&EntityType::Leads, 1001)
        .note(&EntityType::Leads, 1002);
    let started = Instant::now();
    let report = client.sync_folder(&folder, options)?;
    let elapsed = started.elapsed();
    let requests = emulator.requests();
    let refused = requests.iter().filter(|r| r.status == Some(429)).count();
    let per_file = requests.len() as f64 / files as f64;
    let per_minute = files as f64 / elapsed.as_secs_f64() * 60.0;
    eprintln!(
        "  linked: {files} files, {} requests ({per_file:.3}/file), {per_minute:.1} files/min",
        requests.len()
    );
    let notes = client.notes(&EntityType::Leads, 1002)?.len();
    let attached = client
        .entity_files(&EntityType::Leads, 1001, &Default::default())?
        .files
        .len();
    let mut table = Table::new(&[
        "linked sync (7 requests/s)",
        "requests",
        "requests/file",
        "files/min",
        "429 answers",
    ]);
    table.row(vec![
        format!("{files} files, --attach leads:1001 --note leads:1002"),
        requests.len().to_string(),
        fixed(per_file, 3),
        fixed(per_minute, 1),
        refused.to_string(),
    ]);
    section.tables.push(table);
    section.checks.push(Check::new(
        format!(
            "requests per file with --attach and --note ≤ 2.1: {}",
            fixed(per_file, 3)
        ),
        per_file <= 2.1,
    ));
    section.checks.push(Check::new(
        format!(
            "every file uploaded, attached and noted once: {} uploaded, {attached} attached, \
             {notes} notes of {files}",
            report.uploaded()
        ),
        report.uploaded() == files && attached >= files && notes == files,
    ));
    section.notes.push(
        "Without batching, each new file cost 4 requests (session, part, attach, note); \
         attachments and notes now go 50 files per request."
            .to_owned(),
    );
    Ok(())
}

/// A sync that changes nothing over many files, then one after 1 % of them changed.
fn noop_and_change(settings: &Settings, work: &Workdir, section: &mut Section) -> BenchResult<()> {
    let files = settings.noop_files;
    let folder = folder_of(work, "noop", files)?;
    let emulator = fixture::start(Emulator::builder())?;
    let manifest = work.path().join("noop-state/manifest.json");
    // The first sync fills the account (pacing off: it is not what is measured).
    let started = Instant::now();
    client(&emulator, false)?.sync_folder(&folder, SyncOptions::new(&manifest))?;
    let initial = started.elapsed();
    eprintln!(
        "  initial sync of {files} files, pacing off: {:.1} s",
        initial.as_secs_f64()
    );

    emulator.update_config(|b| b.rate_limit_per_second = Some(LIMIT));
    let paced = client(&emulator, true)?;
    emulator.clear_requests();
    let started = Instant::now();
    let report = paced.sync_folder(&folder, SyncOptions::new(&manifest))?;
    let noop = started.elapsed();
    let noop_requests = emulator.requests().len();
    eprintln!(
        "  no-op sync of {files} files: {:.2} s, {noop_requests} requests",
        noop.as_secs_f64()
    );

    let changed = (files / 100).max(1);
    let later = SystemTime::now() + Duration::from_secs(3600);
    for i in 0..changed {
        let path = folder
            .join(format!("d{:02}", (i * 100) % 50))
            .join(format!("f{:05}.txt", i * 100));
        let mut bytes = std::fs::read(&path)?;
        bytes[FILE_SIZE - 1] = b'!';
        std::fs::write(&path, bytes)?;
        std::fs::File::options()
            .write(true)
            .open(&path)?
            .set_modified(later)?;
    }
    emulator.clear_requests();
    let started = Instant::now();
    let changed_report = paced.sync_folder(&folder, SyncOptions::new(&manifest))?;
    let change = started.elapsed();
    let requests = emulator.requests();
    let uploads = requests
        .iter()
        .filter(|r| fixture::is_upload_request(r))
        .count();
    let listings = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.split('?').next() == Some("/v1.0/files"))
        .count();
    eprintln!(
        "  sync after {changed} changes: {:.1} s, {} requests",
        change.as_secs_f64(),
        requests.len()
    );

    let mut table = Table::new(&["sync", "files", "wall time", "requests", "upload requests"]);
    table.row(vec![
        "initial (pacing off)".to_owned(),
        files.to_string(),
        format!("{} s", fixed(initial.as_secs_f64(), 1)),
        "—".to_owned(),
        "—".to_owned(),
    ]);
    table.row(vec![
        "no-op".to_owned(),
        files.to_string(),
        format!("{} s", fixed(noop.as_secs_f64(), 2)),
        noop_requests.to_string(),
        "0".to_owned(),
    ]);
    table.row(vec![
        format!("after changing {changed} (1 %), 7 requests/s"),
        files.to_string(),
        format!("{} s", fixed(change.as_secs_f64(), 1)),
        requests.len().to_string(),
        uploads.to_string(),
    ]);
    section.tables.push(table);
    section.checks.push(Check::new(
        format!(
            "no-op sync of {files} files sends no request: {noop_requests} (and uploads {})",
            report.uploaded()
        ),
        noop_requests == 0 && report.uploaded() == 0,
    ));
    let expected_listings = changed.div_ceil(kommo_files::sync::CHECK_BATCH);
    section.checks.push(Check::new(
        format!(
            "after {changed} changes: {} new versions, {uploads} upload requests (2 each), \
             {listings} remote checks ({expected_listings} expected)",
            changed_report.uploaded()
        ),
        changed_report.uploaded() == changed
            && uploads == 2 * changed
            && listings == expected_listings,
    ));
    Ok(())
}

/// `kommo-files export` of many files at several `--jobs`, every byte checked.
fn export(
    settings: &Settings,
    cli: &Path,
    work: &Workdir,
    section: &mut Section,
) -> BenchResult<()> {
    let emulator = fixture::start(
        Emulator::builder().response_latency(Duration::from_millis(settings.export_latency_ms)),
    )?;
    let sdk = client(&emulator, false)?;
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..settings.export_files {
        let mut bytes = format!("exported {i}\n").into_bytes();
        bytes.resize(FILE_SIZE, b'-');
        let file = sdk.upload_bytes(&format!("e{i:04}.txt"), bytes, UploadOptions::new())?;
        let version = file.version_uuid.clone().unwrap_or_default();
        expected.insert(version, ());
    }
    let config = work.path().join("export.toml");
    std::fs::write(
        &config,
        format!(
            "base_url = \"{}\"\ntoken = \"{}\"\nrequests_per_second = 0\n",
            emulator.account_url(),
            emulator.token()
        ),
    )?;
    let mut table = Table::new(&["--jobs", "files", "wall time", "files/s", "requests"]);
    let mut rates = Vec::new();
    for jobs in &settings.export_jobs {
        let dir = work.path().join(format!("export-{jobs}"));
        emulator.clear_requests();
        let started = Instant::now();
        let output = Command::new(cli)
            .arg("--config")
            .arg(&config)
            .args([
                "--quiet",
                "export",
                "--page-size",
                "250",
                "-j",
                &jobs.to_string(),
            ])
            .arg(&dir)
            .env("KOMMO_STATE_DIR", work.path().join("export-state"))
            .output()?;
        let elapsed = started.elapsed();
        if !output.status.success() {
            return Err(
                format!("export failed: {}", String::from_utf8_lossy(&output.stderr)).into(),
            );
        }
        let checked = check_export(&emulator, &dir)?;
        let rate = settings.export_files as f64 / elapsed.as_secs_f64();
        eprintln!(
            "  export -j {jobs}: {:.1} s, {rate:.1} files/s",
            elapsed.as_secs_f64()
        );
        table.row(vec![
            jobs.to_string(),
            checked.to_string(),
            format!("{} s", fixed(elapsed.as_secs_f64(), 2)),
            fixed(rate, 1),
            emulator.requests().len().to_string(),
        ]);
        section.checks.push(Check::new(
            format!("export -j {jobs}: every byte matches the account ({checked} files)"),
            checked == settings.export_files,
        ));
        rates.push(rate);
    }
    section.tables.push(table);
    if let (Some(first), Some(last)) = (rates.first(), rates.last()) {
        section.checks.push(Check::new(
            format!(
                "more jobs export faster over latency: {}×",
                fixed(last / first, 2)
            ),
            last > first,
        ));
    }
    section.notes.push(format!(
        "The export runs the release CLI with `requests_per_second = 0` in its config file: at \
         Kommo's 7 requests/s every `--jobs` would take about {} s for {} files, since each \
         file is one download request.",
        settings.export_files * 3 / 20,
        settings.export_files
    ));
    Ok(())
}

/// Compares every exported file with the emulator's bytes through `manifest.json`.
fn check_export(emulator: &EmulatorHandle, dir: &Path) -> BenchResult<usize> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)?;
    let mut checked = 0;
    for file in manifest["files"]
        .as_array()
        .ok_or("no files in the manifest")?
    {
        for version in file["versions"].as_array().ok_or("no versions")? {
            let uuid = version["uuid"].as_str().ok_or("no version uuid")?;
            let path = dir.join(version["path"].as_str().ok_or("no path")?);
            let bytes = std::fs::read(&path)?;
            let stored = emulator.version_bytes(uuid).ok_or("no stored version")?;
            if bytes != stored {
                return Err(format!("{} differs from the account", path.display()).into());
            }
            checked += 1;
        }
    }
    Ok(checked)
}
