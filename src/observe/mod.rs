//! The read side every command shares (`plan`, `apply`, `drift`, `import`, `methods`, `phone`, `sms-sign-in`):
//! resolve users, read their phone methods, and turn Graph's answers into the plan engine's [`ObservedSet`]; then
//! [`finish_plan`] plans, runs the lock-out preflight for the users the engine asks about, and plans again. That
//! function is the only place the two-pass protocol is written; [`build_plan`] (manifests → plan) and apply's
//! verification of a saved plan (`crate::apply::verify`) both go through it.
//!
//! The boundary: this module makes Graph calls and knows nothing of terminals or flags (progress is reported through
//! the [`Progress`] trait, the caller chooses the bar). The decisions stay in the pure engine (`crate::plan`),
//! including masked-number detection and the "same user twice after resolution" check.

use std::collections::HashMap;
use std::path::Path;

use futures_util::StreamExt as _;

pub mod policy;

use crate::graph::types::{email_address, method_kind, observed_method, registration};
use crate::graph::{Graph, GraphError, PhoneMethod, UserInfo};
use crate::manifest::Manifests;
use crate::model::{DesiredUser, MethodKind, ObservedMethod, ObservedUser};
use crate::plan::{
    GraphErrorSummary, Observed, ObservedSet, Plan, PlanSettings, Policy, plan as plan_engine,
};

/// Users resolved and read per unit of work. Several units run at once (the client's own `--parallelism` bounds
/// the requests in flight), so this only sets how often progress moves and how much one slow unit holds back.
const CHUNK: usize = 300;

/// Units of [`CHUNK`] users in flight at once: enough to keep the client's request slots full across unit
/// boundaries (a unit's phone reads wait for its UPN resolution).
const UNITS_IN_FLIGHT: usize = 4;

/// Where reading progress goes (a progress bar on a terminal, nothing elsewhere).
pub trait Progress: Send + Sync {
    /// A new phase of `total` steps begins (`message` says what is being done).
    fn start(&self, message: &str, total: u64);
    /// `n` more steps are done.
    fn advance(&self, n: u64);
}

/// No progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _message: &str, _total: u64) {}
    fn advance(&self, _n: u64) {}
}

/// Why no plan could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The manifests have errors: nothing is read from Graph.
    #[error("the manifests have {0} error(s); fix them before planning")]
    InvalidManifests(usize),
    /// No access token could be obtained: every call would fail the same way, so the run stops with one error
    /// instead of one per user.
    #[error("cannot get an access token for Graph: {0}")]
    Credentials(String),
    /// A `--user` value names no user of the manifests.
    #[error(
        "--user {}: not declared in the manifests (give the userPrincipalName or object id of a declared user)",
        .0.join(", ")
    )]
    UnknownUserFilter(Vec<String>),
}

/// A Graph error as the plan records it (status, code, message, request-id kept verbatim).
pub fn error_summary(e: &GraphError) -> GraphErrorSummary {
    match e {
        GraphError::Api {
            status,
            code,
            message,
            request_id,
            ..
        } => GraphErrorSummary {
            status: Some(*status),
            code: Some(code.clone()),
            message: message.clone(),
            request_id: request_id.clone(),
        },
        other => GraphErrorSummary {
            status: None,
            code: None,
            message: other.to_string(),
            request_id: None,
        },
    }
}

/// Groups a user's phone methods by type; methods of types authctl does not know are kept raw (never deleted).
pub fn observed_user(info: &UserInfo, methods: &[PhoneMethod]) -> ObservedUser {
    let mut user = ObservedUser {
        id: info.id.clone(),
        user_principal_name: info.user_principal_name.clone(),
        phones: Default::default(),
        unknown_phones: Vec::new(),
        email: None,
        registrations: Vec::new(),
    };
    for m in methods {
        match m.to_observed() {
            Ok(p) => {
                user.phones.insert(p.phone_type, p);
            }
            Err(raw) => user.unknown_phones.push(raw),
        }
    }
    user
}

