//! Masking phone numbers for people and for saved plans: `+1 2065555555` → `+1 206•••5555 ·a1`.
//!
//! The fingerprint after `·` is the start of sha256(per-plan salt, number) in hex. It exists so that two *different*
//! numbers never render the same: its length is chosen per plan ([`Redaction::for_numbers`]) as the shortest (at
//! least 2 hex digits) that tells apart every pair of distinct numbers in the plan that share their visible digits.
//! The salt is per plan (the caller draws it), so fingerprints don't link numbers across plans; it is stored in the
//! plan so a saved plan re-renders with the same fingerprints.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The bullet used to hide digits; a number containing it is already masked.
const HIDDEN: &str = "•••";

/// How a plan masks numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redaction {
    /// Per-plan salt (hex), drawn by the caller.
    pub salt: String,
    /// Fingerprint length in hex digits (at least 2).
    pub fingerprint_len: usize,
}

/// Which numbers [`super::Plan::redacted`] masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedactScope {
    /// Only observed numbers that no manifest contains (the saved plan file).
    NotInManifests,
    /// Every number (`--redact`, and Markdown by default).
    All,
}

impl Redaction {
    /// Chooses the fingerprint length so that no two distinct numbers among `numbers` mask the same.
    pub fn for_numbers<'a>(salt: String, numbers: impl IntoIterator<Item = &'a str>) -> Redaction {
        let distinct: HashSet<&str> = numbers.into_iter().filter(|n| !is_masked(n)).collect();
        let mut r = Redaction {
            salt,
            fingerprint_len: 2,
        };
        // Each number hashed once; then the shortest fingerprint under which no two masks clash. (Hashing anew
        // for every length tried cost a second at 100,000 users.)
        let hashed: Vec<(String, String)> = distinct
            .iter()
            .map(|n| (visible_part(n), r.full_fingerprint(n)))
            .collect();
        // 64 hex digits is the whole sha256: distinct inputs then differ (barring a sha256 collision).
        while r.fingerprint_len < 64 {
            let len = r.fingerprint_len;
            let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(hashed.len());
            let clash = hashed
                .iter()
                .any(|(visible, fp)| !seen.insert((visible.as_str(), &fp[..len])));
            if !clash {
                break;
            }
            r.fingerprint_len += 1;
        }
        r
    }

    fn full_fingerprint(&self, number: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.salt.as_bytes());
        h.update([0u8]);
        h.update(number.as_bytes());
        hex::encode(h.finalize())
    }

    /// The fingerprint of `number` (hex, [`Redaction::fingerprint_len`] digits).
    pub fn fingerprint(&self, number: &str) -> String {
        let mut hex = self.full_fingerprint(number);
        hex.truncate(self.fingerprint_len.min(hex.len()));
        hex
    }

    /// The mask of a canonical number (`+1 2065555555` → `+1 206•••5555 ·a1`).
    pub fn mask_number(&self, number: &str) -> Mask {
        Mask {
            visible: visible_part(number),
            fingerprint: self.fingerprint(number),
        }
    }

    /// [`Redaction::mask_number`] as the plan writes it. An already masked number is returned as is.
    pub fn mask(&self, number: &str) -> String {
        if is_masked(number) {
            return number.to_string();
        }
        self.mask_number(number).to_string()
    }
}

/// A number as a plan masks it: the digits left visible (with the hidden part marked) and the fingerprint. Made by
/// [`Redaction::mask_number`]; a number read back from a plan file is recognised by [`Mask::parse`], the
/// one place that knows the written form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mask {
    visible: String,
    fingerprint: String,
}

impl Mask {
    /// The mask written as `s` (`+1 206•••5555 ·a1`), or `None` when `s` is not one (a full number).
    pub fn parse(s: &str) -> Option<Mask> {
        let (visible, fingerprint) = s.rsplit_once(" ·")?;
        let well_formed = visible.contains(HIDDEN)
            && !fingerprint.is_empty()
            && fingerprint.chars().all(|c| c.is_ascii_hexdigit());
        well_formed.then(|| Mask {
            visible: visible.to_string(),
            fingerprint: fingerprint.to_string(),
        })
    }

    /// The fingerprint (hex).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether this is the mask of the full `number` under `redaction` (same visible digits, same fingerprint).
    pub fn is_mask_of(&self, number: &str, redaction: &Redaction) -> bool {
        redaction.mask_number(number) == *self
    }
}

impl std::fmt::Display for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ·{}", self.visible, self.fingerprint)
    }
}

/// Whether `s` is a number masked by [`Redaction::mask`] ([`Mask::parse`] recognises it).
pub fn is_masked(s: &str) -> bool {
    Mask::parse(s).is_some()
}

