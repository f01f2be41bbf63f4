//! `cargo xtask soak [N] [--seed S]`: N random fault schedules, each one upload through the
//! blocking client, the async client or the CLI, re-run until it succeeds with the faults off,
//! then checked: the source stored exactly once with its SHA-256, no older namesake returned,
//! no panic, every failure one clean typed error. See `docs/reliability.md`.
//!
//! ```text
//! kommo-files-soak [N] [--seed S] [--only K] [--cli PATH] [--cli-share F] [--kill-share F] [-v]
//! ```
//!
//! Exits 1 when a schedule found a duplicate, a corruption, a lost upload, a panic or an
//! unclean failure (printing its seed), 2 on bad arguments.

mod rng;
mod run;
mod schedule;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use run::{Env, Outcome};
use schedule::{Kill, Mix, Schedule};

const USAGE: &str = "usage: kommo-files-soak [N] [--seed S] [--only K] [--cli PATH] [--cli-share F] [--kill-share F] [-v]";

/// Schedule `k` of a run seeded `S` has the seed `S + k·GAP`, so `1 --seed <its seed>` replays
/// it alone.
const GAP: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Debug)]
struct Args {
    count: u64,
    seed: u64,
    only: Option<u64>,
    cli: Option<PathBuf>,
    mix: Mix,
    verbose: bool,
}

