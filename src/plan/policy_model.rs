//! The policy part of a plan as data (what the plan file holds): per method, the diff and the PATCH body, the
//! destructive changes, errors, and the digests that make a saved policy plan checkable. The planning itself is
//! `methods_policy.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// The policy part of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPlan {
    /// sha256 (hex) over the policy as read when planning (the declared methods' configurations): a saved plan
    /// whose policy reads differently now is stale.
    pub observed_digest: String,
    /// The methods the manifests declare (manifest keys): the ones `observedDigest` covers.
    pub declared: Vec<String>,
    /// The methods that change, in the order of the manifest format's table.
    pub methods: Vec<MethodPlan>,
    /// What kept the policy from being planned (a group name that is missing or ambiguous, a read that failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<PolicyError>,
    /// sha256 (hex) over `observedDigest` and every method's `patch`: a saved plan whose PATCH bodies were edited
    /// is refused.
    pub digest: String,
}

/// One method's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MethodPlan {
    /// The manifest key (`sms`, `temporaryAccessPass`, `registrationCampaign`, …).
    pub method: String,
    /// What people call it.
    pub label: String,
    /// The configuration id (`Sms`, …); none for the registration campaign (a PATCH of the policy root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_id: Option<String>,
    /// Settings (and `state`) that change, as the manifest writes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<SettingChange>,
    /// Targets added, removed or changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetChange>,
    /// Why this change takes the method away from users (empty: it takes nothing away).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destructive: Vec<String>,
    /// The body sent: with `@odata.type` for a configuration, `registrationEnforcement` for the campaign. Target
    /// lists are sent whole.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub patch: Value,
}

/// One setting's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingChange {
    /// The manifest key (`state`, `defaultLifetime`, …).
    pub setting: String,
    /// The value now (as the manifest writes it; null when Graph has none).
    pub before: Value,
    /// The value planned.
    pub after: Value,
}

/// One target's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetChange {
    /// `include` or `exclude`.
    pub list: String,
    /// `add`, `remove` or `change` (a flag such as `usableForSignIn`).
    pub op: String,
    /// The target's id (`all_users` or an object id).
    pub id: String,
    /// Whom it names, readable (`all users`, `group "SMS pilot"`).
    pub name: String,
    /// The flags now (change/remove).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The flags planned (add/change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// A problem found while planning the policy, at its place in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyError {
    /// The file (empty for a read error).
    pub file: String,
    /// 1-based line (0: not in a file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The field path, e.g. `spec.sms.include[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl PolicyPlan {
    /// Whether a PATCH is planned.
    pub fn has_changes(&self) -> bool {
        !self.methods.is_empty()
    }

    /// The destructive changes, `method: reason` each.
    pub fn destructive(&self) -> Vec<String> {
        self.methods
            .iter()
            .flat_map(|m| {
                m.destructive
                    .iter()
                    .map(move |r| format!("{}: {r}", m.label))
            })
            .collect()
    }

    /// The digest this plan should carry.
    pub fn expected_digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"authctl policy plan v1\n");
        h.update(self.observed_digest.as_bytes());
        for k in &self.declared {
            h.update(b"\n");
            h.update(k.as_bytes());
        }
        for m in &self.methods {
            h.update(b"\n");
            h.update(m.method.as_bytes());
            h.update(b"\0");
            h.update(canonical(&m.patch).as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// Seals the plan (sets [`PolicyPlan::digest`]).
    pub fn sealed(mut self) -> PolicyPlan {
        self.digest = self.expected_digest();
        self
    }

    /// The planned SMS configuration: the observed one with the SMS PATCH laid over it.
    pub fn planned_config(&self, method: &str, observed: &Value) -> Value {
        match self.methods.iter().find(|m| m.method == method) {
            Some(m) => overlay(observed, &m.patch),
            None => observed.clone(),
        }
    }
}

/// JSON with object keys sorted at every level (digests must not depend on the order Graph writes keys in).
pub fn canonical(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                let sorted: BTreeMap<&String, Value> =
                    o.iter().map(|(k, v)| (k, sort(v))).collect();
                let mut m = Map::new();
                for (k, v) in sorted {
                    m.insert(k.clone(), v);
                }
                Value::Object(m)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    // With serde_json's `preserve_order` the map keeps insertion order, which `sort` made sorted.
    serde_json::to_string(&sort(v)).unwrap_or_default()
}

/// Lays a PATCH body over a configuration: top-level properties replace whole (as Graph's documented "left-out
/// properties keep their values"); the campaign body is unwrapped.
pub fn overlay(observed: &Value, patch: &Value) -> Value {
    let mut next = observed.clone();
    let body = patch
        .get("registrationEnforcement")
        .and_then(|r| r.get("authenticationMethodsRegistrationCampaign"))
        .unwrap_or(patch);
    if let (Some(n), Some(b)) = (next.as_object_mut(), body.as_object()) {
        for (k, v) in b {
            if !k.contains('@') {
                n.insert(k.clone(), v.clone());
            }
        }
    }
    next
}
