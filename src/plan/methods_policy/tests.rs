//! The policy diff: targets compare as sets, only declared settings count, every guard case, convergence.

use super::*;
use crate::manifest::Manifests;
use crate::manifest::policy::GroupRef;

const G1: &str = "11111111-1111-4111-8111-111111111111";
const G2: &str = "22222222-2222-4222-8222-222222222222";

fn desired(yaml: &str) -> DesiredPolicy {
    let text = format!("apiVersion: authctl/v1\nkind: AuthenticationMethodsPolicy\nspec:\n{yaml}");
    let m: Manifests = crate::manifest::load_from(&["-".to_string()], &mut text.as_bytes());
    assert!(!m.has_errors(), "{:?}", m.diagnostics);
    m.policy.expect("a policy")
}

/// Group "One" → G1, "Two" → G2; ids resolve to themselves.
fn resolve(d: &DesiredPolicy) -> Resolution {
    let mut r = Resolution::default();
    for m in &d.methods {
        for t in m.targets() {
            let id = match &t.group {
                GroupRef::AllUsers => ALL_USERS.to_string(),
                GroupRef::Nobody => crate::manifest::policy::NOBODY.to_string(),
                GroupRef::Id(id) => id.clone(),
                GroupRef::Name(n) if n == "One" => G1.into(),
                GroupRef::Name(_) => G2.into(),
            };
            r.ids.insert(t.path.clone(), id);
        }
    }
    r.names.insert(G1.into(), "One".into());
    r.names.insert(G2.into(), "Two".into());
    r
}

fn policy(sms: Value) -> Value {
    json!({"authenticationMethodConfigurations": [
        sms,
        {"id": "TemporaryAccessPass", "state": "enabled", "defaultLifetimeInMinutes": 60,
         "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480, "defaultLength": 8, "isUsableOnce": false,
         "includeTargets": [{"id": "all_users", "targetType": "group", "isRegistrationRequired": false}], "excludeTargets": []},
        {"id": "Fido2", "state": "enabled", "isAttestationEnforced": false, "isSelfServiceRegistrationAllowed": true,
         "keyRestrictions": {"isEnforced": false, "enforcementType": "block", "aaGuids": ["AAAAAAAA-1111-4111-8111-111111111111"]},
         "includeTargets": [], "excludeTargets": []}
    ]})
}

fn sms(state: &str, include: Value, exclude: Value) -> Value {
    json!({"id": "Sms", "state": state, "includeTargets": include, "excludeTargets": exclude})
}

fn plan_of(yaml: &str, observed: &Value) -> PolicyPlan {
    let d = desired(yaml);
    plan_policy(&d, &resolve(&d), observed)
}

#[test]
fn targets_compare_as_sets_and_undeclared_settings_are_left_alone() {
    let observed = policy(sms(
        "enabled",
        json!([{"id": G2.to_uppercase(), "targetType": "group", "isUsableForSignIn": true},
               {"id": G1, "targetType": "group", "isUsableForSignIn": true}]),
        json!([]),
    ));
    // Other order, other id casing, flags defaulted: in sync. TAP declares only the length it already has.
    let p = plan_of(
        "  sms:\n    state: enabled\n    include:\n      - group: One\n      - group: Two\n  temporaryAccessPass:\n    length: 8\n  fido2:\n    aaguids: [aaaaaaaa-1111-4111-8111-111111111111]\n",
        &observed,
    );
    assert!(p.methods.is_empty(), "{:#?}", p.methods);
    assert_eq!(p.digest, p.expected_digest());
}

#[test]
fn settings_convert_units_and_send_one_patch_with_the_odata_type() {
    let p = plan_of(
        "  temporaryAccessPass:\n    defaultLifetime: 2h\n    maximumLifetime: 1d\n  fido2:\n    keyRestrictionsEnforced: true\n",
        &policy(sms("disabled", json!([]), json!([]))),
    );
    assert_eq!(p.methods.len(), 2);
    let tap = p
        .methods
        .iter()
        .find(|m| m.method == "temporaryAccessPass")
        .unwrap();
    assert_eq!(
        tap.patch,
        json!({"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
               "defaultLifetimeInMinutes": 120, "maximumLifetimeInMinutes": 1440})
    );
    assert_eq!(tap.settings[0].before, json!("1h"));
    assert_eq!(tap.settings[0].after, json!("2h"));
    assert!(tap.destructive.is_empty());
    // A nested setting sends its whole top-level object, the rest of it as read.
    let fido = p.methods.iter().find(|m| m.method == "fido2").unwrap();
    assert_eq!(fido.patch["keyRestrictions"]["isEnforced"], json!(true));
    assert_eq!(
        fido.patch["keyRestrictions"]["enforcementType"],
        json!("block")
    );
}

