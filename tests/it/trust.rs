//! Integration tests: trusting the GitOps loop (issue 11). A saved plan is verified against the manifests at apply
//! and refused whole when tampered with; the apply side's guards and a fresh lock-out check apply; drift agrees
//! with plan on what counts; the apply report folds unchanged users and shows blocked and pending items;
//! `--graph-url` takes the host with or without `/v1.0`; concurrent or lagging runs report no false failures.
//! Driven through the real binary against the emulator (`--emulate FILE --emulate-persist --virtual-clock`, or an
//! in-process emulator and `--graph-url`), except the read-lag case, which needs the emulator's virtual clock shared
//! with the client.

use std::path::{Path, PathBuf};
use std::process::Output;

use authctl::emulator::Tenant;
use serde_json::{Value, json};

use crate::support::{EXAMPLE_TENANT, Emu, SMALL_TENANT, authctl_cmd, repo_path};

// ---------------------------------------------------------------------------------------------------------------
// Set-up

/// A temp dir with a copy of a tenant file; runs of the binary against it, changes persisted.
struct Case {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Case {
    fn new(tenant: &str) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("tenant.yaml"), tenant).unwrap();
        Case { _tmp: tmp, dir }
    }

    fn tenant_path(&self) -> PathBuf {
        self.dir.join("tenant.yaml")
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// `authctl ARGS --emulate TENANT --emulate-persist --virtual-clock`.
    fn run(&self, args: &[&str]) -> Output {
        authctl_cmd()
            .current_dir(&self.dir)
            .args(args)
            .arg("--emulate")
            .arg(self.tenant_path())
            .args(["--emulate-persist", "--virtual-clock"])
            .output()
            .unwrap()
    }

    /// The tenant as the file holds it now.
    fn state(&self) -> Tenant {
        authctl::emulator::load_tenant(&self.tenant_path()).unwrap()
    }

    /// Every user's phones and other methods (what a write could change).
    fn methods(&self) -> Vec<String> {
        self.state()
            .users
            .iter()
            .map(|u| format!("{} {:?} {:?}", u.id, u.phones, u.methods))
            .collect()
    }

    fn edit_tenant(&self, f: impl FnOnce(&mut Tenant)) {
        let mut t = self.state();
        f(&mut t);
        std::fs::write(self.tenant_path(), t.to_yaml().unwrap()).unwrap();
    }
}

fn examples() -> String {
    repo_path("examples/manifests")
        .to_string_lossy()
        .into_owned()
}

/// A copy of the example manifests in `dir/name` (to edit as a pull-request author would).
fn copy_examples(dir: &Path, name: &str) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let to = dir.join(name);
    copy(&repo_path("examples/manifests"), &to);
    to
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

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(o), stderr(o)))
}

