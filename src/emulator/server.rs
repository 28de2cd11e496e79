//! The HTTP side: the axum router ([`app`]), the listener that can drop a connection without answering
//! (`--drop-prob`), [`spawn`] and the [`EmulatorHandle`] tests and `--emulate` use.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::graph::{self, Req, Resp};
use super::ids::new_guid;
use super::store::EmulatorState;
use super::tenant::Tenant;
use super::tokens;
use super::{EmulatorError, Options, Stats, TokenSpec};

/// Marks a response whose connection must be dropped instead of answered.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

/// `scheme://host[:port]` as the caller addressed the emulator (the `Host` header, or HTTP/2's `:authority`).
fn base_of(state: &EmulatorState, uri: &Uri, headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("127.0.0.1");
    let scheme = if state.options().tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// The emulator's router over `state`: Graph under `/v1.0`, the token endpoints under `/{tenant}/`, and the
/// emulator's own controls under `/_emulator/`.
pub fn app(state: EmulatorState) -> Router {
    Router::new()
        .route("/v1.0/{*rest}", any(graph_http))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid),
        )
        .route("/devicelogin", get(devicelogin).post(devicelogin_form))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/clock", post(clock))
        .route("/_emulator/device/approve", post(approve))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": {"code": "NotFound", "message": format!("No route for {}", uri.path())}})),
    )
        .into_response()
}

fn to_response(r: Resp, req: &Req) -> Response {
    let mut resp = match &r.body {
        Some(b) => (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(b.clone()),
        )
            .into_response(),
        None => StatusCode::from_u16(r.status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
    };
    let h = resp.headers_mut();
    for (k, v) in &r.headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(k, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&req.request_id) {
        h.insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&req.client_request_id) {
        h.insert("client-request-id", v);
    }
    resp
}

async fn graph_http(
    State(state): State<EmulatorState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.stats_mut().http_requests += 1;
    let path = uri
        .path()
        .strip_prefix("/v1.0")
        .unwrap_or(uri.path())
        .to_string();
    let req = Req {
        method: method.as_str().to_string(),
        path,
        query: uri.query().unwrap_or("").to_string(),
        body: body.to_vec(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        client_request_id: headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(new_guid),
        request_id: new_guid(),
        base: base_of(&state, &uri, &headers),
    };
    // One latency per HTTP request: a batch costs the largest of its items, which is the same fixed latency.
    let latency = state.options().latency;
    if !latency.is_zero() {
        state.options().clock.sleep(latency).await;
    }
    let r = if req.path == "/$batch" && req.method == "POST" {
        graph::batch(&state, &req)
    } else {
        graph::process(&state, &req)
    };
    let mut resp = to_response(r, &req);
    if state.faults().drop_connection() {
        state.stats_mut().dropped += 1;
        resp.extensions_mut().insert(DropConnection);
    }
    resp
}

async fn token(
    State(state): State<EmulatorState>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = base_of(&state, &uri, &headers);
    let r = tokens::token_endpoint(&state, &base, &tenant, &headers, &body);
    count(&state, "POST /{tenant}/oauth2/v2.0/token", r.status());
    r
}

async fn devicecode(
    State(state): State<EmulatorState>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = tokens::devicecode_endpoint(&state, &base_of(&state, &uri, &headers), &tenant, &body);
    count(&state, "POST /{tenant}/oauth2/v2.0/devicecode", r.status());
    r
}

async fn openid(
    State(state): State<EmulatorState>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    tokens::openid_configuration(&state, &base_of(&state, &uri, &headers), &tenant)
}

async fn devicelogin() -> Response {
    tokens::devicelogin_page()
}

async fn devicelogin_form(State(state): State<EmulatorState>, body: Bytes) -> Response {
    tokens::devicelogin_submit(&state, &body)
}

fn count(state: &EmulatorState, route: &str, status: StatusCode) {
    let mut s = state.stats_mut();
    s.http_requests += 1;
    *s.by_route
        .entry(route.to_string())
        .or_default()
        .entry(status.as_u16())
        .or_default() += 1;
}

async fn stats(State(state): State<EmulatorState>) -> Response {
    axum::Json(state.stats()).into_response()
}

async fn clock(State(state): State<EmulatorState>, body: Bytes) -> Response {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let d = match (&v["advance"], &v["seconds"]) {
        (serde_json::Value::String(s), _) => crate::units::parse_duration(s),
        (_, serde_json::Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| "seconds must be a non-negative number".to_string()),
        _ => Err("send {\"advance\": \"30s\"} or {\"seconds\": 30}".to_string()),
    };
    match d {
        Ok(d) => {
            state.advance(d);
            axum::Json(json!({ "now": state.now().to_string() })).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e }))).into_response(),
    }
}

