//! Groups in the tenant file: `GET /groups` by display name or id, `GET /groups/{id}`, a user's `memberOf` and
//! `transitiveMemberOf`, and their permissions.

use super::*;

pub(super) const PILOT: &str = "11111111-1111-4111-8111-111111111111";
pub(super) const NESTED: &str = "22222222-2222-4222-8222-222222222222";
pub(super) const TWIN_A: &str = "33333333-3333-4333-8333-333333333333";

/// `kim` is in `SMS-Pilot` through the nested `Pilot-Wave-2`; `lee` directly; two groups share a name.
pub(super) fn groups_yaml() -> String {
    format!(
        "groups:\n  - {{ id: {PILOT}, displayName: SMS-Pilot, description: SMS sign-in pilot, members: [lee@contoso.com, {NESTED}] }}\n  - {{ id: {NESTED}, displayName: Pilot-Wave-2, members: [00000000-0000-4000-8000-000000000003] }}\n  - {{ id: {TWIN_A}, displayName: Twins, members: [] }}\n  - {{ id: 44444444-4444-4444-8444-444444444444, displayName: twins }}\n"
    )
}

fn tenant_with_groups() -> String {
    SMALL_TENANT.replacen("users:\n", &format!("{}users:\n", groups_yaml()), 1)
}

#[tokio::test]
async fn groups_by_display_name_id_and_membership() {
    let emu = Emu::start(&tenant_with_groups()).await;
    let t = emu.token(TokenSpec::app(&["GroupMember.Read.All"]));
    let r = emu
        .get(
            "/groups?$filter=displayName eq 'SMS-Pilot'&$select=id,displayName",
            &t,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["value"],
        json!([{"id": PILOT, "displayName": "SMS-Pilot"}])
    );
    // Display names are not unique (case-insensitive match): two answers; none for a missing name.
    let twins = emu.get("/groups?$filter=displayName eq 'twins'", &t).await;
    assert_eq!(twins.body["value"].as_array().unwrap().len(), 2);
    let none = emu
        .get("/groups?$filter=displayName eq 'O''Brien'", &t)
        .await;
    assert_eq!(none.body["value"], json!([]));
    emu.get("/groups?$filter=mail eq 'x'", &t)
        .await
        .assert_error(400, "Request_BadRequest");
    emu.get("/groups?$select=nope", &t)
        .await
        .assert_error(400, "Request_BadRequest");
    let g = emu.get(&format!("/groups/{PILOT}"), &t).await;
    assert_eq!(g.body["description"], "SMS sign-in pilot");
    emu.get("/groups/55555555-5555-4555-8555-555555555555", &t)
        .await
        .assert_error(404, "Request_ResourceNotFound");
    // memberOf: direct; transitiveMemberOf: through the nested group too.
    let direct = emu.get("/users/kim@contoso.com/memberOf", &t).await;
    let ids = |r: &Reply| -> Vec<String> {
        r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&direct), [NESTED]);
    assert_eq!(
        direct.body["value"][0]["@odata.type"],
        "#microsoft.graph.group"
    );
    let all = emu
        .get("/users/kim@contoso.com/transitiveMemberOf", &t)
        .await;
    assert_eq!(ids(&all), [PILOT, NESTED]);
    assert_eq!(
        ids(&emu
            .get("/users/lee@contoso.com/transitiveMemberOf", &t)
            .await),
        [PILOT]
    );
    assert!(ids(&emu.get("/users/sam@contoso.com/memberOf", &t).await).is_empty());
    emu.post("/groups", &t, json!({}))
        .await
        .assert_error(405, "Request_BadRequest");
}

#[tokio::test]
async fn groups_need_a_group_or_directory_permission() {
    let emu = Emu::start(&tenant_with_groups()).await;
    let methods = emu.token(TokenSpec::app(&["UserAuthenticationMethod.ReadWrite.All"]));
    emu.get("/groups", &methods)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    emu.get("/users/kim@contoso.com/memberOf", &methods)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    // User.Read.All reads a user's memberships, not the groups collection.
    let users = emu.token(TokenSpec::app(&["User.Read.All"]));
    assert_eq!(
        emu.get("/users/kim@contoso.com/memberOf", &users)
            .await
            .status,
        200
    );
    emu.get("/groups", &users)
        .await
        .assert_error(403, "Authorization_RequestDenied");
    for p in ["Group.Read.All", "Directory.Read.All"] {
        let t = emu.token(TokenSpec::app(&[p]));
        assert_eq!(emu.get("/groups", &t).await.status, 200, "{p}");
    }
    // Delegated: no role needed, the scope is.
    let kim = emu.token(TokenSpec::delegated(
        "kim@contoso.com",
        &["GroupMember.Read.All"],
    ));
    assert_eq!(emu.get("/groups", &kim).await.status, 200);
    assert_eq!(emu.get("/me/transitiveMemberOf", &kim).await.status, 200);
}

#[test]
fn tenant_file_group_rules() {
    let dup = SMALL_TENANT.replacen(
        "users:\n",
        &format!("groups:\n  - {{ id: {PILOT}, displayName: A }}\n  - {{ id: {PILOT}, displayName: B }}\nusers:\n"),
        1,
    );
    assert!(
        authctl::emulator::Tenant::from_yaml(&dup)
            .unwrap_err()
            .to_string()
            .contains("twice")
    );
    let stray = SMALL_TENANT.replacen(
        "users:\n",
        &format!(
            "groups:\n  - {{ id: {PILOT}, displayName: A, members: [ghost@contoso.com] }}\nusers:\n"
        ),
        1,
    );
    let e = authctl::emulator::Tenant::from_yaml(&stray)
        .unwrap_err()
        .to_string();
    assert!(e.contains("ghost@contoso.com"), "{e}");
}

#[tokio::test]
async fn batch_reaches_groups_memberships_and_the_policy() {
    let emu = Emu::start(&tenant_with_groups()).await;
    let t = emu.token(TokenSpec::app(&[
        "GroupMember.Read.All",
        "Policy.Read.AuthenticationMethod",
    ]));
    let r = emu
        .post(
            "/$batch",
            &t,
            json!({"requests": [
                {"id": "g", "method": "GET", "url": "/groups?$filter=displayName eq 'SMS-Pilot'"},
                {"id": "m", "method": "GET", "url": "/users/kim@contoso.com/transitiveMemberOf"},
                {"id": "p", "method": "GET", "url": "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Sms"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let items = r.body["responses"].as_array().unwrap();
    let by = |id: &str| items.iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(by("g")["status"], 200);
    assert_eq!(by("g")["body"]["value"][0]["id"], PILOT);
    assert_eq!(by("m")["body"]["value"].as_array().unwrap().len(), 2);
    assert_eq!(by("p")["body"]["id"], "Sms");
}
