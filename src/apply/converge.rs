//! Convergence: after apply, every applied user is re-read and re-planned (the same engine, the plan's desired
//! state) until the re-plan is empty, with bounded backoff on the Graph client's clock up to `converge_timeout` to
//! ride out Graph's read lag. What remains is classified by [`crate::plan::convergence`]: "not yet visible" (Graph
//! still reads the old value) and "diverged" (another value: maybe an intermediate state) are waited for;
//! "normalised differently" (Graph reads the number authctl sent, digit for digit, in a form authctl's
//! canonicalisation does not equate: a bug in authctl) is reported at once.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{
    DesiredEmail, DesiredPhone, DesiredRegistrations, DesiredUser, ObservedUser, PhoneType,
};
use crate::phone::PhoneNumber;
use crate::plan::{
    Convergence, EmailWant, Mask, ObservedSet, PlanSettings, Policy, Target, UserOutcome, UserPlan,
    UserReport, convergence, plan,
};

use super::runner::Runner;

/// The longest wait between two convergence re-reads.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// One user's convergence check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// The re-plan is empty. Notes: numbers Graph stores in another text form (same number).
    Converged(Vec<String>),
    /// Still different: Graph shows the old state (read lag) or something else; re-read until the timeout.
    Waiting(Vec<String>),
    /// Will not converge by waiting (normalised differently, masked numbers): reported at once.
    Final(Vec<String>),
}

/// The desired user of a plan entry, rebuilt from the plan's resolved desired state (so a saved plan converges
/// without its manifests).
pub fn desired_user(u: &UserPlan) -> Option<DesiredUser> {
    let mut phones = BTreeMap::new();
    for (t, n) in &u.desired.phones {
        let d = match n {
            Some(n) => DesiredPhone::Number(PhoneNumber::parse_observed(n).ok()?),
            None => DesiredPhone::Absent,
        };
        phones.insert(*t, d);
    }
    Some(DesiredUser {
        user: u.user.clone(),
        mode: u.mode,
        phones,
        sms_sign_in: u.desired.sms_sign_in,
        email: u.desired.email.as_ref().map(|e| match e {
            EmailWant::Address(a) => DesiredEmail::Address(a.clone()),
            EmailWant::Absent => DesiredEmail::Absent,
        }),
        registrations: u
            .desired
            .registrations
            .iter()
            .map(|(t, keep)| {
                let d = match keep {
                    None => DesiredRegistrations::Absent,
                    Some(ids) => DesiredRegistrations::Keep(ids.clone()),
                };
                (t.clone(), d)
            })
            .collect(),
        source: u.source.clone(),
    })
}

