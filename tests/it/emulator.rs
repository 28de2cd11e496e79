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

// ---------------------------------------------------------------------------------------------------------------
// Phone rules, one test per rule and per error

fn phones(user: &str) -> String {
    format!("/users/{user}/authentication/phoneMethods")
}

fn phone(user: &str, id: &str) -> String {
    format!("/users/{user}/authentication/phoneMethods/{id}")
}

#[tokio::test]
async fn rule_number_format_needs_the_space_and_is_stored_as_sent() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    for bad in [
        "+12065550003",
        "2065550003",
        "+1 206-555-0003",
        "+1 206 555 0003",
        "+1234 5550003",
        "+1 2065550003x12",
    ] {
        let r = emu
            .post(
                &phones("kim@contoso.com"),
                &t,
                json!({"phoneNumber": bad, "phoneType": "mobile"}),
            )
            .await;
        r.assert_error(400, "badRequest");
    }
    // Syntactic check only: a national trunk 0 is kept, the number is stored exactly as sent.
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+44 07940123966", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = emu.get(&phone("kim@contoso.com", MOBILE), &t).await;
    assert_eq!(r.body["phoneNumber"], json!("+44 07940123966"));
    // Extensions only on office phones.
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 4255550003x77", "phoneType": "office"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = emu
        .patch(
            &phone("kim@contoso.com", MOBILE),
            &t,
            json!({"phoneNumber": "+1 2065550003 "}),
        )
        .await;
    r.assert_error(400, "badRequest");
}

#[tokio::test]
async fn rule_one_phone_per_type() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let r = emu
        .post(
            &phones("lee@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550099", "phoneType": "mobile"}),
        )
        .await;
    r.assert_error(400, "badRequest");
    assert_eq!(
        emu.get(&phone("lee@contoso.com", MOBILE), &t).await.body["phoneNumber"],
        json!("+1 2065550004")
    );
}

#[tokio::test]
async fn rule_alternate_mobile_needs_a_mobile() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550098", "phoneType": "alternateMobile"}),
        )
        .await;
    r.assert_error(400, "badRequest");
    // And a mobile can't be deleted while an alternateMobile exists.
    let r = emu
        .post(
            &phones("sam@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550097", "phoneType": "alternateMobile"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["smsSignInState"], json!("notSupported"));
    emu.delete(&phone("sam@contoso.com", MOBILE), &t)
        .await
        .assert_error(400, "badRequest");
    assert_eq!(
        emu.delete(&phone("sam@contoso.com", ALTERNATE), &t)
            .await
            .status,
        204
    );
    assert_eq!(
        emu.delete(&phone("sam@contoso.com", MOBILE), &t)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn rule_phone_type_is_immutable() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let r = emu
        .patch(
            &phone("lee@contoso.com", OFFICE),
            &t,
            json!({"phoneNumber": "+1 2065550096", "phoneType": "mobile"}),
        )
        .await;
    r.assert_error(400, "badRequest");
    // Sending the unchanged type is fine (the documented example does).
    let r = emu
        .patch(
            &phone("lee@contoso.com", OFFICE),
            &t,
            json!({"phoneNumber": "+1 4255550096", "phoneType": "office"}),
        )
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn rule_default_method_cannot_be_deleted() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let r = emu.delete(&phone("lee@contoso.com", MOBILE), &t).await;
    r.assert_error(400, "badRequest");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default authentication method")
    );
    assert_eq!(
        emu.delete(&phone("lee@contoso.com", OFFICE), &t)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn rule_sms_sign_in_state_is_read_only_and_odata_type_is_accepted() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let r = emu.post(&phones("kim@contoso.com"), &t, json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile", "smsSignInState": "ready"})).await;
    r.assert_error(400, "badRequest");
    let r = emu
        .post(&phones("kim@contoso.com"), &t, json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+1 2065550003", "phoneType": "mobile"}))
        .await;
    assert_eq!(r.status, 201);
    let r = emu
        .patch(&phone("kim@contoso.com", MOBILE), &t, json!({"@odata.type": "microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+1 2065550013"}))
        .await;
    assert_eq!(r.status, 204);
    let r = emu.patch(&phone("kim@contoso.com", MOBILE), &t, json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "phoneNumber": "+1 2065550013"})).await;
    r.assert_error(400, "BadRequest");
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550003", "phoneType": "pager"}),
        )
        .await;
    r.assert_error(400, "badRequest");
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneType": "office"}),
        )
        .await;
    r.assert_error(400, "badRequest");
}

