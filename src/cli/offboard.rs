//! `authctl offboard`: remove every authentication method an admin can delete from users who leave (or whose account
//! is compromised), the password excepted, and optionally revoke their sign-in sessions. Its own read → plan →
//! confirm → execute path: resolve the users (refusing protected accounts, from `--protect` and the repository
//! config's `protectedAccounts`), list every method, plan the removals ([`crate::offboard::plan_user`]: the types
//! that can be the default MFA method last), show the plan, check `--max-deletes`, ask (`yes`, or
//! `--auto-approve`), then per user (users in parallel, each user's removals in order): revoke the sessions first
//! when asked, delete each method (a 404 is "already gone"; a delete refused because the method is the default is
//! tried again once the others are gone), and read the user's methods again to report what remains.
//!
//! Re-running after a failure or a kill is safe: methods are listed afresh, so nothing is removed twice, and
//! anything already gone is not an error. `--journal` records an intent line before each write.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt as _;
use miette::miette;
use serde_json::Value;

use crate::apply::Journal;
use crate::apply::journal::{JournalSubject, journaled};
use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::cli::output::{approved, print_stdout, progress_for, show_manifest_diagnostics};
use crate::cli::tap::{UserSelection, open_journal};
use crate::exit::ExitCode;
use crate::graph::Graph;
use crate::graph::types::{UserInfo, method_kind, registration};
use crate::model::MethodKind;
use crate::observe::{Progress as _, error_summary};
use crate::offboard::{
    self, FailedRemoval, ListedMethod, ProtectedList, Removal, Report, Sessions, UserPlan,
    UserReport,
};
use crate::plan::GraphErrorSummary;

/// `--format` of `offboard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The plan, then the report, for people.
    Text,
    /// The report as one JSON document on stdout (the plan goes to stderr as text).
    Json,
}

/// Arguments of `authctl offboard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub who: UserSelection,
    /// Also invalidate the users' refresh tokens and session cookies (Graph's revokeSignInSessions).
    #[arg(long)]
    pub revoke_sessions: bool,
    /// Remove without asking (needed when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Refuse the whole run when it would remove more than this many methods (all users together). Default 10, or
    /// `limits.maxDeletes` of the repository config.
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<usize>,
    /// An account offboarding must never touch (UPN or object id; repeatable), besides the repository config's
    /// `protectedAccounts`.
    #[arg(long, value_name = "USER")]
    pub protect: Vec<String>,
    /// Append one JSON line per Graph write (time, user, operation, method type, status, request-id) to this file,
    /// fsynced, mode 0600; an intent line is written before each write.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Manifests to check: a user still declared there with methods to keep gets a warning (the next apply would
    /// recreate them).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub manifests: Vec<String>,
    /// How to print the report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// The default `--max-deletes`.
pub const DEFAULT_MAX_DELETES: usize = 10;

/// One method object of `GET …/authentication/methods` as offboarding lists it.
fn listed(raw: &Value) -> ListedMethod {
    let kind = method_kind(raw);
    let text = |k: &str| {
        raw.get(k)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(256).collect::<String>())
    };
    let id = text("id").unwrap_or_default();
    match kind {
        MethodKind::Password | MethodKind::Phone | MethodKind::Email => ListedMethod {
            kind,
            type_name: kind.graph_name().unwrap_or("unknown").to_string(),
            id,
            detail: if kind == MethodKind::Phone {
                text("phoneType")
            } else {
                None
            },
        },
        _ => match registration(raw) {
            Some(r) => ListedMethod {
                kind: r.method_type.kind(),
                type_name: r.method_type.name().to_string(),
                id,
                detail: r.display_name.or(r.detail),
            },
            None => ListedMethod {
                kind: MethodKind::Unknown,
                type_name: text("@odata.type").unwrap_or_else(|| "(no @odata.type)".into()),
                id,
                detail: None,
            },
        },
    }
}

