//! `authctl plan`: read manifests and Graph, print the changes that apply would make, optionally save the plan.
//!
//! Also home of what `plan`, `apply` and `drift` share on the command line: [`PlanFlags`] (the user filter and the
//! guards, flattened into `apply` too), the progress bar, and the private atomic file writer.

use std::io::Write as _;
use std::path::Path;

use clap::ValueEnum;
use miette::miette;

use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::exit::ExitCode;
use crate::manifest::{self, DiagnosticFormat, Manifests};
use crate::observe::{self, BuildSettings, Progress};
use crate::plan::{DEFAULT_MAX_DELETES, Plan};
use crate::render;

/// Flags shared by `plan` and `apply PATHS` (which plans first): which users, and the guards.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanFlags {
    /// Plan only this user (userPrincipalName or object id, as declared in the manifests); repeat for more.
    #[arg(long = "user", value_name = "UPN")]
    pub users: Vec<String>,
    /// Refuse to apply a plan that deletes more phones than this (the plan shows whether the guard holds).
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

    /// The settings `build_plan` takes.
    pub fn build_settings(&self) -> BuildSettings {
        BuildSettings {
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
    let built = observe::build_plan(
        &session.graph,
        &manifests,
        &args.plan.build_settings(),
        &progress,
    )
    .await;
    progress.finish();
    let plan = built.map_err(|e| miette!("{e}"))?;
    show_plan_diagnostics(&plan, &manifests, ctx);
    let protected = ctx.check_protected(&plan);

    let code = args.plan.exit_code(&plan, args.detailed_exitcode);
    let guard_failure = (!plan.guards_hold()).then(|| {
        let g = &plan.guards.max_deletes;
        format!(
            "Error: guard --max-deletes fails: the plan deletes {} phone(s), the limit is {}; apply will refuse it. \
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
        write_private_with(out, |w| plan.into_file_json(w))
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

/// Prints the manifests' diagnostics on stderr (warnings too); false when there are errors (the command stops
/// before calling Graph).
pub fn show_manifest_diagnostics(manifests: &Manifests, ctx: &Context) -> bool {
    if !manifests.diagnostics.is_empty() && (!ctx.quiet || manifests.has_errors()) {
        eprint!(
            "{}",
            manifest::render_diagnostics(manifests, DiagnosticFormat::Text, ctx.color_stderr)
        );
    }
    if manifests.has_errors() {
        eprintln!(
            "error: the manifests have {} error(s); nothing was read from Graph",
            manifests.error_count()
        );
        return false;
    }
    true
}

/// Prints diagnostics found while planning (the same user declared twice under two names) with manifest snippets.
pub fn show_plan_diagnostics(plan: &Plan, manifests: &Manifests, ctx: &Context) {
    let diags = plan.diagnostics();
    if !diags.is_empty() {
        eprint!(
            "{}",
            manifest::diagnostic::render(
                &diags,
                manifests.sources(),
                DiagnosticFormat::Text,
                ctx.color_stderr
            )
        );
    }
}

/// Writes `text` to stdout and flushes.
pub fn print_stdout(text: &str) -> miette::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| miette!("cannot write to stdout: {e}"))
}

/// Writes a file that holds phone numbers: mode 0600, a temporary file in the same directory, fsynced, renamed over
/// the target (so a reader never sees half a plan), and the directory fsynced so the rename survives a crash.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_private_with(path, |w| w.write_all(bytes))
}

/// [`write_private`] with the content streamed by `fill` (through a buffer), so a large plan is never held in
/// memory as text.
pub fn write_private_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("authctl");
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        hex::encode(rand::random::<[u8; 4]>())
    ));
    let mut opts = std::fs::OpenOptions::new();
    // create_new: never write through a file (or link) someone else put there.
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, opts.open(&tmp)?);
        fill(&mut w)?;
        let f = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A progress bar on stderr: drawn only on a terminal, without `-q`, and for runs long enough to need one; off a
/// terminal the same runs print a progress line at a steady interval instead
/// ([`crate::apply::progress::LineProgress`]).
pub struct Bar(
    indicatif::ProgressBar,
    Option<crate::apply::progress::LineProgress>,
);

/// Users from which a run counts as long (smaller runs finish before a bar is worth drawing).
const PROGRESS_FROM_USERS: usize = 50;

/// The progress display for reading `users` users.
pub fn progress_for(ctx: &Context, users: usize) -> Bar {
    if ctx.stderr_is_terminal && !ctx.quiet && users >= PROGRESS_FROM_USERS {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(0),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta})")
        {
            bar.set_style(style);
        }
        Bar(bar, None)
    } else if !ctx.quiet && users >= PROGRESS_FROM_USERS {
        let lines = crate::apply::progress::LineProgress::stderr(std::sync::Arc::new(
            crate::clock::SystemClock,
        ));
        Bar(indicatif::ProgressBar::hidden(), Some(lines))
    } else {
        Bar(indicatif::ProgressBar::hidden(), None)
    }
}

impl Bar {
    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn start(&self, message: &str, total: u64) {
        if let Some(l) = &self.1 {
            l.start(message, total);
        }
        self.0.set_message(message.to_string());
        self.0.set_length(total);
        self.0.set_position(0);
    }

    fn advance(&self, n: u64) {
        if let Some(l) = &self.1 {
            l.advance(n);
        }
        self.0.inc(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_and_replaced() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("authctl-plan-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("plan.json");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"new").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        let text = std::fs::read_to_string(&p).unwrap();
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(mode, 0o600);
        assert_eq!(text, "new");
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }
}
