//! The plan as data: what [`super::plan`] produces, what `--out` saves and `apply --plan` loads, what every renderer
//! reads. Serde types only (plus small accessors); the rules that fill them live in `engine`.
//!
//! Numbers are strings here: canonical (`+1 2065555555`) in a fresh plan, masked (`+1 206•••5555 ·a1`) where a
//! saved plan hides an observed number the manifests don't contain. Nothing that apply needs to *send* is ever
//! masked: creates and updates carry manifest numbers, and deletes are addressed by type.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{
    Mode, PhoneType, Registration, RegistrationType, SmsSignIn, SmsSignInState, SourceLocation,
};

pub use super::action::{Action, Call, Op, Target};
use super::redact::{RedactScope, Redaction};

/// The plan file format this build writes and accepts. A plan with any other value is refused on load.
pub const FORMAT_VERSION: u32 = 1;

/// The default of `--max-deletes`.
pub const DEFAULT_MAX_DELETES: usize = 10;

/// Why an item is blocked (machine-readable; the text is in `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BlockCode {
    /// alternateMobile declared, but no mobile will exist (Graph refuses an alternateMobile without a mobile).
    AlternateMobileNeedsMobile,
    /// `smsSignIn: enabled`, but no mobile will exist.
    SmsSignInNeedsMobile,
    /// Deleting the mobile while an alternateMobile stays (Graph refuses; update the mobile instead).
    AlternateMobileKeepsMobile,
    /// `smsSignIn: enabled` and the mobile's `smsSignInState` says Graph won't allow it.
    SmsSignInState,
    /// Applying would leave the user nothing usable as a second factor or for sign-in.
    LockOut,
    /// The lock-out preflight needs the user's full method list, which was not read.
    LockOutNotChecked,
}

/// Something the manifests ask for that authctl will not do, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Blocked {
    /// What it is about.
    #[serde(rename = "type")]
    pub target: Target,
    /// The call that would have been made, if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Op>,
    /// As an action's `before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// As an action's `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The kind of reason.
    pub code: BlockCode,
    /// The reason, in words, with the remedy.
    pub reason: String,
    /// A blocked registration delete: which registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

/// Something only the user can finish (e.g. SMS sign-in set-up); reported, no call is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// What it is about.
    #[serde(rename = "type")]
    pub target: Target,
    /// What the user has to do.
    pub reason: String,
}

/// A user's phones and SMS sign-in as one comparable value: observed (canonicalised), after some actions, or
/// predicted after apply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserState {
    /// The phone number of each type present (canonical; masked in a redacted plan).
    pub phones: BTreeMap<PhoneType, String>,
    /// The mobile's `smsSignInState`. `None` when there is no mobile, or (with a mobile) when it is only known
    /// after apply: a mobile write with SMS sign-in unmanaged may register it automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_sign_in_state: Option<SmsSignInState>,
    /// The SSPR email address (masked in a redacted plan). Read only for users whose manifest manages the email
    /// or a registered type; `None` otherwise, or when the user has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Registrations of registered method types (every type the user has, declared or not), read only for users
    /// whose manifest manages the email or a registered type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registrations: Vec<Registration>,
}

impl UserState {
    /// The registrations of type `t` (type names compared case-insensitively, as `@odata.type` is).
    pub fn registrations_of<'a>(
        &'a self,
        t: &'a RegistrationType,
    ) -> impl Iterator<Item = &'a Registration> + 'a {
        self.registrations
            .iter()
            .filter(move |r| r.method_type.name().eq_ignore_ascii_case(t.name()))
    }
}

/// What the manifests want for the SSPR email method.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EmailWant {
    /// This address.
    Address(String),
    /// No email method.
    Absent,
}

/// What the manifests want for one user, resolved: only managed things appear.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DesiredState {
    /// Managed phone types: a canonical number, or `null` for absent. Unmanaged types (merge mode) are missing.
    pub phones: BTreeMap<PhoneType, Option<String>>,
    /// The SMS sign-in setting; missing when unmanaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_sign_in: Option<SmsSignIn>,
    /// The email method (`{"address": …}` or `"absent"`); missing when unmanaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailWant>,
    /// Managed registered types: `null` = absent (remove every registration of the type), a list = keep exactly
    /// these ids. Undeclared types are missing and never touched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub registrations: BTreeMap<RegistrationType, Option<BTreeSet<String>>>,
}

