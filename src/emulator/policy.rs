//! The authentication methods policy as data: Graph's defaults for the root policy and every method
//! configuration, the validation of a configuration's PATCH (its `@odata.type`, only declared properties, enums,
//! ranges, targets naming existing groups or users) and of the root's (the registration campaign), how a PATCH is
//! merged (top-level properties replace, lists replace whole), and who a configuration reaches (the SMS
//! sign-in scope, the TAP targets). Pure: no HTTP, no locks; errors are Graph's 400 messages.

use serde_json::{Map, Value, json};

use super::tenant::{Tenant, User};

/// The special target id for every user.
pub const ALL_USERS: &str = "all_users";

/// Every configuration id, as Graph returns it, in the order the policy lists them.
pub const CONFIG_IDS: &[&str] = &[
    "Fido2",
    "MicrosoftAuthenticator",
    "Sms",
    "TemporaryAccessPass",
    "SoftwareOath",
    "Voice",
    "Email",
    "X509Certificate",
    "QRCodePin",
];

/// A refusal: the status (400) and Graph's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn bad(message: impl Into<String>) -> Refusal {
    Refusal {
        code: "badRequest",
        message: message.into(),
    }
}

fn odata_bad(message: impl Into<String>) -> Refusal {
    Refusal {
        code: "BadRequest",
        message: message.into(),
    }
}

/// The configuration id as returned for an id in any casing (`fido2`, `sms`, `qrCodePin`).
pub fn canonical_id(id: &str) -> Option<&'static str> {
    CONFIG_IDS
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(id))
}

/// The `@odata.type` a configuration's PATCH must carry.
pub fn odata_type(id: &str) -> String {
    let stem = match id {
        "Fido2" => "fido2",
        "MicrosoftAuthenticator" => "microsoftAuthenticator",
        "Sms" => "sms",
        "TemporaryAccessPass" => "temporaryAccessPass",
        "SoftwareOath" => "softwareOath",
        "Voice" => "voice",
        "Email" => "email",
        "X509Certificate" => "x509Certificate",
        _ => "qrCodePin",
    };
    format!("#microsoft.graph.{stem}AuthenticationMethodConfiguration")
}

fn all_users_target(extra: Value) -> Value {
    let mut t = json!({"targetType": "group", "id": ALL_USERS, "isRegistrationRequired": false});
    if let (Some(t), Value::Object(e)) = (t.as_object_mut(), extra) {
        t.extend(e);
    }
    t
}

/// Graph's defaults for one configuration (ASSUMPTIONS.md: which are enabled in a new tenant).
pub fn default_config(id: &str) -> Value {
    let (state, specific, target_extra) = match id {
        "Fido2" => (
            "disabled",
            json!({"isAttestationEnforced": false, "isSelfServiceRegistrationAllowed": true,
                   "keyRestrictions": {"isEnforced": false, "enforcementType": "block", "aaGuids": []}}),
            json!({}),
        ),
        "MicrosoftAuthenticator" => {
            let feature = json!({"state": "default",
                "includeTarget": {"targetType": "group", "id": ALL_USERS},
                "excludeTarget": {"targetType": "group", "id": "00000000-0000-0000-0000-000000000000"}});
            (
                "enabled",
                json!({"featureSettings": {"displayAppInformationRequiredState": feature,
                                           "displayLocationInformationRequiredState": feature}}),
                json!({"authenticationMode": "any"}),
            )
        }
        "Sms" => ("disabled", json!({}), json!({"isUsableForSignIn": true})),
        "TemporaryAccessPass" => (
            "disabled",
            json!({"defaultLifetimeInMinutes": 60, "defaultLength": 8, "minimumLifetimeInMinutes": 60,
                   "maximumLifetimeInMinutes": 480, "isUsableOnce": false}),
            json!({}),
        ),
        "Voice" => (
            "disabled",
            json!({"isOfficePhoneAllowed": false}),
            json!({}),
        ),
        "Email" => (
            "enabled",
            json!({"allowExternalIdToUseEmailOtp": "default"}),
            json!({}),
        ),
        "X509Certificate" => (
            "disabled",
            json!({"certificateUserBindings": [
                    {"x509CertificateField": "PrincipalName", "userProperty": "onPremisesUserPrincipalName", "priority": 1},
                    {"x509CertificateField": "RFC822Name", "userProperty": "userPrincipalName", "priority": 2}],
                   "authenticationModeConfiguration": {"x509CertificateAuthenticationDefaultMode": "x509CertificateSingleFactor", "rules": []}}),
            json!({}),
        ),
        "QRCodePin" => (
            "disabled",
            json!({"pinLength": 8, "standardQRCodeLifetimeInDays": 365}),
            json!({}),
        ),
        _ => ("disabled", json!({}), json!({})),
    };
    let mut c = json!({
        "@odata.type": odata_type(id),
        "id": id,
        "state": state,
        "excludeTargets": [],
        "includeTargets": [all_users_target(target_extra)],
    });
    if let (Some(c), Value::Object(s)) = (c.as_object_mut(), specific) {
        c.extend(s);
    }
    c
}

