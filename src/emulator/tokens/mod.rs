//! Tokens: the JWTs the emulator signs (HS256, a key per process) and checks on every Graph request, and the
//! identity-platform error shape every token-side answer uses (`error`, `error_description` starting
//! `AADSTSnnnn:`, `error_codes`, `timestamp`, `trace_id`, `correlation_id`).
//!
//! Beside it: [`endpoint`] (the token endpoint, `client_credentials`, OpenID discovery), [`assertion`] (client
//! assertions: certificate and federated), [`device`] (the device-code grant, refresh tokens, the approval page).

mod assertion;
mod device;
mod endpoint;

pub use device::{Approval, approve, devicecode_endpoint, devicelogin_page, devicelogin_submit};
pub use endpoint::{openid_configuration, token_endpoint};

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::TokenSpec;
use super::ids::{iso, new_guid};
use super::store::{Data, EmulatorState};
use super::tenant::{App, User};

/// The audience of Graph tokens.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The claims of an access token the emulator issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Audience: Graph.
    pub aud: String,
    /// Issuer: `https://sts.windows.net/{tid}/`.
    pub iss: String,
    /// Issued at (seconds since the epoch, emulator time).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Tenant id.
    pub tid: String,
    /// Object id: the user (delegated) or the app's client id (app-only; the emulator has no separate service
    /// principal ids).
    pub oid: String,
    /// Subject (= `oid`).
    pub sub: String,
    /// The client id.
    pub appid: String,
    /// `app` or `user`.
    pub idtyp: String,
    /// Application permissions (app-only tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Delegated scopes, space-separated (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// Directory role template ids of the signed-in user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wids: Vec<String>,
    /// The signed-in user's UPN (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Token version.
    pub ver: String,
}

/// Who is calling, from a verified token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The signed-in user's object id (delegated), `None` for app-only.
    pub user_id: Option<String>,
    /// Application permissions.
    pub roles: BTreeSet<String>,
    /// Delegated scopes.
    pub scopes: BTreeSet<String>,
    /// Directory role template ids.
    pub wids: BTreeSet<String>,
    /// The calling app (client id).
    pub client_id: String,
}

fn unix(t: jiff::Timestamp) -> i64 {
    t.as_second()
}

/// Signs any claims (an ID token) with the process key.
fn sign_value(state: &EmulatorState, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("authctl-emulator".into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(&state.shared.key),
    )
    .unwrap_or_default()
}

/// Signs claims with the process key.
fn sign(state: &EmulatorState, claims: &Claims) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("authctl-emulator".into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(&state.shared.key),
    )
    .unwrap_or_default()
}

fn lifetime(app: Option<&App>) -> Duration {
    app.and_then(|a| a.token_lifetime)
        .unwrap_or(DEFAULT_LIFETIME)
}

/// Builds and signs an access token.
#[allow(clippy::too_many_arguments)]
fn issue(
    state: &EmulatorState,
    tenant_id: &str,
    app: &App,
    user: Option<&User>,
    roles: Vec<String>,
    scopes: Vec<String>,
    wids: Option<Vec<String>>,
    life: Duration,
) -> String {
    let now = state.now();
    let exp = crate::clock::add(now, life);
    let (oid, idtyp) = match user {
        Some(u) => (u.id.clone(), "user"),
        None => (app.client_id.clone(), "app"),
    };
    let claims = Claims {
        aud: GRAPH_AUDIENCE.into(),
        iss: format!("https://sts.windows.net/{tenant_id}/"),
        iat: unix(now),
        nbf: unix(now),
        exp: unix(exp),
        tid: tenant_id.into(),
        sub: oid.clone(),
        oid,
        appid: app.client_id.clone(),
        idtyp: idtyp.into(),
        roles: if user.is_none() { roles } else { Vec::new() },
        scp: user.map(|_| scopes.join(" ")),
        wids: wids.unwrap_or_else(|| user.map(|u| u.role_ids()).unwrap_or_default()),
        upn: user.map(|u| u.user_principal_name.clone()),
        ver: "1.0".into(),
    };
    sign(state, &claims)
}

