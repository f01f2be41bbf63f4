//! The report: markdown tables with the targets each scenario checks, and the machine they ran on.

use std::fmt::Write as _;
use std::process::Command;

/// A markdown table.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out.push_str(&line(&vec!["---".to_owned(); self.header.len()]));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// A target and whether this run met it.
#[derive(Debug)]
pub struct Check {
    pub target: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Met,
    Missed,
    /// Not measurable here (a baseline was missing).
    Skipped,
}

impl Check {
    pub fn new(target: impl Into<String>, met: bool) -> Self {
        Self {
            target: target.into(),
            outcome: if met { Outcome::Met } else { Outcome::Missed },
        }
    }

    pub fn skipped(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            outcome: Outcome::Skipped,
        }
    }
}

/// One scenario's part of the report.
#[derive(Debug)]
pub struct Section {
    pub title: String,
    pub intro: String,
    pub tables: Vec<Table>,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
}

impl Section {
    pub fn new(title: &str, intro: &str) -> Self {
        Self {
            title: title.to_owned(),
            intro: intro.to_owned(),
            tables: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn render(&self) -> String {
        let mut out = format!("## {}\n\n{}\n\n", self.title, self.intro);
        for table in &self.tables {
            out.push_str(&table.render());
            out.push('\n');
        }
        for check in &self.checks {
            let mark = match check.outcome {
                Outcome::Met => "met",
                Outcome::Missed => "**MISSED**",
                Outcome::Skipped => "skipped",
            };
            let _ = writeln!(out, "- {mark}: {}", check.target);
        }
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        if !self.checks.is_empty() || !self.notes.is_empty() {
            out.push('\n');
        }
        out
    }

    pub fn missed(&self) -> usize {
        self.checks
            .iter()
            .filter(|check| check.outcome == Outcome::Missed)
            .count()
    }
}

/// The whole document: what ran, where, and every section.
pub fn document(sections: &[Section], settings: &str) -> String {
    let mut out = String::from(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` (release build, everything on loopback against the \
         embedded emulator). Numbers are medians; rerun the command to refresh this file. \
         How to read them, and what was fixed or left: [below](#reading-the-numbers).\n\n",
    );
    let _ = write!(out, "**Machine**: {}\n\n**Run**: {settings}\n\n", machine());
    for section in sections {
        out.push_str(&section.render());
    }
    out.push_str(NOTES);
    out
}

/// What the numbers mean and what was done about them: kept by hand in `bench/NOTES.md`.
const NOTES: &str = include_str!("../NOTES.md");

/// CPU, cores, memory, OS and compiler, from what Linux and rustc say about themselves.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = field(&meminfo, "MemTotal")
        .and_then(|kb| kb.trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or_else(
            || "unknown memory".to_owned(),
            |kb| format!("{:.0} GiB", kb / 1048576.0),
        );
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os = os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map_or_else(
            || std::env::consts::OS.to_owned(),
            |name| name.trim_matches('"').to_owned(),
        );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores available, {memory}; {os}, Linux {}; {}; {}",
        kernel.trim(),
        command_line("rustc", &["--version"]),
        command_line("date", &["-u", "+%Y-%m-%d"]),
    )
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_owned())
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map_or_else(
            || format!("{program}: unknown"),
            |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        )
}

/// `1.23` style numbers for the tables.
pub fn fixed(value: f64, decimals: usize) -> String {
    if value.is_nan() {
        "–".to_owned()
    } else {
        format!("{value:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_renders_as_markdown() {
        let mut table = Table::new(&["who", "MiB/s"]);
        table.row(vec!["raw".to_owned(), fixed(101.234, 1)]);
        assert_eq!(
            table.render(),
            "| who | MiB/s |\n| --- | --- |\n| raw | 101.2 |\n"
        );
    }

    #[test]
    fn a_section_marks_missed_targets() {
        let mut section = Section::new("T", "intro");
        section.checks.push(Check::new("fast", false));
        section.checks.push(Check::new("right", true));
        section.checks.push(Check::skipped("python"));
        let text = section.render();
        assert!(text.contains("- **MISSED**: fast\n- met: right\n- skipped: python\n"));
        assert_eq!(section.missed(), 1);
    }
}
