//! The `registered:` field of an `AuthenticationMethods` user entry: method types a user registers themselves and an
//! admin can only remove, each `absent` or a keep-list of registration ids. The checks of a type name and of an id
//! live here so the validator and the serde model refuse the same things.
//!
//! Type names are Graph's short names (the `{short}` of `#microsoft.graph.{short}AuthenticationMethod`), spelled as
//! Graph spells them. The six authctl names ([`RegistrationType::KNOWN`]) are accepted as they are; any other
//! syntactically valid camelCase name is accepted with a warning (Graph may add a listable, deletable type later;
//! it is removed through its `{short}Methods` segment), unless it is close to a known name (then it is a typo),
//! or it names a method a manifest declares elsewhere (phones, email) or an admin cannot remove (the password).

use crate::model::{MethodKind, RegistrationType};

/// The longest registration id accepted (characters). Graph's ids are GUIDs or base64url credential ids, far
/// shorter; authctl keeps at most 512 characters of any text Graph returns, so a longer id could never match.
pub const MAX_ID_CHARS: usize = 512;
/// The longest type name accepted (characters), as long as authctl reads from an `@odata.type`.
pub const MAX_TYPE_CHARS: usize = 64;

/// The shape of a type name the schema can check: camelCase ASCII letters and digits.
pub const TYPE_NAME_PATTERN: &str = "^[a-z][A-Za-z0-9]{0,63}$";

/// What a key under `registered:` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeName {
    /// One of the six types authctl names.
    Managed(RegistrationType),
    /// A valid name authctl does not manage by name (a kind it knows but not among the six, or one Graph may add);
    /// accepted with a warning.
    Unlisted(RegistrationType),
    /// Close to a managed name: a typo.
    Misspelt(&'static str),
    /// A method the manifest declares in another field, or that cannot be removed: the field to use, or `None`
    /// for the password.
    Elsewhere(Option<&'static str>),
    /// Not a camelCase name at all.
    Invalid,
}

/// Words people write for a registered type, and the type Graph calls it.
const ALIASES: &[(&str, &str)] = &[
    ("passkey", "fido2"),
    ("passkeys", "fido2"),
    ("securitykey", "fido2"),
    ("securitykeys", "fido2"),
    ("fido", "fido2"),
    ("webauthn", "fido2"),
    ("authenticator", "microsoftAuthenticator"),
    ("authenticatorapp", "microsoftAuthenticator"),
    ("msauthenticator", "microsoftAuthenticator"),
    ("tap", "temporaryAccessPass"),
    ("temporarypass", "temporaryAccessPass"),
    ("totp", "softwareOath"),
    ("oath", "softwareOath"),
    ("whfb", "windowsHelloForBusiness"),
    ("windowshello", "windowsHelloForBusiness"),
    ("hello", "windowsHelloForBusiness"),
    ("platformsso", "platformCredential"),
    ("psso", "platformCredential"),
];

/// Names a manifest declares in another field.
const ELSEWHERE: &[(&str, Option<&str>)] = &[
    ("phone", Some("phones")),
    ("phones", Some("phones")),
    ("mobile", Some("phones")),
    ("alternatemobile", Some("phones")),
    ("office", Some("phones")),
    ("sms", Some("phones")),
    ("smssignin", Some("smsSignIn")),
    ("email", Some("email")),
    ("emails", Some("email")),
    ("password", None),
];

/// The names of every kind an admin can remove through a per-type collection, but the ones a manifest declares
/// elsewhere: the candidates of a "did you mean".
fn deletable_names() -> Vec<&'static str> {
    MethodKind::ALL
        .into_iter()
        .filter(|k| !matches!(k, MethodKind::Phone | MethodKind::Email) && k.admin_deletable())
        .filter_map(MethodKind::graph_name)
        .collect()
}

/// Classifies a key written under `registered:`.
pub fn classify(name: &str) -> TypeName {
    let norm = name.to_lowercase().replace(['_', '-', ' '], "");
    if let Some((_, field)) = ELSEWHERE.iter().find(|(n, _)| *n == norm) {
        return TypeName::Elsewhere(*field);
    }
    if let Some(k) = RegistrationType::KNOWN
        .into_iter()
        .find(|k| k.graph_name() == Some(name))
    {
        return TypeName::Managed(
            RegistrationType::of(k).unwrap_or_else(|| RegistrationType::new(name)),
        );
    }
    let candidates = deletable_names();
    if candidates.contains(&name) {
        return TypeName::Unlisted(RegistrationType::new(name));
    }
    if let Some((_, to)) = ALIASES.iter().find(|(a, _)| *a == norm) {
        return TypeName::Misspelt(to);
    }
    if let Some(s) = super::names::suggest(name, &candidates) {
        return TypeName::Misspelt(s);
    }
    let valid = name.len() <= MAX_TYPE_CHARS
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if valid {
        TypeName::Unlisted(RegistrationType::new(name))
    } else {
        TypeName::Invalid
    }
}

