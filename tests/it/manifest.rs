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
    assert!(stderr.contains("valid: 16 users in 5 files"), "{stderr}");
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

// ---------------------------------------------------------------------------------------------------------------
// One test per rule: the diagnostics found (code, severity, line, path) and a snapshot of how they render.

use authctl::manifest::{self, DiagnosticFormat, Manifests, Severity};

const FIXTURES: &str = "tests/fixtures/manifests";

fn load(paths: &[&str]) -> Manifests {
    let paths: Vec<String> = paths.iter().map(|p| format!("{FIXTURES}/{p}")).collect();
    manifest::load_from(&paths, &mut std::io::empty())
}

/// Loads `paths`, checks the diagnostics are exactly `expected` (code suffix, severity, line, path), and snapshots
/// their text rendering (no colour, as under `NO_COLOR=1`).
fn check(name: &str, paths: &[&str], expected: &[(&str, Severity, usize, &str)]) -> Manifests {
    let m = load(paths);
    let got: Vec<(String, Severity, usize, String)> = m
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code.trim_start_matches("authctl::manifest::").to_string(),
                d.severity,
                d.line,
                d.path.clone(),
            )
        })
        .collect();
    let want: Vec<(String, Severity, usize, String)> = expected
        .iter()
        .map(|(c, s, l, p)| (c.to_string(), *s, *l, p.to_string()))
        .collect();
    assert_eq!(got, want, "diagnostics of {paths:?}");
    for d in &m.diagnostics {
        assert!(
            d.help.is_some(),
            "every diagnostic says how to fix it: {d:?}"
        );
        assert!(
            d.line > 0 && d.column > 0,
            "every diagnostic has a position: {d:?}"
        );
    }
    insta::assert_snapshot!(
        name,
        manifest::render_diagnostics(&m, DiagnosticFormat::Text, false)
    );
    m
}

use Severity::{Error as E, Warning as W};

#[test]
fn rule_duplicate_key() {
    let m = check(
        "duplicate_key",
        &["invalid/duplicate-key.yaml"],
        &[
            ("duplicate-key", E, 10, "spec.users[0].phones.mobile"),
            ("duplicate-key", E, 15, "spec.users[1].smsSignIn"),
        ],
    );
    assert_eq!(
        m.diagnostics[0].labels[0].line, 8,
        "the first occurrence is named too"
    );
    assert!(m.users.is_empty());
}

#[test]
fn rule_unknown_field_with_suggestion() {
    let m = check(
        "unknown_field",
        &["invalid/unknown-field.yaml"],
        &[
            ("unknown-phone-type", E, 8, "spec.users[0].phones.mobil"),
            ("unknown-field", E, 9, "spec.users[0].smsSignin"),
        ],
    );
    assert!(m.diagnostics[0].message.contains("did you mean `mobile`?"));
    assert!(
        m.diagnostics[1]
            .message
            .contains("did you mean `smsSignIn`?")
    );
}

#[test]
fn rule_unknown_phone_type() {
    check(
        "unknown_phone_type",
        &["invalid/unknown-phone-type.yaml"],
        &[
            ("unknown-phone-type", E, 8, "spec.users[0].phones.fax"),
            (
                "unknown-phone-type",
                E,
                9,
                "spec.users[0].phones.alternate_mobile",
            ),
        ],
    );
}

#[test]
fn rule_office_null_tilde_or_empty() {
    check(
        "office_null",
        &["invalid/office-null.yaml"],
        &[
            ("null-phone", E, 8, "spec.users[0].phones.office"),
            ("null-phone", E, 11, "spec.users[1].phones.office"),
            ("null-phone", E, 14, "spec.users[2].phones.office"),
        ],
    );
}

#[test]
fn rule_bad_numbers() {
    check(
        "bad_number",
        &["invalid/bad-number.yaml"],
        &[
            ("invalid-phone-number", E, 8, "spec.users[0].phones.mobile"),
            ("invalid-phone-number", E, 11, "spec.users[1].phones.mobile"),
            ("invalid-phone-number", E, 14, "spec.users[2].phones.mobile"),
            ("invalid-phone-number", E, 17, "spec.users[3].phones.mobile"),
            ("invalid-phone-number", E, 20, "spec.users[4].phones.office"),
        ],
    );
}

