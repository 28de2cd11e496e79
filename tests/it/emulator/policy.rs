//! The authentication methods policy: Graph's defaults, a tenant file that seeds it, GET/PATCH/DELETE of the
//! root and every configuration (the `@odata.type` required, unknown properties and out-of-range values refused,
//! target lists replaced whole), the journal keeping a change across a restart, and the permissions and roles.

use super::groups::{PILOT, groups_yaml};
use super::*;

const POLICY: &str = "/policies/authenticationMethodsPolicy";

fn config(id: &str) -> String {
    format!("{POLICY}/authenticationMethodConfigurations/{id}")
}

/// The small tenant with groups, an Authentication Policy Administrator, a Global Reader, and (when `seed`) a
/// policy: SMS enabled for SMS-Pilot with sign-in, TAP enabled with one-time passes of 60–240 minutes.
pub(super) fn policy_tenant(seed: bool) -> String {
    let policy = if seed {
        format!(
            "authenticationMethodsPolicy:\n  authenticationMethodConfigurations:\n    - id: sms\n      state: enabled\n      includeTargets: [{{ id: {PILOT}, targetType: group, isUsableForSignIn: true }}]\n    - id: TemporaryAccessPass\n      state: enabled\n      isUsableOnce: true\n      maximumLifetimeInMinutes: 240\n"
        )
    } else {
        String::new()
    };
    let extra_users = "  - id: 00000000-0000-4000-8000-0000000000a7\n    userPrincipalName: policyadmin@contoso.com\n    roles: [Authentication Policy Administrator]\n  - id: 00000000-0000-4000-8000-0000000000a8\n    userPrincipalName: reader@contoso.com\n    roles: [Global Reader]\n";
    format!(
        "{}{extra_users}",
        SMALL_TENANT.replacen("users:\n", &format!("{}{policy}users:\n", groups_yaml()), 1)
    )
}

fn policy_app(emu: &Emu, write: bool) -> String {
    emu.token(TokenSpec::app(&[if write {
        "Policy.ReadWrite.AuthenticationMethod"
    } else {
        "Policy.Read.AuthenticationMethod"
    }]))
}

#[tokio::test]
async fn defaults_when_the_tenant_file_has_no_policy() {
    let emu = Emu::start(&policy_tenant(false)).await;
    let t = policy_app(&emu, false);
    let p = emu.get(POLICY, &t).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["id"], "authenticationMethodsPolicy");
    let ids: Vec<&str> = p.body["authenticationMethodConfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "Fido2",
        "MicrosoftAuthenticator",
        "Sms",
        "TemporaryAccessPass",
        "SoftwareOath",
        "Voice",
        "Email",
        "X509Certificate",
        "QRCodePin",
    ] {
        assert!(ids.contains(&id), "{id}: {ids:?}");
    }
    assert_eq!(
        p.body["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"]["snoozeDurationInDays"],
        1
    );
    let tap = emu.get(&config("temporaryAccessPass"), &t).await;
    assert_eq!(
        tap.body["@odata.type"],
        "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
    );
    assert_eq!(tap.body["minimumLifetimeInMinutes"], 60);
    assert_eq!(tap.body["maximumLifetimeInMinutes"], 480);
    assert_eq!(tap.body["includeTargets"][0]["id"], "all_users");
    let sms = emu.get(&config("Sms"), &t).await;
    assert_eq!(sms.body["includeTargets"][0]["isUsableForSignIn"], true);
    emu.get(&config("Nope"), &t)
        .await
        .assert_error(404, "itemNotFound");
    // Nothing written: the tenant keeps no policy (SMS sign-in keeps following the per-user flag).
    assert!(emu.snapshot().authentication_methods_policy.is_none());
}