impl DesiredState {
    /// Whether the user's full method list is read (`GET …/authentication/methods`): the email or a registered
    /// type is managed. Phone-only users keep the phone reads (and their narrower permissions).
    pub fn reads_method_list(&self) -> bool {
        self.email.is_some() || !self.registrations.is_empty()
    }
}

/// A Graph error as reported for one user (from `GraphError::Api`, or a transport error's message).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphErrorSummary {
    /// HTTP status, when Graph answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Graph's `error.code`, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Graph's `error.message` verbatim, or the transport error.
    pub message: String,
    /// Graph's `request-id`, for Microsoft support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl GraphErrorSummary {
    /// True when Graph refused a delete because the method is the user's default MFA method: a 400 whose message says
    /// "default method" or "default authentication method" (Graph words it both ways). Offboarding tries such a
    /// method again after the user's other methods; apply fails the user with the remedy after its other removals.
    pub fn is_default_method_refusal(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        self.status == Some(400)
            && (m.contains("default method") || m.contains("default authentication method"))
    }
}

impl fmt::Display for GraphErrorSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.status {
            write!(f, "{s} ")?;
        }
        if let Some(c) = &self.code {
            write!(f, "{c}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(r) = &self.request_id {
            write!(f, " (request-id {r})")?;
        }
        Ok(())
    }
}

/// Why a user could not be planned. Other users still plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum UserError {
    /// No such user in the tenant.
    NotFound {
        /// The user as written in the manifest.
        user: String,
    },
    /// Graph answered with an error while resolving or reading the user.
    Graph {
        /// The error.
        error: GraphErrorSummary,
    },
    /// Two manifest entries resolve to the same user (e.g. its UPN and its object id).
    Duplicate {
        /// The other entry as written.
        other_user: String,
        /// Where the other entry is.
        other_source: SourceLocation,
    },
    /// The caller's observed set has no entry for this user (a bug in the caller).
    NotRead,
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserError::NotFound { user } => write!(f, "user `{user}` does not exist in the tenant"),
            UserError::Graph { error } => write!(f, "Graph error: {error}"),
            UserError::Duplicate {
                other_user,
                other_source,
            } => write!(
                f,
                "the same user is also declared as `{other_user}` at {other_source}; declare each user once"
            ),
            UserError::NotRead => f.write_str("the user's phone methods were not read"),
        }
    }
}

/// An error that stops the whole run (no user is planned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RunError {
    /// Graph returned masked phone numbers: the caller may not read full numbers, so no diff is possible.
    MaskedNumbers {
        /// The users (UPN or id) whose numbers came back masked.
        users: Vec<String>,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::MaskedNumbers { users } => {
                let shown: Vec<&str> = users.iter().take(5).map(String::as_str).collect();
                let more = users.len().saturating_sub(shown.len());
                write!(
                    f,
                    "Graph returned masked phone numbers for {} user(s) ({}{}): the caller can't read full numbers, \
                     so authctl can't compare them with the manifests and plans nothing. Remedies: use an app-only \
                     credential with the application permission UserAuthenticationMethod.Read.All (or \
                     UserAuthMethod-Phone.Read.All), or sign in with the Privileged Authentication Administrator \
                     role instead of Authentication Administrator",
                    users.len(),
                    shown.join(", "),
                    if more > 0 {
                        format!(", and {more} more")
                    } else {
                        String::new()
                    }
                )
            }
        }
    }
}

/// The outcome of the lock-out preflight for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LockoutCheck {
    /// The plan deletes no phone and disables no `ready` SMS sign-in for this user.
    #[default]
    NotNeeded,
    /// Something usable remains after apply.
    Passed,
    /// Nothing usable would remain: destructive actions are blocked.
    Blocked,
    /// Nothing usable would remain, and `--allow-lockout` was given: the actions stay.
    Allowed,
    /// The method list was not read: destructive actions are blocked until the caller re-plans with it
    /// (see `Plan::users_needing_lockout_check`).
    NotChecked,
}

