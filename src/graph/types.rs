//! The data the typed calls return: users, phone methods, password-reset acceptance, long-running operations.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::graph::error::GraphError;
use crate::graph::secret::Secret;
use crate::model::{
    MethodKind, ObservedMethod, ObservedPhone, PhoneType, Registration, RegistrationType,
    SmsSignInState,
};

/// A user as resolved from Graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// Object id.
    pub id: String,
    /// userPrincipalName.
    pub user_principal_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// True for users synced from on-premises AD (password reset needs `newPassword`).
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
}

/// A `phoneAuthenticationMethod` as Graph sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneMethod {
    /// The method id (fixed per type).
    pub id: String,
    /// The number as Graph sent it (maybe masked).
    #[serde(default)]
    pub phone_number: Option<String>,
    /// `mobile`, `alternateMobile`, `office`, or a type authctl does not know.
    #[serde(default)]
    pub phone_type: Option<String>,
    /// `smsSignInState`.
    #[serde(default)]
    pub sms_sign_in_state: Option<String>,
}

impl PhoneMethod {
    /// The observed phone, or the raw method when its type is unknown (kept verbatim, never deleted).
    pub fn to_observed(&self) -> Result<ObservedPhone, serde_json::Value> {
        let t = self
            .phone_type
            .as_deref()
            .and_then(PhoneType::parse)
            .or_else(|| PhoneType::from_method_id(&self.id).filter(|_| self.phone_type.is_none()));
        match t {
            Some(phone_type) => Ok(ObservedPhone {
                phone_type,
                phone_number: self.phone_number.clone().unwrap_or_default(),
                sms_sign_in_state: SmsSignInState::parse(
                    self.sms_sign_in_state.as_deref().unwrap_or("notSupported"),
                ),
            }),
            None => Err(serde_json::to_value(self).unwrap_or(serde_json::Value::Null)),
        }
    }
}

/// An `@odata.type` without its leading `#` and `microsoft.graph.` namespace (both optional).
fn without_namespace(odata_type: &str) -> &str {
    let short = odata_type.trim_start_matches('#');
    short.strip_prefix("microsoft.graph.").unwrap_or(short)
}

/// The kind named by an `@odata.type` (`#microsoft.graph.fido2AuthenticationMethod`; the leading `#` and the
/// namespace are optional, case is ignored). The one place Graph's type names are read.
pub fn method_kind_of_type(odata_type: &str) -> MethodKind {
    let short = without_namespace(odata_type).to_ascii_lowercase();
    let Some(name) = short.strip_suffix("authenticationmethod") else {
        return MethodKind::Unknown;
    };
    MethodKind::ALL
        .into_iter()
        .find(|k| k.graph_name().is_some_and(|g| g.eq_ignore_ascii_case(name)))
        .unwrap_or(MethodKind::Unknown)
}

/// The kind of one method object from `GET …/authentication/methods` (or a per-type list, whose objects leave
/// `@odata.type` out: the shape tells a phone or a password).
pub fn method_kind(raw: &serde_json::Value) -> MethodKind {
    match raw.get("@odata.type").and_then(serde_json::Value::as_str) {
        Some(t) if !t.is_empty() => method_kind_of_type(t),
        _ if raw.get("phoneType").is_some() || raw.get("phoneNumber").is_some() => {
            MethodKind::Phone
        }
        _ if raw.get("password").is_some() => MethodKind::Password,
        _ => MethodKind::Unknown,
    }
}

/// One method object as the lock-out preflight takes it: its kind, and a Temporary Access Pass's `isUsable`
/// (missing = not usable).
pub fn observed_method(raw: &serde_json::Value) -> ObservedMethod {
    let kind = method_kind(raw);
    let usable = kind != MethodKind::TemporaryAccessPass
        || raw
            .get("isUsable")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
    ObservedMethod { kind, usable }
}

/// A string property of a method object, bounded (Graph's answers are hostile input too).
fn text(raw: &serde_json::Value, key: &str) -> Option<String> {
    raw.get(key)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(MAX_TEXT).collect())
}

/// The longest property value kept from a method object (characters); longer values are cut.
const MAX_TEXT: usize = 512;

/// The short name in an `@odata.type` (`#microsoft.graph.fooAuthenticationMethod` → `foo`), as Graph spelled it.
fn short_type_name(odata_type: &str) -> Option<&str> {
    let name = without_namespace(odata_type).strip_suffix("AuthenticationMethod")?;
    (!name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric()))
        .then_some(name)
}

