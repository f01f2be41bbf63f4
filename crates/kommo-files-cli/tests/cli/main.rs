//! Integration tests of the `kommo-files` binary, run against in-process emulators.

mod auth;
mod batch;
mod commands;
mod config_file;
mod emulator_flag;
mod export;
mod hostile;
mod progress;
mod resume;
mod server_errors;
mod support;
mod sync;
mod tls;
mod usage;
mod verbose;
