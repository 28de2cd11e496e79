//! One user entry of a manifest: its `user`, `mode`, `smsSignIn` and `phones`, then the rules between them, each a
//! step that returns what it found (the entry's [`Declaration`] is built once, at the end).

use std::collections::BTreeMap;

use serde_saphyr::{Location, Spanned};

use super::{Declaration, Declared, Walker, get, is_guid, join, looks_like_upn, suggest};
use crate::manifest::model::{AUTHENTICATION_METHODS_KIND, KIND, Kind};
use crate::manifest::node::{Node, SNode};
use crate::model::{
    DesiredEmail, DesiredPhone, DesiredRegistrations, DesiredUser, Mode, PhoneType,
    RegistrationType, SmsSignIn, SourceLocation,
};
use crate::phone::{PhoneError, PhoneNumber};

/// Words people write for "remove it" where authctl wants `absent` (lower case, exactly): a phone or email given one
/// of these is refused with the spelling that works.
fn means_absent(s: &str) -> bool {
    [
        "none", "null", "absent", "no", "remove", "delete", "empty", "-",
    ]
    .contains(&s.trim().to_lowercase().as_str())
}

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

/// What an entry's `email` and `registered` declared (read in either kind, so every problem is reported; a
/// `PhoneMethods` document then gets a `kind-field` error and keeps none of it).
struct Others {
    /// The declared email, when valid.
    email: Option<DesiredEmail>,
    /// The declared registered types that are valid.
    registrations: BTreeMap<RegistrationType, DesiredRegistrations>,
    /// `email` is written, or `registered` names at least one type.
    declares_any: bool,
    /// Every valid id of a keep-list: its comparison key, type, place and length.
    ids: Vec<super::DeclaredId>,
    /// A value was refused (also one the pass over control characters reported, outside the entry's own count).
    broken: bool,
}

