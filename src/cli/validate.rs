//! `authctl validate`: check manifests offline: syntax, schema, phone numbers and the rules Graph would refuse.
//! Exit 0 when valid (warnings allowed), 1 otherwise. Text diagnostics go to stderr like a compiler's; the `json`
//! and `github` formats are the product and go to stdout.

use std::io::Write;

use crate::cli::Context;
use crate::exit::ExitCode;
use crate::manifest::{self, DiagnosticFormat};

/// Arguments of `authctl validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files, directories (searched recursively for `*.yaml` and `*.yml`), or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// How to report problems: `text` (snippets, on stderr), `json` (one array on stdout), `github` (workflow
    /// commands on stdout that annotate a pull request).
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
    pub format: DiagnosticFormat,
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let m = manifest::load(&args.paths);
    let code = if m.has_errors() {
        ExitCode::Error
    } else {
        ExitCode::Success
    };
    match args.format {
        DiagnosticFormat::Text => {
            let mut err = std::io::stderr().lock();
            let mut text =
                manifest::render_diagnostics(&m, DiagnosticFormat::Text, ctx.color_stderr);
            let (errors, warnings) = (m.error_count(), m.warning_count());
            let users = m.users.len();
            let files = m.files.len();
            let summary = if errors > 0 {
                format!(
                    "invalid: {} and {} in {}\n",
                    plural(errors, "error"),
                    plural(warnings, "warning"),
                    plural(files, "file")
                )
            } else {
                format!(
                    "valid: {}{} in {}{}\n",
                    plural(users, "user"),
                    if m.policy.is_some() {
                        " and the authentication methods policy"
                    } else {
                        ""
                    },
                    plural(files, "file"),
                    if warnings > 0 {
                        format!(", {}", plural(warnings, "warning"))
                    } else {
                        String::new()
                    }
                )
            };
            if !(ctx.quiet && errors == 0) {
                text.push_str(&summary);
            }
            err.write_all(text.as_bytes())
                .map_err(|e| miette::miette!("cannot write to stderr: {e}"))?;
        }
        format => {
            let mut out = std::io::stdout().lock();
            out.write_all(manifest::render_diagnostics(&m, format, false).as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| miette::miette!("cannot write to stdout: {e}"))?;
        }
    }
    Ok(code)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
