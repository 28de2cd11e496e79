//! The `AuthenticationMethodsPolicy` kind: the tenant's authentication methods policy as a manifest. This file holds
//! the table of methods and their settings (readable manifest names ↔ Graph properties, units, ranges) and the
//! desired policy the validator produces ([`DesiredPolicy`]); the walk itself is `validate/policy.rs`, the diff
//! against Graph `plan/methods_policy.rs`. Pure: no I/O.

use serde_json::Value;

use crate::model::SourceLocation;

/// The kind's name in `kind:`.
pub const POLICY_KIND: &str = "AuthenticationMethodsPolicy";

/// Graph's target id for every user.
pub const ALL_USERS: &str = "all_users";

/// The target id Graph uses for "nobody" in a Microsoft Authenticator feature's `excludeTarget` (the all-zero GUID).
pub const NOBODY: &str = "00000000-0000-0000-0000-000000000000";

/// How a setting's value is written in the manifest and sent to Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// `true`/`false`.
    Bool,
    /// One of the manifest words, each sent as its Graph word.
    Enum(&'static [(&'static str, &'static str)]),
    /// A duration (`1h`, `90m`, `1d`) sent as whole minutes, within these minutes.
    Minutes(i64, i64),
    /// A duration in whole days (`1d`, `365d`) sent as days, within these days.
    Days(i64, i64),
    /// A whole number within these bounds.
    Int(i64, i64),
    /// A list of AAGUIDs (GUIDs), compared as a set.
    Aaguids,
    /// One `featureTarget` (`{id, targetType}`) of a Microsoft Authenticator feature: written like a method's
    /// target (`group:` or `allUsers: true`, and `nobody: true`), resolved when planning, compared by id and type.
    /// `include`: the feature's `includeTarget` (all users allowed); else its `excludeTarget`.
    FeatureTarget {
        /// Whether it is the include target.
        include: bool,
    },
    /// A list of records (X.509 user bindings, authentication mode rules), compared as a set (of whole records; a
    /// record's `key` field is unique within the list).
    Records(&'static RecordSpec),
}

/// The records of a [`SettingKind::Records`] setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpec {
    /// What one record is, in words (`a user binding`).
    pub what: &'static str,
    /// Its fields, every one required.
    pub fields: &'static [RecordField],
    /// The manifest key of the field that is unique within the list, when one is.
    pub unique: Option<&'static str>,
}

/// One field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordField {
    /// The manifest key.
    pub key: &'static str,
    /// The Graph property.
    pub graph: &'static str,
    /// Its kind: `Enum`, `Int` or `Text` (any non-empty string).
    pub kind: RecordFieldKind,
}

/// A record field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFieldKind {
    /// One of the manifest words, each sent as its Graph word.
    Enum(&'static [(&'static str, &'static str)]),
    /// A whole number within these bounds.
    Int(i64, i64),
    /// A non-empty string, sent as written.
    Text,
}

/// X.509 `certificateUserBindings`: which certificate field matches which user property, by priority.
pub const USER_BINDINGS: RecordSpec = RecordSpec {
    what: "a user binding",
    fields: &[
        RecordField {
            key: "certificateField",
            graph: "x509CertificateField",
            kind: RecordFieldKind::Enum(&[
                ("PrincipalName", "PrincipalName"),
                ("RFC822Name", "RFC822Name"),
                ("SubjectKeyIdentifier", "SubjectKeyIdentifier"),
                ("SHA1PublicKey", "SHA1PublicKey"),
                ("IssuerAndSubject", "IssuerAndSubject"),
                ("Subject", "Subject"),
                ("IssuerAndSerialNumber", "IssuerAndSerialNumber"),
            ]),
        },
        RecordField {
            key: "userProperty",
            graph: "userProperty",
            kind: RecordFieldKind::Enum(&[
                ("userPrincipalName", "userPrincipalName"),
                ("onPremisesUserPrincipalName", "onPremisesUserPrincipalName"),
                ("certificateUserIds", "certificateUserIds"),
            ]),
        },
        RecordField {
            key: "priority",
            graph: "priority",
            kind: RecordFieldKind::Int(0, 2_147_483_647),
        },
    ],
    unique: Some("priority"),
};