#[test]
fn every_guard_case_is_destructive_and_the_others_are_not() {
    let base = || {
        policy(sms(
            "enabled",
            json!([{"id": G1, "targetType": "group", "isUsableForSignIn": true},
                   {"id": "all_users", "targetType": "group", "isUsableForSignIn": false}]),
            json!([]),
        ))
    };
    let incl = "    include:\n      - group: One\n      - allUsers: true\n        usableForSignIn: false\n";
    let cases: &[(&str, &str)] = &[
        ("  sms:\n    state: disabled\n", "the method is disabled"),
        (
            "  sms:\n    include:\n      - group: One\n",
            "all users is removed from the includes",
        ),
        (
            "  sms:\n    include:\n      - allUsers: true\n        usableForSignIn: false\n",
            "group \"One\" is removed from the includes",
        ),
        (
            &format!("  sms:\n{incl}    exclude:\n      - group: Two\n"),
            "group \"Two\" is added to the excludes",
        ),
        (
            "  sms:\n    include:\n      - group: One\n        usableForSignIn: false\n      - allUsers: true\n        usableForSignIn: false\n",
            "SMS sign-in is turned off for group \"One\"",
        ),
    ];
    for (yaml, why) in cases {
        let p = plan_of(yaml, &base());
        let d = p.destructive();
        assert!(d.iter().any(|r| r.contains(why)), "{yaml}: {d:?}");
    }
    // Adding a group, turning sign-in on, removing an exclude: nothing taken away.
    let p = plan_of(
        "  sms:\n    include:\n      - group: One\n      - group: Two\n      - allUsers: true\n",
        &base(),
    );
    assert_eq!(p.methods.len(), 1);
    assert!(p.destructive().is_empty(), "{:?}", p.destructive());
    // A disabled method loses nobody.
    let off = policy(sms(
        "disabled",
        json!([{"id": G1, "targetType": "group"}]),
        json!([]),
    ));
    let p = plan_of("  sms:\n    include: []\n", &off);
    assert_eq!(p.methods.len(), 1);
    assert!(p.destructive().is_empty());
}

#[test]
fn a_patch_reads_back_whether_lists_merge_or_replace() {
    let p = plan_of(
        "  sms:\n    state: enabled\n    include:\n      - group: One\n",
        &policy(sms(
            "disabled",
            json!([{"id": "all_users", "targetType": "group", "isUsableForSignIn": true}]),
            json!([]),
        )),
    );
    let patch = &p.methods[0].patch;
    let replaced = json!({"id": "Sms", "state": "enabled",
        "includeTargets": [{"id": G1.to_uppercase(), "targetType": "group", "isUsableForSignIn": true, "isRegistrationRequired": false}]});
    assert!(reads_back(patch, &replaced));
    let merged = json!({"id": "Sms", "state": "enabled",
        "includeTargets": [{"id": "all_users", "targetType": "group", "isUsableForSignIn": true},
                           {"id": G1, "targetType": "group", "isUsableForSignIn": true}]});
    assert!(
        !reads_back(patch, &merged),
        "a merge leaves a target the plan removed"
    );
    assert!(!reads_back(
        patch,
        &json!({"id": "Sms", "state": "disabled"})
    ));
}

#[test]
fn sms_scope_counts_groups_all_users_and_excludes() {
    let c = sms(
        "enabled",
        json!([{"id": G1, "targetType": "group", "isUsableForSignIn": true}]),
        json!([]),
    );
    let in_g1: HashSet<String> = [G1.to_string()].into();
    assert!(sms_in_scope(&c, "u", &in_g1));
    assert!(!sms_in_scope(&c, "u", &HashSet::new()));
    let c2 = sms(
        "enabled",
        json!([{"id": "all_users", "targetType": "group", "isUsableForSignIn": true}]),
        json!([{"id": G1, "targetType": "group"}]),
    );
    assert!(!sms_in_scope(&c2, "u", &in_g1));
    assert!(sms_in_scope(&c2, "u", &HashSet::new()));
}

