//! The bench's command line, and the sizes each scenario runs with (`--quick` shrinks them).

use std::path::PathBuf;

use crate::fixture::{GIB, KIB, MIB};
use crate::{efficiency, many_files, memory, sync, throughput};

pub const USAGE: &str =
    "usage: kommo-files-bench [--runs N] [--quick] [--only LIST] [--cli PATH] [--out PATH]
  --runs N     runs per measurement, medians reported (default 5)
  --quick      small sizes: checks that every scenario works, numbers mean little
  --only LIST  comma-separated: throughput, memory, requests, many-files, sync (default all)
  --cli PATH   the release `kommo-files` binary (the memory scenario runs it)
  --out PATH   also write the report there";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Throughput,
    Memory,
    Requests,
    ManyFiles,
    Sync,
}

impl Scenario {
    const ALL: [Scenario; 5] = [
        Scenario::Throughput,
        Scenario::Memory,
        Scenario::Requests,
        Scenario::ManyFiles,
        Scenario::Sync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Throughput => "throughput",
            Scenario::Memory => "memory",
            Scenario::Requests => "requests",
            Scenario::ManyFiles => "many-files",
            Scenario::Sync => "sync",
        }
    }
}

#[derive(Debug)]
pub struct Args {
    pub runs: usize,
    pub quick: bool,
    pub scenarios: Vec<Scenario>,
    pub cli: Option<PathBuf>,
    pub out: Option<PathBuf>,
}

/// What each scenario runs with.
#[derive(Debug)]
pub struct Sizes {
    pub throughput: throughput::Settings,
    pub memory: memory::Settings,
    pub requests: efficiency::Settings,
    pub many_files: many_files::Settings,
    pub sync: sync::Settings,
}

impl Args {
    pub fn parse(mut words: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Args {
            runs: 5,
            quick: false,
            scenarios: Scenario::ALL.to_vec(),
            cli: None,
            out: None,
        };
        while let Some(word) = words.next() {
            let mut value = |name: &str| words.next().ok_or(format!("{name} needs a value"));
            match word.as_str() {
                "--runs" => {
                    args.runs = value("--runs")?
                        .parse()
                        .ok()
                        .filter(|runs| *runs > 0)
                        .ok_or("--runs takes a whole number above 0")?;
                }
                "--quick" => args.quick = true,
                "--only" => {
                    let list = value("--only")?;
                    args.scenarios = list
                        .split(',')
                        .map(|name| {
                            Scenario::ALL
                                .into_iter()
                                .find(|s| s.name() == name.trim())
                                .ok_or(format!("unknown scenario `{name}`"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--cli" => args.cli = Some(PathBuf::from(value("--cli")?)),
                "--out" => args.out = Some(PathBuf::from(value("--out")?)),
                other => return Err(format!("unexpected argument `{other}`")),
            }
        }
        Ok(args)
    }

    pub fn sizes(&self) -> Sizes {
        let part = 512 * KIB;
        let quick = self.quick;
        Sizes {
            throughput: throughput::Settings {
                size: if quick { 8 * MIB } else { 256 * MIB },
                part,
                runs: self.runs,
            },
            memory: memory::Settings {
                sizes: if quick {
                    vec![4 * MIB, 16 * MIB]
                } else {
                    vec![64 * MIB, GIB]
                },
                parts: if quick {
                    vec![part]
                } else {
                    vec![part, 8 * MIB]
                },
                runs: self.runs,
            },
            requests: efficiency::Settings {
                size: if quick { 8 * MIB } else { 64 * MIB },
                part,
                drops: vec![0, 1, 2, 4],
            },
            many_files: many_files::Settings {
                files: if quick { 40 } else { 500 },
                file_size: 64 * KIB,
                concurrency: vec![1, 4, 16],
                latency_ms: 20,
                paced_files: if quick { 15 } else { 60 },
                runs: self.runs,
            },
            sync: sync::Settings {
                linked_files: if quick { 30 } else { 200 },
                noop_files: if quick { 500 } else { 10_000 },
                export_files: if quick { 60 } else { 500 },
                export_latency_ms: 20,
                export_jobs: vec![1, 4, 16],
            },
        }
    }

    /// The run's settings in one line, for the report.
    pub fn describe(&self) -> String {
        format!(
            "`{}` runs per measurement{}",
            self.runs,
            if self.quick {
                ", **--quick** sizes (not representative)"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Args, String> {
        Args::parse(words.iter().map(|w| (*w).to_owned()))
    }

    #[test]
    fn defaults_and_flags() {
        let args = parse(&[]).unwrap();
        assert_eq!((args.runs, args.quick, args.scenarios.len()), (5, false, 5));
        let args = parse(&[
            "--runs",
            "5",
            "--quick",
            "--only",
            "memory,requests",
            "--out",
            "x.md",
        ])
        .unwrap();
        assert_eq!(args.runs, 5);
        assert_eq!(args.scenarios, vec![Scenario::Memory, Scenario::Requests]);
        assert_eq!(args.out, Some(PathBuf::from("x.md")));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert_eq!(
            parse(&["--runs", "0"]).unwrap_err(),
            "--runs takes a whole number above 0"
        );
        assert_eq!(
            parse(&["--only", "speed"]).unwrap_err(),
            "unknown scenario `speed`"
        );
        assert_eq!(parse(&["--runs"]).unwrap_err(), "--runs needs a value");
        assert_eq!(parse(&["-x"]).unwrap_err(), "unexpected argument `-x`");
    }
}
