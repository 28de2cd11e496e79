//! The gate in front of `apply --plan FILE`: nothing in a saved plan is trusted by the write-enabled side.
//!
//! Before the first write, every user of the plan is read again and:
//!
//! - **verified** (`apply --plan FILE PATHS…`): the user's plan is re-derived from `PATHS` and the state just read
//!   through the same read side and engine as `authctl plan` ([`crate::observe::plan_users`]); the saved plan's
//!   remaining actions for the user (after the prefix already applied, as freshness finds it) must be exactly
//!   those, with the same desired state. A user in the plan that `PATHS` don't declare, a declared user whose saved
//!   plan lacks actions the manifests demand, or any other difference is a mismatch; one mismatch refuses the whole
//!   plan, naming each (user, action, saved vs demanded).
//! - **lock-out re-checked** (always, `--unverified` too): for every user whose remaining actions delete a phone or
//!   disable a `ready` SMS sign-in, the full method list is read again and the user is skipped and named when the
//!   remaining actions would now lock it out (say a FIDO2 key was removed after the plan), unless the apply side
//!   says `--allow-lockout`.
//! - **guarded by the apply side**: `--max-deletes` given to `apply` is enforced on the recounted remaining
//!   deletes; the limits written in the file are shown for information only.
//!
//! Users the gate can't place (stale since the plan, unreadable, masked numbers) are left to the executor, which
//! re-reads them and skips them with the reason, as before.

use std::collections::{HashMap, HashSet};

use crate::graph::Graph;
use crate::model::{DesiredUser, SmsSignIn};
use crate::observe::{self, NoProgress, Progress};
use crate::plan::{
    Action, DesiredState, Freshness, Observed, ObservedSet, Op, Plan, PlanSettings, Policy,
    Registration, Target, UserPlan, UserState, lockout_check, step,
};

use super::converge::desired_user;

/// What the gate decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Differences between the saved plan and what the manifests demand (verified mode): any refuses the plan.
    pub mismatches: Vec<String>,
    /// A refusal of the whole plan for another reason (the apply side's `--max-deletes`).
    pub refusal: Option<String>,
    /// Users (index into `plan.users`) skipped and named, with why: the remaining actions would lock them out, or
    /// (verified mode) a declared user can't be read now, so its entry can't be checked against anything.
    pub skipped: Vec<(usize, String)>,
    /// Users let through the lock-out check only because of `--allow-lockout`, with why.
    pub allowed_lockouts: Vec<(usize, String)>,
}

impl Verdict {
    /// Why nothing may be applied, if so: every mismatch on its own line, or the guard.
    pub fn refusal_text(&self) -> Option<String> {
        if !self.mismatches.is_empty() {
            let mut s = format!(
                "the saved plan does not match what the manifests demand ({} mismatch{}); nothing is applied. \
                 Make a new plan from these manifests:",
                self.mismatches.len(),
                if self.mismatches.len() == 1 { "" } else { "es" }
            );
            for m in &self.mismatches {
                s.push_str("\n  - ");
                s.push_str(m);
            }
            return Some(s);
        }
        self.refusal.clone()
    }
}

/// A user whose remaining actions are destructive: plan index, the key it was read under, object id, the state
/// now, the remaining actions.
type Checked = (usize, String, String, UserState, Vec<Action>);

/// How one action reads in a mismatch line.
fn shown(a: &Action) -> String {
    if let Some(r) = &a.registration {
        return format!("{} {} {} {}", a.op(), a.target(), r.method_type, r.id);
    }
    match &a.after {
        Some(after) => format!("{} {} → {after}", a.op(), a.target()),
        None => format!("{} {}", a.op(), a.target()),
    }
}

fn shown_all(actions: &[Action]) -> String {
    if actions.is_empty() {
        "nothing".into()
    } else {
        actions.iter().map(shown).collect::<Vec<_>>().join(", ")
    }
}

/// The same call: op, target and the value sent. (`before` is masked in a saved plan, and `afterReread` differs
/// after a resume: the re-derived plan sees the mobile already written.)
fn same_call(a: &Action, b: &Action) -> bool {
    a.op() == b.op() && a.same_subject(b) && a.after == b.after
}