/// The protected-account lists: `--protect`, then the config file's.
fn protected_lists(args: &Args, ctx: &Context) -> Vec<ProtectedList> {
    let mut lists = Vec::new();
    if !args.protect.is_empty() {
        lists.push(ProtectedList {
            source: "--protect".into(),
            accounts: args.protect.clone(),
        });
    }
    if let Some(c) = &ctx.config
        && !c.config.protected_accounts.is_empty()
    {
        lists.push(ProtectedList {
            source: format!("protectedAccounts in {}", c.path.display()),
            accounts: c.config.protected_accounts.clone(),
        });
    }
    lists
}

fn refuse_protected(names: &[&str], lists: &[ProtectedList]) -> miette::Result<()> {
    let hits = offboard::protected_by(names, lists);
    if hits.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = hits
        .iter()
        .map(|(l, n)| format!("{} ({})", crate::escape::visible(n), l.source))
        .collect();
    Err(miette!(
        help = "offboarding never touches a protected account; remove it from the list after review if it really \
                leaves",
        "refusing to offboard protected account(s): {}; nothing was changed",
        named.join(", ")
    ))
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let refs = args.who.refs()?;
    let lists = protected_lists(&args, ctx);
    for r in &refs {
        refuse_protected(&[r.as_str()], &lists)?;
    }
    let max_deletes = args
        .max_deletes
        .or_else(|| ctx.from_config("max_deletes", |c| c.limits.max_deletes))
        .unwrap_or(DEFAULT_MAX_DELETES);
    let manifests = if args.manifests.is_empty() {
        None
    } else {
        let m = crate::manifest::load(&args.manifests);
        if !show_manifest_diagnostics(&m, ctx) {
            return Ok(ExitCode::Error);
        }
        Some(m)
    };
    let journal = open_journal(args.journal.as_deref())?;
    let session = args.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let result = run_with(
        &graph,
        &args,
        ctx,
        &refs,
        &lists,
        max_deletes,
        manifests.as_ref(),
        journal.as_ref(),
    )
    .await;
    session.finish().await?;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_with(
    graph: &Graph,
    args: &Args,
    ctx: &Context,
    refs: &[String],
    lists: &[ProtectedList],
    max_deletes: usize,
    manifests: Option<&crate::manifest::Manifests>,
    journal: Option<&Journal>,
) -> miette::Result<ExitCode> {
    // Resolve; refuse a protected account under any of its names before anything is read further.
    let mut reports: Vec<UserReport> = Vec::with_capacity(refs.len());
    let mut found: Vec<(usize, UserInfo)> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (given, r) in graph.resolve_users(refs).await {
        let mut report = UserReport::new(&given);
        match r {
            Ok(u) => {
                refuse_protected(&[given.as_str(), &u.user_principal_name, &u.id], lists)?;
                report.id = Some(u.id.clone());
                report.upn = Some(u.user_principal_name.clone());
                if let Some(first) = seen.insert(u.id.to_lowercase(), given.clone()) {
                    report.error = Some(GraphErrorSummary {
                        status: None,
                        code: None,
                        message: format!("the same user as `{first}`, named twice"),
                        request_id: None,
                    });
                } else {
                    found.push((reports.len(), u));
                }
            }
            Err(e) => {
                report.error = Some(error_summary(&e));
            }
        }
        reports.push(report);
    }
    // Read every method of every user.
    let ids: Vec<String> = found.iter().map(|(_, u)| u.id.clone()).collect();
    let lists_read = graph.list_methods_many(&ids).await;
    let mut plans: Vec<(usize, UserPlan)> = Vec::new();
    for ((i, u), (_, methods)) in found.iter().zip(lists_read) {
        match methods {
            Ok(raw) => {
                let listed: Vec<ListedMethod> = raw.iter().map(listed).collect();
                let (removals, kept) = offboard::plan_user(&listed);
                plans.push((
                    *i,
                    UserPlan {
                        user: reports[*i].user.clone(),
                        upn: u.user_principal_name.clone(),
                        id: u.id.clone(),
                        removals,
                        kept,
                    },
                ));
            }
            Err(e) => reports[*i].error = Some(error_summary(&e)),
        }
    }
    // Show the plan and the warnings.
    let shown: Vec<UserPlan> = plans.iter().map(|(_, p)| p.clone()).collect();
    let text = offboard::plan_text(&shown, args.revoke_sessions);
    match args.format {
        Format::Text => print_stdout(&text)?,
        Format::Json => eprint!("{text}"),
    }
    for r in &reports {
        if let Some(e) = &r.error {
            eprintln!(
                "error: {}: {}",
                crate::escape::visible(&r.user),
                crate::escape::visible(&e.to_string())
            );
        }
    }
    if let Some(m) = manifests {
        warn_declared(m, &plans);
    }
    let planned: usize = plans.iter().map(|(_, p)| p.removals.len()).sum();
    if let Some(refusal) = offboard::max_deletes_refusal(planned, max_deletes) {
        return Err(miette!("{refusal}"));
    }
    let work = planned > 0 || (args.revoke_sessions && !plans.is_empty());
    if work && !approved(args.auto_approve, ctx, "offboard these users", "offboard")? {
        eprintln!("Offboarding cancelled: nothing was changed.");
        return Ok(ExitCode::Error);
    }
    let bar = progress_for(ctx, plans.len());
    bar.start("offboarding", plans.len() as u64);
    let parallelism = graph.settings().parallelism.max(1);
    let run = Run {
        graph,
        journal,
        stop: AtomicBool::new(false),
    };
    let done: Vec<(usize, UserReport)> = futures_util::stream::iter(plans)
        .map(|(i, plan)| {
            let report = reports[i].clone();
            let bar = &bar;
            let run = &run;
            async move {
                let r = offboard_user(run, plan, report, args.revoke_sessions).await;
                bar.advance(1);
                (i, r)
            }
        })
        .buffer_unordered(parallelism)
        .collect()
        .await;
    bar.finish();
    for (i, r) in done {
        reports[i] = r;
    }
    let report = Report { users: reports };
    match args.format {
        Format::Text => print_stdout(&format!("\n{}", offboard::report_text(&report)))?,
        Format::Json => print_stdout(&crate::format_version::versioned_json(
            crate::format_version::OFFBOARD_REPORT_FORMAT_VERSION,
            &report,
        ))?,
    }
    Ok(if report.has_failures() {
        ExitCode::Error
    } else {
        ExitCode::Success
    })
}

/// Warns for each offboarded user the manifests still declare with methods to keep.
fn warn_declared(m: &crate::manifest::Manifests, plans: &[(usize, UserPlan)]) {
    for (_, p) in plans {
        let names = [p.user.as_str(), p.upn.as_str(), p.id.as_str()];
        for d in m
            .users
            .iter()
            .filter(|d| names.iter().any(|n| n.eq_ignore_ascii_case(d.user.trim())))
        {
            let kept = offboard::kept_by_manifest(d);
            if !kept.is_empty() {
                tracing::warn!(
                    "{} is still declared in {} with methods to keep ({}): the next apply would recreate them; \
                     remove the user from the manifests",
                    crate::escape::visible(&p.upn),
                    d.source,
                    kept.join(", ")
                );
            }
        }
    }
}

/// The Graph client and the journal one run shares, and whether the journal failed (then no further user starts,
/// as in `apply`).
struct Run<'a> {
    graph: &'a Graph,
    journal: Option<&'a Journal>,
    stop: AtomicBool,
}

