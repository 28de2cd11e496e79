//! The Entra ID token endpoint (`{authority}/{tenant}/oauth2/v2.0/token` and `…/devicecode`): one form POST, the
//! answer parsed into a token or an [`AuthError::Aad`] that keeps the `AADSTS` code and text. Transient failures
//! (connection errors, 429, 5xx) are retried a few times with backoff on the injected clock.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{AccessToken, TokenContext, check_credential_url, jwt_expiry};
use crate::clock;
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// A successful token answer.
#[derive(Debug)]
pub struct TokenAnswer {
    /// The access token and its expiry.
    pub access: AccessToken,
    /// A refresh token (device-code sign-in only).
    pub refresh_token: Option<Secret>,
}

#[derive(Deserialize)]
struct RawToken {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
    #[serde(default)]
    correlation_id: Option<String>,
}

/// POSTs `form` to `url` and returns the raw answer (status, body). Retries transient failures.
pub async fn post_form(
    cx: &TokenContext,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<(u16, Vec<u8>), AuthError> {
    check_credential_url(url, "the token endpoint")?;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let sent = cx.http.post(url.clone()).form(form).send().await;
        let retry = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| AuthError::Transport(transport_message(&e)))?;
                if !(status == 429 || status >= 500) || attempt >= 3 {
                    return Ok((status, body.to_vec()));
                }
                format!("status {status}")
            }
            Err(e) if attempt < 3 => transport_message(&e),
            Err(e) => return Err(AuthError::Transport(transport_message(&e))),
        };
        tracing::debug!(attempt, reason = %retry, "token request failed, retrying");
        cx.clock
            .sleep(Duration::from_millis(500) * 2u32.pow(attempt - 1))
            .await;
    }
}

/// Requests a token with `form` (grant type and credential fields).
pub async fn request_token(
    cx: &TokenContext,
    tenant: &str,
    form: &[(&str, &str)],
) -> Result<TokenAnswer, AuthError> {
    let url = cx.endpoint(tenant, "token")?;
    let (status, body) = post_form(cx, &url, form).await?;
    parse_token_answer(cx, status, &body)
}

/// Parses a token endpoint answer.
pub fn parse_token_answer(
    cx: &TokenContext,
    status: u16,
    body: &[u8],
) -> Result<TokenAnswer, AuthError> {
    if !(200..300).contains(&status) {
        return Err(parse_error(status, body));
    }
    let raw: RawToken = serde_json::from_slice(body).map_err(|e| {
        AuthError::Transport(format!(
            "the token endpoint answered {status} with an unreadable body: {e}"
        ))
    })?;
    let now = cx.clock.now();
    let expires_at = raw
        .expires_in
        .as_ref()
        .and_then(number)
        .map(|s| clock::add(now, Duration::from_secs(s)))
        .or_else(|| jwt_expiry(&raw.access_token))
        .unwrap_or_else(|| clock::add(now, Duration::from_secs(300)));
    Ok(TokenAnswer {
        access: AccessToken {
            token: Secret::new(raw.access_token),
            expires_at,
        },
        refresh_token: raw.refresh_token.map(Secret::new),
    })
}

/// Parses an OAuth error body; keeps `AADSTS` codes and text.
pub fn parse_error(status: u16, body: &[u8]) -> AuthError {
    match serde_json::from_slice::<RawError>(body) {
        Ok(e) if !e.error.is_empty() => AuthError::Aad {
            status,
            error: e.error,
            description: e.error_description,
            codes: e.error_codes,
            correlation_id: e.correlation_id,
        },
        _ => AuthError::Aad {
            status,
            error: "unknown".into(),
            description: String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned(),
            codes: Vec::new(),
            correlation_id: None,
        },
    }
}

/// A JSON number or numeric string as whole seconds.
pub fn number(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))
        }
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A transport error's message without its URL (URLs carry no secrets here, but the message stays short).
pub fn transport_message(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VirtualClock;

    #[test]
    fn aadsts_errors_keep_code_and_text() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"correlation_id":"c-1"}"#;
        let e = parse_error(401, body);
        assert_eq!(e.aadsts(), Some(7000215));
        let shown = e.to_string();
        assert!(
            shown.contains("AADSTS7000215") && shown.contains("invalid_client"),
            "{shown}"
        );
    }

    #[test]
    fn expiry_from_expires_in_number_or_string() {
        let cx = TokenContext {
            http: reqwest::Client::new(),
            clock: VirtualClock::fixed(),
            authority: Url::parse("https://login.microsoftonline.com/").unwrap(),
            resource: "https://graph.microsoft.com".into(),
            federation_audience: "api://AzureADTokenExchange".into(),
        };
        let now = cx.clock.now();
        for body in [
            &br#"{"access_token":"x","expires_in":3599}"#[..],
            &br#"{"access_token":"x","expires_in":"3599"}"#[..],
        ] {
            let a = parse_token_answer(&cx, 200, body).unwrap();
            assert_eq!(
                clock::since(a.access.expires_at, now),
                Duration::from_secs(3599)
            );
        }
    }
}