/// The default registration campaign.
fn default_registration() -> Value {
    json!({"authenticationMethodsRegistrationCampaign": {
        "snoozeDurationInDays": 1, "state": "default", "excludeTargets": [],
        "includeTargets": [{"id": ALL_USERS, "targetType": "group", "targetedAuthenticationMethod": "microsoftAuthenticator"}]}})
}

/// Graph's default policy.
pub fn default_policy() -> Value {
    json!({
        "id": "authenticationMethodsPolicy",
        "displayName": "Authentication Methods Policy",
        "description": "The tenant-wide policy that controls which authentication methods are allowed in the tenant, authentication method registration requirements, and self-service password reset settings",
        "lastModifiedDateTime": null,
        "policyVersion": "1.5",
        "policyMigrationState": "migrationComplete",
        "registrationEnforcement": default_registration(),
        "authenticationMethodConfigurations": CONFIG_IDS.iter().map(|id| default_config(id)).collect::<Vec<_>>(),
    })
}

/// The properties a configuration declares besides the base ones (`id`, `state`, `includeTargets`,
/// `excludeTargets`).
fn specific_properties(id: &str) -> &'static [&'static str] {
    match id {
        "Fido2" => &[
            "isAttestationEnforced",
            "isSelfServiceRegistrationAllowed",
            "keyRestrictions",
        ],
        "MicrosoftAuthenticator" => &["featureSettings"],
        "TemporaryAccessPass" => &[
            "defaultLifetimeInMinutes",
            "defaultLength",
            "minimumLifetimeInMinutes",
            "maximumLifetimeInMinutes",
            "isUsableOnce",
        ],
        "Voice" => &["isOfficePhoneAllowed"],
        "Email" => &["allowExternalIdToUseEmailOtp"],
        "X509Certificate" => &["certificateUserBindings", "authenticationModeConfiguration"],
        "QRCodePin" => &["pinLength", "standardQRCodeLifetimeInDays"],
        _ => &[],
    }
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn one_of(value: &Value, name: &str, allowed: &[&str]) -> Result<(), Refusal> {
    match value.as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(bad(format!(
            "Invalid value for '{name}': {value}. Allowed values: {}.",
            allowed.join(", ")
        ))),
    }
}

fn boolean(value: &Value, name: &str) -> Result<(), Refusal> {
    if value.is_boolean() {
        Ok(())
    } else {
        Err(bad(format!("'{name}' must be true or false.")))
    }
}

fn int_in(value: &Value, name: &str, min: i64, max: i64) -> Result<i64, Refusal> {
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(format!(
            "Invalid value for '{name}': {value}. It must be a whole number from {min} to {max}."
        ))),
    }
}

fn only(obj: &Map<String, Value>, allowed: &[&str], type_name: &str) -> Result<(), Refusal> {
    match obj
        .keys()
        .find(|k| !k.contains('@') && !allowed.contains(&k.as_str()))
    {
        Some(k) => Err(odata_bad(format!(
            "The property '{k}' does not exist on type 'microsoft.graph.{type_name}'. Make sure to only use property names that are defined by the type or mark the type as open type."
        ))),
        None => Ok(()),
    }
}

