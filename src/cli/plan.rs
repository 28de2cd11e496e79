//! `authctl plan`: read manifests and Graph, print the changes that apply would make, optionally save the plan.
//!
//! Also home of what `plan`, `apply` and `drift` share on the command line: [`PlanFlags`] (the user filter and the
//! guards, flattened into `apply` too). Output helpers live in [`crate::cli::output`].

use std::io::Write as _;

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
use crate::plan::{DEFAULT_MAX_DELETES, Plan, Policy};
use crate::render;

/// Flags shared by `plan` and `apply PATHS` (which plans first): which users, and the guards.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanFlags {
    /// Plan only this user (userPrincipalName or object id, as declared in the manifests); repeat for more.
    #[arg(long = "user", value_name = "UPN")]
    pub users: Vec<String>,
    /// Refuse to apply a plan that deletes more methods than this: phones, email methods and registrations (the plan
    /// shows whether the guard holds).
    #[arg(long, default_value_t = DEFAULT_MAX_DELETES, value_name = "N")]
    pub max_deletes: usize,
    /// Keep deletes and SMS sign-in disables that would leave a user with nothing to sign in or do MFA with
    /// (otherwise they are blocked).
    #[arg(long)]
    pub allow_lockout: bool,
    /// Exit 1 when anything is blocked or waits for a user action (by default they are only reported).
    #[arg(long)]
    pub fail_on_blocked: bool,
}

impl PlanFlags {
    /// `--max-deletes` from the config file's `limits.maxDeletes` when not given on the command line.
    pub fn with_config(mut self, ctx: &Context) -> PlanFlags {
        if let Some(n) = ctx.from_config("max_deletes", |c| c.limits.max_deletes) {
            self.max_deletes = n;
        }
        self
    }

    /// The flags resolved, once, into the [`Policy`] the read side, the engine and apply's gate take.
    pub fn policy(&self) -> Policy {
        Policy {
            max_deletes: self.max_deletes,
            allow_lockout: self.allow_lockout,
            only_users: self.users.clone(),
        }
    }

    /// The exit code a finished plan earns under these flags: 1 for errors (and, with `--fail-on-blocked`, for
    /// blocked items or pending user actions), 2 for changes when `detailed` (`--detailed-exitcode`), else 0.
    pub fn exit_code(&self, plan: &Plan, detailed: bool) -> ExitCode {
        plan.exit_code(detailed, self.fail_on_blocked)
    }
}

/// `--format` of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like lines, colour on a terminal.
    Text,
    /// One JSON document in the plan file's schema.
    Json,
    /// A pull-request comment (numbers masked unless --no-redact).
    Markdown,
}

/// Arguments of `authctl plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files, directories (searched recursively for `*.yaml` and `*.yml`), or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Also save the plan to this file (JSON, mode 0600, replaced atomically) for `authctl apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// How to print the plan on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Exit 2 when the plan has changes (0 when none, 1 on errors), like `terraform plan -detailed-exitcode`.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Mask every number in the printed plan (text and JSON show numbers by default; Markdown masks them).
    #[arg(long, conflicts_with = "no_redact")]
    pub redact: bool,
    /// Show numbers in Markdown too.
    #[arg(long)]
    pub no_redact: bool,
    #[command(flatten)]
    pub plan: PlanFlags,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs the command.
pub async fn run(mut args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    args.plan = args.plan.with_config(ctx);
    let manifests = manifest::load(&args.paths);
    if !show_manifest_diagnostics(&manifests, ctx) {
        return Ok(ExitCode::Error);
    }
    let session = args.graph.connect(ctx).await?;
    let progress = progress_for(ctx, manifests.users.len());
    let built =
        observe::build_plan(&session.graph, &manifests, &args.plan.policy(), &progress).await;
    progress.finish();
    let plan = built.map_err(|e| miette!("{e}"))?;
    show_plan_diagnostics(&plan, &manifests, ctx);
    let protected = ctx.check_protected(&plan);

    let code = args.plan.exit_code(&plan, args.detailed_exitcode);
    let guard_failure = (!plan.guards_hold()).then(|| {
        let g = &plan.guards.max_deletes;
        format!(
            "Error: guard --max-deletes fails: the plan deletes {} method(s), the limit is {}; apply will refuse it. \
             Review the deletes, then plan again with --max-deletes {} (or more).",
            g.deletes, g.limit, g.deletes
        )
    });
    // Stdout first, then the file: saving masks the plan's numbers in place (no copy of a plan that can be
    // hundreds of megabytes). The file is written even when stdout fails (a closed pipe), then the error is told.
    let shown = match args.format {
        // Streamed: at 100,000 users the document is about 100 MB.
        PlanFormat::Json => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            render::write_plan_json(&plan, args.redact, &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| miette!("cannot write to stdout: {e}"))
        }
        PlanFormat::Text => print_stdout(&render::plan_text(
            &plan,
            render::TextOptions {
                color: ctx.color_stdout,
                redact: args.redact,
            },
        )),
        PlanFormat::Markdown => print_stdout(&render::plan_markdown(
            &plan,
            render::MarkdownOptions {
                redact: !args.no_redact,
                limit: render::MARKDOWN_LIMIT,
            },
        )),
    };
    if let Some(out) = &args.out {
        crate::private_file::write_with(out, |w| plan.into_file_json(w))
            .map_err(|e| miette!("cannot write the plan to {}: {e}", out.display()))?;
        if !ctx.quiet {
            eprintln!(
                "Saved the plan to {}. Apply exactly these changes with: authctl apply --plan {} {}",
                out.display(),
                out.display(),
                args.paths.join(" ")
            );
        }
    }
    shown?;
    if let Some(message) = guard_failure {
        eprintln!("{message}");
    }
    session.finish().await?;
    protected?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(Debug, clap::Parser)]
    struct Flags {
        #[command(flatten)]
        plan: PlanFlags,
    }

    #[test]
    fn the_flags_defaults_resolve_to_the_one_default_policy() {
        let f = Flags::try_parse_from(["authctl"]).unwrap();
        assert_eq!(f.plan.policy(), Policy::default());
        assert_eq!(Policy::default().max_deletes, DEFAULT_MAX_DELETES);
        let f = Flags::try_parse_from([
            "authctl",
            "--max-deletes",
            "3",
            "--allow-lockout",
            "--user",
            "a@contoso.com",
        ])
        .unwrap();
        assert_eq!(
            f.plan.policy(),
            Policy {
                max_deletes: 3,
                allow_lockout: true,
                only_users: vec!["a@contoso.com".into()],
            }
        );
    }
}
