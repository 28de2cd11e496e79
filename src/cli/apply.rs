//! `authctl apply`: apply a saved plan (`--plan FILE PATHS…`, reviewed already, applied without a prompt once it
//! is verified against the manifests), or plan the manifests, show the plan, and apply it after a `yes` on a
//! terminal (`--auto-approve` elsewhere). The gate (`crate::apply::verify`) and the executor (`crate::apply`) do
//! the work; this file resolves flags, asks, prints the report and picks the exit code (`crate::exit::decide`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use miette::miette;

use std::collections::HashMap;

use crate::apply::executor::{not_run, refused};
use crate::apply::{ApplyOptions, Journal, apply, verify};
use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::cli::output::{
    Bar, print_stdout, progress_for, show_manifest_diagnostics, show_plan_diagnostics,
};
use crate::cli::plan::PlanFlags;
use crate::exit::ExitCode;
use crate::exit::{Outcome, Policy, decide};
use crate::graph::Graph;
use crate::manifest;
use crate::observe::{Progress, build_plan, selected_users};
use crate::plan::{ApplyReport, Plan, UserOutcome};
use crate::render::{self, TextOptions};
use crate::units::parse_duration;

/// `--format` of `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    /// The plan (when planning), then the report, for people.
    Text,
    /// The report as one JSON document on stdout (the plan, when planning, goes to stderr as text).
    Json,
}

/// Arguments of `authctl apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files, directories (searched recursively for `*.yaml` and `*.yml`), or `-` for stdin. Alone: plan
    /// them and apply the plan. With `--plan`: the manifests the saved plan is verified against before anything is
    /// written (each user's remaining actions must be exactly what these manifests demand now).
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Apply this saved plan (`authctl plan --out FILE`) without asking: it was reviewed when it was made. Give the
    /// manifests too (`--plan FILE PATHS…`): the plan is refused whole, before any write, when it differs from what
    /// they demand. Users changed since are skipped and named; a plan of another format version is refused.
    #[arg(long = "plan", value_name = "FILE")]
    pub plan_file: Option<PathBuf>,
    /// With `--plan` and no PATHS: apply the saved plan without verifying it against manifests (only for a plan
    /// you made yourself; the lock-out and `--max-deletes` guards are still checked at apply).
    #[arg(long, requires = "plan_file", conflicts_with = "paths")]
    pub unverified: bool,
    /// Apply without asking (needed when stdin is not a terminal and manifests are given).
    #[arg(long)]
    pub auto_approve: bool,
    /// Append one JSON line per Graph call (time, user, operation, type, status, request-id) to this file, fsynced,
    /// mode 0600.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// How long to re-read applied users until Graph shows the change (read lag); not converged by then = exit 1.
    #[arg(long, value_parser = parse_duration, default_value = "60s", value_name = "DURATION")]
    pub converge_timeout: Duration,
    /// How to print the report on stdout.
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,
    /// Apply a plan whose authentication methods policy change takes a method away from users (a method disabled,
    /// all users or a group removed from its includes, a group added to its excludes, SMS sign-in turned off for a
    /// target). Without it such a plan is refused whole.
    #[arg(long)]
    pub allow_policy_removal: bool,
    #[command(flatten)]
    pub plan: PlanFlags,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// The largest saved plan `apply --plan` reads (512 MiB; a plan of 100,000 users is about 110 MB). Checked while
/// reading, so a pipe or a device (`/dev/zero`) is refused too instead of filling memory.
pub const MAX_PLAN_BYTES: u64 = 512 * 1024 * 1024;

fn read_plan_file(path: &std::path::Path) -> miette::Result<String> {
    use crate::manifest::ReadError;
    let bytes = crate::manifest::read_capped(path, MAX_PLAN_BYTES).map_err(|e| match e {
        ReadError::TooLarge { .. } => miette!(
            "the plan file {} is over authctl's limit of {MAX_PLAN_BYTES} bytes (512 MiB); it was not read",
            path.display()
        ),
        ReadError::Io(e) => miette!("cannot read the plan file {}: {e}", path.display()),
    })?;
    String::from_utf8(bytes)
        .map_err(|_| miette!("the plan file {} is not UTF-8 text", path.display()))
}

