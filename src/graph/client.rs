//! The [`Graph`] client's HTTP core: every request goes through [`Graph::execute`], which refuses targets a token
//! must not reach, bounds concurrency (`--parallelism`), waits at the shared 429 gate and the rate cap, attaches a
//! fresh `client-request-id` and the bearer token, and retries per [`retry`](super::retry). Typed calls live in
//! `api.rs`, `$batch` in `batch.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use rand::SeedableRng;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use crate::clock::{self, SharedClock, SystemClock};
use crate::graph::credentials::entra::transport_message;
use crate::graph::credentials::{
    Credential, TokenContext, TokenProvider, is_safe_for_credentials, new_uuid,
};
use crate::graph::error::{AuthError, GraphError};
use crate::graph::limits::{Gate, RateCap};
use crate::graph::retry::{Attempts, is_retryable_status, parse_retry_after};
use crate::graph::settings::GraphSettings;
use crate::graph::stats::{Counters, GraphStats};

/// The Microsoft Graph client. Cheap to clone: clones share the token cache, the 429 gate, the rate cap, the
/// concurrency bound and the counters.
#[derive(Clone)]
pub struct Graph {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("graph_url", &self.inner.settings.graph_url.as_str())
            .field("credential", &self.inner.tokens.credential().describe())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    pub settings: GraphSettings,
    /// `{graph_url}/v1.0/`.
    pub api_root: Url,
    pub tokens: TokenProvider,
    pub clock: SharedClock,
    pub gate: Gate,
    pub rate: RateCap,
    pub permits: Semaphore,
    pub rng: Mutex<Box<dyn rand::RngCore + Send>>,
    pub counters: Counters,
    pub started: Timestamp,
    pub reach: Reachability,
}

/// Whether Graph answers at all: the time since which every request's connection has failed, and, once that has
/// lasted [`GraphSettings::unreachable_after`], why Graph is taken to be gone. Any answer (any status) resets it,
/// until it has tripped; after that the client fails every request at once.
#[derive(Debug, Default)]
pub(crate) struct Reachability {
    state: Mutex<ReachState>,
}

#[derive(Debug, Default)]
struct ReachState {
    failing_since: Option<Timestamp>,
    gone: Option<String>,
}

impl Reachability {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReachState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An answer came.
    fn answered(&self) {
        let mut s = self.lock();
        if s.gone.is_none() {
            s.failing_since = None;
        }
    }

    /// A request sent at `sent` failed at `now` with `message` (no answer of any kind); true when Graph is now (or
    /// already was) taken to be gone. The failing time counts from the failed request's sending, so a host that
    /// hangs each attempt until a timeout is counted from the start of its first attempt.
    fn failed(&self, sent: Timestamp, now: Timestamp, window: Duration, message: &str) -> bool {
        let mut s = self.lock();
        if s.gone.is_some() {
            return true;
        }
        let since = *s.failing_since.get_or_insert(sent.min(now));
        let failing = clock::since(now, since);
        if failing >= window {
            s.gone = Some(format!(
                "Graph is unreachable: every connection has failed for {}s (last error: {message})",
                failing.as_secs()
            ));
            return true;
        }
        false
    }

    fn gone(&self) -> Option<String> {
        self.lock().gone.clone()
    }
}

/// Whether a request may be repeated after a connection failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// Repeating has the same effect (GET, PATCH, DELETE, the SMS sign-in actions, a `$batch` of reads).
    Idempotent,
    /// Repeating may apply it twice (create, password reset): a dropped connection after sending means
    /// "outcome unknown", not "retry".
    Once,
}

/// One request.
pub(crate) struct Request {
    pub method: Method,
    pub url: Url,
    pub body: Option<Value>,
    pub safety: Safety,
    /// Rate-cap permits this request costs (the number of `$batch` items, else 1).
    pub cost: u32,
}

impl Request {
    /// Whether the request changes something in Graph: not a GET, nor a `$batch` (authctl batches only reads).
    fn writes(&self) -> bool {
        self.method != Method::GET && !self.url.path().ends_with("/$batch")
    }
}

/// A successful (non-retried) answer: any status that is not retryable.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub client_request_id: String,
}

impl Response {
    pub fn json(&self) -> Result<Value, GraphError> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| GraphError::Decode {
            message: format!("{e} (status {})", self.status),
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Graph's error from an error answer.
    pub fn error(&self) -> GraphError {
        api_error(
            self.status,
            &self.body,
            |n| self.header(n),
            Some(self.client_request_id.clone()),
        )
    }
}

/// Builds [`GraphError::Api`] from a status, an OData error body and headers.
pub(crate) fn api_error(
    status: u16,
    body: &[u8],
    header: impl Fn(&str) -> Option<String>,
    sent_client_request_id: Option<String>,
) -> GraphError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    api_error_from_value(status, &v, header, sent_client_request_id, body)
}

