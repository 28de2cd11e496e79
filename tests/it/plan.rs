//! Integration tests: plan (one job: what a plan says, and the engine's properties). The renderers' snapshots over one plan holding every kind of item, the Markdown size
//! limit, redaction, the plan file schema, and property tests of the engine against the simulator.

use std::collections::BTreeMap;

use authctl::model::{
    DesiredEmail, DesiredPhone, DesiredRegistrations, DesiredUser, MethodKind, Mode,
    ObservedMethod, ObservedPhone, ObservedUser, PhoneType, Registration, RegistrationType,
    SmsSignIn, SmsSignInState as S, SourceLocation,
};
use authctl::phone::PhoneNumber;
use authctl::plan::{
    ActionOutcome, ActionReport, ApplyReport, DriftReport, GraphErrorSummary, Observed,
    ObservedSet, Op, Plan, PlanSettings, UserOutcome, UserReport, plan,
};
use authctl::render::{self, MarkdownOptions, TextOptions};
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

#[test]
fn markdown_plan_snapshot() {
    let p = fixture();
    insta::assert_snapshot!(render::plan_markdown(&p, MarkdownOptions::default()));
}

#[test]
fn markdown_masks_by_default_and_no_redact_shows_numbers() {
    let p = fixture();
    let masked = render::plan_markdown(&p, MarkdownOptions::default());
    assert!(!masked.contains("2065550001"), "numbers masked by default");
    let shown = render::plan_markdown(
        &p,
        MarkdownOptions {
            redact: false,
            ..MarkdownOptions::default()
        },
    );
    assert!(shown.contains("+1 2065550001"));
}

#[test]
fn markdown_destructive_rows_come_first_under_a_banner() {
    let md = render::plan_markdown(&fixture(), MarkdownOptions::default());
    assert!(md.contains("> [!WARNING]"));
    let table = md.split("### Changes").nth(1).unwrap();
    let first_row = table.lines().nth(4).unwrap();
    assert!(
        first_row.contains("**delete**") || first_row.contains("**disable"),
        "{first_row}"
    );
}

#[test]
fn two_different_masked_numbers_render_differently() {
    // Same country code, same first three and last four digits: only the fingerprint tells them apart.
    let desired = vec![
        want(
            "a@contoso.com",
            Mode::Merge,
            &[(M, num("+1 2065551234"))],
            None,
            1,
        ),
        want(
            "b@contoso.com",
            Mode::Merge,
            &[(M, num("+1 2069991234"))],
            None,
            2,
        ),
    ];
    let mut set = ObservedSet::new();
    set.insert_found(
        "a@contoso.com",
        have("id-a", "a@contoso.com", &[], S::NotEnabled),
    );
    set.insert_found(
        "b@contoso.com",
        have("id-b", "b@contoso.com", &[], S::NotEnabled),
    );
    let p = plan(&desired, &set, &settings());
    let md = render::plan_markdown(&p, MarkdownOptions::default());
    let masks: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| a@") || l.starts_with("| b@"))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    assert_eq!(masks.len(), 2, "{md}");
    assert!(masks[0].starts_with("+1 206•••1234 ·"), "{masks:?}");
    assert!(masks[1].starts_with("+1 206•••1234 ·"), "{masks:?}");
    assert_ne!(masks[0], masks[1]);
}

#[test]
fn merge_mode_shows_no_phantom_deletes() {
    // dana is in merge mode with an unmanaged office phone: the diff must not show it removed.
    let md = render::plan_markdown(
        &fixture(),
        MarkdownOptions {
            redact: false,
            ..MarkdownOptions::default()
        },
    );
    let dana = md
        .split("<details><summary>dana@contoso.com")
        .nth(1)
        .and_then(|s| s.split("</details>").next())
        .unwrap();
    assert!(dana.contains("   office: \"+44 2071234567\""), "{dana}");
    assert!(
        !dana
            .lines()
            .any(|l| l.starts_with('-') && l.contains("office")),
        "{dana}"
    );
    assert!(dana.contains("+  mobile: \"+44 7911123456\""), "{dana}");
}

