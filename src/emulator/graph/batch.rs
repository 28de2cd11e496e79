//! `$batch`: the JSON batch envelope (at most 20 requests, unique ids, `dependsOn`), each item run through the same
//! pipeline as a single request ([`super::process`]: its own token check, throttling, status and statistics), and
//! the responses correlated by id.

use serde_json::{Map, Value, json};

use super::super::ids::new_guid;
use super::super::store::EmulatorState;
use super::super::tokens::verify;
use super::{Fault, Req, Resp, body, process, seed, unauthenticated};

/// `POST /v1.0/$batch`: up to 20 requests with unique ids (case-insensitive), `dependsOn` sequencing (a failed
/// dependency answers 424), each item throttled and counted on its own.
pub(crate) fn batch(state: &EmulatorState, req: &Req) -> Resp {
    let mut resp = batch_inner(state, req).unwrap_or_else(|f| f.answer(state, req));
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

fn batch_inner(state: &EmulatorState, req: &Req) -> Result<Resp, Fault> {
    if let Err(msg) = verify(state, req.authorization.as_deref()) {
        return Err(unauthenticated(msg));
    }
    body::content_type(req)?;
    let invalid = |msg: String| Fault::new(400, "BadRequest", msg);
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|_| invalid("Invalid batch payload format.".into()))?;
    let Some(items) = body.get("requests").and_then(Value::as_array) else {
        return Err(invalid(
            "Invalid batch payload format: `requests` is missing.".into(),
        ));
    };
    if items.len() > 20 {
        return Err(invalid(
            "The number of batch requests exceeds the maximum of 20.".into(),
        ));
    }
    let mut ids: Vec<String> = Vec::new();
    for it in items {
        let Some(id) = it.get("id").and_then(Value::as_str) else {
            return Err(invalid("Each batch request needs a string `id`.".into()));
        };
        if it.get("method").and_then(Value::as_str).is_none()
            || it.get("url").and_then(Value::as_str).is_none()
        {
            return Err(invalid(format!(
                "Batch request '{id}' needs `method` and `url`."
            )));
        }
        if ids.iter().any(|x| x.eq_ignore_ascii_case(id)) {
            return Err(invalid(format!(
                "Batch request id '{id}' is not unique within the batch."
            )));
        }
        ids.push(id.to_string());
    }
    let deps: Vec<Vec<usize>> = items
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
        .map_err(|x| {
            invalid(format!(
                "dependsOn names '{x}', which is not a request of this batch."
            ))
        })?;
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
                    let mut e = Fault::new(
                        424,
                        "FailedDependency",
                        "The request was not executed because a request it depends on failed.",
                    )
                    .answer(state, &item_ids(req));
                    e.route = "(dependency failed)".into();
                    e
                }
                Ok(r) => process(state, &r),
                Err(msg) => Fault::new(400, "BadRequest", msg).answer(state, &item_ids(req)),
            });
        }
    }
    if results.iter().any(Option::is_none) {
        return Err(invalid("dependsOn forms a cycle.".into()));
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
    Ok(Resp::new(200, Some(json!({ "responses": responses }))))
}

/// The outer request with a fresh request id, for an item refused before it became a request of its own.
fn item_ids(outer: &Req) -> Req {
    Req {
        request_id: new_guid(),
        ..outer.clone()
    }
}

fn item_request(outer: &Req, item: &Value) -> Result<Req, String> {
    let method = item["method"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let mut url = item["url"].as_str().unwrap_or_default().to_string();
    // Graph wants each item's url relative to the version root (`/users/{id}`, or `users/{id}`): an absolute URL
    // or one that repeats the version is refused (ASSUMPTIONS.md).
    let lower = url.to_ascii_lowercase();
    if lower.contains("://")
        || ["/v1.0", "v1.0/", "/beta", "beta/"]
            .iter()
            .any(|v| lower.starts_with(v))
    {
        return Err(format!(
            "Invalid request url '{url}': a batch request's url must be relative to the service root and version, e.g. /users/{{id}}."
        ));
    }
    if !url.starts_with('/') {
        url.insert(0, '/');
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
        content_type: content_type.map(str::to_string),
        authorization: outer.authorization.clone(),
        client_request_id,
        request_id: new_guid(),
        base: outer.base.clone(),
    })
}
