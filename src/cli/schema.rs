//! `authctl schema`: print the JSON Schema (draft-07) of manifests or saved plans.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl schema` is not built yet"))
}
