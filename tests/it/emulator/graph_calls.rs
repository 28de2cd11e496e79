//! The typed client calls for non-phone methods, the policy and groups, through the real HTTP client against the
//! emulator: a registration of every type parsed from the polymorphic list (a type authctl does not know kept by its
//! name), deleted by its type's path; the email method created, changed, removed; a Temporary Access Pass created
//! (the pass only in the create answer, never in `Debug`); sign-in sessions revoked; the TAP configuration read
//! typed; a configuration patched and read back; groups found by name and a user's transitive groups.

use authctl::graph::types::{email_address, registration};
use authctl::graph::{EMAIL_METHOD_ID, GraphError, TapRequest};
use authctl::model::{MethodKind, RegistrationType};

use super::groups::{NESTED, PILOT};
use super::*;
use crate::apply::graph_for;

const PAT: &str = "00000000-0000-4000-8000-0000000000e1";

fn tenant_yaml() -> String {
    format!(
        r##"
tenantId: 00000000-0000-4000-8000-0000000000ee
apps:
  - clientId: 00000000-0000-4000-8000-00000000e001
    secret: s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All, User.RevokeSessions.All,
                  Policy.ReadWrite.AuthenticationMethod, GroupMember.Read.All]
groups:
  - {{ id: {PILOT}, displayName: SMS-Pilot, members: [{NESTED}] }}
  - {{ id: {NESTED}, displayName: Wave 2, members: [pat@contoso.com] }}
  - {{ id: 33333333-3333-4333-8333-333333333333, displayName: "O'Brien's team" }}
authenticationMethodsPolicy:
  authenticationMethodConfigurations:
    - id: TemporaryAccessPass
      state: enabled
      isUsableOnce: true
      minimumLifetimeInMinutes: 60
      maximumLifetimeInMinutes: 240
users:
  - id: {PAT}
    userPrincipalName: pat@contoso.com
    methods:
      - {{ type: email, id: {EMAIL_METHOD_ID}, emailAddress: pat@fabrikam.example }}
      - {{ type: microsoftAuthenticator, id: auth-1, displayName: "Pat's iPhone", deviceTag: SoftwareTokenActivated, createdDateTime: "2025-03-01T10:00:00Z" }}
      - {{ type: fido2, id: fido-1, displayName: YubiKey, model: YubiKey 5 Series, createdDateTime: "2025-04-02T08:00:00Z", attestationCertificates: [], attestationLevel: attested, aaGuid: cb69481e-8ff7-4039-93ec-0a2729a154a8 }}
      - {{ type: platformCredential, id: psso-1, displayName: Mac, platform: macOS, keyStrength: normal, createdDateTime: "2025-06-04T12:00:00Z" }}
      - {{ type: qrCodePin, id: qr-1, createdDateTime: "2026-02-01T00:00:00Z", pin: {{ code: null, forceChangePinNextSignIn: true }} }}
    rawMethods:
      - {{ "@odata.type": "#microsoft.graph.futureAuthenticationMethod", id: future-1 }}
  - id: 00000000-0000-4000-8000-0000000000e2
    userPrincipalName: noor@contoso.com
"##
    )
}

#[tokio::test]
async fn registrations_parse_from_the_list_and_delete_at_their_type_path() {
    let emu = Emu::start(&tenant_yaml()).await;
    let g = graph_for(&emu, 4);
    let list = g.list_methods(PAT).await.unwrap();
    let regs: Vec<_> = list.iter().filter_map(registration).collect();
    let by_type = |t: &str| regs.iter().find(|r| r.method_type.name() == t).cloned();
    let auth = by_type("microsoftAuthenticator").expect("authenticator");
    assert_eq!(auth.display_name.as_deref(), Some("Pat's iPhone"));
    assert_eq!(auth.detail.as_deref(), Some("SoftwareTokenActivated"));
    let fido = by_type("fido2").expect("fido2");
    assert_eq!(fido.detail.as_deref(), Some("YubiKey 5 Series"));
    assert_eq!(fido.created.as_deref(), Some("2025-04-02T08:00:00Z"));
    assert_eq!(
        by_type("platformCredential").unwrap().detail.as_deref(),
        Some("macOS")
    );
    let future = by_type("future").expect("a type authctl does not know, kept by name");
    assert_eq!(future.method_type.kind(), MethodKind::Unknown);
    assert_eq!(future.method_type.segment(), "futureMethods");
    // The password and the email are not registrations; the email's address is read on its own.
    assert!(regs.iter().all(|r| r.method_type.name() != "email"));
    let emails: Vec<String> = list.iter().filter_map(email_address).collect();
    assert_eq!(emails, ["pat@fabrikam.example"]);

    for r in [&auth, &fido, &by_type("qrCodePin").unwrap()] {
        g.delete_registration(PAT, &r.method_type, &r.id)
            .await
            .unwrap();
    }
    // A second delete is Graph's 404, with Graph's code kept.
    match g
        .delete_registration(PAT, &fido.method_type, &fido.id)
        .await
    {
        Err(GraphError::Api { status: 404, .. }) => {}
        other => panic!("expected a 404, got {other:?}"),
    }
    let left: Vec<String> = g
        .list_methods(PAT)
        .await
        .unwrap()
        .iter()
        .filter_map(registration)
        .map(|r| r.method_type.name().to_string())
        .collect();
    assert!(
        !left
            .iter()
            .any(|t| ["microsoftAuthenticator", "fido2", "qrCodePin"].contains(&t.as_str())),
        "{left:?}"
    );
    assert!(left.contains(&"platformCredential".to_string()));
    let routes = emu.stats().by_route;
    assert_eq!(
        routes["DELETE /users/{id}/authentication/fido2Methods/{id}"].get(&204),
        Some(&1),
        "{routes:?}"
    );
    assert_eq!(
        routes["DELETE /users/{id}/authentication/qrCodePinMethod"].get(&204),
        Some(&1),
        "{routes:?}"
    );
    assert_eq!(
        RegistrationType::of(MethodKind::Fido2).unwrap(),
        fido.method_type
    );
}

