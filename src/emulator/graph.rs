//! The Graph routes: users (get with `$select`, `$filter=userPrincipalName in (…)` with paging), phone methods
//! (list/get/create/update/delete, enable/disable SMS sign-in), the polymorphic methods list, password methods,
//! `resetPassword` and its operation, and `$batch`. One request (or one batch item) goes through [`process`]:
//! route → token → permission → faults (buckets, seeded 503) → handler → statistics.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use crate::model::PhoneType;

use super::faults::{Verdict, retry_after};
use super::rules;
use super::store::{Data, EmulatorState, Operation};
use super::tenant::{Phone, User};
use super::tokens::{Caller, PASSWORD_METHOD_ID, verify};

/// One Graph request (an HTTP request or a `$batch` item).
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: String,
    /// The path after `/v1.0`, still percent-encoded, starting with `/`.
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    /// The body text (empty = none).
    pub body: Vec<u8>,
    pub authorization: Option<String>,
    pub client_request_id: String,
    pub request_id: String,
    /// `http://host:port` as the caller addressed the emulator.
    pub base: String,
}

/// One Graph response.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// The route template for statistics.
    pub route: String,
    /// The addressed user's object id, when resolved (statistics).
    pub user_id: Option<String>,
}

impl Resp {
    fn new(status: u16, body: Option<Value>) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body,
            route: String::new(),
            user_id: None,
        }
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Resp {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// A fresh random GUID (request ids, operation ids). Not from the seeded generator, so ids never perturb the
/// fault sequence.
pub(crate) fn new_guid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// ISO 8601 without fractional seconds, as Graph writes `innerError.date`.
pub(crate) fn iso(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Graph's error body with this request's ids.
fn error(state: &EmulatorState, req: &Req, status: u16, code: &str, message: &str) -> Resp {
    Resp::new(
        status,
        Some(json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "message": message,
                    "date": iso(state.now()),
                    "request-id": req.request_id,
                    "client-request-id": req.client_request_id,
                }
            }
        })),
    )
}

/// Which user a path addresses.
#[derive(Debug, Clone)]
enum Target {
    User(String),
    Me,
}

#[derive(Debug, Clone)]
enum Endpoint {
    ListUsers,
    GetUser,
    PhoneList,
    PhoneCreate,
    PhoneGet(String),
    PhoneUpdate(String),
    PhoneDelete(String),
    Sms(String, bool),
    MethodsList,
    MethodGet(String),
    PasswordMethodsList,
    PasswordMethodGet(String),
    ResetPassword(String),
    OperationGet(String),
}

fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

/// A bare or namespace-qualified action segment (`enableSmsSignIn`, `microsoft.graph.enableSmsSignIn`).
fn action(seg: &str) -> &str {
    seg.strip_prefix("microsoft.graph.").unwrap_or(seg)
}

/// Maps a method and path to an endpoint and its route template; errors are 400 (unknown segment) or 405.
/// A routed request: the addressed user, the endpoint, the route template.
type Routed = (Option<Target>, Endpoint, String);
/// A routing failure: status, error code, message.
type RouteError = (u16, String, String);

fn route(method: &str, path: &str) -> Result<Routed, RouteError> {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let bad = |seg: &str| {
        (
            400u16,
            "BadRequest".to_string(),
            format!("Resource not found for the segment '{seg}'."),
        )
    };
    let not_allowed = || {
        (
            405u16,
            "Request_BadRequest".to_string(),
            "Specified HTTP method is not allowed for the request target.".to_string(),
        )
    };
    let (target, rest, prefix) = match s.as_slice() {
        ["users"] => {
            return if method == "GET" {
                Ok((None, Endpoint::ListUsers, "GET /users".into()))
            } else {
                Err(not_allowed())
            };
        }
        ["users", u] => {
            return if method == "GET" {
                Ok((
                    Some(Target::User((*u).to_string())),
                    Endpoint::GetUser,
                    "GET /users/{id}".into(),
                ))
            } else {
                Err(not_allowed())
            };
        }
        ["me"] => {
            return if method == "GET" {
                Ok((Some(Target::Me), Endpoint::GetUser, "GET /me".into()))
            } else {
                Err(not_allowed())
            };
        }
        ["users", u, "authentication", rest @ ..] => (
            Target::User((*u).to_string()),
            rest,
            "/users/{id}/authentication",
        ),
        ["me", "authentication", rest @ ..] => (Target::Me, rest, "/me/authentication"),
        [first, ..] => return Err(bad(first)),
        [] => return Err(bad("")),
    };
    let m = method;
    let (ep, tail) = match (rest, m) {
        (["phoneMethods"], "GET") => (Endpoint::PhoneList, "/phoneMethods".to_string()),
        (["phoneMethods"], "POST") => (Endpoint::PhoneCreate, "/phoneMethods".to_string()),
        (["phoneMethods", id], "GET") => (
            Endpoint::PhoneGet((*id).into()),
            "/phoneMethods/{id}".into(),
        ),
        (["phoneMethods", id], "PATCH") => (
            Endpoint::PhoneUpdate((*id).into()),
            "/phoneMethods/{id}".into(),
        ),
        (["phoneMethods", id], "DELETE") => (
            Endpoint::PhoneDelete((*id).into()),
            "/phoneMethods/{id}".into(),
        ),
        (["phoneMethods", id, a], "POST") if action(a) == "enableSmsSignIn" => (
            Endpoint::Sms((*id).into(), true),
            "/phoneMethods/{id}/enableSmsSignIn".into(),
        ),
        (["phoneMethods", id, a], "POST") if action(a) == "disableSmsSignIn" => (
            Endpoint::Sms((*id).into(), false),
            "/phoneMethods/{id}/disableSmsSignIn".into(),
        ),
        (["methods"], "GET") => (Endpoint::MethodsList, "/methods".into()),
        (["methods", id], "GET") => (Endpoint::MethodGet((*id).into()), "/methods/{id}".into()),
        (["methods", id, a], "POST") | (["passwordMethods", id, a], "POST")
            if action(a) == "resetPassword" =>
        {
            (
                Endpoint::ResetPassword((*id).into()),
                format!("/{}/{{id}}/resetPassword", rest[0]),
            )
        }
        (["passwordMethods"], "GET") => (Endpoint::PasswordMethodsList, "/passwordMethods".into()),
        (["passwordMethods", id], "GET") => (
            Endpoint::PasswordMethodGet((*id).into()),
            "/passwordMethods/{id}".into(),
        ),
        (["operations", id], "GET") => (
            Endpoint::OperationGet((*id).into()),
            "/operations/{id}".into(),
        ),
        (
            ["phoneMethods"]
            | ["phoneMethods", _]
            | ["phoneMethods", _, _]
            | ["methods"]
            | ["methods", _]
            | ["methods", _, _]
            | ["passwordMethods"]
            | ["passwordMethods", _]
            | ["passwordMethods", _, _]
            | ["operations", _],
            _,
        ) => {
            let known = match rest.get(2) {
                Some(a) => matches!(
                    action(a),
                    "enableSmsSignIn" | "disableSmsSignIn" | "resetPassword"
                ),
                None => true,
            };
            return Err(if known { not_allowed() } else { bad(rest[2]) });
        }
        ([first, ..], _) => return Err(bad(first)),
        ([], _) => return Err(bad("authentication")),
    };
    Ok((Some(target), ep, format!("{m} {prefix}{tail}")))
}