const X509_MODES: &[(&str, &str)] = &[
    ("singleFactor", "x509CertificateSingleFactor"),
    ("multiFactor", "x509CertificateMultiFactor"),
];

/// X.509 `authenticationModeConfiguration.rules`: the authentication strength per issuer or policy OID.
pub const MODE_RULES: RecordSpec = RecordSpec {
    what: "a rule",
    fields: &[
        RecordField {
            key: "type",
            graph: "x509CertificateRuleType",
            kind: RecordFieldKind::Enum(&[
                ("issuerSubject", "issuerSubject"),
                ("policyOID", "policyOID"),
            ]),
        },
        RecordField {
            key: "identifier",
            graph: "identifier",
            kind: RecordFieldKind::Text,
        },
        RecordField {
            key: "mode",
            graph: "x509CertificateAuthenticationMode",
            kind: RecordFieldKind::Enum(X509_MODES),
        },
    ],
    unique: None,
};

impl RecordSpec {
    /// A Graph record as the manifest writes it (unknown enum words kept as Graph's; other fields dropped).
    pub fn show(&self, v: &Value) -> Value {
        let mut m = serde_json::Map::new();
        for f in self.fields {
            let g = v.get(f.graph).cloned().unwrap_or(Value::Null);
            let shown = match (f.kind, &g) {
                (RecordFieldKind::Enum(words), Value::String(s)) => words
                    .iter()
                    .find(|(_, w)| w == s)
                    .map_or(g.clone(), |(k, _)| Value::String((*k).to_string())),
                _ => g,
            };
            m.insert(f.key.to_string(), shown);
        }
        Value::Object(m)
    }

    /// A Graph record reduced to the fields managed (for comparing).
    pub fn project(&self, v: &Value) -> Value {
        let mut m = serde_json::Map::new();
        for f in self.fields {
            m.insert(
                f.graph.to_string(),
                v.get(f.graph).cloned().unwrap_or(Value::Null),
            );
        }
        Value::Object(m)
    }
}

/// One setting of a method: its manifest name, the Graph property path it sets, its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingSpec {
    /// The manifest key, e.g. `defaultLifetime`.
    pub key: &'static str,
    /// The Graph property path, e.g. `["defaultLifetimeInMinutes"]` or `["keyRestrictions", "aaGuids"]`.
    pub path: &'static [&'static str],
    /// What values it takes.
    pub kind: SettingKind,
}

/// A per-target flag of a method's include targets (SMS `usableForSignIn`, Authenticator `authenticationMode`, the
/// registration campaign's `targetedMethod`). Every include target carries it: left out, it takes `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetFlag {
    /// The manifest key.
    pub key: &'static str,
    /// The Graph property of the target.
    pub graph: &'static str,
    /// Its kind (`Bool` or `Enum`).
    pub kind: SettingKind,
    /// The Graph value when the manifest leaves it out.
    pub default: FlagDefault,
}

/// A target flag's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagDefault {
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(&'static str),
}

impl FlagDefault {
    /// As a Graph value.
    pub fn value(self) -> Value {
        match self {
            FlagDefault::Bool(b) => Value::Bool(b),
            FlagDefault::Str(s) => Value::String(s.to_string()),
        }
    }
}

/// One method of the policy as the manifest names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSpec {
    /// The key under `spec`, e.g. `temporaryAccessPass`.
    pub key: &'static str,
    /// The configuration's id as Graph returns it (`None`: the registration campaign, which lives in the policy
    /// root's `registrationEnforcement`).
    pub config_id: Option<&'static str>,
    /// What people call it.
    pub label: &'static str,
    /// The states it takes (`enabled`/`disabled`; the campaign also `default`).
    pub states: &'static [&'static str],
    /// Its own settings.
    pub settings: &'static [SettingSpec],
    /// Flags of its include targets.
    pub target_flags: &'static [TargetFlag],
}

impl MethodSpec {
    /// The `@odata.type` a PATCH of this configuration carries.
    pub fn odata_type(&self) -> Option<String> {
        let stem = match self.config_id? {
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
        Some(format!(
            "#microsoft.graph.{stem}AuthenticationMethodConfiguration"
        ))
    }

    /// A setting by manifest key.
    pub fn setting(&self, key: &str) -> Option<&'static SettingSpec> {
        self.settings.iter().find(|s| s.key == key)
    }
}