/// Mints a token directly (tests): see [`TokenSpec`].
pub fn mint(state: &EmulatorState, spec: TokenSpec) -> String {
    let data = state.data();
    let tenant = &data.tenant;
    let app = match &spec.client_id {
        Some(id) => tenant
            .apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(id))
            .cloned(),
        None => tenant.apps.first().cloned(),
    }
    .unwrap_or_else(|| App {
        name: "test".into(),
        client_id: spec
            .client_id
            .clone()
            .unwrap_or_else(|| "00000000-0000-0000-0000-000000000001".into()),
        secret: None,
        certificate: None,
        federated_credentials: Vec::new(),
        permissions: Vec::new(),
        delegated_permissions: Vec::new(),
        token_lifetime: None,
    });
    let user = spec.user.as_deref().and_then(|u| tenant.user(u)).cloned();
    let roles = spec
        .roles
        .clone()
        .unwrap_or_else(|| app.permissions.clone());
    let scopes = spec
        .scopes
        .clone()
        .unwrap_or_else(|| app.delegated_permissions.clone());
    let life = spec.lifetime.unwrap_or_else(|| lifetime(Some(&app)));
    let tid = tenant.tenant_id.clone();
    drop(data);
    issue(
        state,
        &tid,
        &app,
        user.as_ref(),
        roles,
        scopes,
        spec.wids,
        life,
    )
}

/// Why a bearer token was refused (the message of Graph's 401 `InvalidAuthenticationToken`).
pub fn verify(state: &EmulatorState, authorization: Option<&str>) -> Result<Caller, String> {
    let Some(header) = authorization else {
        return Err("Access token is empty.".into());
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or("Access token is empty.")?
        .trim();
    if token.is_empty() {
        return Err("Access token is empty.".into());
    }
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    v.set_audience(&[GRAPH_AUDIENCE, "00000003-0000-0000-c000-000000000000"]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&state.shared.key), &v)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    "Access token validation failure. Invalid audience.".to_string()
                }
                _ => "IDX14100: JWT is not well formed, or its signature is invalid.".to_string(),
            })?;
    let c = data.claims;
    if c.tid != state.tenant_id() {
        return Err("Access token validation failure. Invalid issuer.".into());
    }
    if unix(state.now()) >= c.exp {
        return Err("Lifetime validation failed, the token is expired.".into());
    }
    let user_id = (c.idtyp == "user").then(|| c.oid.clone());
    Ok(Caller {
        user_id,
        roles: c.roles.into_iter().collect(),
        scopes: c
            .scp
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        wids: c.wids.into_iter().collect(),
        client_id: c.appid,
    })
}

/// An identity-platform error response.
fn aad_error(
    state: &EmulatorState,
    status: StatusCode,
    error: &str,
    code: u32,
    text: &str,
) -> Response {
    let trace = new_guid();
    let correlation = new_guid();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {}", iso(state.now())),
        "error_codes": [code],
        "timestamp": iso(state.now()),
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, axum::Json(body)).into_response()
}

fn tenant_matches(data: &Data, segment: &str) -> bool {
    let t = &data.tenant;
    t.tenant_id.eq_ignore_ascii_case(segment)
        || t.domains.iter().any(|d| d.eq_ignore_ascii_case(segment))
        || matches!(segment, "organizations" | "common")
}

fn parse_form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn token_response(
    access: String,
    life: Duration,
    refresh: Option<String>,
    scope: Option<String>,
) -> Response {
    token_response_with(access, life, refresh, scope, &[])
}

/// A token response with extra string fields (`id_token`, `client_info`).
fn token_response_with(
    access: String,
    life: Duration,
    refresh: Option<String>,
    scope: Option<String>,
    extra: &[(&str, String)],
) -> Response {
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": life.as_secs(),
        "ext_expires_in": life.as_secs(),
        "access_token": access,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = Value::String(r);
    }
    if let Some(s) = scope {
        body["scope"] = Value::String(s);
    }
    for (k, v) in extra {
        body[*k] = Value::String(v.clone());
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn find_app(data: &Data, client_id: &str) -> Option<App> {
    data.tenant
        .apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
        .cloned()
}