/// A one-user plan: cam wants SMS sign-in enabled; Graph says `notAllowedByPolicy`.
fn blocked_plan() -> Plan {
    use crate::model::{
        DesiredPhone, DesiredUser, Mode, ObservedPhone, ObservedUser, PhoneType, SmsSignIn,
        SmsSignInState, SourceLocation,
    };
    use crate::plan::{Observed, ObservedSet, PlanSettings, plan};
    let n = crate::phone::PhoneNumber::parse("+1 2065550100")
        .unwrap()
        .number;
    let d = DesiredUser {
        user: "cam@contoso.com".into(),
        mode: Mode::Merge,
        phones: [(PhoneType::Mobile, DesiredPhone::Number(n))]
            .into_iter()
            .collect(),
        sms_sign_in: Some(SmsSignIn::Enabled),
        email: None,
        registrations: Default::default(),
        source: SourceLocation {
            file: "u.yaml".into(),
            line: 1,
            column: 1,
        },
    };
    let o = ObservedUser {
        id: "id-cam".into(),
        user_principal_name: "cam@contoso.com".into(),
        phones: [(
            PhoneType::Mobile,
            ObservedPhone {
                phone_type: PhoneType::Mobile,
                phone_number: "+1 2065550100".into(),
                sms_sign_in_state: SmsSignInState::NotAllowedByPolicy,
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let mut set = ObservedSet::new();
    set.insert(
        d.user.clone(),
        Observed::Found {
            user: o,
            methods: None,
        },
    );
    plan(
        &[d],
        &set,
        &PlanSettings::new(jiff::Timestamp::UNIX_EPOCH, "s"),
    )
}

#[test]
fn a_blocked_sms_sign_in_is_explained_or_planned_after_the_policy_change() {
    let p = blocked_plan();
    assert_eq!(p.users[0].blocked.len(), 1, "{:#?}", p.users[0]);
    let before = sms(
        "enabled",
        json!([{"id": G1, "targetType": "group", "isUsableForSignIn": true}]),
        json!([]),
    );
    let groups: HashMap<String, HashSet<String>> =
        [("id-cam".to_string(), [G2.to_string()].into())].into();
    let names: HashMap<String, String> = [(G1.to_string(), "One".to_string())].into();

    // The policy stays: the reason names the groups that would allow it.
    let mut explained = p.clone();
    apply_sms_policy(
        &mut explained,
        &SmsPolicyView {
            before: before.clone(),
            after: before.clone(),
            groups: groups.clone(),
            names: names.clone(),
        },
    );
    let u = &explained.users[0];
    assert!(u.actions.is_empty());
    assert_eq!(
        u.blocked[0].reason,
        "not in an SMS target group with sign-in enabled; groups that would allow it: \"One\" (smsSignInState notAllowedByPolicy)"
    );

    // The planned policy adds the user's group: SMS sign-in planned after it, re-read first, counted.
    let mut after = before.clone();
    after["includeTargets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": G2, "targetType": "group", "isUsableForSignIn": true}));
    let mut unblocked = p.clone();
    apply_sms_policy(
        &mut unblocked,
        &SmsPolicyView {
            before,
            after,
            groups,
            names,
        },
    );
    let u = &unblocked.users[0];
    assert!(u.blocked.is_empty(), "{u:#?}");
    assert_eq!(u.actions.len(), 1);
    assert_eq!(u.actions[0].call, Call::EnableSmsSignIn);
    assert!(u.actions[0].after_reread);
    assert_eq!(u.prefix_digests.len(), 2);
    assert_eq!(unblocked.summary.sms_changes, 1);
    assert_eq!(unblocked.summary.blocked, 0);
}

fn authenticator(feature: Value) -> Value {
    json!({"authenticationMethodConfigurations": [
        {"id": "MicrosoftAuthenticator", "state": "enabled",
         "featureSettings": {"displayAppInformationRequiredState": feature,
                             "displayLocationInformationRequiredState": feature},
         "includeTargets": [{"id": "all_users", "targetType": "group", "authenticationMode": "any"}],
         "excludeTargets": []}
    ]})
}

#[test]
fn authenticator_feature_targets_diff_patch_whole_feature_settings_and_are_never_destructive() {
    let everyone = json!({"state": "enabled",
        "includeTarget": {"targetType": "group", "id": "all_users"},
        "excludeTarget": {"targetType": "group", "id": crate::manifest::policy::NOBODY}});
    let observed = authenticator(everyone.clone());
    // Narrowing the app name to group One, excluding Two from the location: two setting changes, no guard.
    let yaml = format!(
        "  microsoftAuthenticator:\n    showAppNameInclude: {{group: One}}\n    showAppNameExclude: {{nobody: true}}\n    \
         showLocationInclude: {{allUsers: true}}\n    showLocationExclude: {{group: {G2}}}\n"
    );
    let p = plan_of(&yaml, &observed);
    assert_eq!(p.methods.len(), 1, "{p:#?}");
    let m = &p.methods[0];
    assert!(m.destructive.is_empty(), "{:?}", m.destructive);
    let changes: Vec<(String, Value, Value)> = m
        .settings
        .iter()
        .map(|s| (s.setting.clone(), s.before.clone(), s.after.clone()))
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                "showAppNameInclude".into(),
                json!("all users"),
                json!("group \"One\"")
            ),
            (
                "showLocationExclude".into(),
                json!("nobody"),
                json!("group \"Two\"")
            ),
        ]
    );
    let fs = &m.patch["featureSettings"];
    assert_eq!(
        fs["displayAppInformationRequiredState"],
        json!({"state": "enabled",
               "includeTarget": {"targetType": "group", "id": G1},
               "excludeTarget": {"targetType": "group", "id": crate::manifest::policy::NOBODY}})
    );
    assert_eq!(
        fs["displayLocationInformationRequiredState"]["excludeTarget"],
        json!({"targetType": "group", "id": G2})
    );
    assert_eq!(
        fs["displayLocationInformationRequiredState"]["state"],
        "enabled"
    );
    // Once applied (ids in another casing, a role target elsewhere untouched), the plan is clean.
    let mut after = observed.clone();
    after["authenticationMethodConfigurations"][0]["featureSettings"] = fs.clone();
    after["authenticationMethodConfigurations"][0]["featureSettings"]["displayAppInformationRequiredState"]
        ["includeTarget"]["id"] = json!(G1.to_uppercase());
    assert!(reads_back(
        &m.patch,
        &after["authenticationMethodConfigurations"][0]
    ));
    assert!(plan_of(&yaml, &after).methods.is_empty());
    // A role target is a different target even with the same id.
    let mut role = after.clone();
    role["authenticationMethodConfigurations"][0]["featureSettings"]["displayAppInformationRequiredState"]
        ["includeTarget"] = json!({"targetType": "role", "id": G1});
    let p = plan_of(&yaml, &role);
    assert_eq!(p.methods[0].settings[0].before, json!(format!("role {G1}")));
    // Undeclared feature targets are left alone.
    assert!(
        plan_of(
            "  microsoftAuthenticator:\n    showAppName: enabled\n",
            &observed
        )
        .methods
        .is_empty()
    );
}

