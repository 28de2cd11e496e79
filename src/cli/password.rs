//! `authctl password`: reset a user's password and follow the operation to its end.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl password`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl password` is not built yet"))
}
