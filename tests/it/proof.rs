//! Integration tests: proof. Arbitrary input never panics the loader or the number parser; the loader's budgets stop
//! alias bombs and oversized documents with a clear error; the CI recipes' `steps.sh` runs against the emulator; the
//! security pass; the fault campaign and the soak over an in-process emulator on a virtual clock.

use authctl::manifest::{self, Manifests, Severity};
use authctl::phone::PhoneNumber;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------------------------
// Arbitrary input: no panic.

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
            prop_assert!(d.line <= text.lines().count().max(1) + 1, "{d:?} in\n{text}");
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

fn load_text(text: &str) -> Manifests {
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
    let user = (
        word(&[
            "AdeleV@contoso.com",
            "4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e",
            "x#EXT#@contoso.onmicrosoft.com",
        ]),
        prop::option::of(word(&["exact", "merge"])),
        prop::collection::vec(phone, 0..4),
        prop::option::of(word(&["enabled", "disabled", "yes"])),
    )
        .prop_map(|(u, mode, phones, sms)| {
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
            s
        });
    (
        word(&["authctl/v1"]),
        word(&["PhoneMethods"]),
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

// ---------------------------------------------------------------------------------------------------------------
// Security: the loader's budgets.

#[test]
fn an_alias_bomb_is_rejected_by_the_budget_with_a_clear_error() {
    // Nine levels of nine-fold aliases: 9^9 (≈387 million) nodes if expanded.
    let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        y.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    y = format!(
        "apiVersion: authctl/v1\nkind: PhoneMethods\n{y}spec:\n  mode: exact\n  users: []\n"
    );
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(budget.message.contains("alias bomb"), "{}", budget.message);
    assert!(budget.help.is_some());
}

#[test]
fn a_manifest_nested_past_the_depth_budget_is_rejected_with_a_clear_error() {
    let deep = format!("{}x{}", "[".repeat(200), "]".repeat(200));
    let y = format!(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users: []\nextra: {deep}\n"
    );
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(
        budget.message.contains("authctl's YAML limits") || budget.message.contains("deep"),
        "{}",
        budget.message
    );
}

#[test]
fn an_oversized_manifest_is_rejected_by_the_budget_with_a_clear_error() {
    // One scalar past the 64 MiB budget on scalar bytes: the loader stops instead of holding it.
    let mut y = String::with_capacity(68 * 1024 * 1024);
    y.push_str(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users: []\nextra: ",
    );
    y.extend(std::iter::repeat_n('x', 64 * 1024 * 1024 + 1));
    y.push('\n');
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(
        budget.message.contains("authctl's YAML limits"),
        "{}",
        budget.message
    );
}

#[test]
fn a_manifest_with_more_aliases_than_the_budget_is_rejected_with_a_clear_error() {
    // Cheap to expand (each alias is one scalar) but more aliases than any manifest needs.
    let mut y = String::from(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users: []\nx: &x y\nextra: [",
    );
    for _ in 0..10_001 {
        y.push_str("*x, ");
    }
    y.push_str("]\n");
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(budget.message.contains("limit"), "{}", budget.message);
}

/// The one error of `m`, which must be the loader's `budget` error at a real place.
#[track_caller]
fn only_budget_error(m: &Manifests) -> &manifest::Diagnostic {
    let errors: Vec<_> = m
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let d = errors[0];
    assert_eq!(d.code, "authctl::manifest::budget", "{d:#?}");
    assert!(d.line >= 1, "{d:#?}");
    assert!(m.users.is_empty());
    d
}
