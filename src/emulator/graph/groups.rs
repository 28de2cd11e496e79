//! Groups: `GET /groups` (`$filter` on `displayName` or `id`, `$select`), `GET /groups/{id}`, and a user's
//! `memberOf` (direct) and `transitiveMemberOf` (through nested groups), as policy targets are resolved.

use serde_json::{Map, Value, json};

use super::super::tenant::Group;
use super::filter::parse_filter_on;
use super::{Fault, Req, Resp, query_param};

const GROUP_TYPE: &str = "#microsoft.graph.group";
const PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "description",
    "securityEnabled",
    "mailEnabled",
    "groupTypes",
];

fn selected(req: &Req) -> Result<Vec<&'static str>, Fault> {
    match query_param(&req.query, "$select") {
        None => Ok(PROPERTIES.to_vec()),
        Some(sel) => sel
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                PROPERTIES
                    .iter()
                    .copied()
                    .find(|p| p.eq_ignore_ascii_case(s))
                    .ok_or_else(|| {
                        Fault::new(
                            400,
                            "Request_BadRequest",
                            format!(
                                "Could not find a property named '{s}' on type 'microsoft.graph.group'."
                            ),
                        )
                    })
            })
            .collect(),
    }
}

fn group_json(g: &Group, select: &[&str], typed: bool) -> Value {
    let mut m = Map::new();
    if typed {
        m.insert("@odata.type".into(), json!(GROUP_TYPE));
    }
    for p in select {
        let v = match *p {
            "id" => json!(g.id),
            "displayName" => json!(g.display_name),
            "description" => {
                if g.description.is_empty() {
                    Value::Null
                } else {
                    json!(g.description)
                }
            }
            "securityEnabled" => json!(true),
            "mailEnabled" => json!(false),
            _ => json!([]),
        };
        m.insert((*p).to_string(), v);
    }
    Value::Object(m)
}

/// `GET /groups`, with an optional `$filter` (`displayName eq '…'`, `id eq '…'`, `in (…)`, `or`-joined `eq`s).
pub(super) fn list(req: &Req, groups: &[Group]) -> Result<Resp, Fault> {
    let select = selected(req)?;
    let hits: Vec<&Group> = match query_param(&req.query, "$filter") {
        None => groups.iter().collect(),
        Some(f) => {
            let f = parse_filter_on(&f, &["displayName", "id"]).map_err(|e| {
                Fault::new(
                    400,
                    "Request_BadRequest",
                    format!("Invalid filter clause: {e}"),
                )
            })?;
            groups
                .iter()
                .filter(|g| {
                    f.values.iter().any(|v| match f.property {
                        "id" => g.id.eq_ignore_ascii_case(v),
                        // Graph compares display names case-insensitively.
                        _ => g.display_name.to_lowercase() == v.to_lowercase(),
                    })
                })
                .collect()
        }
    };
    let value: Vec<Value> = hits.iter().map(|g| group_json(g, &select, false)).collect();
    Ok(Resp::new(
        200,
        Some(json!({
            "@odata.context": format!("{}/v1.0/$metadata#groups", req.base),
            "value": value,
        })),
    ))
}

/// `GET /groups/{id}`.
pub(super) fn get(req: &Req, groups: &[Group], id: &str) -> Result<Resp, Fault> {
    let select = selected(req)?;
    let g = groups
        .iter()
        .find(|g| g.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| {
            Fault::new(
                404,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            )
        })?;
    let mut v = group_json(g, &select, false);
    v["@odata.context"] = json!(format!("{}/v1.0/$metadata#groups/$entity", req.base));
    Ok(Resp::new(200, Some(v)))
}

/// `GET /users/{id}/memberOf` or `/transitiveMemberOf`: the groups, each with its `@odata.type`.
pub(super) fn member_of(req: &Req, groups: &[&Group]) -> Result<Resp, Fault> {
    let select = selected(req)?;
    let value: Vec<Value> = groups
        .iter()
        .map(|g| group_json(g, &select, true))
        .collect();
    Ok(Resp::new(
        200,
        Some(json!({
            "@odata.context": format!("{}/v1.0/$metadata#directoryObjects", req.base),
            "value": value,
        })),
    ))
}
