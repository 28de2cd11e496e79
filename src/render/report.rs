//! The apply report (done / failed with Graph's status, code, message and request-id / skipped / not attempted)
//! and the drift document, as text and JSON.

use std::fmt::Write as _;

use crate::plan::{ActionOutcome, ApplyReport, DriftReport, DriftStatus, UserOutcome};

use super::style::{Color, paint};
use super::text::{describe, symbol};
use crate::escape::visible as v;

/// The apply report for the terminal.
pub fn apply_report_text(report: &ApplyReport, color: bool) -> String {
    let c = color;
    let mut out = String::new();
    if let Some(e) = &report.error {
        let _ = writeln!(
            out,
            "{} {}",
            paint("Error:", Color::Red, c),
            v(&e.to_string())
        );
    }
    // The methods policy first: it was applied before any user.
    for p in &report.policy {
        let (sym, col) = match (p.outcome.as_str(), p.converged) {
            ("applied", Some(true)) => ("✓", Color::Green),
            ("applied", _) => ("…", Color::Yellow),
            _ => ("✗", Color::Red),
        };
        let state = match (p.outcome.as_str(), p.converged) {
            ("applied", Some(true)) => "applied, reads back as planned".to_string(),
            ("applied", _) => "applied, NOT read back as planned".to_string(),
            (o, _) => o.to_string(),
        };
        let _ = writeln!(
            out,
            "{}",
            paint(&format!("{sym} policy: {} — {state}", p.label), col, c)
        );
        if let Some(e) = &p.error {
            let _ = writeln!(out, "    {}", v(&e.to_string()));
        }
        for n in &p.notes {
            let _ = writeln!(out, "    {}", v(n));
        }
    }
    // Users with nothing to do and nothing to say are counted, not listed: at 10,000 users the report would
    // otherwise be mostly "no changes" lines hiding the few that matter (`--format json` lists every user). The
    // executor's "nothing to do" reason is what folds them, not something to show.
    let mut quiet = 0usize;
    for u in &report.users {
        if u.outcome == UserOutcome::Done
            && u.actions.is_empty()
            && u.error.is_none()
            && u.notes.is_empty()
            && u.blocked.is_empty()
            && u.pending.is_empty()
            && u.converged != Some(false)
        {
            quiet += 1;
            continue;
        }
        let name = u.upn.as_deref().unwrap_or(&u.user);
        let (word, col) = match u.outcome {
            UserOutcome::Done if u.actions.is_empty() => ("no changes", Color::Dim),
            UserOutcome::Done => ("done", Color::Green),
            UserOutcome::Failed => ("FAILED", Color::Red),
            UserOutcome::Skipped => ("skipped", Color::Yellow),
            UserOutcome::NotAttempted => ("not attempted", Color::Yellow),
        };
        let _ = write!(
            out,
            "{}: {}",
            paint(name, Color::Bold, c),
            paint(word, col, c)
        );
        if let Some(r) = &u.reason
            && !(u.outcome == UserOutcome::Done && u.actions.is_empty())
        {
            let _ = write!(out, ": {}", v(r));
        }
        out.push('\n');
        for a in &u.actions {
            let (sym, _) = symbol(&a.action);
            let (mark, col) = match a.outcome {
                ActionOutcome::Done => ("done", Color::Green),
                ActionOutcome::NotNeeded => ("not needed", Color::Dim),
                ActionOutcome::Failed => ("failed", Color::Red),
                ActionOutcome::OutcomeUnknown => ("outcome unknown", Color::Red),
                ActionOutcome::Skipped => ("skipped", Color::Yellow),
                ActionOutcome::NotAttempted => ("not attempted", Color::Yellow),
            };
            let _ = write!(
                out,
                "  {sym} {} — {}",
                v(&describe(&a.action)),
                paint(mark, col, c)
            );
            if let Some(e) = &a.error {
                let _ = write!(out, ": {}", v(&e.to_string()));
            }
            if let Some(n) = &a.note {
                let _ = write!(out, " ({})", v(n));
            }
            out.push('\n');
        }
        if let Some(e) = &u.error
            && !u.actions.iter().any(|a| a.error.as_ref() == Some(e))
        {
            let _ = writeln!(
                out,
                "  {} {}",
                paint("error:", Color::Red, c),
                v(&e.to_string())
            );
        }
        match u.converged {
            Some(true) => {
                let _ = writeln!(out, "  {}", paint("converged", Color::Dim, c));
            }
            Some(false) => {
                let _ = writeln!(out, "  {}", paint("NOT converged", Color::Red, c));
            }
            None => {}
        }
        for b in &u.blocked {
            let _ = writeln!(
                out,
                "  {} {} blocked: {}",
                paint("!", Color::Red, c),
                v(&super::text::blocked_what(b)),
                v(&b.reason)
            );
        }
        for p in &u.pending {
            let _ = writeln!(
                out,
                "  {} {} pending user action: {}",
                paint("?", Color::Yellow, c),
                p.target,
                v(&p.reason)
            );
        }
        for n in &u.notes {
            let _ = writeln!(out, "  note: {}", v(n));
        }
    }
    if quiet > 0 {
        let _ = writeln!(
            out,
            "{}",
            paint(
                &format!(
                    "{quiet} user{} without changes",
                    if quiet == 1 { "" } else { "s" }
                ),
                Color::Dim,
                c
            )
        );
    }
    let k = report.counts();
    let unknown = report
        .users
        .iter()
        .flat_map(|u| &u.actions)
        .filter(|a| a.outcome == ActionOutcome::OutcomeUnknown)
        .count();
    let _ = writeln!(
        out,
        "{}",
        paint(
            &format!(
                "Apply: {}{} user{} done, {} failed, {} skipped, {} not attempted{}; {} action{} done{}",
                if report.policy.is_empty() {
                    String::new()
                } else {
                    format!(
                        "{} policy method{} applied, {} failed; ",
                        k.policy_applied,
                        if k.policy_applied == 1 { "" } else { "s" },
                        k.policy_failed
                    )
                },
                k.done,
                if k.done == 1 { "" } else { "s" },
                k.failed,
                k.skipped,
                k.not_attempted,
                if k.not_converged > 0 {
                    format!(", {} not converged", k.not_converged)
                } else {
                    String::new()
                },
                k.actions_done,
                if k.actions_done == 1 { "" } else { "s" },
                match unknown {
                    0 => String::new(),
                    n => format!(", {n} of unknown outcome (may have landed)"),
                },
            ),
            Color::Bold,
            c
        )
    );
    out
}

