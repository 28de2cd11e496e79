//! `authctl emulator`: run the built-in Microsoft Graph emulator on loopback.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl emulator`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl emulator` is not built yet"))
}
