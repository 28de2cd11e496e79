//! Graph's phone rules as the emulator enforces them, written independently of authctl's own number code (so a
//! normalisation bug in authctl is not mirrored by its test double): the documented format `+CC number[xEXT]` with
//! the space required, numbers stored exactly as sent, and masking for callers without full read rights.

use crate::model::PhoneType;

/// Checks Graph's documented phone number format: `+`, a 1–3 digit country code, one space, the number's digits
/// (at least 4), and on office phones an optional `x` and extension digits.
pub fn check_number(phone_type: PhoneType, number: &str) -> Result<(), String> {
    let Some(rest) = number.strip_prefix('+') else {
        return Err("the number must start with `+` and the country code".into());
    };
    let Some((cc, national)) = rest.split_once(' ') else {
        return Err("a space is required between the country code and the number".into());
    };
    if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the country code must be 1 to 3 digits".into());
    }
    let (digits, ext) = match national.split_once('x') {
        Some((d, e)) => (d, Some(e)),
        None => (national, None),
    };
    if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the number after the country code must be digits only".into());
    }
    if let Some(ext) = ext {
        if ext.is_empty() || !ext.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the extension after `x` must be digits".into());
        }
        if phone_type != PhoneType::Office {
            return Err("extensions are supported only on office phones".into());
        }
    }
    Ok(())
}

/// The digits of a number (country code and number, no extension): how the SMS sign-in system compares numbers
/// for uniqueness.
pub fn sms_key(number: &str) -> String {
    let main = number.split('x').next().unwrap_or(number);
    main.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// Masks a number the way Graph shows it to callers without full read rights. `style` (from the seed) picks one of
/// the observed styles; every style keeps the country code and hides digits with characters outside `[0-9 +x]`.
pub fn mask(number: &str, style: u8) -> String {
    let (cc, rest) = number.split_once(' ').unwrap_or(("+", number));
    let digits: Vec<char> = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n = digits.len();
    match style % 3 {
        // `+1 XXXXXXXX55`: all but the last two digits.
        0 => {
            let tail: String = digits[n.saturating_sub(2)..].iter().collect();
            format!("{cc} {}{tail}", "X".repeat(n.saturating_sub(2)))
        }
        // `+1 206*****55`: first three and last two digits kept.
        1 => {
            let head: String = digits[..3.min(n)].iter().collect();
            let tail: String = digits[n.saturating_sub(2).max(3.min(n))..].iter().collect();
            let hidden = n.saturating_sub(head.len() + tail.len());
            format!("{cc} {head}{}{tail}", "*".repeat(hidden))
        }
        // `+1 ••••••••55`
        _ => {
            let tail: String = digits[n.saturating_sub(2)..].iter().collect();
            format!("{cc} {}{tail}", "•".repeat(n.saturating_sub(2)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_needs_the_space_and_digits() {
        assert!(check_number(PhoneType::Mobile, "+1 2065555555").is_ok());
        assert!(check_number(PhoneType::Mobile, "+44 07940123966").is_ok());
        assert!(check_number(PhoneType::Office, "+1 5555551234x123").is_ok());
        assert!(check_number(PhoneType::Mobile, "+12065555555").is_err());
        assert!(check_number(PhoneType::Mobile, "1 2065555555").is_err());
        assert!(check_number(PhoneType::Mobile, "+1 206-555-5555").is_err());
        assert!(check_number(PhoneType::Mobile, "+1 5555551234x123").is_err());
        assert!(check_number(PhoneType::Office, "+1 5555551234x").is_err());
        assert!(check_number(PhoneType::Mobile, "+1234 5555551234").is_err());
    }

    #[test]
    fn masks_hide_digits_with_non_digit_characters() {
        for style in 0..3 {
            let m = mask("+1 2065555555", style);
            assert!(m.starts_with("+1 "), "{m}");
            assert!(m.ends_with("55"), "{m}");
            assert!(
                m.chars().any(|c| !matches!(c, '0'..='9' | ' ' | '+' | 'x')),
                "{m}"
            );
        }
        assert_eq!(mask("+1 2065555555", 0), "+1 XXXXXXXX55");
        assert_eq!(mask("+1 2065555555", 1), "+1 206*****55");
    }

    #[test]
    fn sms_key_compares_digits() {
        assert_eq!(sms_key("+1 2065555555"), sms_key("+1 206 5555555"));
        assert_eq!(sms_key("+1 5555551234x12"), "15555551234");
    }
}
