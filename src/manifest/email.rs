//! The SSPR email address a manifest declares (`email: kim@contoso.com`): the offline syntax check the validator and
//! the serde model share, so both refuse the same addresses with the same reason.
//!
//! The rule is deliberately at least as strict as what Graph is assumed to accept (ASSUMPTIONS.md rows 73 and 87): a bare
//! `name@domain` (no display name, no `mailto:`, no whitespace or control characters), at most 254 characters; the
//! local part is ASCII (RFC 5322 `atext` and dots, no leading, trailing or doubled dot, at most 64 characters); the
//! domain is a host name of at least two labels, internationalised (IDN) domains accepted in Unicode or in their
//! `xn--` form, checked through IDNA (UTS #46) by the `url` crate's host parser. IP address literals are refused.

use std::fmt;

/// The longest address accepted (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest local part (RFC 5321).
pub const MAX_LOCAL_CHARS: usize = 64;

/// Why an address was refused. [`fmt::Display`] says it in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailProblem {
    /// An empty string.
    Empty,
    /// Longer than [`MAX_EMAIL_CHARS`].
    TooLong(usize),
    /// A control or invisible character.
    Control(char),
    /// `Kim <kim@contoso.com>`, `"Kim" <…>`: the address inside the brackets, when there is one.
    DisplayName(Option<String>),
    /// `mailto:kim@contoso.com`: the address without the scheme.
    Mailto(String),
    /// Whitespace somewhere: the address without surrounding whitespace when only that was wrong.
    Whitespace(Option<String>),
    /// No `@`.
    NoAt,
    /// More than one `@`.
    SeveralAts,
    /// Nothing before the `@`.
    EmptyLocal,
    /// A local part over [`MAX_LOCAL_CHARS`].
    LocalTooLong(usize),
    /// A character the local part may not hold (non-ASCII, or ASCII outside `atext`).
    LocalChar(char),
    /// A dot at the start or end of the local part, or two in a row.
    LocalDots,
    /// Nothing after the `@`.
    EmptyDomain,
    /// An IP address literal (`kim@[10.0.0.1]`, `kim@10.0.0.1`).
    IpLiteral,
    /// The domain is not a host name; the reason.
    Domain(String),
}

impl fmt::Display for EmailProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailProblem::Empty => f.write_str("the address is empty"),
            EmailProblem::TooLong(n) => write!(
                f,
                "the address is {n} characters long; an email address has at most {MAX_EMAIL_CHARS}"
            ),
            EmailProblem::Control(c) => write!(
                f,
                "the address holds the control or invisible character U+{:04X}",
                *c as u32
            ),
            EmailProblem::DisplayName(_) => {
                f.write_str("the value has a display name; `email` takes the bare address only")
            }
            EmailProblem::Mailto(_) => {
                f.write_str("the value is a `mailto:` link; `email` takes the bare address only")
            }
            EmailProblem::Whitespace(_) => f.write_str("an email address holds no whitespace"),
            EmailProblem::NoAt => f.write_str("the address has no `@`"),
            EmailProblem::SeveralAts => f.write_str("the address has more than one `@`"),
            EmailProblem::EmptyLocal => f.write_str("the address has nothing before the `@`"),
            EmailProblem::LocalTooLong(n) => write!(
                f,
                "the part before the `@` is {n} characters long; it may have at most {MAX_LOCAL_CHARS}"
            ),
            EmailProblem::LocalChar(c) => write!(
                f,
                "the part before the `@` holds `{}`, which an address's local part may not (ASCII letters, digits, \
                 `.` and !#$%&'*+-/=?^_`{{|}}~ only)",
                crate::escape::visible(&c.to_string())
            ),
            EmailProblem::LocalDots => f.write_str(
                "the part before the `@` starts or ends with a dot, or has two dots in a row",
            ),
            EmailProblem::EmptyDomain => f.write_str("the address has nothing after the `@`"),
            EmailProblem::IpLiteral => f.write_str(
                "the domain is an IP address; the password-reset email needs a domain name",
            ),
            EmailProblem::Domain(why) => write!(f, "the domain {why}"),
        }
    }
}

