//! Integration tests: the Graph emulator. Conformance replays of Microsoft's examples (tests/fixtures/graph-examples),
//! one test per rule and per error, every grant type of the token endpoint, faults, persistence and the binary.

use std::time::Duration;

use authctl::emulator::TokenSpec;
use serde_json::{Value, json};

use crate::support::*;

/// The user the examples call `me` / `kim@contoso.com`, with the three phones of the list example and the FIDO2 and
/// Windows Hello methods of the methods-list example.
const CONFORMANCE_TENANT: &str = r#"
tenantId: 00000000-0000-4000-8000-0000000000cc
apps:
  - clientId: 00000000-0000-4000-8000-00000000c001
    secret: s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
    delegatedPermissions: [UserAuthenticationMethod.ReadWrite, UserAuthenticationMethod.ReadWrite.All, User.Read.All]
users:
  - id: 6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0
    userPrincipalName: jordan@contoso.com
    displayName: Jordan Miller
    smsSignInPolicy: true
    password: Jordan-Pass1!
    phones:
      mobile: { number: "+1 2065555555", smsSignInState: ready }
      alternateMobile: { number: "+1 2065555556" }
      office: { number: "+1 2065555557" }
    methods:
      - type: fido2
        id: -2_GRUg2-HYz6_1YG4YRAQ2
        displayName: Red key
        creationDateTime: "2020-08-10T06:44:09Z"
        aaGuid: 2fc0579f-8113-47ea-b116-555a8db9202a
        model: NFC key
        attestationCertificates: [dbe793efdf1945e2df25d93653a1e8a3268a9075]
        attestationLevel: attested
      - type: windowsHelloForBusiness
        id: b5e01f81-1f81-b5e0-811f-e0b5811fe0b5
        displayName: Jordan's Surface Book
        createdDateTime: "2020-11-27T23:12:49Z"
        keyStrength: normal
  - id: 00000000-0000-4000-8000-0000000000c2
    userPrincipalName: kim@contoso.com
    displayName: Kim Akers
    smsSignInPolicy: true
  - id: 00000000-0000-4000-8000-0000000000c3
    userPrincipalName: mobileonly@contoso.com
    smsSignInPolicy: true
    phones:
      mobile: { number: "+1 2065555558", smsSignInState: notEnabled }
  - id: 00000000-0000-4000-8000-0000000000c4
    userPrincipalName: admin@contoso.com
    roles: [Privileged Authentication Administrator]
    password: Admin-Pass1!
"#;

/// The path of an example URL after `/v1.0` (or `/beta`), with `{…}` placeholders left for the caller to replace.
fn example_path(example: &Value) -> String {
    let url = example["request"]["url"].as_str().unwrap();
    let after = url.split_once("graph.microsoft.com").unwrap().1;
    after
        .trim_start_matches("/v1.0")
        .trim_start_matches("/beta")
        .to_string()
}

/// Strips `@odata.context` (the examples are truncated and omit it).
fn without_context(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("@odata.context");
    }
    v
}

/// The conformance tenant where nobody holds +1 2065555555 for SMS sign-in yet (so creating it for kim is `ready`).
fn conformance_tenant_number_free() -> String {
    CONFORMANCE_TENANT.replace(
        r#"mobile: { number: "+1 2065555555", smsSignInState: ready }"#,
        r#"mobile: { number: "+1 2065555555", smsSignInState: notEnabled }"#,
    )
}

fn me_token(emu: &Emu, upn: &str) -> String {
    emu.token(TokenSpec::delegated(
        upn,
        &["UserAuthenticationMethod.ReadWrite"],
    ))
}

#[tokio::test]
async fn conformance_phonemethods_list() {
    let ex = graph_example("phonemethods-list");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    let r = emu
        .get(&example_path(&ex), &me_token(&emu, "jordan@contoso.com"))
        .await;
    assert_eq!(r.status, ex["response"]["status"].as_u64().unwrap() as u16);
    // Same items, same order, no @odata.type on items (as in the example); @odata.context added as Graph does.
    assert_eq!(r.body["value"], ex["response"]["body"]["value"]);
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/authentication/phoneMethods")
    );
}

