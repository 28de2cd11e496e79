//! The imperative change model behind `authctl phone add|update|remove` and `authctl sms-sign-in`: one change to
//! one user, as the one-user merge-mode desired state the engine plans, plus what an imperative verb promises on
//! top (`add` never overwrites, `update` never creates) and which manifest entries would undo it. Pure: the CLI
//! reads Graph and the manifests and hands them in.

use std::collections::BTreeMap;

use crate::model::{
    DesiredPhone, DesiredUser, Mode, ObservedUser, PhoneType, SmsSignIn, SourceLocation,
};
use crate::phone::PhoneNumber;

use super::state::canonical_observed;

/// One imperative change to one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `phone add`: a phone of a type the user doesn't have.
    Add(PhoneType, PhoneNumber),
    /// `phone update`: a new number for an existing phone.
    Update(PhoneType, PhoneNumber),
    /// `phone remove`.
    Remove(PhoneType),
    /// `sms-sign-in enable|disable`.
    SmsSignIn(SmsSignIn),
}

impl Change {
    /// The change as the one-user, merge-mode desired state the plan engine takes: only the touched type (or SMS
    /// sign-in) is managed, everything else is left alone.
    pub fn desired(&self, user: &str) -> DesiredUser {
        let mut phones = BTreeMap::new();
        let mut sms_sign_in = None;
        match self {
            Change::Add(t, n) | Change::Update(t, n) => {
                phones.insert(*t, DesiredPhone::Number(n.clone()));
            }
            Change::Remove(t) => {
                phones.insert(*t, DesiredPhone::Absent);
            }
            Change::SmsSignIn(s) => sms_sign_in = Some(*s),
        }
        DesiredUser {
            user: user.to_string(),
            mode: Mode::Merge,
            phones,
            sms_sign_in,
            email: None,
            registrations: Default::default(),
            source: SourceLocation {
                file: "(command line)".to_string(),
                line: 1,
                column: 1,
            },
        }
    }

    /// What the verb promises on top of the desired state: `add` never overwrites, `update` never creates.
    pub fn precondition(&self, observed: &ObservedUser) -> Result<(), String> {
        let who = &observed.user_principal_name;
        match self {
            Change::Add(t, n) => match observed.phones.get(t) {
                Some(p) => {
                    let current = canonical_observed(p).unwrap_or_else(|m| m.number);
                    if current == n.canonical() {
                        Ok(())
                    } else {
                        Err(format!(
                            "{who} already has {} {t} phone ({current}); use `authctl phone update {who} --type {t} \
                             --number \"{n}\"` to change it",
                            article(*t)
                        ))
                    }
                }
                None => Ok(()),
            },
            Change::Update(t, _) if !observed.phones.contains_key(t) => Err(format!(
                "{who} has no {t} phone to update; use `authctl phone add {who} --type {t} --number …` to add one"
            )),
            _ => Ok(()),
        }
    }

    /// When `declared` (a manifest's entry for the same user) would undo this change at the next apply: what it
    /// declares instead.
    pub fn undone_by(&self, declared: &DesiredUser) -> Option<String> {
        let mode_note = |t: PhoneType| {
            if declared.phones.contains_key(&t) {
                format!("{t}: absent")
            } else {
                format!("no {t} (exact mode: undeclared types are removed)")
            }
        };
        match self {
            Change::Add(t, n) | Change::Update(t, n) => match declared.desired(*t) {
                Some(DesiredPhone::Number(m)) if m != n => Some(format!("{t}: {m}")),
                Some(DesiredPhone::Absent) => Some(mode_note(*t)),
                _ => None,
            },
            Change::Remove(t) => match declared.desired(*t) {
                Some(DesiredPhone::Number(m)) => Some(format!("{t}: {m}")),
                _ => None,
            },
            Change::SmsSignIn(s) => match declared.sms_sign_in {
                Some(d) if d != *s => Some(format!("smsSignIn: {d}")),
                _ => None,
            },
        }
    }

