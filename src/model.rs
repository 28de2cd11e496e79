//! Domain types shared by every layer: phone types with their fixed Graph ids, SMS sign-in states, reconcile modes,
//! and the desired and observed state of one user. Pure data: no I/O, no HTTP, no files.
//!
//! The observed side keeps Graph's raw strings (the number exactly as Graph sent it, an SMS state authctl does not
//! know) so nothing is lost between reading and reporting; canonicalisation happens in the plan engine.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::phone::PhoneNumber;

/// A phone authentication method's type. Graph allows at most one phone of each type per user, and each type has
/// one fixed method id that is the same for every user.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum PhoneType {
    /// The primary mobile phone: SMS and voice, the only type that can do SMS sign-in.
    Mobile,
    /// A second mobile: voice only; needs a `mobile` to exist.
    AlternateMobile,
    /// An office phone: voice only; the only type that may carry an extension.
    Office,
}

impl PhoneType {
    /// Every phone type, in Graph's (and the plan's) order.
    pub const ALL: [PhoneType; 3] = [
        PhoneType::Mobile,
        PhoneType::AlternateMobile,
        PhoneType::Office,
    ];

    /// The fixed `phoneAuthenticationMethod` id of this type (the id *is* the type).
    pub fn method_id(self) -> &'static str {
        match self {
            PhoneType::Mobile => "3179e48a-750b-4051-897c-87b9720928f7",
            PhoneType::AlternateMobile => "b6332ec1-7057-4abe-9331-3d72feddfe41",
            PhoneType::Office => "e37fc753-ff3b-4958-9484-eaa9425c82bc",
        }
    }

    /// The type whose fixed method id is `id` (case-insensitive), if any.
    pub fn from_method_id(id: &str) -> Option<PhoneType> {
        PhoneType::ALL
            .into_iter()
            .find(|t| t.method_id().eq_ignore_ascii_case(id))
    }

    /// Graph's spelling (`mobile`, `alternateMobile`, `office`).
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneType::Mobile => "mobile",
            PhoneType::AlternateMobile => "alternateMobile",
            PhoneType::Office => "office",
        }
    }

    /// Parses Graph's spelling exactly (Graph's enums are case-sensitive in JSON).
    pub fn parse(s: &str) -> Option<PhoneType> {
        PhoneType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for PhoneType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a user's undeclared phone types are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Types not declared are removed.
    Exact,
    /// Only declared types are touched.
    Merge,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Exact => "exact",
            Mode::Merge => "merge",
        })
    }
}

/// The desired SMS sign-in setting of a user's mobile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SmsSignIn {
    /// The mobile should be usable for SMS sign-in (`smsSignInState: ready`).
    Enabled,
    /// The mobile should not be usable for SMS sign-in.
    Disabled,
}

impl fmt::Display for SmsSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmsSignIn::Enabled => "enabled",
            SmsSignIn::Disabled => "disabled",
        })
    }
}

/// Graph's `authenticationMethodSignInState`. An evolvable enum: values authctl does not know are kept verbatim in
/// [`SmsSignInState::Other`] rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SmsSignInState {
    /// SMS sign-in is not possible on this method (only `mobile` can do it).
    NotSupported,
    /// The user is not in scope of the SMS sign-in policy.
    NotAllowedByPolicy,
    /// SMS sign-in is not enabled for this method.
    NotEnabled,
    /// In policy scope, but the user still has to finish setup.
    NotConfigured,
    /// Another user already uses this number for SMS sign-in.
    PhoneNumberNotUnique,
    /// Usable for SMS sign-in.
    Ready,
    /// Graph's evolvable-enum sentinel.
    UnknownFutureValue,
    /// Any other value, kept as Graph sent it.
    Other(String),
}

impl SmsSignInState {
    /// Graph's spelling of the state.
    pub fn as_str(&self) -> &str {
        match self {
            SmsSignInState::NotSupported => "notSupported",
            SmsSignInState::NotAllowedByPolicy => "notAllowedByPolicy",
            SmsSignInState::NotEnabled => "notEnabled",
            SmsSignInState::NotConfigured => "notConfigured",
            SmsSignInState::PhoneNumberNotUnique => "phoneNumberNotUnique",
            SmsSignInState::Ready => "ready",
            SmsSignInState::UnknownFutureValue => "unknownFutureValue",
            SmsSignInState::Other(s) => s,
        }
    }