pub(crate) fn api_error_from_value(
    status: u16,
    v: &Value,
    header: impl Fn(&str) -> Option<String>,
    sent_client_request_id: Option<String>,
    raw: &[u8],
) -> GraphError {
    let e = &v["error"];
    let inner = if e["innerError"].is_object() {
        &e["innerError"]
    } else {
        &e["innererror"]
    };
    let s = |x: &Value| x.as_str().map(str::to_string);
    let code = s(&e["code"]).unwrap_or_else(|| {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or("unknown")
            .to_string()
    });
    let message = s(&e["message"]).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&raw[..raw.len().min(300)]).into_owned();
        if text.trim().is_empty() {
            "(no error body)".to_string()
        } else {
            text
        }
    });
    GraphError::Api {
        status,
        code,
        message,
        request_id: s(&inner["request-id"]).or_else(|| header("request-id")),
        client_request_id: s(&inner["client-request-id"])
            .or_else(|| header("client-request-id"))
            .or(sent_client_request_id),
        date: s(&inner["date"]).or_else(|| header("date")),
    }
}

/// Builds a [`Graph`].
pub struct GraphBuilder {
    settings: GraphSettings,
    credential: Credential,
    clock: SharedClock,
    rng: Box<dyn rand::RngCore + Send>,
}

impl GraphBuilder {
    /// The clock every wait goes through (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> GraphBuilder {
        self.clock = clock;
        self
    }

    /// The random source of backoff jitter (default: seeded from the OS).
    pub fn rng(mut self, rng: Box<dyn rand::RngCore + Send>) -> GraphBuilder {
        self.rng = rng;
        self
    }

    /// Builds the client; refuses endpoints a token or secret must not be sent to.
    pub fn build(self) -> Result<Graph, GraphError> {
        self.settings
            .check()
            .map_err(|reason| GraphError::Refused { reason })?;
        let http = reqwest::Client::builder()
            .connect_timeout(self.settings.connect_timeout)
            .timeout(self.settings.request_timeout)
            // A redirect would carry the bearer token to wherever Graph pointed; authctl follows nothing blindly.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("authctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Transport {
                message: format!("cannot build the HTTP client: {e}"),
                outcome_unknown: false,
            })?;
        let api_root = self
            .settings
            .graph_url
            .join("v1.0/")
            .map_err(|e| GraphError::Refused {
                reason: format!("bad --graph-url: {e}"),
            })?;
        let cx = TokenContext {
            http: http.clone(),
            clock: self.clock.clone(),
            authority: self.settings.authority.clone(),
            resource: self
                .settings
                .graph_url
                .as_str()
                .trim_end_matches('/')
                .to_string(),
            federation_audience: self.settings.federation_audience.clone(),
        };
        let started = self.clock.now();
        Ok(Graph {
            inner: Arc::new(Inner {
                http,
                api_root,
                tokens: TokenProvider::new(self.credential, cx),
                gate: Gate::new(),
                rate: RateCap::new(self.settings.max_rate),
                permits: Semaphore::new(self.settings.parallelism.max(1)),
                rng: Mutex::new(self.rng),
                counters: Counters::default(),
                started,
                reach: Reachability::default(),
                clock: self.clock,
                settings: self.settings,
            }),
        })
    }
}

