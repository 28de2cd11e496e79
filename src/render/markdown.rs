//! The plan as a pull-request comment: headline, a warning banner when anything is deleted, the summary and a
//! counts table, a per-user action table with destructive rows first, blocked items and errors, then per-user
//! `<details>` with a unified diff of canonical YAML, observed vs *predicted after apply* (so merge mode shows no
//! phantom deletes of unmanaged phones).
//!
//! GitHub rejects comments over 65,536 characters, so the comment is built in priority order and stops adding
//! before the limit: the headline, banner, summary and counts always; then the destructive rows; then the other
//! rows, the blocked items and errors, and the details last. Whatever is left out is counted in a note.

use std::fmt::Write as _;

use similar::TextDiff;

use crate::plan::{Action, Op, Plan, Target, UserPlan};

use super::maybe_redacted;
use super::text::heading;
use super::yaml::state_yaml;

/// GitHub's limit on a comment body, in characters.
pub const MARKDOWN_LIMIT: usize = 65_536;

/// Room kept for the footer and the truncation notes.
const RESERVE: usize = 1_500;

/// Options of [`plan_markdown`].
#[derive(Debug, Clone, Copy)]
pub struct MarkdownOptions {
    /// Mask numbers (default; `--no-redact` turns it off).
    pub redact: bool,
    /// The size limit (default [`MARKDOWN_LIMIT`]).
    pub limit: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            redact: true,
            limit: MARKDOWN_LIMIT,
        }
    }
}

/// Escapes text for a Markdown table cell or inline use: control and bidirectional characters shown as `\u{…}`,
/// pipes and `<` neutralised.
fn cell(s: &str) -> String {
    crate::escape::visible(&s.replace('\n', " "))
        .replace('|', "\\|")
        .replace('<', "&lt;")
}

