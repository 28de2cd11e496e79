//! Every method type at its own path: the tenant file seeds them, list/get/delete (204, 404, the default-method
//! 400), the email create/update (one per user, fixed id), the TAP create (replaces, pass shown once, lifetime
//! range), the polymorphic list, `$batch`, and the permission matrix (granular and classic permissions, roles,
//! nobody issues themselves a TAP).

use super::*;

const EMAIL_ID: &str = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f";

/// Users: `pat` holds one method of every type (the Authenticator is her default), `noor` nothing; an admin
/// (PAA), an Authentication Administrator (`aa`), a Global Reader, and `boss`, an admin `aa` can't touch.
const METHODS_TENANT: &str = r##"
tenantId: 00000000-0000-4000-8000-0000000000ee
apps:
  - clientId: 00000000-0000-4000-8000-00000000e001
    secret: s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
users:
  - id: 00000000-0000-4000-8000-0000000000e1
    userPrincipalName: pat@contoso.com
    displayName: Pat Doe
    defaultMethodId: 0a1b2c3d-0000-4000-8000-000000000a01
    phones:
      mobile: { number: "+1 2065550101" }
    methods:
      - { type: email, id: 3ddfcfc8-9383-446f-83cc-3ab9be4be18f, emailAddress: pat@fabrikam.example }
      - type: microsoftAuthenticator
        id: 0a1b2c3d-0000-4000-8000-000000000a01
        displayName: Pat's iPhone
        deviceTag: SoftwareTokenActivated
        phoneAppVersion: 6.2401.0119
        createdDateTime: "2025-03-01T10:00:00Z"
      - type: fido2
        id: fido-key-1
        displayName: YubiKey 5 NFC
        createdDateTime: "2025-04-02T08:00:00Z"
        aaGuid: cb69481e-8ff7-4039-93ec-0a2729a154a8
        model: YubiKey 5 Series
        attestationCertificates: []
        attestationLevel: attested
      - type: windowsHelloForBusiness
        id: whfb-1
        displayName: PAT-LAPTOP
        createdDateTime: "2025-05-03T09:00:00Z"
        keyStrength: normal
      - { type: softwareOath, id: oath-1, secretKey: null }
      - type: platformCredential
        id: psso-1
        displayName: Pat's MacBook
        createdDateTime: "2025-06-04T12:00:00Z"
        keyStrength: normal
        platform: macOS
      - { type: externalAuthentication, id: ext-1, configurationId: 5d7e-cfg, displayName: Contoso MFA, createdDateTime: "2026-01-02T00:00:00Z" }
      - type: temporaryAccessPass
        id: tap-1
        createdDateTime: "2025-07-05T00:00:00Z"
        lifetimeInMinutes: 60
        isUsableOnce: true
        isUsable: false
        methodUsabilityReason: Expired
      - { type: qrCodePin, id: qr-1, createdDateTime: "2026-02-01T00:00:00Z", pin: { code: null, forceChangePinNextSignIn: true } }
    rawMethods:
      - { "@odata.type": "#microsoft.graph.futureAuthenticationMethod", id: future-1 }
  - id: 00000000-0000-4000-8000-0000000000e2
    userPrincipalName: noor@contoso.com
    displayName: Noor
  - id: 00000000-0000-4000-8000-0000000000e3
    userPrincipalName: admin@contoso.com
    roles: [Privileged Authentication Administrator]
  - id: 00000000-0000-4000-8000-0000000000e4
    userPrincipalName: aa@contoso.com
    roles: [Authentication Administrator]
  - id: 00000000-0000-4000-8000-0000000000e5
    userPrincipalName: reader@contoso.com
    roles: [Global Reader]
  - id: 00000000-0000-4000-8000-0000000000e6
    userPrincipalName: boss@contoso.com
    roles: [User Administrator]
    methods:
      - { type: fido2, id: boss-key, displayName: Boss key }
"##;

