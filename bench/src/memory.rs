//! Scenario 2, memory: the peak RSS of the `kommo-files` CLI uploading files far larger than
//! its parts. It must stay within about three parts of the process's own baseline (the same
//! command uploading 1 KiB) and not grow with the file.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kommo_files_emulator::EmulatorHandle;

use crate::fixture::{self, TestFile, Workdir, GIB, KIB, MIB};
use crate::report::{fixed, Check, Section, Table};
use crate::BenchResult;

#[derive(Debug, Clone)]
pub struct Settings {
    pub sizes: Vec<u64>,
    pub parts: Vec<u64>,
    pub runs: usize,
}

pub fn run(settings: &Settings, cli: &Path, work: &Workdir) -> BenchResult<Section> {
    let baseline_file = TestFile::create(work.path().join("baseline-1k.bin"), KIB, 2)?;
    let files = settings
        .sizes
        .iter()
        .map(|size| {
            TestFile::create(
                work.path().join(format!("memory-{}.bin", label(*size))),
                *size,
                3,
            )
        })
        .collect::<BenchResult<Vec<_>>>()?;
    let mut section = Section::new(
        "2. Memory",
        &format!(
            "Peak RSS (`VmHWM`) of the release CLI, `kommo-files -q upload FILE`, pacing off, \
             against the emulator in another process. The baseline is the same command \
             uploading 1 KiB; growth is the peak above it. Each peak is the highest of {} \
             runs: a sample can miss the true peak by a few milliseconds, never exceed it.",
            settings.runs
        ),
    );
    let mut table = Table::new(&[
        "part size",
        "file",
        "peak RSS MiB",
        "growth over baseline MiB",
        "growth in parts",
    ]);
    for part in &settings.parts {
        let peak_of = |file: &TestFile| -> BenchResult<f64> {
            let mut peak = 0;
            for _ in 0..settings.runs {
                peak = peak.max(cli_peak_rss(cli, file, *part, work)?);
            }
            Ok(peak as f64)
        };
        let baseline = peak_of(&baseline_file)?;
        table.row(vec![
            label(*part),
            "1 KiB (baseline)".to_owned(),
            fixed(baseline / MIB as f64, 1),
            "–".to_owned(),
            "–".to_owned(),
        ]);
        let mut peaks = Vec::new();
        for file in &files {
            let peak = peak_of(file)?;
            let growth = peak - baseline;
            eprintln!(
                "  {} parts, {}: peak {:.1} MiB",
                label(*part),
                label(file.size),
                peak / MIB as f64
            );
            table.row(vec![
                label(*part),
                label(file.size),
                fixed(peak / MIB as f64, 1),
                fixed(growth / MIB as f64, 1),
                fixed(growth / *part as f64, 2),
            ]);
            section.checks.push(Check::new(
                format!(
                    "{} parts, {}: growth {} parts ≤ 3",
                    label(*part),
                    label(file.size),
                    fixed(growth / *part as f64, 2)
                ),
                growth <= 3.0 * *part as f64,
            ));
            peaks.push((file.size, peak));
        }
        if let (Some(smallest), Some(largest)) = (peaks.first(), peaks.last()) {
            if largest.0 > smallest.0 {
                let more = largest.1 - smallest.1;
                section.checks.push(Check::new(
                    format!(
                        "{} parts: {} peaks within one part of {} ({:+.1} MiB for {}× the bytes)",
                        label(*part),
                        label(largest.0),
                        label(smallest.0),
                        more / MIB as f64,
                        largest.0 / smallest.0
                    ),
                    more <= *part as f64,
                ));
            }
        }
    }
    section.tables.push(table);
    Ok(section)
}

/// `64 MiB`, `1 GiB`, `512 KiB`.
fn label(bytes: u64) -> String {
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b => format!("{} KiB", b / KIB),
    }
}

/// Runs the CLI's upload of `file` against a fresh emulator; returns its peak RSS in bytes.
fn cli_peak_rss(cli: &Path, file: &TestFile, part: u64, work: &Workdir) -> BenchResult<u64> {
    let emulator = fixture::emulator_for(file, part)?;
    let config = write_config(&emulator, work)?;
    let log_path = work.path().join("cli-stderr.log");
    let mut child = Command::new(cli)
        .arg("--config")
        .arg(&config)
        .args(["-q", "upload"])
        .arg(&file.path)
        .env("KOMMO_STATE_DIR", work.path().join("cli-state"))
        .env_remove("KOMMO_BASE_URL")
        .env_remove("KOMMO_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log_path)?)
        .spawn()?;
    // VmHWM only rises, so the last sample before exit is the peak (up to the last few ms).
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_path)
            .ok()
            .as_deref()
            .and_then(vm_hwm_kib)
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if !status.success() {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        return Err(format!("{} upload failed ({status}): {}", cli.display(), log.trim()).into());
    }
    let stored = emulator.files();
    let uuid = stored
        .first()
        .map(|f| f.uuid.clone())
        .ok_or("the CLI stored nothing")?;
    fixture::verify_stored(&emulator, &uuid, file)?;
    if peak_kib == 0 {
        return Err("no VmHWM sample: is /proc mounted?".into());
    }
    Ok(peak_kib * KIB)
}

/// A CLI configuration file for `emulator` with pacing off, readable by the owner only.
fn write_config(emulator: &EmulatorHandle, work: &Workdir) -> BenchResult<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = work.path().join("cli-config.toml");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(
        out,
        "base_url = \"{}\"\ntoken = \"{}\"\nrequests_per_second = 0",
        emulator.account_url(),
        emulator.token()
    )?;
    Ok(path)
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark() {
        assert_eq!(
            vm_hwm_kib("Name:\tx\nVmHWM:\t   22748 kB\nVmRSS:\t1 kB\n"),
            Some(22748)
        );
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn labels_sizes() {
        assert_eq!(label(GIB), "1 GiB");
        assert_eq!(label(64 * MIB), "64 MiB");
        assert_eq!(label(512 * KIB), "512 KiB");
    }
}
