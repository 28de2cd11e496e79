//! The lock-out preflight: would a user whose plan deletes a phone or disables a `ready` SMS sign-in still have
//! something usable afterwards? Reads the full method list Graph returned (`@odata.type` kept) and the plan's
//! predicted phones.
//!
//! Counted as a second factor: any phone left, Microsoft Authenticator (push or passwordless), FIDO2, Windows Hello
//! for Business, software or hardware OATH, a Temporary Access Pass with `isUsable: true`. Counted as a way to sign
//! in: a password, a `ready` mobile (SMS sign-in), FIDO2, Windows Hello, Authenticator, a usable TAP. Email (SSPR
//! only) counts for neither. Unknown `@odata.type`s count for nothing (they may be anything).

use crate::model::SmsSignInState;

use super::model::UserState;

const STRONG: [&str; 6] = [
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "#microsoft.graph.passwordlessMicrosoftAuthenticatorAuthenticationMethod",
    "#microsoft.graph.fido2AuthenticationMethod",
    "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
    "#microsoft.graph.softwareOathAuthenticationMethod",
    "#microsoft.graph.hardwareOathAuthenticationMethod",
];
const PASSWORDLESS: [&str; 4] = [
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "#microsoft.graph.passwordlessMicrosoftAuthenticatorAuthenticationMethod",
    "#microsoft.graph.fido2AuthenticationMethod",
    "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
];
const PASSWORD: &str = "#microsoft.graph.passwordAuthenticationMethod";
const TAP: &str = "#microsoft.graph.temporaryAccessPassAuthenticationMethod";

fn odata_type(m: &serde_json::Value) -> &str {
    m.get("@odata.type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

fn usable_tap(m: &serde_json::Value) -> bool {
    odata_type(m) == TAP
        && m.get("isUsable")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
}

fn sign_in(methods: &[serde_json::Value], state: &UserState) -> bool {
    state.sms_sign_in_state == Some(SmsSignInState::Ready)
        || methods.iter().any(|m| {
            let t = odata_type(m);
            t == PASSWORD || PASSWORDLESS.contains(&t) || usable_tap(m)
        })
}

/// `Ok` when something usable remains after the plan; `Err(why)` when the user would be locked out. `before` is the
/// observed state, `after` the state after the plan's actions. Phones in `methods` are ignored: the states say
/// which phones exist before and after.
pub fn check(
    methods: &[serde_json::Value],
    before: &UserState,
    after: &UserState,
) -> Result<(), String> {
    let strong = methods
        .iter()
        .any(|m| STRONG.contains(&odata_type(m)) || usable_tap(m));
    if after.phones.is_empty() && !strong {
        return Err(
            "applying would leave the user no second factor (no phone, Authenticator, FIDO2, Windows Hello, OATH \
             or usable Temporary Access Pass)"
                .into(),
        );
    }
    if sign_in(methods, before) && !sign_in(methods, after) {
        return Err(
            "applying would leave the user no way to sign in (SMS sign-in was the only one: no password, \
             passwordless method or usable Temporary Access Pass)"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PhoneType;
    use serde_json::json;

    fn state(phones: &[PhoneType], sms: Option<SmsSignInState>) -> UserState {
        UserState {
            phones: phones
                .iter()
                .map(|t| (*t, "+1 2065555555".into()))
                .collect(),
            sms_sign_in_state: sms,
        }
    }

    #[test]
    fn last_phone_without_other_methods_locks_out() {
        let methods = vec![json!({"@odata.type": PASSWORD})];
        let before = state(&[PhoneType::Office], None);
        assert!(check(&methods, &before, &state(&[], None)).is_err());
    }

    #[test]
    fn authenticator_fido2_hello_oath_or_usable_tap_keep_a_second_factor() {
        let before = state(&[PhoneType::Office], None);
        for t in STRONG {
            let methods = vec![json!({"@odata.type": PASSWORD}), json!({"@odata.type": t})];
            assert!(check(&methods, &before, &state(&[], None)).is_ok(), "{t}");
        }
        let tap = |usable| {
            vec![
                json!({"@odata.type": PASSWORD}),
                json!({"@odata.type": TAP, "isUsable": usable}),
            ]
        };
        assert!(check(&tap(true), &before, &state(&[], None)).is_ok());
        assert!(check(&tap(false), &before, &state(&[], None)).is_err());
    }

    #[test]
    fn a_remaining_phone_is_enough() {
        let methods = vec![json!({"@odata.type": PASSWORD})];
        let before = state(&[PhoneType::Mobile, PhoneType::Office], None);
        assert!(check(&methods, &before, &state(&[PhoneType::Mobile], None)).is_ok());
    }

    #[test]
    fn sms_only_user_is_not_disabled() {
        // No password: SMS sign-in is how this user signs in.
        let methods = vec![json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod"})];
        let before = state(&[PhoneType::Mobile], Some(SmsSignInState::Ready));
        let after = state(&[PhoneType::Mobile], Some(SmsSignInState::NotEnabled));
        assert!(check(&methods, &before, &after).is_err());
        // With a password the mobile stays a second factor and the password signs in.
        let methods = vec![json!({"@odata.type": PASSWORD})];
        assert!(check(&methods, &before, &after).is_ok());
    }

    #[test]
    fn email_and_unknown_types_count_for_nothing() {
        let methods = vec![
            json!({"@odata.type": PASSWORD}),
            json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod"}),
            json!({"@odata.type": "#microsoft.graph.somethingNew"}),
        ];
        let before = state(&[PhoneType::Office], None);
        assert!(check(&methods, &before, &state(&[], None)).is_err());
    }
}
