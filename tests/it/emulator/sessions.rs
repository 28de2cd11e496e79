//! `revokeSignInSessions`: its permissions and roles, Graph's `{"value": true}` answer, and the user's
//! `signInSessionsValidFromDateTime`.

use super::*;

#[tokio::test]
async fn revoke_sign_in_sessions_answers_true_and_stamps_the_user() {
    let emu = Emu::small().await;
    let kim = "/users/kim@contoso.com/revokeSignInSessions";
    let app = emu.token(TokenSpec::app(&[
        "User.RevokeSessions.All",
        "User.Read.All",
    ]));
    let r = emu.post(kim, &app, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!(true));
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#Edm.Boolean")
    );
    let u = emu
        .get(
            "/users/kim@contoso.com?$select=id,signInSessionsValidFromDateTime",
            &app,
        )
        .await;
    let stamp = u.body["signInSessionsValidFromDateTime"].as_str().unwrap();
    assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{stamp}");
    assert_eq!(
        emu.snapshot().users[2]
            .sign_in_sessions_valid_from
            .as_deref(),
        Some(stamp)
    );
    // The namespace-qualified action is the same; it takes no parameters; only POST.
    let q = "/users/kim@contoso.com/microsoft.graph.revokeSignInSessions";
    assert_eq!(emu.post(q, &app, json!({})).await.status, 200);
    emu.post(kim, &app, json!({"all": true}))
        .await
        .assert_error(400, "BadRequest");
    emu.get(kim, &app)
        .await
        .assert_error(405, "Request_BadRequest");
    emu.post(
        "/users/nobody@contoso.com/revokeSignInSessions",
        &app,
        json!({}),
    )
    .await
    .assert_error(404, "Request_ResourceNotFound");
    // Authentication-method permissions are not enough: Graph's directory 403.
    let methods_only = emu.token(TokenSpec::app(&["UserAuthenticationMethod.ReadWrite.All"]));
    emu.post(kim, &methods_only, json!({}))
        .await
        .assert_error(403, "Authorization_RequestDenied");
    let rw = emu.token(TokenSpec::app(&["User.ReadWrite.All"]));
    assert_eq!(emu.post(kim, &rw, json!({})).await.status, 200);
}

#[tokio::test]
async fn revoke_sign_in_sessions_roles() {
    let emu = Emu::small().await;
    let scopes = ["User.RevokeSessions.All"];
    let aa = emu.token(TokenSpec::delegated("helpdesk@contoso.com", &scopes));
    let paa = emu.token(TokenSpec::delegated("admin@contoso.com", &scopes));
    let kim = emu.token(TokenSpec::delegated("kim@contoso.com", &scopes));
    // Authentication Administrator: members, not admins; PAA: anyone; no role: only oneself.
    assert_eq!(
        emu.post(
            "/users/kim@contoso.com/revokeSignInSessions",
            &aa,
            json!({})
        )
        .await
        .status,
        200
    );
    emu.post(
        "/users/admin@contoso.com/revokeSignInSessions",
        &aa,
        json!({}),
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(
        emu.post(
            "/users/helpdesk@contoso.com/revokeSignInSessions",
            &paa,
            json!({})
        )
        .await
        .status,
        200
    );
    emu.post(
        "/users/lee@contoso.com/revokeSignInSessions",
        &kim,
        json!({}),
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");
    assert_eq!(
        emu.post("/me/revokeSignInSessions", &kim, json!({}))
            .await
            .status,
        200
    );
    // The scope is needed too.
    let no_scope = emu.token(TokenSpec::delegated(
        "admin@contoso.com",
        &["UserAuthenticationMethod.ReadWrite.All"],
    ));
    emu.post(
        "/users/kim@contoso.com/revokeSignInSessions",
        &no_scope,
        json!({}),
    )
    .await
    .assert_error(403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn revoked_sessions_refresh_tokens_no_longer_work() {
    let emu = Emu::start_with(EXAMPLE_TENANT, |o| o.auto_approve_device_code = true).await;
    let dc: Value = emu
        .http
        .post(format!("{}/contoso.com/oauth2/v2.0/devicecode", emu.url()))
        .form(&[
            ("client_id", RW_CLIENT_ID),
            (
                "scope",
                "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All offline_access",
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
    let refresh = b["refresh_token"].as_str().unwrap().to_string();
    let app = emu.token(TokenSpec::app(&["User.RevokeSessions.All"]));
    let r = emu
        .post(
            "/users/admin@contoso.com/revokeSignInSessions",
            &app,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (s, b) = emu
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", RW_CLIENT_ID),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"], "invalid_grant");
}
