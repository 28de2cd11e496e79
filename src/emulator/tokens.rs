//! Tokens: the JWTs the emulator signs (HS256, a key per process) and checks on every Graph request, and the token
//! endpoint (`client_credentials` with a secret, a certificate assertion or a federated assertion; the device-code
//! grant with its `devicecode` endpoint; `refresh_token`), answering errors in the identity platform's shape
//! (`error`, `error_description` starting `AADSTSnnnn:`, `error_codes`, `timestamp`, `trace_id`, `correlation_id`).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

use super::TokenSpec;
use super::store::{Data, DeviceCode, EmulatorState, RefreshGrant};
use super::tenant::{App, User};

/// The audience of Graph tokens.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
const DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(900);
/// The password method id, the same for every user.
pub const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

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
}

fn unix(t: jiff::Timestamp) -> i64 {
    t.as_second()
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
    let trace = super::graph::new_guid();
    let correlation = super::graph::new_guid();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {}", super::graph::iso(state.now())),
        "error_codes": [code],
        "timestamp": super::graph::iso(state.now()),
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

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub fn openid_configuration(state: &EmulatorState, base: &str, tenant: &str) -> Response {
    let data = state.data();
    if !tenant_matches(&data, tenant) {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let tid = data.tenant.tenant_id.clone();
    drop(data);
    axum::Json(json!({
        "issuer": format!("{base}/{tid}/v2.0"),
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/devicecode"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "grant_types_supported": ["client_credentials", "urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "tenant_region_scope": "EMU",
        "cloud_instance_name": "authctl-emulator",
        "msgraph_host": base.trim_start_matches("http://").trim_start_matches("https://"),
    }))
    .into_response()
}

fn parse_form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let enc = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(enc).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (id, secret) = s.split_once(':')?;
    let dec = |x: &str| {
        percent_encoding::percent_decode_str(x)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((dec(id), dec(secret)))
}

fn token_response(
    access: String,
    life: Duration,
    refresh: Option<String>,
    scope: Option<String>,
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
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub fn token_endpoint(
    state: &EmulatorState,
    base: &str,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let form = parse_form(body);
    let data = state.data();
    if !tenant_matches(&data, tenant) {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    drop(data);
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    match grant {
        "client_credentials" => client_credentials(state, base, tenant, headers, &form),
        "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => {
            device_code_grant(state, &form)
        }
        "refresh_token" => refresh_grant(state, &form),
        "" => aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        other => aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

fn find_app(data: &Data, client_id: &str) -> Option<App> {
    data.tenant
        .apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
        .cloned()
}

fn client_credentials(
    state: &EmulatorState,
    base: &str,
    tenant: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let basic = basic_auth(headers);
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let Some(client_id) = client_id else {
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let scope = form.get("scope").cloned().unwrap_or_default();
    if !scope.split_whitespace().any(|s| s.ends_with("/.default"))
        || scope.split_whitespace().count() != 1
    {
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    let data = state.data();
    let Some(app) = find_app(&data, &client_id) else {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    };
    let tid = data.tenant.tenant_id.clone();
    drop(data);
    let secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.1.clone()));
    if let Some(secret) = secret {
        if app.secret.as_deref() != Some(secret.as_str()) {
            return aad_error(
                state,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            );
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return aad_error(
                state,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            );
        }
        if let Err((code, text)) = check_assertion(state, base, tenant, &tid, &app, assertion) {
            return aad_error(
                state,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                code,
                &text,
            );
        }
    } else {
        return aad_error(
            state,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let life = lifetime(Some(&app));
    let token = issue(
        state,
        &tid,
        &app,
        None,
        app.permissions.clone(),
        Vec::new(),
        None,
        life,
    );
    token_response(token, life, None, None)
}

/// Checks a client assertion: a certificate assertion (`iss` = `sub` = the client id, signed with the registered
/// certificate's key, PS256 or RS256, `x5t#S256` matching when sent) or a federated one (issuer, subject and
/// audience of a registered federated credential, signed with its issuer key).
fn check_assertion(
    state: &EmulatorState,
    base: &str,
    tenant: &str,
    tid: &str,
    app: &App,
    assertion: &str,
) -> Result<(), (u32, String)> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| (50027, "JWT token is invalid or malformed.".to_string()))?;
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|_| (50027, "JWT token is invalid or malformed.".to_string()))?;
    let iss = claims["iss"].as_str().unwrap_or_default();
    let now = unix(state.now());
    let skew = 300;
    if let Some(exp) = claims["exp"].as_i64()
        && now > exp + skew
    {
        return Err((
            700024,
            "Client assertion is not within its valid time range.".into(),
        ));
    }
    if let Some(nbf) = claims["nbf"].as_i64()
        && now + skew < nbf
    {
        return Err((
            700024,
            "Client assertion is not within its valid time range.".into(),
        ));
    }
    if claims["exp"].as_i64().is_none() {
        return Err((
            50027,
            "JWT token is invalid or malformed: no exp claim.".into(),
        ));
    }
    if iss.eq_ignore_ascii_case(&app.client_id) {
        // Certificate credential.
        let Some(pem) = &app.certificate else {
            return Err((700027, "Client assertion failed signature validation: no certificate is registered for the application.".into()));
        };
        if !matches!(header.alg, Algorithm::PS256 | Algorithm::RS256) {
            return Err((
                5002738,
                format!(
                    "Invalid JWT token. '{:?}' is not a supported signature algorithm.",
                    header.alg
                ),
            ));
        }
        let (der, key) = certificate_key(pem).map_err(|e| (700027, e))?;
        if let Some(t) = &header.x5t_s256 {
            let want =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
            if *t != want {
                return Err((
                    700027,
                    format!(
                        "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{t}']"
                    ),
                ));
            }
        } else if header.x5t.is_none() {
            return Err((
                700027,
                "Client assertion contains no x5t#S256 or x5t header.".into(),
            ));
        }
        verify_signature(assertion, &key, header.alg).map_err(|_| {
            (
                700027,
                "Client assertion contains an invalid signature.".into(),
            )
        })?;
        if claims["sub"].as_str() != Some(app.client_id.as_str()) {
            return Err((700023, "Client assertion audience claim does not match Realm issuer: sub must be the client id.".into()));
        }
        let aud_ok = audiences(&claims).iter().any(|a| {
            let a = a.trim_end_matches('/');
            [tenant, tid].iter().any(|t| {
                a.eq_ignore_ascii_case(&format!("{base}/{t}/oauth2/v2.0/token"))
                    || a.to_ascii_lowercase()
                        .ends_with(&format!("/{}/oauth2/v2.0/token", t.to_ascii_lowercase()))
            })
        });
        if !aud_ok {
            return Err((
                700212,
                format!(
                    "No matching federated identity record found for presented assertion audience. The audience must be {base}/{tid}/oauth2/v2.0/token."
                ),
            ));
        }
        if claims["jti"].as_str().is_none() {
            return Err((
                50027,
                "JWT token is invalid or malformed: no jti claim.".into(),
            ));
        }
        return Ok(());
    }
    // Federated credential.
    let creds: Vec<_> = app
        .federated_credentials
        .iter()
        .filter(|f| f.issuer == iss)
        .collect();
    if creds.is_empty() {
        return Err((
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'."
            ),
        ));
    }
    let sub = claims["sub"].as_str().unwrap_or_default();
    let creds: Vec<_> = creds.into_iter().filter(|f| f.subject == sub).collect();
    if creds.is_empty() {
        return Err((
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{sub}'."
            ),
        ));
    }
    let auds = audiences(&claims);
    let Some(cred) = creds.into_iter().find(|f| auds.contains(&f.audience)) else {
        return Err((
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                auds.join(",")
            ),
        ));
    };
    let key = issuer_key(&cred.issuer_key).map_err(|e| (700024, e))?;
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::PS256
            | Algorithm::ES256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES384
    ) {
        return Err((
            5002738,
            format!(
                "Invalid JWT token. '{:?}' is not a supported signature algorithm.",
                header.alg
            ),
        ));
    }
    verify_signature(assertion, &key, header.alg).map_err(|_| {
        (700024, "Client assertion failed signature validation against the federated credential's issuer key.".to_string())
    })?;
    Ok(())
}

