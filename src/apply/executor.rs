//! The executor: applies a [`Plan`] through the Graph client and reports what happened.
//!
//! Per user: re-resolve the UPN and re-read the phones ([`super::reread`]); check freshness against the plan (a
//! user whose state equals the planned state after some prefix of its actions resumes there; any other is stale
//! and skipped); run the remaining actions in order, treating the idempotent cases as done (create answered 409
//! `phoneNumberNotUnique` with the phone saved, delete answered 404, a create of unknown outcome found on re-read);
//! re-read the mobile before an SMS sign-in call that follows a mobile write. A failed action stops that user;
//! other users go on. Afterwards every applied user is re-read and re-planned until it converges or
//! `converge_timeout` passes on the Graph client's clock ([`super::converge`]).
//!
//! Users run in parallel (`parallelism`; the client's own semaphore bounds requests in flight too), read ahead in
//! chunks so re-resolution and re-reading use `$filter … in` and `$batch`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::graph::{Graph, GraphError, PhoneMethod};
use crate::model::{ObservedUser, PhoneType, Registration, SmsSignIn, SmsSignInState};
use crate::phone::PhoneNumber;
use crate::plan::{
    Action, ActionOutcome, ActionReport, ApplyReport, Call, Freshness, GraphErrorSummary, Op, Plan,
    SmsDecision, Target, UserOutcome, UserPlan, UserReport, sms_decision,
};

use super::reread::summary;
use super::runner::{ApplyOptions, Runner};

/// Users read ahead per chunk: a multiple of both the UPNs per `$filter` (15) and the reads per `$batch` (20).
const CHUNK: usize = 60;

/// Applies `plan`: refuses it whole when a guard does not hold or the plan has a run error; otherwise applies every
/// user it can and reports each one. Never panics on Graph errors: they end up in the report.
pub async fn apply(plan: &Plan, graph: &Graph, options: &ApplyOptions) -> ApplyReport {
    if let Some(refusal) = refusal(plan, options.max_deletes.is_none()) {
        return refused(plan, refusal);
    }
    let runner = Runner {
        graph,
        options,
        redaction: Some(&plan.redaction),
        stop: AtomicBool::new(false),
    };
    let users: Vec<&UserPlan> = plan.users.iter().collect();
    let users = runner.run(&users).await;
    ApplyReport {
        error: graph.unreachable(),
        users,
        policy: Vec::new(),
    }
}

/// Applies one user's part of a plan the same way [`apply`] does (re-resolve, freshness, ordered actions with the
/// idempotency rules, SMS re-read, convergence). The imperative commands (`phone add|update|remove`,
/// `sms-sign-in`) plan one user with `crate::plan::plan` and call this, so they share apply's one code path.
pub async fn apply_user(user: &UserPlan, graph: &Graph, options: &ApplyOptions) -> UserReport {
    let runner = Runner {
        graph,
        options,
        redaction: None,
        stop: AtomicBool::new(false),
    };
    runner
        .run(&[user])
        .await
        .pop()
        .unwrap_or_else(|| not_run(user, UserOutcome::NotAttempted, None))
}

/// Why the whole plan is refused, if it is. `own_guard`: enforce the guard the plan was made with.
fn refusal(plan: &Plan, own_guard: bool) -> Option<String> {
    if let Some(e) = &plan.error {
        return Some(format!("the plan has a run error, nothing is applied: {e}"));
    }
    if !own_guard {
        return None;
    }
    // Recount rather than trust `holds`: the file may have been edited.
    let deletes = plan
        .users
        .iter()
        .flat_map(|u| &u.actions)
        .filter(|a| a.op() == Op::Delete)
        .count();
    let g = &plan.guards.max_deletes;
    if !g.holds || deletes > g.limit {
        return Some(format!(
            "guard --max-deletes does not hold: the plan deletes {deletes} method(s), the limit it was made with \
             is {}; nothing is applied (make a new plan with a higher --max-deletes if that is intended)",
            g.limit
        ));
    }
    None
}

/// The report of a plan refused whole (a guard, a run error, a failed verification): every user skipped, `why` as the
/// report's error.
pub(crate) fn refused(plan: &Plan, why: String) -> ApplyReport {
    ApplyReport {
        error: Some(why),
        users: plan
            .users
            .iter()
            .map(|u| not_run(u, UserOutcome::Skipped, None))
            .collect(),
        policy: Vec::new(),
    }
}

