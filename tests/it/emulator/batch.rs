//! `$batch`: limits, ids, per-item status, `dependsOn` and response order.

use super::*;

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
        {"id": "4", "method": "GET", "url": "users/lee@contoso.com/authentication/phoneMethods"},
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