/// Whether a user's remaining saved actions are what the manifests demand now: the same calls in the same order.
/// One tolerance: an SMS sign-in action that waits for a re-read after a mobile write (`afterReread`) may be gone
/// from the demand when the write already took effect and left SMS sign-in as the manifests want it; the executor
/// re-reads and decides such an action from the (verified) desired state, so it is kept only when that state manages
/// SMS sign-in the same way the action does. Nothing else is tolerated.
fn matches_demand(remaining: &[Action], demanded: &[Action], desired: &DesiredState) -> bool {
    let demanded_sms = demanded.iter().any(|a| a.target() == Target::SmsSignIn);
    let decided_at_run_time = |a: &Action| {
        a.after_reread
            && a.target() == Target::SmsSignIn
            && !demanded_sms
            && matches!(
                (desired.sms_sign_in, a.op()),
                (Some(SmsSignIn::Enabled), Op::Enable) | (Some(SmsSignIn::Disabled), Op::Disable)
            )
    };
    let remaining: Vec<&Action> = remaining
        .iter()
        .filter(|a| !decided_at_run_time(a))
        .collect();
    remaining.len() == demanded.len()
        && remaining.iter().zip(demanded).all(|(a, b)| same_call(a, b))
}

/// Reads the plan's users again and decides what may be applied. `demand`: the users declared in `PATHS`
/// (verified mode), or `None` for `--unverified` (the saved plan's own desired state is trusted).
pub async fn verify(
    plan: &Plan,
    graph: &Graph,
    demand: Option<&[DesiredUser]>,
    guards: &Policy,
    progress: &dyn Progress,
) -> Verdict {
    let mut verdict = Verdict::default();
    // Verified: what PATHS declare. Unverified: the plan's own desired users (so a saved plan can be read back).
    let rebuilt: Vec<DesiredUser>;
    let desired: &[DesiredUser] = match demand {
        Some(d) => d,
        None => {
            rebuilt = plan
                .users
                .iter()
                .filter(|u| u.error.is_none())
                .filter_map(desired_user)
                .collect();
            &rebuilt
        }
    };
    // Re-derived through the same read side and engine as `authctl plan`. Guards off here: every difference must
    // show as an action (the lock-out and delete guards are the apply side's, checked below on what remains).
    let mut settings = PlanSettings::new(graph.clock().now(), observe::fresh_salt());
    settings.policy = Policy::unguarded();
    let (demanded, mut observed) = observe::plan_users(graph, desired, &settings, progress).await;
    if let Some(e) = &demanded.error {
        verdict.refusal = Some(format!(
            "re-reading the plan's users failed, nothing is applied: {e}"
        ));
        return verdict;
    }
    let by_id: HashMap<String, &UserPlan> = demanded
        .users
        .iter()
        .filter_map(|d| d.id.as_ref().map(|id| (id.to_lowercase(), d)))
        .collect();

    let mut saved_ids = HashSet::new();
    // Users with actions in the saved plan: a declared user the manifests demand changes for must be one of them
    // (whatever its digests say: they are the file's, not evidence).
    let saved_with_actions: HashSet<String> = plan
        .users
        .iter()
        .filter(|u| u.has_changes())
        .filter_map(|u| u.id.as_ref().map(|id| id.to_lowercase()))
        .collect();
    let mut to_check: Vec<Checked> = Vec::new();
    for (i, u) in plan.users.iter().enumerate() {
        let who = u.display_name();
        let Some(id) = u.id.as_ref().map(|s| s.to_lowercase()) else {
            if demand.is_some() && u.has_changes() {
                verdict.mismatches.push(format!(
                    "{who}: the saved plan has actions for a user without an object id"
                ));
            }
            continue;
        };
        if !saved_ids.insert(id.clone()) {
            verdict
                .mismatches
                .push(format!("{who}: the saved plan lists this user twice"));
            continue;
        }
        if u.error.is_some() {
            if demand.is_some() && u.has_changes() {
                verdict.mismatches.push(format!(
                    "{who}: the saved plan has actions for a user it could not plan"
                ));
            }
            continue;
        }
        if u.prefix_digests.len() != u.actions.len() + 1 {
            verdict.mismatches.push(format!(
                "{who}: the saved plan's digests do not fit its {} action(s)",
                u.actions.len()
            ));
            continue;
        }
        let Some(d) = by_id.get(&id) else {
            let declared = desired.iter().any(|d| {
                d.user.eq_ignore_ascii_case(&u.user)
                    || u.upn
                        .as_deref()
                        .is_some_and(|upn| d.user.eq_ignore_ascii_case(upn))
            });
            if demand.is_some() && !declared {
                verdict.mismatches.push(format!(
                    "{who} (object {id}): in the saved plan ({}), but the manifests do not declare this user",
                    shown_all(&u.actions)
                ));
            } else if demand.is_some() && u.has_changes() {
                // Declared, but not readable now (deleted, or a Graph error): nothing to check the entry's object
                // id against, so it is never applied.
                verdict.skipped.push((
                    i,
                    format!(
                        "{} can't be read now, so the saved plan's entry (object {id}) can't be verified against \
                         the manifests; nothing was changed for it",
                        u.user
                    ),
                ));
            }
            continue;
        };
        let Some(Observed::Found { user: now, .. }) = observed.get(&d.user) else {
            continue;
        };
        let Ok(Freshness::Fresh { resume_at }) = u.freshness(now) else {
            // Stale or masked: the executor skips it with the reason; nothing to verify against.
            continue;
        };
        let remaining: Vec<Action> = u.actions.get(resume_at..).unwrap_or(&[]).to_vec();
        if demand.is_some() {
            if u.desired != d.desired || u.mode != d.mode {
                verdict.mismatches.push(format!(
                    "{who}: the saved plan's desired state is not what the manifests declare for this user"
                ));
            }
            if !matches_demand(&remaining, &d.actions, &d.desired) {
                verdict.mismatches.push(format!(
                    "{who}: saved {}; the manifests demand {}",
                    shown_all(&remaining),
                    shown_all(&d.actions)
                ));
            }
        }
        if remaining.iter().any(Action::is_destructive)
            && let Ok(state) = UserState::from_observed(now)
        {
            to_check.push((i, d.user.clone(), now.id.clone(), state, remaining));
        }
    }
    if demand.is_some() {
        for d in &demanded.users {
            let Some(id) = d.id.as_ref().map(|s| s.to_lowercase()) else {
                continue;
            };
            if d.has_changes() && !saved_with_actions.contains(&id) {
                verdict.mismatches.push(format!(
                    "{}: the manifests demand {}, the saved plan has nothing for this user",
                    d.display_name(),
                    shown_all(&d.actions)
                ));
            }
        }
    }
    if !verdict.mismatches.is_empty() {
        return verdict;
    }

    lockout_pass(graph, &mut observed, &to_check, guards, &mut verdict).await;

    // The apply side's --max-deletes, on the deletes that remain for the users that will run.
    let skipped: HashSet<usize> = verdict.skipped.iter().map(|(i, _)| *i).collect();
    let deletes = remaining_deletes(plan, &by_id, &observed, &skipped);
    if deletes > guards.max_deletes {
        verdict.refusal = Some(format!(
            "guard --max-deletes does not hold: the plan's remaining actions delete {deletes} method(s), apply's \
             limit is {} (the plan file says {}: information only); nothing is applied. Pass a higher \
             --max-deletes to apply if that is intended",
            guards.max_deletes, plan.guards.max_deletes.limit
        ));
    }
    verdict
}

