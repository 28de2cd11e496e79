//! `validate --format sarif`: the manifest diagnostics as one SARIF 2.1.0 log, the format GitHub code scanning
//! (`github/codeql-action/upload-sarif`) and other static-analysis viewers read. One run, tool `authctl` with one
//! rule per diagnostic code seen, one result per diagnostic: level `error` or `warning`, the message (with the field
//! path and help), and the physical location (file as a relative URI, 1-based line and column) when it has one.
//!
//! The diagnostics given are already escaped and cut for display (`manifest::diagnostic::render`). The tests check
//! the log against the official SARIF 2.1.0 schema (vendored in tests/fixtures/sarif).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Diagnostic, Severity};

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";
/// The schema URI SARIF 2.1.0 logs name.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The log as pretty JSON with a trailing newline.
pub fn sarif_log(diagnostics: &[Diagnostic]) -> String {
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    for d in diagnostics {
        let next = rules.len();
        rules.entry(d.code.as_str()).or_insert(next);
    }
    // Rule indices in order of first appearance, as `ruleIndex` refers to them.
    let mut ordered: Vec<(&str, usize)> = rules.iter().map(|(k, v)| (*k, *v)).collect();
    ordered.sort_by_key(|(_, i)| *i);
    let rule_docs: Vec<Value> = ordered
        .iter()
        .map(|(code, _)| {
            json!({
                "id": code,
                "name": rule_name(code),
                "shortDescription": { "text": format!("authctl manifest check {code}") },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut text = if d.path.is_empty() {
                d.message.clone()
            } else {
                format!("{}: {}", d.path, d.message)
            };
            if let Some(h) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(h);
            }
            let mut physical = json!({ "artifactLocation": { "uri": file_uri(&d.file) } });
            if d.line > 0 {
                physical["region"] = json!({ "startLine": d.line, "startColumn": d.column.max(1) });
            }
            json!({
                "ruleId": d.code,
                "ruleIndex": rules[d.code.as_str()],
                "level": match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                "message": { "text": text },
                "locations": [{ "physicalLocation": physical }],
            })
        })
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": { "driver": {
                "name": "authctl",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rule_docs,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}

/// `authctl::manifest::unknown-field` → `UnknownField` (SARIF's `name` is an identifier-like label).
fn rule_name(code: &str) -> String {
    code.rsplit("::")
        .next()
        .unwrap_or(code)
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// A file as a SARIF artifact URI: relative paths stay relative (code scanning resolves them against the checkout),
/// separators become `/`, and characters a URI cannot hold are percent-encoded. Stdin (`-`) is `stdin`.
fn file_uri(file: &str) -> String {
    if file == "-" {
        return "stdin".to_string();
    }
    let path = file.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_and_uris() {
        assert_eq!(
            rule_name("authctl::manifest::unknown-field"),
            "UnknownField"
        );
        assert_eq!(file_uri("./a b/m.yaml"), "a%20b/m.yaml");
        assert_eq!(file_uri("-"), "stdin");
    }
}
