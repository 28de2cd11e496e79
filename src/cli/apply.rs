//! `authctl apply`: apply a saved plan, or plan and apply manifests.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl apply`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl apply` is not built yet"))
}