impl Runner<'_> {
    /// Checks one user against Graph's answer: re-plans it (the plan's desired state, the same engine) and
    /// classifies what remains with [`crate::plan::convergence`].
    pub(crate) fn check(&self, u: &UserPlan, observed: ObservedUser) -> Check {
        let Some(desired) = desired_user(u) else {
            return Check::Final(vec![
                "the plan's desired numbers can't be read back; convergence not checked".into(),
            ]);
        };
        let mut set = ObservedSet::new();
        set.insert_found(u.user.clone(), observed.clone());
        let mut settings = PlanSettings::new(self.graph.clock().now(), "");
        // Every remaining difference must show as an action, not be hidden as "blocked" by the guards.
        settings.policy = Policy::unguarded();
        let replan = plan(&[desired], &set, &settings);
        if let Some(e) = &replan.error {
            return Check::Final(vec![e.to_string()]);
        }
        let Some(again) = replan.users.first() else {
            return Check::Final(vec!["the re-plan lost the user".into()]);
        };
        if let Some(e) = &again.error {
            return Check::Waiting(vec![format!("re-plan: {e}")]);
        }
        let raw = |t: PhoneType| observed.phones.get(&t).map(|p| p.phone_number.clone());
        let shown = |t: Target| match t.phone_type() {
            Some(pt) => raw(pt).unwrap_or_else(|| "nothing".into()),
            None if t == Target::Email => observed
                .email
                .as_ref()
                .map(|e| self.redaction.map_or_else(|| e.clone(), |r| r.mask(e)))
                .unwrap_or_else(|| "no email method".into()),
            None if t == Target::Registration => "a registration the plan removes".into(),
            None => observed
                .phones
                .get(&PhoneType::Mobile)
                .map(|p| format!("smsSignInState {}", p.sms_sign_in_state))
                .unwrap_or_else(|| "no mobile".into()),
        };
        match convergence(&self.unmasked(u, again), again) {
            Convergence::Converged => {
                let mut notes = Vec::new();
                for (t, n) in &u.desired.phones {
                    if let (Some(n), Some(r)) = (n, raw(*t))
                        && &r != n
                    {
                        notes.push(format!(
                            "Graph stores the {t} as `{r}` for `{n}` sent (the same number, other text)"
                        ));
                    }
                }
                Check::Converged(notes)
            }
            Convergence::NotYetVisible(targets) => Check::Waiting(
                targets
                    .into_iter()
                    .map(|t| format!("{t}: not yet visible: Graph still reads the old value ({})", shown(t)))
                    .collect(),
            ),
            Convergence::Diverged(targets) => Check::Waiting(
                targets
                    .into_iter()
                    .map(|t| {
                        format!(
                            "{t}: Graph reads {}, neither the value before apply nor the planned one (changed \
                             meanwhile?)",
                            shown(t)
                        )
                    })
                    .collect(),
            ),
            Convergence::NormalisedDifferently { target, sent, stored } => Check::Final(vec![format!(
                "{target}: normalised differently: authctl sent `{sent}`, Graph reads `{}` ({stored} in \
                 authctl's canonical form): the same digits that authctl does not equate, a bug in authctl; please \
                 report it",
                shown(target)
            )]),
        }
    }

    /// The applied plan with masked `before` values (a loaded plan file masks numbers the manifests don't hold)
    /// replaced by the re-plan's full number where the mask matches, so lag is recognised as lag.
    fn unmasked(&self, applied: &UserPlan, again: &UserPlan) -> UserPlan {
        let mut u = applied.clone();
        let Some(redaction) = self.redaction else {
            return u;
        };
        for a in &mut u.actions {
            let full = again
                .actions
                .iter()
                .find(|r| r.same_subject(a))
                .and_then(|r| r.before.clone());
            if let (Some(b), Some(full)) = (&a.before, full)
                && Mask::parse(b).is_some_and(|m| m.is_mask_of(&full, redaction))
            {
                a.before = Some(full);
            }
        }
        u
    }

    /// Re-reads and re-plans every applied user until all converge or the timeout passes; sets
    /// `UserReport::converged` and adds notes.
    pub(crate) async fn converge(&self, users: &[&UserPlan], reports: &mut [UserReport]) {
        let mut pending: Vec<usize> = (0..users.len())
            .filter(|&i| reports[i].outcome == UserOutcome::Done && !users[i].actions.is_empty())
            .collect();
        let clock = self.graph.clock();
        let start = clock.now();
        let mut delay = Duration::from_secs(1);
        let mut rounds = 0u32;
        while !pending.is_empty() {
            rounds += 1;
            let who: Vec<(String, String, bool)> = pending
                .iter()
                .map(|&i| {
                    let u = users[i];
                    (
                        u.id.clone().unwrap_or_default(),
                        u.upn.clone().unwrap_or_else(|| u.user.clone()),
                        u.desired.reads_method_list(),
                    )
                })
                .collect();
            let reads = self.read_observed_many(&who).await;
            let mut still: Vec<(usize, Vec<String>)> = Vec::new();
            for (&i, r) in pending.iter().zip(reads) {
                let result = match r {
                    Ok(observed) => self.check(users[i], observed),
                    Err(e) => Check::Waiting(vec![format!("re-read failed: {e}")]),
                };
                match result {
                    Check::Converged(notes) => {
                        reports[i].converged = Some(true);
                        if rounds > 1 {
                            reports[i]
                                .notes
                                .push(format!("converged after {rounds} re-reads (read lag)"));
                        }
                        reports[i].notes.extend(notes);
                    }
                    Check::Final(notes) => {
                        reports[i].converged = Some(false);
                        reports[i].notes.extend(notes);
                    }
                    Check::Waiting(notes) => still.push((i, notes)),
                }
            }
            let elapsed = crate::clock::since(clock.now(), start);
            if still.is_empty() || elapsed >= self.options.converge_timeout {
                for (i, notes) in still {
                    reports[i].converged = Some(false);
                    reports[i].notes.push(format!(
                        "not converged within {:?} ({rounds} re-reads)",
                        self.options.converge_timeout
                    ));
                    reports[i].notes.extend(notes);
                }
                break;
            }
            pending = still.into_iter().map(|(i, _)| i).collect();
            clock
                .sleep(delay.min(self.options.converge_timeout - elapsed))
                .await;
            delay = (delay * 2).min(MAX_DELAY);
        }
    }
}
