//! The command line: clap definitions (one file per command), global flags, logging set-up, and dispatch. Raw flags
//! are turned into resolved settings here, once; nothing below `cli` reads flags or the environment.

pub mod apply;
pub mod auth;
pub mod completions;
pub mod config;
pub mod drift;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod graph_args;
pub mod import;
pub mod methods;
pub mod offboard;
pub mod output;
pub mod password;
pub mod phone;
pub mod plan;
pub mod schema;
pub mod show;
pub mod sms_sign_in;
pub mod tap;
pub mod validate;

use std::io::IsTerminal;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit::ExitCode;

/// authctl: declare Entra ID users' authentication methods and the tenant's methods policy in YAML, review a plan,
/// apply exactly that.
#[derive(Debug, Parser)]
#[command(name = "authctl", version = LONG_VERSION, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The version with the git commit and the build date (`0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-02)`; the
/// commit is left out of builds made outside a git checkout). Written by build.rs.
pub const LONG_VERSION: &str = env!("AUTHCTL_LONG_VERSION");

/// Flags every command takes (shown under their own heading in every `--help`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). `AUTHCTL_LOG` (an env-filter) overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less output on stderr: errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour on the terminal. `auto` honours `NO_COLOR` and colours only terminals.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// The format of log lines on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Resolved global settings handed to every command.
#[derive(Debug, Clone)]
pub struct Context {
    /// Colour the product on stdout.
    pub color_stdout: bool,
    /// Colour diagnostics on stderr.
    pub color_stderr: bool,
    /// `-q` was given.
    pub quiet: bool,
    /// Stdin is a terminal (prompts are possible).
    pub stdin_is_terminal: bool,
    /// Stderr is a terminal (progress bars are possible).
    pub stderr_is_terminal: bool,
    /// The repository config file, when one was found.
    pub config: Option<std::sync::Arc<config::Loaded>>,
    /// Which settings were given by flag or environment (they win over the config file). `None` through the
    /// [`run_cli`] seam, where no config file is read.
    pub explicit: Option<config::Explicit>,
}

impl Command {
    /// The manifest paths of commands that take them (where the config file is looked for).
    fn manifest_paths(&self) -> Option<&[String]> {
        match self {
            Command::Validate(a) => Some(&a.paths),
            Command::Plan(a) => Some(&a.paths),
            Command::Apply(a) => Some(&a.paths),
            Command::Drift(a) => Some(&a.paths),
            Command::Offboard(a) => Some(&a.manifests),
            _ => None,
        }
    }
}

impl Context {
    fn from_args(g: &GlobalArgs) -> Context {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let pick = |is_term: bool| match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_term && !no_color,
        };
        Context {
            color_stdout: pick(std::io::stdout().is_terminal()),
            color_stderr: pick(std::io::stderr().is_terminal()),
            quiet: g.quiet,
            stdin_is_terminal: std::io::stdin().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            config: None,
            explicit: None,
        }
    }

    /// The config file's value for a setting not given by flag or environment (arg id `id`).
    pub fn from_config<T>(
        &self,
        id: &str,
        pick: impl FnOnce(&config::RepoConfig) -> Option<T>,
    ) -> Option<T> {
        let explicit = self.explicit.as_ref()?;
        if explicit.given(id) {
            return None;
        }
        pick(&self.config.as_ref()?.config)
    }

    /// Fails when the plan changes an account the config file protects.
    pub fn check_protected(&self, plan: &crate::plan::Plan) -> miette::Result<()> {
        let Some(cfg) = &self.config else {
            return Ok(());
        };
        let hit: Vec<&str> = plan
            .users
            .iter()
            .filter(|u| u.has_changes())
            .filter(|u| {
                [Some(u.user.as_str()), u.upn.as_deref(), u.id.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|w| cfg.is_protected(w))
            })
            .map(|u| u.upn.as_deref().unwrap_or(&u.user))
            .collect();
        if hit.is_empty() {
            return Ok(());
        }
        Err(miette::miette!(
            "the plan changes protected account(s) {} (protectedAccounts in {}); nothing was applied. Remove them \
             from the manifests, or from protectedAccounts after review",
            hit.join(", "),
            cfg.path.display()
        ))
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline: syntax, schema, phone numbers, email addresses, the methods policy and the rules Graph
    /// would refuse.
    Validate(validate::Args),
    /// Print the JSON Schema (draft-07) of manifests or saved plans.
    Schema(schema::Args),
    /// Run the built-in Microsoft Graph emulator on loopback.
    #[cfg(feature = "emulator")]
    Emulator(emulator::Args),
    /// Credentials: show what the configured token allows.
    Auth(auth::Args),
    /// Read manifests and Graph, print the changes that apply would make (the methods policy, then users' methods).
    Plan(plan::Args),
    /// Apply a saved plan, or plan and apply manifests (the methods policy first, then users' methods).
    Apply(apply::Args),
    /// Render a saved plan (text, JSON or Markdown) without Graph, as `terraform show`.
    Show(show::Args),
    /// Report users' methods and methods of the policy whose Graph state differs from the manifests (exit 2 on drift).
    Drift(drift::Args),
    /// Write a manifest of users' current authentication methods (phones, SMS sign-in, email, registered types), or
    /// of the tenant's authentication methods policy (`--policy`).
    Import(import::Args),
    /// List every authentication method of users (every type, read-only).
    Methods(methods::Args),
    /// Add, update or remove one phone method (a quick fix).
    Phone(phone::Args),
    /// Enable or disable SMS sign-in on a user's mobile.
    SmsSignIn(sms_sign_in::Args),
    /// Reset a user's password and follow the operation to its end.
    Password(password::Args),
    /// Issue or revoke Temporary Access Passes (onboarding), checked against the tenant's TAP policy.
    Tap(tap::Args),
    /// Remove every authentication method of leaving users but the password; optionally revoke their sessions.
    Offboard(offboard::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::Args),
    /// Print the man page, or write every command's man page into a directory.
    Man(completions::ManArgs),
}