/// A name (a UPN, a display name) for inline Markdown: [`cell`], and every character that could open a code span,
/// emphasis or a link backslash-escaped, so a backtick in a UPN cannot break out into the rest of the line.
fn name(s: &str) -> String {
    let mut out = String::new();
    for ch in cell(s).chars() {
        if matches!(ch, '`' | '*' | '_' | '[' | ']' | '~' | '!' | '#') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A message (authctl's words around names and values from files and Graph) for inline Markdown. Its code spans
/// are kept when its backticks pair up, each span re-fenced so nothing inside can close it, and the text between
/// escaped as [`name`]; a message whose backticks do not pair (a value holding one) is escaped as a whole. Either
/// way no value can open a span, a link or emphasis in the comment.
fn message(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return name(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                crate::escape::markdown_code_span(&cell(p))
            } else {
                name(p)
            }
        })
        .collect()
}

fn op_words(a: &Action) -> String {
    let base = match a.op() {
        Op::Create => "create",
        Op::Update => "update",
        Op::Delete => "delete",
        Op::Enable => "enable SMS sign-in",
        Op::Disable => "disable SMS sign-in",
    };
    let base = if a.is_destructive() {
        format!("**{base}**")
    } else {
        base.to_string()
    };
    if a.after_reread {
        format!("{base} (if needed after re-read)")
    } else {
        base
    }
}

fn code(v: Option<&str>) -> String {
    v.map(|s| crate::escape::markdown_code_span(&cell(s)))
        .unwrap_or_default()
}

/// Adds `piece` when it fits the budget; returns false (and adds nothing) when it doesn't. Counts bytes, which
/// are never fewer than characters, so the character limit holds too.
fn push_within(out: &mut String, piece: &str, budget: usize) -> bool {
    if out.len() + piece.len() > budget {
        return false;
    }
    out.push_str(piece);
    true
}

/// Renders the plan as a PR comment. Numbers are masked unless `opts.redact` is false.
pub fn plan_markdown(plan: &Plan, opts: MarkdownOptions) -> String {
    let plan = maybe_redacted(plan, opts.redact);
    let budget = opts.limit.saturating_sub(RESERVE);
    let s = &plan.summary;
    let mut out = String::from("## authctl plan\n\n");

    if let Some(e) = &plan.error {
        let _ = writeln!(out, "> [!CAUTION]\n> {}\n", message(&e.to_string()));
        out.push_str(&footer(&plan, opts.redact));
        return out;
    }
    // The methods policy first: its destructive banner leads, and it is applied before any user.
    if let Some(p) = &plan.policy {
        out.push_str(&super::policy::policy_markdown(p));
    }
    if s.destroy > 0
        || plan
            .users
            .iter()
            .any(|u| u.actions.iter().any(Action::is_destructive))
    {
        let all = || plan.users.iter().flat_map(|u| &u.actions);
        let disables = all()
            .filter(|a| a.op() == Op::Disable && a.is_destructive())
            .count();
        let registrations = all().filter(|a| a.target() == Target::Registration).count();
        let emails = all()
            .filter(|a| a.target() == Target::Email && a.op() == Op::Delete)
            .count();
        let phones = all()
            .filter(|a| a.phone_type().is_some() && a.op() == Op::Delete)
            .count();
        let mut what = Vec::new();
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        if registrations > 0 {
            what.push(format!(
                "**removes {registrations} registered method{}** (Authenticator, FIDO2, Windows Hello, …)",
                plural(registrations)
            ));
        }
        if emails > 0 {
            what.push(format!(
                "**deletes {emails} email method{}**",
                plural(emails)
            ));
        }
        if phones > 0 {
            what.push(format!(
                "**deletes {phones} phone method{}**",
                plural(phones)
            ));
        }
        if disables > 0 {
            what.push(format!(
                "**disables SMS sign-in for {disables} user{}**",
                if disables == 1 { "" } else { "s" }
            ));
        }
        let _ = writeln!(
            out,
            "> [!WARNING]\n> This plan {}. Review the destructive rows at the top of the table.\n",
            what.join(" and ")
        );
    }
    let g = &plan.guards.max_deletes;
    if !g.holds {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> Guard max-deletes fails: {} deletes planned, limit {}. Apply will refuse this plan.\n",
            g.deletes, g.limit
        );
    }
    let _ = writeln!(out, "**{}**\n", s.line());
    out.push_str("| | count |\n|---|---:|\n");
    let in_sync = plan
        .users
        .iter()
        .filter(|u| u.error.is_none() && u.actions.is_empty())
        .count();
    // The policy's rows only when the manifests declare a policy.
    if plan.policy.is_some() {
        let _ = writeln!(out, "| policy methods to change | {} |", s.policy_changes);
        let _ = writeln!(out, "| policy errors | {} |", s.policy_errors);
    }
    for (label, n) in [
        ("to add", s.add),
        ("to change", s.change),
        ("to destroy", s.destroy),
        ("SMS sign-in changes", s.sms_changes),
        ("blocked", s.blocked),
        ("pending user actions", s.pending),
        ("user errors", s.errors),
        ("users with changes", s.users_with_changes),
        ("users without changes", in_sync),
    ] {
        let _ = writeln!(out, "| {label} | {n} |");
    }
    let _ = writeln!(
        out,
        "| guard max-deletes | {} of {} {} |",
        g.deletes,
        g.limit,
        if g.holds { "✅" } else { "❌" }
    );
    out.push('\n');

    // Action rows, destructive first (stable: manifest order within each group).
    let mut rows: Vec<(&UserPlan, &Action)> = Vec::new();
    for destructive in [true, false] {
        for u in &plan.users {
            for a in &u.actions {
                if a.is_destructive() == destructive {
                    rows.push((u, a));
                }
            }
        }
    }
    let mut omitted_rows = 0;
    let mut omitted_deletions = 0;
    if !rows.is_empty() {
        out.push_str(
            "### Changes\n\n| user | action | type | before | after |\n|---|---|---|---|---|\n",
        );
        for (i, (u, a)) in rows.iter().enumerate() {
            let row = match &a.registration {
                Some(r) => format!(
                    "| {} | {} | {} | {} | |\n",
                    name(u.display_name()),
                    op_words(a),
                    cell(r.method_type.name()),
                    code(Some(&crate::plan::registration_detail(r)))
                ),
                None => format!(
                    "| {} | {} | {} | {} | {} |\n",
                    name(u.display_name()),
                    op_words(a),
                    a.target(),
                    code(a.before.as_deref()),
                    code(a.after.as_deref())
                ),
            };
            if !push_within(&mut out, &row, budget) {
                omitted_rows = rows.len() - i;
                omitted_deletions = rows[i..].iter().filter(|(_, a)| a.is_destructive()).count();
                break;
            }
        }
        if omitted_rows > 0 {
            let _ = writeln!(
                out,
                "\n_{omitted_rows} more change{} not shown ({omitted_deletions} of them destructive): the comment \
                 would exceed GitHub's size limit. The saved plan and the job log have all of them._",
                if omitted_rows == 1 { "" } else { "s" }
            );
        }
        out.push('\n');
    }

    // Blocked items, pending user actions, errors, warnings.
    let mut notes: Vec<String> = Vec::new();
    for u in &plan.users {
        let who = name(u.display_name());
        if let Some(e) = &u.error {
            notes.push(format!("- ❌ **{who}**: {}\n", message(&e.to_string())));
        }
        for b in &u.blocked {
            let what = cell(&super::text::blocked_what(b));
            notes.push(format!(
                "- ⛔ **{who}** {what} blocked: {}\n",
                message(&b.reason)
            ));
        }
        for p in &u.pending {
            notes.push(format!(
                "- ⏳ **{who}** {} pending user action: {}\n",
                p.target,
                message(&p.reason)
            ));
        }
        for w in &u.warnings {
            notes.push(format!("- ⚠️ **{who}**: {}\n", message(w)));
        }
    }
    let mut omitted_notes = 0;
    if !notes.is_empty() && omitted_rows == 0 {
        out.push_str("### Blocked, pending, errors and warnings\n\n");
        for (i, n) in notes.iter().enumerate() {
            if !push_within(&mut out, n, budget) {
                omitted_notes = notes.len() - i;
                break;
            }
        }
        out.push('\n');
    } else {
        omitted_notes = notes.len();
    }
    if omitted_notes > 0 {
        let _ = writeln!(
            out,
            "_{omitted_notes} blocked item(s), error(s) or warning(s) not shown (size limit)._\n"
        );
    }

    // Details: per user, observed vs predicted after apply.
    let with_changes: Vec<&UserPlan> = plan.users.iter().filter(|u| u.has_changes()).collect();
    let mut omitted_details = 0;
    if !with_changes.is_empty() && omitted_rows == 0 && omitted_notes == 0 {
        out.push_str("### Details\n\n");
        for (i, u) in with_changes.iter().enumerate() {
            let piece = details(u);
            if !push_within(&mut out, &piece, budget) {
                omitted_details = with_changes.len() - i;
                break;
            }
        }
    } else {
        omitted_details = with_changes.len();
    }
    if omitted_details > 0 {
        let _ = writeln!(
            out,
            "_Details of {omitted_details} user(s) not shown (size limit)._\n"
        );
    }
    out.push_str(&footer(&plan, opts.redact));
    out
}

