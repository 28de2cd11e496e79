//! The manifest as serde reads and writes it, and the types schemars turns into `schemas/manifest.schema.json`.
//!
//! These types are the single description of the format: serde derives read them (and `import` can write them),
//! schemars derives the draft-07 schema from them, and the validator in [`super::validate`] accepts exactly what
//! they accept (a test holds the three to agreement on every example and invalid fixture). The validator walks the
//! YAML itself, rather than calling serde, so that one run reports every problem with its field path instead of
//! serde's first error.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Mode, SmsSignIn};
use crate::phone::PhoneNumber;

/// The only `apiVersion` this build reads.
pub const API_VERSION: &str = "authctl/v1";
/// The only `kind` this build reads.
pub const KIND: &str = "PhoneMethods";

/// One YAML document of a manifest file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "authctl manifest",
    description = "Declares Microsoft Entra ID users' phone authentication methods (authctl/v1, kind PhoneMethods)."
)]
pub struct ManifestDocument {
    /// Always `authctl/v1`.
    pub api_version: ApiVersion,
    /// Always `PhoneMethods`.
    pub kind: Kind,
    /// Optional Kubernetes-style metadata, so kustomize and Argo CD repositories can hold manifests unchanged.
    /// authctl checks its shape and never acts on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// What the users' phone methods should be.
    pub spec: Spec,
}

/// `metadata`: a name, labels and annotations as Kubernetes tools write them (and the `namespace` kustomize sets).
/// Never interpreted: plans, applies and drift are the same with or without it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// A name for the document (e.g. for Argo CD's resource view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Set by kustomize's `namespace:`; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels (`key: value` strings), e.g. from kustomize's `labels:`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Annotations (`key: value` strings), e.g. Argo CD's sync options.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// `apiVersion: authctl/v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// Version 1 of the manifest format.
    #[serde(rename = "authctl/v1")]
    V1,
}

/// `kind: PhoneMethods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    /// A list of users and their phone methods.
    PhoneMethods,
}

/// `spec`: the document's mode and its users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Required. `exact`: phone types a user does not declare are removed. `merge`: only declared types are
    /// touched. There is no default, so that deletion is always asked for visibly.
    pub mode: Mode,
    /// The users this document manages.
    pub users: Vec<UserEntry>,
}

/// One user's desired phone methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserEntry {
    /// The user's userPrincipalName (e.g. `AdeleV@contoso.com`) or object id (a GUID).
    #[serde(deserialize_with = "user_ref")]
    #[schemars(length(min = 1), pattern(r"^(\S+@\S+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"))]
    pub user: String,
    /// Overrides `spec.mode` for this user.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "Mode")]
    pub mode: Option<Mode>,
    /// The phone methods, by type. In exact mode, types left out are removed; write `absent` to say so explicitly.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "Phones")]
    pub phones: Option<Phones>,
    /// SMS sign-in on the mobile: `enabled` or `disabled`. Left out: not managed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "SmsSignIn")]
    pub sms_sign_in: Option<SmsSignIn>,
}

/// A user's phones by type. Each is a number with its `+` country code, or `absent` (removed, in either mode).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Phones {
    /// The mobile phone (SMS and voice; the only type SMS sign-in can use). No extension.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "without_extension"
    )]
    #[schemars(with = "MobileSetting")]
    pub mobile: Option<PhoneSetting>,
    /// A second mobile (voice only); needs a `mobile`. No extension.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "without_extension"
    )]
    #[schemars(with = "MobileSetting")]
    pub alternate_mobile: Option<PhoneSetting>,
    /// The office phone (voice only); may carry an extension (`x123`, `ext. 123`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "with_extension"
    )]
    #[schemars(with = "OfficeSetting")]
    pub office: Option<PhoneSetting>,
}

/// What one phone type should be: a number, or `absent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PhoneSetting {
    /// This number.
    Number(PhoneNumber),
    /// No phone of this type.
    Absent,
}

impl PhoneSetting {
    /// Reads `absent` or a number as a manifest may write it (warnings are the validator's business).
    pub fn parse(s: &str) -> Result<PhoneSetting, crate::phone::PhoneError> {
        if s == "absent" {
            return Ok(PhoneSetting::Absent);
        }
        PhoneNumber::parse(s).map(|p| PhoneSetting::Number(p.number))
    }
}