#[test]
fn x509_bindings_and_rules_compare_as_sets_and_keep_unmanaged_binding_fields() {
    let observed = json!({"authenticationMethodConfigurations": [
        {"id": "X509Certificate", "state": "enabled",
         "certificateUserBindings": [
            {"x509CertificateField": "PrincipalName", "userProperty": "onPremisesUserPrincipalName", "priority": 1,
             "trustAffinityLevel": "low"},
            {"x509CertificateField": "RFC822Name", "userProperty": "userPrincipalName", "priority": 2}],
         "authenticationModeConfiguration": {"x509CertificateAuthenticationDefaultMode": "x509CertificateSingleFactor",
            "rules": [{"x509CertificateRuleType": "policyOID", "identifier": "1.2.3",
                       "x509CertificateAuthenticationMode": "x509CertificateMultiFactor"}]},
         "includeTargets": [], "excludeTargets": []}
    ]});
    // The same sets in another order: nothing to do.
    let same = "  x509Certificate:\n    userBindings:\n      - {certificateField: RFC822Name, userProperty: userPrincipalName, priority: 2}\n      - {certificateField: PrincipalName, userProperty: onPremisesUserPrincipalName, priority: 1}\n    rules:\n      - {type: policyOID, identifier: \"1.2.3\", mode: multiFactor}\n";
    assert!(plan_of(same, &observed).methods.is_empty());
    // Priority 1 binds another property, a rule is added: one PATCH with both whole lists.
    let yaml = "  x509Certificate:\n    defaultMode: singleFactor\n    userBindings:\n      - {certificateField: PrincipalName, userProperty: userPrincipalName, priority: 1}\n      - {certificateField: RFC822Name, userProperty: userPrincipalName, priority: 2}\n    rules:\n      - {type: policyOID, identifier: \"1.2.3\", mode: multiFactor}\n      - {type: issuerSubject, identifier: \"CN=Contoso CA\", mode: singleFactor}\n";
    let p = plan_of(yaml, &observed);
    let m = &p.methods[0];
    assert!(m.destructive.is_empty(), "{:?}", m.destructive);
    let names: Vec<&str> = m.settings.iter().map(|s| s.setting.as_str()).collect();
    assert_eq!(names, ["rules", "userBindings"]);
    assert_eq!(
        m.settings[1].before[0],
        json!({"certificateField": "PrincipalName", "userProperty": "onPremisesUserPrincipalName", "priority": 1})
    );
    assert_eq!(m.settings[0].after[1]["mode"], "singleFactor");
    let bindings = m.patch["certificateUserBindings"].as_array().unwrap();
    assert_eq!(
        bindings[0],
        json!({"x509CertificateField": "PrincipalName", "userProperty": "userPrincipalName", "priority": 1,
               "trustAffinityLevel": "low"})
    );
    let amc = &m.patch["authenticationModeConfiguration"];
    assert_eq!(
        amc["x509CertificateAuthenticationDefaultMode"],
        "x509CertificateSingleFactor"
    );
    assert_eq!(amc["rules"].as_array().unwrap().len(), 2);
    assert_eq!(
        amc["rules"][1],
        json!({"x509CertificateRuleType": "issuerSubject", "identifier": "CN=Contoso CA",
               "x509CertificateAuthenticationMode": "x509CertificateSingleFactor"})
    );
    // Applied (Graph returning the lists in another order), it reads back and plans clean.
    let mut after = observed.clone();
    let c = &mut after["authenticationMethodConfigurations"][0];
    let mut b = m.patch["certificateUserBindings"].clone();
    b.as_array_mut().unwrap().reverse();
    c["certificateUserBindings"] = b;
    c["authenticationModeConfiguration"] = amc.clone();
    assert!(reads_back(
        &m.patch,
        &after["authenticationMethodConfigurations"][0]
    ));
    assert!(plan_of(yaml, &after).methods.is_empty());
}

#[test]
fn x509_lists_are_validated_entry_by_entry() {
    let text = "apiVersion: authctl/v1\nkind: AuthenticationMethodsPolicy\nspec:\n  x509Certificate:\n    userBindings:\n      - {certificateField: PrincipalName, userProperty: userPrincipalName, priority: 1}\n      - {certificateField: Email, userProperty: userPrincipalName, priority: 2}\n      - {certificateField: RFC822Name, userProperty: userPrincipalName, priority: 1}\n      - {certificateField: RFC822Name, priority: 3}\n    rules:\n      - {type: issuer, identifier: x, mode: multiFactor}\n      - {type: policyOID, identifier: \"\", mode: multiFactor}\n";
    let m: Manifests = crate::manifest::load_from(&["-".to_string()], &mut text.as_bytes());
    let all = format!("{:?}", m.diagnostics);
    for want in [
        "`Email` is not a valid `certificateField`",
        "two entries have the same `priority`",
        "a user binding needs `userProperty`",
        "`issuer` is not a valid `type`",
        "is not a valid `identifier`",
        "spec.x509Certificate.userBindings[1].certificateField",
        "spec.x509Certificate.rules[1].identifier",
    ] {
        assert!(all.contains(want), "missing {want:?} in {all}");
    }
}