const STATES: &[&str] = &["enabled", "disabled"];
const TRISTATE: &[(&str, &str)] = &[
    ("default", "default"),
    ("enabled", "enabled"),
    ("disabled", "disabled"),
];

/// Every method the kind manages, in the order plans show them.
pub const METHODS: &[MethodSpec] = &[
    MethodSpec {
        key: "sms",
        config_id: Some("Sms"),
        label: "SMS",
        states: STATES,
        settings: &[],
        target_flags: &[TargetFlag {
            key: "usableForSignIn",
            graph: "isUsableForSignIn",
            kind: SettingKind::Bool,
            default: FlagDefault::Bool(true),
        }],
    },
    MethodSpec {
        key: "voice",
        config_id: Some("Voice"),
        label: "Voice call",
        states: STATES,
        settings: &[SettingSpec {
            key: "officePhoneAllowed",
            path: &["isOfficePhoneAllowed"],
            kind: SettingKind::Bool,
        }],
        target_flags: &[],
    },
    MethodSpec {
        key: "email",
        config_id: Some("Email"),
        label: "Email OTP",
        states: STATES,
        settings: &[SettingSpec {
            key: "externalIdOtp",
            path: &["allowExternalIdToUseEmailOtp"],
            kind: SettingKind::Enum(TRISTATE),
        }],
        target_flags: &[],
    },
    MethodSpec {
        key: "fido2",
        config_id: Some("Fido2"),
        label: "FIDO2 security key (passkey)",
        states: STATES,
        settings: &[
            SettingSpec {
                key: "attestationEnforced",
                path: &["isAttestationEnforced"],
                kind: SettingKind::Bool,
            },
            SettingSpec {
                key: "selfServiceRegistration",
                path: &["isSelfServiceRegistrationAllowed"],
                kind: SettingKind::Bool,
            },
            SettingSpec {
                key: "keyRestrictionsEnforced",
                path: &["keyRestrictions", "isEnforced"],
                kind: SettingKind::Bool,
            },
            SettingSpec {
                key: "keyRestrictionType",
                path: &["keyRestrictions", "enforcementType"],
                kind: SettingKind::Enum(&[("allow", "allow"), ("block", "block")]),
            },
            SettingSpec {
                key: "aaguids",
                path: &["keyRestrictions", "aaGuids"],
                kind: SettingKind::Aaguids,
            },
        ],
        target_flags: &[],
    },
    MethodSpec {
        key: "microsoftAuthenticator",
        config_id: Some("MicrosoftAuthenticator"),
        label: "Microsoft Authenticator",
        states: STATES,
        settings: &[
            SettingSpec {
                key: "showAppName",
                path: &[
                    "featureSettings",
                    "displayAppInformationRequiredState",
                    "state",
                ],
                kind: SettingKind::Enum(TRISTATE),
            },
            SettingSpec {
                key: "showAppNameInclude",
                path: &[
                    "featureSettings",
                    "displayAppInformationRequiredState",
                    "includeTarget",
                ],
                kind: SettingKind::FeatureTarget { include: true },
            },
            SettingSpec {
                key: "showAppNameExclude",
                path: &[
                    "featureSettings",
                    "displayAppInformationRequiredState",
                    "excludeTarget",
                ],
                kind: SettingKind::FeatureTarget { include: false },
            },
            SettingSpec {
                key: "showLocation",
                path: &[
                    "featureSettings",
                    "displayLocationInformationRequiredState",
                    "state",
                ],
                kind: SettingKind::Enum(TRISTATE),
            },
            SettingSpec {
                key: "showLocationInclude",
                path: &[
                    "featureSettings",
                    "displayLocationInformationRequiredState",
                    "includeTarget",
                ],
                kind: SettingKind::FeatureTarget { include: true },
            },
            SettingSpec {
                key: "showLocationExclude",
                path: &[
                    "featureSettings",
                    "displayLocationInformationRequiredState",
                    "excludeTarget",
                ],
                kind: SettingKind::FeatureTarget { include: false },
            },
        ],
        target_flags: &[TargetFlag {
            key: "authenticationMode",
            graph: "authenticationMode",
            kind: SettingKind::Enum(&[
                ("any", "any"),
                ("push", "push"),
                ("deviceBasedPush", "deviceBasedPush"),
            ]),
            default: FlagDefault::Str("any"),
        }],
    },
    MethodSpec {
        key: "temporaryAccessPass",
        config_id: Some("TemporaryAccessPass"),
        label: "Temporary Access Pass",
        states: STATES,
        settings: &[
            SettingSpec {
                key: "defaultLifetime",
                path: &["defaultLifetimeInMinutes"],
                kind: SettingKind::Minutes(10, 43200),
            },
            SettingSpec {
                key: "minimumLifetime",
                path: &["minimumLifetimeInMinutes"],
                kind: SettingKind::Minutes(10, 43200),
            },
            SettingSpec {
                key: "maximumLifetime",
                path: &["maximumLifetimeInMinutes"],
                kind: SettingKind::Minutes(10, 43200),
            },
            SettingSpec {
                key: "length",
                path: &["defaultLength"],
                kind: SettingKind::Int(8, 48),
            },
            SettingSpec {
                key: "usableOnce",
                path: &["isUsableOnce"],
                kind: SettingKind::Bool,
            },
        ],
        target_flags: &[],
    },
    MethodSpec {
        key: "softwareOath",
        config_id: Some("SoftwareOath"),
        label: "Software OATH token",
        states: STATES,
        settings: &[],
        target_flags: &[],
    },
    MethodSpec {
        key: "x509Certificate",
        config_id: Some("X509Certificate"),
        label: "Certificate-based authentication (X.509)",
        states: STATES,
        settings: &[
            SettingSpec {
                key: "defaultMode",
                path: &[
                    "authenticationModeConfiguration",
                    "x509CertificateAuthenticationDefaultMode",
                ],
                kind: SettingKind::Enum(X509_MODES),
            },
            SettingSpec {
                key: "rules",
                path: &["authenticationModeConfiguration", "rules"],
                kind: SettingKind::Records(&MODE_RULES),
            },
            SettingSpec {
                key: "userBindings",
                path: &["certificateUserBindings"],
                kind: SettingKind::Records(&USER_BINDINGS),
            },
        ],
        target_flags: &[],
    },
    MethodSpec {
        key: "qrCodePin",
        config_id: Some("QRCodePin"),
        label: "QR code + PIN",
        states: STATES,
        settings: &[
            SettingSpec {
                key: "pinLength",
                path: &["pinLength"],
                kind: SettingKind::Int(8, 20),
            },
            SettingSpec {
                key: "codeLifetime",
                path: &["standardQRCodeLifetimeInDays"],
                kind: SettingKind::Days(1, 395),
            },
        ],
        target_flags: &[],
    },
    MethodSpec {
        key: "registrationCampaign",
        config_id: None,
        label: "Registration campaign (nudge)",
        states: &["default", "enabled", "disabled"],
        settings: &[SettingSpec {
            key: "snoozeDuration",
            path: &["snoozeDurationInDays"],
            kind: SettingKind::Days(0, 14),
        }],
        target_flags: &[TargetFlag {
            key: "targetedMethod",
            graph: "targetedAuthenticationMethod",
            kind: SettingKind::Enum(&[("microsoftAuthenticator", "microsoftAuthenticator")]),
            default: FlagDefault::Str("microsoftAuthenticator"),
        }],
    },
];

