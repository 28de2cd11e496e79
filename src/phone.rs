//! Canonical phone numbers, pure. Two parsers with different jobs:
//!
//! - [`PhoneNumber::parse`] reads what people write in manifests (`+1 (206) 555-5555`, `+44 7911 123456 ext. 12`),
//!   requires a `+` country code, rejects impossible lengths and letters, and warns (never fails) when a number is
//!   possible but not valid for its country — Microsoft's own examples such as `+1 5555551234` are of that kind.
//! - [`PhoneNumber::parse_observed`] reads numbers Graph sends back: syntax only, never rejected for validity, since
//!   the tenant already holds them.
//!
//! Both produce the canonical form `+{cc} {E.164 digits after the cc}[x{ext}]`, which is also Graph's documented
//! input format. Equality is on that form, so `+12065555555` and `+1 2065555555` are the same number. The national
//! part is kept as a digit string (not an integer) so Italian leading zeros survive (`+39 0612345678`).

use std::fmt;

use phonenumber::metadata::DATABASE;

/// A phone number in canonical form. Construct it with [`PhoneNumber::parse`] or [`PhoneNumber::parse_observed`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber {
    country_code: u16,
    national: String,
    extension: Option<String>,
}

/// A number that parsed and is possible, with a reason to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneWarning {
    /// Possible length for the country, but not a number the numbering plan assigns.
    NotValidForCountry {
        /// The canonical form of the number.
        canonical: String,
    },
}

impl fmt::Display for PhoneWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhoneWarning::NotValidForCountry { canonical } => write!(
                f,
                "`{canonical}` has a possible length but is not a valid number in its country's numbering plan \
                 (Graph accepts it; check for a typo)"
            ),
        }
    }
}

/// Why a number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Empty or whitespace only.
    #[error(
        "the phone number is empty; write it as `+{{country code}} {{number}}`, e.g. `+1 2065555555`"
    )]
    Empty,
    /// No leading `+` country code.
    #[error(
        "`{input}` has no country code; write it with a leading `+` and the country code, e.g. `+1 2065555555`"
    )]
    MissingCountryCode {
        /// What was written.
        input: String,
    },
    /// Characters that are not digits, spaces or phone punctuation.
    #[error(
        "`{input}` contains `{found}`, which is not part of a phone number (digits, spaces, `-`, `.`, `(`, `)`, and an extension such as `x123`)"
    )]
    InvalidCharacter {
        /// What was written.
        input: String,
        /// The first offending character.
        found: char,
    },
    /// The digits after `+` start with 0, which no country calling code does (`+020…` is not Egypt's +20).
    #[error(
        "`{input}`: no country calling code starts with 0; write the code without it (Egypt is `+20`)"
    )]
    LeadingZero {
        /// What was written.
        input: String,
    },
    /// Brackets that do not pair up (`+1 (206 555-0100`): the number may not be what was meant.
    #[error("`{input}`: unbalanced brackets; write `(` and `)` in pairs, or leave them out")]
    UnbalancedBrackets {
        /// What was written.
        input: String,
    },
    /// The country code is not assigned.
    #[error("`{input}`: +{code} is not a country calling code")]
    UnknownCountryCode {
        /// What was written.
        input: String,
        /// The digits read as a country code.
        code: String,
    },
    /// Too short or too long for the country.
    #[error(
        "`{input}`: {digits} digits after +{country_code} is {problem} for that country (possible: {possible})"
    )]
    ImpossibleLength {
        /// What was written.
        input: String,
        /// The country calling code.
        country_code: u16,
        /// How many national digits were given.
        digits: usize,
        /// "too short", "too long" or "not a possible length".
        problem: &'static str,
        /// The possible lengths, e.g. "10".
        possible: String,
    },
    /// A national trunk prefix (`0`) written after the country code, as in `+44 07911 123456`: it is dialled only
    /// inside the country, and Graph would store a different number.
    #[error(
        "`{input}`: the leading 0 after the country code is a trunk prefix, dialled only inside the country; the number is `{suggestion}`"
    )]
    TrunkPrefix {
        /// What was written.
        input: String,
        /// The number without the trunk prefix, canonical.
        suggestion: String,
    },
    /// A malformed extension.
    #[error("`{input}`: the extension must be 1 to 10 digits after `x` or `ext.`")]
    BadExtension {
        /// What was written.
        input: String,
    },
}

/// The result of a manifest parse: the number and an optional warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The canonical number.
    pub number: PhoneNumber,
    /// Set when the number is possible but not valid for its country.
    pub warning: Option<PhoneWarning>,
}

