//! Unit tests of `plan::engine`.

use super::*;
use crate::model::{MethodKind, Mode, ObservedPhone, SmsSignInState as S, SourceLocation};
use crate::phone::PhoneNumber;
use serde_json::json;

const M: PhoneType = PhoneType::Mobile;
const A: PhoneType = PhoneType::AlternateMobile;
const O: PhoneType = PhoneType::Office;

fn num(s: &str) -> DesiredPhone {
    DesiredPhone::Number(PhoneNumber::parse(s).unwrap().number)
}

fn want(mode: Mode, phones: &[(PhoneType, DesiredPhone)], sms: Option<SmsSignIn>) -> DesiredUser {
    DesiredUser {
        user: "cam@contoso.com".into(),
        mode,
        phones: phones.iter().cloned().collect(),
        sms_sign_in: sms,
        email: None,
        registrations: Default::default(),
        source: SourceLocation {
            file: "users.yaml".into(),
            line: 3,
            column: 7,
        },
    }
}

fn have(phones: &[(PhoneType, &str)], sms: S) -> ObservedUser {
    ObservedUser {
        id: "id-cam".into(),
        user_principal_name: "cam@contoso.com".into(),
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

fn settings() -> PlanSettings {
    PlanSettings::new(jiff::Timestamp::UNIX_EPOCH, "salt")
}

/// `d`'s user found as `o`, with a method list holding a password and Authenticator (so lock-out never blocks).
fn found(d: &DesiredUser, o: ObservedUser) -> ObservedSet {
    let mut set = ObservedSet::new();
    set.insert(
        d.user.clone(),
        Observed::Found {
            user: o,
            methods: Some(vec![
                ObservedMethod::of(MethodKind::Password),
                ObservedMethod::of(MethodKind::MicrosoftAuthenticator),
            ]),
        },
    );
    set
}

/// Plans one user found as `o` (see [`found`]).
fn one(d: DesiredUser, o: ObservedUser) -> UserPlan {
    let set = found(&d, o);
    let p = plan(&[d], &set, &settings());
    assert!(p.error.is_none());
    p.users.into_iter().next().unwrap()
}

fn ops(u: &UserPlan) -> Vec<(Op, Target)> {
    u.actions.iter().map(|a| (a.op(), a.target())).collect()
}

#[test]
fn number_vs_nothing_creates() {
    let u = one(
        want(Mode::Merge, &[(O, num("+1 4255550100"))], None),
        have(&[], S::NotEnabled),
    );
    assert_eq!(ops(&u), vec![(Op::Create, Target::Office)]);
    assert_eq!(u.actions[0].after.as_deref(), Some("+1 4255550100"));
}

#[test]
fn other_number_updates() {
    let u = one(
        want(Mode::Merge, &[(O, num("+1 4255550100"))], None),
        have(&[(O, "+1 4255550199")], S::NotEnabled),
    );
    assert_eq!(ops(&u), vec![(Op::Update, Target::Office)]);
    assert_eq!(u.actions[0].before.as_deref(), Some("+1 4255550199"));
}

#[test]
fn absent_deletes_in_either_mode() {
    for mode in [Mode::Merge, Mode::Exact] {
        let u = one(
            want(
                mode,
                &[(M, num("+1 2065555555")), (O, DesiredPhone::Absent)],
                None,
            ),
            have(&[(M, "+1 2065555555"), (O, "+1 4255550100")], S::NotEnabled),
        );
        assert_eq!(ops(&u), vec![(Op::Delete, Target::Office)], "{mode}");
    }
}

#[test]
fn canonical_equality_no_diff() {
    let u = one(
        want(Mode::Exact, &[(M, num("+1 2065555555"))], None),
        have(&[(M, "+12065555555")], S::NotEnabled),
    );
    assert!(u.actions.is_empty(), "{:?}", u.actions);
    assert!(u.blocked.is_empty());
}

#[test]
fn exact_deletes_undeclared_merge_keeps_them() {
    let o = have(
        &[
            (M, "+1 2065555555"),
            (A, "+1 2065555556"),
            (O, "+1 4255550100"),
        ],
        S::NotEnabled,
    );
    let exact = one(
        want(Mode::Exact, &[(M, num("+1 2065555555"))], None),
        o.clone(),
    );
    assert_eq!(
        ops(&exact),
        vec![
            (Op::Delete, Target::AlternateMobile),
            (Op::Delete, Target::Office)
        ]
    );
    let merge = one(want(Mode::Merge, &[(M, num("+1 2065555555"))], None), o);
    assert!(merge.actions.is_empty());
    assert_eq!(
        merge.predicted, merge.observed,
        "merge mode predicts no phantom deletes"
    );
}

#[test]
fn per_user_order() {
    // Exact mode, every kind of action at once: update mobile, create office, SMS, delete alternate.
    let u = one(
        want(
            Mode::Exact,
            &[(M, num("+1 2065550001")), (O, num("+1 4255550100"))],
            Some(SmsSignIn::Disabled),
        ),
        have(&[(M, "+1 2065555555"), (A, "+1 2065555556")], S::Ready),
    );
    assert_eq!(
        ops(&u),
        vec![
            (Op::Update, Target::Mobile),
            (Op::Create, Target::Office),
            (Op::Disable, Target::SmsSignIn),
            (Op::Delete, Target::AlternateMobile),
        ]
    );
    assert!(
        u.actions[2].after_reread,
        "SMS after a mobile write waits for a re-read"
    );
}

#[test]
fn deletes_come_alternate_office_then_mobile_with_disable_first() {
    let u = one(
        want(Mode::Exact, &[(M, DesiredPhone::Absent)], None),
        have(
            &[
                (M, "+1 2065555555"),
                (A, "+1 2065555556"),
                (O, "+1 4255550100"),
            ],
            S::Ready,
        ),
    );
    assert_eq!(
        ops(&u),
        vec![
            (Op::Delete, Target::AlternateMobile),
            (Op::Delete, Target::Office),
            (Op::Disable, Target::SmsSignIn),
            (Op::Delete, Target::Mobile),
        ]
    );
}

fn sms_case(wanted: SmsSignIn, observed: S) -> UserPlan {
    one(
        want(Mode::Merge, &[(M, num("+1 2065555555"))], Some(wanted)),
        have(&[(M, "+1 2065555555")], observed),
    )
}

#[test]
fn sms_enabled_row() {
    assert!(sms_case(SmsSignIn::Enabled, S::Ready).actions.is_empty());
    assert_eq!(
        ops(&sms_case(SmsSignIn::Enabled, S::NotEnabled)),
        vec![(Op::Enable, Target::SmsSignIn)]
    );
    let pending = sms_case(SmsSignIn::Enabled, S::NotConfigured);
    assert!(pending.actions.is_empty());
    assert_eq!(pending.pending.len(), 1);
    for s in [
        S::NotAllowedByPolicy,
        S::PhoneNumberNotUnique,
        S::NotSupported,
        S::Other("new".into()),
    ] {
        let u = sms_case(SmsSignIn::Enabled, s.clone());
        assert!(u.actions.is_empty(), "{s}");
        assert_eq!(u.blocked.len(), 1, "{s}");
        assert_eq!(u.blocked[0].code, BlockCode::SmsSignInState);
    }
}

#[test]
fn sms_disabled_row() {
    assert_eq!(
        ops(&sms_case(SmsSignIn::Disabled, S::Ready)),
        vec![(Op::Disable, Target::SmsSignIn)]
    );
    for s in [
        S::NotEnabled,
        S::NotConfigured,
        S::NotAllowedByPolicy,
        S::PhoneNumberNotUnique,
    ] {
        let u = sms_case(SmsSignIn::Disabled, s.clone());
        assert!(
            u.actions.is_empty() && u.blocked.is_empty() && u.warnings.is_empty(),
            "{s}"
        );
    }
    for s in [S::NotSupported, S::UnknownFutureValue] {
        let u = sms_case(SmsSignIn::Disabled, s.clone());
        assert!(u.actions.is_empty(), "{s}");
        assert_eq!(u.warnings.len(), 1, "{s}");
    }
}

#[test]
fn sms_after_mobile_create_is_conditional_and_predicts_desired() {
    for (wanted, after) in [
        (SmsSignIn::Enabled, S::Ready),
        (SmsSignIn::Disabled, S::NotEnabled),
    ] {
        let u = one(
            want(Mode::Merge, &[(M, num("+1 2065555555"))], Some(wanted)),
            have(&[], S::NotEnabled),
        );
        assert_eq!(ops(&u)[0], (Op::Create, Target::Mobile));
        assert!(u.actions[1].after_reread);
        assert_eq!(u.predicted.unwrap().sms_sign_in_state, Some(after));
    }
}

#[test]
fn sms_unmanaged_mobile_write_predicts_unknown_state() {
    let u = one(
        want(Mode::Merge, &[(M, num("+1 2065555555"))], None),
        have(&[], S::NotEnabled),
    );
    assert_eq!(ops(&u), vec![(Op::Create, Target::Mobile)]);
    assert_eq!(u.predicted.unwrap().sms_sign_in_state, None);
}

#[test]
fn alternate_without_mobile_in_merge_is_blocked() {
    let u = one(
        want(Mode::Merge, &[(A, num("+1 2065555556"))], None),
        have(&[], S::NotEnabled),
    );
    assert!(u.actions.is_empty());
    assert_eq!(u.blocked[0].code, BlockCode::AlternateMobileNeedsMobile);
    // With a mobile in Graph it goes ahead.
    let u = one(
        want(Mode::Merge, &[(A, num("+1 2065555556"))], None),
        have(&[(M, "+1 2065555555")], S::NotEnabled),
    );
    assert_eq!(ops(&u), vec![(Op::Create, Target::AlternateMobile)]);
}

#[test]
fn sms_enabled_without_mobile_in_merge_is_blocked() {
    let u = one(
        want(Mode::Merge, &[], Some(SmsSignIn::Enabled)),
        have(&[], S::NotEnabled),
    );
    assert_eq!(u.blocked[0].code, BlockCode::SmsSignInNeedsMobile);
    // Disabled with no mobile is in sync.
    let u = one(
        want(Mode::Merge, &[], Some(SmsSignIn::Disabled)),
        have(&[], S::NotEnabled),
    );
    assert!(u.blocked.is_empty() && u.actions.is_empty());
}

#[test]
fn mobile_delete_while_alternate_stays_is_blocked() {
    let u = one(
        want(Mode::Merge, &[(M, DesiredPhone::Absent)], None),
        have(&[(M, "+1 2065555555"), (A, "+1 2065555556")], S::NotEnabled),
    );
    assert!(u.actions.is_empty());
    assert_eq!(u.blocked[0].code, BlockCode::AlternateMobileKeepsMobile);
}

fn with_methods(
    d: DesiredUser,
    o: ObservedUser,
    methods: Option<Vec<ObservedMethod>>,
    allow: bool,
) -> Plan {
    let mut set = ObservedSet::new();
    set.insert(d.user.clone(), Observed::Found { user: o, methods });
    let mut s = settings();
    s.policy.allow_lockout = allow;
    plan(&[d], &set, &s)
}

#[test]
fn lockout_blocks_deleting_the_last_factor_unless_allowed() {
    let d = want(Mode::Exact, &[], None);
    let o = have(&[(O, "+1 4255550100")], S::NotEnabled);
    let pw = vec![ObservedMethod::of(MethodKind::Password)];
    let p = with_methods(d.clone(), o.clone(), Some(pw.clone()), false);
    let u = &p.users[0];
    assert!(u.actions.is_empty());
    assert_eq!(u.lockout, LockoutCheck::Blocked);
    assert_eq!(u.blocked[0].code, BlockCode::LockOut);
    let p = with_methods(d, o, Some(pw), true);
    assert_eq!(p.users[0].actions.len(), 1);
    assert_eq!(p.users[0].lockout, LockoutCheck::Allowed);
}

#[test]
fn lockout_without_methods_asks_for_them() {
    let d = want(Mode::Exact, &[], None);
    let o = have(&[(O, "+1 4255550100")], S::NotEnabled);
    let p = with_methods(d.clone(), o.clone(), None, false);
    assert_eq!(p.users_needing_lockout_check(), vec!["id-cam"]);
    assert_eq!(p.users[0].blocked[0].code, BlockCode::LockOutNotChecked);
    // The second pass, with the list read, plans the delete.
    let mut set = ObservedSet::new();
    set.insert_found(d.user.clone(), o.clone());
    assert!(set.set_methods("id-cam", vec![ObservedMethod::of(MethodKind::Fido2)]));
    assert!(!set.set_methods("nobody", vec![]));
    let p = plan(std::slice::from_ref(&d), &set, &settings());
    assert_eq!(p.users[0].lockout, LockoutCheck::Passed);
    assert_eq!(p.users[0].actions.len(), 1);
    // Creates and updates are never held back by the preflight.
    let d = want(Mode::Merge, &[(M, num("+1 2065555555"))], None);
    let p = with_methods(d, o, None, false);
    assert!(p.users_needing_lockout_check().is_empty());
    assert_eq!(p.users[0].actions.len(), 1);
}

#[test]
fn lockout_sms_only_user_is_blocked() {
    // Only a ready mobile, no password: disabling SMS sign-in removes the only way in.
    let d = want(
        Mode::Merge,
        &[(M, num("+1 2065555555"))],
        Some(SmsSignIn::Disabled),
    );
    let o = have(&[(M, "+1 2065555555")], S::Ready);
    let methods = vec![ObservedMethod::of(MethodKind::Phone)];
    let p = with_methods(d, o, Some(methods), false);
    assert!(p.users[0].actions.is_empty());
    assert_eq!(p.users[0].blocked[0].code, BlockCode::LockOut);
}

#[test]
fn masked_numbers_stop_the_run_with_one_error() {
    let mut set = ObservedSet::new();
    let a = want(Mode::Exact, &[(M, num("+1 2065555555"))], None);
    let mut b = a.clone();
    b.user = "dana@contoso.com".into();
    set.insert_found(a.user.clone(), have(&[(M, "+1 206XXXXX55")], S::NotEnabled));
    let mut ob = have(&[(M, "+1 2065555555")], S::NotEnabled);
    ob.id = "id-dana".into();
    set.insert_found(b.user.clone(), ob);
    let p = plan(&[a, b], &set, &settings());
    let Some(RunError::MaskedNumbers { users }) = &p.error else {
        panic!("{:?}", p.error)
    };
    assert_eq!(users, &vec!["cam@contoso.com".to_string()]);
    assert!(p.users.is_empty(), "never a diff");
    let msg = p.error.unwrap().to_string();
    for remedy in [
        "UserAuthenticationMethod.Read.All",
        "UserAuthMethod-Phone.Read.All",
        "Privileged Authentication Administrator",
    ] {
        assert!(msg.contains(remedy), "{msg}");
    }
}

#[test]
fn missing_and_failed_users_are_per_user_errors() {
    let a = want(Mode::Exact, &[(M, num("+1 2065555555"))], None);
    let mut b = a.clone();
    b.user = "ghost@contoso.com".into();
    let mut c = a.clone();
    c.user = "err@contoso.com".into();
    let mut set = ObservedSet::new();
    set.insert_found(a.user.clone(), have(&[], S::NotEnabled));
    set.insert(b.user.clone(), Observed::Missing);
    set.insert(
        c.user.clone(),
        Observed::Error(GraphErrorSummary {
            status: Some(403),
            code: Some("accessDenied".into()),
            message: "no".into(),
            request_id: Some("rid".into()),
        }),
    );
    let p = plan(&[a, b, c], &set, &settings());
    assert_eq!(p.users[0].actions.len(), 1, "others still plan");
    assert!(matches!(p.users[1].error, Some(UserError::NotFound { .. })));
    assert!(matches!(p.users[2].error, Some(UserError::Graph { .. })));
    assert_eq!(p.summary.errors, 2);
    assert!(p.has_errors());
}

#[test]
fn duplicate_after_resolution_names_both_places() {
    let a = want(Mode::Exact, &[(M, num("+1 2065555555"))], None);
    let mut b = a.clone();
    b.user = "id-cam".into();
    b.source.line = 20;
    let mut set = ObservedSet::new();
    set.insert_found(a.user.clone(), have(&[], S::NotEnabled));
    set.insert_found(b.user.clone(), have(&[], S::NotEnabled));
    let p = plan(&[a, b], &set, &settings());
    let Some(UserError::Duplicate {
        other_source,
        other_user,
    }) = &p.users[0].error
    else {
        panic!()
    };
    assert_eq!(other_source.line, 20);
    assert_eq!(other_user, "id-cam");
    let Some(UserError::Duplicate { other_source, .. }) = &p.users[1].error else {
        panic!()
    };
    assert_eq!(other_source.line, 3);
    assert!(
        p.users[0]
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("users.yaml:20:7")
    );
    assert_eq!(p.summary.actions(), 0);
}

#[test]
fn unknown_phone_types_are_kept_and_reported() {
    let mut o = have(&[(M, "+1 2065555555")], S::NotEnabled);
    o.unknown_phones.push(
        json!({"id": "x", "phoneType": "unknownFutureValue", "phoneNumber": "+1 2065550000"}),
    );
    let u = one(want(Mode::Exact, &[(M, num("+1 2065555555"))], None), o);
    assert!(u.actions.is_empty());
    assert_eq!(u.warnings.len(), 1);
}

#[test]
fn max_deletes_guard() {
    let d = want(Mode::Exact, &[(M, num("+1 2065555555"))], None);
    let o = have(
        &[
            (M, "+1 2065555555"),
            (A, "+1 2065555556"),
            (O, "+1 4255550100"),
        ],
        S::NotEnabled,
    );
    let mut set = ObservedSet::new();
    set.insert(
        d.user.clone(),
        Observed::Found {
            user: o,
            methods: Some(vec![]),
        },
    );
    let mut s = settings();
    s.policy.max_deletes = 1;
    let p = plan(std::slice::from_ref(&d), &set, &s);
    assert_eq!(p.guards.max_deletes.deletes, 2);
    assert!(!p.guards_hold());
    // A plan apply would refuse fails the run, with or without --detailed-exitcode.
    assert_eq!(p.exit_code(false, false), crate::exit::ExitCode::Error);
    assert_eq!(p.exit_code(true, false), crate::exit::ExitCode::Error);
    s.policy.max_deletes = 2;
    assert!(plan(&[d], &set, &s).guards_hold());
}

#[test]
fn summary_line() {
    let u = one(
        want(
            Mode::Exact,
            &[(M, num("+1 2065550001")), (O, num("+1 4255550100"))],
            Some(SmsSignIn::Enabled),
        ),
        have(&[(M, "+1 2065555555"), (A, "+1 2065555556")], S::NotEnabled),
    );
    let s = summarise(&[u]);
    assert_eq!(
        s.line(),
        "Plan: 1 to add, 1 to change, 1 to destroy, 1 SMS sign-in change"
    );
    let s = Summary {
        blocked: 1,
        pending: 2,
        ..s
    };
    assert_eq!(
        s.line(),
        "Plan: 1 to add, 1 to change, 1 to destroy, 1 SMS sign-in change; 1 blocked, 2 pending user actions"
    );
    assert_eq!(
        Summary::default().line(),
        "No changes: the authentication methods match the manifests"
    );
}

#[test]
fn freshness_resumes_after_any_prefix_and_refuses_changes() {
    let d = want(
        Mode::Exact,
        &[(M, num("+1 2065550001")), (O, num("+1 4255550100"))],
        Some(SmsSignIn::Disabled),
    );
    let o = have(&[(M, "+1 2065555555"), (A, "+1 2065555556")], S::Ready);
    let u = one(d, o.clone());
    assert_eq!(u.prefix_digests.len(), u.actions.len() + 1);
    assert_eq!(
        u.prefix_digests[0],
        *u.managed_state_digest.as_ref().unwrap()
    );
    // Walk Graph through the actions one at a time; every intermediate state is fresh at its own prefix.
    for k in 0..=u.actions.len() {
        // Auto-registration leaves the new mobile ready: the conditional disable is still to do.
        let now = super::super::simulate(&o, &u.actions[..k], &S::Ready).unwrap();
        let f = u.freshness(&now).unwrap();
        let super::super::Freshness::Fresh { resume_at } = f else {
            panic!("k={k}: {f:?}")
        };
        assert_eq!(resume_at, k, "k={k}");
    }
    // An out-of-band change is stale.
    let mut changed = o.clone();
    changed.phones.get_mut(&M).unwrap().phone_number = "+1 2065559999".into();
    assert!(matches!(
        u.freshness(&changed).unwrap(),
        super::super::Freshness::Stale { .. }
    ));
}

#[test]
fn freshness_after_create_accepts_any_registration_outcome() {
    let d = want(
        Mode::Merge,
        &[(M, num("+1 2065555555"))],
        Some(SmsSignIn::Disabled),
    );
    let o = have(&[], S::NotEnabled);
    let u = one(d, o.clone());
    for reg in [S::Ready, S::NotEnabled, S::NotAllowedByPolicy] {
        let now = super::super::simulate(&o, &u.actions[..1], &reg).unwrap();
        let super::super::Freshness::Fresh { resume_at } = u.freshness(&now).unwrap() else {
            panic!()
        };
        // Not registered: the disable has nothing left to do, so the user is already at the end.
        let expect = if reg == S::Ready { 1 } else { 2 };
        assert_eq!(resume_at, expect, "{reg}");
    }
}

#[test]
fn plan_file_round_trips_and_refuses_other_versions() {
    let u = one(
        want(Mode::Exact, &[(M, num("+1 2065550001"))], None),
        have(&[(M, "+1 2065555555"), (O, "+1 4255550100")], S::NotEnabled),
    );
    let mut set = ObservedSet::new();
    let d = want(Mode::Exact, &[(M, num("+1 2065550001"))], None);
    set.insert(
        d.user.clone(),
        Observed::Found {
            user: have(&[(M, "+1 2065555555"), (O, "+1 4255550100")], S::NotEnabled),
            methods: Some(vec![ObservedMethod::of(MethodKind::Fido2)]),
        },
    );
    let p = plan(&[d], &set, &settings());
    assert_eq!(p.users[0].actions, u.actions);
    let text = p.to_file_json();
    assert!(
        !text.contains("+1 2065555555"),
        "observed numbers not in manifests are masked"
    );
    assert!(!text.contains("+1 4255550100"));
    assert!(text.contains("+1 2065550001"), "manifest numbers are kept");
    let back = Plan::from_json(&text).unwrap();
    assert_eq!(back.users[0].prefix_digests, p.users[0].prefix_digests);
    let other = text.replace("\"formatVersion\": 1", "\"formatVersion\": 2");
    assert!(matches!(
        Plan::from_json(&other),
        Err(crate::plan::PlanFileError::FormatVersion { found: Some(2), .. })
    ));
}

#[test]
fn convergence_tells_lag_from_divergence() {
    use crate::plan::{Convergence, convergence, simulate};
    let d = want(Mode::Exact, &[(M, num("+1 2065550001"))], None);
    let o = have(&[(M, "+1 2065555555"), (O, "+1 4255550100")], S::NotEnabled);
    let applied = one(d.clone(), o.clone());
    // Read lag: Graph still shows the old state.
    let lagging = one(d.clone(), o.clone());
    assert_eq!(
        convergence(&applied, &lagging),
        Convergence::NotYetVisible(vec![Target::Mobile, Target::Office])
    );
    // Applied and visible.
    let done = simulate(&o, &applied.actions, &S::NotEnabled).unwrap();
    assert_eq!(
        convergence(&applied, &one(d.clone(), done)),
        Convergence::Converged
    );
    // Someone else set another number meanwhile.
    let other = have(&[(M, "+1 2065559999")], S::NotEnabled);
    assert_eq!(
        convergence(&applied, &one(d, other)),
        Convergence::Diverged(vec![Target::Mobile])
    );
}

#[test]
fn a_plan_file_naming_a_call_graph_does_not_have_is_refused() {
    let u = sms_case(SmsSignIn::Enabled, S::NotEnabled);
    assert_eq!(u.actions[0].call, Call::EnableSmsSignIn);
    let mut set = ObservedSet::new();
    let d = want(
        Mode::Merge,
        &[(M, num("+1 2065555555"))],
        Some(SmsSignIn::Enabled),
    );
    set.insert_found(d.user.clone(), have(&[(M, "+1 2065555555")], S::NotEnabled));
    let text = plan(&[d], &set, &settings()).to_file_json();
    // The file format is unchanged: the call is written as `op` and `type`.
    assert!(text.contains("\"op\": \"enable\""), "{text}");
    assert!(text.contains("\"type\": \"smsSignIn\""), "{text}");
    assert!(Plan::from_json(&text).is_ok());
    // "Enable SMS sign-in on the office phone" and "delete SMS sign-in" have no Graph call.
    for (from, to) in [
        ("\"type\": \"smsSignIn\"", "\"type\": \"office\""),
        ("\"op\": \"enable\"", "\"op\": \"delete\""),
    ] {
        let forged = text.replace(from, to);
        assert_ne!(forged, text);
        let e = Plan::from_json(&forged).unwrap_err().to_string();
        assert!(e.contains("Graph has no such call"), "{e}");
    }
}

// The email method and registered method types (issue 15).

mod methods {
    use super::*;
    use crate::model::{DesiredEmail, DesiredRegistrations, Registration, RegistrationType};

    fn reg(kind: MethodKind, id: &str, name: &str) -> Registration {
        Registration {
            method_type: RegistrationType::of(kind).unwrap(),
            id: id.into(),
            display_name: Some(name.into()),
            detail: Some("model X".into()),
            created: Some("2024-03-01T10:00:00Z".into()),
            usable: true,
        }
    }

    fn fido2() -> RegistrationType {
        RegistrationType::of(MethodKind::Fido2).unwrap()
    }

    fn authenticator() -> RegistrationType {
        RegistrationType::of(MethodKind::MicrosoftAuthenticator).unwrap()
    }

    fn with(
        email: Option<DesiredEmail>,
        regs: &[(RegistrationType, DesiredRegistrations)],
    ) -> DesiredUser {
        let mut d = want(Mode::Merge, &[], None);
        d.email = email;
        d.registrations = regs.iter().cloned().collect();
        d
    }

    fn observed(email: Option<&str>, regs: Vec<Registration>) -> ObservedUser {
        let mut o = have(&[(O, "+1 4255550100")], S::NotSupported);
        o.email = email.map(str::to_string);
        o.registrations = regs;
        o
    }

    fn keep(ids: &[&str]) -> DesiredRegistrations {
        DesiredRegistrations::Keep(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn email_is_created_updated_deleted_and_left_alone_when_equal_or_unmanaged() {
        let addr = || Some(DesiredEmail::Address("kim@contoso.com".into()));
        let u = one(with(addr(), &[]), observed(None, vec![]));
        assert_eq!(ops(&u), vec![(Op::Create, Target::Email)]);
        assert_eq!(u.actions[0].after.as_deref(), Some("kim@contoso.com"));
        let u = one(with(addr(), &[]), observed(Some("old@contoso.com"), vec![]));
        assert_eq!(ops(&u), vec![(Op::Update, Target::Email)]);
        assert_eq!(u.actions[0].before.as_deref(), Some("old@contoso.com"));
        let u = one(with(addr(), &[]), observed(Some("Kim@Contoso.com"), vec![]));
        assert!(u.actions.is_empty(), "addresses compare case-insensitively");
        let u = one(
            with(Some(DesiredEmail::Absent), &[]),
            observed(Some("kim@contoso.com"), vec![]),
        );
        assert_eq!(ops(&u), vec![(Op::Delete, Target::Email)]);
        let u = one(with(None, &[]), observed(Some("kim@contoso.com"), vec![]));
        assert!(u.actions.is_empty(), "unmanaged email is never touched");
    }

    #[test]
    fn registrations_outside_the_keep_list_or_under_absent_are_removed_and_undeclared_types_never()
    {
        let o = observed(
            None,
            vec![
                reg(MethodKind::Fido2, "f-keep", "YubiKey 5"),
                reg(MethodKind::Fido2, "f-gone", "Contractor key"),
                reg(MethodKind::MicrosoftAuthenticator, "a-lost", "Lost iPhone"),
                reg(MethodKind::WindowsHelloForBusiness, "w1", "Laptop"),
            ],
        );
        let u = one(
            with(
                None,
                &[
                    (fido2(), keep(&["f-keep"])),
                    (authenticator(), DesiredRegistrations::Absent),
                ],
            ),
            o,
        );
        let removed: Vec<&str> = u
            .actions
            .iter()
            .map(|a| a.registration.as_ref().unwrap().id.as_str())
            .collect();
        // Type by type (in name order), each in the order Graph listed them.
        assert_eq!(removed, vec!["f-gone", "a-lost"]);
        assert!(u.actions.iter().all(|a| a.call == Call::DeleteRegistration));
        // What identifies it to a human travels with the action.
        let a = &u.actions[0];
        let before = a.before.as_deref().unwrap();
        for part in [
            "fido2",
            "Contractor key",
            "model X",
            "2024-03-01T10:00:00Z",
            "f-gone",
        ] {
            assert!(before.contains(part), "{before}");
        }
        // Windows Hello is not declared: untouched. Predicted state keeps it and the kept key.
        let predicted: Vec<&str> = u
            .predicted
            .as_ref()
            .unwrap()
            .registrations
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(predicted, vec!["f-keep", "w1"]);
    }

    #[test]
    fn a_guid_kept_in_another_case_is_kept_and_a_credential_id_is_compared_exactly() {
        // Graph lists GUIDs in lower case; a manifest written (or pasted) in upper case must keep the same
        // registration, not remove it. Base64url credential ids are case-sensitive: `AbC` does not keep `abc`.
        let guid = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b";
        let o = observed(
            None,
            vec![
                reg(MethodKind::Fido2, guid, "YubiKey 5"),
                reg(MethodKind::Fido2, "abc_-1", "Other key"),
            ],
        );
        let u = one(
            with(
                None,
                &[(fido2(), keep(&[&guid.to_ascii_uppercase(), "ABC_-1"]))],
            ),
            o,
        );
        let removed: Vec<&str> = u
            .actions
            .iter()
            .map(|a| a.registration.as_ref().unwrap().id.as_str())
            .collect();
        assert_eq!(removed, vec!["abc_-1"]);
        // The upper-case GUID names a registration the user has: no "kept id the user does not have" warning for
        // it; the credential id in the other case gets one.
        assert!(
            !u.warnings.iter().any(|w| w.contains("1f2e3d4c")),
            "{:?}",
            u.warnings
        );
        assert!(
            u.warnings.iter().any(|w| w.contains("`ABC_-1`")),
            "{:?}",
            u.warnings
        );
    }

    #[test]
    fn every_removal_counts_for_max_deletes() {
        let d = with(
            Some(DesiredEmail::Absent),
            &[(fido2(), DesiredRegistrations::Absent)],
        );
        let o = observed(
            Some("kim@contoso.com"),
            vec![
                reg(MethodKind::Fido2, "f1", "a"),
                reg(MethodKind::Fido2, "f2", "b"),
            ],
        );
        let set = found(&d, o);
        let mut s = settings();
        s.policy.max_deletes = 2;
        let p = plan(&[d], &set, &s);
        assert_eq!(p.summary.destroy, 3);
        assert_eq!(p.guards.max_deletes.deletes, 3);
        assert!(!p.guards.max_deletes.holds);
        // Email removed last, after the registrations.
        assert_eq!(p.users[0].actions.last().unwrap().call, Call::DeleteEmail);
    }

    #[test]
    fn removing_the_last_strong_method_is_blocked_unless_allowed() {
        let d = with(None, &[(authenticator(), DesiredRegistrations::Absent)]);
        let mut o = observed(
            None,
            vec![reg(MethodKind::MicrosoftAuthenticator, "a1", "Phone")],
        );
        o.phones.clear();
        let methods = vec![
            ObservedMethod::of(MethodKind::Password),
            ObservedMethod::of(MethodKind::MicrosoftAuthenticator),
        ];
        for allow in [false, true] {
            let mut set = ObservedSet::new();
            set.insert(
                d.user.clone(),
                Observed::Found {
                    user: o.clone(),
                    methods: Some(methods.clone()),
                },
            );
            let mut s = settings();
            s.policy.allow_lockout = allow;
            let p = plan(std::slice::from_ref(&d), &set, &s);
            let u = &p.users[0];
            if allow {
                assert_eq!(u.lockout, LockoutCheck::Allowed);
                assert_eq!(u.actions.len(), 1);
            } else {
                assert_eq!(u.lockout, LockoutCheck::Blocked);
                assert!(u.actions.is_empty());
                assert_eq!(u.blocked.len(), 1);
                assert_eq!(u.blocked[0].code, BlockCode::LockOut);
                assert_eq!(u.blocked[0].registration.as_ref().unwrap().id, "a1");
            }
        }
    }

    #[test]
    fn a_kept_id_the_user_does_not_have_is_a_warning_and_digests_follow_the_registrations() {
        let d = with(None, &[(fido2(), keep(&["f-missing"]))]);
        let u = one(d, observed(None, vec![reg(MethodKind::Fido2, "f1", "k")]));
        assert_eq!(u.actions.len(), 1);
        assert!(
            u.warnings.iter().any(|w| w.contains("f-missing")),
            "{:?}",
            u.warnings
        );
        assert_eq!(u.prefix_digests.len(), 2);
        assert_ne!(u.prefix_digests[0], u.prefix_digests[1]);
        // A new registration added after the plan: no prefix matches (stale).
        let mut now = observed(None, vec![reg(MethodKind::Fido2, "f1", "k")]);
        now.registrations
            .push(reg(MethodKind::Fido2, "f-new", "new key"));
        assert!(matches!(
            u.freshness(&now).unwrap(),
            crate::plan::Freshness::Stale { .. }
        ));
        // The delete done: fresh at the end.
        let done = observed(None, vec![]);
        assert_eq!(
            u.freshness(&done).unwrap(),
            crate::plan::Freshness::Fresh { resume_at: 1 }
        );
    }

    #[test]
    fn phone_only_digests_are_unchanged_by_the_new_fields() {
        // A plan that manages neither the email nor a registered type digests exactly as before (saved plans of
        // the previous version stay fresh).
        let u = one(
            want(Mode::Merge, &[(O, num("+1 4255550100"))], None),
            observed(
                Some("kim@contoso.com"),
                vec![reg(MethodKind::Fido2, "f1", "k")],
            ),
        );
        let mut plain = u.desired.clone();
        plain.email = None;
        let state = UserState {
            phones: [(O, "+1 4255550100".to_string())].into_iter().collect(),
            ..UserState::default()
        };
        assert_eq!(
            managed_digest(&plain, &state, SmsView::Exact),
            u.managed_state_digest.clone().unwrap()
        );
    }

    #[test]
    fn saved_plans_round_trip_registration_actions_and_refuse_calls_graph_lacks() {
        let o = observed(
            Some("old@contoso.com"),
            vec![reg(MethodKind::Fido2, "f1", "k")],
        );
        let u = one(
            with(
                Some(DesiredEmail::Address("kim@contoso.com".into())),
                &[(fido2(), DesiredRegistrations::Absent)],
            ),
            o.clone(),
        );
        let mut set = ObservedSet::new();
        set.insert_found("cam@contoso.com", o);
        let p = Plan {
            users: vec![u],
            ..plan(&[], &set, &settings())
        };
        let text = p.to_file_json();
        // The observed address is not in the manifests: masked in the file; the manifest's is kept.
        assert!(!text.contains("old@contoso.com"), "{text}");
        assert!(text.contains("kim@contoso.com"));
        let loaded = Plan::from_json(&text).unwrap();
        assert_eq!(loaded.users[0].actions.len(), 2);
        assert_eq!(
            loaded.users[0].actions[1].registration.as_ref().unwrap().id,
            "f1"
        );
        // Refused: a registration delete without its registration, a create of a registration, a registration on
        // a phone action, a path-breaking id.
        let base: serde_json::Value = serde_json::from_str(&text).unwrap();
        type Edit = fn(&mut serde_json::Value);
        let edits: [(&str, Edit); 4] = [
            ("no registration", |a| {
                a.as_object_mut().unwrap().remove("registration");
            }),
            ("create a registration", |a| a["op"] = json!("create")),
            ("path-breaking id", |a| {
                a["registration"]["id"] = json!("../f1")
            }),
            ("not a type name", |a| {
                a["registration"]["methodType"] = json!("fido2/../x")
            }),
        ];
        for (what, edit) in edits {
            let mut v = base.clone();
            edit(&mut v["users"][0]["actions"][1]);
            assert!(Plan::from_json(&v.to_string()).is_err(), "accepted: {what}");
        }
        let mut v = base.clone();
        v["users"][0]["actions"][0]["registration"] =
            base["users"][0]["actions"][1]["registration"].clone();
        assert!(
            Plan::from_json(&v.to_string()).is_err(),
            "a registration on an email action"
        );
        // An older plan file (phones only, no new fields) still loads.
        let old = r#"{"formatVersion":1,"authctlVersion":"0.1.0","manifestDigest":"d","created":"2025-01-01T00:00:00Z",
            "guards":{"maxDeletes":{"limit":10,"deletes":0,"holds":true},"allowLockout":false},
            "redaction":{"salt":"s","fingerprintLen":2},"users":[{"user":"a@b","source":{"file":"f","line":1,"column":1},
            "mode":"exact","desired":{"phones":{"office":"+1 4255550100"}},"actions":[{"op":"create","type":"office","after":"+1 4255550100"}],
            "prefixDigests":[]}],"summary":{"users":1,"usersWithChanges":1,"add":1,"change":0,"destroy":0,"smsChanges":0,
            "blocked":0,"pending":0,"errors":0,"warnings":0}}"#;
        let p = Plan::from_json(old).unwrap();
        assert_eq!(p.users[0].actions[0].call, Call::Create(O));
    }
}