#[test]
fn markdown_for_5000_users_stays_under_the_limit_with_summary_and_deletions() {
    let mut desired = Vec::new();
    let mut set = ObservedSet::new();
    for i in 0..5000 {
        let upn = format!("user{i:04}@contoso.com");
        let mobile = format!("+1 206{:07}", 1_000_000 + i);
        desired.push(want(&upn, Mode::Exact, &[(M, num(&mobile))], None, i + 1));
        // Every 100th user has an office phone the manifests don't declare: 50 deletions.
        let office = format!("+1 425{:07}", 1_000_000 + i);
        let phones: Vec<(PhoneType, &str)> = if i % 100 == 0 {
            vec![(O, office.as_str())]
        } else {
            vec![]
        };
        set.insert(
            upn.clone(),
            Observed::Found {
                user: have(&format!("id-{i}"), &upn, &phones, S::NotEnabled),
                methods: strong_methods(),
            },
        );
    }
    let mut s = settings();
    s.policy.max_deletes = 100;
    let p = plan(&desired, &set, &s);
    assert_eq!(p.summary.destroy, 50);
    let md = render::plan_markdown(&p, MarkdownOptions::default());
    assert!(
        md.chars().count() < render::MARKDOWN_LIMIT,
        "{}",
        md.chars().count()
    );
    assert!(md.contains(&p.summary.line()), "summary kept");
    assert_eq!(
        md.matches("| **delete** |").count(),
        50,
        "every deletion kept"
    );
    assert!(md.contains("more changes not shown"));
}

#[test]
fn masked_numbers_render_as_one_error_in_every_format() {
    let desired = vec![want(
        "a@contoso.com",
        Mode::Exact,
        &[(M, num("+1 2065551234"))],
        None,
        1,
    )];
    let mut set = ObservedSet::new();
    set.insert_found(
        "a@contoso.com",
        have(
            "id-a",
            "a@contoso.com",
            &[(M, "+1 206XXXX234")],
            S::NotEnabled,
        ),
    );
    let p = plan(&desired, &set, &settings());
    for out in [
        render::plan_text(&p, TextOptions::default()),
        render::plan_markdown(&p, MarkdownOptions::default()),
    ] {
        assert_eq!(
            out.matches("Privileged Authentication Administrator")
                .count(),
            1,
            "{out}"
        );
        assert!(
            !out.contains("mobile:") && !out.contains("| create |"),
            "never a diff: {out}"
        );
    }
    let doc: serde_json::Value = serde_json::from_str(&render::plan_json(&p, false)).unwrap();
    assert_eq!(doc["error"]["kind"], "maskedNumbers");
    assert_eq!(doc["error"]["users"], json!(["a@contoso.com"]));
    assert_eq!(doc["users"], json!([]));
    assert_eq!(p.exit_code(false, false), authctl::ExitCode::Error);
}

#[test]
fn exit_codes_follow_precedence() {
    use authctl::ExitCode;
    let p = fixture();
    // Errors (ghost, hank) win over pending changes.
    assert_eq!(p.exit_code(true, false), ExitCode::Error);
    assert_eq!(DriftReport::from_plan(&p).exit_code(false), ExitCode::Error);
    let clean: Vec<_> = p
        .users
        .iter()
        .filter(|u| u.error.is_none())
        .cloned()
        .collect();
    let mut q = p.clone();
    q.users = clean;
    q.summary.errors = 0;
    assert_eq!(q.exit_code(true, false), ExitCode::Changes);
    assert_eq!(q.exit_code(false, false), ExitCode::Success);
    assert_eq!(
        q.exit_code(false, true),
        ExitCode::Error,
        "--fail-on-blocked"
    );
    assert_eq!(
        DriftReport::from_plan(&q).exit_code(false),
        ExitCode::Changes
    );
}

