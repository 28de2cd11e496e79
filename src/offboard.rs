//! Offboarding, the pure part: which of a user's methods are removed (every type an admin can delete; the password
//! stays), in which order (a Temporary Access Pass first, so nobody registers anything new with it; the types that
//! can be the default MFA method last, Microsoft Authenticator very last, since Graph refuses to delete the default
//! "with other methods configured"), the guards (`--max-deletes`, protected accounts), the warning for a user the
//! manifests still declare with methods to keep, and the report. No HTTP, no terminal: `cli::offboard` reads Graph,
//! asks, deletes and prints through these.

use serde::Serialize;

use crate::model::{DesiredEmail, DesiredPhone, DesiredRegistrations, DesiredUser, MethodKind};
use crate::plan::GraphErrorSummary;

/// One method of a user's list as offboarding sees it (parsed from Graph's answer at the edge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedMethod {
    /// What it is.
    #[serde(skip)]
    #[schemars(skip)]
    pub kind: MethodKind,
    /// Graph's short type name (`phone`, `fido2`, `microsoftAuthenticator`, …; a type authctl does not know by the
    /// name in its `@odata.type`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Graph's id of the method.
    pub id: String,
    /// What tells it apart for a person: the phone type, the device or key name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ListedMethod {
    /// `fido2 "YubiKey 5"`, `phone (mobile)`, `email`.
    pub fn describe(&self) -> String {
        match &self.detail {
            Some(d) if self.kind == MethodKind::Phone => format!("{} ({d})", self.type_name),
            Some(d) => format!("{} \"{}\"", self.type_name, crate::escape::visible(d)),
            None => self.type_name.clone(),
        }
    }
}

/// One planned removal: the method and the path it is deleted at (under `/users/{id}/authentication/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The method.
    pub method: ListedMethod,
    /// The per-type path segment (`fido2Methods`, `qrCodePinMethod`, `{short}Methods` for a type authctl does not
    /// know).
    pub segment: String,
    /// The segment addresses the user's one method of the type, without an id (`qrCodePinMethod`).
    pub singular: bool,
}

impl Removal {
    /// The removal of `m`; `None` for the password (it stays) and for an unknown type without a usable name.
    pub fn of(m: ListedMethod) -> Option<Removal> {
        let (segment, singular) = match m.kind {
            MethodKind::Password => return None,
            MethodKind::Unknown => {
                let ok = !m.type_name.is_empty()
                    && m.type_name.len() <= 64
                    && m.type_name.chars().all(|c| c.is_ascii_alphanumeric());
                if !ok {
                    return None;
                }
                (format!("{}Methods", m.type_name), false)
            }
            k => (k.segment()?.to_string(), k == MethodKind::QrCodePin),
        };
        if m.id.is_empty() && !singular {
            return None;
        }
        Some(Removal {
            method: m,
            segment,
            singular,
        })
    }

    /// The type is one authctl does not know: its path follows Graph's naming pattern and is a guess.
    pub fn guessed_path(&self) -> bool {
        self.method.kind == MethodKind::Unknown
    }
}

/// The order rank of a method (smaller first): a Temporary Access Pass first; methods that can't be the default MFA
/// method next; then those that can (OATH tokens, phones — office, alternate mobile, mobile, since Graph refuses to
/// delete a mobile while an alternate mobile exists — and Microsoft Authenticator, the usual default, last).
fn rank(m: &ListedMethod) -> u8 {
    match m.kind {
        MethodKind::TemporaryAccessPass => 0,
        MethodKind::Email
        | MethodKind::Fido2
        | MethodKind::WindowsHelloForBusiness
        | MethodKind::PlatformCredential
        | MethodKind::QrCodePin
        | MethodKind::External
        | MethodKind::Unknown
        | MethodKind::Password => 1,
        MethodKind::SoftwareOath | MethodKind::HardwareOath => 2,
        MethodKind::Phone => match m.detail.as_deref() {
            Some("office") => 3,
            Some("alternateMobile") => 4,
            _ => 5,
        },
        MethodKind::PasswordlessMicrosoftAuthenticator | MethodKind::MicrosoftAuthenticator => 6,
    }
}

