//! Paging: `GET /users` (all users, or those a `$filter` names, in tenant order), pages of `$top` (or the
//! configured page size), and `@odata.nextLink` on the host the caller used.

use serde_json::{Value, json};

use super::super::store::EmulatorState;
use super::super::tenant::User;
use super::super::tokens::Caller;
use super::authz::{Need, authorize, reads_full_profile};
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
    let full = reads_full_profile(caller, false);
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
    let page = match query_param(&req.query, "$top") {
        Some(t) => top(&t)?,
        None => state.options().page_size.unwrap_or(100).clamp(1, 999),
    };
    let rest = query_without_skiptoken(&req.query);
    let skip = match query_param(&req.query, "$skiptoken") {
        Some(t) => open_skiptoken(state, &rest, &t)?,
        None => 0,
    };
    let value: Vec<Value> = matched
        .iter()
        .skip(skip)
        .take(page)
        .map(|u| user_object(u, &select, full))
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
        for (k, v) in &rest {
            q.append_pair(k, v);
        }
        q.append_pair("$skiptoken", &seal_skiptoken(state, &rest, skip + page));
        body["@odata.nextLink"] = json!(format!("{}/v1.0/users?{}", req.base, q.finish()));
    }
    Ok(Resp::new(200, Some(body)))
}

/// `$top`: a whole number from 1 to 999, as Graph allows on `GET /users`; anything else is refused (not clamped).
fn top(t: &str) -> Result<usize, Fault> {
    match t.trim().parse::<i64>() {
        Ok(n @ 1..=999) => Ok(n as usize),
        _ => Err(Fault::new(
            400,
            "Request_BadRequest",
            format!("Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."),
        )),
    }
}

/// The query's pairs other than `$skiptoken`, in the order sent: what a page token is bound to.
fn query_without_skiptoken(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The tag binding a page token to this process, the query it pages and the offset.
fn skiptoken_tag(state: &EmulatorState, rest: &[(String, String)], offset: u64) -> [u8; 16] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(&state.shared.key);
    h.update(b"\0skiptoken\0");
    h.update(offset.to_be_bytes());
    for (k, v) in rest {
        h.update(k.as_bytes());
        h.update(b"\0");
        h.update(v.as_bytes());
        h.update(b"\0");
    }
    let d = h.finalize();
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&d[..16]);
    tag
}

/// An opaque `$skiptoken` for the page starting at `offset` (base64url of the offset and a tag), as Graph's are
/// opaque: clients must follow `@odata.nextLink` unchanged.
fn seal_skiptoken(state: &EmulatorState, rest: &[(String, String)], offset: usize) -> String {
    use base64::Engine;
    let offset = offset as u64;
    let mut raw = offset.to_be_bytes().to_vec();
    raw.extend_from_slice(&skiptoken_tag(state, rest, offset));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The offset of a `$skiptoken` this emulator issued for this query; any other value is refused.
fn open_skiptoken(
    state: &EmulatorState,
    rest: &[(String, String)],
    t: &str,
) -> Result<usize, Fault> {
    use base64::Engine;
    let refused = || {
        Fault::new(
            400,
            "Request_BadRequest",
            "The specified page token value is not valid: follow @odata.nextLink unchanged.",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t.trim_end_matches('='))
        .map_err(|_| refused())?;
    if raw.len() != 24 {
        return Err(refused());
    }
    let mut off = [0u8; 8];
    off.copy_from_slice(&raw[..8]);
    let offset = u64::from_be_bytes(off);
    if raw[8..] != skiptoken_tag(state, rest, offset) {
        return Err(refused());
    }
    usize::try_from(offset).map_err(|_| refused())
}