/// A report for a user not applied at all.
pub(crate) fn not_run(u: &UserPlan, outcome: UserOutcome, reason: Option<String>) -> UserReport {
    let action_outcome = match outcome {
        UserOutcome::Skipped => ActionOutcome::Skipped,
        _ => ActionOutcome::NotAttempted,
    };
    UserReport {
        user: u.user.clone(),
        id: u.id.clone(),
        upn: u.upn.clone(),
        outcome,
        reason,
        actions: u
            .actions
            .iter()
            .map(|a| ActionReport {
                action: a.clone(),
                outcome: action_outcome,
                note: None,
                error: None,
            })
            .collect(),
        error: None,
        converged: None,
        notes: Vec::new(),
        blocked: u.blocked.clone(),
        pending: u.pending.clone(),
    }
}

fn report(a: &Action, outcome: ActionOutcome, note: Option<String>) -> ActionReport {
    ActionReport {
        action: a.clone(),
        outcome,
        note,
        error: None,
    }
}

/// Canonical form of a number as Graph returned it (`None` when unreadable).
pub(crate) fn canonical(n: &str) -> Option<String> {
    PhoneNumber::parse_observed(n).ok().map(|p| p.canonical())
}

/// Whether `user` has a phone of type `t` whose number is `number` (canonically).
fn has_phone(user: &ObservedUser, t: PhoneType, number: &str) -> bool {
    user.phones
        .get(&t)
        .is_some_and(|p| canonical(&p.phone_number).as_deref() == canonical(number).as_deref())
}

/// How an action failed: the report for it and the error that stops the user.
struct Failure {
    error: GraphErrorSummary,
    note: Option<String>,
    /// The request was sent and got no answer (Graph went away): it may have landed.
    unknown: bool,
}

impl From<&GraphError> for Failure {
    fn from(e: &GraphError) -> Failure {
        Failure {
            error: summary(e),
            note: None,
            unknown: e.outcome_unknown(),
        }
    }
}

impl<'a> Runner<'a> {
    /// Applies `users` and converges them; reports in input order.
    pub(crate) async fn run(&self, users: &[&UserPlan]) -> Vec<UserReport> {
        let mut reports: Vec<Option<UserReport>> = vec![None; users.len()];
        // Users with nothing to do, or that could not be planned, need no Graph call.
        let mut work: Vec<usize> = Vec::new();
        for (i, u) in users.iter().enumerate() {
            if let Some(e) = &u.error {
                reports[i] = Some(not_run(u, UserOutcome::Skipped, Some(e.to_string())));
            } else if u.actions.is_empty() {
                let mut r = not_run(u, UserOutcome::Done, None);
                r.reason = Some("nothing to do".into());
                reports[i] = Some(r);
            } else {
                work.push(i);
            }
        }
        if let Some(p) = &self.options.progress {
            p.start("applying", work.len() as u64);
        }
        let chunks: Vec<Vec<usize>> = work.chunks(CHUNK).map(<[_]>::to_vec).collect();
        let parallelism = self.options.parallelism.max(1);
        // Read-ahead and the users run side by side, each polled on its own. (Chained as one stream, the read of
        // the next chunk was polled only when a user slot was free; mid-request it held one of the client's
        // `--parallelism` permits, so with `--parallelism 1` the first user waited for it forever.) The channel
        // holds two chunks: a full channel stops the reader between requests, never inside one.
        let (tx, rx) = tokio::sync::mpsc::channel(CHUNK * 2);
        let reader = async move {
            for chunk in chunks {
                let plans: Vec<&UserPlan> = chunk.iter().map(|&i| users[i]).collect();
                let read = if self.stopped() {
                    Vec::new()
                } else {
                    self.reread_many(&plans).await
                };
                let mut read = read.into_iter();
                for i in chunk {
                    if tx.send((i, read.next())).await.is_err() {
                        return;
                    }
                }
            }
        };
        let worker = async {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .map(|(i, observed)| async move {
                let u = users[i];
                let r = match observed {
                    _ if self.graph.unreachable().is_some() => not_run(
                        u,
                        UserOutcome::NotAttempted,
                        Some("the run stopped: Graph is unreachable".into()),
                    ),
                    _ if self.stop.load(Ordering::SeqCst) => not_run(
                        u,
                        UserOutcome::NotAttempted,
                        Some("the run stopped: the journal could not be written".into()),
                    ),
                    None => not_run(u, UserOutcome::NotAttempted, None),
                    Some(Err(e)) => not_run(u, UserOutcome::Skipped, Some(e.to_string())),
                    Some(Ok(obs)) => self.run_user(u, obs).await,
                };
                if let Some(p) = &self.options.progress {
                    p.advance(1);
                }
                (i, r)
            })
            .buffer_unordered(parallelism);
            let mut stream = std::pin::pin!(stream);
            while let Some((i, r)) = stream.next().await {
                reports[i] = Some(r);
            }
        };
        futures_util::future::join(reader, worker).await;
        let mut reports: Vec<UserReport> = reports
            .into_iter()
            .zip(users)
            .map(|(r, u)| r.unwrap_or_else(|| not_run(u, UserOutcome::NotAttempted, None)))
            .collect();
        // Converging re-reads Graph; with Graph gone it could only wait out its timeout.
        if self.graph.unreachable().is_none() {
            self.converge(users, &mut reports).await;
        }
        reports
    }

