//! Output other tools read: every `--format json` document carries `formatVersion`, names its fields in camelCase
//! and validates against its committed schema in `schemas/` (each checked on the output of a real run of the binary
//! against the emulator); the committed schemas are the generated ones and each has an `$id`; `validate --format
//! sarif` has the structure SARIF 2.1.0 requires; `drift --format junit` has one test case per user.

use serde_json::Value;

use authctl::cli::schema::SchemaKind;

use crate::support::{authctl_cmd, repo_path};

const TENANT: &str = r#"
tenantId: 00000000-0000-4000-8000-0000000f1000
domains: [contoso.com]
apps:
  - name: rw
    clientId: 00000000-0000-4000-8000-0000000f1001
    secret: f-s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
    tokenLifetime: 1h
users:
  - id: 00000000-0000-4000-8000-0000000f0001
    userPrincipalName: ana@contoso.com
  - id: 00000000-0000-4000-8000-0000000f0002
    userPrincipalName: ben@contoso.com
    phones:
      mobile: { number: "+1 2065550002" }
  - id: 00000000-0000-4000-8000-0000000f0003
    userPrincipalName: cal@contoso.com
    phones:
      mobile: { number: "+1 2065550003" }
"#;

const MANIFEST: &str = r#"apiVersion: authctl/v1
kind: PhoneMethods
metadata:
  name: emea-phones
  labels: { app.kubernetes.io/part-of: identity }
spec:
  mode: exact
  users:
    - user: ana@contoso.com
      phones:
        mobile: "+1 206 555 0001"
    - user: ben@contoso.com
      phones:
        mobile: "+1 (206) 555-0012"
    - user: cal@contoso.com
      phones:
        mobile: "+1 2065550003"
"#;

const INVALID: &str = "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n    - user: dee@contoso.com\n      phones:\n        mobile: \"+1 12\"\n        pager: \"+1 2065550100\"\n";

struct Dir {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
}

fn setup() -> Dir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::write(root.join("tenant.yaml"), TENANT).unwrap();
    std::fs::write(root.join("m.yaml"), MANIFEST).unwrap();
    std::fs::write(root.join("bad.yaml"), INVALID).unwrap();
    Dir { _dir: dir, root }
}