impl Walker<'_> {
    /// Walks one user entry into a [`Declaration`] (pushed even with errors, marked invalid: the cross-user
    /// checks still see it).
    pub(super) fn user(
        &mut self,
        item: &SNode,
        path: &str,
        (doc_mode, kind): (Option<Mode>, Kind),
        out: &mut Vec<Declaration>,
    ) {
        let errors_before = self.error_count();
        let Some(fields) = self.mapping(
            item,
            path,
            "a user entry",
            &["user", "mode", "phones", "smsSignIn", "email", "registered"],
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
        let others = self.other_methods(&fields, path, kind);
        if let Some(mode) = mode {
            self.entry_rules((&user, user_key, path), mode, &p, sms, &others);
        }
        let valid = mode.is_some() && self.error_count() == errors_before && !others.broken;
        let mode = mode.unwrap_or(Mode::Merge);
        // The mode rule for the email: undeclared is absent in exact mode, unmanaged in merge mode. A PhoneMethods
        // document never manages it.
        let email = match (kind, others.email, mode) {
            (Kind::PhoneMethods, _, _) => None,
            (Kind::AuthenticationMethods, Some(e), _) => Some(e),
            (Kind::AuthenticationMethods, None, Mode::Exact) => Some(DesiredEmail::Absent),
            (Kind::AuthenticationMethods, None, Mode::Merge) => None,
        };
        let registrations = match kind {
            Kind::PhoneMethods => BTreeMap::new(),
            Kind::AuthenticationMethods => others.registrations,
        };
        out.push(Declaration {
            desired: DesiredUser {
                user,
                mode,
                phones: p.phones,
                sms_sign_in: sms.map(|(s, _)| s),
                email,
                registrations,
                source: self.loc(&user_key.referenced),
            },
            valid,
            path: path.to_string(),
            user_at: (
                self.loc(&user_val.referenced),
                Self::len(&user_val.referenced),
            ),
            mobile: p.mobile,
            registration_ids: others.ids,
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
        others: &Others,
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
        if mode == Mode::Merge && p.empty && sms.is_none() && !others.declares_any {
            self.warning(
                "nothing-managed",
                &user_key.referenced,
                &join(path, "user"),
                format!(
                    "`{user}` is in merge mode and declares nothing, so authctl will not touch it"
                ),
                "declare phones or `smsSignIn` (or, in kind AuthenticationMethods, `email` or `registered`), or \
                 remove the entry"
                    .into(),
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
        if means_absent(s) {
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

    /// The entry's `email` and `registered`.
    fn other_methods(
        &mut self,
        fields: &[(&Spanned<String>, &SNode)],
        path: &str,
        kind: Kind,
    ) -> Others {
        let mut others = Others {
            email: None,
            registrations: BTreeMap::new(),
            declares_any: false,
            ids: Vec::new(),
            broken: false,
        };
        for field in ["email", "registered"] {
            if let (Kind::PhoneMethods, Some((k, _))) = (kind, get(fields, field)) {
                self.error(
                    "kind-field",
                    &k.referenced,
                    &join(path, field),
                    format!("`{field}` is not part of kind {KIND}, which declares phones and SMS sign-in only"),
                    format!(
                        "use `kind: {AUTHENTICATION_METHODS_KIND}` (it accepts everything {KIND} does, plus `email` \
                         and `registered`), or remove `{field}`"
                    ),
                );
            }
        }
        if let Some((k, v)) = get(fields, "email") {
            others.declares_any = true;
            others.email = self.email(k, v, &join(path, "email"));
            others.broken |= others.email.is_none();
        }
        if let Some((k, v)) = get(fields, "registered") {
            let (registrations, any) =
                self.registered(k, v, &join(path, "registered"), &mut others.ids);
            let written = match &v.value {
                Node::Map(entries) => entries.len(),
                _ => usize::MAX,
            };
            // A type left out of the result had an error (reported, or a control character reported once).
            others.broken |= registrations.len() != written;
            others.registrations = registrations;
            others.declares_any |= any;
        }
        others
    }

    /// Checks the `email` value; `None` when it has an error (reported).
    fn email(&mut self, key: &Spanned<String>, v: &SNode, path: &str) -> Option<DesiredEmail> {
        use crate::manifest::email::{EmailProblem, check};
        let s = match &v.value {
            Node::Str(s) => s,
            Node::Null => {
                self.error(
                    "null-email",
                    &key.referenced,
                    path,
                    "`email` is empty (null): it takes an address or `absent`".into(),
                    "write an address (`email: kim@contoso.com`), or `email: absent` to remove the email method; in \
                     merge mode, leave `email` out to leave it unmanaged"
                        .into(),
                );
                return None;
            }
            other => {
                self.error(
                    "invalid-type",
                    &v.referenced,
                    path,
                    format!(
                        "`email` must be an address or `absent`, not {}",
                        other.kind()
                    ),
                    "write `email: kim@contoso.com` or `email: absent`".into(),
                );
                return None;
            }
        };
        if s == "absent" {
            return Some(DesiredEmail::Absent);
        }
        if means_absent(s) {
            self.error(
                "invalid-email",
                &v.referenced,
                path,
                format!("`{s}` is neither an email address nor `absent`"),
                "to remove the email method, write `email: absent` (lower case)".into(),
            );
            return None;
        }
        match check(s) {
            Ok(()) => Some(DesiredEmail::Address(s.clone())),
            // Reported once, as `control-character`, by the pass over every string of the document.
            Err(EmailProblem::Control(_)) => None,
            Err(problem) => {
                let help = match (&problem, problem.suggestion()) {
                    (_, Some(fixed)) => format!("write `email: {fixed}`"),
                    (EmailProblem::DisplayName(None), None) => {
                        "write the bare address, without a name, quotes or angle brackets: `email: kim@contoso.com`"
                            .into()
                    }
                    (EmailProblem::Whitespace(None), None) => {
                        "remove the spaces: an address is one word, `name@domain`".into()
                    }
                    (EmailProblem::IpLiteral, None) => {
                        "use an address at a domain name (`kim@contoso.com`)".into()
                    }
                    _ => "write the address as `name@domain`, e.g. `email: kim@contoso.com` (IDN domains such as \
                          `bücher.example` are fine)"
                        .into(),
                };
                self.error(
                    "invalid-email",
                    &v.referenced,
                    path,
                    format!(
                        "`{}` is not a usable email address: {problem}",
                        crate::escape::visible_capped(s, 80)
                    ),
                    help,
                );
                None
            }
        }
    }

    /// Checks `registered`: each type's name and value. Returns the valid types, and whether any type is named.
    fn registered(
        &mut self,
        key: &Spanned<String>,
        node: &SNode,
        path: &str,
        ids: &mut Vec<super::DeclaredId>,
    ) -> (BTreeMap<RegistrationType, DesiredRegistrations>, bool) {
        use crate::manifest::registered::{TypeName, classify};
        let mut out = BTreeMap::new();
        let managed: Vec<&str> = RegistrationType::KNOWN
            .iter()
            .filter_map(|k| k.graph_name())
            .collect();
        let names = super::list(&managed);
        if node.value == Node::Null {
            self.error(
                "invalid-type",
                &key.referenced,
                path,
                "`registered` is empty (null)".into(),
                format!(
                    "list the method types under it (`fido2: absent`, or `fido2:` with the ids to keep), or leave \
                     `registered` out; types are {names}"
                ),
            );
            return (out, true);
        }
        let keys: Vec<&str> = match &node.value {
            Node::Map(entries) => entries.iter().map(|(k, _)| k.value.as_str()).collect(),
            other => {
                self.error(
                    "invalid-type",
                    &node.referenced,
                    path,
                    format!("`registered` must be a mapping of method type to `absent` or ids, not {}", other.kind()),
                    format!(
                        "write one `type: absent` or `type:` line with the ids to keep (`- \"id\"`) per type, e.g. \
                         `fido2: absent`; types are {names}"
                    ),
                );
                return (out, true);
            }
        };
        let Some(entries) = self.mapping(node, path, "`registered`", &keys, "unknown-field") else {
            return (out, true);
        };
        let any = !entries.is_empty();
        for (k, v) in entries {
            let fp = join(path, &k.value);
            let shown = crate::escape::visible_capped(&k.value, 60);
            let t = match classify(&k.value) {
                TypeName::Managed(t) => t,
                TypeName::Unlisted(t) => {
                    let known = t.kind() != crate::model::MethodKind::Unknown;
                    self.warning(
                        "unlisted-registered-type",
                        &k.referenced,
                        &fp,
                        format!(
                            "`{t}` is not one of the registered types authctl names{}; it is accepted as a type Graph \
                             lists as `#microsoft.graph.{t}AuthenticationMethod` and deletes at \
                             `/authentication/{}`",
                            if known { " (authctl knows it, but does not manage it by name)" } else { "" },
                            t.segment()
                        ),
                        format!(
                            "check the spelling against `authctl methods USER`; the types authctl names are {names}"
                        ),
                    );
                    t
                }
                TypeName::Misspelt(s) => {
                    self.error(
                        "unknown-registered-type",
                        &k.referenced,
                        &fp,
                        format!("`{shown}` is not a registered method type: did you mean `{s}`?"),
                        format!("rename it to `{s}`; the types authctl names are {names}"),
                    );
                    continue;
                }
                TypeName::Elsewhere(Some(field)) => {
                    let help = if field == "phones" {
                        "declare phones under the entry's `phones` (`mobile`, `alternateMobile`, `office`)".to_string()
                    } else {
                        format!("move it to the entry's own `{field}` field")
                    };
                    self.error(
                        "not-a-registered-type",
                        &k.referenced,
                        &fp,
                        format!("`{shown}` is not declared under `registered` but in the entry's `{field}`"),
                        help,
                    );
                    continue;
                }
                TypeName::Elsewhere(None) => {
                    self.error(
                        "not-a-registered-type",
                        &k.referenced,
                        &fp,
                        format!("`{shown}`: an admin cannot remove a user's password, so authctl never manages it"),
                        format!("remove `{shown}`; the types under `registered` are {names}"),
                    );
                    continue;
                }
                TypeName::Invalid => {
                    self.error(
                        "invalid-registered-type",
                        &k.referenced,
                        &fp,
                        format!("`{shown}` is not a method type name"),
                        format!(
                            "write Graph's short name in camelCase (the `{{short}}` of \
                             `#microsoft.graph.{{short}}AuthenticationMethod`); the types authctl names are {names}"
                        ),
                    );
                    continue;
                }
            };
            if let Some(setting) = self.registered_setting(&t, k, v, &fp, ids) {
                out.insert(t, setting);
            }
        }
        (out, any)
    }

    /// Checks one registered type's value: `absent` or a keep-list of ids; `None` when it has an error (reported).
    fn registered_setting(
        &mut self,
        t: &RegistrationType,
        key: &Spanned<String>,
        v: &SNode,
        path: &str,
        declared: &mut Vec<super::DeclaredId>,
    ) -> Option<DesiredRegistrations> {
        use crate::manifest::registered::{IdProblem, check_id, id_key};
        let items = match &v.value {
            Node::Str(s) if s == "absent" => return Some(DesiredRegistrations::Absent),
            Node::Seq(items) => items,
            Node::Null => {
                self.error(
                    "null-registered",
                    &key.referenced,
                    path,
                    format!("`{t}` is empty (null): a registered type takes `absent` or a list of ids to keep"),
                    format!(
                        "write `{t}: absent` to remove every registration of the type, or list the ids to keep \
                         (`authctl methods USER` shows them); leave `{t}` out to leave the type untouched"
                    ),
                );
                return None;
            }
            Node::Str(s) => {
                let help = if check_id(s).is_ok()
                    && !["none", "remove", "delete", "all"].contains(&s.to_lowercase().as_str())
                {
                    format!(
                        "to keep only this registration, write it as a list: `{t}: [\"{s}\"]`; to remove every registration, `{t}: absent` (lower case)"
                    )
                } else {
                    format!(
                        "write `{t}: absent` (lower case) to remove every registration, or a list of the ids to keep"
                    )
                };
                self.error(
                    "invalid-value",
                    &v.referenced,
                    path,
                    format!(
                        "`{}` is neither `absent` nor a list of registration ids",
                        crate::escape::visible_capped(s, 80)
                    ),
                    help,
                );
                return None;
            }
            other => {
                self.error(
                    "invalid-type",
                    &v.referenced,
                    path,
                    format!(
                        "`{t}` must be `absent` or a list of registration ids, not {}",
                        other.kind()
                    ),
                    format!("write `{t}: absent`, or the ids to keep as a list (`- \"id\"` lines)"),
                );
                return None;
            }
        };
        if items.is_empty() {
            self.error(
                "empty-keep-list",
                &v.referenced,
                path,
                format!("`{t}: []` keeps no registration, which would remove every one of the type"),
                format!(
                    "to remove every registration on purpose, write `{t}: absent`; otherwise list the ids to keep \
                     (`authctl methods USER` shows them)"
                ),
            );
            return None;
        }
        let mut ok = true;
        let mut ids = std::collections::BTreeSet::new();
        let mut seen: BTreeMap<String, (&SNode, String)> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let ip = format!("{path}[{i}]");
            let id = match &item.value {
                Node::Str(s) => s,
                Node::Int(_) | Node::Float(_) => {
                    let raw = self.raw(&item.referenced).unwrap_or("").trim().to_string();
                    self.error(
                        "invalid-type",
                        &item.referenced,
                        &ip,
                        format!(
                            "`{raw}` is a YAML number, not text: YAML may change how it is written"
                        ),
                        format!("quote the id: `- \"{raw}\"`"),
                    );
                    ok = false;
                    continue;
                }
                other => {
                    self.error(
                        "invalid-type",
                        &item.referenced,
                        &ip,
                        format!("a registration id must be a string, not {}", other.kind()),
                        "write each id as a quoted string (`- \"4b1f7c1e-…\"`), as `authctl methods USER` shows it"
                            .into(),
                    );
                    ok = false;
                    continue;
                }
            };
            if let Err(IdProblem::Control(_)) = check_id(id) {
                // Reported once, as `control-character`, by the pass over every string of the document.
                ok = false;
                continue;
            }
            if let Err(problem) = check_id(id) {
                self.error(
                    "invalid-registration-id",
                    &item.referenced,
                    &ip,
                    problem.to_string(),
                    "copy the id exactly as `authctl methods USER` shows it (1–512 characters, no spaces)".into(),
                );
                ok = false;
                continue;
            }
            let key = id_key(id);
            if let Some((first, first_written)) = seen.get(&key) {
                let first_at = self.loc(&first.referenced);
                let again_at = self.loc(&item.referenced);
                let case = if first_written != id {
                    " (GUIDs are case-insensitive)"
                } else {
                    ""
                };
                let d = super::Diagnostic::error(
                    "duplicate-registration-id",
                    &again_at,
                    ip.clone(),
                    format!("the registration id `{id}` is listed twice in `{t}`{case}"),
                )
                .with_len(Self::len(&item.referenced))
                .with_primary_label("listed again here")
                .with_label(&first_at, Self::len(&first.referenced), "first listed here")
                .with_help(format!(
                    "remove one of them (first at {first_at}, again at {again_at}); each registration is kept once"
                ));
                self.diags.push(d);
                ok = false;
                continue;
            }
            declared.push(super::DeclaredId {
                key: key.clone(),
                id: id.clone(),
                method_type: t.clone(),
                at: self.loc(&item.referenced),
                len: Self::len(&item.referenced),
            });
            seen.insert(key, (item, id.clone()));
            ids.insert(id.clone());
        }
        ok.then_some(DesiredRegistrations::Keep(ids))
    }
}