impl EmailProblem {
    /// What to write instead, when the value shows it (`Kim <kim@contoso.com>` → `kim@contoso.com`).
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            EmailProblem::DisplayName(Some(s))
            | EmailProblem::Mailto(s)
            | EmailProblem::Whitespace(Some(s)) => Some(s),
            _ => None,
        }
    }
}

/// Checks one address (not `absent`, which the caller reads first).
pub fn check(address: &str) -> Result<(), EmailProblem> {
    if address.is_empty() {
        return Err(EmailProblem::Empty);
    }
    if let Some(c) = address.chars().find(|&c| crate::escape::is_hostile(c)) {
        return Err(EmailProblem::Control(c));
    }
    // `Kim <kim@contoso.com>`: the usual way a display name is pasted in.
    if let (Some(open), Some(close)) = (address.find('<'), address.rfind('>')) {
        let inner = address.get(open + 1..close).map(str::trim);
        let inner = inner.filter(|s| check(s).is_ok()).map(str::to_string);
        return Err(EmailProblem::DisplayName(inner));
    }
    if address.contains(['<', '>', '"']) {
        return Err(EmailProblem::DisplayName(None));
    }
    if let Some(rest) = address
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("mailto:"))
        .and_then(|_| address.get(7..))
        && check(rest).is_ok()
    {
        return Err(EmailProblem::Mailto(rest.to_string()));
    }
    if address.chars().any(char::is_whitespace) {
        let trimmed = address.trim();
        let fixed = (trimmed != address && check(trimmed).is_ok()).then(|| trimmed.to_string());
        return Err(EmailProblem::Whitespace(fixed));
    }
    let chars = address.chars().count();
    if chars > MAX_EMAIL_CHARS {
        return Err(EmailProblem::TooLong(chars));
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err(EmailProblem::NoAt);
    };
    if domain.contains('@') {
        return Err(EmailProblem::SeveralAts);
    }
    check_local(local)?;
    check_domain(domain)
}