#[tokio::test]
async fn conformance_phonemethods_get() {
    let ex = graph_example("phonemethods-get");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    let r = emu
        .get(&example_path(&ex), &me_token(&emu, "jordan@contoso.com"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(without_context(r.body), ex["response"]["body"]);
}

#[tokio::test]
async fn conformance_phonemethods_create_answers_201_and_the_real_phone_type() {
    let ex = graph_example("phonemethods-create");
    let emu = Emu::start(&conformance_tenant_number_free()).await;
    let token = emu.app_token().await;
    let r = emu
        .post(&example_path(&ex), &token, ex["request"]["body"].clone())
        .await;
    // Choice: 201 as the reference page says (seed bit 0 gives the walkthrough's 200, see create_status_varies).
    assert_eq!(r.status, 201);
    let mut want = ex["response"]["body"].clone();
    // Choice: the example's "phoneType-value" is a doc placeholder; the emulator echoes the real type.
    want["phoneType"] = json!("mobile");
    assert_eq!(without_context(r.body), want);
}

#[tokio::test]
async fn create_status_varies_with_the_seed() {
    let ex = graph_example("phonemethods-create");
    let emu = Emu::start_with(&conformance_tenant_number_free(), |o| o.seed = 1).await;
    let token = emu.app_token().await;
    let r = emu
        .post(&example_path(&ex), &token, ex["request"]["body"].clone())
        .await;
    assert_eq!(r.status, 200, "seed bit 0: the walkthrough's 200 OK");
    assert_eq!(r.body["phoneNumber"], json!("+1 2065555555"));
}

#[tokio::test]
async fn conformance_phonemethods_update() {
    let ex = graph_example("phonemethods-update");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    let token = emu.app_token().await;
    emu.post(
        "/users/kim@contoso.com/authentication/phoneMethods",
        &token,
        json!({"phoneNumber": "+1 2065555555", "phoneType": "mobile"}),
    )
    .await;
    // The published body has a trailing comma: choice: strict JSON, so it is a 400 like Graph's JSON reader.
    let raw = ex["request"]["body_raw"].as_str().unwrap().to_string();
    let r = emu
        .http
        .patch(format!("{}{}", emu.graph_url(), example_path(&ex)))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = emu
        .patch(&example_path(&ex), &token, ex["request"]["body"].clone())
        .await;
    // Choice: 204 without a body, as the example shows (the prose promising a body is contradicted by it).
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null);
    let r = emu.get("/users/kim@contoso.com/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7", &token).await;
    assert_eq!(r.body["phoneNumber"], json!("+1 2065555554"));
}

#[tokio::test]
async fn conformance_phonemethods_delete() {
    let ex = graph_example("phonemethods-delete");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    // The example deletes the caller's own mobile through /me (older revisions document /me for delete).
    let token = me_token(&emu, "mobileonly@contoso.com");
    let r = emu.delete(&example_path(&ex), &token).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null);
    let r = emu.get("/me/authentication/phoneMethods", &token).await;
    assert_eq!(r.body["value"], json!([]));
}

