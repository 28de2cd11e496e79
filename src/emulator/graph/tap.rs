//! Temporary Access Passes: the create (one pass per user, a new one replaces the old; lifetime within the TAP
//! policy's minimum and maximum; one-time when the policy forbids reusable passes; the pass itself only in this
//! answer) and how a stored pass is shown (its usability computed from its start, lifetime and the policy).

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::super::ids::{iso, new_guid};
use super::super::kinds::tap;
use super::super::store::{Data, EmulatorState};
use super::super::tenant::Method;
use super::shown::{method_json, usability};
use super::{Fault, Req, Resp, body, commit};

const TAP_TYPE: &str = "microsoft.graph.temporaryAccessPassAuthenticationMethod";
const TAP_PROPERTIES: &[&str] = &["id", "startDateTime", "lifetimeInMinutes", "isUsableOnce"];

/// A random pass of `length` characters from Graph's observed alphabet (letters, digits and a few symbols).
fn generate(length: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789+-=@#%";
    let mut r = rand::rng();
    (0..length)
        .map(|_| ALPHABET[r.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// `POST …/temporaryAccessPassMethods`: 201 with the pass (shown only here); an existing pass is replaced.
pub(super) fn create(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
) -> Result<Resp, Fault> {
    let body = body::optional(req)?.unwrap_or_default();
    let body = if body.is_empty() {
        body
    } else {
        body::entity(req, TAP_TYPE, TAP_PROPERTIES)?
    };
    let s = super::policy::tap_settings(data, &data.tenant.users[index]);
    let now = state.now();
    let lifetime = match field(&body, "lifetimeInMinutes") {
        None => s.default_lifetime,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| Fault::bad_request("lifetimeInMinutes must be a whole number."))?,
    };
    if lifetime < s.min || lifetime > s.max {
        return Err(Fault::bad_request(format!(
            "Invalid LifetimeInMinutes specified. The valid range between {} and {}.",
            s.min, s.max
        )));
    }
    let once = match field(&body, "isUsableOnce") {
        None => s.usable_once,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Fault::bad_request("isUsableOnce must be a boolean.")),
    };
    if s.usable_once && !once {
        return Err(Fault::bad_request(
            "Invalid IsUsableOnce specified. The Temporary Access Pass policy allows only one-time passes.",
        ));
    }
    let start = match field(&body, "startDateTime") {
        None => now,
        Some(v) => v
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .ok_or_else(|| {
                Fault::bad_request(
                    "startDateTime must be a date and time with its offset (ISO 8601).",
                )
            })?,
    };
    let pass = generate(s.length);
    let id = new_guid();
    let (usable, reason) = usability(&s, start, lifetime, now);
    let mut properties = std::collections::BTreeMap::new();
    properties.insert("createdDateTime".to_string(), json!(iso(now)));
    properties.insert("startDateTime".to_string(), json!(iso(start)));
    properties.insert("lifetimeInMinutes".to_string(), json!(lifetime));
    properties.insert("isUsableOnce".to_string(), json!(once));
    properties.insert("isUsable".to_string(), json!(usable));
    properties.insert("methodUsabilityReason".to_string(), json!(reason));
    let m = Method {
        kind: tap().short.into(),
        id: id.clone(),
        properties,
    };
    let before = data.tenant.users[index].clone();
    let user = &mut data.tenant.users[index];
    // One pass per user: a new one replaces the current one, valid or expired.
    user.methods.retain(|m| m.kind != tap().short);
    user.methods.push(m.clone());
    commit(state, data, index, before)?;
    let user = &data.tenant.users[index];
    let mut v = method_json(&m);
    v["temporaryAccessPass"] = json!(pass);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/v1.0/$metadata#users('{}')/authentication/temporaryAccessPassMethods/$entity",
            req.base, user.id
        )),
    );
    out.insert("@odata.type".into(), json!(tap().odata_type()));
    if let Value::Object(o) = v {
        out.extend(o);
    }
    Ok(Resp::new(201, Some(Value::Object(out))).header(
        "Location",
        format!(
            "{}/v1.0/users/{}/authentication/temporaryAccessPassMethods/{id}",
            req.base, user.id
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::policy::TapSettings;
    use super::*;

    #[test]
    fn usability_follows_start_lifetime_and_policy() {
        let s = TapSettings {
            enabled: true,
            min: 60,
            max: 480,
            default_lifetime: 60,
            usable_once: false,
            length: 8,
            targeted: true,
        };
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-01-01T00:30:00Z".parse().unwrap();
        let much_later: Timestamp = "2026-01-01T02:00:00Z".parse().unwrap();
        assert_eq!(usability(&s, t, 60, later), (true, "EnabledByPolicy"));
        assert_eq!(usability(&s, later, 60, t), (false, "NotYetValid"));
        assert_eq!(usability(&s, t, 60, much_later), (false, "Expired"));
        let off = TapSettings {
            enabled: false,
            ..s
        };
        assert_eq!(usability(&off, t, 60, later), (false, "DisabledByPolicy"));
        assert_eq!(generate(12).len(), 12);
    }
}