/// What offboarding does to one user's listed methods: the removals in order, and what stays (the password, and
/// anything it can't address).
pub fn plan_user(methods: &[ListedMethod]) -> (Vec<Removal>, Vec<ListedMethod>) {
    let mut removals = Vec::new();
    let mut kept = Vec::new();
    for m in methods {
        match Removal::of(m.clone()) {
            Some(r) => removals.push(r),
            None => kept.push(m.clone()),
        }
    }
    removals.sort_by_key(|r| rank(&r.method));
    (removals, kept)
}

/// `--max-deletes`: the refusal when the run would remove more methods than the limit.
pub fn max_deletes_refusal(planned: usize, limit: usize) -> Option<String> {
    (planned > limit).then(|| {
        format!(
            "guard --max-deletes does not hold: offboarding would remove {planned} method(s), the limit is {limit}; \
             nothing was changed (raise --max-deletes if that is intended)"
        )
    })
}

/// Where a protected account was named: the `--protect` flag or the repository config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedList {
    /// Where the list comes from (`--protect`, `/repo/authctl.yaml (protectedAccounts)`).
    pub source: String,
    /// The accounts (UPNs or object ids, compared case-insensitively).
    pub accounts: Vec<String>,
}

/// The lists that protect a user known by any of `names` (as given, UPN, object id), with the name that matched.
pub fn protected_by<'a>(
    names: &[&str],
    lists: &'a [ProtectedList],
) -> Vec<(&'a ProtectedList, String)> {
    lists
        .iter()
        .filter_map(|l| {
            names
                .iter()
                .find(|n| {
                    l.accounts
                        .iter()
                        .any(|a| a.trim().eq_ignore_ascii_case(n.trim()))
                })
                .map(|n| (l, (*n).to_string()))
        })
        .collect()
}

/// The methods a manifest declares for the user that offboarding removes and the next `apply` would put back or
/// keep (a phone number, the email address, registrations kept by id). Empty when the manifest keeps nothing.
pub fn kept_by_manifest(d: &DesiredUser) -> Vec<String> {
    let mut kept: Vec<String> = d
        .phones
        .iter()
        .filter(|(_, p)| matches!(p, DesiredPhone::Number(_)))
        .map(|(t, _)| format!("phone ({t})"))
        .collect();
    if matches!(d.email, Some(DesiredEmail::Address(_))) {
        kept.push("email".into());
    }
    for (t, r) in &d.registrations {
        if let DesiredRegistrations::Keep(ids) = r
            && !ids.is_empty()
        {
            kept.push(format!("{t} ({} kept)", ids.len()));
        }
    }
    kept
}

/// How revoking a user's sign-in sessions went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Sessions {
    /// `--revoke-sessions` was not given.
    NotRequested,
    /// Graph accepted `revokeSignInSessions`.
    Revoked,
    /// Not attempted (the user could not be read, or the run stopped first).
    NotAttempted,
    /// Graph refused it.
    Failed {
        /// Graph's words.
        error: GraphErrorSummary,
    },
}

/// A removal Graph refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedRemoval {
    /// The method.
    pub method: ListedMethod,
    /// Graph's words.
    pub error: GraphErrorSummary,
}

/// What offboarding did to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserReport {
    /// The user as given.
    pub user: String,
    /// Object id, once resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// userPrincipalName, once resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Methods removed by this run, in the order they were removed.
    pub removed: Vec<ListedMethod>,
    /// Methods Graph no longer had when this run deleted them (removed earlier, e.g. by an interrupted run).
    pub already_gone: Vec<ListedMethod>,
    /// Removals Graph refused, with its words.
    pub failed: Vec<FailedRemoval>,
    /// What the user still has besides the password when Graph was read again at the end.
    pub remaining: Vec<ListedMethod>,
    /// Whether the user's sign-in sessions were revoked.
    pub sessions: Sessions,
    /// Why the user could not be offboarded at all (not found, not readable), with Graph's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<GraphErrorSummary>,
    /// Notes for the operator (a default method removed last, a path guessed for a type authctl does not know).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl UserReport {
    /// A report with nothing done yet.
    pub fn new(user: &str) -> UserReport {
        UserReport {
            user: user.to_string(),
            id: None,
            upn: None,
            removed: Vec::new(),
            already_gone: Vec::new(),
            failed: Vec::new(),
            remaining: Vec::new(),
            sessions: Sessions::NotAttempted,
            error: None,
            notes: Vec::new(),
        }
    }

    /// Something went wrong for this user: it could not be read, a removal or the revocation failed, or methods
    /// remain.
    pub fn has_failures(&self) -> bool {
        self.error.is_some()
            || !self.failed.is_empty()
            || !self.remaining.is_empty()
            || matches!(
                self.sessions,
                Sessions::Failed { .. } | Sessions::NotAttempted
            )
    }

    fn name(&self) -> &str {
        self.upn.as_deref().unwrap_or(&self.user)
    }
}

