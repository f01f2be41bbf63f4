//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `ci`: everything CI checks, in the order that fails fastest: fmt, clippy (which also holds
//!   the code to the declared MSRV, see `tidy`), tests, a soak, each crate alone, docs (also as
//!   docs.rs builds them), and `cargo package` of every published crate.
//! - `bench [ARGS]`: builds in release mode and runs `kommo-files-bench`; a full run writes
//!   `docs/benchmarks.md` (ARGS go to it: `--runs N`, `--quick`, `--only LIST`).
//! - `soak [N] [--seed S] [--only K] [--release] [...]`: builds `kommo-files-soak` and the CLI
//!   (debug unless `--release`) and runs N random fault schedules (see `docs/reliability.md`).

mod tidy;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "ci" => ci(),
        "bench" => bench(std::env::args().skip(2).collect()),
        "soak" => soak(std::env::args().skip(2).collect()),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | cargo xtask bench [--runs N] [--quick] [--only LIST] \
                 | cargo xtask soak [N] [--seed S] [--only K] [--release] [--kill-share F]"
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

/// The crates of the workspace that users depend on (the published ones), each checked alone
/// without default features and packaged.
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
    // About a minute on two cores: a fixed seed, so a failure here is a regression, not luck.
    soak(CI_SOAK.iter().map(|a| (*a).to_owned()).collect())?;
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
    // The docs as docs.rs builds them (`[package.metadata.docs.rs]`: all features, `--cfg
    // docsrs`, which turns on `doc_cfg` for the feature badges). docs.rs uses nightly; here
    // RUSTC_BOOTSTRAP lets this toolchain accept the feature. A target directory of its own,
    // since the variable is part of cargo's fingerprints and would rebuild the one above.
    cargo(
        &[
            "doc",
            "--workspace",
            "--no-deps",
            "--all-features",
            "--target-dir",
            "target/docsrs",
        ],
        &[
            ("RUSTDOCFLAGS", "--cfg docsrs -D warnings"),
            ("RUSTC_BOOTSTRAP", "1"),
        ],
    )?;
    package()?;
    Ok(())
}

/// `cargo package` of every published crate, verified: each `.crate` is unpacked and built
/// alone, as crates.io would serve it, so a file missing from the package, a path dependency
/// without a version or a broken manifest fails here, not at `cargo publish`. The crates depend
/// on each other at versions crates.io does not have yet; packaging them in one command makes
/// cargo resolve those from a temporary local registry of the packages it just made (only
/// crates.io itself is needed for the rest).
///
/// `--allow-dirty`: a local run with uncommitted changes packages the working tree (CI runs on
/// a clean clone, where it changes nothing). The packages land in `target/package/`.
fn package() -> Result<(), String> {
    let mut args = vec!["package", "--allow-dirty"];
    for krate in CRATES {
        args.extend(["-p", krate]);
    }
    cargo(&args, &[])
}

/// The soak `ci` runs: 100 schedules (30% through the CLI, 30% of those and of the async
/// ones killed), debug build.
const CI_SOAK: &[&str] = &["100", "--seed", "2026"];

/// `kommo-files-soak` with the CLI it drives, built in debug (or `--release`) mode.
fn soak(mut args: Vec<String>) -> Result<(), String> {
    let release = args.iter().any(|a| a == "--release");
    args.retain(|a| a != "--release");
    let mut build = vec!["build", "-p", "kommo-files-soak", "-p", "kommo-files-cli"];
    if release {
        build.push("--release");
    }
    cargo(&build, &[])?;
    let root = tidy::workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from)
        .join(if release { "release" } else { "debug" });
    let soak = target.join("kommo-files-soak");
    eprintln!("$ {} {}", soak.display(), args.join(" "));
    let status = Command::new(&soak)
        .arg("--cli")
        .arg(target.join("kommo-files"))
        .args(&args)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("{}: {e}", soak.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {} (a schedule failed: see its seed above)",
            soak.display(),
            args.join(" ")
        ))
    }
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
