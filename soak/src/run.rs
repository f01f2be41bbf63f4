//! Runs one schedule: a fresh emulator, the source file (and its namesake), the faults, then
//! the upload through its client, re-run until it succeeds with the faults off, and the checks
//! of what the emulator stored.

use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kommo_files::{ClientConfig, ErrorKind, RetryPolicy, UploadEvent, UploadOptions};
use kommo_files_emulator::{Emulator, EmulatorHandle, Scope};
use sha2::{Digest, Sha256};

use crate::rng::Rng;
use crate::schedule::{ClientKind, ClockJump, Kill, Schedule, Source, JUMP_SECS, PART};

/// The bearer token: distinctive, so that finding it in an error or an output is certain.
const TOKEN: &str = "soak-bearer-7f3a9c";

/// Runs made with the faults off before the upload counts as lost.
const CLEAN_RUNS: u32 = 3;

/// No single CLI run may take longer (a hang is a failure too).
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What one schedule did and found.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub faults_fired: u64,
    pub runs: u64,
    pub kills: u64,
    pub resent_bytes: u64,
    pub restarts: u64,
    pub found_final_part: u64,
    pub final_part_not_stored: u64,
    pub duplicates: u64,
    pub corrupted: u64,
    pub lost: u64,
    pub panics: u64,
    pub unclean: u64,
    /// Failed runs, by error kind (SDK) or `exit 1` (CLI).
    pub failures: Vec<String>,
    /// What went wrong, in words.
    pub problems: Vec<String>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// What the soak needs besides the schedule.
#[derive(Debug)]
pub struct Env<'a> {
    pub runtime: &'a tokio::runtime::Runtime,
    pub cli: Option<&'a Path>,
    pub work: &'a Path,
}

/// How one run ended.
#[derive(Debug)]
enum RunEnd {
    Stored(String),
    Failed(String),
    Killed,
    Panicked(String),
}

struct Counters {
    restarts: AtomicU64,
    found: AtomicU64,
    not_stored: AtomicU64,
}

