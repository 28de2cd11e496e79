//! Unit tests of `manifest::validate`.

use super::*;
use crate::model::{DesiredPhone, PhoneType};

#[test]
fn suggestions_ignore_case_and_separators() {
    let types = ["mobile", "alternateMobile", "office"];
    assert_eq!(suggest("mobil", &types), Some("mobile"));
    assert_eq!(suggest("alternate_mobile", &types), Some("alternateMobile"));
    assert_eq!(suggest("Office", &types), Some("office"));
    assert_eq!(suggest("fax", &types), None);
    assert_eq!(
        suggest("smsSignin", &["user", "mode", "phones", "smsSignIn"]),
        Some("smsSignIn")
    );
}

#[test]
fn users_are_upns_or_guids() {
    assert!(is_guid("4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e"));
    assert!(is_guid("4B1F7C1E-2A0E-4C1E-9D4A-0A3F5B6C7D8E"));
    assert!(!is_guid("4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8"));
    assert!(looks_like_upn("o'brien.pat@contoso.com"));
    assert!(looks_like_upn(
        "jordan.guest_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    ));
    assert!(!looks_like_upn("Adele Vance@contoso.com"));
    assert!(!looks_like_upn("@contoso.com"));
    assert!(!looks_like_upn("AdeleV"));
}

fn check(text: &str) -> (Vec<Declaration>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    check_file("m.yaml", text, &mut out, &mut diags);
    check_across_users(&out, &mut diags);
    (out, diags)
}

#[test]
fn a_valid_document_becomes_desired_users() {
    let (out, diags) = check(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n\
         \x20   - user: AdeleV@contoso.com\n      phones:\n        mobile: \"+1 (206) 555-0100\"\n\
         \x20       office: absent\n      smsSignIn: enabled\n",
    );
    assert!(diags.is_empty(), "{diags:?}");
    let u = &out[0].desired;
    assert_eq!(u.user, "AdeleV@contoso.com");
    assert_eq!(u.mode, Mode::Exact);
    assert_eq!(u.sms_sign_in, Some(SmsSignIn::Enabled));
    assert_eq!(
        u.phones.get(&PhoneType::Mobile),
        Some(&DesiredPhone::Number(
            PhoneNumber::parse("+1 2065550100").unwrap().number
        ))
    );
    assert_eq!(
        u.phones.get(&PhoneType::Office),
        Some(&DesiredPhone::Absent)
    );
    assert_eq!(u.phones.get(&PhoneType::AlternateMobile), None);
    assert_eq!((u.source.line, u.source.column), (6, 7));
}

#[test]
fn a_user_with_an_error_is_not_handed_to_the_planner() {
    let (out, diags) = check(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n\
         \x20   - user: AdeleV@contoso.com\n      phones:\n        mobile: \"2065550100\"\n\
         \x20   - user: AlexW@contoso.com\n      phones:\n        mobile: \"+1 2065550101\"\n",
    );
    assert_eq!(diags.len(), 1);
    assert_eq!(out.iter().filter(|d| d.valid).count(), 1);
    assert_eq!(
        out.iter().find(|d| d.valid).unwrap().desired.user,
        "AlexW@contoso.com"
    );
}
