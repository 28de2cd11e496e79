//! One `AuthenticationMethodsPolicy` document: `spec` holds one entry per method (`sms`, `temporaryAccessPass`, …),
//! each with `state`, `include`, `exclude` and the method's own settings (names, units and ranges from
//! [`crate::manifest::policy::METHODS`]). Produces a [`DesiredPolicy`]; every problem is a diagnostic with its place
//! and a fix.

use serde_json::Value;
use serde_saphyr::Spanned;

use super::{Walker, get, is_guid, join, list, suggest};
use crate::manifest::node::{Node, SNode};
use crate::manifest::policy::{
    DesiredFeatureTarget, DesiredMethod, DesiredPolicy, DesiredSetting, DesiredTarget, GroupRef,
    METHODS, MethodSpec, RecordFieldKind, RecordSpec, SettingKind, TargetFlag, parse_whole,
};

/// A policy document as declared, with whether it had errors.
#[derive(Debug, Clone)]
pub struct PolicyDeclaration {
    /// The declared policy.
    pub desired: DesiredPolicy,
    /// `false` when the document has errors of its own.
    pub valid: bool,
    /// Where its `kind:` value is and its length (for "declared twice" labels).
    pub kind_len: usize,
}

impl Walker<'_> {
    /// Walks a document whose `kind` is `AuthenticationMethodsPolicy` (its header already checked).
    pub(super) fn policy_document(
        &mut self,
        doc: &SNode,
        kind: &SNode,
        spec: Option<(&Spanned<String>, &SNode)>,
        out: &mut Vec<PolicyDeclaration>,
    ) {
        let errors_before = self.error_count();
        let at = self.loc(&kind.referenced);
        let mut methods = Vec::new();
        match spec {
            None => self.error(
                "missing-field",
                &doc.referenced,
                "spec",
                "the document has no `spec`".into(),
                format!(
                    "add `spec:` with one entry per method to manage ({})",
                    list(&keys())
                ),
            ),
            Some((_, spec)) => {
                if let Some(fields) =
                    self.mapping(spec, "spec", "`spec`", &keys(), "unknown-method")
                {
                    for m in METHODS {
                        if let Some((k, v)) = get(&fields, m.key)
                            && let Some(d) = self.policy_method(m, k, v)
                        {
                            methods.push(d);
                        }
                    }
                }
            }
        }
        let valid = self.error_count() == errors_before;
        out.push(PolicyDeclaration {
            desired: DesiredPolicy { at, methods },
            valid,
            kind_len: Self::len(&kind.referenced),
        });
    }

    fn policy_method(
        &mut self,
        m: &'static MethodSpec,
        key: &Spanned<String>,
        node: &SNode,
    ) -> Option<DesiredMethod> {
        let path = format!("spec.{}", m.key);
        let mut known = vec!["state", "include", "exclude"];
        known.extend(m.settings.iter().map(|s| s.key));
        let what = format!("`{path}` ({})", m.label);
        let fields = self.mapping(node, &path, &what, &known, "unknown-setting")?;
        let mut d = DesiredMethod {
            spec: m,
            at: self.loc(&key.referenced),
            state: None,
            include: None,
            exclude: None,
            settings: Vec::new(),
            feature_targets: Vec::new(),
        };
        if let Some((_, v)) = get(&fields, "state") {
            let p = join(&path, "state");
            match &v.value {
                Node::Str(s) if m.states.contains(&s.as_str()) => d.state = Some(s.clone()),
                other => {
                    let hint = match other {
                        Node::Str(s) => suggest(s, m.states)
                            .map(|s| format!(": did you mean `{s}`?"))
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    let shown = self.shown(v);
                    self.error(
                        "invalid-value",
                        &v.referenced,
                        &p,
                        format!("`{shown}` is not a state of {}{hint}", m.label),
                        format!("write one of {}", list(m.states)),
                    );
                }
            }
        }
        for (which, include) in [("include", true), ("exclude", false)] {
            if let Some((k, v)) = get(&fields, which) {
                d.include_or_exclude(self, m, k, v, &join(&path, which), include);
            }
        }
        for s in m.settings {
            let Some((_, v)) = get(&fields, s.key) else {
                continue;
            };
            if let SettingKind::FeatureTarget { include } = s.kind {
                if let Some(target) = self.policy_target(&[], v, &join(&path, s.key), include, true)
                {
                    d.feature_targets
                        .push(DesiredFeatureTarget { spec: s, target });
                }
                continue;
            }
            if let Some(value) = self.setting_value(s.kind, v, &join(&path, s.key), s.key) {
                d.settings.push(DesiredSetting { spec: s, value });
            }
        }
        self.lifetimes(m, &d, &fields, &path);
        Some(d)
    }

    /// TAP: minimum ≤ default ≤ maximum among the declared lifetimes.
    fn lifetimes(
        &mut self,
        m: &MethodSpec,
        d: &DesiredMethod,
        fields: &[(&Spanned<String>, &SNode)],
        path: &str,
    ) {
        if m.key != "temporaryAccessPass" {
            return;
        }
        let val = |k: &str| {
            d.settings
                .iter()
                .find(|s| s.spec.key == k)
                .and_then(|s| s.value.as_i64())
        };
        let (min, def, max) = (
            val("minimumLifetime"),
            val("defaultLifetime"),
            val("maximumLifetime"),
        );
        let pairs = [
            ("minimumLifetime", min, "defaultLifetime", def),
            ("defaultLifetime", def, "maximumLifetime", max),
            ("minimumLifetime", min, "maximumLifetime", max),
        ];
        for (a, av, b, bv) in pairs {
            if let (Some(x), Some(y)) = (av, bv)
                && x > y
                && let Some((_, node)) = get(fields, b)
            {
                let show = crate::manifest::policy::show_minutes;
                self.error(
                    "invalid-value",
                    &node.referenced,
                    &join(path, b),
                    format!(
                        "`{b}` ({}) is shorter than `{a}` ({}); a Temporary Access Pass needs minimumLifetime ≤ \
                         defaultLifetime ≤ maximumLifetime",
                        show(y),
                        show(x)
                    ),
                    format!("make `{b}` at least {} or `{a}` at most {}", show(x), show(y)),
                );
                return;
            }
        }
    }

    /// One setting's value converted to Graph's.
    fn setting_value(
        &mut self,
        kind: SettingKind,
        v: &SNode,
        path: &str,
        key: &str,
    ) -> Option<Value> {
        let shown = self.shown(v);
        let (message, help) = match (kind, &v.value) {
            (SettingKind::Bool, Node::Bool(b)) => return Some(Value::Bool(*b)),
            (SettingKind::Bool, _) => (
                format!("`{key}` must be true or false, not `{shown}`"),
                "write `true` or `false`".to_string(),
            ),
            (SettingKind::Enum(words), Node::Str(s)) => {
                if let Some((_, g)) = words.iter().find(|(w, _)| w == s) {
                    return Some(Value::String((*g).to_string()));
                }
                let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
                let hint = suggest(s, &names)
                    .map(|s| format!(": did you mean `{s}`?"))
                    .unwrap_or_default();
                (
                    format!("`{shown}` is not a value of `{key}`{hint}"),
                    format!("write one of {}", list(&names)),
                )
            }
            (SettingKind::Enum(words), _) => {
                let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
                (
                    format!("`{key}` must be one of {}, not `{shown}`", list(&names)),
                    format!("write one of {}", list(&names)),
                )
            }
            (SettingKind::Minutes(lo, hi), Node::Str(s)) => match parse_whole(s, 60) {
                Ok(n) if (lo..=hi).contains(&n) => return Some(Value::from(n)),
                Ok(_) => (
                    format!("`{key}: {s}` is outside the range Graph accepts (10 minutes to 30 days)"),
                    "write a duration from `10m` to `30d` (e.g. `1h`, `8h`)".to_string(),
                ),
                Err(e) => (e, "write a duration such as `1h`, `90m` or `1d`".to_string()),
            },
            (SettingKind::Minutes(..), _) => (
                format!("`{key}` must be a duration with its unit, not `{shown}`"),
                "write the unit: `1h`, `90m`, `1d` (a bare number would leave minutes or hours unclear)".to_string(),
            ),
            (SettingKind::Days(lo, hi), Node::Str(s)) => match parse_whole(s, 86_400) {
                Ok(n) if (lo..=hi).contains(&n) => return Some(Value::from(n)),
                Ok(_) => (
                    format!("`{key}: {s}` is outside the range Graph accepts ({lo} to {hi} days)"),
                    format!("write a number of days from `{lo}d` to `{hi}d`"),
                ),
                Err(e) => (e, "write whole days, e.g. `1d`, `365d`".to_string()),
            },
            (SettingKind::Days(..), _) => (
                format!("`{key}` must be a number of days with its unit, not `{shown}`"),
                "write e.g. `1d` or `365d`".to_string(),
            ),
            (SettingKind::Int(lo, hi), Node::Int(n)) if (i128::from(lo)..=i128::from(hi)).contains(n) => {
                return Some(Value::from(*n as i64));
            }
            (SettingKind::Int(lo, hi), _) => (
                format!("`{key}` must be a whole number from {lo} to {hi}, not `{shown}`"),
                format!("write a whole number from {lo} to {hi}"),
            ),
            (SettingKind::Aaguids, Node::Seq(items)) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Node::Str(g) if is_guid(g) => {
                            out.push(Value::String(g.to_ascii_lowercase()));
                        }
                        _ => {
                            ok = false;
                            let s = self.shown(item);
                            self.error(
                                "invalid-aaguid",
                                &item.referenced,
                                &format!("{path}[{i}]"),
                                format!("`{s}` is not an AAGUID"),
                                "an AAGUID is a GUID, 8-4-4-4-12 hexadecimal digits (e.g. \
                                 `cb69481e-8ff7-4039-93ec-0a2729a154a8`), as the key's vendor publishes it"
                                    .into(),
                            );
                        }
                    }
                }
                return ok.then_some(Value::Array(out));
            }
            (SettingKind::Records(r), Node::Seq(items)) => return self.records(r, items, path),
            (SettingKind::Records(r), _) => (
                format!("`{key}` must be a list, one entry per {}, not {}", &r.what[2..], v.value.kind()),
                format!(
                    "write `- {{{}}}` per entry (none is `[]`)",
                    r.fields.iter().map(|f| format!("{}: …", f.key)).collect::<Vec<_>>().join(", ")
                ),
            ),
            (SettingKind::FeatureTarget { .. }, _) => (
                format!("`{key}` must be a target, not `{shown}`"),
                "write `{group: <display name or object id>}`, `{allUsers: true}` or `{nobody: true}`".to_string(),
            ),
            (SettingKind::Aaguids, _) => (
                format!("`{key}` must be a list of AAGUIDs, not {}", v.value.kind()),
                "write `aaguids: [\"cb69481e-8ff7-4039-93ec-0a2729a154a8\", …]` (an empty list is `[]`)".to_string(),
            ),
        };
        self.error("invalid-value", &v.referenced, path, message, help);
        None
    }

    /// One target: `{group: NAME-OR-ID}` or `{allUsers: true}`, and the method's target flags (includes).
    /// A list of records, each with every field of `r`, its `unique` field unique, no record twice.
    fn records(&mut self, r: &RecordSpec, items: &[SNode], path: &str) -> Option<Value> {
        let keys: Vec<&str> = r.fields.iter().map(|f| f.key).collect();
        let mut out: Vec<Value> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let Some(fields) = self.mapping(item, &p, r.what, &keys, "unknown-field") else {
                ok = false;
                continue;
            };
            let mut rec = serde_json::Map::new();
            for f in r.fields {
                let fp = join(&p, f.key);
                let Some((_, v)) = get(&fields, f.key) else {
                    self.error(
                        "missing-field",
                        &item.referenced,
                        &p,
                        format!("{} needs `{}`", r.what, f.key),
                        format!(
                            "write {}",
                            keys.iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    ok = false;
                    continue;
                };
                let shown = self.shown(v);
                let value = match (f.kind, &v.value) {
                    (RecordFieldKind::Enum(words), Node::Str(s)) => words
                        .iter()
                        .find(|(w, _)| w == s)
                        .map(|(_, g)| Value::String((*g).to_string())),
                    (RecordFieldKind::Int(lo, hi), Node::Int(n))
                        if (i128::from(lo)..=i128::from(hi)).contains(n) =>
                    {
                        Some(Value::from(*n as i64))
                    }
                    (RecordFieldKind::Text, Node::Str(s)) if !s.trim().is_empty() => {
                        Some(Value::String(s.clone()))
                    }
                    _ => None,
                };
                let Some(value) = value else {
                    let help = match f.kind {
                        RecordFieldKind::Enum(words) => {
                            let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
                            format!("write one of {}", list(&names))
                        }
                        RecordFieldKind::Int(lo, hi) => {
                            format!("write a whole number from {lo} to {hi}")
                        }
                        RecordFieldKind::Text => "write a non-empty string".into(),
                    };
                    self.error(
                        "invalid-value",
                        &v.referenced,
                        &fp,
                        format!("`{shown}` is not a valid `{}`", f.key),
                        help,
                    );
                    ok = false;
                    continue;
                };
                rec.insert(f.graph.to_string(), value);
            }
            if rec.len() != r.fields.len() {
                continue;
            }
            let rec = Value::Object(rec);
            let clash = r.unique.and_then(|u| {
                let g = r.fields.iter().find(|f| f.key == u)?.graph;
                out.iter().any(|o| o[g] == rec[g]).then_some(u)
            });
            if let Some(u) = clash {
                self.error(
                    "duplicate-entry",
                    &item.referenced,
                    &p,
                    format!("two entries have the same `{u}`"),
                    format!("give each entry its own `{u}`"),
                );
                ok = false;
                continue;
            }
            if out.contains(&rec) {
                self.error(
                    "duplicate-entry",
                    &item.referenced,
                    &p,
                    format!("{} is listed twice", r.what),
                    "remove one".into(),
                );
                ok = false;
                continue;
            }
            out.push(rec);
        }
        ok.then_some(Value::Array(out))
    }

    /// `feature`: a Microsoft Authenticator feature's target, which may also be `nobody: true`.
    fn policy_target(
        &mut self,
        target_flags: &[TargetFlag],
        item: &SNode,
        path: &str,
        include: bool,
        feature: bool,
    ) -> Option<DesiredTarget> {
        let mut known = vec!["group", "allUsers"];
        if feature {
            known.push("nobody");
        }
        if include {
            known.extend(target_flags.iter().map(|f| f.key));
        }
        let fields = self.mapping(item, path, "a target", &known, "unknown-field")?;
        if let Some((k, n)) = get(&fields, "nobody") {
            if fields.len() > 1 {
                self.error(
                    "invalid-target",
                    &k.referenced,
                    path,
                    "a feature target names one of `group`, `allUsers` or `nobody`".into(),
                    "keep one of them".into(),
                );
                return None;
            }
            if !matches!(n.value, Node::Bool(true)) {
                let shown = self.shown(n);
                self.error(
                    "invalid-value",
                    &n.referenced,
                    &join(path, "nobody"),
                    format!("`nobody` can only be `true`, not `{shown}`"),
                    "write `nobody: true`, or name a group with `group:`".into(),
                );
                return None;
            }
            return Some(DesiredTarget {
                group: GroupRef::Nobody,
                at: self.loc(&item.referenced),
                path: path.to_string(),
                flags: Vec::new(),
            });
        }
        let group = match (get(&fields, "group"), get(&fields, "allUsers")) {
            (Some((_, g)), None) => match &g.value {
                Node::Str(s) if !s.trim().is_empty() => {
                    if is_guid(s.trim()) {
                        GroupRef::Id(s.trim().to_ascii_lowercase())
                    } else {
                        GroupRef::Name(s.clone())
                    }
                }
                _ => {
                    let shown = self.shown(g);
                    self.error(
                        "invalid-value",
                        &g.referenced,
                        &join(path, "group"),
                        format!(
                            "`group` must be a group's display name or object id, not `{shown}`"
                        ),
                        "write the group's display name (`group: SMS sign-in`) or object id".into(),
                    );
                    return None;
                }
            },
            (None, Some((_, a))) => match &a.value {
                Node::Bool(true) if include => GroupRef::AllUsers,
                Node::Bool(true) => {
                    self.error(
                        "invalid-value",
                        &a.referenced,
                        &join(path, "allUsers"),
                        "all users can't be excluded (Graph refuses `all_users` in excludeTargets)"
                            .into(),
                        "disable the method instead (`state: disabled`), or exclude groups".into(),
                    );
                    return None;
                }
                _ => {
                    let shown = self.shown(a);
                    self.error(
                        "invalid-value",
                        &a.referenced,
                        &join(path, "allUsers"),
                        format!("`allUsers` can only be `true`, not `{shown}`"),
                        "write `allUsers: true`, or name a group with `group:`".into(),
                    );
                    return None;
                }
            },
            (Some(_), Some((k, _))) => {
                self.error(
                    "invalid-target",
                    &k.referenced,
                    path,
                    "a target names either a `group` or `allUsers`, not both".into(),
                    "split it into two targets, or keep one of the two".into(),
                );
                return None;
            }
            (None, None) => {
                self.error(
                    "missing-field",
                    &item.referenced,
                    path,
                    "the target names no group".into(),
                    "write `group: <display name or object id>` or `allUsers: true`".into(),
                );
                return None;
            }
        };
        let mut flags = Vec::new();
        if include {
            for f in target_flags {
                let value = match get(&fields, f.key) {
                    Some((_, v)) => self.setting_value(f.kind, v, &join(path, f.key), f.key)?,
                    None => f.default.value(),
                };
                flags.push((f.graph, value));
            }
        }
        Some(DesiredTarget {
            group,
            at: self.loc(&item.referenced),
            path: path.to_string(),
            flags,
        })
    }
}