#[test]
fn rule_possible_but_not_valid_number_is_a_warning() {
    let m = check(
        "not_valid_number",
        &["invalid/not-valid-number.yaml"],
        &[("phone-not-valid", W, 8, "spec.users[0].phones.mobile")],
    );
    assert!(!m.has_errors());
    assert_eq!(m.users.len(), 1, "a warning keeps the user");
}

#[test]
fn rule_extension_only_on_office() {
    check(
        "extension_on_mobile",
        &["invalid/extension-on-mobile.yaml"],
        &[
            ("extension-not-allowed", E, 8, "spec.users[0].phones.mobile"),
            (
                "extension-not-allowed",
                E,
                9,
                "spec.users[0].phones.alternateMobile",
            ),
        ],
    );
}

#[test]
fn rule_missing_spec_mode() {
    check(
        "missing_mode",
        &["invalid/missing-mode.yaml"],
        &[("missing-field", E, 3, "spec.mode")],
    );
}

#[test]
fn rule_exact_mode_user_without_phones() {
    let m = check(
        "exact_no_phones",
        &["invalid/exact-no-phones.yaml"],
        &[
            ("no-phones", E, 6, "spec.users[0].phones"),
            ("no-phones", E, 8, "spec.users[1].phones"),
        ],
    );
    let users: Vec<&str> = m.users.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(
        users,
        ["DiegoS@contoso.com"],
        "every type written out as absent is fine"
    );
}

#[test]
fn rule_alternate_mobile_without_mobile() {
    let m = check(
        "alternate_without_mobile",
        &["invalid/alternate-without-mobile.yaml"],
        &[
            (
                "alternate-without-mobile",
                E,
                8,
                "spec.users[0].phones.alternateMobile",
            ),
            (
                "alternate-without-mobile",
                E,
                13,
                "spec.users[1].phones.alternateMobile",
            ),
        ],
    );
    assert_eq!(
        m.users.len(),
        1,
        "merge mode with the mobile unmanaged is left to the plan"
    );
}

#[test]
fn rule_sms_sign_in_without_mobile() {
    let m = check(
        "sms_without_mobile",
        &["invalid/sms-without-mobile.yaml"],
        &[
            ("sms-without-mobile", E, 9, "spec.users[0].smsSignIn"),
            ("sms-without-mobile", E, 14, "spec.users[1].smsSignIn"),
        ],
    );
    assert_eq!(
        m.users.len(),
        1,
        "merge mode with the mobile unmanaged is allowed"
    );
}

#[test]
fn rule_same_user_in_two_files_names_both_places() {
    let m = check(
        "duplicate_user",
        &["invalid/duplicate-user"],
        &[("duplicate-user", E, 9, "spec.users[1].user")],
    );
    let d = &m.diagnostics[0];
    assert!(d.file.ends_with("duplicate-user/b.yaml"), "{d:?}");
    assert_eq!(d.labels.len(), 1);
    assert!(d.labels[0].file.ends_with("duplicate-user/a.yaml") && d.labels[0].line == 6);
    assert!(d.message.contains("case-insensitive"), "{}", d.message);
}

#[test]
fn rule_same_mobile_on_two_users_is_a_warning() {
    let m = check(
        "shared_mobile",
        &["invalid/shared-mobile.yaml"],
        &[("shared-mobile", W, 11, "spec.users[1].phones.mobile")],
    );
    assert!(!m.has_errors());
}

#[test]
fn rule_same_mobile_with_sms_sign_in_on_both_is_an_error() {
    check(
        "shared_mobile_sms",
        &["invalid/shared-mobile-sms.yaml"],
        &[("shared-mobile-sms", E, 12, "spec.users[1].phones.mobile")],
    );
}

#[test]
fn rule_wrong_api_version() {
    check(
        "wrong_api_version",
        &["invalid/wrong-api-version.yaml"],
        &[("api-version", E, 1, "apiVersion")],
    );
}

#[test]
fn rule_wrong_kind() {
    check(
        "wrong_kind",
        &["invalid/wrong-kind.yaml"],
        &[("kind", E, 2, "kind")],
    );
}