#[tokio::test]
async fn seeded_policy_is_laid_over_the_defaults_and_checked() {
    let emu = Emu::start(&policy_tenant(true)).await;
    let t = policy_app(&emu, false);
    let tap = emu.get(&config("TemporaryAccessPass"), &t).await;
    assert_eq!(tap.body["state"], "enabled");
    assert_eq!(tap.body["maximumLifetimeInMinutes"], 240);
    assert_eq!(tap.body["minimumLifetimeInMinutes"], 60, "the default kept");
    let sms = emu.get(&config("sms"), &t).await;
    assert_eq!(sms.body["id"], "Sms");
    assert_eq!(
        sms.body["includeTargets"],
        json!([{"id": PILOT, "targetType": "group", "isUsableForSignIn": true}])
    );
    // A seed Graph would refuse is a tenant-file error naming the configuration.
    for (bad, want) in [
        (
            "    - { id: TemporaryAccessPass, maximumLifetimeInMinutes: 5 }\n",
            "maximumLifetimeInMinutes",
        ),
        (
            "    - { id: Fido2, keyRestrictions: { isEnforced: true, enforcementType: allow, aaGuids: [not-a-guid] } }\n",
            "AAGUID",
        ),
        (
            "    - { id: Sms, includeTargets: [{ id: no-such-group, targetType: group }] }\n",
            "no-such-group",
        ),
        ("    - { id: Sms, bogus: 1 }\n", "bogus"),
        ("    - { id: Carrier }\n", "Carrier"),
    ] {
        let yaml = policy_tenant(false).replacen(
            "users:\n",
            &format!(
                "authenticationMethodsPolicy:\n  authenticationMethodConfigurations:\n{bad}users:\n"
            ),
            1,
        );
        let e = authctl::emulator::Tenant::from_yaml(&yaml)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{bad}: {e}");
    }
}

