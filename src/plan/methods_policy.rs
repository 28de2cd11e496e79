//! The authentication methods policy as a plan: a declared policy (its group names already resolved to ids by the
//! read side) against the policy Graph returned → per method, a diff of state, settings and targets, the PATCH body
//! that makes it so, and whether the change takes a method away from users (a destructive policy change, refused at
//! apply without `--allow-policy-removal`). Also what the policy means for a user's SMS sign-in: why it is blocked,
//! and whether the planned policy brings the user into scope. Pure: no HTTP.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::manifest::policy::{
    ALL_USERS, DesiredPolicy, DesiredSetting, MethodSpec, NOBODY, SettingKind,
};

use super::model::{Action, BlockCode, Call, Plan};
pub use super::policy_model::{
    MethodPlan, PolicyError, PolicyPlan, SettingChange, TargetChange, canonical, overlay,
};
pub use super::report::PolicyOutcome;

/// The configuration of `spec` in a policy as Graph returns it (the campaign: the root's
/// `registrationEnforcement.authenticationMethodsRegistrationCampaign`).
pub fn observed_config<'a>(policy: &'a Value, spec: &MethodSpec) -> Option<&'a Value> {
    match spec.config_id {
        Some(id) => policy["authenticationMethodConfigurations"]
            .as_array()?
            .iter()
            .find(|c| c["id"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(id))),
        None => policy
            .get("registrationEnforcement")?
            .get("authenticationMethodsRegistrationCampaign"),
    }
}

/// sha256 over the declared methods' configurations as read.
pub fn observed_digest(desired: &DesiredPolicy, policy: &Value) -> String {
    let keys: Vec<String> = desired
        .methods
        .iter()
        .map(|m| m.spec.key.to_string())
        .collect();
    observed_digest_keys(&keys, policy)
}

/// sha256 over the configurations of the methods `keys` (manifest keys) as read.
pub fn observed_digest_keys(keys: &[String], policy: &Value) -> String {
    let mut h = Sha256::new();
    h.update(b"authctl observed policy v1\n");
    for k in keys {
        let config = crate::manifest::policy::method(k).and_then(|m| observed_config(policy, m));
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(canonical(config.unwrap_or(&Value::Null)).as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The ids the read side resolved, by the target's field path (`spec.sms.include[0]`), and readable names by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Target path → object id (lowercase) or `all_users`.
    pub ids: HashMap<String, String>,
    /// Object id (lowercase) → display name.
    pub names: HashMap<String, String>,
}

impl Resolution {
    /// A readable name for a target id.
    pub fn name_of(&self, id: &str) -> String {
        if id == ALL_USERS {
            return "all users".into();
        }
        if id == NOBODY {
            return "nobody".into();
        }
        match self.names.get(&id.to_ascii_lowercase()) {
            Some(n) => format!("group \"{}\"", crate::escape::visible(n)),
            None => format!("group {id}"),
        }
    }
}

fn at_path<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| v.get(k).unwrap_or(&Value::Null))
}

fn same_setting(kind: SettingKind, a: &Value, b: &Value) -> bool {
    match kind {
        SettingKind::Aaguids => {
            let set = |v: &Value| -> Option<HashSet<String>> {
                v.as_array().map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
            };
            set(a) == set(b)
        }
        SettingKind::Records(r) => {
            let set = |v: &Value| -> Option<Vec<String>> {
                let mut out: Vec<String> = v
                    .as_array()?
                    .iter()
                    .map(|i| canonical(&r.project(i)))
                    .collect();
                out.sort();
                out.dedup();
                Some(out)
            };
            set(a).is_some() && set(a) == set(b)
        }
        SettingKind::FeatureTarget { .. } => {
            let id = |v: &Value| v["id"].as_str().map(str::to_ascii_lowercase);
            let kind = |v: &Value| v["targetType"].as_str().unwrap_or("group").to_string();
            id(a).is_some() && id(a) == id(b) && kind(a) == kind(b)
        }
        _ => a == b,
    }
}

