//! `authctl phone add|update|remove`: one quick phone fix, the imperative steps of Microsoft's walkthrough.
//!
//! There is no second implementation of the rules here: a change becomes a one-user, merge-mode [`DesiredUser`]
//! (only the touched type is managed), the user is read with the same pipeline `plan` uses, planned with the pure
//! engine (number validation, canonical comparison, ordering, "alternateMobile needs a mobile", SMS sign-in states,
//! the lock-out preflight), and executed with apply's executor (freshness, idempotency, convergence). What is added
//! on top is only what an imperative verb means: `add` refuses to overwrite an existing phone (that is `update`),
//! `update` refuses to create one (that is `add`), and `--manifests` warns when a manifest would undo the change.
//! `authctl sms-sign-in` runs through [`run_change`] too. The change model ([`Change`]: the desired state, the verbs'
//! preconditions, the manifest conflicts) is pure and lives beside the plan engine (`crate::plan::change`).

use std::time::Duration;

use miette::miette;

use crate::apply::{ApplyOptions, apply_user};
use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::exit::ExitCode;
use crate::model::{ObservedUser, PhoneType};
use crate::observe::{NoProgress, finish_plan, fresh_salt, observe};
use crate::phone::PhoneNumber;
use crate::plan::{ApplyReport, Change, Observed, PlanSettings, UserOutcome};
use crate::render::report::apply_report_text;

/// Arguments of `authctl phone`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// `authctl phone` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Add a phone of a type the user doesn't have yet.
    Add(SetArgs),
    /// Change the number of the user's phone of a type.
    Update(SetArgs),
    /// Remove the user's phone of a type (nothing to do when there is none).
    Remove(RemoveArgs),
}

/// `--type`: Graph's phone types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TypeArg {
    /// The mobile (SMS and voice; the only type for SMS sign-in).
    #[value(name = "mobile")]
    Mobile,
    /// A second mobile (voice; needs a mobile).
    #[value(name = "alternateMobile")]
    AlternateMobile,
    /// An office phone (voice; the only type that may have an extension).
    #[value(name = "office")]
    Office,
}

impl From<TypeArg> for PhoneType {
    fn from(t: TypeArg) -> PhoneType {
        match t {
            TypeArg::Mobile => PhoneType::Mobile,
            TypeArg::AlternateMobile => PhoneType::AlternateMobile,
            TypeArg::Office => PhoneType::Office,
        }
    }
}

/// Arguments of `phone add` and `phone update`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The user: userPrincipalName or object id.
    #[arg(value_name = "USER")]
    pub user: String,
    /// The phone type.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub phone_type: TypeArg,
    /// The number, with `+` and country code, e.g. `+1 2065555555` (extension `x123` only on office).
    #[arg(long, value_name = "N")]
    pub number: String,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// Arguments of `phone remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The user: userPrincipalName or object id.
    #[arg(value_name = "USER")]
    pub user: String,
    /// The phone type.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub phone_type: TypeArg,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// Flags every imperative change takes (`phone …`, `sms-sign-in …`).
#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// Manifests (files, directories, `-`) to check: warn when they declare the user in a way that would undo
    /// this change at the next apply.
    #[arg(long, num_args = 1.., value_name = "PATHS")]
    pub manifests: Vec<String>,
    /// Allow a change that leaves the user nothing usable as a second factor or for sign-in.
    #[arg(long)]
    pub allow_lockout: bool,
    /// How long to re-read the user until Graph shows the change (replication lag).
    #[arg(long, default_value = "60s", value_parser = crate::units::parse_duration, value_name = "DURATION")]
    pub converge_timeout: Duration,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Parses a number given on the command line with the manifests' rules: strict parse (warning when possible but
/// not valid for the country), an extension only on an office phone.
pub fn parse_number(t: PhoneType, input: &str) -> Result<PhoneNumber, String> {
    let parsed = PhoneNumber::parse(input).map_err(|e| format!("--number: {e}"))?;
    if let Some(ext) = parsed.number.extension()
        && t != PhoneType::Office
    {
        return Err(format!(
            "--number: `{input}` has an extension (x{ext}); only an office phone may have one (remove the \
             extension, or use --type office)"
        ));
    }
    if let Some(w) = parsed.warning {
        tracing::warn!("{w}");
    }
    Ok(parsed.number)
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let (user, change, common) = match args.action {
        Action::Add(a) => {
            let t = PhoneType::from(a.phone_type);
            let n = parse_number(t, &a.number).map_err(|e| miette!("{e}"))?;
            (a.user, Change::Add(t, n), a.change)
        }
        Action::Update(a) => {
            let t = PhoneType::from(a.phone_type);
            let n = parse_number(t, &a.number).map_err(|e| miette!("{e}"))?;
            (a.user, Change::Update(t, n), a.change)
        }
        Action::Remove(a) => (a.user, Change::Remove(a.phone_type.into()), a.change),
    };
    run_change(&user, change, &common, ctx).await
}