    /// Reads Graph's spelling; unknown values become [`SmsSignInState::Other`].
    pub fn parse(s: &str) -> SmsSignInState {
        match s {
            "notSupported" => SmsSignInState::NotSupported,
            "notAllowedByPolicy" => SmsSignInState::NotAllowedByPolicy,
            "notEnabled" => SmsSignInState::NotEnabled,
            "notConfigured" => SmsSignInState::NotConfigured,
            "phoneNumberNotUnique" => SmsSignInState::PhoneNumberNotUnique,
            "ready" => SmsSignInState::Ready,
            "unknownFutureValue" => SmsSignInState::UnknownFutureValue,
            other => SmsSignInState::Other(other.to_string()),
        }
    }
}

impl fmt::Display for SmsSignInState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SmsSignInState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SmsSignInState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(SmsSignInState::parse(&s))
    }
}

impl JsonSchema for SmsSignInState {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SmsSignInState".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Graph's authenticationMethodSignInState (notSupported, notAllowedByPolicy, notEnabled, notConfigured, phoneNumberNotUnique, ready, unknownFutureValue, or a future value)"
        })
    }
}

/// Where something was declared: a manifest file (or `-` for stdin), 1-based line and column.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct SourceLocation {
    /// The file's path as given on the command line (`-` for stdin).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// What a manifest wants for one phone type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DesiredPhone {
    /// This number (canonical).
    Number(PhoneNumber),
    /// No phone of this type.
    Absent,
}

/// One user's desired state, validated and resolved from the manifests (pure data; the manifest loader builds it).
///
/// `phones` holds only the types the manifest declares. What an undeclared type means depends on `mode`: in
/// [`Mode::Exact`] it is [`DesiredPhone::Absent`], in [`Mode::Merge`] it is unmanaged. Use
/// [`DesiredUser::desired`] rather than reading `phones` directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredUser {
    /// The user as written: a userPrincipalName or an object id.
    pub user: String,
    /// The effective mode (the user's own, else the document's).
    pub mode: Mode,
    /// Declared phone types.
    pub phones: BTreeMap<PhoneType, DesiredPhone>,
    /// The desired SMS sign-in setting; `None` = not managed.
    pub sms_sign_in: Option<SmsSignIn>,
    /// The SSPR email; `None` = not managed. The loader resolves the mode rule (an `AuthenticationMethods` document
    /// in exact mode with no `email` gives `Some(Absent)`); `PhoneMethods` documents always give `None`.
    pub email: Option<DesiredEmail>,
    /// The registered method types the manifest declares; an undeclared type is never touched, in either mode.
    pub registrations: BTreeMap<RegistrationType, DesiredRegistrations>,
    /// Where the user's entry starts (the `user:` key).
    pub source: SourceLocation,
}

/// What a manifest wants for the SSPR email method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DesiredEmail {
    /// This address.
    Address(String),
    /// No email method.
    Absent,
}

/// What a manifest wants for one registered method type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DesiredRegistrations {
    /// Remove every registration of the type.
    Absent,
    /// Keep exactly these registration ids; every other registration of the type is removed.
    Keep(BTreeSet<String>),
}

/// A method type a user registers and an admin can only remove, named by Graph's short name (the `{short}` of
/// `#microsoft.graph.{short}AuthenticationMethod`): `microsoftAuthenticator`, `fido2`, `windowsHelloForBusiness`,
/// `softwareOath`, `platformCredential`, `temporaryAccessPass`, or a type Graph adds later (`hardwareOath`, …).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct RegistrationType(String);

impl RegistrationType {
    /// The six registered types authctl names, in the order plans and `authctl methods` show them.
    pub const KNOWN: [MethodKind; 6] = [
        MethodKind::MicrosoftAuthenticator,
        MethodKind::Fido2,
        MethodKind::WindowsHelloForBusiness,
        MethodKind::SoftwareOath,
        MethodKind::PlatformCredential,
        MethodKind::TemporaryAccessPass,
    ];

    /// A type by its short name, as written (manifest validation checks the syntax).
    pub fn new(short: impl Into<String>) -> RegistrationType {
        RegistrationType(short.into())
    }

    /// The registered type of a known kind: `None` for the password, phones, email and unknown kinds, which a
    /// manifest declares elsewhere or not at all.
    pub fn of(kind: MethodKind) -> Option<RegistrationType> {
        match kind {
            MethodKind::Password | MethodKind::Phone | MethodKind::Email | MethodKind::Unknown => {
                None
            }
            k => k.graph_name().map(RegistrationType::new),
        }
    }