/// One user's part of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPlan {
    /// The user as written in the manifest (UPN or object id).
    pub user: String,
    /// The object id, once resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The userPrincipalName, once resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Where the user is declared.
    pub source: SourceLocation,
    /// The effective mode.
    pub mode: Mode,
    /// What the manifests want (managed things only).
    pub desired: DesiredState,
    /// The observed state (canonical), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<UserState>,
    /// The calls to make, in order.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// What is not done, and why.
    #[serde(default)]
    pub blocked: Vec<Blocked>,
    /// What only the user can finish.
    #[serde(default)]
    pub pending: Vec<Pending>,
    /// Things to look at that change nothing (unknown phone types kept, unknown SMS states...).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The lock-out preflight's outcome.
    #[serde(default)]
    pub lockout: LockoutCheck,
    /// sha256 (hex) of the canonical serialisation of the *managed* observed state (see `UserPlan::freshness`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_state_digest: Option<String>,
    /// The managed-state digest after each prefix of `actions`: element `k` is the digest after the first `k`
    /// actions (element 0 is `managed_state_digest`). Freshness compares a re-read user against these.
    #[serde(default)]
    pub prefix_digests: Vec<String>,
    /// The state after apply (all types, managed or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<UserState>,
    /// Why the user could not be planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<UserError>,
}

impl UserPlan {
    /// The UPN when known, else the user as written: the name to show people.
    pub fn display_name(&self) -> &str {
        self.upn.as_deref().unwrap_or(&self.user)
    }

    /// Whether the plan makes any call for this user.
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }
}

/// The `--max-deletes` guard as evaluated when planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteGuard {
    /// The limit (`--max-deletes`).
    pub limit: usize,
    /// Deletes in the plan: phones, the email method and registrations (every removal counts).
    pub deletes: usize,
    /// `deletes <= limit`. Apply refuses a plan whose guard does not hold.
    pub holds: bool,
}

/// The guard settings the plan was made under, and whether they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Guards {
    /// More deletes than the limit refuse the whole apply.
    pub max_deletes: DeleteGuard,
    /// `--allow-lockout`: lock-out is reported but does not block.
    pub allow_lockout: bool,
}

/// Counts over the whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Users in the plan.
    pub users: usize,
    /// Users with at least one action.
    pub users_with_changes: usize,
    /// Phone creates.
    pub add: usize,
    /// Phone updates.
    pub change: usize,
    /// Deletes: phones, email methods, registrations.
    pub destroy: usize,
    /// SMS sign-in enables and disables.
    pub sms_changes: usize,
    /// Blocked items.
    pub blocked: usize,
    /// Pending user actions.
    pub pending: usize,
    /// Users with an error.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Methods of the authentication methods policy to change (one PATCH each, applied before any user).
    #[serde(default)]
    pub policy_changes: usize,
    /// Errors of the policy plan (a group name that resolves to nothing, the policy unreadable): nothing of the
    /// policy is applied.
    #[serde(default)]
    pub policy_errors: usize,
}

impl Summary {
    /// These counts with the policy plan's (its methods to change and its errors).
    pub fn with_policy(mut self, policy: Option<&super::policy_model::PolicyPlan>) -> Summary {
        self.policy_changes = policy.map_or(0, |p| p.methods.len());
        self.policy_errors = policy.map_or(0, |p| p.errors.len());
        self
    }

    /// Total calls planned for users (the policy's PATCHes are [`Summary::policy_changes`]).
    pub fn actions(&self) -> usize {
        self.add + self.change + self.destroy + self.sms_changes
    }

