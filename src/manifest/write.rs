//! Writing a manifest (`authctl import`): the inverse of reading, beside it so the format's `apiVersion` and `kind`
//! come from one place ([`super::model::API_VERSION`], [`super::model::KIND`]). Pure: the caller reads Graph,
//! canonicalises the numbers and hands in [`ImportedUser`]s; the text it gets back passes `validate` and plans clean.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{Mode, PhoneType, SmsSignInState};
use crate::phone::PhoneNumber;

use super::model::{API_VERSION, KIND};

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
}

/// A YAML string scalar (JSON's quoting is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The manifest text for `users`, and warnings for the operator (numbers that would not pass validation).
/// `smsSignIn` is written only where the mobile's state says something a manifest can keep (`ready` → `enabled`,
/// `notEnabled` → `disabled`); a user without phones lists every type `absent` (an empty `phones` is an error in
/// exact mode and a no-op in merge).
pub fn manifest_yaml(users: &[ImportedUser<'_>], mode: Mode) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let mut out = format!(
        "# Imported by authctl {} from Microsoft Graph: these users' phone methods as they were read.\n\
         # Users are named by object id (stable across renames); the comment after each is its userPrincipalName.\n\
         apiVersion: {API_VERSION}\n\
         kind: {KIND}\n\
         spec:\n  mode: {mode}\n",
        env!("CARGO_PKG_VERSION")
    );
    if users.is_empty() {
        out.push_str("  users: []\n");
        return (out, notes);
    }
    out.push_str("  users:\n");
    for u in users {
        write_user(&mut out, &mut notes, u);
    }
    (out, notes)
}

fn write_user(out: &mut String, notes: &mut Vec<String>, u: &ImportedUser<'_>) {
    // A UPN never holds a newline; guard anyway so a comment can't end early.
    let upn = u.user_principal_name.replace(['\n', '\r'], " ");
    let _ = writeln!(out, "    - user: {}   # {upn}", u.id);
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
                    "{upn}: the {t} number {n} does not pass validation ({e}); fix it in the manifest"
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
                    "      # smsSignIn left unmanaged: the mobile's smsSignInState is `{other}`"
                );
            }
            None => {}
        }
    }
    for t in &u.unknown_phone_types {
        let _ = writeln!(
            out,
            "      # also has a phone method of a type authctl does not know (phoneType `{t}`); it is never touched"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_uses_the_format_constants_and_reads_back() {
        let u = ImportedUser {
            id: "4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e",
            user_principal_name: "a@contoso.com",
            phones: [(PhoneType::Mobile, "+1 2065550100".to_string())].into(),
            sms_sign_in_state: Some(SmsSignInState::Ready),
            unknown_phone_types: vec!["unknownFutureValue".into()],
        };
        let (text, notes) = manifest_yaml(&[u], Mode::Merge);
        assert!(
            text.contains(&format!("apiVersion: {API_VERSION}\nkind: {KIND}\n")),
            "{text}"
        );
        assert!(text.contains("phoneType `unknownFutureValue`"), "{text}");
        assert!(notes.is_empty(), "{notes:?}");
        let doc: super::super::model::ManifestDocument = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc.spec.users.len(), 1);
        let (empty, _) = manifest_yaml(&[], Mode::Exact);
        assert!(empty.ends_with("  users: []\n"), "{empty}");
    }
}
