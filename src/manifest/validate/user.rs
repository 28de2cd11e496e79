//! One user entry of a manifest: its `user`, `mode`, `smsSignIn` and `phones`, then the rules between them, each a
//! step that returns what it found (the entry's [`Declaration`] is built once, at the end).

use std::collections::BTreeMap;

use serde_saphyr::{Location, Spanned};

use super::{Declaration, Declared, Walker, get, is_guid, join, looks_like_upn, suggest};
use crate::manifest::node::{Node, SNode};
use crate::model::{DesiredPhone, DesiredUser, Mode, PhoneType, SmsSignIn, SourceLocation};
use crate::phone::{PhoneError, PhoneNumber};

/// What an entry's `phones` declared.
struct Phones<'n> {
    phones: BTreeMap<PhoneType, DesiredPhone>,
    declared: [Declared; 3],
    mobile: Option<(PhoneNumber, SourceLocation, usize)>,
    alternate_at: Option<Location>,
    /// The `phones` key, when written.
    entry: Option<&'n Spanned<String>>,
    /// `phones` is missing or an empty mapping.
    empty: bool,
}

impl Walker<'_> {
    /// Walks one user entry into a [`Declaration`] (pushed even with errors, marked invalid: the cross-user
    /// checks still see it).
    pub(super) fn user(
        &mut self,
        item: &SNode,
        path: &str,
        doc_mode: Option<Mode>,
        out: &mut Vec<Declaration>,
    ) {
        let errors_before = self.error_count();
        let Some(fields) = self.mapping(
            item,
            path,
            "a user entry",
            &["user", "mode", "phones", "smsSignIn"],
            "unknown-field",
        ) else {
            return;
        };
        let Some((user_key, user_val)) = get(&fields, "user") else {
            self.error(
                "missing-field",
                &item.referenced,
                &join(path, "user"),
                "the entry has no `user`".into(),
                "add `user:` with the user's userPrincipalName (e.g. `AdeleV@contoso.com`) or object id".into(),
            );
            return;
        };
        let Some(user) = self.user_ref(user_key, user_val, path) else {
            return;
        };
        let user_mode = get(&fields, "mode").map(|(_, v)| self.mode(v, &join(path, "mode")));
        let mode = match user_mode {
            Some(m) => m,
            None => doc_mode,
        };
        let sms = self.sms_setting(&fields, path);
        let p = self.phones(&fields, path);
        if let Some(mode) = mode {
            self.entry_rules((&user, user_key, path), mode, &p, sms);
        }
        let valid = mode.is_some() && self.error_count() == errors_before;
        out.push(Declaration {
            desired: DesiredUser {
                user,
                mode: mode.unwrap_or(Mode::Merge),
                phones: p.phones,
                sms_sign_in: sms.map(|(s, _)| s),
                email: None,
                registrations: Default::default(),
                source: self.loc(&user_key.referenced),
            },
            valid,
            path: path.to_string(),
            user_at: (
                self.loc(&user_val.referenced),
                Self::len(&user_val.referenced),
            ),
            mobile: p.mobile,
        });
    }

    /// The entry's `user`: a UPN or an object id (`None` after reporting anything else).
    fn user_ref(
        &mut self,
        user_key: &Spanned<String>,
        user_val: &SNode,
        path: &str,
    ) -> Option<String> {
        match &user_val.value {
            Node::Str(s) if is_guid(s) || looks_like_upn(s) => Some(s.clone()),
            Node::Str(s) => {
                self.error(
                    "invalid-user",
                    &user_val.referenced,
                    &join(path, "user"),
                    format!("`{s}` is neither a userPrincipalName (name@domain) nor an object id (a GUID)"),
                    "write the user's userPrincipalName, e.g. `AdeleV@contoso.com`, or object id, e.g. \
                     `4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e`"
                        .into(),
                );
                None
            }
            other => {
                let at = if *other == Node::Null {
                    &user_key.referenced
                } else {
                    &user_val.referenced
                };
                self.error(
                    "invalid-type",
                    at,
                    &join(path, "user"),
                    format!("`user` must be a string, not {}", other.kind()),
                    "write the user's userPrincipalName or object id".into(),
                );
                None
            }
        }
    }

    /// The entry's `smsSignIn` and where it is (`None` when absent, or after reporting a bad value).
    fn sms_setting<'n>(
        &mut self,
        fields: &[(&'n Spanned<String>, &'n SNode)],
        path: &str,
    ) -> Option<(SmsSignIn, &'n SNode)> {
        get(fields, "smsSignIn").and_then(|(_, v)| {
            let p = join(path, "smsSignIn");
            match &v.value {
                Node::Str(s) if s == "enabled" => Some((SmsSignIn::Enabled, v)),
                Node::Str(s) if s == "disabled" => Some((SmsSignIn::Disabled, v)),
                other => {
                    let shown = self.shown(v);
                    let hint = match other {
                        Node::Bool(true) => ": write `enabled`".to_string(),
                        Node::Bool(false) => ": write `disabled`".to_string(),
                        Node::Str(s) => suggest(s, &["enabled", "disabled"])
                            .map(|s| format!(": did you mean `{s}`?"))
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    self.error(
                        "invalid-value",
                        &v.referenced,
                        &p,
                        format!("`smsSignIn: {shown}` is not a setting{hint}"),
                        "write `enabled` or `disabled`, or leave `smsSignIn` out to leave SMS sign-in unmanaged"
                            .into(),
                    );
                    None
                }
            }
        })
    }

    /// The entry's `phones`: each type's number, `absent`, or a reported error.
    fn phones<'n>(
        &mut self,
        fields: &[(&'n Spanned<String>, &'n SNode)],
        path: &str,
    ) -> Phones<'n> {
        let mut phones = BTreeMap::new();
        let mut declared = [Declared::Undeclared; 3];
        let mut mobile = None;
        let mut alternate_at = None;
        let phones_entry = get(fields, "phones");
        let mut phones_empty = true;
        if let Some((phones_key, phones_node)) = phones_entry {
            let p = join(path, "phones");
            if phones_node.value == Node::Null {
                phones_empty = false;
                self.error(
                    "invalid-type",
                    &phones_key.referenced,
                    &p,
                    "`phones` is empty (null)".into(),
                    "list the phones under it (`mobile: \"+1 2065555555\"`), or leave `phones` out"
                        .into(),
                );
            } else if let Some(entries) = self.mapping(
                phones_node,
                &p,
                "`phones`",
                &["mobile", "alternateMobile", "office"],
                "unknown-phone-type",
            ) {
                phones_empty = matches!(&phones_node.value, Node::Map(m) if m.is_empty());
                for (k, v) in entries {
                    let Some(t) = PhoneType::parse(&k.value) else {
                        continue;
                    };
                    let idx = t as usize;
                    let fp = join(&p, &k.value);
                    match self.phone(t, k, v, &fp) {
                        Some(DesiredPhone::Absent) => {
                            declared[idx] = Declared::Absent;
                            phones.insert(t, DesiredPhone::Absent);
                        }
                        Some(DesiredPhone::Number(n)) => {
                            declared[idx] = Declared::Number;
                            if t == PhoneType::Mobile {
                                mobile = Some((
                                    n.clone(),
                                    self.loc(&v.referenced),
                                    Self::len(&v.referenced),
                                ));
                            }
                            phones.insert(t, DesiredPhone::Number(n));
                        }
                        None => declared[idx] = Declared::Broken,
                    }
                    if t == PhoneType::AlternateMobile {
                        alternate_at = Some(k.referenced);
                    }
                }
            } else {
                phones_empty = false;
            }
        }
        Phones {
            phones,
            declared,
            mobile,
            alternate_at,
            entry: phones_entry.map(|(k, _)| k),
            empty: phones_empty,
        }
    }

    /// The rules between the entry's fields: exact mode with no phones, merge mode managing nothing, an
    /// alternateMobile or SMS sign-in without a mobile.
    fn entry_rules(
        &mut self,
        (user, user_key, path): (&str, &Spanned<String>, &str),
        mode: Mode,
        p: &Phones<'_>,
        sms: Option<(SmsSignIn, &SNode)>,
    ) {
        let mobile_missing = match p.declared[PhoneType::Mobile as usize] {
            Declared::Absent => Some("`mobile: absent`"),
            Declared::Undeclared if mode == Mode::Exact => {
                Some("no `mobile` (which in exact mode means absent)")
            }
            _ => None,
        };
        if mode == Mode::Exact && p.empty {
            let at = p.entry.map_or(&user_key.referenced, |k| &k.referenced);
            self.error(
                "no-phones",
                at,
                &join(path, "phones"),
                format!(
                    "`{user}` is in exact mode but declares no phones, which would remove every phone method"
                ),
                "declare the phones the user should have; to remove them all on purpose, write each type as \
                 `absent` (`mobile: absent`, `alternateMobile: absent`, `office: absent`); or use `mode: merge`"
                    .into(),
            );
        }
        if mode == Mode::Merge && p.empty && sms.is_none() {
            self.warning(
                "nothing-managed",
                &user_key.referenced,
                &join(path, "user"),
                format!(
                    "`{user}` is in merge mode and declares nothing, so authctl will not touch it"
                ),
                "declare phones or `smsSignIn`, or remove the entry".into(),
            );
        }
        if let (Declared::Number, Some(why), Some(at)) = (
            p.declared[PhoneType::AlternateMobile as usize],
            mobile_missing,
            p.alternate_at,
        ) {
            self.error(
                "alternate-without-mobile",
                &at,
                &join(path, "phones.alternateMobile"),
                format!("`{user}` declares an alternateMobile but {why}; Graph refuses an alternateMobile without a mobile"),
                "declare a `mobile` too, or make `alternateMobile: absent`".into(),
            );
        }
        if let (Some((SmsSignIn::Enabled, v)), Some(why)) = (sms, mobile_missing) {
            self.error(
                "sms-without-mobile",
                &v.referenced,
                &join(path, "smsSignIn"),
                format!("`{user}` enables SMS sign-in but has {why}; SMS sign-in needs a mobile"),
                "declare a `mobile`, or write `smsSignIn: disabled` (or leave it out)".into(),
            );
        }
    }

    /// Checks one phone entry; `None` when it has an error (reported).
    fn phone(
        &mut self,
        t: PhoneType,
        key: &Spanned<String>,
        v: &SNode,
        path: &str,
    ) -> Option<DesiredPhone> {
        let name = t.as_str();
        let s = match &v.value {
            Node::Str(s) => s,
            Node::Null => {
                self.error(
                    "null-phone",
                    &key.referenced,
                    path,
                    format!("`{name}` is empty (null): a phone type takes a number or `absent`"),
                    format!(
                        "write a number (`{name}: \"+1 2065555555\"`), or `{name}: absent` to remove the phone; in \
                         merge mode, leave `{name}` out to leave it unmanaged"
                    ),
                );
                return None;
            }
            Node::Int(_) | Node::Float(_) => {
                let raw = self.raw(&v.referenced).unwrap_or("").trim().to_string();
                let fix = if raw.starts_with('+') {
                    match PhoneNumber::parse(&raw) {
                        Ok(p) => format!("quote it: `{name}: \"{}\"`", p.number),
                        Err(_) => format!("quote it: `{name}: \"{raw}\"`"),
                    }
                } else {
                    format!(
                        "quote it and start it with `+` and the country code, e.g. `{name}: \"+1 2065555555\"`"
                    )
                };
                self.error(
                    "unquoted-number",
                    &v.referenced,
                    path,
                    format!(
                        "`{raw}` is a YAML number, not text: YAML drops a leading `+` and leading zeros from numbers"
                    ),
                    fix,
                );
                return None;
            }
            other => {
                self.error(
                    "invalid-type",
                    &v.referenced,
                    path,
                    format!(
                        "`{name}` must be a phone number or `absent`, not {}",
                        other.kind()
                    ),
                    format!("write `{name}: \"+1 2065555555\"` or `{name}: absent`"),
                );
                return None;
            }
        };
        if s == "absent" {
            return Some(DesiredPhone::Absent);
        }
        if [
            "none", "null", "absent", "no", "remove", "delete", "empty", "-",
        ]
        .contains(&s.trim().to_lowercase().as_str())
        {
            self.error(
                "invalid-phone-number",
                &v.referenced,
                path,
                format!("`{s}` is neither a phone number nor `absent`"),
                format!("to remove the phone, write `{name}: absent` (lower case)"),
            );
            return None;
        }
        match PhoneNumber::parse(s) {
            Ok(parsed) => {
                if let Some(ext) = parsed.number.extension()
                    && t != PhoneType::Office
                {
                    self.error(
                        "extension-not-allowed",
                        &v.referenced,
                        path,
                        format!("`{s}` has an extension (x{ext}); only an office phone may have one"),
                        format!("remove the extension from the {name} number, or declare the number as `office`"),
                    );
                    return None;
                }
                if let Some(w) = parsed.warning {
                    self.warning(
                        "phone-not-valid",
                        &v.referenced,
                        path,
                        w.to_string(),
                        "check the digits; if the number is right (test numbers such as +1 555… are), nothing to do"
                            .into(),
                    );
                }
                Some(DesiredPhone::Number(parsed.number))
            }
            Err(e) => {
                let help = match &e {
                    PhoneError::MissingCountryCode { .. } => {
                        format!(
                            "start the number with `+` and its country code, e.g. `{name}: \"+1 2065555555\"`"
                        )
                    }
                    PhoneError::TrunkPrefix { suggestion, .. } => {
                        format!("write `{name}: \"{suggestion}\"`")
                    }
                    _ => format!(
                        "write the number as `+{{country code}} {{number}}`, e.g. `{name}: \"+1 2065555555\"`"
                    ),
                };
                self.error(
                    "invalid-phone-number",
                    &v.referenced,
                    path,
                    e.to_string(),
                    help,
                );
                None
            }
        }
    }
}
