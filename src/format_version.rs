//! The envelope every `--format json` output other than the plan (which has its own `formatVersion`) is wrapped in:
//! `formatVersion` first, then the document's own fields. Each document has a JSON Schema in `schemas/` whose
//! `formatVersion` is a `const`; a change that renames, removes or retypes a field bumps that document's version
//! here and in its schema, so a tool reading the output can refuse what it was not written for.

use serde::Serialize;

/// `validate --format json` (schemas/validate.schema.json).
pub const VALIDATE_FORMAT_VERSION: u32 = 1;
/// `drift --format json` (schemas/drift.schema.json).
pub const DRIFT_FORMAT_VERSION: u32 = 1;
/// `apply --format json` (schemas/apply-report.schema.json).
pub const APPLY_REPORT_FORMAT_VERSION: u32 = 1;
/// `methods --format json` (schemas/methods.schema.json).
pub const METHODS_FORMAT_VERSION: u32 = 1;
/// `import --report-format json` (schemas/import-report.schema.json).
pub const IMPORT_REPORT_FORMAT_VERSION: u32 = 1;
/// `auth check --format json` (schemas/auth-check.schema.json).
pub const AUTH_CHECK_FORMAT_VERSION: u32 = 1;
/// `tap issue --format json` (the passes issued and the users that got none).
pub const TAP_FORMAT_VERSION: u32 = 1;
/// `offboard --format json` (the per-user report).
pub const OFFBOARD_REPORT_FORMAT_VERSION: u32 = 1;

/// `doc` with `formatVersion` in front of its fields (`doc` must serialise as an object).
#[derive(Serialize)]
pub struct Versioned<'a, T: Serialize + ?Sized> {
    /// The version of this document's format.
    #[serde(rename = "formatVersion")]
    pub format_version: u32,
    /// The document's own fields.
    #[serde(flatten)]
    pub doc: &'a T,
}

/// `doc` as pretty JSON with `formatVersion` first and a trailing newline.
pub fn versioned_json<T: Serialize + ?Sized>(format_version: u32, doc: &T) -> String {
    let mut s = serde_json::to_string_pretty(&Versioned {
        format_version,
        doc,
    })
    .unwrap_or_else(|e| format!("{{\"formatVersion\":{format_version},\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_first_and_the_fields_follow() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct D {
            in_sync: bool,
        }
        let s = versioned_json(3, &D { in_sync: true });
        assert_eq!(s, "{\n  \"formatVersion\": 3,\n  \"inSync\": true\n}\n");
    }
}
