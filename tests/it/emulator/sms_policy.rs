//! SMS sign-in state and TAP creates that follow the authentication methods policy: a tenant that seeds a policy
//! derives each user's `smsSignInState` from the SMS configuration (the user's groups versus its include and
//! exclude targets and each target's `isUsableForSignIn`), a tenant without one keeps the per-user flag; the TAP
//! create follows the TAP configuration (lifetime range, one-time only, usability by targets).

use super::groups::{NESTED, PILOT};
use super::policy::policy_tenant;
use super::*;

const SMS: &str = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Sms";
const SMS_TYPE: &str = "#microsoft.graph.smsAuthenticationMethodConfiguration";

async fn sms_state(emu: &Emu, user: &str, token: &str) -> Value {
    let r = emu.get(&phone(user, MOBILE), token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["smsSignInState"].clone()
}

#[tokio::test]
async fn sms_state_is_derived_from_the_sms_configuration_when_the_tenant_seeds_a_policy() {
    let emu = Emu::start(&policy_tenant(true)).await;
    let t = emu.app_token().await;
    let admin = emu.token(TokenSpec::app(&["Policy.ReadWrite.AuthenticationMethod"]));
    // lee is in SMS-Pilot (sign-in enabled): his seeded mobile is ready, although his per-user flag is off.
    assert_eq!(sms_state(&emu, "lee@contoso.com", &t).await, "ready");
    // sam's flag is on and his stored state `ready`, but he is in no SMS target: not allowed.
    assert_eq!(
        sms_state(&emu, "sam@contoso.com", &t).await,
        "notAllowedByPolicy"
    );
    emu.post(
        &format!("{}/enableSmsSignIn", phone("sam@contoso.com", MOBILE)),
        &t,
        json!({}),
    )
    .await
    .assert_error(400, "badRequest");
    // kim is in SMS-Pilot through the nested group: a mobile added now registers for SMS sign-in.
    let r = emu
        .post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"}),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
    assert_eq!(r.body["smsSignInState"], "ready");
    // Exclude the nested group: kim drops out of scope.
    let patch = |include: Value, exclude: Value| json!({"@odata.type": SMS_TYPE, "includeTargets": include, "excludeTargets": exclude});
    let pilot = json!([{"id": PILOT, "targetType": "group", "isUsableForSignIn": true}]);
    let r = emu
        .patch(
            SMS,
            &admin,
            patch(
                pilot.clone(),
                json!([{"id": NESTED, "targetType": "group"}]),
            ),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        sms_state(&emu, "kim@contoso.com", &t).await,
        "notAllowedByPolicy"
    );
    assert_eq!(sms_state(&emu, "lee@contoso.com", &t).await, "ready");
    // A target with isUsableForSignIn false allows the method for MFA but not sign-in.
    let mfa_only = json!([{"id": PILOT, "targetType": "group", "isUsableForSignIn": false}]);
    assert_eq!(
        emu.patch(SMS, &admin, patch(mfa_only, json!([])))
            .await
            .status,
        204
    );
    assert_eq!(
        sms_state(&emu, "lee@contoso.com", &t).await,
        "notAllowedByPolicy"
    );
    // All users with sign-in: sam comes into scope; his stored state stands; a phone registered while out of
    // scope is notEnabled until enabled.
    let everyone = json!([{"id": "all_users", "targetType": "group", "isUsableForSignIn": true}]);
    assert_eq!(
        emu.patch(SMS, &admin, patch(everyone.clone(), json!([])))
            .await
            .status,
        204
    );
    assert_eq!(sms_state(&emu, "sam@contoso.com", &t).await, "ready");
    // The configuration disabled: nobody.
    let off = json!({"@odata.type": SMS_TYPE, "state": "disabled"});
    assert_eq!(emu.patch(SMS, &admin, off).await.status, 204);
    assert_eq!(
        sms_state(&emu, "sam@contoso.com", &t).await,
        "notAllowedByPolicy"
    );
    // The polymorphic list agrees.
    let all = emu
        .get("/users/sam@contoso.com/authentication/methods", &t)
        .await;
    let mobile = all.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == MOBILE)
        .unwrap()
        .clone();
    assert_eq!(mobile["smsSignInState"], "notAllowedByPolicy");
}