/// Warns (stderr) for every manifest entry of this user that would undo `change`.
fn warn_about_manifests(paths: &[String], change: &Change, observed: &ObservedUser) {
    let manifests = crate::manifest::load(paths);
    if manifests.has_errors() {
        tracing::warn!(
            errors = manifests.error_count(),
            "--manifests: the manifests have errors; checked only the users that loaded (run `authctl validate`)"
        );
    }
    for c in change.conflicts(&manifests.users, observed) {
        eprintln!(
            "warning: {} is declared at {} with {} ({} mode); the next `authctl apply` of those manifests would \
             undo this change ({}). Change the manifest too.",
            observed.user_principal_name,
            c.declared.source,
            c.instead,
            c.declared.mode,
            change.describe()
        );
    }
}

/// Plans and applies one change to one user through the plan engine and apply's executor.
pub async fn run_change(
    user: &str,
    change: Change,
    common: &ChangeArgs,
    ctx: &Context,
) -> miette::Result<ExitCode> {
    let session = common.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let result = change_with(&graph, user, &change, common, ctx).await;
    session.finish().await?;
    result
}

async fn change_with(
    graph: &crate::graph::Graph,
    user: &str,
    change: &Change,
    common: &ChangeArgs,
    ctx: &Context,
) -> miette::Result<ExitCode> {
    let desired = vec![change.desired(user)];
    let mut observed = observe(graph, &desired, &NoProgress).await;
    match observed.get(user) {
        Some(Observed::Found { user: o, .. }) => {
            if let Err(e) = change.precondition(o) {
                // Printed unwrapped: the message carries a command to copy.
                eprintln!("error: {e}");
                return Ok(ExitCode::Error);
            }
            if !common.manifests.is_empty() {
                warn_about_manifests(&common.manifests, change, o);
            }
        }
        Some(Observed::Missing) | None => {
            return Err(miette!("user `{user}` does not exist in the tenant"));
        }
        Some(Observed::Error(e)) => return Err(miette!("reading user `{user}`: {e}")),
    }
    let mut settings = PlanSettings::new(graph.clock().now(), fresh_salt());
    settings.policy.allow_lockout = common.allow_lockout;
    let the_plan = finish_plan(graph, &desired, &mut observed, &settings, &NoProgress).await;
    // A run error (Graph masked the numbers) is said as plan, drift and import say it.
    if let Some(e) = &the_plan.error {
        return Err(miette!("{e}"));
    }
    let Some(up) = the_plan.users.first() else {
        return Err(miette!("nothing was planned for `{user}`"));
    };
    let who = up.display_name().to_string();
    if let Some(e) = &up.error {
        return Err(miette!("{who}: {e}"));
    }
    for w in &up.warnings {
        tracing::warn!("{who}: {w}");
    }
    if !up.blocked.is_empty() {
        for b in &up.blocked {
            eprintln!("{who}: refused to {}: {}", change.describe(), b.reason);
        }
        eprintln!("nothing was changed");
        return Ok(ExitCode::Error);
    }
    for p in &up.pending {
        eprintln!("{who}: pending user action ({}): {}", p.target, p.reason);
    }
    if up.actions.is_empty() {
        if !ctx.quiet {
            println!(
                "{who}: nothing to do ({} is already the case)",
                change.describe()
            );
        }
        return Ok(ExitCode::Success);
    }
    let options = ApplyOptions {
        parallelism: 1,
        converge_timeout: common.converge_timeout,
        ..ApplyOptions::default()
    };
    let report = apply_user(up, graph, &options).await;
    let failed = report.outcome != UserOutcome::Done;
    let report = ApplyReport {
        error: None,
        users: vec![report],
        policy: Vec::new(),
    };
    print!("{}", apply_report_text(&report, ctx.color_stdout));
    if failed || report.has_failures() {
        Ok(ExitCode::Error)
    } else {
        Ok(ExitCode::Success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_manifest_rules() {
        assert_eq!(
            parse_number(PhoneType::Mobile, "+12065555555")
                .unwrap()
                .canonical(),
            "+1 2065555555"
        );
        let e = parse_number(PhoneType::Mobile, "+1 4255550100x12").unwrap_err();
        assert!(e.contains("only an office phone may have one"), "{e}");
        assert_eq!(
            parse_number(PhoneType::Office, "+1 4255550100 ext. 12")
                .unwrap()
                .canonical(),
            "+1 4255550100x12"
        );
        assert!(
            parse_number(PhoneType::Mobile, "2065555555").is_err(),
            "a + country code is required"
        );
    }
}
