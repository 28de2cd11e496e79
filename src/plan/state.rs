//! States and transitions: canonicalising an observed user, the SMS sign-in decision table, applying actions to a
//! state (predicted, or simulated the way Graph does it), the managed-state digest, and freshness for apply.

use sha2::{Digest, Sha256};

use crate::model::{ObservedPhone, ObservedUser, PhoneType, SmsSignIn, SmsSignInState};
use crate::phone::PhoneNumber;

use super::model::{Action, DesiredState, Op, Target, UserPlan, UserState};

/// An observed number authctl can't read: characters outside `[0-9 +x]`, or not a number at all. Graph masks
/// numbers for callers without full read rights.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {phone_type} number `{number}` is masked or unreadable")]
pub struct MaskedNumber {
    /// The phone type.
    pub phone_type: PhoneType,
    /// The number as Graph sent it.
    pub number: String,
}

/// Canonicalises one observed number, or reports it masked.
pub fn canonical_observed(p: &ObservedPhone) -> Result<String, MaskedNumber> {
    let masked = || MaskedNumber {
        phone_type: p.phone_type,
        number: p.phone_number.clone(),
    };
    if !p
        .phone_number
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '+' || c == 'x')
    {
        return Err(masked());
    }
    PhoneNumber::parse_observed(&p.phone_number)
        .map(|n| n.canonical())
        .map_err(|_| masked())
}

impl UserState {
    /// The canonical state of an observed user.
    pub fn from_observed(user: &ObservedUser) -> Result<UserState, MaskedNumber> {
        let mut state = UserState::default();
        for (t, p) in &user.phones {
            state.phones.insert(*t, canonical_observed(p)?);
            if *t == PhoneType::Mobile {
                state.sms_sign_in_state = Some(p.sms_sign_in_state.clone());
            }
        }
        state.email = user.email.clone();
        state.registrations = user.registrations.clone();
        Ok(state)
    }
}

/// What to do about SMS sign-in, given the desired setting and the mobile's observed `smsSignInState` (the table of
/// [`sms_decision`]). The executor calls this after re-reading the mobile for an action with [`Action::after_reread`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsDecision {
    /// Nothing to do.
    InSync,
    /// Nothing to do, but the state is one authctl does not know (reported as a warning).
    InSyncWarning(String),
    /// Call `enableSmsSignIn`.
    Enable,
    /// Call `disableSmsSignIn`.
    Disable,
    /// Only the user can finish set-up (`notConfigured`): reported, no call.
    PendingUserAction(String),
    /// Graph would refuse (or the state is unknown): reported, no call.
    Blocked(String),
}

/// The SMS sign-in table: desired `enabled`/`disabled` × the mobile's `smsSignInState` → call, in sync, pending
/// user action, or blocked (each cell pinned by a unit test).
pub fn sms_decision(desired: SmsSignIn, observed: &SmsSignInState) -> SmsDecision {
    use SmsSignInState as S;
    match (desired, observed) {
        (SmsSignIn::Enabled, S::Ready) => SmsDecision::InSync,
        (SmsSignIn::Enabled, S::NotEnabled) => SmsDecision::Enable,
        (SmsSignIn::Enabled, S::NotConfigured) => SmsDecision::PendingUserAction(
            "the user is in the SMS sign-in policy but still has to finish SMS sign-in set-up (smsSignInState \
             notConfigured); no call is made"
                .into(),
        ),
        (SmsSignIn::Enabled, S::NotAllowedByPolicy) => SmsDecision::Blocked(
            "the user is not in scope of the SMS sign-in policy (smsSignInState notAllowedByPolicy); add the user \
             to the policy's target group"
                .into(),
        ),
        (SmsSignIn::Enabled, S::PhoneNumberNotUnique) => SmsDecision::Blocked(
            "another user already uses this mobile number for SMS sign-in (smsSignInState phoneNumberNotUnique)"
                .into(),
        ),
        (SmsSignIn::Enabled, other) => SmsDecision::Blocked(format!(
            "the mobile's smsSignInState is `{other}`, on which authctl will not enable SMS sign-in"
        )),
        (SmsSignIn::Disabled, S::Ready) => SmsDecision::Disable,
        (
            SmsSignIn::Disabled,
            S::NotEnabled | S::NotConfigured | S::NotAllowedByPolicy | S::PhoneNumberNotUnique,
        ) => SmsDecision::InSync,
        (SmsSignIn::Disabled, other) => SmsDecision::InSyncWarning(format!(
            "the mobile's smsSignInState is `{other}`; taken as not enabled for sign-in"
        )),
    }
}

