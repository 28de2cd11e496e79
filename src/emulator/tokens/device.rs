//! Delegated sign-in: the device-code endpoint and grant, refresh tokens, and the emulator's approval endpoint
//! that stands in for the user typing the code.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::super::store::{Data, DeviceCode, EmulatorState, RefreshGrant};
use super::super::tenant::App;
use base64::Engine;

use super::{
    aad_error, find_app, issue, lifetime, parse_form, sign_value, tenant_matches,
    token_response_with, unix,
};

const DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(900);

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

pub(super) fn device_code_grant(
    state: &EmulatorState,
    base: &str,
    form: &HashMap<String, String>,
) -> Response {
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
    issue_delegated(state, base, data, &dc.client_id, &user_id, dc.scopes)
}

fn issue_delegated(
    state: &EmulatorState,
    base: &str,
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
    // MSAL always asks for `openid profile offline_access`; Entra then returns an ID token and `client_info`,
    // from which azure-identity builds its AuthenticationRecord (DeviceCodeCredential fails without them).
    let now = state.now();
    let id_claims = json!({
        "aud": app.client_id,
        "iss": format!("{base}/{tid}/v2.0"),
        "iat": unix(now),
        "nbf": unix(now),
        "exp": unix(crate::clock::add(now, life)),
        "sub": user.id,
        "oid": user.id,
        "tid": tid,
        "preferred_username": user.user_principal_name,
        "name": user.display_name,
        "ver": "2.0",
    });
    let client_info = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"uid": user.id, "utid": tid}).to_string());
    token_response_with(
        token,
        life,
        Some(refresh),
        Some(scopes.join(" ")),
        &[
            ("id_token", sign_value(state, &id_claims)),
            ("client_info", client_info),
        ],
    )
}

pub(super) fn refresh_grant(
    state: &EmulatorState,
    base: &str,
    form: &HashMap<String, String>,
) -> Response {
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
    issue_delegated(
        state,
        base,
        data,
        &grant.client_id,
        &grant.user_id,
        grant.scopes,
    )
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

/// `GET /devicelogin`: the page `verification_uri` points at. Entra's page asks for the code and then signs the user
/// in; the emulator's asks for the code, the user and the password in one form (posted back to the same URL).
pub fn devicelogin_page() -> Response {
    let html = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>authctl emulator: device sign-in</title></head>
<body>
<h1>Sign in to the authctl emulator</h1>
<p>Enter the code shown by the application, and the user's name and password from the tenant file.</p>
<form method="post" action="devicelogin">
<p><label>Code <input name="user_code" autocomplete="off" required></label></p>
<p><label>User (UPN) <input name="upn" required></label></p>
<p><label>Password <input name="password" type="password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>
<p>Scripts can post the same fields as JSON to <code>/_emulator/device/approve</code>.</p>
</body></html>
"#;
    (
        StatusCode::OK,
        [("content-type", "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// `POST /devicelogin` (the page's form, `application/x-www-form-urlencoded`): approves the pending device code
/// like `/_emulator/device/approve`, answering a page on success and the identity platform's error otherwise.
pub fn devicelogin_submit(state: &EmulatorState, body: &[u8]) -> Response {
    let form = parse_form(body);
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let r = approve(
        state,
        Approval {
            user_code: field("user_code"),
            upn: field("upn"),
            password: field("password"),
        },
    );
    if r.status() != StatusCode::NO_CONTENT {
        return r;
    }
    (
        StatusCode::OK,
        [("content-type", "text/html; charset=utf-8")],
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed in</title></head>\n<body><p>You have signed in to the application on your device. You may now close this window.</p></body></html>\n",
    )
        .into_response()
}
