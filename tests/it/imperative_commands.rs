//! Integration tests: the imperative commands. `authctl methods`, `authctl phone` and `authctl sms-sign-in` through
//! the real binary against the built-in emulator (`--emulate` on a copy of the example tenant, signed in as the
//! admin through the real device-code flow). `authctl password reset` is in `password_reset.rs`, which shares the
//! tenant helpers here.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::support::{EXAMPLE_TENANT, MOBILE, OFFICE, PASSWORD, authctl_cmd};

pub(crate) const ADMIN: &str = "admin@contoso.com";
pub(crate) const CAMERON: &str = "CameronW@contoso.com";
pub(crate) const CAMERON_ID: &str = "0d6e4f1a-3b2c-4d5e-8f9a-b0c1d2e3f4a5";
pub(crate) const PATTI_SYNCED: &str = "PattiF@contoso.com";

/// A copy of the example tenant (optionally edited) in a temp dir, and runs of the binary against it.
pub(crate) struct Tenant {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tenant {
    pub(crate) fn example() -> Tenant {
        Tenant::with(EXAMPLE_TENANT)
    }

    /// The example tenant with its `operations:` block replaced by `operations`.
    pub(crate) fn with_operations(operations: &str) -> Tenant {
        let start = EXAMPLE_TENANT
            .find("operations:\n")
            .expect("operations block");
        let end = start + EXAMPLE_TENANT[start..].find("\n\n").expect("block end");
        let yaml = format!(
            "{}{}{}",
            &EXAMPLE_TENANT[..start],
            operations.trim_end(),
            &EXAMPLE_TENANT[end..]
        );
        Tenant::with(&yaml)
    }

    pub(crate) fn with(yaml: &str) -> Tenant {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenant.yaml");
        std::fs::write(&path, yaml).unwrap();
        Tenant { _dir: dir, path }
    }

    /// `authctl ARGS --emulate TENANT --emulate-as admin --virtual-clock --emulate-persist`, with `stdin`.
    pub(crate) fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_env(args, stdin, &[])
    }