/// A user from the one polymorphic method list (`GET …/authentication/methods`): phones (grouped by type, unknown
/// phone types kept raw), the email address, every registration of a registered type (types authctl does not know
/// included: listed, never touched unless a manifest names them), and the list as the lock-out preflight takes it.
pub fn observed_user_from_methods(
    info: &UserInfo,
    methods: &[serde_json::Value],
) -> (ObservedUser, Vec<ObservedMethod>) {
    let phones: Vec<PhoneMethod> = methods
        .iter()
        .filter(|m| method_kind(m) == MethodKind::Phone)
        .filter_map(|m| serde_json::from_value(m.clone()).ok())
        .collect();
    let mut user = observed_user(info, &phones);
    user.email = methods
        .iter()
        .filter(|m| method_kind(m) == MethodKind::Email)
        .find_map(email_address);
    user.registrations = methods.iter().filter_map(registration).collect();
    (user, methods.iter().map(observed_method).collect())
}

/// Whether a desired user's methods are read as the one full list (it manages the email or a registered type).
pub fn reads_method_list(d: &DesiredUser) -> bool {
    d.email.is_some() || !d.registrations.is_empty()
}

/// Reads every desired user from Graph: UPNs resolved with `$filter … in (…)`, ids with a GET, then the phone
/// methods through `$batch` — or, for users whose manifest manages the email or a registered type, the one
/// polymorphic method list per user (`GET …/authentication/methods`, also through `$batch`: one request per user
/// however many types are managed; it doubles as the lock-out preflight's list). One entry per desired user, keyed
/// by the user as written: `Found`, `Missing` (no such user), or `Error` (Graph's error, kept verbatim). Never fails
/// as a whole: a failing user is that user's error, the others are read.
pub async fn observe(
    graph: &Graph,
    desired: &[DesiredUser],
    progress: &dyn Progress,
) -> ObservedSet {
    let refs: Vec<(String, bool)> = desired
        .iter()
        .map(|d| (d.user.clone(), reads_method_list(d)))
        .collect();
    observe_refs_with(graph, &refs, progress).await
}

/// [`observe`] for users given by reference (UPN or object id), e.g. `authctl import`'s arguments: phones only.
pub async fn observe_refs(graph: &Graph, refs: &[String], progress: &dyn Progress) -> ObservedSet {
    let refs: Vec<(String, bool)> = refs.iter().map(|r| (r.clone(), false)).collect();
    observe_refs_with(graph, &refs, progress).await
}

/// [`observe`] for users given by reference, each with whether to read its full method list (`true`: phones,
/// email and registrations from `GET …/authentication/methods`; `false`: the phone methods only).
pub async fn observe_refs_with(
    graph: &Graph,
    refs: &[(String, bool)],
    progress: &dyn Progress,
) -> ObservedSet {
    // Each user once, even when written twice (the plan engine reports the duplicate); the full list if any entry
    // asks for it.
    let mut full: HashMap<String, bool> = HashMap::new();
    let mut order = Vec::new();
    for (r, f) in refs {
        match full.get_mut(r) {
            Some(x) => *x |= *f,
            None => {
                full.insert(r.clone(), *f);
                order.push(r.clone());
            }
        }
    }
    let refs: Vec<(String, bool)> = order
        .into_iter()
        .map(|r| {
            let f = full[&r];
            (r, f)
        })
        .collect();
    progress.start("reading users from Graph", refs.len() as u64);
    let units: Vec<Vec<(String, bool)>> = refs.chunks(CHUNK).map(<[_]>::to_vec).collect();
    let mut stream = futures_util::stream::iter(units)
        .map(|unit| observe_unit(graph, unit))
        .buffer_unordered(UNITS_IN_FLIGHT);
    let mut set = ObservedSet::new();
    while let Some(results) = stream.next().await {
        progress.advance(results.len() as u64);
        for (reference, observed) in results {
            set.insert(reference, observed);
        }
    }
    set
}

