//! `authctl tap issue` and `authctl tap revoke`: Temporary Access Passes for onboarding.
//!
//! `issue` reads the tenant's TAP policy first and refuses, before any write, a lifetime outside its range or a
//! reusable pass it forbids ([`crate::tap::check`]); it warns when the policy is disabled or doesn't reach a user. A
//! user who already has a usable pass gets no new one without `--replace` (Graph would replace it silently). Users
//! are resolved like `import`'s (`--from-file`), issued in parallel under the client's rate cap and parallelism, with
//! a progress bar; a failed user is reported and the others go on (exit 1).
//!
//! The pass is shown once: on stdout when it is a terminal (or with `--out -`), else only into `--out FILE` (mode
//! 0600, atomic). It is a [`crate::graph::Secret`] until the rows are written and never reaches a log line, the
//! journal (which records only method, path, status and request-id), `--stats` or an error message (the create answer
//! is read by hand, [`crate::graph::TapCreated`]).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt as _;
use miette::miette;
use serde_json::Value;

use crate::apply::Journal;
use crate::apply::journal::{JournalSubject, journaled};
use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::cli::import::read_user_list;
use crate::cli::output::{print_stdout, progress_for};
use crate::exit::ExitCode;
use crate::graph::types::{TapConfiguration, TapRequest, UserInfo};
use crate::graph::{Graph, GraphError};
use crate::model::{MethodKind, RegistrationType};
use crate::observe::{Progress as _, error_summary};
use crate::tap::{self, Ask, Failure, Limits, Row, Target};

/// Arguments of `authctl tap`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// `authctl tap` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Issue Temporary Access Passes (checked against the tenant's TAP policy first; each pass shown once).
    Issue(IssueArgs),
    /// Remove users' Temporary Access Passes.
    Revoke(RevokeArgs),
}

/// `--format` of `tap issue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Text,
    /// One JSON document (`passes`, `failed`).
    Json,
    /// A header line, then one line per pass: user, userPrincipalName, id, pass, validFrom, validUntil, oneTime.
    Csv,
}

/// Arguments of `authctl tap issue`.
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub who: UserSelection,
    /// How long each pass lasts, in whole minutes (`90m`, `8h`); default: the policy's default lifetime. Must be
    /// within the policy's minimum and maximum.
    #[arg(long, value_parser = crate::units::parse_duration, value_name = "DURATION")]
    pub lifetime: Option<Duration>,
    /// When the passes become usable (RFC 3339, e.g. `2026-09-01T08:00:00+02:00`); default: at once.
    #[arg(long, value_name = "TIME")]
    pub start: Option<jiff::Timestamp>,
    /// One sign-in only.
    #[arg(long, conflicts_with = "reusable")]
    pub once: bool,
    /// Usable for more than one sign-in during its lifetime (refused when the policy allows only one-time passes).
    #[arg(long)]
    pub reusable: bool,
    /// Replace a user's current usable pass (without it such a user is reported and gets no new pass).
    #[arg(long)]
    pub replace: bool,
    /// Write the passes to this file (mode 0600, replaced atomically). `-` prints them on stdout. Without it they
    /// are printed only when stdout is a terminal.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How the passes are written; default: `csv` or `json` when `--out` ends in `.csv` or `.json`, else `text`.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Append one JSON line per Graph write (time, user, operation, status, request-id; never a pass), fsynced, mode
    /// 0600.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    #[command(flatten)]
    pub graph: GraphArgs,
}

impl IssueArgs {
    /// `--format`, or the one `--out`'s extension names (`passes.csv` is a CSV file, as a spreadsheet expects), or
    /// text.
    pub fn format(&self) -> Format {
        self.format.unwrap_or_else(|| {
            let ext = self
                .out
                .as_deref()
                .and_then(|p| p.extension())
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            match ext.as_deref() {
                Some("csv") => Format::Csv,
                Some("json") => Format::Json,
                _ => Format::Text,
            }
        })
    }
}