/// A list of records to send keeps, per record, the fields authctl doesn't manage from the record read with the same
/// unique field (an X.509 user binding's `trustAffinityLevel`, by `priority`).
fn keep_unmanaged_fields(kind: SettingKind, value: &Value, now: &Value) -> Value {
    let SettingKind::Records(r) = kind else {
        return value.clone();
    };
    let Some(unique) = r
        .unique
        .and_then(|u| r.fields.iter().find(|f| f.key == u))
        .map(|f| f.graph)
    else {
        return value.clone();
    };
    let (Some(items), Some(read)) = (value.as_array(), now.as_array()) else {
        return value.clone();
    };
    Value::Array(
        items
            .iter()
            .map(|i| match read.iter().find(|o| o[unique] == i[unique]) {
                Some(Value::Object(o)) => {
                    let mut merged = o.clone();
                    if let Value::Object(m) = i {
                        merged.extend(m.clone());
                    }
                    Value::Object(merged)
                }
                _ => i.clone(),
            })
            .collect(),
    )
}

/// A setting's value as a plan shows it: feature targets by whom they name, the rest as the manifest writes it.
fn shown(kind: SettingKind, v: &Value, resolution: &Resolution) -> Value {
    match kind {
        SettingKind::FeatureTarget { .. } => match (v["id"].as_str(), v["targetType"].as_str()) {
            (None, _) => Value::Null,
            (Some(id), None | Some("group")) => Value::String(resolution.name_of(id)),
            (Some(id), Some(t)) => Value::String(format!("{t} {id}")),
        },
        _ => crate::manifest::policy::show_setting(kind, v),
    }
}

