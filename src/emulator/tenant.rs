//! The tenant file: the emulator's whole state as YAML (tenant id, apps and their credentials, users with their
//! methods, password-reset behaviour, banned passwords). The same types are the in-memory state, the journal's
//! records (one user as JSON per change) and what a clean shutdown writes back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::PhoneType;

use super::EmulatorError;
pub use super::roles::{ROLES, role_id};

/// The tenant file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tenant {
    /// The directory (tenant) id: a GUID. Tokens carry it as `tid`; the token endpoint accepts it (or one of
    /// `domains`, or `organizations`/`common`) as its path segment.
    pub tenant_id: String,
    /// Verified domain names (e.g. `contoso.com`), also accepted in place of the tenant id on the token endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// App registrations. The first one is the app `--emulate` uses.
    #[serde(default)]
    pub apps: Vec<App>,
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// How password-reset operations behave.
    #[serde(default, skip_serializing_if = "OperationBehaviour::is_default")]
    pub operations: OperationBehaviour,
    /// Passwords refused by the banned-password check (compared case-insensitively; a new password containing one
    /// of these fails the reset operation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub banned_passwords: Vec<String>,
    /// Groups (security groups as policy targets), with their members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// The authentication methods policy in Graph's JSON shape: any subset (`authenticationMethodConfigurations`
    /// by `id`, `registrationEnforcement`) laid over Graph's defaults at load. Absent: Graph's defaults, and SMS
    /// sign-in follows each user's `smsSignInPolicy`; present (seeded, or once written through Graph), SMS sign-in
    /// follows the `Sms` configuration's targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_methods_policy: Option<serde_json::Value>,
    /// The user `--auto-approve-device-code` signs in as (UPN); default: the first user holding a directory role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code_user: Option<String>,
}

/// A group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    /// Object id (GUID).
    pub id: String,
    /// Display name (not unique in Entra ID).
    pub display_name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Members: user object ids or UPNs, or the object ids of nested groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// An app registration (its service principal in this tenant).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct App {
    /// A display name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The application (client) id.
    pub client_id: String,
    /// A client secret (`client_credentials` with `client_secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A client certificate (PEM, `-----BEGIN CERTIFICATE-----`) for `client_assertion` signed with its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Federated identity credentials (workload identity federation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
    /// Application permissions granted with admin consent (`roles` in app-only tokens), e.g.
    /// `UserAuthenticationMethod.ReadWrite.All`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// Delegated permissions consented for this app (`scp` in tokens from device-code sign-in when `.default` is
    /// asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegated_permissions: Vec<String>,
    /// Access-token lifetime (`1h` default), e.g. `5m`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration_opt"
    )]
    pub token_lifetime: Option<Duration>,
}

/// A federated identity credential on an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedCredential {
    /// The external issuer (`iss` of the assertion), e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The exact subject (`sub`), e.g. `repo:contoso/authctl-config:environment:prod`.
    pub subject: String,
    /// The audience the assertion must carry (`api://AzureADTokenExchange` by default).
    #[serde(default = "default_audience")]
    pub audience: String,
    /// The issuer's public signing key: a PEM public key (RSA or EC P-256) or certificate. The emulator checks the
    /// assertion's signature with it (the real service fetches the issuer's JWKS).
    pub issuer_key: String,
}

fn default_audience() -> String {
    "api://AzureADTokenExchange".to_string()
}

/// A user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    /// Object id (GUID).
    pub id: String,
    /// userPrincipalName (matched case-insensitively).
    pub user_principal_name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// Synced from on-premises AD (`onPremisesSyncEnabled: true`): password reset needs `newPassword`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub synced: bool,
    /// In scope of the SMS sign-in policy: a mobile added or changed is registered for SMS sign-in automatically,
    /// and `enableSmsSignIn` is allowed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sms_sign_in_policy: bool,
    /// The default MFA method, which can't be deleted: a phone type (`mobile`, `alternateMobile`, `office`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_method: Option<PhoneType>,
    /// The default method when it is not a phone: the id of one of `methods` (e.g. a Microsoft Authenticator).
    /// Deleting it is refused as deleting a default phone is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_method_id: Option<String>,
    /// Directory roles by name (`Privileged Authentication Administrator`) or role template id; tokens carry the
    /// template ids as `wids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The password (device-code sign-in checks it; a successful reset replaces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// When the user's sign-in sessions were last revoked (`signInSessionsValidFromDateTime`, set by
    /// `revokeSignInSessions`): refresh tokens issued before it no longer work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_sessions_valid_from: Option<String>,
    /// Phone methods, at most one per type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phones: BTreeMap<PhoneType, Phone>,
    /// Methods of other known types (FIDO2, Authenticator, ...), by short type name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<Method>,
    /// Methods passed through verbatim (each a JSON object with its own `@odata.type`), for types authctl does not
    /// know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw_methods: Vec<serde_json::Value>,
}

