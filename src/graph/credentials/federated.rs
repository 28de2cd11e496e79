//! Workload identity federation: an external identity provider's JWT is exchanged at Entra's token endpoint as a
//! client assertion. Two sources: a token file (`AZURE_FEDERATED_TOKEN_FILE`, as AKS and others mount it; re-read
//! when the copy in memory is older than 5 minutes, because the platform rotates it) and GitHub Actions' OIDC
//! endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience
//! `api://AzureADTokenExchange`), Azure Pipelines' OIDC endpoint (`SYSTEM_OIDCREQUESTURI`, a service connection id
//! and `SYSTEM_ACCESSTOKEN`: `POST {uri}?api-version=7.1&serviceConnectionId={id}`, as azure-identity's
//! `AzurePipelinesCredential` does, answering `{"oidcToken": …}`), and a token given as it is (`ARM_OIDC_TOKEN`).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use url::Url;

use super::certificate::ASSERTION_TYPE;
use super::entra::{request_token, transport_message};
use super::{AccessToken, TokenContext, check_credential_url};
use crate::clock;
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// How long a token read from the file is reused before the file is read again.
pub const FILE_MAX_AGE: Duration = Duration::from_secs(300);

/// Where the external JWT comes from.
#[derive(Debug)]
pub enum FederatedSource {
    /// A file rewritten by the platform.
    File {
        /// The path.
        path: PathBuf,
        /// The last read: token and when it was read.
        cache: Mutex<Option<(Secret, Timestamp)>>,
    },
    /// GitHub Actions' OIDC token endpoint.
    GitHubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        request_url: Url,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        request_token: Secret,
    },
    /// Azure Pipelines' OIDC endpoint for a service connection.
    AzurePipelines {
        /// `SYSTEM_OIDCREQUESTURI`.
        request_url: Url,
        /// The service connection's id.
        service_connection_id: String,
        /// `SYSTEM_ACCESSTOKEN` (the job's access token, mapped into the step's environment).
        access_token: Secret,
    },
    /// A token given as it is (`ARM_OIDC_TOKEN`).
    Value(Secret),
}

/// The Azure DevOps API version of the OIDC token request (azure-identity's).
pub const PIPELINES_API_VERSION: &str = "7.1";

impl FederatedSource {
    /// A file source.
    pub fn file(path: PathBuf) -> FederatedSource {
        FederatedSource::File {
            path,
            cache: Mutex::new(None),
        }
    }

    /// A description for messages.
    pub fn describe(&self) -> String {
        match self {
            FederatedSource::File { path, .. } => {
                format!("AZURE_FEDERATED_TOKEN_FILE {}", path.display())
            }
            FederatedSource::GitHubActions { .. } => "GitHub Actions OIDC".to_string(),
            FederatedSource::AzurePipelines {
                service_connection_id,
                ..
            } => format!("Azure Pipelines OIDC, service connection {service_connection_id}"),
            FederatedSource::Value(_) => "ARM_OIDC_TOKEN".to_string(),
        }
    }
}

/// A federated credential of an app.
#[derive(Debug)]
pub struct Federated {
    /// Tenant id or domain.
    pub tenant: String,
    /// The app's client id.
    pub client_id: String,
    /// Where the external token comes from.
    pub source: FederatedSource,
}

#[derive(serde::Deserialize)]
struct GitHubAnswer {
    value: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PipelinesAnswer {
    oidc_token: String,
}

impl Federated {
    /// The external JWT to present (read from the file, or requested from GitHub).
    pub async fn assertion(&self, cx: &TokenContext) -> Result<Secret, AuthError> {
        match &self.source {
            FederatedSource::File { path, cache } => {
                let now = cx.clock.now();
                if let Some((tok, at)) = cache.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
                    && clock::since(now, *at) < FILE_MAX_AGE
                {
                    return Ok(tok.clone());
                }
                let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                    AuthError::Config(format!(
                        "cannot read AZURE_FEDERATED_TOKEN_FILE {}: {e}",
                        path.display()
                    ))
                })?;
                let tok = Secret::new(text.trim());
                if tok.is_empty() {
                    return Err(AuthError::Config(format!(
                        "AZURE_FEDERATED_TOKEN_FILE {} is empty",
                        path.display()
                    )));
                }
                *cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((tok.clone(), now));
                Ok(tok)
            }
            FederatedSource::GitHubActions {
                request_url,
                request_token,
            } => {
                check_credential_url(request_url, "ACTIONS_ID_TOKEN_REQUEST_URL")?;
                let mut url = request_url.clone();
                url.query_pairs_mut()
                    .append_pair("audience", &cx.federation_audience);
                let resp = cx
                    .http
                    .get(url)
                    .header(
                        reqwest::header::AUTHORIZATION,
                        format!("bearer {}", request_token.expose()),
                    )
                    .send()
                    .await
                    .map_err(|e| AuthError::Transport(transport_message(&e)))?;
                let status = resp.status().as_u16();
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| AuthError::Transport(transport_message(&e)))?;
                if !(200..300).contains(&status) {
                    return Err(AuthError::Endpoint {
                        source_name: "GitHub Actions OIDC".into(),
                        status,
                        message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
                    });
                }
                let a: GitHubAnswer = serde_json::from_slice(&body).map_err(|e| {
                    AuthError::Transport(format!(
                        "GitHub Actions OIDC answered an unreadable body: {e}"
                    ))
                })?;
                Ok(Secret::new(a.value))
            }
            FederatedSource::AzurePipelines {
                request_url,
                service_connection_id,
                access_token,
            } => pipelines_token(cx, request_url, service_connection_id, access_token).await,
            FederatedSource::Value(v) => Ok(v.clone()),
        }
    }

    /// Exchanges the external JWT for a Graph token.
    pub async fn fetch(&self, cx: &TokenContext) -> Result<AccessToken, AuthError> {
        let assertion = self.assertion(cx).await?;
        let scope = cx.scope();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("scope", scope.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.expose()),
        ];
        Ok(request_token(cx, &self.tenant, &form).await?.access)
    }
}