/// Arguments of `authctl tap revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub who: UserSelection,
    /// Append one JSON line per Graph write to this file, fsynced, mode 0600.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    match args.action {
        Action::Issue(a) => issue(a, ctx).await,
        Action::Revoke(a) => revoke(a, ctx).await,
    }
}

/// The users a command acts on: named on the command line and/or listed in `--from-file` (one of the two at least).
/// Shared by `tap issue`, `tap revoke` and `offboard`.
#[derive(Debug, clap::Args)]
#[group(id = "who", required = true, multiple = true)]
pub struct UserSelection {
    /// Users: userPrincipalName or object id.
    #[arg(value_name = "USER")]
    pub users: Vec<String>,
    /// Read the users from a file, one per line (`#` comments and blank lines ignored; `-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
}

impl UserSelection {
    /// The users named on the command line and in `--from-file`, in order, without repeats (case-insensitive).
    pub(crate) fn refs(&self) -> miette::Result<Vec<String>> {
        let mut refs = self.users.clone();
        if let Some(f) = &self.from_file {
            refs.extend(read_user_list(f)?);
        }
        let mut seen = std::collections::HashSet::new();
        refs.retain(|r| seen.insert(r.to_lowercase()));
        if refs.is_empty() {
            return Err(miette!(
                "no users: name them, or give --from-file with one per line"
            ));
        }
        Ok(refs)
    }
}

/// Opens `--journal`.
pub(crate) fn open_journal(path: Option<&std::path::Path>) -> miette::Result<Option<Journal>> {
    path.map(|p| {
        Journal::open(p).map_err(|e| miette!("cannot open the journal {}: {e}", p.display()))
    })
    .transpose()
}

/// Where the passes go.
enum Destination {
    Stdout,
    File(PathBuf),
}

fn lifetime_minutes(d: Duration) -> miette::Result<u32> {
    let secs = d.as_secs();
    if secs == 0 || !secs.is_multiple_of(60) || d.subsec_nanos() != 0 {
        return Err(miette!(
            "--lifetime must be whole minutes (e.g. 90m, 8h); nothing was created"
        ));
    }
    u32::try_from(secs / 60).map_err(|_| miette!("--lifetime is too long; nothing was created"))
}

fn limits(c: &TapConfiguration) -> Limits {
    Limits {
        enabled: c.state_enabled,
        minimum_minutes: c.minimum_lifetime_minutes,
        maximum_minutes: c.maximum_lifetime_minutes,
        default_minutes: c.default_lifetime_minutes,
        one_time_only: c.usable_once_only,
    }
}

fn targets(t: &[crate::graph::types::PolicyTarget]) -> Vec<Target> {
    t.iter()
        .map(|t| Target {
            id: t.id.clone(),
            target_type: t.target_type.clone(),
        })
        .collect()
}

/// A pass Graph listed that is usable now or will be (`isUsable`, or `methodUsabilityReason: NotYetValid`).
fn is_current(raw: &Value) -> bool {
    raw.get("isUsable").and_then(Value::as_bool) == Some(true)
        || raw.get("methodUsabilityReason").and_then(Value::as_str) == Some("NotYetValid")
}

/// What one user's issue needs from the run.
struct Job<'a> {
    graph: &'a Graph,
    journal: Option<&'a Journal>,
    request: &'a TapRequest,
    lifetime: u32,
    replace: bool,
    include: &'a [Target],
    exclude: &'a [Target],
}