    /// The change in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Change::Add(t, n) => format!("add {t} {n}"),
            Change::Update(t, n) => format!("update {t} to {n}"),
            Change::Remove(t) => format!("remove {t}"),
            Change::SmsSignIn(s) => match s {
                SmsSignIn::Enabled => "enable SMS sign-in".to_string(),
                SmsSignIn::Disabled => "disable SMS sign-in".to_string(),
            },
        }
    }
}

/// "a mobile", "an alternateMobile", "an office".
fn article(t: PhoneType) -> &'static str {
    match t {
        PhoneType::Mobile => "a",
        PhoneType::AlternateMobile | PhoneType::Office => "an",
    }
}

/// A manifest entry for the changed user that would undo the change at the next apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict<'a> {
    /// The entry.
    pub declared: &'a DesiredUser,
    /// What it declares instead (e.g. `office: +1 4255550199`).
    pub instead: String,
}

impl Change {
    /// Every entry of `users` that declares `observed` (by object id or UPN, case-insensitive) in a way that would
    /// undo this change.
    pub fn conflicts<'a>(
        &self,
        users: &'a [DesiredUser],
        observed: &ObservedUser,
    ) -> Vec<Conflict<'a>> {
        let names = [
            observed.id.to_lowercase(),
            observed.user_principal_name.to_lowercase(),
        ];
        users
            .iter()
            .filter(|d| names.contains(&d.user.to_lowercase()))
            .filter_map(|d| {
                self.undone_by(d).map(|instead| Conflict {
                    declared: d,
                    instead,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObservedPhone, SmsSignInState};

    fn number(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap().number
    }

    fn observed(phones: &[(PhoneType, &str)]) -> ObservedUser {
        ObservedUser {
            id: "id-1".into(),
            user_principal_name: "CameronW@contoso.com".into(),
            phones: phones
                .iter()
                .map(|(t, n)| {
                    (
                        *t,
                        ObservedPhone {
                            phone_type: *t,
                            phone_number: n.to_string(),
                            sms_sign_in_state: SmsSignInState::NotSupported,
                        },
                    )
                })
                .collect(),
            unknown_phones: Vec::new(),
            ..Default::default()
        }
    }

    #[test]
    fn a_change_is_a_merge_mode_user_managing_only_what_it_touches() {
        let d = Change::Add(PhoneType::Office, number("+1 4255550100x12")).desired("u@c");
        assert_eq!(d.mode, Mode::Merge);
        assert_eq!(d.desired(PhoneType::Mobile), None);
        assert_eq!(
            d.desired(PhoneType::Office),
            Some(&DesiredPhone::Number(number("+1 4255550100x12")))
        );
        assert_eq!(d.sms_sign_in, None);
        let d = Change::Remove(PhoneType::AlternateMobile).desired("u@c");
        assert_eq!(
            d.desired(PhoneType::AlternateMobile),
            Some(&DesiredPhone::Absent)
        );
        assert_eq!(d.desired(PhoneType::Office), None);
        let d = Change::SmsSignIn(SmsSignIn::Enabled).desired("u@c");
        assert!(d.phones.is_empty());
        assert_eq!(d.sms_sign_in, Some(SmsSignIn::Enabled));
    }

    #[test]
    fn add_never_overwrites_and_update_never_creates() {
        let o = observed(&[(PhoneType::Mobile, "+1 2065555555")]);
        let e = Change::Add(PhoneType::Mobile, number("+1 2065550000"))
            .precondition(&o)
            .unwrap_err();
        assert!(
            e.contains("already has a mobile phone (+1 2065555555)"),
            "{e}"
        );
        assert!(e.contains("authctl phone update"), "{e}");
        // The same number written differently: nothing to do, not an error.
        assert!(
            Change::Add(PhoneType::Mobile, number("+12065555555"))
                .precondition(&o)
                .is_ok()
        );
        let e = Change::Update(PhoneType::Office, number("+1 4255550100"))
            .precondition(&o)
            .unwrap_err();
        assert!(e.contains("has no office phone"), "{e}");
        assert!(e.contains("authctl phone add"), "{e}");
        assert!(Change::Remove(PhoneType::Office).precondition(&o).is_ok());
    }

    fn declared(
        mode: Mode,
        phones: &[(PhoneType, Option<&str>)],
        sms: Option<SmsSignIn>,
    ) -> DesiredUser {
        DesiredUser {
            user: "CameronW@contoso.com".into(),
            mode,
            phones: phones
                .iter()
                .map(|(t, n)| {
                    (
                        *t,
                        n.map_or(DesiredPhone::Absent, |n| DesiredPhone::Number(number(n))),
                    )
                })
                .collect(),
            sms_sign_in: sms,
            email: None,
            registrations: Default::default(),
            source: SourceLocation {
                file: "m.yaml".into(),
                line: 3,
                column: 7,
            },
        }
    }

    #[test]
    fn manifests_that_would_undo_the_change_are_found() {
        let add = Change::Add(PhoneType::Office, number("+1 4255550100"));
        // Exact mode without an office: the next apply deletes it.
        let d = declared(
            Mode::Exact,
            &[(PhoneType::Mobile, Some("+1 2065555555"))],
            None,
        );
        assert!(add.undone_by(&d).unwrap().contains("exact mode"));
        // Merge mode without an office: left alone.
        let d = declared(
            Mode::Merge,
            &[(PhoneType::Mobile, Some("+1 2065555555"))],
            None,
        );
        assert_eq!(add.undone_by(&d), None);
        // Another number declared.
        let d = declared(
            Mode::Merge,
            &[(PhoneType::Office, Some("+1 4255550199"))],
            None,
        );
        assert_eq!(add.undone_by(&d).as_deref(), Some("office: +1 4255550199"));
        // The same number, written differently: in agreement.
        let d = declared(
            Mode::Merge,
            &[(PhoneType::Office, Some("+14255550100"))],
            None,
        );
        assert_eq!(add.undone_by(&d), None);
        // Removing a phone the manifest declares.
        let d = declared(
            Mode::Merge,
            &[(PhoneType::Office, Some("+1 4255550100"))],
            None,
        );
        assert!(Change::Remove(PhoneType::Office).undone_by(&d).is_some());
        assert_eq!(Change::Remove(PhoneType::Mobile).undone_by(&d), None);
        // SMS sign-in declared the other way.
        let d = declared(Mode::Merge, &[], Some(SmsSignIn::Disabled));
        assert_eq!(
            Change::SmsSignIn(SmsSignIn::Enabled)
                .undone_by(&d)
                .as_deref(),
            Some("smsSignIn: disabled")
        );
        assert_eq!(Change::SmsSignIn(SmsSignIn::Disabled).undone_by(&d), None);
    }

    #[test]
    fn conflicts_are_the_entries_of_the_same_user_that_undo_the_change() {
        let o = observed(&[]);
        let mut other = declared(Mode::Exact, &[], None);
        other.user = "someone@contoso.com".into();
        let mut by_id = declared(Mode::Exact, &[], None);
        by_id.user = "ID-1".into();
        let agreeing = declared(
            Mode::Merge,
            &[(PhoneType::Office, Some("+1 4255550100"))],
            None,
        );
        let users = [other, by_id, agreeing, declared(Mode::Exact, &[], None)];
        let c = Change::Add(PhoneType::Office, number("+1 4255550100")).conflicts(&users, &o);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].declared.user, "ID-1");
        assert!(c[0].instead.contains("exact mode"), "{}", c[0].instead);
        assert_eq!(c[1].declared.user, "CameronW@contoso.com");
    }
}