async fn observe_unit(graph: &Graph, refs: Vec<(String, bool)>) -> Vec<(String, Observed)> {
    let full: HashMap<String, bool> = refs.iter().cloned().collect();
    let names: Vec<String> = refs.into_iter().map(|(r, _)| r).collect();
    let resolved = graph.resolve_users(&names).await;
    let mut out = Vec::with_capacity(names.len());
    let mut found: Vec<(String, UserInfo, bool)> = Vec::new();
    for (reference, r) in resolved {
        match r {
            Ok(info) => {
                let f = full.get(&reference).copied().unwrap_or(false);
                found.push((reference, info, f));
            }
            Err(e) if e.is_not_found() => out.push((reference, Observed::Missing)),
            Err(e) => out.push((reference, Observed::Error(error_summary(&e)))),
        }
    }
    let infos: Vec<(UserInfo, bool)> = found.iter().map(|(_, i, f)| (i.clone(), *f)).collect();
    let read = read_users(graph, &infos).await;
    for ((reference, _, _), r) in found.into_iter().zip(read) {
        let observed = match r {
            Ok((user, methods)) => Observed::Found { user, methods },
            // Deleted between the two reads: as missing as a user can be.
            Err(e) if e.is_not_found() => Observed::Missing,
            Err(e) => Observed::Error(error_summary(&e)),
        };
        out.push((reference, observed));
    }
    out
}

/// What [`read_users`] gives per user: the observed user, and its full method list when that was read.
pub type UserRead = Result<(ObservedUser, Option<Vec<ObservedMethod>>), GraphError>;

/// Reads resolved users' methods, batched: the phone methods of users with `false`, the full method list of users
/// with `true` (see [`observed_user_from_methods`]). One result per user, in input order.
pub async fn read_users(graph: &Graph, users: &[(UserInfo, bool)]) -> Vec<UserRead> {
    let mut out: Vec<Option<UserRead>> = (0..users.len()).map(|_| None).collect();
    let (full, phones): (Vec<usize>, Vec<usize>) = (0..users.len()).partition(|&i| users[i].1);
    if !phones.is_empty() {
        let ids: Vec<String> = phones.iter().map(|&i| users[i].0.id.clone()).collect();
        let read = graph.list_phone_methods_many(&ids).await;
        for (&i, (_, r)) in phones.iter().zip(read) {
            out[i] = Some(r.map(|m| (observed_user(&users[i].0, &m), None)));
        }
    }
    if !full.is_empty() {
        let ids: Vec<String> = full.iter().map(|&i| users[i].0.id.clone()).collect();
        let read = graph.list_methods_many(&ids).await;
        for (&i, (_, r)) in full.iter().zip(read) {
            out[i] = Some(r.map(|m| {
                let (u, list) = observed_user_from_methods(&users[i].0, &m);
                (u, Some(list))
            }));
        }
    }
    out.into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(GraphError::Decode {
                    message: "a user was not read".into(),
                })
            })
        })
        .collect()
}

/// Reads the full method list of each user the plan asks about (the lock-out preflight) into `observed`. A user
/// whose list can't be read stays unchecked: the engine keeps its destructive actions blocked and says why.
pub async fn read_method_lists(
    graph: &Graph,
    ids: &[String],
    observed: &mut ObservedSet,
    progress: &dyn Progress,
) {
    if ids.is_empty() {
        return;
    }
    progress.start("lock-out preflight: reading method lists", ids.len() as u64);
    // In chunks, so progress moves; each chunk goes out as `$batch` requests (20 reads each) in parallel.
    for chunk in ids.chunks(PREFLIGHT_CHUNK) {
        for (id, r) in graph.list_methods_many(chunk).await {
            progress.advance(1);
            match r {
                Ok(list) => {
                    observed.set_methods(&id, list.iter().map(observed_method).collect());
                }
                Err(e) => {
                    tracing::warn!(user = %id, error = %e, "cannot read the method list for the lock-out preflight")
                }
            }
        }
    }
}

/// Users per round of the lock-out preflight: enough `$batch` requests to keep every worker busy.
const PREFLIGHT_CHUNK: usize = 400;

