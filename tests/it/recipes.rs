//! The CI recipes beside the GitHub workflows (examples/ci/gitlab, examples/ci/azure-pipelines, examples/ci/atlantis):
//! each file parses as YAML, invokes examples/ci/steps.sh with the same steps in the same order as the GitHub
//! workflows, and — run the way each one runs it (its own command lines, its own paths and variables) — validates,
//! plans, applies and checks drift against the emulator.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ci_recipes::{CI_MANIFEST, CI_TENANT};
use crate::support::{Emu, repo_path};

/// A recipe: its files, and where it expects steps.sh (relative to the repository root).
struct Recipe {
    name: &'static str,
    files: &'static [&'static str],
    steps_at: &'static str,
}

const GITHUB: Recipe = Recipe {
    name: "github",
    files: &[
        "examples/ci/workflows/authctl-plan.yml",
        "examples/ci/workflows/authctl-apply.yml",
        "examples/ci/workflows/authctl-drift.yml",
    ],
    steps_at: ".github/authctl/steps.sh",
};

const OTHERS: [Recipe; 3] = [
    Recipe {
        name: "gitlab",
        files: &["examples/ci/gitlab/.gitlab-ci.yml"],
        steps_at: "ci/authctl/steps.sh",
    },
    Recipe {
        name: "azure-pipelines",
        files: &[
            "examples/ci/azure-pipelines/azure-pipelines.yml",
            "examples/ci/azure-pipelines/install.yml",
        ],
        steps_at: "ci/authctl/steps.sh",
    },
    Recipe {
        name: "atlantis",
        files: &[
            "examples/ci/atlantis/repos.yaml",
            "examples/ci/atlantis/atlantis.yaml",
        ],
        steps_at: "ci/authctl/steps.sh",
    },
];

