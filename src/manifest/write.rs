//! Writing a manifest (`authctl import`): the inverse of reading, beside it so the format's `apiVersion` and `kind`
//! come from one place ([`super::model::API_VERSION`], [`super::model::KIND`]). Pure: the caller reads Graph,
//! canonicalises the numbers and hands in [`ImportedUser`]s; the text it gets back passes `validate` and plans clean.
//!
//! Everything Graph returned is hostile text: numbers, addresses and ids are written as quoted scalars (JSON's
//! quoting, valid YAML, escapes every control character), and display names, models and dates appear only in
//! comments, escaped ([`crate::escape::visible_capped`]) so no line break, control or bidirectional character can end
//! a comment early or hide what follows.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{Mode, PhoneType, Registration, RegistrationType, SmsSignInState};
use crate::phone::PhoneNumber;

use super::model::{API_VERSION, AUTHENTICATION_METHODS_KIND, KIND, Kind};

/// One user as the manifest writer takes it: what Graph said, numbers already canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedUser<'a> {
    /// The object id (what the manifest names the user by: stable across renames).
    pub id: &'a str,
    /// The userPrincipalName (written as a comment).
    pub user_principal_name: &'a str,
    /// Canonical numbers by type.
    pub phones: BTreeMap<PhoneType, String>,
    /// The mobile's `smsSignInState`, when known.
    pub sms_sign_in_state: Option<SmsSignInState>,
    /// `phoneType` of each phone method of a type authctl does not know (never touched; noted as a comment).
    pub unknown_phone_types: Vec<String>,
    /// The password-reset email address (`None`: the user has none). Written only in an `AuthenticationMethods`
    /// document.
    pub email: Option<String>,
    /// Every registration of a registered type, as Graph listed it (known and unknown types; unknown ones and the
    /// types authctl does not name become comments). Written only in an `AuthenticationMethods` document.
    pub registrations: Vec<Registration>,
}

/// A YAML string scalar (JSON's quoting is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Outside text for a comment: one line, escaped, bounded.
fn comment_text(s: &str) -> String {
    crate::escape::visible_capped(s, 80)
}

/// The manifest text for `users`, and warnings for the operator (values that would not pass validation, types it
/// leaves alone). `smsSignIn` is written only where the mobile's state says something a manifest can keep (`ready` →
/// `enabled`, `notEnabled` → `disabled`); a user without phones lists every type `absent` (an empty `phones` is an
/// error in exact mode and a no-op in merge).
///
/// In an `AuthenticationMethods` document each user also gets their `email` (in exact mode `email: absent` when
/// they have none; in merge mode it is left out, unmanaged) and, for each registered type authctl names that they
/// have, a keep-list of today's ids with the display name, detail and created date as comments. Registrations of
/// other types are listed as comments and never declared.
pub fn manifest_yaml(users: &[ImportedUser<'_>], mode: Mode, kind: Kind) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let header = match kind {
        Kind::PhoneMethods => format!(
            "# Imported by authctl {} from Microsoft Graph: these users' phone methods as they were read.\n",
            env!("CARGO_PKG_VERSION")
        ),
        Kind::AuthenticationMethods => format!(
            "# Imported by authctl {} from Microsoft Graph: these users' authentication methods as they were read.\n\
             # Each registered type lists the ids to keep, with the name and created date Graph showed as comments;\n\
             # write `absent` to remove every registration of a type, or delete an id's line to remove that one.\n",
            env!("CARGO_PKG_VERSION")
        ),
    };
    let mut out = format!(
        "{header}\
         # Users are named by object id (stable across renames); the comment after each is its userPrincipalName.\n\
         apiVersion: {API_VERSION}\n\
         kind: {}\n\
         spec:\n  mode: {mode}\n",
        match kind {
            Kind::PhoneMethods => KIND,
            Kind::AuthenticationMethods => AUTHENTICATION_METHODS_KIND,
        }
    );
    if users.is_empty() {
        out.push_str("  users: []\n");
        return (out, notes);
    }
    out.push_str("  users:\n");
    for u in users {
        write_user(&mut out, &mut notes, u);
        if kind == Kind::AuthenticationMethods {
            write_other_methods(&mut out, &mut notes, u, mode);
        }
    }
    (out, notes)
}

