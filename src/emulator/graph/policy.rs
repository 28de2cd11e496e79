//! The authentication methods policy endpoints (`GET`/`PATCH /policies/authenticationMethodsPolicy`, `GET`/
//! `PATCH`/`DELETE …/authenticationMethodConfigurations/{id}`), and the policy as the other handlers read it: the
//! TAP configuration's settings for a user, and whether SMS sign-in follows the SMS configuration or the per-user
//! flag (only a tenant with a policy, seeded or written, derives it).

use serde_json::{Value, json};

use super::super::ids::iso;
use super::super::policy::{
    self, CONFIG_IDS, Refusal, canonical_id, default_config, default_policy, reaches,
};
use super::super::store::{Data, EmulatorState};
use super::super::tenant::User;
use super::{Fault, Req, Resp, body};

/// The tenant's policy: the stored one, or Graph's defaults.
fn effective(data: &Data) -> Value {
    data.tenant
        .authentication_methods_policy
        .clone()
        .unwrap_or_else(default_policy)
}

/// The TAP configuration's settings that the create and the usability depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TapSettings {
    pub enabled: bool,
    pub min: i64,
    pub max: i64,
    pub default_lifetime: i64,
    pub usable_once: bool,
    pub length: usize,
    /// Whether this user is in the configuration's targets.
    pub targeted: bool,
}

/// The TAP configuration's settings as they apply to `user`.
pub(crate) fn tap_settings(data: &Data, user: &User) -> TapSettings {
    let p = effective(data);
    let c = policy::config(&p, "TemporaryAccessPass")
        .cloned()
        .unwrap_or_else(|| default_config("TemporaryAccessPass"));
    let n = |k: &str, d: i64| c[k].as_i64().unwrap_or(d);
    TapSettings {
        enabled: c["state"] == "enabled",
        min: n("minimumLifetimeInMinutes", 60),
        max: n("maximumLifetimeInMinutes", 480),
        default_lifetime: n("defaultLifetimeInMinutes", 60),
        usable_once: c["isUsableOnce"] == json!(true),
        length: usize::try_from(n("defaultLength", 8)).unwrap_or(8),
        targeted: reaches(
            &data.tenant,
            &json!({"state": "enabled", "includeTargets": c["includeTargets"], "excludeTargets": c["excludeTargets"]}),
            user,
            |_| true,
        ),
    }
}

/// Whether a user may sign in with SMS, and where that comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SmsScope {
    /// In scope of SMS sign-in.
    pub in_scope: bool,
    /// Derived from the SMS configuration (the tenant has a policy), not the per-user flag.
    pub derived: bool,
}

/// Whether `user` may sign in with SMS: from the SMS configuration's targets (the user's groups, each target's
/// `isUsableForSignIn`, the excludes) when the tenant has a policy, else from the user's `smsSignInPolicy` flag.
pub(crate) fn sms_scope(data: &Data, user: &User) -> SmsScope {
    match &data.tenant.authentication_methods_policy {
        Some(p) => SmsScope {
            in_scope: policy::sms_sign_in_scope(&data.tenant, p, user),
            derived: true,
        },
        None => SmsScope {
            in_scope: user.sms_sign_in_policy,
            derived: false,
        },
    }
}

fn refused(r: Refusal) -> Fault {
    Fault::new(400, r.code, r.message)
}

fn config_context(req: &Req) -> String {
    format!(
        "{}/v1.0/$metadata#policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity",
        req.base
    )
}

fn index_of(id: &str) -> Result<(usize, &'static str), Fault> {
    let id_c = canonical_id(id).ok_or_else(|| {
        Fault::new(
            404,
            "itemNotFound",
            format!("The authentication method configuration '{id}' was not found."),
        )
    })?;
    let i = CONFIG_IDS.iter().position(|c| *c == id_c).unwrap_or(0);
    Ok((i, id_c))
}

/// `GET /policies/authenticationMethodsPolicy` (configurations expanded, as Graph always does).
pub(super) fn get_policy(req: &Req, data: &Data) -> Resp {
    let mut p = effective(data);
    p["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#policies/authenticationMethodsPolicy/$entity",
        req.base
    ));
    Resp::new(200, Some(p))
}

/// Stores the changed policy (journal first), stamping `lastModifiedDateTime`.
fn store(state: &EmulatorState, data: &mut Data, mut next: Value) -> Result<(), Fault> {
    next["lastModifiedDateTime"] = json!(iso(state.now()));
    let before = data.tenant.authentication_methods_policy.replace(next);
    state.commit_policy(data, before).map_err(|e| {
        Fault::new(
            500,
            "generalException",
            format!("The change could not be stored: {e}"),
        )
    })
}

/// `PATCH /policies/authenticationMethodsPolicy`: 200 with the policy.
pub(super) fn patch_policy(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
) -> Result<Resp, Fault> {
    let b = body::optional(req)?
        .ok_or_else(|| Fault::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    let next = policy::patch_root(&data.tenant, &effective(data), &b).map_err(refused)?;
    store(state, data, next)?;
    Ok(get_policy(req, data))
}

/// `GET …/authenticationMethodConfigurations` and `…/{id}`.
pub(super) fn get_config(req: &Req, data: &Data, id: Option<&str>) -> Result<Resp, Fault> {
    let p = effective(data);
    let Some(id) = id else {
        return Ok(Resp::new(
            200,
            Some(json!({
                "@odata.context": format!("{}/v1.0/$metadata#policies/authenticationMethodsPolicy/authenticationMethodConfigurations", req.base),
                "value": p["authenticationMethodConfigurations"],
            })),
        ));
    };
    let (i, _) = index_of(id)?;
    let mut c = p["authenticationMethodConfigurations"][i].clone();
    c["@odata.context"] = json!(config_context(req));
    Ok(Resp::new(200, Some(c)))
}

/// `PATCH …/authenticationMethodConfigurations/{id}`: 204 (the QR code + PIN configuration answers 200 with
/// itself, as documented).
pub(super) fn patch_config(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    id: &str,
) -> Result<Resp, Fault> {
    let (i, id_c) = index_of(id)?;
    let b = body::optional(req)?
        .ok_or_else(|| Fault::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    let mut p = effective(data);
    let current = p["authenticationMethodConfigurations"][i].clone();
    let next = policy::patch_config(&data.tenant, &current, &b, true).map_err(refused)?;
    p["authenticationMethodConfigurations"][i] = next;
    store(state, data, p)?;
    if id_c == "QRCodePin" {
        return get_config(req, data, Some(id_c));
    }
    Ok(Resp::new(204, None))
}

/// `DELETE …/authenticationMethodConfigurations/{id}`: 204; the configuration reverts to Graph's defaults.
pub(super) fn delete_config(
    state: &EmulatorState,
    data: &mut Data,
    id: &str,
) -> Result<Resp, Fault> {
    let (i, id_c) = index_of(id)?;
    let mut p = effective(data);
    p["authenticationMethodConfigurations"][i] = default_config(id_c);
    store(state, data, p)?;
    Ok(Resp::new(204, None))
}
