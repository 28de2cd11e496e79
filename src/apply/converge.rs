//! Convergence: after apply, every applied user is re-read and re-planned (the same engine, the plan's desired
//! state) until the re-plan is empty, with bounded backoff on the Graph client's clock up to `converge_timeout` to
//! ride out Graph's read lag. A remaining difference is classified: "not yet visible" (Graph still reads the old
//! value: keep waiting) versus "normalised differently" (Graph reads the number authctl sent, digit for digit, in a
//! form authctl's canonicalisation does not equate: a bug in authctl, reported at once, no waiting).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::graph::PhoneMethod;
use crate::model::{DesiredPhone, DesiredUser, PhoneType};
use crate::phone::PhoneNumber;
use crate::plan::{ObservedSet, Op, PlanSettings, UserOutcome, UserPlan, UserReport, plan};

use super::executor::Runner;
use super::reread::observed_user;

/// The longest wait between two convergence re-reads.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// One user's convergence check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Convergence {
    /// The re-plan is empty. Notes: numbers Graph stores in another text form (same number).
    Converged(Vec<String>),
    /// Graph still shows (some of) the old state: wait and re-read.
    NotYetVisible(Vec<String>),
    /// Will not converge by waiting (normalised differently, masked numbers): reported at once.
    Diverged(Vec<String>),
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
        source: u.source.clone(),
    })
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl Runner<'_> {
    /// Checks one user against Graph's answer.
    pub(crate) fn check(&self, u: &UserPlan, methods: &[PhoneMethod]) -> Convergence {
        let id = u.id.clone().unwrap_or_default();
        let upn = u.upn.clone().unwrap_or_else(|| u.user.clone());
        let observed = observed_user(&id, &upn, methods);
        let Some(desired) = desired_user(u) else {
            return Convergence::Diverged(vec![
                "the plan's desired numbers can't be read back; convergence not checked".into(),
            ]);
        };
        let mut set = ObservedSet::new();
        set.insert_found(u.user.clone(), observed.clone());
        let mut settings = PlanSettings::new(self.graph.clock().now(), "");
        // Every remaining difference must show as an action, not be hidden as "blocked" by the guards.
        settings.allow_lockout = true;
        settings.max_deletes = usize::MAX;
        let replan = plan(&[desired], &set, &settings);
        if let Some(e) = &replan.error {
            return Convergence::Diverged(vec![e.to_string()]);
        }
        let Some(again) = replan.users.first() else {
            return Convergence::Diverged(vec!["the re-plan lost the user".into()]);
        };
        if let Some(e) = &again.error {
            return Convergence::NotYetVisible(vec![format!("re-plan: {e}")]);
        }
        let raw = |t: PhoneType| observed.phones.get(&t).map(|p| p.phone_number.clone());
        if again.actions.is_empty() {
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
            return Convergence::Converged(notes);
        }
        let mut waiting = Vec::new();
        let mut diverged = Vec::new();
        for a in &again.actions {
            match (a.op, a.target.phone_type()) {
                (Op::Create | Op::Update, Some(t)) => {
                    let want = a.after.clone().unwrap_or_default();
                    let now = raw(t);
                    let before = u
                        .observed
                        .as_ref()
                        .and_then(|o| o.phones.get(&t))
                        .map(String::as_str);
                    match &now {
                        Some(r) if digits(r) == digits(&want) => diverged.push(format!(
                            "{t}: normalised differently: authctl sent `{want}`, Graph reads `{r}`, the same \
                             digits that authctl's canonical form does not equate (a bug in authctl; please report \
                             it)"
                        )),
                        _ if self.is_old_value(before, now.as_deref()) => waiting.push(format!(
                            "{t}: not yet visible: Graph still reads the old value ({})",
                            now.as_deref().unwrap_or("none")
                        )),
                        _ => waiting.push(format!(
                            "{t}: Graph reads `{}`, neither the old value nor `{want}` (changed meanwhile?)",
                            now.as_deref().unwrap_or("none")
                        )),
                    }
                }
                (Op::Delete, Some(t)) => waiting.push(format!(
                    "{t}: not yet visible: Graph still reads the deleted phone ({})",
                    raw(t).unwrap_or_default()
                )),
                _ => waiting.push(format!(
                    "smsSignIn: not yet visible: smsSignInState reads {}",
                    observed
                        .phones
                        .get(&PhoneType::Mobile)
                        .map(|p| p.sms_sign_in_state.to_string())
                        .unwrap_or_else(|| "nothing (no mobile)".into())
                )),
            }
        }
        if diverged.is_empty() {
            Convergence::NotYetVisible(waiting)
        } else {
            diverged.extend(waiting);
            Convergence::Diverged(diverged)
        }
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
            let ids: Vec<String> = pending
                .iter()
                .map(|&i| users[i].id.clone().unwrap_or_default())
                .collect();
            let reads = self.read_phones_many(&ids).await;
            let mut still: Vec<(usize, Vec<String>)> = Vec::new();
            for (&i, r) in pending.iter().zip(reads) {
                let result = match r {
                    Ok(methods) => self.check(users[i], &methods),
                    Err(e) => Convergence::NotYetVisible(vec![format!("re-read failed: {e}")]),
                };
                match result {
                    Convergence::Converged(notes) => {
                        reports[i].converged = Some(true);
                        if rounds > 1 {
                            reports[i]
                                .notes
                                .push(format!("converged after {rounds} re-reads (read lag)"));
                        }
                        reports[i].notes.extend(notes);
                    }
                    Convergence::Diverged(notes) => {
                        reports[i].converged = Some(false);
                        reports[i].notes.extend(notes);
                    }
                    Convergence::NotYetVisible(notes) => still.push((i, notes)),
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