/// Every string in a YAML document.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The shell snippets of a recipe that run authctl (through steps.sh or directly), in file order. Each file must
/// parse as YAML; only values of the parsed documents count (comments do not).
fn scripts(r: &Recipe) -> Vec<String> {
    let mut found: Vec<(usize, usize, String)> = Vec::new();
    for (i, f) in r.files.iter().enumerate() {
        let text = std::fs::read_to_string(repo_path(f)).unwrap();
        let doc: Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{f} is not valid YAML: {e}"));
        let mut all = Vec::new();
        strings(&doc, &mut all);
        for s in all {
            let runs = s.lines().any(|l| {
                let l = l.trim_start();
                // steps.sh, or authctl itself on the manifests (not a job named "authctl plan").
                l.contains("steps.sh ")
                    || (l.starts_with("authctl ") && l.contains("$AUTHCTL_MANIFESTS"))
            });
            if runs {
                let first = s.lines().find(|l| !l.trim().is_empty()).unwrap().trim();
                let at = text.find(first).unwrap_or_else(|| panic!("{f}: {first}"));
                found.push((i, at, s));
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, _, s)| s).collect()
}

/// The steps.sh steps the snippets invoke, in order.
fn steps(scripts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in scripts {
        for l in s.lines() {
            let mut rest = l;
            while let Some(i) = rest.find("steps.sh ") {
                rest = &rest[i + "steps.sh ".len()..];
                let step: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                out.push(step);
            }
        }
    }
    out
}

/// First occurrences only: the lifecycle (a re-plan before apply repeats validate and plan).
fn lifecycle(steps: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in steps {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

#[test]
fn every_recipe_invokes_steps_sh_with_the_github_workflows_steps_in_their_order() {
    let github = lifecycle(&steps(&scripts(&GITHUB)));
    assert_eq!(github, ["validate", "plan", "apply", "drift"]);
    for r in &OTHERS {
        let got = steps(&scripts(r));
        assert!(!got.is_empty(), "{}", r.name);
        // Validate and plan come first, together, as in the pull-request workflow.
        assert_eq!(got[..2], ["validate", "plan"], "{}: {got:?}", r.name);
        let mine = lifecycle(&got);
        if r.name == "atlantis" {
            // Atlantis runs on pull-request comments only: no schedule, so no drift step.
            assert_eq!(mine, github[..3], "{}: {got:?}", r.name);
        } else {
            assert_eq!(mine, github, "{}: {got:?}", r.name);
        }
        for f in r.files {
            let text = std::fs::read_to_string(repo_path(f)).unwrap();
            assert!(
                !text.contains("cargo install"),
                "{f} installs the release binary"
            );
        }
        let all = scripts(r).join("\n");
        assert!(
            all.contains(r.steps_at),
            "{}: steps.sh at {}",
            r.name,
            r.steps_at
        );
    }
}

/// Runs each snippet of `r` with bash, in order, in a fresh repository laid out as the recipe expects, with the
/// emulator's credentials and Graph URL; returns the repository and each snippet's exit code and output.
async fn run_recipe(emu: &Emu, r: &Recipe) -> (tempfile::TempDir, Vec<(String, i32, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("manifests")).unwrap();
    std::fs::write(d.join("manifests/users.yaml"), CI_MANIFEST).unwrap();
    let steps_sh = d.join(r.steps_at);
    std::fs::create_dir_all(steps_sh.parent().unwrap()).unwrap();
    std::fs::copy(repo_path("examples/ci/steps.sh"), &steps_sh).unwrap();
    // `authctl` on PATH, as each recipe's install step leaves it.
    let bin = d.join(".bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_authctl"), bin.join("authctl")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut results = Vec::new();
    for s in scripts(r) {
        let mut cmd = std::process::Command::new("bash");
        cmd.arg("-c")
            .arg(&s)
            .current_dir(d)
            .env("PATH", &path)
            // The variables every recipe sets.
            .env("AUTHCTL_MANIFESTS", "manifests")
            .env("AUTHCTL_OUT", "authctl-out")
            .env("AUTHCTL_GRAPH_URL", emu.graph_url())
            .env_remove("AUTHCTL_ARGS")
            .env_remove("AUTHCTL")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("AUTHCTL_LOG");
        for (k, v) in emu.env() {
            cmd.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        results.push((
            s,
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    (dir, results)
}

fn phones_of(emu: &Emu, upn: &str) -> Vec<(String, String)> {
    let t = emu.snapshot();
    let u = t
        .users
        .iter()
        .find(|u| u.user_principal_name == upn)
        .unwrap();
    u.phones
        .iter()
        .map(|(k, p)| (k.to_string(), p.number.clone()))
        .collect()
}

fn check_products(r: &Recipe, d: &Path, emu: &Emu, results: &[(String, i32, String)]) {
    for (s, code, out) in results {
        assert_eq!(*code, 0, "{}: `{s}` failed:\n{out}", r.name);
    }
    let out = |f: &str| -> PathBuf { d.join("authctl-out").join(f) };
    let md = std::fs::read_to_string(out("plan.md")).unwrap();
    assert!(
        md.starts_with("<!-- authctl:plan -->\n"),
        "{}: {md}",
        r.name
    );
    assert!(out("plan.json").exists() && out("manifests.sha256").exists());
    // Applied: the create, the update and the delete of the manifest landed.
    assert_eq!(
        phones_of(emu, "ana@contoso.com"),
        [("mobile".to_string(), "+1 2065550001".to_string())],
        "{}",
        r.name
    );
    assert_eq!(
        phones_of(emu, "cal@contoso.com"),
        [("mobile".to_string(), "+1 2065550003".to_string())],
        "{}",
        r.name
    );
    assert!(
        std::fs::read_to_string(out("apply.txt"))
            .unwrap()
            .contains("ana@contoso.com")
    );
    assert!(out("journal.jsonl").exists());
    if r.name != "atlantis" {
        // Drift after the apply: in sync (drift.txt says so, no issue body).
        let drift = std::fs::read_to_string(out("drift.txt")).unwrap();
        assert!(drift.contains("In sync: 3 users"), "{}: {drift}", r.name);
        assert!(!out("drift.md").exists());
        // The dashboards' JUnit report: one passing test case per user.
        let junit = std::fs::read_to_string(out("drift.junit.xml")).unwrap();
        assert_eq!(
            junit.matches("<testcase ").count(),
            3,
            "{}: {junit}",
            r.name
        );
        assert!(
            junit.contains("failures=\"0\" errors=\"0\""),
            "{}: {junit}",
            r.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_recipe_runs_against_the_emulator() {
    let emu = Emu::start(CI_TENANT).await;
    let (dir, results) = run_recipe(&emu, &OTHERS[0]).await;
    check_products(&OTHERS[0], dir.path(), &emu, &results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_pipelines_recipe_runs_against_the_emulator() {
    let emu = Emu::start(CI_TENANT).await;
    let (dir, results) = run_recipe(&emu, &OTHERS[1]).await;
    check_products(&OTHERS[1], dir.path(), &emu, &results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atlantis_workflow_runs_against_the_emulator_and_comments_the_plan() {
    let emu = Emu::start(CI_TENANT).await;
    let (dir, results) = run_recipe(&emu, &OTHERS[2]).await;
    check_products(&OTHERS[2], dir.path(), &emu, &results);
    // Atlantis posts the plan step's output as the PR comment: it is the Markdown plan.
    let (_, _, plan_out) = results
        .iter()
        .find(|(s, _, _)| s.contains("steps.sh plan"))
        .unwrap();
    assert!(plan_out.contains("<!-- authctl:plan -->"), "{plan_out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_workflows_run_the_same_way_against_the_emulator() {
    let emu = Emu::start(CI_TENANT).await;
    let (dir, results) = run_recipe(&emu, &GITHUB).await;
    for (s, code, out) in &results {
        assert_eq!(*code, 0, "`{s}` failed:\n{out}");
    }
    assert_eq!(
        phones_of(&emu, "ana@contoso.com"),
        [("mobile".to_string(), "+1 2065550001".to_string())]
    );
    let drift = std::fs::read_to_string(dir.path().join("authctl-out/drift.txt")).unwrap();
    assert!(drift.contains("In sync: 3 users"), "{drift}");
}
