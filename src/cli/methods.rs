//! `authctl methods`: list every authentication method of users.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl methods`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl methods` is not built yet"))
}