/// The apply report's JSON document: the report and its counts (schemas/apply-report.schema.json).
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReportDoc<'a> {
    /// The report.
    #[serde(flatten)]
    pub report: &'a ApplyReport,
    /// What happened, counted.
    pub summary: crate::plan::ApplyCounts,
}

/// The apply report as one JSON document (pretty, trailing newline).
pub fn apply_report_json(report: &ApplyReport) -> String {
    use ApplyReportDoc as Doc;
    super::versioned::versioned_json(
        super::versioned::APPLY_REPORT_FORMAT_VERSION,
        &Doc {
            report,
            summary: report.counts(),
        },
    )
}

/// The drift document for the terminal.
pub fn drift_text(report: &DriftReport, color: bool) -> String {
    let c = color;
    let mut out = String::new();
    if let Some(e) = &report.error {
        let _ = writeln!(
            out,
            "{} {}",
            paint("Error:", Color::Red, c),
            v(&e.to_string())
        );
    }
    for m in &report.policy {
        let _ = writeln!(
            out,
            "{}",
            paint(
                &format!("policy: {} ({})", m.label, m.method),
                Color::Bold,
                c
            )
        );
        for s in &m.settings {
            let _ = writeln!(
                out,
                "  ~ {}: manifests {}, Graph {}",
                v(&s.setting),
                v(&s.after.to_string()),
                v(&s.before.to_string())
            );
        }
        for t in &m.targets {
            let _ = writeln!(out, "  {}", super::policy::target_line(t).0);
        }
    }
    for u in &report.users {
        let name = u.upn.as_deref().unwrap_or(&u.user);
        let _ = writeln!(
            out,
            "{} ({})",
            paint(name, Color::Bold, c),
            v(&u.source.to_string())
        );
        if let Some(e) = &u.error {
            let _ = writeln!(
                out,
                "  {} {}",
                paint("error:", Color::Red, c),
                v(&e.to_string())
            );
        }
        for d in &u.differences {
            let status = match d.status {
                DriftStatus::Planned => "",
                DriftStatus::Blocked => " [blocked]",
                DriftStatus::Pending => " [pending user action]",
            };
            let _ = writeln!(
                out,
                "  {} {}: manifests {}, Graph {}{status}",
                paint("~", Color::Yellow, c),
                d.target,
                v(&d.desired.to_string()),
                v(d.observed.as_deref().unwrap_or("(none)"))
            );
        }
    }
    // `drifted` and `fixable` count the policy's methods too; the line names them apart.
    let policy = report.policy.len();
    let users_drifted = report.drifted.saturating_sub(policy);
    let users_fixable = report.fixable.saturating_sub(policy);
    let line = if report.in_sync {
        format!(
            "In sync: {} {} authentication methods match the manifests",
            report.users_checked,
            if report.users_checked == 1 {
                "user's"
            } else {
                "users'"
            }
        )
    } else if report.fixable == 0 && report.errors == 0 {
        format!(
            "No drift apply can fix: {} of {} users differ only by blocked items or pending user actions (see \
             the reasons in the plan)",
            report.drifted, report.users_checked
        )
    } else {
        format!(
            "Drift: {}{} of {} users differ from the manifests{}{}",
            if policy > 0 {
                format!(
                    "{policy} policy method{} and ",
                    if policy == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            },
            users_drifted,
            report.users_checked,
            if users_fixable < users_drifted {
                format!(
                    " ({users_fixable} with differences apply would fix, the others blocked or pending)"
                )
            } else {
                String::new()
            },
            if report.errors > 0 {
                format!(
                    "; {} error{}",
                    report.errors,
                    if report.errors == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        )
    };
    let _ = writeln!(out, "{}", paint(&line, Color::Bold, c));
    out
}

/// The drift document as JSON (pretty, trailing newline).
pub fn drift_json(report: &DriftReport) -> String {
    super::versioned::versioned_json(super::versioned::DRIFT_FORMAT_VERSION, report)
}