impl Serialize for PhoneSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PhoneSetting::Number(n) => s.collect_str(n),
            PhoneSetting::Absent => s.serialize_str("absent"),
        }
    }
}

impl<'de> Deserialize<'de> for PhoneSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PhoneSetting::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `true` for an object id (a GUID, any case).
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A userPrincipalName is `name@domain` without spaces (guests look like `name_domain#EXT#@tenant`).
pub fn looks_like_upn(s: &str) -> bool {
    !s.chars().any(char::is_whitespace)
        && s.char_indices()
            .any(|(i, c)| c == '@' && i > 0 && i + 1 < s.len())
}

/// An optional field that, when written, must hold a value: `mode: null` is a mistake, not "no override" (the
/// schema says the same by not allowing `null`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A userPrincipalName (`name@domain`) or an object id (a GUID), as the validator and the schema's pattern accept.
fn user_ref<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if is_guid(&s) || looks_like_upn(&s) {
        Ok(s)
    } else {
        Err(serde::de::Error::custom(format!(
            "`{s}` is neither a userPrincipalName (name@domain) nor an object id (a GUID)"
        )))
    }
}

/// `null` is not "nothing": a phone type is either left out, a number, or `absent`.
fn phone_field<'de, D: Deserializer<'de>>(
    d: D,
    extension_allowed: bool,
) -> Result<Option<PhoneSetting>, D::Error> {
    let setting = PhoneSetting::deserialize(d)?;
    if let PhoneSetting::Number(n) = &setting
        && !extension_allowed
        && n.extension().is_some()
    {
        return Err(serde::de::Error::custom(format!(
            "`{n}`: only an office phone may carry an extension"
        )));
    }
    Ok(Some(setting))
}

fn without_extension<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PhoneSetting>, D::Error> {
    phone_field(d, false)
}

fn with_extension<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PhoneSetting>, D::Error> {
    phone_field(d, true)
}

/// The shape of a number as the schema can check it: `+`, a digit, then digits and the separators people write.
/// Lengths and country rules are beyond a regular expression; `authctl validate` checks them.
const NUMBER_PATTERN: &str = r"\+[0-9][0-9 ()./-]*[0-9]";
/// An extension as the parser reads it: `x123`, `ext123`, `ext. 123`, `extension 123` (any case).
const EXTENSION_PATTERN: &str =
    r"( ?([xX]|[eE][xX][tT]\.?|[eE][xX][tT][eE][nN][sS][iI][oO][nN]) ?[0-9]{1,10})?";

/// Schema of `mobile` and `alternateMobile`.
struct MobileSetting;
/// Schema of `office`.
struct OfficeSetting;

fn setting_schema(extension: bool) -> schemars::Schema {
    let pattern = if extension {
        format!("^(absent|{NUMBER_PATTERN}{EXTENSION_PATTERN})$")
    } else {
        format!("^(absent|{NUMBER_PATTERN})$")
    };
    let description = if extension {
        "A phone number with a leading `+` and country code, e.g. \"+1 2065555555\" or \"+1 4255550100 x123\" \
         (quote it), or `absent` to remove the phone."
    } else {
        "A phone number with a leading `+` and country code, e.g. \"+1 2065555555\" (quote it; no extension), \
         or `absent` to remove the phone."
    };
    schemars::json_schema!({
        "type": "string",
        "pattern": pattern,
        "description": description,
    })
}

impl JsonSchema for MobileSetting {
    fn schema_name() -> Cow<'static, str> {
        "MobileSetting".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        setting_schema(false)
    }
}

impl JsonSchema for OfficeSetting {
    fn schema_name() -> Cow<'static, str> {
        "OfficeSetting".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        setting_schema(true)
    }
}

/// The draft-07 JSON Schema of a manifest document, as `authctl schema manifest` prints it and
/// `schemas/manifest.schema.json` holds it.
pub fn manifest_schema() -> schemars::Schema {
    super::policy_schema::with_policy_kind(crate::json_schema::schema_for::<ManifestDocument>(
        "manifest.schema.json",
    ))
}

/// [`manifest_schema`] as pretty JSON with a trailing newline (the committed file's exact bytes).
pub fn manifest_schema_json() -> String {
    let mut s = serde_json::to_string_pretty(&manifest_schema())
        .expect("a schema is always serialisable to JSON");
    s.push('\n');
    s
}