/// Keeps the desired users `--user` selects: a value matches a user written the same way (UPNs case-insensitively);
/// values that match nothing as written are resolved, and match a user written as the resolved id or UPN.
pub async fn filter_users(
    graph: &Graph,
    desired: &[DesiredUser],
    only: &[String],
) -> Result<Vec<DesiredUser>, BuildError> {
    if only.is_empty() {
        return Ok(desired.to_vec());
    }
    let written = |d: &DesiredUser, v: &str| d.user.eq_ignore_ascii_case(v);
    let mut wanted: Vec<String> = only.iter().map(|v| v.to_lowercase()).collect();
    let unmatched: Vec<String> = only
        .iter()
        .filter(|v| !desired.iter().any(|d| written(d, v)))
        .cloned()
        .collect();
    let mut unknown = Vec::new();
    if !unmatched.is_empty() {
        for (value, r) in graph.resolve_users(&unmatched).await {
            match r {
                Ok(info) => {
                    let names = [
                        info.id.to_lowercase(),
                        info.user_principal_name.to_lowercase(),
                    ];
                    if desired
                        .iter()
                        .any(|d| names.contains(&d.user.to_lowercase()))
                    {
                        wanted.extend(names);
                    } else {
                        unknown.push(value);
                    }
                }
                Err(_) => unknown.push(value),
            }
        }
    }
    if !unknown.is_empty() {
        return Err(BuildError::UnknownUserFilter(unknown));
    }
    Ok(desired
        .iter()
        .filter(|d| wanted.contains(&d.user.to_lowercase()))
        .cloned()
        .collect())
}

/// The git commit (`git rev-parse HEAD`) of the repository holding the first manifest, when there is one.
pub fn git_commit(files: &[String]) -> Option<String> {
    let first = files.iter().find(|f| f.as_str() != "-")?;
    let path = Path::new(first);
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&dir)
        .args(["rev-parse", "HEAD"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && commit.len() >= 40 && commit.chars().all(|c| c.is_ascii_hexdigit()))
        .then_some(commit)
}

/// Gets an access token once before reading users (it is cached for the calls that follow), so a credential
/// problem is one clear error rather than the same error for every user.
pub async fn check_credentials(graph: &Graph) -> Result<(), BuildError> {
    graph
        .access_token()
        .await
        .map(drop)
        .map_err(|e| BuildError::Credentials(e.to_string()))
}

/// A fresh random salt for the plan's number fingerprints.
pub fn fresh_salt() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// The plan protocol's second half, the one place it is written: plan `desired` against `observed`; for users whose
/// plan deletes a phone or disables a `ready` SMS sign-in, read the full method list into `observed` (the lock-out
/// preflight) and plan again. Every command that plans (`plan`, `apply`, `drift`, `phone`, `sms-sign-in`) and
/// apply's verification of a saved plan end here, so "what the manifests demand" has one definition.
pub async fn finish_plan(
    graph: &Graph,
    desired: &[DesiredUser],
    observed: &mut ObservedSet,
    settings: &PlanSettings,
    progress: &dyn Progress,
) -> Plan {
    let first = plan_engine(desired, observed, settings);
    let ids: Vec<String> = first
        .users_needing_lockout_check()
        .into_iter()
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return first;
    }
    drop(first);
    read_method_lists(graph, &ids, observed, progress).await;
    plan_engine(desired, observed, settings)
}

/// Reads `desired` from Graph ([`observe`]) and finishes the plan ([`finish_plan`]). Returns the plan and what was
/// read (method lists included), for a caller that plans the same state again under other guards.
pub async fn plan_users(
    graph: &Graph,
    desired: &[DesiredUser],
    settings: &PlanSettings,
    progress: &dyn Progress,
) -> (Plan, ObservedSet) {
    let mut observed = observe(graph, desired, progress).await;
    let plan = finish_plan(graph, desired, &mut observed, settings, progress).await;
    (plan, observed)
}

/// The manifests' users that `policy` selects (`--user`), after checking the manifests and the credentials.
pub async fn selected_users(
    graph: &Graph,
    manifests: &Manifests,
    policy: &Policy,
) -> Result<Vec<DesiredUser>, BuildError> {
    if manifests.has_errors() {
        return Err(BuildError::InvalidManifests(manifests.error_count()));
    }
    check_credentials(graph).await?;
    filter_users(graph, &manifests.users, &policy.only_users).await
}

