//! A planned Graph call: [`Call`] (only the calls Graph has), its [`Op`] and [`Target`] as the plan file writes
//! them, and the [`Action`] a user's plan lists. The file format is in `ActionRepr`; a pair Graph has no call for
//! is refused on load.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{PhoneType, Registration, SmsSignInState};

/// What an action or a blocked item is about: one of the three phone types, the mobile's SMS sign-in, the SSPR
/// email method, or one registration of a registered method type (which one is in the action's `registration`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    /// The `mobile` phone method.
    Mobile,
    /// The `alternateMobile` phone method.
    AlternateMobile,
    /// The `office` phone method.
    Office,
    /// SMS sign-in on the mobile (`enableSmsSignIn` / `disableSmsSignIn`).
    SmsSignIn,
    /// The SSPR email method (`emailMethods`, one per user, fixed id).
    Email,
    /// One registration of a registered method type (FIDO2 key, Authenticator, ...), named by the action's
    /// `registration` (type and id).
    Registration,
}

impl Target {
    /// The phone type, for the three phone targets.
    pub fn phone_type(self) -> Option<PhoneType> {
        match self {
            Target::Mobile => Some(PhoneType::Mobile),
            Target::AlternateMobile => Some(PhoneType::AlternateMobile),
            Target::Office => Some(PhoneType::Office),
            Target::SmsSignIn | Target::Email | Target::Registration => None,
        }
    }

    /// The manifest's spelling (`mobile`, `alternateMobile`, `office`, `smsSignIn`).
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Mobile => "mobile",
            Target::AlternateMobile => "alternateMobile",
            Target::Office => "office",
            Target::SmsSignIn => "smsSignIn",
            Target::Email => "email",
            Target::Registration => "registration",
        }
    }
}

impl From<PhoneType> for Target {
    fn from(t: PhoneType) -> Target {
        match t {
            PhoneType::Mobile => Target::Mobile,
            PhoneType::AlternateMobile => Target::AlternateMobile,
            PhoneType::Office => Target::Office,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Graph call an action makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Op {
    /// `POST …/phoneMethods` with the `after` number.
    Create,
    /// `PATCH …/phoneMethods/{fixed id}` to the `after` number.
    Update,
    /// `DELETE …/phoneMethods/{fixed id}`.
    Delete,
    /// `POST …/phoneMethods/{mobile id}/enableSmsSignIn`.
    Enable,
    /// `POST …/phoneMethods/{mobile id}/disableSmsSignIn`.
    Disable,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Enable => "enable",
            Op::Disable => "disable",
        })
    }
}

/// The Graph calls there are: a phone of one of the three types created, updated or deleted, SMS sign-in enabled or
/// disabled (always on the mobile), the email method created, updated or deleted, or one registration of a
/// registered type deleted (an admin can only remove those). What Graph has no call for ("enable SMS sign-in on the
/// office phone", "delete SMS sign-in", "create a FIDO2 key") has no value here, and a plan file naming one is
/// refused on load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `POST …/phoneMethods` with the `after` number.
    Create(PhoneType),
    /// `PATCH …/phoneMethods/{fixed id}` to the `after` number.
    Update(PhoneType),
    /// `DELETE …/phoneMethods/{fixed id}`.
    Delete(PhoneType),
    /// `POST …/phoneMethods/{mobile id}/enableSmsSignIn`.
    EnableSmsSignIn,
    /// `POST …/phoneMethods/{mobile id}/disableSmsSignIn`.
    DisableSmsSignIn,
    /// `POST …/emailMethods` with the `after` address.
    CreateEmail,
    /// `PATCH …/emailMethods/{fixed id}` to the `after` address.
    UpdateEmail,
    /// `DELETE …/emailMethods/{fixed id}`.
    DeleteEmail,
    /// `DELETE …/{type}Methods/{id}` of the action's `registration`.
    DeleteRegistration,
}