fn audiences(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn verify_signature(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
) -> Result<(), jsonwebtoken::errors::Error> {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, key, &v).map(|_| ())
}

/// The DER bytes and RSA public key of a PEM certificate.
fn certificate_key(pem: &str) -> Result<(Vec<u8>, DecodingKey), String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| format!("the registered certificate is not PEM: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("the registered certificate is not X.509: {e}"))?;
    let spki = cert.public_key();
    let key = DecodingKey::from_rsa_der(&spki.subject_public_key.data);
    Ok((pem.contents.clone(), key))
}

/// A federated issuer's key: a PEM public key (RSA or EC) or a PEM certificate.
fn issuer_key(pem: &str) -> Result<DecodingKey, String> {
    if pem.contains("BEGIN CERTIFICATE") {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        let cert = p.parse_x509().map_err(|e| e.to_string())?;
        let spki = cert.public_key();
        let data = &spki.subject_public_key.data;
        return Ok(
            if spki.algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1" {
                DecodingKey::from_ec_der(data)
            } else {
                DecodingKey::from_rsa_der(data)
            },
        );
    }
    DecodingKey::from_rsa_pem(pem.as_bytes())
        .or_else(|_| DecodingKey::from_ec_pem(pem.as_bytes()))
        .map_err(|e| format!("the federated credential's issuer key is not a PEM public key: {e}"))
}

fn delegated_scopes(app: &App, requested: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in requested.split_whitespace() {
        if matches!(s, "openid" | "profile" | "offline_access" | "email") {
            continue;
        }
        if s.ends_with("/.default") || s == ".default" {
            out.extend(app.delegated_permissions.iter().cloned());
            continue;
        }
        let name = s.rsplit('/').next().unwrap_or(s);
        out.push(name.to_string());
    }
    out.sort();
    out.dedup();
    out
}

