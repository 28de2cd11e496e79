//! Offline validation: walks each parsed document, checks every field and every rule of the manifest format that
//! needs no tenant (README "Manifest format", the rules table), and collects all problems as [`Diagnostic`]s with
//! file, line, column, field path and a way to fix each. Pure: it takes file names and texts, never reads files itself.
//!
//! One user entry (its `user`, `mode`, `smsSignIn`, `phones` and the rules between them) is walked in [`user`].
//!
//! The walk accepts exactly what the serde types in [`super::model`] accept (a test holds them to agreement); it
//! walks the YAML tree instead of calling serde so that a run reports every problem of a document, not the first.

use std::collections::{BTreeMap, HashMap};

use serde_saphyr::{Location, MessageFormatter, Spanned};

mod metadata;

use super::diagnostic::Diagnostic;
use super::model::{API_VERSION, AUTHENTICATION_METHODS_KIND, KIND, KINDS, Kind};
pub use super::model::{is_guid, looks_like_upn};
pub use super::names::suggest;
use super::node::{Node, SNode};
use crate::model::{DesiredUser, Mode, SmsSignIn, SourceLocation};
use crate::phone::PhoneNumber;

mod policy;
mod user;

pub use policy::{PolicyDeclaration, check_across_policies};

/// One user entry as declared, with what the checks across users need.
#[derive(Debug, Clone)]
pub struct Declaration {
    /// The user as the plan engine consumes it.
    pub desired: DesiredUser,
    /// `false` when the entry has an error of its own (it is then left out of [`super::Manifests::users`]).
    pub valid: bool,
    /// Field path of the entry, e.g. `spec.users[3]`.
    pub path: String,
    /// Where the `user:` value is, and its length in bytes.
    pub user_at: (SourceLocation, usize),
    /// The declared mobile number, where it is, and its length.
    pub mobile: Option<(PhoneNumber, SourceLocation, usize)>,
    /// Every id of the entry's keep-lists (`registered`).
    pub registration_ids: Vec<DeclaredId>,
}

/// One id of a keep-list, where it is written.
#[derive(Debug, Clone)]
pub struct DeclaredId {
    /// The form ids are compared in ([`super::registered::id_key`]).
    pub key: String,
    /// The id as written.
    pub id: String,
    /// The type whose keep-list holds it.
    pub method_type: crate::model::RegistrationType,
    /// Where it is, and its length.
    pub at: SourceLocation,
    /// Its length in bytes.
    pub len: usize,
}

/// The deepest nesting of YAML collections a manifest may have (a manifest needs 5).
pub const MAX_DEPTH: usize = 32;

/// Size and alias budgets. Generous for real manifests (tens of thousands of users in one file), tight on aliases:
/// a manifest never needs to expand an alias into more than a few thousand nodes, and a billion-laughs document
/// must fail fast with a clear message instead of eating memory.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 5_000_000;
    budget.max_events = 20_000_000;
    budget.max_aliases = 10_000;
    budget.max_depth = MAX_DEPTH;
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 100_000;
    alias_limits.max_replay_stack_depth = 16;
    serde_saphyr::options! {
        budget: Some(budget),
        alias_limits: alias_limits,
        // Duplicates reach the walker, which reports every one of them with its field path and both places
        // (serde-saphyr's own `Error` policy stops at the first, without a path).
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        with_snippet: false,
    }
}

/// Parses and checks one file, appending its users to `out` and its problems to `diags` (policy documents are
/// checked and dropped; see [`check_file_with_policies`]).
pub fn check_file(file: &str, text: &str, out: &mut Vec<Declaration>, diags: &mut Vec<Diagnostic>) {
    check_file_with_policies(file, text, out, &mut Vec::new(), diags);
}

/// [`check_file`], also appending the file's `AuthenticationMethodsPolicy` documents to `policies`.
pub fn check_file_with_policies(
    file: &str,
    text: &str,
    out: &mut Vec<Declaration>,
    policies: &mut Vec<PolicyDeclaration>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut w = Walker {
        file,
        text,
        diags,
        policies,
    };
    let docs: Vec<SNode> = match serde_saphyr::from_str_multiple_with_options::<SNode, Vec<SNode>>(
        text,
        yaml_options(),
    ) {
        Ok(docs) => docs,
        Err(e) => {
            let d = w.yaml_error(&e);
            w.diags.push(d);
            return;
        }
    };
    if docs.is_empty() {
        let d = Diagnostic::error(
            "empty-file",
            &w.at_start(),
            "",
            "the file holds no YAML document",
        )
        .with_help(format!(
            "write a manifest (`apiVersion: {API_VERSION}`, `kind: {AUTHENTICATION_METHODS_KIND}` or `kind: {KIND}`, \
             `spec: …`) or delete the file"
        ));
        w.diags.push(d);
        return;
    }
    tags(&mut w);
    for doc in &docs {
        w.document(doc, out);
    }
}