#[test]
fn apply_report_snapshots() {
    let r = apply_report_fixture();
    insta::assert_snapshot!("apply_report_text", render::apply_report_text(&r, false));
    insta::assert_snapshot!("apply_report_json", render::apply_report_json(&r));
}

#[test]
fn drift_snapshots() {
    let d = DriftReport::from_plan(&fixture());
    assert!(!d.in_sync);
    insta::assert_snapshot!("drift_text", render::drift_text(&d, false));
    insta::assert_snapshot!("drift_json", render::drift_json(&d));
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

/// A report as the executor would fill it for [`fixture`]: cameron fails on the office create, dana is done
/// (her SMS sign-in was already registered by the create), erin is skipped as stale, the rest had nothing to do.
fn apply_report_fixture() -> ApplyReport {
    let p = fixture();
    let mut users = Vec::new();
    for u in &p.users {
        let mut r = UserReport {
            user: u.user.clone(),
            id: u.id.clone(),
            upn: u.upn.clone(),
            outcome: UserOutcome::Done,
            reason: None,
            actions: u
                .actions
                .iter()
                .map(|a| ActionReport {
                    action: a.clone(),
                    outcome: ActionOutcome::Done,
                    note: None,
                    error: None,
                })
                .collect(),
            error: None,
            converged: u.has_changes().then_some(true),
            notes: vec![],
            blocked: vec![],
            pending: vec![],
        };
        match u.user.as_str() {
            "cameron@contoso.com" => {
                let err = GraphErrorSummary {
                    status: Some(400),
                    code: Some("invalidPhoneNumber".into()),
                    message: "Invalid phone number.".into(),
                    request_id: Some("0b7a3c1e-8f2d-4e6a-9c5b-1d2e3f4a5b6c".into()),
                };
                r.outcome = UserOutcome::Failed;
                r.actions[1].outcome = ActionOutcome::Failed;
                r.actions[1].error = Some(err.clone());
                for a in &mut r.actions[2..] {
                    a.outcome = ActionOutcome::NotAttempted;
                }
                r.error = Some(err);
                r.converged = None;
            }
            "dana@contoso.com" => {
                assert_eq!(r.actions[1].action.op(), Op::Enable);
                r.actions[1].outcome = ActionOutcome::NotNeeded;
                r.actions[1].note = Some("already ready after the create".into());
            }
            "erin@contoso.com" => {
                r.outcome = UserOutcome::Skipped;
                r.reason = Some("changed since the plan (stale)".into());
                for a in &mut r.actions {
                    a.outcome = ActionOutcome::Skipped;
                }
                r.converged = None;
            }
            "ghost@contoso.com" | "hank@contoso.com" => {
                r.outcome = UserOutcome::Skipped;
                r.reason = u.error.as_ref().map(ToString::to_string);
                r.converged = None;
            }
            _ => {}
        }
        users.push(r);
    }
    ApplyReport {
        error: None,
        users,
        policy: Vec::new(),
    }
}

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
        email: None,
        registrations: Default::default(),
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
        ..Default::default()
    }
}

fn strong_methods() -> Option<Vec<ObservedMethod>> {
    Some(graph_methods(&[
        json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}),
        json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"}),
    ]))
}

