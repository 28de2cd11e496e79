//! `drift --format junit`: the drift check as a JUnit XML report, which CI dashboards (GitLab's test reports, Azure
//! Pipelines' PublishTestResults, Jenkins, GitHub test-report actions) show as tests. One `<testsuite>` named
//! `authctl drift`, one `<testcase>` per user checked (classname the manifest file, name the user):
//! - passed when the user matches the manifests,
//! - `<failure>` when it has a difference apply would fix (each difference on its own line),
//! - `<error>` when it could not be checked (missing user, Graph error),
//! - `<skipped>` when it differs only by blocked items or pending user actions (no apply can fix them).
//!
//! Every text from outside (users, files, numbers, messages) is escaped for XML and stripped of characters XML 1.0
//! cannot carry.

use std::fmt::Write as _;

use crate::plan::{DriftReport, DriftStatus, Plan};

/// The JUnit XML of a drift run over `plan` (the users checked) and its `report` (what drifted).
pub fn drift_junit(plan: &Plan, report: &DriftReport) -> String {
    struct Case {
        class: String,
        name: String,
        body: String,
    }
    let mut cases = Vec::with_capacity(plan.users.len());
    let (mut failures, mut errors, mut skipped) = (0usize, 0usize, 0usize);
    for u in &plan.users {
        let name = u.upn.clone().unwrap_or_else(|| u.user.clone());
        let drift = report.users.iter().find(|d| {
            d.user == u.user && d.source.file == u.source.file && d.source.line == u.source.line
        });
        let mut body = String::new();
        if let Some(d) = drift {
            let lines = |planned: bool| -> String {
                d.differences
                    .iter()
                    .filter(|x| (x.status == DriftStatus::Planned) == planned)
                    .map(|x| {
                        let tag = match x.status {
                            DriftStatus::Planned => "",
                            DriftStatus::Blocked => " [blocked]",
                            DriftStatus::Pending => " [pending user action]",
                        };
                        format!(
                            "{}: manifests {}, Graph {}{tag}\n",
                            x.target,
                            x.desired,
                            x.observed.as_deref().unwrap_or("(none)")
                        )
                    })
                    .collect()
            };
            if let Some(e) = &d.error {
                errors += 1;
                let _ = write!(
                    body,
                    "<error message=\"{}\" type=\"error\">{}</error>",
                    xml(e),
                    xml(e)
                );
            } else if d
                .differences
                .iter()
                .any(|x| x.status == DriftStatus::Planned)
            {
                failures += 1;
                let planned = lines(true);
                let n = d
                    .differences
                    .iter()
                    .filter(|x| x.status == DriftStatus::Planned)
                    .count();
                let _ = write!(
                    body,
                    "<failure message=\"{n} difference{} apply would fix\" type=\"drift\">{}{}</failure>",
                    if n == 1 { "" } else { "s" },
                    xml(&planned),
                    xml(&lines(false))
                );
            } else if !d.differences.is_empty() {
                skipped += 1;
                let _ = write!(
                    body,
                    "<skipped message=\"differs only by blocked items or pending user actions\"/><system-out>{}</system-out>",
                    xml(&lines(false))
                );
            }
        }
        cases.push(Case {
            class: u.source.file.clone(),
            name,
            body,
        });
    }
    // The authentication methods policy: one test case per declared method, failing when it drifted.
    for key in plan.policy.iter().flat_map(|p| &p.declared) {
        let mut body = String::new();
        if let Some(m) = report.policy.iter().find(|m| &m.method == key) {
            failures += 1;
            let mut lines = String::new();
            for x in &m.settings {
                let _ = writeln!(
                    lines,
                    "{}: manifests {}, Graph {}",
                    x.setting, x.after, x.before
                );
            }
            for t in &m.targets {
                let _ = writeln!(lines, "{}", super::policy::target_line(t).0);
            }
            let _ = write!(
                body,
                "<failure message=\"the {} configuration differs; apply would fix it\" type=\"drift\">{}</failure>",
                xml(&m.label),
                xml(&lines)
            );
        }
        cases.push(Case {
            class: "authentication methods policy".into(),
            name: key.clone(),
            body,
        });
    }
    // A run-level error (masked numbers) is one more test case, in error.
    let run_error = usize::from(report.error.is_some());
    errors += run_error;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let head = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\"",
        cases.len() + run_error
    );
    let _ = writeln!(out, "<testsuites name=\"authctl\" {head}>");
    let _ = writeln!(out, "  <testsuite name=\"authctl drift\" {head}>");
    if let Some(e) = &report.error {
        let _ = writeln!(
            out,
            "    <testcase classname=\"authctl\" name=\"run\"><error message=\"{}\" type=\"error\"/></testcase>",
            xml(e)
        );
    }
    for c in &cases {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(&c.class),
            xml(&c.name)
        );
        if c.body.is_empty() {
            let _ = writeln!(out, "{open}/>");
        } else {
            let _ = writeln!(out, "{open}>{}</testcase>", c.body);
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// `s` escaped for XML text and attribute values; characters XML 1.0 cannot carry (controls other than tab and
/// newline, lone surrogates cannot occur in `str`) and bidi overrides are replaced by U+FFFD.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || ('\u{202a}'..='\u{202e}').contains(&c) => {
                out.push('\u{fffd}')
            }
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_escapes_markup_and_drops_what_xml_cannot_carry() {
        assert_eq!(xml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(xml("x\u{1b}y\u{202e}"), "x\u{fffd}y\u{fffd}");
    }
}
