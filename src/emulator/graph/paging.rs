//! Paging: `GET /users` (all users, or those a `$filter` names, in tenant order), pages of `$top` (or the
//! configured page size), and `@odata.nextLink` on the host the caller used.

use serde_json::{Value, json};

use super::super::store::EmulatorState;
use super::super::tenant::User;
use super::super::tokens::Caller;
use super::authz::{Need, authorize};
use super::filter::parse_filter;
use super::select::{select_list, user_object};
use super::{Fault, Req, Resp, query_param};

/// The most values one `$filter` may hold: Graph documents a limit of 15 expressions in an `in` or `or` filter on
/// directory objects (ASSUMPTIONS.md row 28).
const MAX_IN_VALUES: usize = 15;

/// `GET /users`, with `$select`, `$filter`, `$top` and `$skiptoken`.
pub(super) fn list_users(state: &EmulatorState, req: &Req, caller: &Caller) -> Result<Resp, Fault> {
    // Permission: reading users needs no particular target; check against a placeholder user (not own).
    authorize(caller, Need::UserRead, &User::default())?;
    let select = select_list(req)?;
    let filter = match query_param(&req.query, "$filter") {
        Some(f) => match parse_filter(&f) {
            Ok(f) if f.values.len() > MAX_IN_VALUES => {
                return Err(Fault::new(
                    400,
                    "Request_UnsupportedQuery",
                    format!("Too many values in the filter: at most {MAX_IN_VALUES} are allowed."),
                ));
            }
            Ok(f) => Some(f),
            Err(e) => {
                return Err(Fault::new(
                    400,
                    "Request_BadRequest",
                    format!("Invalid filter clause: {e}"),
                ));
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
    Ok(Resp::new(200, Some(body)))
}