/// A method list as Graph sends it, parsed the way the read side does.
fn graph_methods(raw: &[serde_json::Value]) -> Vec<ObservedMethod> {
    raw.iter()
        .map(authctl::graph::types::observed_method)
        .collect()
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
            methods: Some(graph_methods(&[json!(
                {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}
            )])),
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

// ---------------------------------------------------------------------------------------------------------------
// Property tests: plan → simulate (Graph's behaviour, with the SMS auto-registration outcome as an input) →
// predicted state → desired state → re-plan.

/// Generators of desired and observed users, shared with the apply tests (which also check that every generated
/// plan is accepted by the emulator in the order given).
pub(crate) mod strategies {
    use super::*;
    use proptest::prelude::*;

    /// A small pool so that equal, different and absent numbers all happen often.
    const MOBILES: [&str; 3] = ["+1 2065550100", "+1 2065550101", "+44 7911123456"];
    const OFFICES: [&str; 3] = ["+1 4255550100", "+1 4255550100x12", "+1 4255550199"];

    /// Graph's own spelling, or the same number without the space (canonical equality must hold).
    fn spelled(n: &str, squash: bool) -> String {
        if squash {
            n.replacen(' ', "", 1)
        } else {
            n.to_string()
        }
    }

    pub(crate) fn sms_state() -> impl Strategy<Value = S> {
        prop_oneof![
            Just(S::Ready),
            Just(S::NotEnabled),
            Just(S::NotConfigured),
            Just(S::NotAllowedByPolicy),
            Just(S::PhoneNumberNotUnique),
            Just(S::NotSupported),
            Just(S::UnknownFutureValue),
        ]
    }

    fn desired_phone(
        pool: &'static [&'static str; 3],
    ) -> impl Strategy<Value = Option<DesiredPhone>> {
        prop_oneof![
            Just(None),
            Just(Some(DesiredPhone::Absent)),
            (0..3usize).prop_map(move |i| Some(num(pool[i]))),
        ]
    }

    /// Email addresses: equal (up to case), different and absent all happen often.
    const EMAILS: [&str; 3] = ["kim@contoso.com", "Kim@Contoso.com", "kai@fabrikam.com"];

    /// Registrations Graph may hold for a user: two FIDO2 keys, an Authenticator, and a Windows Hello registration
    /// (a type no manifest here declares: it must never be touched).
    const REGISTRATIONS: [(MethodKind, &str); 4] = [
        (MethodKind::Fido2, "f1"),
        (MethodKind::Fido2, "f2"),
        (MethodKind::MicrosoftAuthenticator, "a1"),
        (MethodKind::WindowsHelloForBusiness, "w1"),
    ];

    fn desired_email() -> impl Strategy<Value = Option<DesiredEmail>> {
        prop_oneof![
            Just(None),
            Just(Some(DesiredEmail::Absent)),
            (0..3usize).prop_map(|i| Some(DesiredEmail::Address(EMAILS[i].to_string()))),
        ]
    }

    /// Not declared, `absent`, or a keep-list of some of the ids (and an id the user never has).
    fn desired_registrations() -> impl Strategy<Value = Option<DesiredRegistrations>> {
        prop_oneof![
            Just(None),
            Just(Some(DesiredRegistrations::Absent)),
            proptest::sample::subsequence(vec!["f1", "f2", "a1", "x9"], 0..=4).prop_map(|ids| {
                Some(DesiredRegistrations::Keep(
                    ids.into_iter().map(str::to_string).collect(),
                ))
            }),
        ]
    }

    /// One desired user (any mode, any declaration, SMS sign-in managed or not, email and registered types
    /// declared or not).
    pub(crate) fn desired_user(upn: String) -> impl Strategy<Value = DesiredUser> {
        (
            prop_oneof![Just(Mode::Exact), Just(Mode::Merge)],
            desired_phone(&MOBILES),
            desired_phone(&MOBILES),
            desired_phone(&OFFICES),
            prop_oneof![
                Just(None),
                Just(Some(SmsSignIn::Enabled)),
                Just(Some(SmsSignIn::Disabled))
            ],
            desired_email(),
            desired_registrations(),
            desired_registrations(),
        )
            .prop_map(move |(mode, m, a, o, sms, email, fido2, authenticator)| {
                let mut phones = Vec::new();
                for (t, d) in [(M, m), (A, a), (O, o)] {
                    if let Some(d) = d {
                        phones.push((t, d));
                    }
                }
                let mut d = want(&upn, mode, &phones, sms, 1);
                d.email = email;
                for (k, r) in [
                    (MethodKind::Fido2, fido2),
                    (MethodKind::MicrosoftAuthenticator, authenticator),
                ] {
                    if let Some(r) = r {
                        d.registrations.insert(RegistrationType::of(k).unwrap(), r);
                    }
                }
                d
            })
    }

    fn registration(kind: MethodKind, id: &str) -> Registration {
        Registration {
            method_type: RegistrationType::of(kind).unwrap(),
            id: id.into(),
            display_name: Some(format!("{id}'s device")),
            detail: None,
            created: Some("2025-06-01T08:00:00Z".into()),
            usable: true,
        }
    }

    /// One observed user as Graph can hold it (an alternateMobile only with a mobile).
    pub(crate) fn observed_user(id: String, upn: String) -> impl Strategy<Value = ObservedUser> {
        (
            proptest::option::of((0..3usize, any::<bool>())),
            proptest::option::of((0..3usize, any::<bool>())),
            proptest::option::of((0..3usize, any::<bool>())),
            sms_state(),
            proptest::option::of(0..3usize),
            proptest::sample::subsequence(REGISTRATIONS.to_vec(), 0..=4),
        )
            .prop_map(move |(m, a, o, sms, email, regs)| {
                let mut phones: Vec<(PhoneType, String)> = Vec::new();
                if let Some((i, sq)) = m {
                    phones.push((M, spelled(MOBILES[i], sq)));
                    if let Some((j, sq)) = a {
                        phones.push((A, spelled(MOBILES[j], sq)));
                    }
                }
                if let Some((i, sq)) = o {
                    phones.push((O, spelled(OFFICES[i], sq)));
                }
                let refs: Vec<(PhoneType, &str)> =
                    phones.iter().map(|(t, n)| (*t, n.as_str())).collect();
                let mut u = have(&id, &upn, &refs, sms.clone());
                u.email = email.map(|i| EMAILS[i].to_lowercase());
                u.registrations = regs
                    .into_iter()
                    .map(|(k, id)| registration(k, id))
                    .collect();
                u
            })
    }

    /// The method list for the lock-out preflight: not read, only a password, or a password and Authenticator.
    pub(crate) fn methods() -> impl Strategy<Value = Option<Vec<ObservedMethod>>> {
        prop_oneof![
            Just(None),
            Just(Some(graph_methods(&[json!(
                {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}
            )]))),
            Just(strong_methods()),
        ]
    }

    /// A case: users (desired, observed, methods), `--allow-lockout`, and the registration outcome Graph applies to a
    /// mobile write.
    pub(crate) type Case = (
        Vec<(DesiredUser, ObservedUser, Option<Vec<ObservedMethod>>)>,
        bool,
        S,
    );

    pub(crate) fn case() -> impl Strategy<Value = Case> {
        let user = |i: usize| {
            let upn = format!("user{i}@contoso.com");
            (
                desired_user(upn.clone()),
                observed_user(format!("id-{i}"), upn),
                methods(),
            )
                .prop_map(|(d, o, m)| {
                    // A method list read holds the user's registrations too.
                    let m = m.map(|mut m| {
                        m.extend(o.registrations.iter().map(|r| ObservedMethod {
                            kind: r.method_type.kind(),
                            usable: r.usable,
                        }));
                        m
                    });
                    (d, o, m)
                })
        };
        (
            (1..4usize).prop_flat_map(move |n| (0..n).map(user).collect::<Vec<_>>()),
            any::<bool>(),
            prop_oneof![
                Just(S::Ready),
                Just(S::NotEnabled),
                Just(S::NotAllowedByPolicy),
                Just(S::NotConfigured)
            ],
        )
    }

    /// Plans a case.
    pub(crate) fn plan_case(
        users: &[(DesiredUser, ObservedUser, Option<Vec<ObservedMethod>>)],
        allow: bool,
    ) -> Plan {
        let desired: Vec<DesiredUser> = users.iter().map(|(d, _, _)| d.clone()).collect();
        let mut set = ObservedSet::new();
        for (d, o, m) in users {
            set.insert(
                d.user.clone(),
                Observed::Found {
                    user: o.clone(),
                    methods: m.clone(),
                },
            );
        }
        let mut s = settings();
        s.policy.allow_lockout = allow;
        s.policy.max_deletes = 100;
        plan(&desired, &set, &s)
    }
}

