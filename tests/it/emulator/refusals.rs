//! Refuse what Graph refuses, over raw HTTP: writes without `Content-Type: application/json`, unknown properties
//! and action parameters, `$batch` item urls that are absolute or repeat the version, `$top` outside 1–999 and
//! `$skiptoken`s the emulator did not issue. Each refusal leaves the tenant unchanged.

use super::*;

/// A raw request: exactly these headers, this body text.
async fn raw(
    emu: &Emu,
    method: &str,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let mut rb = emu
        .http
        .request(
            method.parse().unwrap(),
            format!("{}{path}", emu.graph_url()),
        )
        .bearer_auth(token)
        .body(body.to_string());
    if let Some(ct) = content_type {
        rb = rb.header("content-type", ct);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn writes_need_a_json_content_type() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let create = r#"{"phoneNumber": "+1 2065550003", "phoneType": "mobile"}"#;
    let r = raw(&emu, "POST", &phones("kim@contoso.com"), &t, None, create).await;
    r.assert_error(400, "BadRequest");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Content-Type"),
        "{}",
        r.body
    );
    raw(
        &emu,
        "POST",
        &phones("kim@contoso.com"),
        &t,
        Some("text/plain"),
        create,
    )
    .await
    .assert_error(400, "BadRequest");
    raw(
        &emu,
        "PATCH",
        &phone("lee@contoso.com", OFFICE),
        &t,
        None,
        r#"{"phoneNumber": "+1 4255550099"}"#,
    )
    .await
    .assert_error(400, "BadRequest");
    raw(
        &emu,
        "POST",
        &format!("/users/kim@contoso.com{RESET}"),
        &emu.delegated("admin@contoso.com"),
        Some("application/x-www-form-urlencoded"),
        r#"{"newPassword": "Kim-Pass2!"}"#,
    )
    .await
    .assert_error(400, "BadRequest");
    // Nothing was written.
    let snap = emu.snapshot();
    assert!(snap.user("kim@contoso.com").unwrap().phones.is_empty());
    assert_eq!(
        snap.user("lee@contoso.com").unwrap().phones[&authctl::model::PhoneType::Office].number,
        "+1 4255550004x12"
    );
    // JSON with parameters is JSON; a body-less action needs no header.
    let ok = raw(
        &emu,
        "POST",
        &phones("kim@contoso.com"),
        &t,
        Some("Application/JSON; charset=utf-8"),
        create,
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let sms = raw(
        &emu,
        "POST",
        &format!("{}/disableSmsSignIn", phone("kim@contoso.com", MOBILE)),
        &t,
        None,
        "",
    )
    .await;
    assert_eq!(sms.status, 204, "{}", sms.body);
    // The outer $batch too.
    raw(&emu, "POST", "/$batch", &t, None, r#"{"requests": []}"#)
        .await
        .assert_error(400, "BadRequest");
}

#[tokio::test]
async fn unknown_properties_and_parameters_are_refused() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile", "isDefault": true}),
        )
        .await;
    r.assert_error(400, "BadRequest");
    assert!(
        r.body["error"]["message"].as_str().unwrap().contains(
            "'isDefault' does not exist on type 'microsoft.graph.phoneAuthenticationMethod'"
        ),
        "{}",
        r.body
    );
    // Property names are exact, as OData's are.
    emu.patch(
        &phone("lee@contoso.com", OFFICE),
        &t,
        json!({"PhoneNumber": "+1 4255550099"}),
    )
    .await
    .assert_error(400, "BadRequest");
    // Annotations are not properties.
    let ok = emu
        .patch(
            &phone("lee@contoso.com", OFFICE),
            &t,
            json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+1 4255550099"}),
        )
        .await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    let admin = emu.delegated("admin@contoso.com");
    let r = emu
        .post(
            &format!("/users/kim@contoso.com{RESET}"),
            &admin,
            json!({"newPassword": "Kim-Pass2!", "forceChangePasswordNextSignIn": true}),
        )
        .await;
    r.assert_error(400, "BadRequest");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a valid parameter for the operation 'resetPassword'"),
        "{}",
        r.body
    );
    emu.post(
        &format!("{}/enableSmsSignIn", phone("kim@contoso.com", MOBILE)),
        &t,
        json!({"force": true}),
    )
    .await
    .assert_error(400, "BadRequest");
    let snap = emu.snapshot();
    assert!(snap.user("kim@contoso.com").unwrap().phones.is_empty());
    assert_eq!(
        snap.user("kim@contoso.com").unwrap().password.as_deref(),
        Some("Kim-Pass1!")
    );
}

