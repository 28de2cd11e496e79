//! Integration tests: the reconcile commands end to end (`plan`, `drift`, `import`) through the real binary against
//! the emulator: `--emulate TENANT --virtual-clock` (in-process emulator, no real waiting) for most cases, and an
//! in-process emulator with a ready token where the caller's rights matter (masked numbers).

use std::path::PathBuf;
use std::process::Output;

use authctl::observe::{NoProgress, build_plan};
use authctl::plan::Plan;
use authctl::plan::Policy;
use serde_json::Value;

use crate::support::{Emu, authctl_cmd, repo_path};

#[test]
fn plan_on_the_examples_shows_the_intended_mix() {
    let out = plan_examples(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    // Every kind of item the demo is meant to show.
    for needle in [
        "+ alternateMobile",
        "~ office",
        "- office",
        "disable SMS sign-in",
        "enable SMS sign-in",
        // LidiaH is outside the SMS policy today; the example policy puts her group in scope, so her SMS sign-in
        // is planned after the policy change instead of blocked.
        "# policy: SMS (sms)",
        "~ smsSignIn        notAllowedByPolicy → ready",
        "? smsSignIn pending user action",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn plan_exit_codes_and_precedence() {
    // Changes: 0 without --detailed-exitcode, 2 with it.
    assert_eq!(code(&plan_examples(&["--detailed-exitcode"])), 2);

    let t = Case::new(SMALL);
    // In sync: 0 with --detailed-exitcode.
    t.manifest(
        "ok.yaml",
        "spec:\n  mode: exact\n  users:\n    - user: lee@contoso.com\n      phones:\n        mobile: \"+1 2065550004\"\n        office: \"+1 4255550004x12\"\n",
    );
    let out = t.plan(&["ok.yaml", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("No changes"), "{}", stdout(&out));

    // A bad manifest: 1, diagnostics shown, Graph not read.
    t.manifest(
        "bad.yaml",
        "spec:\n  mode: exact\n  users:\n    - user: lee@contoso.com\n      phones:\n        mobil: \"+1 2065550004\"\n",
    );
    let out = t.plan(&["bad.yaml", "--detailed-exitcode"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("mobil"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was read from Graph"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");

    // A missing user is an error for that user (1, above the 2 of the changes), and the others still plan.
    t.manifest(
        "missing.yaml",
        "spec:\n  mode: merge\n  users:\n    - user: ghost@contoso.com\n      phones:\n        mobile: \"+1 2065550009\"\n    - user: kim@contoso.com\n      phones:\n        mobile: \"+1 2065550003\"\n",
    );
    let out = t.plan(&["missing.yaml", "--detailed-exitcode"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("ghost@contoso.com"), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    assert!(text.contains("+ mobile           +1 2065550003"), "{text}");
}

#[test]
fn plan_fail_on_blocked_turns_blocked_and_pending_into_exit_1() {
    assert_eq!(code(&plan_examples(&[])), 0);
    assert_eq!(code(&plan_examples(&["--fail-on-blocked"])), 1);
}

#[test]
fn plan_user_filter_selects_users_by_upn_or_id() {
    let out = plan_examples(&["--user", "henriettam@CONTOSO.com", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let p = json(&out);
    let users: Vec<&str> = p["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["upn"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["HenriettaM@contoso.com"]);

    // NestorW is written as an object id in the manifests; his UPN selects him.
    let out = plan_examples(&["--user", "NestorW@contoso.com", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        json(&out)["users"][0]["user"],
        "4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e"
    );

    let out = plan_examples(&["--user", "nobody@contoso.com"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("not declared in the manifests"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_refuses_masked_numbers_once_naming_the_remedies() {
    let emu = Emu::example().await;
    // An Authentication Administrator reads other users' numbers masked.
    let token = helpdesk_token(&emu);
    let mut cmd = authctl_cmd();
    cmd.env("AUTHCTL_ACCESS_TOKEN", &token).args([
        "plan",
        repo_path("examples/manifests").to_str().unwrap(),
        "--graph-url",
        &emu.url(),
        "--detailed-exitcode",
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(all.matches("masked phone numbers").count(), 1, "{all}");
    assert!(all.contains("UserAuthenticationMethod.Read.All"), "{all}");
    assert!(
        all.contains("Privileged Authentication Administrator"),
        "{all}"
    );
    // No diff from masks.
    assert!(!all.contains("to add"), "{all}");
    assert!(
        !all.lines()
            .any(|l| l.trim_start().starts_with("~ ") || l.trim_start().starts_with("- ")),
        "{all}"
    );
}

#[test]
fn plan_canonical_numbers_never_diff() {
    let t = Case::new(SMALL);
    // Graph holds "+1 2065550004"; the manifest writes it without the space, with dashes, and with brackets.
    for written in ["+12065550004", "+1 206-555-0004", "+1 (206) 555 0004"] {
        t.manifest(
            "m.yaml",
            &format!("spec:\n  mode: merge\n  users:\n    - user: lee@contoso.com\n      phones:\n        mobile: \"{written}\"\n"),
        );
        let out = t.plan(&["m.yaml", "--detailed-exitcode"]);
        assert_eq!(code(&out), 0, "{written}: {}", stdout(&out));
    }
}

#[test]
fn plan_shows_the_delete_guard() {
    let out = plan_examples(&["--max-deletes", "1"]);
    let text = stdout(&out);
    assert!(
        text.contains("Guard max-deletes: 6 deletes planned, limit 1"),
        "{text}"
    );
    assert!(text.contains("FAILS"), "{text}");
    // The plan is still shown (and saved with --out) for review, but the run fails: apply would refuse it, and a
    // pull-request check must not go green on a plan that cannot land.
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("--max-deletes"), "{}", stderr(&out));
    assert_eq!(code(&plan_examples(&["--max-deletes", "6"])), 0);
    let out = plan_examples(&["--max-deletes", "1", "--format", "json"]);
    assert_eq!(code(&out), 1);
    let p = json(&out);
    assert_eq!(p["guards"]["maxDeletes"]["limit"], 1);
    assert_eq!(p["guards"]["maxDeletes"]["deletes"], 6);
    assert_eq!(p["guards"]["maxDeletes"]["holds"], false);
    let p = json(&plan_examples(&["--format", "json"]));
    assert_eq!(p["guards"]["maxDeletes"]["holds"], true);
}

#[test]
fn plan_blocks_lockout_unless_allowed() {
    let t = Case::new(SMALL);
    // sam: an SMS-only user (a `ready` mobile, no other method but the password). lee: a mobile and an office.
    t.manifest(
        "m.yaml",
        "spec:\n  mode: exact\n  users:\n    - user: sam@contoso.com\n      phones:\n        mobile: absent\n        alternateMobile: absent\n        office: absent\n    - user: lee@contoso.com\n      phones:\n        mobile: \"+1 2065550004\"\n",
    );
    let p = json(&t.plan(&["m.yaml", "--format", "json"]));
    let sam = &p["users"][0];
    assert_eq!(sam["lockout"], "blocked", "{sam}");
    assert_eq!(sam["actions"].as_array().unwrap().len(), 0, "{sam}");
    let blocked: Vec<&str> = sam["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert!(
        blocked.len() >= 2 && blocked.iter().all(|c| *c == "lockOut"),
        "{sam}"
    );
    // lee keeps a mobile: the office delete passes the preflight.
    let lee = &p["users"][1];
    assert_eq!(lee["lockout"], "passed", "{lee}");
    assert_eq!(lee["actions"][0]["op"], "delete", "{lee}");

    let p = json(&t.plan(&["m.yaml", "--format", "json", "--allow-lockout"]));
    let sam = &p["users"][0];
    assert_eq!(sam["lockout"], "allowed", "{sam}");
    let ops: Vec<(&str, &str)> = sam["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["op"].as_str().unwrap(), a["type"].as_str().unwrap()))
        .collect();
    assert_eq!(ops, [("disable", "smsSignIn"), ("delete", "mobile")]);
}

#[test]
fn plan_markdown_merge_mode_shows_no_phantom_deletes() {
    let out = plan_examples(&[
        "--format",
        "markdown",
        "--no-redact",
        "--user",
        "IsaiahL@contoso.com",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let md = stdout(&out);
    // IsaiahL (merge) keeps an unmanaged mobile; the diff adds the office and removes nothing.
    assert!(md.contains("+  office: \"+1 4155550107\""), "{md}");
    assert!(md.contains("mobile: \"+1 4155550150\""), "{md}");
    assert!(!md.lines().any(|l| l.starts_with("-  ")), "{md}");
}

#[test]
fn plan_out_writes_a_private_plan_file_that_loads_back() {
    let t = Case::new(EXAMPLE_COPY);
    let file = t.dir.join("plan.json");
    let out = authctl_cmd()
        .args([
            "plan",
            repo_path("examples/manifests").to_str().unwrap(),
            "--out",
        ])
        .arg(&file)
        .args(["--format", "json", "--emulate"])
        .arg(t.tenant_path())
        .arg("--virtual-clock")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let saved =
        Plan::from_json(&std::fs::read_to_string(&file).unwrap()).expect("the plan file loads");
    let shown: Plan = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(saved.summary, shown.summary);
    assert_eq!(saved.users.len(), shown.users.len());
    assert_eq!(saved.manifest_digest, shown.manifest_digest);
    assert!(!saved.manifest_digest.is_empty());
    // The examples live in a git repository: the commit is recorded.
    if let Some(c) = &saved.git_commit {
        assert_eq!(c.len(), 40);
    }
    // Observed numbers the manifests don't hold are masked in the file (IsaiahL's unmanaged mobile).
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("+1 4155550150"),
        "unmanaged number in the plan file"
    );
}

#[test]
fn drift_exit_codes_and_json() {
    let out = drift_examples(&["--format", "json"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let d = json(&out);
    assert_eq!(d["inSync"], false);
    assert_eq!(d["errors"], 0);
    let drifted: Vec<&str> = d["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["upn"].as_str().unwrap())
        .collect();
    for who in [
        "AdeleV@contoso.com",
        "AlexW@contoso.com",
        "LidiaH@contoso.com",
        "HenriettaM@contoso.com",
    ] {
        assert!(drifted.contains(&who), "{who} not in {drifted:?}");
    }
    for in_sync in [
        "GradyA@contoso.com",
        "MeganB@contoso.com",
        "NestorW@contoso.com",
    ] {
        assert!(!drifted.contains(&in_sync), "{in_sync} in {drifted:?}");
    }
    let lidia = d["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["upn"] == "LidiaH@contoso.com")
        .unwrap();
    assert_eq!(lidia["differences"][0]["type"], "smsSignIn");
    // Planned: the example policy brings her into SMS sign-in scope.
    assert_eq!(lidia["differences"][0]["status"], "planned");
    assert_eq!(lidia["differences"][0]["observed"], "notAllowedByPolicy");

    let t = Case::new(SMALL);
    t.manifest(
        "ok.yaml",
        "spec:\n  mode: merge\n  users:\n    - user: lee@contoso.com\n      phones:\n        mobile: \"+1 2065550004\"\n",
    );
    let out = t.drift(&["ok.yaml"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("In sync"), "{}", stdout(&out));
    t.manifest(
        "ghost.yaml",
        "spec:\n  mode: merge\n  users:\n    - user: ghost@contoso.com\n      phones:\n        mobile: \"+1 2065550009\"\n    - user: lee@contoso.com\n      phones:\n        mobile: \"+1 2065550099\"\n",
    );
    let out = t.drift(&["ghost.yaml", "--format", "json"]);
    assert_eq!(code(&out), 1, "error over drift");
    let d = json(&out);
    assert_eq!(d["errors"], 1);
    assert_eq!(d["drifted"], 1);
}

#[test]
fn import_then_validate_then_plan_is_clean_for_every_example_user() {
    let tenant = authctl::emulator::load_tenant(&repo_path("examples/tenant.yaml")).unwrap();
    let users: Vec<String> = tenant
        .users
        .iter()
        .map(|u| u.user_principal_name.clone())
        .collect();
    let t = Case::new(EXAMPLE_COPY);
    for mode in ["exact", "merge"] {
        let file = t.dir.join(format!("imported-{mode}.yaml"));
        let out = authctl_cmd()
            .arg("import")
            .args(&users)
            .args(["--mode", mode, "--out"])
            .arg(&file)
            .arg("--emulate")
            .arg(t.tenant_path())
            .arg("--virtual-clock")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.matches("- user: ").count(), users.len(), "{text}");
        assert!(text.contains("   # AdeleV@contoso.com"), "{text}");

        let v = authctl_cmd().arg("validate").arg(&file).output().unwrap();
        assert_eq!(code(&v), 0, "{mode}: validate: {}\n{text}", stderr(&v));

        let p = t.plan(&[file.to_str().unwrap(), "--detailed-exitcode"]);
        assert_eq!(
            code(&p),
            0,
            "{mode}: plan not clean:\n{}\n{text}",
            stdout(&p)
        );
    }
}

#[test]
fn import_from_file_and_missing_users() {
    let t = Case::new(SMALL);
    let list = t.dir.join("users.txt");
    std::fs::write(&list, "# who\nkim@contoso.com\n\n00000000-0000-4000-8000-000000000004  # lee\nghost@contoso.com\n").unwrap();
    let out = authctl_cmd()
        .args(["import", "--mode", "merge", "--from-file"])
        .arg(&list)
        .arg("--emulate")
        .arg(t.tenant_path())
        .arg("--virtual-clock")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "a missing user is an error");
    assert!(
        stderr(&out).contains("ghost@contoso.com"),
        "{}",
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("- user: 00000000-0000-4000-8000-000000000003   # kim@contoso.com"),
        "{text}"
    );
    assert!(
        text.contains("- user: 00000000-0000-4000-8000-000000000004   # lee@contoso.com"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_refuses_masked_numbers() {
    let emu = Emu::example().await;
    let token = helpdesk_token(&emu);
    let mut cmd = authctl_cmd();
    cmd.env("AUTHCTL_ACCESS_TOKEN", &token).args([
        "import",
        "AdeleV@contoso.com",
        "--mode",
        "exact",
        "--graph-url",
        &emu.url(),
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "", "no manifest of masks");
    assert!(
        stderr(&out).contains("masked phone numbers"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_examples_apply_and_converge_except_blocked_and_pending() {
    let emu = Emu::example().await;
    let graph = crate::apply::graph_for(&emu, 8);
    let manifests = authctl::manifest::load(&[repo_path("examples/manifests")
        .to_string_lossy()
        .into_owned()]);
    let plan = build_plan(&graph, &manifests, &Policy::default(), &NoProgress)
        .await
        .expect("plans");
    assert!(plan.has_changes() && plan.guards_hold());
    // The policy first (it brings LidiaH into SMS sign-in scope), then the users.
    let policy = plan.policy.as_ref().expect("the examples declare a policy");
    let outcomes = authctl::apply::policy::apply_policy(
        policy,
        &graph,
        &authctl::apply::ApplyOptions::default(),
    )
    .await;
    assert!(outcomes.iter().all(|o| o.ok()), "{outcomes:#?}");
    let report =
        authctl::apply::apply(&plan, &graph, &authctl::apply::ApplyOptions::default()).await;
    assert!(!report.has_failures(), "{report:#?}");
    let again = build_plan(&graph, &manifests, &Policy::default(), &NoProgress)
        .await
        .expect("plans");
    assert!(
        !again.has_changes(),
        "{:#?}",
        again
            .users
            .iter()
            .filter(|u| u.has_changes())
            .collect::<Vec<_>>()
    );
    assert!(!again.has_errors());
    // What apply can't do stays reported: AdeleV's SMS sign-in set-up (LidiaH came into the SMS policy's scope).
    assert_eq!(
        (again.summary.blocked, again.summary.pending),
        (0, 1),
        "{:?}",
        again.summary
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Set-up.

/// A copy of the example tenant (so a test can never change the repository's file).
const EXAMPLE_COPY: &str = crate::support::EXAMPLE_TENANT;
/// The small rule-test tenant.
const SMALL: &str = crate::support::SMALL_TENANT;

/// A temporary directory with a tenant file and manifests, running the binary with `--emulate`.
struct Case {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Case {
    fn new(tenant: &str) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("tenant.yaml"), tenant).unwrap();
        Case { dir, _tmp: tmp }
    }

    fn tenant_path(&self) -> PathBuf {
        self.dir.join("tenant.yaml")
    }

    /// Writes a manifest (the `apiVersion`/`kind` header is added).
    fn manifest(&self, name: &str, body: &str) {
        std::fs::write(
            self.dir.join(name),
            format!("apiVersion: authctl/v1\nkind: PhoneMethods\n{body}"),
        )
        .unwrap();
    }

    fn run(&self, command: &str, args: &[&str]) -> Output {
        authctl_cmd()
            .current_dir(&self.dir)
            .arg(command)
            .args(args)
            .arg("--emulate")
            .arg(self.tenant_path())
            .arg("--virtual-clock")
            .output()
            .unwrap()
    }

    fn plan(&self, args: &[&str]) -> Output {
        self.run("plan", args)
    }

    fn drift(&self, args: &[&str]) -> Output {
        self.run("drift", args)
    }
}

fn examples_run(command: &str, args: &[&str]) -> Output {
    // The repository's tenant file is read, never written (no --emulate-persist).
    authctl_cmd()
        .current_dir(crate::support::repo())
        .args([
            command,
            "examples/manifests",
            "--emulate",
            "examples/tenant.yaml",
            "--virtual-clock",
        ])
        .args(args)
        .output()
        .unwrap()
}

fn plan_examples(args: &[&str]) -> Output {
    examples_run("plan", args)
}

fn drift_examples(args: &[&str]) -> Output {
    examples_run("drift", args)
}

/// A delegated token of an Authentication Administrator (reads other users' numbers masked), valid by the real
/// clock the binary uses (the emulator's own clock is virtual).
fn helpdesk_token(emu: &Emu) -> String {
    emu.token(authctl::emulator::TokenSpec {
        user: Some("helpdesk@contoso.com".into()),
        lifetime: Some(std::time::Duration::from_secs(20 * 365 * 86_400)),
        ..Default::default()
    })
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(o), stderr(o)))
}