impl PhoneNumber {
    /// Parses a number as people write it in manifests. See the module documentation for the rules.
    pub fn parse(input: &str) -> Result<Parsed, PhoneError> {
        let (cc, national, extension) = split(input, true)?;
        let number = PhoneNumber {
            country_code: cc,
            national,
            extension,
        };
        let metas = DATABASE.by_code(&cc).unwrap_or_default();
        if metas.is_empty() {
            return Err(PhoneError::UnknownCountryCode {
                input: input.trim().to_string(),
                code: cc.to_string(),
            });
        }
        // `+44 (0)7911 123456` and `+49 030 1234567` carry the trunk prefix people dial at home. Where the country
        // uses `0` as a trunk prefix and the number is only valid without it, say so rather than report a length
        // or validity problem. Italy has no trunk prefix (its leading 0 belongs to the number), so it never lands
        // here.
        if let Some(rest) = number.national.strip_prefix('0')
            && !rest.is_empty()
            && metas.iter().any(|m| m.national_prefix() == Some("0"))
            && !is_valid(cc, &number.national)
            && is_valid(cc, rest)
        {
            let suggestion = PhoneNumber {
                country_code: cc,
                national: rest.to_string(),
                extension: number.extension.clone(),
            };
            return Err(PhoneError::TrunkPrefix {
                input: input.trim().to_string(),
                suggestion: suggestion.to_string(),
            });
        }
        // Possible lengths: the union over every region sharing the calling code (e.g. +1 = US, CA, …).
        // The metadata keeps possible lengths on each number type's descriptor (the general one is often empty),
        // so take the union of all of them.
        let mut possible: Vec<u16> = metas
            .iter()
            .flat_map(|m| {
                let d = m.descriptors();
                [
                    Some(d.general()),
                    d.fixed_line(),
                    d.mobile(),
                    d.toll_free(),
                    d.premium_rate(),
                    d.shared_cost(),
                    d.personal_number(),
                    d.voip(),
                    d.pager(),
                    d.uan(),
                    d.voicemail(),
                ]
                .into_iter()
                .flatten()
                .flat_map(|desc| desc.possible_length().iter().copied())
                .collect::<Vec<_>>()
            })
            .collect();
        possible.sort_unstable();
        possible.dedup();
        let len = number.national.len() as u16;
        if !possible.is_empty() && !possible.contains(&len) {
            let problem = if len < possible[0] {
                "too short"
            } else if len > *possible.last().unwrap_or(&0) {
                "too long"
            } else {
                "not a possible length"
            };
            return Err(PhoneError::ImpossibleLength {
                input: input.trim().to_string(),
                country_code: cc,
                digits: number.national.len(),
                problem,
                possible: possible
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let valid = is_valid(cc, &number.national);
        let warning = (!valid).then(|| PhoneWarning::NotValidForCountry {
            canonical: number.to_string(),
        });
        Ok(Parsed { number, warning })
    }

    /// Parses a number read back from Graph: syntax only (a `+`, a country code, digits, an optional extension).
    /// Never rejects a number for validity or length.
    pub fn parse_observed(input: &str) -> Result<PhoneNumber, PhoneError> {
        let (cc, national, extension) = split(input, false)?;
        Ok(PhoneNumber {
            country_code: cc,
            national,
            extension,
        })
    }

    /// The country calling code, e.g. 1 or 44.
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The E.164 digits after the country code, leading zeros kept.
    pub fn national(&self) -> &str {
        &self.national
    }

    /// The extension digits, if any.
    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// The canonical form (the same as `Display`).
    pub fn canonical(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{} {}", self.country_code, self.national)?;
        if let Some(ext) = &self.extension {
            write!(f, "x{ext}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PhoneNumber {
    /// Deserialises leniently (as Graph's numbers), for plan files written by authctl itself.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PhoneNumber::parse_observed(&s).map_err(serde::de::Error::custom)
    }
}

/// Whether libphonenumber's metadata calls `+{cc}{national}` a valid number *as written*: libphonenumber quietly
/// drops a trunk prefix (`+44 07911…` becomes `+44 7911…`), but Graph stores what it is sent, so a number that only
/// validates after such a rewrite is not valid here.
fn is_valid(cc: u16, national: &str) -> bool {
    let e164 = format!("+{cc}{national}");
    phonenumber::parse(None, &e164).is_ok_and(|n| {
        phonenumber::is_valid(&n) && n.format().mode(phonenumber::Mode::E164).to_string() == e164
    })
}

/// Splits `input` into (country code, national digits, extension). `strict` rejects letters and stray characters;
/// the lenient mode (Graph's numbers) accepts any separator.
fn split(input: &str, strict: bool) -> Result<(u16, String, Option<String>), PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    let Some(rest) = trimmed.strip_prefix('+') else {
        return Err(PhoneError::MissingCountryCode {
            input: trimmed.to_string(),
        });
    };
    let (main, extension) = split_extension(rest).ok_or_else(|| PhoneError::BadExtension {
        input: trimmed.to_string(),
    })?;
    if strict {
        let mut depth = 0i32;
        for c in main.chars() {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            if !(0..=1).contains(&depth) {
                break;
            }
        }
        if depth != 0 {
            return Err(PhoneError::UnbalancedBrackets {
                input: trimmed.to_string(),
            });
        }
    }
    let mut digits = String::with_capacity(main.len());
    // A space (or other separator) right after the country code tells where it ends, as Graph writes it.
    let mut first_group: Option<usize> = None;
    for c in main.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {
                if first_group.is_none() && !digits.is_empty() {
                    first_group = Some(digits.len());
                }
            }
            // Graph has been seen to answer with other separators; only numbers read back get that latitude.
            c if !strict && (c.is_whitespace() || c == '\u{2010}' || c == '\u{2011}') => {
                if first_group.is_none() && !digits.is_empty() {
                    first_group = Some(digits.len());
                }
            }
            // Letters (or a masking character such as `X` or `*`) are never part of a number, in either mode:
            // an observed number with one is masked, which the plan engine must see as unreadable.
            other => {
                return Err(PhoneError::InvalidCharacter {
                    input: trimmed.to_string(),
                    found: other,
                });
            }
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::MissingCountryCode {
            input: trimmed.to_string(),
        });
    }
    let cc_len = country_code_len(&digits).or_else(|| {
        if strict {
            None
        } else {
            // No country calling code starts with 0: `+03 …` is not country 3 (found by fuzzing; read back as
            // `+3 …`, it then parsed as Kosovo's +383).
            first_group.filter(|&n| n <= 3 && !digits.starts_with('0'))
        }
    });
    let Some(cc_len) = cc_len else {
        if strict && digits.starts_with('0') {
            return Err(PhoneError::LeadingZero {
                input: trimmed.to_string(),
            });
        }
        return Err(PhoneError::UnknownCountryCode {
            input: trimmed.to_string(),
            code: digits[..digits.len().min(3)].to_string(),
        });
    };
    let cc: u16 = digits[..cc_len]
        .parse()
        .map_err(|_| PhoneError::UnknownCountryCode {
            input: trimmed.to_string(),
            code: digits[..cc_len].to_string(),
        })?;
    let national = digits[cc_len..].to_string();
    if national.is_empty() {
        return Err(PhoneError::ImpossibleLength {
            input: trimmed.to_string(),
            country_code: cc,
            digits: 0,
            problem: "too short",
            possible: "more".into(),
        });
    }
    Ok((cc, national, extension))
}

/// Country calling codes are prefix-free: the first 1, 2 or 3 digits that name an assigned code are the code.
/// None begins with 0 (`+020…` is not Egypt's +20).
fn country_code_len(digits: &str) -> Option<usize> {
    if digits.starts_with('0') {
        return None;
    }
    (1..=3.min(digits.len())).find(|&n| {
        digits[..n]
            .parse::<u16>()
            .ok()
            .and_then(|c| DATABASE.by_code(&c))
            .is_some()
    })
}

/// Splits a trailing extension (`x123`, `ext123`, `ext. 123`, `extension 123`, any case) off the number.
/// Returns `None` when an extension marker is present but not followed by 1–10 digits.
fn split_extension(s: &str) -> Option<(&str, Option<String>)> {
    let lower = s.to_ascii_lowercase();
    let markers = ["extension", "ext.", "ext", "x"];
    for marker in markers {
        if let Some(pos) = lower.rfind(marker) {
            // Only a marker after some digits counts, and the earliest-starting, longest marker wins.
            let before = &s[..pos];
            if !before.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            let after = s[pos + marker.len()..].trim_start_matches(' ').trim_end();
            if !after.is_empty() && after.len() <= 10 && after.chars().all(|c| c.is_ascii_digit()) {
                return Some((before, Some(after.to_string())));
            }
            return None;
        }
    }
    Some((s, None))
}

#[cfg(test)]
mod tests {
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
                let s = proptest::strategy::ValueTree::current(
                    &strategy.new_tree(&mut runner).unwrap(),
                );
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
}