    /// The short name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// The kind it names ([`MethodKind::Unknown`] for a type authctl does not know).
    pub fn kind(&self) -> MethodKind {
        MethodKind::ALL
            .into_iter()
            .find(|k| k.graph_name() == Some(self.0.as_str()))
            .unwrap_or(MethodKind::Unknown)
    }

    /// The per-type path segment under `/users/{id}/authentication/` (`fido2Methods`, …); for a type authctl does
    /// not know, Graph's naming pattern `{short}Methods`.
    pub fn segment(&self) -> String {
        match self.kind().segment() {
            Some(s) => s.to_string(),
            None => format!("{}Methods", self.0),
        }
    }
}

impl fmt::Display for RegistrationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One registration of a registered method type, as Graph listed it (parsed at the Graph edge).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// Its type.
    pub method_type: RegistrationType,
    /// Graph's id of the registration.
    pub id: String,
    /// The name Graph shows (device name, key name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What else tells it apart to a human: a FIDO2 key's model, an Authenticator's device tag, a platform
    /// credential's platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `createdDateTime` as Graph sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// A Temporary Access Pass's `isUsable`; true for every other type.
    pub usable: bool,
}

/// `true` for an object id in GUID form (`4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e`), in either case.
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The form registration ids are compared in, everywhere (keep-lists against Graph, duplicates in a manifest):
/// GUIDs in lower case (Graph's GUIDs are case-insensitive, so `1F2E…` in a manifest keeps `1f2e…`), any other id
/// as written (base64url credential ids of FIDO2 keys and Windows Hello are case-sensitive).
pub fn registration_id_key(id: &str) -> String {
    if is_guid(id) {
        id.to_ascii_lowercase()
    } else {
        id.to_string()
    }
}

impl DesiredUser {
    /// What the manifest wants for `phone_type`: `None` when the type is unmanaged (merge mode, undeclared).
    pub fn desired(&self, phone_type: PhoneType) -> Option<&DesiredPhone> {
        match (self.phones.get(&phone_type), self.mode) {
            (Some(d), _) => Some(d),
            (None, Mode::Exact) => Some(&DesiredPhone::Absent),
            (None, Mode::Merge) => None,
        }
    }
}

/// One phone method as Graph reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedPhone {
    /// The phone's type.
    pub phone_type: PhoneType,
    /// The number exactly as Graph returned it (may be masked for callers without full read rights).
    pub phone_number: String,
    /// Graph's `smsSignInState` for this method.
    pub sms_sign_in_state: SmsSignInState,
}

/// A user as read from Graph: object id, UPN, and the phone methods Graph returned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedUser {
    /// The user's object id.
    pub id: String,
    /// The user's userPrincipalName.
    pub user_principal_name: String,
    /// Phone methods of known types, at most one per type.
    pub phones: BTreeMap<PhoneType, ObservedPhone>,
    /// Phone methods whose `phoneType` authctl does not know (e.g. `unknownFutureValue`), kept verbatim: never
    /// deleted, only reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_phones: Vec<serde_json::Value>,
    /// The SSPR email address, when read (only for users whose manifest manages it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Registrations of registered types, when read (only for users whose manifest declares a registered type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registrations: Vec<Registration>,
}

/// The authentication method types authctl knows: the one list, parsed from Graph's `@odata.type` at the edge
/// (`crate::graph::types::method_kind`), read by the lock-out preflight ([`MethodKind::is_second_factor`],
/// [`MethodKind::signs_in`]) and by `authctl methods` (names and properties). A type Graph adds later is
/// [`MethodKind::Unknown`] until a variant is added here (see ARCHITECTURE.md, "How to add a new method type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MethodKind {
    /// `passwordAuthenticationMethod`.
    Password,
    /// `phoneAuthenticationMethod`.
    Phone,
    /// `fido2AuthenticationMethod` (security keys and passkeys).
    Fido2,
    /// `microsoftAuthenticatorAuthenticationMethod`.
    MicrosoftAuthenticator,
    /// `passwordlessMicrosoftAuthenticatorAuthenticationMethod` (the older passwordless registration).
    PasswordlessMicrosoftAuthenticator,
    /// `windowsHelloForBusinessAuthenticationMethod`.
    WindowsHelloForBusiness,
    /// `softwareOathAuthenticationMethod`.
    SoftwareOath,
    /// `hardwareOathAuthenticationMethod` (beta only today; listed if Graph returns it).
    HardwareOath,
    /// `temporaryAccessPassAuthenticationMethod`.
    TemporaryAccessPass,
    /// `emailAuthenticationMethod` (self-service password reset).
    Email,
    /// `platformCredentialAuthenticationMethod` (macOS platform SSO).
    PlatformCredential,
    /// `externalAuthenticationMethod` (external authentication methods, EAM).
    External,
    /// `qrCodePinAuthenticationMethod`.
    QrCodePin,
    /// Any other `@odata.type` (or none): shown by its type, never an error, and counted for nothing.
    Unknown,
}