/// A method by its manifest key.
pub fn method(key: &str) -> Option<&'static MethodSpec> {
    METHODS.iter().find(|m| m.key == key)
}

/// A target's group: every user, a group's object id, or a display name (resolved when planning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// `allUsers: true` (Graph's `all_users`).
    AllUsers,
    /// `group:` holding a GUID.
    Id(String),
    /// `group:` holding a display name.
    Name(String),
    /// `nobody: true` (a Microsoft Authenticator feature's target only; Graph's all-zero GUID).
    Nobody,
}

impl std::fmt::Display for GroupRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupRef::AllUsers => f.write_str("all users"),
            GroupRef::Nobody => f.write_str("nobody"),
            GroupRef::Id(id) => write!(f, "group {id}"),
            GroupRef::Name(n) => write!(f, "group \"{}\"", crate::escape::visible(n)),
        }
    }
}

/// One include or exclude target as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredTarget {
    /// Whom it names.
    pub group: GroupRef,
    /// Where it is (for resolution errors).
    pub at: SourceLocation,
    /// Its field path, e.g. `spec.sms.include[0]`.
    pub path: String,
    /// The method's target flags, as Graph values (every flag of the method, defaults filled in; excludes: none).
    pub flags: Vec<(&'static str, Value)>,
}

/// One declared setting, converted to Graph's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSetting {
    /// Its spec.
    pub spec: &'static SettingSpec,
    /// The Graph value (minutes, days, Graph's enum word, …).
    pub value: Value,
}

