//! The typed Graph calls authctl makes: resolving users, reading and writing phone methods, SMS sign-in, listing
//! all methods, password reset and its operation. URLs are built with [`odata`](super::odata) so UPNs with `'` or
//! `#` reach Graph intact.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use crate::graph::client::{Graph, Request, Safety};
use crate::graph::error::GraphError;
use crate::graph::odata;
use crate::graph::retry::parse_retry_after;
use crate::graph::secret::Secret;
use crate::graph::types::{Operation, PhoneMethod, ResetAccepted, UserInfo};
use crate::model::PhoneType;

/// UPNs per `$filter=userPrincipalName in (…)` request (Graph allows 15 values in an `in` clause).
pub const UPNS_PER_FILTER: usize = 15;

/// The password method's fixed id.
pub const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

const USER_SELECT: &str = "$select=id,userPrincipalName,displayName,onPremisesSyncEnabled";

pub(super) fn user_path(id_or_upn: &str) -> String {
    format!("users/{}", odata::segment(id_or_upn))
}

fn phone_methods_path(user: &str) -> String {
    format!("{}/authentication/phoneMethods", user_path(user))
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, GraphError> {
    serde_json::from_value(v).map_err(|e| GraphError::Decode {
        message: e.to_string(),
    })
}

/// The `value` array of one list answer (a `$batch` item's body or a GET's), or a decode error naming `what` was
/// listed.
pub(crate) fn value_items(mut v: Value, what: &str) -> Result<Vec<Value>, GraphError> {
    match v.get_mut("value").map(Value::take) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(GraphError::Decode {
            message: format!("a {what} answer without `value`"),
        }),
    }
}

fn phone_list(values: Vec<Value>) -> Result<Vec<PhoneMethod>, GraphError> {
    values.into_iter().map(decode).collect()
}

