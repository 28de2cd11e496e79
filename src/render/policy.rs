//! The authentication methods policy part of a plan, shown before the users: destructive changes first, then per
//! method a diff of settings (`state`, `defaultLifetime: 1h → 2h`) and targets (`+ include group "SMS pilot"`).

use std::fmt::Write as _;

use serde_json::Value;

use crate::plan::PolicyPlan;
use crate::plan::methods_policy::TargetChange;

use super::style::{Color, paint};

fn value(v: &Value) -> String {
    match v {
        Value::String(s) => crate::escape::visible(s).into_owned(),
        Value::Null => "(none)".into(),
        other => crate::escape::visible(&other.to_string()).into_owned(),
    }
}

fn flags(v: &Option<Value>) -> String {
    match v.as_ref().and_then(Value::as_object) {
        Some(o) if !o.is_empty() => format!(
            " ({})",
            o.iter()
                .map(|(k, v)| format!("{k}: {}", value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => String::new(),
    }
}

/// One target line: `+ include group "One" (isUsableForSignIn: true)`.
pub fn target_line(t: &TargetChange) -> (String, char) {
    let name = crate::escape::visible(&t.name);
    match t.op.as_str() {
        "add" => (format!("+ {} {name}{}", t.list, flags(&t.after)), '+'),
        "remove" => (format!("- {} {name}", t.list), '-'),
        _ => (
            format!(
                "~ {} {name}{} →{}",
                t.list,
                flags(&t.before),
                flags(&t.after)
            ),
            '~',
        ),
    }
}

/// The policy section of the text plan (empty when nothing is declared).
pub fn policy_text(p: &PolicyPlan, c: bool) -> String {
    let mut out = String::new();
    for e in &p.errors {
        let at = if e.line > 0 {
            format!("{}:{}:{}: {}: ", e.file, e.line, e.column, e.path)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} {}{}\n  help: {}",
            paint("Error (policy):", Color::Red, c),
            crate::escape::visible(&at),
            crate::escape::visible(&e.message),
            crate::escape::visible(&e.help)
        );
    }
    let destructive = p.destructive();
    if !destructive.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint(
                "DESTRUCTIVE POLICY CHANGE: it takes a method away from users; apply refuses it without \
                 --allow-policy-removal",
                Color::Red,
                c
            )
        );
        for d in &destructive {
            let _ = writeln!(out, "  {}", paint(&format!("! {d}"), Color::Red, c));
        }
        out.push('\n');
    }
    if p.methods.is_empty() {
        if p.errors.is_empty() {
            let _ = writeln!(
                out,
                "{}\n",
                paint("Authentication methods policy: in sync", Color::Dim, c)
            );
        }
        return out;
    }
    let _ = writeln!(
        out,
        "Authentication methods policy: {} method{} to change (applied before any user):\n",
        p.methods.len(),
        if p.methods.len() == 1 { "" } else { "s" }
    );
    for m in &p.methods {
        let _ = writeln!(
            out,
            "{}",
            paint(
                &format!("# policy: {} ({})", m.label, m.method),
                Color::Bold,
                c
            )
        );
        for s in &m.settings {
            let _ = writeln!(
                out,
                "  {}",
                paint(
                    &format!(
                        "~ {}: {} → {}",
                        s.setting,
                        value(&s.before),
                        value(&s.after)
                    ),
                    Color::Yellow,
                    c
                )
            );
        }
        for t in &m.targets {
            let (line, sym) = target_line(t);
            let col = match sym {
                '+' => Color::Green,
                '-' => Color::Red,
                _ => Color::Yellow,
            };
            let _ = writeln!(out, "  {}", paint(&line, col, c));
        }
        out.push('\n');
    }
    out
}

/// The policy section of the Markdown plan.
pub fn policy_markdown(p: &PolicyPlan) -> String {
    // A `|` would end a table cell even inside a code span (GFM): escaped, it shows as `|`.
    let md = |s: &str| crate::escape::markdown_code_span(s).replace('|', "\\|");
    let mut out = String::new();
    for e in &p.errors {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> Policy: {}:{}:{} {} — {}\n",
            md(&e.file),
            e.line,
            e.column,
            md(&e.path),
            md(&e.message)
        );
    }
    let destructive = p.destructive();
    if !destructive.is_empty() {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **Destructive policy change**: it takes a method away from users; apply refuses it \
             without `--allow-policy-removal`.\n>"
        );
        for d in &destructive {
            let _ = writeln!(out, "> - {}", md(d));
        }
        out.push('\n');
    }
    if p.methods.is_empty() {
        return out;
    }
    out.push_str("### Authentication methods policy (applied first)\n\n| method | change | before | after |\n|---|---|---|---|\n");
    for m in &p.methods {
        for s in &m.settings {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                md(&m.label),
                md(&s.setting),
                md(&value(&s.before)),
                md(&value(&s.after))
            );
        }
        for t in &m.targets {
            let (line, _) = target_line(t);
            let _ = writeln!(out, "| {} | {} | | |", md(&m.label), md(&line));
        }
    }
    out.push('\n');
    out
}
