//! `authctl sms-sign-in`: enable or disable SMS sign-in on a user's mobile.

use crate::cli::Context;
use crate::exit::ExitCode;

/// Arguments of `authctl sms-sign-in`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    Err(miette::miette!("`authctl sms-sign-in` is not built yet"))
}
