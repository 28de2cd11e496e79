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

fn auth_doc(mode: &str, users: &str) -> String {
    format!(
        "apiVersion: authctl/v1\nkind: AuthenticationMethods\nspec:\n  mode: {mode}\n  users:\n{users}"
    )
}

#[test]
fn authentication_methods_fill_email_and_registrations() {
    use crate::model::{DesiredEmail, DesiredRegistrations, RegistrationType};
    let (out, diags) = check(&auth_doc(
        "exact",
        "    - user: AllanD@contoso.com\n      phones:\n        mobile: \"+1 2065550131\"\n\
         \x20     registered:\n        microsoftAuthenticator: absent\n        fido2:\n\
         \x20         - \"2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b\"\n          - \"-2_GRUg2-HYz6_1YG4YRAQ2\"\n\
         \x20   - user: ChristieC@contoso.com\n      phones:\n        office: \"+1 4255550132\"\n\
         \x20     email: christie@bücher.example\n\
         \x20   - user: PradeepG@contoso.com\n      mode: merge\n      email: absent\n\
         \x20   - user: LynneR@contoso.com\n      mode: merge\n      phones:\n        mobile: \"+1 2065550133\"\n",
    ));
    assert!(diags.is_empty(), "{diags:#?}");
    let [allan, christie, pradeep, lynne] = [0, 1, 2, 3].map(|i| &out[i].desired);
    // Exact mode, no email declared: absent. Registered types exactly as declared.
    assert_eq!(allan.email, Some(DesiredEmail::Absent));
    assert_eq!(
        allan.registrations,
        [
            (
                RegistrationType::new("microsoftAuthenticator"),
                DesiredRegistrations::Absent
            ),
            (
                RegistrationType::new("fido2"),
                DesiredRegistrations::Keep(
                    [
                        "2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b".to_string(),
                        "-2_GRUg2-HYz6_1YG4YRAQ2".to_string()
                    ]
                    .into()
                )
            ),
        ]
        .into()
    );
    assert_eq!(
        christie.email,
        Some(DesiredEmail::Address("christie@bücher.example".into()))
    );
    assert!(
        christie.registrations.is_empty(),
        "undeclared types are never touched"
    );
    // The per-user merge override applies to the new fields too.
    assert_eq!(pradeep.mode, Mode::Merge);
    assert_eq!(pradeep.email, Some(DesiredEmail::Absent));
    assert_eq!(lynne.email, None, "merge mode, undeclared: unmanaged");
    assert!(lynne.registrations.is_empty());
}

#[test]
fn merge_mode_leaves_an_undeclared_email_unmanaged_and_exact_override_removes_it() {
    use crate::model::DesiredEmail;
    let (out, diags) = check(&auth_doc(
        "merge",
        "    - user: a@contoso.com\n      email: a@fabrikam.example\n\
         \x20   - user: b@contoso.com\n      registered:\n        fido2: absent\n\
         \x20   - user: c@contoso.com\n      mode: exact\n      phones:\n        mobile: absent\n",
    ));
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(
        out[0].desired.email,
        Some(DesiredEmail::Address("a@fabrikam.example".into()))
    );
    assert_eq!(out[1].desired.email, None);
    assert_eq!(out[2].desired.email, Some(DesiredEmail::Absent));
}

#[test]
fn phone_methods_documents_never_manage_email_or_registrations() {
    let (out, diags) = check(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n\
         \x20   - user: a@contoso.com\n      phones:\n        mobile: absent\n\
         \x20   - user: b@contoso.com\n      phones:\n        mobile: absent\n      email: b@fabrikam.example\n\
         \x20     registered:\n        fido2: absent\n",
    );
    assert_eq!(
        out[0].desired.email, None,
        "exact PhoneMethods: email unmanaged"
    );
    assert!(out[0].desired.registrations.is_empty());
    let codes: Vec<(&str, usize)> = diags.iter().map(|d| (d.code.as_str(), d.line)).collect();
    assert_eq!(
        codes,
        [
            ("authctl::manifest::kind-field", 12),
            ("authctl::manifest::kind-field", 13)
        ]
    );
    assert!(!out[1].valid);
    assert_eq!(out[1].desired.email, None);
    assert!(out[1].desired.registrations.is_empty());
    assert!(
        diags[0]
            .help
            .as_deref()
            .unwrap()
            .contains("kind: AuthenticationMethods")
    );
}

#[test]
fn serde_reads_the_new_kind_as_the_validator_does_and_refuses_what_it_refuses() {
    use super::super::model::{EmailSetting, ManifestDocument, RegisteredSetting};
    let text = auth_doc(
        "exact",
        "    - user: a@contoso.com\n      phones:\n        mobile: absent\n      email: a@fabrikam.example\n\
         \x20     registered:\n        fido2: [\"k1\", \"k2\"]\n        quantumKey: absent\n",
    );
    let doc: ManifestDocument = serde_saphyr::from_str(&text).unwrap();
    let u = &doc.spec.users[0];
    assert_eq!(
        u.email,
        Some(EmailSetting::Address("a@fabrikam.example".into()))
    );
    let reg = &u.registered.as_ref().unwrap().0;
    assert_eq!(
        reg.get(&crate::model::RegistrationType::new("fido2")),
        Some(&RegisteredSetting::Keep(vec!["k1".into(), "k2".into()]))
    );
    let (_, diags) = check(&text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, "authctl::manifest::unlisted-registered-type");
    assert!(!diags[0].is_error());
    for bad in [
        "      email: Kim <kim@contoso.com>\n",
        "      registered:\n        fido: absent\n",
        "      registered:\n        fido2: []\n",
        "      registered:\n        fido2: [\"k1\", \"k1\"]\n",
        "      registered:\n        mobile: absent\n",
    ] {
        let text = auth_doc("merge", &format!("    - user: a@contoso.com\n{bad}"));
        assert!(
            serde_saphyr::from_str::<ManifestDocument>(&text).is_err(),
            "serde accepts {bad}"
        );
        let (_, diags) = check(&text);
        assert!(
            diags.iter().any(|d| d.is_error()),
            "validator accepts {bad}"
        );
    }
    let phone_doc = text.replace("AuthenticationMethods", "PhoneMethods");
    assert!(serde_saphyr::from_str::<ManifestDocument>(&phone_doc).is_err());
}

#[test]
fn a_registered_type_or_the_email_in_the_wrong_place_says_where_it_goes() {
    let (_, mut diags) = check(&auth_doc(
        "merge",
        "    - user: a@contoso.com\n      phones:\n        fido2: absent\n        email: a@fabrikam.example\n\
         \x20     microsoftAuthenticator: absent\n",
    ));
    diags.sort_by_key(|d| d.line);
    let got: Vec<(&str, &str, &str)> = diags
        .iter()
        .map(|d| {
            (
                d.code.trim_start_matches("authctl::manifest::"),
                d.path.as_str(),
                d.help.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(got.len(), 3, "{diags:#?}");
    assert_eq!(got[0].0, "unknown-phone-type");
    assert!(
        got[0].2.contains("under the entry's `registered`"),
        "{got:?}"
    );
    assert_eq!(got[1].1, "spec.users[0].phones.email");
    assert!(got[1].2.contains("own `email` field"), "{got:?}");
    assert_eq!(
        (got[2].0, got[2].1),
        ("unknown-field", "spec.users[0].microsoftAuthenticator")
    );
    assert!(
        got[2].2.contains("under the entry's `registered`"),
        "{got:?}"
    );
}