/// One declared method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredMethod {
    /// Which method.
    pub spec: &'static MethodSpec,
    /// Where its key is.
    pub at: SourceLocation,
    /// `state`, when declared.
    pub state: Option<String>,
    /// `include`, when declared (a set).
    pub include: Option<Vec<DesiredTarget>>,
    /// `exclude`, when declared (a set).
    pub exclude: Option<Vec<DesiredTarget>>,
    /// The declared settings.
    pub settings: Vec<DesiredSetting>,
    /// The declared feature targets (settings of kind [`SettingKind::FeatureTarget`]), resolved when planning.
    pub feature_targets: Vec<DesiredFeatureTarget>,
}

/// One declared Microsoft Authenticator feature target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFeatureTarget {
    /// Its setting.
    pub spec: &'static SettingSpec,
    /// Whom it names (its path is the setting's, e.g. `spec.microsoftAuthenticator.showAppNameInclude`).
    pub target: DesiredTarget,
}

impl DesiredMethod {
    /// Every target the read side resolves: includes, excludes, feature targets.
    pub fn targets(&self) -> impl Iterator<Item = &DesiredTarget> {
        self.include
            .iter()
            .chain(self.exclude.iter())
            .flatten()
            .chain(self.feature_targets.iter().map(|f| &f.target))
    }
}

/// The tenant's policy as one manifest document declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredPolicy {
    /// Where the document's `kind` is.
    pub at: SourceLocation,
    /// The declared methods, in [`METHODS`] order.
    pub methods: Vec<DesiredMethod>,
}

/// Parses a setting's duration: `Nd` (days) or a duration `units::parse_duration` reads (`1h`, `90m`), in whole
/// units of `unit_secs`. Errors say why in words.
pub fn parse_whole(text: &str, unit_secs: u64) -> Result<i64, String> {
    let t = text.trim();
    let secs = if let Some(days) = t
        .strip_suffix('d')
        .and_then(|d| d.trim().parse::<u64>().ok())
    {
        days.checked_mul(86_400)
            .ok_or_else(|| format!("`{t}` is too long"))?
    } else {
        let d = crate::units::parse_duration(t).map_err(|_| {
            format!("`{t}` is not a duration; write e.g. `1h`, `90m`, `8h` or `1d`")
        })?;
        if d.subsec_nanos() != 0 {
            return Err(format!("`{t}` is not a whole number of seconds"));
        }
        d.as_secs()
    };
    if secs % unit_secs != 0 {
        let unit = if unit_secs == 60 { "minutes" } else { "days" };
        return Err(format!("`{t}` is not a whole number of {unit}"));
    }
    i64::try_from(secs / unit_secs).map_err(|_| format!("`{t}` is too long"))
}

/// A number of minutes as the manifest writes it (`1h`, `90m`, `1d`).
pub fn show_minutes(m: i64) -> String {
    if m % 1440 == 0 && m > 0 {
        format!("{}d", m / 1440)
    } else if m % 60 == 0 && m > 0 {
        format!("{}h", m / 60)
    } else {
        format!("{m}m")
    }
}