/// The template of a request's route, for statistics of requests refused before routing.
fn route_name(method: &str, path: &str) -> String {
    match route(method, path) {
        Ok((_, _, r)) => r,
        Err(_) => format!("{method} (unknown)"),
    }
}

/// Processes one Graph request (or batch item) through tokens, faults and the handler, and counts it.
pub(crate) fn process(state: &EmulatorState, req: &Req) -> Resp {
    let mut resp = process_inner(state, req);
    if resp.route.is_empty() {
        resp.route = route_name(&req.method, &req.path);
    }
    let mut stats = state.stats_mut();
    *stats
        .by_route
        .entry(resp.route.clone())
        .or_default()
        .entry(resp.status)
        .or_default() += 1;
    if resp.status == 429 {
        stats.throttled += 1;
    }
    if let Some(uid) = &resp.user_id
        && (200..300).contains(&resp.status)
    {
        *stats
            .successful_by_user
            .entry(uid.clone())
            .or_default()
            .entry(resp.route.clone())
            .or_default() += 1;
    }
    resp
}

fn process_inner(state: &EmulatorState, req: &Req) -> Resp {
    let caller = match verify(state, req.authorization.as_deref()) {
        Ok(c) => c,
        Err(msg) => {
            return error(state, req, 401, "InvalidAuthenticationToken", &msg)
                .header("WWW-Authenticate", "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"");
        }
    };
    let (target, ep, route_t) = match route(&req.method, &req.path) {
        Ok(r) => r,
        Err((status, code, msg)) => return error(state, req, status, &code, &msg),
    };
    let is_write = matches!(req.method.as_str(), "POST" | "PATCH" | "DELETE" | "PUT");
    let verdict = state.faults().admit(state.now(), is_write);
    let mut resp = match verdict {
        Verdict::Throttled(wait) => {
            let mut r = error(
                state,
                req,
                429,
                "TooManyRequests",
                "Please retry again later.",
            )
            .header("Retry-After", retry_after(wait));
            if let Some(inner) = r
                .body
                .as_mut()
                .and_then(|b| b["error"]["innerError"].as_object_mut())
            {
                inner.insert("code".into(), json!("429"));
                inner.insert("status".into(), json!("429"));
            }
            r
        }
        Verdict::Fail => {
            state.stats_mut().injected_failures += 1;
            error(
                state,
                req,
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry.",
            )
            .header("Retry-After", "1")
        }
        Verdict::Pass => handle(state, req, &caller, target, ep),
    };
    resp.route = route_t;
    resp
}

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    PhoneRead,
    PhoneWrite,
    MethodsRead,
    UserRead,
    ResetPassword,
    OperationRead,
}

const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
const GR: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
const PAA: &str = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
const AA: &str = "c4e39bd9-1100-46d3-8c65-fb160da0071f";
const UA: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
const HA: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
const PWA: &str = "966707d0-3269-4727-9be2-8c3a10f19b9d";

fn any(set: &BTreeSet<String>, names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| set.iter().any(|s| s.eq_ignore_ascii_case(n)))
}