    pub(crate) fn run_env(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = authctl_cmd();
        cmd.args(args).arg("--emulate").arg(&self.path).args([
            "--emulate-as",
            ADMIN,
            "--virtual-clock",
            "--emulate-persist",
        ]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.write_stdin(stdin.unwrap_or("").as_bytes().to_vec());
        cmd.output().expect("authctl runs")
    }

    /// The tenant file as it is now (persisted changes folded in).
    pub(crate) fn state(&self) -> authctl::emulator::Tenant {
        authctl::emulator::load_tenant(&self.path).unwrap()
    }
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn methods_json(t: &Tenant, users: &[&str]) -> Value {
    let mut args = vec!["methods"];
    args.extend_from_slice(users);
    args.extend(["--format", "json"]);
    let o = t.run(&args, None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

// ---- methods ----------------------------------------------------------------------------------------------------

#[test]
fn methods_json_lists_every_method_type_of_the_tenant_and_unknown_types_are_not_fatal() {
    let t = Tenant::example();
    let users = [
        "admin@contoso.com",
        "GradyA@contoso.com",
        "IsaiahL@contoso.com",
        "JohannaL@contoso.com",
        "LeeG@contoso.com",
        "MeganB@contoso.com",
        "DiegoS@contoso.com",
        "NestorW@contoso.com",
    ];
    let j = methods_json(&t, &users);
    let mut types: Vec<String> = j["users"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["methods"].as_array().unwrap().clone())
        .map(|m| m["@odata.type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    types.dedup();
    // Every method type stored anywhere in the example tenant.
    let state = t.state();
    let mut expected: Vec<String> = vec![
        "#microsoft.graph.passwordAuthenticationMethod".into(),
        "#microsoft.graph.phoneAuthenticationMethod".into(),
    ];
    for u in &state.users {
        expected.extend(u.methods.iter().map(|m| m.odata_type()));
        expected.extend(
            u.raw_methods
                .iter()
                .map(|m| m["@odata.type"].as_str().unwrap().to_string()),
        );
    }
    expected.sort();
    expected.dedup();
    assert_eq!(types, expected);
    // The unknown type is listed by its type, with its id and properties, not refused.
    let johanna = &j["users"][3];
    let unknown = johanna["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "unknown")
        .expect("the unknown method is listed");
    assert_eq!(
        unknown["@odata.type"],
        "#microsoft.graph.futureAuthenticationMethod"
    );
    assert_eq!(unknown["id"], "5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");
    assert_eq!(
        unknown["name"], "#microsoft.graph.futureAuthenticationMethod",
        "shown by its type"
    );
    // Key properties of known types.
    let grady = &j["users"][1]["methods"];
    let fido = grady
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "fido2")
        .unwrap();
    assert_eq!(fido["properties"]["model"], "NFC key");
    assert!(fido["summary"].as_str().unwrap().contains("model: NFC key"));
    let lee_tap = j["users"][4]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "temporaryAccessPass")
        .unwrap()
        .clone();
    let summary = lee_tap["summary"].as_str().unwrap();
    assert!(
        summary.contains("lifetime (minutes): 60; usable once: yes; usable: yes"),
        "{summary}"
    );
}

#[test]
fn methods_text_names_each_method_and_redact_masks_numbers() {
    let t = Tenant::example();
    let o = t.run(
        &["methods", "AdeleV@contoso.com", "JohannaL@contoso.com"],
        None,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("AdeleV@contoso.com (Adele Vance, 4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f70)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Phone (office)           id {OFFICE}; number: +1 4255550199x1234"
        )),
        "{out}"
    );
    assert!(out.contains("Microsoft Authenticator  id 0a1b2c3d-4e5f-4061-8728-394a5b6c7d8e; device: Adele's Pixel"), "{out}");
    assert!(
        out.contains("#microsoft.graph.futureAuthenticationMethod"),
        "{out}"
    );
    let o = t.run(&["methods", "AdeleV@contoso.com", "--redact"], None);
    let out = stdout(&o);
    assert!(!out.contains("4255550199"), "{out}");
    assert!(out.contains("+1 425•••0199x1234 ·"), "{out}");
}

#[test]
fn methods_of_a_missing_user_is_an_error_for_that_user_only() {
    let t = Tenant::example();
    let o = t.run(&["methods", "nobody@contoso.com", CAMERON], None);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("nobody@contoso.com\n  error: 404"), "{out}");
    assert!(out.contains(&format!("Password  id {PASSWORD}")), "{out}");
}

// ---- the walkthrough, end to end ---------------------------------------------------------------------------------

/// The methods of one user as (`@odata.type`, id) pairs, from `methods --format json`.
fn method_ids(t: &Tenant, user: &str) -> Vec<(String, String)> {
    let j = methods_json(t, &[user]);
    j["users"][0]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["@odata.type"].as_str().unwrap().to_string(),
                m["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(t: &str, id: &str) -> (String, String) {
    (
        format!("#microsoft.graph.{t}AuthenticationMethod"),
        id.to_string(),
    )
}

#[test]
fn walkthrough_end_to_end_through_the_binary() {
    let t = Tenant::example();
    // 1. Cameron has only a password.
    assert_eq!(method_ids(&t, CAMERON), [pair("password", PASSWORD)]);
    // 2. Add a mobile, 3. add an office phone (numbers as people type them; sent canonical).
    let o = t.run(
        &[
            "phone",
            "add",
            CAMERON,
            "--type",
            "mobile",
            "--number",
            "+12065555555",
        ],
        None,
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("+ mobile           +1 2065555555 — done"),
        "{}",
        stdout(&o)
    );
    let o = t.run(
        &[
            "phone",
            "add",
            CAMERON,
            "--type",
            "office",
            "--number",
            "+1 (425) 555-0100 x123",
        ],
        None,
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    // 4. Both phones are listed with their fixed ids.
    let j = methods_json(&t, &[CAMERON]);
    let phones: Vec<(String, String, String)> = j["users"][0]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "phone")
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["properties"]["phoneType"].as_str().unwrap().to_string(),
                m["properties"]["phoneNumber"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        phones,
        [
            (
                MOBILE.to_string(),
                "mobile".to_string(),
                "+1 2065555555".to_string()
            ),
            (
                OFFICE.to_string(),
                "office".to_string(),
                "+1 4255550100x123".to_string()
            ),
        ]
    );
    // 5. Remove the office phone, 6. list again.
    let o = t.run(&["phone", "remove", CAMERON, "--type", "office"], None);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("+1 4255550100x123 — done"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        method_ids(&t, CAMERON),
        [pair("password", PASSWORD), pair("phone", MOBILE)]
    );
    // 7. Reset with a given password, followed to succeeded.
    let o = t.run(
        &["password", "reset", CAMERON, "--password-stdin"],
        Some("Cuyo5459!x\n"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("password reset of CameronW@contoso.com: succeeded"));
    assert_eq!(
        t.state().user(CAMERON).unwrap().password.as_deref(),
        Some("Cuyo5459!x")
    );
    // 8. Reset with a generated password, followed to succeeded.
    let o = t.run(&["password", "reset", CAMERON], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("password reset of CameronW@contoso.com: succeeded"));
    let generated = stdout(&o).trim_end().to_string();
    assert_ne!(generated, "Cuyo5459!x");
    assert_eq!(
        t.state().user(CAMERON).unwrap().password.as_deref(),
        Some(generated.as_str())
    );
}

// ---- the imperative phone commands obey apply's rules -----------------------------------------------------------

#[test]
fn add_over_an_existing_phone_is_refused_with_a_pointer_to_update() {
    let t = Tenant::example();
    let o = t.run(
        &[
            "phone",
            "add",
            "AdeleV@contoso.com",
            "--type",
            "office",
            "--number",
            "+1 4255550111",
        ],
        None,
    );
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("already has an office phone (+1 4255550199x1234)"),
        "{err}"
    );
    assert!(
        err.contains("authctl phone update AdeleV@contoso.com --type office"),
        "{err}"
    );
    // update does it.
    let o = t.run(
        &[
            "phone",
            "update",
            "AdeleV@contoso.com",
            "--type",
            "office",
            "--number",
            "+1 4255550111",
        ],
        None,
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("+1 4255550111 — done"),
        "{}",
        stdout(&o)
    );
    let adele = t.state().user("AdeleV@contoso.com").unwrap().clone();
    assert_eq!(
        adele.phones[&authctl::model::PhoneType::Office].number,
        "+1 4255550111"
    );
    // update of a phone the user doesn't have: refused, pointing to add.
    let o = t.run(
        &[
            "phone",
            "update",
            CAMERON,
            "--type",
            "office",
            "--number",
            "+1 4255550111",
        ],
        None,
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("has no office phone to update"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn removing_a_phone_the_user_does_not_have_is_nothing_to_do() {
    let t = Tenant::example();
    let o = t.run(&["phone", "remove", CAMERON, "--type", "office"], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("nothing to do (remove office is already the case)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn alternate_mobile_without_a_mobile_is_refused_with_the_rule() {
    let t = Tenant::example();
    let o = t.run(
        &[
            "phone",
            "add",
            CAMERON,
            "--type",
            "alternateMobile",
            "--number",
            "+1 2065555556",
        ],
        None,
    );
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("an alternateMobile needs a mobile"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(t.state().user(CAMERON).unwrap().phones.is_empty());
}

#[test]
fn an_extension_is_refused_on_anything_but_office() {
    let t = Tenant::example();
    let o = t.run(
        &[
            "phone",
            "add",
            CAMERON,
            "--type",
            "mobile",
            "--number",
            "+1 2065555555x12",
        ],
        None,
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("only an office phone may have one"),
        "{}",
        stderr(&o)
    );
    let o = t.run(
        &[
            "phone",
            "add",
            CAMERON,
            "--type",
            "mobile",
            "--number",
            "2065555555",
        ],
        None,
    );
    assert_eq!(
        code(&o),
        1,
        "a number without + country code is refused like in manifests"
    );
    assert!(t.state().user(CAMERON).unwrap().phones.is_empty());
}

#[test]
fn the_default_method_cannot_be_removed_and_graphs_error_is_shown() {
    let t = Tenant::example();
    // GradyA's default MFA method is the mobile; Graph refuses to delete it.
    let o = t.run(
        &["phone", "remove", "GradyA@contoso.com", "--type", "mobile"],
        None,
    );
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        out.contains("+1 4255550104 — failed: 400 badRequest: "),
        "Graph's status and code: {out}"
    );
    assert!(
        out.contains("matches the user's current default authentication method"),
        "Graph's message: {out}"
    );
    assert!(out.contains("request-id"), "Graph's request-id: {out}");
    assert!(
        t.state()
            .user("GradyA@contoso.com")
            .unwrap()
            .phones
            .contains_key(&authctl::model::PhoneType::Mobile)
    );
}

#[test]
fn a_change_the_manifests_would_undo_is_warned_about() {
    let t = Tenant::example();
    let manifests = crate::support::repo_path("examples/manifests");
    let o = t.run(
        &[
            "phone",
            "update",
            "AdeleV@contoso.com",
            "--type",
            "office",
            "--number",
            "+1 4255550111",
            "--manifests",
            manifests.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: AdeleV@contoso.com is declared at"),
        "{err}"
    );
    assert!(err.contains("engineering.yaml"), "{err}");
    assert!(err.contains("office: +1 4255550100x1234"), "{err}");
    assert!(err.contains("would undo this change"), "{err}");
    // A change the manifests agree with: no warning.
    let o = t.run(
        &[
            "phone",
            "update",
            "AdeleV@contoso.com",
            "--type",
            "office",
            "--number",
            "+1 4255550100x1234",
            "--manifests",
            manifests.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(!stderr(&o).contains("would undo"), "{}", stderr(&o));
}

#[test]
fn sms_sign_in_follows_the_state_table() {
    let t = Tenant::example();
    // notEnabled, in the policy: enabled.
    let o = t.run(&["sms-sign-in", "enable", "HenriettaM@contoso.com"], None);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("done"), "{}", stdout(&o));
    let h = t.state().user("HenriettaM@contoso.com").unwrap().clone();
    assert_eq!(
        h.phones[&authctl::model::PhoneType::Mobile]
            .sms_sign_in_state
            .as_deref(),
        Some("ready")
    );
    // Enabling again: nothing to do.
    let o = t.run(&["sms-sign-in", "enable", "HenriettaM@contoso.com"], None);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("nothing to do"), "{}", stdout(&o));
    // Not allowed by the policy: refused with the reason, no call.
    let o = t.run(&["sms-sign-in", "enable", "LidiaH@contoso.com"], None);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("refused to enable SMS sign-in"),
        "{}",
        stderr(&o)
    );
    // A user without a mobile: refused.
    let o = t.run(&["sms-sign-in", "enable", CAMERON], None);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    // ready → disabled.
    let o = t.run(&["sms-sign-in", "disable", "AlexW@contoso.com"], None);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
}