/// How [`step`] resolves a mobile write's automatic SMS sign-in registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Predicting: the state is unknown until re-read (`None`), and a following re-read SMS action lands on its
    /// `after` value.
    Predict,
    /// Simulating Graph: a mobile create or update leaves the mobile in this state (e.g. `ready` for a user in
    /// policy scope with a unique number, `notAllowedByPolicy` out of scope), and a re-read SMS action is decided
    /// with [`sms_decision`].
    Outcome(SmsSignInState),
}

/// Why Graph (as [`simulate`] models it) refuses an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulateError {
    /// A create of a type that already exists.
    #[error("{0}: a phone of this type already exists")]
    Exists(Target),
    /// An update or delete of a type that does not exist.
    #[error("{0}: no phone of this type")]
    NotFound(Target),
    /// An alternateMobile without a mobile.
    #[error("alternateMobile needs a mobile")]
    AlternateNeedsMobile,
    /// Deleting the mobile while an alternateMobile exists.
    #[error("the mobile can't be deleted while an alternateMobile exists")]
    MobileHasAlternate,
    /// An SMS sign-in call without a mobile, or enabling where the state forbids it.
    #[error("SMS sign-in can't be {op}d: {reason}")]
    Sms {
        /// The call.
        op: Op,
        /// Why.
        reason: String,
    },
    /// An action with a missing number.
    #[error("{0}: the action has no number")]
    NoNumber(Target),
    /// A registration delete of a registration the user does not have (Graph answers 404).
    #[error("no {method_type} registration with id {id}")]
    NoRegistration {
        /// The type.
        method_type: String,
        /// The id.
        id: String,
    },
}

/// The email and registration calls on a state (Graph's rules: one email method, created only when missing,
/// updated or deleted only when present; a registration deleted only when present).
fn step_method(state: &mut UserState, action: &Action) -> Result<(), SimulateError> {
    let target = action.target();
    if target == Target::Registration {
        let Some(r) = &action.registration else {
            return Err(SimulateError::NotFound(target));
        };
        let pos = state
            .registrations
            .iter()
            .position(|x| {
                x.id == r.id
                    && x.method_type
                        .name()
                        .eq_ignore_ascii_case(r.method_type.name())
            })
            .ok_or_else(|| SimulateError::NoRegistration {
                method_type: r.method_type.to_string(),
                id: r.id.clone(),
            })?;
        state.registrations.remove(pos);
        return Ok(());
    }
    match action.op() {
        Op::Create if state.email.is_some() => Err(SimulateError::Exists(target)),
        Op::Update | Op::Delete if state.email.is_none() => Err(SimulateError::NotFound(target)),
        Op::Create | Op::Update => {
            state.email = Some(
                action
                    .after
                    .clone()
                    .ok_or(SimulateError::NoNumber(target))?,
            );
            Ok(())
        }
        Op::Delete => {
            state.email = None;
            Ok(())
        }
        op => Err(SimulateError::Sms {
            op,
            reason: "not an email operation".into(),
        }),
    }
}

