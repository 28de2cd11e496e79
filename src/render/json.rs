//! The plan as one JSON document in the plan file's schema (`schemas/plan.schema.json`).

use crate::plan::Plan;

use super::maybe_redacted;

/// Renders the plan as pretty JSON with a trailing newline. Numbers are shown unless `redact` (`--redact`).
/// (The saved plan file, [`Plan::to_file_json`], always masks observed numbers the manifests don't contain.)
pub fn plan_json(plan: &Plan, redact: bool) -> String {
    let plan = maybe_redacted(plan, redact);
    let mut s = serde_json::to_string_pretty(&*plan).expect("a plan always serialises");
    s.push('\n');
    s
}