#[tokio::test]
async fn conformance_enable_and_disable_sms_sign_in() {
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    let token = me_token(&emu, "mobileonly@contoso.com");
    let en = graph_example("phonemethods-enablesmssignin");
    let r = emu.send("POST", &example_path(&en), &token, None).await;
    assert_eq!(r.status, 204);
    let r = emu
        .get(
            "/me/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7",
            &token,
        )
        .await;
    assert_eq!(r.body["smsSignInState"], json!("ready"));
    let dis = graph_example("phonemethods-disablesmssignin");
    let r = emu.send("POST", &example_path(&dis), &token, None).await;
    assert_eq!(r.status, 204);
    let r = emu
        .get(
            "/me/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7",
            &token,
        )
        .await;
    assert_eq!(r.body["smsSignInState"], json!("notEnabled"));
    // SDKs send the namespace-qualified action segment.
    let r = emu
        .send("POST", "/me/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7/microsoft.graph.enableSmsSignIn", &token, None)
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn conformance_methods_list() {
    let ex = graph_example("methods-list");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    let r = emu
        .get(&example_path(&ex), &me_token(&emu, "jordan@contoso.com"))
        .await;
    assert_eq!(r.status, 200);
    let got = r.body["value"].as_array().unwrap();
    // The example is truncated: each of its items is returned verbatim (including the fido2 item's
    // `creationDateTime` spelling, which the emulator passes through as stored); every item has @odata.type.
    for want in ex["response"]["body"]["value"].as_array().unwrap() {
        assert!(got.contains(want), "missing {want} in {got:?}");
    }
    assert!(got.iter().all(|m| {
        m["@odata.type"]
            .as_str()
            .is_some_and(|t| t.starts_with("#microsoft.graph."))
    }));
    assert!(
        got.iter()
            .any(|m| m["@odata.type"] == json!("#microsoft.graph.phoneAuthenticationMethod"))
    );
}

#[tokio::test]
async fn conformance_passwordmethods_list() {
    let ex = graph_example("passwordmethods-list");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    // Choice: the example targets /beta; the emulator serves it under /v1.0 only.
    let r = emu
        .get(&example_path(&ex), &me_token(&emu, "jordan@contoso.com"))
        .await;
    assert_eq!(r.status, 200);
    let item = &r.body["value"][0];
    let want = &ex["response"]["body"]["value"][0];
    assert_eq!(item["id"], want["id"]);
    assert_eq!(item["password"], Value::Null);
    // Choice: the schema's `createdDateTime`, not the example's `creationDateTime`.
    assert_eq!(item["createdDateTime"], Value::Null);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn conformance_reset_password_admin_provided_then_operation() {
    let ex = graph_example("resetpassword-admin-provided");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    let admin = emu.delegated("admin@contoso.com");
    let r = emu
        .post(&example_path(&ex), &admin, ex["request"]["body"].clone())
        .await;
    assert_eq!(r.status, 202);
    // Choice: no body (the current example), not the older `{}`.
    assert_eq!(r.body, Value::Null);
    let location = r.header("location").unwrap();
    assert!(
        location.contains(
            "/v1.0/users/6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0/authentication/operations/"
        )
    );
    assert!(location.contains("aadgdc=") && location.contains("aadgsu="));
    assert!(r.header("retry-after").is_some());

    // The operation: notStarted → running → succeeded, one step per poll.
    let op = graph_example("operations-get");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = emu.get(&location, &admin).await;
        // Choice: 200 as the reference shows (seed bit 1 gives the walkthrough's 202 while running).
        assert_eq!(r.status, op["response"]["status"].as_u64().unwrap() as u16);
        for k in op["response"]["body"].as_object().unwrap().keys() {
            assert!(r.body.get(k).is_some(), "missing {k}");
        }
        // Choice: well-formed ISO 8601 timestamps (the example's `12-01-03.45Z` is a typo).
        assert!(
            r.body["createdDateTime"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .is_ok()
        );
        seen.push(r.body["status"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ["notStarted", "running", "succeeded"]);
    // The new password now signs the user in (device-code approval checks it).
    assert_eq!(
        emu.snapshot()
            .user("6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0")
            .unwrap()
            .password
            .as_deref(),
        Some("Cuyo5459")
    );
}

#[tokio::test]
async fn conformance_reset_password_system_generated() {
    let ex = graph_example("resetpassword-system-generated");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    let admin = emu.delegated("admin@contoso.com");
    for body in [Some(json!({})), None] {
        // Both the current `{}` body and the older no-body request are accepted.
        let r = emu.send("POST", &example_path(&ex), &admin, body).await;
        assert_eq!(r.status, 202);
        let want = &ex["response"]["body"];
        assert!(
            r.body["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("$metadata#microsoft.graph.passwordResetResponse")
        );
        assert_eq!(
            want["@odata.context"].as_str().unwrap().rsplit('#').next(),
            Some("microsoft.graph.passwordResetResponse")
        );
        assert!(r.body["newPassword"].as_str().is_some_and(|p| p.len() >= 8));
        assert!(r.header("location").is_some());
    }
    // The tutorial's path form, passwordMethods/{id}/resetPassword, is served too.
    let r = emu
        .send("POST", "/users/jordan@contoso.com/authentication/passwordMethods/28c10230-6103-485e-b985-444c60001490/resetPassword", &admin, Some(json!({})))
        .await;
    assert_eq!(r.status, 202);
}

#[tokio::test]
async fn operation_status_varies_with_the_seed() {
    let emu = Emu::start_with(CONFORMANCE_TENANT, |o| o.seed = 2).await;
    let admin = emu.delegated("admin@contoso.com");
    let r = emu
        .post("/users/jordan@contoso.com/authentication/methods/28c10230-6103-485e-b985-444c60001490/resetPassword", &admin, json!({"newPassword": "Xylo-Pass1!"}))
        .await;
    let location = r.header("location").unwrap();
    let statuses: Vec<(u16, String)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = emu.get(&location, &admin).await;
            v.push((r.status, r.body["status"].as_str().unwrap().to_string()));
        }
        v
    };
    assert_eq!(
        statuses,
        vec![
            (202, "notStarted".into()),
            (202, "running".into()),
            (200, "succeeded".into())
        ]
    );
}

#[tokio::test]
async fn conformance_batch_envelope() {
    let ex = graph_example("batch-example");
    let emu = Emu::start(CONFORMANCE_TENANT).await;
    let token = emu.app_token().await;
    // Choice: the example's own items target resources the emulator does not serve (memberOf, planner, groups,
    // SSO credentials); each is answered per item (400/405) while the batch itself is 200.
    let r = emu
        .post("/$batch", &token, ex["request"]["body"].clone())
        .await;
    assert_eq!(r.status, 200);
    let responses = r.body["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 5);
    for item in responses {
        assert!(item["id"].is_string() && item["status"].is_u64() && item["headers"].is_object());
    }
    // The same envelope with the emulator's routes, including a url without its leading slash (item 5 of the example).
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users/jordan@contoso.com/authentication/phoneMethods"},
        {"id": "2", "method": "PATCH", "url": "/users/jordan@contoso.com/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7",
         "headers": {"Content-Type": "application/json"}, "body": {"phoneNumber": "+1 2065555554"}, "dependsOn": ["1"]},
        {"id": "5", "method": "GET", "url": "users?$select=id,displayName,userPrincipalName&$filter=userPrincipalName eq 'kim@contoso.com'"},
    ]});
    let r = emu.post("/$batch", &token, body).await;
    assert_eq!(r.status, 200);
    let by_id = |id: &str| {
        r.body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(id))
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("1")["status"], json!(200));
    assert_eq!(by_id("1")["body"]["value"].as_array().unwrap().len(), 3);
    assert_eq!(by_id("2")["status"], json!(204));
    assert_eq!(by_id("5")["status"], json!(200));
    assert_eq!(
        by_id("5")["body"]["value"][0]["userPrincipalName"],
        json!("kim@contoso.com")
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

/// Decodes a JWT's claims without checking it (the test only reads what the emulator put in).
fn claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn token_client_secret_issues_an_app_token_with_roles() {
    let emu = Emu::example().await;
    let token = emu.secret_token(RW_CLIENT_ID, RW_SECRET).await;
    let c = claims(&token);
    assert_eq!(c["tid"], json!(emu.tenant_id()));
    assert_eq!(c["appid"], json!(RW_CLIENT_ID));
    assert!(
        c["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("UserAuthenticationMethod.ReadWrite.All"))
    );
    assert!(c.get("scp").is_none());
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());
    // Any `{resource}/.default` scope is accepted (the client sends its Graph URL's).
    let (status, body) = emu
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", RW_CLIENT_ID),
            ("client_secret", RW_SECRET),
            ("scope", &format!("{}/.default", emu.url())),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["expires_in"], json!(3600));
    // HTTP Basic client authentication is accepted too.
    let r = emu
        .http
        .post(emu.token_url())
        .basic_auth(RW_CLIENT_ID, Some(RW_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn token_wrong_secret_gives_an_aadsts_error_body() {
    let emu = Emu::example().await;
    let (status, body) = emu
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", RW_CLIENT_ID),
            ("client_secret", "wrong"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], json!("invalid_client"));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215:"),
        "{body}"
    );
    assert_eq!(body["error_codes"], json!([7000215]));
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[k].is_string(), "{k}");
    }
}

