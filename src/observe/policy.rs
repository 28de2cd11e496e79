//! The read side of the authentication methods policy: read the policy, resolve the manifest's group names to ids
//! (a missing or ambiguous name is an error at its place), read the groups of users whose SMS sign-in the policy
//! blocks, and hand the pure planner (`crate::plan::methods_policy`) what it needs.

use std::collections::HashMap;

use futures_util::StreamExt as _;
use serde_json::Value;

use crate::graph::{Graph, GraphError};
use crate::manifest::policy::{ALL_USERS, DesiredPolicy, GroupRef, METHODS, NOBODY};
use crate::plan::methods_policy::{
    PolicyError, Resolution, SmsPolicyView, apply_sms_policy, observed_config, plan_policy,
};
use crate::plan::{BlockCode, Plan, PolicyPlan};

/// Users whose group membership is read at once (for blocked SMS sign-ins).
const GROUP_READS_IN_FLIGHT: usize = 16;

fn read_error(what: &str, e: &GraphError) -> PolicyError {
    PolicyError {
        file: String::new(),
        line: 0,
        column: 0,
        path: String::new(),
        message: format!("cannot read {what}: {e}"),
        help: "the policy needs Policy.Read.AuthenticationMethod (apply: Policy.ReadWrite.AuthenticationMethod) and \
               group names GroupMember.Read.All; delegated, the Authentication Policy Administrator role"
            .into(),
    }
}