impl MethodKind {
    /// Every kind, `Unknown` last.
    pub const ALL: [MethodKind; 14] = [
        MethodKind::Password,
        MethodKind::Phone,
        MethodKind::Fido2,
        MethodKind::MicrosoftAuthenticator,
        MethodKind::PasswordlessMicrosoftAuthenticator,
        MethodKind::WindowsHelloForBusiness,
        MethodKind::SoftwareOath,
        MethodKind::HardwareOath,
        MethodKind::TemporaryAccessPass,
        MethodKind::Email,
        MethodKind::PlatformCredential,
        MethodKind::External,
        MethodKind::QrCodePin,
        MethodKind::Unknown,
    ];

    /// The short name inside `#microsoft.graph.{short}AuthenticationMethod` (`None` for `Unknown`).
    pub fn graph_name(self) -> Option<&'static str> {
        Some(match self {
            MethodKind::Password => "password",
            MethodKind::Phone => "phone",
            MethodKind::Fido2 => "fido2",
            MethodKind::MicrosoftAuthenticator => "microsoftAuthenticator",
            MethodKind::PasswordlessMicrosoftAuthenticator => "passwordlessMicrosoftAuthenticator",
            MethodKind::WindowsHelloForBusiness => "windowsHelloForBusiness",
            MethodKind::SoftwareOath => "softwareOath",
            MethodKind::HardwareOath => "hardwareOath",
            MethodKind::TemporaryAccessPass => "temporaryAccessPass",
            MethodKind::Email => "email",
            MethodKind::PlatformCredential => "platformCredential",
            MethodKind::External => "external",
            MethodKind::QrCodePin => "qrCodePin",
            MethodKind::Unknown => return None,
        })
    }

    /// The per-type collection's path segment under `/users/{id}/authentication/` (`phoneMethods`, `fido2Methods`,
    /// …; `qrCodePinMethod` is a single method without an id). `None` for the password (listed, never deleted) and
    /// unknown kinds.
    pub fn segment(self) -> Option<&'static str> {
        Some(match self {
            MethodKind::Password | MethodKind::Unknown => return None,
            MethodKind::Phone => "phoneMethods",
            MethodKind::Fido2 => "fido2Methods",
            MethodKind::MicrosoftAuthenticator => "microsoftAuthenticatorMethods",
            MethodKind::PasswordlessMicrosoftAuthenticator => {
                "passwordlessMicrosoftAuthenticatorMethods"
            }
            MethodKind::WindowsHelloForBusiness => "windowsHelloForBusinessMethods",
            MethodKind::SoftwareOath => "softwareOathMethods",
            MethodKind::HardwareOath => "hardwareOathMethods",
            MethodKind::TemporaryAccessPass => "temporaryAccessPassMethods",
            MethodKind::Email => "emailMethods",
            MethodKind::PlatformCredential => "platformCredentialMethods",
            MethodKind::External => "externalAuthenticationMethods",
            MethodKind::QrCodePin => "qrCodePinMethod",
        })
    }

    /// An admin can remove a method of this kind through Graph: every known kind but the password.
    pub fn admin_deletable(self) -> bool {
        !matches!(self, MethodKind::Password | MethodKind::Unknown)
    }

    /// A short stable name for JSON (`phone`, `fido2`, …; `unknown` for types authctl does not know).
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::External => "externalAuthentication",
            MethodKind::Unknown => "unknown",
            other => other.graph_name().unwrap_or("unknown"),
        }
    }

    /// The name people use for the method.
    pub fn label(self) -> &'static str {
        match self {
            MethodKind::Password => "Password",
            MethodKind::Phone => "Phone",
            MethodKind::Fido2 => "FIDO2 security key / passkey",
            MethodKind::MicrosoftAuthenticator => "Microsoft Authenticator",
            MethodKind::PasswordlessMicrosoftAuthenticator => {
                "Microsoft Authenticator (passwordless)"
            }
            MethodKind::WindowsHelloForBusiness => "Windows Hello for Business",
            MethodKind::SoftwareOath => "Software OATH token",
            MethodKind::HardwareOath => "Hardware OATH token",
            MethodKind::TemporaryAccessPass => "Temporary Access Pass",
            MethodKind::Email => "Email (password reset)",
            MethodKind::PlatformCredential => "Platform credential",
            MethodKind::External => "External authentication method",
            MethodKind::QrCodePin => "QR code + PIN",
            MethodKind::Unknown => "Unknown method type",
        }
    }

    /// A second factor other than a phone (phones are counted from the plan's states): Authenticator (push or
    /// passwordless), FIDO2, Windows Hello for Business, software or hardware OATH. A Temporary Access Pass counts
    /// only while usable ([`ObservedMethod::is_second_factor`]). Email (SSPR only) and unknown types do not.
    pub fn is_second_factor(self) -> bool {
        matches!(
            self,
            MethodKind::MicrosoftAuthenticator
                | MethodKind::PasswordlessMicrosoftAuthenticator
                | MethodKind::Fido2
                | MethodKind::WindowsHelloForBusiness
                | MethodKind::SoftwareOath
                | MethodKind::HardwareOath
        )
    }

    /// A way to sign in other than SMS sign-in: a password, Authenticator, FIDO2, Windows Hello for Business (and a
    /// usable Temporary Access Pass, [`ObservedMethod::signs_in`]).
    pub fn signs_in(self) -> bool {
        matches!(
            self,
            MethodKind::Password
                | MethodKind::MicrosoftAuthenticator
                | MethodKind::PasswordlessMicrosoftAuthenticator
                | MethodKind::Fido2
                | MethodKind::WindowsHelloForBusiness
        )
    }
}