fn write_user(out: &mut String, notes: &mut Vec<String>, u: &ImportedUser<'_>) {
    let upn = comment_text(u.user_principal_name);
    let _ = writeln!(out, "    - user: {}   # {upn}", quoted_if_needed(u.id));
    out.push_str("      phones:\n");
    if u.phones.is_empty() {
        for t in PhoneType::ALL {
            let _ = writeln!(out, "        {t}: absent");
        }
    }
    for t in PhoneType::ALL {
        if let Some(n) = u.phones.get(&t) {
            let _ = writeln!(out, "        {t}: {}", quoted(n));
            if let Err(e) = PhoneNumber::parse(n) {
                notes.push(format!(
                    "{upn}: the {t} number {} does not pass validation ({e}); fix it in the manifest",
                    comment_text(n)
                ));
            }
        }
    }
    if u.phones.contains_key(&PhoneType::Mobile) {
        match &u.sms_sign_in_state {
            Some(SmsSignInState::Ready) => out.push_str("      smsSignIn: enabled\n"),
            Some(SmsSignInState::NotEnabled) => out.push_str("      smsSignIn: disabled\n"),
            Some(other) => {
                let _ = writeln!(
                    out,
                    "      # smsSignIn left unmanaged: the mobile's smsSignInState is `{}`",
                    comment_text(other.as_str())
                );
            }
            None => {}
        }
    }
    for t in &u.unknown_phone_types {
        let _ = writeln!(
            out,
            "      # also has a phone method of a type authctl does not know (phoneType `{}`); it is never touched",
            comment_text(t)
        );
    }
}

/// An object id as read (a GUID needs no quotes; anything else is quoted so YAML reads it back as written).
fn quoted_if_needed(id: &str) -> String {
    if super::model::is_guid(id) {
        id.to_string()
    } else {
        quoted(id)
    }
}

/// What tells a registration apart to a human, for its comment: display name, detail, created date.
fn describe(r: &Registration) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(n) = &r.display_name {
        parts.push(comment_text(n));
    }
    if let Some(d) = r
        .detail
        .as_ref()
        .filter(|d| r.display_name.as_ref() != Some(*d))
    {
        parts.push(comment_text(d));
    }
    if let Some(c) = &r.created {
        parts.push(format!("created {}", comment_text(c)));
    }
    if parts.is_empty() {
        "no name or date from Graph".into()
    } else {
        parts.join(" · ")
    }
}

