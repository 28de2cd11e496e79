//! `authctl plan`: read manifests and Graph, print the changes that apply would make.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl plan`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl plan` is not built yet"))
}