/// One user's `<details>` block with the diff.
fn details(u: &UserPlan) -> String {
    let (Some(obs), Some(pred)) = (&u.observed, &u.predicted) else {
        return String::new();
    };
    let old = state_yaml(obs);
    let new = state_yaml(pred);
    let diff = TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(10)
        .header("observed", "predicted after apply")
        .to_string();
    // Values from Graph are escaped, and the fence is longer than any run of backticks in the diff, so nothing in
    // it can close the block.
    let diff: String = diff
        .split_inclusive('\n')
        .map(|l| {
            let (body, nl) = l.strip_suffix('\n').map_or((l, ""), |b| (b, "\n"));
            format!("{}{nl}", crate::escape::visible_keep_tabs(body))
        })
        .collect();
    let longest = diff.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!(
        "<details><summary>{} — {} change{}</summary>\n\n{fence}diff\n{}{fence}\n\n</details>\n\n",
        cell(&heading(u)),
        u.actions.len(),
        if u.actions.len() == 1 { "" } else { "s" },
        diff
    )
}

fn footer(plan: &Plan, redact: bool) -> String {
    let mut s = format!(
        "<sub>authctl {} · plan {} · manifests {}",
        plan.authctl_version,
        plan.created,
        &plan.manifest_digest[..plan.manifest_digest.len().min(12)]
    );
    if let Some(c) = &plan.git_commit {
        let _ = write!(s, " · commit {}", cell(c));
    }
    if redact {
        s.push_str(" · numbers masked (`·xx` tells different numbers apart within this plan)");
    }
    s.push_str("</sub>\n");
    s
}