#[test]
fn rule_empty_file() {
    check(
        "empty_file",
        &["invalid/empty.yaml"],
        &[("empty-file", E, 1, "")],
    );
}

#[test]
fn rule_yaml_syntax_error() {
    check(
        "syntax_error",
        &["invalid/syntax-error.yaml"],
        &[("yaml-syntax", E, 9, "")],
    );
}

#[test]
fn rule_unquoted_number() {
    let m = check(
        "unquoted_number",
        &["invalid/unquoted-number.yaml"],
        &[
            ("unquoted-number", E, 8, "spec.users[0].phones.mobile"),
            ("unquoted-number", E, 11, "spec.users[1].phones.mobile"),
        ],
    );
    assert!(
        m.diagnostics[0]
            .help
            .as_deref()
            .unwrap()
            .contains("\"+1 2065550100\""),
        "the fix quotes the number as written: {:?}",
        m.diagnostics[0].help
    );
}

#[test]
fn rule_alias_bomb_is_stopped_by_the_budget() {
    let m = check(
        "alias_bomb",
        &["invalid/alias-bomb.yaml"],
        &[("budget", E, 6, "")],
    );
    assert!(m.diagnostics[0].message.contains("alias bomb"));
}

#[test]
fn rule_invalid_values_mode_and_strict_booleans() {
    check(
        "invalid_value",
        &["invalid/invalid-value.yaml"],
        &[
            ("invalid-value", E, 4, "spec.mode"),
            ("invalid-value", E, 9, "spec.users[0].smsSignIn"),
            ("invalid-value", E, 14, "spec.users[1].smsSignIn"),
        ],
    );
}

#[test]
fn rule_invalid_user() {
    check(
        "invalid_user",
        &["invalid/invalid-user.yaml"],
        &[
            ("invalid-user", E, 6, "spec.users[0].user"),
            ("invalid-type", E, 9, "spec.users[1].user"),
            ("missing-field", E, 12, "spec.users[2].user"),
        ],
    );
}

#[test]
fn rule_wrong_shapes() {
    check(
        "invalid_type",
        &["invalid/invalid-type.yaml"],
        &[
            ("invalid-type", E, 6, "spec.users"),
            ("not-a-mapping", E, 9, ""),
        ],
    );
}

#[test]
fn rule_merge_user_managing_nothing_is_a_warning() {
    check(
        "nothing_managed",
        &["invalid/nothing-managed.yaml"],
        &[("nothing-managed", W, 6, "spec.users[0].user")],
    );
}

// Kind AuthenticationMethods: the email, the registered types and their keep-lists.

#[test]
fn rule_invalid_email() {
    let m = check(
        "invalid_email",
        &["invalid/email-invalid.yaml"],
        &[
            ("invalid-email", E, 7, "spec.users[0].email"),
            ("invalid-email", E, 9, "spec.users[1].email"),
            ("invalid-email", E, 11, "spec.users[2].email"),
            ("invalid-email", E, 13, "spec.users[3].email"),
            ("invalid-email", E, 15, "spec.users[4].email"),
            ("invalid-email", E, 17, "spec.users[5].email"),
            ("null-email", E, 19, "spec.users[6].email"),
            ("invalid-email", E, 21, "spec.users[7].email"),
            ("invalid-type", E, 23, "spec.users[8].email"),
        ],
    );
    let help = |i: usize| m.diagnostics[i].help.clone().unwrap();
    assert!(
        help(0).contains("`email: adele@fabrikam.example`"),
        "a display name's fix is the bare address: {}",
        help(0)
    );
    assert!(
        help(2).contains("`email: diego@fabrikam.example`"),
        "{}",
        help(2)
    );
    assert!(
        help(4).contains("`email: henrietta@fabrikam.example`"),
        "{}",
        help(4)
    );
    assert!(help(7).contains("`email: absent`"), "{}", help(7));
    let users: Vec<&str> = m.users.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(users, ["MeganB@contoso.com"], "an IDN domain is accepted");
}

