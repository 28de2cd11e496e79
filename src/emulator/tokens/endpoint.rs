//! The token endpoint (`POST /{tenant}/oauth2/v2.0/token`): tenant and grant dispatch, `client_credentials` with a
//! secret (form or HTTP Basic) or a client assertion, and OpenID discovery.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::super::store::EmulatorState;
use super::assertion::check_assertion;
use super::device::{device_code_grant, refresh_grant};
use super::{aad_error, find_app, issue, lifetime, parse_form, tenant_matches, token_response};

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
            device_code_grant(state, base, &form)
        }
        "refresh_token" => refresh_grant(state, base, &form),
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
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
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
