//! Scenario 1, throughput, and scenario 5, emulator headroom: one large upload by each
//! contender, interleaved run by run so that drift on the machine hits them all alike.

use std::time::{Duration, Instant};

use kommo_files::UploadOptions;
use kommo_files_emulator::EmulatorHandle;

use crate::fixture::{self, TestFile, Workdir, MIB};
use crate::report::{fixed, Check, Section, Table};
use crate::stats::{median, mib_per_second};
use crate::{python, raw, BenchResult};

/// The share of its raw loop each client must reach: the SDK may cost at most 5 %.
const RAW_SHARE: f64 = 0.95;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contender {
    Blocking,
    Async,
    RawUreq,
    RawReqwest,
    Python,
}

impl Contender {
    fn label(self) -> &'static str {
        match self {
            Contender::Blocking => "blocking client (ureq)",
            Contender::Async => "async client (reqwest)",
            Contender::RawUreq => "raw ureq loop",
            Contender::RawReqwest => "raw reqwest loop",
            Contender::Python => "Python `requests` loop",
        }
    }

    /// The raw loop on the same HTTP stack: what the client is measured against.
    fn raw(self) -> Option<Contender> {
        match self {
            Contender::Blocking => Some(Contender::RawUreq),
            Contender::Async => Some(Contender::RawReqwest),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub size: u64,
    pub part: u64,
    pub runs: usize,
}

/// The throughput section and the headroom section.
pub fn run(
    settings: Settings,
    runtime: &tokio::runtime::Runtime,
    work: &Workdir,
) -> BenchResult<(Section, Section)> {
    let file = TestFile::create(work.path().join("throughput.bin"), settings.size, 1)?;
    let python_missing = python::unavailable();
    let mut contenders = vec![
        Contender::Blocking,
        Contender::Async,
        Contender::RawUreq,
        Contender::RawReqwest,
    ];
    if python_missing.is_none() {
        contenders.push(Contender::Python);
    }
    let mut samples: Vec<(Contender, Vec<f64>)> =
        contenders.iter().map(|c| (*c, Vec::new())).collect();
    for run in 1..=settings.runs {
        // Each run starts with another contender, so that none always follows the same one.
        let count = samples.len();
        for index in (0..count).map(|i| (i + run) % count) {
            let (contender, rates) = &mut samples[index];
            let emulator = fixture::emulator_for(&file, settings.part)?;
            let elapsed = upload_once(*contender, &emulator, &file, runtime)?;
            let requests = fixture::upload_requests(&emulator);
            let expected = file.expected_upload_requests(settings.part);
            if requests != expected {
                return Err(format!(
                    "{}: {requests} upload requests, expected {expected}",
                    contender.label()
                )
                .into());
            }
            let rate = mib_per_second(file.size, elapsed);
            eprintln!("  run {run}: {:<24} {rate:8.1} MiB/s", contender.label());
            rates.push(rate);
        }
    }

    let medians: Vec<(Contender, f64)> = samples.iter().map(|(c, r)| (*c, median(r))).collect();
    let median_of = |who: Contender| {
        medians
            .iter()
            .find(|(c, _)| *c == who)
            .map_or(f64::NAN, |(_, m)| *m)
    };
    let python = median_of(Contender::Python);

    let mut section = Section::new(
        "1. Throughput",
        &format!(
            "One {} MiB file in {} KiB parts ({} upload requests), rate pacing off, a fresh \
             emulator per upload, {} runs per contender interleaved. Each upload is checked: \
             the stored SHA-256 equals the source's and the emulator logged exactly \
             `ceil(size / part) + 1` upload requests. Timed from creating the client (the \
             Python loop: its `requests.Session`) to the file's answer.",
            settings.size / MIB,
            settings.part / 1024,
            file.expected_upload_requests(settings.part),
            settings.runs,
        ),
    );
    let mut table = Table::new(&[
        "contender",
        "MiB/s (median)",
        "min – max",
        "÷ its raw loop",
        "÷ Python loop",
    ]);
    for (contender, rates) in &samples {
        let own = median(rates);
        let (low, high) = rates
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
        table.row(vec![
            contender.label().to_owned(),
            fixed(own, 1),
            format!("{} – {}", fixed(low, 1), fixed(high, 1)),
            contender
                .raw()
                .map_or_else(|| "–".to_owned(), |raw| fixed(own / median_of(raw), 3)),
            fixed(own / python, 2),
        ]);
    }
    section.tables.push(table);
    for client in [Contender::Blocking, Contender::Async] {
        let raw = client.raw().unwrap_or(client);
        let ratio = median_of(client) / median_of(raw);
        section.checks.push(Check::new(
            format!(
                "{} ≥ {RAW_SHARE} × {}: {}",
                client.label(),
                raw.label(),
                fixed(ratio, 3)
            ),
            ratio >= RAW_SHARE,
        ));
        let target = format!("{} ahead of the Python loop", client.label());
        section.checks.push(match &python_missing {
            Some(_) => Check::skipped(target),
            None => {
                let ratio = median_of(client) / python;
                Check::new(format!("{target}: {}×", fixed(ratio, 2)), ratio > 1.0)
            }
        });
    }
    if let Some(why) = python_missing {
        section.notes.push(format!("Python loop skipped: {why}."));
    }

    let mut headroom = Section::new(
        "5. Emulator headroom",
        "The raw loops do nothing but send the requests, so their throughput is the local \
         limit: the HTTP stack, loopback and the emulator, sharing the same cores as the client. \
         A client cannot beat it here; the gap is what the SDK costs.",
    );
    let mut table = Table::new(&[
        "HTTP stack",
        "local limit (raw loop) MiB/s",
        "client MiB/s",
        "client share of the limit",
    ]);
    for client in [Contender::Blocking, Contender::Async] {
        let raw = client.raw().unwrap_or(client);
        table.row(vec![
            raw.label()
                .trim_start_matches("raw ")
                .trim_end_matches(" loop")
                .to_owned(),
            fixed(median_of(raw), 1),
            fixed(median_of(client), 1),
            format!("{}%", fixed(100.0 * median_of(client) / median_of(raw), 1)),
        ]);
    }
    headroom.tables.push(table);
    Ok((section, headroom))
}

/// Uploads `file` once by `contender` and checks what the emulator stored.
fn upload_once(
    contender: Contender,
    emulator: &EmulatorHandle,
    file: &TestFile,
    runtime: &tokio::runtime::Runtime,
) -> BenchResult<Duration> {
    let config = fixture::client_config(emulator, false)?;
    let token = emulator.token();
    let account_url = emulator.account_url();
    let started = Instant::now();
    let (elapsed, uuid) = match contender {
        Contender::Blocking => {
            let client = kommo_files::blocking::Client::new(config)?;
            let uuid = client.upload_path(&file.path, UploadOptions::new())?.uuid;
            (started.elapsed(), uuid)
        }
        Contender::Async => runtime.block_on(async {
            let client = kommo_files::Client::new(config)?;
            let uuid = client
                .upload_path(&file.path, UploadOptions::new())
                .await?
                .uuid;
            BenchResult::Ok((started.elapsed(), uuid))
        })?,
        Contender::RawUreq => {
            let uuid = raw::ureq_upload(account_url, &token, file)?;
            (started.elapsed(), uuid)
        }
        Contender::RawReqwest => runtime.block_on(async {
            let uuid = raw::reqwest_upload(account_url, &token, file).await?;
            BenchResult::Ok((started.elapsed(), uuid))
        })?,
        Contender::Python => python::upload(account_url, &token, file)?,
    };
    fixture::verify_stored(emulator, &uuid, file)?;
    Ok(elapsed)
}