#[test]
fn rule_registered_type_names() {
    let m = check(
        "registered_type",
        &["invalid/registered-type.yaml"],
        &[
            (
                "unknown-registered-type",
                E,
                8,
                "spec.users[0].registered.fido",
            ),
            (
                "unknown-registered-type",
                E,
                9,
                "spec.users[0].registered.passkey",
            ),
            (
                "unknown-registered-type",
                E,
                10,
                "spec.users[0].registered.windowsHello",
            ),
            (
                "not-a-registered-type",
                E,
                11,
                "spec.users[0].registered.mobile",
            ),
            (
                "not-a-registered-type",
                E,
                12,
                "spec.users[0].registered.email",
            ),
            (
                "not-a-registered-type",
                E,
                13,
                "spec.users[0].registered.password",
            ),
            (
                "invalid-registered-type",
                E,
                14,
                "spec.users[0].registered.Quantum Key",
            ),
            (
                "unlisted-registered-type",
                W,
                15,
                "spec.users[0].registered.quantumKey",
            ),
            (
                "unlisted-registered-type",
                W,
                16,
                "spec.users[0].registered.hardwareOath",
            ),
        ],
    );
    for (i, want) in [(0, "fido2"), (1, "fido2"), (2, "windowsHelloForBusiness")] {
        assert!(
            m.diagnostics[i]
                .message
                .contains(&format!("did you mean `{want}`?")),
            "{:?}",
            m.diagnostics[i].message
        );
    }
    assert!(
        m.diagnostics[7]
            .message
            .contains("/authentication/quantumKeyMethods"),
        "an unknown type is handled by its `{{short}}Methods` segment: {}",
        m.diagnostics[7].message
    );
}

#[test]
fn rule_registered_keep_lists() {
    let m = check(
        "registered_keep_list",
        &["invalid/registered-keep-list.yaml"],
        &[
            ("empty-keep-list", E, 8, "spec.users[0].registered.fido2"),
            (
                "duplicate-registration-id",
                E,
                11,
                "spec.users[0].registered.microsoftAuthenticator[1]",
            ),
            (
                "duplicate-registration-id",
                E,
                12,
                "spec.users[0].registered.windowsHelloForBusiness[2]",
            ),
            (
                "invalid-registration-id",
                E,
                13,
                "spec.users[0].registered.softwareOath[0]",
            ),
            (
                "invalid-registration-id",
                E,
                13,
                "spec.users[0].registered.softwareOath[1]",
            ),
            (
                "invalid-type",
                E,
                14,
                "spec.users[0].registered.temporaryAccessPass[0]",
            ),
            (
                "null-registered",
                E,
                15,
                "spec.users[0].registered.platformCredential",
            ),
            ("invalid-value", E, 18, "spec.users[1].registered.fido2"),
            (
                "invalid-value",
                E,
                19,
                "spec.users[1].registered.microsoftAuthenticator",
            ),
            (
                "invalid-type",
                E,
                20,
                "spec.users[1].registered.softwareOath",
            ),
        ],
    );
    assert!(
        m.diagnostics[0]
            .help
            .as_deref()
            .unwrap()
            .contains("`fido2: absent`"),
        "an empty keep-list points at `absent`"
    );
    let dup = &m.diagnostics[1];
    assert_eq!(dup.labels.len(), 1, "both places are named");
    assert_eq!((dup.labels[0].line, dup.line), (10, 11));
    assert!(dup.message.contains("case-insensitive"), "{}", dup.message);
    assert_eq!(m.diagnostics[2].labels[0].line, 12);
    assert!(
        m.diagnostics[8]
            .help
            .as_deref()
            .unwrap()
            .contains("[\"6f0d2c1b-9a8e-4d7c-b6a5-0f9e8d7c6b5a\"]"),
        "a lone id is shown as a list: {:?}",
        m.diagnostics[8].help
    );
    assert!(m.users.is_empty());
}

#[test]
fn rule_email_and_registered_are_not_part_of_phone_methods() {
    let m = check(
        "kind_field",
        &["invalid/kind-field.yaml"],
        &[
            ("kind-field", E, 9, "spec.users[0].email"),
            ("kind-field", E, 10, "spec.users[0].registered"),
        ],
    );
    assert!(
        m.diagnostics[0]
            .help
            .as_deref()
            .unwrap()
            .contains("use `kind: AuthenticationMethods`")
    );
}

