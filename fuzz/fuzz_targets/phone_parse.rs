//! Fuzz target: any text through both number parsers; what either accepts must print a canonical form that the
//! lenient parser reads back unchanged.
#![no_main]

use authctl::phone::PhoneNumber;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(p) = PhoneNumber::parse(text) {
        let c = p.number.canonical();
        assert_eq!(PhoneNumber::parse_observed(&c).map(|n| n.canonical()), Ok(c));
    }
    if let Ok(n) = PhoneNumber::parse_observed(text) {
        let c = n.canonical();
        assert_eq!(PhoneNumber::parse_observed(&c).map(|n| n.canonical()), Ok(c));
    }
});