impl Call {
    /// The call for `op` on `target`, or `None` when Graph has none (an SMS op on a phone, a phone op on SMS
    /// sign-in).
    pub fn new(op: Op, target: Target) -> Option<Call> {
        match (op, target.phone_type()) {
            (Op::Create, Some(t)) => Some(Call::Create(t)),
            (Op::Update, Some(t)) => Some(Call::Update(t)),
            (Op::Delete, Some(t)) => Some(Call::Delete(t)),
            (Op::Enable, None) if target == Target::SmsSignIn => Some(Call::EnableSmsSignIn),
            (Op::Disable, None) if target == Target::SmsSignIn => Some(Call::DisableSmsSignIn),
            (Op::Create, None) if target == Target::Email => Some(Call::CreateEmail),
            (Op::Update, None) if target == Target::Email => Some(Call::UpdateEmail),
            (Op::Delete, None) if target == Target::Email => Some(Call::DeleteEmail),
            (Op::Delete, None) if target == Target::Registration => Some(Call::DeleteRegistration),
            _ => None,
        }
    }

    /// The operation.
    pub fn op(self) -> Op {
        match self {
            Call::Create(_) | Call::CreateEmail => Op::Create,
            Call::Update(_) | Call::UpdateEmail => Op::Update,
            Call::Delete(_) | Call::DeleteEmail | Call::DeleteRegistration => Op::Delete,
            Call::EnableSmsSignIn => Op::Enable,
            Call::DisableSmsSignIn => Op::Disable,
        }
    }

    /// What it acts on.
    pub fn target(self) -> Target {
        match self {
            Call::Create(t) | Call::Update(t) | Call::Delete(t) => t.into(),
            Call::EnableSmsSignIn | Call::DisableSmsSignIn => Target::SmsSignIn,
            Call::CreateEmail | Call::UpdateEmail | Call::DeleteEmail => Target::Email,
            Call::DeleteRegistration => Target::Registration,
        }
    }
}

/// One planned Graph call for one user. A user's actions are in the order they must be applied. In the plan file
/// the call is written as `op` and `type` (the format is unchanged); a pair Graph has no call for is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ActionRepr", into = "ActionRepr")]
pub struct Action {
    /// The call.
    pub call: Call,
    /// Phone targets: the observed number (none for a create). SMS sign-in: the observed `smsSignInState` (none
    /// when the mobile is created by an earlier action).
    pub before: Option<String>,
    /// Phone targets: the number to send (none for a delete). SMS sign-in: the predicted `smsSignInState`.
    pub after: Option<String>,
    /// Set on an SMS sign-in action that follows a mobile create or update: the write may have registered the new
    /// mobile for SMS sign-in by itself, so the executor re-reads the mobile first and decides with
    /// `plan::sms_decision` whether to call, report a pending user action, or report it blocked.
    pub after_reread: bool,
    /// Why this action is there when it is not obvious (e.g. "before deleting the mobile").
    pub note: Option<String>,
    /// A registration delete: the registration (type and id, which the call addresses; display name, detail and
    /// created date, which tell it apart to a human). `None` for every other call.
    pub registration: Option<Registration>,
}

/// One planned Graph call for one user. A user's actions are in the order they must be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Action")]
struct ActionRepr {
    /// The call.
    op: Op,
    /// What it acts on.
    #[serde(rename = "type")]
    target: Target,
    /// Phone targets: the observed number (none for a create). SMS sign-in: the observed `smsSignInState` (none
    /// when the mobile is created by an earlier action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before: Option<String>,
    /// Phone targets: the number to send (none for a delete). SMS sign-in: the predicted `smsSignInState`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// Set on an SMS sign-in action that follows a mobile create or update: the write may have registered the new
    /// mobile for SMS sign-in by itself, so the executor re-reads the mobile first and decides with
    /// `plan::sms_decision` whether to call, report a pending user action, or report it blocked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    after_reread: bool,
    /// Why this action is there when it is not obvious (e.g. "before deleting the mobile").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// Type `registration`: which registration is removed (its type and id address the call; display name,
    /// detail and created date are for people).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registration: Option<Registration>,
}

/// Whether a registration named in a plan file can be addressed safely: a type name of letters and digits (as
/// Graph's `@odata.type` short names are), an id without control characters or path separators, both bounded.
pub(crate) fn registration_problem(r: &Registration) -> Option<String> {
    let t = r.method_type.name();
    if t.is_empty() || t.len() > 64 || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some(format!(
            "a registration of type `{}`: not a method type name",
            crate::escape::visible(t)
        ));
    }
    if r.id.is_empty()
        || r.id.len() > 512
        || r.id
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Some(format!(
            "a {t} registration with id `{}`: not an id Graph gives",
            crate::escape::visible(&r.id)
        ));
    }
    let kind = r.method_type.kind();
    if matches!(
        kind,
        crate::model::MethodKind::Password
            | crate::model::MethodKind::Phone
            | crate::model::MethodKind::Email
    ) {
        return Some(format!(
            "a registration of type `{t}`: that type is not removed as a registration"
        ));
    }
    None
}

