//! Report data: what apply did ([`ApplyReport`], filled by the executor) and what drift found ([`DriftReport`],
//! derived from a plan). Plain serde data; `crate::render` turns them into text and JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{PhoneType, Registration, SmsSignIn, SmsSignInState, SourceLocation};

use super::action::registration_label;
use super::model::{Action, Blocked, EmailWant, GraphErrorSummary, Pending, Plan, Target};

/// How one action went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ActionOutcome {
    /// The call succeeded, or its effect was already there (a delete answered 404, a create answered 409
    /// `phoneNumberNotUnique` with the phone saved, a create of unknown outcome found on re-read): say which in
    /// the note.
    Done,
    /// A re-read SMS action found nothing to do (in sync, or pending/blocked: see the note).
    NotNeeded,
    /// The call failed; the user stops here.
    Failed,
    /// The request was sent and no answer came before Graph became unreachable: it may have landed. The user stops
    /// here; a re-run re-reads the user before acting.
    OutcomeUnknown,
    /// Not run because the user was skipped (stale, UPN now elsewhere, guards).
    Skipped,
    /// Not run because an earlier action of the user failed, or the run stopped.
    NotAttempted,
}

/// One action and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionReport {
    /// The planned action.
    pub action: Action,
    /// What happened.
    pub outcome: ActionOutcome,
    /// Detail (idempotency case, SMS decision after re-read, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Graph's error, for a failed action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<GraphErrorSummary>,
}

/// How one user went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UserOutcome {
    /// Every action done (or nothing to do).
    Done,
    /// An action failed.
    Failed,
    /// Not applied: stale, UPN re-resolved elsewhere, missing, or the plan had an error for it.
    Skipped,
    /// Not reached (the run stopped first).
    NotAttempted,
}

/// One user in the apply report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserReport {
    /// The user as written in the manifest.
    pub user: String,
    /// Object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// userPrincipalName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// The outcome.
    pub outcome: UserOutcome,
    /// Why skipped / failed, in words (e.g. "changed since the plan").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every planned action and its outcome.
    #[serde(default)]
    pub actions: Vec<ActionReport>,
    /// The Graph error that stopped the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<GraphErrorSummary>,
    /// After apply: whether a re-read and re-plan found the user converged (`None` = not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged: Option<bool>,
    /// Anything else worth saying (convergence detail, SMS state after registration, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the plan does not do for this user, and why (as the plan shows it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<Blocked>,
    /// What only the user can finish (as the plan shows it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
}

/// What apply did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    /// A refusal of the whole apply (guard, format version...): no user applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every user of the plan.
    pub users: Vec<UserReport>,
    /// The authentication methods policy's PATCHes (applied before any user), when the plan changes the policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<PolicyOutcome>,
}

/// Counts of an [`ApplyReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyCounts {
    /// Users done.
    pub done: usize,
    /// Users failed.
    pub failed: usize,
    /// Users skipped.
    pub skipped: usize,
    /// Users not attempted.
    pub not_attempted: usize,
    /// Users not converged.
    pub not_converged: usize,
    /// Actions done.
    pub actions_done: usize,
    /// Methods of the authentication methods policy applied and read back as planned.
    #[serde(default)]
    pub policy_applied: usize,
    /// Methods of the policy not applied, or not read back as planned.
    #[serde(default)]
    pub policy_failed: usize,
}

impl ApplyReport {
    /// Counts by outcome.
    pub fn counts(&self) -> ApplyCounts {
        let mut c = ApplyCounts::default();
        for u in &self.users {
            match u.outcome {
                UserOutcome::Done => c.done += 1,
                UserOutcome::Failed => c.failed += 1,
                UserOutcome::Skipped => c.skipped += 1,
                UserOutcome::NotAttempted => c.not_attempted += 1,
            }
            if u.converged == Some(false) {
                c.not_converged += 1;
            }
            c.actions_done += u
                .actions
                .iter()
                .filter(|a| a.outcome == ActionOutcome::Done)
                .count();
        }
        c.policy_applied = self.policy.iter().filter(|p| p.ok()).count();
        c.policy_failed = self.policy.len() - c.policy_applied;
        c
    }