#[test]
fn rule_same_registration_id_kept_for_two_users_is_a_warning() {
    let m = check(
        "shared_registration_id",
        &["invalid/shared-registration-id.yaml"],
        &[(
            "shared-registration-id",
            W,
            13,
            "spec.users[1].registered.fido2",
        )],
    );
    assert_eq!(
        m.diagnostics[0].labels[0].line, 9,
        "the first place is named"
    );
    assert_eq!(m.users.len(), 2, "a warning keeps both users");
}

#[test]
fn a_kind_typo_suggests_the_kind() {
    let m = manifest::load_from(
        &["-".to_string()],
        &mut "apiVersion: authctl/v1\nkind: AuthenticationMethod\nspec:\n  mode: merge\n  users: []\n".as_bytes(),
    );
    assert_eq!(m.diagnostics.len(), 1);
    assert!(
        m.diagnostics[0]
            .message
            .contains("did you mean `AuthenticationMethods`?"),
        "{}",
        m.diagnostics[0].message
    );
}

#[test]
fn multi_document_file_reports_the_right_document_line() {
    let m = check(
        "multi_document",
        &["invalid/multi-document.yaml"],
        &[("unknown-phone-type", E, 18, "spec.users[0].phones.offce")],
    );
    assert_eq!(m.users.len(), 1, "the first document's user is still read");
    assert_eq!(m.users[0].source.line, 6);
}

#[test]
fn every_problem_of_a_run_is_reported_not_just_the_first() {
    let m = load(&[
        "invalid/wrong-kind.yaml",
        "invalid/bad-number.yaml",
        "invalid/syntax-error.yaml",
    ]);
    let got: Vec<(String, usize)> = m
        .diagnostics
        .iter()
        .map(|d| (d.file.rsplit('/').next().unwrap().to_string(), d.line))
        .collect();
    let want: Vec<(String, usize)> = [
        ("wrong-kind.yaml", 2),
        ("bad-number.yaml", 8),
        ("bad-number.yaml", 11),
        ("bad-number.yaml", 14),
        ("bad-number.yaml", 17),
        ("bad-number.yaml", 20),
        ("syntax-error.yaml", 9),
    ]
    .iter()
    .map(|(f, l)| (f.to_string(), *l))
    .collect();
    assert_eq!(
        got, want,
        "all files, in the order given, each in line order"
    );
    assert_eq!(m.files.len(), 3);
}

// ---------------------------------------------------------------------------------------------------------------
// The schema, the serde model and the validator agree.

use authctl::manifest::model::{
    EmailSetting, Kind, ManifestDocument, PhoneSetting, RegisteredSetting,
};
use authctl::model::{DesiredEmail, DesiredPhone, DesiredRegistrations, Mode, PhoneType};

fn schema_validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/manifest.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::draft7::new(&schema).expect("the committed schema is valid draft-07")
}

/// Every `*.yaml`/`*.yml` under `dir`, sorted.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), &mut out);
    out.sort();
    out
}

/// What each reader says about one file: does the schema accept every document, does serde, does the validator.
fn verdicts(path: &std::path::Path) -> (bool, bool, bool) {
    let text = std::fs::read_to_string(path).unwrap();
    let schema = schema_validator();
    let schema_ok = match serde_saphyr::from_multiple::<serde_json::Value>(&text) {
        Ok(docs) => !docs.is_empty() && docs.iter().all(|d| schema.is_valid(d)),
        Err(_) => false,
    };
    let serde_ok =
        serde_saphyr::from_multiple::<ManifestDocument>(&text).is_ok_and(|d| !d.is_empty());
    let validator_ok = !manifest::load_from(
        &[path.to_string_lossy().into_owned()],
        &mut std::io::empty(),
    )
    .has_errors();
    (schema_ok, serde_ok, validator_ok)
}

#[test]
fn every_example_is_accepted_by_schema_serde_and_validator_alike() {
    let files = yaml_files("examples/manifests");
    assert!(files.len() >= 4);
    for f in &files {
        assert_eq!(verdicts(f), (true, true, true), "{}", f.display());
    }
}

