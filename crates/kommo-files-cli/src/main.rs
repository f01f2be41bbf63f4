//! `kommo-files`: the Kommo (amoCRM) Files API from a terminal.
//!
//! Every command, its flags and exit codes are in `kommo-files --help` and `docs/cli.md`;
//! `kommo-files demo` is a guided tour against an embedded emulator.

#![deny(missing_docs)]

mod args;
mod cli;
mod commands;
mod connection;
mod dates;
mod failure;
mod interrupt;
mod logging;
mod login;
mod output;
mod progress;
mod state;

use std::process::ExitCode;

use clap::Parser;

use crate::failure::{Failure, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let json = cli.global.json;
    logging::init(cli.global.verbose);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", failure.render(json));
            ExitCode::from(failure.exit_code)
        }
    }
}

/// clap's own report (help and version are not errors), or its first line as JSON.
fn usage_error(error: clap::Error) -> ExitCode {
    let wants_json = std::env::args().any(|arg| arg == "--json");
    let is_usage = error.use_stderr();
    if wants_json && is_usage {
        let text = error.to_string();
        let message = text.lines().next().unwrap_or_default();
        let message = message.strip_prefix("error: ").unwrap_or(message);
        let failure = Failure::usage(message).hint("see kommo-files --help");
        eprintln!("{}", failure.render(true));
        return ExitCode::from(EXIT_USAGE);
    }
    let _ = error.print();
    match is_usage {
        true => ExitCode::from(EXIT_USAGE),
        false => ExitCode::SUCCESS,
    }
}