    /// Whether anything went wrong (exit code 1): a refusal, or a user failed, skipped, not attempted or not
    /// converged.
    pub fn has_failures(&self) -> bool {
        let c = self.counts();
        self.error.is_some()
            || c.failed + c.skipped + c.not_attempted + c.not_converged > 0
            || self.policy.iter().any(|p| !p.ok())
    }
}

/// Whether a drifted item would be changed by apply, is blocked, or waits for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DriftStatus {
    /// Apply would fix it.
    Planned,
    /// Apply can't (see the plan's blocked reason).
    Blocked,
    /// Only the user can finish it.
    Pending,
}

/// One thing that differs from the manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftDifference {
    /// What differs.
    #[serde(rename = "type")]
    pub target: Target,
    /// The manifests' value: a number or `absent`; for SMS sign-in `enabled` or `disabled`.
    pub desired: String,
    /// Graph's value: a number, or none; for SMS sign-in the mobile's `smsSignInState`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// What apply would do about it.
    pub status: DriftStatus,
    /// Type `registration`: the registration the manifests don't keep (a new one under a keep-list or `absent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

/// One drifted (or failed) user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftUser {
    /// The user as written.
    pub user: String,
    /// Object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// userPrincipalName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Where the user is declared.
    pub source: SourceLocation,
    /// What differs.
    pub differences: Vec<DriftDifference>,
    /// Why the user could not be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The drift document: users whose Graph state differs from the manifests. Exit 0 in sync (or only blocked and
/// pending differences), 2 on drift apply would fix, 1 on error ([`DriftReport::exit_code`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// No user drifted and nothing failed.
    pub in_sync: bool,
    /// Users checked.
    pub users_checked: usize,
    /// Users that drifted (any difference: planned, blocked or pending).
    pub drifted: usize,
    /// Users with a difference apply would fix (status `planned`): these make `drift` exit 2.
    #[serde(default)]
    pub fixable: usize,
    /// Users that could not be checked (and a run error, if any).
    pub errors: usize,
    /// A run-level error (masked numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Drifted or failed users only.
    pub users: Vec<DriftUser>,
    /// Methods of the authentication methods policy that differ from the manifests (apply would fix them; they
    /// count in `fixable`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<super::policy_model::MethodPlan>,
}

impl DriftReport {
    /// The exit code of `authctl drift` ([`crate::exit::decide`], the same policy as `plan --detailed-exitcode`):
    /// 1 when anything could not be checked (or, with `fail_on_blocked`, when anything is blocked or waits for the
    /// user); else 2 when apply would fix a difference; else 0. Blocked and pending differences are reported but
    /// exit 0 by themselves: no apply can fix them.
    pub fn exit_code(&self, fail_on_blocked: bool) -> crate::exit::ExitCode {
        crate::exit::decide(
            crate::exit::Outcome {
                errors: self.errors > 0,
                changes: self.fixable > 0,
                blocked: self.users.iter().any(|u| {
                    u.differences
                        .iter()
                        .any(|d| d.status != DriftStatus::Planned)
                }),
            },
            crate::exit::Policy {
                detailed: true,
                fail_on_blocked,
            },
        )
    }