/// The permission matrix (graph-api.md §4). `Ok(masked)`: allowed, and whether phone numbers must be masked.
fn authorize(
    state: &EmulatorState,
    req: &Req,
    caller: &Caller,
    need: Need,
    target: &User,
) -> Result<bool, Resp> {
    let denied = |msg: &str| error(state, req, 403, "accessDenied", msg);
    let Some(me) = &caller.user_id else {
        // App-only.
        let ok = match need {
            Need::PhoneRead => any(
                &caller.roles,
                &[
                    "UserAuthMethod-Phone.Read.All",
                    "UserAuthMethod-Phone.ReadWrite.All",
                    "UserAuthenticationMethod.Read.All",
                    "UserAuthenticationMethod.ReadWrite.All",
                ],
            ),
            Need::PhoneWrite => any(
                &caller.roles,
                &[
                    "UserAuthMethod-Phone.ReadWrite.All",
                    "UserAuthenticationMethod.ReadWrite.All",
                ],
            ),
            Need::MethodsRead => any(
                &caller.roles,
                &[
                    "UserAuthenticationMethod.Read.All",
                    "UserAuthenticationMethod.ReadWrite.All",
                ],
            ),
            Need::UserRead => any(
                &caller.roles,
                &[
                    "User.Read.All",
                    "User.ReadBasic.All",
                    "User.ReadWrite.All",
                    "Directory.Read.All",
                    "Directory.ReadWrite.All",
                ],
            ),
            Need::ResetPassword | Need::OperationRead => {
                return Err(denied(
                    "Request Authorization failed: this operation does not support application permissions.",
                ));
            }
        };
        if need == Need::UserRead && !ok {
            return Err(error(
                state,
                req,
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        return if ok {
            Ok(false)
        } else {
            Err(denied("Request Authorization failed"))
        };
    };
    let own = target.id.eq_ignore_ascii_case(me);
    let scopes = &caller.scopes;
    let scope_ok = match (need, own) {
        (Need::PhoneRead, true) => any(
            scopes,
            &[
                "UserAuthMethod-Phone.Read",
                "UserAuthMethod-Phone.ReadWrite",
                "UserAuthMethod-Phone.Read.All",
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.Read",
                "UserAuthenticationMethod.ReadWrite",
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::PhoneRead, false) => any(
            scopes,
            &[
                "UserAuthMethod-Phone.Read.All",
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::PhoneWrite, true) => any(
            scopes,
            &[
                "UserAuthMethod-Phone.ReadWrite",
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.ReadWrite",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::PhoneWrite, false) => any(
            scopes,
            &[
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::MethodsRead, true) => any(
            scopes,
            &[
                "UserAuthenticationMethod.Read",
                "UserAuthenticationMethod.ReadWrite",
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::MethodsRead, false) => any(
            scopes,
            &[
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::UserRead, true) => any(
            scopes,
            &[
                "User.Read",
                "User.ReadBasic.All",
                "User.Read.All",
                "User.ReadWrite",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        ),
        (Need::UserRead, false) => any(
            scopes,
            &[
                "User.ReadBasic.All",
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        ),
        (Need::ResetPassword, _) => any(scopes, &["UserAuthenticationMethod.ReadWrite.All"]),
        (Need::OperationRead, _) => any(
            scopes,
            &[
                "UserAuthenticationMethod.Read",
                "UserAuthenticationMethod.ReadWrite",
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
    };
    if !scope_ok {
        return Err(if need == Need::UserRead {
            error(
                state,
                req,
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        } else {
            denied("Request Authorization failed")
        });
    }
    if need == Need::ResetPassword && own {
        return Err(denied(
            "An administrator can't reset their own password with this API; use self-service password reset.",
        ));
    }
    if own || need == Need::UserRead {
        return Ok(false);
    }
    let w = &caller.wids;
    let target_is_admin = !target.roles.is_empty();
    let has = |r: &str| w.contains(r);
    let allowed = match need {
        Need::PhoneRead | Need::MethodsRead => has(GA) || has(GR) || has(PAA) || has(AA),
        Need::PhoneWrite => has(GA) || has(PAA) || (has(AA) && !target_is_admin),
        Need::ResetPassword => {
            has(GA) || has(PAA) || ((has(AA) || has(UA) || has(HA) || has(PWA)) && !target_is_admin)
        }
        Need::OperationRead => {
            has(GA) || has(GR) || has(PAA) || has(AA) || has(UA) || has(HA) || has(PWA)
        }
        Need::UserRead => true,
    };
    if !allowed {
        return Err(denied(
            "Request Authorization failed: the signed-in user's directory roles do not allow this operation on this user.",
        ));
    }
    // Only Global Administrators and Privileged Authentication Administrators read full numbers of others.
    Ok(!(has(GA) || has(PAA)))
}

fn seed(state: &EmulatorState) -> u64 {
    state.options().seed
}

fn mask_style(state: &EmulatorState) -> u8 {
    ((seed(state) >> 2) % 3) as u8
}

fn not_found_user(state: &EmulatorState, req: &Req, key: &str) -> Resp {
    error(
        state,
        req,
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// The effective SMS sign-in state of a stored phone.
fn sms_state(user: &User, t: PhoneType, p: &Phone) -> String {
    if t != PhoneType::Mobile {
        return "notSupported".into();
    }
    match &p.sms_sign_in_state {
        Some(s) => s.clone(),
        None if user.sms_sign_in_policy => "ready".into(),
        None => "notAllowedByPolicy".into(),
    }
}

fn phone_json(state: &EmulatorState, user: &User, t: PhoneType, p: &Phone, masked: bool) -> Value {
    let number = if masked {
        rules::mask(&p.number, mask_style(state))
    } else {
        p.number.clone()
    };
    json!({
        "id": t.method_id(),
        "phoneNumber": number,
        "phoneType": t.as_str(),
        "smsSignInState": sms_state(user, t, p),
    })
}

fn parse_body(state: &EmulatorState, req: &Req) -> Result<Option<Map<String, Value>>, Resp> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(error(
            state,
            req,
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

fn check_odata_type(
    state: &EmulatorState,
    req: &Req,
    body: &Map<String, Value>,
    want: &str,
) -> Result<(), Resp> {
    match body.get("@odata.type").and_then(Value::as_str) {
        None => Ok(()),
        Some(t) if t.trim_start_matches('#') == want.trim_start_matches('#') => Ok(()),
        Some(t) => Err(error(
            state,
            req,
            400,
            "BadRequest",
            &format!(
                "A type named '{t}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
            ),
        )),
    }
}

fn handle(
    state: &EmulatorState,
    req: &Req,
    caller: &Caller,
    target: Option<Target>,
    ep: Endpoint,
) -> Resp {
    if let Endpoint::ListUsers = ep {
        return list_users(state, req, caller);
    }
    let key = match target {
        Some(Target::User(k)) => k,
        Some(Target::Me) => match &caller.user_id {
            Some(id) => id.clone(),
            None => {
                return error(
                    state,
                    req,
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                );
            }
        },
        None => return error(state, req, 400, "BadRequest", "Missing user."),
    };
    let data = state.data();
    let Some(index) = data.find(&key) else {
        drop(data);
        return not_found_user(state, req, &key);
    };
    let current = data.tenant.users[index].clone();
    let need = match &ep {
        Endpoint::GetUser => Need::UserRead,
        Endpoint::PhoneList | Endpoint::PhoneGet(_) => Need::PhoneRead,
        Endpoint::PhoneCreate
        | Endpoint::PhoneUpdate(_)
        | Endpoint::PhoneDelete(_)
        | Endpoint::Sms(..) => Need::PhoneWrite,
        Endpoint::MethodsList
        | Endpoint::MethodGet(_)
        | Endpoint::PasswordMethodsList
        | Endpoint::PasswordMethodGet(_) => Need::MethodsRead,
        Endpoint::ResetPassword(_) => Need::ResetPassword,
        Endpoint::OperationGet(_) => Need::OperationRead,
        Endpoint::ListUsers => Need::UserRead,
    };
    let masked = match authorize(state, req, caller, need, &current) {
        Ok(m) => m,
        Err(r) => return r,
    };
    // Self-service create/update is not supported in v1.0 (graph-api.md §4); delete and the SMS actions keep their
    // documented `/me` forms.
    let own = caller
        .user_id
        .as_deref()
        .is_some_and(|me| current.id.eq_ignore_ascii_case(me));
    if own && matches!(ep, Endpoint::PhoneCreate | Endpoint::PhoneUpdate(_)) {
        return error(
            state,
            req,
            403,
            "accessDenied",
            "Users can't add or update phone methods on their own account through this API.",
        );
    }
    let mut resp = handle_user(state, req, data, index, ep, masked);
    resp.user_id = Some(current.id);
    resp
}

fn handle_user(
    state: &EmulatorState,
    req: &Req,
    mut data: std::sync::MutexGuard<'_, Data>,
    index: usize,
    ep: Endpoint,
    masked: bool,
) -> Resp {
    let base = &req.base;
    let uid = data.tenant.users[index].id.clone();
    match ep {
        Endpoint::GetUser => {
            let seen = state.read_user(&data, index);
            drop(data);
            user_entity(state, req, &seen)
        }
        Endpoint::PhoneList => {
            let seen = state.read_user(&data, index);
            let value: Vec<Value> = seen
                .phones
                .iter()
                .map(|(t, p)| phone_json(state, &seen, *t, p, masked))
                .collect();
            Resp::new(
                200,
                Some(json!({
                    "@odata.context": format!("{base}/v1.0/$metadata#users('{uid}')/authentication/phoneMethods"),
                    "value": value,
                })),
            )
        }
        Endpoint::PhoneGet(id) => {
            let seen = state.read_user(&data, index);
            match PhoneType::from_method_id(&id).and_then(|t| seen.phones.get(&t).map(|p| (t, p))) {
                Some((t, p)) => {
                    let mut v = phone_json(state, &seen, t, p, masked);
                    v["@odata.context"] = json!(format!(
                        "{base}/v1.0/$metadata#users('{uid}')/authentication/phoneMethods/$entity"
                    ));
                    Resp::new(200, Some(v))
                }
                None => error(
                    state,
                    req,
                    404,
                    "itemNotFound",
                    &format!("Phone method '{id}' not found for the user."),
                ),
            }
        }
        Endpoint::PhoneCreate => create_phone(state, req, &mut data, index),
        Endpoint::PhoneUpdate(id) => update_phone(state, req, &mut data, index, &id),
        Endpoint::PhoneDelete(id) => delete_phone(state, req, &mut data, index, &id),
        Endpoint::Sms(id, enable) => sms_action(state, req, &mut data, index, &id, enable),
        Endpoint::MethodsList => {
            let seen = state.read_user(&data, index);
            drop(data);
            let value = all_methods(state, &seen, masked);
            Resp::new(
                200,
                Some(json!({
                    "@odata.context": format!("{base}/v1.0/$metadata#users('{uid}')/authentication/methods"),
                    "value": value,
                })),
            )
        }
        Endpoint::MethodGet(id) => {
            let seen = state.read_user(&data, index);
            drop(data);
            match all_methods(state, &seen, masked).into_iter().find(|m| {
                m["id"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(&id))
            }) {
                Some(mut m) => {
                    m["@odata.context"] = json!(format!(
                        "{base}/v1.0/$metadata#users('{uid}')/authentication/methods/$entity"
                    ));
                    Resp::new(200, Some(m))
                }
                None => error(
                    state,
                    req,
                    404,
                    "itemNotFound",
                    &format!("Authentication method '{id}' not found."),
                ),
            }
        }
        Endpoint::PasswordMethodsList => Resp::new(
            200,
            Some(json!({
                "@odata.context": format!("{base}/v1.0/$metadata#users('{uid}')/authentication/passwordMethods"),
                "value": [password_method()],
            })),
        ),
        Endpoint::PasswordMethodGet(id) => {
            if id.eq_ignore_ascii_case(PASSWORD_METHOD_ID) {
                let mut m = password_method();
                m["@odata.context"] = json!(format!(
                    "{base}/v1.0/$metadata#users('{uid}')/authentication/passwordMethods/$entity"
                ));
                Resp::new(200, Some(m))
            } else {
                error(
                    state,
                    req,
                    404,
                    "itemNotFound",
                    &format!("Password method '{id}' not found."),
                )
            }
        }
        Endpoint::ResetPassword(id) => reset_password(state, req, &mut data, index, &id),
        Endpoint::OperationGet(id) => get_operation(state, req, &mut data, index, &id),
        Endpoint::ListUsers => error(state, req, 400, "BadRequest", "Unexpected route."),
    }
}

fn password_method() -> Value {
    json!({ "id": PASSWORD_METHOD_ID, "password": null, "createdDateTime": null })
}

fn all_methods(state: &EmulatorState, u: &User, masked: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let mut pw = password_method();
    pw["@odata.type"] = json!("#microsoft.graph.passwordAuthenticationMethod");
    out.push(pw);
    for (t, p) in &u.phones {
        let mut v = phone_json(state, u, *t, p, masked);
        v["@odata.type"] = json!("#microsoft.graph.phoneAuthenticationMethod");
        out.push(v);
    }
    for m in &u.methods {
        if m.kind == "password" {
            continue;
        }
        let mut v = Map::new();
        v.insert("@odata.type".into(), json!(m.odata_type()));
        v.insert("id".into(), json!(m.id));
        for (k, val) in &m.properties {
            v.insert(k.clone(), val.clone());
        }
        out.push(Value::Object(v));
    }
    out.extend(u.raw_methods.iter().cloned());
    out
}

/// Whether another user holds this number for SMS sign-in (`ready`).
fn number_taken(data: &Data, index: usize, number: &str) -> bool {
    let key = rules::sms_key(number);
    data.tenant.users.iter().enumerate().any(|(i, u)| {
        i != index
            && u.phones.get(&PhoneType::Mobile).is_some_and(|p| {
                rules::sms_key(&p.number) == key && sms_state(u, PhoneType::Mobile, p) == "ready"
            })
    })
}

/// SMS sign-in auto-registration after a mobile was added or changed: `ready` when the user is in policy scope
/// and the number is free, `phoneNumberNotUnique` when someone else holds it, `notAllowedByPolicy` out of scope.
fn register(data: &Data, index: usize, number: &str) -> &'static str {
    let u = &data.tenant.users[index];
    if !u.sms_sign_in_policy {
        "notAllowedByPolicy"
    } else if number_taken(data, index, number) {
        "phoneNumberNotUnique"
    } else {
        "ready"
    }
}

fn commit_or_500(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    before: User,
) -> Option<Resp> {
    state.commit(data, index, before).err().map(|e| {
        error(
            state,
            req,
            500,
            "generalException",
            &format!("The change could not be stored: {e}"),
        )
    })
}

fn create_phone(state: &EmulatorState, req: &Req, data: &mut Data, index: usize) -> Resp {
    let body = match parse_body(state, req) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return error(
                state,
                req,
                400,
                "BadRequest",
                "Empty Payload. JSON content expected.",
            );
        }
        Err(r) => return r,
    };
    if let Err(r) = check_odata_type(
        state,
        req,
        &body,
        "microsoft.graph.phoneAuthenticationMethod",
    ) {
        return r;
    }
    if body.contains_key("smsSignInState") {
        return error(
            state,
            req,
            400,
            "badRequest",
            "smsSignInState is read-only and can't be set.",
        );
    }
    let (Some(number), Some(ptype)) = (
        body.get("phoneNumber").and_then(Value::as_str),
        body.get("phoneType").and_then(Value::as_str),
    ) else {
        return error(
            state,
            req,
            400,
            "badRequest",
            "phoneNumber and phoneType are required.",
        );
    };
    let Some(t) = PhoneType::parse(ptype) else {
        return error(
            state,
            req,
            400,
            "badRequest",
            &format!("Invalid phoneType '{ptype}'."),
        );
    };
    if let Err(e) = rules::check_number(t, number) {
        return error(
            state,
            req,
            400,
            "badRequest",
            &format!(
                "Invalid phone number '{number}': {e}. Use the format +{{country code}} {{number}}x{{extension}}."
            ),
        );
    }
    let user = &data.tenant.users[index];
    if user.phones.contains_key(&t) {
        return error(
            state,
            req,
            400,
            "badRequest",
            &format!("The user already has a phone method of type {t}; update it instead."),
        );
    }
    if t == PhoneType::AlternateMobile && !user.phones.contains_key(&PhoneType::Mobile) {
        return error(
            state,
            req,
            400,
            "badRequest",
            "A mobile phone must be registered before an alternateMobile phone can be added.",
        );
    }
    let state_after = (t == PhoneType::Mobile).then(|| register(data, index, number));
    let before = data.tenant.users[index].clone();
    data.tenant.users[index].phones.insert(
        t,
        Phone {
            number: number.to_string(),
            sms_sign_in_state: state_after.map(str::to_string),
        },
    );
    if let Some(r) = commit_or_500(state, req, data, index, before) {
        return r;
    }
    if state_after == Some("phoneNumberNotUnique") {
        return error(
            state,
            req,
            409,
            "phoneNumberNotUnique",
            "The phone number was saved, but it is already used for SMS sign-in by another user, so it can't be registered for SMS sign-in.",
        );
    }
    let user = &data.tenant.users[index];
    let mut v = phone_json(state, user, t, &user.phones[&t], false);
    v["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#users('{}')/authentication/phoneMethods/$entity",
        req.base, user.id
    ));
    // The reference page says 201; a Microsoft walkthrough shows 200 (seed bit 0 picks it).
    let status = if seed(state) & 1 == 1 { 200 } else { 201 };
    Resp::new(status, Some(v)).header(
        "Location",
        format!(
            "{}/v1.0/users/{}/authentication/phoneMethods/{}",
            req.base,
            user.id,
            t.method_id()
        ),
    )
}

fn update_phone(state: &EmulatorState, req: &Req, data: &mut Data, index: usize, id: &str) -> Resp {
    let body = match parse_body(state, req) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return error(
                state,
                req,
                400,
                "BadRequest",
                "Empty Payload. JSON content expected.",
            );
        }
        Err(r) => return r,
    };
    if let Err(r) = check_odata_type(
        state,
        req,
        &body,
        "microsoft.graph.phoneAuthenticationMethod",
    ) {
        return r;
    }
    let Some(t) = PhoneType::from_method_id(id) else {
        return error(
            state,
            req,
            404,
            "itemNotFound",
            &format!("Phone method '{id}' not found for the user."),
        );
    };
    let Some(existing) = data.tenant.users[index].phones.get(&t).cloned() else {
        return error(
            state,
            req,
            404,
            "itemNotFound",
            &format!("The user has no {t} phone method."),
        );
    };
    if let Some(pt) = body.get("phoneType")
        && pt.as_str() != Some(t.as_str())
    {
        {
            return error(
                state,
                req,
                400,
                "badRequest",
                "The phoneType of a phone method can't be changed; add a phone of the new type and delete the old one.",
            );
        }
    }
    if body.contains_key("smsSignInState") {
        return error(
            state,
            req,
            400,
            "badRequest",
            "smsSignInState is read-only and can't be set.",
        );
    }
    let number = match body.get("phoneNumber") {
        None => existing.number.clone(),
        Some(Value::String(n)) => n.clone(),
        Some(_) => {
            return error(
                state,
                req,
                400,
                "badRequest",
                "phoneNumber must be a string.",
            );
        }
    };
    if let Err(e) = rules::check_number(t, &number) {
        return error(
            state,
            req,
            400,
            "badRequest",
            &format!(
                "Invalid phone number '{number}': {e}. Use the format +{{country code}} {{number}}x{{extension}}."
            ),
        );
    }
    let changed = number != existing.number;
    let new_state = if t == PhoneType::Mobile && changed {
        Some(register(data, index, &number).to_string())
    } else {
        existing.sms_sign_in_state.clone()
    };
    let before = data.tenant.users[index].clone();
    data.tenant.users[index].phones.insert(
        t,
        Phone {
            number,
            sms_sign_in_state: new_state.clone(),
        },
    );
    if let Some(r) = commit_or_500(state, req, data, index, before) {
        return r;
    }
    if changed && new_state.as_deref() == Some("phoneNumberNotUnique") {
        return error(
            state,
            req,
            409,
            "phoneNumberNotUnique",
            "The phone number was saved, but it is already used for SMS sign-in by another user, so it can't be registered for SMS sign-in.",
        );
    }
    Resp::new(204, None)
}

fn delete_phone(state: &EmulatorState, req: &Req, data: &mut Data, index: usize, id: &str) -> Resp {
    let Some(t) = PhoneType::from_method_id(id) else {
        return error(
            state,
            req,
            404,
            "itemNotFound",
            &format!("Phone method '{id}' not found for the user."),
        );
    };
    let user = &data.tenant.users[index];
    if !user.phones.contains_key(&t) {
        return error(
            state,
            req,
            404,
            "itemNotFound",
            &format!("The user has no {t} phone method."),
        );
    }
    if user.default_method == Some(t) {
        return error(
            state,
            req,
            400,
            "badRequest",
            &format!(
                "The requested authentication method id of [{}] matches the user's current default authentication method, and cannot be deleted until the default authentication method is changed.",
                t.method_id()
            ),
        );
    }
    if t == PhoneType::Mobile && user.phones.contains_key(&PhoneType::AlternateMobile) {
        return error(
            state,
            req,
            400,
            "badRequest",
            "A mobile phone can't be deleted while an alternateMobile phone exists; update the mobile or delete the alternateMobile first.",
        );
    }
    let before = user.clone();
    data.tenant.users[index].phones.remove(&t);
    if let Some(r) = commit_or_500(state, req, data, index, before) {
        return r;
    }
    Resp::new(204, None)
}

fn sms_action(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    id: &str,
    enable: bool,
) -> Resp {
    let Some(t) = PhoneType::from_method_id(id) else {
        return error(
            state,
            req,
            404,
            "itemNotFound",
            &format!("Phone method '{id}' not found for the user."),
        );
    };
    if t != PhoneType::Mobile {
        return error(
            state,
            req,
            400,
            "badRequest",
            "SMS sign-in can only be enabled or disabled on the mobile phone method.",
        );
    }
    let user = &data.tenant.users[index];
    let Some(phone) = user.phones.get(&t).cloned() else {
        return error(
            state,
            req,
            404,
            "itemNotFound",
            "The user has no mobile phone method.",
        );
    };
    let current = sms_state(user, t, &phone);
    let next = if enable {
        if !user.sms_sign_in_policy {
            return error(
                state,
                req,
                400,
                "badRequest",
                "The user is not enabled for SMS sign-in in the authentication methods policy.",
            );
        }
        if number_taken(data, index, &phone.number) {
            return error(
                state,
                req,
                409,
                "phoneNumberNotUnique",
                "The phone number is already used for SMS sign-in by another user.",
            );
        }
        "ready".to_string()
    } else if matches!(
        current.as_str(),
        "ready" | "notConfigured" | "phoneNumberNotUnique"
    ) {
        "notEnabled".to_string()
    } else {
        current.clone()
    };
    if next != current || phone.sms_sign_in_state.is_none() {
        let before = data.tenant.users[index].clone();
        data.tenant.users[index].phones.insert(
            t,
            Phone {
                number: phone.number,
                sms_sign_in_state: Some(next),
            },
        );
        if let Some(r) = commit_or_500(state, req, data, index, before) {
            return r;
        }
    }
    Resp::new(204, None)
}

fn generate_password() -> String {
    use rand::Rng;
    let mut r = rand::rng();
    let up = b"BCDFGHJKLMNPQRSTVWXZ"[r.random_range(0..20)] as char;
    let low: String = (0..3)
        .map(|_| b"aeiouybcdfghjkmnpqrstvwxz"[r.random_range(0..25)] as char)
        .collect();
    format!("{up}{low}{:04}", r.random_range(0..10000))
}

fn reset_password(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    id: &str,
) -> Resp {
    if !id.eq_ignore_ascii_case(PASSWORD_METHOD_ID) {
        return error(
            state,
            req,
            404,
            "itemNotFound",
            &format!("Password method '{id}' not found."),
        );
    }
    let body = match parse_body(state, req) {
        Ok(b) => b.unwrap_or_default(),
        Err(r) => return r,
    };
    let given = match body.get("newPassword") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return error(
                state,
                req,
                400,
                "badRequest",
                "newPassword must be a string.",
            );
        }
    };
    let user = &data.tenant.users[index];
    if user.synced && given.is_none() {
        return error(
            state,
            req,
            400,
            "badRequest",
            "newPassword is required for users whose password is managed on-premises (hybrid).",
        );
    }
    let generated = given.is_none();
    let new_password = given.unwrap_or_else(generate_password);
    let op_id = new_guid();
    let now = state.now();
    data.operations.insert(
        op_id.clone(),
        Operation {
            user_id: user.id.clone(),
            created: now,
            last_action: now,
            polls: 0,
            new_password: new_password.clone(),
            outcome: None,
        },
    );
    let location_base = data
        .tenant
        .operations
        .location_base
        .as_deref()
        .map_or(req.base.as_str(), |b| b.trim_end_matches('/'));
    let location = format!(
        "{location_base}/v1.0/users/{}/authentication/operations/{op_id}?aadgdc=EMU01P&aadgsu=ssprprod-a",
        user.id
    );
    let retry = data.tenant.operations.retry_after_seconds.to_string();
    let body = generated.then(|| {
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.passwordResetResponse", req.base),
            "newPassword": new_password,
        })
    });
    Resp::new(202, body)
        .header("Location", location)
        .header("Retry-After", retry)
}

fn get_operation(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    id: &str,
) -> Resp {
    let uid = data.tenant.users[index].id.clone();
    let Some(op) = data
        .operations
        .get(id)
        .cloned()
        .filter(|o| o.user_id == uid)
    else {
        return error(
            state,
            req,
            404,
            "itemNotFound",
            &format!("Operation '{id}' not found."),
        );
    };
    let behaviour = data.tenant.operations.clone();
    let now = state.now();
    let polls = op.polls + 1;
    let mut op2 = op.clone();
    op2.polls = polls;
    // Poll 1 sees notStarted, the next `runningPolls` see running, then the outcome (by polls, not by time, so a
    // client's polling loop is deterministic whatever its clock).
    let status = if polls == 1 {
        "notStarted".to_string()
    } else if polls <= 1 + behaviour.running_polls {
        op2.last_action = now;
        "running".to_string()
    } else {
        if op2.outcome.is_none() {
            op2.last_action = now;
            let banned = data.tenant.banned_passwords.iter().any(|b| {
                !b.is_empty() && op.new_password.to_lowercase().contains(&b.to_lowercase())
            });
            op2.outcome = Some(if banned {
                (
                    "failed".into(),
                    Some(
                        "The password is on the banned password list; choose another password."
                            .into(),
                    ),
                )
            } else if behaviour.outcome == "failed" {
                (
                    "failed".into(),
                    Some(
                        behaviour
                            .failure_detail
                            .clone()
                            .unwrap_or_else(|| "The password could not be reset.".into()),
                    ),
                )
            } else {
                ("succeeded".into(), None)
            });
            if op2.outcome.as_ref().is_some_and(|o| o.0 == "succeeded") {
                let before = data.tenant.users[index].clone();
                data.tenant.users[index].password = Some(op.new_password.clone());
                if let Some(r) = commit_or_500(state, req, data, index, before) {
                    return r;
                }
            }
        }
        op2.outcome
            .as_ref()
            .map(|o| o.0.clone())
            .unwrap_or_default()
    };
    let detail = op2.outcome.as_ref().and_then(|o| o.1.clone());
    data.operations.insert(id.to_string(), op2.clone());
    let terminal = matches!(status.as_str(), "succeeded" | "failed");
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{uid}')/authentication/operations/$entity", req.base),
        "id": id,
        "createdDateTime": iso(op2.created),
        "lastActionDateTime": iso(op2.last_action),
        "resourceLocation": format!("{}/v1.0/users/{uid}/authentication/methods/{PASSWORD_METHOD_ID}", req.base),
        "status": status,
        "statusDetail": detail,
    });
    let select = query_param(&req.query, "$select");
    let body = match select {
        Some(sel) => {
            let keep: Vec<String> = sel.split(',').map(|s| s.trim().to_string()).collect();
            let mut m = Map::new();
            if let Value::Object(o) = &body {
                for (k, v) in o {
                    if k == "@odata.context" || keep.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(m)
        }
        None => body,
    };
    // The reference shows 200; a walkthrough shows 202 while running (seed bit 1 picks it).
    let status_code = if !terminal && seed(state) & 2 == 2 {
        202
    } else {
        200
    };
    let mut r = Resp::new(status_code, Some(body));
    if !terminal {
        r = r.header("Retry-After", behaviour.retry_after_seconds.to_string());
    }
    r
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];
const USER_EXTRA: &[&str] = &["onPremisesSyncEnabled", "userType", "accountEnabled"];

fn user_props(u: &User) -> HashMap<&'static str, Value> {
    let mut m = HashMap::new();
    m.insert("businessPhones", json!([]));
    m.insert(
        "displayName",
        json!(if u.display_name.is_empty() {
            Value::Null
        } else {
            json!(u.display_name)
        }),
    );
    for k in [
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
    ] {
        m.insert(k, Value::Null);
    }
    m.insert("userPrincipalName", json!(u.user_principal_name));
    m.insert("id", json!(u.id));
    m.insert(
        "onPremisesSyncEnabled",
        if u.synced { json!(true) } else { Value::Null },
    );
    m.insert(
        "userType",
        json!(if u.user_principal_name.contains("#EXT#") {
            "Guest"
        } else {
            "Member"
        }),
    );
    m.insert("accountEnabled", json!(true));
    m
}

/// The selected properties (`$select`, case-insensitive) or the default set.
fn select_list(state: &EmulatorState, req: &Req) -> Result<Vec<&'static str>, Resp> {
    match query_param(&req.query, "$select") {
        None => Ok(USER_DEFAULT.to_vec()),
        Some(sel) => {
            let mut out = Vec::new();
            for s in sel.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match USER_DEFAULT
                    .iter()
                    .chain(USER_EXTRA)
                    .find(|k| k.eq_ignore_ascii_case(s))
                {
                    Some(k) => out.push(*k),
                    None => {
                        return Err(error(
                            state,
                            req,
                            400,
                            "Request_BadRequest",
                            &format!(
                                "Could not find a property named '{s}' on type 'microsoft.graph.user'."
                            ),
                        ));
                    }
                }
            }
            Ok(out)
        }
    }
}

fn user_object(u: &User, select: &[&'static str]) -> Value {
    let props = user_props(u);
    let mut m = Map::new();
    for k in select {
        m.insert(
            (*k).to_string(),
            props.get(k).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

fn user_entity(state: &EmulatorState, req: &Req, u: &User) -> Resp {
    let select = match select_list(state, req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut v = user_object(u, &select);
    let ctx = match query_param(&req.query, "$select") {
        Some(_) => format!(
            "{}/v1.0/$metadata#users({})/$entity",
            req.base,
            select.join(",")
        ),
        None => format!("{}/v1.0/$metadata#users/$entity", req.base),
    };
    v["@odata.context"] = json!(ctx);
    Resp::new(200, Some(v))
}

/// A parsed `$filter`: the property (`userPrincipalName` or `id`) and the wanted values.
#[derive(Debug, PartialEq)]
pub(crate) struct Filter {
    pub property: &'static str,
    pub values: Vec<String>,
}

/// Parses the filters authctl sends: `prop eq 'v'`, `prop in ('a','b')`, and `or`-joined `eq`s on one property,
/// with OData string literals (`''` is a quote).
pub(crate) fn parse_filter(s: &str) -> Result<Filter, String> {
    let mut p = Parser {
        s: s.as_bytes(),
        i: 0,
    };
    let mut property: Option<&'static str> = None;
    let mut values = Vec::new();
    loop {
        p.ws();
        let name = p.ident();
        let prop = match name.to_ascii_lowercase().as_str() {
            "userprincipalname" => "userPrincipalName",
            "id" => "id",
            "" => return Err("expected a property name".into()),
            other => {
                return Err(format!(
                    "filtering on '{other}' is not supported by the emulator"
                ));
            }
        };
        if property.is_some_and(|q| q != prop) {
            return Err("all clauses must filter the same property".into());
        }
        property = Some(prop);
        p.ws();
        match p.ident().to_ascii_lowercase().as_str() {
            "eq" => {
                p.ws();
                values.push(p.literal()?);
            }
            "in" => {
                p.ws();
                p.expect(b'(')?;
                loop {
                    p.ws();
                    values.push(p.literal()?);
                    p.ws();
                    if p.eat(b',') {
                        continue;
                    }
                    p.expect(b')')?;
                    break;
                }
            }
            other => return Err(format!("unsupported operator '{other}'")),
        }
        p.ws();
        if p.i >= p.s.len() {
            break;
        }
        if p.ident().eq_ignore_ascii_case("or") {
            continue;
        }
        return Err(format!("unexpected text at position {}", p.i));
    }
    Ok(Filter {
        property: property.unwrap_or("id"),
        values,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn ident(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("expected '{}' at position {}", b as char, self.i))
        }
    }
    fn literal(&mut self) -> Result<String, String> {
        self.expect(b'\'')?;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return Err("unterminated string literal".into()),
                Some(b'\'') if self.s.get(self.i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    self.i += 2;
                }
                Some(b'\'') => {
                    self.i += 1;
                    break;
                }
                Some(c) => {
                    out.push(*c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| "string literal is not UTF-8".into())
    }
}

/// The most values one `in (…)` may hold (graph-api.md: 15 a request).
const MAX_IN_VALUES: usize = 15;

fn list_users(state: &EmulatorState, req: &Req, caller: &Caller) -> Resp {
    // Permission: reading users needs no particular target; check against a placeholder user (not own).
    let probe = User {
        id: String::new(),
        user_principal_name: String::new(),
        display_name: String::new(),
        synced: false,
        sms_sign_in_policy: false,
        default_method: None,
        roles: Vec::new(),
        password: None,
        phones: Default::default(),
        methods: Vec::new(),
        raw_methods: Vec::new(),
    };
    if let Err(r) = authorize(state, req, caller, Need::UserRead, &probe) {
        return r;
    }
    let select = match select_list(state, req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let filter = match query_param(&req.query, "$filter") {
        Some(f) => match parse_filter(&f) {
            Ok(f) if f.values.len() > MAX_IN_VALUES => {
                return error(
                    state,
                    req,
                    400,
                    "Request_UnsupportedQuery",
                    &format!("Too many values in the filter: at most {MAX_IN_VALUES} are allowed."),
                );
            }
            Ok(f) => Some(f),
            Err(e) => {
                return error(
                    state,
                    req,
                    400,
                    "Request_BadRequest",
                    &format!("Invalid filter clause: {e}"),
                );
            }
        },
        None => None,
    };
    let data = state.data();
    let matched: Vec<User> = match &filter {
        None => data.tenant.users.clone(),
        Some(f) => {
            // Through the index, in tenant order, each user once.
            let mut hits: Vec<usize> = f
                .values
                .iter()
                .filter_map(|v| data.find(v))
                .filter(|&i| {
                    let u = &data.tenant.users[i];
                    f.values.iter().any(|v| match f.property {
                        "id" => u.id.eq_ignore_ascii_case(v),
                        _ => u.user_principal_name.eq_ignore_ascii_case(v),
                    })
                })
                .collect();
            hits.sort_unstable();
            hits.dedup();
            hits.into_iter()
                .map(|i| data.tenant.users[i].clone())
                .collect()
        }
    };
    drop(data);
    let page = query_param(&req.query, "$top")
        .and_then(|t| t.parse::<usize>().ok())
        .or(state.options().page_size)
        .unwrap_or(100)
        .clamp(1, 999);
    let skip = query_param(&req.query, "$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let value: Vec<Value> = matched
        .iter()
        .skip(skip)
        .take(page)
        .map(|u| user_object(u, &select))
        .collect();
    let mut body = json!({
        "@odata.context": match query_param(&req.query, "$select") {
            Some(_) => format!("{}/v1.0/$metadata#users({})", req.base, select.join(",")),
            None => format!("{}/v1.0/$metadata#users", req.base),
        },
        "value": value,
    });
    if skip + page < matched.len() {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(req.query.as_bytes()) {
            if !k.eq_ignore_ascii_case("$skiptoken") {
                q.append_pair(&k, &v);
            }
        }
        q.append_pair("$skiptoken", &(skip + page).to_string());
        body["@odata.nextLink"] = json!(format!("{}/v1.0/users?{}", req.base, q.finish()));
    }
    Resp::new(200, Some(body))
}

/// `POST /v1.0/$batch`: up to 20 requests with unique ids (case-insensitive), `dependsOn` sequencing (a failed
/// dependency answers 424), each item throttled and counted on its own.
pub(crate) fn batch(state: &EmulatorState, req: &Req) -> Resp {
    let mut resp = batch_inner(state, req);
    resp.route = "POST /$batch".into();
    let mut stats = state.stats_mut();
    stats.batches += 1;
    *stats
        .by_route
        .entry(resp.route.clone())
        .or_default()
        .entry(resp.status)
        .or_default() += 1;
    resp
}

fn batch_inner(state: &EmulatorState, req: &Req) -> Resp {
    if let Err(msg) = verify(state, req.authorization.as_deref()) {
        return error(state, req, 401, "InvalidAuthenticationToken", &msg);
    }
    let invalid = |msg: &str| error(state, req, 400, "BadRequest", msg);
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return invalid("Invalid batch payload format."),
    };
    let Some(items) = body.get("requests").and_then(Value::as_array) else {
        return invalid("Invalid batch payload format: `requests` is missing.");
    };
    if items.len() > 20 {
        return invalid("The number of batch requests exceeds the maximum of 20.");
    }
    let mut ids: Vec<String> = Vec::new();
    for it in items {
        let Some(id) = it.get("id").and_then(Value::as_str) else {
            return invalid("Each batch request needs a string `id`.");
        };
        if it.get("method").and_then(Value::as_str).is_none()
            || it.get("url").and_then(Value::as_str).is_none()
        {
            return invalid(&format!("Batch request '{id}' needs `method` and `url`."));
        }
        if ids.iter().any(|x| x.eq_ignore_ascii_case(id)) {
            return invalid(&format!(
                "Batch request id '{id}' is not unique within the batch."
            ));
        }
        ids.push(id.to_string());
    }
    let deps: Vec<Vec<usize>> = match items
        .iter()
        .map(|it| {
            it.get("dependsOn")
                .and_then(Value::as_array)
                .map(|d| {
                    d.iter()
                        .map(|x| {
                            let x = x.as_str().unwrap_or_default();
                            ids.iter()
                                .position(|i| i.eq_ignore_ascii_case(x))
                                .ok_or_else(|| x.to_string())
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap_or(Ok(Vec::new()))
        })
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(d) => d,
        Err(x) => {
            return invalid(&format!(
                "dependsOn names '{x}', which is not a request of this batch."
            ));
        }
    };
    {
        let mut stats = state.stats_mut();
        stats.batch_items += items.len() as u64;
    }
    let mut results: Vec<Option<Resp>> = vec![None; items.len()];
    let mut progressed = true;
    while progressed && results.iter().any(Option::is_none) {
        progressed = false;
        for i in 0..items.len() {
            if results[i].is_some() || deps[i].iter().any(|d| results[*d].is_none()) {
                continue;
            }
            progressed = true;
            let failed_dep = deps[i].iter().any(|d| {
                results[*d]
                    .as_ref()
                    .is_some_and(|r| !(200..300).contains(&r.status))
            });
            let item_req = item_request(req, &items[i]);
            results[i] = Some(match item_req {
                _ if failed_dep => {
                    let r = Req {
                        request_id: new_guid(),
                        ..req.clone()
                    };
                    let mut e = error(
                        state,
                        &r,
                        424,
                        "FailedDependency",
                        "The request was not executed because a request it depends on failed.",
                    );
                    e.route = "(dependency failed)".into();
                    e
                }
                Ok(r) => process(state, &r),
                Err(msg) => {
                    let r = Req {
                        request_id: new_guid(),
                        ..req.clone()
                    };
                    error(state, &r, 400, "BadRequest", &msg)
                }
            });
        }
    }
    if results.iter().any(Option::is_none) {
        return invalid("dependsOn forms a cycle.");
    }
    let mut responses: Vec<Value> = results
        .into_iter()
        .zip(&ids)
        .map(|(r, id)| {
            let r = r.unwrap_or_else(|| Resp::new(500, None));
            let mut headers = Map::new();
            for (k, v) in &r.headers {
                headers.insert(k.clone(), json!(v));
            }
            if r.body.is_some() {
                headers.insert("Content-Type".into(), json!("application/json"));
            }
            let mut item = json!({ "id": id, "status": r.status, "headers": headers });
            if let Some(b) = r.body {
                item["body"] = b;
            }
            item
        })
        .collect();
    // The order of responses is not guaranteed; seed bit 5 reverses it so clients are seen to correlate by id.
    if seed(state) & 32 == 32 {
        responses.reverse();
    }
    Resp::new(200, Some(json!({ "responses": responses })))
}

fn item_request(outer: &Req, item: &Value) -> Result<Req, String> {
    let method = item["method"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let mut url = item["url"].as_str().unwrap_or_default().to_string();
    if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        url = rest
            .find('/')
            .map(|i| rest[i..].to_string())
            .unwrap_or_default();
    }
    if !url.starts_with('/') {
        url.insert(0, '/');
    }
    for v in ["/v1.0/", "/beta/"] {
        if let Some(rest) = url.strip_prefix(v) {
            url = format!("/{rest}");
        }
    }
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url.clone(), String::new()),
    };
    if path.trim_start_matches('/').starts_with("$batch") {
        return Err("A batch request can't contain another $batch.".into());
    }
    let headers = item.get("headers").and_then(Value::as_object);
    let content_type = headers.and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .and_then(|(_, v)| v.as_str())
    });
    let body = match item.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(b) => {
            let Some(ct) = content_type else {
                return Err(
                    "A Content-Type header is required when a batch request has a body.".into(),
                );
            };
            match b {
                Value::String(s) if !ct.contains("json") => {
                    use base64::Engine;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(s.trim_end_matches('='))
                        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(s))
                        .map_err(|_| "The body is not valid base64.".to_string())?
                }
                other => serde_json::to_vec(other).unwrap_or_default(),
            }
        }
    };
    let client_request_id = headers
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("client-request-id"))
                .and_then(|(_, v)| v.as_str())
        })
        .map(str::to_string)
        .unwrap_or_else(|| outer.client_request_id.clone());
    Ok(Req {
        method,
        path,
        query,
        body,
        authorization: outer.authorization.clone(),
        client_request_id,
        request_id: new_guid(),
        base: outer.base.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_with_escaped_quotes() {
        let f = parse_filter("userPrincipalName in ('a@contoso.com','o''brien.pat@contoso.com', 'j_f.com#EXT#@c.onmicrosoft.com')").unwrap();
        assert_eq!(f.property, "userPrincipalName");
        assert_eq!(
            f.values,
            vec![
                "a@contoso.com",
                "o'brien.pat@contoso.com",
                "j_f.com#EXT#@c.onmicrosoft.com"
            ]
        );
        let f = parse_filter("id eq '4b1f' or id eq 'x'").unwrap();
        assert_eq!(f.values, vec!["4b1f", "x"]);
        assert!(parse_filter("userPrincipalName in ('a'").is_err());
        assert!(parse_filter("mail eq 'a'").is_err());
        assert!(parse_filter("userPrincipalName eq 'unterminated").is_err());
    }

    #[test]
    fn routes_accept_bare_and_qualified_actions() {
        let id = PhoneType::Mobile.method_id();
        for a in ["enableSmsSignIn", "microsoft.graph.enableSmsSignIn"] {
            let (_, ep, r) = route(
                "POST",
                &format!("/users/u/authentication/phoneMethods/{id}/{a}"),
            )
            .unwrap();
            assert!(matches!(ep, Endpoint::Sms(_, true)));
            assert_eq!(
                r,
                "POST /users/{id}/authentication/phoneMethods/{id}/enableSmsSignIn"
            );
        }
        assert!(route("PUT", "/users/u/authentication/phoneMethods").is_err_and(|e| e.0 == 405));
        assert!(route("GET", "/groups").is_err_and(|e| e.0 == 400));
        let (_, _, r) = route(
            "GET",
            "/users/jordan.guest_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com",
        )
        .unwrap();
        assert_eq!(r, "GET /users/{id}");
    }

    #[test]
    fn guids_look_like_guids() {
        let g = new_guid();
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
    }
}