/// Runs the command.
pub async fn run(mut args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    // The repository's limits apply to a saved plan too: its guards are the apply side's (recounted at apply).
    args.plan = args.plan.with_config(ctx);
    let saved = match &args.plan_file {
        Some(path) => {
            if args.paths.is_empty() && !args.plan.users.is_empty() {
                return Err(miette!(
                    "--user with --plan selects which declared users the saved plan is verified against: give the \
                     manifest PATHs too"
                ));
            }
            if args.paths.is_empty() && !args.unverified {
                return Err(miette!(
                    "apply --plan {} needs the manifests the plan must match: `authctl apply --plan {} PATH…`. \
                     A saved plan is only a file: without PATHS nothing shows that its actions are what the \
                     manifests demand (it may have been edited). Pass --unverified to apply a plan you made \
                     yourself without that check",
                    path.display(),
                    path.display()
                ));
            }
            let text = read_plan_file(path)?;
            Some(Plan::from_json(&text).map_err(|e| miette!("{}: {e}", path.display()))?)
        }
        None if args.paths.is_empty() => {
            return Err(miette!(
                "give manifest PATHs to plan and apply, or --plan FILE PATHs to apply a saved plan"
            ));
        }
        None => None,
    };
    let journal = match &args.journal {
        Some(p) => {
            Some(Arc::new(Journal::open(p).map_err(|e| {
                miette!("cannot open the journal {}: {e}", p.display())
            })?))
        }
        None => None,
    };
    let manifests = if args.paths.is_empty() {
        None
    } else {
        let m = manifest::load(&args.paths);
        if !show_manifest_diagnostics(&m, ctx) {
            return Ok(ExitCode::Error);
        }
        Some(m)
    };

    let session = args.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let result = match saved {
        Some(plan) => run_saved(&args, ctx, &graph, plan, manifests, journal).await,
        None => run_connected(&args, ctx, &graph, manifests, journal).await,
    };
    session.finish().await?;
    result
}

/// `apply --plan FILE [PATHS…]`: the gate (verification against PATHS, the lock-out re-check, the apply side's
/// guards), then the executor for the users that passed.
async fn run_saved(
    args: &Args,
    ctx: &Context,
    graph: &Graph,
    plan: Plan,
    manifests: Option<crate::manifest::Manifests>,
    journal: Option<Arc<Journal>>,
) -> miette::Result<ExitCode> {
    let policy = args.plan.policy();
    let desired = match &manifests {
        Some(m) => Some(
            selected_users(graph, m, &policy)
                .await
                .map_err(|e| miette!("{e}"))?,
        ),
        None => None,
    };
    let policy_done = match saved_policy_gate(args, graph, &plan, manifests.as_ref()).await {
        Ok(done) => done,
        Err(refusal) => return refuse(args, ctx, &plan, refusal),
    };
    let bar = progress_for(ctx, plan.users.len());
    let verdict = verify(&plan, graph, desired.as_deref(), &policy, &bar).await;
    bar.finish();
    if let Some(refusal) = verdict.refusal_text() {
        return refuse(args, ctx, &plan, refusal);
    }
    // Users the remaining actions would now lock out (or that can't be verified) are skipped and named; the others
    // go to the executor.
    let locked: HashMap<usize, String> = verdict.skipped.iter().cloned().collect();
    ctx.check_protected(&plan)?;
    let mut runnable = plan.clone();
    runnable.users = plan
        .users
        .iter()
        .enumerate()
        .filter(|(i, _)| !locked.contains_key(i))
        .map(|(_, u)| u.clone())
        .collect();
    // The policy first: users whose SMS sign-in the policy change unblocks are re-read after it.
    let (mut options, bar) = apply_options(args, ctx, graph, &runnable, journal);
    options.max_deletes = Some(args.plan.max_deletes);
    let policy_outcomes = match plan.policy.as_ref().filter(|p| p.has_changes()) {
        Some(p) if policy_done => crate::apply::policy::already_applied(p),
        Some(p) => crate::apply::policy::apply_policy(p, graph, &options).await,
        None => Vec::new(),
    };
    let ran = apply(&runnable, graph, &options).await;
    bar.finish();
    let mut ran_users = ran.users.into_iter();
    let allowed: HashMap<usize, String> = verdict.allowed_lockouts.iter().cloned().collect();
    let mut users = Vec::with_capacity(plan.users.len());
    for (i, u) in plan.users.iter().enumerate() {
        let r = match locked.get(&i) {
            Some(why) => not_run(u, UserOutcome::Skipped, Some(why.clone())),
            None => {
                let mut r = ran_users
                    .next()
                    .unwrap_or_else(|| not_run(u, UserOutcome::NotAttempted, None));
                if let Some(why) = allowed.get(&i) {
                    r.notes
                        .push(format!("{why}; applied anyway because of --allow-lockout"));
                }
                r
            }
        };
        users.push(r);
    }
    let report = ApplyReport {
        error: ran.error,
        users,
        policy: policy_outcomes,
    };
    print_report(args, ctx, &report)?;
    Ok(exit_code(args, &plan, &report))
}

