//! The plan engine: desired × observed → [`Plan`]. Pure and deterministic: the same inputs (including the salt and
//! time the caller supplies) give the same plan.

use std::collections::{BTreeMap, HashMap};

use crate::model::{
    DesiredEmail, DesiredPhone, DesiredRegistrations, DesiredUser, ObservedMethod, ObservedUser,
    PhoneType, SmsSignIn, registration_id_key,
};

use super::lockout;
use super::model::{
    Action, BlockCode, Blocked, Call, DEFAULT_MAX_DELETES, DeleteGuard, DesiredState, EmailWant,
    FORMAT_VERSION, GraphErrorSummary, Guards, LockoutCheck, Op, Pending, Plan, RunError, Summary,
    Target, UserError, UserPlan, UserState,
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
        policy: None,
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
    if let Some(EmailWant::Address(a)) = &u.desired.email {
        v.push(a);
    }
    for s in u.observed.iter().chain(u.predicted.iter()) {
        v.extend(s.phones.values().map(String::as_str));
        v.extend(s.email.as_deref());
    }
    for a in &u.actions {
        if a.target() == Target::Email {
            v.extend(a.before.as_deref());
            v.extend(a.after.as_deref());
        }
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
        email: d.email.as_ref().map(|e| match e {
            DesiredEmail::Address(a) => EmailWant::Address(a.clone()),
            DesiredEmail::Absent => EmailWant::Absent,
        }),
        registrations: d
            .registrations
            .iter()
            .map(|(t, r)| {
                let keep = match r {
                    DesiredRegistrations::Absent => None,
                    // Kept ids in their compared form (GUIDs in lower case), as every comparison below reads them.
                    DesiredRegistrations::Keep(ids) => {
                        Some(ids.iter().map(|i| registration_id_key(i)).collect())
                    }
                };
                (t.clone(), keep)
            })
            .collect(),
    }
}

/// The email method's decision (addresses compared case-insensitively: ASSUMPTIONS.md).
fn email_action(want: Option<&EmailWant>, obs: &UserState) -> Option<Action> {
    let (call, before, after) = match (want?, &obs.email) {
        (EmailWant::Address(a), None) => (Call::CreateEmail, None, Some(a.clone())),
        (EmailWant::Address(a), Some(o)) if a.eq_ignore_ascii_case(o) => return None,
        (EmailWant::Address(a), Some(o)) => (Call::UpdateEmail, Some(o.clone()), Some(a.clone())),
        (EmailWant::Absent, Some(o)) => (Call::DeleteEmail, Some(o.clone()), None),
        (EmailWant::Absent, None) => return None,
    };
    Some(Action::new(call, before, after))
}

/// One delete per registration of a managed type that the manifest does not keep, in the order Graph listed them.
/// Types the manifest does not declare are never touched.
fn registration_deletes(desired: &DesiredState, obs: &UserState) -> Vec<Action> {
    let mut out = Vec::new();
    for (t, keep) in &desired.registrations {
        for r in obs.registrations_of(t) {
            let kept = keep
                .as_ref()
                .is_some_and(|ids| ids.contains(&registration_id_key(&r.id)));
            if !kept {
                out.push(Action::delete_registration(r.clone()));
            }
        }
    }
    out
}

/// Kept ids of a keep-list that the user does not have (a key already removed, a typo): reported, nothing to do.
fn missing_kept_warnings(desired: &DesiredState, obs: &UserState) -> Vec<String> {
    let mut out = Vec::new();
    for (t, keep) in &desired.registrations {
        for id in keep.iter().flatten() {
            if !obs
                .registrations_of(t)
                .any(|r| registration_id_key(&r.id) == *id)
            {
                out.push(format!(
                    "the keep-list of `{t}` names id `{id}`, which the user has no {t} registration with (nothing to keep; authctl can't create registrations)"
                ));
            }
        }
    }
    out
}

