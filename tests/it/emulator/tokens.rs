//! The token side: every grant type of the token endpoint (secret, certificate and federated assertions, device
//! code, refresh token), its AADSTS error bodies, Graph's 401s and OpenID discovery.

use super::*;

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
    let text = body["error_description"].as_str().unwrap();
    assert!(
        text.contains(&format!("for a secret added to app '{RW_CLIENT_ID}'"))
            && !text.contains("{client_id}"),
        "names the app: {text}"
    );
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
    // Privileged Authentication Administrator and Authentication Policy Administrator (examples/tenant.yaml).
    assert_eq!(
        c["wids"],
        json!([
            "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
            "0526716b-113d-4c15-b2c8-68e3c22b9f80"
        ])
    );
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

#[tokio::test]
async fn graph_401_www_authenticate_names_graphs_client_id_also_on_batch() {
    let emu = Emu::example().await;
    let want = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#;
    let r = emu
        .get("/users/AdeleV@contoso.com/authentication/phoneMethods", "")
        .await;
    r.assert_error(401, "InvalidAuthenticationToken");
    assert_eq!(r.header("www-authenticate").as_deref(), Some(want));
    let b = emu
        .post("/$batch", "not.a.jwt", json!({"requests": []}))
        .await;
    b.assert_error(401, "InvalidAuthenticationToken");
    assert_eq!(b.header("www-authenticate").as_deref(), Some(want));
}

#[tokio::test]
async fn device_code_verification_uri_serves_a_sign_in_page_that_approves() {
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
    let uri = dc["verification_uri"].as_str().unwrap().to_string();
    assert_eq!(uri, format!("{}/devicelogin", emu.url()));
    let page = emu.http.get(&uri).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("name=\"user_code\""));
    let submit = |password: &'static str| {
        emu.http
            .post(&uri)
            .form(&[
                ("user_code", dc["user_code"].as_str().unwrap()),
                ("upn", "admin@contoso.com"),
                ("password", password),
            ])
            .send()
    };
    let wrong = submit("nope").await.unwrap();
    assert_eq!(wrong.status().as_u16(), 400);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(wrong["error_codes"], json!([50126]));
    assert_eq!(
        submit("Admin-Passw0rd!").await.unwrap().status().as_u16(),
        200
    );
    let (s, b) = emu
        .token_request(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", RW_CLIENT_ID),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["access_token"].is_string());
}

/// Delegated grants return what MSAL and azure-identity read besides the access token: an `id_token` (v2.0 claims:
/// `aud` = the app, `iss` = the discovery issuer, `tid`, `oid`, `preferred_username`) and `client_info`.
#[tokio::test]
async fn device_code_grant_returns_an_id_token_and_client_info() {
    use base64::Engine;
    let emu = Emu::start_with(EXAMPLE_TENANT, |o| o.auto_approve_device_code = true).await;
    let dc: Value = emu
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
                "https://graph.microsoft.com/.default openid profile offline_access",
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (s, b) = emu
        .token_request(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", RW_CLIENT_ID),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(s, 200, "{b}");
    let id = claims(b["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], json!(RW_CLIENT_ID));
    assert_eq!(
        id["iss"],
        json!(format!("{}/{}/v2.0", emu.url(), emu.tenant_id()))
    );
    assert_eq!(id["tid"], json!(emu.tenant_id()));
    assert_eq!(id["preferred_username"], json!("admin@contoso.com"));
    let info: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["uid"], id["oid"]);
    assert_eq!(info["utid"], json!(emu.tenant_id()));
}