async fn run_connected(
    args: &Args,
    ctx: &Context,
    graph: &Graph,
    manifests: Option<crate::manifest::Manifests>,
    journal: Option<Arc<Journal>>,
) -> miette::Result<ExitCode> {
    let Some(m) = manifests else {
        return Err(miette!("give manifest PATHs to plan and apply"));
    };
    let bar = progress_for(ctx, m.users.len());
    let plan = build_plan(graph, &m, &args.plan.policy(), &bar)
        .await
        .map_err(|e| miette!("{e}"))?;
    bar.finish();
    show_plan_diagnostics(&plan, &m, ctx);
    ctx.check_protected(&plan)?;
    let shown = render::plan_text(
        &plan,
        TextOptions {
            color: if args.format == ApplyFormat::Text {
                ctx.color_stdout
            } else {
                ctx.color_stderr
            },
            redact: false,
        },
    );
    match args.format {
        ApplyFormat::Text => print_stdout(&shown)?,
        ApplyFormat::Json => eprint!("{shown}"),
    }
    if let Some(refusal) = plan
        .policy
        .as_ref()
        .and_then(|p| crate::apply::policy::refusal(p, args.allow_policy_removal))
    {
        return refuse(args, ctx, &plan, refusal);
    }
    if plan.has_changes() && !approved(args, ctx)? {
        eprintln!("Apply cancelled: nothing was changed.");
        return Ok(ExitCode::Error);
    }
    // The policy first: users whose SMS sign-in the policy change unblocks are re-read after it.
    let (options, bar) = apply_options(args, ctx, graph, &plan, journal);
    let policy_outcomes = match plan.policy.as_ref().filter(|p| p.has_changes()) {
        Some(p) => crate::apply::policy::apply_policy(p, graph, &options).await,
        None => Vec::new(),
    };
    let mut report = apply(&plan, graph, &options).await;
    report.policy = policy_outcomes;
    bar.finish();
    print_report(args, ctx, &report)?;
    Ok(exit_code(args, &plan, &report))
}

/// Refuses the whole plan: every user skipped, `why` as the report's error, exit 1.
fn refuse(args: &Args, ctx: &Context, plan: &Plan, why: String) -> miette::Result<ExitCode> {
    print_report(args, ctx, &refused(plan, why))?;
    Ok(ExitCode::Error)
}