fn parse_u64(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("{text}: {e}"))
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("{text}: a share is a number from 0 to 1")),
    }
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Args {
            count: 100,
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
            only: None,
            cli: None,
            mix: Mix {
                cli_share: 0.3,
                kill_share: 0.3,
            },
            verbose: false,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--seed" => parsed.seed = parse_u64(&value()?)?,
                "--only" => parsed.only = Some(parse_u64(&value()?)?),
                "--cli" => {
                    let path = PathBuf::from(value()?);
                    let path = path
                        .canonicalize()
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    parsed.cli = Some(path);
                }
                "--cli-share" => parsed.mix.cli_share = parse_share(&value()?)?,
                "--kill-share" => parsed.mix.kill_share = parse_share(&value()?)?,
                "-v" | "--verbose" => parsed.verbose = true,
                "-h" | "--help" => return Err(String::new()),
                count if !count.starts_with('-') => parsed.count = parse_u64(count)?,
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if parsed.cli.is_none() {
            parsed.mix.cli_share = 0.0;
        }
        Ok(parsed)
    }
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match soak(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The figures of a whole run.
#[derive(Debug, Default)]
struct Totals {
    schedules: u64,
    by_client: [u64; 3],
    killed_schedules: u64,
    in_flight_kills: u64,
    clock_jumps: u64,
    namesakes: u64,
    sum: Outcome,
    failed: Vec<(u64, u64)>,
}

impl Totals {
    fn add(&mut self, index: u64, schedule: &Schedule, outcome: &Outcome) {
        self.schedules += 1;
        self.by_client[schedule.client as usize] += 1;
        if schedule.kill != Kill::None {
            self.killed_schedules += 1;
        }
        if matches!(schedule.kill, Kill::LastPartInFlight { .. }) {
            self.in_flight_kills += 1;
        }
        if schedule.clock != schedule::ClockJump::None {
            self.clock_jumps += 1;
        }
        if schedule.namesake {
            self.namesakes += 1;
        }
        let sum = &mut self.sum;
        sum.faults_fired += outcome.faults_fired;
        sum.runs += outcome.runs;
        sum.kills += outcome.kills;
        sum.resent_bytes += outcome.resent_bytes;
        sum.restarts += outcome.restarts;
        sum.found_final_part += outcome.found_final_part;
        sum.final_part_not_stored += outcome.final_part_not_stored;
        sum.duplicates += outcome.duplicates;
        sum.corrupted += outcome.corrupted;
        sum.lost += outcome.lost;
        sum.panics += outcome.panics;
        sum.unclean += outcome.unclean;
        sum.failures.extend(outcome.failures.iter().cloned());
        if outcome.failed() {
            self.failed.push((index, schedule.seed));
        }
    }

    fn table(&self, args: &Args, elapsed: f64) -> String {
        let s = &self.sum;
        let reruns = s.runs - self.schedules;
        let per_fault = s.resent_bytes.checked_div(s.faults_fired).unwrap_or(0);
        let mut out = String::new();
        let mut row = |what: &str, value: String| {
            out.push_str(&format!("| {what} | {value} |\n"));
        };
        row(
            "schedules",
            format!(
                "{} (blocking {}, async {}, CLI {}), seed {}",
                self.schedules, self.by_client[0], self.by_client[1], self.by_client[2], args.seed
            ),
        );
        row(
            "with a kill / last part in flight",
            format!("{} / {}", self.killed_schedules, self.in_flight_kills),
        );
        row("with a 25 h clock jump", self.clock_jumps.to_string());
        row("with an older namesake", self.namesakes.to_string());
        row("faults fired", s.faults_fired.to_string());
        row(
            "re-runs",
            format!(
                "{reruns} ({} runs failed cleanly, {} killed)",
                s.failures.len(),
                s.kills
            ),
        );
        row(
            "bytes re-sent",
            format!("{} in all, {per_fault} per fault fired", s.resent_bytes),
        );
        row(
            "SDK clients: restarts / last part found / not stored",
            format!(
                "{} / {} / {}",
                s.restarts, s.found_final_part, s.final_part_not_stored
            ),
        );
        row("duplicates", s.duplicates.to_string());
        row("corrupted", s.corrupted.to_string());
        row("lost", s.lost.to_string());
        row("panics", s.panics.to_string());
        row("unclean failures", s.unclean.to_string());
        row(
            "time",
            format!(
                "{elapsed:.1} s ({:.0} ms per schedule)",
                elapsed * 1000.0 / self.schedules.max(1) as f64
            ),
        );
        out
    }
}

fn soak(args: &Args) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let work = std::env::temp_dir().join(format!("kommo-files-soak-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let env = Env {
        runtime: &runtime,
        cli: args.cli.as_deref(),
        work: &work,
    };
    let started = Instant::now();
    let mut totals = Totals::default();
    let indices: Vec<u64> = match args.only {
        Some(k) => vec![k],
        None => (0..args.count).collect(),
    };
    for index in indices {
        let seed = args.seed.wrapping_add(index.wrapping_mul(GAP));
        let schedule = Schedule::generate(seed, args.mix);
        let began = Instant::now();
        let outcome = run::run(&schedule, &env)?;
        if args.verbose || outcome.failed() {
            eprintln!(
                "schedule {index} ({:.0} ms): {schedule}",
                began.elapsed().as_secs_f64() * 1000.0
            );
            for failure in &outcome.failures {
                eprintln!("    failed run: {failure}");
            }
        }
        if outcome.failed() {
            for problem in &outcome.problems {
                eprintln!("    PROBLEM: {problem}");
            }
            eprintln!(
                "    replay: cargo xtask soak 1 --seed {seed}{}",
                mix_flags(args)
            );
        }
        totals.add(index, &schedule, &outcome);
        if !args.verbose && totals.schedules % 50 == 0 {
            eprintln!(
                "{} schedules, {:.0} s",
                totals.schedules,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("| soak | |\n|---|---|");
    print!("{}", totals.table(args, started.elapsed().as_secs_f64()));
    if totals.failed.is_empty() {
        println!("\nno duplicate, corruption, lost upload, panic or unclean failure");
        Ok(true)
    } else {
        println!("\n{} failing schedule(s):", totals.failed.len());
        for (index, seed) in &totals.failed {
            println!(
                "  schedule {index}: seed {seed} (cargo xtask soak 1 --seed {seed}{}, or --seed {} --only {index})",
                mix_flags(args),
                args.seed
            );
        }
        Ok(false)
    }
}

/// The mix flags that differ from the defaults, for a replay line.
fn mix_flags(args: &Args) -> String {
    let mut flags = String::new();
    if args.cli.is_some() && args.mix.cli_share != 0.3 {
        flags.push_str(&format!(" --cli-share {}", args.mix.cli_share));
    }
    if args.mix.kill_share != 0.3 {
        flags.push_str(&format!(" --kill-share {}", args.mix.kill_share));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_its_schedule() {
        let mix = Mix {
            cli_share: 0.3,
            kill_share: 0.3,
        };
        let a = Schedule::generate(42, mix).to_string();
        assert_eq!(a, Schedule::generate(42, mix).to_string());
        assert_ne!(a, Schedule::generate(43, mix).to_string());
    }

    #[test]
    fn a_few_sdk_schedules_pass() {
        let args = Args::parse(["6", "--seed", "7"].map(String::from).into_iter()).unwrap();
        assert_eq!(args.mix.cli_share, 0.0);
        assert!(soak(&args).unwrap());
    }
}