/// The lock-out re-check: the full method list of every user in `to_check`, and the pure preflight on the state
/// now and after the remaining actions.
async fn lockout_pass(
    graph: &Graph,
    observed: &mut ObservedSet,
    to_check: &[Checked],
    guards: &Policy,
    verdict: &mut Verdict,
) {
    if to_check.is_empty() {
        return;
    }
    let ids: Vec<String> = to_check.iter().map(|(_, _, id, _, _)| id.clone()).collect();
    observe::read_method_lists(graph, &ids, observed, &NoProgress).await;
    for (i, key, id, state, remaining) in to_check {
        let methods = match observed.get(key) {
            Some(Observed::Found { user, methods }) if user.id.eq_ignore_ascii_case(id) => {
                methods.clone()
            }
            _ => None,
        };
        let mut after = state.clone();
        for a in remaining {
            let _ = step(&mut after, a, &Registration::Predict);
        }
        let why = match methods {
            Some(m) => match lockout_check(&m, state, &after) {
                Ok(()) => continue,
                Err(why) => why,
            },
            None => "the lock-out preflight needs the user's full method list, which could not be read now"
                .to_string(),
        };
        if guards.allow_lockout {
            verdict.allowed_lockouts.push((*i, why));
        } else {
            verdict.skipped.push((
                *i,
                format!(
                    "lock-out: {why} (checked again at apply); nothing was changed for this user. Give the user \
                     another method first, or pass --allow-lockout to apply"
                ),
            ));
        }
    }
}