/// The part of an email address left visible: the first character of the local part and the domain
/// (`kim@contoso.com` → `k•••@contoso.com`).
fn visible_email(address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}{HIDDEN}@{domain}")
}

/// The part of a canonical number left visible: country code, the first 3 and last 4 national digits (first 1 and
/// last 2 for short numbers); the extension (not personal) is kept. An email address (the plan masks those too)
/// keeps its first character and its domain.
fn visible_part(number: &str) -> String {
    if number.contains('@') {
        return visible_email(number);
    }
    let (main, ext) = match number.split_once('x') {
        Some((m, e)) => (m, Some(e)),
        None => (number, None),
    };
    let ext = ext.map(|e| format!("x{e}")).unwrap_or_default();
    let Some((cc, national)) = main.split_once(' ') else {
        return format!("{HIDDEN}{ext}");
    };
    let digits: Vec<char> = national.chars().collect();
    let (head, tail) = if digits.len() >= 8 {
        (3, 4)
    } else if digits.len() >= 4 {
        (1, 2)
    } else {
        (0, 0)
    };
    let head: String = digits[..head].iter().collect();
    let tail: String = digits[digits.len() - tail..].iter().collect();
    format!("{cc} {head}{HIDDEN}{tail}{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_country_code_ends_and_fingerprint() {
        let r = Redaction {
            salt: "s".into(),
            fingerprint_len: 2,
        };
        let m = r.mask("+1 2065555555");
        assert!(m.starts_with("+1 206•••5555 ·"), "{m}");
        assert_eq!(m.len(), "+1 206•••5555 ·".len() + 2);
        assert_eq!(r.mask(&m), m, "masking is idempotent");
        assert!(r.mask("+1 4255550100x123").contains("x123"));
        assert!(r.mask("+49 123456").starts_with("+49 1•••56 ·"));
    }

    #[test]
    fn fingerprint_grows_until_numbers_differ() {
        // 1000 numbers that share every visible digit: two hex digits cannot tell them all apart.
        let numbers: Vec<String> = (0..1000).map(|i| format!("+1 206{i:03}5555")).collect();
        let r = Redaction::for_numbers("salt".into(), numbers.iter().map(String::as_str));
        assert!(r.fingerprint_len > 2);
        let masked: std::collections::BTreeSet<String> =
            numbers.iter().map(|n| r.mask(n)).collect();
        assert_eq!(masked.len(), numbers.len());
    }

    #[test]
    fn salt_changes_fingerprints() {
        let a = Redaction {
            salt: "a".into(),
            fingerprint_len: 8,
        };
        let b = Redaction {
            salt: "b".into(),
            fingerprint_len: 8,
        };
        assert_ne!(a.mask("+1 2065555555"), b.mask("+1 2065555555"));
    }

    #[test]
    fn masks_are_a_type_read_back_from_their_written_form() {
        let r = Redaction {
            salt: "s".into(),
            fingerprint_len: 3,
        };
        let m = r.mask_number("+1 2065555555");
        let written = m.to_string();
        assert_eq!(written, r.mask("+1 2065555555"));
        assert_eq!(Mask::parse(&written), Some(m.clone()));
        assert_eq!(m.fingerprint().len(), 3);
        assert!(m.is_mask_of("+1 2065555555", &r));
        assert!(!m.is_mask_of("+1 2065550000", &r));
        // Full numbers, and text that only looks like a mask, are not masks.
        assert_eq!(Mask::parse("+1 2065555555"), None);
        assert_eq!(Mask::parse("+1 206•••5555"), None, "no fingerprint");
        assert_eq!(Mask::parse("+1 206•••5555 ·zz"), None, "not hex");
        assert_eq!(Mask::parse("+1 2065555555 ·a1"), None, "nothing hidden");
        assert!(is_masked(&r.mask("+1 4255550100x123")));
    }

    #[test]
    fn email_addresses_mask_to_first_character_and_domain_with_a_fingerprint() {
        let r = Redaction::for_numbers(
            "s".into(),
            ["kim@contoso.com", "kai@contoso.com", "+1 2065555555"],
        );
        let a = r.mask("kim@contoso.com");
        let b = r.mask("kai@contoso.com");
        assert!(a.starts_with("k•••@contoso.com ·"), "{a}");
        assert_ne!(a, b, "the fingerprint tells two addresses apart");
        assert!(!a.contains("kim"));
        assert!(is_masked(&a));
        assert_eq!(r.mask(&a), a, "masking is idempotent");
        assert!(Mask::parse(&a).unwrap().is_mask_of("kim@contoso.com", &r));
    }
}