/// The engine's settings for the manifests under `policy`: the guards, the manifest digest, the git commit, a
/// fresh salt and a creation time from the Graph client's clock.
pub fn plan_settings(graph: &Graph, manifests: &Manifests, policy: &Policy) -> PlanSettings {
    let mut plan_settings = PlanSettings::new(graph.clock().now(), fresh_salt());
    plan_settings.policy = policy.clone();
    plan_settings.manifest_digest = manifests.digest.clone();
    plan_settings.git_commit = git_commit(&manifests.files);
    plan_settings
}

/// Reads Graph for the manifests' users and builds the plan: resolve and read ([`observe`]), then
/// [`finish_plan`] (plan, lock-out preflight, plan again). The plan carries the manifest digest, the git commit
/// (when the manifests are in a repository) and a creation time from the Graph client's clock.
pub async fn build_plan(
    graph: &Graph,
    manifests: &Manifests,
    policy: &Policy,
    progress: &dyn Progress,
) -> Result<Plan, BuildError> {
    if manifests.has_errors() {
        return Err(BuildError::InvalidManifests(manifests.error_count()));
    }
    check_credentials(graph).await?;
    let plan_settings = plan_settings(graph, manifests, policy);
    // Without `--user`, the manifests' users as they are (a copy of 100,000 users is tens of megabytes).
    let mut plan = if policy.only_users.is_empty() {
        plan_users(graph, &manifests.users, &plan_settings, progress)
            .await
            .0
    } else {
        let filtered = filter_users(graph, &manifests.users, &policy.only_users).await?;
        plan_users(graph, &filtered, &plan_settings, progress)
            .await
            .0
    };
    // The methods policy (declared or not: it explains blocked SMS sign-ins) comes after the users are read.
    self::policy::add_policy(graph, manifests.policy.as_ref(), &mut plan).await;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PhoneType, SmsSignInState};

    fn info(id: &str, upn: &str) -> UserInfo {
        UserInfo {
            id: id.into(),
            user_principal_name: upn.into(),
            display_name: None,
            on_premises_sync_enabled: None,
        }
    }

    fn method(id: &str, number: &str, t: Option<&str>, sms: Option<&str>) -> PhoneMethod {
        PhoneMethod {
            id: id.into(),
            phone_number: Some(number.into()),
            phone_type: t.map(str::to_string),
            sms_sign_in_state: sms.map(str::to_string),
        }
    }

    #[test]
    fn phone_methods_group_by_type_and_keep_unknown_types() {
        let u = observed_user(
            &info("id-1", "a@contoso.com"),
            &[
                method(
                    PhoneType::Mobile.method_id(),
                    "+1 2065550100",
                    Some("mobile"),
                    Some("ready"),
                ),
                method("x", "+1 2065550101", Some("unknownFutureValue"), None),
            ],
        );
        assert_eq!(u.phones.len(), 1);
        assert_eq!(
            u.phones[&PhoneType::Mobile].sms_sign_in_state,
            SmsSignInState::Ready
        );
        assert_eq!(u.unknown_phones.len(), 1);
    }

    #[test]
    fn api_errors_keep_graph_fields() {
        let s = error_summary(&GraphError::Api {
            status: 403,
            code: "Authorization_RequestDenied".into(),
            message: "Insufficient privileges".into(),
            request_id: Some("rid".into()),
            client_request_id: None,
            date: None,
        });
        assert_eq!(s.status, Some(403));
        assert_eq!(s.code.as_deref(), Some("Authorization_RequestDenied"));
        assert_eq!(s.request_id.as_deref(), Some("rid"));
        let t = error_summary(&GraphError::Transport {
            message: "connection reset".into(),
            outcome_unknown: false,
        });
        assert_eq!(t.status, None);
        assert!(t.message.contains("connection reset"));
    }

    #[test]
    fn git_commit_of_a_non_repository_is_none() {
        let dir = std::env::temp_dir().join(format!("authctl-nogit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("m.yaml");
        std::fs::write(&f, "").unwrap();
        // GIT_CEILING_DIRECTORIES is not set here; temp dirs are not inside repositories on CI machines.
        let c = git_commit(&[f.to_string_lossy().into_owned()]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(c, None);
        assert_eq!(git_commit(&["-".to_string()]), None);
    }
}
