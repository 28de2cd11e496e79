//! Integration tests: the CI recipes' `examples/ci/steps.sh`, as the workflows call it, against the emulator
//! (validate, plan, apply, drift; a saved plan from other manifests refused; invalid manifests annotated).

use crate::support::{Emu, repo_path};

/// Three users, one per kind of change the recipes must carry through: a create, an update, a delete.
pub(crate) const CI_TENANT: &str = r#"
tenantId: 00000000-0000-4000-8000-0000000c1000
domains: [contoso.com]
apps:
  - name: rw
    clientId: 00000000-0000-4000-8000-0000000c1001
    secret: ci-s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
    tokenLifetime: 1h
users:
  - id: 00000000-0000-4000-8000-0000000c0001
    userPrincipalName: ana@contoso.com
  - id: 00000000-0000-4000-8000-0000000c0002
    userPrincipalName: ben@contoso.com
    phones:
      mobile: { number: "+1 2065550002" }
  - id: 00000000-0000-4000-8000-0000000c0003
    userPrincipalName: cal@contoso.com
    phones:
      mobile: { number: "+1 2065550003" }
      office: { number: "+1 4255550003" }
"#;

pub(crate) const CI_MANIFEST: &str = r#"apiVersion: authctl/v1
kind: PhoneMethods
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

/// `bash examples/ci/steps.sh STEP` in `dir`, with the emulator's credentials and `AUTHCTL_ARGS` pointing the Graph
/// commands at it; returns the exit code, stdout, stderr and the GitHub step outputs it wrote.
async fn steps(emu: &Emu, dir: &std::path::Path, step: &str) -> StepRun {
    let outputs = dir.join(format!("github-output-{step}"));
    let _ = std::fs::remove_file(&outputs);
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(repo_path("examples/ci/steps.sh"))
        .arg(step)
        .current_dir(dir)
        .env("AUTHCTL", env!("CARGO_BIN_EXE_authctl"))
        // The form steps.sh documents: the host with /v1.0.
        .env("AUTHCTL_ARGS", format!("--graph-url {}", emu.graph_url()))
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env_remove("AUTHCTL_LOG")
        .env_remove("AUTHCTL_MANIFESTS")
        .env_remove("AUTHCTL_OUT");
    for (k, v) in emu.env() {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("bash runs"))
        .await
        .expect("steps thread");
    let outputs = std::fs::read_to_string(&outputs).unwrap_or_default();
    StepRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs,
    }
}

#[derive(Debug)]
struct StepRun {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: String,
}