const SEGMENTS: &[(&str, &str, &str)] = &[
    ("emailMethods", EMAIL_ID, "email"),
    (
        "microsoftAuthenticatorMethods",
        "0a1b2c3d-0000-4000-8000-000000000a01",
        "microsoftAuthenticator",
    ),
    ("fido2Methods", "fido-key-1", "fido2"),
    (
        "windowsHelloForBusinessMethods",
        "whfb-1",
        "windowsHelloForBusiness",
    ),
    ("softwareOathMethods", "oath-1", "softwareOath"),
    ("platformCredentialMethods", "psso-1", "platformCredential"),
    (
        "externalAuthenticationMethods",
        "ext-1",
        "externalAuthentication",
    ),
    ("temporaryAccessPassMethods", "tap-1", "temporaryAccessPass"),
];

fn at(user: &str, rest: &str) -> String {
    format!("/users/{user}/authentication/{rest}")
}

#[tokio::test]
async fn every_type_is_seeded_listed_and_got_with_its_human_fields() {
    let emu = Emu::start(METHODS_TENANT).await;
    let t = emu.app_token().await;
    for (seg, id, _) in SEGMENTS {
        let r = emu.get(&at("pat@contoso.com", seg), &t).await;
        assert_eq!(r.status, 200, "{seg}: {}", r.body);
        let v = r.body["value"].as_array().unwrap();
        assert_eq!(v.len(), 1, "{seg}");
        assert_eq!(v[0]["id"], json!(id));
        let one = emu
            .get(&at("pat@contoso.com", &format!("{seg}/{id}")), &t)
            .await;
        assert_eq!(one.status, 200);
        assert!(
            one.body["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("/$entity")
        );
        // Nothing of another type at this path.
        let none = emu.get(&at("noor@contoso.com", seg), &t).await;
        assert_eq!(none.body["value"], json!([]));
    }
    let fido = emu
        .get(&at("pat@contoso.com", "fido2Methods/fido-key-1"), &t)
        .await;
    assert_eq!(fido.body["displayName"], "YubiKey 5 NFC");
    assert_eq!(fido.body["model"], "YubiKey 5 Series");
    assert_eq!(fido.body["aaGuid"], "cb69481e-8ff7-4039-93ec-0a2729a154a8");
    assert_eq!(fido.body["createdDateTime"], "2025-04-02T08:00:00Z");
    let tap = emu
        .get(
            &at("pat@contoso.com", "temporaryAccessPassMethods/tap-1"),
            &t,
        )
        .await;
    assert_eq!(tap.body["temporaryAccessPass"], Value::Null);
    assert_eq!(tap.body["methodUsabilityReason"], "Expired");
    // The polymorphic list has every one with its @odata.type, the unknown QR method as given.
    let all = emu.get(&at("pat@contoso.com", "methods"), &t).await;
    let types: Vec<&str> = all.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap())
        .collect();
    for (seg, _, short) in SEGMENTS {
        // Graph's resource is `externalAuthenticationMethod` (not `externalAuthenticationAuthenticationMethod`).
        let want = match *seg {
            "externalAuthenticationMethods" => {
                "#microsoft.graph.externalAuthenticationMethod".to_string()
            }
            _ => format!("#microsoft.graph.{short}AuthenticationMethod"),
        };
        assert!(types.contains(&want.as_str()), "{want}: {types:?}");
    }
    assert!(types.contains(&"#microsoft.graph.qrCodePinAuthenticationMethod"));
    assert!(types.contains(&"#microsoft.graph.futureAuthenticationMethod"));
    assert!(types.contains(&"#microsoft.graph.phoneAuthenticationMethod"));
    assert!(types.contains(&"#microsoft.graph.passwordAuthenticationMethod"));
    // 404 for an id the user has no method of that type under (even one of another type), 400 for a segment
    // Graph doesn't have, 405 for a verb the type doesn't allow.
    emu.get(&at("pat@contoso.com", "fido2Methods/whfb-1"), &t)
        .await
        .assert_error(404, "itemNotFound");
    emu.get(&at("pat@contoso.com", "FIDO2Methods"), &t)
        .await
        .assert_error(400, "BadRequest");
    emu.post(&at("pat@contoso.com", "fido2Methods"), &t, json!({}))
        .await
        .assert_error(405, "Request_BadRequest");
    emu.patch(
        &at("pat@contoso.com", "fido2Methods/fido-key-1"),
        &t,
        json!({"displayName": "x"}),
    )
    .await
    .assert_error(405, "Request_BadRequest");
}