impl DesiredMethod {
    fn include_or_exclude(
        &mut self,
        w: &mut Walker<'_>,
        m: &MethodSpec,
        key: &Spanned<String>,
        v: &SNode,
        path: &str,
        include: bool,
    ) {
        let items: &[SNode] = match &v.value {
            Node::Seq(items) => items,
            Node::Null => &[],
            other => {
                w.error(
                    "invalid-type",
                    &v.referenced,
                    path,
                    format!(
                        "`{}` must be a list of targets, not {}",
                        key.value,
                        other.kind()
                    ),
                    "write one `- group: …` (or `- allUsers: true`) per target; none is `[]`"
                        .into(),
                );
                return;
            }
        };
        let mut out: Vec<DesiredTarget> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let Some(t) = w.policy_target(m.target_flags, item, &p, include, false) else {
                continue;
            };
            let same = |a: &GroupRef, b: &GroupRef| match (a, b) {
                (GroupRef::Name(x), GroupRef::Name(y)) => x.to_lowercase() == y.to_lowercase(),
                _ => a == b,
            };
            if let Some(prev) = out.iter().find(|p| same(&p.group, &t.group)) {
                w.error(
                    "duplicate-target",
                    &item.referenced,
                    &p,
                    format!("{} is listed twice in `{}`", t.group, key.value),
                    format!("remove one; the first is at {}", prev.at),
                );
                continue;
            }
            out.push(t);
        }
        if include {
            self.include = Some(out);
        } else {
            self.exclude = Some(out);
        }
    }
}

fn keys() -> Vec<&'static str> {
    METHODS.iter().map(|m| m.key).collect()
}

/// The one-policy-per-tenant rule across files: every document after the first is an error naming both places.
pub fn check_across_policies(
    decls: &[PolicyDeclaration],
    diags: &mut Vec<crate::manifest::Diagnostic>,
) {
    let Some(first) = decls.first() else {
        return;
    };
    for d in &decls[1..] {
        diags.push(
            crate::manifest::Diagnostic::error(
                "duplicate-policy",
                &d.desired.at,
                "kind",
                format!(
                    "a second `{}` document; the tenant has one policy (the first is at {})",
                    crate::manifest::policy::POLICY_KIND,
                    first.desired.at
                ),
            )
            .with_len(d.kind_len)
            .with_primary_label("declared again here")
            .with_label(&first.desired.at, first.kind_len, "first declared here")
            .with_help(format!(
                "keep one `{}` document (first at {}, again at {}) and merge the methods into it",
                crate::manifest::policy::POLICY_KIND,
                first.desired.at,
                d.desired.at
            )),
        );
    }
}