fn check_local(local: &str) -> Result<(), EmailProblem> {
    if local.is_empty() {
        return Err(EmailProblem::EmptyLocal);
    }
    let n = local.chars().count();
    if n > MAX_LOCAL_CHARS {
        return Err(EmailProblem::LocalTooLong(n));
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if let Some(c) = local.chars().find(|&c| !atext(c)) {
        return Err(EmailProblem::LocalChar(c));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailProblem::LocalDots);
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), EmailProblem> {
    if domain.is_empty() {
        return Err(EmailProblem::EmptyDomain);
    }
    if domain.starts_with('[') {
        return Err(EmailProblem::IpLiteral);
    }
    // Only letters, digits, `-` and `.` among ASCII (the host parser would also decode `%41` and read `_`); any
    // non-ASCII character is left to IDNA.
    if let Some(c) = domain
        .chars()
        .find(|&c| c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(EmailProblem::Domain(format!(
            "holds `{}`; a domain has letters, digits, `-` and dots only",
            crate::escape::visible(&c.to_string())
        )));
    }
    let ascii = match url::Host::parse(domain) {
        Ok(url::Host::Domain(d)) => d,
        Ok(_) => return Err(EmailProblem::IpLiteral),
        Err(_) => {
            return Err(EmailProblem::Domain(
                "is not a valid internationalised domain name (IDNA)".into(),
            ));
        }
    };
    if ascii.len() > 253 {
        return Err(EmailProblem::Domain(format!(
            "is {} characters long in its ASCII form; a domain has at most 253",
            ascii.len()
        )));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err(EmailProblem::Domain(
            "has an empty label (a dot at the start or end, or two in a row)".into(),
        ));
    }
    if labels.len() < 2 {
        return Err(EmailProblem::Domain(
            "has a single label; write the full domain (`contoso.com`, not `contoso`)".into(),
        ));
    }
    if let Some(l) = labels.iter().find(|l| l.len() > 63) {
        return Err(EmailProblem::Domain(format!(
            "has a label of {} characters (`{}…`); a label has at most 63",
            l.len(),
            &l[..20]
        )));
    }
    if labels
        .iter()
        .any(|l| l.starts_with('-') || l.ends_with('-'))
    {
        return Err(EmailProblem::Domain(
            "has a label that starts or ends with `-`".into(),
        ));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(EmailProblem::IpLiteral);
    }
    Ok(())
}

/// The form two addresses are compared in: the local part as written, the domain in lower-case ASCII (IDN domains
/// as `xn--` labels), so `kim@Bücher.Example` and `kim@xn--bcher-kva.example` are the same address. An address
/// that does not pass [`check`] is returned unchanged.
pub fn comparable(address: &str) -> String {
    if check(address).is_err() {
        return address.to_string();
    }
    match address.split_once('@') {
        Some((local, domain)) => match url::Host::parse(domain) {
            Ok(url::Host::Domain(d)) => format!("{local}@{}", d.to_ascii_lowercase()),
            _ => address.to_string(),
        },
        None => address.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_idn_addresses_pass() {
        for ok in [
            "kim@contoso.com",
            "a.b+c@sub.example.org",
            "o'brien.pat@contoso.com",
            "kim@bücher.example",
            "kim@xn--bcher-kva.example",
            "kim@例え.テスト",
            "KIM@CONTOSO.COM",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn each_problem_is_named() {
        use EmailProblem as P;
        let cases: &[(&str, P)] = &[
            ("", P::Empty),
            (
                "Kim <kim@contoso.com>",
                P::DisplayName(Some("kim@contoso.com".into())),
            ),
            ("\"Kim\" kim@contoso.com", P::DisplayName(None)),
            (
                "mailto:kim@contoso.com",
                P::Mailto("kim@contoso.com".into()),
            ),
            (
                " kim@contoso.com",
                P::Whitespace(Some("kim@contoso.com".into())),
            ),
            ("kim @contoso.com", P::Whitespace(None)),
            ("kim", P::NoAt),
            ("kim@a@contoso.com", P::SeveralAts),
            ("@contoso.com", P::EmptyLocal),
            ("kim.@contoso.com", P::LocalDots),
            ("k..im@contoso.com", P::LocalDots),
            ("kïm@contoso.com", P::LocalChar('ï')),
            ("ki,m@contoso.com", P::LocalChar(',')),
            ("kim@", P::EmptyDomain),
            ("kim@[10.0.0.1]", P::IpLiteral),
            ("kim@10.0.0.1", P::IpLiteral),
            ("kim\u{7}@contoso.com", P::Control('\u{7}')),
            ("kim\u{202e}@contoso.com", P::Control('\u{202e}')),
        ];
        for (input, want) in cases {
            assert_eq!(check(input).as_ref(), Err(want), "{input:?}");
        }
        let long = format!("{}@contoso.com", "k".repeat(65));
        assert_eq!(check(&long), Err(P::LocalTooLong(65)));
        let longer = format!("kim@{}.com", "a.".repeat(130));
        assert!(matches!(check(&longer), Err(P::TooLong(_))), "{longer}");
        for bad_domain in [
            "kim@contoso",
            "kim@contoso..com",
            "kim@contoso.com.",
            "kim@.contoso.com",
            "kim@-contoso.com",
            "kim@con_toso.com",
            "kim@exa%41mple.com",
            "kim@xn--zz.example",
        ] {
            assert!(
                matches!(check(bad_domain), Err(P::Domain(_))),
                "{bad_domain}: {:?}",
                check(bad_domain)
            );
        }
        assert_eq!(
            P::DisplayName(Some("kim@contoso.com".into())).suggestion(),
            Some("kim@contoso.com")
        );
    }

    #[test]
    fn comparable_lowers_and_punycodes_the_domain_only() {
        assert_eq!(comparable("Kim@Contoso.COM"), "Kim@contoso.com");
        assert_eq!(
            comparable("kim@Bücher.example"),
            comparable("kim@xn--bcher-kva.example")
        );
        assert_eq!(comparable("not an address"), "not an address");
    }
}