#[tokio::test]
async fn qr_code_pin_is_one_per_user_at_a_singular_path() {
    let emu = Emu::start(METHODS_TENANT).await;
    let t = emu.app_token().await;
    let qr = at("pat@contoso.com", "qrCodePinMethod");
    let r = emu.get(&qr, &t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], "qr-1");
    assert_eq!(r.body["createdDateTime"], "2026-02-01T00:00:00Z");
    let granular = emu.token(TokenSpec::app(&["UserAuthMethod-QR.ReadWrite.All"]));
    let other = emu.token(TokenSpec::app(&["UserAuthMethod-Passkey.ReadWrite.All"]));
    emu.delete(&qr, &other)
        .await
        .assert_error(403, "accessDenied");
    assert_eq!(emu.delete(&qr, &granular).await.status, 204);
    emu.get(&qr, &t).await.assert_error(404, "itemNotFound");
    emu.delete(&qr, &t).await.assert_error(404, "itemNotFound");
    emu.get(&format!("{qr}/qr-1"), &t)
        .await
        .assert_error(400, "BadRequest");
    emu.post(&qr, &t, json!({}))
        .await
        .assert_error(405, "Request_BadRequest");
}

#[test]
fn tenant_file_rules_for_methods() {
    let base = "tenantId: t\nusers:\n  - id: u1\n    userPrincipalName: a@b.c\n";
    let bad = [
        (
            "    methods:\n      - { type: email, id: not-the-id, emailAddress: a@b.c }\n",
            "always",
        ),
        (
            "    methods:\n      - { type: email, id: 3ddfcfc8-9383-446f-83cc-3ab9be4be18f }\n",
            "emailAddress",
        ),
        (
            "    methods:\n      - { type: fido2, id: k }\n      - { type: windowsHelloForBusiness, id: K }\n",
            "twice",
        ),
        (
            "    methods:\n      - { type: temporaryAccessPass, id: t1 }\n      - { type: temporaryAccessPass, id: t2 }\n",
            "at most one",
        ),
        (
            "    methods:\n      - { type: temporaryAccessPass, id: t1, temporaryAccessPass: abc }\n",
            "pass",
        ),
        ("    defaultMethodId: nope\n", "defaultMethodId"),
    ];
    for (extra, want) in bad {
        let e = authctl::emulator::Tenant::from_yaml(&format!("{base}{extra}")).unwrap_err();
        assert!(e.to_string().contains(want), "{extra}: {e}");
        assert!(e.to_string().contains("a@b.c"), "{e}");
    }
    // Every tenant of the repository still loads (the example seeds every type).
    tenant(EXAMPLE_TENANT);
    tenant(METHODS_TENANT);
}

#[tokio::test]
async fn deletes_answer_204_then_404_and_the_default_method_is_refused() {
    let emu = Emu::start(METHODS_TENANT).await;
    let t = emu.app_token().await;
    for (seg, id, _) in SEGMENTS.iter().filter(|s| s.2 != "microsoftAuthenticator") {
        let path = at("pat@contoso.com", &format!("{seg}/{id}"));
        let r = emu.delete(&path, &t).await;
        assert_eq!(r.status, 204, "{seg}: {}", r.body);
        emu.delete(&path, &t)
            .await
            .assert_error(404, "itemNotFound");
        emu.get(&path, &t).await.assert_error(404, "itemNotFound");
    }
    let default = at(
        "pat@contoso.com",
        "microsoftAuthenticatorMethods/0a1b2c3d-0000-4000-8000-000000000a01",
    );
    let r = emu.delete(&default, &t).await;
    r.assert_error(400, "badRequest");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default authentication method")
    );
    // The stored state lost exactly the deleted ones (QR code + PIN, at its singular path, is not in SEGMENTS).
    let left: Vec<String> = emu.snapshot().users[0]
        .methods
        .iter()
        .map(|m| m.kind.clone())
        .collect();
    assert_eq!(left, ["microsoftAuthenticator", "qrCodePin"]);
}

