//! `cargo xtask bench`: the clients side by side with raw HTTP loops and a Python loop, the
//! CLI's memory, request counts under dropped connections, and many small files, all against
//! the embedded emulator on loopback. Prints a markdown report and writes it to `--out`.
//!
//! ```text
//! kommo-files-bench [--runs N] [--quick] [--only LIST] [--cli PATH] [--out PATH]
//! ```
//!
//! Exits 1 when a target was missed (the report still gets written), 2 on bad arguments.

mod args;
mod counting;
mod efficiency;
mod fixture;
mod many_files;
mod memory;
mod python;
mod raw;
mod report;
mod stats;
mod sync;
mod throughput;

use std::process::ExitCode;

use args::{Args, Scenario};
use fixture::Workdir;
use report::Section;

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(missed) => {
            eprintln!("{missed} target(s) missed: see the report");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen scenarios; returns how many targets were missed.
fn run(args: &Args) -> BenchResult<usize> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let work = Workdir::new("run")?;
    let sizes = args.sizes();
    let mut sections: Vec<Section> = Vec::new();
    for scenario in &args.scenarios {
        eprintln!("== {}", scenario.name());
        match scenario {
            Scenario::Throughput => {
                let (throughput, headroom) = throughput::run(sizes.throughput, &runtime, &work)?;
                sections.push(throughput);
                sections.push(headroom);
            }
            Scenario::Memory => {
                let cli = args
                    .cli
                    .as_ref()
                    .ok_or("the memory scenario needs --cli PATH")?;
                sections.push(memory::run(&sizes.memory, cli, &work)?);
            }
            Scenario::Requests => sections.push(efficiency::run(&sizes.requests, &runtime, &work)?),
            Scenario::ManyFiles => {
                sections.push(many_files::run(&sizes.many_files, &runtime, &work)?)
            }
            Scenario::Sync => sections.push(sync::run(&sizes.sync, args.cli.as_deref(), &work)?),
        }
    }
    sections.sort_by_key(|section| section.title.clone());
    let document = report::document(&sections, &args.describe());
    println!("{document}");
    if let Some(out) = &args.out {
        std::fs::write(out, &document)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(sections.iter().map(Section::missed).sum())
}

#[cfg(test)]
mod tests {
    //! The scenarios at toy sizes, so the bench cannot rot between runs. Only what does not
    //! depend on timing is asserted: request counts and re-sent bytes, and that every table
    //! was filled. Speed is for `cargo xtask bench`, not for tests.

    use super::*;
    use crate::fixture::KIB;
    use crate::report::Outcome;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn every_contender_uploads_the_same_requests() {
        let work = Workdir::new("test-throughput").unwrap();
        let settings = throughput::Settings {
            size: 300 * KIB,
            part: 64 * KIB,
            runs: 1,
        };
        let (section, headroom) = throughput::run(settings, &runtime(), &work).unwrap();
        assert!(section.render().contains("| raw ureq loop |"));
        assert!(headroom.render().contains("| reqwest |"));
    }

    #[test]
    fn request_counts_and_resent_bytes_meet_their_bounds() {
        let work = Workdir::new("test-requests").unwrap();
        let settings = efficiency::Settings {
            size: 20 * 16 * KIB,
            part: 16 * KIB,
            drops: vec![0, 1, 3],
        };
        let section = efficiency::run(&settings, &runtime(), &work).unwrap();
        assert_eq!(section.checks.len(), 6 * 2 + 3 * 2);
        for check in &section.checks {
            assert_eq!(check.outcome, Outcome::Met, "{}", check.target);
        }
    }

    #[test]
    fn sync_counts_its_requests() {
        let work = Workdir::new("test-sync").unwrap();
        let settings = sync::Settings {
            linked_files: 8,
            noop_files: 200,
            export_files: 4,
            export_latency_ms: 1,
            export_jobs: vec![1, 2],
        };
        let section = sync::run(&settings, None, &work).unwrap();
        // At toy sizes the fixed requests (discovery, one batch each) weigh on the ratio.
        for check in section
            .checks
            .iter()
            .filter(|c| !c.target.contains("per file"))
        {
            assert_ne!(check.outcome, Outcome::Missed, "{}", check.target);
        }
        assert!(section.render().contains("| no-op |"));
    }

    #[test]
    fn many_files_run_at_each_concurrency_and_paced() {
        let work = Workdir::new("test-many").unwrap();
        let settings = many_files::Settings {
            files: 6,
            file_size: 4 * KIB,
            concurrency: vec![1, 3],
            latency_ms: 1,
            paced_files: 2,
            runs: 1,
        };
        let section = many_files::run(&settings, &runtime(), &work).unwrap();
        let text = section.render();
        assert!(text.contains("| 3 |"), "{text}");
        assert!(text.contains("no 429 answer with pacing on: 0"), "{text}");
    }
}