/// A phone method as stored: the number exactly as sent, and its SMS sign-in state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Phone {
    /// `+CC number[xEXT]`, as sent.
    pub number: String,
    /// Graph's `smsSignInState`; computed from the policy when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_sign_in_state: Option<String>,
}

/// An authentication method of a type other than phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Method {
    /// Short type name: `password`, `fido2`, `microsoftAuthenticator`, `windowsHelloForBusiness`, `softwareOath`,
    /// `temporaryAccessPass`, `email`, `platformCredential`, `externalAuthentication`, `qrCodePin`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Method id.
    pub id: String,
    /// Other properties, returned as given (e.g. `displayName`, `emailAddress`, `isUsable`).
    #[serde(flatten)]
    pub properties: BTreeMap<String, serde_json::Value>,
}

impl User {
    /// How many methods the user has besides the password (phones, other types, methods passed through verbatim):
    /// Graph refuses to delete the default method "with other methods configured" (ASSUMPTIONS.md #130), so the
    /// default is deletable once it is the last one.
    pub fn methods_besides_password(&self) -> usize {
        self.phones.len()
            + self.methods.iter().filter(|m| m.kind != "password").count()
            + self.raw_methods.len()
    }
}

impl Method {
    /// Graph's `@odata.type` for the short type name (unknown names map to `#microsoft.graph.{name}AuthenticationMethod`).
    pub fn odata_type(&self) -> String {
        super::kinds::odata_type_of(&self.kind)
    }
}

/// How a password-reset operation progresses: it starts `notStarted`, each poll of it moves it one step through
/// `running` (`runningPolls` polls), then to its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationBehaviour {
    /// How many polls answer `running` before the outcome.
    #[serde(default = "default_running_polls")]
    pub running_polls: u32,
    /// The outcome when the password is acceptable: `succeeded` or `failed`.
    #[serde(default = "default_outcome")]
    pub outcome: String,
    /// `statusDetail` of a failed operation (when not failed for a banned password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_detail: Option<String>,
    /// `Retry-After` seconds sent with the 202 and with non-terminal polls.
    #[serde(default = "default_retry_after")]
    pub retry_after_seconds: u32,
    /// The base URL the `Location` of a reset points at instead of the emulator's own (e.g.
    /// `https://evil.example`), to test that a client refuses to follow an operation URL off the Graph host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_base: Option<String>,
}

fn default_running_polls() -> u32 {
    1
}
fn default_outcome() -> String {
    "succeeded".to_string()
}
fn default_retry_after() -> u32 {
    1
}

impl Default for OperationBehaviour {
    fn default() -> Self {
        OperationBehaviour {
            running_polls: default_running_polls(),
            outcome: default_outcome(),
            failure_detail: None,
            retry_after_seconds: default_retry_after(),
            location_base: None,
        }
    }
}

