//! Integration tests: kind AuthenticationMethods from the manifest side. `authctl import` writes the email and a
//! keep-list per registered type (names and dates as escaped comments) that `validate` accepts and that declares
//! exactly today's registrations; `--kind PhoneMethods` keeps the old document; a user whose method list can't be
//! read is not written. Every run goes through the real binary against the emulator (`--emulate`).

use std::collections::BTreeMap;
use std::process::Output;

use authctl::model::{DesiredEmail, DesiredRegistrations, RegistrationType};

use crate::imperative_commands::{stderr, stdout};
use crate::support::{EXAMPLE_TENANT, SMALL_TENANT, TenantDir, authctl_cmd};

/// A tenant directory, for `import` and `validate` runs.
struct Dir(TenantDir);

impl Dir {
    fn new(tenant: &str) -> Dir {
        Dir(TenantDir::new(tenant))
    }

    fn import(&self, args: &[&str]) -> Output {
        self.0.run("import", args)
    }

    fn validate(&self, text: &str) -> (Output, authctl::manifest::Manifests) {
        let file = self.0.dir.join("imported.yaml");
        std::fs::write(&file, text).unwrap();
        let out = authctl_cmd().arg("validate").arg(&file).output().unwrap();
        let m = authctl::manifest::load(&[file.to_string_lossy().into_owned()]);
        (out, m)
    }
}

