//! Integration tests: plan. The renderers' snapshots over one plan holding every kind of item, the Markdown size
//! limit, redaction, the plan file schema, and property tests of the engine against the simulator.

use std::collections::BTreeMap;

use authctl::model::{
    DesiredPhone, DesiredUser, Mode, ObservedPhone, ObservedUser, PhoneType, SmsSignIn,
    SmsSignInState as S, SourceLocation,
};
use authctl::phone::PhoneNumber;
use authctl::plan::{GraphErrorSummary, Observed, ObservedSet, Plan, PlanSettings, plan};
use authctl::render::{self, TextOptions};
use serde_json::json;

const M: PhoneType = PhoneType::Mobile;
const A: PhoneType = PhoneType::AlternateMobile;
const O: PhoneType = PhoneType::Office;

#[test]
fn text_plan_snapshot() {
    let p = fixture();
    insta::assert_snapshot!(render::plan_text(&p, TextOptions::default()));
}

#[test]
fn text_plan_colour_only_when_asked() {
    let p = fixture();
    let plain = render::plan_text(&p, TextOptions::default());
    assert!(!plain.contains('\u{1b}'));
    let coloured = render::plan_text(
        &p,
        TextOptions {
            color: true,
            redact: false,
        },
    );
    assert!(coloured.contains("\u{1b}[32m+ mobile"));
}

#[test]
fn text_redact_masks_every_number() {
    let p = fixture();
    let text = render::plan_text(
        &p,
        TextOptions {
            color: false,
            redact: true,
        },
    );
    assert!(!text.contains("+1 2065550001"));
    assert!(text.contains("+1 206•••0001 ·"));
}

#[test]
fn json_plan_snapshot_and_round_trip() {
    let p = fixture();
    let text = render::plan_json(&p, false);
    insta::assert_snapshot!(text);
    assert_eq!(Plan::from_json(&text).unwrap(), p);
}

#[test]
fn committed_plan_schema_matches_the_generated_one() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/plan.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == Plan::schema_json(),
        "schemas/plan.schema.json is out of date; regenerate it with \
         `cargo run -- schema plan > schemas/plan.schema.json`"
    );
}

#[test]
fn saved_plan_validates_against_its_schema() {
    let schema: serde_json::Value = serde_json::from_str(&Plan::schema_json()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&fixture().to_file_json()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

fn loc(line: usize) -> SourceLocation {
    SourceLocation {
        file: "manifests/users.yaml".into(),
        line,
        column: 7,
    }
}

fn num(s: &str) -> DesiredPhone {
    DesiredPhone::Number(PhoneNumber::parse(s).unwrap().number)
}

fn want(
    user: &str,
    mode: Mode,
    phones: &[(PhoneType, DesiredPhone)],
    sms: Option<SmsSignIn>,
    line: usize,
) -> DesiredUser {
    DesiredUser {
        user: user.into(),
        mode,
        phones: phones.iter().cloned().collect::<BTreeMap<_, _>>(),
        sms_sign_in: sms,
        source: loc(line),
    }
}

fn have(id: &str, upn: &str, phones: &[(PhoneType, &str)], sms: S) -> ObservedUser {
    ObservedUser {
        id: id.into(),
        user_principal_name: upn.into(),
        phones: phones
            .iter()
            .map(|(t, n)| {
                let state = if *t == M {
                    sms.clone()
                } else {
                    S::NotSupported
                };
                (
                    *t,
                    ObservedPhone {
                        phone_type: *t,
                        phone_number: (*n).into(),
                        sms_sign_in_state: state,
                    },
                )
            })
            .collect(),
        unknown_phones: vec![],
    }
}

fn strong_methods() -> Option<Vec<serde_json::Value>> {
    Some(vec![
        json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}),
        json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"}),
    ])
}

fn settings() -> PlanSettings {
    let mut s = PlanSettings::new("2026-11-27T06:00:00Z".parse().unwrap(), "0123456789abcdef");
    s.manifest_digest = "9f2c".repeat(16);
    s.git_commit = Some("4e1d2a7".into());
    s.authctl_version = "0.1.0".into();
    s
}