fn random_code(len: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut r = rand::rng();
    (0..len)
        .map(|_| alphabet[r.random_range(0..alphabet.len())] as char)
        .collect()
}

fn auto_user(data: &Data) -> Option<String> {
    let t = &data.tenant;
    match &t.device_code_user {
        Some(u) => t.user(u).map(|u| u.id.clone()),
        None => t
            .users
            .iter()
            .find(|u| !u.roles.is_empty())
            .map(|u| u.id.clone()),
    }
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub fn devicecode_endpoint(
    state: &EmulatorState,
    base: &str,
    tenant: &str,
    body: &[u8],
) -> Response {
    let form = parse_form(body);
    let mut data = state.data();
    if !tenant_matches(&data, tenant) {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let Some(app) = find_app(&data, &client_id) else {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    let scopes = delegated_scopes(&app, form.get("scope").map(String::as_str).unwrap_or(""));
    let device_code = random_code(
        48,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    );
    let user_code = random_code(9, b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789");
    let approved_user = if state.options().auto_approve_device_code {
        auto_user(&data)
    } else {
        None
    };
    let expires = crate::clock::add(state.now(), DEVICE_CODE_LIFETIME);
    data.device_codes.insert(
        device_code.clone(),
        DeviceCode {
            user_code: user_code.clone(),
            client_id,
            scopes,
            expires,
            approved_user,
        },
    );
    drop(data);
    let uri = format!("{base}/devicelogin");
    axum::Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": uri,
        "expires_in": DEVICE_CODE_LIFETIME.as_secs(),
        "interval": 5,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

fn device_code_grant(state: &EmulatorState, form: &HashMap<String, String>) -> Response {
    let code = form.get("device_code").cloned().unwrap_or_default();
    let now = state.now();
    let mut data = state.data();
    let Some(dc) = data.device_codes.get(&code).cloned() else {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
        );
    };
    if now >= dc.expires {
        data.device_codes.remove(&code);
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        );
    }
    let Some(user_id) = dc.approved_user.clone() else {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        );
    };
    data.device_codes.remove(&code);
    issue_delegated(state, data, &dc.client_id, &user_id, dc.scopes)
}

fn issue_delegated(
    state: &EmulatorState,
    mut data: std::sync::MutexGuard<'_, Data>,
    client_id: &str,
    user_id: &str,
    scopes: Vec<String>,
) -> Response {
    let Some(app) = find_app(&data, client_id) else {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application not found.",
        );
    };
    let Some(user) = data.tenant.user(user_id).cloned() else {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            "The user account does not exist in the directory.",
        );
    };
    let refresh = random_code(
        64,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    );
    data.refresh_tokens.insert(
        refresh.clone(),
        RefreshGrant {
            client_id: app.client_id.clone(),
            user_id: user.id.clone(),
            scopes: scopes.clone(),
        },
    );
    let tid = data.tenant.tenant_id.clone();
    drop(data);
    let life = lifetime(Some(&app));
    let token = issue(
        state,
        &tid,
        &app,
        Some(&user),
        Vec::new(),
        scopes.clone(),
        None,
        life,
    );
    token_response(token, life, Some(refresh), Some(scopes.join(" ")))
}

fn refresh_grant(state: &EmulatorState, form: &HashMap<String, String>) -> Response {
    let rt = form.get("refresh_token").cloned().unwrap_or_default();
    let mut data = state.data();
    let Some(grant) = data.refresh_tokens.remove(&rt) else {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid: the refresh token is not valid.",
        );
    };
    if let Some(cid) = form.get("client_id")
        && !cid.eq_ignore_ascii_case(&grant.client_id)
    {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The refresh token was issued to a different client.",
        );
    }
    issue_delegated(state, data, &grant.client_id, &grant.user_id, grant.scopes)
}

/// The body of `POST /_emulator/device/approve`.
#[derive(Debug, Deserialize)]
pub struct Approval {
    /// The code the user would type.
    pub user_code: String,
    /// The signing-in user.
    pub upn: String,
    /// Their password.
    pub password: String,
}

/// `POST /_emulator/device/approve`: signs a user in for a pending device code.
pub fn approve(state: &EmulatorState, a: Approval) -> Response {
    let mut data = state.data();
    let Some(user) = data.tenant.user(&a.upn).cloned() else {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            &format!(
                "The user account {} does not exist in the directory.",
                a.upn
            ),
        );
    };
    if user.password.as_deref() != Some(a.password.as_str()) {
        drop(data);
        return aad_error(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        );
    }
    let Some(dc) = data
        .device_codes
        .values_mut()
        .find(|d| d.user_code.eq_ignore_ascii_case(a.user_code.trim()))
    else {
        drop(data);
        return aad_error(
            state,
            StatusCode::NOT_FOUND,
            "invalid_grant",
            70000,
            "No pending device code with this user code.",
        );
    };
    dc.approved_user = Some(user.id);
    StatusCode::NO_CONTENT.into_response()
}