/// Issues one user's pass: the policy's reach (a warning), a current pass (refused without `--replace`), the create.
async fn issue_one(
    job: &Job<'_>,
    given: &str,
    user: &UserInfo,
) -> (Result<Row, Failure>, Vec<String>) {
    let mut warnings = Vec::new();
    let who = &user.user_principal_name;
    let fail = |error: String| Failure {
        user: given.to_string(),
        error,
    };
    let groups = if tap::needs_groups(job.include, job.exclude) {
        match job.graph.user_group_ids(&user.id).await {
            Ok(g) => Some(g),
            Err(e) => {
                warnings.push(format!(
                    "{who}: can't tell whether the Temporary Access Pass policy reaches this user (reading their \
                     groups: {})",
                    error_summary(&e)
                ));
                None
            }
        }
    } else {
        Some(Vec::new())
    };
    if let Some(g) = groups
        && !tap::targeted(job.include, job.exclude, &user.id, &g)
    {
        warnings.push(format!(
            "{who} is not in the Temporary Access Pass policy's targets: Graph creates the pass, but the user can't \
             sign in with it"
        ));
    }
    match job.graph.list_taps(&user.id).await {
        Err(e) => {
            return (
                Err(fail(format!(
                    "reading the current pass: {}",
                    error_summary(&e)
                ))),
                warnings,
            );
        }
        Ok(list) if !job.replace && list.iter().any(is_current) => {
            return (
                Err(fail(
                    "already has a usable Temporary Access Pass; not replaced (Graph would replace it silently): \
                     pass --replace to issue a new one"
                        .to_string(),
                )),
                warnings,
            );
        }
        Ok(_) => {}
    }
    let subject = JournalSubject {
        user: Some(&user.id),
        users: None,
        op: "create",
        target: Some("temporaryAccessPass"),
    };
    let now = job.graph.clock().now();
    let (created, written) = journaled(
        job.journal,
        now,
        subject,
        job.graph.create_tap(&user.id, job.request),
    )
    .await;
    if let Err(e) = written {
        warnings.push(format!("cannot write the journal: {e}"));
    }
    let created = match created {
        Ok(c) => c,
        Err(e) => {
            let unknown = if e.outcome_unknown() {
                " (no answer: a pass may have been created; run again with --replace)"
            } else {
                ""
            };
            return (
                Err(fail(format!("{}{unknown}", error_summary(&e)))),
                warnings,
            );
        }
    };
    let from = created
        .start
        .as_deref()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .unwrap_or(now);
    let minutes = created.lifetime_minutes.unwrap_or(job.lifetime);
    let until = from
        .checked_add(jiff::SignedDuration::from_mins(i64::from(minutes)))
        .unwrap_or(from);
    let row = Row {
        user: given.to_string(),
        user_principal_name: user.user_principal_name.clone(),
        id: user.id.clone(),
        pass: created.pass.expose().to_string(),
        valid_from: from.to_string(),
        valid_until: until.to_string(),
        one_time: created
            .usable_once
            .or(job.request.usable_once)
            .unwrap_or(false),
    };
    (Ok(row), warnings)
}

async fn issue(args: IssueArgs, ctx: &Context) -> miette::Result<ExitCode> {
    let refs = args.who.refs()?;
    let destination = match &args.out {
        Some(p) if p.as_os_str() == "-" => Destination::Stdout,
        Some(p) => Destination::File(p.clone()),
        None if std::io::stdout().is_terminal() => Destination::Stdout,
        None => {
            return Err(miette!(
                help = "give --out FILE (written with mode 0600), or --out - to print them on stdout anyway",
                "stdout is not a terminal, so the passes would go wherever it leads (a CI log, a pipe); nothing \
                 was created"
            ));
        }
    };
    let ask = Ask {
        lifetime_minutes: args.lifetime.map(lifetime_minutes).transpose()?,
        usable_once: match (args.once, args.reusable) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
    };
    let journal = open_journal(args.journal.as_deref())?;
    let session = args.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let result = issue_with(
        &graph,
        &args,
        ctx,
        &refs,
        ask,
        journal.as_ref(),
        destination,
    )
    .await;
    session.finish().await?;
    result
}