/// One object of a user's `authentication/methods` list as a [`Registration`] of a registered type: `None` for the
/// password, phones, email, and objects without an id or a readable `@odata.type`.
pub fn registration(raw: &serde_json::Value) -> Option<Registration> {
    let kind = method_kind(raw);
    if matches!(
        kind,
        MethodKind::Password | MethodKind::Phone | MethodKind::Email
    ) {
        return None;
    }
    let method_type = match RegistrationType::of(kind) {
        Some(t) => t,
        None => RegistrationType::new(short_type_name(raw.get("@odata.type")?.as_str()?)?),
    };
    let id = text(raw, "id")?;
    let detail = match kind {
        MethodKind::Fido2 => text(raw, "model"),
        MethodKind::MicrosoftAuthenticator | MethodKind::PasswordlessMicrosoftAuthenticator => {
            text(raw, "deviceTag")
        }
        MethodKind::PlatformCredential => text(raw, "platform"),
        MethodKind::TemporaryAccessPass => text(raw, "methodUsabilityReason"),
        _ => None,
    };
    Some(Registration {
        method_type,
        id,
        display_name: text(raw, "displayName"),
        detail,
        created: text(raw, "createdDateTime"),
        usable: observed_method(raw).usable,
    })
}

/// The `emailAddress` of an email method object (a per-type list leaves `@odata.type` out, so the property decides;
/// `None` for any other object).
pub fn email_address(raw: &serde_json::Value) -> Option<String> {
    text(raw, "emailAddress")
}

/// An `emailAuthenticationMethod`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailMethod {
    /// The method id (the same for every user).
    pub id: String,
    /// The address.
    #[serde(default)]
    pub email_address: Option<String>,
}

/// What to ask for when creating a Temporary Access Pass; a field left out takes the policy's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TapRequest {
    /// `startDateTime` (RFC 3339).
    pub start: Option<String>,
    /// `lifetimeInMinutes`.
    pub lifetime_minutes: Option<u32>,
    /// `isUsableOnce`.
    pub usable_once: Option<bool>,
}

/// A Temporary Access Pass Graph created. The pass itself is a [`Secret`]: `Debug` never shows it.
#[derive(Debug, Clone)]
pub struct TapCreated {
    /// The method id.
    pub id: String,
    /// The pass (only in the create answer).
    pub pass: Secret,
    /// `createdDateTime`.
    pub created: Option<String>,
    /// `startDateTime`.
    pub start: Option<String>,
    /// `lifetimeInMinutes`.
    pub lifetime_minutes: Option<u32>,
    /// `isUsableOnce`.
    pub usable_once: Option<bool>,
    /// `isUsable`.
    pub usable: Option<bool>,
    /// `methodUsabilityReason`.
    pub usability_reason: Option<String>,
}

impl TapCreated {
    /// Reads a create answer by hand (never through serde, whose errors quote values: the pass must not reach an
    /// error message).
    pub fn from_value(v: &serde_json::Value) -> Result<TapCreated, GraphError> {
        let pass = v
            .get("temporaryAccessPass")
            .and_then(serde_json::Value::as_str)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| GraphError::Decode {
                message: "the Temporary Access Pass create answer has no `temporaryAccessPass`"
                    .into(),
            })?;
        let id = text(v, "id").ok_or_else(|| GraphError::Decode {
            message: "the Temporary Access Pass create answer has no `id`".into(),
        })?;
        Ok(TapCreated {
            id,
            pass: Secret::new(pass),
            created: text(v, "createdDateTime"),
            start: text(v, "startDateTime"),
            lifetime_minutes: v
                .get("lifetimeInMinutes")
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
            usable_once: v.get("isUsableOnce").and_then(serde_json::Value::as_bool),
            usable: v.get("isUsable").and_then(serde_json::Value::as_bool),
            usability_reason: text(v, "methodUsabilityReason"),
        })
    }
}

/// One include or exclude target of a method configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTarget {
    /// A group's object id, or `all_users`.
    pub id: String,
    /// `group` or `user`.
    #[serde(default)]
    pub target_type: String,
}

/// The Temporary Access Pass configuration of the authentication methods policy, as `tap issue` checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapConfiguration {
    /// `state` is `enabled`.
    pub state_enabled: bool,
    /// `defaultLifetimeInMinutes`.
    pub default_lifetime_minutes: u32,
    /// `minimumLifetimeInMinutes`.
    pub minimum_lifetime_minutes: u32,
    /// `maximumLifetimeInMinutes`.
    pub maximum_lifetime_minutes: u32,
    /// `isUsableOnce`: every pass is one-time (a reusable pass is refused).
    pub usable_once_only: bool,
    /// `defaultLength`.
    pub default_length: u32,
    /// `includeTargets`.
    pub include_targets: Vec<PolicyTarget>,
    /// `excludeTargets`.
    pub exclude_targets: Vec<PolicyTarget>,
}

