//! The command line: clap definitions (one file per command), global flags, logging set-up, and dispatch. Raw flags
//! are turned into resolved settings here, once; nothing below `cli` reads flags or the environment.

pub mod apply;
pub mod auth;
pub mod drift;
pub mod emulator;
pub mod graph_args;
pub mod import;
pub mod methods;
pub mod output;
pub mod password;
pub mod phone;
pub mod plan;
pub mod schema;
pub mod sms_sign_in;
pub mod validate;

use std::io::IsTerminal;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit::ExitCode;

/// authctl: declare Entra ID users' phone authentication methods in YAML, review a plan, apply exactly that.
#[derive(Debug, Parser)]
#[command(name = "authctl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, clap::Args)]
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
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline: syntax, schema, phone numbers and the rules Graph would refuse.
    Validate(validate::Args),
    /// Print the JSON Schema (draft-07) of manifests or saved plans.
    Schema(schema::Args),
    /// Run the built-in Microsoft Graph emulator on loopback.
    Emulator(emulator::Args),
    /// Credentials: show what the configured token allows.
    Auth(auth::Args),
    /// Read manifests and Graph, print the changes that apply would make.
    Plan(plan::Args),
    /// Apply a saved plan, or plan and apply manifests.
    Apply(apply::Args),
    /// Report users whose Graph state differs from the manifests (exit 2 on drift).
    Drift(drift::Args),
    /// Write a manifest of users' current phone methods.
    Import(import::Args),
    /// List every authentication method of users.
    Methods(methods::Args),
    /// Add, update or remove one phone method (a quick fix).
    Phone(phone::Args),
    /// Enable or disable SMS sign-in on a user's mobile.
    SmsSignIn(sms_sign_in::Args),
    /// Reset a user's password and follow the operation to its end.
    Password(password::Args),
}

/// Parses the process's arguments, sets up logging, runs the command, and returns the process exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    run_cli(cli).code()
}

/// Runs parsed arguments (the seam tests use).
pub fn run_cli(cli: Cli) -> ExitCode {
    let ctx = Context::from_args(&cli.global);
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
        Command::Emulator(args) => emulator::run(args, ctx).await,
        Command::Auth(args) => auth::run(args, ctx).await,
        Command::Plan(args) => plan::run(args, ctx).await,
        Command::Apply(args) => apply::run(args, ctx).await,
        Command::Drift(args) => drift::run(args, ctx).await,
        Command::Import(args) => import::run(args, ctx).await,
        Command::Methods(args) => methods::run(args, ctx).await,
        Command::Phone(args) => phone::run(args, ctx).await,
        Command::SmsSignIn(args) => sms_sign_in::run(args, ctx).await,
        Command::Password(args) => password::run(args, ctx).await,
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
