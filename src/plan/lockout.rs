//! The lock-out preflight: would a user whose plan deletes a phone or disables a `ready` SMS sign-in still have
//! something usable afterwards? Reads the full method list Graph returned (`@odata.type` kept) and the plan's
//! predicted phones.
//!
//! Counted as a second factor: any phone left, Microsoft Authenticator (push or passwordless), FIDO2, Windows Hello
//! for Business, software or hardware OATH, a Temporary Access Pass with `isUsable: true`. Counted as a way to sign
//! in: a password, a `ready` mobile (SMS sign-in), FIDO2, Windows Hello, Authenticator, a usable TAP. Email (SSPR
//! only) counts for neither. Unknown `@odata.type`s count for nothing (they may be anything). Which kind counts for
//! what is [`crate::model::MethodKind`]'s to say; the list arrives parsed ([`ObservedMethod`]), never as Graph JSON.

use crate::model::{ObservedMethod, SmsSignInState};

use super::model::UserState;

fn sign_in(methods: &[ObservedMethod], state: &UserState) -> bool {
    state.sms_sign_in_state == Some(SmsSignInState::Ready)
        || methods.iter().any(ObservedMethod::signs_in)
}

/// `Ok` when something usable remains after the plan; `Err(why)` when the user would be locked out. `before` is the
/// observed state, `after` the state after the plan's actions. Phones in `methods` are ignored: the states say
/// which phones exist before and after.
pub fn check(
    methods: &[ObservedMethod],
    before: &UserState,
    after: &UserState,
) -> Result<(), String> {
    let strong = methods.iter().any(ObservedMethod::is_second_factor);
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
    use crate::model::{MethodKind as K, PhoneType};

    const PASSWORD: ObservedMethod = ObservedMethod {
        kind: K::Password,
        usable: true,
    };

    fn tap(usable: bool) -> ObservedMethod {
        ObservedMethod {
            kind: K::TemporaryAccessPass,
            usable,
        }
    }

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
        let methods = vec![PASSWORD];
        let before = state(&[PhoneType::Office], None);
        assert!(check(&methods, &before, &state(&[], None)).is_err());
    }

    #[test]
    fn authenticator_fido2_hello_oath_or_usable_tap_keep_a_second_factor() {
        let before = state(&[PhoneType::Office], None);
        for t in [
            K::MicrosoftAuthenticator,
            K::PasswordlessMicrosoftAuthenticator,
            K::Fido2,
            K::WindowsHelloForBusiness,
            K::SoftwareOath,
            K::HardwareOath,
        ] {
            let methods = vec![PASSWORD, ObservedMethod::of(t)];
            assert!(check(&methods, &before, &state(&[], None)).is_ok(), "{t:?}");
        }
        let tap = |usable| vec![PASSWORD, tap(usable)];
        assert!(check(&tap(true), &before, &state(&[], None)).is_ok());
        assert!(check(&tap(false), &before, &state(&[], None)).is_err());
    }

    #[test]
    fn a_remaining_phone_is_enough() {
        let methods = vec![PASSWORD];
        let before = state(&[PhoneType::Mobile, PhoneType::Office], None);
        assert!(check(&methods, &before, &state(&[PhoneType::Mobile], None)).is_ok());
    }

    #[test]
    fn sms_only_user_is_not_disabled() {
        // No password: SMS sign-in is how this user signs in.
        let methods = vec![ObservedMethod::of(K::Phone)];
        let before = state(&[PhoneType::Mobile], Some(SmsSignInState::Ready));
        let after = state(&[PhoneType::Mobile], Some(SmsSignInState::NotEnabled));
        assert!(check(&methods, &before, &after).is_err());
        // With a password the mobile stays a second factor and the password signs in.
        let methods = vec![PASSWORD];
        assert!(check(&methods, &before, &after).is_ok());
    }

    #[test]
    fn email_and_unknown_types_count_for_nothing() {
        let methods = vec![
            PASSWORD,
            ObservedMethod::of(K::Email),
            ObservedMethod::of(K::Unknown),
        ];
        let before = state(&[PhoneType::Office], None);
        assert!(check(&methods, &before, &state(&[], None)).is_err());
    }
}