/// Checks a target list: objects with the declared fields, `targetType` user or group, an id that is
/// `all_users` (includes only) or an existing group or user of that type.
fn check_targets(
    tenant: &Tenant,
    value: &Value,
    name: &str,
    include: bool,
    fields: &[&str],
) -> Result<(), Refusal> {
    let Some(items) = value.as_array() else {
        return Err(bad(format!("'{name}' must be a list of targets.")));
    };
    let mut seen = std::collections::HashSet::new();
    for t in items {
        let Some(o) = t.as_object() else {
            return Err(bad(format!("Each of '{name}' must be an object.")));
        };
        let mut allowed = vec!["id", "targetType"];
        allowed.extend_from_slice(fields);
        let type_name = if include {
            "authenticationMethodTarget"
        } else {
            "excludeTarget"
        };
        only(o, &allowed, type_name)?;
        let id = o.get("id").and_then(Value::as_str).unwrap_or_default();
        let kind = o
            .get("targetType")
            .and_then(Value::as_str)
            .unwrap_or("group");
        one_of(&json!(kind), "targetType", &["user", "group"])?;
        for flag in ["isRegistrationRequired", "isUsableForSignIn"] {
            if let Some(v) = o.get(flag) {
                boolean(v, flag)?;
            }
        }
        if let Some(v) = o.get("authenticationMode") {
            one_of(v, "authenticationMode", &["any", "deviceBasedPush", "push"])?;
        }
        if let Some(v) = o.get("targetedAuthenticationMethod") {
            one_of(
                v,
                "targetedAuthenticationMethod",
                &["none", "microsoftAuthenticator"],
            )?;
        }
        let exists = match kind {
            "group" if id == ALL_USERS => include,
            "group" => tenant.groups.iter().any(|g| g.id.eq_ignore_ascii_case(id)),
            _ => tenant.users.iter().any(|u| u.id.eq_ignore_ascii_case(id)),
        };
        if !exists {
            return Err(bad(format!(
                "Invalid target in '{name}': no {kind} with id '{id}' exists in the tenant."
            )));
        }
        if !seen.insert(id.to_ascii_lowercase()) {
            return Err(bad(format!("The target '{id}' appears twice in '{name}'.")));
        }
    }
    Ok(())
}