#[tokio::test]
async fn the_email_method_is_created_changed_and_removed() {
    let emu = Emu::start(&tenant_yaml()).await;
    let g = graph_for(&emu, 4);
    let noor = "noor@contoso.com";
    assert!(g.list_email_methods(noor).await.unwrap().is_empty());
    let made = g.create_email(noor, "noor@fabrikam.example").await.unwrap();
    assert_eq!(made.id, EMAIL_METHOD_ID);
    // One per user: a second create is refused the way Graph refuses it.
    assert!(matches!(
        g.create_email(noor, "other@fabrikam.example").await,
        Err(GraphError::Api { status: 400, .. })
    ));
    g.update_email(noor, "noor@contoso.example").await.unwrap();
    let now = g.list_email_methods(noor).await.unwrap();
    assert_eq!(
        now[0].email_address.as_deref(),
        Some("noor@contoso.example")
    );
    g.delete_email(noor).await.unwrap();
    assert!(g.list_email_methods(noor).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_tap_is_created_with_the_pass_once_and_sessions_are_revoked() {
    let emu = Emu::start(&tenant_yaml()).await;
    let g = graph_for(&emu, 4);
    let cfg = g.get_tap_configuration().await.unwrap();
    assert!(cfg.state_enabled);
    assert!(cfg.usable_once_only);
    assert_eq!(
        (cfg.minimum_lifetime_minutes, cfg.maximum_lifetime_minutes),
        (60, 240)
    );
    assert!(cfg.default_length >= 8);
    // Outside the policy's range: Graph's 400, nothing created.
    let too_long = TapRequest {
        lifetime_minutes: Some(300),
        ..TapRequest::default()
    };
    assert!(matches!(
        g.create_tap("noor@contoso.com", &too_long).await,
        Err(GraphError::Api { status: 400, .. })
    ));
    assert!(g.list_taps("noor@contoso.com").await.unwrap().is_empty());
    let tap = g
        .create_tap(
            "noor@contoso.com",
            &TapRequest {
                lifetime_minutes: Some(120),
                usable_once: Some(true),
                ..TapRequest::default()
            },
        )
        .await
        .unwrap();
    let pass = tap.pass.expose().to_string();
    assert_eq!(pass.chars().count(), cfg.default_length as usize);
    assert_eq!(tap.lifetime_minutes, Some(120));
    assert!(!format!("{tap:?}").contains(&pass), "Debug shows the pass");
    let listed = g.list_taps("noor@contoso.com").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        !listed[0].to_string().contains(&pass),
        "a read shows the pass"
    );

    g.revoke_sign_in_sessions("noor@contoso.com").await.unwrap();
    assert_eq!(
        emu.stats().by_route["POST /users/{id}/revokeSignInSessions"].get(&200),
        Some(&1)
    );
}

#[tokio::test]
async fn the_policy_is_read_and_patched_and_groups_resolve() {
    let emu = Emu::start(&tenant_yaml()).await;
    let g = graph_for(&emu, 4);
    let policy = g.get_methods_policy().await.unwrap();
    assert_eq!(policy["id"], "authenticationMethodsPolicy");
    let body = json!({
        "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
        "state": "enabled",
        "includeTargets": [{ "id": PILOT, "targetType": "group" }],
    });
    g.patch_method_configuration("Fido2", &body).await.unwrap();
    let fido = g.get_method_configuration("Fido2").await.unwrap();
    assert_eq!(fido["state"], "enabled");
    assert_eq!(fido["includeTargets"][0]["id"], PILOT);
    g.patch_methods_policy(&json!({
        "registrationEnforcement": { "authenticationMethodsRegistrationCampaign": { "snoozeDurationInDays": 3 } }
    }))
    .await
    .unwrap();

    let hits = g
        .find_groups_by_display_name("O'Brien's team")
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        g.find_groups_by_display_name("nobody")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        g.get_group(PILOT).await.unwrap().display_name.as_deref(),
        Some("SMS-Pilot")
    );
    let mut mine = g.user_group_ids(PAT).await.unwrap();
    mine.sort();
    let mut want = vec![PILOT.to_string(), NESTED.to_string()];
    want.sort();
    assert_eq!(mine, want, "nested membership reaches SMS-Pilot");
}