#[tokio::test]
async fn token_errors_unknown_app_tenant_scope_grant() {
    let emu = Emu::example().await;
    let (s, b) = emu
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", "00000000-0000-0000-0000-00000000dead"),
            ("client_secret", "x"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    assert_eq!((s, b["error_codes"].clone()), (400, json!([700016])));
    let (s, b) = emu
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", RW_CLIENT_ID),
            ("client_secret", RW_SECRET),
            ("scope", "User.Read"),
        ])
        .await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_scope")));
    let (s, b) = emu
        .token_request(&[("grant_type", "password"), ("client_id", RW_CLIENT_ID)])
        .await;
    assert_eq!(
        (s, b["error"].clone()),
        (400, json!("unsupported_grant_type"))
    );
    let r = emu
        .http
        .post(format!("{}/not-a-tenant/oauth2/v2.0/token", emu.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", RW_CLIENT_ID),
            ("client_secret", RW_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS90002:")
    );
    // A domain name works in place of the tenant id.
    let r = emu
        .http
        .post(format!("{}/contoso.com/oauth2/v2.0/token", emu.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", RW_CLIENT_ID),
            ("client_secret", RW_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

fn cert_tenant(cert_pem: &str, issuer_pub: &str) -> String {
    let indent = |s: &str, n: usize| {
        s.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect::<String>()
    };
    format!(
        "tenantId: 00000000-0000-4000-8000-0000000000dd\napps:\n  - clientId: 00000000-0000-4000-8000-00000000d001\n    permissions: [UserAuthenticationMethod.Read.All]\n    tokenLifetime: 10m\n    certificate: |\n{}    federatedCredentials:\n      - issuer: https://token.actions.githubusercontent.com\n        subject: repo:contoso/authctl-config:environment:prod\n        audience: api://AzureADTokenExchange\n        issuerKey: |\n{}users: []\n",
        indent(cert_pem, 6),
        indent(issuer_pub, 10)
    )
}

const CERT_APP: &str = "00000000-0000-4000-8000-00000000d001";

fn assertion_form(assertion: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", CERT_APP.into()),
        ("scope", "https://graph.microsoft.com/.default".into()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion", assertion.into()),
    ]
}

async fn post_form(emu: &Emu, form: &[(&str, String)]) -> (u16, Value) {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    emu.token_request(&form).await
}

#[tokio::test]
async fn token_certificate_assertion_ps256_and_rs256() {
    let (cert, key, der) = make_certificate();
    let (_, issuer_pub) = make_issuer_key();
    let emu = Emu::start(&cert_tenant(&cert, &issuer_pub)).await;
    let now = emu.handle.state().now().as_second();
    let aud = emu.token_url();
    let a = certificate_assertion(&key, &der, CERT_APP, &aud, now);
    let (s, b) = post_form(&emu, &assertion_form(&a)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["expires_in"], json!(600));
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["appid"],
        json!(CERT_APP)
    );

    // The older RS256 + x5t form is accepted too.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t = Some("hOBcHZi846VCHSJbFAs26Go9VTQ".into());
    let rs = jsonwebtoken::encode(
        &header,
        &json!({"aud": aud, "iss": CERT_APP, "sub": CERT_APP, "jti": "j2", "nbf": now, "exp": now + 600}),
        &jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap(),
    )
    .unwrap();
    let (s, _) = post_form(&emu, &assertion_form(&rs)).await;
    assert_eq!(s, 200);

    // Signed by another key: refused.
    let (_, other_key, _) = make_certificate();
    let bad = certificate_assertion(&other_key, &der, CERT_APP, &aud, now);
    let (s, b) = post_form(&emu, &assertion_form(&bad)).await;
    assert_eq!(s, 401);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700027:"),
        "{b}"
    );
    // A thumbprint of another certificate: refused.
    let (_, _, other_der) = make_certificate();
    let bad = certificate_assertion(&key, &other_der, CERT_APP, &aud, now);
    let (s, _) = post_form(&emu, &assertion_form(&bad)).await;
    assert_eq!(s, 401);
    // Expired assertion: refused.
    let old = certificate_assertion(&key, &der, CERT_APP, &aud, now - 7200);
    let (s, b) = post_form(&emu, &assertion_form(&old)).await;
    assert_eq!(s, 401);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700024:"),
        "{b}"
    );
}

#[tokio::test]
async fn token_federated_assertion() {
    let (cert, _, _) = make_certificate();
    let (issuer_key, issuer_pub) = make_issuer_key();
    let emu = Emu::start(&cert_tenant(&cert, &issuer_pub)).await;
    let now = emu.handle.state().now().as_second();
    let iss = "https://token.actions.githubusercontent.com";
    let sub = "repo:contoso/authctl-config:environment:prod";
    let a = federated_assertion(&issuer_key, iss, sub, "api://AzureADTokenExchange", now);
    let (s, b) = post_form(&emu, &assertion_form(&a)).await;
    assert_eq!(s, 200, "{b}");
    let cases = [
        (
            federated_assertion(
                &issuer_key,
                "https://evil.example",
                sub,
                "api://AzureADTokenExchange",
                now,
            ),
            "AADSTS700211:",
        ),
        (
            federated_assertion(
                &issuer_key,
                iss,
                "repo:contoso/other:ref:refs/heads/main",
                "api://AzureADTokenExchange",
                now,
            ),
            "AADSTS700213:",
        ),
        (
            federated_assertion(&issuer_key, iss, sub, "api://Other", now),
            "AADSTS700212:",
        ),
        (
            federated_assertion(
                &make_issuer_key().0,
                iss,
                sub,
                "api://AzureADTokenExchange",
                now,
            ),
            "AADSTS700024:",
        ),
    ];
    for (assertion, code) in cases {
        let (s, b) = post_form(&emu, &assertion_form(&assertion)).await;
        assert_eq!(s, 401, "{b}");
        assert!(
            b["error_description"].as_str().unwrap().starts_with(code),
            "{code}: {b}"
        );
    }
}

#[tokio::test]
async fn token_device_code_then_refresh_token() {
    let emu = Emu::example().await;
    let r = emu
        .http
        .post(format!(
            "{}/{}/oauth2/v2.0/devicecode",
            emu.url(),
            emu.tenant_id()
        ))
        .form(&[
            ("client_id", RW_CLIENT_ID),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let dc: Value = r.json().await.unwrap();
    for k in [
        "device_code",
        "user_code",
        "verification_uri",
        "expires_in",
        "interval",
        "message",
    ] {
        assert!(dc.get(k).is_some(), "{k}");
    }
    let device_code = dc["device_code"].as_str().unwrap();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", RW_CLIENT_ID),
        ("device_code", device_code),
    ];
    let (s, b) = emu.token_request(&poll).await;
    assert_eq!(
        (s, b["error"].clone()),
        (400, json!("authorization_pending"))
    );
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS70016:")
    );
    // A wrong password does not approve.
    let approve = |password: &str| {
        emu.http
            .post(format!("{}/_emulator/device/approve", emu.url()))
            .json(&json!({"user_code": dc["user_code"], "upn": "admin@contoso.com", "password": password}))
            .send()
    };
    assert_eq!(approve("nope").await.unwrap().status().as_u16(), 400);
    assert_eq!(
        approve("Admin-Passw0rd!").await.unwrap().status().as_u16(),
        204
    );
    let (s, b) = emu.token_request(&poll).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert_eq!(c["upn"], json!("admin@contoso.com"));
    assert!(
        c["scp"]
            .as_str()
            .unwrap()
            .contains("UserAuthenticationMethod.ReadWrite.All")
    );
    assert_eq!(c["wids"], json!(["7be44c8a-adaf-4e2a-84d6-ab2649e08a13"]));
    let refresh = b["refresh_token"].as_str().unwrap().to_string();
    // The device code is spent.
    let (s, _) = emu.token_request(&poll).await;
    assert_eq!(s, 400);
    let (s, b) = emu
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", RW_CLIENT_ID),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["refresh_token"].is_string());
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["upn"],
        json!("admin@contoso.com")
    );
    // Refresh tokens rotate: the old one is spent.
    let (s, b) = emu
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", RW_CLIENT_ID),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_grant")));
}

