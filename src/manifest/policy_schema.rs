//! The serde and schemars model of an `AuthenticationMethodsPolicy` document: `schemas/manifest.schema.json`
//! describes it beside `PhoneMethods` (the root picks the policy document or the users' document by `kind`), and serde reads the examples with it. The
//! validator (`validate/policy.rs`) accepts what these types accept and checks more (ranges, one of `group` and
//! `allUsers`, the duration syntax).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::header::{ApiVersion, Metadata};

/// One `AuthenticationMethodsPolicy` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "authctl methods policy",
    description = "Declares the tenant's authentication methods policy (authctl/v1, kind AuthenticationMethodsPolicy; one per tenant)."
)]
pub struct PolicyDocument {
    /// Always `authctl/v1`.
    pub api_version: ApiVersion,
    /// Always `AuthenticationMethodsPolicy`.
    pub kind: PolicyKind,
    /// Optional Kubernetes-style metadata; never acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The methods to manage; methods left out are not managed.
    pub spec: PolicySpec,
}

/// `kind: AuthenticationMethodsPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PolicyKind {
    /// The tenant's authentication methods policy.
    AuthenticationMethodsPolicy,
}

/// `state` of a method configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PolicyState {
    /// Users in the include targets (and not excluded) may use it.
    Enabled,
    /// Nobody may use it.
    Disabled,
}

/// `state` of the registration campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CampaignState {
    /// Microsoft-managed.
    Default,
    /// On.
    Enabled,
    /// Off.
    Disabled,
}

/// `default`, `enabled` or `disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TriState {
    /// Microsoft-managed.
    Default,
    /// On.
    Enabled,
    /// Off.
    Disabled,
}

/// A duration with its unit (`1h`, `90m`, `1d`).
pub type PolicyDuration = String;

/// `allUsers: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "bool", into = "bool")]
pub struct AllUsers;

fn true_only(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::Schema::try_from(json!({"const": true})).unwrap_or_default()
}

impl TryFrom<bool> for AllUsers {
    type Error = &'static str;
    fn try_from(b: bool) -> Result<Self, Self::Error> {
        if b {
            Ok(AllUsers)
        } else {
            Err("allUsers can only be true")
        }
    }
}
impl From<AllUsers> for bool {
    fn from(_: AllUsers) -> bool {
        true
    }
}

macro_rules! target {
    ($name:ident, $doc:literal $(, $field:ident : $ty:ty, $fdoc:literal)*) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// A group's display name (resolved to its id when planning; it must name exactly one group) or object id.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub group: Option<String>,
            /// Every user (Graph's `all_users`); not allowed in `exclude`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "true_only")]
            pub all_users: Option<AllUsers>,
            $(
                #[doc = $fdoc]
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

target!(
    PolicyTarget,
    "A target: `group` (display name or object id) or `allUsers: true`."
);
target!(SmsTarget, "An SMS include target.", usable_for_sign_in: bool, "Whether these users may sign in with a code by SMS (default true).");
target!(AuthenticatorTarget, "A Microsoft Authenticator include target.", authentication_mode: AuthenticationMode, "`any` (default), `push` or `deviceBasedPush`.");
target!(CampaignTarget, "A registration campaign include target.", targeted_method: TargetedMethod, "The method the campaign nudges to (`microsoftAuthenticator`).");

/// Whom a Microsoft Authenticator feature (the app name or location in the prompt) applies to: exactly one of
/// `group`, `allUsers: true` (include only) or `nobody: true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeatureTarget {
    /// A group's display name (resolved to its id when planning; it must name exactly one group) or object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Every user (Graph's `all_users`); include targets only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "true_only")]
    pub all_users: Option<AllUsers>,
    /// Nobody (Graph's all-zero GUID; Graph's own default exclude target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "true_only")]
    pub nobody: Option<AllUsers>,
}

/// Microsoft Authenticator's `authenticationMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AuthenticationMode {
    /// Push or passwordless.
    Any,
    /// Push notifications only.
    Push,
    /// Passwordless phone sign-in only.
    DeviceBasedPush,
}

/// The registration campaign's targeted method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TargetedMethod {
    /// Microsoft Authenticator.
    MicrosoftAuthenticator,
}

/// FIDO2 key restriction type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum KeyRestrictionType {
    /// Only the listed AAGUIDs.
    Allow,
    /// All but the listed AAGUIDs.
    Block,
}

/// X.509 default authentication strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum X509Mode {
    /// Single-factor.
    SingleFactor,
    /// Multifactor.
    MultiFactor,
}