impl OperationBehaviour {
    fn is_default(&self) -> bool {
        *self == OperationBehaviour::default()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

mod duration_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format!("{}s", d.as_secs())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| crate::units::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Tenant {
    /// The tenant as YAML.
    pub fn to_yaml(&self) -> Result<String, EmulatorError> {
        serde_saphyr::to_string(self).map_err(|e| EmulatorError::Tenant(e.to_string()))
    }

    /// The group with this object id (case-insensitive).
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))
    }

    /// Whether `user` is a member of group `group_id`, directly or through nested groups.
    pub fn in_group(&self, user: &User, group_id: &str) -> bool {
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![group_id.to_ascii_lowercase()];
        while let Some(g) = todo.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            let Some(group) = self.group(&g) else {
                continue;
            };
            for m in &group.members {
                if user.matches(m) {
                    return true;
                }
                if self.group(m).is_some() {
                    todo.push(m.to_ascii_lowercase());
                }
            }
        }
        false
    }

    /// The groups `user` is a direct member of.
    pub fn groups_of(&self, user: &User) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| g.members.iter().any(|m| user.matches(m)))
            .collect()
    }

    /// The groups `user` is a member of, directly or through nested groups.
    pub fn transitive_groups_of(&self, user: &User) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| self.in_group(user, &g.id))
            .collect()
    }

    /// The user with this object id or UPN (case-insensitive).
    pub fn user(&self, id_or_upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.matches(id_or_upn))
    }

    pub(super) fn check(&self) -> Result<(), EmulatorError> {
        let mut seen = std::collections::HashSet::new();
        for u in &self.users {
            for key in [u.id.to_lowercase(), u.user_principal_name.to_lowercase()] {
                if !seen.insert(key.clone()) {
                    return Err(EmulatorError::Tenant(format!(
                        "user `{key}` appears twice in the tenant file"
                    )));
                }
            }
            check_methods(u)?;
            for (t, p) in &u.phones {
                if let Err(e) = super::rules::check_number(*t, &p.number) {
                    return Err(EmulatorError::Tenant(format!(
                        "user `{}`: {t} `{}`: {e}",
                        u.user_principal_name, p.number
                    )));
                }
            }
        }
        let mut groups = std::collections::HashSet::new();
        for g in &self.groups {
            if !groups.insert(g.id.to_lowercase()) || seen.contains(&g.id.to_lowercase()) {
                return Err(EmulatorError::Tenant(format!(
                    "group `{}` appears twice in the tenant file",
                    g.id
                )));
            }
        }
        for g in &self.groups {
            for m in &g.members {
                if self.user(m).is_none() && !groups.contains(&m.to_lowercase()) {
                    return Err(EmulatorError::Tenant(format!(
                        "group `{}`: member `{m}` is neither a user nor a group of the tenant file",
                        g.display_name
                    )));
                }
            }
        }
        let mut apps = std::collections::HashSet::new();
        for a in &self.apps {
            if !apps.insert(a.client_id.to_lowercase()) {
                return Err(EmulatorError::Tenant(format!(
                    "app `{}` appears twice in the tenant file",
                    a.client_id
                )));
            }
        }
        Ok(())
    }
}

/// The per-user rules of `methods`: ids unique within the user; one email method, with Graph's fixed id and an
/// `emailAddress`; at most one Temporary Access Pass, never holding the pass itself (Graph shows it only in the
/// create answer); a `defaultMethodId` naming one of the user's methods.
fn check_methods(u: &User) -> Result<(), EmulatorError> {
    let err = |m: String| EmulatorError::Tenant(format!("user `{}`: {m}", u.user_principal_name));
    let mut ids = std::collections::HashSet::new();
    for m in &u.methods {
        if m.id.is_empty() {
            return Err(err(format!("a `{}` method has no id", m.kind)));
        }
        if !ids.insert(m.id.to_lowercase()) {
            return Err(err(format!("method id `{}` appears twice", m.id)));
        }
        match m.kind.as_str() {
            "email" => {
                if !m.id.eq_ignore_ascii_case(super::kinds::EMAIL_METHOD_ID) {
                    return Err(err(format!(
                        "the email method's id is always `{}`, not `{}`",
                        super::kinds::EMAIL_METHOD_ID,
                        m.id
                    )));
                }
                if !m
                    .properties
                    .get("emailAddress")
                    .is_some_and(serde_json::Value::is_string)
                {
                    return Err(err("the email method needs an `emailAddress`".into()));
                }
            }
            "temporaryAccessPass"
                if m.properties
                    .get("temporaryAccessPass")
                    .is_some_and(|v| !v.is_null()) =>
            {
                return Err(err(
                    "a seeded Temporary Access Pass can't hold the pass (Graph shows it only when created)".into(),
                ));
            }
            _ => {}
        }
    }
    for one in ["email", "temporaryAccessPass", "qrCodePin"] {
        if u.methods.iter().filter(|m| m.kind == one).count() > 1 {
            return Err(err(format!("a user has at most one `{one}` method")));
        }
    }
    if let Some(d) = &u.default_method_id
        && !u.methods.iter().any(|m| m.id.eq_ignore_ascii_case(d))
    {
        return Err(err(format!(
            "`defaultMethodId` `{d}` is not one of the user's methods"
        )));
    }
    Ok(())
}

impl User {
    /// Whether `id_or_upn` names this user (object id or UPN, case-insensitive).
    pub fn matches(&self, id_or_upn: &str) -> bool {
        self.id.eq_ignore_ascii_case(id_or_upn)
            || self.user_principal_name.eq_ignore_ascii_case(id_or_upn)
    }

    /// The user's directory role template ids (`wids`).
    pub fn role_ids(&self) -> Vec<String> {
        self.roles.iter().map(|r| role_id(r)).collect()
    }
}
