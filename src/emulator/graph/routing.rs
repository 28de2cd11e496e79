//! Routing: a method and a path under `/v1.0` to the addressed user, the endpoint and its route template (the
//! key of the statistics), or Graph's 400 for an unknown segment and 405 for a method the target does not allow.

use super::super::kinds::{self, Kind};
use super::Fault;

/// Which user a path addresses.
#[derive(Debug, Clone)]
pub(super) enum Target {
    User(String),
    Me,
}

#[derive(Debug, Clone)]
pub(super) enum Endpoint {
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
    KindList(&'static Kind),
    KindGet(&'static Kind, String),
    KindCreate(&'static Kind),
    KindUpdate(&'static Kind, String),
    KindDelete(&'static Kind, String),
    RevokeSessions,
    /// `memberOf` (false) or `transitiveMemberOf` (true).
    MemberOf(bool),
    ListGroups,
    GetGroup(String),
    GetPolicy,
    PatchPolicy,
    /// `None`: the configurations collection.
    GetConfig(Option<String>),
    PatchConfig(String),
    DeleteConfig(String),
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

/// A routed request: the addressed user, the endpoint, the route template.
pub(super) type Routed = (Option<Target>, Endpoint, String);

/// The tenant-level routes: groups and the authentication methods policy.
fn tenant_route(method: &str, s: &[&str]) -> Result<Routed, Fault> {
    let not_allowed = || {
        Fault::new(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    };
    let bad = |seg: &str| {
        Fault::new(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{seg}'."),
        )
    };
    const POLICY: &str = "/policies/authenticationMethodsPolicy";
    const CONFIGS: &str =
        "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations";
    let (ep, route) = match (s, method) {
        (["groups"], "GET") => (Endpoint::ListGroups, "/groups".to_string()),
        (["groups", id], "GET") => (Endpoint::GetGroup((*id).into()), "/groups/{id}".into()),
        (["policies", "authenticationMethodsPolicy"], "GET") => {
            (Endpoint::GetPolicy, POLICY.into())
        }
        (["policies", "authenticationMethodsPolicy"], "PATCH") => {
            (Endpoint::PatchPolicy, POLICY.into())
        }
        (
            [
                "policies",
                "authenticationMethodsPolicy",
                "authenticationMethodConfigurations",
            ],
            "GET",
        ) => (Endpoint::GetConfig(None), CONFIGS.into()),
        (
            [
                "policies",
                "authenticationMethodsPolicy",
                "authenticationMethodConfigurations",
                id,
            ],
            m,
        ) => {
            let id = (*id).to_string();
            let ep = match m {
                "GET" => Endpoint::GetConfig(Some(id)),
                "PATCH" => Endpoint::PatchConfig(id),
                "DELETE" => Endpoint::DeleteConfig(id),
                _ => return Err(not_allowed()),
            };
            (ep, format!("{CONFIGS}/{{id}}"))
        }
        (["groups"] | ["groups", _], _)
        | (["policies", "authenticationMethodsPolicy"], _)
        | (
            [
                "policies",
                "authenticationMethodsPolicy",
                "authenticationMethodConfigurations",
            ],
            _,
        ) => {
            return Err(not_allowed());
        }
        ([_, second, ..], _) if *second != "authenticationMethodsPolicy" => {
            return Err(bad(second));
        }
        ([.., last], _) => return Err(bad(last)),
        ([], _) => return Err(bad("")),
    };
    Ok((None, ep, format!("{method} {route}")))
}

/// Maps a method and path to an endpoint and its route template; errors are 400 (unknown segment) or 405.
pub(super) fn route(method: &str, path: &str) -> Result<Routed, Fault> {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let bad = |seg: &str| {
        Fault::new(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{seg}'."),
        )
    };
    let not_allowed = || {
        Fault::new(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
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
        ["groups"] | ["groups", _] | ["policies", ..] => return tenant_route(method, &s),
        ["users", u, m @ ("memberOf" | "transitiveMemberOf")] => {
            return if method == "GET" {
                Ok((
                    Some(Target::User((*u).to_string())),
                    Endpoint::MemberOf(*m == "transitiveMemberOf"),
                    format!("GET /users/{{id}}/{m}"),
                ))
            } else {
                Err(not_allowed())
            };
        }
        ["me", m @ ("memberOf" | "transitiveMemberOf")] => {
            return if method == "GET" {
                Ok((
                    Some(Target::Me),
                    Endpoint::MemberOf(*m == "transitiveMemberOf"),
                    format!("GET /me/{m}"),
                ))
            } else {
                Err(not_allowed())
            };
        }
        ["users", u, a] if action(a) == "revokeSignInSessions" => {
            return if method == "POST" {
                Ok((
                    Some(Target::User((*u).to_string())),
                    Endpoint::RevokeSessions,
                    "POST /users/{id}/revokeSignInSessions".into(),
                ))
            } else {
                Err(not_allowed())
            };
        }
        ["me", a] if action(a) == "revokeSignInSessions" => {
            return if method == "POST" {
                Ok((
                    Some(Target::Me),
                    Endpoint::RevokeSessions,
                    "POST /me/revokeSignInSessions".into(),
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
        ([seg], _) if kinds::by_segment(seg).is_some() => {
            let k = kinds::by_segment(seg).unwrap_or(kinds::email());
            let ep = match m {
                "GET" if k.singular => Endpoint::KindGet(k, String::new()),
                "DELETE" if k.singular => Endpoint::KindDelete(k, String::new()),
                "GET" => Endpoint::KindList(k),
                "POST" if k.creatable => Endpoint::KindCreate(k),
                _ => return Err(not_allowed()),
            };
            (ep, format!("/{}", k.segment))
        }
        ([seg, id], _) if kinds::by_segment(seg).is_some_and(|k| !k.singular) => {
            let k = kinds::by_segment(seg).unwrap_or(kinds::email());
            let id = (*id).to_string();
            let ep = match m {
                "GET" => Endpoint::KindGet(k, id),
                "DELETE" => Endpoint::KindDelete(k, id),
                "PATCH" if k.updatable => Endpoint::KindUpdate(k, id),
                _ => return Err(not_allowed()),
            };
            (ep, format!("/{}/{{id}}", k.segment))
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PhoneType;

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
        assert!(
            route("PUT", "/users/u/authentication/phoneMethods").is_err_and(|e| e.status == 405)
        );
        assert!(route("GET", "/teams").is_err_and(|e| e.status == 400));
        assert!(route("POST", "/groups").is_err_and(|e| e.status == 405));
        let (_, _, r) = route(
            "PATCH",
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2",
        )
        .unwrap();
        assert_eq!(
            r,
            "PATCH /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}"
        );
        let (_, _, r) = route(
            "GET",
            "/users/jordan.guest_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com",
        )
        .unwrap();
        assert_eq!(r, "GET /users/{id}");
    }
}
