//! Users: lookup by id and UPN, `$select`, `$filter` and paging with `@odata.nextLink`.

use super::*;

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

#[tokio::test]
async fn user_read_basic_all_reads_only_the_basic_profile() {
    let emu = Emu::small().await;
    let path = "/users/sam@contoso.com?$select=id,userPrincipalName,displayName,onPremisesSyncEnabled,accountEnabled";
    let basic = emu.token(TokenSpec::app(&[
        "UserAuthenticationMethod.Read.All",
        "User.ReadBasic.All",
    ]));
    let r = emu.get(path, &basic).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["userPrincipalName"], json!("sam@contoso.com"));
    assert_eq!(r.body["displayName"], json!("Sam Synced"));
    assert_eq!(
        r.body["onPremisesSyncEnabled"],
        Value::Null,
        "not in the basic profile"
    );
    assert_eq!(r.body["accountEnabled"], Value::Null);
    let listed = emu
        .get(
            "/users?$filter=userPrincipalName eq 'sam@contoso.com'&$select=id,onPremisesSyncEnabled",
            &basic,
        )
        .await;
    assert_eq!(
        listed.body["value"][0]["onPremisesSyncEnabled"],
        Value::Null
    );
    let delegated_basic = emu.token(TokenSpec::delegated(
        "admin@contoso.com",
        &[
            "UserAuthenticationMethod.ReadWrite.All",
            "User.ReadBasic.All",
        ],
    ));
    assert_eq!(
        emu.get(path, &delegated_basic).await.body["onPremisesSyncEnabled"],
        Value::Null
    );
    // A full-profile permission reads it.
    for full in [
        emu.token(TokenSpec::app(&["User.Read.All"])),
        emu.token(TokenSpec::delegated(
            "admin@contoso.com",
            &["Directory.Read.All"],
        )),
    ] {
        assert_eq!(
            emu.get(path, &full).await.body["onPremisesSyncEnabled"],
            json!(true)
        );
    }
    // The signed-in user's own profile with User.Read.
    let own = emu.token(TokenSpec::delegated("sam@contoso.com", &["User.Read"]));
    assert_eq!(
        emu.get("/me?$select=onPremisesSyncEnabled", &own)
            .await
            .body["onPremisesSyncEnabled"],
        json!(true)
    );
}