/// One phone type's raw decision.
fn phone_action(t: PhoneType, d: &DesiredUser, obs: &UserState) -> Option<Action> {
    let observed = obs.phones.get(&t);
    let (call, before, after) = match (d.desired(t)?, observed) {
        (DesiredPhone::Number(n), None) => (Call::Create(t), None, Some(n.canonical())),
        (DesiredPhone::Number(n), Some(o)) if *o == n.canonical() => return None,
        (DesiredPhone::Number(n), Some(o)) => {
            (Call::Update(t), Some(o.clone()), Some(n.canonical()))
        }
        (DesiredPhone::Absent, Some(o)) => (Call::Delete(t), Some(o.clone()), None),
        (DesiredPhone::Absent, None) => return None,
    };
    Some(Action::new(call, before, after))
}

fn block(a: &Action, code: BlockCode, reason: impl Into<String>) -> Blocked {
    Blocked {
        target: a.target(),
        op: Some(a.op()),
        before: a.before.clone(),
        after: a.after.clone(),
        code,
        reason: reason.into(),
        registration: a.registration.clone(),
    }
}

fn sms_action(call: Call, before: Option<String>, after: &str, after_reread: bool) -> Action {
    Action {
        after_reread,
        ..Action::new(call, before, Some(after.to_string()))
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
    let decided = plan_user(d, &desired, user, &obs, methods.as_deref(), policy);
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
    desired: &DesiredState,
    user: &ObservedUser,
    obs: &UserState,
    methods: Option<&[ObservedMethod]>,
    policy: &Policy,
) -> Decided {
    let mut warnings = unknown_type_warnings(user);
    let phones = phone_steps(d, obs);
    let sms = sms_step(d, obs, &phones);
    warnings.extend(sms.warnings);
    warnings.extend(missing_kept_warnings(desired, obs));
    let email = email_action(desired.email.as_ref(), obs);
    let mut ordered = order(
        &phones,
        sms.action,
        pre_delete_disable(obs, &phones, sms.planned),
    );
    // The email written first (it depends on nothing); registrations and the email removed last.
    let (email_write, email_delete) = match email {
        Some(a) if a.op() == Op::Delete => (None, Some(a)),
        other => (other, None),
    };
    if let Some(a) = email_write {
        ordered.insert(0, a);
    }
    ordered.extend(registration_deletes(desired, obs));
    ordered.extend(email_delete);
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
        Some(a) => a.op() != Op::Delete,
        None => obs.phones.contains_key(&PhoneType::AlternateMobile),
    };
    if let Some(m) = &mobile
        && m.op() == Op::Delete
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
    let mobile_deleted = mobile.as_ref().is_some_and(|m| m.op() == Op::Delete);
    let mobile_written = mobile
        .as_ref()
        .is_some_and(|m| matches!(m.op(), Op::Create | Op::Update));
    let mobile_after =
        mobile_written || (obs.phones.contains_key(&PhoneType::Mobile) && !mobile_deleted);

    if let Some(a) = &alternate
        && a.op() != Op::Delete
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
    let call = match want {
        SmsSignIn::Enabled => Call::EnableSmsSignIn,
        SmsSignIn::Disabled => Call::DisableSmsSignIn,
    };
    if phones.mobile_written {
        // The write may register the new number by itself: the executor re-reads, then decides.
        let mut a = sms_action(call, observed_sms_str, target_state, true);
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
                registration: None,
            });
        }
    } else if let Some(state) = observed_sms {
        match sms_decision(want, state) {
            SmsDecision::InSync => {}
            SmsDecision::InSyncWarning(w) => step.warnings.push(w),
            SmsDecision::Enable | SmsDecision::Disable => {
                step.action = Some(sms_action(call, observed_sms_str, target_state, false));
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
                registration: None,
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
        let mut a = sms_action(Call::DisableSmsSignIn, before, "notEnabled", false);
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
    let writes = |a: &Option<Action>| a.clone().filter(|a| a.op() != Op::Delete);
    let deletes = |a: &Option<Action>| a.clone().filter(|a| a.op() == Op::Delete);
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

pub(crate) fn summarise(users: &[UserPlan]) -> Summary {
    let mut s = Summary {
        users: users.len(),
        ..Summary::default()
    };
    for u in users {
        if !u.actions.is_empty() {
            s.users_with_changes += 1;
        }
        for a in &u.actions {
            match a.op() {
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
#[path = "engine_tests.rs"]
mod tests;
