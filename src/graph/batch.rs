//! Many GETs at once: JSON `$batch` (20 a batch, Graph's maximum), or single requests under `--no-batch`. Each
//! item keeps its own outcome: a 404 is that item's error; 429/503/504 items are retried (only those, after the
//! largest `Retry-After` among them, which also closes the shared gate); the rest of the batch is kept.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::graph::client::{Graph, Request, Safety, api_error_from_value};
use crate::graph::error::GraphError;
use crate::graph::retry::{Attempts, is_retryable_status, parse_retry_after};
use crate::graph::stats::Counters;

/// Graph's limit of requests per `$batch`.
pub const BATCH_SIZE: usize = 20;

impl Graph {
    /// GETs every path (relative to `/v1.0/`, percent-encoded) and returns each answer's JSON, in input order.
    pub(crate) async fn get_many(&self, paths: &[String]) -> Vec<Result<Value, GraphError>> {
        let parallelism = self.inner.settings.parallelism.max(1);
        let mut out: Vec<Option<Result<Value, GraphError>>> =
            (0..paths.len()).map(|_| None).collect();
        if self.inner.settings.batching && paths.len() > 1 {
            let chunks: Vec<Vec<(usize, String)>> = paths
                .iter()
                .cloned()
                .enumerate()
                .collect::<Vec<_>>()
                .chunks(BATCH_SIZE)
                .map(<[_]>::to_vec)
                .collect();
            let mut stream = futures_util::stream::iter(chunks)
                .map(|chunk| self.run_batch(chunk))
                .buffer_unordered(parallelism);
            while let Some(results) = stream.next().await {
                for (i, r) in results {
                    out[i] = Some(r);
                }
            }
        } else {
            let mut stream = futures_util::stream::iter(paths.iter().enumerate())
                .map(|(i, p)| async move {
                    let r = match self.url(p) {
                        Ok(u) => self.get_json(u).await,
                        Err(e) => Err(e),
                    };
                    (i, r)
                })
                .buffer_unordered(parallelism);
            while let Some((i, r)) = stream.next().await {
                out[i] = Some(r);
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(GraphError::Decode {
                        message: "no answer for this item".into(),
                    })
                })
            })
            .collect()
    }

    /// One batch of up to 20 GETs, retrying throttled or unavailable items until they settle or the budget ends.
    async fn run_batch(
        &self,
        items: Vec<(usize, String)>,
    ) -> Vec<(usize, Result<Value, GraphError>)> {
        let i = &self.inner;
        let mut done: Vec<(usize, Result<Value, GraphError>)> = Vec::with_capacity(items.len());
        let mut pending = items;
        let mut attempts = Attempts::new(&i.settings.retry, i.clock.now());
        let url = match self.url("$batch") {
            Ok(u) => u,
            Err(e) => {
                return pending
                    .into_iter()
                    .map(|(k, _)| (k, Err(e.clone())))
                    .collect();
            }
        };
        loop {
            let requests: Vec<Value> = pending
                .iter()
                .map(|(k, path)| json!({ "id": k.to_string(), "method": "GET", "url": format!("/{}", path.trim_start_matches('/')) }))
                .collect();
            let sent = pending.len();
            Counters::add(&i.counters.batch_items, sent as u64);
            let resp = self
                .execute(&Request {
                    method: Method::POST,
                    url: url.clone(),
                    body: Some(json!({ "requests": requests })),
                    // Every item is a GET: repeating the batch is safe.
                    safety: Safety::Idempotent,
                    cost: u32::try_from(pending.len()).unwrap_or(u32::MAX),
                })
                .await;
            let answers = match resp.and_then(|r| {
                if r.is_success() {
                    r.json()
                } else {
                    Err(r.error())
                }
            }) {
                Ok(v) => v,
                Err(e) => {
                    done.extend(pending.into_iter().map(|(k, _)| (k, Err(e.clone()))));
                    return done;
                }
            };
            let mut by_id: HashMap<String, &Value> = HashMap::new();
            if let Some(list) = answers["responses"].as_array() {
                for r in list {
                    if let Some(id) = r["id"].as_str() {
                        by_id.insert(id.to_string(), r);
                    }
                }
            }
            let now = i.clock.now();
            let mut retry_after: Option<Duration> = None;
            let mut throttled = false;
            let mut again = Vec::new();
            let mut last_error: HashMap<usize, GraphError> = HashMap::new();
            for (k, path) in pending {
                let Some(r) = by_id.get(&k.to_string()) else {
                    // An item Graph did not answer: it did not run; ask again.
                    last_error.insert(
                        k,
                        GraphError::Decode {
                            message: "the $batch answer lacked this item".into(),
                        },
                    );
                    again.push((k, path));
                    continue;
                };
                let status = r["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0);
                let header = |name: &str| header_of(r, name);
                if (200..300).contains(&status) {
                    let body = r["body"].clone();
                    let body = if body.get("@odata.nextLink").is_some() {
                        match Box::pin(self.collect_pages(body)).await {
                            Ok(values) => json!({ "value": values }),
                            Err(e) => {
                                done.push((k, Err(e)));
                                continue;
                            }
                        }
                    } else {
                        body
                    };
                    done.push((k, Ok(body)));
                } else if is_retryable_status(status) {
                    if status == 429 {
                        throttled = true;
                        Counters::add(&i.counters.throttled, 1);
                    }
                    if let Some(ra) = header("retry-after").and_then(|v| parse_retry_after(&v, now))
                    {
                        retry_after = Some(retry_after.map_or(ra, |cur| cur.max(ra)));
                    }
                    last_error.insert(
                        k,
                        api_error_from_value(status, &r["body"], header, None, b""),
                    );
                    again.push((k, path));
                } else {
                    done.push((
                        k,
                        Err(api_error_from_value(status, &r["body"], header, None, b"")),
                    ));
                }
            }
            let went_through = sent - again.len();
            if went_through > 0 {
                i.rate
                    .succeeded(u32::try_from(went_through).unwrap_or(u32::MAX));
            }
            if throttled {
                i.rate.throttled(now);
            }
            if again.is_empty() {
                return done;
            }
            if went_through > 0 {
                attempts.progressed();
            }
            let Some(wait) = self.next_delay(&mut attempts, retry_after) else {
                done.extend(again.into_iter().map(|(k, _)| {
                    let e = last_error.remove(&k).unwrap_or(GraphError::Decode {
                        message: "gave up".into(),
                    });
                    (k, Err(e))
                }));
                return done;
            };
            if throttled {
                self.throttled_for(wait);
            }
            Counters::add(&i.counters.retries, again.len() as u64);
            tracing::debug!(
                items = again.len(),
                wait_ms = wait.as_millis() as u64,
                "retrying $batch items"
            );
            i.clock.sleep(wait).await;
            pending = again;
        }
    }
}

/// A header of a `$batch` item (names are case-insensitive).
fn header_of(item: &Value, name: &str) -> Option<String> {
    item["headers"].as_object().and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_item_headers_are_case_insensitive_and_numbers_allowed() {
        let item = json!({ "headers": { "Retry-After": 2, "Request-Id": "r" } });
        assert_eq!(header_of(&item, "retry-after").as_deref(), Some("2"));
        assert_eq!(header_of(&item, "request-id").as_deref(), Some("r"));
        assert_eq!(header_of(&item, "date"), None);
    }
}