#[tokio::test]
async fn batch_item_urls_must_be_relative_to_the_version() {
    let emu = Emu::small().await;
    let t = emu.app_token().await;
    let urls = [
        "https://graph.microsoft.com/v1.0/users/lee@contoso.com/authentication/phoneMethods",
        "/v1.0/users/lee@contoso.com/authentication/phoneMethods",
        "v1.0/users/lee@contoso.com/authentication/phoneMethods",
        "/beta/users/lee@contoso.com/authentication/phoneMethods",
        "/users/lee@contoso.com/authentication/phoneMethods",
        "users/lee@contoso.com/authentication/phoneMethods",
    ];
    let requests: Vec<Value> = urls
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"id": i.to_string(), "method": "GET", "url": u}))
        .collect();
    let r = emu
        .post("/$batch", &t, json!({ "requests": requests }))
        .await;
    assert_eq!(r.status, 200);
    let status = |id: usize| {
        r.body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(id.to_string()))
            .unwrap()["status"]
            .clone()
    };
    for (id, url) in urls.iter().enumerate().take(4) {
        assert_eq!(status(id), json!(400), "{url}");
    }
    assert_eq!(status(4), json!(200));
    assert_eq!(status(5), json!(200));
}

#[tokio::test]
async fn top_outside_1_to_999_is_refused() {
    let emu = Emu::example().await;
    let t = emu.app_token().await;
    for bad in ["0", "1000", "-1", "ten", "1.5"] {
        emu.get(&format!("/users?$top={bad}"), &t)
            .await
            .assert_error(400, "Request_BadRequest");
    }
    let one = emu.get("/users?$top=1", &t).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["value"].as_array().unwrap().len(), 1);
    assert!(one.body["@odata.nextLink"].is_string());
    assert_eq!(emu.get("/users?$top=999", &t).await.status, 200);
}

#[tokio::test]
async fn skiptokens_are_opaque_and_bound_to_their_query() {
    let emu = Emu::start_with(EXAMPLE_TENANT, |o| o.page_size = Some(2)).await;
    let t = emu.app_token().await;
    for forged in ["2", "0", "abc", ""] {
        emu.get(&format!("/users?$skiptoken={forged}"), &t)
            .await
            .assert_error(400, "Request_BadRequest");
    }
    let first = emu.get("/users?$select=id", &t).await;
    let next = first.body["@odata.nextLink"].as_str().unwrap().to_string();
    let token = url::Url::parse(&next)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "$skiptoken")
        .unwrap()
        .1
        .into_owned();
    assert!(
        token.parse::<u64>().is_err(),
        "opaque, not an offset: {token}"
    );
    let second = emu.get(&next, &t).await;
    assert_eq!(second.status, 200);
    assert_ne!(second.body["value"][0], first.body["value"][0]);
    // The same token on another query, or altered, is refused.
    emu.get(
        &format!("/users?$select=userPrincipalName&$skiptoken={token}"),
        &t,
    )
    .await
    .assert_error(400, "Request_BadRequest");
    let mut altered = token.clone().into_bytes();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    emu.get(
        &format!(
            "/users?$select=id&$skiptoken={}",
            String::from_utf8(altered).unwrap()
        ),
        &t,
    )
    .await
    .assert_error(400, "Request_BadRequest");
}