macro_rules! method {
    ($name:ident, $doc:literal, $state:ty, $target:ty $(, $field:ident : $ty:ty, $fdoc:literal)*) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// Left out: not managed.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub state: Option<$state>,
            /// Who may use it (a set; left out: not managed).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub include: Option<Vec<$target>>,
            /// Who may not (groups only; a set; left out: not managed).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub exclude: Option<Vec<PolicyTarget>>,
            $(
                #[doc = $fdoc]
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

method!(SmsMethod, "SMS.", PolicyState, SmsTarget);
method!(VoiceMethod, "Voice call.", PolicyState, PolicyTarget, office_phone_allowed: bool, "Whether office phones may receive the call.");
method!(EmailMethod, "Email OTP.", PolicyState, PolicyTarget, external_id_otp: TriState, "Whether external (B2B) users may use email OTP.");
method!(Fido2Method, "FIDO2 security keys (passkeys).", PolicyState, PolicyTarget,
    attestation_enforced: bool, "Require attestation.",
    self_service_registration: bool, "Users may register keys themselves.",
    key_restrictions_enforced: bool, "Enforce the key restrictions.",
    key_restriction_type: KeyRestrictionType, "`allow` or `block` the listed AAGUIDs.",
    aaguids: Vec<String>, "AAGUIDs (GUIDs), compared as a set.");
method!(AuthenticatorMethod, "Microsoft Authenticator.", PolicyState, AuthenticatorTarget,
    show_app_name: TriState, "Show the application name in notifications.",
    show_app_name_include: FeatureTarget, "Whom `showAppName` applies to (Graph's `includeTarget`).",
    show_app_name_exclude: FeatureTarget, "Whom `showAppName` does not apply to (Graph's `excludeTarget`).",
    show_location: TriState, "Show the sign-in location in notifications.",
    show_location_include: FeatureTarget, "Whom `showLocation` applies to (Graph's `includeTarget`).",
    show_location_exclude: FeatureTarget, "Whom `showLocation` does not apply to (Graph's `excludeTarget`).");
method!(TapMethod, "Temporary Access Pass.", PolicyState, PolicyTarget,
    default_lifetime: PolicyDuration, "Default lifetime (10m–30d), e.g. `1h`.",
    minimum_lifetime: PolicyDuration, "Minimum lifetime (10m–30d).",
    maximum_lifetime: PolicyDuration, "Maximum lifetime (10m–30d).",
    length: u8, "Length of a pass (8–48 characters).",
    usable_once: bool, "Passes are one-time only.");
method!(
    SoftwareOathMethod,
    "Software OATH tokens.",
    PolicyState,
    PolicyTarget
);
method!(X509Method, "Certificate-based authentication.", PolicyState, PolicyTarget,
    default_mode: X509Mode, "`singleFactor` or `multiFactor`.",
    rules: Vec<X509Rule>, "Authentication strength per issuer or policy OID (a set).",
    user_bindings: Vec<X509UserBinding>, "Which certificate field matches which user property (a set keyed by `priority`).");

/// An X.509 authentication mode rule (Graph's `x509CertificateRule`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct X509Rule {
    /// `issuerSubject` or `policyOID`.
    #[serde(rename = "type")]
    pub rule_type: X509RuleType,
    /// The issuer's subject or the policy OID.
    pub identifier: String,
    /// `singleFactor` or `multiFactor`.
    pub mode: X509Mode,
}

/// What an X.509 rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum X509RuleType {
    /// The issuer's subject.
    #[serde(rename = "issuerSubject")]
    IssuerSubject,
    /// A certificate policy OID.
    #[serde(rename = "policyOID")]
    PolicyOid,
}

/// An X.509 certificate user binding (Graph's `x509CertificateUserBinding`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct X509UserBinding {
    /// `PrincipalName`, `RFC822Name`, `SubjectKeyIdentifier`, `SHA1PublicKey`, `IssuerAndSubject`, `Subject` or
    /// `IssuerAndSerialNumber`.
    pub certificate_field: X509CertificateField,
    /// `userPrincipalName`, `onPremisesUserPrincipalName` or `certificateUserIds`.
    pub user_property: X509UserProperty,
    /// A whole number (Graph's Int32, not negative), unique within the list.
    #[schemars(range(max = 2147483647))]
    pub priority: u32,
}

