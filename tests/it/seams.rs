//! Where the branches meet: the methods policy, the email and registered types and the phones in one plan, as the
//! binary reports them — `plan --detailed-exitcode` and `drift` exit codes when only the policy or only an email
//! differs, and `show` of a saved plan with policy changes and registration removals, without Graph.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::support::{authctl_cmd, copy_dir, repo_path};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn both(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The example tenant and manifests in a temporary directory.
struct Examples {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Examples {
    fn new() -> Examples {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::copy(repo_path("examples/tenant.yaml"), dir.join("tenant.yaml")).unwrap();
        copy_dir(&repo_path("examples/manifests"), &dir.join("m"));
        Examples { dir, _tmp: tmp }
    }

    /// `authctl COMMAND m ARGS… --emulate tenant.yaml --virtual-clock` (`persist`: the tenant is written back).
    fn run(&self, command: &str, args: &[&str], persist: bool) -> Output {
        let mut cmd = authctl_cmd();
        cmd.current_dir(&self.dir)
            .args([command, "m"])
            .args(args)
            .args(["--emulate", "tenant.yaml", "--virtual-clock"]);
        if persist {
            cmd.arg("--emulate-persist");
        }
        cmd.output().unwrap()
    }

    /// Replaces `from` by `to` in manifest `file` (which must contain it).
    fn edit(&self, file: &str, from: &str, to: &str) {
        let p = self.dir.join("m").join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    }
}

#[test]
fn plan_and_drift_exit_2_when_only_the_policy_or_only_an_email_differs_and_0_in_sync() {
    let e = Examples::new();
    let apply = e.run("apply", &["--auto-approve"], true);
    assert_eq!(apply.status.code(), Some(0), "{}", both(&apply));
    assert!(
        stdout(&apply)
            .contains("Apply: 5 policy methods applied, 0 failed; 16 users done, 0 failed"),
        "{}",
        both(&apply)
    );

    // In sync (the examples' one pending user action doesn't count).
    let plan = e.run("plan", &["--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
    assert!(
        stdout(&plan).contains("No changes: the authentication methods match the manifests"),
        "{}",
        both(&plan)
    );
    let drift = e.run("drift", &[], false);
    assert_eq!(drift.status.code(), Some(0), "{}", both(&drift));
    // AdeleV's SMS sign-in waits for her: reported, exit 0.
    assert!(
        stdout(&drift).contains(
            "No drift apply can fix: 1 of 16 users differ only by blocked items or pending"
        ),
        "{}",
        both(&drift)
    );

    // Only the policy differs: one method's setting.
    e.edit("policy.yaml", "defaultLifetime: 1h", "defaultLifetime: 2h");
    let plan = e.run("plan", &["--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(2), "{}", both(&plan));
    assert!(
        stdout(&plan).contains(
            "Plan: 1 policy method to change, 0 to add, 0 to change, 0 to destroy, 0 SMS sign-in changes"
        ),
        "{}",
        both(&plan)
    );
    let json = e.run("plan", &["--format", "json"], false);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["summary"]["policyChanges"], 1, "{v:#}");
    assert_eq!(v["summary"]["policyErrors"], 0, "{v:#}");
    let drift = e.run("drift", &[], false);
    assert_eq!(drift.status.code(), Some(2), "{}", both(&drift));
    assert!(
        stdout(&drift).contains("Drift: 1 policy method and 1 of 16 users differ from the manifests (0 with differences apply \
             would fix, the others blocked or pending)"),
        "{}",
        both(&drift)
    );
    e.edit("policy.yaml", "defaultLifetime: 2h", "defaultLifetime: 1h");

    // Only an email differs.
    e.edit(
        "methods.yaml",
        "email: christie.cline@fabrikam.example",
        "email: christie.c@fabrikam.example",
    );
    let plan = e.run("plan", &["--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(2), "{}", both(&plan));
    assert!(
        stdout(&plan).contains("Plan: 0 to add, 1 to change, 0 to destroy, 0 SMS sign-in changes"),
        "{}",
        both(&plan)
    );
    let drift = e.run("drift", &[], false);
    assert_eq!(drift.status.code(), Some(2), "{}", both(&drift));
    assert!(
        stdout(&drift).contains(
            "Drift: 2 of 16 users differ from the manifests (1 with differences apply would fix"
        ),
        "{}",
        both(&drift)
    );
}

#[test]
fn show_renders_a_saved_plan_with_policy_changes_and_registration_removals_without_graph() {
    let e = Examples::new();
    let plan = e.run("plan", &["--out", "plan.json"], false);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
    // No Graph: no --emulate, no credentials, an unreachable Graph URL.
    let show = |format: &str| {
        let out = authctl_cmd()
            .current_dir(&e.dir)
            .env("AUTHCTL_GRAPH_URL", "http://127.0.0.1:9")
            .args(["show", "plan.json", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        stdout(&out)
    };
    let text = show("text");
    for part in [
        "Authentication methods policy: 5 methods to change (applied before any user):",
        "# policy: SMS (sms)",
        "+ include group \"EMEA offices\" (isUsableForSignIn: true)",
        "- microsoftAuthenticator \"Allan's iPhone 12\"",
        "- fido2            \"Contractor loaner key\"",
        "Plan: 5 policy methods to change, 3 to add, 4 to change, 6 to destroy, 3 SMS sign-in changes",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
    let policy_at = text.find("Authentication methods policy").unwrap();
    let users_at = text.find("authctl will make these changes").unwrap();
    assert!(policy_at < users_at, "the policy comes first:\n{text}");

    let md = show("markdown");
    for part in [
        "### Authentication methods policy (applied first)",
        "| `SMS` | `+ include group \"EMEA offices\" (isUsableForSignIn: true)` | | |",
        "**removes 2 registered methods**",
        "**Plan: 5 policy methods to change, 3 to add, 4 to change, 6 to destroy, 3 SMS sign-in changes",
        "| policy methods to change | 5 |",
        "| AllanD@contoso.com | **delete** | microsoftAuthenticator |",
        "| ChristieC@contoso.com | **delete** | fido2 |",
    ] {
        assert!(md.contains(part), "{part}:\n{md}");
    }
}