impl TryFrom<ActionRepr> for Action {
    type Error = String;
    fn try_from(r: ActionRepr) -> Result<Action, String> {
        let call = Call::new(r.op, r.target).ok_or_else(|| {
            format!(
                "an action `{}` on `{}`: Graph has no such call",
                r.op, r.target
            )
        })?;
        match (&r.registration, call) {
            (Some(reg), Call::DeleteRegistration) => {
                if let Some(problem) = registration_problem(reg) {
                    return Err(problem);
                }
            }
            (None, Call::DeleteRegistration) => {
                return Err(
                    "a registration delete without its `registration` (type and id)".into(),
                );
            }
            (Some(_), _) => {
                return Err(format!(
                    "an action `{}` on `{}` names a registration: only a registration delete does",
                    r.op, r.target
                ));
            }
            (None, _) => {}
        }
        Ok(Action {
            call,
            before: r.before,
            after: r.after,
            after_reread: r.after_reread,
            note: r.note,
            registration: r.registration,
        })
    }
}

impl From<Action> for ActionRepr {
    fn from(a: Action) -> ActionRepr {
        ActionRepr {
            op: a.call.op(),
            target: a.call.target(),
            before: a.before,
            after: a.after,
            after_reread: a.after_reread,
            note: a.note,
            registration: a.registration,
        }
    }
}

impl JsonSchema for Action {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        ActionRepr::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ActionRepr::json_schema(g)
    }
}

impl Action {
    /// An action with no note and no re-read.
    pub fn new(call: Call, before: Option<String>, after: Option<String>) -> Action {
        Action {
            call,
            before,
            after,
            after_reread: false,
            note: None,
            registration: None,
        }
    }

    /// The delete of one registration (`before`: a short description for people).
    pub fn delete_registration(r: Registration) -> Action {
        Action {
            before: Some(registration_label(&r)),
            registration: Some(r),
            ..Action::new(Call::DeleteRegistration, None, None)
        }
    }

    /// Whether two actions act on the same thing: the same target, and for registrations the same one.
    pub fn same_subject(&self, other: &Action) -> bool {
        self.target() == other.target()
            && self.registration.as_ref().map(|r| (&r.method_type, &r.id))
                == other.registration.as_ref().map(|r| (&r.method_type, &r.id))
    }

    /// The operation.
    pub fn op(&self) -> Op {
        self.call.op()
    }

    /// What it acts on.
    pub fn target(&self) -> Target {
        self.call.target()
    }

    /// The phone type, for phone actions.
    pub fn phone_type(&self) -> Option<PhoneType> {
        self.target().phone_type()
    }

    /// A delete, or an SMS sign-in disable of a mobile that was `ready`: what the lock-out check and the Markdown
    /// "destructive rows first" ordering care about.
    pub fn is_destructive(&self) -> bool {
        match self.call {
            Call::Delete(_) | Call::DeleteEmail | Call::DeleteRegistration => true,
            Call::DisableSmsSignIn => {
                self.before.as_deref().map(SmsSignInState::parse) == Some(SmsSignInState::Ready)
            }
            _ => false,
        }
    }
}

/// How a registration reads to a human: `fido2 "YubiKey 5" (model …; created …; id …)`.
pub fn registration_label(r: &Registration) -> String {
    format!("{} {}", r.method_type.name(), registration_detail(r))
}

/// A registration without its type: `"YubiKey 5" (model …; created …; id …)`.
pub fn registration_detail(r: &Registration) -> String {
    let mut s = String::new();
    if let Some(n) = &r.display_name {
        s.push_str(&format!("\"{n}\" "));
    }
    let mut parts = Vec::new();
    if let Some(d) = &r.detail {
        parts.push(d.clone());
    }
    if let Some(c) = &r.created {
        parts.push(format!("created {c}"));
    }
    parts.push(format!("id {}", r.id));
    s.push_str(&format!("({})", parts.join("; ")));
    s
}