/// Applies one action to a state. With [`Registration::Outcome`] this is a model of Graph (refusing what Graph
/// refuses); with [`Registration::Predict`] it is the plan's prediction.
pub fn step(
    state: &mut UserState,
    action: &Action,
    reg: &Registration,
) -> Result<(), SimulateError> {
    let target = action.target();
    if matches!(target, Target::Email | Target::Registration) {
        return step_method(state, action);
    }
    if let Some(t) = target.phone_type() {
        let exists = state.phones.contains_key(&t);
        match action.op() {
            Op::Create | Op::Update => {
                if action.op() == Op::Create && exists {
                    return Err(SimulateError::Exists(target));
                }
                if action.op() == Op::Update && !exists {
                    return Err(SimulateError::NotFound(target));
                }
                if t == PhoneType::AlternateMobile && !state.phones.contains_key(&PhoneType::Mobile)
                {
                    return Err(SimulateError::AlternateNeedsMobile);
                }
                let n = action
                    .after
                    .clone()
                    .ok_or(SimulateError::NoNumber(target))?;
                state.phones.insert(t, n);
                if t == PhoneType::Mobile {
                    state.sms_sign_in_state = match reg {
                        Registration::Predict => None,
                        Registration::Outcome(s) => Some(s.clone()),
                    };
                }
            }
            Op::Delete => {
                if !exists {
                    return Err(SimulateError::NotFound(target));
                }
                if t == PhoneType::Mobile && state.phones.contains_key(&PhoneType::AlternateMobile)
                {
                    return Err(SimulateError::MobileHasAlternate);
                }
                state.phones.remove(&t);
                if t == PhoneType::Mobile {
                    state.sms_sign_in_state = None;
                }
            }
            Op::Enable | Op::Disable => {
                return Err(SimulateError::Sms {
                    op: action.op(),
                    reason: "not a phone operation".into(),
                });
            }
        }
        return Ok(());
    }
    // SMS sign-in.
    if !state.phones.contains_key(&PhoneType::Mobile) {
        return Err(SimulateError::Sms {
            op: action.op(),
            reason: "no mobile".into(),
        });
    }
    let desired = match action.op() {
        Op::Enable => SmsSignIn::Enabled,
        Op::Disable => SmsSignIn::Disabled,
        _ => {
            return Err(SimulateError::Sms {
                op: action.op(),
                reason: "not an SMS sign-in operation".into(),
            });
        }
    };
    match reg {
        Registration::Predict => {
            state.sms_sign_in_state = action.after.as_deref().map(SmsSignInState::parse);
        }
        Registration::Outcome(_) => {
            let current = state
                .sms_sign_in_state
                .clone()
                .unwrap_or(SmsSignInState::NotEnabled);
            let call = if action.after_reread {
                // The executor re-reads and decides; no call when in sync, pending or blocked.
                match sms_decision(desired, &current) {
                    SmsDecision::Enable => Some(Op::Enable),
                    SmsDecision::Disable => Some(Op::Disable),
                    _ => None,
                }
            } else {
                Some(action.op())
            };
            match call {
                Some(Op::Enable) => match current {
                    SmsSignInState::Ready | SmsSignInState::NotEnabled => {
                        state.sms_sign_in_state = Some(SmsSignInState::Ready);
                    }
                    other => {
                        return Err(SimulateError::Sms {
                            op: Op::Enable,
                            reason: format!("smsSignInState is {other}"),
                        });
                    }
                },
                Some(_) if current == SmsSignInState::Ready => {
                    state.sms_sign_in_state = Some(SmsSignInState::NotEnabled);
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Applies `actions` in order to an observed user the way Graph would, with `registration` as the state a mobile
/// create or update leaves (automatic SMS sign-in registration; an input so tests stay deterministic). Conditional
/// SMS actions are decided as the executor decides them, after a re-read. Numbers are stored as sent.
pub fn simulate(
    observed: &ObservedUser,
    actions: &[Action],
    registration: &SmsSignInState,
) -> Result<ObservedUser, SimulateError> {
    let mut state = UserState {
        phones: observed
            .phones
            .iter()
            .map(|(t, p)| (*t, p.phone_number.clone()))
            .collect(),
        sms_sign_in_state: observed
            .phones
            .get(&PhoneType::Mobile)
            .map(|p| p.sms_sign_in_state.clone()),
        email: observed.email.clone(),
        registrations: observed.registrations.clone(),
    };
    let reg = Registration::Outcome(registration.clone());
    for a in actions {
        step(&mut state, a, &reg)?;
    }
    let mut out = observed.clone();
    out.email = state.email.clone();
    out.registrations = state.registrations.clone();
    out.phones = state
        .phones
        .iter()
        .map(|(t, n)| {
            let sms = match t {
                PhoneType::Mobile => state
                    .sms_sign_in_state
                    .clone()
                    .unwrap_or(SmsSignInState::NotEnabled),
                _ => SmsSignInState::NotSupported,
            };
            (
                *t,
                ObservedPhone {
                    phone_type: *t,
                    phone_number: n.clone(),
                    sms_sign_in_state: sms,
                },
            )
        })
        .collect();
    Ok(out)
}

/// The SMS part of the managed state as the digest sees it. With `disabled` desired every non-`ready` state is
/// the same (they all mean "not usable for sign-in"), so a policy change that doesn't matter doesn't make a user
/// stale; with `enabled` each state leads to a different decision, so the raw value counts.
fn sms_component(desired: SmsSignIn, state: &UserState) -> String {
    if !state.phones.contains_key(&PhoneType::Mobile) {
        return "none".into();
    }
    match (&state.sms_sign_in_state, desired) {
        (None, _) => "unknown".into(),
        (Some(SmsSignInState::Ready), _) => "ready".into(),
        (Some(_), SmsSignIn::Disabled) => "notReady".into(),
        (Some(s), SmsSignIn::Enabled) => s.as_str().to_string(),
    }
}

/// How the SMS component of a managed state is compared at some point of a user's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsView {
    /// As observed (no mobile write yet).
    Exact,
    /// Anything: a mobile write happened and the re-read SMS action after it has not (auto-registration may have
    /// left any state).
    Any,
    /// After the re-read SMS action: any state on which the executor would not call again counts as the same
    /// (for `enabled`: everything but `notEnabled`, since pending and blocked states are reported, not fixed).
    Settled,
}

/// sha256 (hex) of the canonical serialisation of the managed part of `state`: each managed phone type's number
/// (or `-`), and the SMS component when SMS sign-in is managed, seen through `view`.
pub fn managed_digest(desired: &DesiredState, state: &UserState, view: SmsView) -> String {
    let mut s = String::from("authctl managed state v1\n");
    for t in desired.phones.keys() {
        let n = state.phones.get(t).map(String::as_str).unwrap_or("-");
        s.push_str(&format!("{t}={n}\n"));
    }
    if let Some(d) = desired.sms_sign_in {
        let c = match view {
            SmsView::Exact => sms_component(d, state),
            SmsView::Any => "*".to_string(),
            SmsView::Settled => match (d, sms_component(d, state).as_str()) {
                (SmsSignIn::Enabled, "notEnabled" | "unknown" | "none") => sms_component(d, state),
                (SmsSignIn::Enabled, _) => "settled".to_string(),
                (SmsSignIn::Disabled, c) => c.to_string(),
            },
        };
        s.push_str(&format!("smsSignIn={c}\n"));
    }
    // Lines for the email and registered types only when managed, so a phone-only plan's digests are unchanged.
    if desired.email.is_some() {
        let e = state.email.as_deref().map(str::to_lowercase);
        s.push_str(&format!("email={}\n", e.as_deref().unwrap_or("-")));
    }
    for t in desired.registrations.keys() {
        let mut ids: Vec<&str> = state.registrations_of(t).map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        s.push_str(&format!("registrations:{t}={}\n", ids.join(",")));
    }
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// For each prefix length `k` (0..=n), how the SMS component is seen after the first `k` actions.
fn sms_views(desired: &DesiredState, actions: &[Action]) -> Vec<SmsView> {
    let mut out = Vec::with_capacity(actions.len() + 1);
    // An SMS action decided after a re-read with no mobile write before it waits for a policy change (the
    // authentication methods policy is applied first): until it runs, the SMS state may be anything.
    let policy_wait = actions
        .iter()
        .take_while(|a| {
            !(a.target() == Target::Mobile && matches!(a.op(), Op::Create | Op::Update))
        })
        .any(|a| a.target() == Target::SmsSignIn && a.after_reread);
    let mut view = if policy_wait && desired.sms_sign_in.is_some() {
        SmsView::Any
    } else {
        SmsView::Exact
    };
    out.push(view);
    for a in actions {
        if desired.sms_sign_in.is_some() {
            if a.target() == Target::Mobile && matches!(a.op(), Op::Create | Op::Update) {
                view = SmsView::Any;
            } else if a.target() == Target::SmsSignIn && a.after_reread {
                view = SmsView::Settled;
            }
        }
        out.push(view);
    }
    out
}

/// The digests after every prefix of `actions` from `observed` (element `k` = after `k` actions).
pub(crate) fn prefix_digests(
    desired: &DesiredState,
    observed: &UserState,
    actions: &[Action],
) -> Vec<String> {
    let views = sms_views(desired, actions);
    let mut state = observed.clone();
    let mut out = vec![managed_digest(desired, &state, views[0])];
    for (i, a) in actions.iter().enumerate() {
        // The plan's own actions always apply to its own prediction.
        let _ = step(&mut state, a, &Registration::Predict);
        out.push(managed_digest(desired, &state, views[i + 1]));
    }
    out
}

/// Whether a re-read user can be applied (see [`UserPlan::freshness`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// The user's managed state equals the planned state after the first `resume_at` actions: apply
    /// `actions[resume_at..]` (0 = nothing done yet; `actions.len()` = all done).
    Fresh {
        /// The first action still to do.
        resume_at: usize,
    },
    /// The user changed since the plan: skip and name it.
    Stale {
        /// The managed-state digest found now (to compare with the plan's).
        found_digest: String,
    },
}

impl UserPlan {
    /// The state after the first `k` actions (as predicted; SMS state `None` where only a re-read can tell).
    /// Numbers are as the plan holds them (masked in a loaded plan file where the manifests don't have them).
    pub fn state_after_prefix(&self, k: usize) -> Option<UserState> {
        let mut state = self.observed.clone()?;
        for a in self.actions.iter().take(k) {
            let _ = step(&mut state, a, &Registration::Predict);
        }
        Some(state)
    }

    /// Freshness for apply: the re-read user is fresh if its managed state equals the planned state after some
    /// prefix of the actions (so an interrupted apply resumes where it stopped). After a mobile create or update
    /// the SMS state is indeterminate until the re-read SMS action, so any SMS state matches there; after that
    /// action any state the executor would leave alone matches ([`SmsView`]). The largest matching prefix wins. Works on loaded plans (masked numbers) because it compares digests of full numbers
    /// computed when planning.
    pub fn freshness(&self, reread: &ObservedUser) -> Result<Freshness, MaskedNumber> {
        let state = UserState::from_observed(reread)?;
        let views = sms_views(&self.desired, &self.actions);
        for k in (0..self.prefix_digests.len()).rev() {
            let view = views.get(k).copied().unwrap_or(SmsView::Exact);
            if managed_digest(&self.desired, &state, view) == self.prefix_digests[k] {
                return Ok(Freshness::Fresh { resume_at: k });
            }
        }
        Ok(Freshness::Stale {
            found_digest: managed_digest(&self.desired, &state, SmsView::Exact),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SmsSignInState as S;

    #[test]
    fn sms_table_enabled_row() {
        let e = SmsSignIn::Enabled;
        assert_eq!(sms_decision(e, &S::Ready), SmsDecision::InSync);
        assert_eq!(sms_decision(e, &S::NotEnabled), SmsDecision::Enable);
        assert!(matches!(
            sms_decision(e, &S::NotConfigured),
            SmsDecision::PendingUserAction(_)
        ));
        for s in [
            S::NotAllowedByPolicy,
            S::PhoneNumberNotUnique,
            S::NotSupported,
            S::UnknownFutureValue,
            S::Other("x".into()),
        ] {
            assert!(
                matches!(sms_decision(e, &s), SmsDecision::Blocked(_)),
                "{s}"
            );
        }
    }

    #[test]
    fn sms_table_disabled_row() {
        let d = SmsSignIn::Disabled;
        assert_eq!(sms_decision(d, &S::Ready), SmsDecision::Disable);
        for s in [
            S::NotEnabled,
            S::NotConfigured,
            S::NotAllowedByPolicy,
            S::PhoneNumberNotUnique,
        ] {
            assert_eq!(sms_decision(d, &s), SmsDecision::InSync, "{s}");
        }
        for s in [S::NotSupported, S::UnknownFutureValue, S::Other("x".into())] {
            assert!(
                matches!(sms_decision(d, &s), SmsDecision::InSyncWarning(_)),
                "{s}"
            );
        }
    }

    #[test]
    fn masked_numbers_are_detected() {
        let p = |n: &str| ObservedPhone {
            phone_type: PhoneType::Mobile,
            phone_number: n.into(),
            sms_sign_in_state: S::NotEnabled,
        };
        assert_eq!(
            canonical_observed(&p("+12065555555")).unwrap(),
            "+1 2065555555"
        );
        assert!(canonical_observed(&p("+1 206XXXXX55")).is_err());
        assert!(canonical_observed(&p("+1 206*****55")).is_err());
        assert!(canonical_observed(&p("+1 (206) 555-5555")).is_err());
        assert!(canonical_observed(&p("")).is_err());
    }
}
