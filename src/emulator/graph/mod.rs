//! The Graph request pipeline: one request (an HTTP request or one `$batch` item) goes through [`process`]:
//! token → route → faults (buckets, seeded 503) → permission → handler → statistics. This file holds the request and
//! response types, the [`Fault`] every handler returns with `?`, the pipeline and the dispatch to the handlers.
//!
//! One file per job beside it: [`routing`] (path → endpoint), [`authz`] (the permission matrix and masking),
//! [`body`] (write bodies), [`phones`] (phone methods and SMS sign-in), [`methods`] (the polymorphic and password
//! method lists), [`password`] (`resetPassword` and its operation), [`select`] (user objects and `$select`),
//! [`filter`] (the `$filter` parser), [`paging`] (`GET /users` with `$filter`, `$top`, `$skiptoken`), [`batch`]
//! (`$batch`), [`registered`] (every other method type at its own path, the email create/update), [`tap`] (the TAP
//! create and a pass's usability), [`sessions`] (`revokeSignInSessions`), [`groups`] (groups and memberships),
//! [`policy`] (the authentication methods policy endpoints and what other handlers read of it). To add an endpoint: a variant in `routing::Endpoint`, its permission in [`dispatch`], its handler in
//! the file of its job.

mod authz;
mod batch;
mod body;
mod filter;
mod groups;
mod methods;
mod paging;
mod password;
mod phones;
mod policy;
mod registered;
mod routing;
mod select;
mod sessions;
mod shown;
mod tap;

use serde_json::{Value, json};

use super::faults::{Charge, Verdict, retry_after};
use super::ids::iso;
use super::store::{Data, EmulatorState};
use super::tenant::User;
use super::tokens::{Caller, verify};
use authz::Need;
use routing::{Endpoint, Target};

pub(crate) use batch::batch;

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
    /// The `Content-Type` header, when sent.
    pub content_type: Option<String>,
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

/// A Graph error answer before it is addressed to a request: status, `error.code`, message and extra headers.
/// Handlers return `Result<Resp, Fault>` and bail out with `?`; [`Fault::answer`] adds the request's ids and date.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    status: u16,
    code: String,
    message: String,
    headers: Vec<(String, String)>,
}

