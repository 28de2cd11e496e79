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

pub use super::header::{ApiVersion, Metadata};

/// The only `apiVersion` this build reads.
pub const API_VERSION: &str = "authctl/v1";
/// The `kind` of a manifest of phone methods (and SMS sign-in) only.
pub const KIND: &str = "PhoneMethods";
/// The `kind` of a manifest of every authentication method: what [`KIND`] accepts, plus `email` and `registered`.
pub const AUTHENTICATION_METHODS_KIND: &str = "AuthenticationMethods";
/// Every `kind` this build reads.
pub const KINDS: [&str; 2] = [KIND, AUTHENTICATION_METHODS_KIND];

/// One YAML document of a manifest file. A `PhoneMethods` document may not hold `email` or `registered` (serde
/// refuses it through [`ManifestDocument::check_kind`], the schema through an `if`/`then` on `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "authctl manifest",
    description = "Declares Microsoft Entra ID users' authentication methods (authctl/v1): kind PhoneMethods \
                   (phones and SMS sign-in) or kind AuthenticationMethods (also the password-reset email and the \
                   methods users register themselves).",
    transform = phone_methods_have_no_other_methods
)]
pub struct ManifestDocument {
    /// Always `authctl/v1`.
    pub api_version: ApiVersion,
    /// `PhoneMethods` or `AuthenticationMethods`.
    pub kind: Kind,
    /// Optional Kubernetes-style metadata, so kustomize and Argo CD repositories can hold manifests unchanged.
    /// authctl checks its shape and never acts on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// What the users' authentication methods should be.
    pub spec: Spec,
}

/// The document's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    /// A list of users and their phone methods (and SMS sign-in).
    PhoneMethods,
    /// A list of users and every authentication method a manifest manages: what `PhoneMethods` declares, plus the
    /// password-reset `email` and the `registered` method types.
    AuthenticationMethods,
}

impl Kind {
    /// The kind as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PhoneMethods => KIND,
            Kind::AuthenticationMethods => AUTHENTICATION_METHODS_KIND,
        }
    }
}

/// [`ManifestDocument`] as serde reads it before the rule between `kind` and the users' fields is checked.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawDocument {
    api_version: ApiVersion,
    kind: Kind,
    #[serde(default)]
    metadata: Option<Metadata>,
    spec: Spec,
}

impl<'de> Deserialize<'de> for ManifestDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawDocument::deserialize(d)?;
        let doc = ManifestDocument {
            api_version: raw.api_version,
            kind: raw.kind,
            metadata: raw.metadata,
            spec: raw.spec,
        };
        doc.check_kind().map_err(serde::de::Error::custom)?;
        Ok(doc)
    }
}

impl ManifestDocument {
    /// A `PhoneMethods` document declares no `email` and no `registered` (the error says which user and field).
    pub fn check_kind(&self) -> Result<(), String> {
        if self.kind == Kind::AuthenticationMethods {
            return Ok(());
        }
        for (i, u) in self.spec.users.iter().enumerate() {
            for (field, set) in [
                ("email", u.email.is_some()),
                ("registered", u.registered.is_some()),
            ] {
                if set {
                    return Err(format!(
                        "spec.users[{i}].{field}: `{field}` is not part of kind {KIND}; use kind \
                         {AUTHENTICATION_METHODS_KIND}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The schema's form of [`ManifestDocument::check_kind`]: when `kind` is `PhoneMethods`, a user entry has no
/// `email` and no `registered`.
fn phone_methods_have_no_other_methods(schema: &mut schemars::Schema) {
    schema.insert(
        "if".into(),
        serde_json::json!({ "properties": { "kind": { "const": KIND } }, "required": ["kind"] }),
    );
    schema.insert(
        "then".into(),
        serde_json::json!({
            "properties": { "spec": { "properties": { "users": { "items": {
                "properties": { "email": false, "registered": false }
            } } } } }
        }),
    );
}

/// `spec`: the document's mode and its users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Required. `exact`: phone types a user does not declare are removed (and, in an `AuthenticationMethods`
    /// document, an undeclared `email`). `merge`: only declared types are touched. Registered types are touched
    /// only when declared, in either mode. There is no default, so that deletion is always asked for visibly.
    pub mode: Mode,
    /// The users this document manages.
    pub users: Vec<UserEntry>,
}

/// One user's desired authentication methods (`email` and `registered` only in kind `AuthenticationMethods`).
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
    /// `AuthenticationMethods` only. The password-reset (SSPR) email: a bare `name@domain` (IDN domains accepted),
    /// or `absent`. Follows the mode like a phone type: left out is `absent` in exact mode, unmanaged in merge mode.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "EmailSetting")]
    pub email: Option<EmailSetting>,
    /// `AuthenticationMethods` only. Method types the user registers themselves, by Graph's short name: `absent`
    /// (remove every registration of the type) or the ids to keep (every other registration of the type is
    /// removed). A type left out is never touched, in either mode.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[schemars(with = "Registered")]
    pub registered: Option<Registered>,
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

/// What the password-reset email should be: an address, or `absent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EmailSetting {
    /// This address (as written; it passed [`super::email::check`]).
    Address(String),
    /// No email method.
    Absent,
}

impl EmailSetting {
    /// Reads `absent` or an address.
    pub fn parse(s: &str) -> Result<EmailSetting, super::email::EmailProblem> {
        if s == "absent" {
            return Ok(EmailSetting::Absent);
        }
        super::email::check(s).map(|()| EmailSetting::Address(s.to_string()))
    }
}

impl Serialize for EmailSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EmailSetting::Address(a) => s.serialize_str(a),
            EmailSetting::Absent => s.serialize_str("absent"),
        }
    }
}

impl<'de> Deserialize<'de> for EmailSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailSetting::parse(&s).map_err(|e| serde::de::Error::custom(format!("`email`: {e}")))
    }
}