/// Checks one configuration after the merge (ranges that depend on each other, enums, types).
fn check_config(tenant: &Tenant, id: &str, c: &Map<String, Value>) -> Result<(), Refusal> {
    let target_fields: &[&str] = match id {
        "Sms" => &["isRegistrationRequired", "isUsableForSignIn"],
        "MicrosoftAuthenticator" => &["isRegistrationRequired", "authenticationMode"],
        _ => &["isRegistrationRequired"],
    };
    if let Some(v) = c.get("state") {
        one_of(v, "state", &["enabled", "disabled"])?;
    }
    if let Some(v) = c.get("includeTargets") {
        check_targets(tenant, v, "includeTargets", true, target_fields)?;
    }
    if let Some(v) = c.get("excludeTargets") {
        check_targets(tenant, v, "excludeTargets", false, &[])?;
    }
    let get = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    match id {
        "TemporaryAccessPass" => {
            let min = int_in(
                &get("minimumLifetimeInMinutes"),
                "minimumLifetimeInMinutes",
                10,
                43200,
            )?;
            let max = int_in(
                &get("maximumLifetimeInMinutes"),
                "maximumLifetimeInMinutes",
                10,
                43200,
            )?;
            let def = int_in(
                &get("defaultLifetimeInMinutes"),
                "defaultLifetimeInMinutes",
                10,
                43200,
            )?;
            int_in(&get("defaultLength"), "defaultLength", 8, 48)?;
            boolean(&get("isUsableOnce"), "isUsableOnce")?;
            if !(min <= def && def <= max) {
                return Err(bad(format!(
                    "The lifetimes must satisfy minimumLifetimeInMinutes ({min}) <= defaultLifetimeInMinutes ({def}) <= maximumLifetimeInMinutes ({max})."
                )));
            }
        }
        "QRCodePin" => {
            int_in(&get("pinLength"), "pinLength", 8, 20)?;
            int_in(
                &get("standardQRCodeLifetimeInDays"),
                "standardQRCodeLifetimeInDays",
                1,
                395,
            )?;
        }
        "Voice" => boolean(&get("isOfficePhoneAllowed"), "isOfficePhoneAllowed")?,
        "Email" => one_of(
            &get("allowExternalIdToUseEmailOtp"),
            "allowExternalIdToUseEmailOtp",
            &["default", "enabled", "disabled"],
        )?,
        "Fido2" => {
            boolean(&get("isAttestationEnforced"), "isAttestationEnforced")?;
            boolean(
                &get("isSelfServiceRegistrationAllowed"),
                "isSelfServiceRegistrationAllowed",
            )?;
            let kr = get("keyRestrictions");
            let Some(kr) = kr.as_object() else {
                return Err(bad("'keyRestrictions' must be an object."));
            };
            only(
                kr,
                &["isEnforced", "enforcementType", "aaGuids"],
                "fido2KeyRestrictions",
            )?;
            boolean(kr.get("isEnforced").unwrap_or(&Value::Null), "isEnforced")?;
            one_of(
                kr.get("enforcementType").unwrap_or(&Value::Null),
                "enforcementType",
                &["allow", "block"],
            )?;
            let guids = kr.get("aaGuids").and_then(Value::as_array);
            let Some(guids) = guids else {
                return Err(bad("'aaGuids' must be a list of AAGUIDs."));
            };
            if let Some(g) = guids.iter().find(|g| !g.as_str().is_some_and(is_guid)) {
                return Err(bad(format!(
                    "Invalid AAGUID {g}: an AAGUID is a GUID (8-4-4-4-12 hexadecimal digits)."
                )));
            }
        }
        "MicrosoftAuthenticator" => {
            let fs = get("featureSettings");
            let Some(fs) = fs.as_object() else {
                return Err(bad("'featureSettings' must be an object."));
            };
            let names = [
                "displayAppInformationRequiredState",
                "displayLocationInformationRequiredState",
            ];
            only(fs, &names, "microsoftAuthenticatorFeatureSettings")?;
            for f in fs.values() {
                let Some(f) = f.as_object() else {
                    return Err(bad("Each feature setting must be an object."));
                };
                only(
                    f,
                    &["state", "includeTarget", "excludeTarget"],
                    "authenticationMethodFeatureConfiguration",
                )?;
                one_of(
                    f.get("state").unwrap_or(&Value::Null),
                    "state",
                    &["default", "enabled", "disabled"],
                )?;
                // A featureTarget is `{id, targetType}` (ASSUMPTIONS.md: the emulator refuses any other shape).
                for which in ["includeTarget", "excludeTarget"] {
                    let Some(t) = f.get(which) else {
                        continue;
                    };
                    let Some(t) = t.as_object() else {
                        return Err(bad(format!("'{which}' must be a featureTarget object.")));
                    };
                    only(t, &["id", "targetType"], "featureTarget")?;
                    if t.get("id")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        return Err(bad(format!("'{which}.id' must be a non-empty string.")));
                    }
                    one_of(
                        t.get("targetType").unwrap_or(&Value::Null),
                        "targetType",
                        &["group", "administrativeUnit", "role"],
                    )?;
                }
            }
        }
        "X509Certificate" => {
            let Some(bindings) = get("certificateUserBindings").as_array().cloned() else {
                return Err(bad("'certificateUserBindings' must be a list."));
            };
            // Bindings and rules: every field present and typed, priorities unique (ASSUMPTIONS.md).
            let mut priorities = Vec::new();
            for b in &bindings {
                let Some(b) = b.as_object() else {
                    return Err(bad("Each certificate user binding must be an object."));
                };
                only(
                    b,
                    &[
                        "x509CertificateField",
                        "userProperty",
                        "priority",
                        "trustAffinityLevel",
                    ],
                    "x509CertificateUserBinding",
                )?;
                for f in ["x509CertificateField", "userProperty"] {
                    if b.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                        return Err(bad(format!("'{f}' must be a non-empty string.")));
                    }
                }
                let Some(p) = b.get("priority").and_then(Value::as_i64) else {
                    return Err(bad("'priority' must be an integer."));
                };
                if priorities.contains(&p) {
                    return Err(bad(format!(
                        "Duplicate certificate user binding priority {p}."
                    )));
                }
                priorities.push(p);
            }
            let amc = get("authenticationModeConfiguration");
            let Some(amc) = amc.as_object() else {
                return Err(bad("'authenticationModeConfiguration' must be an object."));
            };
            if let Some(rules) = amc.get("rules") {
                let Some(rules) = rules.as_array() else {
                    return Err(bad("'rules' must be a list."));
                };
                for r in rules {
                    let Some(r) = r.as_object() else {
                        return Err(bad("Each rule must be an object."));
                    };
                    only(
                        r,
                        &[
                            "x509CertificateRuleType",
                            "identifier",
                            "x509CertificateAuthenticationMode",
                        ],
                        "x509CertificateRule",
                    )?;
                    one_of(
                        r.get("x509CertificateRuleType").unwrap_or(&Value::Null),
                        "x509CertificateRuleType",
                        &["issuerSubject", "policyOID"],
                    )?;
                    if r.get("identifier")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        return Err(bad("'identifier' must be a non-empty string."));
                    }
                    one_of(
                        r.get("x509CertificateAuthenticationMode")
                            .unwrap_or(&Value::Null),
                        "x509CertificateAuthenticationMode",
                        &["x509CertificateSingleFactor", "x509CertificateMultiFactor"],
                    )?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Applies a PATCH body to configuration `current` (`require_type`: Graph requires the `@odata.type`; a seed in
/// the tenant file may omit it). Top-level properties replace their value whole, target lists included
/// (ASSUMPTIONS.md); properties left out keep theirs.
pub fn patch_config(
    tenant: &Tenant,
    current: &Value,
    body: &Map<String, Value>,
    require_type: bool,
) -> Result<Value, Refusal> {
    let id = current["id"].as_str().unwrap_or_default().to_string();
    let want = odata_type(&id);
    match body.get("@odata.type").and_then(Value::as_str) {
        None if require_type => {
            return Err(odata_bad(format!(
                "The request body must name the configuration's type: \"@odata.type\": \"{want}\"."
            )));
        }
        Some(t) if t.trim_start_matches('#') != want.trim_start_matches('#') => {
            return Err(odata_bad(format!(
                "A type named '{t}' could not be resolved by the model for this configuration; expected '{want}'."
            )));
        }
        _ => {}
    }
    let mut allowed = vec!["id", "state", "includeTargets", "excludeTargets"];
    allowed.extend_from_slice(specific_properties(&id));
    only(body, &allowed, want.trim_start_matches("#microsoft.graph."))?;
    if let Some(v) = body.get("id")
        && !v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&id))
    {
        return Err(bad("The id of a configuration can't be changed."));
    }
    let mut next = current.as_object().cloned().unwrap_or_default();
    for (k, v) in body {
        if k.contains('@') || k == "id" {
            continue;
        }
        next.insert(k.clone(), v.clone());
    }
    check_config(tenant, &id, &next)?;
    Ok(Value::Object(next))
}

/// Applies a PATCH body to the root policy: only `registrationEnforcement` (the registration campaign) and
/// `policyMigrationState` are writable.
pub fn patch_root(
    tenant: &Tenant,
    current: &Value,
    body: &Map<String, Value>,
) -> Result<Value, Refusal> {
    only(
        body,
        &["registrationEnforcement", "policyMigrationState"],
        "authenticationMethodsPolicy",
    )?;
    let mut next = current.clone();
    if let Some(v) = body.get("policyMigrationState") {
        one_of(
            v,
            "policyMigrationState",
            &["preMigration", "migrationInProgress", "migrationComplete"],
        )?;
        next["policyMigrationState"] = v.clone();
    }
    if let Some(re) = body.get("registrationEnforcement") {
        let Some(re) = re.as_object() else {
            return Err(bad("'registrationEnforcement' must be an object."));
        };
        only(
            re,
            &["authenticationMethodsRegistrationCampaign"],
            "registrationEnforcement",
        )?;
        if let Some(c) = re.get("authenticationMethodsRegistrationCampaign") {
            let Some(c) = c.as_object() else {
                return Err(bad(
                    "'authenticationMethodsRegistrationCampaign' must be an object.",
                ));
            };
            only(
                c,
                &[
                    "state",
                    "snoozeDurationInDays",
                    "includeTargets",
                    "excludeTargets",
                ],
                "authenticationMethodsRegistrationCampaign",
            )?;
            let mut cur =
                next["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
            for (k, v) in c {
                cur.insert(k.clone(), v.clone());
            }
            one_of(
                cur.get("state").unwrap_or(&Value::Null),
                "state",
                &["default", "enabled", "disabled"],
            )?;
            int_in(
                cur.get("snoozeDurationInDays").unwrap_or(&Value::Null),
                "snoozeDurationInDays",
                0,
                14,
            )?;
            check_targets(
                tenant,
                cur.get("includeTargets").unwrap_or(&json!([])),
                "includeTargets",
                true,
                &["targetedAuthenticationMethod"],
            )?;
            check_targets(
                tenant,
                cur.get("excludeTargets").unwrap_or(&json!([])),
                "excludeTargets",
                false,
                &[],
            )?;
            next["registrationEnforcement"]["authenticationMethodsRegistrationCampaign"] =
                Value::Object(cur);
        }
    }
    Ok(next)
}

/// A seeded policy (the tenant file's `authenticationMethodsPolicy`, Graph's JSON shape, any subset) laid over
/// Graph's defaults and checked as PATCHes are (without requiring `@odata.type`).
pub fn from_seed(tenant: &Tenant, seed: &Value) -> Result<Value, String> {
    let Some(seed) = seed.as_object() else {
        return Err("authenticationMethodsPolicy must be a mapping".into());
    };
    let mut policy = default_policy();
    for (k, v) in seed {
        match k.as_str() {
            "authenticationMethodConfigurations" => {
                let Some(items) = v.as_array() else {
                    return Err("authenticationMethodConfigurations must be a list".into());
                };
                for item in items {
                    let Some(o) = item.as_object() else {
                        return Err("each configuration must be a mapping".into());
                    };
                    let raw = o.get("id").and_then(Value::as_str).unwrap_or_default();
                    let id = canonical_id(raw).ok_or_else(|| {
                        format!(
                            "unknown configuration id `{raw}` (known: {})",
                            CONFIG_IDS.join(", ")
                        )
                    })?;
                    let i = CONFIG_IDS.iter().position(|c| *c == id).unwrap_or(0);
                    let configs = &mut policy["authenticationMethodConfigurations"];
                    let next = patch_config(tenant, &configs[i], o, false)
                        .map_err(|e| format!("configuration `{id}`: {}", e.message))?;
                    configs[i] = next;
                }
            }
            "registrationEnforcement" | "policyMigrationState" => {
                let body: Map<String, Value> = [(k.clone(), v.clone())].into_iter().collect();
                policy = patch_root(tenant, &policy, &body).map_err(|e| e.message)?;
            }
            "lastModifiedDateTime" | "id" | "displayName" | "description" | "policyVersion" => {
                policy[k] = v.clone();
            }
            other => return Err(format!("unknown policy property `{other}`")),
        }
    }
    Ok(policy)
}

/// A configuration of a policy by id (any casing).
pub fn config<'a>(policy: &'a Value, id: &str) -> Option<&'a Value> {
    policy["authenticationMethodConfigurations"]
        .as_array()?
        .iter()
        .find(|c| c["id"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(id)))
}