impl Fault {
    fn new(status: u16, code: &str, message: impl Into<String>) -> Fault {
        Fault {
            status,
            code: code.to_string(),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 400 with Graph's code for a bad write: `badRequest`.
    fn bad_request(message: impl Into<String>) -> Fault {
        Fault::new(400, "badRequest", message)
    }

    /// 404 `itemNotFound`.
    fn item_not_found(message: impl Into<String>) -> Fault {
        Fault::new(404, "itemNotFound", message)
    }

    /// 403 `accessDenied`.
    fn access_denied(message: impl Into<String>) -> Fault {
        Fault::new(403, "accessDenied", message)
    }

    fn header(mut self, k: &str, v: impl Into<String>) -> Fault {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    /// Graph's error body with this request's ids.
    fn answer(self, state: &EmulatorState, req: &Req) -> Resp {
        let mut r = Resp::new(
            self.status,
            Some(json!({
                "error": {
                    "code": self.code,
                    "message": self.message,
                    "innerError": {
                        "message": self.message,
                        "date": iso(state.now()),
                        "request-id": req.request_id,
                        "client-request-id": req.client_request_id,
                    }
                }
            })),
        );
        r.headers = self.headers;
        r
    }
}

/// A 401 `InvalidAuthenticationToken` with Graph's `WWW-Authenticate` header, which names the authorization
/// endpoint and Graph's own application id as `client_id`.
fn unauthenticated(message: impl Into<String>) -> Fault {
    Fault::new(401, "InvalidAuthenticationToken", message).header(
        "WWW-Authenticate",
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
    )
}

/// The template of a request's route, for statistics of requests refused before routing.
fn route_name(method: &str, path: &str) -> String {
    match routing::route(method, path) {
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
            return unauthenticated(msg).answer(state, req);
        }
    };
    let (target, ep, route_t) = match routing::route(&req.method, &req.path) {
        Ok(r) => r,
        Err(f) => return f.answer(state, req),
    };
    let is_write = matches!(req.method.as_str(), "POST" | "PATCH" | "DELETE" | "PUT");
    let charge = Charge {
        app: &caller.client_id,
        resource_units: resource_units(&ep, &req.query),
        write: is_write,
    };
    let tenant_id = state.tenant_id();
    let (verdict, profiled) = {
        let mut faults = state.faults();
        (
            faults.admit(state.now(), charge, &tenant_id),
            faults.has_profile(),
        )
    };
    let mut resp = match verdict {
        Verdict::Throttled(wait, limit) => {
            let mut f = Fault::new(429, "TooManyRequests", "Please retry again later.")
                .header("Retry-After", retry_after(wait));
            if let Some(l) = limit {
                f = f
                    .header("x-ms-throttle-scope", l.scope)
                    .header("x-ms-throttle-information", l.information);
            }
            let mut r = f.answer(state, req);
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
            Fault::new(
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry.",
            )
            .header("Retry-After", "1")
            .answer(state, req)
        }
        Verdict::Pass => {
            let mut user_id = None;
            match dispatch(state, req, &caller, target, ep, &mut user_id) {
                Ok(mut r) => {
                    r.user_id = user_id;
                    r
                }
                Err(f) => f.answer(state, req),
            }
        }
    };
    if profiled {
        resp = resp.header("x-ms-resource-unit", charge.resource_units.to_string());
    }
    resp.route = route_t;
    resp
}

/// Resource units a request costs under a throttling profile: Graph's identity-and-access table charges 2 for a
/// `user` read (1 with `$select`) and 1 for a path it doesn't list (the authentication-method routes).
fn resource_units(ep: &Endpoint, query: &str) -> u32 {
    match ep {
        Endpoint::GetUser | Endpoint::ListUsers => {
            if query_param(query, "$select").is_some() {
                1
            } else {
                2
            }
        }
        _ => 1,
    }
}

/// The seed of behaviours the documentation leaves uncertain (see ASSUMPTIONS.md).
fn seed(state: &EmulatorState) -> u64 {
    state.options().seed
}

fn not_found_user(key: &str) -> Fault {
    Fault::new(
        404,
        "Request_ResourceNotFound",
        format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// The permission an endpoint needs.
fn need(ep: &Endpoint) -> Need {
    match ep {
        Endpoint::GetUser | Endpoint::ListUsers => Need::UserRead,
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
        Endpoint::KindList(k) | Endpoint::KindGet(k, _) => Need::KindRead(k),
        Endpoint::KindCreate(k) | Endpoint::KindUpdate(k, _) | Endpoint::KindDelete(k, _) => {
            Need::KindWrite(k)
        }
        Endpoint::RevokeSessions => Need::RevokeSessions,
        Endpoint::MemberOf(_) | Endpoint::ListGroups | Endpoint::GetGroup(_) => Need::GroupRead,
        Endpoint::GetPolicy | Endpoint::GetConfig(_) => Need::PolicyRead,
        Endpoint::PatchPolicy | Endpoint::PatchConfig(_) | Endpoint::DeleteConfig(_) => {
            Need::PolicyWrite
        }
    }
}

/// Resolves the addressed user, checks the permission, and runs the endpoint's handler. `user_id` is set to the
/// addressed user's object id once resolved (statistics count successes per user).
fn dispatch(
    state: &EmulatorState,
    req: &Req,
    caller: &Caller,
    target: Option<Target>,
    ep: Endpoint,
    user_id: &mut Option<String>,
) -> Result<Resp, Fault> {
    body::content_type(req)?;
    if let Endpoint::ListUsers = ep {
        return paging::list_users(state, req, caller);
    }
    if target.is_none() {
        return tenant_level(state, req, caller, ep);
    }
    let key = match target {
        Some(Target::User(k)) => k,
        Some(Target::Me) => caller.user_id.clone().ok_or_else(|| {
            Fault::new(
                400,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            )
        })?,
        None => return Err(Fault::new(400, "BadRequest", "Missing user.")),
    };
    let mut data = state.data();
    let index = data.find(&key).ok_or_else(|| not_found_user(&key))?;
    let current = data.tenant.users[index].clone();
    let masked = authz::authorize(caller, need(&ep), &current)?;
    // Self-service create/update of phone methods is not supported in Graph v1.0 (only delete and the SMS actions
    // have documented `/me` forms): see ASSUMPTIONS.md.
    let own = caller
        .user_id
        .as_deref()
        .is_some_and(|me| current.id.eq_ignore_ascii_case(me));
    if own && matches!(ep, Endpoint::PhoneCreate | Endpoint::PhoneUpdate(_)) {
        return Err(Fault::access_denied(
            "Users can't add or update phone methods on their own account through this API.",
        ));
    }
    if own {
        own_refusal(&ep)?;
    }
    *user_id = Some(current.id);
    let full = authz::reads_full_profile(caller, own);
    run(state, req, &mut data, index, ep, masked, full)
}

/// The endpoints that address no user: groups and the authentication methods policy.
fn tenant_level(
    state: &EmulatorState,
    req: &Req,
    caller: &Caller,
    ep: Endpoint,
) -> Result<Resp, Fault> {
    let need = need(&ep);
    if matches!(ep, Endpoint::ListGroups | Endpoint::GetGroup(_)) {
        authz::authorize_groups(caller)?;
    } else {
        authz::authorize(caller, need, &User::default())?;
    }
    let mut data = state.data();
    match ep {
        Endpoint::ListGroups => groups::list(req, &data.tenant.groups),
        Endpoint::GetGroup(id) => groups::get(req, &data.tenant.groups, &id),
        Endpoint::GetPolicy => Ok(policy::get_policy(req, &data)),
        Endpoint::PatchPolicy => policy::patch_policy(state, req, &mut data),
        Endpoint::GetConfig(id) => policy::get_config(req, &data, id.as_deref()),
        Endpoint::PatchConfig(id) => policy::patch_config(state, req, &mut data, &id),
        Endpoint::DeleteConfig(id) => policy::delete_config(state, &mut data, &id),
        _ => Err(Fault::new(400, "BadRequest", "Missing user.")),
    }
}

/// What nobody may do on their own account: update their own email method ("Users cannot update their own email
/// authentication method"; the create is documented only for `/users/{id}`), or issue themselves a Temporary
/// Access Pass (no role can, the Global Administrator included).
fn own_refusal(ep: &Endpoint) -> Result<(), Fault> {
    match ep {
        Endpoint::KindCreate(k) if k.short == "temporaryAccessPass" => Err(Fault::access_denied(
            "Nobody can create a Temporary Access Pass for their own account.",
        )),
        Endpoint::KindCreate(k) | Endpoint::KindUpdate(k, _) if k.short == "email" => {
            Err(Fault::access_denied(
                "Users can't add or update their own email authentication method.",
            ))
        }
        _ => Ok(()),
    }
}

/// Runs the handler of an endpoint on one resolved, authorized user (`masked`: phone numbers masked for this
/// caller; `full_profile`: user properties beyond the basic profile readable).
#[allow(clippy::too_many_arguments)]
fn run(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    ep: Endpoint,
    masked: bool,
    full_profile: bool,
) -> Result<Resp, Fault> {
    match ep {
        Endpoint::GetUser => {
            let seen = state.read_user(data, index);
            select::user_entity(req, &seen, full_profile)
        }
        Endpoint::PhoneList => Ok(phones::list(state, req, data, index, masked)),
        Endpoint::PhoneGet(id) => phones::get(state, req, data, index, &id, masked),
        Endpoint::PhoneCreate => phones::create(state, req, data, index),
        Endpoint::PhoneUpdate(id) => phones::update(state, req, data, index, &id),
        Endpoint::PhoneDelete(id) => phones::delete(state, data, index, &id),
        Endpoint::Sms(id, enable) => phones::sms_action(state, req, data, index, &id, enable),
        Endpoint::MethodsList => Ok(methods::list(state, req, data, index, masked)),
        Endpoint::MethodGet(id) => methods::get(state, req, data, index, &id, masked),
        Endpoint::PasswordMethodsList => Ok(methods::password_list(req, data, index)),
        Endpoint::PasswordMethodGet(id) => methods::password_get(req, data, index, &id),
        Endpoint::ResetPassword(id) => password::reset(state, req, data, index, &id),
        Endpoint::OperationGet(id) => password::get_operation(state, req, data, index, &id),
        Endpoint::KindList(k) => Ok(registered::list(state, req, data, index, k)),
        Endpoint::KindGet(k, id) => registered::get(state, req, data, index, k, &id),
        Endpoint::KindDelete(k, id) => registered::delete(state, data, index, k, &id),
        Endpoint::KindCreate(k) if k.short == "email" => {
            registered::email_create(state, req, data, index)
        }
        Endpoint::KindCreate(_) => tap::create(state, req, data, index),
        Endpoint::KindUpdate(_, id) => registered::email_update(state, req, data, index, &id),
        Endpoint::RevokeSessions => sessions::revoke(state, req, data, index),
        Endpoint::MemberOf(transitive) => {
            let seen = state.read_user(data, index);
            let groups = if transitive {
                data.tenant.transitive_groups_of(&seen)
            } else {
                data.tenant.groups_of(&seen)
            };
            groups::member_of(req, &groups)
        }
        Endpoint::ListGroups
        | Endpoint::GetGroup(_)
        | Endpoint::GetPolicy
        | Endpoint::PatchPolicy
        | Endpoint::GetConfig(_)
        | Endpoint::PatchConfig(_)
        | Endpoint::DeleteConfig(_) => Err(Fault::new(400, "BadRequest", "Unexpected route.")),
        Endpoint::ListUsers => Err(Fault::new(400, "BadRequest", "Unexpected route.")),
    }
}

/// Stores a changed user (journal, read-lag history), or answers 500 when the change could not be stored.
fn commit(state: &EmulatorState, data: &mut Data, index: usize, before: User) -> Result<(), Fault> {
    state.commit(data, index, before).map_err(|e| {
        Fault::new(
            500,
            "generalException",
            format!("The change could not be stored: {e}"),
        )
    })
}

/// The value of a query parameter (names compared case-insensitively, as Graph's OData options are).
fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}
