//! `authctl auth check`: gets a token the configured way and shows what it is and what it allows — tenant, app or
//! user, application roles or delegated scopes, directory roles, expiry — and, per the permission matrix, which
//! authctl commands it permits. The token itself is never printed.

use std::fmt::Write as _;

use miette::miette;
use serde::Serialize;

use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::exit::ExitCode;
use crate::graph::credentials::{Considered, Verdict};
use crate::graph::permissions::{CommandAccess, Grants, evaluate};

/// Arguments of `authctl auth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuthCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuthCommand {
    /// Get a token the configured way and show tenant, identity, roles/scopes, expiry and the commands they allow.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    graph: GraphArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// What `auth check` reports (the JSON output).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The credential used (never its secret).
    pub credential: String,
    /// Every credential source considered, in order, and why it was chosen or not.
    pub sources: Vec<Considered>,
    /// Where each connection setting came from: flag, environment variable, config file or default.
    pub settings: Vec<crate::cli::config::SettingSource>,
    /// `application` or `delegated`.
    pub kind: &'static str,
    /// What the token carries.
    #[serde(flatten)]
    pub grants: Grants,
    /// Directory role names.
    pub directory_role_names: Vec<String>,
    /// Expiry as RFC 3339.
    pub expires_at: String,
    /// Per command: allowed, and why not.
    pub commands: Vec<CommandAccess>,
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let AuthCommand::Check(args) = args.command;
    let session = args.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let token = graph.access_token().await.map_err(|e| miette!("{e}"))?;
    let claims = crate::graph::jwt::decode_claims(token.token.expose()).map_err(|e| {
        miette!("got a token, but cannot read its claims ({e}); it may be an opaque token")
    })?;
    let grants = Grants::from_claims(&claims);
    let report = Report {
        credential: graph.credential_description(),
        sources: session.sources.clone(),
        settings: session.settings_sources.clone(),
        kind: if grants.is_delegated() {
            "delegated"
        } else {
            "application"
        },
        directory_role_names: grants.role_names(),
        expires_at: token.expires_at.to_string(),
        commands: evaluate(&grants),
        grants,
    };
    let out = match args.format {
        Format::Json => crate::format_version::versioned_json(
            crate::format_version::AUTH_CHECK_FORMAT_VERSION,
            &report,
        ),
        Format::Text => render_text(&report, ctx.color_stdout),
    };
    print!("{out}");
    session.finish().await?;
    Ok(ExitCode::Success)
}

/// The text rendering of a report.
pub fn render_text(r: &Report, color: bool) -> String {
    let g = &r.grants;
    let none = || "(none)".to_string();
    let list = |v: &[String]| if v.is_empty() { none() } else { v.join(", ") };
    let mut s = String::new();
    let _ = writeln!(s, "credential:      {}", r.credential);
    let _ = writeln!(
        s,
        "tenant:          {}",
        g.tenant.clone().unwrap_or_else(none)
    );
    let _ = writeln!(
        s,
        "app:             {}",
        g.app_id.clone().unwrap_or_else(none)
    );
    match &g.user {
        Some(u) => {
            let _ = writeln!(s, "user:            {u} (delegated)");
            let _ = writeln!(s, "scopes:          {}", list(&g.scopes));
            let _ = writeln!(s, "directory roles: {}", list(&r.directory_role_names));
        }
        None => {
            let _ = writeln!(
                s,
                "identity:        the app itself (application permissions)"
            );
            let _ = writeln!(s, "roles:           {}", list(&g.roles));
        }
    }
    let _ = writeln!(s, "expires:         {}", r.expires_at);
    if !r.settings.is_empty() {
        let _ = writeln!(s, "settings:");
        for x in &r.settings {
            let _ = writeln!(s, "    {:<22} {} (from {})", x.setting, x.value, x.from);
        }
    }
    let _ = writeln!(s, "sources:");
    for c in &r.sources {
        let mark = match c.verdict {
            Verdict::Chosen => "→",
            Verdict::Skipped => "·",
            Verdict::NotConfigured => " ",
        };
        let _ = writeln!(s, "  {mark} {:<22} {}", c.source, c.reason);
    }
    let _ = writeln!(s, "commands:");
    let width = r
        .commands
        .iter()
        .map(|c| c.command.len())
        .max()
        .unwrap_or(0);
    for c in &r.commands {
        let mark = if c.allowed {
            crate::render::paint("✓", crate::render::Color::Green, color)
        } else {
            crate::render::paint("✗", crate::render::Color::Red, color)
        };
        match &c.note {
            Some(n) => {
                let _ = writeln!(s, "  {mark} {:<width$} {n}", c.command);
            }
            None => {
                let _ = writeln!(s, "  {mark} {}", c.command);
            }
        }
    }
    s
}