/// Asks Azure Pipelines for the service connection's OIDC token.
async fn pipelines_token(
    cx: &TokenContext,
    request_url: &Url,
    service_connection_id: &str,
    access_token: &Secret,
) -> Result<Secret, AuthError> {
    const WHAT: &str = "Azure Pipelines OIDC (SYSTEM_OIDCREQUESTURI)";
    check_credential_url(request_url, "SYSTEM_OIDCREQUESTURI")?;
    let mut url = request_url.clone();
    url.query_pairs_mut()
        .append_pair("api-version", PIPELINES_API_VERSION)
        .append_pair("serviceConnectionId", service_connection_id);
    let resp = cx
        .http
        .post(url)
        .header(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", access_token.expose()),
        )
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("")
        .send()
        .await
        .map_err(|e| AuthError::Transport(format!("{WHAT}: {}", transport_message(&e))))?;
    let status = resp.status().as_u16();
    // Azure DevOps' trace ids, for a support case.
    let ids: Vec<String> = ["x-vss-e2eid", "x-msedge-ref"]
        .iter()
        .filter_map(|h| {
            let v = resp.headers().get(*h)?.to_str().ok()?;
            Some(format!("{h}: {}", super::printable(v, 80)))
        })
        .collect();
    let html = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("html"));
    let body = resp
        .bytes()
        .await
        .map_err(|e| AuthError::Transport(format!("{WHAT}: {}", transport_message(&e))))?;
    let ids = if ids.is_empty() {
        String::new()
    } else {
        format!(" ({})", ids.join(", "))
    };
    if !(200..300).contains(&status) || html {
        let hint = if status == 401 || status == 403 || html {
            "; the job's access token was refused: map it into the step with `env: SYSTEM_ACCESSTOKEN: \
             $(System.AccessToken)`"
        } else if status == 404 {
            "; check the service connection id (the connection must use workload identity federation)"
        } else {
            ""
        };
        let text = if html {
            "an HTML page instead of a token".to_string()
        } else {
            super::printable(&String::from_utf8_lossy(&body[..body.len().min(300)]), 300)
        };
        return Err(AuthError::Endpoint {
            source_name: WHAT.into(),
            status,
            message: format!("{text}{hint}{ids}"),
        });
    }
    let a: PipelinesAnswer = serde_json::from_slice(&body).map_err(|e| {
        AuthError::Transport(format!(
            "{WHAT} answered a body without `oidcToken` ({e}){ids}"
        ))
    })?;
    if a.oidc_token.trim().is_empty() {
        return Err(AuthError::Transport(format!(
            "{WHAT} answered an empty `oidcToken`{ids}"
        )));
    }
    Ok(Secret::new(a.oidc_token.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VirtualClock;

    #[tokio::test]
    async fn token_file_is_reread_only_when_older_than_five_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let vc = VirtualClock::fixed();
        let cx = TokenContext {
            http: reqwest::Client::new(),
            clock: vc.clone(),
            authority: Url::parse("https://login.microsoftonline.com/").unwrap(),
            resource: "https://graph.microsoft.com".into(),
            federation_audience: "api://AzureADTokenExchange".into(),
        };
        let f = Federated {
            tenant: "t".into(),
            client_id: "c".into(),
            source: FederatedSource::file(path.clone()),
        };
        assert_eq!(f.assertion(&cx).await.unwrap().expose(), "first");
        std::fs::write(&path, "second").unwrap();
        vc.advance(Duration::from_secs(299));
        assert_eq!(f.assertion(&cx).await.unwrap().expose(), "first");
        vc.advance(Duration::from_secs(1));
        assert_eq!(f.assertion(&cx).await.unwrap().expose(), "second");
    }
}
