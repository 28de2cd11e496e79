//! `authctl phone`: add, update or remove one phone method (a quick fix).

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl phone`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl phone` is not built yet"))
}