impl JsonSchema for EmailSetting {
    fn schema_name() -> Cow<'static, str> {
        "EmailSetting".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "maxLength": super::email::MAX_EMAIL_CHARS,
            "pattern": EMAIL_PATTERN,
            "description": "The password-reset email: a bare address `name@domain` (no display name, no whitespace; \
                            IDN domains accepted), or `absent` to remove the email method.",
        })
    }
}

/// The shape of an address as a regular expression can check it; `authctl validate` checks the rest (the local
/// part's characters and dots, the domain's labels and IDNA).
const EMAIL_PATTERN: &str = r#"^(absent|[^\s@<>"]{1,64}@[^\s@<>"]+\.[^\s@<>"]+)$"#;

/// A user's `registered` method types, by Graph's short name (see [`super::registered`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registered(
    pub std::collections::BTreeMap<crate::model::RegistrationType, RegisteredSetting>,
);

/// What one registered type should be: `absent`, or the ids to keep.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisteredSetting {
    /// Remove every registration of the type.
    Absent,
    /// Keep these registrations (at least one, each once); remove every other of the type.
    Keep(Vec<String>),
}

impl Serialize for RegisteredSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RegisteredSetting::Absent => s.serialize_str("absent"),
            RegisteredSetting::Keep(ids) => ids.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for RegisteredSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Ids(Vec<String>),
        }
        match Raw::deserialize(d).map_err(|_| {
            D::Error::custom(
                "a registered type takes `absent` or a list of registration ids to keep",
            )
        })? {
            Raw::Word(w) if w == "absent" => Ok(RegisteredSetting::Absent),
            Raw::Word(w) => Err(D::Error::custom(format!(
                "`{}` is neither `absent` nor a list of registration ids",
                crate::escape::visible_capped(&w, 60)
            ))),
            Raw::Ids(ids) => {
                if ids.is_empty() {
                    return Err(D::Error::custom(
                        "an empty keep-list; write `absent` to remove every registration of the type",
                    ));
                }
                let mut seen = std::collections::BTreeSet::new();
                for id in &ids {
                    super::registered::check_id(id).map_err(D::Error::custom)?;
                    if !seen.insert(super::registered::id_key(id)) {
                        return Err(D::Error::custom(format!(
                            "the registration id `{id}` is listed twice"
                        )));
                    }
                }
                Ok(RegisteredSetting::Keep(ids))
            }
        }
    }
}

impl Serialize for Registered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Registered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use super::registered::{TypeName, classify};
        use serde::de::Error as _;
        let raw = std::collections::BTreeMap::<String, RegisteredSetting>::deserialize(d)?;
        let mut out = std::collections::BTreeMap::new();
        for (name, setting) in raw {
            let t = match classify(&name) {
                TypeName::Managed(t) | TypeName::Unlisted(t) => t,
                TypeName::Misspelt(s) => {
                    return Err(D::Error::custom(format!(
                        "`{name}` is not a registered method type: did you mean `{s}`?"
                    )));
                }
                TypeName::Elsewhere(Some(field)) => {
                    return Err(D::Error::custom(format!(
                        "`{name}` is declared under `{field}`, not under `registered`"
                    )));
                }
                TypeName::Elsewhere(None) => {
                    return Err(D::Error::custom(format!(
                        "`{name}` cannot be removed by an admin, so it is not a registered type"
                    )));
                }
                TypeName::Invalid => {
                    return Err(D::Error::custom(format!(
                        "`{}` is not a method type name (camelCase letters and digits)",
                        crate::escape::visible_capped(&name, 60)
                    )));
                }
            };
            out.insert(t, setting);
        }
        Ok(Registered(out))
    }
}

/// Schema of one registered type's value.
struct RegisteredSettingSchema;

impl JsonSchema for RegisteredSettingSchema {
    fn schema_name() -> Cow<'static, str> {
        "RegisteredSetting".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`absent` (remove every registration of the type), or the registration ids to keep \
                            (every other registration of the type is removed). A keep-list has at least one id \
                            (to remove them all, write `absent`), each once.",
            "oneOf": [
                { "type": "string", "const": "absent" },
                {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": true,
                    "items": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": super::registered::MAX_ID_CHARS,
                        "pattern": ID_PATTERN,
                        "description": "A registration id as Graph lists it (`authctl methods USER` shows them).",
                    },
                },
            ],
        })
    }
}

/// A registration id: no whitespace or control characters.
const ID_PATTERN: &str = r"^[^\s\x00-\x1F\x7F]+$";

impl JsonSchema for Registered {
    fn schema_name() -> Cow<'static, str> {
        "Registered".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let setting = generator.subschema_for::<RegisteredSettingSchema>();
        let mut properties = serde_json::Map::new();
        for k in crate::model::RegistrationType::KNOWN {
            if let Some(name) = k.graph_name() {
                let mut s = setting.clone().to_value();
                if let serde_json::Value::Object(m) = &mut s {
                    m.insert("description".into(), serde_json::json!(k.label()));
                }
                properties.insert(name.into(), s);
            }
        }
        schemars::json_schema!({
            "type": "object",
            "description": "Method types the user registers themselves and an admin can only remove, by Graph's \
                            short name. Another camelCase name is accepted (with a warning from `authctl validate`) \
                            for a type Graph adds later. A type left out is never touched.",
            "properties": properties,
            "propertyNames": {
                "pattern": super::registered::TYPE_NAME_PATTERN,
                "not": { "enum": ["phone", "phones", "email", "password", "mobile", "alternateMobile", "office"] },
            },
            "additionalProperties": setting,
        })
    }
}

pub use super::names::is_guid;

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
