//! `authctl auth`: credentials: show what the configured token allows.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl auth`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl auth` is not built yet"))
}
