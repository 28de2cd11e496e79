//! `authctl validate`: check manifests offline: syntax, schema, phone numbers and the rules Graph would refuse.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl validate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl validate` is not built yet"))
}
