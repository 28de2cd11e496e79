//! Azure managed identity, for authctl running on Azure (a cron in App Service, Functions, Container Apps, a VM).
//! With `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` set (App Service and friends): `GET {endpoint}?api-version=2019-08-01
//! &resource={graph}` with `X-IDENTITY-HEADER`. Otherwise the instance metadata service (IMDS) at
//! `http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource={graph}` with
//! `Metadata: true`. A user-assigned identity is chosen by `AZURE_CLIENT_ID` (`client_id`).

use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use url::Url;

use super::entra::{number, transport_message};
use super::{AccessToken, TokenContext, jwt_expiry};
use crate::clock;
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// The IMDS token endpoint.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// Where the managed identity's tokens come from.
#[derive(Debug)]
pub enum Endpoint {
    /// `IDENTITY_ENDPOINT` with its `IDENTITY_HEADER`.
    AppService {
        /// The endpoint.
        url: Url,
        /// The header's value.
        header: Secret,
    },
    /// IMDS.
    Imds {
        /// The endpoint (overridable for tests).
        url: Url,
    },
}

/// A managed identity.
#[derive(Debug)]
pub struct ManagedIdentity {
    /// Where to ask.
    pub endpoint: Endpoint,
    /// A user-assigned identity's client id.
    pub client_id: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    access_token: String,
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl ManagedIdentity {
    /// A description for messages.
    pub fn describe(&self) -> String {
        match &self.endpoint {
            Endpoint::AppService { .. } => "IDENTITY_ENDPOINT".into(),
            Endpoint::Imds { .. } => "IMDS".into(),
        }
    }

    /// Asks the endpoint for a Graph token.
    pub async fn fetch(&self, cx: &TokenContext) -> Result<AccessToken, AuthError> {
        let resource = cx.resource.trim_end_matches('/');
        let req = match &self.endpoint {
            Endpoint::AppService { url, header } => {
                let mut u = url.clone();
                u.query_pairs_mut()
                    .append_pair("api-version", "2019-08-01")
                    .append_pair("resource", resource);
                if let Some(c) = &self.client_id {
                    u.query_pairs_mut().append_pair("client_id", c);
                }
                cx.http.get(u).header("X-IDENTITY-HEADER", header.expose())
            }
            Endpoint::Imds { url } => {
                let mut u = url.clone();
                u.query_pairs_mut()
                    .append_pair("api-version", "2018-02-01")
                    .append_pair("resource", resource);
                if let Some(c) = &self.client_id {
                    u.query_pairs_mut().append_pair("client_id", c);
                }
                cx.http.get(u).header("Metadata", "true")
            }
        };
        let resp = req
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| {
                AuthError::Transport(format!(
                    "managed identity ({}): {}",
                    self.describe(),
                    transport_message(&e)
                ))
            })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| AuthError::Transport(transport_message(&e)))?;
        if !(200..300).contains(&status) {
            return Err(AuthError::Endpoint {
                source_name: format!("managed identity ({})", self.describe()),
                status,
                message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            });
        }
        let a: Answer = serde_json::from_slice(&body).map_err(|e| {
            AuthError::Transport(format!("managed identity answered an unreadable body: {e}"))
        })?;
        let now = cx.clock.now();
        let expires_at = a
            .expires_on
            .as_ref()
            .and_then(number)
            .and_then(|s| Timestamp::from_second(i64::try_from(s).ok()?).ok())
            .or_else(|| {
                a.expires_in
                    .as_ref()
                    .and_then(number)
                    .map(|s| clock::add(now, Duration::from_secs(s)))
            })
            .or_else(|| jwt_expiry(&a.access_token))
            .unwrap_or_else(|| clock::add(now, Duration::from_secs(300)));
        Ok(AccessToken {
            token: Secret::new(a.access_token),
            expires_at,
        })
    }
}