impl Graph {
    pub(super) async fn send_expect(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        safety: Safety,
    ) -> Result<crate::graph::client::Response, GraphError> {
        let url = self.url(path)?;
        let resp = self
            .execute(&Request {
                method,
                url,
                body,
                safety,
                cost: 1,
            })
            .await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(resp.error())
        }
    }

    /// Resolves users written as UPNs or object ids. UPNs go 15 at a time through `$filter`; ids are read directly
    /// (batched). A UPN Graph did not return is [`GraphError::NotFound`]; an unknown id is Graph's 404. Results are
    /// in input order, keyed by the reference as written.
    pub async fn resolve_users(
        &self,
        refs: &[String],
    ) -> Vec<(String, Result<UserInfo, GraphError>)> {
        let ids: Vec<&String> = refs.iter().filter(|r| odata::is_object_id(r)).collect();
        let mut upns: Vec<&String> = refs.iter().filter(|r| !odata::is_object_id(r)).collect();
        upns.sort_by_key(|u| u.to_lowercase());
        upns.dedup_by_key(|u| u.to_lowercase());

        let id_paths: Vec<String> = ids
            .iter()
            .map(|id| format!("{}?{USER_SELECT}", user_path(id)))
            .collect();
        let id_results = self.get_many(&id_paths).await;
        let mut by_id: HashMap<String, Result<UserInfo, GraphError>> = HashMap::new();
        for (id, r) in ids.iter().zip(id_results) {
            by_id.insert(id.to_lowercase(), r.and_then(decode));
        }

        let mut by_upn: HashMap<String, Result<UserInfo, GraphError>> = HashMap::new();
        let chunks: Vec<Vec<&String>> = upns.chunks(UPNS_PER_FILTER).map(<[_]>::to_vec).collect();
        let parallelism = self.inner.settings.parallelism.max(1);
        let mut stream = futures_util::stream::iter(chunks)
            .map(|chunk| async move {
                let names: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
                let filter = odata::query_value(&odata::upn_in_filter(&names));
                let r = match self.url(&format!("users?$filter={filter}&{USER_SELECT}")) {
                    Ok(u) => self.get_all(u).await,
                    Err(e) => Err(e),
                };
                (chunk, r)
            })
            .buffer_unordered(parallelism);
        while let Some((chunk, r)) = stream.next().await {
            match r {
                Ok(values) => {
                    let mut found: HashMap<String, UserInfo> = HashMap::new();
                    for v in values {
                        if let Ok(u) = decode::<UserInfo>(v) {
                            found.insert(u.user_principal_name.to_lowercase(), u);
                        }
                    }
                    for upn in chunk {
                        let key = upn.to_lowercase();
                        let r = found.remove(&key).ok_or_else(|| GraphError::NotFound {
                            what: format!("user {upn}"),
                        });
                        by_upn.insert(key, r);
                    }
                }
                Err(e) => {
                    for upn in chunk {
                        by_upn.insert(upn.to_lowercase(), Err(e.clone()));
                    }
                }
            }
        }
        refs.iter()
            .map(|r| {
                let key = r.to_lowercase();
                let res = if odata::is_object_id(r) {
                    by_id.get(&key)
                } else {
                    by_upn.get(&key)
                };
                (
                    r.clone(),
                    res.cloned().unwrap_or_else(|| {
                        Err(GraphError::NotFound {
                            what: format!("user {r}"),
                        })
                    }),
                )
            })
            .collect()
    }

    /// One user by object id or UPN.
    pub async fn get_user(&self, id_or_upn: &str) -> Result<UserInfo, GraphError> {
        let url = self.url(&format!("{}?{USER_SELECT}", user_path(id_or_upn)))?;
        decode(self.get_json(url).await?)
    }

    /// Phone methods of many users: `$batch` of 20 (or single GETs under `--no-batch`); one result per user, in
    /// input order.
    pub async fn list_phone_methods_many(
        &self,
        user_ids: &[String],
    ) -> Vec<(String, Result<Vec<PhoneMethod>, GraphError>)> {
        self.list_segment_many(user_ids, "phoneMethods")
            .await
            .into_iter()
            .map(|(u, r)| (u, r.and_then(phone_list)))
            .collect()
    }

    /// One user's phone methods.
    pub async fn list_phone_methods(&self, user_id: &str) -> Result<Vec<PhoneMethod>, GraphError> {
        let url = self.url(&phone_methods_path(user_id))?;
        phone_list(self.get_all(url).await?)
    }

    /// Adds a phone. Graph answers 201 (a walkthrough shows 200; both accepted). A dropped connection after sending
    /// is [`GraphError::Transport`] with `outcome_unknown` (re-read before retrying).
    pub async fn create_phone(
        &self,
        user_id: &str,
        t: PhoneType,
        number: &str,
    ) -> Result<PhoneMethod, GraphError> {
        let body = json!({ "phoneNumber": number, "phoneType": t.as_str() });
        let resp = self
            .send_expect(
                Method::POST,
                &phone_methods_path(user_id),
                Some(body),
                Safety::Once,
            )
            .await?;
        match resp.json()? {
            Value::Null => Ok(PhoneMethod {
                id: t.method_id().to_string(),
                phone_number: Some(number.to_string()),
                phone_type: Some(t.as_str().to_string()),
                sms_sign_in_state: None,
            }),
            v => decode(v),
        }
    }

    /// Changes a phone's number (the type stays).
    pub async fn update_phone(
        &self,
        user_id: &str,
        t: PhoneType,
        number: &str,
    ) -> Result<(), GraphError> {
        let body = json!({ "phoneNumber": number, "phoneType": t.as_str() });
        let path = format!("{}/{}", phone_methods_path(user_id), t.method_id());
        self.send_expect(Method::PATCH, &path, Some(body), Safety::Idempotent)
            .await
            .map(drop)
    }

    /// Removes a phone.
    pub async fn delete_phone(&self, user_id: &str, t: PhoneType) -> Result<(), GraphError> {
        let path = format!("{}/{}", phone_methods_path(user_id), t.method_id());
        self.send_expect(Method::DELETE, &path, None, Safety::Idempotent)
            .await
            .map(drop)
    }

    /// `enableSmsSignIn` on the user's mobile.
    pub async fn enable_sms_sign_in(&self, user_id: &str) -> Result<(), GraphError> {
        self.sms_action(user_id, "enableSmsSignIn").await
    }

    /// `disableSmsSignIn` on the user's mobile.
    pub async fn disable_sms_sign_in(&self, user_id: &str) -> Result<(), GraphError> {
        self.sms_action(user_id, "disableSmsSignIn").await
    }

    async fn sms_action(&self, user_id: &str, action: &str) -> Result<(), GraphError> {
        let path = format!(
            "{}/{}/{action}",
            phone_methods_path(user_id),
            PhoneType::Mobile.method_id()
        );
        // Enabling or disabling twice ends in the same state: safe to repeat after a dropped connection.
        self.send_expect(Method::POST, &path, None, Safety::Idempotent)
            .await
            .map(drop)
    }

    /// [`Graph::list_methods`] for many users, through `$batch` (20 reads a request) when batching is on; any
    /// further page an answer names is read directly. One result per user, in the order given.
    pub async fn list_methods_many(
        &self,
        user_ids: &[String],
    ) -> Vec<(String, Result<Vec<Value>, GraphError>)> {
        let paths: Vec<String> = user_ids
            .iter()
            .map(|u| format!("{}/authentication/methods", user_path(u)))
            .collect();
        let results = self.get_many(&paths).await;
        let mut out = Vec::with_capacity(user_ids.len());
        for (u, r) in user_ids.iter().cloned().zip(results) {
            let r = match r {
                Ok(first) => self.collect_pages(first).await,
                Err(e) => Err(e),
            };
            out.push((u, r));
        }
        out
    }

    /// Every authentication method of a user, polymorphic, `@odata.type` kept.
    pub async fn list_methods(&self, user_id: &str) -> Result<Vec<Value>, GraphError> {
        let url = self.url(&format!("{}/authentication/methods", user_path(user_id)))?;
        self.get_all(url).await
    }

    /// Resets a user's password (`newPassword` when given, else Graph generates one). Never repeated after a dropped
    /// connection: a second reset would change the password again.
    pub async fn reset_password(
        &self,
        user_id: &str,
        new_password: Option<&Secret>,
    ) -> Result<ResetAccepted, GraphError> {
        let path = format!(
            "{}/authentication/methods/{PASSWORD_METHOD_ID}/resetPassword",
            user_path(user_id)
        );
        let body = match new_password {
            Some(p) => json!({ "newPassword": p.expose() }),
            None => json!({}),
        };
        let resp = self
            .send_expect(Method::POST, &path, Some(body), Safety::Once)
            .await?;
        let now = self.inner.clock.now();
        let location =
            match resp.header("location") {
                Some(l) => Some(Url::parse(&l).or_else(|_| self.url(&l)).map_err(|e| {
                    GraphError::Decode {
                        message: format!("bad Location header: {e}"),
                    }
                })?),
                None => None,
            };
        let retry_after = resp
            .header("retry-after")
            .and_then(|v| parse_retry_after(&v, now));
        let new_password = resp
            .json()
            .ok()
            .and_then(|v| v["newPassword"].as_str().map(Secret::new));
        Ok(ResetAccepted {
            location,
            retry_after,
            new_password,
        })
    }

    /// Reads a long-running operation from its `Location` (only on the configured Graph host: a foreign host is
    /// refused before any token is sent). Returns the operation and Graph's `Retry-After`, if any.
    pub async fn get_operation(
        &self,
        location: &Url,
    ) -> Result<(Operation, Option<Duration>), GraphError> {
        self.check_target(location)?;
        let resp = self
            .execute(&Request {
                method: Method::GET,
                url: location.clone(),
                body: None,
                safety: Safety::Idempotent,
                cost: 1,
            })
            .await?;
        if !resp.is_success() {
            return Err(resp.error());
        }
        let retry_after = resp
            .header("retry-after")
            .and_then(|v| parse_retry_after(&v, self.inner.clock.now()));
        Ok((decode(resp.json()?)?, retry_after))
    }
}