#[test]
fn schema_expressible_invalid_fixtures_are_rejected_by_schema_serde_and_validator() {
    let mut files = yaml_files("tests/fixtures/manifests/schema-invalid");
    for name in [
        "unknown-field",
        "unknown-phone-type",
        "office-null",
        "extension-on-mobile",
        "missing-mode",
        "wrong-api-version",
        "wrong-kind",
        "unquoted-number",
        "invalid-value",
        "invalid-user",
        "invalid-type",
    ] {
        files.push(root().join(format!("{FIXTURES}/invalid/{name}.yaml")));
    }
    assert!(files.len() >= 30);
    for f in &files {
        assert_eq!(verdicts(f), (false, false, false), "{}", f.display());
    }
}

/// What the committed schema (as an editor uses it) says about documents of each kind: a snapshot of every error
/// it reports, by instance path, for a valid and an invalid document of `PhoneMethods` and of
/// `AuthenticationMethods`.
#[test]
fn schema_snapshots_for_both_kinds() {
    let schema = schema_validator();
    let head = |kind: &str, mode: &str| {
        format!("apiVersion: authctl/v1\nkind: {kind}\nspec:\n  mode: {mode}\n  users:\n")
    };
    let docs = [
        (
            "PhoneMethods, valid",
            head("PhoneMethods", "exact")
                + "    - user: AdeleV@contoso.com\n      phones:\n        mobile: \"+1 2065550100\"\n",
        ),
        (
            "PhoneMethods with email and registered",
            head("PhoneMethods", "merge")
                + "    - user: AdeleV@contoso.com\n      email: adele@fabrikam.example\n      registered:\n        fido2: absent\n",
        ),
        (
            "AuthenticationMethods, valid",
            head("AuthenticationMethods", "exact")
                + "    - user: AdeleV@contoso.com\n      phones:\n        mobile: absent\n      email: adele@bücher.example\n\
                   \x20     registered:\n        microsoftAuthenticator: absent\n        fido2: [\"k1\", \"k2\"]\n        quantumKey: absent\n",
        ),
        (
            "AuthenticationMethods, invalid",
            head("AuthenticationMethods", "merge")
                + "    - user: AdeleV@contoso.com\n      email: \"Adele <adele@fabrikam.example>\"\n      registered:\n\
                   \x20       fido2: []\n        softwareOath: [\"k1\", \"k1\"]\n        mobile: absent\n        Bad Name: absent\n\
                   \x20       windowsHelloForBusiness: [\"a b\"]\n        platformCredential: all\n",
        ),
    ];
    let mut out = String::new();
    for (name, yaml) in docs {
        let doc: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        let mut errors: Vec<String> = schema
            .iter_errors(&doc)
            .map(|e| {
                // A pattern is shown expanded (every whitespace character of `\s` written out): name it instead.
                let message = e.to_string();
                let message = match message.split_once(" does not match \"") {
                    Some((value, _)) => format!("{value} does not match the pattern"),
                    None => message,
                };
                format!("  {}: {message}", e.instance_path)
            })
            .collect();
        errors.sort();
        errors.dedup();
        out.push_str(&format!(
            "{name}: {}\n",
            if errors.is_empty() {
                "valid"
            } else {
                "invalid"
            }
        ));
        for e in errors {
            out.push_str(&e);
            out.push('\n');
        }
    }
    insta::assert_snapshot!("schema_by_kind", out);
}

#[test]
fn rules_beyond_the_schema_are_refused_by_serde_and_validator_alike() {
    let files = yaml_files("tests/fixtures/manifests/beyond-schema");
    assert!(files.len() >= 4);
    for f in &files {
        assert_eq!(verdicts(f), (true, false, false), "{}", f.display());
    }
}

