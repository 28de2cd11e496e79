//! `authctl apply`: apply a saved plan (`--plan FILE`, reviewed already, applied without a prompt), or plan the
//! manifests, show the plan, and apply it after a `yes` on a terminal (`--auto-approve` elsewhere). The executor
//! (`crate::apply`) does the work; this file resolves flags, asks, prints the report and picks the exit code.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use miette::miette;

use crate::apply::observe::{Progress, build_plan};
use crate::apply::{ApplyOptions, Journal, apply};
use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::cli::plan::{
    PlanFlags, print_stdout, progress_for, show_manifest_diagnostics, show_plan_diagnostics,
};
use crate::exit::ExitCode;
use crate::graph::Graph;
use crate::manifest;
use crate::plan::{ApplyReport, Plan};
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
    /// Manifest files, directories (searched recursively for `*.yaml` and `*.yml`), or `-` for stdin: plan them and
    /// apply the plan. Not with `--plan`.
    #[arg(value_name = "PATH", conflicts_with = "plan_file")]
    pub paths: Vec<String>,
    /// Apply this saved plan (`authctl plan --out FILE`) exactly, without asking: it was reviewed when it was made.
    /// Users changed since are skipped and named; a plan of another format version is refused.
    #[arg(long = "plan", value_name = "FILE")]
    pub plan_file: Option<PathBuf>,
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
    #[command(flatten)]
    pub plan: PlanFlags,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs the command.
pub async fn run(mut args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    if args.plan_file.is_none() {
        args.plan = args.plan.with_config(ctx);
    }
    let saved = match &args.plan_file {
        Some(path) => {
            if !args.plan.users.is_empty()
                || args.plan.allow_lockout
                || args.plan.max_deletes != crate::plan::DEFAULT_MAX_DELETES
            {
                return Err(miette!(
                    "--user, --max-deletes and --allow-lockout are planning flags: a saved plan is applied as it \
                     was made (make a new plan to change them)"
                ));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| miette!("cannot read the plan file {}: {e}", path.display()))?;
            Some(Plan::from_json(&text).map_err(|e| miette!("{}: {e}", path.display()))?)
        }
        None if args.paths.is_empty() => {
            return Err(miette!(
                "give manifest PATHs to plan and apply, or --plan FILE to apply a saved plan"
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
    let manifests = match saved {
        Some(_) => None,
        None => {
            let m = manifest::load(&args.paths);
            if !show_manifest_diagnostics(&m, ctx) {
                return Ok(ExitCode::Error);
            }
            Some(m)
        }
    };

    let session = args.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let result = run_connected(&args, ctx, &graph, saved, manifests, journal).await;
    session.finish().await?;
    result
}

async fn run_connected(
    args: &Args,
    ctx: &Context,
    graph: &Graph,
    saved: Option<Plan>,
    manifests: Option<crate::manifest::Manifests>,
    journal: Option<Arc<Journal>>,
) -> miette::Result<ExitCode> {
    let plan = match (saved, manifests) {
        (Some(p), _) => p,
        (None, Some(m)) => {
            let bar = progress_for(ctx, m.users.len());
            let plan = build_plan(graph, &m, &args.plan.build_settings(), &bar)
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
            if plan.has_changes() && !approved(args, ctx)? {
                eprintln!("Apply cancelled: nothing was changed.");
                return Ok(ExitCode::Error);
            }
            plan
        }
        (None, None) => unreachable!("run() requires manifests or a saved plan"),
    };
    ctx.check_protected(&plan)?;

    let progress = Arc::new(progress_for(
        ctx,
        plan.users.iter().filter(|u| u.has_changes()).count(),
    ));
    let options = ApplyOptions {
        parallelism: graph.settings().parallelism,
        converge_timeout: args.converge_timeout,
        journal,
        progress: Some(progress.clone() as Arc<dyn Progress>),
    };
    let report = apply(&plan, graph, &options).await;
    progress.finish();
    print_report(args, ctx, &report)?;

    let mut code = if report.has_failures() {
        ExitCode::Error
    } else {
        ExitCode::Success
    };
    if args.plan.fail_on_blocked && (plan.summary.blocked > 0 || plan.summary.pending > 0) {
        code = code.combine(ExitCode::Error);
    }
    Ok(code)
}

fn print_report(args: &Args, ctx: &Context, report: &ApplyReport) -> miette::Result<()> {
    match args.format {
        ApplyFormat::Text => print_stdout(&render::apply_report_text(report, ctx.color_stdout)),
        ApplyFormat::Json => print_stdout(&render::apply_report_json(report)),
    }
}

/// `--auto-approve`, or `yes` typed on a terminal. Off a terminal without `--auto-approve`: an error, never a
/// silent apply.
fn approved(args: &Args, ctx: &Context) -> miette::Result<bool> {
    if args.auto_approve {
        return Ok(true);
    }
    if !ctx.stdin_is_terminal {
        return Err(miette!(
            "stdin is not a terminal, so authctl can't ask for approval: pass --auto-approve to apply without \
             asking (nothing was changed)"
        ));
    }
    eprint!(
        "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| miette!("cannot read the answer: {e}"))?;
    Ok(line.trim() == "yes")
}
