//! How a stored method reads at its own path and in the methods list: its stored properties as given, its id, and
//! for a Temporary Access Pass the pass itself always `null` and its usability computed from the TAP policy now.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::super::kinds::tap;
use super::super::store::{Data, EmulatorState};
use super::super::tenant::{Method, User};
use super::policy::TapSettings;

/// A stored method as Graph shows it at its own path: its stored properties (as given), its id, and for a TAP the
/// pass always `null` (Graph returns it only in the create answer).
pub(super) fn method_json(m: &Method) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(m.id));
    for (k, val) in &m.properties {
        v.insert(k.clone(), val.clone());
    }
    if m.kind == "temporaryAccessPass" {
        v.insert("temporaryAccessPass".into(), Value::Null);
    }
    Value::Object(v)
}

/// `isUsable` and `methodUsabilityReason` of a pass starting at `start` for `lifetime` minutes, at `now`.
pub(super) fn usability(
    s: &TapSettings,
    start: Timestamp,
    lifetime: i64,
    now: Timestamp,
) -> (bool, &'static str) {
    let end = start
        .checked_add(jiff::SignedDuration::from_mins(lifetime))
        .unwrap_or(Timestamp::MAX);
    if !s.enabled || !s.targeted {
        (false, "DisabledByPolicy")
    } else if now < start {
        (false, "NotYetValid")
    } else if now >= end {
        (false, "Expired")
    } else {
        (true, "EnabledByPolicy")
    }
}

/// A stored method as shown at its own path; a TAP with a start and a lifetime gets its usability computed now
/// (a seeded pass without them keeps the stored fields).
pub(super) fn shown(state: &EmulatorState, data: &Data, user: &User, m: &Method) -> Value {
    let mut v = method_json(m);
    if m.kind != tap().short {
        return v;
    }
    let start = m
        .properties
        .get("startDateTime")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok());
    let lifetime = m
        .properties
        .get("lifetimeInMinutes")
        .and_then(Value::as_i64);
    if let (Some(start), Some(lifetime)) = (start, lifetime) {
        let s = super::policy::tap_settings(data, user);
        let (usable, reason) = usability(&s, start, lifetime, state.now());
        v["isUsable"] = json!(usable);
        v["methodUsabilityReason"] = json!(reason);
    }
    v
}
