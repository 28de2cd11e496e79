//! Phone methods: one test per Graph rule and per error, routing errors and the echoed request ids.

use super::*;

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
async fn rule_default_method_cannot_be_deleted_while_other_methods_remain() {
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
    // "Cannot delete default method with other methods configured": once it is the last method besides the
    // password, the default goes too, and the user has no default any more (ASSUMPTIONS.md #130).
    assert_eq!(
        emu.delete(&phone("lee@contoso.com", MOBILE), &t)
            .await
            .status,
        204
    );
    let lee = emu.snapshot().user("lee@contoso.com").unwrap().clone();
    assert!(lee.phones.is_empty() && lee.default_method.is_none());
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
    emu.get("/teams", &t).await.assert_error(400, "BadRequest");
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