impl Run<'_> {
    /// Runs `fut` with its journal lines; a journal that can't be written stops new users from starting.
    async fn journaled<T>(
        &self,
        user_id: &str,
        op: &str,
        target: Option<&str>,
        fut: impl std::future::Future<Output = T>,
    ) -> T {
        let subject = JournalSubject {
            user: Some(user_id),
            users: None,
            op,
            target,
        };
        let (out, written) = journaled(self.journal, self.graph.clock().now(), subject, fut).await;
        if let Err(e) = written {
            tracing::error!("cannot write the journal: {e}; no further user is started");
            self.stop.store(true, Ordering::SeqCst);
        }
        out
    }
}

/// One delete, journaled: `Ok(true)` removed, `Ok(false)` already gone (404), `Err` Graph's words.
async fn delete_one(run: &Run<'_>, user_id: &str, r: &Removal) -> Result<bool, GraphErrorSummary> {
    let id = (!r.singular).then_some(r.method.id.as_str());
    let result = run
        .journaled(
            user_id,
            "delete",
            Some(&r.method.type_name),
            run.graph.delete_method_at(user_id, &r.segment, id),
        )
        .await;
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(error_summary(&e)),
    }
}

/// Offboards one user: sessions first (when asked), then the removals in order, a default-method refusal tried
/// again at the end, then a fresh read of what remains.
async fn offboard_user(
    run: &Run<'_>,
    plan: UserPlan,
    mut report: UserReport,
    revoke: bool,
) -> UserReport {
    let graph = run.graph;
    if run.stop.load(Ordering::SeqCst) {
        report
            .notes
            .push("not started: the journal could not be written".into());
        report.remaining = plan.removals.iter().map(|r| r.method.clone()).collect();
        return report;
    }
    report.sessions = if revoke {
        let r = run
            .journaled(
                &plan.id,
                "revokeSessions",
                None,
                graph.revoke_sign_in_sessions(&plan.id),
            )
            .await;
        match r {
            Ok(()) => Sessions::Revoked,
            Err(e) => Sessions::Failed {
                error: error_summary(&e),
            },
        }
    } else {
        Sessions::NotRequested
    };
    let mut deferred = Vec::new();
    for r in &plan.removals {
        match delete_one(run, &plan.id, r).await {
            Ok(true) => report.removed.push(r.method.clone()),
            Ok(false) => report.already_gone.push(r.method.clone()),
            Err(e) if e.is_default_method_refusal() => deferred.push(r),
            Err(error) => report.failed.push(FailedRemoval {
                method: r.method.clone(),
                error,
            }),
        }
    }
    for r in deferred {
        match delete_one(run, &plan.id, r).await {
            Ok(removed) => {
                report.notes.push(format!(
                    "{} is the default method: removed last",
                    r.method.describe()
                ));
                if removed {
                    report.removed.push(r.method.clone());
                } else {
                    report.already_gone.push(r.method.clone());
                }
            }
            Err(error) => report.failed.push(FailedRemoval {
                method: r.method.clone(),
                error,
            }),
        }
    }
    for r in plan.removals.iter().filter(|r| r.guessed_path()) {
        report.notes.push(format!(
            "{} is a type authctl does not know: deleted at …/{}",
            r.method.describe(),
            r.segment
        ));
    }
    match graph.list_methods(&plan.id).await {
        Ok(raw) => {
            let after: Vec<ListedMethod> = raw.iter().map(listed).collect();
            report.remaining = offboard::remaining(&after, &report.removed, &report.already_gone);
        }
        Err(e) => report.notes.push(format!(
            "could not read the methods again to check what remains: {}",
            error_summary(&e)
        )),
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_method_objects_are_listed_with_their_type_and_detail() {
        let l = listed(&serde_json::json!({
            "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
            "id": "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber": "+1 2065550100", "phoneType": "mobile"
        }));
        assert_eq!(
            (l.kind, l.type_name.as_str(), l.detail.as_deref()),
            (MethodKind::Phone, "phone", Some("mobile"))
        );
        let l = listed(&serde_json::json!({
            "@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "k", "displayName": "YubiKey"
        }));
        assert_eq!(
            (l.kind, l.detail.as_deref()),
            (MethodKind::Fido2, Some("YubiKey"))
        );
        let l = listed(&serde_json::json!({
            "@odata.type": "#microsoft.graph.externalAuthenticationMethod", "id": "e"
        }));
        assert_eq!(l.kind, MethodKind::External);
        assert_eq!(
            Removal::of(l).unwrap().segment,
            "externalAuthenticationMethods"
        );
        let l = listed(&serde_json::json!({
            "@odata.type": "#microsoft.graph.quantumKeyAuthenticationMethod", "id": "q"
        }));
        assert_eq!(
            (l.kind, l.type_name.as_str()),
            (MethodKind::Unknown, "quantumKey")
        );
        let l = listed(
            &serde_json::json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "p"}),
        );
        assert!(Removal::of(l).is_none());
    }
}