/// Whether a target names this user: `all_users`, the user's id, or a group the user is in (transitively).
fn target_matches(tenant: &Tenant, user: &User, t: &Value) -> bool {
    let id = t["id"].as_str().unwrap_or_default();
    match t["targetType"].as_str().unwrap_or("group") {
        "user" => user.id.eq_ignore_ascii_case(id),
        _ => id == ALL_USERS || tenant.in_group(user, id),
    }
}

/// Whether configuration `c` reaches `user`: enabled, in an include target (`include` decides which count), and
/// in no exclude target.
pub fn reaches(tenant: &Tenant, c: &Value, user: &User, include: impl Fn(&Value) -> bool) -> bool {
    c["state"] == "enabled"
        && c["includeTargets"].as_array().is_some_and(|ts| {
            ts.iter()
                .any(|t| include(t) && target_matches(tenant, user, t))
        })
        && !c["excludeTargets"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| target_matches(tenant, user, t)))
}

/// Whether the SMS configuration lets `user` sign in with SMS: enabled, an include target with
/// `isUsableForSignIn` naming the user, no exclude target naming them.
pub fn sms_sign_in_scope(tenant: &Tenant, policy: &Value, user: &User) -> bool {
    config(policy, "Sms")
        .is_some_and(|c| reaches(tenant, c, user, |t| t["isUsableForSignIn"] == json!(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        Tenant::from_yaml(
            "tenantId: t\ngroups:\n  - { id: 11111111-1111-4111-8111-111111111111, displayName: Pilot, members: [u1] }\nusers:\n  - id: u1\n    userPrincipalName: a@b.c\n  - id: u2\n    userPrincipalName: d@b.c\n",
        )
        .unwrap()
    }

    #[test]
    fn patch_merges_top_level_replaces_lists_and_checks_ranges() {
        let t = tenant();
        let tap = default_config("TemporaryAccessPass");
        let body = |v: Value| v.as_object().cloned().unwrap();
        let ty = odata_type("TemporaryAccessPass");
        let next = patch_config(
            &t,
            &tap,
            &body(json!({"@odata.type": ty, "maximumLifetimeInMinutes": 600})),
            true,
        )
        .unwrap();
        assert_eq!(next["maximumLifetimeInMinutes"], 600);
        assert_eq!(next["minimumLifetimeInMinutes"], 60);
        for bad in [
            json!({"minimumLifetimeInMinutes": 5}),
            json!({"defaultLifetimeInMinutes": 500}),
            json!({"defaultLength": 49}),
            json!({"state": "on"}),
            json!({"includeTargets": [{"id": "nope", "targetType": "group"}]}),
            json!({"excludeTargets": [{"id": "all_users", "targetType": "group"}]}),
        ] {
            let mut b = body(bad.clone());
            b.insert("@odata.type".into(), json!(ty));
            assert_eq!(
                patch_config(&t, &tap, &b, true).unwrap_err().code,
                "badRequest",
                "{bad}"
            );
        }
        let e = patch_config(&t, &tap, &body(json!({"state": "enabled"})), true).unwrap_err();
        assert_eq!(e.code, "BadRequest");
        let e = patch_config(
            &t,
            &tap,
            &body(json!({"@odata.type": ty, "pinLength": 8})),
            true,
        )
        .unwrap_err();
        assert!(e.message.contains("'pinLength' does not exist"), "{e:?}");
    }

    #[test]
    fn sms_scope_follows_groups_targets_and_excludes() {
        let t = tenant();
        let mut p = default_policy();
        let i = CONFIG_IDS.iter().position(|c| *c == "Sms").unwrap();
        p["authenticationMethodConfigurations"][i] = json!({"id": "Sms", "state": "enabled",
            "includeTargets": [{"id": "11111111-1111-4111-8111-111111111111", "targetType": "group", "isUsableForSignIn": true}],
            "excludeTargets": []});
        assert!(sms_sign_in_scope(&t, &p, &t.users[0]));
        assert!(!sms_sign_in_scope(&t, &p, &t.users[1]));
        p["authenticationMethodConfigurations"][i]["includeTargets"][0]["isUsableForSignIn"] =
            json!(false);
        assert!(!sms_sign_in_scope(&t, &p, &t.users[0]));
        p["authenticationMethodConfigurations"][i]["includeTargets"] =
            json!([{"id": "all_users", "targetType": "group", "isUsableForSignIn": true}]);
        assert!(sms_sign_in_scope(&t, &p, &t.users[1]));
        p["authenticationMethodConfigurations"][i]["excludeTargets"] =
            json!([{"id": "u2", "targetType": "user"}]);
        assert!(!sms_sign_in_scope(&t, &p, &t.users[1]));
        p["authenticationMethodConfigurations"][i]["state"] = json!("disabled");
        assert!(!sms_sign_in_scope(&t, &p, &t.users[0]));
    }

    #[test]
    fn a_seeded_policy_survives_the_state_files_round_trip() {
        let yaml = "tenantId: t\ngroups:\n  - { id: 11111111-1111-4111-8111-111111111111, displayName: Pilot }\nauthenticationMethodsPolicy:\n  authenticationMethodConfigurations:\n    - { id: sms, state: enabled, includeTargets: [{ id: 11111111-1111-4111-8111-111111111111, targetType: group, isUsableForSignIn: true }] }\nusers: []\n";
        let t = Tenant::from_yaml(yaml).unwrap();
        let again = Tenant::from_yaml(&t.to_yaml().unwrap()).unwrap();
        assert_eq!(again, t);
        let p = t.authentication_methods_policy.as_ref().unwrap();
        assert_eq!(config(p, "Sms").unwrap()["state"], "enabled");
        assert_eq!(config(p, "Fido2").unwrap(), &default_config("Fido2"));
    }

    #[test]
    fn ids_match_in_any_casing() {
        assert_eq!(canonical_id("fido2"), Some("Fido2"));
        assert_eq!(canonical_id("qrCodePin"), Some("QRCodePin"));
        assert_eq!(canonical_id("nope"), None);
        assert!(is_guid("cb69481e-8ff7-4039-93ec-0a2729a154a8"));
        assert!(!is_guid("cb69481e8ff7403993ec0a2729a154a8"));
    }
}