/// Runs the binary in `d` with `--emulate tenant.yaml` added after the command words `cmd`; returns (code, stdout).
fn run(d: &Dir, cmd: &[&str], args: &[&str], emulate: bool) -> (i32, String) {
    let mut c = authctl_cmd();
    c.current_dir(&d.root).args(cmd);
    if emulate {
        c.args(["--emulate", "tenant.yaml"]);
    }
    let out = c.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn committed(kind: SchemaKind) -> Value {
    let text = std::fs::read_to_string(repo_path(&format!("schemas/{}", kind.file()))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `doc` validates against the committed schema of `kind`, carries `formatVersion` and names every field in camelCase.
fn check(kind: SchemaKind, doc: &str) -> Value {
    let v: Value = serde_json::from_str(doc).unwrap_or_else(|e| panic!("{kind:?}: {e}\n{doc}"));
    let validator = jsonschema::draft7::new(&committed(kind)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{kind:?}: {errors:#?}\n{doc}");
    assert!(v["formatVersion"].as_u64().is_some(), "{kind:?}: {doc}");
    let mut bad = Vec::new();
    camel_keys(&v, "", &mut bad);
    assert!(bad.is_empty(), "{kind:?}: not camelCase: {bad:?}");
    v
}

/// Every object key under `v` that is not camelCase (Graph's own `@odata.type` and the method properties authctl
/// passes through as Graph wrote them excepted).
fn camel_keys(v: &Value, at: &str, bad: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let ok = k == "@odata.type"
                    || (k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && k.chars().all(|c| c.is_ascii_alphanumeric()));
                if !ok {
                    bad.push(format!("{at}/{k}"));
                }
                if k != "properties" || !at.contains("methods") {
                    camel_keys(x, &format!("{at}/{k}"), bad);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| camel_keys(x, at, bad)),
        _ => {}
    }
}

#[test]
fn every_committed_schema_is_the_generated_one_and_has_an_id() {
    for kind in SchemaKind::ALL {
        let path = repo_path(&format!("schemas/{}", kind.file()));
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == kind.json(),
            "{} is out of date; regenerate it with `cargo run -- schema {} > schemas/{}`",
            path.display(),
            clap::ValueEnum::to_possible_value(&kind)
                .unwrap()
                .get_name(),
            kind.file()
        );
        let v: Value = serde_json::from_str(&on_disk).unwrap();
        assert!(
            v["$id"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/schemas/{}", kind.file())),
            "{kind:?}"
        );
        jsonschema::draft7::new(&v).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
}

#[test]
fn validate_json_validates_against_its_schema_valid_or_not() {
    let d = setup();
    let (code, out) = run(&d, &["validate"], &["m.yaml", "--format", "json"], false);
    assert_eq!(code, 0, "{out}");
    let v = check(SchemaKind::Validate, &out);
    assert_eq!(v["diagnostics"], serde_json::json!([]));
    let (code, out) = run(&d, &["validate"], &["bad.yaml", "--format", "json"], false);
    assert_eq!(code, 1, "{out}");
    let v = check(SchemaKind::Validate, &out);
    assert!(v["diagnostics"].as_array().unwrap().len() >= 2, "{out}");
}

#[test]
fn plan_drift_apply_methods_import_and_auth_check_json_validate_against_their_schemas() {
    let d = setup();
    // plan --format json is the plan file's format, with its own formatVersion.
    let (code, out) = run(&d, &["plan"], &["m.yaml", "--format", "json"], true);
    assert_eq!(code, 0, "{out}");
    let p = check(SchemaKind::Plan, &out);
    assert_eq!(p["formatVersion"], authctl::plan::FORMAT_VERSION);

    let (code, out) = run(&d, &["drift"], &["m.yaml", "--format", "json"], true);
    assert_eq!(code, 2, "{out}");
    let v = check(SchemaKind::Drift, &out);
    assert_eq!(v["drifted"], 2);

    let (code, out) = run(
        &d,
        &["apply"],
        &["m.yaml", "--auto-approve", "--format", "json"],
        true,
    );
    assert_eq!(code, 0, "{out}");
    let v = check(SchemaKind::ApplyReport, &out);
    assert_eq!(v["summary"]["done"], 3, "{out}");

    let (code, out) = run(
        &d,
        &["methods"],
        &["ben@contoso.com", "nobody@contoso.com", "--format", "json"],
        true,
    );
    assert_eq!(code, 1, "one user is missing: {out}");
    let v = check(SchemaKind::Methods, &out);
    assert!(
        v["users"][0]["methods"].as_array().unwrap().len() >= 2,
        "{out}"
    );
    assert_eq!(
        v["users"][1]["error"]["code"], "Request_ResourceNotFound",
        "{out}"
    );

    let (code, out) = run(
        &d,
        &["import"],
        &[
            "ben@contoso.com",
            "ghost@contoso.com",
            "--mode",
            "exact",
            "--out",
            "imported.yaml",
            "--report-format",
            "json",
        ],
        true,
    );
    assert_eq!(code, 1, "one user is missing: {out}");
    let v = check(SchemaKind::ImportReport, &out);
    assert_eq!(v["imported"][0]["userPrincipalName"], "ben@contoso.com");
    assert_eq!(v["missing"][0], "ghost@contoso.com");
    assert!(d.root.join("imported.yaml").exists());

    let (code, out) = run(&d, &["auth", "check"], &["--format", "json"], true);
    assert_eq!(code, 0, "{out}");
    let v = check(SchemaKind::AuthCheck, &out);
    assert_eq!(v["appId"], "00000000-0000-4000-8000-0000000f1001");
    assert_eq!(v["sources"][0]["verdict"], "chosen");
    assert!(
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["setting"] == "clientId"),
        "{out}"
    );
}

#[test]
fn import_json_report_needs_out() {
    let d = setup();
    let out = authctl_cmd()
        .current_dir(&d.root)
        .args([
            "import",
            "--emulate",
            "tenant.yaml",
            "ben@contoso.com",
            "--mode",
            "exact",
        ])
        .args(["--report-format", "json"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "no manifest and no report on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--out <FILE>"), "{err}");
}

/// The log validates against the official SARIF 2.1.0 schema (vendored unmodified in tests/fixtures/sarif from an
/// npm package, see its README), and what the schema cannot say holds too: one run; each result's `ruleId` names the
/// driver's rule at `ruleIndex`; artifact URIs are relative; regions are 1-based.
fn check_sarif(v: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("tests/fixtures/sarif/sarif-2.1.0-rtm.5.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft4::new(&schema).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "not valid SARIF 2.1.0: {errors:#?}\n{v:#}"
    );
    // The schema has teeth: a level SARIF does not know is refused.
    if v["runs"][0]["results"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
    {
        let mut bad = v.clone();
        bad["runs"][0]["results"][0]["level"] = "fatal".into();
        assert!(!validator.is_valid(&bad));
    }
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let runs = v["runs"].as_array().expect("runs is an array");
    assert_eq!(runs.len(), 1);
    for run in runs {
        let driver = &run["tool"]["driver"];
        assert!(driver["name"].is_string());
        let rules = driver["rules"].as_array().unwrap();
        for r in rules {
            assert!(r["id"].is_string());
        }
        for res in run["results"].as_array().unwrap() {
            assert!(res["message"]["text"].is_string(), "{res}");
            assert!(
                ["none", "note", "warning", "error"].contains(&res["level"].as_str().unwrap()),
                "{res}"
            );
            let i = res["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], res["ruleId"], "{res}");
            for loc in res["locations"].as_array().unwrap() {
                let p = &loc["physicalLocation"];
                let uri = p["artifactLocation"]["uri"].as_str().unwrap();
                assert!(!uri.starts_with('/') && !uri.contains(' '), "{uri}");
                if let Some(region) = p.get("region") {
                    assert!(region["startLine"].as_u64().unwrap() >= 1);
                    assert!(region["startColumn"].as_u64().unwrap() >= 1);
                }
            }
        }
    }
}

#[test]
fn validate_sarif_has_the_sarif_2_1_0_structure_one_result_per_diagnostic() {
    let d = setup();
    let (code, out) = run(&d, &["validate"], &["bad.yaml", "--format", "sarif"], false);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    check_sarif(&v);
    let (_, json) = run(&d, &["validate"], &["bad.yaml", "--format", "json"], false);
    let diags: Value = serde_json::from_str(&json).unwrap();
    let diags = diags["diagnostics"].as_array().unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), diags.len());
    for (r, d) in results.iter().zip(diags) {
        assert_eq!(r["ruleId"], d["code"]);
        assert_eq!(r["level"], d["severity"]);
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], d["line"]);
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "bad.yaml"
        );
    }
    let (code, out) = run(&d, &["validate"], &["m.yaml", "--format", "sarif"], false);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    check_sarif(&v);
    assert_eq!(v["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn drift_junit_has_one_test_case_per_user_failed_when_it_drifted() {
    let d = setup();
    let (code, out) = run(&d, &["drift"], &["m.yaml", "--format", "junit"], true);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        "{out}"
    );
    assert!(out.contains("<testsuite name=\"authctl drift\" tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"0\">"), "{out}");
    let cases: Vec<&str> = out.lines().filter(|l| l.contains("<testcase ")).collect();
    assert_eq!(cases.len(), 3, "{out}");
    assert!(
        cases[0].contains("name=\"ana@contoso.com\"") && cases[0].contains("<failure "),
        "{out}"
    );
    assert!(
        cases[0].contains("mobile: manifests +1 2065550001, Graph (none)"),
        "{out}"
    );
    assert!(
        cases[1].contains("name=\"ben@contoso.com\"") && cases[1].contains("Graph +1 2065550002"),
        "{out}"
    );
    assert!(
        cases[2].contains("name=\"cal@contoso.com\"") && cases[2].ends_with("/>"),
        "in sync: passed: {out}"
    );
    assert_eq!(
        out.matches("<testcase ").count(),
        out.matches("classname=\"m.yaml\"").count()
    );
}

#[test]
fn the_schemastore_catalog_entries_point_at_committed_schemas_and_spare_the_config_file() {
    let text = std::fs::read_to_string(repo_path("schemas/schemastore-catalog.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let entries = v["schemas"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for (e, kind) in entries.iter().zip([SchemaKind::Manifest, SchemaKind::Plan]) {
        assert_eq!(e["url"], committed(kind)["$id"], "{e}");
        assert!(e["name"].is_string() && e["description"].is_string());
        let patterns: Vec<&str> = e["fileMatch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(!patterns.is_empty());
        // The repository config file is not a manifest: no pattern may claim it.
        for p in patterns {
            assert!(!["authctl.yaml", ".authctl.toml"].contains(&p), "{p}");
            assert!(
                !p.starts_with('/'),
                "SchemaStore patterns are relative: {p}"
            );
        }
    }
}
