//! The apply report: per user, what was done, what failed (Graph's status, code, message and request-id), what was
//! skipped and why, what was not attempted, and whether the user converged; then a summary line. Text for the
//! terminal, JSON as one document.

use std::fmt::Write as _;

use crate::plan::{ActionOutcome, ApplyReport, UserOutcome, UserReport};

use super::style::{Color, paint};
use super::text::describe;

/// The apply report for the terminal.
pub fn apply_text(report: &ApplyReport, color: bool) -> String {
    let c = color;
    let mut out = String::new();
    if let Some(e) = &report.error {
        let _ = writeln!(out, "{} {e}", paint("Refused:", Color::Red, c));
        return out;
    }
    for u in report.users.iter().filter(|u| is_interesting(u)) {
        let (word, col) = outcome_word(u);
        let _ = writeln!(
            out,
            "{} {}",
            paint(&format!("# {}", name(u)), Color::Bold, c),
            paint(word, col, c)
        );
        if let Some(r) = &u.reason
            && u.outcome != UserOutcome::Done
        {
            let _ = writeln!(out, "  reason: {r}");
        }
        for a in &u.actions {
            let (mark, col) = match a.outcome {
                ActionOutcome::Done => ("done         ", Color::Green),
                ActionOutcome::NotNeeded => ("not needed   ", Color::Dim),
                ActionOutcome::Failed => ("FAILED       ", Color::Red),
                ActionOutcome::Skipped => ("skipped      ", Color::Yellow),
                ActionOutcome::NotAttempted => ("not attempted", Color::Yellow),
            };
            let _ = writeln!(
                out,
                "  {} {} {}",
                paint(mark, col, c),
                a.action.op,
                describe(&a.action)
            );
            if let Some(n) = &a.note {
                let _ = writeln!(out, "                  {n}");
            }
            if let Some(e) = &a.error {
                let _ = writeln!(
                    out,
                    "                  {}",
                    paint(&format!("Graph: {e}"), Color::Red, c)
                );
            }
        }
        for n in &u.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out.push('\n');
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// The apply report as pretty JSON with a trailing newline (the `ApplyReport` type, plus its counts).
pub fn apply_json(report: &ApplyReport) -> String {
    let mut v = serde_json::to_value(report).expect("a report always serialises");
    v["counts"] = serde_json::to_value(report.counts()).expect("counts serialise");
    let mut s = serde_json::to_string_pretty(&v).expect("a report always serialises");
    s.push('\n');
    s
}

/// `Apply: 3 users done (5 actions), 1 failed, 1 skipped (stale), 0 not attempted; 1 not converged`.
pub fn summary_line(report: &ApplyReport) -> String {
    let k = report.counts();
    let mut s = format!(
        "Apply: {} user{} done ({} action{}), {} failed, {} skipped, {} not attempted",
        k.done,
        if k.done == 1 { "" } else { "s" },
        k.actions_done,
        if k.actions_done == 1 { "" } else { "s" },
        k.failed,
        k.skipped,
        k.not_attempted
    );
    if k.not_converged > 0 {
        let _ = write!(s, "; {} not converged", k.not_converged);
    }
    s
}

fn name(u: &UserReport) -> String {
    match (&u.upn, &u.id) {
        (Some(upn), Some(id)) => format!("{upn} ({id})"),
        (Some(upn), None) => upn.clone(),
        (None, Some(id)) => format!("{} ({id})", u.user),
        (None, None) => u.user.clone(),
    }
}

fn outcome_word(u: &UserReport) -> (&'static str, Color) {
    match (u.outcome, u.converged) {
        (UserOutcome::Done, Some(false)) => ("done, NOT converged", Color::Red),
        (UserOutcome::Done, _) => ("done", Color::Green),
        (UserOutcome::Failed, _) => ("FAILED", Color::Red),
        (UserOutcome::Skipped, _) => ("skipped", Color::Yellow),
        (UserOutcome::NotAttempted, _) => ("not attempted", Color::Yellow),
    }
}

/// Users worth a block: anything but "nothing to do".
fn is_interesting(u: &UserReport) -> bool {
    !(u.outcome == UserOutcome::Done && u.actions.is_empty() && u.notes.is_empty())
}
