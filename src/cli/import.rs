//! `authctl import`: write a manifest of users' current phone methods.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl import`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl import` is not built yet"))
}