/// The certificate field of a user binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum X509CertificateField {
    /// The UPN in the subject alternative name.
    PrincipalName,
    /// The email in the subject alternative name.
    #[serde(rename = "RFC822Name")]
    Rfc822Name,
    /// The subject key identifier.
    SubjectKeyIdentifier,
    /// The SHA-1 hash of the public key.
    #[serde(rename = "SHA1PublicKey")]
    Sha1PublicKey,
    /// Issuer and subject.
    IssuerAndSubject,
    /// Subject.
    Subject,
    /// Issuer and serial number.
    IssuerAndSerialNumber,
}

/// The user property of a user binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum X509UserProperty {
    /// `userPrincipalName`.
    UserPrincipalName,
    /// `onPremisesUserPrincipalName`.
    OnPremisesUserPrincipalName,
    /// `certificateUserIds`.
    CertificateUserIds,
}
method!(QrCodePinMethod, "QR code + PIN.", PolicyState, PolicyTarget,
    pin_length: u8, "PIN length (8–20).",
    code_lifetime: PolicyDuration, "Lifetime of a standard QR code in days (1d–395d).");
method!(CampaignMethod, "The registration campaign (nudge to Microsoft Authenticator).", CampaignState, CampaignTarget,
    snooze_duration: PolicyDuration, "How long a user may postpone (0d–14d).");

/// `spec`: one entry per managed method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// SMS (one-time codes, and SMS sign-in per target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsMethod>,
    /// Voice call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<VoiceMethod>,
    /// Email OTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailMethod>,
    /// FIDO2 security keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fido2: Option<Fido2Method>,
    /// Microsoft Authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microsoft_authenticator: Option<AuthenticatorMethod>,
    /// Temporary Access Pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_access_pass: Option<TapMethod>,
    /// Software OATH tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_oath: Option<SoftwareOathMethod>,
    /// Certificate-based authentication (X.509).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate: Option<X509Method>,
    /// QR code + PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_code_pin: Option<QrCodePinMethod>,
    /// The registration campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_campaign: Option<CampaignMethod>,
}

/// The manifest schema covering both kinds: `phones` (the root schema of kinds PhoneMethods and AuthenticationMethods) moves to
/// `definitions/UserMethodsDocument`, the policy document and its types join `definitions`, and the root is
/// `if` kind is the policy's `then` its document `else` the users' document.
pub fn with_policy_kind(phones: schemars::Schema) -> schemars::Schema {
    let policy = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<PolicyDocument>()
        .to_value();
    let Value::Object(mut root) = phones.clone().to_value() else {
        return phones;
    };
    let mut defs = match root.remove("definitions") {
        Some(Value::Object(d)) => d,
        _ => serde_json::Map::new(),
    };
    // A root schema's own document keywords (not `$schema`, `title`, `definitions`), moved into a definition.
    let take_document = |root: &mut serde_json::Map<String, Value>| {
        let mut doc = serde_json::Map::new();
        for key in [
            "type",
            "properties",
            "required",
            "additionalProperties",
            "description",
            "if",
            "then",
        ] {
            if let Some(v) = root.remove(key) {
                doc.insert(key.into(), v);
            }
        }
        Value::Object(doc)
    };
    defs.insert("UserMethodsDocument".into(), take_document(&mut root));
    let Value::Object(mut policy) = policy else {
        return phones;
    };
    if let Some(Value::Object(d)) = policy.remove("definitions") {
        for (k, v) in d {
            defs.entry(k).or_insert(v);
        }
    }
    defs.insert(
        "AuthenticationMethodsPolicyDocument".into(),
        take_document(&mut policy),
    );
    root.insert(
        "description".into(),
        json!("An authctl manifest document (authctl/v1): users' authentication methods (kind PhoneMethods: phones and SMS sign-in; kind AuthenticationMethods: also the password-reset email and the methods users register themselves) or the tenant's authentication methods policy (kind AuthenticationMethodsPolicy)."),
    );
    // `if`/`then`/`else` on `kind` rather than `oneOf`: a validator (and an editor) then reports the errors of the
    // one document kind meant, instead of "not valid under any of the schemas".
    root.insert(
        "if".into(),
        json!({"properties": {"kind": {"const": "AuthenticationMethodsPolicy"}}, "required": ["kind"]}),
    );
    root.insert(
        "then".into(),
        json!({"$ref": "#/definitions/AuthenticationMethodsPolicyDocument"}),
    );
    root.insert(
        "else".into(),
        json!({"$ref": "#/definitions/UserMethodsDocument"}),
    );
    root.insert("definitions".into(), Value::Object(defs));
    schemars::Schema::try_from(Value::Object(root)).unwrap_or(phones)
}
