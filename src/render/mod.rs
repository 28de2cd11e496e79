//! Renderers of plans and reports: text (Terraform-like, colour), JSON (the plan file schema), Markdown (PR
//! comments). Pure functions from data to a `String`; the caller prints or writes it.
//!
//! Redaction: text and JSON show numbers unless `redact` is set; Markdown masks them unless `redact` is unset by
//! `--no-redact`. Masks carry a per-plan fingerprint (see [`crate::plan::Redaction`]).

pub use crate::escape;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod methods;
pub mod policy;
pub mod report;
pub use crate::json_schema as schemas;
pub mod text;
pub use crate::format_version as versioned;

mod style;

pub(crate) use style::{Color, paint};
mod yaml;

pub use json::{plan_json, write_plan_json};
pub use markdown::{MARKDOWN_LIMIT, MarkdownOptions, plan_markdown};
pub use report::{apply_report_json, apply_report_text, drift_json, drift_text};
pub use text::{TextOptions, plan_text};

use crate::plan::{Plan, RedactScope};

/// The plan to render: masked copy when `redact`, else as is.
fn maybe_redacted(plan: &Plan, redact: bool) -> std::borrow::Cow<'_, Plan> {
    if redact {
        std::borrow::Cow::Owned(plan.redacted(RedactScope::All))
    } else {
        std::borrow::Cow::Borrowed(plan)
    }
}