fn flags_of(t: &Value, flags: &[(&'static str, Value)]) -> Value {
    let mut m = Map::new();
    for (k, _) in flags {
        m.insert((*k).to_string(), t.get(*k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(m)
}

/// Plans the declared policy against the policy read from Graph. `resolution` holds the ids of every target the
/// read side could resolve; a target it could not is left out (its error is reported by the caller).
pub fn plan_policy(desired: &DesiredPolicy, resolution: &Resolution, policy: &Value) -> PolicyPlan {
    let mut methods = Vec::new();
    for d in &desired.methods {
        let spec = d.spec;
        let empty = json!({});
        let c = observed_config(policy, spec).unwrap_or(&empty);
        let enabled_now = c["state"] == "enabled";
        let takes_away = enabled_now && spec.config_id.is_some();
        let mut m = MethodPlan {
            method: spec.key.into(),
            label: spec.label.into(),
            configuration_id: spec.config_id.map(str::to_string),
            settings: Vec::new(),
            targets: Vec::new(),
            destructive: Vec::new(),
            patch: json!({}),
        };
        let mut body = Map::new();
        if let Some(s) = &d.state
            && c["state"] != json!(s)
        {
            m.settings.push(SettingChange {
                setting: "state".into(),
                before: c["state"].clone(),
                after: json!(s),
            });
            body.insert("state".into(), json!(s));
            if takes_away && s == "disabled" {
                m.destructive
                    .push("the method is disabled: nobody can use it any more".into());
            }
        }
        // Include targets: a set keyed by id; flags compared per target.
        if let Some(include) = &d.include {
            let observed: Vec<&Value> = c["includeTargets"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let key = |v: &Value| v["id"].as_str().unwrap_or_default().to_ascii_lowercase();
            let mut wanted: Vec<Value> = Vec::new();
            let mut changed = false;
            for t in include {
                let Some(id) = resolution.ids.get(&t.path) else {
                    continue;
                };
                let found = observed.iter().find(|o| key(o) == *id);
                let mut target = match found {
                    Some(o) => (*o).clone(),
                    None => json!({"targetType": "group", "id": id}),
                };
                for (k, v) in &t.flags {
                    target[*k] = v.clone();
                }
                match found {
                    None => {
                        changed = true;
                        m.targets.push(TargetChange {
                            list: "include".into(),
                            op: "add".into(),
                            id: id.clone(),
                            name: resolution.name_of(id),
                            before: None,
                            after: (!t.flags.is_empty()).then(|| flags_of(&target, &t.flags)),
                        });
                    }
                    Some(o) if flags_of(o, &t.flags) != flags_of(&target, &t.flags) => {
                        changed = true;
                        if takes_away
                            && o["isUsableForSignIn"] == json!(true)
                            && target["isUsableForSignIn"] == json!(false)
                        {
                            m.destructive.push(format!(
                                "SMS sign-in is turned off for {}",
                                resolution.name_of(id)
                            ));
                        }
                        m.targets.push(TargetChange {
                            list: "include".into(),
                            op: "change".into(),
                            id: id.clone(),
                            name: resolution.name_of(id),
                            before: Some(flags_of(o, &t.flags)),
                            after: Some(flags_of(&target, &t.flags)),
                        });
                    }
                    Some(_) => {}
                }
                wanted.push(target);
            }
            for o in &observed {
                let id = key(o);
                if !wanted.iter().any(|w| key(w) == id) {
                    changed = true;
                    if takes_away {
                        m.destructive.push(format!(
                            "{} is removed from the includes",
                            resolution.name_of(&id)
                        ));
                    }
                    m.targets.push(TargetChange {
                        list: "include".into(),
                        op: "remove".into(),
                        name: resolution.name_of(&id),
                        id,
                        before: None,
                        after: None,
                    });
                }
            }
            if changed {
                body.insert("includeTargets".into(), Value::Array(wanted));
            }
        }
        if let Some(exclude) = &d.exclude {
            let observed: Vec<String> = c["excludeTargets"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t["id"].as_str())
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default();
            let wanted: Vec<String> = exclude
                .iter()
                .filter_map(|t| resolution.ids.get(&t.path).cloned())
                .collect();
            let mut changed = false;
            for id in &wanted {
                if !observed.contains(id) {
                    changed = true;
                    if takes_away {
                        m.destructive.push(format!(
                            "{} is added to the excludes",
                            resolution.name_of(id)
                        ));
                    }
                    m.targets.push(TargetChange {
                        list: "exclude".into(),
                        op: "add".into(),
                        id: id.clone(),
                        name: resolution.name_of(id),
                        before: None,
                        after: None,
                    });
                }
            }
            for id in &observed {
                if !wanted.contains(id) {
                    changed = true;
                    m.targets.push(TargetChange {
                        list: "exclude".into(),
                        op: "remove".into(),
                        id: id.clone(),
                        name: resolution.name_of(id),
                        before: None,
                        after: None,
                    });
                }
            }
            if changed {
                let list: Vec<Value> = wanted
                    .iter()
                    .map(|id| json!({"targetType": "group", "id": id}))
                    .collect();
                body.insert("excludeTargets".into(), Value::Array(list));
            }
        }
        // Feature targets join the settings once resolved (an unresolved one is reported by the caller). Changing
        // whom a feature's prompt detail is shown to takes no method away: never destructive.
        let features = d.feature_targets.iter().filter_map(|f| {
            let id = resolution.ids.get(&f.target.path)?;
            Some(DesiredSetting {
                spec: f.spec,
                value: json!({"targetType": "group", "id": id}),
            })
        });
        let settings: Vec<DesiredSetting> = d.settings.iter().cloned().chain(features).collect();
        for s in &settings {
            let path = s.spec.path;
            let now = at_path(c, path);
            let s = &DesiredSetting {
                spec: s.spec,
                value: keep_unmanaged_fields(s.spec.kind, &s.value, now),
            };
            if same_setting(s.spec.kind, now, &s.value) {
                continue;
            }
            m.settings.push(SettingChange {
                setting: s.spec.key.into(),
                before: shown(s.spec.kind, now, resolution),
                after: shown(s.spec.kind, &s.value, resolution),
            });
            let top = path[0];
            if path.len() == 1 {
                body.insert(top.into(), s.value.clone());
            } else {
                // Nested settings send their whole top-level object (top-level properties replace whole).
                let mut whole = body
                    .get(top)
                    .cloned()
                    .unwrap_or_else(|| c.get(top).cloned().unwrap_or_else(|| json!({})));
                let mut cur = &mut whole;
                for k in &path[1..path.len() - 1] {
                    if !cur.get(*k).is_some_and(Value::is_object) {
                        cur[*k] = json!({});
                    }
                    cur = &mut cur[*k];
                }
                cur[path[path.len() - 1]] = s.value.clone();
                body.insert(top.into(), whole);
            }
        }
        if body.is_empty() {
            continue;
        }
        m.patch = match spec.odata_type() {
            Some(t) => {
                let mut b = Map::new();
                b.insert("@odata.type".into(), Value::String(t));
                b.extend(body);
                Value::Object(b)
            }
            None => {
                json!({"registrationEnforcement": {"authenticationMethodsRegistrationCampaign": body}})
            }
        };
        methods.push(m);
    }
    PolicyPlan {
        observed_digest: observed_digest(desired, policy),
        declared: desired
            .methods
            .iter()
            .map(|m| m.spec.key.to_string())
            .collect(),
        methods,
        errors: Vec::new(),
        digest: String::new(),
    }
    .sealed()
}

/// Whether a configuration read back carries what `patch` sent: every property sent equal (target lists and
/// AAGUIDs as sets, whatever order or extra fields Graph returns). Holds whether Graph merges or replaces lists.
pub fn reads_back(patch: &Value, read: &Value) -> bool {
    let body = patch
        .get("registrationEnforcement")
        .and_then(|r| r.get("authenticationMethodsRegistrationCampaign"))
        .unwrap_or(patch);
    let Some(body) = body.as_object() else {
        return false;
    };
    body.iter()
        .filter(|(k, _)| !k.contains('@'))
        .all(|(k, v)| match k.as_str() {
            "includeTargets" | "excludeTargets" => same_targets(v, &read[k]),
            _ => contains(v, &read[k]),
        })
}

fn same_targets(sent: &Value, read: &Value) -> bool {
    let (Some(sent), Some(read)) = (sent.as_array(), read.as_array()) else {
        return false;
    };
    let id = |t: &Value| t["id"].as_str().unwrap_or_default().to_ascii_lowercase();
    sent.len() == read.len()
        && sent
            .iter()
            .all(|s| read.iter().any(|r| id(r) == id(s) && contains(s, r)))
}

/// Every field of `sent` is in `read` with the same value (ids case-insensitively, lists of strings as sets).
fn contains(sent: &Value, read: &Value) -> bool {
    match (sent, read) {
        (Value::Object(s), Value::Object(r)) => s
            .iter()
            .all(|(k, v)| contains(v, r.get(k).unwrap_or(&Value::Null))),
        (Value::Array(s), Value::Array(r)) if s.iter().all(Value::is_string) => {
            let set = |a: &Vec<Value>| -> HashSet<String> {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect()
            };
            set(s) == set(r)
        }
        (Value::Array(s), Value::Array(r)) => {
            s.len() == r.len() && s.iter().all(|s| r.iter().any(|r| contains(s, r)))
        }
        (Value::String(s), Value::String(r)) => s.eq_ignore_ascii_case(r),
        _ => sent == read,
    }
}

/// Whether an SMS configuration lets a user sign in by SMS: enabled, an include target with `isUsableForSignIn`
/// naming the user (`all_users`, the user's id, a group the user is in), no exclude target naming them.
pub fn sms_in_scope(config: &Value, user_id: &str, groups: &HashSet<String>) -> bool {
    let names = |t: &Value| {
        let id = t["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        id == ALL_USERS || id == user_id.to_ascii_lowercase() || groups.contains(&id)
    };
    config["state"] == "enabled"
        && config["includeTargets"].as_array().is_some_and(|ts| {
            ts.iter()
                .any(|t| t["isUsableForSignIn"] == json!(true) && names(t))
        })
        && !config["excludeTargets"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(names))
}

/// How the note of an SMS action that waits for the policy change begins.
pub const POLICY_NOTE: &str = "after the policy change";

/// What the policy tells the user plans about SMS sign-in.
#[derive(Debug, Clone, Default)]
pub struct SmsPolicyView {
    /// The SMS configuration as read.
    pub before: Value,
    /// The SMS configuration once the planned policy change is applied (the same when none is planned).
    pub after: Value,
    /// Users' object ids (lowercase) → the ids (lowercase) of every group they are in, nested groups counted.
    pub groups: HashMap<String, HashSet<String>>,
    /// Group id (lowercase) → display name.
    pub names: HashMap<String, String>,
}

/// Rewrites the users' blocked SMS sign-ins that the policy explains: a user the planned policy brings into SMS
/// sign-in scope gets the SMS call, after the policy change and after re-reading its state (`afterReread`); any
/// other gets the reason in the policy's words and the groups that would allow it.
pub fn apply_sms_policy(plan: &mut Plan, view: &SmsPolicyView) {
    let allowing: Vec<String> = view.after["includeTargets"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .filter(|t| t["isUsableForSignIn"] == json!(true))
                .filter_map(|t| t["id"].as_str())
                .filter(|id| *id != ALL_USERS)
                .map(|id| match view.names.get(&id.to_ascii_lowercase()) {
                    Some(n) => format!("\"{}\"", crate::escape::visible(n)),
                    None => id.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut touched = false;
    for u in &mut plan.users {
        let Some(id) = u.id.clone() else {
            continue;
        };
        let Some(i) = u.blocked.iter().position(|b| {
            b.code == BlockCode::SmsSignInState && b.before.as_deref() == Some("notAllowedByPolicy")
        }) else {
            continue;
        };
        let groups = view
            .groups
            .get(&id.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default();
        let now = sms_in_scope(&view.before, &id, &groups);
        let later = sms_in_scope(&view.after, &id, &groups);
        if later && !now {
            u.blocked.remove(i);
            let mut a = Action {
                after_reread: true,
                ..Action::new(
                    Call::EnableSmsSignIn,
                    Some("notAllowedByPolicy".into()),
                    Some("ready".into()),
                )
            };
            a.note = Some(format!(
                "{POLICY_NOTE} puts the user in SMS sign-in scope; the state is re-read first"
            ));
            // SMS sign-in goes after any mobile write and before deletes, as the engine orders it.
            let at = u
                .actions
                .iter()
                .position(|x| x.op() == super::model::Op::Delete)
                .unwrap_or(u.actions.len());
            u.actions.insert(at, a);
            if let Some(obs) = &u.observed {
                u.prefix_digests = super::state::prefix_digests(&u.desired, obs, &u.actions);
                u.predicted = u.state_after_prefix(u.actions.len());
            }
            touched = true;
        } else {
            let why = if view.after["state"] != "enabled" {
                "the SMS method is disabled in the authentication methods policy".to_string()
            } else if allowing.is_empty() {
                "the SMS configuration of the authentication methods policy has no group with sign-in enabled"
                    .to_string()
            } else if later {
                "the user is in an SMS target group with sign-in enabled but Graph still says notAllowedByPolicy"
                    .to_string()
            } else {
                format!(
                    "not in an SMS target group with sign-in enabled; groups that would allow it: {}",
                    allowing.join(", ")
                )
            };
            u.blocked[i].reason = format!("{why} (smsSignInState notAllowedByPolicy)");
        }
    }
    if touched {
        plan.summary = super::engine::summarise(&plan.users).with_policy(plan.policy.as_ref());
    }
}

#[cfg(test)]
mod tests;
