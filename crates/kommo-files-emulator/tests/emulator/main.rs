//! Black-box HTTP tests of the emulator with a plain client (ureq), one test binary.

mod common;

mod account;
#[cfg(all(feature = "cli", unix))]
mod binary;
mod control;
mod faults;
mod files;
mod oauth;
mod persistence;
mod strict;
mod upload;
