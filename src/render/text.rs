//! The terminal plan: Terraform-like `+ ~ -` lines per user, blocked items, pending user actions, warnings, the
//! guard and the summary line.

use std::fmt::Write as _;

use crate::plan::{Action, Op, Plan, Target, UserPlan};

use super::maybe_redacted;
use super::style::{Color, paint};

/// Options of [`plan_text`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// ANSI colour.
    pub color: bool,
    /// Mask every number (`--redact`).
    pub redact: bool,
}

/// The symbol and colour of an action.
pub(crate) fn symbol(a: &Action) -> (&'static str, Color) {
    match a.op() {
        Op::Create => ("+", Color::Green),
        Op::Update => ("~", Color::Yellow),
        Op::Delete => ("-", Color::Red),
        Op::Enable => ("~", Color::Yellow),
        Op::Disable => (
            "~",
            if a.is_destructive() {
                Color::Red
            } else {
                Color::Yellow
            },
        ),
    }
}

/// One action in words, without the symbol: `mobile  +1 2065555555 → +1 2065550001`.
pub(crate) fn describe(a: &Action) -> String {
    let value = match (a.op(), &a.before, &a.after) {
        (Op::Create, _, Some(after)) => after.clone(),
        (Op::Delete, Some(before), _) => before.clone(),
        (_, Some(b), Some(after)) => format!("{b} → {after}"),
        (_, None, Some(after)) => format!("→ {after}"),
        (_, before, None) => before.clone().unwrap_or_default(),
    };
    if let Some(r) = &a.registration {
        let mut s = format!(
            "{:<16} {}",
            r.method_type.name(),
            crate::plan::registration_detail(r)
        );
        if let Some(n) = &a.note {
            let _ = write!(s, " ({n})");
        }
        return s;
    }
    let mut s = format!("{:<16} {value}", a.target().as_str());
    if a.target() == Target::SmsSignIn {
        let _ = write!(s, " ({} SMS sign-in", a.op());
        if a.after_reread
            && a.note
                .as_deref()
                .is_some_and(|n| n.starts_with(POLICY_NOTE))
        {
            s.push_str(" after the policy change, if a re-read still needs it");
        } else if a.after_reread {
            s.push_str(" if needed, after re-reading the mobile");
        } else if let Some(n) = &a.note {
            let _ = write!(s, ", {n}");
        }
        s.push(')');
    } else if let Some(n) = &a.note {
        let _ = write!(s, " ({n})");
    }
    s
}

/// How an SMS action waiting for the methods policy change begins its note (`plan::methods_policy`).
const POLICY_NOTE: &str = crate::plan::methods_policy::POLICY_NOTE;

/// The heading of a user: `cam@contoso.com (id) · exact · users.yaml:3:7`.
pub(crate) fn heading(u: &UserPlan) -> String {
    let mut s = u.display_name().to_string();
    if let Some(id) = &u.id
        && Some(id.as_str()) != u.upn.as_deref()
        && id != &u.user
    {
        let _ = write!(s, " ({id})");
    } else if u.upn.as_deref().is_some_and(|upn| upn != u.user) {
        let _ = write!(s, " ({})", u.user);
    }
    let _ = write!(s, " · {} · {}", u.mode, u.source);
    s
}

/// Whether a user has anything to show (actions, blocked, pending, warnings, an error).
pub(crate) fn is_interesting(u: &UserPlan) -> bool {
    u.error.is_some()
        || !u.actions.is_empty()
        || !u.blocked.is_empty()
        || !u.pending.is_empty()
        || !u.warnings.is_empty()
}

use crate::escape::visible as v;

/// What a blocked item is about: `office delete`, `fido2 delete "YubiKey" (…; id …)`.
pub(crate) fn blocked_what(b: &crate::plan::Blocked) -> String {
    let op = b.op.map(|op| format!(" {op}")).unwrap_or_default();
    match &b.registration {
        Some(r) => format!(
            "{}{op} {}",
            r.method_type.name(),
            crate::plan::registration_detail(r)
        ),
        None => format!("{}{op}", b.target),
    }
}

/// Renders a plan for the terminal. Names, values and messages are escaped ([`v`]).
pub fn plan_text(plan: &Plan, opts: TextOptions) -> String {
    let plan = maybe_redacted(plan, opts.redact);
    let c = opts.color;
    let mut out = String::new();
    if let Some(e) = &plan.error {
        let _ = writeln!(
            out,
            "{} {}",
            paint("Error:", Color::Red, c),
            v(&e.to_string())
        );
        return out;
    }
    // The methods policy first: it is applied before any user.
    if let Some(p) = &plan.policy {
        out.push_str(&super::policy::policy_text(p, c));
    }
    let shown: Vec<&UserPlan> = plan.users.iter().filter(|u| is_interesting(u)).collect();
    if shown.iter().any(|u| !u.actions.is_empty()) {
        out.push_str(
            "authctl will make these changes (+ create, ~ update, - delete; ! blocked, ? pending user action):\n\n",
        );
    }
    for u in &shown {
        let _ = writeln!(
            out,
            "{}",
            paint(&format!("# {}", heading(u)), Color::Bold, c)
        );
        if let Some(e) = &u.error {
            let _ = writeln!(
                out,
                "  {} {}",
                paint("error:", Color::Red, c),
                v(&e.to_string())
            );
        }
        for a in &u.actions {
            let (sym, col) = symbol(a);
            let _ = writeln!(
                out,
                "  {}",
                paint(&format!("{sym} {}", describe(a)), col, c)
            );
        }
        for b in &u.blocked {
            let what = blocked_what(b);
            let _ = writeln!(
                out,
                "  {} {}",
                paint(&format!("! {what} blocked:"), Color::Magenta, c),
                v(&b.reason)
            );
        }
        for p in &u.pending {
            let _ = writeln!(
                out,
                "  {} {}",
                paint(
                    &format!("? {} pending user action:", p.target),
                    Color::Cyan,
                    c
                ),
                v(&p.reason)
            );
        }
        for w in &u.warnings {
            let _ = writeln!(out, "  {} {}", paint("warning:", Color::Yellow, c), v(w));
        }
        out.push('\n');
    }
    let in_sync = plan.users.len() - shown.len();
    if in_sync > 0 {
        let _ = writeln!(
            out,
            "{}",
            paint(
                &format!(
                    "{in_sync} user{} in sync",
                    if in_sync == 1 { "" } else { "s" }
                ),
                Color::Dim,
                c
            )
        );
    }
    let g = &plan.guards.max_deletes;
    let guard = format!(
        "Guard max-deletes: {} delete{} planned, limit {} — {}",
        g.deletes,
        if g.deletes == 1 { "" } else { "s" },
        g.limit,
        if g.holds {
            "holds"
        } else {
            "FAILS: apply will refuse this plan"
        }
    );
    let _ = writeln!(
        out,
        "{}",
        paint(&guard, if g.holds { Color::Dim } else { Color::Red }, c)
    );
    let _ = writeln!(out, "{}", paint(&plan.summary.line(), Color::Bold, c));
    out
}
