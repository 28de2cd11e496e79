//! `authctl sms-sign-in enable|disable USER`: switch SMS sign-in on the user's mobile, through the same plan engine
//! and executor as `apply` (see [`crate::cli::phone`]): the SMS sign-in state table decides whether a call is made,
//! the user is blocked (no mobile, not in the policy, number not unique) or only the user can finish set-up.

use crate::cli::Context;
use crate::cli::phone::{ChangeArgs, run_change};
use crate::exit::ExitCode;
use crate::model::SmsSignIn;
use crate::plan::Change;

/// Arguments of `authctl sms-sign-in`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// `authctl sms-sign-in` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Enable SMS sign-in on the user's mobile.
    Enable(UserArgs),
    /// Disable SMS sign-in on the user's mobile.
    Disable(UserArgs),
}

/// The user and the change flags.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// The user: userPrincipalName or object id.
    #[arg(value_name = "USER")]
    pub user: String,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let (a, s) = match args.action {
        Action::Enable(a) => (a, SmsSignIn::Enabled),
        Action::Disable(a) => (a, SmsSignIn::Disabled),
    };
    run_change(&a.user, Change::SmsSignIn(s), &a.change, ctx).await
}