async fn approve(State(state): State<EmulatorState>, body: Bytes) -> Response {
    match serde_json::from_slice::<tokens::Approval>(&body) {
        Ok(a) => tokens::approve(&state, a),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": format!("expected {{user_code, upn, password}}: {e}") })),
        )
            .into_response(),
    }
}

/// A running emulator. Dropping it stops the listener (without folding the journal); call
/// [`EmulatorHandle::shutdown`] for a clean stop.
pub struct EmulatorHandle {
    base_url: String,
    tenant_id: String,
    state: EmulatorState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Starts the emulator on `options.listen` and returns once it accepts connections.
pub async fn spawn(tenant: Tenant, options: Options) -> Result<EmulatorHandle, EmulatorError> {
    let listen = options.listen;
    let tenant_id = tenant.tenant_id.clone();
    let acceptor = options.tls.as_ref().map(|t| t.acceptor()).transpose()?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let state = EmulatorState::new(tenant, options)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| EmulatorError::Io(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| EmulatorError::Io(e.to_string()))?;
    let router = app(state.clone());
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let router = router.clone();
                    match &acceptor {
                        None => {
                            conns.spawn(serve_connection(stream, router));
                        }
                        Some(tls) => {
                            let tls = tls.clone();
                            conns.spawn(async move {
                                // A failed handshake (an untrusting client) just ends the connection.
                                if let Ok(stream) = tls.accept(stream).await {
                                    serve_connection(stream, router).await;
                                }
                            });
                        }
                    }
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    });
    Ok(EmulatorHandle {
        base_url: format!("{scheme}://{addr}"),
        tenant_id,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

/// An error that makes hyper close the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by --drop-prob")
    }
}

impl std::error::Error for Dropped {}

async fn serve_connection<S>(stream: S, router: Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let router = router.clone();
        async move {
            let resp: Response = match router.oneshot(req.map(Body::new)).await {
                Ok(r) => r,
                Err(e) => match e {},
            };
            if resp.extensions().get::<DropConnection>().is_some() {
                return Err(Dropped);
            }
            Ok::<_, Dropped>(resp)
        }
    });
    let io = hyper_util::rt::TokioIo::new(stream);
    // HTTP/1.1 and HTTP/2 (prior knowledge over plain loopback http, ALPN over TLS), as a client may speak either.
    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(io, svc)
        .await;
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT` (`https://` with TLS) — the Graph root is `{base}/v1.0`, the authority host is
    /// `{base}`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The Graph root, `{base}/v1.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.base_url)
    }

    /// The token endpoint of the tenant.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.base_url, self.tenant_id)
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// Request statistics so far.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// The current state as a tenant file.
    pub fn snapshot(&self) -> Tenant {
        self.state.snapshot()
    }

    /// The shared state (for in-process inspection and [`EmulatorState::advance`]).
    pub fn state(&self) -> &EmulatorState {
        &self.state
    }

    /// Signs a token directly, bypassing the token endpoint (tests, `--emulate-as`).
    pub fn mint_token(&self, spec: TokenSpec) -> String {
        tokens::mint(&self.state, spec)
    }

    /// Stops listening and, with `persist`, folds the journal into the state file.
    pub async fn shutdown(mut self) -> Result<(), EmulatorError> {
        self.stop_listener().await;
        self.state.fold()
    }

    async fn stop_listener(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