/// Why a registration id was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdProblem {
    /// An empty string.
    Empty,
    /// Over [`MAX_ID_CHARS`].
    TooLong(usize),
    /// Whitespace in or around it.
    Whitespace,
    /// A control or invisible character.
    Control(char),
}

impl std::fmt::Display for IdProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdProblem::Empty => f.write_str("the registration id is empty"),
            IdProblem::TooLong(n) => write!(
                f,
                "the registration id is {n} characters long; authctl reads ids of at most {MAX_ID_CHARS}"
            ),
            IdProblem::Whitespace => f.write_str("a registration id holds no whitespace"),
            IdProblem::Control(c) => write!(
                f,
                "the registration id holds the control or invisible character U+{:04X}",
                *c as u32
            ),
        }
    }
}

/// Checks one id of a keep-list.
pub fn check_id(id: &str) -> Result<(), IdProblem> {
    if id.is_empty() {
        return Err(IdProblem::Empty);
    }
    if let Some(c) = id.chars().find(|&c| crate::escape::is_hostile(c)) {
        return Err(IdProblem::Control(c));
    }
    if id.chars().any(char::is_whitespace) {
        return Err(IdProblem::Whitespace);
    }
    let n = id.chars().count();
    if n > MAX_ID_CHARS {
        return Err(IdProblem::TooLong(n));
    }
    Ok(())
}

/// The form ids are compared in for duplicates: GUIDs in lower case (Graph's GUIDs are case-insensitive), any
/// other id as written (base64url credential ids are case-sensitive).
pub fn id_key(id: &str) -> String {
    crate::model::registration_id_key(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_are_managed_others_unlisted_typos_and_aliases_suggested() {
        for k in RegistrationType::KNOWN {
            let name = k.graph_name().unwrap();
            assert_eq!(
                classify(name),
                TypeName::Managed(RegistrationType::of(k).unwrap()),
                "{name}"
            );
        }
        for name in ["hardwareOath", "qrCodePin", "quantumKey", "external"] {
            assert_eq!(
                classify(name),
                TypeName::Unlisted(RegistrationType::new(name)),
                "{name}"
            );
        }
        for (typo, want) in [
            ("fido", "fido2"),
            ("FIDO2", "fido2"),
            ("Fido2", "fido2"),
            ("microsoftAuthenticators", "microsoftAuthenticator"),
            ("windowsHello", "windowsHelloForBusiness"),
            ("temporaryAccesPass", "temporaryAccessPass"),
            ("software_oath", "softwareOath"),
            ("passkey", "fido2"),
            ("TAP", "temporaryAccessPass"),
            ("hardwareOATH", "hardwareOath"),
        ] {
            assert_eq!(classify(typo), TypeName::Misspelt(want), "{typo}");
        }
        assert_eq!(classify("email"), TypeName::Elsewhere(Some("email")));
        assert_eq!(classify("mobile"), TypeName::Elsewhere(Some("phones")));
        assert_eq!(classify("password"), TypeName::Elsewhere(None));
        for bad in ["Quantum", "quantum-key", "9key", "", "a b"] {
            assert_eq!(classify(bad), TypeName::Invalid, "{bad}");
        }
        assert_eq!(classify(&"q".repeat(65)), TypeName::Invalid);
    }

    #[test]
    fn ids_are_bounded_printable_text() {
        assert_eq!(check_id("-2_GRUg2-HYz6_1YG4YRAQ2"), Ok(()));
        assert_eq!(check_id(""), Err(IdProblem::Empty));
        assert_eq!(check_id(" a"), Err(IdProblem::Whitespace));
        assert_eq!(check_id("a\u{1b}[2J"), Err(IdProblem::Control('\u{1b}')));
        assert_eq!(check_id(&"a".repeat(512)), Ok(()));
        assert_eq!(check_id(&"a".repeat(513)), Err(IdProblem::TooLong(513)));
        assert_eq!(
            id_key("4B1F7C1E-2A0E-4C1E-9D4A-0A3F5B6C7D8E"),
            id_key("4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e")
        );
        assert_ne!(id_key("AbC"), id_key("abc"));
    }
}