#[tokio::test]
async fn patch_needs_the_odata_type_refuses_unknowns_and_ranges_and_replaces_target_lists() {
    let emu = Emu::start(&policy_tenant(true)).await;
    let t = policy_app(&emu, true);
    let ty = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration";
    emu.patch(
        &config("TemporaryAccessPass"),
        &t,
        json!({"state": "disabled"}),
    )
    .await
    .assert_error(400, "BadRequest");
    emu.patch(&config("TemporaryAccessPass"), &t, json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "state": "disabled"}))
        .await
        .assert_error(400, "BadRequest");
    emu.patch(
        &config("TemporaryAccessPass"),
        &t,
        json!({"@odata.type": ty, "lifetime": 5}),
    )
    .await
    .assert_error(400, "BadRequest");
    for bad in [
        json!({"minimumLifetimeInMinutes": 9}),
        json!({"maximumLifetimeInMinutes": 43201}),
        json!({"defaultLifetimeInMinutes": 300}),
        json!({"defaultLength": 7}),
        json!({"isUsableOnce": "yes"}),
        json!({"state": "on"}),
    ] {
        let mut b = bad.clone();
        b["@odata.type"] = json!(ty);
        emu.patch(&config("TemporaryAccessPass"), &t, b)
            .await
            .assert_error(400, "badRequest");
    }
    let qr = "#microsoft.graph.qrCodePinAuthenticationMethodConfiguration";
    for bad in [
        json!({"pinLength": 7}),
        json!({"pinLength": 21}),
        json!({"standardQRCodeLifetimeInDays": 396}),
    ] {
        let mut b = bad.clone();
        b["@odata.type"] = json!(qr);
        emu.patch(&config("qrCodePin"), &t, b)
            .await
            .assert_error(400, "badRequest");
    }
    // QR code + PIN answers 200 with itself; the others 204.
    let r = emu
        .patch(
            &config("qrCodePin"),
            &t,
            json!({"@odata.type": qr, "pinLength": 10}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["pinLength"], 10);
    let r = emu
        .patch(
            &config("TemporaryAccessPass"),
            &t,
            json!({"@odata.type": ty, "defaultLifetimeInMinutes": 120}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // A supplied target list replaces the whole list (ASSUMPTIONS.md).
    let sms = "#microsoft.graph.smsAuthenticationMethodConfiguration";
    let r = emu
        .patch(&config("Sms"), &t, json!({"@odata.type": sms, "includeTargets": [{"id": "all_users", "targetType": "group", "isUsableForSignIn": false}]}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let got = emu.get(&config("Sms"), &t).await;
    assert_eq!(
        got.body["includeTargets"],
        json!([{"id": "all_users", "targetType": "group", "isUsableForSignIn": false}])
    );
    assert_eq!(
        got.body["state"], "enabled",
        "left-out properties keep their values"
    );
    emu.patch(
        &config("Sms"),
        &t,
        json!({"@odata.type": sms, "excludeTargets": [{"id": "all_users", "targetType": "group"}]}),
    )
    .await
    .assert_error(400, "badRequest");
    emu.patch(&config("Sms"), &t, json!({"@odata.type": sms, "includeTargets": [{"id": PILOT, "targetType": "group", "authenticationMode": "push"}]}))
        .await
        .assert_error(400, "BadRequest");
    // FIDO2 key restrictions: AAGUID syntax.
    let fido = "#microsoft.graph.fido2AuthenticationMethodConfiguration";
    emu.patch(&config("Fido2"), &t, json!({"@odata.type": fido, "keyRestrictions": {"isEnforced": true, "enforcementType": "allow", "aaGuids": ["cb69481e"]}}))
        .await
        .assert_error(400, "badRequest");
    let ok = emu.patch(&config("fido2"), &t, json!({"@odata.type": fido, "state": "enabled", "keyRestrictions": {"isEnforced": true, "enforcementType": "allow", "aaGuids": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]}})).await;
    assert_eq!(ok.status, 204);
    // The root: the registration campaign, its snooze range; lastModifiedDateTime moves.
    emu.patch(POLICY, &t, json!({"displayName": "mine"}))
        .await
        .assert_error(400, "BadRequest");
    emu.patch(POLICY, &t, json!({"registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {"snoozeDurationInDays": 15}}}))
        .await
        .assert_error(400, "badRequest");
    let root = emu.patch(POLICY, &t, json!({"registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {"state": "enabled", "snoozeDurationInDays": 3}}})).await;
    assert_eq!(root.status, 200, "{}", root.body);
    let c = &root.body["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"];
    assert_eq!(c["state"], "enabled");
    assert_eq!(
        c["includeTargets"][0]["targetedAuthenticationMethod"],
        "microsoftAuthenticator"
    );
    assert!(root.body["lastModifiedDateTime"].is_string());
    // DELETE resets a configuration to Graph's defaults.
    assert_eq!(
        emu.delete(&config("TemporaryAccessPass"), &t).await.status,
        204
    );
    let tap = emu.get(&config("TemporaryAccessPass"), &t).await;
    assert_eq!(tap.body["state"], "disabled");
    assert_eq!(tap.body["maximumLifetimeInMinutes"], 480);
    assert_eq!(tap.body["defaultLifetimeInMinutes"], 60);
}

#[tokio::test]
async fn policy_permissions_and_roles() {
    let emu = Emu::start(&policy_tenant(true)).await;
    let ty = json!({"@odata.type": "#microsoft.graph.voiceAuthenticationMethodConfiguration", "state": "enabled"});
    let ro = policy_app(&emu, false);
    emu.patch(&config("Voice"), &ro, ty.clone())
        .await
        .assert_error(403, "accessDenied");
    let methods = emu.token(TokenSpec::app(&["UserAuthenticationMethod.ReadWrite.All"]));
    emu.get(POLICY, &methods)
        .await
        .assert_error(403, "accessDenied");
    let all = emu.token(TokenSpec::app(&["Policy.Read.All"]));
    assert_eq!(emu.get(POLICY, &all).await.status, 200);
    let scopes = ["Policy.ReadWrite.AuthenticationMethod"];
    let apa = emu.token(TokenSpec::delegated("policyadmin@contoso.com", &scopes));
    let reader = emu.token(TokenSpec::delegated("reader@contoso.com", &scopes));
    let paa = emu.token(TokenSpec::delegated("admin@contoso.com", &scopes));
    // Authentication Policy Administrator writes; Global Reader reads only; a PAA (not a policy role) neither.
    assert_eq!(
        emu.patch(&config("Voice"), &apa, ty.clone()).await.status,
        204
    );
    assert_eq!(emu.get(&config("Voice"), &reader).await.status, 200);
    emu.patch(&config("Voice"), &reader, ty.clone())
        .await
        .assert_error(403, "accessDenied");
    emu.get(POLICY, &paa)
        .await
        .assert_error(403, "accessDenied");
    emu.delete(&config("Voice"), &paa)
        .await
        .assert_error(403, "accessDenied");
}

#[tokio::test]
async fn a_policy_change_survives_a_restart_through_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.yaml");
    std::fs::write(&path, policy_tenant(false)).unwrap();
    let options = |o: &mut authctl::emulator::Options| o.persist = Some(path.clone());
    let emu = Emu::start_with(&policy_tenant(false), options).await;
    let t = policy_app(&emu, true);
    let ty = "#microsoft.graph.softwareOathAuthenticationMethodConfiguration";
    assert_eq!(
        emu.patch(
            &config("SoftwareOath"),
            &t,
            json!({"@odata.type": ty, "state": "enabled"})
        )
        .await
        .status,
        204
    );
    let journal = std::fs::read_to_string(dir.path().join("tenant.yaml.journal")).unwrap();
    assert!(journal.contains("authenticationMethodsPolicy"), "{journal}");
    drop(emu);
    // A new emulator on the same state file replays the journal.
    let emu = Emu::start_with(&policy_tenant(false), options).await;
    let got = emu
        .get(&config("SoftwareOath"), &policy_app(&emu, false))
        .await;
    assert_eq!(got.body["state"], "enabled");
}
