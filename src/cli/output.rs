//! What every command shares on its way out: manifest and plan diagnostics on stderr, the product on stdout, and
//! the progress bar (stderr, terminals only). Private files are written by [`crate::private_file`].

use std::io::{BufRead as _, Write as _};

use miette::miette;

use crate::cli::Context;
use crate::manifest::{self, DiagnosticFormat, Manifests};
use crate::observe::Progress;
use crate::plan::Plan;

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

/// `--auto-approve`, or `yes` typed on a terminal, before a command writes what it showed (`apply`, `offboard`). Off
/// a terminal without `--auto-approve`: an error, never a silent write. `question`: "apply these changes"; `verb`:
/// what `--auto-approve` does ("apply").
pub fn approved(
    auto_approve: bool,
    ctx: &Context,
    question: &str,
    verb: &str,
) -> miette::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !ctx.stdin_is_terminal {
        return Err(miette!(
            "stdin is not a terminal, so authctl can't ask for approval: pass --auto-approve to {verb} without \
             asking (nothing was changed)"
        ));
    }
    eprint!(
        "\nDo you want to {question}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| miette!("cannot read the answer: {e}"))?;
    Ok(line.trim() == "yes")
}