/// What is left of a user after the run, from the list read again at the end: every method but the password, less
/// those this run removed or found gone (Graph may still list a method it just deleted for a moment). A method found
/// "gone" at a guessed path (a type authctl does not know) counts as remaining while Graph lists it: the 404 may
/// have meant the path, not the method.
pub fn remaining(
    listed_after: &[ListedMethod],
    removed: &[ListedMethod],
    already_gone: &[ListedMethod],
) -> Vec<ListedMethod> {
    let done = |m: &ListedMethod| {
        removed
            .iter()
            .any(|r| r.id == m.id && r.type_name == m.type_name)
            || already_gone.iter().any(|r| {
                r.id == m.id && r.type_name == m.type_name && r.kind != MethodKind::Unknown
            })
    };
    listed_after
        .iter()
        .filter(|m| m.kind != MethodKind::Password && !done(m))
        .cloned()
        .collect()
}

/// The whole run's report (`offboard --format json` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// One entry per user, in the order given.
    pub users: Vec<UserReport>,
}

impl Report {
    /// True when any user has a failure.
    pub fn has_failures(&self) -> bool {
        self.users.iter().any(UserReport::has_failures)
    }
}

/// The plan of one user, for showing before the confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPlan {
    /// The user as given.
    pub user: String,
    /// userPrincipalName.
    pub upn: String,
    /// Object id.
    pub id: String,
    /// The removals, in order.
    pub removals: Vec<Removal>,
    /// What stays.
    pub kept: Vec<ListedMethod>,
}

/// The plan as text: per user the methods removed in order, what stays, whether sessions are revoked, then a summary
/// line.
pub fn plan_text(users: &[UserPlan], revoke: bool) -> String {
    let mut out = String::from("Offboarding plan:\n");
    let mut total = 0;
    for u in users {
        out.push_str(&format!(
            "\n  {} ({})\n",
            crate::escape::visible(&u.upn),
            crate::escape::visible(&u.id)
        ));
        if u.removals.is_empty() {
            out.push_str("    nothing to remove\n");
        }
        for r in &u.removals {
            total += 1;
            let guess = if r.guessed_path() {
                format!(" (a type authctl does not know: DELETE …/{})", r.segment)
            } else {
                String::new()
            };
            out.push_str(&format!("    - remove {}{guess}\n", r.method.describe()));
        }
        for k in &u.kept {
            out.push_str(&format!("    = keep {}\n", k.describe()));
        }
        if revoke {
            out.push_str("    - revoke sign-in sessions (refresh tokens)\n");
        }
    }
    out.push_str(&format!(
        "\nPlan: remove {total} method(s) from {} user(s){}.\n",
        users.len(),
        if revoke {
            ", revoke their sign-in sessions"
        } else {
            ""
        }
    ));
    out
}