fn phones_of(emu: &Emu, upn: &str) -> Vec<(String, String)> {
    let t = emu.snapshot();
    let u = t
        .users
        .iter()
        .find(|u| u.user_principal_name == upn)
        .expect("the user exists");
    u.phones
        .iter()
        .map(|(k, p)| (k.to_string(), p.number.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_steps_validate_plan_apply_and_drift_work_against_the_emulator() {
    let emu = Emu::start(CI_TENANT).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    std::fs::create_dir(d.join("manifests")).expect("mkdir");
    std::fs::write(d.join("manifests/users.yaml"), CI_MANIFEST).expect("writes the manifest");

    let v = steps(&emu, d, "validate").await;
    assert_eq!(v.code, 0, "{v:#?}");
    assert!(!v.stdout.contains("::error"), "{v:#?}");

    // Plan: changes pending is success for the job, told through the step output; the comment starts with the
    // marker the workflow finds it by; the saved plan is private.
    let p = steps(&emu, d, "plan").await;
    assert_eq!(p.code, 0, "{p:#?}");
    assert!(p.outputs.contains("changes=true"), "{p:#?}");
    let md = std::fs::read_to_string(d.join("authctl-out/plan.md")).expect("plan.md");
    assert!(md.starts_with("<!-- authctl:plan -->\n"), "{md}");
    assert!(
        md.contains("ana@contoso.com") && md.contains("cal@contoso.com"),
        "{md}"
    );
    assert!(md.len() < 65_536);
    let plan = d.join("authctl-out/plan.json");
    assert_eq!(mode_of(&plan), 0o600);
    assert!(d.join("authctl-out/manifests.sha256").exists());
    let summary = std::fs::read_to_string(d.join("summary.md")).expect("summary");
    assert!(summary.contains("authctl:plan"), "{summary}");
    // Planning changed nothing.
    assert_eq!(phones_of(&emu, "ana@contoso.com"), vec![]);

    // Nightly drift before anything was applied: reported through the output, numbers masked in the issue body.
    let drift = steps(&emu, d, "drift").await;
    assert_eq!(drift.code, 0, "{drift:#?}");
    assert!(drift.outputs.contains("drift=true"), "{drift:#?}");
    let body = std::fs::read_to_string(d.join("authctl-out/drift.md")).expect("drift.md");
    assert!(body.contains("ben@contoso.com"), "{body}");
    assert!(
        !body.contains("2065550002") && !body.contains("2065550012"),
        "numbers must be masked in an issue: {body}"
    );
    // The issue body never promises that a pull request fixes a blocked item.
    assert!(body.contains("are not fixed by any apply"), "{body}");
    assert!(
        !body.contains("on a pull request (or a manual run of the apply workflow) brings it back"),
        "{body}"
    );

    // A tampered artifact (the PR's job controls it: a number changed in plan.json, manifests.sha256 untouched) is
    // refused whole by the verified merge apply, before any write.
    let saved = std::fs::read_to_string(&plan).expect("plan.json");
    assert!(saved.contains("\"+1 2065550001\""), "{saved}");
    std::fs::write(
        &plan,
        saved.replace("\"+1 2065550001\"", "\"+1 2065550666\""),
    )
    .expect("tampers");
    let refused = steps(&emu, d, "apply").await;
    assert_eq!(refused.code, 1, "{refused:#?}");
    assert!(
        refused
            .stdout
            .contains("does not match what the manifests demand"),
        "{refused:#?}"
    );
    assert!(refused.stdout.contains("ana@contoso.com"), "{refused:#?}");
    assert_eq!(
        phones_of(&emu, "ana@contoso.com"),
        vec![],
        "nothing applied"
    );
    assert_eq!(
        phones_of(&emu, "cal@contoso.com").len(),
        2,
        "nothing applied for the other users either"
    );
    std::fs::write(&plan, saved).expect("restores the reviewed plan");

    // Merge to main: the reviewed plan applied as saved, verified against main's manifests; then no drift, and the
    // next plan has no changes.
    let a = steps(&emu, d, "apply").await;
    assert_eq!(a.code, 0, "{a:#?}");
    let mobile = |n: &str| vec![("mobile".to_string(), n.to_string())];
    assert_eq!(phones_of(&emu, "ana@contoso.com"), mobile("+1 2065550001"));
    assert_eq!(phones_of(&emu, "ben@contoso.com"), mobile("+1 2065550012"));
    assert_eq!(phones_of(&emu, "cal@contoso.com"), mobile("+1 2065550003"));
    let journal = d.join("authctl-out/journal.jsonl");
    assert_eq!(mode_of(&journal), 0o600);
    let clean = steps(&emu, d, "drift").await;
    assert_eq!(clean.code, 0, "{clean:#?}");
    assert!(clean.outputs.contains("drift=false"), "{clean:#?}");
    let p = steps(&emu, d, "plan").await;
    assert_eq!(p.code, 0, "{p:#?}");
    assert!(p.outputs.contains("changes=false"), "{p:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_steps_refuse_a_saved_plan_made_from_other_manifests_and_annotate_invalid_ones() {
    let emu = Emu::start(CI_TENANT).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    std::fs::create_dir(d.join("manifests")).expect("mkdir");
    std::fs::write(d.join("manifests/users.yaml"), CI_MANIFEST).expect("writes the manifest");
    let p = steps(&emu, d, "plan").await;
    assert_eq!(p.code, 0, "{p:#?}");

    // Another PR merged after this plan was reviewed: main's manifests are not the planned ones.
    std::fs::write(
        d.join("manifests/more.yaml"),
        CI_MANIFEST
            .replace("ana@", "dan@")
            .replace("ben@", "eve@")
            .replace("cal@", "fay@"),
    )
    .expect("writes");
    let a = steps(&emu, d, "apply").await;
    assert_eq!(a.code, 1, "{a:#?}");
    assert!(a.stderr.contains("other manifests"), "{a:#?}");
    assert_eq!(
        phones_of(&emu, "ana@contoso.com"),
        vec![],
        "nothing applied"
    );

    // An invalid manifest: annotations on stdout for the runner, exit 1.
    std::fs::write(
        d.join("manifests/more.yaml"),
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n    - user: dan@contoso.com\n      phones:\n        mobil: \"+1 2065550004\"\n",
    )
    .expect("writes");
    let v = steps(&emu, d, "validate").await;
    assert_eq!(v.code, 1, "{v:#?}");
    assert!(v.stdout.contains("::error file="), "{v:#?}");
    assert!(v.stdout.contains("more.yaml"), "{v:#?}");
}

#[cfg(unix)]
fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}
