//! A user's state as canonical YAML for the Markdown diff: fixed key order, every value quoted the same way, so
//! the only differences a diff shows are real ones.

use crate::model::PhoneType;
use crate::plan::UserState;

/// Canonical YAML of a state. The SMS state line appears only with a mobile; `(known after apply)` when a mobile
/// write may change it and only a re-read can tell.
pub(crate) fn state_yaml(s: &UserState) -> String {
    let mut out = String::new();
    if s.phones.is_empty() {
        out.push_str("phones: {}\n");
    } else {
        out.push_str("phones:\n");
        for t in PhoneType::ALL {
            if let Some(n) = s.phones.get(&t) {
                out.push_str(&format!("  {t}: \"{n}\"\n"));
            }
        }
    }
    if s.phones.contains_key(&PhoneType::Mobile) {
        let sms = s
            .sms_sign_in_state
            .as_ref()
            .map_or("(known after apply)", |v| v.as_str());
        out.push_str(&format!("smsSignInState: {sms}\n"));
    }
    if let Some(e) = &s.email {
        out.push_str(&format!("email: \"{e}\"\n"));
    }
    if !s.registrations.is_empty() {
        let mut regs: Vec<String> = s
            .registrations
            .iter()
            .map(crate::plan::registration_label)
            .collect();
        regs.sort();
        out.push_str("registrations:\n");
        for r in regs {
            out.push_str(&format!("  - {r}\n"));
        }
    }
    out
}