    /// The one-line summary: `Plan: 2 policy methods to change, 3 to add, 1 to change, 2 to destroy, 1 SMS sign-in
    /// change; 1 blocked` (the policy part only when the policy changes).
    pub fn line(&self) -> String {
        let nothing = self.actions() == 0 && self.policy_changes == 0;
        let mut s = if nothing && (self.errors > 0 || self.policy_errors > 0) {
            // Never "No changes" when users or the policy could not be read: nothing is known about them.
            "Plan: nothing to change for what could be read".to_string()
        } else if nothing {
            "No changes: the authentication methods match the manifests".to_string()
        } else {
            format!(
                "Plan: {}{} to add, {} to change, {} to destroy, {} SMS sign-in change{}",
                if self.policy_changes > 0 {
                    format!(
                        "{} policy method{} to change, ",
                        self.policy_changes,
                        if self.policy_changes == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                },
                self.add,
                self.change,
                self.destroy,
                self.sms_changes,
                if self.sms_changes == 1 { "" } else { "s" }
            )
        };
        let mut extra = Vec::new();
        if self.blocked > 0 {
            extra.push(format!("{} blocked", self.blocked));
        }
        if self.pending > 0 {
            extra.push(format!(
                "{} pending user action{}",
                self.pending,
                if self.pending == 1 { "" } else { "s" }
            ));
        }
        if self.errors > 0 {
            extra.push(format!(
                "{} user error{}",
                self.errors,
                if self.errors == 1 { "" } else { "s" }
            ));
        }
        if self.policy_errors > 0 {
            extra.push(format!(
                "{} policy error{}",
                self.policy_errors,
                if self.policy_errors == 1 { "" } else { "s" }
            ));
        }
        if !extra.is_empty() {
            s.push_str("; ");
            s.push_str(&extra.join(", "));
        }
        s
    }
}

/// An authctl plan: per user, the Graph calls that make the authentication methods match the manifests, what is blocked and why,
/// and the state predicted after apply. Saved by `authctl plan --out`, applied by `authctl apply --plan`.
///
/// (In Rust: build it with `plan::plan`, save it with `Plan::to_file_json`, load it with `Plan::from_json`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The plan file format version (1). A plan of another version is refused.
    pub format_version: u32,
    /// The authctl version that made the plan.
    pub authctl_version: String,
    /// sha256 (hex) over the manifest files, as the manifest loader computes it.
    pub manifest_digest: String,
    /// The git commit of the manifests, when they are in a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// When the plan was made.
    #[schemars(with = "String")]
    pub created: jiff::Timestamp,
    /// Guards and whether they hold.
    pub guards: Guards,
    /// How numbers are masked in this plan (salt and fingerprint length).
    pub redaction: Redaction,
    /// An error that stopped the whole run; no user is planned then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    /// The users, in manifest order.
    pub users: Vec<UserPlan>,
    /// Counts.
    pub summary: Summary,
    /// The tenant's authentication methods policy, when the manifests declare it (kind
    /// `AuthenticationMethodsPolicy`): applied before any user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<super::policy_model::PolicyPlan>,
}

/// Why a saved plan could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// The file is not a plan file this build can read (not JSON, or a field is missing or malformed).
    #[error("not a valid authctl plan file: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The plan was written in another format version.
    #[error(
        "the plan file has format version {found:?}, this authctl ({authctl}) reads only version {supported}; \
         make a new plan with this authctl"
    )]
    FormatVersion {
        /// The version found (None when missing or not a number).
        found: Option<u64>,
        /// The version this build reads.
        supported: u32,
        /// This build's version.
        authctl: &'static str,
    },
}