fn write_other_methods(
    out: &mut String,
    notes: &mut Vec<String>,
    u: &ImportedUser<'_>,
    mode: Mode,
) {
    let upn = comment_text(u.user_principal_name);
    match (&u.email, mode) {
        (Some(address), _) => {
            let _ = writeln!(out, "      email: {}", quoted(address));
            if let Err(e) = super::email::check(address) {
                notes.push(format!(
                    "{upn}: the email address {} does not pass validation ({e}); fix it in the manifest",
                    comment_text(address)
                ));
            }
        }
        (None, Mode::Exact) => out.push_str("      email: absent\n"),
        (None, Mode::Merge) => {}
    }
    // Registrations by type, in the order authctl names the types; the rest as comments.
    let mut by_type: BTreeMap<&RegistrationType, Vec<&Registration>> = BTreeMap::new();
    for r in &u.registrations {
        by_type.entry(&r.method_type).or_default().push(r);
    }
    let mut declared = String::new();
    let mut left_alone = String::new();
    for k in RegistrationType::KNOWN {
        let Some(t) = RegistrationType::of(k) else {
            continue;
        };
        let Some(regs) = by_type.remove(&t) else {
            continue;
        };
        // An id a manifest cannot hold is never declared: a keep-list without it would remove it.
        if let Some(bad) = regs
            .iter()
            .find(|r| super::registered::check_id(&r.id).is_err())
        {
            let _ = writeln!(
                left_alone,
                "      # {t}: not declared (left untouched): Graph listed the id {} that a manifest cannot hold",
                comment_text(&bad.id)
            );
            notes.push(format!(
                "{upn}: {t} left undeclared: Graph listed an id a manifest cannot hold ({})",
                comment_text(&bad.id)
            ));
            continue;
        }
        let _ = writeln!(declared, "        {t}:");
        for r in regs {
            let _ = writeln!(
                declared,
                "          - {}   # {}",
                quoted(&r.id),
                describe(r)
            );
        }
    }
    if !declared.is_empty() {
        out.push_str("      registered:\n");
        out.push_str(&declared);
    }
    out.push_str(&left_alone);
    for (t, regs) in by_type {
        for r in regs {
            let _ = writeln!(
                out,
                "      # also has a `{}` registration (id {}; {}), a type authctl does not manage by name; it is \
                 never touched",
                comment_text(t.name()),
                comment_text(&r.id),
                describe(r)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(t: &str, id: &str, name: Option<&str>, created: Option<&str>) -> Registration {
        Registration {
            method_type: RegistrationType::new(t),
            id: id.into(),
            display_name: name.map(str::to_string),
            detail: None,
            created: created.map(str::to_string),
            usable: true,
        }
    }

    fn user<'a>() -> ImportedUser<'a> {
        ImportedUser {
            id: "4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e",
            user_principal_name: "a@contoso.com",
            phones: [(PhoneType::Mobile, "+1 2065550100".to_string())].into(),
            sms_sign_in_state: Some(SmsSignInState::Ready),
            unknown_phone_types: vec!["unknownFutureValue".into()],
            email: None,
            registrations: vec![],
        }
    }

    #[test]
    fn the_header_uses_the_format_constants_and_reads_back() {
        let (text, notes) = manifest_yaml(&[user()], Mode::Merge, Kind::PhoneMethods);
        assert!(
            text.contains(&format!("apiVersion: {API_VERSION}\nkind: {KIND}\n")),
            "{text}"
        );
        assert!(text.contains("phoneType `unknownFutureValue`"), "{text}");
        assert!(notes.is_empty(), "{notes:?}");
        let doc: super::super::model::ManifestDocument = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc.spec.users.len(), 1);
        let (empty, _) = manifest_yaml(&[], Mode::Exact, Kind::PhoneMethods);
        assert!(empty.ends_with("  users: []\n"), "{empty}");
    }

    #[test]
    fn phone_methods_output_ignores_email_and_registrations() {
        let mut u = user();
        u.email = Some("a@fabrikam.example".into());
        u.registrations = vec![registration("fido2", "k1", None, None)];
        let (text, _) = manifest_yaml(&[u], Mode::Exact, Kind::PhoneMethods);
        assert!(
            !text.contains("email") && !text.contains("registered"),
            "{text}"
        );
    }

    /// Loads `text` as `authctl validate` does: (errors, warnings, users).
    fn validate(text: &str) -> (Vec<String>, usize, Vec<crate::model::DesiredUser>) {
        let m = crate::manifest::load_from(&["-".to_string()], &mut text.as_bytes());
        let errors = m
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}:{} {} {}", d.line, d.column, d.code, d.message))
            .collect();
        (errors, m.warning_count(), m.users)
    }

    #[test]
    fn keep_lists_carry_hostile_names_as_escaped_comments_and_validate() {
        use crate::model::{DesiredEmail, DesiredRegistrations};
        let mut u = user();
        u.email = Some("a@bücher.example".into());
        u.registrations = vec![
            registration(
                "fido2",
                "-2_GRUg2-HYz6_1YG4YRAQ2",
                Some("Red key\n        microsoftAuthenticator: absent # \u{1b}[2J\u{202e}"),
                Some("2020-08-10T06:44:09Z"),
            ),
            registration(
                "fido2",
                "0a1b2c3d-4e5f-4061-8728-394a5b6c7d8e",
                Some("#2 # key"),
                None,
            ),
            registration(
                "microsoftAuthenticator",
                "6f0d2c1b-9a8e-4d7c-b6a5-0f9e8d7c6b5a",
                Some("Avery's iPhone"),
                Some("2023-03-14T09:26:53Z"),
            ),
            registration("quantumKey", "q1", Some("Future"), None),
            registration("hardwareOath", "h1", None, None),
        ];
        for mode in [Mode::Exact, Mode::Merge] {
            let (text, notes) = manifest_yaml(&[u.clone()], mode, Kind::AuthenticationMethods);
            assert!(notes.is_empty(), "{notes:?}");
            assert!(text.contains("kind: AuthenticationMethods\n"), "{text}");
            // One line per id; the name stays inside its comment, escaped.
            assert!(
                text.contains(
                    "          - \"-2_GRUg2-HYz6_1YG4YRAQ2\"   # Red key\\u{a}        microsoftAuthenticator: absent # \
                     \\u{1b}[2J\\u{202e} · created 2020-08-10T06:44:09Z\n"
                ),
                "{text}"
            );
            assert!(text.contains("   # #2 # key\n"), "{text}");
            assert!(
                text.find("microsoftAuthenticator:\n").unwrap() < text.find("fido2:\n").unwrap(),
                "types in authctl's order: {text}"
            );
            assert!(
                text.contains("# also has a `quantumKey` registration (id q1; Future)"),
                "{text}"
            );
            assert!(
                text.contains("# also has a `hardwareOath` registration"),
                "{text}"
            );
            let (errors, warnings, users) = validate(&text);
            assert!(errors.is_empty(), "{errors:?}\n{text}");
            assert_eq!(warnings, 0, "{text}");
            let d = &users[0];
            assert_eq!(
                d.email,
                Some(DesiredEmail::Address("a@bücher.example".into()))
            );
            assert_eq!(
                d.registrations.keys().map(|t| t.name()).collect::<Vec<_>>(),
                ["fido2", "microsoftAuthenticator"],
                "unknown types are never declared"
            );
            assert_eq!(
                d.registrations[&RegistrationType::new("fido2")],
                DesiredRegistrations::Keep(
                    [
                        "-2_GRUg2-HYz6_1YG4YRAQ2".to_string(),
                        "0a1b2c3d-4e5f-4061-8728-394a5b6c7d8e".to_string()
                    ]
                    .into()
                )
            );
        }
    }

    #[test]
    fn no_email_is_absent_in_exact_mode_and_unmanaged_in_merge() {
        let (exact, _) = manifest_yaml(&[user()], Mode::Exact, Kind::AuthenticationMethods);
        assert!(exact.contains("      email: absent\n"), "{exact}");
        assert!(!exact.contains("registered:"), "{exact}");
        let (merge, _) = manifest_yaml(&[user()], Mode::Merge, Kind::AuthenticationMethods);
        assert!(!merge.contains("email"), "{merge}");
        for text in [exact, merge] {
            let (errors, _, users) = validate(&text);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(users.len(), 1);
        }
    }

    #[test]
    fn an_id_a_manifest_cannot_hold_leaves_its_type_undeclared() {
        let mut u = user();
        u.registrations = vec![
            registration("fido2", "good", None, None),
            registration("fido2", "bad id\n- injected", None, None),
        ];
        let (text, notes) = manifest_yaml(&[u], Mode::Exact, Kind::AuthenticationMethods);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(!text.contains("registered:"), "{text}");
        assert!(text.contains("bad id\\u{a}- injected"), "{text}");
        let (errors, _, users) = validate(&text);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(users[0].registrations.is_empty());
    }

    #[test]
    fn an_email_that_fails_validation_is_written_with_a_note() {
        let mut u = user();
        u.email = Some("Kim <kim@contoso.com>".into());
        let (text, notes) = manifest_yaml(&[u], Mode::Merge, Kind::AuthenticationMethods);
        assert!(text.contains("email: \"Kim <kim@contoso.com>\""), "{text}");
        assert_eq!(notes.len(), 1, "{notes:?}");
    }
}
