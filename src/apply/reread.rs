//! Reading users back at apply time: re-resolving each user's UPN (refusing one that now maps to another object
//! id) and re-reading phone methods, batched, into the [`ObservedUser`] the plan engine compares against.

use std::collections::HashMap;

use crate::graph::{GraphError, PhoneMethod};
use crate::model::ObservedUser;
use crate::plan::{GraphErrorSummary, UserPlan};

use super::runner::Runner;

/// Why a user could not be re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RereadError {
    /// The UPN now belongs to another object: the plan's user is not the one Graph would change.
    UpnMoved {
        /// The UPN.
        upn: String,
        /// The object id in the plan.
        planned_id: String,
        /// The object id the UPN resolves to now.
        now_id: String,
    },
    /// The user no longer exists (or its UPN changed).
    NotFound {
        /// The UPN or id looked up.
        user: String,
    },
    /// Graph answered with an error.
    Graph(GraphErrorSummary),
    /// The plan has no object id for the user (it could not be planned).
    NotPlanned,
}

impl std::fmt::Display for RereadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RereadError::UpnMoved {
                upn,
                planned_id,
                now_id,
            } => write!(
                f,
                "`{upn}` now resolves to object {now_id}, not to {planned_id} as planned; refusing to change \
                 another user (make a new plan)"
            ),
            RereadError::NotFound { user } => write!(
                f,
                "`{user}` no longer resolves to a user (deleted or renamed since the plan)"
            ),
            RereadError::Graph(e) => write!(f, "re-reading the user failed: {e}"),
            RereadError::NotPlanned => f.write_str("the plan has no object id for this user"),
        }
    }
}

/// A Graph error as the report shows it (the same summary the plan records).
pub fn summary(e: &GraphError) -> GraphErrorSummary {
    crate::observe::error_summary(e)
}

/// The observed user from Graph's phone methods (unknown types kept verbatim).
pub fn observed_user(id: &str, upn: &str, methods: &[PhoneMethod]) -> ObservedUser {
    let info = crate::graph::UserInfo {
        id: id.to_string(),
        user_principal_name: upn.to_string(),
        display_name: None,
        on_premises_sync_enabled: None,
    };
    crate::observe::observed_user(&info, methods)
}

impl Runner<'_> {
    /// Re-resolves and re-reads `users` (batched: 15 UPNs a `$filter`, 20 phone reads a `$batch`).
    pub(crate) async fn reread_many(
        &self,
        users: &[&UserPlan],
    ) -> Vec<Result<ObservedUser, RereadError>> {
        let refs: Vec<String> = users
            .iter()
            .map(|u| u.upn.clone().unwrap_or_else(|| u.user.clone()))
            .collect();
        let resolved = self
            .journaled(
                None,
                Some(refs.len()),
                "resolve",
                None,
                self.graph.resolve_users(&refs),
            )
            .await;
        let by_ref: HashMap<String, Result<crate::graph::UserInfo, GraphError>> =
            resolved.into_iter().collect();
        let mut out: Vec<Option<Result<ObservedUser, RereadError>>> = Vec::new();
        let mut to_read: Vec<(usize, String, String, bool)> = Vec::new();
        for (i, (u, r)) in users.iter().zip(&refs).enumerate() {
            let Some(planned_id) = u.id.clone() else {
                out.push(Some(Err(RereadError::NotPlanned)));
                continue;
            };
            match by_ref.get(r) {
                Some(Ok(info)) if info.id.eq_ignore_ascii_case(&planned_id) => {
                    out.push(None);
                    to_read.push((
                        i,
                        planned_id,
                        info.user_principal_name.clone(),
                        u.desired.reads_method_list(),
                    ));
                }
                Some(Ok(info)) => out.push(Some(Err(RereadError::UpnMoved {
                    upn: r.clone(),
                    planned_id,
                    now_id: info.id.clone(),
                }))),
                Some(Err(e)) if e.is_not_found() => {
                    out.push(Some(Err(RereadError::NotFound { user: r.clone() })))
                }
                Some(Err(e)) => out.push(Some(Err(RereadError::Graph(summary(e))))),
                None => out.push(Some(Err(RereadError::NotFound { user: r.clone() }))),
            }
        }
        let who: Vec<(String, String, bool)> = to_read
            .iter()
            .map(|(_, id, upn, full)| (id.clone(), upn.clone(), *full))
            .collect();
        let read = self.read_observed_many(&who).await;
        for ((i, id, _, _), r) in to_read.into_iter().zip(read) {
            out[i] = Some(match r {
                Ok(user) => Ok(user),
                Err(e) if e.is_not_found() => Err(RereadError::NotFound { user: id }),
                Err(e) => Err(RereadError::Graph(summary(&e))),
            });
        }
        out.into_iter()
            .map(|r| r.unwrap_or(Err(RereadError::NotPlanned)))
            .collect()
    }

    /// Many users by (object id, UPN, full list?), batched, journaled: the phone methods, or the full method list
    /// for users whose plan manages the email or a registered type ([`crate::observe::read_users`]).
    pub(crate) async fn read_observed_many(
        &self,
        users: &[(String, String, bool)],
    ) -> Vec<Result<ObservedUser, GraphError>> {
        if users.is_empty() {
            return Vec::new();
        }
        let infos: Vec<(crate::graph::UserInfo, bool)> = users
            .iter()
            .map(|(id, upn, full)| {
                (
                    crate::graph::UserInfo {
                        id: id.clone(),
                        user_principal_name: upn.clone(),
                        display_name: None,
                        on_premises_sync_enabled: None,
                    },
                    *full,
                )
            })
            .collect();
        let (user, count) = match users {
            [(id, _, _)] => (Some(id.as_str()), None),
            _ => (None, Some(users.len())),
        };
        self.journaled(
            user,
            count,
            "read",
            None,
            crate::observe::read_users(self.graph, &infos),
        )
        .await
        .into_iter()
        .map(|r| r.map(|(u, _)| u))
        .collect()
    }

    /// One user's phones (and, with `full`, email and registrations), journaled.
    pub(crate) async fn read_observed(
        &self,
        id: &str,
        upn: &str,
        full: bool,
    ) -> Result<ObservedUser, GraphError> {
        if !full {
            let methods = self.read_phones(id).await?;
            return Ok(observed_user(id, upn, &methods));
        }
        let info = crate::graph::UserInfo {
            id: id.to_string(),
            user_principal_name: upn.to_string(),
            display_name: None,
            on_premises_sync_enabled: None,
        };
        let list = self
            .journaled(Some(id), None, "read", None, self.graph.list_methods(id))
            .await?;
        Ok(crate::observe::observed_user_from_methods(&info, &list).0)
    }

    /// One user's phone methods, journaled.
    pub(crate) async fn read_phones(&self, id: &str) -> Result<Vec<PhoneMethod>, GraphError> {
        self.journaled(
            Some(id),
            None,
            "read",
            None,
            self.graph.list_phone_methods(id),
        )
        .await
    }
}