#[tokio::test]
async fn email_one_per_user_fixed_id_create_update_delete() {
    let emu = Emu::start(METHODS_TENANT).await;
    let t = emu.app_token().await;
    let list = at("noor@contoso.com", "emailMethods");
    for bad in ["noor", "Noor <noor@x.example>", "noor @x.example", "noor@x"] {
        emu.post(&list, &t, json!({"emailAddress": bad}))
            .await
            .assert_error(400, "badRequest");
    }
    emu.post(&list, &t, json!({}))
        .await
        .assert_error(400, "badRequest");
    emu.post(
        &list,
        &t,
        json!({"emailAddress": "n@x.example", "extra": 1}),
    )
    .await
    .assert_error(400, "BadRequest");
    let r = emu
        .post(&list, &t, json!({"emailAddress": "noor@fabrikam.example"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["id"], EMAIL_ID);
    assert_eq!(r.body["emailAddress"], "noor@fabrikam.example");
    assert!(
        r.header("location")
            .unwrap()
            .ends_with(&format!("/emailMethods/{EMAIL_ID}"))
    );
    // A second email: refused; update it instead.
    emu.post(&list, &t, json!({"emailAddress": "other@fabrikam.example"}))
        .await
        .assert_error(400, "badRequest");
    let item = format!("{list}/{EMAIL_ID}");
    let r = emu
        .patch(&item, &t, json!({"emailAddress": "noor2@fabrikam.example"}))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        emu.get(&item, &t).await.body["emailAddress"],
        "noor2@fabrikam.example"
    );
    emu.patch(
        &format!("{list}/other-id"),
        &t,
        json!({"emailAddress": "a@b.example"}),
    )
    .await
    .assert_error(404, "itemNotFound");
    assert_eq!(emu.delete(&item, &t).await.status, 204);
    assert_eq!(emu.get(&list, &t).await.body["value"], json!([]));
    emu.patch(&item, &t, json!({"emailAddress": "a@b.example"}))
        .await
        .assert_error(404, "itemNotFound");
}

#[tokio::test]
async fn tap_create_replaces_shows_the_pass_once_and_keeps_the_lifetime_range() {
    let emu = Emu::start(METHODS_TENANT).await;
    let t = emu.app_token().await;
    let list = at("pat@contoso.com", "temporaryAccessPassMethods");
    for bad in [
        json!({"lifetimeInMinutes": 59}),
        json!({"lifetimeInMinutes": 481}),
        json!({"lifetimeInMinutes": "60"}),
        json!({"startDateTime": "tomorrow"}),
        json!({"isUsableOnce": "yes"}),
        json!({"temporaryAccessPass": "mine"}),
    ] {
        emu.post(&list, &t, bad.clone()).await.assert_error(
            400,
            if bad.get("temporaryAccessPass").is_some() {
                "BadRequest"
            } else {
                "badRequest"
            },
        );
    }
    let r = emu.post(&list, &t, json!({"lifetimeInMinutes": 480})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let msg = emu.post(&list, &t, json!({"lifetimeInMinutes": 10})).await;
    assert!(
        msg.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("between 60 and 480")
    );
    assert_eq!(
        r.body["@odata.type"],
        "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
    );
    let pass = r.body["temporaryAccessPass"].as_str().unwrap().to_string();
    assert_eq!(pass.len(), 8);
    assert_eq!(r.body["lifetimeInMinutes"], 480);
    assert_eq!(r.body["isUsableOnce"], false);
    // The default policy has TAP disabled: created, but not usable for sign-in.
    assert_eq!(r.body["methodUsabilityReason"], "DisabledByPolicy");
    let id = r.body["id"].as_str().unwrap().to_string();
    // One pass per user: the seeded one was replaced, and GET never shows the pass.
    let listed = emu.get(&list, &t).await.body["value"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], json!(id));
    assert_eq!(listed[0]["temporaryAccessPass"], Value::Null);
    let all = emu
        .get(&at("pat@contoso.com", "methods"), &t)
        .await
        .body
        .to_string();
    assert!(!all.contains(&pass));
    assert!(
        !format!("{:?}", emu.snapshot()).contains(&pass),
        "the pass is never stored"
    );
    // A second create replaces the first.
    let again = emu
        .post(
            &list,
            &t,
            json!({"isUsableOnce": true, "startDateTime": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["lifetimeInMinutes"], 60, "the policy's default");
    assert_eq!(again.body["isUsableOnce"], true);
    assert_eq!(again.body["startDateTime"], "2099-01-01T00:00:00Z");
    let listed = emu.get(&list, &t).await.body["value"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], again.body["id"]);
    emu.get(&format!("{list}/{id}"), &t)
        .await
        .assert_error(404, "itemNotFound");
}

#[tokio::test]
async fn batch_reaches_every_type() {
    let emu = Emu::start(METHODS_TENANT).await;
    let t = emu.app_token().await;
    let requests: Vec<Value> = SEGMENTS
        .iter()
        .enumerate()
        .map(|(i, (seg, _, _))| {
            json!({"id": i.to_string(), "method": "GET", "url": format!("/users/pat@contoso.com/authentication/{seg}")})
        })
        .chain([json!({"id": "del", "method": "DELETE", "url": "/users/pat@contoso.com/authentication/fido2Methods/fido-key-1"})])
        .collect();
    let r = emu.post("/$batch", &t, json!({"requests": requests})).await;
    assert_eq!(r.status, 200);
    for item in r.body["responses"].as_array().unwrap() {
        let want = if item["id"] == "del" { 204 } else { 200 };
        assert_eq!(item["status"], want, "{item}");
    }
    assert_eq!(
        emu.stats()
            .count("GET /users/{id}/authentication/fido2Methods", 200),
        1
    );
}

#[tokio::test]
async fn permission_matrix_per_method_and_classic() {
    let emu = Emu::start(METHODS_TENANT).await;
    let pat = "pat@contoso.com";
    // Granular application permissions open their own type only.
    let fido_ro = emu.token(TokenSpec::app(&["UserAuthMethod-Passkey.Read.All"]));
    assert_eq!(
        emu.get(&at(pat, "fido2Methods"), &fido_ro).await.status,
        200
    );
    emu.get(&at(pat, "windowsHelloForBusinessMethods"), &fido_ro)
        .await
        .assert_error(403, "accessDenied");
    emu.delete(&at(pat, "fido2Methods/fido-key-1"), &fido_ro)
        .await
        .assert_error(403, "accessDenied");
    for (seg, id, _) in SEGMENTS {
        let perm = match *seg {
            "emailMethods" => "Email",
            "microsoftAuthenticatorMethods" => "MicrosoftAuthApp",
            "fido2Methods" => "Passkey",
            "windowsHelloForBusinessMethods" => "WindowsHello",
            "softwareOathMethods" => "SoftwareOATH",
            "platformCredentialMethods" => "PlatformCred",
            "externalAuthenticationMethods" => "External",
            _ => "TAP",
        };
        let rw = emu.token(TokenSpec::app(&[&format!(
            "UserAuthMethod-{perm}.ReadWrite.All"
        )]));
        assert_eq!(emu.get(&at(pat, seg), &rw).await.status, 200, "{seg}");
        let other = if perm == "Email" {
            "UserAuthMethod-TAP.ReadWrite.All"
        } else {
            "UserAuthMethod-Email.ReadWrite.All"
        };
        let wrong = emu.token(TokenSpec::app(&[other]));
        emu.get(&at(pat, seg), &wrong)
            .await
            .assert_error(403, "accessDenied");
        if *seg != "microsoftAuthenticatorMethods" {
            emu.delete(&at(pat, &format!("{seg}/{id}")), &wrong)
                .await
                .assert_error(403, "accessDenied");
            assert_eq!(
                emu.delete(&at(pat, &format!("{seg}/{id}")), &rw)
                    .await
                    .status,
                204,
                "{seg}"
            );
        }
    }
    // Classic read-only: reads every type, writes none.
    let classic_ro = emu.token(TokenSpec::app(&["UserAuthenticationMethod.Read.All"]));
    assert_eq!(
        emu.get(&at(pat, "microsoftAuthenticatorMethods"), &classic_ro)
            .await
            .status,
        200
    );
    emu.post(
        &at("noor@contoso.com", "emailMethods"),
        &classic_ro,
        json!({"emailAddress": "n@x.example"}),
    )
    .await
    .assert_error(403, "accessDenied");
}

#[tokio::test]
async fn permission_roles_admins_and_own_tap() {
    let emu = Emu::start(METHODS_TENANT).await;
    let scopes = ["UserAuthenticationMethod.ReadWrite.All"];
    let aa = emu.token(TokenSpec::delegated("aa@contoso.com", &scopes));
    let paa = emu.token(TokenSpec::delegated("admin@contoso.com", &scopes));
    let reader = emu.token(TokenSpec::delegated("reader@contoso.com", &scopes));
    let noor = emu.token(TokenSpec::delegated("noor@contoso.com", &scopes));
    let boss_key = at("boss@contoso.com", "fido2Methods/boss-key");
    // Authentication Administrator: reads an admin's methods, can't delete them; acts on members.
    assert_eq!(emu.get(&boss_key, &aa).await.status, 200);
    emu.delete(&boss_key, &aa)
        .await
        .assert_error(403, "accessDenied");
    emu.post(
        &at("boss@contoso.com", "temporaryAccessPassMethods"),
        &aa,
        json!({}),
    )
    .await
    .assert_error(403, "accessDenied");
    let r = emu
        .post(
            &at("noor@contoso.com", "temporaryAccessPassMethods"),
            &aa,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Global Reader reads, never writes; a user without a role can't touch others.
    assert_eq!(emu.get(&boss_key, &reader).await.status, 200);
    emu.delete(&boss_key, &reader)
        .await
        .assert_error(403, "accessDenied");
    emu.get(&boss_key, &noor)
        .await
        .assert_error(403, "accessDenied");
    // Privileged Authentication Administrator: admins too.
    assert_eq!(emu.delete(&boss_key, &paa).await.status, 204);
    // Nobody issues themselves a TAP, whatever their role; nobody adds or updates their own email.
    for tok in [&paa, &aa, &noor] {
        emu.post(
            "/me/authentication/temporaryAccessPassMethods",
            tok,
            json!({}),
        )
        .await
        .assert_error(403, "accessDenied");
        emu.post(
            "/me/authentication/emailMethods",
            tok,
            json!({"emailAddress": "me@x.example"}),
        )
        .await
        .assert_error(403, "accessDenied");
    }
    // Own methods: readable and deletable with the self-service scope.
    let own = emu.token(TokenSpec::delegated(
        "noor@contoso.com",
        &["UserAuthMethod-TAP.ReadWrite"],
    ));
    let mine = emu
        .get("/me/authentication/temporaryAccessPassMethods", &own)
        .await;
    assert_eq!(mine.status, 200);
    let id = mine.body["value"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        emu.delete(
            &format!("/me/authentication/temporaryAccessPassMethods/{id}"),
            &own
        )
        .await
        .status,
        204
    );
    // No token: Graph's 401.
    emu.get(&at("pat@contoso.com", "fido2Methods"), "")
        .await
        .assert_error(401, "InvalidAuthenticationToken");
}
