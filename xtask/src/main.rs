//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `ci`: everything CI checks, in the order that fails fastest.
//! - `bench [ARGS]`: builds in release mode and runs `kommo-files-bench`; a full run writes
//!   `docs/benchmarks.md` (ARGS go to it: `--runs N`, `--quick`, `--only LIST`).

mod tidy;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "ci" => ci(),
        "bench" => bench(std::env::args().skip(2).collect()),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | cargo xtask bench [--runs N] [--quick] [--only LIST]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => {
            eprintln!("xtask: `{failed}` failed");
            ExitCode::FAILURE
        }
    }
}

/// The crates of the workspace that users depend on, each checked alone without default features.
const CRATES: &[&str] = &[
    "kommo-files-model",
    "kommo-files-transport",
    "kommo-files",
    "kommo-files-emulator",
    "kommo-files-cli",
];

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(
        &["test", "--workspace", "--all-features"],
        &[("CI", "true")],
    )?;
    for krate in CRATES {
        cargo(
            &[
                "check",
                "-p",
                krate,
                "--no-default-features",
                "--all-targets",
            ],
            &[],
        )?;
    }
    cargo(
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    Ok(())
}

/// Benchmarks are measured on release builds only: the bench itself and the CLI it runs.
fn bench(args: Vec<String>) -> Result<(), String> {
    cargo(
        &[
            "build",
            "--release",
            "-p",
            "kommo-files-bench",
            "-p",
            "kommo-files-cli",
        ],
        &[],
    )?;
    let root = tidy::workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from)
        .join("release");
    let bench = target.join("kommo-files-bench");
    eprintln!("$ {} {}", bench.display(), args.join(" "));
    let mut command = Command::new(&bench);
    command.arg("--cli").arg(target.join("kommo-files"));
    // Only a full run replaces the report; `--quick` and `--only` print theirs.
    if !args.iter().any(|a| a == "--quick" || a == "--only") {
        command.arg("--out").arg(root.join("docs/benchmarks.md"));
    }
    let status = command
        .args(&args)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("{}: {e}", bench.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} (a target was missed or a scenario failed)",
            bench.display()
        ))
    }
}

/// Runs `cargo <args>` from the workspace root, echoing the command like a shell script would.
fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let line = format!("cargo {}", args.join(" "));
    eprintln!("$ {line}");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(tidy::workspace_root())
        .status()
        .map_err(|e| format!("{line}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(line)
    }
}
