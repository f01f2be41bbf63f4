//! `export DIR`: the account's files out to disk.

use super::Context;
use crate::cli::ExportArgs;
use crate::failure::Failure;

pub fn export(_context: &Context, _args: &ExportArgs) -> Result<(), Failure> {
    Err(Failure::usage("export: not yet"))
}