/// The report as text, one block per user.
pub fn report_text(report: &Report) -> String {
    let mut out = String::new();
    for (i, u) in report.users.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}", crate::escape::visible(u.name())));
        if let Some(id) = &u.id {
            out.push_str(&format!(" ({})", crate::escape::visible(id)));
        }
        out.push('\n');
        if let Some(e) = &u.error {
            out.push_str(&format!(
                "  not offboarded: {}\n",
                crate::escape::visible(&e.to_string())
            ));
            continue;
        }
        for m in &u.removed {
            out.push_str(&format!("  removed       {}\n", m.describe()));
        }
        for m in &u.already_gone {
            out.push_str(&format!("  already gone  {}\n", m.describe()));
        }
        for f in &u.failed {
            out.push_str(&format!(
                "  FAILED        {}: {}\n",
                f.method.describe(),
                crate::escape::visible(&f.error.to_string())
            ));
        }
        for m in &u.remaining {
            out.push_str(&format!("  REMAINS       {}\n", m.describe()));
        }
        match &u.sessions {
            Sessions::NotRequested => {
                out.push_str("  sessions      not revoked (no --revoke-sessions)\n")
            }
            Sessions::Revoked => out.push_str("  sessions      revoked\n"),
            Sessions::NotAttempted => out.push_str("  sessions      NOT revoked (not attempted)\n"),
            Sessions::Failed { error } => out.push_str(&format!(
                "  sessions      NOT revoked: {}\n",
                crate::escape::visible(&error.to_string())
            )),
        }
        for n in &u.notes {
            out.push_str(&format!("  note: {}\n", crate::escape::visible(n)));
        }
    }
    let removed: usize = report.users.iter().map(|u| u.removed.len()).sum();
    let failed = report.users.iter().filter(|u| u.has_failures()).count();
    out.push_str(&format!(
        "\nOffboarded {} of {} user(s); {removed} method(s) removed by this run.\n",
        report.users.len() - failed,
        report.users.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::model::{Mode, PhoneType, RegistrationType, SourceLocation};

    fn m(kind: MethodKind, name: &str, id: &str, detail: Option<&str>) -> ListedMethod {
        ListedMethod {
            kind,
            type_name: name.into(),
            id: id.into(),
            detail: detail.map(str::to_string),
        }
    }

    fn every_type() -> Vec<ListedMethod> {
        vec![
            m(MethodKind::Password, "password", "pw", None),
            m(
                MethodKind::MicrosoftAuthenticator,
                "microsoftAuthenticator",
                "auth",
                Some("Pat's iPhone"),
            ),
            m(MethodKind::Phone, "phone", "mob", Some("mobile")),
            m(MethodKind::Phone, "phone", "alt", Some("alternateMobile")),
            m(MethodKind::Fido2, "fido2", "key", Some("YubiKey")),
            m(MethodKind::SoftwareOath, "softwareOath", "oath", None),
            m(MethodKind::Email, "email", "mail", None),
            m(
                MethodKind::TemporaryAccessPass,
                "temporaryAccessPass",
                "tap",
                None,
            ),
            m(MethodKind::QrCodePin, "qrCodePin", "qr", None),
            m(MethodKind::Unknown, "quantumKey", "q", None),
            m(MethodKind::Unknown, "bad/name", "x", None),
        ]
    }

    #[test]
    fn every_deletable_method_is_removed_the_password_stays_and_the_order_puts_defaults_last() {
        let (removals, kept) = plan_user(&every_type());
        let order: Vec<&str> = removals.iter().map(|r| r.method.id.as_str()).collect();
        assert_eq!(
            order,
            [
                "tap", "key", "mail", "qr", "q", "oath", "alt", "mob", "auth"
            ]
        );
        let kept: Vec<&str> = kept.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(kept, ["pw", "x"]);
        let qr = removals.iter().find(|r| r.method.id == "qr").unwrap();
        assert!(qr.singular && qr.segment == "qrCodePinMethod");
        let q = removals.iter().find(|r| r.method.id == "q").unwrap();
        assert_eq!(q.segment, "quantumKeyMethods");
        assert!(q.guessed_path());
        let phone = removals.iter().find(|r| r.method.id == "mob").unwrap();
        assert_eq!(phone.segment, "phoneMethods");
        assert!(!phone.singular && !phone.guessed_path());
    }

    #[test]
    fn what_remains_leaves_out_the_password_and_what_this_run_removed() {
        let after = every_type();
        let removed = vec![after[1].clone()];
        let gone = vec![after[2].clone(), after[9].clone()];
        let left = remaining(&after, &removed, &gone);
        let left: Vec<&str> = left.iter().map(|m| m.id.as_str()).collect();
        // The Authenticator (removed) and the mobile (gone) are left out; the unknown type found "gone" at a guessed
        // path is still listed, so it remains.
        assert_eq!(left, ["alt", "key", "oath", "mail", "tap", "qr", "q", "x"]);
        let no_id = m(MethodKind::Fido2, "fido2", "", None);
        assert!(Removal::of(no_id).is_none());
        assert!(Removal::of(m(MethodKind::QrCodePin, "qrCodePin", "", None)).is_some());
    }

    #[test]
    fn max_deletes_counts_methods() {
        assert_eq!(max_deletes_refusal(10, 10), None);
        let r = max_deletes_refusal(11, 10).unwrap();
        assert!(
            r.contains("11 method(s)") && r.contains("limit is 10"),
            "{r}"
        );
    }

    #[test]
    fn protection_matches_any_name_case_insensitively_and_names_the_list() {
        let lists = vec![
            ProtectedList {
                source: "--protect".into(),
                accounts: vec!["BreakGlass@contoso.com".into()],
            },
            ProtectedList {
                source: "authctl.yaml (protectedAccounts)".into(),
                accounts: vec![" 00000000-0000-4000-8000-000000000001 ".into()],
            },
        ];
        let hits = protected_by(&["x", "breakglass@CONTOSO.com"], &lists);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0.source, "--protect");
        let hits = protected_by(
            &["kim@contoso.com", "00000000-0000-4000-8000-000000000001"],
            &lists,
        );
        assert_eq!(hits[0].0.source, "authctl.yaml (protectedAccounts)");
        assert!(protected_by(&["kim@contoso.com"], &lists).is_empty());
    }

    #[test]
    fn a_manifest_keeping_phones_email_or_registrations_is_named() {
        let mut d = DesiredUser {
            user: "kim@contoso.com".into(),
            mode: Mode::Exact,
            phones: BTreeMap::new(),
            sms_sign_in: None,
            email: None,
            registrations: BTreeMap::new(),
            source: SourceLocation {
                file: "users.yaml".into(),
                line: 3,
                column: 5,
            },
        };
        d.phones.insert(PhoneType::Office, DesiredPhone::Absent);
        assert!(kept_by_manifest(&d).is_empty());
        d.phones.insert(
            PhoneType::Mobile,
            DesiredPhone::Number(
                crate::phone::PhoneNumber::parse("+1 2065550100")
                    .unwrap()
                    .number,
            ),
        );
        d.email = Some(DesiredEmail::Address("kim@fabrikam.example".into()));
        d.registrations.insert(
            RegistrationType::new("fido2"),
            DesiredRegistrations::Keep(BTreeSet::from(["k1".to_string()])),
        );
        d.registrations.insert(
            RegistrationType::new("softwareOath"),
            DesiredRegistrations::Absent,
        );
        assert_eq!(
            kept_by_manifest(&d),
            ["phone (mobile)", "email", "fido2 (1 kept)"]
        );
    }

    #[test]
    fn reports_say_what_was_removed_what_failed_and_the_sessions() {
        let mut u = UserReport::new("kim@contoso.com");
        u.upn = Some("kim@contoso.com".into());
        u.id = Some("id-1".into());
        u.removed
            .push(m(MethodKind::Fido2, "fido2", "k", Some("YubiKey")));
        u.already_gone
            .push(m(MethodKind::Email, "email", "e", None));
        u.sessions = Sessions::Revoked;
        let ok = Report {
            users: vec![u.clone()],
        };
        assert!(!ok.has_failures());
        let t = report_text(&ok);
        assert!(t.contains("removed       fido2 \"YubiKey\""), "{t}");
        assert!(t.contains("already gone  email"), "{t}");
        assert!(t.contains("sessions      revoked"), "{t}");
        u.failed.push(FailedRemoval {
            method: m(MethodKind::Phone, "phone", "p", Some("mobile")),
            error: GraphErrorSummary {
                status: Some(400),
                code: Some("badRequest".into()),
                message: "no".into(),
                request_id: Some("r-1".into()),
            },
        });
        let bad = Report { users: vec![u] };
        assert!(bad.has_failures());
        let t = report_text(&bad);
        assert!(
            t.contains("FAILED        phone (mobile): 400 badRequest: no (request-id r-1)"),
            "{t}"
        );
        assert!(t.contains("Offboarded 0 of 1 user(s)"), "{t}");
    }
}