/// Resolves every target of `desired` to an id: `allUsers` → `all_users`, an object id → itself once the group is
/// found, a display name → the one group of that name. Errors name the target's place.
pub async fn resolve(graph: &Graph, desired: &DesiredPolicy) -> (Resolution, Vec<PolicyError>) {
    let mut r = Resolution::default();
    let mut errors = Vec::new();
    let mut by_name: HashMap<String, Result<String, String>> = HashMap::new();
    let mut by_id: HashMap<String, Result<String, String>> = HashMap::new();
    for m in &desired.methods {
        for t in m.targets() {
            let found = match &t.group {
                GroupRef::AllUsers => Ok(ALL_USERS.to_string()),
                GroupRef::Nobody => Ok(NOBODY.to_string()),
                GroupRef::Id(id) => {
                    if !by_id.contains_key(id) {
                        let res = match graph.get_group(id).await {
                            Ok(g) => {
                                if let Some(n) = g.display_name {
                                    r.names.insert(id.clone(), n);
                                }
                                Ok(id.clone())
                            }
                            Err(GraphError::Api { status: 404, .. }) => {
                                Err(format!("no group has the object id `{id}`"))
                            }
                            Err(e) => Err(format!("cannot read group `{id}`: {e}")),
                        };
                        by_id.insert(id.clone(), res);
                    }
                    by_id[id].clone()
                }
                GroupRef::Name(name) => {
                    if !by_name.contains_key(name) {
                        let res = match graph.find_groups_by_display_name(name).await {
                            Ok(groups) if groups.len() == 1 => {
                                let id = groups[0].id.to_ascii_lowercase();
                                r.names.insert(id.clone(), name.clone());
                                Ok(id)
                            }
                            Ok(groups) if groups.is_empty() => Err(format!(
                                "no group is named \"{}\"",
                                crate::escape::visible(name)
                            )),
                            Ok(groups) => Err(format!(
                                "{} groups are named \"{}\" ({}); a name must pick one group",
                                groups.len(),
                                crate::escape::visible(name),
                                groups
                                    .iter()
                                    .map(|g| g.id.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )),
                            Err(e) => Err(format!(
                                "cannot look up the group \"{}\": {e}",
                                crate::escape::visible(name)
                            )),
                        };
                        by_name.insert(name.clone(), res);
                    }
                    by_name[name].clone()
                }
            };
            match found {
                Ok(id) => {
                    r.ids.insert(t.path.clone(), id);
                }
                Err(message) => errors.push(PolicyError {
                    file: t.at.file.clone(),
                    line: t.at.line,
                    column: t.at.column,
                    path: t.path.clone(),
                    message,
                    help: "name the group by its object id (`group: <GUID>`), or give it a unique display name"
                        .into(),
                }),
            }
        }
    }
    (r, errors)
}

/// Names of the groups a policy's targets and a resolution mention that the resolution doesn't know yet.
async fn name_groups(graph: &Graph, policy: &Value, r: &mut Resolution) {
    let ids = crate::manifest::policy::target_group_ids(policy);
    for id in ids {
        if r.names.contains_key(&id) {
            continue;
        }
        if let Ok(g) = graph.get_group(&id).await
            && let Some(n) = g.display_name
        {
            r.names.insert(id, n);
        }
    }
}

/// Reads the policy and plans `desired` against it (resolution errors are in the plan's `errors`). Also returns
/// the policy read and the group names known, for the SMS view.
pub async fn plan_policy_from_graph(
    graph: &Graph,
    desired: &DesiredPolicy,
) -> (PolicyPlan, Option<Value>, Resolution) {
    let policy = match graph.get_methods_policy().await {
        Ok(p) => p,
        Err(e) => {
            let plan = PolicyPlan {
                observed_digest: String::new(),
                declared: desired
                    .methods
                    .iter()
                    .map(|m| m.spec.key.to_string())
                    .collect(),
                methods: Vec::new(),
                errors: vec![read_error("the authentication methods policy", &e)],
                digest: String::new(),
            }
            .sealed();
            return (plan, None, Resolution::default());
        }
    };
    let (mut resolution, errors) = resolve(graph, desired).await;
    name_groups(graph, &policy, &mut resolution).await;
    let mut plan = plan_policy(desired, &resolution, &policy);
    if !errors.is_empty() {
        // Unresolved targets would make a partial list: nothing is planned for the policy.
        plan.methods.clear();
        plan.errors = errors;
        plan = plan.sealed();
    }
    (plan, Some(policy), resolution)
}

/// Adds the policy to a user plan: plans the declared policy (when `desired` is given) and explains or unblocks
/// the users' SMS sign-ins that the policy blocks (when the policy and group membership are readable; otherwise
/// the engine's reason stands).
pub async fn add_policy(graph: &Graph, desired: Option<&DesiredPolicy>, plan: &mut Plan) {
    let mut read: Option<Value> = None;
    let mut resolution = Resolution::default();
    if let Some(desired) = desired {
        let (p, policy, r) = plan_policy_from_graph(graph, desired).await;
        plan.policy = Some(p);
        plan.summary = plan.summary.clone().with_policy(plan.policy.as_ref());
        read = policy;
        resolution = r;
    }
    let blocked: Vec<String> = plan
        .users
        .iter()
        .filter(|u| {
            u.blocked.iter().any(|b| {
                b.code == BlockCode::SmsSignInState
                    && b.before.as_deref() == Some("notAllowedByPolicy")
            })
        })
        .filter_map(|u| u.id.clone())
        .collect();
    if blocked.is_empty() {
        return;
    }
    let policy = match read {
        Some(p) => p,
        None => match graph.get_methods_policy().await {
            Ok(p) => {
                name_groups(graph, &p, &mut resolution).await;
                p
            }
            Err(_) => return,
        },
    };
    let Some(sms) = METHODS
        .iter()
        .find(|m| m.key == "sms")
        .and_then(|s| observed_config(&policy, s))
        .cloned()
    else {
        return;
    };
    let after = match &plan.policy {
        Some(p) if p.errors.is_empty() => p.planned_config("sms", &sms),
        _ => sms.clone(),
    };
    // Several users' groups at once (the client's own parallelism bounds the requests in flight).
    let reads: Vec<(String, Result<Vec<String>, GraphError>)> =
        futures_util::stream::iter(blocked.iter().cloned())
            .map(|id| async move {
                let r = graph.user_group_ids(&id).await;
                (id, r)
            })
            .buffer_unordered(GROUP_READS_IN_FLIGHT)
            .collect()
            .await;
    let mut groups = HashMap::new();
    for (id, r) in reads {
        match r {
            Ok(ids) => {
                groups.insert(
                    id.to_ascii_lowercase(),
                    ids.into_iter().map(|g| g.to_ascii_lowercase()).collect(),
                );
            }
            // Membership unreadable: the engine's reason stands.
            Err(_) => return,
        }
    }
    let view = SmsPolicyView {
        before: sms,
        after,
        groups,
        names: resolution.names,
    };
    apply_sms_policy(plan, &view);
}