impl Plan {
    /// Loads a saved plan, refusing any other format version (checked before the rest is read, so a newer format
    /// with other fields gets the version error, not a parse error).
    pub fn from_json(text: &str) -> Result<Plan, PlanFileError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let found = value
            .get("formatVersion")
            .and_then(serde_json::Value::as_u64);
        if found != Some(u64::from(FORMAT_VERSION)) {
            return Err(PlanFileError::FormatVersion {
                found,
                supported: FORMAT_VERSION,
                authctl: env!("CARGO_PKG_VERSION"),
            });
        }
        Ok(serde_json::from_value(value)?)
    }

    /// The plan file's text: observed numbers the manifests don't contain masked, pretty JSON, trailing newline.
    /// The caller writes it atomically with mode 0600.
    pub fn to_file_json(&self) -> String {
        let mut out = Vec::new();
        self.clone()
            .into_file_json(&mut out)
            .expect("writing to memory cannot fail");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// [`Plan::to_file_json`] streamed into `w`, consuming the plan so the numbers are masked in place instead of
    /// in a copy.
    pub fn into_file_json(self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let redacted = self.into_redacted(RedactScope::NotInManifests);
        serde_json::to_writer_pretty(&mut *w, &redacted)?;
        w.write_all(b"\n")
    }

    /// Whether any call is planned.
    pub fn has_changes(&self) -> bool {
        self.summary.actions() > 0 || self.policy.as_ref().is_some_and(|p| p.has_changes())
    }

    /// Whether the run failed or any user has an error (exit code 1).
    pub fn has_errors(&self) -> bool {
        self.error.is_some()
            || self.users.iter().any(|u| u.error.is_some())
            || self.policy.as_ref().is_some_and(|p| !p.errors.is_empty())
    }

    /// The exit code of `authctl plan` ([`crate::exit::decide`]): 1 for a run error, any user error or a failing
    /// guard (or, with `fail_on_blocked`, any blocked item or pending user action); else 2 with
    /// `detailed_exitcode` when anything would change; else 0.
    pub fn exit_code(
        &self,
        detailed_exitcode: bool,
        fail_on_blocked: bool,
    ) -> crate::exit::ExitCode {
        crate::exit::decide(
            crate::exit::Outcome {
                errors: self.has_errors() || !self.guards_hold(),
                changes: self.has_changes(),
                blocked: self.summary.blocked + self.summary.pending > 0,
            },
            crate::exit::Policy {
                detailed: detailed_exitcode,
                fail_on_blocked,
            },
        )
    }

    /// Whether every guard holds (apply refuses the plan otherwise).
    pub fn guards_hold(&self) -> bool {
        self.guards.max_deletes.holds
    }

    /// Object ids of users whose plan deletes a phone or disables a `ready` SMS sign-in but whose full method list
    /// was not in the observed set. Read `GET /users/{id}/authentication/methods` for them, put the lists into
    /// the [`super::ObservedSet`], and plan again; until then their destructive actions are blocked.
    pub fn users_needing_lockout_check(&self) -> Vec<&str> {
        self.users
            .iter()
            .filter(|u| u.lockout == LockoutCheck::NotChecked)
            .filter_map(|u| u.id.as_deref())
            .collect()
    }

    /// The plan's own findings about the manifests as diagnostics (the manifest loader's type, so `validate`'s
    /// renderers show them): one error per user declared twice after resolution (its UPN and its object id),
    /// placed at the later entry and labelled at both.
    pub fn diagnostics(&self) -> Vec<crate::manifest::Diagnostic> {
        let mut out = Vec::new();
        for u in &self.users {
            if let Some(UserError::Duplicate {
                other_user,
                other_source,
            }) = &u.error
                && (u.source.file.as_str(), u.source.line, u.source.column)
                    > (
                        other_source.file.as_str(),
                        other_source.line,
                        other_source.column,
                    )
            {
                let who = u.upn.as_deref().unwrap_or(&u.user);
                out.push(
                    crate::manifest::Diagnostic::error(
                        "duplicate-user",
                        &u.source,
                        "",
                        format!(
                            "`{}` and `{other_user}` (at {other_source}) are the same user ({who})",
                            u.user
                        ),
                    )
                    .with_primary_label("declared again here")
                    .with_label(other_source, 0, "first declared here")
                    .with_help(format!(
                        "keep one entry for the user and remove the other (first at {other_source}, again at {})",
                        u.source
                    )),
                );
            }
        }
        out
    }

    /// The user with this object id.
    pub fn user_by_id(&self, id: &str) -> Option<&UserPlan> {
        self.users.iter().find(|u| u.id.as_deref() == Some(id))
    }

    /// The JSON Schema (draft-07) of the plan file, as pretty JSON with a trailing newline: byte for byte what
    /// `schemas/plan.schema.json` commits.
    pub fn schema_json() -> String {
        let schema = crate::json_schema::schema_for::<Plan>("plan.schema.json");
        let mut s = serde_json::to_string_pretty(&schema).expect("a schema always serialises");
        s.push('\n');
        s
    }
}
impl Plan {
    /// A copy with numbers masked: observed numbers the manifests don't contain ([`RedactScope::NotInManifests`],
    /// the saved plan file) or every number ([`RedactScope::All`]).
    pub fn redacted(&self, scope: RedactScope) -> Plan {
        self.clone().into_redacted(scope)
    }