/// Deletes among the remaining actions of the users that will run.
fn remaining_deletes(
    plan: &Plan,
    by_id: &HashMap<String, &UserPlan>,
    observed: &ObservedSet,
    skipped: &HashSet<usize>,
) -> usize {
    let mut n = 0;
    for (i, u) in plan.users.iter().enumerate() {
        if skipped.contains(&i) || u.error.is_some() {
            continue;
        }
        let resume_at =
            u.id.as_ref()
                .and_then(|id| by_id.get(&id.to_lowercase()))
                .and_then(|d| match observed.get(&d.user) {
                    Some(Observed::Found { user, .. }) => match u.freshness(user) {
                        Ok(Freshness::Fresh { resume_at }) => Some(resume_at),
                        _ => None,
                    },
                    _ => None,
                })
                .unwrap_or(0);
        n += u
            .actions
            .get(resume_at..)
            .unwrap_or(&[])
            .iter()
            .filter(|a| a.op() == Op::Delete)
            .count();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Call;

    fn action(op: Op, target: Target, after: Option<&str>, after_reread: bool) -> Action {
        Action {
            call: Call::new(op, target).expect("a call Graph has"),
            before: None,
            after: after.map(str::to_string),
            after_reread,
            note: None,
            registration: None,
        }
    }

    fn desired(sms: Option<SmsSignIn>) -> DesiredState {
        DesiredState {
            phones: Default::default(),
            sms_sign_in: sms,
            ..DesiredState::default()
        }
    }

    #[test]
    fn the_same_calls_match_and_any_other_difference_does_not() {
        let create = action(Op::Create, Target::Mobile, Some("+1 2065550100"), false);
        let d = desired(None);
        assert!(matches_demand(
            std::slice::from_ref(&create),
            std::slice::from_ref(&create),
            &d
        ));
        assert!(matches_demand(&[], &[], &d));
        let other = action(Op::Create, Target::Mobile, Some("+1 2065550666"), false);
        assert!(!matches_demand(
            std::slice::from_ref(&other),
            std::slice::from_ref(&create),
            &d
        ));
        assert!(!matches_demand(&[], std::slice::from_ref(&create), &d));
        assert!(!matches_demand(std::slice::from_ref(&create), &[], &d));
        let delete = action(Op::Delete, Target::Office, None, false);
        assert!(!matches_demand(
            &[delete.clone(), create.clone()],
            &[create.clone(), delete.clone()],
            &d
        ));
        // The before value (masked in a file) and afterReread (a resume) don't matter.
        let mut masked = create.clone();
        masked.before = Some("+1 206•••0100 ·a1".into());
        assert!(matches_demand(&[masked], &[create], &d));
        let enable_later = action(Op::Enable, Target::SmsSignIn, Some("ready"), true);
        let enable_now = action(Op::Enable, Target::SmsSignIn, Some("ready"), false);
        assert!(matches_demand(
            &[enable_later],
            &[enable_now],
            &desired(Some(SmsSignIn::Enabled))
        ));
    }

    #[test]
    fn a_re_read_sms_action_may_be_gone_only_when_the_desired_state_decides_it() {
        let enable_later = action(Op::Enable, Target::SmsSignIn, Some("ready"), true);
        // The mobile write already registered it: nothing demanded, the executor finds nothing to do.
        assert!(matches_demand(
            std::slice::from_ref(&enable_later),
            &[],
            &desired(Some(SmsSignIn::Enabled))
        ));
        // Unmanaged SMS sign-in, or managed the other way: the action would decide by itself. Refused.
        assert!(!matches_demand(
            std::slice::from_ref(&enable_later),
            &[],
            &desired(None)
        ));
        assert!(!matches_demand(
            std::slice::from_ref(&enable_later),
            &[],
            &desired(Some(SmsSignIn::Disabled))
        ));
        // Not a re-read action: refused.
        let enable_now = action(Op::Enable, Target::SmsSignIn, Some("ready"), false);
        assert!(!matches_demand(
            &[enable_now],
            &[],
            &desired(Some(SmsSignIn::Enabled))
        ));
    }
}