/// One plan with creates, updates, deletes, SMS changes, blocked items, a pending user action, a missing user and
/// a failed user.
fn fixture() -> Plan {
    let desired = vec![
        // Exact: mobile changes (SMS disable waits for the re-read), office created, alternateMobile deleted.
        want(
            "cameron@contoso.com",
            Mode::Exact,
            &[(M, num("+1 2065550001")), (O, num("+1 4255550100x12"))],
            Some(SmsSignIn::Disabled),
            4,
        ),
        // Merge: a new mobile with SMS sign-in; the unmanaged office stays.
        want(
            "dana@contoso.com",
            Mode::Merge,
            &[(M, num("+44 7911123456"))],
            Some(SmsSignIn::Enabled),
            10,
        ),
        // Merge: SMS sign-in enabled on an existing mobile.
        want(
            "erin@contoso.com",
            Mode::Merge,
            &[],
            Some(SmsSignIn::Enabled),
            15,
        ),
        // Merge: alternateMobile without any mobile: blocked.
        want(
            "frank@contoso.com",
            Mode::Merge,
            &[(A, num("+1 2065550003"))],
            None,
            19,
        ),
        // SMS sign-in set-up left to the user.
        want(
            "gina@contoso.com",
            Mode::Merge,
            &[(M, num("+1 2065550004"))],
            Some(SmsSignIn::Enabled),
            23,
        ),
        // Deleting the office phone would leave nothing: blocked by the lock-out preflight.
        want(
            "ivan@contoso.com",
            Mode::Exact,
            &[(O, DesiredPhone::Absent)],
            None,
            28,
        ),
        // In sync (written without the space Graph uses).
        want(
            "judy@contoso.com",
            Mode::Exact,
            &[(M, num("+12065550005"))],
            None,
            32,
        ),
        want(
            "ghost@contoso.com",
            Mode::Merge,
            &[(M, num("+1 2065550006"))],
            None,
            36,
        ),
        want(
            "hank@contoso.com",
            Mode::Merge,
            &[(M, num("+1 2065550007"))],
            None,
            40,
        ),
    ];
    let mut set = ObservedSet::new();
    set.insert(
        "cameron@contoso.com",
        Observed::Found {
            user: have(
                "11111111-0000-0000-0000-000000000001",
                "cameron@contoso.com",
                &[(M, "+1 2065555555"), (A, "+1 2065555556")],
                S::Ready,
            ),
            methods: strong_methods(),
        },
    );
    set.insert_found(
        "dana@contoso.com",
        have(
            "11111111-0000-0000-0000-000000000002",
            "dana@contoso.com",
            &[(O, "+44 2071234567")],
            S::NotEnabled,
        ),
    );
    set.insert_found(
        "erin@contoso.com",
        have(
            "11111111-0000-0000-0000-000000000003",
            "erin@contoso.com",
            &[(M, "+1 2065550002")],
            S::NotEnabled,
        ),
    );
    set.insert_found(
        "frank@contoso.com",
        have(
            "11111111-0000-0000-0000-000000000004",
            "frank@contoso.com",
            &[],
            S::NotEnabled,
        ),
    );
    set.insert_found(
        "gina@contoso.com",
        have(
            "11111111-0000-0000-0000-000000000005",
            "gina@contoso.com",
            &[(M, "+1 2065550004")],
            S::NotConfigured,
        ),
    );
    set.insert(
        "ivan@contoso.com",
        Observed::Found {
            user: have(
                "11111111-0000-0000-0000-000000000006",
                "ivan@contoso.com",
                &[(O, "+1 4255550199")],
                S::NotEnabled,
            ),
            methods: Some(vec![
                json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}),
            ]),
        },
    );
    set.insert_found(
        "judy@contoso.com",
        have(
            "11111111-0000-0000-0000-000000000007",
            "judy@contoso.com",
            &[(M, "+1 2065550005")],
            S::NotEnabled,
        ),
    );
    set.insert("ghost@contoso.com", Observed::Missing);
    set.insert(
        "hank@contoso.com",
        Observed::Error(GraphErrorSummary {
            status: Some(403),
            code: Some("accessDenied".into()),
            message: "Request Authorization failed".into(),
            request_id: Some("7e1c0b8a-2f4d-4a51-9d0e-3c2b1a0f9e8d".into()),
        }),
    );
    plan(&desired, &set, &settings())
}