#[tokio::test]
async fn rule_sms_auto_registration_follows_policy_scope() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    // kim is in SMS sign-in policy scope: a new mobile is registered at once.
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(r.body["smsSignInState"], json!("ready"));
    // lee is not: changing the mobile leaves it notAllowedByPolicy.
    assert_eq!(
        emu.patch(
            &phone("lee@contoso.com", MOBILE),
            &t,
            json!({"phoneNumber": "+1 2065550014"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.get(&phone("lee@contoso.com", MOBILE), &t).await.body["smsSignInState"],
        json!("notAllowedByPolicy")
    );
    // Disabling then changing the number re-registers it (in scope).
    let act =
        |id: &str, a: &str| format!("/users/kim@contoso.com/authentication/phoneMethods/{id}/{a}");
    assert_eq!(
        emu.send("POST", &act(MOBILE, "disableSmsSignIn"), &t, None)
            .await
            .status,
        204
    );
    assert_eq!(
        emu.get(&phone("kim@contoso.com", MOBILE), &t).await.body["smsSignInState"],
        json!("notEnabled")
    );
    assert_eq!(
        emu.patch(
            &phone("kim@contoso.com", MOBILE),
            &t,
            json!({"phoneNumber": "+1 2065550023"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.get(&phone("kim@contoso.com", MOBILE), &t).await.body["smsSignInState"],
        json!("ready")
    );
}

#[tokio::test]
async fn rule_sms_uniqueness_409_with_the_phone_saved() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    // sam holds +1 2065550005 for SMS sign-in; kim (in scope) adds the same number.
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550005", "phoneType": "mobile"}),
        )
        .await;
    r.assert_error(409, "phoneNumberNotUnique");
    let r = emu.get(&phone("kim@contoso.com", MOBILE), &t).await;
    assert_eq!(r.status, 200, "the phone was saved");
    assert_eq!(r.body["phoneNumber"], json!("+1 2065550005"));
    assert_eq!(r.body["smsSignInState"], json!("phoneNumberNotUnique"));
    // Enabling it is refused while sam holds it.
    let en = format!("/users/kim@contoso.com/authentication/phoneMethods/{MOBILE}/enableSmsSignIn");
    emu.send("POST", &en, &t, None)
        .await
        .assert_error(409, "phoneNumberNotUnique");
    // The same conflict on update.
    let r = emu
        .patch(
            &phone("kim@contoso.com", MOBILE),
            &t,
            json!({"phoneNumber": "+1 2065550033"}),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = emu
        .patch(
            &phone("kim@contoso.com", MOBILE),
            &t,
            json!({"phoneNumber": "+1 2065550005"}),
        )
        .await;
    r.assert_error(409, "phoneNumberNotUnique");
    assert_eq!(
        emu.get(&phone("kim@contoso.com", MOBILE), &t).await.body["phoneNumber"],
        json!("+1 2065550005")
    );
}

#[tokio::test]
async fn rule_sms_actions_preconditions() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let act =
        |u: &str, id: &str, a: &str| format!("/users/{u}/authentication/phoneMethods/{id}/{a}");
    // Not in policy scope.
    emu.send(
        "POST",
        &act("lee@contoso.com", MOBILE, "enableSmsSignIn"),
        &t,
        None,
    )
    .await
    .assert_error(400, "badRequest");
    // Only on the mobile.
    emu.send(
        "POST",
        &act("lee@contoso.com", OFFICE, "enableSmsSignIn"),
        &t,
        None,
    )
    .await
    .assert_error(400, "badRequest");
    // No mobile.
    emu.send(
        "POST",
        &act("kim@contoso.com", MOBILE, "enableSmsSignIn"),
        &t,
        None,
    )
    .await
    .assert_error(404, "itemNotFound");
    // Disabling out of scope is a no-op 204; enabling in scope works.
    assert_eq!(
        emu.send(
            "POST",
            &act(
                "lee@contoso.com",
                MOBILE,
                "microsoft.graph.disableSmsSignIn"
            ),
            &t,
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.send(
            "POST",
            &act("sam@contoso.com", MOBILE, "disableSmsSignIn"),
            &t,
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.send(
            "POST",
            &act("sam@contoso.com", MOBILE, "enableSmsSignIn"),
            &t,
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.get(&phone("sam@contoso.com", MOBILE), &t).await.body["smsSignInState"],
        json!("ready")
    );
}

#[tokio::test]
async fn errors_not_found_bad_route_and_method() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    emu.get(&phones("nobody@contoso.com"), &t)
        .await
        .assert_error(404, "Request_ResourceNotFound");
    emu.get("/users/nobody@contoso.com", &t)
        .await
        .assert_error(404, "Request_ResourceNotFound");
    emu.get(&phone("kim@contoso.com", MOBILE), &t)
        .await
        .assert_error(404, "itemNotFound");
    emu.get(&phone("kim@contoso.com", "not-a-method"), &t)
        .await
        .assert_error(404, "itemNotFound");
    emu.patch(
        &phone("kim@contoso.com", OFFICE),
        &t,
        json!({"phoneNumber": "+1 4255550000"}),
    )
    .await
    .assert_error(404, "itemNotFound");
    emu.delete(&phone("kim@contoso.com", OFFICE), &t)
        .await
        .assert_error(404, "itemNotFound");
    emu.get("/groups", &t).await.assert_error(400, "BadRequest");
    emu.get("/users/kim@contoso.com/authentication/fooMethods", &t)
        .await
        .assert_error(400, "BadRequest");
    emu.send("PUT", &phones("kim@contoso.com"), &t, Some(json!({})))
        .await
        .assert_error(405, "Request_BadRequest");
    let r = emu
        .http
        .post(format!("{}{}", emu.graph_url(), phones("kim@contoso.com")))
        .bearer_auth(&t)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // An app token on /me.
    emu.get("/me/authentication/phoneMethods", &t)
        .await
        .assert_error(400, "BadRequest");
}

#[tokio::test]
async fn error_headers_echo_client_request_id() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let r = emu.get(&phones("nobody@contoso.com"), &t).await;
    assert_eq!(
        r.header("client-request-id").as_deref(),
        Some("7e57c11e-0000-4000-8000-000000000000")
    );
    assert_eq!(
        r.body["error"]["innerError"]["client-request-id"],
        json!("7e57c11e-0000-4000-8000-000000000000")
    );
    assert!(r.header("date").is_some());
    // Without a client-request-id, one is generated; request ids differ per request.
    let a = emu
        .http
        .get(format!("{}{}", emu.graph_url(), phones("kim@contoso.com")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let b = emu
        .http
        .get(format!("{}{}", emu.graph_url(), phones("kim@contoso.com")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert!(a.headers().get("client-request-id").is_some());
    assert_ne!(a.headers().get("request-id"), b.headers().get("request-id"));
}

// ---------------------------------------------------------------------------------------------------------------
// Permissions and masking

#[tokio::test]
async fn permission_app_roles() {
    let emu = Emu::small().await;
    let ro = emu
        .secret_token("00000000-0000-4000-8000-00000000a002", "r3ad")
        .await;
    // UserAuthMethod-Phone.Read.All: phones readable, nothing else.
    assert_eq!(emu.get(&phones("lee@contoso.com"), &ro).await.status, 200);
    assert_eq!(
        emu.get(&phones("lee@contoso.com"), &ro).await.body["value"][0]["phoneNumber"],
        json!("+1 2065550004")
    );
    emu.post(
        &phones("kim@contoso.com"),
        &ro,
        json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"}),
    )
    .await
    .assert_error(403, "accessDenied");
    emu.delete(&phone("lee@contoso.com", OFFICE), &ro)
        .await
        .assert_error(403, "accessDenied");
    emu.get("/users/lee@contoso.com/authentication/methods", &ro)
        .await
        .assert_error(403, "accessDenied");
    emu.get("/users/lee@contoso.com", &ro)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    emu.get("/users?$filter=userPrincipalName eq 'lee@contoso.com'", &ro)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    // No roles at all.
    let none = emu.token(TokenSpec::app(&[]));
    emu.get(&phones("lee@contoso.com"), &none)
        .await
        .assert_error(403, "accessDenied");
    // Read-write app: everything phone-related, but resetPassword and operations are delegated-only.
    let rw = emu.app_token().await;
    let reset = "/users/kim@contoso.com/authentication/methods/28c10230-6103-485e-b985-444c60001490/resetPassword";
    emu.post(reset, &rw, json!({"newPassword": "Fine-Pass1!"}))
        .await
        .assert_error(403, "accessDenied");
    emu.get("/users/kim@contoso.com/authentication/operations/x", &rw)
        .await
        .assert_error(403, "accessDenied");
}

#[tokio::test]
async fn permission_delegated_roles_and_self() {
    let emu = Emu::small().await;
    let scopes = ["UserAuthenticationMethod.ReadWrite.All", "User.Read.All"];
    let kim = emu.token(TokenSpec::delegated("kim@contoso.com", &scopes));
    // No directory role: others' methods are refused, own readable.
    emu.get(&phones("lee@contoso.com"), &kim)
        .await
        .assert_error(403, "accessDenied");
    assert_eq!(
        emu.get("/me/authentication/phoneMethods", &kim)
            .await
            .status,
        200
    );
    // Self-service create/update is not supported in v1.0.
    emu.post(
        "/me/authentication/phoneMethods",
        &kim,
        json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"}),
    )
    .await
    .assert_error(403, "accessDenied");
    // The scope matters too: an admin without the .All scope can't touch others.
    let admin_ro = emu.token(TokenSpec::delegated(
        "admin@contoso.com",
        &["UserAuthenticationMethod.Read"],
    ));
    emu.get(&phones("lee@contoso.com"), &admin_ro)
        .await
        .assert_error(403, "accessDenied");
    // Authentication Administrator: reads others (masked), writes non-admins, not admins.
    let help = emu.token(TokenSpec::delegated("helpdesk@contoso.com", &scopes));
    assert_eq!(
        emu.patch(
            &phone("lee@contoso.com", OFFICE),
            &help,
            json!({"phoneNumber": "+1 4255550044"})
        )
        .await
        .status,
        204
    );
    emu.post(
        &phones("admin@contoso.com"),
        &help,
        json!({"phoneNumber": "+1 2065550001", "phoneType": "mobile"}),
    )
    .await
    .assert_error(403, "accessDenied");
    // Privileged Authentication Administrator: admins too.
    let admin = emu.token(TokenSpec::delegated("admin@contoso.com", &scopes));
    assert_eq!(
        emu.post(
            &phones("helpdesk@contoso.com"),
            &admin,
            json!({"phoneNumber": "+1 2065550002", "phoneType": "mobile"})
        )
        .await
        .status,
        201
    );
    // Users are readable by any signed-in user with User.Read.All.
    assert_eq!(emu.get("/users/lee@contoso.com", &kim).await.status, 200);
}

#[tokio::test]
async fn masking_for_callers_without_full_read_rights() {
    let emu = Emu::small().await;
    let scopes = ["UserAuthenticationMethod.Read.All"];
    let help = emu.token(TokenSpec::delegated("helpdesk@contoso.com", &scopes));
    let admin = emu.token(TokenSpec::delegated("admin@contoso.com", &scopes));
    let masked = emu.get(&phones("lee@contoso.com"), &help).await;
    assert_eq!(masked.status, 200);
    let n = masked.body["value"][0]["phoneNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(n, "+1 XXXXXXXX04");
    // Masked numbers have characters outside [0-9 +x] (how authctl detects them), also in the methods list.
    let m = emu
        .get("/users/lee@contoso.com/authentication/methods", &help)
        .await;
    let phone = m.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["phoneType"] == json!("office"))
        .unwrap()
        .clone();
    assert!(phone["phoneNumber"].as_str().unwrap().contains('X'));
    // Global Reader sees masked numbers too (emulator's choice); PAA and apps see full numbers.
    let full = emu.get(&phones("lee@contoso.com"), &admin).await;
    assert_eq!(full.body["value"][0]["phoneNumber"], json!("+1 2065550004"));
    let reader = emu.token(TokenSpec {
        wids: Some(vec!["f2ef992c-3afb-46b9-b7cf-a126ee74c451".into()]),
        ..TokenSpec::delegated("kim@contoso.com", &scopes)
    });
    assert!(
        emu.get(&phones("lee@contoso.com"), &reader).await.body["value"][0]["phoneNumber"]
            .as_str()
            .unwrap()
            .contains('X')
    );
    // The mask style varies with the seed.
    let emu2 = Emu::start_with(SMALL_TENANT, |o| o.seed = 4).await;
    let help2 = emu2.token(TokenSpec::delegated("helpdesk@contoso.com", &scopes));
    let n2 = emu2.get(&phones("lee@contoso.com"), &help2).await.body["value"][0]["phoneNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(n2, "+1 206*****04");
    assert_ne!(n, n2);
}

// ---------------------------------------------------------------------------------------------------------------
// Password reset

const RESET: &str = "/authentication/methods/28c10230-6103-485e-b985-444c60001490/resetPassword";

async fn poll_to_end(emu: &Emu, location: &str, token: &str) -> Value {
    for _ in 0..10 {
        let r = emu.get(location, token).await;
        assert!(matches!(r.status, 200 | 202), "{}", r.body);
        if matches!(r.body["status"].as_str(), Some("succeeded" | "failed")) {
            return r.body;
        }
        assert!(r.header("retry-after").is_some());
    }
    panic!("operation never ended");
}

#[tokio::test]
async fn reset_password_never_on_own_account() {
    let emu = Emu::small().await;
    let admin = emu.delegated("admin@contoso.com");
    emu.post(&format!("/me{RESET}"), &admin, json!({}))
        .await
        .assert_error(403, "accessDenied");
    emu.post(
        &format!("/users/admin@contoso.com{RESET}"),
        &admin,
        json!({}),
    )
    .await
    .assert_error(403, "accessDenied");
}

#[tokio::test]
async fn reset_password_role_rules() {
    let emu = Emu::small().await;
    let help = emu.delegated("helpdesk@contoso.com");
    // Authentication Administrator: non-admins yes, admins no.
    assert_eq!(
        emu.post(&format!("/users/kim@contoso.com{RESET}"), &help, json!({}))
            .await
            .status,
        202
    );
    emu.post(
        &format!("/users/admin@contoso.com{RESET}"),
        &help,
        json!({}),
    )
    .await
    .assert_error(403, "accessDenied");
    // No role: no.
    let kim = emu.delegated("kim@contoso.com");
    emu.post(&format!("/users/lee@contoso.com{RESET}"), &kim, json!({}))
        .await
        .assert_error(403, "accessDenied");
    // Only the password method id.
    let admin = emu.delegated("admin@contoso.com");
    emu.post(
        &format!("/users/kim@contoso.com/authentication/methods/{MOBILE}/resetPassword"),
        &admin,
        json!({}),
    )
    .await
    .assert_error(404, "itemNotFound");
}

#[tokio::test]
async fn reset_password_synced_users_need_new_password() {
    let emu = Emu::small().await;
    let admin = emu.delegated("admin@contoso.com");
    emu.post(&format!("/users/sam@contoso.com{RESET}"), &admin, json!({}))
        .await
        .assert_error(400, "badRequest");
    let r = emu
        .post(
            &format!("/users/sam@contoso.com{RESET}"),
            &admin,
            json!({"newPassword": "Sam-Newpass1!"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let end = poll_to_end(&emu, &r.header("location").unwrap(), &admin).await;
    assert_eq!(end["status"], json!("succeeded"));
}

#[tokio::test]
async fn reset_password_banned_password_fails_the_operation() {
    let emu = Emu::small().await;
    let admin = emu.delegated("admin@contoso.com");
    let r = emu
        .post(
            &format!("/users/kim@contoso.com{RESET}"),
            &admin,
            json!({"newPassword": "Contoso2026!"}),
        )
        .await;
    assert_eq!(r.status, 202, "accepted: the check runs in the operation");
    let end = poll_to_end(&emu, &r.header("location").unwrap(), &admin).await;
    assert_eq!(end["status"], json!("failed"));
    assert!(end["statusDetail"].as_str().unwrap().contains("banned"));
    assert_eq!(
        emu.snapshot()
            .user("kim@contoso.com")
            .unwrap()
            .password
            .as_deref(),
        Some("Kim-Pass1!")
    );
    // Another user can't read this user's operation through their own path.
    let id = r
        .header("location")
        .unwrap()
        .split("/operations/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    emu.get(
        &format!("/users/lee@contoso.com/authentication/operations/{id}"),
        &admin,
    )
    .await
    .assert_error(404, "itemNotFound");
}

#[tokio::test]
async fn reset_password_configured_failure_outcome() {
    let yaml = format!(
        "{SMALL_TENANT}operations:\n  runningPolls: 2\n  outcome: failed\n  failureDetail: Writeback refused the password.\n"
    );
    let emu = Emu::start(&yaml).await;
    let admin = emu.delegated("admin@contoso.com");
    let r = emu
        .post(&format!("/users/kim@contoso.com{RESET}"), &admin, json!({}))
        .await;
    let loc = r.header("location").unwrap();
    let statuses: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(
                emu.get(&loc, &admin).await.body["status"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        v
    };
    assert_eq!(
        statuses,
        ["notStarted", "running", "running", "failed", "failed"]
    );
    let end = emu
        .get(&format!("{loc}&$select=status,statusDetail"), &admin)
        .await;
    assert_eq!(
        end.body["statusDetail"],
        json!("Writeback refused the password.")
    );
    assert!(end.body.get("createdDateTime").is_none(), "$select applies");
}

// ---------------------------------------------------------------------------------------------------------------
// Users: lookup, $select, $filter, paging

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn users_get_by_id_and_upn_with_select() {
    let emu = Emu::example().await;
    let t = emu.app_token().await;
    let r = emu
        .get("/users/4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e", &t)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["userPrincipalName"], json!("NestorW@contoso.com"));
    assert!(
        r.body.get("onPremisesSyncEnabled").is_none(),
        "not in Graph's default set"
    );
    // Guest UPN with #EXT#, percent-encoded in the path; UPNs match case-insensitively.
    let guest = "jordan.guest_fabrikam.com#EXT#@contoso.onmicrosoft.com";
    let path: String =
        percent_encoding::utf8_percent_encode(guest, percent_encoding::NON_ALPHANUMERIC).collect();
    let r = emu
        .get(
            &format!("/users/{path}?$select=id,userPrincipalName,onPremisesSyncEnabled"),
            &t,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["userPrincipalName"], json!(guest));
    assert_eq!(r.body["onPremisesSyncEnabled"], Value::Null);
    assert!(r.body.get("displayName").is_none());
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap()
            .contains("users(id,userPrincipalName,onPremisesSyncEnabled)")
    );
    let r = emu
        .get(
            "/users/pattif@CONTOSO.com?$select=onPremisesSyncEnabled",
            &t,
        )
        .await;
    assert_eq!(r.body["onPremisesSyncEnabled"], json!(true));
    let r = emu.get("/users/o'brien.pat@contoso.com", &t).await;
    assert_eq!(r.status, 200);
    emu.get("/users/AdeleV@contoso.com?$select=shoeSize", &t)
        .await
        .assert_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn users_filter_in_with_quotes_and_ext() {
    let emu = Emu::example().await;
    let t = emu.app_token().await;
    let f = "userPrincipalName in ('o''brien.pat@contoso.com','jordan.guest_fabrikam.com#EXT#@contoso.onmicrosoft.com','adelev@contoso.com','nobody@contoso.com')";
    let r = emu
        .get(
            &format!("/users?$filter={}&$select=id,userPrincipalName", enc(f)),
            &t,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut upns: Vec<String> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_string())
        .collect();
    upns.sort();
    assert_eq!(
        upns,
        [
            "AdeleV@contoso.com",
            "jordan.guest_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "o'brien.pat@contoso.com"
        ]
    );
    let r = emu
        .get(
            &format!(
                "/users?$filter={}",
                enc("id eq '4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e'")
            ),
            &t,
        )
        .await;
    assert_eq!(
        r.body["value"][0]["userPrincipalName"],
        json!("NestorW@contoso.com")
    );
    // More than 15 values, or a malformed filter: 400.
    let many: Vec<String> = (0..16).map(|i| format!("'u{i}@contoso.com'")).collect();
    emu.get(
        &format!(
            "/users?$filter={}",
            enc(&format!("userPrincipalName in ({})", many.join(",")))
        ),
        &t,
    )
    .await
    .assert_error(400, "Request_UnsupportedQuery");
    emu.get(
        &format!("/users?$filter={}", enc("userPrincipalName in ('a")),
        &t,
    )
    .await
    .assert_error(400, "Request_BadRequest");
    emu.get(&format!("/users?$filter={}", enc("city eq 'Paris'")), &t)
        .await
        .assert_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn users_filter_pages_with_next_link_on_the_emulator_host() {
    let emu = Emu::start_with(EXAMPLE_TENANT, |o| o.page_size = Some(2)).await;
    let t = emu.app_token().await;
    let upns = [
        "AdeleV@contoso.com",
        "AlexW@contoso.com",
        "DiegoS@contoso.com",
        "GradyA@contoso.com",
        "o'brien.pat@contoso.com",
    ];
    let list: Vec<String> = upns
        .iter()
        .map(|u| format!("'{}'", u.replace('\'', "''")))
        .collect();
    let mut next = Some(format!(
        "{}/users?$filter={}&$select=id,userPrincipalName",
        emu.graph_url(),
        enc(&format!("userPrincipalName in ({})", list.join(",")))
    ));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(url) = next {
        assert!(
            url.starts_with(&emu.url()),
            "nextLink on the emulator's host: {url}"
        );
        let r = emu.get(&url, &t).await;
        assert_eq!(r.status, 200);
        pages += 1;
        for u in r.body["value"].as_array().unwrap() {
            seen.push(u["userPrincipalName"].as_str().unwrap().to_string());
        }
        next = r.body["@odata.nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(pages, 3);
    seen.sort();
    let mut want: Vec<String> = upns.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
}

// ---------------------------------------------------------------------------------------------------------------
// $batch

#[tokio::test]
async fn batch_limits_and_ids() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let item = |id: String| json!({"id": id, "method": "GET", "url": "/users/kim@contoso.com/authentication/phoneMethods"});
    let r = emu
        .post(
            "/$batch",
            &t,
            json!({"requests": (0..21).map(|i| item(i.to_string())).collect::<Vec<_>>()}),
        )
        .await;
    r.assert_error(400, "BadRequest");
    assert_eq!(
        emu.post(
            "/$batch",
            &t,
            json!({"requests": (0..20).map(|i| item(i.to_string())).collect::<Vec<_>>()})
        )
        .await
        .status,
        200
    );
    // Ids are unique case-insensitively.
    emu.post(
        "/$batch",
        &t,
        json!({"requests": [item("a".into()), item("A".into())]}),
    )
    .await
    .assert_error(400, "BadRequest");
    emu.post("/$batch", &t, json!({"requests": [{"id": "1", "method": "GET", "url": "/users/kim@contoso.com", "dependsOn": ["9"]}]})).await.assert_error(400, "BadRequest");
    emu.post("/$batch", &t, json!({"nope": []}))
        .await
        .assert_error(400, "BadRequest");
    emu.post("/$batch", "", json!({"requests": []}))
        .await
        .assert_error(401, "InvalidAuthenticationToken");
}

#[tokio::test]
async fn batch_items_have_their_own_status_and_dependencies_fail_with_424() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users/nobody@contoso.com/authentication/phoneMethods"},
        {"id": "2", "method": "POST", "url": "/users/kim@contoso.com/authentication/phoneMethods", "dependsOn": ["1"],
         "headers": {"Content-Type": "application/json"}, "body": {"phoneNumber": "+1 2065550003", "phoneType": "mobile"}},
        {"id": "3", "method": "POST", "url": "/users/kim@contoso.com/authentication/phoneMethods",
         "body": {"phoneNumber": "+1 2065550003", "phoneType": "mobile"}},
        {"id": "4", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users/lee@contoso.com/authentication/phoneMethods"},
    ]});
    let r = emu.post("/$batch", &t, body).await;
    assert_eq!(r.status, 200);
    let get = |id: &str| {
        r.body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(id))
            .unwrap()
            .clone()
    };
    assert_eq!(get("1")["status"], json!(404));
    assert_eq!(
        get("1")["body"]["error"]["code"],
        json!("Request_ResourceNotFound")
    );
    assert_eq!(get("2")["status"], json!(424));
    assert_eq!(
        get("3")["status"],
        json!(400),
        "a body needs a Content-Type header"
    );
    assert_eq!(get("4")["status"], json!(200));
    assert_eq!(get("4")["body"]["value"].as_array().unwrap().len(), 2);
    // Nothing was created.
    assert!(
        emu.snapshot()
            .user("kim@contoso.com")
            .unwrap()
            .phones
            .is_empty()
    );
    let s = emu.stats();
    assert_eq!(s.batches, 1);
    assert_eq!(s.batch_items, 4);
    assert_eq!(
        s.count("GET /users/{id}/authentication/phoneMethods", 404),
        1
    );
    assert_eq!(
        s.successful_for(
            small_id("lee"),
            "GET /users/{id}/authentication/phoneMethods"
        ),
        1
    );
}

#[tokio::test]
async fn batch_response_order_varies_with_the_seed() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.seed = 32).await;
    let t = emu.app_token().await;
    let items: Vec<Value> = ["1", "2", "3"]
        .iter()
        .map(|id| json!({"id": id, "method": "GET", "url": "/users/lee@contoso.com"}))
        .collect();
    let body = json!({ "requests": items });
    let r = emu.post("/$batch", &t, body).await;
    let ids: Vec<&str> = r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["3", "2", "1"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn throttled_run_sees_429_with_retry_after_and_recovers_on_the_clock() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.throttle = Some("3/1s".parse().unwrap())).await;
    let t = emu.app_token().await;
    for _ in 0..3 {
        assert_eq!(emu.get(&phones("lee@contoso.com"), &t).await.status, 200);
    }
    let r = emu.get(&phones("lee@contoso.com"), &t).await;
    r.assert_error(429, "TooManyRequests");
    let ra: f64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(ra > 0.0 && ra <= 1.0, "{ra}");
    emu.clock.advance(Duration::from_secs_f64(ra));
    assert_eq!(emu.get(&phones("lee@contoso.com"), &t).await.status, 200);
    // Batch items are charged one by one: a 3-item batch after a full window gets one 429 item with Retry-After.
    emu.clock.advance(Duration::from_secs(1));
    let body = json!({"requests": (1..=4).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/lee@contoso.com/authentication/phoneMethods"})).collect::<Vec<_>>()});
    let r = emu.post("/$batch", &t, body).await;
    assert_eq!(r.status, 200);
    let throttled: Vec<&Value> = r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == json!(429))
        .collect();
    assert_eq!(throttled.len(), 1);
    assert!(throttled[0]["headers"]["Retry-After"].is_string());
    assert_eq!(emu.stats().throttled, 2);
}

#[tokio::test]
async fn write_bucket_throttles_only_writes() {
    let emu = Emu::start_with(SMALL_TENANT, |o| {
        o.write_throttle = Some("2/150s".parse().unwrap())
    })
    .await;
    let t = emu.app_token().await;
    for n in ["+1 4255550101", "+1 4255550102"] {
        assert_eq!(
            emu.patch(
                &phone("lee@contoso.com", OFFICE),
                &t,
                json!({"phoneNumber": n})
            )
            .await
            .status,
            204
        );
    }
    let r = emu
        .patch(
            &phone("lee@contoso.com", OFFICE),
            &t,
            json!({"phoneNumber": "+1 4255550103"}),
        )
        .await;
    r.assert_error(429, "TooManyRequests");
    assert_eq!(r.header("retry-after").as_deref(), Some("75"));
    assert_eq!(
        emu.get(&phone("lee@contoso.com", OFFICE), &t).await.body["phoneNumber"],
        json!("+1 4255550102"),
        "not applied"
    );
}

async fn fault_sequence(seed: u64) -> Vec<u16> {
    let emu = Emu::start_with(SMALL_TENANT, |o| {
        o.seed = seed;
        o.fail_prob = 0.3;
    })
    .await;
    let t = emu.app_token().await;
    let mut out = Vec::new();
    for _ in 0..40 {
        let r = emu.get(&phones("lee@contoso.com"), &t).await;
        if r.status == 503 {
            r.assert_error(503, "serviceNotAvailable");
        }
        out.push(r.status);
    }
    out
}

#[tokio::test]
async fn same_seed_same_fault_sequence() {
    let a = fault_sequence(7).await;
    let b = fault_sequence(7).await;
    let c = fault_sequence(8).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn dropped_connection_after_the_write_was_applied() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.drop_prob = 1.0).await;
    let t = emu.handle.mint_token(TokenSpec::default());
    let r = emu
        .http
        .post(format!("{}{}", emu.graph_url(), phones("kim@contoso.com")))
        .bearer_auth(&t)
        .json(&json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"}))
        .send()
        .await;
    assert!(r.is_err(), "no answer: {r:?}");
    // The create happened although nobody was told (the client must re-read: outcome unknown).
    assert_eq!(
        emu.snapshot().user("kim@contoso.com").unwrap().phones.len(),
        1
    );
    assert_eq!(emu.stats().dropped, 1);
}

#[tokio::test]
async fn latency_uses_the_clock_and_a_batch_costs_one() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.latency = Duration::from_millis(20)).await;
    let t = emu.handle.mint_token(TokenSpec::default());
    let t0 = emu.handle.state().now();
    emu.get(&phones("lee@contoso.com"), &t).await;
    assert_eq!(
        authctl::clock::since(emu.handle.state().now(), t0),
        Duration::from_millis(20)
    );
    let body = json!({"requests": (1..=5).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/lee@contoso.com"})).collect::<Vec<_>>()});
    emu.post("/$batch", &t, body).await;
    assert_eq!(
        authctl::clock::since(emu.handle.state().now(), t0),
        Duration::from_millis(40)
    );
}

#[tokio::test]
async fn lag_reads_see_the_state_of_lag_ago() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.lag = Duration::from_secs(5)).await;
    let t = emu.app_token().await;
    assert_eq!(
        emu.patch(
            &phone("lee@contoso.com", OFFICE),
            &t,
            json!({"phoneNumber": "+1 4255550555"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.get(&phone("lee@contoso.com", OFFICE), &t).await.body["phoneNumber"],
        json!("+1 4255550004x12"),
        "old value"
    );
    assert_eq!(
        emu.post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"})
        )
        .await
        .status,
        201
    );
    assert_eq!(
        emu.get(&phones("kim@contoso.com"), &t).await.body["value"],
        json!([]),
        "not yet visible"
    );
    emu.clock.advance(Duration::from_secs(5));
    assert_eq!(
        emu.get(&phone("lee@contoso.com", OFFICE), &t).await.body["phoneNumber"],
        json!("+1 4255550555")
    );
    assert_eq!(
        emu.get(&phones("kim@contoso.com"), &t).await.body["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn stats_endpoint_counts_routes_statuses_batches_and_429s() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.throttle = Some("2/1s".parse().unwrap())).await;
    let t = emu.handle.mint_token(TokenSpec::default());
    emu.get(&phones("lee@contoso.com"), &t).await;
    emu.get(&phones("nobody@contoso.com"), &t).await;
    emu.get(&phones("lee@contoso.com"), &t).await;
    let s: Value = emu
        .http
        .get(format!("{}/_emulator/stats", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        s["byRoute"]["GET /users/{id}/authentication/phoneMethods"]["200"],
        json!(1)
    );
    assert_eq!(
        s["byRoute"]["GET /users/{id}/authentication/phoneMethods"]["404"],
        json!(1)
    );
    assert_eq!(
        s["byRoute"]["GET /users/{id}/authentication/phoneMethods"]["429"],
        json!(1)
    );
    assert_eq!(s["throttled"], json!(1));
    assert_eq!(s["httpRequests"], json!(3));
}

// ---------------------------------------------------------------------------------------------------------------
// Persistence, crash safety, the binary

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn persist_journals_replays_and_folds() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();
    let journal = dir.path().join("tenant.yaml.journal");
    let options =
        |clock: std::sync::Arc<authctl::clock::VirtualClock>| authctl::emulator::Options {
            persist: Some(state.clone()),
            clock,
            ..Default::default()
        };
    let clock = authctl::clock::VirtualClock::fixed();
    let h = authctl::emulator::spawn(
        authctl::emulator::load_tenant(&state).unwrap(),
        options(clock.clone()),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let t = h.mint_token(TokenSpec::default());
    let r = http
        .post(format!(
            "{}/users/kim@contoso.com/authentication/phoneMethods",
            h.graph_url()
        ))
        .bearer_auth(&t)
        .json(&json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    #[cfg(unix)]
    assert_eq!(mode(&journal), 0o600);
    assert!(
        std::fs::read_to_string(&journal)
            .unwrap()
            .contains("+1 2065550003")
    );
    // No clean shutdown (as after a crash): the file is untouched, the journal holds the change.
    drop(h);
    assert!(
        !std::fs::read_to_string(&state)
            .unwrap()
            .contains("+1 2065550003")
    );
    let h = authctl::emulator::spawn(
        authctl::emulator::load_tenant(&state).unwrap(),
        options(clock),
    )
    .await
    .unwrap();
    assert_eq!(
        h.snapshot().user("kim@contoso.com").unwrap().phones[&authctl::model::PhoneType::Mobile]
            .number,
        "+1 2065550003"
    );
    // Clean shutdown folds the journal into the file (atomically, 0600) and empties it.
    h.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("+1 2065550003"));
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "");
    #[cfg(unix)]
    assert_eq!(mode(&state), 0o600);
    // The folded file is a valid tenant file with the same users.
    let t2 = authctl::emulator::Tenant::from_yaml(&text).unwrap();
    assert_eq!(t2.users.len(), 5);
    assert_eq!(t2, authctl::emulator::load_tenant(&state).unwrap());
}

async fn small_token(url: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!(
            "{url}/00000000-0000-4000-8000-0000000000aa/oauth2/v2.0/token"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "00000000-0000-4000-8000-00000000a001"),
            ("client_secret", "s3cret"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn binary_prints_its_url_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();
    let p = EmulatorProcess::start(&state, &["--persist"]);
    let token = small_token(&p.url).await;
    let r = reqwest::Client::new()
        .patch(format!(
            "{}/v1.0/users/lee@contoso.com/authentication/phoneMethods/{OFFICE}",
            p.url
        ))
        .bearer_auth(&token)
        .json(&json!({"phoneNumber": "+1 4255550777"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    p.signal("TERM");
    assert_eq!(p.wait(), Some(0));
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .contains("+1 4255550777"),
        "folded at clean stop"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tenant.yaml.journal")).unwrap(),
        ""
    );
}

#[tokio::test]
async fn binary_serves_the_example_tenant() {
    let p = EmulatorProcess::start(&repo_path("examples/tenant.yaml"), &[]);
    let token = reqwest::Client::new()
        .post(format!(
            "{}/9b1e2f4a-6c3d-4e8f-a1b2-c3d4e5f6a7b8/oauth2/v2.0/token",
            p.url
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", RW_CLIENT_ID),
            ("client_secret", RW_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r: Value = reqwest::Client::new()
        .get(format!(
            "{}/v1.0/users/AdeleV@contoso.com/authentication/methods",
            p.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["value"].as_array().unwrap().len() >= 3);
    p.signal("INT");
    assert_eq!(p.wait(), Some(0));
}

#[tokio::test]
async fn crash_safety_sigkill_during_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();
    let p = EmulatorProcess::start(&state, &["--persist"]);
    let token = small_token(&p.url).await;
    let users = ["kim", "lee", "sam", "helpdesk", "admin"];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, String)>();
    let url = p.url.clone();
    // A stream of writes: office numbers of five users, each acknowledged write reported as it is answered.
    let writer = tokio::spawn(async move {
        let http = reqwest::Client::new();
        for k in 0..100_000usize {
            let u = users[k % users.len()];
            let number = format!("+1 42555{k:05}");
            let r = http
                .patch(format!(
                    "{url}/v1.0/users/{u}@contoso.com/authentication/phoneMethods/{OFFICE}"
                ))
                .bearer_auth(&token)
                .json(&json!({"phoneNumber": number}))
                .send()
                .await;
            // The office phone may not exist yet: create it.
            let r = match r {
                Ok(r) if r.status().as_u16() == 404 => {
                    http.post(format!(
                        "{url}/v1.0/users/{u}@contoso.com/authentication/phoneMethods"
                    ))
                    .bearer_auth(&token)
                    .json(&json!({"phoneNumber": number, "phoneType": "office"}))
                    .send()
                    .await
                }
                other => other,
            };
            match r {
                Ok(r) if r.status().is_success() => {
                    if tx.send((k, number)).is_err() {
                        return k;
                    }
                }
                Ok(r) => panic!("write {k} refused: {}", r.status()),
                Err(_) => return k,
            }
        }
        100_000
    });
    let mut acked: Vec<(usize, String)> = Vec::new();
    while let Some(a) = rx.recv().await {
        acked.push(a);
        if acked.len() == 60 {
            p.signal("KILL");
            break;
        }
    }
    let in_flight = writer.await.unwrap();
    while let Ok(a) = rx.try_recv() {
        acked.push(a);
    }
    assert_eq!(p.wait(), None, "killed by a signal");
    assert!(acked.len() >= 60);
    // Restart from the files: every acknowledged write is there (the one in flight at the kill may or may not be).
    let tenant_after = {
        let p2 = EmulatorProcess::start(&state, &["--persist"]);
        let t = small_token(&p2.url).await;
        let mut out = std::collections::BTreeMap::new();
        for u in users {
            let r: Value = reqwest::Client::new()
                .get(format!(
                    "{}/v1.0/users/{u}@contoso.com/authentication/phoneMethods/{OFFICE}",
                    p2.url
                ))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            out.insert(u, r["phoneNumber"].as_str().map(str::to_string));
        }
        p2.signal("TERM");
        assert_eq!(p2.wait(), Some(0));
        out
    };
    for (i, u) in users.iter().enumerate() {
        let last_acked = acked
            .iter()
            .rev()
            .find(|(k, _)| k % users.len() == i)
            .map(|(_, n)| n.clone());
        let in_flight_number =
            (in_flight % users.len() == i).then(|| format!("+1 42555{in_flight:05}"));
        let got = tenant_after[u].clone();
        assert!(
            got == last_acked || (in_flight_number.is_some() && got == in_flight_number),
            "{u}: stored {got:?}, last acknowledged {last_acked:?}"
        );
    }
}

#[tokio::test]
async fn persist_without_changes_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, EXAMPLE_TENANT).unwrap();
    let options = authctl::emulator::Options {
        persist: Some(state.clone()),
        ..Default::default()
    };
    let h = authctl::emulator::spawn(authctl::emulator::load_tenant(&state).unwrap(), options)
        .await
        .unwrap();
    let t = h.mint_token(TokenSpec::default());
    let r = reqwest::Client::new()
        .get(format!(
            "{}/users/AdeleV@contoso.com/authentication/phoneMethods",
            h.graph_url()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    h.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        EXAMPLE_TENANT,
        "comments kept: nothing to fold"
    );
}

/// The properties an entity type declares in the schema (its own, its base types', and `id`).
fn schema_properties(schema: &Value, entity: &str) -> Vec<String> {
    let mut out = vec!["id".to_string(), "createdDateTime".to_string()];
    let mut name = format!("microsoft.graph.{entity}");
    while let Some(t) = schema["entityTypes"].get(&name) {
        if let Some(p) = t["properties"].as_object() {
            out.extend(p.keys().cloned());
        }
        match t["baseType"].as_str() {
            Some(b) => name = b.to_string(),
            None => break,
        }
    }
    out
}

fn enum_members(schema: &Value, name: &str) -> Vec<String> {
    schema["enums"][format!("microsoft.graph.{name}")]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn conformance_schema_property_names_enums_and_well_known_ids() {
    let schema = graph_example("schema");
    let phone_props = schema_properties(&schema, "phoneAuthenticationMethod");
    let op_props = schema_properties(&schema, "longRunningOperation");
    let phone_types = enum_members(&schema, "authenticationPhoneType");
    let sms_states = enum_members(&schema, "authenticationMethodSignInState");
    let op_states = enum_members(&schema, "longRunningOperationStatus");
    let ids = &schema["wellKnownIds"];
    let emu = Emu::example().await;
    let t = emu.app_token().await;
    let mut seen_states = std::collections::BTreeSet::new();
    for u in emu.snapshot().users {
        let r = emu.get(&phones(&u.id), &t).await;
        assert_eq!(r.status, 200);
        for p in r.body["value"].as_array().unwrap() {
            for k in p.as_object().unwrap().keys() {
                assert!(
                    phone_props.contains(k),
                    "{k} is not a phoneAuthenticationMethod property"
                );
            }
            let ty = p["phoneType"].as_str().unwrap();
            assert!(phone_types.iter().any(|x| x == ty));
            assert_eq!(p["id"], ids["phoneAuthenticationMethod"][ty]);
            let st = p["smsSignInState"].as_str().unwrap();
            assert!(sms_states.iter().any(|x| x == st), "{st}");
            seen_states.insert(st.to_string());
        }
        let r = emu
            .get(
                &format!("/users/{}/authentication/passwordMethods", u.id),
                &t,
            )
            .await;
        assert_eq!(
            r.body["value"][0]["id"],
            ids["passwordAuthenticationMethod"]
        );
    }
    assert!(
        seen_states.len() >= 5,
        "the example tenant shows most states: {seen_states:?}"
    );
    let admin = emu.delegated("admin@contoso.com");
    let r = emu
        .post(
            &format!("/users/CameronW@contoso.com{RESET}"),
            &admin,
            json!({}),
        )
        .await;
    let loc = r.header("location").unwrap();
    for _ in 0..3 {
        let r = emu.get(&loc, &admin).await;
        for k in r
            .body
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !k.starts_with('@'))
        {
            assert!(
                op_props.contains(k),
                "{k} is not a longRunningOperation property"
            );
        }
        assert!(
            op_states
                .iter()
                .any(|x| x == r.body["status"].as_str().unwrap())
        );
    }
}
