//! The authentication methods policy as a manifest (kind `AuthenticationMethodsPolicy`), end to end through the
//! binary against the emulator: the examples' plan → apply → plan clean → drift 0 with LidiaH's SMS sign-in
//! unblocked in the same apply; validation; target resolution; the guard; saved plans (stale, tampered, verified);
//! `import --policy`; the emulator's derived SMS state.

use std::process::Output;

use serde_json::{Value, json};

use crate::imperative_commands::{stderr, stdout};
use crate::support::{EXAMPLE_TENANT, Emu, TenantDir, authctl_cmd, copy_dir, repo_path};

const EMEA: &str = "6e1dab2f-4053-4c8b-8d72-3f9a8b7c6d51";
const SMS_GROUP: &str = "5d0c9a1e-3f42-4b7a-9c61-2e8f7a6b5c40";
const LIDIA: &str = "2f3a4b5c-6d7e-4f80-91a2-b3c4d5e6f708";

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// A tenant directory with manifests in `m/` (the examples' by default).
struct Case(TenantDir);

impl std::ops::Deref for Case {
    type Target = TenantDir;
    fn deref(&self) -> &TenantDir {
        &self.0
    }
}

impl Case {
    /// `validate m` in the case's directory, which must fail (exit 1): its stdout and stderr, with miette's wrapped
    /// lines joined.
    fn validate_fails(&self) -> String {
        let out = authctl_cmd()
            .current_dir(&self.dir)
            .args(["validate", "m"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", both(&out));
        both(&out).replace("\n  │ ", " ")
    }

    fn new(tenant: &str) -> Case {
        let c = Case(TenantDir::new(tenant));
        std::fs::create_dir_all(c.dir.join("m")).unwrap();
        c
    }

    /// The example tenant with the example manifests copied into `m/`.
    fn examples() -> Case {
        let c = Case::new(EXAMPLE_TENANT);
        copy_dir(&repo_path("examples/manifests"), &c.dir.join("m"));
        c
    }

    /// Runs `authctl COMMAND ARGS… --emulate tenant.yaml --virtual-clock` (`persist`: writes the tenant back).
    fn run(&self, command: &str, args: &[&str], persist: bool) -> Output {
        let persist: &[&str] = if persist { &["--emulate-persist"] } else { &[] };
        self.0.run(command, &[args, persist].concat())
    }

    /// The SMS configuration as the tenant file holds it now.
    fn sms_config(&self) -> Value {
        let t = self.tenant();
        let p = t.authentication_methods_policy.expect("a policy");
        p["authenticationMethodConfigurations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "Sms")
            .cloned()
            .unwrap()
    }

    /// Changes the tenant file as text.
    fn edit_tenant_text(&self, f: impl FnOnce(String) -> String) {
        let p = self.dir.join("tenant.yaml");
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, f(text)).unwrap();
    }
}

fn policy_doc(spec: &str) -> String {
    format!("apiVersion: authctl/v1\nkind: AuthenticationMethodsPolicy\nspec:\n{spec}")
}

#[test]
fn the_examples_plan_apply_plan_clean_and_drift_0_with_lidias_sms_sign_in_in_the_same_apply() {
    let c = Case::examples();
    let plan = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(2), "{}", both(&plan));
    let text = stdout(&plan);
    // The policy comes first, per method; LidiaH's SMS sign-in is planned after it instead of blocked.
    let policy_at = text
        .find("Authentication methods policy")
        .expect("policy section");
    let users_at = text.find("# LidiaH@contoso.com").expect("LidiaH planned");
    assert!(policy_at < users_at, "{text}");
    assert!(
        text.contains("+ include group \"EMEA offices\" (isUsableForSignIn: true)"),
        "{text}"
    );
    assert!(
        text.contains("~ smsSignIn        notAllowedByPolicy → ready"),
        "{text}"
    );
    assert!(!text.contains("DESTRUCTIVE"), "{text}");

    let apply = c.run("apply", &["m", "--auto-approve"], true);
    assert_eq!(apply.status.code(), Some(0), "{}", both(&apply));
    let report = stdout(&apply);
    assert!(
        report.contains("policy: SMS — applied, reads back as planned"),
        "{report}"
    );
    // LidiaH is now in scope and her SMS sign-in was enabled in the same apply.
    let t = c.tenant();
    let lidia = t.users.iter().find(|u| u.id == LIDIA).unwrap();
    let yaml = serde_json::to_value(lidia).unwrap();
    assert_eq!(
        yaml["phones"]["mobile"]["smsSignInState"], "ready",
        "{yaml:#}\n{report}"
    );
    let sms = c.sms_config();
    let ids: Vec<&str> = sms["includeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&EMEA) && ids.contains(&SMS_GROUP), "{sms:#}");

    let again = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(again.status.code(), Some(0), "{}", both(&again));
    assert!(stdout(&again).contains("Authentication methods policy: in sync"));
    let drift = c.run("drift", &["m"], false);
    assert_eq!(drift.status.code(), Some(0), "{}", both(&drift));
}

#[test]
fn the_plan_json_and_markdown_carry_the_policy_diff() {
    let c = Case::examples();
    let json_out = c.run("plan", &["m", "--format", "json"], false);
    let v: Value = serde_json::from_slice(&json_out.stdout).expect("JSON");
    let methods = v["policy"]["methods"].as_array().expect("policy methods");
    let sms = methods.iter().find(|m| m["method"] == "sms").unwrap();
    assert_eq!(
        sms["patch"]["@odata.type"],
        "#microsoft.graph.smsAuthenticationMethodConfiguration"
    );
    assert_eq!(sms["patch"]["includeTargets"].as_array().unwrap().len(), 2);
    assert_eq!(sms["targets"][0]["op"], "add");
    // The JSON apply report lists each method's outcome, before the users.
    let apply = c.run(
        "apply",
        &[
            "m",
            "--auto-approve",
            "--format",
            "json",
            "--journal",
            "j.jsonl",
        ],
        true,
    );
    assert_eq!(apply.status.code(), Some(0), "{}", both(&apply));
    let report: Value = serde_json::from_slice(&apply.stdout).expect("JSON report");
    let policy = report["policy"].as_array().expect("the policy's outcomes");
    assert_eq!(policy.len(), 5, "{report:#}");
    assert!(
        policy
            .iter()
            .all(|m| m["outcome"] == "applied" && m["converged"] == true),
        "{report:#}"
    );
    assert_eq!(policy[0]["method"], "sms");
    // Journaled like the users' calls: one PATCH per method, with its Graph status.
    let journal = std::fs::read_to_string(c.dir.join("j.jsonl")).unwrap();
    let patches: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["op"] == "policy" && l["phase"] == "call")
        .collect();
    assert_eq!(patches.len(), 5, "{journal}");
    assert_eq!(patches[0]["type"], "sms");
    assert!(
        patches[0]["request"]
            .as_str()
            .unwrap()
            .starts_with("PATCH "),
        "{journal}"
    );
    assert_eq!(patches[0]["status"], 204);
    let c = Case::examples();
    // drift: each declared method is a JUnit test case, failing when it differs.
    let junit = stdout(&c.run("drift", &["m", "--format", "junit"], false));
    assert!(
        junit.contains(
            "<testcase classname=\"authentication methods policy\" name=\"sms\"><failure"
        ),
        "{junit}"
    );
    let md = c.run("plan", &["m", "--format", "markdown"], false);
    let md = stdout(&md);
    let at = md
        .find("### Authentication methods policy")
        .expect("section");
    assert!(at < md.find("LidiaH").unwrap_or(usize::MAX), "{md}");
    assert!(
        md.contains("`+ include group \"EMEA offices\" (isUsableForSignIn: true)`"),
        "{md}"
    );
}

#[test]
fn validation_names_each_problem_with_its_place_and_a_fix() {
    let c = Case::new(EXAMPLE_TENANT);
    c.write(
        "m/p.yaml",
        &policy_doc(
            "  temporaryAccessPass:\n    defaultLifetime: 5m\n    minimumLifetime: 2h\n    maximumLifetime: 1h\n    lenght: 8\n  qrCodePin:\n    pinLength: 6\n  fido2:\n    aaguids: [not-a-guid]\n  smss:\n    state: enabled\n  sms:\n    state: on\n",
        ),
    );
    c.write("m/q.yaml", &policy_doc("  voice:\n    state: disabled\n"));
    let text = c.validate_fails();
    for want in [
        "m/p.yaml:5:22", // defaultLifetime 5m: outside 10 minutes–30 days
        "outside the range Graph accepts (10 minutes to 30 days)",
        "`maximumLifetime` (1h) is shorter than `minimumLifetime` (2h)",
        "unknown field `lenght`",
        "did you mean `length`?",
        "`pinLength` must be a whole number from 8 to 20",
        "`not-a-guid` is not an AAGUID",
        "did you mean `sms`?",
        "`on` is not a state of SMS",
        "a second `AuthenticationMethodsPolicy` document",
        "m/p.yaml:2:7",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn targets_resolve_by_name_or_id_and_missing_or_ambiguous_names_are_errors_at_their_place() {
    let twin = EXAMPLE_TENANT.replace(
        "authenticationMethodsPolicy:",
        "  - id: 7f2ebc30-5164-4d9c-8e83-4a0b9c8d7e62\n    displayName: EMEA offices\nauthenticationMethodsPolicy:",
    );
    let c = Case::new(&twin);
    c.write(
        "m/p.yaml",
        &policy_doc(
            "  sms:\n    include:\n      - group: Nobody here\n      - group: EMEA offices\n",
        ),
    );
    let out = c.run("plan", &["m"], false);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let text = both(&out);
    assert!(
        text.contains("m/p.yaml:6:9: spec.sms.include[0]: no group is named \"Nobody here\""),
        "{text}"
    );
    assert!(
        text.contains("m/p.yaml:7:9: spec.sms.include[1]: 2 groups are named \"EMEA offices\""),
        "{text}"
    );
    // Nothing is planned for the policy while a target is unresolved.
    assert!(!text.contains("# policy: SMS"), "{text}");

    // By object id (any casing), and an id naming no group.
    let c = Case::new(EXAMPLE_TENANT);
    c.write(
        "m/p.yaml",
        &policy_doc(&format!(
            "  sms:\n    include:\n      - group: {}\n",
            SMS_GROUP.to_uppercase()
        )),
    );
    let out = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(out.status.code(), Some(0), "by id, in sync: {}", both(&out));
    c.write(
        "m/p.yaml",
        &policy_doc("  sms:\n    include:\n      - group: 00000000-0000-4000-8000-00000000abcd\n"),
    );
    let out = c.run("plan", &["m"], false);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        both(&out).contains("no group has the object id `00000000-0000-4000-8000-00000000abcd`")
    );
}

#[test]
fn target_lists_compare_as_sets() {
    // The tenant's SMS includes, declared in another order with the other spelling of the id: in sync.
    let tenant = EXAMPLE_TENANT.replace(
        &format!("        - {{ id: {SMS_GROUP}, targetType: group, isUsableForSignIn: true }}"),
        &format!(
            "        - {{ id: {SMS_GROUP}, targetType: group, isUsableForSignIn: true }}\n        - {{ id: {EMEA}, targetType: group, isUsableForSignIn: true }}"
        ),
    );
    assert_ne!(tenant, EXAMPLE_TENANT);
    let c = Case::new(&tenant);
    c.write(
        "m/p.yaml",
        &policy_doc(&format!(
            "  sms:\n    include:\n      - group: {}\n      - group: SMS sign-in\n",
            EMEA.to_uppercase()
        )),
    );
    let out = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn a_change_that_takes_a_method_away_is_refused_without_allow_policy_removal() {
    let c = Case::new(EXAMPLE_TENANT);
    // The SMS group removed from the includes (EMEA added): the SMS sign-in group's users lose SMS.
    c.write(
        "m/p.yaml",
        &policy_doc("  sms:\n    include:\n      - group: EMEA offices\n"),
    );
    let plan = c.run("plan", &["m"], false);
    let text = stdout(&plan);
    let banner = text.find("DESTRUCTIVE POLICY CHANGE").expect("banner");
    assert!(
        banner < text.find("# policy: SMS").unwrap(),
        "banner first: {text}"
    );
    assert!(
        text.contains("group \"SMS sign-in\" is removed from the includes"),
        "{text}"
    );
    let before = c.sms_config_or_seed();
    let refused = c.run("apply", &["m", "--auto-approve"], true);
    assert_eq!(refused.status.code(), Some(1), "{}", both(&refused));
    assert!(both(&refused).contains("--allow-policy-removal"));
    assert_eq!(c.sms_config_or_seed(), before, "nothing was written");
    let allowed = c.run(
        "apply",
        &["m", "--auto-approve", "--allow-policy-removal"],
        true,
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", both(&allowed));
    let sms = c.sms_config();
    assert_eq!(sms["includeTargets"].as_array().unwrap().len(), 1);
    assert_eq!(
        sms["includeTargets"][0]["id"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        EMEA
    );
    // Disabling the method is destructive too.
    c.write("m/p.yaml", &policy_doc("  sms:\n    state: disabled\n"));
    let out = c.run("apply", &["m", "--auto-approve"], true);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        both(&out).contains("the method is disabled"),
        "{}",
        both(&out)
    );
}

impl Case {
    /// The tenant file's SMS configuration, or the seed text when the file was never rewritten.
    fn sms_config_or_seed(&self) -> String {
        std::fs::read_to_string(self.dir.join("tenant.yaml")).unwrap()
    }
}

#[test]
fn a_saved_policy_plan_is_refused_when_stale_tampered_or_not_what_the_manifests_demand() {
    let c = Case::examples();
    let out = c.run("plan", &["m", "--out", "plan.json"], false);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let saved = std::fs::read_to_string(c.dir.join("plan.json")).unwrap();

    // Tampered: a PATCH body edited in the file.
    let mut v: Value = serde_json::from_str(&saved).unwrap();
    let sms = v["policy"]["methods"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["method"] == "sms")
        .unwrap();
    sms["patch"]["includeTargets"] =
        json!([{"id": "all_users", "targetType": "group", "isUsableForSignIn": true}]);
    c.write("tampered.json", &serde_json::to_string(&v).unwrap());
    let out = c.run("apply", &["--plan", "tampered.json", "--unverified"], true);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        both(&out).contains("was modified after it was made"),
        "{}",
        both(&out)
    );

    // Verified against other manifests: refused, naming what differs.
    c.write(
        "m2/p.yaml",
        &policy_doc("  sms:\n    state: enabled\n    include:\n      - group: SMS sign-in\n      - allUsers: true\n"),
    );
    let out = c.run("apply", &["--plan", "plan.json", "m2"], true);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        both(&out).contains(
            "does not match what the manifests demand of the authentication methods policy"
        )
    );

    // Stale: the policy changed out of band since the plan.
    c.edit_tenant_text(|t| t.replace("isUsableForSignIn: true }", "isUsableForSignIn: false }"));
    let out = c.run("apply", &["--plan", "plan.json", "m"], true);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        both(&out).contains("changed since the plan was made"),
        "{}",
        both(&out)
    );
    assert!(c.sms_config()["includeTargets"].as_array().unwrap().len() == 1);

    // The same saved plan against the policy it was made from: applied, LidiaH included.
    let c2 = Case::examples();
    std::fs::write(c2.dir.join("plan.json"), &saved).unwrap();
    let out = c2.run("apply", &["--plan", "plan.json", "m"], true);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let lidia = c2
        .tenant()
        .users
        .into_iter()
        .find(|u| u.id == LIDIA)
        .unwrap();
    assert_eq!(
        serde_json::to_value(lidia).unwrap()["phones"]["mobile"]["smsSignInState"],
        "ready"
    );
}

#[test]
fn import_policy_writes_a_manifest_that_plans_clean() {
    let c = Case::new(EXAMPLE_TENANT);
    let out = c.run("import", &["--policy", "--out", "m/policy.yaml"], false);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = std::fs::read_to_string(c.dir.join("m/policy.yaml")).unwrap();
    assert!(text.contains("kind: AuthenticationMethodsPolicy"));
    assert!(text.contains("- group: \"SMS sign-in\""), "{text}");
    assert!(text.contains("defaultLifetime: \"1h\""), "{text}");
    let plan = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
}

#[test]
fn the_plan_says_which_groups_would_allow_a_blocked_sms_sign_in() {
    // Without a policy manifest, LidiaH stays blocked, with the policy's reason.
    let c = Case::examples();
    std::fs::remove_file(c.dir.join("m/policy.yaml")).unwrap();
    let out = c.run("plan", &["m"], false);
    let text = stdout(&out);
    assert!(
        text.contains(
            "not in an SMS target group with sign-in enabled; groups that would allow it: \"SMS sign-in\""
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_tenants_sms_state_is_derived_from_the_sms_configuration() {
    let emu = Emu::example().await;
    let token = emu.app_token().await;
    let lidia_sms = |r: &crate::support::Reply| -> Value {
        r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["phoneType"] == "mobile")
            .unwrap()["smsSignInState"]
            .clone()
    };
    let path = format!("/users/{LIDIA}/authentication/phoneMethods");
    let before = emu.get(&path, &token).await;
    assert_eq!(lidia_sms(&before), "notAllowedByPolicy");
    let r = emu
        .patch(
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/sms",
            &token,
            json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration",
                   "includeTargets": [{"id": EMEA, "targetType": "group", "isUsableForSignIn": true}]}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    // In scope now: a number stored while out of scope needs enabling.
    assert_eq!(lidia_sms(&emu.get(&path, &token).await), "notEnabled");
}

/// The Microsoft Authenticator configuration as the tenant file holds it now.
fn authenticator_config(c: &Case) -> Value {
    let p = c.tenant().authentication_methods_policy.expect("a policy");
    p["authenticationMethodConfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "MicrosoftAuthenticator")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn authenticator_feature_targets_validate_plan_apply_and_import_round_trip() {
    // Validation: each wrong target at its place.
    let c = Case::new(EXAMPLE_TENANT);
    c.write(
        "m/p.yaml",
        &policy_doc(
            "  microsoftAuthenticator:\n    showAppNameExclude: {allUsers: true}\n    showLocationInclude: {group: SMS sign-in, nobody: true}\n    showLocationExclude: [x]\n    showAppNameInclude: {nobody: false}\n",
        ),
    );
    let text = c.validate_fails();
    for want in [
        "spec.microsoftAuthenticator.showAppNameExclude.allUsers",
        "all users can't be excluded",
        "a feature target names one of `group`, `allUsers` or `nobody`",
        "spec.microsoftAuthenticator.showLocationExclude",
        "`nobody` can only be `true`, not `false`",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    // Plan → apply → plan clean: the app name narrowed to a group (not destructive), the location excluding one.
    let c = Case::new(EXAMPLE_TENANT);
    c.write(
        "m/p.yaml",
        &policy_doc(&format!(
            "  microsoftAuthenticator:\n    showAppName: enabled\n    showAppNameInclude: {{group: SMS sign-in}}\n    showLocationExclude: {{group: {EMEA}}}\n"
        )),
    );
    let plan = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(2), "{}", both(&plan));
    let text = stdout(&plan);
    assert!(text.contains("showAppNameInclude"), "{text}");
    assert!(text.contains("group \"SMS sign-in\""), "{text}");
    assert!(text.contains("showLocationExclude"), "{text}");
    assert!(!text.contains("DESTRUCTIVE"), "{text}");
    let json = c.run("plan", &["m", "--format", "json"], false);
    let doc: Value = serde_json::from_str(&stdout(&json)).expect("plan json");
    let m = &doc["policy"]["methods"][0];
    assert_eq!(m["method"], "microsoftAuthenticator", "{doc:#}");
    assert!(
        m["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["setting"] == "showAppNameInclude"
                && s["before"] == "all users"
                && s["after"] == "group \"SMS sign-in\""),
        "{m:#}"
    );

    let apply = c.run("apply", &["m", "--auto-approve"], true);
    assert_eq!(apply.status.code(), Some(0), "{}", both(&apply));
    assert!(
        stdout(&apply).contains("policy: Microsoft Authenticator — applied, reads back as planned"),
        "{}",
        both(&apply)
    );
    let a = authenticator_config(&c);
    let app = &a["featureSettings"]["displayAppInformationRequiredState"];
    assert_eq!(app["state"], "enabled", "{a:#}");
    assert_eq!(
        app["includeTarget"],
        json!({"targetType": "group", "id": SMS_GROUP}),
        "{a:#}"
    );
    let loc = &a["featureSettings"]["displayLocationInformationRequiredState"];
    assert_eq!(
        loc["excludeTarget"],
        json!({"targetType": "group", "id": EMEA}),
        "{a:#}"
    );
    assert_eq!(loc["includeTarget"]["id"], "all_users", "{a:#}");
    let again = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(again.status.code(), Some(0), "{}", both(&again));

    // Import writes the feature targets readably, and the imported manifest plans clean.
    std::fs::remove_file(c.dir.join("m/p.yaml")).unwrap();
    let out = c.run("import", &["--policy", "--out", "m/policy.yaml"], false);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = std::fs::read_to_string(c.dir.join("m/policy.yaml")).unwrap();
    for want in [
        "showAppNameInclude: {group: \"SMS sign-in\"}",
        "showAppNameExclude: {nobody: true}",
        "showLocationInclude: {allUsers: true}",
        "showLocationExclude: {group: \"EMEA offices\"}",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let plan = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_stores_authenticator_feature_targets_and_refuses_other_shapes() {
    let emu = Emu::example().await;
    let token = emu.app_token().await;
    let path = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/MicrosoftAuthenticator";
    let body = |target: Value| {
        json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration",
               "featureSettings": {"displayAppInformationRequiredState":
                   {"state": "enabled", "includeTarget": target,
                    "excludeTarget": {"id": "00000000-0000-0000-0000-000000000000", "targetType": "group"}}}})
    };
    for bad in [
        json!({"id": SMS_GROUP, "targetType": "user"}),
        json!({"targetType": "group"}),
        json!({"id": SMS_GROUP, "targetType": "group", "extra": 1}),
        json!("all_users"),
    ] {
        let r = emu.patch(path, &token, body(bad.clone())).await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    let r = emu
        .patch(
            path,
            &token,
            body(json!({"id": SMS_GROUP, "targetType": "group"})),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let read = emu.get(path, &token).await;
    assert_eq!(
        read.body["featureSettings"]["displayAppInformationRequiredState"]["includeTarget"],
        json!({"id": SMS_GROUP, "targetType": "group"}),
        "{:?}",
        read.body
    );
}

#[test]
fn x509_bindings_and_rules_plan_apply_and_import_round_trip() {
    let c = Case::new(EXAMPLE_TENANT);
    c.write(
        "m/p.yaml",
        &policy_doc(
            "  x509Certificate:\n    userBindings:\n      - {certificateField: RFC822Name, userProperty: userPrincipalName, priority: 2}\n      - {certificateField: PrincipalName, userProperty: certificateUserIds, priority: 1}\n    rules:\n      - {type: issuerSubject, identifier: \"CN=Contoso Issuing CA, O=Contoso\", mode: multiFactor}\n",
        ),
    );
    let plan = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(2), "{}", both(&plan));
    let text = stdout(&plan);
    assert!(text.contains("userBindings"), "{text}");
    assert!(text.contains("rules"), "{text}");
    assert!(!text.contains("DESTRUCTIVE"), "{text}");
    let apply = c.run("apply", &["m", "--auto-approve"], true);
    assert_eq!(apply.status.code(), Some(0), "{}", both(&apply));
    assert!(
        stdout(&apply).contains("reads back as planned"),
        "{}",
        both(&apply)
    );
    let p = c.tenant().authentication_methods_policy.expect("a policy");
    let x = p["authenticationMethodConfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "X509Certificate")
        .cloned()
        .unwrap();
    let bindings = x["certificateUserBindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 2, "{x:#}");
    assert!(
        bindings.contains(&json!({"x509CertificateField": "PrincipalName",
            "userProperty": "certificateUserIds", "priority": 1})),
        "{x:#}"
    );
    assert_eq!(
        x["authenticationModeConfiguration"]["rules"],
        json!([{"x509CertificateRuleType": "issuerSubject", "identifier": "CN=Contoso Issuing CA, O=Contoso",
                "x509CertificateAuthenticationMode": "x509CertificateMultiFactor"}]),
        "{x:#}"
    );
    let again = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(again.status.code(), Some(0), "{}", both(&again));

    std::fs::remove_file(c.dir.join("m/p.yaml")).unwrap();
    let out = c.run("import", &["--policy", "--out", "m/policy.yaml"], false);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = std::fs::read_to_string(c.dir.join("m/policy.yaml")).unwrap();
    assert!(
        text.contains("rules: [{identifier: \"CN=Contoso Issuing CA, O=Contoso\", mode: \"multiFactor\", type: \"issuerSubject\"}]"),
        "{text}"
    );
    assert!(
        text.contains("{certificateField: \"PrincipalName\", priority: 1, userProperty: \"certificateUserIds\"}"),
        "{text}"
    );
    let plan = c.run("plan", &["m", "--detailed-exitcode"], false);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_refuses_x509_bindings_and_rules_of_other_shapes() {
    let emu = Emu::example().await;
    let token = emu.app_token().await;
    let path =
        "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/X509Certificate";
    let body = |bindings: Value, rules: Value| {
        json!({"@odata.type": "#microsoft.graph.x509CertificateAuthenticationMethodConfiguration",
               "certificateUserBindings": bindings,
               "authenticationModeConfiguration": {
                   "x509CertificateAuthenticationDefaultMode": "x509CertificateSingleFactor", "rules": rules}})
    };
    let ok = json!({"x509CertificateField": "PrincipalName", "userProperty": "userPrincipalName", "priority": 1});
    let rule = json!({"x509CertificateRuleType": "policyOID", "identifier": "1.2.3",
                      "x509CertificateAuthenticationMode": "x509CertificateMultiFactor"});
    for (bindings, rules) in [
        (json!([ok, ok]), json!([])),
        (
            json!([{"x509CertificateField": "PrincipalName", "priority": 1}]),
            json!([]),
        ),
        (
            json!([ok]),
            json!([{"x509CertificateRuleType": "issuer", "identifier": "x",
                              "x509CertificateAuthenticationMode": "x509CertificateMultiFactor"}]),
        ),
        (
            json!([ok]),
            json!([{"x509CertificateRuleType": "policyOID", "identifier": "1.2.3"}]),
        ),
    ] {
        let r = emu
            .patch(path, &token, body(bindings.clone(), rules.clone()))
            .await;
        assert_eq!(r.status, 400, "{bindings} {rules}: {:?}", r.body);
    }
    let r = emu
        .patch(path, &token, body(json!([ok]), json!([rule])))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let read = emu.get(path, &token).await;
    assert_eq!(read.body["certificateUserBindings"], json!([ok]));
    assert_eq!(
        read.body["authenticationModeConfiguration"]["rules"],
        json!([rule])
    );
}