fn read_json(p: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn write_json(p: &str, v: &Value) {
    std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn user_entry<'a>(plan: &'a mut Value, upn: &str) -> &'a mut Value {
    plan["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["upn"].as_str() == Some(upn))
        .unwrap_or_else(|| panic!("{upn} in the plan"))
}

const CAMERON: &str = "CameronW@contoso.com";

// ---------------------------------------------------------------------------------------------------------------
// 1. A saved plan is verified against the manifests at apply.

#[test]
fn tampered_saved_plans_are_refused_whole_and_nothing_is_written() {
    let t = Case::new(EXAMPLE_TENANT);
    let good = t.path("plan.json");
    let out = t.run(&["plan", &examples(), "--out", &good]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let good_plan = read_json(&good);
    let before = t.methods();
    let policy_before = t.state().authentication_methods_policy;

    // What a pull-request author controls: their own manifests, planned by their own job (so every digest in
    // those plans is genuine), and the artifact file itself.
    let evil = copy_examples(&t.dir, "evil");
    std::fs::write(
        evil.join("cameron.yaml"),
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n    - user: CameronW@contoso.com\n      phones:\n        mobile: \"+1 206 555 0177\"\n      smsSignIn: enabled\n",
    )
    .unwrap();
    let evil_plan_path = t.path("evil.json");
    let out = t.run(&["plan", evil.to_str().unwrap(), "--out", &evil_plan_path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let evil_plan = read_json(&evil_plan_path);
    let edited = copy_examples(&t.dir, "edited");
    let eng = edited.join("engineering.yaml");
    let text = std::fs::read_to_string(&eng).unwrap();
    std::fs::write(
        &eng,
        text.replace("+1 425 555 0100 x1234", "+1 425 555 0166 x1234"),
    )
    .unwrap();
    let edited_plan_path = t.path("edited.json");
    let out = t.run(&["plan", edited.to_str().unwrap(), "--out", &edited_plan_path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let edited_plan = read_json(&edited_plan_path);

    let mut cases: Vec<(&str, Value, &str)> = Vec::new();

    // A changed number.
    let mut p = good_plan.clone();
    let adele = user_entry(&mut p, "AdeleV@contoso.com");
    assert_eq!(adele["actions"][0]["op"], "update", "{adele}");
    adele["actions"][0]["after"] = json!("+1 4255550166x1234");
    cases.push(("a changed number", p, "AdeleV@contoso.com"));

    // An added action (with a digest so that it runs).
    let mut p = good_plan.clone();
    let grady = user_entry(&mut p, "GradyA@contoso.com");
    assert_eq!(grady["actions"], json!([]), "{grady}");
    grady["actions"] = json!([{"op": "delete", "type": "office", "before": "+1 4255550105x220"}]);
    grady["prefixDigests"]
        .as_array_mut()
        .unwrap()
        .push(json!("0".repeat(64)));
    cases.push(("an added action", p, "GradyA@contoso.com"));

    // An action for a user the manifests don't declare (the author's own plan, digests genuine).
    let mut p = evil_plan.clone();
    p["manifestDigest"] = good_plan["manifestDigest"].clone();
    p["gitCommit"] = good_plan["gitCommit"].clone();
    cases.push(("an action for an undeclared user", p, CAMERON));

    // An entry retargeted to another user, with recomputed digests: HenriettaM's entry replaced by Cameron's.
    let mut p = good_plan.clone();
    let cameron = evil_plan["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["upn"] == CAMERON)
        .unwrap()
        .clone();
    *user_entry(&mut p, "HenriettaM@contoso.com") = cameron;
    cases.push(("a retargeted entry", p, CAMERON));

    // A dropped action (and its digest).
    let mut p = good_plan.clone();
    let alex = user_entry(&mut p, "AlexW@contoso.com");
    let n = alex["actions"].as_array().unwrap().len();
    assert!(n >= 2, "{alex}");
    alex["actions"].as_array_mut().unwrap().pop();
    alex["prefixDigests"].as_array_mut().unwrap().pop();
    cases.push(("a dropped action", p, "AlexW@contoso.com"));

    // Every action of a user dropped, its digest forged so the user reads as changed since the plan.
    let mut p = good_plan.clone();
    let henrietta = user_entry(&mut p, "HenriettaM@contoso.com");
    assert!(
        !henrietta["actions"].as_array().unwrap().is_empty(),
        "{henrietta}"
    );
    henrietta["actions"] = json!([]);
    henrietta["prefixDigests"] = json!(["0".repeat(64)]);
    cases.push(("a user's actions all dropped", p, "HenriettaM@contoso.com"));

    // Digest fields edited to match: the author's plan of edited manifests, claiming main's manifest digest.
    let mut p = edited_plan.clone();
    p["manifestDigest"] = good_plan["manifestDigest"].clone();
    p["gitCommit"] = good_plan["gitCommit"].clone();
    cases.push(("digests edited to match", p, "AdeleV@contoso.com"));

    for (what, plan, who) in &cases {
        let file = t.path("tampered.json");
        write_json(&file, plan);
        let out = t.run(&["apply", "--plan", &file, &examples(), "--format", "json"]);
        assert_eq!(code(&out), 1, "{what}: {}\n{}", stdout(&out), stderr(&out));
        let report = json_of(&out);
        let error = report["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("does not match what the manifests demand") && error.contains(who),
            "{what}: {error}"
        );
        if *what == "a changed number" {
            // Named: user, action, saved vs demanded.
            assert!(
                error.contains("saved update office → +1 4255550166x1234")
                    && error.contains("demand update office → +1 4255550100x1234"),
                "{error}"
            );
        }
        assert!(
            report["users"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["outcome"] == "skipped"),
            "{what}: {report}"
        );
        assert_eq!(t.methods(), before, "{what}: nothing written");
        assert_eq!(
            t.state().authentication_methods_policy,
            policy_before,
            "{what}: the policy is not written either"
        );
    }

    // A raised guard limit: the file made with --max-deletes 1 (6 deletes: the guard fails), edited to claim 100.
    let out = t.run(&[
        "plan",
        &examples(),
        "--max-deletes",
        "1",
        "--out",
        &t.path("guarded.json"),
    ]);
    assert_eq!(code(&out), 1);
    let mut p = read_json(&t.path("guarded.json"));
    p["guards"]["maxDeletes"]["limit"] = json!(100);
    p["guards"]["maxDeletes"]["holds"] = json!(true);
    write_json(&t.path("guarded.json"), &p);
    let out = t.run(&[
        "apply",
        "--plan",
        &t.path("guarded.json"),
        &examples(),
        "--max-deletes",
        "1",
    ]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("--max-deletes does not hold")
            && stdout(&out).contains("delete 6 method(s), apply's limit is 1"),
        "{}",
        stdout(&out)
    );
    assert_eq!(t.methods(), before, "raised guard: nothing written");

    // The untampered plan applies and converges; applied again, it says so plainly.
    let out = t.run(&["apply", "--plan", &good, &examples()]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let out = t.run(&["plan", &examples(), "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let out = t.run(&["apply", "--plan", &good, &examples()]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("resumed at action"), "{text}");
    assert!(text.contains("were already applied"), "{text}");
}

/// An entry named after a declared user that can't be read now (ghost), pointing at another user's object id and UPN
/// (lee, declared nowhere): never applied.
#[test]
fn an_entry_borrowing_an_unreadable_declared_user_is_never_applied() {
    let t = Case::new(SMALL_TENANT);
    let header = "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n";
    std::fs::write(
        t.dir.join("m.yaml"),
        format!("{header}    - user: kim@contoso.com\n      phones:\n        mobile: \"+1 2065550003\"\n    - user: ghost@contoso.com\n      phones:\n        mobile: \"+1 2065550009\"\n"),
    )
    .unwrap();
    // The author's own manifest for lee gives a genuine entry (digests and all).
    std::fs::write(
        t.dir.join("evil.yaml"),
        format!("{header}    - user: lee@contoso.com\n      phones:\n        alternateMobile: \"+1 2065550666\"\n"),
    )
    .unwrap();
    let out = t.run(&["plan", "m.yaml", "--out", "plan.json"]);
    assert_eq!(code(&out), 1, "ghost is missing: {}", stdout(&out));
    let out = t.run(&["plan", "evil.yaml", "--out", "evil.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut plan = read_json(&t.path("plan.json"));
    let mut lee = read_json(&t.path("evil.json"))["users"][0].clone();
    assert_eq!(lee["actions"][0]["op"], "create", "{lee}");
    lee["user"] = json!("ghost@contoso.com");
    let ghost = plan["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["user"] == "ghost@contoso.com")
        .unwrap();
    *ghost = lee;
    write_json(&t.path("tampered.json"), &plan);
    let out = t.run(&[
        "apply",
        "--plan",
        "tampered.json",
        "m.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let r = json_of(&out);
    let entry = r["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == "ghost@contoso.com")
        .unwrap();
    assert_eq!(entry["outcome"], "skipped", "{r}");
    assert!(
        entry["reason"]
            .as_str()
            .unwrap()
            .contains("can't be verified"),
        "{entry}"
    );
    let lee_now = |t: &Case| {
        t.state()
            .users
            .into_iter()
            .find(|u| u.user_principal_name == "lee@contoso.com")
            .unwrap()
            .phones
    };
    assert_eq!(lee_now(&t).len(), 2, "lee untouched");
}

#[test]
fn apply_plan_without_paths_needs_unverified() {
    let t = Case::new(SMALL_TENANT);
    std::fs::write(
        t.dir.join("m.yaml"),
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n    - user: kim@contoso.com\n      phones:\n        mobile: \"+1 2065550003\"\n",
    )
    .unwrap();
    let out = t.run(&["plan", "m.yaml", "--out", "plan.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = t.run(&["apply", "--plan", "plan.json"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("needs the manifests") && err.contains("--unverified"),
        "{err}"
    );
    assert!(
        t.state()
            .users
            .iter()
            .all(|u| u.id != crate::support::small_id("kim") || u.phones.is_empty())
    );
    let out = t.run(&["apply", "--plan", "plan.json", "--unverified"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let kim = t
        .state()
        .users
        .into_iter()
        .find(|u| u.id == crate::support::small_id("kim"))
        .unwrap();
    assert_eq!(kim.phones.len(), 1);
    // --help says it.
    let help = authctl_cmd().args(["apply", "--help"]).output().unwrap();
    assert!(stdout(&help).contains("--unverified"), "{}", stdout(&help));
}

// ---------------------------------------------------------------------------------------------------------------
// 2 and 3. drift agrees with plan; the apply report of the examples.

#[test]
fn after_applying_the_examples_drift_exits_0_and_the_report_shows_blocked_and_pending() {
    let t = Case::new(EXAMPLE_TENANT);
    // Without the example policy manifest, LidiaH stays outside the SMS policy: a blocked item to report.
    let dir = copy_examples(&t.dir, "no-policy");
    std::fs::remove_file(dir.join("policy.yaml")).unwrap();
    let manifests = dir.to_string_lossy().into_owned();
    let examples = || manifests.clone();
    let out = t.run(&["apply", &examples(), "--auto-approve"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let all = stdout(&out);
    // The plan comes first; the report starts after its last line (the guard line or the summary line).
    let end_of_plan = all
        .rfind("\nGuard max-deletes")
        .max(all.rfind("\nPlan: "))
        .expect("the plan is shown");
    let rest = &all[end_of_plan + 1..];
    let report_text = rest[rest.find('\n').unwrap() + 1..]
        .trim_start()
        .to_string();
    // Folded: one count line for users without changes, none listed one by one.
    assert!(
        report_text.contains("users without changes"),
        "{report_text}"
    );
    assert!(!report_text.contains("nothing to do"), "{report_text}");
    assert!(!report_text.contains("GradyA@contoso.com"), "{report_text}");
    // LidiaH's blocked SMS sign-in and AdeleV's pending set-up, with their reasons.
    assert!(
        report_text.contains("LidiaH@contoso.com: no changes")
            && report_text.contains("! smsSignIn enable blocked:"),
        "{report_text}"
    );
    assert!(
        report_text.contains("? smsSignIn pending user action:"),
        "{report_text}"
    );
    insta::assert_snapshot!("apply_report_of_the_examples", report_text);

    // The JSON report says the same.
    let out = t.run(&["apply", &examples(), "--auto-approve", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = json_of(&out);
    let user = |upn: &str| {
        r["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["upn"] == upn)
            .unwrap()
            .clone()
    };
    assert_eq!(
        user("LidiaH@contoso.com")["blocked"][0]["type"],
        "smsSignIn"
    );
    assert!(user("LidiaH@contoso.com")["blocked"][0]["reason"].is_string());
    assert_eq!(
        user("AdeleV@contoso.com")["pending"][0]["type"],
        "smsSignIn"
    );

    // drift agrees with plan: 0 without --fail-on-blocked, 1 with it (plan decides the same).
    let out = t.run(&["plan", &examples(), "--detailed-exitcode"]);
    assert_eq!(code(&out), 0);
    let out = t.run(&["drift", &examples()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("[blocked]") && text.contains("[pending user action]"),
        "{text}"
    );
    assert!(text.contains("No drift apply can fix"), "{text}");
    let out = t.run(&["drift", &examples(), "--format", "json"]);
    assert_eq!(code(&out), 0);
    let d = json_of(&out);
    assert_eq!(d["fixable"], 0, "{d}");
    let statuses: Vec<&str> = d["users"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["differences"].as_array().unwrap())
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"blocked") && statuses.contains(&"pending"),
        "{d}"
    );
    let drift_blocked = t.run(&["drift", &examples(), "--fail-on-blocked"]);
    let plan_blocked = t.run(&[
        "plan",
        &examples(),
        "--detailed-exitcode",
        "--fail-on-blocked",
    ]);
    assert_eq!(code(&drift_blocked), 1);
    assert_eq!(code(&plan_blocked), code(&drift_blocked));
}

// ---------------------------------------------------------------------------------------------------------------
// 4. --graph-url

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_url_takes_the_host_with_or_without_v1_and_refuses_other_paths() {
    let emu = Emu::example().await;
    let v1 = format!("{}/v1.0", emu.url());
    let out = emu
        .run_authctl(&["plan", &examples(), "--graph-url", &v1, "--format", "json"])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let p = json_of(&out);
    assert_eq!(p["summary"]["errors"], 0, "{p}");
    assert!(p["summary"]["usersWithChanges"].as_u64().unwrap() > 0);

    let requests = emu.stats().http_requests;
    let beta = format!("{}/beta", emu.url());
    let out = emu
        .run_authctl(&["plan", &examples(), "--graph-url", &beta])
        .await;
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("/beta") && stderr(&out).contains("/v1.0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.stats().http_requests, requests, "no request was sent");
}

#[test]
fn the_headline_never_says_no_changes_when_users_failed() {
    let t = Case::new(SMALL_TENANT);
    std::fs::write(
        t.dir.join("m.yaml"),
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n    - user: ghost@contoso.com\n      phones:\n        mobile: \"+1 2065550009\"\n",
    )
    .unwrap();
    let out = t.run(&["plan", "m.yaml"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(!text.contains("No changes"), "{text}");
    assert!(text.contains("1 user error"), "{text}");
}

// ---------------------------------------------------------------------------------------------------------------
// 5. The lock-out guard is re-checked at apply.

/// `fay`: a password, a FIDO2 key and an office phone; the manifest removes the office phone.
fn fay_tenant() -> String {
    format!(
        "{SMALL_TENANT}  - id: 00000000-0000-4000-8000-0000000000f1\n    userPrincipalName: fay@contoso.com\n    password: Fay-Pass1!\n    phones:\n      office: {{ number: \"+1 4255550111\" }}\n    methods:\n      - {{ type: fido2, id: key-1, displayName: Fay's key }}\n"
    )
}

const FAY_MANIFEST: &str = "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n    - user: fay@contoso.com\n      phones:\n        office: absent\n";

fn fay_office(t: &Case) -> bool {
    t.state()
        .users
        .iter()
        .find(|u| u.user_principal_name == "fay@contoso.com")
        .unwrap()
        .phones
        .contains_key(&authctl::model::PhoneType::Office)
}

#[test]
fn a_user_who_lost_a_fido2_key_after_the_plan_is_skipped_as_a_lockout() {
    let t = Case::new(&fay_tenant());
    std::fs::write(t.dir.join("m.yaml"), FAY_MANIFEST).unwrap();
    let out = t.run(&["plan", "m.yaml", "--out", "plan.json", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let p = json_of(&out);
    assert_eq!(p["users"][0]["lockout"], "passed", "{p}");
    assert_eq!(p["users"][0]["actions"][0]["op"], "delete", "{p}");

    // The key is removed between plan and merge.
    t.edit_tenant(|tenant| {
        let fay = tenant
            .users
            .iter_mut()
            .find(|u| u.user_principal_name == "fay@contoso.com")
            .unwrap();
        fay.methods.clear();
    });
    let out = t.run(&["apply", "--plan", "plan.json", "m.yaml", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    let r = json_of(&out);
    assert_eq!(r["users"][0]["outcome"], "skipped", "{r}");
    let reason = r["users"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("lock-out") && reason.contains("--allow-lockout"),
        "{reason}"
    );
    assert!(fay_office(&t), "nothing deleted");

    // Unverified runs are re-checked too.
    let out = t.run(&["apply", "--plan", "plan.json", "--unverified"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("lock-out"), "{}", stdout(&out));
    assert!(fay_office(&t), "nothing deleted");

    // The apply side may allow it.
    let out = t.run(&["apply", "--plan", "plan.json", "m.yaml", "--allow-lockout"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(!fay_office(&t));
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Concurrent or lagging runs.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_of_the_examples_at_once_both_succeed_with_nothing_doubled() {
    let emu = Emu::example().await;
    let run = |emu: &Emu| {
        let mut cmd = emu.authctl();
        cmd.args([
            "apply",
            &examples(),
            "--auto-approve",
            "--graph-url",
            &emu.url(),
            "--format",
            "json",
        ]);
        tokio::task::spawn_blocking(move || cmd.output().expect("authctl runs"))
    };
    let (a, b) = (run(&emu), run(&emu));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    for (name, out) in [("first", &a), ("second", &b)] {
        assert_eq!(code(out), 0, "{name}: {}\n{}", stdout(out), stderr(out));
        let r = json_of(out);
        assert_eq!(r["summary"]["failed"], 0, "{name}: {r}");
    }
    // Nothing doubled: each user holds exactly what the manifests ask for, and a plan finds nothing to do.
    let out = emu
        .run_authctl(&[
            "plan",
            &examples(),
            "--graph-url",
            &emu.url(),
            "--detailed-exitcode",
        ])
        .await;
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

/// A run racing another one while Graph's reads lag: the create is refused because the phone exists (Graph answers
/// 400), the re-read shows the desired number once the lag has passed, and the create counts as done.
#[tokio::test]
async fn a_create_refused_because_the_phone_exists_is_done_when_the_number_is_there() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.lag = std::time::Duration::from_secs(5)).await;
    let graph = crate::apply::graph_for(&emu, 4);
    let manifests = crate::apply::desired(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n    - user: kim@contoso.com\n      phones:\n        office: \"+1 4255550003\"\n",
    );
    let plan = crate::apply::plan_now(&graph, &manifests, 10).await;
    assert_eq!(plan.summary.add, 1);
    let options = authctl::apply::ApplyOptions {
        converge_timeout: std::time::Duration::from_secs(60),
        ..authctl::apply::ApplyOptions::default()
    };
    // "Another run" creates the same phone just now; reads lag behind it, so this run re-reads the old state.
    let token = emu.app_token().await;
    let r = emu
        .post(
            &format!(
                "/users/{}/authentication/phoneMethods",
                crate::support::small_id("kim")
            ),
            &token,
            json!({"phoneNumber": "+1 4255550003", "phoneType": "office"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let second = authctl::apply::apply(&plan, &graph, &options).await;
    assert!(
        !second.has_failures(),
        "{}",
        authctl::render::apply_report_text(&second, false)
    );
    let office = &second.users[0].actions[0];
    assert_eq!(office.outcome, authctl::plan::ActionOutcome::Done);
    assert!(
        office
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("exists already"),
        "{office:?}"
    );
    let t = emu.snapshot();
    let kim = t
        .users
        .iter()
        .find(|u| u.id == crate::support::small_id("kim"))
        .unwrap();
    assert_eq!(kim.phones.len(), 1, "nothing doubled");
}