#[test]
fn import_writes_the_email_and_a_keep_list_per_registered_type_that_validates() {
    let d = Dir::new(EXAMPLE_TENANT);
    let out = d.import(&[
        "AllanD@contoso.com",
        "ChristieC@contoso.com",
        "PradeepG@contoso.com",
        "JohannaL@contoso.com",
        "--mode",
        "exact",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    insta::assert_snapshot!("import_authentication_methods", text);
    assert!(
        text.contains("kind: AuthenticationMethods\n"),
        "the default kind"
    );
    assert!(
        text.contains(
            "          - \"1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b\"   # Allan's iPhone 12 · SoftwareTokenActivated · \
             created 2023-03-14T09:26:53Z\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "# also has a `future` registration (id 5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0;"
        ),
        "an unknown type is a comment: {text}"
    );

    let (v, m) = d.validate(&text);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(m.diagnostics.is_empty(), "{:#?}", m.diagnostics);
    let by_user: BTreeMap<&str, &authctl::model::DesiredUser> =
        m.users.iter().map(|u| (u.user.as_str(), u)).collect();
    let allan = by_user["8c9d0e1f-2a3b-4c4d-8e5f-60718293a4b5"];
    assert_eq!(
        allan.email,
        Some(DesiredEmail::Absent),
        "exact mode, no email"
    );
    let keep =
        |ids: &[&str]| DesiredRegistrations::Keep(ids.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        allan.registrations,
        [
            (
                RegistrationType::new("microsoftAuthenticator"),
                keep(&["1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"])
            ),
            (
                RegistrationType::new("fido2"),
                keep(&["2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b"])
            ),
        ]
        .into()
    );
    let christie = by_user["9d0e1f2a-3b4c-4d5e-9f60-718293a4b5c6"];
    assert_eq!(
        christie.email,
        Some(DesiredEmail::Address(
            "christie.cline@fabrikam.example".into()
        ))
    );
    assert_eq!(
        christie.registrations[&RegistrationType::new("fido2")],
        keep(&[
            "3b4c5d6e-7f80-4a1b-8c2d-3e4f5a6b7c8d",
            "4c5d6e7f-8091-4b2c-9d3e-4f5a6b7c8d9e"
        ])
    );
    assert_eq!(
        christie.registrations[&RegistrationType::new("windowsHelloForBusiness")],
        keep(&["5d6e7f80-91a2-4c3d-8e4f-5a6b7c8d9eaf"])
    );
    let johanna = by_user["0d1e2f3a-4b5c-4d6e-9f70-8192a3b4c5d6"];
    assert!(
        johanna.registrations.is_empty(),
        "an unknown type is never declared"
    );
}

#[test]
fn import_kind_phone_methods_writes_phones_only() {
    let d = Dir::new(EXAMPLE_TENANT);
    let out = d.import(&[
        "ChristieC@contoso.com",
        "--mode",
        "exact",
        "--kind",
        "PhoneMethods",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind: PhoneMethods\n"), "{text}");
    assert!(
        !text.contains("email") && !text.contains("registered"),
        "{text}"
    );
    let (v, m) = d.validate(&text);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert_eq!(m.users[0].email, None);
}

#[test]
fn import_in_merge_mode_leaves_a_missing_email_unmanaged() {
    let d = Dir::new(EXAMPLE_TENANT);
    let out = d.import(&["AllanD@contoso.com", "--mode", "merge"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("email:"), "{text}");
    let (_, m) = d.validate(&text);
    assert!(!m.has_errors());
    assert_eq!(m.users[0].email, None);
    assert_eq!(m.users[0].registrations.len(), 2);
}

/// A user whose FIDO2 key and Authenticator have hostile names, and a method of a type nobody knows.
const HOSTILE: &str = r##"
  - id: 00000000-0000-4000-8000-000000000009
    userPrincipalName: mal@contoso.com
    displayName: Mal
    phones:
      mobile: { number: "+1 2065550009" }
    methods:
      - type: fido2
        id: "-2_GRUg2-HYz6_1YG4YRAQ2"
        displayName: "Key\n        microsoftAuthenticator: absent   # \e[2J\u202e"
        model: "# not a comment\r- \"injected\""
        createdDateTime: "2020-08-10T06:44:09Z"
      - type: microsoftAuthenticator
        id: 6f0d2c1b-9a8e-4d7c-b6a5-0f9e8d7c6b5a
        displayName: "Mal's phone #2"
      - type: email
        id: 3ddfcfc8-9383-446f-83cc-3ab9be4be18f
        emailAddress: mal@bücher.example
    rawMethods:
      - "@odata.type": "#microsoft.graph.quantumKeyAuthenticationMethod"
        id: "q-1"
        displayName: "Quantum\nkey"
"##;

#[test]
fn import_escapes_hostile_names_in_comments_and_the_result_declares_only_real_ids() {
    let d = Dir::new(&format!("{SMALL_TENANT}{HOSTILE}"));
    let out = d.import(&["mal@contoso.com", "--mode", "exact"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // Every line a name reaches is a comment; nothing of it becomes YAML.
    for line in text
        .lines()
        .filter(|l| l.contains("Key") || l.contains("Quantum"))
    {
        let code = line.split(" # ").next().unwrap();
        assert!(
            !code.contains("Key") && !code.contains("Quantum"),
            "a name outside a comment: {line}"
        );
    }
    assert!(text.contains("\\u{1b}[2J\\u{202e}"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains('\r'),
        "{text:?}"
    );
    assert!(
        text.contains("# also has a `quantumKey` registration (id q-1;"),
        "{text}"
    );
    let (v, m) = d.validate(&text);
    assert_eq!(v.status.code(), Some(0), "{}\n{text}", stderr(&v));
    let u = &m.users[0];
    assert_eq!(
        u.email,
        Some(DesiredEmail::Address("mal@bücher.example".into()))
    );
    let declared: Vec<(String, DesiredRegistrations)> = u
        .registrations
        .iter()
        .map(|(t, r)| (t.name().to_string(), r.clone()))
        .collect();
    assert_eq!(
        declared,
        [
            (
                "fido2".to_string(),
                DesiredRegistrations::Keep(["-2_GRUg2-HYz6_1YG4YRAQ2".to_string()].into())
            ),
            (
                "microsoftAuthenticator".to_string(),
                DesiredRegistrations::Keep(
                    ["6f0d2c1b-9a8e-4d7c-b6a5-0f9e8d7c6b5a".to_string()].into()
                )
            ),
        ]
    );
}

#[test]
fn a_user_whose_method_list_cannot_be_read_is_not_written() {
    // The app may read phones (granular permission) but not the polymorphic method list, which needs the classic
    // UserAuthenticationMethod.Read.All: writing the user without their email would remove it in exact mode.
    let tenant = SMALL_TENANT.replacen(
        "permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]",
        "permissions: [UserAuthMethod-Phone.Read.All, User.Read.All]",
        1,
    );
    let d = Dir::new(&tenant);
    let out = d.import(&["lee@contoso.com", "--mode", "exact"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no manifest");
    assert!(
        stderr(&out).contains("cannot read the method list"),
        "{}",
        stderr(&out)
    );
    // The phones-only kind needs no method list.
    let out = d.import(&[
        "lee@contoso.com",
        "--mode",
        "exact",
        "--kind",
        "PhoneMethods",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn control_characters_in_an_email_or_an_id_are_reported_once_and_never_printed_raw() {
    let d = Dir::new(SMALL_TENANT);
    let text = "apiVersion: authctl/v1\nkind: AuthenticationMethods\nspec:\n  mode: merge\n  users:\n\
                \x20   - user: kim@contoso.com\n      email: \"kim\\e[2J@fabrikam.example\"\n      registered:\n\
                \x20       fido2: [\"k1\\u202E\"]\n";
    let file = d.0.dir.join("m.yaml");
    std::fs::write(&file, text).unwrap();
    let out = authctl_cmd()
        .args(["validate", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let shown =
        String::from_utf8_lossy(&[out.stdout.clone(), out.stderr.clone()].concat()).into_owned();
    assert!(!shown.contains(['\u{1b}', '\u{202e}']), "{shown}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(u64, String, String)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["code"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("authctl::manifest::")
                    .to_string(),
                d["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                7,
                "control-character".to_string(),
                "spec.users[0].email".to_string()
            ),
            (
                9,
                "control-character".to_string(),
                "spec.users[0].registered.fido2[0]".to_string()
            ),
        ]
    );
    let m = authctl::manifest::load(&[file.to_string_lossy().into_owned()]);
    assert!(m.users.is_empty(), "the entry is not handed to the planner");
}