/// One method of a user's full method list, as the lock-out preflight needs it (parsed at the Graph edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObservedMethod {
    /// What it is.
    pub kind: MethodKind,
    /// A Temporary Access Pass's `isUsable` (true for every other kind).
    pub usable: bool,
}

impl ObservedMethod {
    /// A method of `kind` (usable).
    pub fn of(kind: MethodKind) -> ObservedMethod {
        ObservedMethod { kind, usable: true }
    }

    /// Counts as a second factor (see [`MethodKind::is_second_factor`]; a TAP while usable).
    pub fn is_second_factor(&self) -> bool {
        self.kind.is_second_factor() || self.usable_tap()
    }

    /// Counts as a way to sign in (see [`MethodKind::signs_in`]; a TAP while usable).
    pub fn signs_in(&self) -> bool {
        self.kind.signs_in() || self.usable_tap()
    }

    fn usable_tap(&self) -> bool {
        self.kind == MethodKind::TemporaryAccessPass && self.usable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_ids_round_trip() {
        for t in PhoneType::ALL {
            assert_eq!(PhoneType::from_method_id(t.method_id()), Some(t));
            assert_eq!(PhoneType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            PhoneType::from_method_id("28c10230-6103-485e-b985-444c60001490"),
            None
        );
    }

    #[test]
    fn registration_types_name_their_kind_and_segment() {
        for k in RegistrationType::KNOWN {
            let t = RegistrationType::of(k).unwrap();
            assert_eq!(t.kind(), k);
            assert_eq!(Some(t.segment().as_str()), k.segment());
            assert!(k.admin_deletable());
        }
        assert_eq!(
            RegistrationType::of(MethodKind::Fido2).unwrap().segment(),
            "fido2Methods"
        );
        let later = RegistrationType::new("quantumKey");
        assert_eq!(later.kind(), MethodKind::Unknown);
        assert_eq!(later.segment(), "quantumKeyMethods");
        assert_eq!(RegistrationType::of(MethodKind::Email), None);
        assert!(!MethodKind::Password.admin_deletable());
        assert_eq!(MethodKind::QrCodePin.segment(), Some("qrCodePinMethod"));
    }

    #[test]
    fn unknown_sms_state_is_kept() {
        let s: SmsSignInState = serde_json::from_str("\"somethingNew\"").unwrap();
        assert_eq!(s, SmsSignInState::Other("somethingNew".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"somethingNew\"");
        assert_eq!(SmsSignInState::parse("ready"), SmsSignInState::Ready);
    }

    #[test]
    fn undeclared_type_depends_on_mode() {
        let mut u = DesiredUser {
            user: "a@b".into(),
            mode: Mode::Exact,
            phones: BTreeMap::new(),
            sms_sign_in: None,
            email: None,
            registrations: BTreeMap::new(),
            source: SourceLocation {
                file: "f".into(),
                line: 1,
                column: 1,
            },
        };
        assert_eq!(u.desired(PhoneType::Office), Some(&DesiredPhone::Absent));
        u.mode = Mode::Merge;
        assert_eq!(u.desired(PhoneType::Office), None);
    }
}