impl TapConfiguration {
    /// Reads the configuration object (`GET …/authenticationMethodConfigurations/TemporaryAccessPass`).
    pub fn from_value(v: &serde_json::Value) -> Result<TapConfiguration, GraphError> {
        let number = |key: &str| -> Result<u32, GraphError> {
            v.get(key)
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| GraphError::Decode {
                    message: format!("the TAP configuration has no whole-number `{key}`"),
                })
        };
        let targets = |key: &str| -> Result<Vec<PolicyTarget>, GraphError> {
            match v.get(key) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(t) => serde_json::from_value(t.clone()).map_err(|e| GraphError::Decode {
                    message: format!("the TAP configuration's `{key}`: {e}"),
                }),
            }
        };
        Ok(TapConfiguration {
            state_enabled: v.get("state").and_then(serde_json::Value::as_str) == Some("enabled"),
            default_lifetime_minutes: number("defaultLifetimeInMinutes")?,
            minimum_lifetime_minutes: number("minimumLifetimeInMinutes")?,
            maximum_lifetime_minutes: number("maximumLifetimeInMinutes")?,
            usable_once_only: v
                .get("isUsableOnce")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            default_length: number("defaultLength")?,
            include_targets: targets("includeTargets")?,
            exclude_targets: targets("excludeTargets")?,
        })
    }
}

/// A group as `GET /groups` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    /// Object id.
    pub id: String,
    /// `displayName`.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// Graph accepted a password reset.
#[derive(Debug, Clone)]
pub struct ResetAccepted {
    /// The operation to poll (`Location`), if Graph sent one.
    pub location: Option<Url>,
    /// `Retry-After`, if sent.
    pub retry_after: Option<Duration>,
    /// The generated password (when none was supplied).
    pub new_password: Option<Secret>,
}

/// A long-running operation (`GET …/authentication/operations/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Operation id.
    #[serde(default)]
    pub id: String,
    /// `notStarted`, `running`, `succeeded`, `failed`, or a future value.
    #[serde(default)]
    pub status: String,
    /// Free-text details, verbatim.
    #[serde(default)]
    pub status_detail: Option<String>,
    /// Start time (leniently kept as text).
    #[serde(default)]
    pub created_date_time: Option<String>,
    /// Last action time (text).
    #[serde(default)]
    pub last_action_date_time: Option<String>,
    /// The resource operated on.
    #[serde(default)]
    pub resource_location: Option<String>,
}

impl Operation {
    /// True for `succeeded` and `failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_phone_types_are_kept_verbatim() {
        let m: PhoneMethod = serde_json::from_str(
            r#"{"id":"x","phoneNumber":"+1 2065555555","phoneType":"unknownFutureValue","smsSignInState":"notSupported"}"#,
        )
        .unwrap();
        let raw = m.to_observed().unwrap_err();
        assert_eq!(raw["phoneType"], "unknownFutureValue");
        let m: PhoneMethod = serde_json::from_str(
            r#"{"id":"3179e48a-750b-4051-897c-87b9720928f7","phoneNumber":"+1 2065555555","phoneType":"mobile","smsSignInState":"ready"}"#,
        )
        .unwrap();
        let o = m.to_observed().unwrap();
        assert_eq!(
            (o.phone_type, o.sms_sign_in_state),
            (PhoneType::Mobile, SmsSignInState::Ready)
        );
    }

    #[test]
    fn every_method_kind_is_parsed_from_its_odata_type_and_back() {
        for k in MethodKind::ALL {
            let Some(name) = k.graph_name() else {
                assert_eq!(k, MethodKind::Unknown);
                continue;
            };
            let t = format!("#microsoft.graph.{name}AuthenticationMethod");
            assert_eq!(method_kind_of_type(&t), k, "{t}");
        }
        assert_eq!(
            method_kind_of_type("#microsoft.graph.somethingNew"),
            MethodKind::Unknown
        );
        assert_eq!(method_kind_of_type(""), MethodKind::Unknown);
    }

    #[test]
    fn the_lock_out_view_of_a_method_reads_isusable_only_for_a_tap() {
        let tap = |v: serde_json::Value| observed_method(&v);
        let t = "#microsoft.graph.temporaryAccessPassAuthenticationMethod";
        assert!(tap(serde_json::json!({"@odata.type": t, "isUsable": true})).usable);
        assert!(!tap(serde_json::json!({"@odata.type": t, "isUsable": false})).usable);
        assert!(
            !tap(serde_json::json!({"@odata.type": t})).usable,
            "missing = not usable"
        );
        let p = tap(
            serde_json::json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}),
        );
        assert_eq!(p, ObservedMethod::of(MethodKind::Password));
        // Per-type lists leave `@odata.type` out: the shape tells.
        assert_eq!(
            method_kind(&serde_json::json!({"id": "x", "phoneNumber": "+1 2065550100"})),
            MethodKind::Phone
        );
        assert_eq!(
            method_kind(&serde_json::json!({"id": "x"})),
            MethodKind::Unknown
        );
    }
}