/// Reports every YAML tag (`!!binary`, `!!str`, `!!map`, `!local`, …) in the file: a tag changes what a value means
/// without a reviewer seeing it (`!!binary` decodes base64), so only untagged scalars, sequences and mappings are
/// read. The file has parsed already, so this pass over its events is bounded by its size.
fn tags(w: &mut Walker<'_>) {
    use serde_saphyr::granit_parser::{Event, Parser};
    for event in Parser::new_from_str(w.text) {
        let Ok((event, span)) = event else {
            return;
        };
        let tag = match &event {
            Event::Scalar(_, _, _, tag)
            | Event::SequenceStart(_, _, tag)
            | Event::MappingStart(_, _, tag) => tag.as_ref(),
            _ => None,
        };
        if let Some(tag) = tag {
            let tag = tag.to_string();
            let tag = tag
                .strip_prefix("tag:yaml.org,2002:")
                .map_or(tag.clone(), |t| format!("!!{t}"));
            let at = SourceLocation {
                file: w.file.to_string(),
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            w.diags.push(
                Diagnostic::error(
                    "yaml-tag",
                    &at,
                    "",
                    format!("the value is tagged `{}`; YAML tags are not allowed", crate::escape::visible_capped(&tag, 60)),
                )
                .with_help(
                    "remove the tag: authctl reads plain strings, numbers, lists and mappings only, so the text a \
                     reviewer reads is what is applied",
                ),
            );
        }
    }
}

/// The rules that span users and files: the same user twice, the same mobile on two users, the same registration id
/// kept for two users.
pub fn check_across_users(decls: &[Declaration], diags: &mut Vec<Diagnostic>) {
    // Same user twice: UPNs are case-insensitive in Entra ID, and so are GUIDs.
    let mut first: HashMap<String, &Declaration> = HashMap::new();
    for d in decls {
        let key = d.desired.user.to_lowercase();
        if let Some(prev) = first.get(&key) {
            let (loc, len) = &d.user_at;
            let (prev_loc, prev_len) = &prev.user_at;
            let same_spelling = prev.desired.user == d.desired.user;
            let message = if same_spelling {
                format!("`{}` is declared twice", d.desired.user)
            } else {
                format!(
                    "`{}` is declared twice (as `{}` at {prev_loc}; user names are case-insensitive)",
                    d.desired.user, prev.desired.user
                )
            };
            diags.push(
                Diagnostic::error("duplicate-user", loc, format!("{}.user", d.path), message)
                    .with_len(*len)
                    .with_primary_label("declared again here")
                    .with_label(prev_loc, *prev_len, "first declared here")
                    .with_help(format!(
                        "keep one entry for the user and remove the other (first at {prev_loc}, again at {loc})"
                    )),
            );
        } else {
            first.insert(key, d);
        }
    }

    // The same registration id kept for two users: a registration belongs to one user, so the second keep-list
    // names an id its user does not have (a copied block), and that user's own registrations of the type would be
    // removed.
    let mut first_id: HashMap<&str, (&Declaration, &DeclaredId)> = HashMap::new();
    for d in decls {
        for r in &d.registration_ids {
            match first_id.get(r.key.as_str()) {
                Some((prev, prev_id))
                    if prev.desired.user.to_lowercase() != d.desired.user.to_lowercase() =>
                {
                    diags.push(
                        Diagnostic::warning(
                            "shared-registration-id",
                            &r.at,
                            format!("{}.registered.{}", d.path, r.method_type),
                            format!(
                                "the registration id `{}` is kept for `{}` and for `{}`; a registration belongs to one user",
                                r.id, prev.desired.user, d.desired.user
                            ),
                        )
                        .with_len(r.len)
                        .with_primary_label("kept here")
                        .with_label(&prev_id.at, prev_id.len, format!("also kept for `{}`", prev.desired.user))
                        .with_help(
                            "check the keep-list was not copied from another user: ids `authctl methods USER` does \
                             not show for this user keep nothing, and the user's own registrations of the type would \
                             be removed",
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    first_id.insert(&r.key, (d, r));
                }
            }
        }
    }

    // Same mobile on several users: Graph's SMS sign-in registration may answer 409 phoneNumberNotUnique; two
    // users cannot both sign in by SMS with one number.
    let mut by_number: BTreeMap<&PhoneNumber, Vec<&Declaration>> = BTreeMap::new();
    let mut counted: HashMap<String, ()> = HashMap::new();
    for d in decls {
        if let Some((n, _, _)) = &d.mobile {
            // A user declared twice is reported above; count it once here.
            if counted
                .insert(format!("{}\0{n}", d.desired.user.to_lowercase()), ())
                .is_none()
            {
                by_number.entry(n).or_default().push(d);
            }
        }
    }
    for (number, users) in by_number {
        if users.len() < 2 {
            continue;
        }
        let enabled: Vec<&&Declaration> = users
            .iter()
            .filter(|d| d.desired.sms_sign_in == Some(SmsSignIn::Enabled))
            .collect();
        let (at, others): (&Declaration, Vec<&Declaration>) = if enabled.len() >= 2 {
            (
                enabled[1],
                users
                    .iter()
                    .copied()
                    .filter(|d| !std::ptr::eq(*d, *enabled[1]))
                    .collect(),
            )
        } else {
            (
                users[1],
                users
                    .iter()
                    .copied()
                    .filter(|d| !std::ptr::eq(*d, users[1]))
                    .collect(),
            )
        };
        let names: Vec<String> = users
            .iter()
            .map(|d| format!("`{}`", d.desired.user))
            .collect();
        let Some((_, loc, len)) = &at.mobile else {
            continue;
        };
        let mut diag = if enabled.len() >= 2 {
            Diagnostic::error(
                "shared-mobile-sms",
                loc,
                format!("{}.phones.mobile", at.path),
                format!(
                    "the mobile `{number}` is declared for {} and SMS sign-in is enabled for {} of them; a number can \
                     sign in only one user by SMS",
                    names.join(", "),
                    enabled.len()
                ),
            )
            .with_help(
                "give each user their own mobile, or set `smsSignIn: disabled` for all but one of them",
            )
        } else {
            Diagnostic::warning(
                "shared-mobile",
                loc,
                format!("{}.phones.mobile", at.path),
                format!("the mobile `{number}` is declared for {}", names.join(", ")),
            )
            .with_help(
                "check it is not a copy-paste slip; if the number is shared on purpose, Graph may answer \
                 409 phoneNumberNotUnique when it registers the number for SMS sign-in",
            )
        };
        diag = diag.with_len(*len).with_primary_label("this mobile");
        for o in others {
            if let Some((_, oloc, olen)) = &o.mobile {
                diag = diag.with_label(
                    oloc,
                    *olen,
                    format!("also the mobile of `{}`", o.desired.user),
                );
            }
        }
        diags.push(diag);
    }
}

/// What a phone type's entry turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Undeclared,
    Absent,
    Number,
    /// Declared, but with an error already reported.
    Broken,
}

struct Walker<'a> {
    file: &'a str,
    text: &'a str,
    diags: &'a mut Vec<Diagnostic>,
    policies: &'a mut Vec<PolicyDeclaration>,
}

impl Walker<'_> {
    fn loc(&self, l: &Location) -> SourceLocation {
        SourceLocation {
            file: self.file.to_string(),
            line: l.line() as usize,
            column: l.column() as usize,
        }
    }

    fn at_start(&self) -> SourceLocation {
        SourceLocation {
            file: self.file.to_string(),
            line: 1,
            column: 1,
        }
    }

    fn len(l: &Location) -> usize {
        l.span().byte_len().unwrap_or(0) as usize
    }

    /// The text of a scalar as written in the file (to quote an unquoted number back exactly).
    fn raw(&self, l: &Location) -> Option<&str> {
        let start = l.span().byte_offset()? as usize;
        let len = l.span().byte_len()? as usize;
        self.text.get(start..start + len)
    }

    /// A value as written, for messages: its source text, or `null` when nothing was written.
    fn shown(&self, v: &SNode) -> String {
        match self.raw(&v.referenced).map(str::trim) {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => "null".to_string(),
        }
    }

    fn error(&mut self, code: &str, at: &Location, path: &str, message: String, help: String) {
        let d = Diagnostic::error(code, &self.loc(at), path, message)
            .with_len(Self::len(at))
            .with_help(help);
        self.diags.push(d);
    }

    fn warning(&mut self, code: &str, at: &Location, path: &str, message: String, help: String) {
        let d = Diagnostic::warning(code, &self.loc(at), path, message)
            .with_len(Self::len(at))
            .with_help(help);
        self.diags.push(d);
    }

    /// The first tab after `loc` that stands in a line's indentation (or, failing that, any tab after it).
    fn next_tab(&self, loc: &SourceLocation) -> Option<SourceLocation> {
        let mut any = None;
        for (i, line) in super::diagnostic::yaml_lines(self.text)
            .enumerate()
            .skip(loc.line.saturating_sub(1))
        {
            let number = i + 1;
            for (col, c) in line.chars().enumerate() {
                if number == loc.line && col + 1 < loc.column {
                    continue;
                }
                if c == '\t' {
                    let at = SourceLocation {
                        file: self.file.to_string(),
                        line: number,
                        column: col + 1,
                    };
                    let indent = line.chars().take(col).all(|c| c == ' ' || c == '\t');
                    if indent {
                        return Some(at);
                    }
                    any.get_or_insert(at);
                }
            }
        }
        any
    }

    fn yaml_error(&self, e: &serde_saphyr::Error) -> Diagnostic {
        use serde_saphyr::Error as E;
        let loc = e
            .location()
            .filter(|l| l.line() > 0)
            .map_or_else(|| self.at_start(), |l| self.loc(&l));
        match e {
            E::AliasError { error, .. } => {
                let mut d = self.yaml_error(error);
                d.file = loc.file;
                d.line = loc.line;
                d.column = loc.column;
                d
            }
            E::DuplicateMappingKey { key, .. } => {
                let key = key.as_deref().unwrap_or("?");
                Diagnostic::error(
                    "duplicate-key",
                    &loc,
                    "",
                    format!("the key `{key}` appears twice in one mapping"),
                )
                .with_help(
                    "YAML keeps only one value per key, so the other would be lost without a word; remove one \
                     (or, for a user listed twice, merge the two entries)",
                )
            }
            E::Budget { breach, .. } => Diagnostic::error(
                "budget",
                &loc,
                "",
                format!("the document exceeds authctl's YAML limits ({})", describe_breach(breach)),
            )
            .with_help(budget_help()),
            E::AliasReplayLimitExceeded {
                max_total_replayed_events,
                ..
            } => Diagnostic::error(
                "budget",
                &loc,
                "",
                format!(
                    "aliases expand to more than {max_total_replayed_events} YAML nodes, authctl's limit; this looks \
                     like an alias bomb (\"billion laughs\")"
                ),
            )
            .with_help(budget_help()),
            E::AliasExpansionLimitExceeded {
                max_expansions_per_anchor,
                ..
            } => Diagnostic::error(
                "budget",
                &loc,
                "",
                format!("an anchor is expanded more than {max_expansions_per_anchor} times, authctl's limit"),
            )
            .with_help(budget_help()),
            E::AliasReplayStackDepthExceeded { max_depth, .. } => Diagnostic::error(
                "budget",
                &loc,
                "",
                format!("aliases nest more than {max_depth} deep, authctl's limit"),
            )
            .with_help(budget_help()),
            other => {
                let message = serde_saphyr::DefaultMessageFormatter.format_message(other);
                // The scanner places "found a tab" at the start of the plain scalar it was reading, which may be
                // lines before the tab: point at the tab itself.
                let loc = if message.contains("found a tab") {
                    self.next_tab(&loc).unwrap_or(loc)
                } else {
                    loc
                };
                Diagnostic::error("yaml-syntax", &loc, "", format!("invalid YAML: {message}")).with_help(
                    "fix the YAML syntax at this position (indentation, a missing `:`, an unclosed quote or bracket)",
                )
            }
        }
    }

    /// Checks that `node` is a mapping with only `known` keys; reports unknown keys with a suggestion. Returns the
    /// known entries.
    fn mapping<'n>(
        &mut self,
        node: &'n SNode,
        path: &str,
        what: &str,
        known: &[&str],
        unknown_code: &str,
    ) -> Option<Vec<(&'n Spanned<String>, &'n SNode)>> {
        let Node::Map(entries) = &node.value else {
            self.error(
                if path.is_empty() {
                    "not-a-mapping"
                } else {
                    "invalid-type"
                },
                &node.referenced,
                path,
                format!("{what} must be a mapping, not {}", node.value.kind()),
                format!(
                    "write {what} as `key: value` lines; expected keys: {}",
                    list(known)
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, (k, _)) in entries.iter().enumerate() {
            if let Some((first, _)) = entries[..i].iter().find(|(f, _)| f.value == k.value) {
                let first_at = self.loc(&first.referenced);
                let d = Diagnostic::error(
                    "duplicate-key",
                    &self.loc(&k.referenced),
                    join(path, &k.value),
                    format!("`{}` appears twice in {what}", k.value),
                )
                .with_len(Self::len(&k.referenced))
                .with_primary_label("again here")
                .with_label(&first_at, Self::len(&first.referenced), "first here")
                .with_help(
                    "YAML keeps only one value per key, so the other would be lost without a word (a reviewer \
                     could approve the one they read); remove one of them",
                );
                self.diags.push(d);
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in entries {
            // A duplicate is reported above; its first occurrence alone is read on.
            if seen.contains(&k.value.as_str()) {
                continue;
            }
            seen.push(&k.value);
            if known.contains(&k.value.as_str()) {
                out.push((k, v));
                continue;
            }
            let field_path = join(path, &k.value);
            let suggestion = suggest(&k.value, known);
            // A registered type or the email written under `phones` or beside `registered`: say where it goes.
            let misplaced = match (unknown_code, what, suggestion) {
                ("unknown-phone-type", _, None) | ("unknown-field", "a user entry", None) => {
                    use super::registered::{TypeName, classify};
                    match classify(&k.value) {
                        TypeName::Managed(t) => Some(format!(
                            "`{t}` is a registered method type: declare it under the entry's `registered` (kind \
                             AuthenticationMethods), as `absent` or a list of ids to keep"
                        )),
                        TypeName::Elsewhere(Some("email")) if unknown_code == "unknown-phone-type" => Some(
                            "the password-reset email is the entry's own `email` field (kind AuthenticationMethods)"
                                .to_string(),
                        ),
                        _ => None,
                    }
                }
                _ => None,
            };
            let (message, help) = match (unknown_code, suggestion) {
                ("unknown-phone-type", None) if misplaced.is_some() => (
                    format!("`{}` is not a phone type", k.value),
                    misplaced.unwrap_or_default(),
                ),
                (_, None) if misplaced.is_some() => (
                    format!("unknown field `{}` in {what}", k.value),
                    misplaced.unwrap_or_default(),
                ),
                ("unknown-phone-type", Some(s)) => (
                    format!("`{}` is not a phone type: did you mean `{s}`?", k.value),
                    format!("rename it to `{s}`; phone types are {}", list(known)),
                ),
                ("unknown-phone-type", None) => (
                    format!("`{}` is not a phone type", k.value),
                    format!(
                        "authctl manages the phone types {} (Graph has no others); remove `{}`",
                        list(known),
                        k.value
                    ),
                ),
                (_, Some(s)) => (
                    format!("unknown field `{}` in {what}: did you mean `{s}`?", k.value),
                    format!("rename it to `{s}`; {what} takes {}", list(known)),
                ),
                (_, None) => (
                    format!("unknown field `{}` in {what}", k.value),
                    format!("remove it; {what} takes {}", list(known)),
                ),
            };
            self.error(unknown_code, &k.referenced, &field_path, message, help);
        }
        Some(out)
    }

    /// Checks every node of a document for a control or invisible/bidirectional character in a key or a string (a
    /// UPN holding `ESC` or `U+202E` could drive a terminal or hide what a plan does).
    fn hostile(&mut self, node: &SNode, path: &str) {
        let control = |s: &str| s.chars().find(|&c| crate::escape::is_hostile(c));
        match &node.value {
            Node::Str(v) => {
                if let Some(c) = control(v) {
                    self.error(
                        "control-character",
                        &node.referenced,
                        path,
                        format!(
                            "the value holds the control or invisible character U+{:04X}",
                            c as u32
                        ),
                        "remove it: user names, numbers and settings are plain printable text"
                            .into(),
                    );
                }
            }
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.hostile(item, &format!("{path}[{i}]"));
                }
            }
            Node::Map(entries) => {
                for (k, v) in entries {
                    let key_path = if path.is_empty() {
                        k.value.clone()
                    } else {
                        format!("{path}.{}", k.value)
                    };
                    if let Some(c) = control(&k.value) {
                        self.error(
                            "control-character",
                            &k.referenced,
                            &key_path,
                            format!(
                                "the key holds the control or invisible character U+{:04X}",
                                c as u32
                            ),
                            "remove it: field names are plain printable text".into(),
                        );
                    }
                    self.hostile(v, &key_path);
                }
            }
            _ => {}
        }
    }

    fn document(&mut self, doc: &SNode, out: &mut Vec<Declaration>) {
        self.hostile(doc, "");
        let Some(fields) = self.mapping(
            doc,
            "",
            "a manifest document",
            &["apiVersion", "kind", "metadata", "spec"],
            "unknown-field",
        ) else {
            return;
        };
        if let Some((_, m)) = get(&fields, "metadata") {
            self.metadata(m);
        }
        let api = get(&fields, "apiVersion");
        let kind = get(&fields, "kind");
        let spec = get(&fields, "spec");
        // The methods policy kind has its own walk (validate/policy.rs).
        if let Some((_, k)) = kind
            && k.value == Node::Str(crate::manifest::policy::POLICY_KIND.into())
        {
            if self.api_version(doc, api) {
                let mut found = Vec::new();
                self.policy_document(doc, k, spec, &mut found);
                self.policies.extend(found);
            }
            return;
        }
        let api_ok = self.api_version(doc, api);
        let kind = self.kind(doc, kind);
        let header_ok = api_ok && kind.is_some();
        // A document of another kind or version (say, a Kubernetes manifest in the same directory): its other
        // fields would only add noise.
        let (true, Some(kind)) = (header_ok, kind) else {
            return;
        };
        let Some((spec_key, spec)) = spec else {
            self.error(
                "missing-field",
                &doc.referenced,
                "spec",
                "the document has no `spec`".into(),
                "add `spec:` with `mode: exact|merge` and `users:`".into(),
            );
            return;
        };
        let Some(spec_fields) =
            self.mapping(spec, "spec", "`spec`", &["mode", "users"], "unknown-field")
        else {
            return;
        };
        let mode = match get(&spec_fields, "mode") {
            None => {
                self.error(
                    "missing-field",
                    &spec_key.referenced,
                    "spec.mode",
                    "`spec.mode` is required".into(),
                    "add `mode: exact` (phone types a user does not declare are removed) or `mode: merge` (only \
                     declared types are touched); there is no default, so deletion is always asked for visibly"
                        .into(),
                );
                None
            }
            Some((_, v)) => self.mode(v, "spec.mode"),
        };
        let Some((users_key, users)) = get(&spec_fields, "users") else {
            self.error(
                "missing-field",
                &spec_key.referenced,
                "spec.users",
                "`spec.users` is required".into(),
                "add `users:` with one `- user: …` entry per user".into(),
            );
            return;
        };
        let Node::Seq(items) = &users.value else {
            let at = if users.value == Node::Null {
                &users_key.referenced
            } else {
                &users.referenced
            };
            self.error(
                "invalid-type",
                at,
                "spec.users",
                format!("`spec.users` must be a list, not {}", users.value.kind()),
                "write one `- user: …` entry per user (an empty list is `users: []`)".into(),
            );
            return;
        };
        for (i, item) in items.iter().enumerate() {
            self.user(item, &format!("spec.users[{i}]"), (mode, kind), out);
        }
    }

    /// The document's `apiVersion`, the same for every kind: true when it is the one this authctl reads, otherwise
    /// reported (missing or another version).
    fn api_version(&mut self, doc: &SNode, api: Option<(&Spanned<String>, &SNode)>) -> bool {
        self.header_field(
            doc,
            api,
            ("apiVersion", API_VERSION, "api-version"),
            format!("add `apiVersion: {API_VERSION}` at the top"),
            |shown| format!("`apiVersion: {shown}` is not a version this authctl reads"),
            format!("write `apiVersion: {API_VERSION}`"),
        )
    }

    /// Checks `apiVersion` or `kind` (`key`, which must be `expected`; `code` when it is another value): reports a
    /// missing or wrong one, `true` when it is right.
    fn header_field(
        &mut self,
        doc: &SNode,
        field: Option<(&Spanned<String>, &SNode)>,
        (key, expected, code): (&str, &str, &str),
        missing_help: String,
        wrong: impl Fn(&str) -> String,
        wrong_help: String,
    ) -> bool {
        match field {
            None => {
                self.error(
                    "missing-field",
                    &doc.referenced,
                    key,
                    format!("the document has no `{key}`"),
                    missing_help,
                );
                false
            }
            Some((_, v)) if v.value != Node::Str(expected.into()) => {
                let shown = self.shown(v);
                self.error(code, &v.referenced, key, wrong(&shown), wrong_help);
                false
            }
            Some(_) => true,
        }
    }

    /// The document's `kind`: `PhoneMethods` or `AuthenticationMethods` (`None` after reporting a missing or wrong
    /// one).
    fn kind(&mut self, doc: &SNode, field: Option<(&Spanned<String>, &SNode)>) -> Option<Kind> {
        let both = format!(
            "write `kind: {AUTHENTICATION_METHODS_KIND}` (phones, SMS sign-in, the password-reset email and the \
             methods users register), `kind: {KIND}` (phones and SMS sign-in only) or `kind: {}` (the tenant's \
             authentication methods policy)",
            crate::manifest::policy::POLICY_KIND
        );
        let Some((_, v)) = field else {
            self.error(
                "missing-field",
                &doc.referenced,
                "kind",
                "the document has no `kind`".into(),
                format!("add it after `apiVersion`: {both}"),
            );
            return None;
        };
        match &v.value {
            Node::Str(s) if s == KIND => Some(Kind::PhoneMethods),
            Node::Str(s) if s == AUTHENTICATION_METHODS_KIND => Some(Kind::AuthenticationMethods),
            other => {
                let shown = self.shown(v);
                let hint = match other {
                    Node::Str(s) => suggest(
                        s,
                        &[KINDS[0], KINDS[1], crate::manifest::policy::POLICY_KIND],
                    )
                    .map(|s| format!(": did you mean `{s}`?"))
                    .unwrap_or_default(),
                    _ => String::new(),
                };
                self.error(
                    "kind",
                    &v.referenced,
                    "kind",
                    format!("`kind: {shown}` is not a kind authctl reads{hint}"),
                    both,
                );
                None
            }
        }
    }

    fn mode(&mut self, v: &SNode, path: &str) -> Option<Mode> {
        match &v.value {
            Node::Str(s) if s == "exact" => Some(Mode::Exact),
            Node::Str(s) if s == "merge" => Some(Mode::Merge),
            other => {
                let shown = self.shown(v);
                let hint = match other {
                    Node::Str(s) => suggest(s, &["exact", "merge"])
                        .map(|s| format!(": did you mean `{s}`?"))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                self.error(
                    "invalid-value",
                    &v.referenced,
                    path,
                    format!("`{shown}` is not a mode{hint}"),
                    "write `exact` (phone types not declared are removed) or `merge` (only declared types are \
                     touched)"
                        .into(),
                );
                None
            }
        }
    }

    fn error_count(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.is_error() && d.file == self.file)
            .count()
    }
}

fn get<'n>(
    fields: &[(&'n Spanned<String>, &'n SNode)],
    key: &str,
) -> Option<(&'n Spanned<String>, &'n SNode)> {
    fields.iter().find(|(k, _)| k.value == key).copied()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn budget_help() -> String {
    "a manifest never needs this; write the users out without deep or repeated aliases, or split the file".into()
}

fn describe_breach(b: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match b {
        B::Events { events } => format!("more than {events} YAML events"),
        B::Aliases { aliases } => format!("more than {aliases} aliases"),
        B::Anchors { anchors } => format!("more than {anchors} anchors"),
        // The breach reports the depth reached (one past the limit); the limit is what the README names.
        B::Depth { .. } => format!("nesting deeper than {MAX_DEPTH}"),
        B::Documents { documents } => format!("more than {documents} documents"),
        B::Nodes { nodes } => format!("more than {nodes} nodes"),
        B::ScalarBytes { total_scalar_bytes } => {
            format!("more than {total_scalar_bytes} bytes of text")
        }
        B::AliasAnchorRatio { aliases, anchors } => {
            format!("{aliases} aliases for {anchors} anchors, the shape of an alias bomb")
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests;