async fn issue_with(
    graph: &Graph,
    args: &IssueArgs,
    ctx: &Context,
    refs: &[String],
    ask: Ask,
    journal: Option<&Journal>,
    destination: Destination,
) -> miette::Result<ExitCode> {
    let config = graph.get_tap_configuration().await.map_err(|e| {
        miette!(
            "reading the Temporary Access Pass policy (needs Policy.Read.AuthenticationMethod): {}; nothing was \
             created",
            error_summary(&e)
        )
    })?;
    let limits = limits(&config);
    let warnings = tap::check(&limits, &ask).map_err(|e| miette!("{e}"))?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let lifetime = ask.lifetime_minutes.unwrap_or(limits.default_minutes);
    let request = TapRequest {
        start: args.start.map(|t| t.to_string()),
        lifetime_minutes: ask.lifetime_minutes,
        usable_once: ask.usable_once,
    };
    let include = targets(&config.include_targets);
    let exclude = targets(&config.exclude_targets);
    let job = Job {
        graph,
        journal,
        request: &request,
        lifetime,
        replace: args.replace,
        include: &include,
        exclude: &exclude,
    };
    // The same user named twice (by UPN and by id) would get two passes, the second replacing the first.
    let mut seen = std::collections::HashMap::new();
    let resolved: Vec<(String, Result<UserInfo, String>)> = graph
        .resolve_users(refs)
        .await
        .into_iter()
        .map(|(given, r)| {
            let r = match r {
                Ok(u) => match seen.insert(u.id.to_lowercase(), given.clone()) {
                    Some(first) => Err(format!("the same user as `{first}`, named twice")),
                    None => Ok(u),
                },
                Err(e) => Err(not_found_or(&e)),
            };
            (given, r)
        })
        .collect();
    let bar = progress_for(ctx, resolved.len());
    bar.start("issuing passes", resolved.len() as u64);
    let parallelism = graph.settings().parallelism.max(1);
    let results: Vec<(Result<Row, Failure>, Vec<String>)> = futures_util::stream::iter(resolved)
        .map(|(given, user)| {
            let job = &job;
            let bar = &bar;
            async move {
                let out = match user {
                    Ok(u) => issue_one(job, &given, &u).await,
                    Err(e) => (
                        Err(Failure {
                            user: given.clone(),
                            error: e,
                        }),
                        Vec::new(),
                    ),
                };
                bar.advance(1);
                out
            }
        })
        .buffered(parallelism)
        .collect()
        .await;
    bar.finish();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (r, warnings) in results {
        for w in warnings {
            tracing::warn!("{w}");
        }
        match r {
            Ok(row) => rows.push(row),
            Err(f) => failed.push(f),
        }
    }
    for f in &failed {
        eprintln!(
            "error: {}: {}",
            crate::escape::visible(&f.user),
            crate::escape::visible(&f.error)
        );
    }
    let format = args.format();
    let text = match format {
        Format::Text => tap::rows_text(&rows),
        Format::Csv => tap::rows_csv(&rows),
        Format::Json => tap::rows_json(&rows, &failed),
    };
    if !rows.is_empty() || format == Format::Json {
        match &destination {
            Destination::Stdout => print_stdout(&text)?,
            Destination::File(p) => {
                crate::private_file::write(p, text.as_bytes()).map_err(|e| {
                    miette!(
                        "cannot write {}: {e}. {} pass(es) were created and are lost: issue them again with \
                         --replace",
                        p.display(),
                        rows.len()
                    )
                })?;
                if !ctx.quiet {
                    eprintln!(
                        "Wrote {} pass(es) to {} (mode 0600)",
                        rows.len(),
                        p.display()
                    );
                }
            }
        }
    }
    if !ctx.quiet {
        eprintln!(
            "Issued {} Temporary Access Pass(es); {} user(s) failed.",
            rows.len(),
            failed.len()
        );
    }
    Ok(if failed.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Error
    })
}