/// The gate of a saved plan's policy part: not tampered with, made from the policy as it is now (or already
/// applied: `Ok(true)`), not destructive without `--allow-policy-removal`, and (verified) exactly what the manifests
/// demand of the policy now.
async fn saved_policy_gate(
    args: &Args,
    graph: &Graph,
    plan: &Plan,
    manifests: Option<&crate::manifest::Manifests>,
) -> Result<bool, String> {
    use crate::plan::methods_policy::canonical;
    let mut done = false;
    if let Some(p) = &plan.policy {
        if let Some(r) = crate::apply::policy::refusal(p, args.allow_policy_removal) {
            return Err(r);
        }
        done = crate::apply::policy::check_fresh(p, graph).await?;
    }
    let Some(manifests) = manifests else {
        return Ok(done);
    };
    let now = match &manifests.policy {
        Some(d) => Some(
            crate::observe::policy::plan_policy_from_graph(graph, d)
                .await
                .0,
        ),
        None => None,
    };
    if let Some(n) = &now
        && !n.errors.is_empty()
        && let Some(r) = crate::apply::policy::refusal(n, true)
    {
        return Err(r);
    }
    let shown = |p: Option<&crate::plan::PolicyPlan>| -> Vec<(String, String)> {
        p.map(|p| {
            p.methods
                .iter()
                .map(|m| (m.method.clone(), canonical(&m.patch)))
                .collect()
        })
        .unwrap_or_default()
    };
    // Already applied: the manifests must demand nothing more of the policy.
    let saved = if done {
        Vec::new()
    } else {
        shown(plan.policy.as_ref())
    };
    let demanded = shown(now.as_ref());
    if saved != demanded {
        let list = |v: &[(String, String)]| {
            if v.is_empty() {
                "no policy change".to_string()
            } else {
                v.iter()
                    .map(|(m, body)| format!("{m} {body}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        };
        return Err(format!(
            "the saved plan does not match what the manifests demand of the authentication methods policy; nothing \
             is applied. Make a new plan from these manifests:\n  - saved: {}\n  - demanded: {}",
            list(&saved),
            list(&demanded)
        ));
    }
    Ok(done)
}

/// The executor's options from the flags, with a progress bar over the users that have changes.
fn apply_options(
    args: &Args,
    ctx: &Context,
    graph: &Graph,
    plan: &Plan,
    journal: Option<Arc<Journal>>,
) -> (ApplyOptions, Arc<Bar>) {
    let progress = Arc::new(progress_for(
        ctx,
        plan.users.iter().filter(|u| u.has_changes()).count(),
    ));
    let options = ApplyOptions {
        parallelism: graph.settings().parallelism,
        converge_timeout: args.converge_timeout,
        journal,
        progress: Some(progress.clone() as Arc<dyn Progress>),
        max_deletes: None,
    };
    (options, progress)
}

/// `apply`'s exit code ([`crate::exit::decide`]): 1 when anything failed, was skipped, not attempted or did not
/// converge (or, with `--fail-on-blocked`, when anything is blocked or pending); else 0.
fn exit_code(args: &Args, plan: &Plan, report: &ApplyReport) -> ExitCode {
    decide(
        Outcome {
            errors: report.has_failures(),
            changes: false,
            blocked: plan.summary.blocked + plan.summary.pending > 0,
        },
        Policy {
            detailed: false,
            fail_on_blocked: args.plan.fail_on_blocked,
        },
    )
}

fn print_report(args: &Args, ctx: &Context, report: &ApplyReport) -> miette::Result<()> {
    match args.format {
        ApplyFormat::Text => print_stdout(&render::apply_report_text(report, ctx.color_stdout)),
        ApplyFormat::Json => print_stdout(&render::apply_report_json(report)),
    }
}

/// `--auto-approve`, or `yes` typed on a terminal ([`crate::cli::output::approved`]).
fn approved(args: &Args, ctx: &Context) -> miette::Result<bool> {
    crate::cli::output::approved(args.auto_approve, ctx, "apply these changes", "apply")
}