/// Parses the process's arguments, sets up logging, runs the command, and returns the process exit code.
pub fn run() -> i32 {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let start = cli
        .command
        .manifest_paths()
        .and_then(config::manifest_root)
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let loaded = match config::discover(&start) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: config file: {e}");
            return ExitCode::Error.code();
        }
    };
    if let Some(c) = &loaded {
        tracing::debug!(path = %c.path.display(), "config file");
    }
    run_with(cli, loaded, Some(config::Explicit::from_matches(&matches))).code()
}

/// Runs parsed arguments (the seam tests use; no config file is read).
pub fn run_cli(cli: Cli) -> ExitCode {
    run_with(cli, None, None)
}

fn run_with(
    cli: Cli,
    config: Option<config::Loaded>,
    explicit: Option<config::Explicit>,
) -> ExitCode {
    let mut ctx = Context::from_args(&cli.global);
    ctx.config = config.map(std::sync::Arc::new);
    ctx.explicit = explicit;
    init_logging(&cli.global, ctx.color_stderr);
    install_miette(ctx.color_stderr);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::Error;
        }
    };
    match runtime.block_on(dispatch(cli.command, &ctx)) {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::Error
        }
    }
}

async fn dispatch(command: Command, ctx: &Context) -> miette::Result<ExitCode> {
    match command {
        Command::Validate(args) => validate::run(args, ctx).await,
        Command::Schema(args) => schema::run(args, ctx).await,
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => emulator::run(args, ctx).await,
        Command::Auth(args) => auth::run(args, ctx).await,
        Command::Plan(args) => plan::run(args, ctx).await,
        Command::Apply(args) => apply::run(args, ctx).await,
        Command::Show(args) => show::run(args, ctx).await,
        Command::Drift(args) => drift::run(args, ctx).await,
        Command::Import(args) => import::run(args, ctx).await,
        Command::Methods(args) => methods::run(args, ctx).await,
        Command::Phone(args) => phone::run(args, ctx).await,
        Command::SmsSignIn(args) => sms_sign_in::run(args, ctx).await,
        Command::Password(args) => password::run(args, ctx).await,
        Command::Tap(args) => tap::run(args, ctx).await,
        Command::Offboard(args) => offboard::run(args, ctx).await,
        Command::Completions(args) => completions::run(args, ctx).await,
        Command::Man(args) => completions::run_man(args, ctx).await,
    }
}

fn init_logging(g: &GlobalArgs, color: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = std::env::var("AUTHCTL_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match g.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(color).try_init(),
    };
}

fn install_miette(color: bool) {
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(color)
                .terminal_links(false)
                .width(110)
                .build(),
        )
    }));
}