    /// No new user starts: the journal could not be written, or Graph is unreachable.
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.graph.unreachable().is_some()
    }

    /// Freshness, then the remaining actions in order.
    async fn run_user(&self, u: &UserPlan, observed: ObservedUser) -> UserReport {
        let resume_at = match u.freshness(&observed) {
            Err(masked) => {
                return not_run(
                    u,
                    UserOutcome::Skipped,
                    Some(format!(
                        "{masked}: the caller can't read full numbers, so freshness can't be checked"
                    )),
                );
            }
            Ok(Freshness::Stale { found_digest }) => {
                return not_run(
                    u,
                    UserOutcome::Skipped,
                    Some(format!(
                        "stale: the user's phones changed since the plan (managed-state digest now {}, matching \
                         no prefix of the planned actions); make a new plan",
                        &found_digest[..found_digest.len().min(12)]
                    )),
                );
            }
            Ok(Freshness::Fresh { resume_at }) => resume_at,
        };
        let mut rep = not_run(u, UserOutcome::Done, None);
        for r in rep.actions.iter_mut().take(resume_at) {
            r.outcome = ActionOutcome::Done;
            r.note = Some("already applied (found on re-read; resumed after it)".into());
        }
        if resume_at > 0 && resume_at == u.actions.len() {
            rep.notes.push(format!(
                "all {} action{} of the plan were already applied (found on re-read): nothing left to do",
                u.actions.len(),
                if u.actions.len() == 1 { "" } else { "s" }
            ));
        } else if resume_at > 0 {
            rep.notes.push(format!(
                "resumed at action {} of {}: the earlier ones were already applied",
                resume_at + 1,
                u.actions.len()
            ));
        }
        let mut st = UserRun {
            id: u.id.clone().unwrap_or_default(),
            upn: observed.user_principal_name.clone(),
            full: u.desired.reads_method_list(),
            last_read: Some(observed),
            mobile_written: None,
        };
        // A delete Graph refuses because the method is the user's default: the user fails, but its other
        // removals still run first, so the default method is the one left (v1.0 Graph does not say which method
        // is the default, so the order can't be chosen before trying: ASSUMPTIONS.md).
        let mut refused_default: Option<(usize, Failure)> = None;
        for k in resume_at..u.actions.len() {
            if self.stop.load(Ordering::SeqCst) {
                rep.outcome = UserOutcome::Failed;
                rep.reason = Some("the run stopped: the journal could not be written".into());
                break;
            }
            let a = &u.actions[k];
            if refused_default.is_some() && !is_removal(a) {
                // After a default-method refusal only the independent removals go on.
                break;
            }
            match self.run_action(u, a, &mut st).await {
                Ok(r) => {
                    if r.outcome == ActionOutcome::NotNeeded
                        && let Some(n) = &r.note
                    {
                        rep.notes.push(format!("{}: {n}", a.target()));
                    }
                    rep.actions[k] = r;
                }
                Err(f)
                    if is_removal(a)
                        && refused_default.is_none()
                        && f.error.is_default_method_refusal() =>
                {
                    refused_default = Some((k, f));
                }
                Err(f) => {
                    rep.actions[k] = ActionReport {
                        action: a.clone(),
                        outcome: if f.unknown {
                            ActionOutcome::OutcomeUnknown
                        } else {
                            ActionOutcome::Failed
                        },
                        note: f.note,
                        error: Some(f.error.clone()),
                    };
                    rep.outcome = UserOutcome::Failed;
                    rep.reason = Some(if f.unknown {
                        format!(
                            "outcome unknown: {} {} was sent and got no answer before Graph became unreachable; \
                             it may have landed (a re-run re-reads the user before acting)",
                            a.op(),
                            a.target()
                        )
                    } else {
                        format!("{} {} failed", a.op(), a.target())
                    });
                    rep.error = Some(f.error);
                    break;
                }
            }
        }
        if let Some((k, f)) = refused_default {
            let a = &u.actions[k];
            rep.actions[k] = ActionReport {
                action: a.clone(),
                outcome: ActionOutcome::Failed,
                note: Some(DEFAULT_METHOD_REMEDY.into()),
                error: Some(f.error.clone()),
            };
            if rep.outcome != UserOutcome::Failed {
                rep.outcome = UserOutcome::Failed;
                rep.reason = Some(format!(
                    "Graph refused to delete the user's default method ({}): {DEFAULT_METHOD_REMEDY}",
                    subject(a)
                ));
                rep.error = Some(f.error);
            }
        }
        rep
    }

    /// Runs one action with its idempotency rules.
    async fn run_action(
        &self,
        u: &UserPlan,
        a: &Action,
        st: &mut UserRun,
    ) -> Result<ActionReport, Failure> {
        let id = st.id.clone();
        match (a.op(), a.target().phone_type()) {
            (Op::Create, Some(t)) => {
                let number = a.after.clone().unwrap_or_default();
                let r = self.create(&id, t, &number, st).await;
                if r.is_ok() && t == PhoneType::Mobile {
                    st.mobile_written = Some(number);
                }
                r.map(|note| report(a, ActionOutcome::Done, note))
            }
            (Op::Update, Some(t)) => {
                let number = a.after.clone().unwrap_or_default();
                st.last_read = None;
                let r = self
                    .journaled(
                        Some(&id),
                        None,
                        "update",
                        Some(t.as_str()),
                        self.graph.update_phone(&id, t, &number),
                    )
                    .await;
                let r = match r {
                    Ok(()) => Ok(None),
                    Err(e) if is_not_unique(&e) => self.saved_despite_409(t, &number, &e, st).await,
                    Err(e) => Err(Failure::from(&e)),
                };
                if r.is_ok() && t == PhoneType::Mobile {
                    st.mobile_written = Some(number);
                }
                r.map(|note| report(a, ActionOutcome::Done, note))
            }
            (Op::Delete, Some(t)) => {
                st.last_read = None;
                let r = self
                    .journaled(
                        Some(&id),
                        None,
                        "delete",
                        Some(t.as_str()),
                        self.graph.delete_phone(&id, t),
                    )
                    .await;
                match r {
                    Ok(()) => Ok(report(a, ActionOutcome::Done, None)),
                    Err(e) if e.status() == Some(404) => Ok(report(
                        a,
                        ActionOutcome::Done,
                        Some("Graph answered 404: the phone was already gone".into()),
                    )),
                    // A 400 (e.g. the user's default method) is Graph's refusal: shown verbatim, not retried.
                    Err(e) => Err(Failure::from(&e)),
                }
            }
            (Op::Enable | Op::Disable, _) => self.sms(u, a, st).await,
            _ if a.call == Call::DeleteRegistration => {
                let Some(r) = &a.registration else {
                    return Err(Failure {
                        error: GraphErrorSummary {
                            message: "the plan has a registration delete without its registration"
                                .into(),
                            ..GraphErrorSummary::default()
                        },
                        note: None,
                        unknown: false,
                    });
                };
                self.delete_registration(a, r, st).await
            }
            _ if a.target() == Target::Email => self.email(a, st).await,
            (op, _) => Err(Failure {
                error: GraphErrorSummary {
                    message: format!(
                        "the plan has an action authctl can't run: {op} {}",
                        a.target()
                    ),
                    ..GraphErrorSummary::default()
                },
                note: None,
                unknown: false,
            }),
        }
    }

    /// A registration delete: 204 done, 404 done (already gone).
    async fn delete_registration(
        &self,
        a: &Action,
        r: &Registration,
        st: &mut UserRun,
    ) -> Result<ActionReport, Failure> {
        st.last_read = None;
        let id = st.id.clone();
        let res = self
            .journaled(
                Some(&id),
                None,
                "delete",
                Some(r.method_type.name()),
                self.graph.delete_registration(&id, &r.method_type, &r.id),
            )
            .await;
        match res {
            Ok(()) => Ok(report(a, ActionOutcome::Done, None)),
            Err(e) if e.status() == Some(404) => Ok(report(
                a,
                ActionOutcome::Done,
                Some("Graph answered 404: the registration was already gone".into()),
            )),
            Err(e) => Err(Failure::from(&e)),
        }
    }

    /// The email method: create (re-read after an unknown outcome or a "has one already" refusal), update, delete
    /// (404 = done).
    async fn email(&self, a: &Action, st: &mut UserRun) -> Result<ActionReport, Failure> {
        let id = st.id.clone();
        let address = a.after.clone().unwrap_or_default();
        let has = |u: &ObservedUser| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&address))
        };
        st.last_read = None;
        match a.call {
            Call::CreateEmail => {
                let r = self
                    .journaled(
                        Some(&id),
                        None,
                        "create",
                        Some("email"),
                        self.graph.create_email(&id, &address),
                    )
                    .await;
                match r {
                    Ok(_) => Ok(report(a, ActionOutcome::Done, None)),
                    Err(e) if e.outcome_unknown() || has_one_already(&e) => {
                        // It may have landed (or another run made it): look before anything else.
                        if self.wait_for(st, &has).await.is_some() {
                            return Ok(report(
                                a,
                                ActionOutcome::Done,
                                Some(format!(
                                    "the create's answer was {e}; the re-read found the address: done"
                                )),
                            ));
                        }
                        Err(Failure::from(&e))
                    }
                    Err(e) => Err(Failure::from(&e)),
                }
            }
            Call::UpdateEmail => self
                .journaled(
                    Some(&id),
                    None,
                    "update",
                    Some("email"),
                    self.graph.update_email(&id, &address),
                )
                .await
                .map(|()| report(a, ActionOutcome::Done, None))
                .map_err(|e| Failure::from(&e)),
            _ => match self
                .journaled(
                    Some(&id),
                    None,
                    "delete",
                    Some("email"),
                    self.graph.delete_email(&id),
                )
                .await
            {
                Ok(()) => Ok(report(a, ActionOutcome::Done, None)),
                Err(e) if e.status() == Some(404) => Ok(report(
                    a,
                    ActionOutcome::Done,
                    Some("Graph answered 404: the email method was already gone".into()),
                )),
                Err(e) => Err(Failure::from(&e)),
            },
        }
    }

    /// A create, with the unknown-outcome and 409 rules. Returns the note for the report.
    async fn create(
        &self,
        id: &str,
        t: PhoneType,
        number: &str,
        st: &mut UserRun,
    ) -> Result<Option<String>, Failure> {
        st.last_read = None;
        let first = self.create_once(id, t, number).await;
        match first {
            Ok(_) => Ok(None),
            Err(e) if is_not_unique(&e) => self.saved_despite_409(t, number, &e, st).await,
            // "The user already has a phone method of this type" (400 in Graph's answers; 409 is tolerated
            // too): another run (or a retry under read lag) created it. The desired number there is done.
            // Re-read until a phone of this type shows (riding out read lag, up to the convergence timeout): the
            // desired number there means done; another number, or none, keeps Graph's refusal.
            Err(e) if matches!(e.status(), Some(400 | 409)) => {
                match self.wait_for(st, |u| u.phones.contains_key(&t)).await {
                    Some(user) if has_phone(&user, t, number) => Ok(Some(format!(
                        "Graph refused the create ({e}): the phone exists already, with this number (another \
                         run, or an earlier try, created it): done"
                    ))),
                    _ => Err(Failure::from(&e)),
                }
            }
            Err(e) if e.outcome_unknown() => {
                // The POST may have been applied: look before sending it again.
                match self.read_user(st).await {
                    Ok(user) if has_phone(&user, t, number) => {
                        return Ok(Some(format!(
                            "the create's outcome was unknown ({e}); the re-read found the phone, so it is done"
                        )));
                    }
                    // Graph went away with the POST in flight: nothing can tell whether it landed.
                    Err(_) if self.graph.unreachable().is_some() => {
                        return Err(Failure {
                            unknown: true,
                            ..Failure::from(&e)
                        });
                    }
                    _ => {}
                }
                match self.create_once(id, t, number).await {
                    Ok(_) => Ok(Some(format!(
                        "the first create's outcome was unknown ({e}) and the re-read did not find the phone; \
                         created on the one retry"
                    ))),
                    Err(e2) if is_not_unique(&e2) => {
                        self.saved_despite_409(t, number, &e2, st).await
                    }
                    Err(e2) => {
                        // The first POST may have landed after all and the re-read lagged: wait for it.
                        if self
                            .wait_for(st, |u| has_phone(u, t, number))
                            .await
                            .is_some()
                        {
                            Ok(Some(format!(
                                "the first create's outcome was unknown ({e}); the retry was refused ({e2}), and \
                                 the phone is there: done"
                            )))
                        } else {
                            // With Graph gone, the first POST may still have landed behind read lag.
                            Err(Failure {
                                error: summary(&e2),
                                note: Some(format!(
                                    "retried once after an unknown outcome ({e}); the retry failed"
                                )),
                                unknown: e2.outcome_unknown() || self.graph.unreachable().is_some(),
                            })
                        }
                    }
                }
            }
            Err(e) => Err(Failure::from(&e)),
        }
    }

    async fn create_once(
        &self,
        id: &str,
        t: PhoneType,
        number: &str,
    ) -> Result<PhoneMethod, GraphError> {
        self.journaled(
            Some(id),
            None,
            "create",
            Some(t.as_str()),
            self.graph.create_phone(id, t, number),
        )
        .await
    }

    /// Graph answered 409 `phoneNumberNotUnique` to a mobile write: Graph saves the phone anyway (it only could not
    /// register it for SMS sign-in). Done if a re-read shows the phone, with its SMS state reported.
    async fn saved_despite_409(
        &self,
        t: PhoneType,
        number: &str,
        e: &GraphError,
        st: &mut UserRun,
    ) -> Result<Option<String>, Failure> {
        match self.wait_for(st, |u| has_phone(u, t, number)).await {
            Some(user) => {
                let sms = user
                    .phones
                    .get(&t)
                    .map(|p| p.sms_sign_in_state.to_string())
                    .unwrap_or_default();
                Ok(Some(format!(
                    "Graph answered 409 phoneNumberNotUnique, but the phone was saved (smsSignInState {sms}: \
                     another user holds this number for SMS sign-in)"
                )))
            }
            None => Err(Failure {
                note: Some("409 phoneNumberNotUnique and the phone is not there on re-read".into()),
                ..Failure::from(e)
            }),
        }
    }

    /// An SMS sign-in action: after a mobile write (or when the plan says so), re-read and decide.
    async fn sms(
        &self,
        u: &UserPlan,
        a: &Action,
        st: &mut UserRun,
    ) -> Result<ActionReport, Failure> {
        let id = st.id.clone();
        let desired = u.desired.sms_sign_in.unwrap_or(if a.op() == Op::Enable {
            SmsSignIn::Enabled
        } else {
            SmsSignIn::Disabled
        });
        let op = if a.after_reread || st.mobile_written.is_some() {
            let user = match st.mobile_written.clone() {
                // Wait until the write is visible: under read lag an immediate re-read shows the old mobile.
                Some(n) => {
                    self.wait_for(st, |u| has_phone(u, PhoneType::Mobile, &n))
                        .await
                }
                None => self.read_user(st).await.ok(),
            };
            let Some(user) = user else {
                return Err(Failure {
                    error: GraphErrorSummary {
                        message: "the mobile written before this SMS sign-in action is not visible on re-read \
                                  within the convergence timeout; SMS sign-in was not changed"
                            .into(),
                        ..GraphErrorSummary::default()
                    },
                    note: None,
                    unknown: false,
                });
            };
            let Some(mobile) = user.phones.get(&PhoneType::Mobile) else {
                return Err(Failure {
                    error: GraphErrorSummary {
                        message: "the user has no mobile on re-read; SMS sign-in can't be changed"
                            .into(),
                        ..GraphErrorSummary::default()
                    },
                    note: None,
                    unknown: false,
                });
            };
            let state = mobile.sms_sign_in_state.clone();
            match sms_decision(desired, &state) {
                SmsDecision::Enable => Op::Enable,
                SmsDecision::Disable => Op::Disable,
                SmsDecision::InSync => {
                    return Ok(report(
                        a,
                        ActionOutcome::NotNeeded,
                        Some(format!(
                            "smsSignInState is {state} after the re-read: nothing to do"
                        )),
                    ));
                }
                SmsDecision::InSyncWarning(w) | SmsDecision::PendingUserAction(w) => {
                    return Ok(report(a, ActionOutcome::NotNeeded, Some(w)));
                }
                SmsDecision::Blocked(r) => {
                    return Ok(report(
                        a,
                        ActionOutcome::NotNeeded,
                        Some(format!("blocked: {r}")),
                    ));
                }
            }
        } else {
            a.op()
        };
        st.last_read = None;
        let sms = Some(Target::SmsSignIn.as_str());
        let r = if op == Op::Enable {
            self.journaled(
                Some(&id),
                None,
                "enable",
                sms,
                self.graph.enable_sms_sign_in(&id),
            )
            .await
        } else {
            self.journaled(
                Some(&id),
                None,
                "disable",
                sms,
                self.graph.disable_sms_sign_in(&id),
            )
            .await
        };
        match r {
            Ok(()) => Ok(report(
                a,
                ActionOutcome::Done,
                (op != a.op()).then(|| format!("{op}d after the re-read")),
            )),
            Err(e) => Err(Failure::from(&e)),
        }
    }

    /// The user's current phones: the last read if nothing was written since, else a fresh read.
    async fn read_user(&self, st: &mut UserRun) -> Result<ObservedUser, GraphError> {
        if let Some(u) = &st.last_read {
            return Ok(u.clone());
        }
        let u = self.read_observed(&st.id, &st.upn, st.full).await?;
        st.last_read = Some(u.clone());
        Ok(u)
    }

    /// Re-reads until `ok` holds, with bounded backoff on the Graph clock (up to `converge_timeout`): rides out
    /// read lag after a write. `None` when it never held.
    async fn wait_for(
        &self,
        st: &mut UserRun,
        ok: impl Fn(&ObservedUser) -> bool,
    ) -> Option<ObservedUser> {
        let clock = self.graph.clock();
        let start = clock.now();
        let mut delay = Duration::from_millis(500);
        loop {
            st.last_read = None;
            if let Ok(u) = self.read_user(st).await
                && ok(&u)
            {
                return Some(u);
            }
            let elapsed = crate::clock::since(clock.now(), start);
            // With Graph gone every read fails at once: waiting could only use up the timeout.
            if elapsed >= self.options.converge_timeout || self.graph.unreachable().is_some() {
                return None;
            }
            let wait = delay.min(self.options.converge_timeout - elapsed);
            clock.sleep(wait).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }
}

