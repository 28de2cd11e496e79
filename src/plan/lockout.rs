//! The lock-out preflight: would a user whose plan deletes a phone or disables a `ready` SMS sign-in still have
//! something usable afterwards? Reads the full method list Graph returned (`@odata.type` kept) and the plan's
//! predicted phones.
//!
//! Counted as a second factor: any phone left, Microsoft Authenticator (push or passwordless), FIDO2, Windows Hello
//! for Business, software or hardware OATH, a Temporary Access Pass with `isUsable: true`. Counted as a way to sign
//! in: a password, a `ready` mobile (SMS sign-in), FIDO2, Windows Hello, Authenticator, a usable TAP. Email (SSPR
//! only) counts for neither. Unknown `@odata.type`s count for nothing (they may be anything). Which kind counts for
//! what is [`crate::model::MethodKind`]'s to say; the list arrives parsed ([`ObservedMethod`]), never as Graph JSON.
//!
//! Every method counts: registrations the plan removes (a lost phone's Authenticator, a FIDO2 key) are taken out of
//! the list before the "after" side is judged, so removing a user's last strong method is caught like deleting the
//! last phone.

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
    let remaining = without_removed(methods, before, after);
    let methods_after = remaining.as_slice();
    let strong = methods_after.iter().any(ObservedMethod::is_second_factor);
    if after.phones.is_empty() && !strong {
        return Err(
            "applying would leave the user no second factor (no phone, Authenticator, FIDO2, Windows Hello, OATH \
             or usable Temporary Access Pass)"
                .into(),
        );
    }
    if sign_in(methods, before) && !sign_in(methods_after, after) {
        return Err(
            "applying would leave the user no way to sign in (SMS sign-in was the only one: no password, \
             passwordless method or usable Temporary Access Pass)"
                .into(),
        );
    }
    Ok(())
}

/// `methods` without one entry for each registration present in `before` and gone in `after` (same kind; a
/// Temporary Access Pass of the same usability first).
fn without_removed(
    methods: &[ObservedMethod],
    before: &UserState,
    after: &UserState,
) -> Vec<ObservedMethod> {
    let mut out = methods.to_vec();
    for r in &before.registrations {
        let kept = after
            .registrations
            .iter()
            .any(|a| a.id == r.id && a.method_type == r.method_type);
        if kept {
            continue;
        }
        let gone = ObservedMethod {
            kind: r.method_type.kind(),
            usable: r.usable,
        };
        let pos = out
            .iter()
            .position(|m| *m == gone)
            .or_else(|| out.iter().position(|m| m.kind == gone.kind));
        if let Some(p) = pos {
            out.remove(p);
        }
    }
    out
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
            ..UserState::default()
        }
    }

    fn registration(kind: K, id: &str) -> crate::model::Registration {
        crate::model::Registration {
            method_type: crate::model::RegistrationType::of(kind).unwrap(),
            id: id.into(),
            display_name: None,
            detail: None,
            created: None,
            usable: true,
        }
    }

    #[test]
    fn removing_the_last_strong_registration_without_a_phone_locks_out() {
        let methods = vec![PASSWORD, ObservedMethod::of(K::MicrosoftAuthenticator)];
        let mut before = state(&[], None);
        before.registrations = vec![registration(K::MicrosoftAuthenticator, "a1")];
        let after = state(&[], None);
        assert!(check(&methods, &before, &after).is_err());
        // Kept: nothing removed, still a second factor.
        assert!(check(&methods, &before, &before).is_ok());
        // Two Authenticators, one removed: the other remains.
        let methods = vec![
            PASSWORD,
            ObservedMethod::of(K::MicrosoftAuthenticator),
            ObservedMethod::of(K::MicrosoftAuthenticator),
        ];
        before
            .registrations
            .push(registration(K::MicrosoftAuthenticator, "a2"));
        let mut after = state(&[], None);
        after.registrations = vec![registration(K::MicrosoftAuthenticator, "a2")];
        assert!(check(&methods, &before, &after).is_ok());
        // A phone that stays is enough even when every registration goes.
        let mut before = state(&[PhoneType::Office], None);
        before.registrations = vec![registration(K::Fido2, "f1")];
        let methods = vec![PASSWORD, ObservedMethod::of(K::Fido2)];
        assert!(check(&methods, &before, &state(&[PhoneType::Office], None)).is_ok());
    }

    #[test]
    fn removing_the_only_passwordless_method_of_a_user_without_password_locks_out() {
        // No password: the FIDO2 key is how this user signs in; an office phone stays as a second factor.
        let methods = vec![ObservedMethod::of(K::Fido2)];
        let mut before = state(&[PhoneType::Office], None);
        before.registrations = vec![registration(K::Fido2, "f1")];
        let after = state(&[PhoneType::Office], None);
        assert!(check(&methods, &before, &after).is_err());
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
