//! Unit tests of `phone`.

use super::*;
use proptest::prelude::*;

fn canon(s: &str) -> String {
    PhoneNumber::parse(s).unwrap().number.to_string()
}

/// What a manifest number should come to.
#[derive(Debug)]
enum Expect {
    /// Valid; this canonical form.
    Ok(&'static str),
    /// Parsed and possible, but not valid for its country: a warning.
    Warn(&'static str),
    /// Rejected with this kind of error.
    Err(fn(&PhoneError) -> bool),
}
use Expect::*;

/// Spelling variants, extensions, trunk prefixes, impossible lengths, missing `+` and letters over 16 countries.
const CASES: &[(&str, Expect)] = &[
    // United States: every common spelling is one number.
    ("+12065555555", Ok("+1 2065555555")),
    ("+1 206 555 5555", Ok("+1 2065555555")),
    ("+1 (206) 555-5555", Ok("+1 2065555555")),
    ("+1 2065555555", Ok("+1 2065555555")),
    ("+1-206-555-5555", Ok("+1 2065555555")),
    ("+1.206.555.5555", Ok("+1 2065555555")),
    ("  +1 206 555 5555  ", Ok("+1 2065555555")),
    ("+1 206/555-5555", Ok("+1 2065555555")),
    // Office extensions, in every accepted spelling.
    ("+1 425 555 0100 x123", Ok("+1 4255550100x123")),
    ("+1 425 555 0100x123", Ok("+1 4255550100x123")),
    ("+1 425 555 0100 ext. 123", Ok("+1 4255550100x123")),
    ("+1 425 555 0100 ext 123", Ok("+1 4255550100x123")),
    ("+1 425 555 0100 EXT. 7", Ok("+1 4255550100x7")),
    ("+1 425 555 0100 extension 4567", Ok("+1 4255550100x4567")),
    (
        "+1 425 555 0100 x",
        Err(|e| matches!(e, PhoneError::BadExtension { .. })),
    ),
    (
        "+1 425 555 0100 x12345678901",
        Err(|e| matches!(e, PhoneError::BadExtension { .. })),
    ),
    // Possible but not valid: Microsoft's own example is a warning, never an error.
    ("+1 5555551234", Warn("+1 5555551234")),
    ("+1 0005551234", Warn("+1 0005551234")),
    // Impossible lengths.
    (
        "+1 206 555 555",
        Err(|e| matches!(e, PhoneError::ImpossibleLength { .. })),
    ),
    (
        "+1 206 555 55555",
        Err(|e| {
            matches!(
                e,
                PhoneError::ImpossibleLength {
                    problem: "too long",
                    ..
                }
            )
        }),
    ),
    (
        "+1 2",
        Err(|e| {
            matches!(
                e,
                PhoneError::ImpossibleLength {
                    problem: "too short",
                    ..
                }
            )
        }),
    ),
    // Canada shares +1.
    ("+1 416 555 0123", Ok("+1 4165550123")),
    ("+1 (604) 555-0199", Ok("+1 6045550199")),
    // United Kingdom: no trunk 0 after +44.
    ("+44 7911 123456", Ok("+44 7911123456")),
    ("+44 20 7946 0958", Ok("+44 2079460958")),
    (
        "+44 (0)20 7946 0958",
        Err(
            |e| matches!(e, PhoneError::TrunkPrefix { suggestion, .. } if suggestion == "+44 2079460958"),
        ),
    ),
    (
        "+44 07911 123456",
        Err(|e| matches!(e, PhoneError::TrunkPrefix { .. })),
    ),
    ("+44 7911 123456 ext. 12", Ok("+44 7911123456x12")),
    (
        "+44 79111234567890",
        Err(|e| matches!(e, PhoneError::ImpossibleLength { .. })),
    ),
    // Germany: variable lengths.
    ("+49 30 123456", Ok("+49 30123456")),
    ("+49 151 23456789", Ok("+49 15123456789")),
    (
        "+49 (0)30 123456",
        Err(|e| matches!(e, PhoneError::TrunkPrefix { .. })),
    ),
    (
        "+49 123",
        Err(|e| matches!(e, PhoneError::ImpossibleLength { .. })),
    ),
    // France.
    ("+33 1 23 45 67 89", Ok("+33 123456789")),
    ("+33 6 12 34 56 78", Ok("+33 612345678")),
    (
        "+33 06 12 34 56 78",
        Err(|e| matches!(e, PhoneError::TrunkPrefix { .. })),
    ),
    (
        "+33 6 12 34 56 7",
        Err(|e| matches!(e, PhoneError::ImpossibleLength { .. })),
    ),
    // Italy: the leading 0 of a landline belongs to the number and survives.
    ("+39 06 1234 5678", Ok("+39 0612345678")),
    ("+39 02 1234567", Ok("+39 021234567")),
    ("+39 347 123 4567", Ok("+39 3471234567")),
    (
        "+39 06 12",
        Err(|e| matches!(e, PhoneError::ImpossibleLength { .. })),
    ),
    // India.
    ("+91 98765 43210", Ok("+91 9876543210")),
    ("+91 11 2345 6789", Ok("+91 1123456789")),
    ("+91 98765 4321", Warn("+91 987654321")),
    // Japan.
    ("+81 3-1234-5678", Ok("+81 312345678")),
    ("+81 90-1234-5678", Ok("+81 9012345678")),
    (
        "+81 03-1234-5678",
        Err(|e| matches!(e, PhoneError::TrunkPrefix { .. })),
    ),
    // Brazil.
    ("+55 11 91234-5678", Ok("+55 11912345678")),
    ("+55 21 2345-6789", Ok("+55 2123456789")),
    (
        "+55 11 1234",
        Err(|e| matches!(e, PhoneError::ImpossibleLength { .. })),
    ),
    // Australia.
    ("+61 4 1234 5678", Ok("+61 412345678")),
    ("+61 2 9876 5432", Ok("+61 298765432")),
    (
        "+61 04 1234 5678",
        Err(|e| matches!(e, PhoneError::TrunkPrefix { .. })),
    ),
    // Spain, Mexico, Ireland, China, South Africa, Russia.
    ("+34 612 34 56 78", Ok("+34 612345678")),
    ("+52 55 1234 5678", Ok("+52 5512345678")),
    ("+353 85 123 4567", Ok("+353 851234567")),
    ("+86 138 0013 8000", Ok("+86 13800138000")),
    ("+27 82 123 4567", Ok("+27 821234567")),
    ("+7 912 345 67 89", Ok("+7 9123456789")),
    // No `+` country code: an error that shows the expected form.
    (
        "2065555555",
        Err(|e| matches!(e, PhoneError::MissingCountryCode { .. })),
    ),
    (
        "1 206 555 5555",
        Err(|e| matches!(e, PhoneError::MissingCountryCode { .. })),
    ),
    (
        "(206) 555-5555",
        Err(|e| matches!(e, PhoneError::MissingCountryCode { .. })),
    ),
    (
        "+",
        Err(|e| matches!(e, PhoneError::MissingCountryCode { .. })),
    ),
    ("", Err(|e| matches!(e, PhoneError::Empty))),
    ("   ", Err(|e| matches!(e, PhoneError::Empty))),
    (
        "+999 123456",
        Err(|e| matches!(e, PhoneError::UnknownCountryCode { .. })),
    ),
    // Letters, including a letter O for a zero and a tab.
    (
        "+1 206 CALL NOW",
        Err(|e| matches!(e, PhoneError::InvalidCharacter { found: 'C', .. })),
    ),
    (
        "+1 206 555 O100",
        Err(|e| matches!(e, PhoneError::InvalidCharacter { found: 'O', .. })),
    ),
    (
        "+1\t206 555 0100",
        Err(|e| matches!(e, PhoneError::InvalidCharacter { found: '\t', .. })),
    ),
    (
        "+44 7911 123456 #12",
        Err(|e| matches!(e, PhoneError::InvalidCharacter { found: '#', .. })),
    ),
];

#[test]
fn case_table() {
    let countries: std::collections::BTreeSet<u16> = CASES
        .iter()
        .filter_map(|(s, _)| {
            PhoneNumber::parse_observed(s)
                .ok()
                .map(|n| n.country_code())
        })
        .collect();
    assert!(
        CASES.len() >= 40 && countries.len() >= 9,
        "{} cases, {countries:?}",
        CASES.len()
    );
    let mut failures = Vec::new();
    for (input, expect) in CASES {
        let got = PhoneNumber::parse(input);
        let ok = match (expect, &got) {
            (Ok(c), Result::Ok(p)) => p.number.to_string() == *c && p.warning.is_none(),
            (Warn(c), Result::Ok(p)) => p.number.to_string() == *c && p.warning.is_some(),
            (Err(pred), Result::Err(e)) => pred(e),
            _ => false,
        };
        if !ok {
            failures.push(format!("{input:?}: expected {expect:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors_show_the_expected_form() {
    let e = PhoneNumber::parse("2065555555").unwrap_err().to_string();
    assert!(
        e.contains("+1 2065555555") && e.contains("leading `+`"),
        "{e}"
    );
    let e = PhoneNumber::parse("+1 206 555 555")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("9 digits after +1") && e.contains("possible: 7, 10"),
        "{e}"
    );
    let w = PhoneNumber::parse("+1 5555551234")
        .unwrap()
        .warning
        .unwrap()
        .to_string();
    assert!(w.contains("not a valid number"), "{w}");
}

#[test]
fn equality_is_on_the_canonical_form() {
    let a = PhoneNumber::parse("+1 (206) 555-5555").unwrap().number;
    let b = PhoneNumber::parse("+12065555555").unwrap().number;
    assert_eq!(a, b);
    assert_ne!(a, PhoneNumber::parse("+1 206 555 5555 x1").unwrap().number);
    assert_eq!(canon("+39 06 1234 5678"), "+39 0612345678");
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        "\"+1 2065555555\"",
        "serialises canonical"
    );
}

#[test]
fn observed_numbers_are_syntax_only() {
    assert_eq!(
        PhoneNumber::parse_observed("+1 5555551234")
            .unwrap()
            .to_string(),
        "+1 5555551234"
    );
    assert_eq!(
        PhoneNumber::parse_observed("+1 5555551234x123")
            .unwrap()
            .extension(),
        Some("123")
    );
    // Graph's impossible numbers are still read (never rejected for validity).
    assert_eq!(
        PhoneNumber::parse_observed("+1 206").unwrap().to_string(),
        "+1 206"
    );
    // A masked number is not a number.
    assert!(PhoneNumber::parse_observed("+1 206XXXXX55").is_err());
    assert!(PhoneNumber::parse_observed("+1 206*****55").is_err());
    // No country code starts with 0 (a fuzz find: `+03 833333333` was read as country 3, and its canonical
    // form `+3 833333333` read back as +383).
    assert!(matches!(
        PhoneNumber::parse_observed("+03\n833333333"),
        std::result::Result::Err(super::PhoneError::UnknownCountryCode { .. })
    ));
    assert!(PhoneNumber::parse_observed("+0 2065550100").is_err());
    assert!(PhoneNumber::parse("+020 1001234567").is_err());
    assert_eq!(
        PhoneNumber::parse("+020 1001234567")
            .unwrap_err()
            .to_string(),
        "`+020 1001234567`: no country calling code starts with 0; write the code without it (Egypt is `+20`)"
    );
    assert_eq!(
        PhoneNumber::parse("+0").unwrap_err(),
        PhoneError::LeadingZero { input: "+0".into() }
    );
    for unbalanced in [
        "+1 (206 555-0100",
        "+1 206) 555-0100",
        "+1 )206( 5550100",
        "+1 ((206)) 5550100",
    ] {
        assert_eq!(
            PhoneNumber::parse(unbalanced).unwrap_err(),
            PhoneError::UnbalancedBrackets {
                input: unbalanced.into()
            },
            "{unbalanced}"
        );
    }
    assert!(PhoneNumber::parse("+1 (206) 555-0100").is_ok());
}

/// Numbers as people type them: a country code with a real number length, grouped with random separators, and
/// sometimes an extension.
fn written_number() -> impl Strategy<Value = String> {
    let countries = prop::sample::select(vec![
        (1u16, 10usize),
        (44, 10),
        (49, 11),
        (33, 9),
        (39, 10),
        (91, 10),
        (81, 10),
        (55, 11),
        (61, 9),
        (353, 9),
    ]);
    (
        countries,
        prop::collection::vec(0u8..10, 15),
        prop::collection::vec(
            // Brackets must pair up (an unbalanced one is refused), so they are not single separators here.
            prop::sample::select(vec!["", " ", "-", ".", "/"]),
            15,
        ),
        prop::option::of((
            prop::sample::select(vec!["x", " x", " ext. ", " ext ", "extension "]),
            1u32..99999,
        )),
    )
        .prop_map(|((cc, len), digits, seps, ext)| {
            let mut s = format!("+{cc} ");
            for i in 0..len {
                // A first digit of 0 is a trunk prefix in most of these countries; keep numbers realistic.
                let d = if i == 0 { digits[i].max(2) } else { digits[i] };
                s.push(char::from(b'0' + d));
                if i + 1 < len {
                    s.push_str(seps[i]);
                }
            }
            if let Some((marker, n)) = ext {
                s.push_str(&format!("{marker}{n}"));
            }
            s
        })
}

#[test]
fn generated_numbers_mostly_parse() {
    // The properties below only mean something if the generator's numbers parse; keep it honest.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = written_number();
    let parsed = (0..200)
        .filter(|_| {
            let s =
                proptest::strategy::ValueTree::current(&strategy.new_tree(&mut runner).unwrap());
            PhoneNumber::parse(&s).is_ok()
        })
        .count();
    assert!(
        parsed >= 150,
        "only {parsed} of 200 generated numbers parse"
    );
}

proptest! {
    #[test]
    fn canonical_form_is_a_fixed_point(s in written_number()) {
        if let Result::Ok(p) = PhoneNumber::parse(&s) {
            let canonical = p.number.to_string();
            let again = PhoneNumber::parse(&canonical).expect("a canonical form always parses");
            prop_assert_eq!(again.number.to_string(), canonical);
            prop_assert_eq!(again.warning.is_some(), p.warning.is_some());
        }
    }

    #[test]
    fn parse_of_display_is_identity(s in written_number()) {
        if let Result::Ok(p) = PhoneNumber::parse(&s) {
            let shown = p.number.to_string();
            prop_assert_eq!(&PhoneNumber::parse(&shown).unwrap().number, &p.number);
            prop_assert_eq!(&PhoneNumber::parse_observed(&shown).unwrap(), &p.number);
            let json = serde_json::to_string(&p.number).unwrap();
            prop_assert_eq!(serde_json::from_str::<PhoneNumber>(&json).unwrap(), p.number);
        }
    }
}
