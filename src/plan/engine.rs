//! The plan engine: desired × observed → [`Plan`]. Pure and deterministic: the same inputs (including the salt and
//! time the caller supplies) give the same plan.

use std::collections::{BTreeMap, HashMap};

use crate::model::{DesiredPhone, DesiredUser, ObservedMethod, ObservedUser, PhoneType, SmsSignIn};

use super::lockout;
use super::model::{
    Action, BlockCode, Blocked, DEFAULT_MAX_DELETES, DeleteGuard, DesiredState, FORMAT_VERSION,
    GraphErrorSummary, Guards, LockoutCheck, Op, Pending, Plan, RunError, Summary, Target,
    UserError, UserPlan, UserState,
};
use super::redact::Redaction;
use super::state::{
    Registration, SmsDecision, SmsView, managed_digest, prefix_digests, sms_decision, step,
};

/// What Graph said about one desired user.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// The user exists; its phone methods were read.
    Found {
        /// The user and its phones.
        user: ObservedUser,
        /// The full method list (`GET …/authentication/methods`, `@odata.type` kept), for the lock-out preflight;
        /// `None` when not read (see [`Plan::users_needing_lockout_check`]).
        methods: Option<Vec<ObservedMethod>>,
    },
    /// No such user.
    Missing,
    /// Graph answered with an error for this user.
    Error(GraphErrorSummary),
}

/// The observed side of a plan: one entry per desired user, keyed by the user exactly as written in the manifest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedSet {
    users: HashMap<String, Observed>,
    /// Object id → references written for it (a user may be written twice: a duplicate the plan reports).
    by_id: HashMap<String, Vec<String>>,
}

impl ObservedSet {
    /// An empty set.
    pub fn new() -> ObservedSet {
        ObservedSet::default()
    }

    /// Records what Graph said about the user written as `reference`.
    pub fn insert(&mut self, reference: impl Into<String>, observed: Observed) {
        let reference = reference.into();
        if let Observed::Found { user, .. } = &observed {
            self.by_id
                .entry(user.id.clone())
                .or_default()
                .push(reference.clone());
        }
        self.users.insert(reference, observed);
    }

    /// Records a found user without a method list.
    pub fn insert_found(&mut self, reference: impl Into<String>, user: ObservedUser) {
        self.insert(
            reference,
            Observed::Found {
                user,
                methods: None,
            },
        );
    }

    /// Adds the full method list of the found user with object id `id` (after [`Plan::users_needing_lockout_check`]).
    /// Returns false when no found user has that id.
    pub fn set_methods(&mut self, id: &str, list: Vec<ObservedMethod>) -> bool {
        let mut found = false;
        for reference in self.by_id.get(id).into_iter().flatten() {
            if let Some(Observed::Found { user, methods }) = self.users.get_mut(reference)
                && user.id == id
            {
                *methods = Some(list.clone());
                found = true;
            }
        }
        found
    }

    /// What Graph said about `reference`.
    pub fn get(&self, reference: &str) -> Option<&Observed> {
        self.users.get(reference)
    }
}

/// What the operator asked for, resolved once from the command line (`--max-deletes`, `--allow-lockout`, `--user`)
/// and handed unchanged to the read side ([`crate::observe::build_plan`]), the engine (inside [`PlanSettings`]) and
/// apply's gate. [`Policy::default`] is the command line's default (`--max-deletes 10`); there is no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `--max-deletes`: more phone deletes than this refuse the apply (the plan shows whether the guard holds).
    pub max_deletes: usize,
    /// `--allow-lockout`: lock-out is reported, not blocked.
    pub allow_lockout: bool,
    /// `--user`: plan only these users (UPN, case-insensitive, or object id); empty = every user. Applied by the
    /// read side before planning; the engine plans whatever users it is given.
    pub only_users: Vec<String>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_deletes: DEFAULT_MAX_DELETES,
            allow_lockout: false,
            only_users: Vec::new(),
        }
    }
}

impl Policy {
    /// No guard at all: what re-planning uses (apply's verification, convergence) so that every remaining
    /// difference shows as an action rather than as blocked.
    pub fn unguarded() -> Policy {
        Policy {
            max_deletes: usize::MAX,
            allow_lockout: true,
            only_users: Vec::new(),
        }
    }
}

/// Settings a plan is made under. Everything impure (time, salt, git commit) is supplied by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSettings {
    /// The guards (default: [`Policy::default`]).
    pub policy: Policy,
    /// The manifest loader's digest.
    pub manifest_digest: String,
    /// The manifests' git commit, if any.
    pub git_commit: Option<String>,
    /// When the plan is made.
    pub created: jiff::Timestamp,
    /// A fresh random salt (hex) for number fingerprints; see [`Redaction`].
    pub redaction_salt: String,
    /// The authctl version recorded in the plan.
    pub authctl_version: String,
}