    /// What drifted, from a plan (redact the plan first to mask numbers).
    pub fn from_plan(plan: &Plan) -> DriftReport {
        let mut users = Vec::new();
        for u in &plan.users {
            let status_of = |t: Target| {
                if u.blocked.iter().any(|b| b.target == t) {
                    DriftStatus::Blocked
                } else if u.pending.iter().any(|p| p.target == t) {
                    DriftStatus::Pending
                } else {
                    DriftStatus::Planned
                }
            };
            let mut differences = Vec::new();
            if let Some(obs) = &u.observed {
                for t in PhoneType::ALL {
                    let Some(want) = u.desired.phones.get(&t) else {
                        continue;
                    };
                    let have = obs.phones.get(&t);
                    if want.as_ref() != have {
                        differences.push(DriftDifference {
                            target: t.into(),
                            desired: want.clone().unwrap_or_else(|| "absent".into()),
                            observed: have.cloned(),
                            status: status_of(t.into()),
                            registration: None,
                        });
                    }
                }
                if let Some(want) = u.desired.sms_sign_in {
                    let ready = obs.sms_sign_in_state == Some(SmsSignInState::Ready);
                    let differs = match want {
                        SmsSignIn::Enabled => !ready,
                        SmsSignIn::Disabled => ready,
                    };
                    if differs {
                        differences.push(DriftDifference {
                            target: Target::SmsSignIn,
                            desired: want.to_string(),
                            observed: obs
                                .sms_sign_in_state
                                .as_ref()
                                .map(|s| s.as_str().to_string()),
                            status: status_of(Target::SmsSignIn),
                            registration: None,
                        });
                    }
                }
                if let Some(want) = &u.desired.email {
                    let (desired, differs) = match want {
                        EmailWant::Address(a) => (
                            a.clone(),
                            !obs.email
                                .as_deref()
                                .is_some_and(|o| o.eq_ignore_ascii_case(a)),
                        ),
                        EmailWant::Absent => ("absent".to_string(), obs.email.is_some()),
                    };
                    if differs {
                        differences.push(DriftDifference {
                            target: Target::Email,
                            desired,
                            observed: obs.email.clone(),
                            status: status_of(Target::Email),
                            registration: None,
                        });
                    }
                }
                for (t, keep) in &u.desired.registrations {
                    for r in obs.registrations_of(t) {
                        if keep.as_ref().is_some_and(|ids| {
                            ids.contains(&crate::model::registration_id_key(&r.id))
                        }) {
                            continue;
                        }
                        let blocked = u.blocked.iter().any(|b| {
                            b.target == Target::Registration
                                && b.registration.as_ref().is_some_and(|x| x.id == r.id)
                        });
                        differences.push(DriftDifference {
                            target: Target::Registration,
                            desired: match keep {
                                None => format!("{t}: absent"),
                                Some(ids) => format!("{t}: keep {} id(s)", ids.len()),
                            },
                            observed: Some(registration_label(r)),
                            status: if blocked {
                                DriftStatus::Blocked
                            } else {
                                DriftStatus::Planned
                            },
                            registration: Some(r.clone()),
                        });
                    }
                }
            }
            let error = u.error.as_ref().map(ToString::to_string);
            if !differences.is_empty() || error.is_some() {
                users.push(DriftUser {
                    user: u.user.clone(),
                    id: u.id.clone(),
                    upn: u.upn.clone(),
                    source: u.source.clone(),
                    differences,
                    error,
                });
            }
        }
        let policy_errors: Vec<String> = plan
            .policy
            .iter()
            .flat_map(|p| &p.errors)
            .map(|e| {
                if e.line > 0 {
                    format!(
                        "{}:{}:{}: {}: {}",
                        e.file, e.line, e.column, e.path, e.message
                    )
                } else {
                    e.message.clone()
                }
            })
            .collect();
        let policy: Vec<super::policy_model::MethodPlan> = plan
            .policy
            .iter()
            .flat_map(|p| p.methods.iter().cloned())
            .collect();
        let errors = users.iter().filter(|u| u.error.is_some()).count()
            + usize::from(plan.error.is_some())
            + policy_errors.len();
        let drifted = users.iter().filter(|u| !u.differences.is_empty()).count() + policy.len();
        let fixable = policy.len()
            + users
                .iter()
                .filter(|u| {
                    u.differences
                        .iter()
                        .any(|d| d.status == DriftStatus::Planned)
                })
                .count();
        DriftReport {
            fixable,
            in_sync: drifted == 0 && errors == 0,
            users_checked: plan.users.len(),
            drifted,
            errors,
            error: plan
                .error
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| (!policy_errors.is_empty()).then(|| policy_errors.join("; "))),
            users,
            policy,
        }
    }
}

/// What apply did with one method's PATCH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyOutcome {
    /// The manifest key of the method.
    pub method: String,
    /// What people call it.
    pub label: String,
    /// `applied` (Graph accepted the PATCH), `failed`, or `notAttempted` (an earlier PATCH failed).
    pub outcome: String,
    /// Whether the policy read back as planned (after every PATCH); none when not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged: Option<bool>,
    /// Graph's error, for a failed PATCH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<super::model::GraphErrorSummary>,
    /// Anything else worth saying.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl PolicyOutcome {
    /// Whether this method ended as planned.
    pub fn ok(&self) -> bool {
        self.outcome == "applied" && self.converged == Some(true)
    }
}
