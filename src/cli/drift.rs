//! `authctl drift`: report users whose Graph state differs from the manifests, for a cron job. Exit 0 in sync, 2 on
//! drift apply would fix, 1 on an error (a bad manifest, a missing user, a Graph failure, masked numbers); blocked
//! items and pending user actions are reported with their status and exit 1 only with `--fail-on-blocked`, exactly
//! as for `plan` (one policy: `crate::exit::decide`). Reads Graph exactly as `plan` does (the same
//! `crate::observe::build_plan`, lock-out preflight included, so "blocked" is told apart from "apply would fix it").

use clap::ValueEnum;
use miette::miette;

use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::cli::output::{
    print_stdout, progress_for, show_manifest_diagnostics, show_plan_diagnostics,
};
use crate::exit::ExitCode;
use crate::manifest;
use crate::observe;
use crate::plan::Policy;
use crate::plan::{DriftReport, RedactScope};
use crate::render;

/// `--format` of `drift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    /// One line per difference and a summary line.
    Text,
    /// One JSON document: the drifted users and what differs (schemas/drift.schema.json).
    Json,
    /// JUnit XML: one test case per user checked (failed when it drifted), for CI dashboards.
    Junit,
}

/// Arguments of `authctl drift`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files, directories (searched recursively for `*.yaml` and `*.yml`), or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// How to print the report on stdout.
    #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
    pub format: DriftFormat,
    /// Check only this user (userPrincipalName or object id, as declared); repeat for more.
    #[arg(long = "user", value_name = "UPN")]
    pub users: Vec<String>,
    /// Mask every number in the report (with the per-run fingerprint that tells numbers apart).
    #[arg(long)]
    pub redact: bool,
    /// Exit 1 when anything is blocked or waits for a user action (by default they are reported and exit 0: no
    /// apply can fix them).
    #[arg(long)]
    pub fail_on_blocked: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let manifests = manifest::load(&args.paths);
    if !show_manifest_diagnostics(&manifests, ctx) {
        return Ok(ExitCode::Error);
    }
    let session = args.graph.connect(ctx).await?;
    let settings = Policy {
        only_users: args.users.clone(),
        ..Policy::default()
    };
    let progress = progress_for(ctx, manifests.users.len());
    let built = observe::build_plan(&session.graph, &manifests, &settings, &progress).await;
    progress.finish();
    let plan = built.map_err(|e| miette!("{e}"))?;
    show_plan_diagnostics(&plan, &manifests, ctx);
    let plan = if args.redact {
        plan.redacted(RedactScope::All)
    } else {
        plan
    };
    let report = DriftReport::from_plan(&plan);
    let rendered = match args.format {
        DriftFormat::Text => render::drift_text(&report, ctx.color_stdout),
        DriftFormat::Json => render::drift_json(&report),
        DriftFormat::Junit => render::junit::drift_junit(&plan, &report),
    };
    print_stdout(&rendered)?;
    session.finish().await?;
    Ok(report.exit_code(args.fail_on_blocked))
}