impl PlanSettings {
    /// Defaults ([`Policy::default`], this build's version) with the caller's time and salt.
    pub fn new(created: jiff::Timestamp, redaction_salt: impl Into<String>) -> PlanSettings {
        PlanSettings {
            policy: Policy::default(),
            manifest_digest: String::new(),
            git_commit: None,
            created,
            redaction_salt: redaction_salt.into(),
            authctl_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Plans every desired user against what Graph said. The rules (README "plan", "apply: how the executor works"):
/// canonical comparison, exact vs merge mode, Graph's mobile/alternateMobile constraints, the SMS sign-in table
/// ([`sms_decision`]), the order of calls, and the lock-out preflight; each is pinned by a unit test below.
pub fn plan(desired: &[DesiredUser], observed: &ObservedSet, settings: &PlanSettings) -> Plan {
    let mut masked_users = Vec::new();
    let mut users = Vec::with_capacity(desired.len());

    // Same user twice after resolution: both entries get an error naming the other.
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in desired.iter().enumerate() {
        if let Some(Observed::Found { user, .. }) = observed.get(&d.user) {
            by_id.entry(user.id.as_str()).or_default().push(i);
        }
    }
    let mut duplicate_of: HashMap<usize, usize> = HashMap::new();
    for idx in by_id.values().filter(|v| v.len() > 1) {
        for &i in idx {
            let other = idx.iter().copied().find(|&j| j != i).unwrap_or(i);
            duplicate_of.insert(i, other);
        }
    }

    for (i, d) in desired.iter().enumerate() {
        let duplicate = duplicate_of.get(&i).map(|&j| &desired[j]);
        match plan_entry(d, observed.get(&d.user), duplicate, &settings.policy) {
            Entry::Planned(up) => users.push(*up),
            Entry::Masked(upn) => masked_users.push(upn),
        }
    }

    let error = (!masked_users.is_empty()).then_some(RunError::MaskedNumbers {
        users: masked_users,
    });
    if error.is_some() {
        // Never a diff from masked numbers: the run stops with the one error.
        users.clear();
    }

    let summary = summarise(&users);
    let redaction = Redaction::for_numbers(
        settings.redaction_salt.clone(),
        users.iter().flat_map(numbers_of),
    );
    Plan {
        format_version: FORMAT_VERSION,
        authctl_version: settings.authctl_version.clone(),
        manifest_digest: settings.manifest_digest.clone(),
        git_commit: settings.git_commit.clone(),
        created: settings.created,
        guards: Guards {
            max_deletes: DeleteGuard {
                limit: settings.policy.max_deletes,
                deletes: summary.destroy,
                holds: summary.destroy <= settings.policy.max_deletes,
            },
            allow_lockout: settings.policy.allow_lockout,
        },
        redaction,
        error,
        users,
        summary,
    }
}

/// Every number a user's plan mentions (for choosing the fingerprint length).
fn numbers_of(u: &UserPlan) -> Vec<&str> {
    let mut v: Vec<&str> = u
        .desired
        .phones
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    for s in u.observed.iter().chain(u.predicted.iter()) {
        v.extend(s.phones.values().map(String::as_str));
    }
    v
}

/// The managed part of a desired user, resolved (exact mode's undeclared types become absent).
fn desired_state(d: &DesiredUser) -> DesiredState {
    let mut phones = BTreeMap::new();
    for t in PhoneType::ALL {
        match d.desired(t) {
            Some(DesiredPhone::Number(n)) => {
                phones.insert(t, Some(n.canonical()));
            }
            Some(DesiredPhone::Absent) => {
                phones.insert(t, None);
            }
            None => {}
        }
    }
    DesiredState {
        phones,
        sms_sign_in: d.sms_sign_in,
    }
}

/// One phone type's raw decision.
fn phone_action(t: PhoneType, d: &DesiredUser, obs: &UserState) -> Option<Action> {
    let observed = obs.phones.get(&t);
    let (op, before, after) = match (d.desired(t)?, observed) {
        (DesiredPhone::Number(n), None) => (Op::Create, None, Some(n.canonical())),
        (DesiredPhone::Number(n), Some(o)) if *o == n.canonical() => return None,
        (DesiredPhone::Number(n), Some(o)) => (Op::Update, Some(o.clone()), Some(n.canonical())),
        (DesiredPhone::Absent, Some(o)) => (Op::Delete, Some(o.clone()), None),
        (DesiredPhone::Absent, None) => return None,
    };
    Some(Action {
        op,
        target: t.into(),
        before,
        after,
        after_reread: false,
        note: None,
    })
}

fn block(a: &Action, code: BlockCode, reason: impl Into<String>) -> Blocked {
    Blocked {
        target: a.target,
        op: Some(a.op),
        before: a.before.clone(),
        after: a.after.clone(),
        code,
        reason: reason.into(),
    }
}

fn sms_action(op: Op, before: Option<String>, after: &str, after_reread: bool) -> Action {
    Action {
        op,
        target: Target::SmsSignIn,
        before,
        after: Some(after.to_string()),
        after_reread,
        note: None,
    }
}

/// One desired user's entry in the plan, or the UPN of a user whose numbers Graph masked (the run then stops).
enum Entry {
    Planned(Box<UserPlan>),
    Masked(String),
}

/// Plans one desired user from what Graph said about it (`duplicate`: another entry resolving to the same user).
fn plan_entry(
    d: &DesiredUser,
    observed: Option<&Observed>,
    duplicate: Option<&DesiredUser>,
    policy: &Policy,
) -> Entry {
    let unplanned = |id: Option<&ObservedUser>, error: UserError| {
        Entry::Planned(Box::new(UserPlan {
            user: d.user.clone(),
            id: id.map(|u| u.id.clone()),
            upn: id.map(|u| u.user_principal_name.clone()),
            source: d.source.clone(),
            mode: d.mode,
            desired: desired_state(d),
            observed: None,
            actions: Vec::new(),
            blocked: Vec::new(),
            pending: Vec::new(),
            warnings: Vec::new(),
            lockout: LockoutCheck::NotNeeded,
            managed_state_digest: None,
            prefix_digests: Vec::new(),
            predicted: None,
            error: Some(error),
        }))
    };
    let (user, methods) = match observed {
        None => return unplanned(None, UserError::NotRead),
        Some(Observed::Missing) => {
            return unplanned(
                None,
                UserError::NotFound {
                    user: d.user.clone(),
                },
            );
        }
        Some(Observed::Error(e)) => {
            return unplanned(None, UserError::Graph { error: e.clone() });
        }
        Some(Observed::Found { user, methods }) => (user, methods),
    };
    if let Some(other) = duplicate {
        return unplanned(
            Some(user),
            UserError::Duplicate {
                other_user: other.user.clone(),
                other_source: other.source.clone(),
            },
        );
    }
    let Ok(obs) = UserState::from_observed(user) else {
        return Entry::Masked(user.user_principal_name.clone());
    };
    let desired = desired_state(d);
    let decided = plan_user(d, user, &obs, methods.as_deref(), policy);
    Entry::Planned(Box::new(UserPlan {
        user: d.user.clone(),
        id: Some(user.id.clone()),
        upn: Some(user.user_principal_name.clone()),
        source: d.source.clone(),
        mode: d.mode,
        managed_state_digest: Some(managed_digest(&desired, &obs, SmsView::Exact)),
        prefix_digests: prefix_digests(&desired, &obs, &decided.actions),
        predicted: Some(predict(&obs, &decided.actions)),
        desired,
        observed: Some(obs),
        actions: decided.actions,
        blocked: decided.blocked,
        pending: decided.pending,
        warnings: decided.warnings,
        lockout: decided.lockout,
        error: None,
    }))
}

/// What the rules decide for one readable user.
#[derive(Debug, Default)]
struct Decided {
    actions: Vec<Action>,
    blocked: Vec<Blocked>,
    pending: Vec<Pending>,
    warnings: Vec<String>,
    lockout: LockoutCheck,
}

/// The rules for one user, as steps: phone decisions (with Graph's mobile/alternateMobile constraints), SMS
/// sign-in, the order of calls, then the lock-out preflight.
fn plan_user(
    d: &DesiredUser,
    user: &ObservedUser,
    obs: &UserState,
    methods: Option<&[ObservedMethod]>,
    policy: &Policy,
) -> Decided {
    let mut warnings = unknown_type_warnings(user);
    let phones = phone_steps(d, obs);
    let sms = sms_step(d, obs, &phones);
    warnings.extend(sms.warnings);
    let ordered = order(
        &phones,
        sms.action,
        pre_delete_disable(obs, &phones, sms.planned),
    );
    let mut blocked = phones.blocked;
    blocked.extend(sms.blocked);
    let checked = lockout_step(ordered, obs, methods, policy.allow_lockout);
    warnings.extend(checked.warnings);
    blocked.extend(checked.blocked);
    Decided {
        actions: checked.kept,
        blocked,
        pending: sms.pending,
        warnings,
        lockout: checked.lockout,
    }
}

/// A warning for each phone method of a type authctl does not know (kept, never deleted).
fn unknown_type_warnings(user: &ObservedUser) -> Vec<String> {
    user.unknown_phones
        .iter()
        .map(|raw| {
            let t = raw
                .get("phoneType")
                .and_then(|v| v.as_str())
                .unwrap_or("(none)");
            format!(
                "a phone method of a type authctl does not know (phoneType `{t}`) is kept: never deleted"
            )
        })
        .collect()
}

/// The three phone decisions after Graph's constraints between the mobile and the alternateMobile.
struct PhoneSteps {
    mobile: Option<Action>,
    alternate: Option<Action>,
    office: Option<Action>,
    blocked: Vec<Blocked>,
    /// The mobile is created or updated.
    mobile_written: bool,
    /// The mobile is deleted.
    mobile_deleted: bool,
    /// A mobile exists after the phone actions.
    mobile_after: bool,
}

fn phone_steps(d: &DesiredUser, obs: &UserState) -> PhoneSteps {
    let mut mobile = phone_action(PhoneType::Mobile, d, obs);
    let mut alternate = phone_action(PhoneType::AlternateMobile, d, obs);
    let office = phone_action(PhoneType::Office, d, obs);
    let mut blocked = Vec::new();

    // Graph keeps no alternateMobile without a mobile: deleting the mobile while one stays is refused (the docs
    // say to update the mobile instead).
    let alternate_stays = match &alternate {
        Some(a) => a.op != Op::Delete,
        None => obs.phones.contains_key(&PhoneType::AlternateMobile),
    };
    if let Some(m) = &mobile
        && m.op == Op::Delete
        && alternate_stays
    {
        blocked.push(block(
            m,
            BlockCode::AlternateMobileKeepsMobile,
            "the mobile can't be deleted while an alternateMobile stays; update the mobile to another number, \
             or delete the alternateMobile too",
        ));
        mobile = None;
    }
    let mobile_deleted = mobile.as_ref().is_some_and(|m| m.op == Op::Delete);
    let mobile_written = mobile
        .as_ref()
        .is_some_and(|m| matches!(m.op, Op::Create | Op::Update));
    let mobile_after =
        mobile_written || (obs.phones.contains_key(&PhoneType::Mobile) && !mobile_deleted);

    if let Some(a) = &alternate
        && a.op != Op::Delete
        && !mobile_after
    {
        blocked.push(block(
            a,
            BlockCode::AlternateMobileNeedsMobile,
            "an alternateMobile needs a mobile, and the user has none in Graph; declare a mobile",
        ));
        alternate = None;
    }
    PhoneSteps {
        mobile,
        alternate,
        office,
        blocked,
        mobile_written,
        mobile_deleted,
        mobile_after,
    }
}

/// The SMS sign-in decision.
#[derive(Default)]
struct SmsStep {
    action: Option<Action>,
    /// An SMS action is planned (so no extra disable before a mobile delete).
    planned: bool,
    blocked: Vec<Blocked>,
    pending: Vec<Pending>,
    warnings: Vec<String>,
}

fn sms_step(d: &DesiredUser, obs: &UserState, phones: &PhoneSteps) -> SmsStep {
    let mut step = SmsStep::default();
    let Some(want) = d.sms_sign_in else {
        return step;
    };
    let observed_sms = obs.sms_sign_in_state.as_ref();
    let observed_sms_str = observed_sms.map(|s| s.as_str().to_string());
    let target_state = match want {
        SmsSignIn::Enabled => "ready",
        SmsSignIn::Disabled => "notEnabled",
    };
    let op = match want {
        SmsSignIn::Enabled => Op::Enable,
        SmsSignIn::Disabled => Op::Disable,
    };
    if phones.mobile_written {
        // The write may register the new number by itself: the executor re-reads, then decides.
        let mut a = sms_action(op, observed_sms_str, target_state, true);
        a.note = Some("after re-reading the mobile: the write may have registered it".into());
        step.action = Some(a);
    } else if !phones.mobile_after {
        if want == SmsSignIn::Enabled {
            step.blocked.push(Blocked {
                target: Target::SmsSignIn,
                op: Some(Op::Enable),
                before: None,
                after: Some("ready".into()),
                code: BlockCode::SmsSignInNeedsMobile,
                reason:
                    "SMS sign-in needs a mobile, and the user has none in Graph; declare a mobile"
                        .into(),
            });
        }
    } else if let Some(state) = observed_sms {
        match sms_decision(want, state) {
            SmsDecision::InSync => {}
            SmsDecision::InSyncWarning(w) => step.warnings.push(w),
            SmsDecision::Enable | SmsDecision::Disable => {
                step.action = Some(sms_action(op, observed_sms_str, target_state, false));
            }
            SmsDecision::PendingUserAction(r) => step.pending.push(Pending {
                target: Target::SmsSignIn,
                reason: r,
            }),
            SmsDecision::Blocked(r) => step.blocked.push(Blocked {
                target: Target::SmsSignIn,
                op: Some(Op::Enable),
                before: observed_sms_str,
                after: Some("ready".into()),
                code: BlockCode::SmsSignInState,
                reason: r,
            }),
        }
    }
    step.planned = step.action.is_some();
    step
}

/// Deleting a mobile registered for SMS sign-in: disable first (when the SMS step does not already).
fn pre_delete_disable(obs: &UserState, phones: &PhoneSteps, sms_planned: bool) -> Option<Action> {
    let ready = obs.sms_sign_in_state == Some(crate::model::SmsSignInState::Ready);
    (phones.mobile_deleted && !sms_planned && ready).then(|| {
        let before = obs
            .sms_sign_in_state
            .as_ref()
            .map(|s| s.as_str().to_string());
        let mut a = sms_action(Op::Disable, before, "notEnabled", false);
        a.note = Some("before deleting the mobile".into());
        a
    })
}

/// The order Graph needs: write mobile → write alternateMobile and office → SMS → delete alternateMobile → delete
/// office → (disable SMS) delete mobile.
fn order(
    phones: &PhoneSteps,
    sms: Option<Action>,
    pre_delete_disable: Option<Action>,
) -> Vec<Action> {
    let writes = |a: &Option<Action>| a.clone().filter(|a| a.op != Op::Delete);
    let deletes = |a: &Option<Action>| a.clone().filter(|a| a.op == Op::Delete);
    [
        writes(&phones.mobile),
        writes(&phones.alternate),
        writes(&phones.office),
        sms,
        deletes(&phones.alternate),
        deletes(&phones.office),
        pre_delete_disable,
        deletes(&phones.mobile),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The lock-out preflight's outcome: the actions kept, the destructive ones blocked, warnings.
struct LockoutStep {
    kept: Vec<Action>,
    blocked: Vec<Blocked>,
    warnings: Vec<String>,
    lockout: LockoutCheck,
}

fn lockout_step(
    actions: Vec<Action>,
    obs: &UserState,
    methods: Option<&[ObservedMethod]>,
    allow_lockout: bool,
) -> LockoutStep {
    let mut out = LockoutStep {
        kept: Vec::new(),
        blocked: Vec::new(),
        warnings: Vec::new(),
        lockout: LockoutCheck::NotNeeded,
    };
    if !actions.iter().any(Action::is_destructive) {
        out.kept = actions;
        return out;
    }
    let after_all = predict(obs, &actions);
    let verdict = methods.map(|m| lockout::check(m, obs, &after_all));
    out.lockout = match (&verdict, allow_lockout) {
        (Some(Ok(())), _) => LockoutCheck::Passed,
        (Some(Err(_)), true) => LockoutCheck::Allowed,
        (Some(Err(_)), false) => LockoutCheck::Blocked,
        (None, true) => LockoutCheck::Allowed,
        (None, false) => LockoutCheck::NotChecked,
    };
    match (&verdict, out.lockout) {
        (Some(Err(why)), LockoutCheck::Allowed) => out
            .warnings
            .push(format!("{why}; applied anyway because of --allow-lockout")),
        (None, LockoutCheck::Allowed) => out.warnings.push(
            "the lock-out preflight was not run (method list not read); --allow-lockout given"
                .into(),
        ),
        _ => {}
    }
    if !matches!(
        out.lockout,
        LockoutCheck::Blocked | LockoutCheck::NotChecked
    ) {
        out.kept = actions;
        return out;
    }
    let (code, reason) = match verdict {
        Some(Err(why)) => (
            BlockCode::LockOut,
            format!("{why}; give the user another method first, or pass --allow-lockout"),
        ),
        _ => (
            BlockCode::LockOutNotChecked,
            "the lock-out preflight needs the user's full method list, which was not read"
                .to_string(),
        ),
    };
    let (gone, kept): (Vec<Action>, Vec<Action>) =
        actions.into_iter().partition(Action::is_destructive);
    out.blocked = gone
        .iter()
        .map(|a| block(a, code, reason.clone()))
        .collect();
    out.kept = kept;
    out
}

/// The state after `actions` (the plan's own prediction).
fn predict(obs: &UserState, actions: &[Action]) -> UserState {
    let mut s = obs.clone();
    for a in actions {
        // A plan's actions are consistent with its own prediction; an error here would be a bug that the
        // property tests catch through `simulate`.
        let _ = step(&mut s, a, &Registration::Predict);
    }
    s
}

fn summarise(users: &[UserPlan]) -> Summary {
    let mut s = Summary {
        users: users.len(),
        ..Summary::default()
    };
    for u in users {
        if !u.actions.is_empty() {
            s.users_with_changes += 1;
        }
        for a in &u.actions {
            match a.op {
                Op::Create => s.add += 1,
                Op::Update => s.change += 1,
                Op::Delete => s.destroy += 1,
                Op::Enable | Op::Disable => s.sms_changes += 1,
            }
        }
        s.blocked += u.blocked.len();
        s.pending += u.pending.len();
        s.warnings += u.warnings.len();
        if u.error.is_some() {
            s.errors += 1;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MethodKind, Mode, ObservedPhone, SmsSignInState as S, SourceLocation};
    use crate::phone::PhoneNumber;
    use serde_json::json;

    const M: PhoneType = PhoneType::Mobile;
    const A: PhoneType = PhoneType::AlternateMobile;
    const O: PhoneType = PhoneType::Office;

    fn num(s: &str) -> DesiredPhone {
        DesiredPhone::Number(PhoneNumber::parse(s).unwrap().number)
    }

    fn want(
        mode: Mode,
        phones: &[(PhoneType, DesiredPhone)],
        sms: Option<SmsSignIn>,
    ) -> DesiredUser {
        DesiredUser {
            user: "cam@contoso.com".into(),
            mode,
            phones: phones.iter().cloned().collect(),
            sms_sign_in: sms,
            source: SourceLocation {
                file: "users.yaml".into(),
                line: 3,
                column: 7,
            },
        }
    }

    fn have(phones: &[(PhoneType, &str)], sms: S) -> ObservedUser {
        ObservedUser {
            id: "id-cam".into(),
            user_principal_name: "cam@contoso.com".into(),
            phones: phones
                .iter()
                .map(|(t, n)| {
                    let state = if *t == M {
                        sms.clone()
                    } else {
                        S::NotSupported
                    };
                    (
                        *t,
                        ObservedPhone {
                            phone_type: *t,
                            phone_number: (*n).into(),
                            sms_sign_in_state: state,
                        },
                    )
                })
                .collect(),
            unknown_phones: vec![],
        }
    }

    fn settings() -> PlanSettings {
        PlanSettings::new(jiff::Timestamp::UNIX_EPOCH, "salt")
    }

    /// Plans one user with a method list holding a password and Authenticator (so lock-out never blocks).
    fn one(d: DesiredUser, o: ObservedUser) -> UserPlan {
        let mut set = ObservedSet::new();
        set.insert(
            d.user.clone(),
            Observed::Found {
                user: o,
                methods: Some(vec![
                    ObservedMethod::of(MethodKind::Password),
                    ObservedMethod::of(MethodKind::MicrosoftAuthenticator),
                ]),
            },
        );
        let p = plan(&[d], &set, &settings());
        assert!(p.error.is_none());
        p.users.into_iter().next().unwrap()
    }

    fn ops(u: &UserPlan) -> Vec<(Op, Target)> {
        u.actions.iter().map(|a| (a.op, a.target)).collect()
    }

    #[test]
    fn number_vs_nothing_creates() {
        let u = one(
            want(Mode::Merge, &[(O, num("+1 4255550100"))], None),
            have(&[], S::NotEnabled),
        );
        assert_eq!(ops(&u), vec![(Op::Create, Target::Office)]);
        assert_eq!(u.actions[0].after.as_deref(), Some("+1 4255550100"));
    }

    #[test]
    fn other_number_updates() {
        let u = one(
            want(Mode::Merge, &[(O, num("+1 4255550100"))], None),
            have(&[(O, "+1 4255550199")], S::NotEnabled),
        );
        assert_eq!(ops(&u), vec![(Op::Update, Target::Office)]);
        assert_eq!(u.actions[0].before.as_deref(), Some("+1 4255550199"));
    }

    #[test]
    fn absent_deletes_in_either_mode() {
        for mode in [Mode::Merge, Mode::Exact] {
            let u = one(
                want(
                    mode,
                    &[(M, num("+1 2065555555")), (O, DesiredPhone::Absent)],
                    None,
                ),
                have(&[(M, "+1 2065555555"), (O, "+1 4255550100")], S::NotEnabled),
            );
            assert_eq!(ops(&u), vec![(Op::Delete, Target::Office)], "{mode}");
        }
    }

    #[test]
    fn canonical_equality_no_diff() {
        let u = one(
            want(Mode::Exact, &[(M, num("+1 2065555555"))], None),
            have(&[(M, "+12065555555")], S::NotEnabled),
        );
        assert!(u.actions.is_empty(), "{:?}", u.actions);
        assert!(u.blocked.is_empty());
    }

    #[test]
    fn exact_deletes_undeclared_merge_keeps_them() {
        let o = have(
            &[
                (M, "+1 2065555555"),
                (A, "+1 2065555556"),
                (O, "+1 4255550100"),
            ],
            S::NotEnabled,
        );
        let exact = one(
            want(Mode::Exact, &[(M, num("+1 2065555555"))], None),
            o.clone(),
        );
        assert_eq!(
            ops(&exact),
            vec![
                (Op::Delete, Target::AlternateMobile),
                (Op::Delete, Target::Office)
            ]
        );
        let merge = one(want(Mode::Merge, &[(M, num("+1 2065555555"))], None), o);
        assert!(merge.actions.is_empty());
        assert_eq!(
            merge.predicted, merge.observed,
            "merge mode predicts no phantom deletes"
        );
    }

    #[test]
    fn per_user_order() {
        // Exact mode, every kind of action at once: update mobile, create office, SMS, delete alternate.
        let u = one(
            want(
                Mode::Exact,
                &[(M, num("+1 2065550001")), (O, num("+1 4255550100"))],
                Some(SmsSignIn::Disabled),
            ),
            have(&[(M, "+1 2065555555"), (A, "+1 2065555556")], S::Ready),
        );
        assert_eq!(
            ops(&u),
            vec![
                (Op::Update, Target::Mobile),
                (Op::Create, Target::Office),
                (Op::Disable, Target::SmsSignIn),
                (Op::Delete, Target::AlternateMobile),
            ]
        );
        assert!(
            u.actions[2].after_reread,
            "SMS after a mobile write waits for a re-read"
        );
    }

    #[test]
    fn deletes_come_alternate_office_then_mobile_with_disable_first() {
        let u = one(
            want(Mode::Exact, &[(M, DesiredPhone::Absent)], None),
            have(
                &[
                    (M, "+1 2065555555"),
                    (A, "+1 2065555556"),
                    (O, "+1 4255550100"),
                ],
                S::Ready,
            ),
        );
        assert_eq!(
            ops(&u),
            vec![
                (Op::Delete, Target::AlternateMobile),
                (Op::Delete, Target::Office),
                (Op::Disable, Target::SmsSignIn),
                (Op::Delete, Target::Mobile),
            ]
        );
    }

    fn sms_case(wanted: SmsSignIn, observed: S) -> UserPlan {
        one(
            want(Mode::Merge, &[(M, num("+1 2065555555"))], Some(wanted)),
            have(&[(M, "+1 2065555555")], observed),
        )
    }

    #[test]
    fn sms_enabled_row() {
        assert!(sms_case(SmsSignIn::Enabled, S::Ready).actions.is_empty());
        assert_eq!(
            ops(&sms_case(SmsSignIn::Enabled, S::NotEnabled)),
            vec![(Op::Enable, Target::SmsSignIn)]
        );
        let pending = sms_case(SmsSignIn::Enabled, S::NotConfigured);
        assert!(pending.actions.is_empty());
        assert_eq!(pending.pending.len(), 1);
        for s in [
            S::NotAllowedByPolicy,
            S::PhoneNumberNotUnique,
            S::NotSupported,
            S::Other("new".into()),
        ] {
            let u = sms_case(SmsSignIn::Enabled, s.clone());
            assert!(u.actions.is_empty(), "{s}");
            assert_eq!(u.blocked.len(), 1, "{s}");
            assert_eq!(u.blocked[0].code, BlockCode::SmsSignInState);
        }
    }

    #[test]
    fn sms_disabled_row() {
        assert_eq!(
            ops(&sms_case(SmsSignIn::Disabled, S::Ready)),
            vec![(Op::Disable, Target::SmsSignIn)]
        );
        for s in [
            S::NotEnabled,
            S::NotConfigured,
            S::NotAllowedByPolicy,
            S::PhoneNumberNotUnique,
        ] {
            let u = sms_case(SmsSignIn::Disabled, s.clone());
            assert!(
                u.actions.is_empty() && u.blocked.is_empty() && u.warnings.is_empty(),
                "{s}"
            );
        }
        for s in [S::NotSupported, S::UnknownFutureValue] {
            let u = sms_case(SmsSignIn::Disabled, s.clone());
            assert!(u.actions.is_empty(), "{s}");
            assert_eq!(u.warnings.len(), 1, "{s}");
        }
    }

    #[test]
    fn sms_after_mobile_create_is_conditional_and_predicts_desired() {
        for (wanted, after) in [
            (SmsSignIn::Enabled, S::Ready),
            (SmsSignIn::Disabled, S::NotEnabled),
        ] {
            let u = one(
                want(Mode::Merge, &[(M, num("+1 2065555555"))], Some(wanted)),
                have(&[], S::NotEnabled),
            );
            assert_eq!(ops(&u)[0], (Op::Create, Target::Mobile));
            assert!(u.actions[1].after_reread);
            assert_eq!(u.predicted.unwrap().sms_sign_in_state, Some(after));
        }
    }

    #[test]
    fn sms_unmanaged_mobile_write_predicts_unknown_state() {
        let u = one(
            want(Mode::Merge, &[(M, num("+1 2065555555"))], None),
            have(&[], S::NotEnabled),
        );
        assert_eq!(ops(&u), vec![(Op::Create, Target::Mobile)]);
        assert_eq!(u.predicted.unwrap().sms_sign_in_state, None);
    }

    #[test]
    fn alternate_without_mobile_in_merge_is_blocked() {
        let u = one(
            want(Mode::Merge, &[(A, num("+1 2065555556"))], None),
            have(&[], S::NotEnabled),
        );
        assert!(u.actions.is_empty());
        assert_eq!(u.blocked[0].code, BlockCode::AlternateMobileNeedsMobile);
        // With a mobile in Graph it goes ahead.
        let u = one(
            want(Mode::Merge, &[(A, num("+1 2065555556"))], None),
            have(&[(M, "+1 2065555555")], S::NotEnabled),
        );
        assert_eq!(ops(&u), vec![(Op::Create, Target::AlternateMobile)]);
    }

    #[test]
    fn sms_enabled_without_mobile_in_merge_is_blocked() {
        let u = one(
            want(Mode::Merge, &[], Some(SmsSignIn::Enabled)),
            have(&[], S::NotEnabled),
        );
        assert_eq!(u.blocked[0].code, BlockCode::SmsSignInNeedsMobile);
        // Disabled with no mobile is in sync.
        let u = one(
            want(Mode::Merge, &[], Some(SmsSignIn::Disabled)),
            have(&[], S::NotEnabled),
        );
        assert!(u.blocked.is_empty() && u.actions.is_empty());
    }

    #[test]
    fn mobile_delete_while_alternate_stays_is_blocked() {
        let u = one(
            want(Mode::Merge, &[(M, DesiredPhone::Absent)], None),
            have(&[(M, "+1 2065555555"), (A, "+1 2065555556")], S::NotEnabled),
        );
        assert!(u.actions.is_empty());
        assert_eq!(u.blocked[0].code, BlockCode::AlternateMobileKeepsMobile);
    }

    fn with_methods(
        d: DesiredUser,
        o: ObservedUser,
        methods: Option<Vec<ObservedMethod>>,
        allow: bool,
    ) -> Plan {
        let mut set = ObservedSet::new();
        set.insert(d.user.clone(), Observed::Found { user: o, methods });
        let mut s = settings();
        s.policy.allow_lockout = allow;
        plan(&[d], &set, &s)
    }

    #[test]
    fn lockout_blocks_deleting_the_last_factor_unless_allowed() {
        let d = want(Mode::Exact, &[], None);
        let o = have(&[(O, "+1 4255550100")], S::NotEnabled);
        let pw = vec![ObservedMethod::of(MethodKind::Password)];
        let p = with_methods(d.clone(), o.clone(), Some(pw.clone()), false);
        let u = &p.users[0];
        assert!(u.actions.is_empty());
        assert_eq!(u.lockout, LockoutCheck::Blocked);
        assert_eq!(u.blocked[0].code, BlockCode::LockOut);
        let p = with_methods(d, o, Some(pw), true);
        assert_eq!(p.users[0].actions.len(), 1);
        assert_eq!(p.users[0].lockout, LockoutCheck::Allowed);
    }

    #[test]
    fn lockout_without_methods_asks_for_them() {
        let d = want(Mode::Exact, &[], None);
        let o = have(&[(O, "+1 4255550100")], S::NotEnabled);
        let p = with_methods(d.clone(), o.clone(), None, false);
        assert_eq!(p.users_needing_lockout_check(), vec!["id-cam"]);
        assert_eq!(p.users[0].blocked[0].code, BlockCode::LockOutNotChecked);
        // The second pass, with the list read, plans the delete.
        let mut set = ObservedSet::new();
        set.insert_found(d.user.clone(), o.clone());
        assert!(set.set_methods("id-cam", vec![ObservedMethod::of(MethodKind::Fido2)]));
        assert!(!set.set_methods("nobody", vec![]));
        let p = plan(std::slice::from_ref(&d), &set, &settings());
        assert_eq!(p.users[0].lockout, LockoutCheck::Passed);
        assert_eq!(p.users[0].actions.len(), 1);
        // Creates and updates are never held back by the preflight.
        let d = want(Mode::Merge, &[(M, num("+1 2065555555"))], None);
        let p = with_methods(d, o, None, false);
        assert!(p.users_needing_lockout_check().is_empty());
        assert_eq!(p.users[0].actions.len(), 1);
    }

    #[test]
    fn lockout_sms_only_user_is_blocked() {
        // Only a ready mobile, no password: disabling SMS sign-in removes the only way in.
        let d = want(
            Mode::Merge,
            &[(M, num("+1 2065555555"))],
            Some(SmsSignIn::Disabled),
        );
        let o = have(&[(M, "+1 2065555555")], S::Ready);
        let methods = vec![ObservedMethod::of(MethodKind::Phone)];
        let p = with_methods(d, o, Some(methods), false);
        assert!(p.users[0].actions.is_empty());
        assert_eq!(p.users[0].blocked[0].code, BlockCode::LockOut);
    }

    #[test]
    fn masked_numbers_stop_the_run_with_one_error() {
        let mut set = ObservedSet::new();
        let a = want(Mode::Exact, &[(M, num("+1 2065555555"))], None);
        let mut b = a.clone();
        b.user = "dana@contoso.com".into();
        set.insert_found(a.user.clone(), have(&[(M, "+1 206XXXXX55")], S::NotEnabled));
        let mut ob = have(&[(M, "+1 2065555555")], S::NotEnabled);
        ob.id = "id-dana".into();
        set.insert_found(b.user.clone(), ob);
        let p = plan(&[a, b], &set, &settings());
        let Some(RunError::MaskedNumbers { users }) = &p.error else {
            panic!("{:?}", p.error)
        };
        assert_eq!(users, &vec!["cam@contoso.com".to_string()]);
        assert!(p.users.is_empty(), "never a diff");
        let msg = p.error.unwrap().to_string();
        for remedy in [
            "UserAuthenticationMethod.Read.All",
            "UserAuthMethod-Phone.Read.All",
            "Privileged Authentication Administrator",
        ] {
            assert!(msg.contains(remedy), "{msg}");
        }
    }

    #[test]
    fn missing_and_failed_users_are_per_user_errors() {
        let a = want(Mode::Exact, &[(M, num("+1 2065555555"))], None);
        let mut b = a.clone();
        b.user = "ghost@contoso.com".into();
        let mut c = a.clone();
        c.user = "err@contoso.com".into();
        let mut set = ObservedSet::new();
        set.insert_found(a.user.clone(), have(&[], S::NotEnabled));
        set.insert(b.user.clone(), Observed::Missing);
        set.insert(
            c.user.clone(),
            Observed::Error(GraphErrorSummary {
                status: Some(403),
                code: Some("accessDenied".into()),
                message: "no".into(),
                request_id: Some("rid".into()),
            }),
        );
        let p = plan(&[a, b, c], &set, &settings());
        assert_eq!(p.users[0].actions.len(), 1, "others still plan");
        assert!(matches!(p.users[1].error, Some(UserError::NotFound { .. })));
        assert!(matches!(p.users[2].error, Some(UserError::Graph { .. })));
        assert_eq!(p.summary.errors, 2);
        assert!(p.has_errors());
    }

    #[test]
    fn duplicate_after_resolution_names_both_places() {
        let a = want(Mode::Exact, &[(M, num("+1 2065555555"))], None);
        let mut b = a.clone();
        b.user = "id-cam".into();
        b.source.line = 20;
        let mut set = ObservedSet::new();
        set.insert_found(a.user.clone(), have(&[], S::NotEnabled));
        set.insert_found(b.user.clone(), have(&[], S::NotEnabled));
        let p = plan(&[a, b], &set, &settings());
        let Some(UserError::Duplicate {
            other_source,
            other_user,
        }) = &p.users[0].error
        else {
            panic!()
        };
        assert_eq!(other_source.line, 20);
        assert_eq!(other_user, "id-cam");
        let Some(UserError::Duplicate { other_source, .. }) = &p.users[1].error else {
            panic!()
        };
        assert_eq!(other_source.line, 3);
        assert!(
            p.users[0]
                .error
                .as_ref()
                .unwrap()
                .to_string()
                .contains("users.yaml:20:7")
        );
        assert_eq!(p.summary.actions(), 0);
    }

    #[test]
    fn unknown_phone_types_are_kept_and_reported() {
        let mut o = have(&[(M, "+1 2065555555")], S::NotEnabled);
        o.unknown_phones.push(
            json!({"id": "x", "phoneType": "unknownFutureValue", "phoneNumber": "+1 2065550000"}),
        );
        let u = one(want(Mode::Exact, &[(M, num("+1 2065555555"))], None), o);
        assert!(u.actions.is_empty());
        assert_eq!(u.warnings.len(), 1);
    }

    #[test]
    fn max_deletes_guard() {
        let d = want(Mode::Exact, &[(M, num("+1 2065555555"))], None);
        let o = have(
            &[
                (M, "+1 2065555555"),
                (A, "+1 2065555556"),
                (O, "+1 4255550100"),
            ],
            S::NotEnabled,
        );
        let mut set = ObservedSet::new();
        set.insert(
            d.user.clone(),
            Observed::Found {
                user: o,
                methods: Some(vec![]),
            },
        );
        let mut s = settings();
        s.policy.max_deletes = 1;
        let p = plan(std::slice::from_ref(&d), &set, &s);
        assert_eq!(p.guards.max_deletes.deletes, 2);
        assert!(!p.guards_hold());
        // A plan apply would refuse fails the run, with or without --detailed-exitcode.
        assert_eq!(p.exit_code(false, false), crate::exit::ExitCode::Error);
        assert_eq!(p.exit_code(true, false), crate::exit::ExitCode::Error);
        s.policy.max_deletes = 2;
        assert!(plan(&[d], &set, &s).guards_hold());
    }

    #[test]
    fn summary_line() {
        let u = one(
            want(
                Mode::Exact,
                &[(M, num("+1 2065550001")), (O, num("+1 4255550100"))],
                Some(SmsSignIn::Enabled),
            ),
            have(&[(M, "+1 2065555555"), (A, "+1 2065555556")], S::NotEnabled),
        );
        let s = summarise(&[u]);
        assert_eq!(
            s.line(),
            "Plan: 1 to add, 1 to change, 1 to destroy, 1 SMS sign-in change"
        );
        let s = Summary {
            blocked: 1,
            pending: 2,
            ..s
        };
        assert_eq!(
            s.line(),
            "Plan: 1 to add, 1 to change, 1 to destroy, 1 SMS sign-in change; 1 blocked, 2 pending user actions"
        );
        assert_eq!(
            Summary::default().line(),
            "No changes: the phones match the manifests"
        );
    }

    #[test]
    fn freshness_resumes_after_any_prefix_and_refuses_changes() {
        let d = want(
            Mode::Exact,
            &[(M, num("+1 2065550001")), (O, num("+1 4255550100"))],
            Some(SmsSignIn::Disabled),
        );
        let o = have(&[(M, "+1 2065555555"), (A, "+1 2065555556")], S::Ready);
        let u = one(d, o.clone());
        assert_eq!(u.prefix_digests.len(), u.actions.len() + 1);
        assert_eq!(
            u.prefix_digests[0],
            *u.managed_state_digest.as_ref().unwrap()
        );
        // Walk Graph through the actions one at a time; every intermediate state is fresh at its own prefix.
        for k in 0..=u.actions.len() {
            // Auto-registration leaves the new mobile ready: the conditional disable is still to do.
            let now = super::super::simulate(&o, &u.actions[..k], &S::Ready).unwrap();
            let f = u.freshness(&now).unwrap();
            let super::super::Freshness::Fresh { resume_at } = f else {
                panic!("k={k}: {f:?}")
            };
            assert_eq!(resume_at, k, "k={k}");
        }
        // An out-of-band change is stale.
        let mut changed = o.clone();
        changed.phones.get_mut(&M).unwrap().phone_number = "+1 2065559999".into();
        assert!(matches!(
            u.freshness(&changed).unwrap(),
            super::super::Freshness::Stale { .. }
        ));
    }

    #[test]
    fn freshness_after_create_accepts_any_registration_outcome() {
        let d = want(
            Mode::Merge,
            &[(M, num("+1 2065555555"))],
            Some(SmsSignIn::Disabled),
        );
        let o = have(&[], S::NotEnabled);
        let u = one(d, o.clone());
        for reg in [S::Ready, S::NotEnabled, S::NotAllowedByPolicy] {
            let now = super::super::simulate(&o, &u.actions[..1], &reg).unwrap();
            let super::super::Freshness::Fresh { resume_at } = u.freshness(&now).unwrap() else {
                panic!()
            };
            // Not registered: the disable has nothing left to do, so the user is already at the end.
            let expect = if reg == S::Ready { 1 } else { 2 };
            assert_eq!(resume_at, expect, "{reg}");
        }
    }

    #[test]
    fn plan_file_round_trips_and_refuses_other_versions() {
        let u = one(
            want(Mode::Exact, &[(M, num("+1 2065550001"))], None),
            have(&[(M, "+1 2065555555"), (O, "+1 4255550100")], S::NotEnabled),
        );
        let mut set = ObservedSet::new();
        let d = want(Mode::Exact, &[(M, num("+1 2065550001"))], None);
        set.insert(
            d.user.clone(),
            Observed::Found {
                user: have(&[(M, "+1 2065555555"), (O, "+1 4255550100")], S::NotEnabled),
                methods: Some(vec![ObservedMethod::of(MethodKind::Fido2)]),
            },
        );
        let p = plan(&[d], &set, &settings());
        assert_eq!(p.users[0].actions, u.actions);
        let text = p.to_file_json();
        assert!(
            !text.contains("+1 2065555555"),
            "observed numbers not in manifests are masked"
        );
        assert!(!text.contains("+1 4255550100"));
        assert!(text.contains("+1 2065550001"), "manifest numbers are kept");
        let back = Plan::from_json(&text).unwrap();
        assert_eq!(back.users[0].prefix_digests, p.users[0].prefix_digests);
        let other = text.replace("\"formatVersion\": 1", "\"formatVersion\": 2");
        assert!(matches!(
            Plan::from_json(&other),
            Err(crate::plan::PlanFileError::FormatVersion { found: Some(2), .. })
        ));
    }

    #[test]
    fn convergence_tells_lag_from_divergence() {
        use crate::plan::{Convergence, convergence, simulate};
        let d = want(Mode::Exact, &[(M, num("+1 2065550001"))], None);
        let o = have(&[(M, "+1 2065555555"), (O, "+1 4255550100")], S::NotEnabled);
        let applied = one(d.clone(), o.clone());
        // Read lag: Graph still shows the old state.
        let lagging = one(d.clone(), o.clone());
        assert_eq!(
            convergence(&applied, &lagging),
            Convergence::NotYetVisible(vec![Target::Mobile, Target::Office])
        );
        // Applied and visible.
        let done = simulate(&o, &applied.actions, &S::NotEnabled).unwrap();
        assert_eq!(
            convergence(&applied, &one(d.clone(), done)),
            Convergence::Converged
        );
        // Someone else set another number meanwhile.
        let other = have(&[(M, "+1 2065559999")], S::NotEnabled);
        assert_eq!(
            convergence(&applied, &one(d, other)),
            Convergence::Diverged(vec![Target::Mobile])
        );
    }
}