/// A Graph value of a setting as the manifest writes it (the inverse of the validator's conversion).
pub fn show_setting(kind: SettingKind, v: &Value) -> Value {
    match (kind, v) {
        (SettingKind::Minutes(..), Value::Number(n)) => n
            .as_i64()
            .map_or(v.clone(), |m| Value::String(show_minutes(m))),
        (SettingKind::Days(..), Value::Number(n)) => n
            .as_i64()
            .map_or(v.clone(), |d| Value::String(format!("{d}d"))),
        (SettingKind::Enum(words), Value::String(s)) => words
            .iter()
            .find(|(_, g)| g == s)
            .map_or(v.clone(), |(m, _)| Value::String((*m).to_string())),
        (SettingKind::Records(r), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| r.show(i)).collect())
        }
        _ => v.clone(),
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn yaml_value(v: &Value) -> String {
    match v {
        Value::String(s) => quoted(s),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", yaml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(yaml_value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// The ids of the groups a policy's targets name (method targets and Authenticator feature targets; lowercase,
/// without `all_users` and the all-zero GUID).
pub fn target_group_ids(policy: &Value) -> std::collections::BTreeSet<String> {
    let mut ids = std::collections::BTreeSet::new();
    let mut add = |t: &Value| {
        if let Some(id) = t["id"].as_str()
            && id != ALL_USERS
            && id != NOBODY
            && t["targetType"].as_str().unwrap_or("group") == "group"
        {
            ids.insert(id.to_ascii_lowercase());
        }
    };
    let configs = policy["authenticationMethodConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            policy
                .get("registrationEnforcement")
                .and_then(|r| r.get("authenticationMethodsRegistrationCampaign")),
        );
    for c in configs {
        for list in ["includeTargets", "excludeTargets"] {
            c[list].as_array().into_iter().flatten().for_each(&mut add);
        }
        if let Some(fs) = c["featureSettings"].as_object() {
            for f in fs.values() {
                add(&f["includeTarget"]);
                add(&f["excludeTarget"]);
            }
        }
    }
    ids
}

/// Today's policy as an `AuthenticationMethodsPolicy` manifest (what `import --policy` writes): every method with
/// its state, targets and settings. `group_refs` gives what to write for a group id (its display name when that
/// name picks exactly this group, else the id); `names` the display name for a comment. Returns the YAML and what it
/// could not keep (targets of type `user`).
pub fn write_policy_manifest(
    policy: &Value,
    group_refs: &std::collections::HashMap<String, String>,
) -> (String, Vec<String>) {
    let mut out = format!(
        "# The tenant's authentication methods policy as authctl imported it. Only the methods listed here, and within\n\
         # a method only the settings written, are managed; delete what you don't want to manage.\n\
         apiVersion: authctl/v1\nkind: {POLICY_KIND}\nspec:\n"
    );
    let mut warnings = Vec::new();
    for m in METHODS {
        let config = match m.config_id {
            Some(id) => policy["authenticationMethodConfigurations"]
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|c| c["id"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(id)))
                }),
            None => policy
                .get("registrationEnforcement")
                .and_then(|r| r.get("authenticationMethodsRegistrationCampaign")),
        };
        let Some(c) = config else {
            continue;
        };
        out.push_str(&format!("  {}:\n", m.key));
        if let Some(s) = c["state"].as_str() {
            out.push_str(&format!("    state: {s}\n"));
        }
        for (key, list, include) in [
            ("include", "includeTargets", true),
            ("exclude", "excludeTargets", false),
        ] {
            let targets: Vec<&Value> = c[list]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let mut lines = Vec::new();
            for t in targets {
                let id = t["id"].as_str().unwrap_or_default();
                if t["targetType"].as_str().unwrap_or("group") != "group" {
                    warnings.push(format!(
                        "{}: the {key} target of type `{}` ({id}) can't be written in a manifest (groups and all \
                         users only); planning the manifest will remove it",
                        m.key,
                        t["targetType"].as_str().unwrap_or_default()
                    ));
                    continue;
                }
                let mut line = if id == ALL_USERS {
                    "      - allUsers: true\n".to_string()
                } else {
                    let r = group_refs
                        .get(&id.to_ascii_lowercase())
                        .cloned()
                        .unwrap_or_else(|| id.to_string());
                    format!("      - group: {}\n", quoted(&r))
                };
                if include {
                    for f in m.target_flags {
                        let v = t.get(f.graph).cloned().unwrap_or_else(|| f.default.value());
                        line.push_str(&format!(
                            "        {}: {}\n",
                            f.key,
                            yaml_value(&show_setting(f.kind, &v))
                        ));
                    }
                }
                lines.push(line);
            }
            if lines.is_empty() {
                out.push_str(&format!("    {key}: []\n"));
            } else {
                out.push_str(&format!("    {key}:\n"));
                for l in lines {
                    out.push_str(&l);
                }
            }
        }
        for s in m.settings {
            let v = s
                .path
                .iter()
                .fold(c, |v, k| v.get(k).unwrap_or(&Value::Null));
            if v.is_null() {
                continue;
            }
            if let SettingKind::FeatureTarget { include } = s.kind {
                let id = v["id"].as_str().unwrap_or_default();
                let kind = v["targetType"].as_str().unwrap_or("group");
                let written = if kind != "group" || id.is_empty() {
                    None
                } else if id == ALL_USERS {
                    include.then(|| "{allUsers: true}".to_string())
                } else if id == NOBODY {
                    Some("{nobody: true}".to_string())
                } else {
                    let r = group_refs
                        .get(&id.to_ascii_lowercase())
                        .cloned()
                        .unwrap_or_else(|| id.to_string());
                    Some(format!("{{group: {}}}", quoted(&r)))
                };
                match written {
                    Some(w) => out.push_str(&format!("    {}: {w}\n", s.key)),
                    None => warnings.push(format!(
                        "{}: `{}` targets a {kind} ({id}), which a manifest can't write (a group, all users or \
                         nobody only); it is left unmanaged",
                        m.key, s.key
                    )),
                }
                continue;
            }
            let shown = show_setting(s.kind, v);
            // A value the manifest can't express (an enum word authctl doesn't know) is left out, unmanaged.
            let known = match (s.kind, &shown) {
                (SettingKind::Enum(words), Value::String(w)) => words.iter().any(|(m, _)| m == w),
                (SettingKind::Records(r), Value::Array(items)) => items.iter().all(|i| {
                    r.fields.iter().all(|f| match (f.kind, &i[f.key]) {
                        (RecordFieldKind::Enum(words), Value::String(w)) => {
                            words.iter().any(|(m, _)| m == w)
                        }
                        (RecordFieldKind::Enum(_), _) => false,
                        (RecordFieldKind::Int(..), v) => v.is_i64(),
                        (RecordFieldKind::Text, v) => {
                            v.as_str().is_some_and(|t| !t.trim().is_empty())
                        }
                    })
                }),
                _ => true,
            };
            if known {
                out.push_str(&format!("    {}: {}\n", s.key, yaml_value(&shown)));
            } else if let SettingKind::Records(r) = s.kind {
                warnings.push(format!(
                    "{}: `{}` holds {} authctl can't write (a value it doesn't know); it is left unmanaged",
                    m.key, s.key, r.what
                ));
            }
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_to_whole_units() {
        assert_eq!(parse_whole("1h", 60), Ok(60));
        assert_eq!(parse_whole("90m", 60), Ok(90));
        assert_eq!(parse_whole("30d", 60), Ok(43200));
        assert_eq!(parse_whole("365d", 86_400), Ok(365));
        assert!(parse_whole("90s", 60).is_err());
        assert!(parse_whole("1h", 86_400).is_err());
        assert!(parse_whole("soon", 60).is_err());
        assert_eq!(show_minutes(60), "1h");
        assert_eq!(show_minutes(90), "90m");
        assert_eq!(show_minutes(43200), "30d");
    }

    #[test]
    fn every_configuration_has_its_odata_type() {
        for m in METHODS {
            match m.config_id {
                Some(id) => {
                    let t = m.odata_type().unwrap();
                    assert!(t.ends_with("AuthenticationMethodConfiguration"), "{t}");
                    assert!(t.to_lowercase().contains(&id.to_lowercase()), "{t} {id}");
                }
                None => assert_eq!(m.key, "registrationCampaign"),
            }
        }
        assert_eq!(METHODS.len(), 10);
    }
}
