//! `authctl drift`: report users whose Graph state differs from the manifests (exit 2 on drift).

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl drift`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl drift` is not built yet"))
}
