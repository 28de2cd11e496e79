//! `authctl completions SHELL` and `authctl man`: shell completion scripts and man pages generated from the clap
//! definitions themselves, so they never drift from the real flags.

use std::path::PathBuf;

use clap::CommandFactory as _;
use miette::{IntoDiagnostic as _, WrapErr as _};

use crate::cli::{Cli, Context};
use crate::exit::ExitCode;

/// Arguments of `authctl completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Install, e.g.:
  bash:        authctl completions bash > ~/.local/share/bash-completion/completions/authctl
  zsh:         authctl completions zsh > \"${fpath[1]}/_authctl\"
  fish:        authctl completions fish > ~/.config/fish/completions/authctl.fish
  powershell:  authctl completions powershell >> $PROFILE")]
pub struct Args {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script to stdout.
pub async fn run(args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "authctl", &mut out);
    write_stdout(&out)?;
    Ok(ExitCode::Success)
}

/// Arguments of `authctl man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `authctl.1` and one page per command (`authctl-plan.1`, …) into this directory, instead of printing
    /// `authctl.1` to stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints `authctl(1)`, or writes every page into `--dir`.
pub async fn run_man(args: ManArgs, _ctx: &Context) -> miette::Result<ExitCode> {
    let cmd = Cli::command().version(crate::cli::LONG_VERSION);
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .into_diagnostic()
                .wrap_err_with(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .into_diagnostic()
                .wrap_err_with(|| format!("writing man pages into {}", dir.display()))?;
            eprintln!("man pages written to {}", dir.display());
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .into_diagnostic()?;
            write_stdout(&out)?;
        }
    }
    Ok(ExitCode::Success)
}

fn write_stdout(bytes: &[u8]) -> miette::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        // `authctl completions bash | head` is fine.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).into_diagnostic().wrap_err("writing to stdout"),
    }
}
