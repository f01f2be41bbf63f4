//! Scenario 4, many files: small uploads through clones of one async client at several
//! concurrencies, with the emulator adding a network's latency to every answer; then the same
//! with Kommo's 7 requests/s enforced by the emulator and the client's pacing on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kommo_files::UploadOptions;
use kommo_files_emulator::{Emulator, EmulatorHandle};

use crate::counting::CountingReqwest;
use crate::fixture::{self, TestFile, Workdir, KIB, MIB};
use crate::report::{fixed, Check, Section, Table};
use crate::stats::median;
use crate::BenchResult;

#[derive(Debug, Clone)]
pub struct Settings {
    pub files: usize,
    pub file_size: u64,
    pub concurrency: Vec<usize>,
    pub latency_ms: u64,
    pub paced_files: usize,
    pub runs: usize,
}

/// Kommo's limit, which the emulator enforces in the paced run.
const LIMIT: u32 = 7;

pub fn run(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
    work: &Workdir,
) -> BenchResult<Section> {
    let dir = work.path().join("many");
    std::fs::create_dir_all(&dir)?;
    let files = (0..settings.files)
        .map(|i| {
            TestFile::create(
                dir.join(format!("file-{i:04}.bin")),
                settings.file_size,
                100 + i as u64,
            )
        })
        .collect::<BenchResult<Vec<_>>>()?;
    let files = Arc::new(files);
    let mut section = Section::new(
        "4. Many files",
        &format!(
            "{} files of {} KiB (two requests each) through clones of one async client, with \
             the emulator answering every request {} ms late to stand for a real network, \
             pacing off. Medians of {} runs; every file is checked against its SHA-256.",
            settings.files,
            settings.file_size / KIB,
            settings.latency_ms,
            settings.runs
        ),
    );
    let mut table = Table::new(&["concurrency", "files/s", "MiB/s", "speed-up over 1"]);
    let mut rates = Vec::new();
    for concurrency in &settings.concurrency {
        let mut samples = Vec::new();
        for _ in 0..settings.runs {
            let emulator = fixture::start(
                Emulator::builder().response_latency(Duration::from_millis(settings.latency_ms)),
            )?;
            let elapsed = upload_all(&emulator, &files, *concurrency, false, runtime)?.elapsed;
            samples.push(files.len() as f64 / elapsed.as_secs_f64());
        }
        let rate = median(&samples);
        eprintln!("  concurrency {concurrency:>2}: {rate:7.1} files/s");
        rates.push((*concurrency, rate));
    }
    let serial = rates.first().map_or(f64::NAN, |(_, rate)| *rate);
    for (concurrency, rate) in &rates {
        table.row(vec![
            concurrency.to_string(),
            fixed(*rate, 1),
            fixed(rate * settings.file_size as f64 / MIB as f64, 2),
            format!("{}×", fixed(rate / serial, 2)),
        ]);
    }
    section.tables.push(table);
    for pair in rates.windows(2) {
        let ((low, low_rate), (high, high_rate)) = (pair[0], pair[1]);
        // Latency-bound work scales with concurrency; ask for half the ideal at each step.
        let ideal = high as f64 / low as f64;
        let gain = high_rate / low_rate;
        section.checks.push(Check::new(
            format!(
                "concurrency {high} over {low}: {}× (at least half the ideal {}×)",
                fixed(gain, 2),
                fixed(ideal, 0)
            ),
            gain >= ideal / 2.0,
        ));
    }

    let paced: Vec<TestFile> = files.iter().take(settings.paced_files).cloned().collect();
    let concurrency = settings.concurrency.iter().copied().max().unwrap_or(1);
    let emulator = fixture::start(
        Emulator::builder()
            .response_latency(Duration::from_millis(settings.latency_ms))
            .rate_limit(Some(LIMIT)),
    )?;
    let outcome = upload_all(&emulator, &Arc::new(paced), concurrency, true, runtime)?;
    let refused = emulator
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    let sent = outcome.sent_at.len();
    let span = match (outcome.sent_at.first(), outcome.sent_at.last()) {
        (Some(first), Some(last)) => last.duration_since(*first),
        _ => Duration::ZERO,
    };
    let rate = (sent.saturating_sub(1)) as f64 / span.as_secs_f64().max(1e-9);
    let busiest = busiest_second(&outcome.sent_at);
    let mut table = Table::new(&[
        "paced run",
        "requests",
        "achieved requests/s",
        "most in any 1 s",
        "429 answers",
    ]);
    table.row(vec![
        format!(
            "{} files, concurrency {concurrency}, emulator limit {LIMIT}/s",
            settings.paced_files
        ),
        sent.to_string(),
        fixed(rate, 2),
        busiest.to_string(),
        refused.to_string(),
    ]);
    section.tables.push(table);
    section.checks.push(Check::new(
        format!(
            "paced rate between 6.5 and 7 requests/s: {}",
            fixed(rate, 2)
        ),
        (6.5..=7.0).contains(&rate),
    ));
    section.checks.push(Check::new(
        format!("at most {LIMIT} requests in any one second: {busiest}"),
        busiest <= LIMIT as usize,
    ));
    section.checks.push(Check::new(
        format!("no 429 answer with pacing on: {refused}"),
        refused == 0,
    ));
    section.notes.push(
        "The achieved rate is (requests − 1) over the time from the first request to the last, \
         as the client handed them to its transport; the discovery request counts."
            .to_owned(),
    );
    Ok(section)
}

struct Outcome {
    elapsed: Duration,
    sent_at: Vec<Instant>,
}

/// Uploads every file with `concurrency` workers sharing one client, then checks them all.
fn upload_all(
    emulator: &EmulatorHandle,
    files: &Arc<Vec<TestFile>>,
    concurrency: usize,
    paced: bool,
    runtime: &tokio::runtime::Runtime,
) -> BenchResult<Outcome> {
    let config = fixture::client_config(emulator, paced)?;
    let (elapsed, uuids, tally) = runtime.block_on(async {
        let transport = CountingReqwest::new()?;
        let tally = transport.tally.clone();
        let client = kommo_files::Client::with_transport(config, transport);
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (client, files, next) = (client.clone(), files.clone(), next.clone());
                tokio::spawn(async move {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(index) else { break };
                        let stored = client.upload_path(&file.path, UploadOptions::new()).await?;
                        done.push((index, stored.uuid));
                    }
                    BenchResult::Ok(done)
                })
            })
            .collect();
        let mut uuids = Vec::new();
        for worker in workers {
            uuids.extend(worker.await??);
        }
        BenchResult::Ok((started.elapsed(), uuids, tally))
    })?;
    if uuids.len() != files.len() {
        return Err(format!("{} of {} files uploaded", uuids.len(), files.len()).into());
    }
    for (index, uuid) in &uuids {
        fixture::verify_stored(emulator, uuid, &files[*index])?;
    }
    Ok(Outcome {
        elapsed,
        sent_at: tally.sent_at(),
    })
}

/// The most requests sent within any one second.
fn busiest_second(sent_at: &[Instant]) -> usize {
    let mut busiest = 0;
    let mut start = 0;
    for (end, at) in sent_at.iter().enumerate() {
        while at.duration_since(sent_at[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        busiest = busiest.max(end + 1 - start);
    }
    busiest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busiest_second_slides_over_the_requests() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(busiest_second(&[]), 0);
        assert_eq!(
            busiest_second(&[at(0), at(500), at(999), at(1000), at(1999)]),
            3
        );
        assert_eq!(busiest_second(&[at(0), at(1000), at(2000)]), 1);
    }
}
