//! User objects and `$select`: the properties a user has, Graph's default set, and the selected subset
//! (case-insensitive names; an unknown one is refused as Graph refuses it).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::super::tenant::User;
use super::{Fault, Req, Resp, query_param};

/// The properties Graph returns without `$select`.
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
pub(super) fn select_list(req: &Req) -> Result<Vec<&'static str>, Fault> {
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
                        return Err(Fault::new(
                            400,
                            "Request_BadRequest",
                            format!(
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

/// The properties `User.ReadBasic.All` reads (Microsoft's permission reference: the basic profile).
const USER_BASIC: &[&str] = &[
    "displayName",
    "givenName",
    "id",
    "mail",
    "surname",
    "userPrincipalName",
];

/// A user as Graph shows it, with the selected properties; with only the basic profile readable (`full` false),
/// the others are `null`.
pub(super) fn user_object(u: &User, select: &[&'static str], full: bool) -> Value {
    let props = user_props(u);
    let mut m = Map::new();
    for k in select {
        let v = if full || USER_BASIC.contains(k) {
            props.get(k).cloned().unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        m.insert((*k).to_string(), v);
    }
    Value::Object(m)
}

/// `GET /users/{id}` and `GET /me`.
pub(super) fn user_entity(req: &Req, u: &User, full: bool) -> Result<Resp, Fault> {
    let select = select_list(req)?;
    let mut v = user_object(u, &select, full);
    let ctx = match query_param(&req.query, "$select") {
        Some(_) => format!(
            "{}/v1.0/$metadata#users({})/$entity",
            req.base,
            select.join(",")
        ),
        None => format!("{}/v1.0/$metadata#users/$entity", req.base),
    };
    v["@odata.context"] = json!(ctx);
    Ok(Resp::new(200, Some(v)))
}
