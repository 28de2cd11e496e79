//! Integration tests: the Graph emulator, one file per job (as `src/emulator/graph/` is split). This file holds the
//! tenant and helpers several of them share.

mod batch;
mod binary;
mod client_assertions;
mod conformance;
mod faults;
mod graph_calls;
mod groups;
mod method_types;
mod password;
mod permissions;
mod phone_rules;
mod policy;
mod refusals;
mod sessions;
mod sms_policy;
mod tls;
mod tokens;
mod users;

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

fn phones(user: &str) -> String {
    format!("/users/{user}/authentication/phoneMethods")
}

fn phone(user: &str, id: &str) -> String {
    format!("/users/{user}/authentication/phoneMethods/{id}")
}

const RESET: &str = "/authentication/methods/28c10230-6103-485e-b985-444c60001490/resetPassword";

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