#[tokio::test]
async fn a_number_added_out_of_scope_needs_enabling_once_the_policy_brings_the_user_in() {
    let emu = Emu::start(&policy_tenant(true)).await;
    let t = emu.app_token().await;
    let admin = emu.token(TokenSpec::app(&["Policy.ReadWrite.AuthenticationMethod"]));
    // admin@ is in no SMS target: the new mobile is not allowed.
    let r = emu
        .post(
            &phones("admin@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550009", "phoneType": "mobile"}),
        )
        .await;
    assert_eq!(r.body["smsSignInState"], "notAllowedByPolicy");
    let body = json!({"@odata.type": SMS_TYPE, "includeTargets": [
        {"id": PILOT, "targetType": "group", "isUsableForSignIn": true},
        {"id": "00000000-0000-4000-8000-000000000001", "targetType": "user", "isUsableForSignIn": true}]});
    assert_eq!(emu.patch(SMS, &admin, body).await.status, 204);
    assert_eq!(sms_state(&emu, "admin@contoso.com", &t).await, "notEnabled");
    let enable = format!("{}/enableSmsSignIn", phone("admin@contoso.com", MOBILE));
    assert_eq!(emu.post(&enable, &t, json!({})).await.status, 204);
    assert_eq!(sms_state(&emu, "admin@contoso.com", &t).await, "ready");
}

#[tokio::test]
async fn tenants_without_a_policy_keep_the_per_user_flag() {
    let emu = Emu::start(&policy_tenant(false)).await;
    let t = emu.app_token().await;
    // The same users as the seeded tenant, the SMS-Pilot group too, but no policy: the flags decide.
    assert_eq!(
        sms_state(&emu, "lee@contoso.com", &t).await,
        "notAllowedByPolicy"
    );
    assert_eq!(sms_state(&emu, "sam@contoso.com", &t).await, "ready");
}

#[tokio::test]
async fn tap_create_follows_the_tap_configuration() {
    let emu = Emu::start(&policy_tenant(true)).await;
    let t = emu.app_token().await;
    let taps = "/users/kim@contoso.com/authentication/temporaryAccessPassMethods";
    // The seeded policy: 60–240 minutes, one-time only, enabled for all users.
    let r = emu.post(taps, &t, json!({"lifetimeInMinutes": 300})).await;
    r.assert_error(400, "badRequest");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("between 60 and 240")
    );
    emu.post(taps, &t, json!({"isUsableOnce": false}))
        .await
        .assert_error(400, "badRequest");
    let r = emu.post(taps, &t, json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["isUsableOnce"], true,
        "the policy forces one-time passes"
    );
    assert_eq!(r.body["isUsable"], true);
    assert_eq!(r.body["methodUsabilityReason"], "EnabledByPolicy");
    // The pass expires with the emulator's clock.
    emu.clock.advance(std::time::Duration::from_secs(61 * 60));
    let t = emu.app_token().await;
    let admin = emu.token(TokenSpec::app(&["Policy.ReadWrite.AuthenticationMethod"]));
    let listed = emu.get(taps, &t).await;
    assert_eq!(listed.body["value"][0]["methodUsabilityReason"], "Expired");
    // Targets: exclude kim's nested group → created, but DisabledByPolicy.
    let ty = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration";
    let cfg = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass";
    let r = emu
        .patch(cfg, &admin, json!({"@odata.type": ty, "excludeTargets": [{"id": NESTED, "targetType": "group"}], "isUsableOnce": false, "maximumLifetimeInMinutes": 600}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = emu
        .post(
            taps,
            &t,
            json!({"lifetimeInMinutes": 600, "isUsableOnce": false}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["methodUsabilityReason"], "DisabledByPolicy");
    assert_eq!(r.body["isUsableOnce"], false);
    // A start in the future: not yet valid.
    let lee = "/users/lee@contoso.com/authentication/temporaryAccessPassMethods";
    let r = emu
        .post(lee, &t, json!({"startDateTime": "2099-01-01T00:00:00Z"}))
        .await;
    assert_eq!(r.body["methodUsabilityReason"], "NotYetValid");
}
