//! Integration tests: arbitrary input never panics the manifest loader or the number parsers (property tests over
//! random text and manifest- and number-shaped input, both kinds), and a manifest the validator accepts is one the
//! serde model reads.

use authctl::manifest::{self, Manifests, Severity};
use authctl::phone::PhoneNumber;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_manifest_loader_never_panics_on_arbitrary_text(text in any::<String>()) {
        let m = load_text(&text);
        // Whatever it was, the loader answered with users or diagnostics, never both silently empty for non-YAML.
        prop_assert!(m.files == vec!["-".to_string()]);
    }

    #[test]
    fn the_manifest_loader_never_panics_on_manifest_shaped_documents(text in manifest_like()) {
        let m = load_text(&text);
        // Every error names a place inside the input.
        for d in m.diagnostics.iter().filter(|d| d.severity == Severity::Error) {
            prop_assert!(d.line >= 1, "{d:?}");
            prop_assert!(d.line <= manifest::diagnostic::yaml_lines(&text).count().max(1) + 1, "{d:?} in\n{text}");
        }
    }

    #[test]
    fn what_the_validator_accepts_serde_reads(text in manifest_like()) {
        let m = load_text(&text);
        if !m.has_errors() {
            let docs = serde_saphyr::from_multiple::<authctl::manifest::model::ManifestDocument>(&text);
            prop_assert!(docs.is_ok(), "{:?} in\n{text}", docs.err());
        }
    }

    #[test]
    fn the_number_parsers_never_panic_on_arbitrary_text(text in any::<String>()) {
        let _ = PhoneNumber::parse(&text);
        let _ = PhoneNumber::parse_observed(&text);
    }

    #[test]
    fn the_number_parsers_never_panic_on_number_shaped_text(text in number_like()) {
        if let Ok(p) = PhoneNumber::parse(&text) {
            // What parse accepts, the lenient reader accepts too, and canonical forms are fixed points.
            let canonical = p.number.canonical();
            let again = PhoneNumber::parse_observed(&canonical);
            prop_assert_eq!(again.map(|n| n.canonical()), Ok(canonical.clone()), "from {:?}", text);
        }
        if let Ok(n) = PhoneNumber::parse_observed(&text) {
            let canonical = n.canonical();
            prop_assert_eq!(
                PhoneNumber::parse_observed(&canonical).map(|n| n.canonical()),
                Ok(canonical.clone()),
                "from {:?}", text
            );
        }
    }
}

pub(crate) fn load_text(text: &str) -> Manifests {
    let mut stdin = text.as_bytes();
    manifest::load_from(&["-".to_string()], &mut stdin)
}

/// Text shaped like a phone number: a sign, digits, separators, extension markers, stray letters.
fn number_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[0-9]{1,4}",
            2 => Just(" ".to_string()),
            1 => Just("+".to_string()),
            1 => prop::sample::select(vec!["(", ")", "-", ".", "/", "x", "ext", "ext. ", "extension ", ";ext="])
                .prop_map(str::to_string),
            1 => "[a-zA-Z٠-٩０-９]{1,2}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// A manifest document assembled from valid and broken pieces, so the walker and validator are reached, not only
/// the YAML parser.
fn manifest_like() -> impl Strategy<Value = String> {
    let word = |good: &'static [&'static str]| {
        prop_oneof![
            4 => prop::sample::select(good.to_vec()).prop_map(str::to_string),
            1 => "[a-zA-Z:~{}\\[\\]&*!|>'\"#%@ -]{0,8}",
        ]
    };
    let number = prop_oneof![
        3 => number_like().prop_map(|n| format!("\"{n}\"")),
        1 => Just("absent".to_string()),
        1 => prop::sample::select(vec!["~", "null", "", "12065550100", "[]", "{}", "&a x", "*a"]).prop_map(str::to_string),
    ];
    let phone = (
        word(&["mobile", "alternateMobile", "office", "mobil"]),
        number,
    )
        .prop_map(|(k, v)| format!("        {k}: {v}\n"));
    // Kind AuthenticationMethods: a registered type and its value, and an email.
    let registered = (
        word(&[
            "fido2",
            "microsoftAuthenticator",
            "fido",
            "quantumKey",
            "mobile",
        ]),
        prop::sample::select(vec![
            "absent",
            "[\"k1\"]",
            "[]",
            "[\"k1\", \"K1\"]",
            "[\"4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e\", \"4B1F7C1E-2A0E-4C1E-9D4A-0A3F5B6C7D8E\"]",
            "~",
            "\n          - \"k 1\"\n          - 12",
            "all",
            "{id: k1}",
        ]),
    )
        .prop_map(|(k, v)| format!("        {k}: {v}\n"));
    let email = word(&[
        "adele@fabrikam.example",
        "absent",
        "\"Adele <adele@fabrikam.example>\"",
        "adele@bücher.example",
        "adele@fabrikam",
        "~",
    ]);
    let user = (
        word(&[
            "AdeleV@contoso.com",
            "4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e",
            "x#EXT#@contoso.onmicrosoft.com",
        ]),
        prop::option::of(word(&["exact", "merge"])),
        prop::collection::vec(phone, 0..4),
        prop::option::of(word(&["enabled", "disabled", "yes"])),
        prop::option::of(email),
        prop::collection::vec(registered, 0..3),
    )
        .prop_map(|(u, mode, phones, sms, email, registered)| {
            let mut s = format!("    - user: {u}\n");
            if let Some(m) = mode {
                s.push_str(&format!("      mode: {m}\n"));
            }
            if !phones.is_empty() {
                s.push_str("      phones:\n");
                s.push_str(&phones.concat());
            }
            if let Some(x) = sms {
                s.push_str(&format!("      smsSignIn: {x}\n"));
            }
            if let Some(e) = email {
                s.push_str(&format!("      email: {e}\n"));
            }
            if !registered.is_empty() {
                s.push_str("      registered:\n");
                s.push_str(&registered.concat());
            }
            s
        });
    (
        word(&["authctl/v1"]),
        word(&["PhoneMethods", "AuthenticationMethods"]),
        word(&["exact", "merge"]),
        prop::collection::vec(user, 0..5),
        1..3usize,
    )
        .prop_map(|(api, kind, mode, users, docs)| {
            let doc = format!(
                "apiVersion: {api}\nkind: {kind}\nspec:\n  mode: {mode}\n  users:\n{}",
                users.concat()
            );
            vec![doc; docs].join("---\n")
        })
}