/// A resolution failure in words: "does not exist in the tenant", or Graph's.
fn not_found_or(e: &GraphError) -> String {
    match e {
        GraphError::NotFound { .. } => "does not exist in the tenant".to_string(),
        e if e.is_not_found() => format!("does not exist in the tenant ({})", error_summary(e)),
        e => error_summary(e).to_string(),
    }
}

async fn revoke(args: RevokeArgs, ctx: &Context) -> miette::Result<ExitCode> {
    let refs = args.who.refs()?;
    let journal = open_journal(args.journal.as_deref())?;
    let session = args.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let tap_type = RegistrationType::of(MethodKind::TemporaryAccessPass)
        .ok_or_else(|| miette!("no registration type for Temporary Access Passes"))?;
    let mut failed = 0;
    for (given, user) in graph.resolve_users(&refs).await {
        let shown = crate::escape::visible(&given).into_owned();
        let user = match user {
            Ok(u) => u,
            Err(e) => {
                eprintln!("error: {shown}: {}", not_found_or(&e));
                failed += 1;
                continue;
            }
        };
        let list = match graph.list_taps(&user.id).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {shown}: reading the pass: {}", error_summary(&e));
                failed += 1;
                continue;
            }
        };
        let ids: Vec<String> = list
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
            .collect();
        if ids.is_empty() {
            println!("{shown}: no Temporary Access Pass");
            continue;
        }
        for id in ids {
            let subject = JournalSubject {
                user: Some(&user.id),
                users: None,
                op: "delete",
                target: Some("temporaryAccessPass"),
            };
            let (r, written) = journaled(
                journal.as_ref(),
                graph.clock().now(),
                subject,
                graph.delete_registration(&user.id, &tap_type, &id),
            )
            .await;
            if let Err(e) = written {
                tracing::error!("cannot write the journal: {e}");
            }
            match r {
                Ok(()) => println!("{shown}: Temporary Access Pass removed"),
                Err(e) if e.is_not_found() => {
                    println!("{shown}: Temporary Access Pass already gone")
                }
                Err(e) => {
                    eprintln!("error: {shown}: removing the pass: {}", error_summary(&e));
                    failed += 1;
                }
            }
        }
    }
    session.finish().await?;
    Ok(if failed == 0 {
        ExitCode::Success
    } else {
        ExitCode::Error
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_the_flag_else_the_out_files_extension_else_text() {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: IssueArgs,
        }
        let format = |args: &[&str]| {
            use clap::Parser as _;
            let mut all = vec!["tap-issue", "kim@contoso.com"];
            all.extend_from_slice(args);
            T::try_parse_from(all).unwrap().a.format()
        };
        assert_eq!(format(&[]), Format::Text);
        assert_eq!(format(&["--out", "wave-42.csv"]), Format::Csv);
        assert_eq!(format(&["--out", "WAVE.CSV"]), Format::Csv);
        assert_eq!(format(&["--out", "passes.json"]), Format::Json);
        assert_eq!(format(&["--out", "passes.txt"]), Format::Text);
        assert_eq!(format(&["--out", "-"]), Format::Text);
        assert_eq!(
            format(&["--out", "passes.csv", "--format", "json"]),
            Format::Json,
            "the flag wins"
        );
    }

    #[test]
    fn lifetimes_are_whole_minutes() {
        assert_eq!(lifetime_minutes(Duration::from_secs(5400)).unwrap(), 90);
        assert!(lifetime_minutes(Duration::from_secs(90)).is_err());
        assert!(lifetime_minutes(Duration::ZERO).is_err());
    }

    #[test]
    fn a_current_pass_is_usable_or_not_yet_valid() {
        assert!(is_current(&serde_json::json!({"isUsable": true})));
        assert!(is_current(
            &serde_json::json!({"isUsable": false, "methodUsabilityReason": "NotYetValid"})
        ));
        assert!(!is_current(
            &serde_json::json!({"isUsable": false, "methodUsabilityReason": "Expired"})
        ));
        assert!(!is_current(&serde_json::json!({})));
    }
}