#[tokio::test]
async fn token_device_code_auto_approve_and_expiry() {
    let emu = Emu::start_with(EXAMPLE_TENANT, |o| o.auto_approve_device_code = true).await;
    let dc: Value = emu
        .http
        .post(format!("{}/contoso.com/oauth2/v2.0/devicecode", emu.url()))
        .form(&[
            ("client_id", RW_CLIENT_ID),
            (
                "scope",
                "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All",
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", RW_CLIENT_ID),
        ("device_code", dc["device_code"].as_str().unwrap()),
    ];
    let (s, b) = emu.token_request(&poll).await;
    assert_eq!(s, 200, "{b}");
    // The first user holding a directory role (the example's admin).
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["upn"],
        json!("admin@contoso.com")
    );

    let emu = Emu::example().await;
    let dc: Value = emu
        .http
        .post(format!(
            "{}/{}/oauth2/v2.0/devicecode",
            emu.url(),
            emu.tenant_id()
        ))
        .form(&[
            ("client_id", RW_CLIENT_ID),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    emu.clock.advance(Duration::from_secs(16 * 60));
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", RW_CLIENT_ID),
        ("device_code", dc["device_code"].as_str().unwrap()),
    ];
    let (s, b) = emu.token_request(&poll).await;
    assert_eq!((s, b["error"].clone()), (400, json!("expired_token")));
}

#[tokio::test]
async fn graph_401_missing_bad_and_expired_tokens() {
    let emu = Emu::example().await;
    let path = "/users/AdeleV@contoso.com/authentication/phoneMethods";
    emu.get(path, "")
        .await
        .assert_error(401, "InvalidAuthenticationToken");
    emu.get(path, "not.a.jwt")
        .await
        .assert_error(401, "InvalidAuthenticationToken");
    // Signed by someone else (another emulator's key).
    let other = Emu::example().await;
    let foreign = other.app_token().await;
    emu.get(path, &foreign)
        .await
        .assert_error(401, "InvalidAuthenticationToken");
    // Expired on the emulator's clock.
    let token = emu.app_token().await;
    assert_eq!(emu.get(path, &token).await.status, 200);
    emu.clock.advance(Duration::from_secs(3601));
    let r = emu.get(path, &token).await;
    r.assert_error(401, "InvalidAuthenticationToken");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // `POST /_emulator/clock` moves the emulator's time too.
    let fresh = emu.app_token().await;
    let r = emu
        .http
        .post(format!("{}/_emulator/clock", emu.url()))
        .json(&json!({"advance": "2h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    emu.get(path, &fresh)
        .await
        .assert_error(401, "InvalidAuthenticationToken");
}

#[tokio::test]
async fn openid_discovery() {
    let emu = Emu::example().await;
    let r: Value = emu
        .http
        .get(format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            emu.url(),
            emu.tenant_id()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["token_endpoint"], json!(emu.token_url()));
    assert!(
        r["device_authorization_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/v2.0/devicecode")
    );
}

#[tokio::test]
async fn example_tenant_loads_and_serves_every_method_type() {
    let emu = Emu::example().await;
    let t = emu.snapshot();
    assert_eq!(t.apps[0].client_id, RW_CLIENT_ID);
    for upn in [
        "CameronW@contoso.com",
        "o'brien.pat@contoso.com",
        "jordan.guest_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "NestorW@contoso.com",
    ] {
        assert!(t.user(upn).is_some(), "{upn}");
    }
    assert_eq!(
        t.user("NestorW@contoso.com").unwrap().id,
        "4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e"
    );
    let token = emu.app_token().await;
    let mut types = std::collections::BTreeSet::new();
    for u in &t.users {
        let r = emu
            .get(&format!("/users/{}/authentication/methods", u.id), &token)
            .await;
        assert_eq!(r.status, 200);
        for m in r.body["value"].as_array().unwrap() {
            types.insert(m["@odata.type"].as_str().unwrap().to_string());
        }
    }
    for t in [
        "password",
        "phone",
        "fido2",
        "microsoftAuthenticator",
        "windowsHelloForBusiness",
        "softwareOath",
        "temporaryAccessPass",
        "email",
        "platformCredential",
        "future",
    ] {
        assert!(
            types.contains(&format!("#microsoft.graph.{t}AuthenticationMethod")),
            "{t}: {types:?}"
        );
    }
}
