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
#[path = "phone_tests.rs"]
mod tests;
