//! Offline validation: walks each parsed document, checks every field and every rule of DESIGN.md's normative
//! table that needs no tenant, and collects all problems as [`Diagnostic`]s with file, line, column, field path and
//! a way to fix each. Pure: it takes file names and texts, never reads files itself.
//!
//! The walk accepts exactly what the serde types in [`super::model`] accept (a test holds them to agreement); it
//! walks the YAML tree instead of calling serde so that a run reports every problem of a document, not the first.

use std::collections::{BTreeMap, HashMap};

use serde_saphyr::{Location, MessageFormatter, Spanned};

mod metadata;

use super::diagnostic::Diagnostic;
use super::model::{API_VERSION, KIND};
use super::node::{Node, SNode};
use crate::model::{DesiredPhone, DesiredUser, Mode, PhoneType, SmsSignIn, SourceLocation};
use crate::phone::{PhoneError, PhoneNumber};

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

/// Parses and checks one file, appending its users to `out` and its problems to `diags`.
pub fn check_file(file: &str, text: &str, out: &mut Vec<Declaration>, diags: &mut Vec<Diagnostic>) {
    let mut w = Walker { file, text, diags };
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
            "write a manifest (`apiVersion: {API_VERSION}`, `kind: {KIND}`, `spec: …`) or delete the file"
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
                    format!("the value is tagged `{}`; YAML tags are not allowed", crate::render::escape::visible_capped(&tag, 60)),
                )
                .with_help(
                    "remove the tag: authctl reads plain strings, numbers, lists and mappings only, so the text a \
                     reviewer reads is what is applied",
                ),
            );
        }
    }
}

/// The rules that span users and files: the same user twice, the same mobile on two users.
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

/// Suggests the candidate closest to `input` ("`mobil`: did you mean `mobile`?"), ignoring case, `_` and `-`.
pub fn suggest<'c>(input: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let norm = |s: &str| s.to_lowercase().replace(['_', '-', ' '], "");
    let input = norm(input);
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&input, &norm(c)), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `true` for an object id (a GUID, any case).
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
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
            let (message, help) = match (unknown_code, suggestion) {
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
        let control = |s: &str| s.chars().find(|&c| crate::render::escape::is_hostile(c));
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
        let mut header_ok = true;
        match api {
            None => {
                header_ok = false;
                self.error(
                    "missing-field",
                    &doc.referenced,
                    "apiVersion",
                    "the document has no `apiVersion`".into(),
                    format!("add `apiVersion: {API_VERSION}` at the top"),
                );
            }
            Some((_, v)) if v.value != Node::Str(API_VERSION.into()) => {
                header_ok = false;
                let shown = self.shown(v);
                self.error(
                    "api-version",
                    &v.referenced,
                    "apiVersion",
                    format!("`apiVersion: {shown}` is not a version this authctl reads"),
                    format!("write `apiVersion: {API_VERSION}`"),
                );
            }
            Some(_) => {}
        }
        match kind {
            None => {
                header_ok = false;
                self.error(
                    "missing-field",
                    &doc.referenced,
                    "kind",
                    "the document has no `kind`".into(),
                    format!("add `kind: {KIND}` after `apiVersion`"),
                );
            }
            Some((_, v)) if v.value != Node::Str(KIND.into()) => {
                header_ok = false;
                let shown = self.shown(v);
                self.error(
                    "kind",
                    &v.referenced,
                    "kind",
                    format!("`kind: {shown}` is not a kind authctl reads"),
                    format!("write `kind: {KIND}` (a manifest of users' phone methods)"),
                );
            }
            Some(_) => {}
        }
        // A document of another kind or version (say, a Kubernetes manifest in the same directory): its other
        // fields would only add noise.
        if !header_ok {
            return;
        }
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
            self.user(item, &format!("spec.users[{i}]"), mode, out);
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

    fn user(
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
        let user = match &user_val.value {
            Node::Str(s) if is_guid(s) || looks_like_upn(s) => s.clone(),
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
                return;
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
                return;
            }
        };
        let user_mode = get(&fields, "mode").map(|(_, v)| self.mode(v, &join(path, "mode")));
        let mode = match user_mode {
            Some(m) => m,
            None => doc_mode,
        };
        let sms = get(&fields, "smsSignIn").and_then(|(_, v)| {
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
        });

        let mut phones = BTreeMap::new();
        let mut declared = [Declared::Undeclared; 3];
        let mut mobile = None;
        let mut alternate_at = None;
        let phones_entry = get(&fields, "phones");
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

        if let Some(mode) = mode {
            let mobile_missing = match declared[PhoneType::Mobile as usize] {
                Declared::Absent => Some("`mobile: absent`"),
                Declared::Undeclared if mode == Mode::Exact => {
                    Some("no `mobile` (which in exact mode means absent)")
                }
                _ => None,
            };
            if mode == Mode::Exact && phones_empty {
                let at = phones_entry.map_or(&user_key.referenced, |(k, _)| &k.referenced);
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
            if mode == Mode::Merge && phones_empty && sms.is_none() {
                self.warning(
                    "nothing-managed",
                    &user_key.referenced,
                    &join(path, "user"),
                    format!("`{user}` is in merge mode and declares nothing, so authctl will not touch it"),
                    "declare phones or `smsSignIn`, or remove the entry".into(),
                );
            }
            if let (Declared::Number, Some(why), Some(at)) = (
                declared[PhoneType::AlternateMobile as usize],
                mobile_missing,
                alternate_at,
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
                    format!(
                        "`{user}` enables SMS sign-in but has {why}; SMS sign-in needs a mobile"
                    ),
                    "declare a `mobile`, or write `smsSignIn: disabled` (or leave it out)".into(),
                );
            }
        }

        let valid = mode.is_some() && self.error_count() == errors_before;
        out.push(Declaration {
            desired: DesiredUser {
                user,
                mode: mode.unwrap_or(Mode::Merge),
                phones,
                sms_sign_in: sms.map(|(s, _)| s),
                source: self.loc(&user_key.referenced),
            },
            valid,
            path: path.to_string(),
            user_at: (
                self.loc(&user_val.referenced),
                Self::len(&user_val.referenced),
            ),
            mobile,
        });
    }

    fn error_count(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.is_error() && d.file == self.file)
            .count()
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

/// A userPrincipalName is `name@domain` without spaces (guests look like `name_domain#EXT#@tenant`).
pub fn looks_like_upn(s: &str) -> bool {
    !s.chars().any(char::is_whitespace)
        && s.char_indices()
            .any(|(i, c)| c == '@' && i > 0 && i + 1 < s.len())
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
mod tests {
    use super::*;

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
}
