//! `-v` / `-vv` / `-vvv` and `RUST_LOG`: the SDK's spans and events (its `tracing` feature) as
//! lines on standard error, printed above the progress bars (the bars are cleared, the line
//! written, the bars drawn again), so neither garbles the other.
//!
//! `-v` shows what the client decides (retries and their delays, failed attempts with their
//! status, restarts and their reasons, token refreshes), `-vv` every request (status, bytes,
//! attempt, part, time) and pacing wait, `-vvv` progress and checkpoints too. `RUST_LOG`, when
//! set, replaces the flags: `level` or `target=level` directives separated by commas
//! (`RUST_LOG=debug`, `RUST_LOG=kommo_files=info`). Without either, no subscriber is installed.

use std::io::Write;
use std::sync::Mutex;

use indicatif::MultiProgress;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The bars on screen, if any: log lines are printed above them.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Installs the subscriber `verbose` (the count of `-v`) or `RUST_LOG` asks for; nothing when
/// neither asks. A `RUST_LOG` that does not parse is reported and the flags are used instead.
pub fn init(verbose: u8) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty());
    let filter = match from_env.map(|value| value.parse::<Targets>()) {
        Some(Ok(filter)) => filter,
        Some(Err(error)) => {
            eprintln!(
                "warning: RUST_LOG ignored ({error}); use level or target=level, comma-separated"
            );
            match for_flags(verbose) {
                Some(filter) => filter,
                None => return,
            }
        }
        None => match for_flags(verbose) {
            Some(filter) => filter,
            None => return,
        },
    };
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(AboveBars)
        .with_ansi(false)
        .with_target(false);
    // Another subscriber already installed (a test harness) keeps its place.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .try_init();
}

/// What `-v`, `-vv` and `-vvv` show: the SDK's events at info, debug and trace.
fn for_flags(verbose: u8) -> Option<Targets> {
    let level = match verbose {
        0 => return None,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    Some(Targets::new().with_target("kommo_files", level))
}

/// Log lines go above these bars from now on (the latest bars shown).
pub fn above(bars: &MultiProgress) {
    *BARS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bars.clone());
}

/// Standard error, with the bars (if any) lifted for each line.
#[derive(Debug, Clone, Copy)]
struct AboveBars;

impl<'a> MakeWriter<'a> for AboveBars {
    type Writer = AboveBars;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

impl Write for AboveBars {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let bars = BARS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let write = || std::io::stderr().lock().write_all(line);
        match bars {
            Some(bars) => bars.suspend(write)?,
            None => write()?,
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