#[test]
fn serde_model_reads_the_examples_as_the_validator_does() {
    let m = manifest::load(&["examples/manifests".to_string()]);
    let mut from_serde = Vec::new();
    for f in yaml_files("examples/manifests") {
        let docs: Vec<ManifestDocument> =
            serde_saphyr::from_multiple(&std::fs::read_to_string(f).unwrap()).unwrap();
        for doc in docs {
            for u in doc.spec.users {
                let mut phones = std::collections::BTreeMap::new();
                let p = u.phones.unwrap_or_default();
                for (t, s) in [
                    (PhoneType::Mobile, p.mobile),
                    (PhoneType::AlternateMobile, p.alternate_mobile),
                    (PhoneType::Office, p.office),
                ] {
                    if let Some(s) = s {
                        phones.insert(
                            t,
                            match s {
                                PhoneSetting::Number(n) => DesiredPhone::Number(n),
                                PhoneSetting::Absent => DesiredPhone::Absent,
                            },
                        );
                    }
                }
                let mode = u.mode.unwrap_or(doc.spec.mode);
                let authentication_methods = doc.kind == Kind::AuthenticationMethods;
                let email = match (u.email, mode) {
                    _ if !authentication_methods => None,
                    (Some(EmailSetting::Address(a)), _) => Some(DesiredEmail::Address(a)),
                    (Some(EmailSetting::Absent), _) | (None, Mode::Exact) => {
                        Some(DesiredEmail::Absent)
                    }
                    (None, Mode::Merge) => None,
                };
                let registrations: std::collections::BTreeMap<_, _> = u
                    .registered
                    .map(|r| r.0)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(t, s)| {
                        (
                            t,
                            match s {
                                RegisteredSetting::Absent => DesiredRegistrations::Absent,
                                RegisteredSetting::Keep(ids) => {
                                    DesiredRegistrations::Keep(ids.into_iter().collect())
                                }
                            },
                        )
                    })
                    .collect();
                from_serde.push((u.user, mode, phones, u.sms_sign_in, email, registrations));
            }
        }
    }
    let from_validator: Vec<_> = m
        .users
        .iter()
        .map(|u| {
            (
                u.user.clone(),
                u.mode,
                u.phones.clone(),
                u.sms_sign_in,
                u.email.clone(),
                u.registrations.clone(),
            )
        })
        .collect();
    assert_eq!(from_serde, from_validator);
    assert!(
        from_validator
            .iter()
            .any(|u| u.4.is_some() && !u.5.is_empty()),
        "the examples hold an AuthenticationMethods user with an email and registered types"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// `authctl validate` through the binary.

#[test]
fn validate_a_directory_with_one_bad_file_exits_1_and_names_its_line() {
    let out = authctl()
        .args(["validate", "tests/fixtures/manifests/one-bad-file"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tests/fixtures/manifests/one-bad-file/bad.yml:9:17"),
        "{stderr}"
    );
    assert!(
        stderr.contains("invalid: 1 error and 0 warnings in 2 files"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "text diagnostics go to stderr");
}

#[test]
fn validate_json_is_one_document_on_stdout() {
    let out = authctl()
        .args([
            "validate",
            "--format",
            "json",
            "tests/fixtures/manifests/invalid/shared-mobile.yaml",
            "tests/fixtures/manifests/one-bad-file",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!("validate_json", v);
}

#[test]
fn validate_github_prints_workflow_commands() {
    let out = authctl()
        .args([
            "validate",
            "--format",
            "github",
            "tests/fixtures/manifests/invalid/shared-mobile.yaml",
            "tests/fixtures/manifests/one-bad-file",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("validate_github", stdout);
    assert!(stdout.starts_with(
        "::warning file=tests/fixtures/manifests/invalid/shared-mobile.yaml,line=11,col=17,"
    ));
    assert!(
        stdout.contains(
            "\n::error file=tests/fixtures/manifests/one-bad-file/bad.yml,line=9,col=17,"
        )
    );
}

#[test]
fn validate_reads_stdin_and_warnings_keep_exit_0() {
    let yaml = std::fs::read_to_string(root().join(FIXTURES).join("invalid/not-valid-number.yaml"))
        .unwrap();
    let out = authctl()
        .args(["validate", "-"])
        .write_stdin(yaml)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("-:8:17: spec.users[0].phones.mobile"),
        "{stderr}"
    );
    assert!(
        stderr.contains("valid: 1 user in 1 file, 1 warning"),
        "{stderr}"
    );
}

#[test]
fn validate_missing_path_is_an_error() {
    let out = authctl()
        .args(["validate", "no/such/dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dir: cannot read"));
}

#[test]
fn directories_are_walked_recursively_in_sorted_order_with_a_digest() {
    let m = manifest::load(&["examples/manifests".to_string()]);
    assert_eq!(
        m.files,
        [
            "examples/manifests/emea/offices.yaml",
            "examples/manifests/engineering.yaml",
            "examples/manifests/guests-and-ids.yaml",
            "examples/manifests/methods.yaml",
            "examples/manifests/sales.yaml",
        ]
    );
    assert_eq!(m.sources().len(), 5);
    assert_eq!(m.digest.len(), 64);
    assert_eq!(
        manifest::load(&["examples/manifests".to_string()]).digest,
        m.digest,
        "stable"
    );
    let one = manifest::load(&["examples/manifests/sales.yaml".to_string()]);
    assert_ne!(one.digest, m.digest);
    // Naming a file that a named directory holds too reads it once (no false duplicate users).
    let both = manifest::load(&[
        "examples/manifests/sales.yaml".to_string(),
        "examples/manifests".to_string(),
    ]);
    assert!(!both.has_errors(), "{:?}", both.diagnostics);
    assert_eq!(both.files.len(), 5);
    assert_eq!(both.files[0], "examples/manifests/sales.yaml");
}

#[test]
fn stdin_is_read_once_with_load_from() {
    let yaml = std::fs::read_to_string(root().join("examples/manifests/sales.yaml")).unwrap();
    let m = manifest::load_from(&["-".to_string()], &mut yaml.as_bytes());
    assert!(!m.has_errors());
    assert_eq!(m.files, ["-"]);
    assert_eq!(m.users.len(), 4);
    assert_eq!(m.users[0].source.file, "-");
}

#[test]
fn old_mac_line_endings_get_the_right_line_and_snippet() {
    // Lone CR line breaks (a fuzz find): the YAML parser counts them, and so must the snippet.
    let text = "apiVersion: authctl/v1\rkind: PhoneMethods\rspec:\r  mode: exact\r  users:\r    - user: a@contoso.com\r      phones:\r        mobile: \"+1 206\"\r";
    let m = manifest::load_from(&["-".to_string()], &mut text.as_bytes());
    let d = &m.diagnostics[0];
    assert_eq!((d.line, d.column), (8, 17), "{d:?}");
    let shown = manifest::render_diagnostics(&m, DiagnosticFormat::Text, false);
    assert!(shown.contains("8 │         mobile: \"+1 206\""), "{shown}");
}

#[test]
fn kubernetes_style_metadata_is_accepted_by_schema_serde_and_validator_and_changes_nothing() {
    let f = root().join("tests/fixtures/manifests/metadata/kustomized.yaml");
    assert_eq!(verdicts(&f), (true, true, true));
    let with = manifest::load(&[f.to_string_lossy().into_owned()]);
    // The same document without its metadata declares the same users.
    let text = std::fs::read_to_string(&f).unwrap();
    let start = text.find("metadata:").unwrap();
    let end = text.find("spec:").unwrap();
    let stripped = format!("{}{}", &text[..start], &text[end..]);
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("kustomized.yaml");
    std::fs::write(&g, stripped).unwrap();
    let without = manifest::load(&[g.to_string_lossy().into_owned()]);
    assert!(!with.has_errors() && !without.has_errors());
    let strip = |m: &Manifests| -> Vec<String> {
        m.users
            .iter()
            .map(|u| format!("{:?} {:?} {:?}", u.user, u.mode, u.phones))
            .collect()
    };
    assert_eq!(strip(&with), strip(&without));
}

#[test]
fn bad_metadata_is_an_error_naming_the_field() {
    // serde would read `tier: 3` as the string "3"; the validator holds labels to what Kubernetes accepts.
    for (file, path, line) in [
        ("metadata/label-not-string.yaml", "metadata.labels.tier", 6),
        (
            "schema-invalid/metadata-unknown-field.yaml",
            "metadata.uid",
            5,
        ),
        ("schema-invalid/metadata-not-a-mapping.yaml", "metadata", 3),
    ] {
        let m = manifest::load(&[format!("tests/fixtures/manifests/{file}")]);
        let d = m
            .diagnostics
            .iter()
            .find(|d| d.path == path)
            .unwrap_or_else(|| panic!("{file}: {:#?}", m.diagnostics));
        assert_eq!(d.line, line, "{file}: {d:?}");
        assert_eq!(d.severity, manifest::Severity::Error);
    }
}