/// One user's state during its run.
pub(crate) struct UserRun {
    pub(crate) id: String,
    pub(crate) upn: String,
    /// Reads are of the full method list (the plan manages the email or a registered type).
    pub(crate) full: bool,
    /// The last read, valid until the next write.
    pub(crate) last_read: Option<ObservedUser>,
    /// The mobile number written in this run (a create or update), if any.
    pub(crate) mobile_written: Option<String>,
}

fn is_not_unique(e: &GraphError) -> bool {
    e.status() == Some(409) && e.code() == Some(SmsSignInState::PhoneNumberNotUnique.as_str())
}

/// What the report says to do about a default-method refusal.
const DEFAULT_METHOD_REMEDY: &str = "it is the user's default sign-in method, which Graph won't delete: change the \
     user's default method first (Entra admin center → the user → Authentication methods → default sign-in method, or \
     the user at https://mysignins.microsoft.com/security-info), then apply again";

/// Graph's refusal of an email create because the user has an email method already (another run, or an earlier
/// try whose answer was lost, made it): 400 (409 tolerated) whose message says so.
fn has_one_already(e: &GraphError) -> bool {
    matches!(e.status(), Some(400 | 409))
        && matches!(e, GraphError::Api { message, .. } if message.to_lowercase().contains("already"))
}

/// A removal (phone, email or registration delete).
fn is_removal(a: &Action) -> bool {
    a.op() == Op::Delete
}

/// What an action is about, in words (the registration's description for a registration).
fn subject(a: &Action) -> String {
    match &a.registration {
        Some(r) => crate::plan::registration_label(r),
        None => a.target().to_string(),
    }
}