pub fn run(schedule: &Schedule, env: &Env<'_>) -> Res<Outcome> {
    let dir = env.work.join(format!("s{}", schedule.seed));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = run_in(schedule, env, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(schedule: &Schedule, env: &Env<'_>, dir: &Path) -> Res<Outcome> {
    let emulator = Arc::new(
        Emulator::builder()
            .token(TOKEN, Scope::ALL)
            .max_part_size(PART)
            .retry_mode(schedule.retry_mode)
            .upload_url_shape(schedule.url_shape)
            .part_status(schedule.part_status)
            .start()?,
    );
    let name = format!("soak-{}.bin", schedule.seed);
    let path = dir.join(&name);
    let mut rng = Rng::new(schedule.seed ^ 0xB17E5);
    let bytes = random_bytes(&mut rng, schedule.size);
    std::fs::write(&path, &bytes)?;
    let source_sha = hex(&Sha256::digest(&bytes));

    // The older namesake: same name and size, other bytes, stored before the upload starts.
    let namesake = if schedule.namesake {
        let mut other = random_bytes(&mut rng, schedule.size);
        other[0] ^= 0xFF;
        let client = kommo_files::blocking::Client::new(config(&emulator, None)?)?;
        let file = client.upload_bytes(&name, other.clone(), UploadOptions::new())?;
        Some((file.uuid, hex(&Sha256::digest(&other))))
    } else {
        None
    };
    emulator.clear_requests();
    let fault_ids: Vec<u64> = schedule
        .faults
        .iter()
        .map(|fault| emulator.add_fault(fault.clone()))
        .collect();

    let mut outcome = Outcome::default();
    let counters = Arc::new(Counters {
        restarts: AtomicU64::new(0),
        found: AtomicU64::new(0),
        not_stored: AtomicU64::new(0),
    });
    let checkpoint = dir.join("upload.checkpoint.json");
    let state_dir = dir.join("cli-state");
    let cli_config = if schedule.client == ClientKind::Cli {
        Some(write_cli_config(&emulator, dir)?)
    } else {
        None
    };
    let mut faults_on = true;
    let mut stored = None;
    let mut run_no = 0u32;
    // `SOAK_TRACE=1`: the emulator's request log after each run, to replay a schedule by hand.
    let trace = std::env::var_os("SOAK_TRACE").is_some();
    let mut logged = 0;
    loop {
        if faults_on && run_no >= schedule.faulty_runs {
            outcome.faults_fired += fired(&emulator);
            emulator.clear_faults();
            faults_on = false;
        }
        if !faults_on && run_no >= schedule.faulty_runs + CLEAN_RUNS {
            break;
        }
        let first = run_no == 0;
        let kill = if first { schedule.kill } else { Kill::None };
        let delay_fault = fault_ids.last().copied();
        let end = match schedule.client {
            ClientKind::Cli => {
                let cli = env.cli.ok_or("a CLI schedule needs --cli PATH")?;
                let config = cli_config.as_deref().expect("written for the CLI");
                cli_run(
                    cli,
                    config,
                    &path,
                    &state_dir,
                    dir,
                    &emulator,
                    kill,
                    delay_fault,
                )?
            }
            ClientKind::Blocking | ClientKind::Async => {
                let mut options = UploadOptions::new().checkpoint_file(&checkpoint);
                let events = Arc::clone(&counters);
                options = options.on_event(move |event| match event {
                    UploadEvent::Restarted { .. } => {
                        events.restarts.fetch_add(1, Ordering::Relaxed);
                    }
                    UploadEvent::FinalPartFound { .. } => {
                        events.found.fetch_add(1, Ordering::Relaxed);
                    }
                    UploadEvent::FinalPartNotStored => {
                        events.not_stored.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                });
                if let (true, ClockJump::MidUpload { acknowledged }) = (first, schedule.clock) {
                    let emulator = Arc::clone(&emulator);
                    let jumped = AtomicBool::new(false);
                    options = options.on_progress(move |progress| {
                        if progress.acknowledged >= acknowledged
                            && !jumped.swap(true, Ordering::SeqCst)
                        {
                            emulator.advance_clock(Duration::from_secs(JUMP_SECS));
                        }
                    });
                }
                let config = config(&emulator, schedule.read_timeout_ms)?;
                let source = match schedule.source {
                    Source::Path => None,
                    Source::Bytes => Some(bytes.clone()),
                };
                if schedule.client == ClientKind::Blocking {
                    blocking_run(config, &path, &name, source, options)
                } else {
                    async_run(
                        env.runtime,
                        config,
                        &path,
                        &name,
                        source,
                        options,
                        &emulator,
                        kill,
                        delay_fault,
                    )
                }
            }
        };
        run_no += 1;
        outcome.runs += 1;
        if trace {
            eprintln!("  -- run {run_no}: {end:?}");
            for r in emulator.requests().iter().skip(logged) {
                let path = r.path.split('?').next().unwrap_or("");
                let path = if path.len() > 40 { &path[..40] } else { path };
                eprintln!(
                    "     {:>3} {:?} {} {path} -> {:?} in {} {}",
                    r.seq,
                    r.host,
                    r.method,
                    r.status,
                    r.bytes_in,
                    r.fault.as_deref().unwrap_or("")
                );
            }
            logged = emulator.requests().len();
        }
        match end {
            RunEnd::Stored(uuid) => {
                stored = Some(uuid);
                break;
            }
            RunEnd::Failed(what) => {
                if !faults_on {
                    outcome
                        .problems
                        .push(format!("run {run_no} failed with the faults off: {what}"));
                }
                outcome.failures.push(what);
            }
            RunEnd::Killed => outcome.kills += 1,
            RunEnd::Panicked(message) => {
                outcome.panics += 1;
                outcome
                    .problems
                    .push(format!("run {run_no} panicked: {message}"));
            }
        }
        if first {
            if let Kill::LastPartInFlight {
                delay_ms,
                settle: true,
                ..
            } = kill
            {
                std::thread::sleep(Duration::from_millis(delay_ms + 50));
            }
            if schedule.clock == ClockJump::BetweenRuns {
                emulator.advance_clock(Duration::from_secs(JUMP_SECS));
            }
        }
    }
    if faults_on {
        outcome.faults_fired += fired(&emulator);
        emulator.clear_faults();
    }
    outcome.restarts = counters.restarts.load(Ordering::Relaxed);
    outcome.found_final_part = counters.found.load(Ordering::Relaxed);
    outcome.final_part_not_stored = counters.not_stored.load(Ordering::Relaxed);
    for failure in &outcome.failures {
        if !clean(failure) {
            outcome.unclean += 1;
            outcome.problems.push(format!("unclean failure: {failure}"));
        }
    }
    // Let a part held by a delay land before the files are counted.
    if let Kill::LastPartInFlight { delay_ms, .. } = schedule.kill {
        std::thread::sleep(Duration::from_millis(delay_ms / 2));
    }
    check_stored(
        &emulator,
        &source_sha,
        schedule.size,
        namesake.as_ref(),
        stored.as_deref(),
        &mut outcome,
    );
    let sent: u64 = emulator
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/upload/"))
        .map(|r| r.bytes_in)
        .sum();
    outcome.resent_bytes = sent.saturating_sub(schedule.size);
    Ok(outcome)
}

/// A failure is clean when it is one typed error: not `Internal`, no token, one `error:` line.
fn clean(failure: &str) -> bool {
    !failure.starts_with("UNCLEAN")
}

fn fired(emulator: &EmulatorHandle) -> u64 {
    emulator.faults().iter().map(|f| u64::from(f.fired)).sum()
}

fn check_stored(
    emulator: &EmulatorHandle,
    source_sha: &str,
    size: u64,
    namesake: Option<&(String, String)>,
    stored: Option<&str>,
    outcome: &mut Outcome,
) {
    let files = emulator.files();
    let copies = files
        .iter()
        .filter(|f| !f.is_trashed)
        .flat_map(|f| f.versions.iter())
        .filter(|v| v.sha256 == source_sha)
        .count() as u64;
    if copies > 1 {
        outcome.duplicates += copies - 1;
        outcome
            .problems
            .push(format!("the source is stored {copies} times"));
    }
    for file in &files {
        for version in &file.versions {
            let known = version.sha256 == source_sha
                || namesake.is_some_and(|(uuid, sha)| *uuid == file.uuid && version.sha256 == *sha);
            if !known {
                outcome.corrupted += 1;
                outcome.problems.push(format!(
                    "file {} holds {} bytes that are neither the source nor the namesake",
                    file.uuid, version.size
                ));
            }
        }
    }
    match stored {
        None => {
            outcome.lost += 1;
            outcome.problems.push(format!(
                "no run succeeded ({copies} stored copy/copies of the source)"
            ));
        }
        Some(uuid) => {
            let main = files
                .iter()
                .find(|f| f.uuid == uuid)
                .and_then(|f| f.versions.iter().find(|v| v.is_main));
            match main {
                Some(v) if v.sha256 == source_sha && v.size == size => {}
                Some(_) if namesake.is_some_and(|(n, _)| n == uuid) => {
                    outcome.corrupted += 1;
                    outcome
                        .problems
                        .push(format!("the result {uuid} is the older namesake"));
                }
                Some(v) => {
                    outcome.corrupted += 1;
                    outcome.problems.push(format!(
                        "the result {uuid} holds {} bytes with another SHA-256",
                        v.size
                    ));
                }
                None => {
                    outcome.lost += 1;
                    outcome
                        .problems
                        .push(format!("the result {uuid} is not stored"));
                }
            }
        }
    }
}

fn config(emulator: &EmulatorHandle, read_timeout_ms: Option<u64>) -> Res<ClientConfig> {
    // Retries wait milliseconds, not seconds: the schedule is about outcomes, not patience.
    let fast = RetryPolicy::default()
        .delays(Duration::from_millis(2), Duration::from_millis(40))
        .max_elapsed(Duration::from_secs(20));
    let mut config = ClientConfig::for_url(emulator.account_url(), TOKEN)?
        .requests_per_second(None)
        .retry(fast)
        .upload_retry(fast);
    if let Some(ms) = read_timeout_ms {
        config = config.read_timeout(Duration::from_millis(ms));
    }
    Ok(config)
}

/// A failed SDK run in words; `UNCLEAN` first when it is not one clean typed error.
fn describe_error(error: &kommo_files::Error) -> String {
    let mut text = format!("{error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    let debug = format!("{error:?}");
    let kind = error.kind();
    let mut flaws = Vec::new();
    if kind == ErrorKind::Internal {
        flaws.push("an internal error");
    }
    if text.contains(TOKEN) || debug.contains(TOKEN) {
        flaws.push("shows the bearer token");
    }
    if text.contains("eyJ") || debug.contains("eyJ") {
        flaws.push("shows an upload token");
    }
    if text.trim().is_empty() {
        flaws.push("no message");
    }
    if flaws.is_empty() {
        format!("{kind:?}: {text}")
    } else {
        format!("UNCLEAN ({}) {kind:?}: {text}", flaws.join(", "))
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn blocking_run(
    config: ClientConfig,
    path: &Path,
    name: &str,
    bytes: Option<Vec<u8>>,
    options: UploadOptions,
) -> RunEnd {
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let client = kommo_files::blocking::Client::new(config)?;
        match bytes {
            Some(bytes) => client.upload_bytes(name, bytes, options),
            None => client.upload_path(path, options),
        }
    }));
    match result {
        Ok(Ok(file)) => RunEnd::Stored(file.uuid),
        Ok(Err(error)) => RunEnd::Failed(describe_error(&error)),
        Err(payload) => RunEnd::Panicked(panic_message(payload.as_ref())),
    }
}

#[allow(clippy::too_many_arguments)]
fn async_run(
    runtime: &tokio::runtime::Runtime,
    config: ClientConfig,
    path: &Path,
    name: &str,
    bytes: Option<Vec<u8>>,
    options: UploadOptions,
    emulator: &EmulatorHandle,
    kill: Kill,
    delay_fault: Option<u64>,
) -> RunEnd {
    let path = path.to_owned();
    let name = name.to_owned();
    let task = runtime.spawn(async move {
        let client = kommo_files::Client::new(config)?;
        match bytes {
            Some(bytes) => client.upload_bytes(&name, bytes, options).await,
            None => client.upload_path(&path, options).await,
        }
    });
    if kill != Kill::None {
        wait_for_kill(emulator, kill, delay_fault, || task.is_finished());
        // The future is dropped where it stands, as a crashed service would leave it.
        task.abort();
    }
    match runtime.block_on(task) {
        Ok(Ok(file)) => RunEnd::Stored(file.uuid),
        Ok(Err(error)) => RunEnd::Failed(describe_error(&error)),
        Err(error) if error.is_panic() => {
            RunEnd::Panicked(panic_message(error.into_panic().as_ref()))
        }
        Err(_) => RunEnd::Killed,
    }
}

/// Waits until the moment of the kill: a fixed time after the start, or some time after the
/// delay fault on the last part fired (or the run ended first).
fn wait_for_kill(
    emulator: &EmulatorHandle,
    kill: Kill,
    delay_fault: Option<u64>,
    mut finished: impl FnMut() -> bool,
) {
    match kill {
        Kill::None => {}
        Kill::AtRandom { after_ms } => std::thread::sleep(Duration::from_millis(after_ms)),
        Kill::LastPartInFlight { after_ms, .. } => {
            let started = Instant::now();
            let id = delay_fault.expect("the delay fault is the last one");
            while !finished() && started.elapsed() < Duration::from_secs(30) {
                let fired = emulator.faults().iter().any(|f| f.id == id && f.fired > 0);
                if fired {
                    std::thread::sleep(Duration::from_millis(after_ms));
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

fn write_cli_config(emulator: &EmulatorHandle, dir: &Path) -> Res<PathBuf> {
    use std::io::Write;
    let path = dir.join("cli-config.toml");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&path)?;
    writeln!(
        out,
        "base_url = \"{}\"\ntoken = \"{TOKEN}\"\nrequests_per_second = 0",
        emulator.account_url()
    )?;
    Ok(path)
}

/// One run of `kommo-files upload PATH`: the same command each time, so it resumes.
#[allow(clippy::too_many_arguments)]
fn cli_run(
    cli: &Path,
    config: &Path,
    path: &Path,
    state_dir: &Path,
    dir: &Path,
    emulator: &EmulatorHandle,
    kill: Kill,
    delay_fault: Option<u64>,
) -> Res<RunEnd> {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("tmp"))?;
    let mut command = Command::new(cli);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("KOMMO_") || name.starts_with("XDG_") {
            command.env_remove(name.as_ref());
        }
    }
    command
        .arg("--config")
        .arg(config)
        .arg("upload")
        .arg(path)
        .arg("--state-dir")
        .arg(state_dir)
        .arg("-q")
        .env("HOME", &home)
        .env("TMPDIR", home.join("tmp"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;
    let stdout = reader(child.stdout.take().expect("piped"));
    let stderr = reader(child.stderr.take().expect("piped"));
    let started = Instant::now();
    let mut killed = false;
    if kill != Kill::None {
        wait_for_kill(emulator, kill, delay_fault, || {
            child.try_wait().ok().flatten().is_some()
        });
        // SIGKILL: no chance to save anything more than what is already on disk.
        if child.try_wait()?.is_none() {
            child.kill()?;
            killed = true;
        }
    }
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > CLI_TIMEOUT {
            child.kill()?;
            let _ = child.wait();
            return Ok(RunEnd::Failed(format!(
                "UNCLEAN (hung for {CLI_TIMEOUT:?}) stderr: {}",
                stderr.join().unwrap_or_default()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    if err.contains("panicked") || out.contains("panicked") {
        return Ok(RunEnd::Panicked(err));
    }
    let mut flaws = Vec::new();
    if out.contains(TOKEN) || err.contains(TOKEN) {
        flaws.push("shows the bearer token".to_owned());
    }
    if out.contains("eyJ") || err.contains("eyJ") {
        flaws.push("shows an upload token".to_owned());
    }
    let code = status.code();
    if killed && code.is_none() {
        return Ok(RunEnd::Killed);
    }
    let errors = err.lines().filter(|l| l.starts_with("error:")).count();
    let end = match code {
        Some(0) => match uuid_of(&out) {
            Some(uuid) if flaws.is_empty() => RunEnd::Stored(uuid),
            Some(uuid) => {
                return Ok(RunEnd::Failed(format!(
                    "UNCLEAN ({}) success {uuid}",
                    flaws.join(", ")
                )))
            }
            None => RunEnd::Failed(format!("UNCLEAN (exit 0 without a result) stdout: {out}")),
        },
        Some(1) if errors == 1 && flaws.is_empty() => RunEnd::Failed(format!(
            "exit 1: {}",
            err.lines()
                .filter(|l| l.starts_with("error:") || l.starts_with("failed "))
                .collect::<Vec<_>>()
                .join(" / ")
        )),
        other => {
            if errors != 1 {
                flaws.push(format!("{errors} error: lines"));
            }
            RunEnd::Failed(format!(
                "UNCLEAN ({}) exit {other:?}, stderr: {}",
                flaws.join(", "),
                err.trim()
            ))
        }
    };
    Ok(end)
}

/// The UUID in `uploaded PATH -> UUID (size)` (or `resumed` / `already uploaded`).
fn uuid_of(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let (_, rest) = line.split_once(" -> ")?;
        Some(rest.split_whitespace().next()?.to_owned())
    })
}

fn reader(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn random_bytes(rng: &mut Rng, size: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size as usize + 8);
    while (bytes.len() as u64) < size {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes.truncate(size as usize);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
