//! The plan as one JSON document in the plan file's schema (`schemas/plan.schema.json`).

use crate::plan::Plan;

use super::maybe_redacted;

/// Renders the plan as pretty JSON with a trailing newline. Numbers are shown unless `redact` (`--redact`).
/// (The saved plan file, [`Plan::to_file_json`], always masks observed numbers the manifests don't contain.)
pub fn plan_json(plan: &Plan, redact: bool) -> String {
    let mut out = Vec::new();
    write_plan_json(plan, redact, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// [`plan_json`] streamed into `w`.
pub fn write_plan_json(
    plan: &Plan,
    redact: bool,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let plan = maybe_redacted(plan, redact);
    serde_json::to_writer_pretty(&mut *w, &*plan)?;
    w.write_all(b"\n")
}