mod properties {
    use super::strategies::*;
    use super::*;
    use authctl::plan::{Freshness, SmsDecision, Target, UserState, simulate, sms_decision};
    use proptest::prelude::*;

    /// Whether the executor, re-reading before a conditional SMS action, finds a state it reports rather than fixes
    /// (pending or blocked after re-read): then the SMS state is exempt from the comparisons.
    fn sms_exempt(o: &ObservedUser, u: &authctl::plan::UserPlan, reg: &S) -> bool {
        let Some(want) = u.desired.sms_sign_in else {
            return false;
        };
        let Some(idx) = u.actions.iter().position(|a| a.after_reread) else {
            return false;
        };
        let before = simulate(o, &u.actions[..idx], reg).unwrap();
        let state = before
            .phones
            .get(&M)
            .map(|p| p.sms_sign_in_state.clone())
            .unwrap_or(S::NotEnabled);
        matches!(
            sms_decision(want, &state),
            SmsDecision::Blocked(_)
                | SmsDecision::PendingUserAction(_)
                | SmsDecision::InSyncWarning(_)
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn apply_gives_predicted_and_desired_state_and_replanning_is_empty((users, allow, reg) in case()) {
            let p = plan_case(&users, allow);
            prop_assert!(p.error.is_none());
            let mut after_users = Vec::new();
            for ((d, o, m), u) in users.iter().zip(&p.users) {
                // Graph accepts the actions in the order given.
                let after = simulate(o, &u.actions, &reg);
                prop_assert!(after.is_ok(), "{}: {:?} rejected: {:?}", d.user, u.actions, after);
                let after = after.unwrap();
                let got = UserState::from_observed(&after).unwrap();
                let predicted = u.predicted.clone().unwrap();
                // Phones, email and registrations: exactly as predicted.
                prop_assert_eq!(&got.phones, &predicted.phones, "{:?}", u.actions);
                prop_assert_eq!(&got.email, &predicted.email, "{:?}", u.actions);
                prop_assert_eq!(&got.registrations, &predicted.registrations, "{:?}", u.actions);
                // Registrations of undeclared types are never touched.
                for r in &o.registrations {
                    if !d.registrations.contains_key(&r.method_type) {
                        prop_assert!(got.registrations.contains(r), "{} {:?} removed", d.user, r);
                    }
                }
                // The email and the declared registered types reach the desired state unless blocked.
                if !u.blocked.iter().any(|b| b.target == Target::Email) {
                    match &d.email {
                        Some(DesiredEmail::Address(a)) => prop_assert!(
                            got.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(a)),
                            "{} email {:?}", d.user, got.email
                        ),
                        Some(DesiredEmail::Absent) => prop_assert_eq!(&got.email, &None),
                        None => prop_assert_eq!(&got.email, &o.email),
                    }
                }
                for r in &got.registrations {
                    let blocked = u.blocked.iter().any(|b| b.registration.as_ref() == Some(r));
                    match d.registrations.get(&r.method_type) {
                        Some(DesiredRegistrations::Absent) => prop_assert!(blocked, "{} kept {:?}", d.user, r),
                        Some(DesiredRegistrations::Keep(ids)) => {
                            prop_assert!(blocked || ids.contains(&r.id), "{} kept {:?}", d.user, r)
                        }
                        None => {}
                    }
                }
                // SMS sign-in: as predicted (by meaning for `disabled`), unless only a re-read could tell.
                let exempt = sms_exempt(o, u, &reg);
                if got.phones.contains_key(&M) && !exempt {
                    match (&predicted.sms_sign_in_state, d.sms_sign_in) {
                        (None, _) => {}
                        (Some(want), Some(SmsSignIn::Disabled)) => {
                            prop_assert_eq!(*want == S::Ready, got.sms_sign_in_state == Some(S::Ready));
                        }
                        (Some(want), _) => prop_assert_eq!(Some(want), got.sms_sign_in_state.as_ref()),
                    }
                }
                // Desired state reached wherever nothing is blocked.
                for t in PhoneType::ALL {
                    let Some(want) = u.desired.phones.get(&t) else { continue };
                    if u.blocked.iter().any(|b| b.target == Target::from(t)) {
                        continue;
                    }
                    prop_assert_eq!(want.as_ref(), got.phones.get(&t), "{} {}", d.user, t);
                }
                if let Some(want) = d.sms_sign_in {
                    let held = u.blocked.iter().any(|b| b.target == Target::SmsSignIn)
                        || u.pending.iter().any(|p| p.target == Target::SmsSignIn)
                        || exempt;
                    if !held && got.phones.contains_key(&M) {
                        prop_assert_eq!(
                            want == SmsSignIn::Enabled,
                            got.sms_sign_in_state == Some(S::Ready),
                            "{} {:?}", d.user, u.actions
                        );
                    }
                }
                after_users.push((d.clone(), after, m.clone()));
            }
            // Planning again finds nothing to do.
            let again = plan_case(&after_users, allow);
            for u in &again.users {
                prop_assert!(u.actions.is_empty(), "{}: re-plan wants {:?}", u.user, u.actions);
            }
        }

        #[test]
        fn an_interrupted_apply_resumes_from_any_prefix((users, allow, reg) in case()) {
            let p = plan_case(&users, allow);
            // Through the saved file, as apply --plan reads it (masked numbers and all).
            let loaded = Plan::from_json(&p.to_file_json()).unwrap();
            for ((_, o, _), u) in users.iter().zip(&loaded.users) {
                let full = simulate(o, &u.actions, &reg).unwrap();
                for k in 0..=u.actions.len() {
                    let now = simulate(o, &u.actions[..k], &reg).unwrap();
                    let f = u.freshness(&now).unwrap();
                    let Freshness::Fresh { resume_at } = f else {
                        return Err(TestCaseError::fail(format!("prefix {k} of {:?} is stale", u.actions)));
                    };
                    let resumed = simulate(&now, &u.actions[resume_at..], &reg);
                    prop_assert!(resumed.is_ok(), "resume at {} after {}: {:?}", resume_at, k, resumed);
                    let a = UserState::from_observed(&resumed.unwrap()).unwrap();
                    let b = UserState::from_observed(&full).unwrap();
                    prop_assert_eq!(a.phones, b.phones);
                    prop_assert_eq!(a.email, b.email);
                    prop_assert_eq!(a.registrations, b.registrations);
                }
            }
        }
    }
}

#[test]
fn drift_junit_counts_agree_with_its_test_cases_run_error_included() {
    let p = fixture();
    let mut report = DriftReport::from_plan(&p);
    for with_error in [false, true] {
        report.error = with_error.then(|| "masked numbers <&>".to_string());
        let xml = render::junit::drift_junit(&p, &report);
        let cases = xml.matches("<testcase ").count();
        assert_eq!(cases, p.users.len() + usize::from(with_error), "{xml}");
        let failures = xml.matches("<failure ").count();
        let errors = xml.matches("<error ").count();
        let skipped = xml.matches("<skipped ").count();
        let head = format!(
            "tests=\"{cases}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\""
        );
        assert_eq!(xml.matches(&head).count(), 2, "{head} in {xml}");
        assert!(failures > 0, "the fixture has drift: {xml}");
        assert!(!xml.contains("<&>"), "escaped: {xml}");
    }
}