    /// [`Plan::redacted`] in place, without the copy (a 100,000-user plan is hundreds of megabytes).
    pub fn into_redacted(mut self, scope: RedactScope) -> Plan {
        let manifest_numbers: HashSet<String> = self
            .users
            .iter()
            .flat_map(|u| {
                let email = match &u.desired.email {
                    Some(EmailWant::Address(a)) => Some(a.clone()),
                    _ => None,
                };
                u.desired.phones.values().flatten().cloned().chain(email)
            })
            .collect();
        let r = self.redaction.clone();
        let r = &r;
        let mask = |n: &mut String| {
            let keep =
                scope == RedactScope::NotInManifests && manifest_numbers.contains(n.as_str());
            if !keep {
                *n = r.mask(n);
            }
        };
        let mask_state = |s: &mut UserState| {
            s.phones.values_mut().for_each(mask);
            s.email.iter_mut().for_each(mask);
        };
        // SMS sign-in states and registration descriptions are not personal data; numbers and addresses are.
        let masked = |t: Target| !matches!(t, Target::SmsSignIn | Target::Registration);
        for u in &mut self.users {
            if scope == RedactScope::All {
                u.desired.phones.values_mut().flatten().for_each(mask);
                if let Some(EmailWant::Address(a)) = &mut u.desired.email {
                    mask(a);
                }
            }
            u.observed.iter_mut().for_each(mask_state);
            u.predicted.iter_mut().for_each(mask_state);
            for a in &mut u.actions {
                if masked(a.target()) {
                    a.before.iter_mut().for_each(mask);
                    a.after.iter_mut().for_each(mask);
                }
            }
            for b in &mut u.blocked {
                if masked(b.target) {
                    b.before.iter_mut().for_each(mask);
                    b.after.iter_mut().for_each(mask);
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod summary_tests {
    use super::Summary;

    #[test]
    fn the_summary_line_counts_policy_methods_and_policy_errors() {
        let s = Summary {
            policy_changes: 5,
            add: 3,
            ..Summary::default()
        };
        assert_eq!(
            s.line(),
            "Plan: 5 policy methods to change, 3 to add, 0 to change, 0 to destroy, 0 SMS sign-in changes"
        );
        let only_policy = Summary {
            policy_changes: 1,
            ..Summary::default()
        };
        assert_eq!(
            only_policy.line(),
            "Plan: 1 policy method to change, 0 to add, 0 to change, 0 to destroy, 0 SMS sign-in changes"
        );
        assert_eq!(
            Summary::default().line(),
            "No changes: the authentication methods match the manifests"
        );
        // A policy that could not be planned is never "No changes".
        let failed = Summary {
            policy_errors: 1,
            ..Summary::default()
        };
        assert_eq!(
            failed.line(),
            "Plan: nothing to change for what could be read; 1 policy error"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_method_refusal_is_recognised_by_status_and_words() {
        let e = |status, message: &str| GraphErrorSummary {
            status: Some(status),
            code: Some("badRequest".into()),
            message: message.into(),
            request_id: None,
        };
        assert!(e(
            400,
            "The requested authentication method id of [x] matches the user's current default authentication method, and cannot be deleted until the default authentication method is changed."
        ).is_default_method_refusal());
        assert!(e(
            400,
            "Cannot delete default method with other methods configured. Please change default method before deletion."
        ).is_default_method_refusal());
        assert!(!e(400, "Invalid request.").is_default_method_refusal());
        assert!(!e(403, "default method").is_default_method_refusal());
    }
}
