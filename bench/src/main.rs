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
