//! Permissions and masking: application permissions, delegated scopes with directory roles, own account.

use super::*;

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