impl Graph {
    /// A builder for a client with `settings` and `credential`.
    pub fn builder(settings: GraphSettings, credential: Credential) -> GraphBuilder {
        GraphBuilder {
            settings,
            credential,
            clock: Arc::new(SystemClock),
            rng: Box::new(rand::rngs::SmallRng::from_os_rng()),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> GraphStats {
        let i = &self.inner;
        i.counters
            .snapshot(i.tokens.fetches(), clock::since(i.clock.now(), i.started))
    }

    /// Why Graph is taken to be unreachable, once every connection has failed for
    /// [`GraphSettings::unreachable_after`]; from then on every request fails at once with this message.
    pub fn unreachable(&self) -> Option<String> {
        self.inner.reach.gone()
    }

    /// The clock the client waits on.
    pub fn clock(&self) -> SharedClock {
        self.inner.clock.clone()
    }

    /// The resolved settings.
    pub fn settings(&self) -> &GraphSettings {
        &self.inner.settings
    }

    /// The credential's description (never its secret).
    pub fn credential_description(&self) -> String {
        self.inner.tokens.credential().describe()
    }

    /// An access token the configured way (for `auth check`, which decodes it and never prints it).
    pub async fn access_token(&self) -> Result<crate::graph::credentials::AccessToken, AuthError> {
        self.inner.tokens.token().await
    }

    /// `{graph}/v1.0/{path}` (`path` already percent-encoded, may carry a query).
    pub(crate) fn url(&self, path: &str) -> Result<Url, GraphError> {
        self.inner
            .api_root
            .join(path.trim_start_matches('/'))
            .map_err(|e| GraphError::Refused {
                reason: format!("cannot build a Graph URL from `{path}`: {e}"),
            })
    }

    /// Refuses a URL a bearer token must not be sent to: not the configured Graph host (scheme, host and port), or
    /// plain http to a non-loopback host.
    pub fn check_target(&self, url: &Url) -> Result<(), GraphError> {
        let graph = &self.inner.settings.graph_url;
        if url.origin() != graph.origin() {
            return Err(GraphError::Refused {
                reason: format!(
                    "`{}` is not the configured Graph host `{}`; no token is sent there",
                    url.origin().ascii_serialization(),
                    graph.origin().ascii_serialization()
                ),
            });
        }
        if !is_safe_for_credentials(url) {
            return Err(GraphError::Refused {
                reason: format!(
                    "`{}` is plain http to a non-loopback host; tokens go only over https",
                    url.origin().ascii_serialization()
                ),
            });
        }
        Ok(())
    }

    fn backoff_rng(&self) -> std::sync::MutexGuard<'_, Box<dyn rand::RngCore + Send>> {
        self.inner.rng.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Computes the next wait of `attempts` (None = give up).
    pub(crate) fn next_delay(
        &self,
        attempts: &mut Attempts,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let now = self.inner.clock.now();
        let mut rng = self.backoff_rng();
        attempts.next_delay(retry_after, now, &mut **rng)
    }

    /// Closes the shared gate for `wait` from now (a 429 was answered).
    pub(crate) fn throttled_for(&self, wait: Duration) {
        let i = &self.inner;
        i.gate.close_until(clock::add(i.clock.now(), wait));
    }

    /// Sends `req`, retrying per policy. Returns any non-retryable answer (success or error status) as a
    /// [`Response`]; errors only when no usable answer came.
    pub(crate) async fn execute(&self, req: &Request) -> Result<Response, GraphError> {
        let i = &self.inner;
        self.check_target(&req.url)?;
        let body_bytes = match &req.body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| GraphError::Decode {
                message: e.to_string(),
            })?),
            None => None,
        };
        let mut attempts = Attempts::new(&i.settings.retry, i.clock.now());
        let mut reauthenticated = false;
        // Whether an attempt of this request reached Graph and got no answer: a write may then have landed.
        let mut unanswered = false;
        loop {
            if let Some(message) = i.reach.gone() {
                // Another request found Graph gone while this one waited to retry an unanswered attempt.
                return Err(GraphError::Transport {
                    message,
                    outcome_unknown: unanswered && req.writes(),
                });
            }
            let permit = i
                .permits
                .acquire()
                .await
                .map_err(|_| GraphError::Transport {
                    message: "the client is shutting down".into(),
                    outcome_unknown: false,
                })?;
            i.gate.wait(&i.clock).await;
            i.rate.acquire(req.cost, &i.clock).await;
            let token = i.tokens.token().await?;
            let client_request_id = new_uuid();
            let mut rb = i
                .http
                .request(req.method.clone(), req.url.clone())
                .bearer_auth(token.token.expose())
                .header("client-request-id", &client_request_id)
                .header("return-client-request-id", "true");
            if let Some(b) = &body_bytes {
                rb = rb
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.clone());
                Counters::add(&i.counters.bytes_sent, b.len() as u64);
            }
            Counters::add(&i.counters.requests, 1);
            tracing::trace!(method = %req.method, path = req.url.path(), %client_request_id, "graph request");
            let sent_at = i.clock.now();
            let sent = rb.send().await;
            let outcome = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(body) => Ok((status, headers, body.to_vec())),
                        Err(e) => Err((false, transport_message(&e))),
                    }
                }
                Err(e) => Err((e.is_connect(), transport_message(&e))),
            };
            drop(permit);
            crate::graph::trace::record(|| crate::graph::trace::CallRecord {
                time: i.clock.now(),
                method: req.method.to_string(),
                path: req.url.path().to_string(),
                status: outcome.as_ref().ok().map(|(s, _, _)| *s),
                request_id: outcome.as_ref().ok().and_then(|(_, h, _)| {
                    h.get("request-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                }),
                client_request_id: client_request_id.clone(),
            });
            match &outcome {
                Ok(_) => i.reach.answered(),
                Err((never_connected, message)) => {
                    unanswered |= !never_connected;
                    if i.reach.failed(
                        sent_at,
                        i.clock.now(),
                        i.settings.unreachable_after,
                        message,
                    ) {
                        let gone = i.reach.gone().unwrap_or_default();
                        // A write of which an attempt was sent and got no answer may have been applied (a PATCH or
                        // DELETE is retried after a dropped connection, but its first attempt may have landed).
                        let unknown = unanswered && req.writes();
                        return Err(GraphError::Transport {
                            message: gone,
                            outcome_unknown: unknown,
                        });
                    }
                }
            }
            match outcome {
                Ok((status, headers, body)) => {
                    Counters::add(&i.counters.bytes_received, body.len() as u64);
                    let resp = Response {
                        status,
                        headers,
                        body,
                        client_request_id,
                    };
                    tracing::debug!(
                        method = %req.method,
                        path = req.url.path(),
                        status,
                        request_id = resp.header("request-id").unwrap_or_default(),
                        client_request_id = %resp.client_request_id,
                        "graph answered"
                    );
                    if status == 401 && !reauthenticated {
                        // The token may have expired in flight or been revoked: one fresh token, then give up.
                        reauthenticated = true;
                        i.tokens.invalidate(&token.token).await;
                        continue;
                    }
                    if !is_retryable_status(status) {
                        if resp.is_success() && req.cost == 1 {
                            i.rate.succeeded(1);
                        }
                        return Ok(resp);
                    }
                    let retry_after = resp
                        .header("retry-after")
                        .and_then(|v| parse_retry_after(&v, i.clock.now()));
                    let Some(wait) = self.next_delay(&mut attempts, retry_after) else {
                        return Ok(resp);
                    };
                    if status == 429 {
                        Counters::add(&i.counters.throttled, 1);
                        self.throttled_for(wait);
                        i.rate.throttled(i.clock.now());
                    }
                    Counters::add(&i.counters.retries, 1);
                    tracing::debug!(
                        status,
                        wait_ms = wait.as_millis() as u64,
                        attempt = attempts.made(),
                        "retrying"
                    );
                    i.clock.sleep(wait).await;
                }
                Err((never_connected, message)) => {
                    if req.safety == Safety::Once && !never_connected {
                        return Err(GraphError::Transport {
                            message,
                            outcome_unknown: true,
                        });
                    }
                    let Some(wait) = self.next_delay(&mut attempts, None) else {
                        return Err(GraphError::Transport {
                            message,
                            outcome_unknown: false,
                        });
                    };
                    Counters::add(&i.counters.retries, 1);
                    tracing::debug!(error = %message, wait_ms = wait.as_millis() as u64, "connection failed, retrying");
                    i.clock.sleep(wait).await;
                }
            }
        }
    }

    /// GET `url` and return its JSON (an error status becomes [`GraphError::Api`]).
    pub(crate) async fn get_json(&self, url: Url) -> Result<Value, GraphError> {
        let resp = self
            .execute(&Request {
                method: Method::GET,
                url,
                body: None,
                safety: Safety::Idempotent,
                cost: 1,
            })
            .await?;
        if resp.is_success() {
            resp.json()
        } else {
            Err(resp.error())
        }
    }

    /// GET a collection, following `@odata.nextLink` (only on the Graph host) until the last page.
    pub(crate) async fn get_all(&self, url: Url) -> Result<Vec<Value>, GraphError> {
        let first = self.get_json(url).await?;
        self.collect_pages(first).await
    }

    /// The `value` of `page` and of every page after it.
    pub(crate) async fn collect_pages(&self, mut page: Value) -> Result<Vec<Value>, GraphError> {
        let mut out = Vec::new();
        loop {
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(items)) => out.extend(items),
                Some(Value::Null) | None => {}
                Some(other) => {
                    return Err(GraphError::Decode {
                        message: format!("`value` is not an array: {other}"),
                    });
                }
            }
            let Some(next) = page.get("@odata.nextLink").and_then(Value::as_str) else {
                return Ok(out);
            };
            let next = Url::parse(next).map_err(|e| GraphError::Decode {
                message: format!("bad @odata.nextLink: {e}"),
            })?;
            // check_target in execute refuses a foreign nextLink before any token is attached.
            page = self.get_json(next).await?;
        }
    }
}
