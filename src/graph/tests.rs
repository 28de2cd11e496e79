//! Unit tests of the HTTP core against tiny stand-in servers on loopback (the emulator's full behaviour is exercised
//! in `tests/it/client.rs`): batching and chunking, per-item retries, the shared 429 gate, refusals, dropped
//! connections, token renewal on 401, request ids, error fields, UPN resolution.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::clock::{self, Clock, SharedClock, Sleep, VirtualClock};
use crate::graph::credentials::client_secret::ClientSecret;
use crate::graph::{Credential, Graph, GraphError, GraphSettings, Secret};

// ---- tests ------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn many_reads_are_batched_twenty_at_a_time_or_sent_singly_without_batch() {
    let mock = Mock::start(|_| None).await;
    let users: Vec<String> = (0..45).map(|i| format!("user-{i}")).collect();
    let g = mock.graph(|_| {}, VirtualClock::fixed());
    let res = g.list_phone_methods_many(&users).await;
    assert_eq!(res.len(), 45);
    assert!(
        res.iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|v| v.len() == 1))
    );
    assert_eq!(res[7].0, "user-7", "input order kept");
    let mut sizes = mock.state.batch_sizes.lock().unwrap().clone();
    sizes.sort_unstable();
    assert_eq!(sizes, [5, 20, 20]);
    assert_eq!(g.stats().batch_items, 45);

    let g = mock.graph(|s| s.batching = false, VirtualClock::fixed());
    let res = g.list_phone_methods_many(&users).await;
    assert!(res.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(mock.state.singles.load(Ordering::SeqCst), 45);
    assert_eq!(g.stats().requests, 45);
}

#[tokio::test]
async fn throttled_batch_items_are_retried_and_missing_users_reported_per_user() {
    // Items of users whose name ends in an even digit get one 429 (Retry-After 2); `missing-*` users are 404.
    let mock = Mock::start(|_| None).await;
    mock.state.throttle_even_once.store(1, Ordering::SeqCst);
    let vc = VirtualClock::fixed();
    let t0 = vc.now();
    let g = mock.graph(|_| {}, vc.clone());
    let users: Vec<String> = (0..10)
        .map(|i| format!("user-{i}"))
        .chain(["missing-1".to_string(), "missing-2".to_string()])
        .collect();
    let res = g.list_phone_methods_many(&users).await;
    for (u, r) in &res {
        if u.starts_with("missing") {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.status(), Some(404), "{u}: {e}");
            assert_eq!(e.code(), Some("Request_ResourceNotFound"));
        } else {
            assert!(r.is_ok(), "{u}: {r:?}");
        }
    }
    let s = g.stats();
    assert_eq!(s.throttled, 5);
    assert_eq!(
        s.batch_items,
        12 + 5,
        "only the throttled items were sent again"
    );
    assert!(
        clock::since(vc.now(), t0) >= Duration::from_secs(2),
        "Retry-After honoured"
    );
    assert_eq!(
        mock.state.served_ok.load(Ordering::SeqCst),
        10,
        "nothing read twice"
    );
}

#[tokio::test]
async fn a_429_pauses_every_worker_until_retry_after_passes() {
    let mock = Mock::start(|_| None).await;
    mock.state.throttle_first_get.store(1, Ordering::SeqCst);
    let clock = ManualClock::new();
    let g = mock.graph(|_| {}, clock.clone());
    let a = tokio::spawn({
        let g = g.clone();
        async move { g.get_user("a@contoso.com").await }
    });
    // A got its 429 (Retry-After: 30) and is waiting.
    clock.wait_for_sleepers(1).await;
    assert_eq!(mock.state.user_gets.load(Ordering::SeqCst), 1);
    let b = tokio::spawn({
        let g = g.clone();
        async move { g.get_user("b@contoso.com").await }
    });
    // B waits at the shared gate without sending anything.
    clock.wait_for_sleepers(2).await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        mock.state.user_gets.load(Ordering::SeqCst),
        1,
        "B must not be sent while the gate is closed"
    );
    clock.advance(Duration::from_secs(30));
    assert!(a.await.unwrap().is_ok());
    assert!(b.await.unwrap().is_ok());
    assert_eq!(mock.state.user_gets.load(Ordering::SeqCst), 3);
    assert_eq!(g.stats().throttled, 1);
}

#[tokio::test]
async fn a_foreign_next_link_is_refused_before_any_token_is_sent() {
    let foreign = Mock::start(|_| None).await;
    let foreign_url = foreign.base.clone();
    let mock = Mock::start(move |path| {
        path.ends_with("/authentication/methods")
            .then(|| json!({ "value": [], "@odata.nextLink": format!("{foreign_url}/v1.0/users/x/authentication/methods?page=2") }))
    })
    .await;
    let g = mock.graph(|_| {}, VirtualClock::fixed());
    let e = g.list_methods("x").await.unwrap_err();
    assert!(matches!(e, GraphError::Refused { .. }), "{e}");
    assert_eq!(foreign.state.authorized_requests.load(Ordering::SeqCst), 0);
    assert_eq!(foreign.state.any_requests.load(Ordering::SeqCst), 0);
    // A foreign operation Location likewise.
    let loc = url::Url::parse(&format!(
        "{}/v1.0/users/x/authentication/operations/1",
        foreign.base
    ))
    .unwrap();
    assert!(matches!(
        g.get_operation(&loc).await,
        Err(GraphError::Refused { .. })
    ));
    assert_eq!(foreign.state.any_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_expired_token_answered_401_is_renewed_once_and_the_request_succeeds() {
    let mock = Mock::start(|_| None).await;
    mock.state
        .reject_token
        .lock()
        .unwrap()
        .replace("tok-1".into());
    let g = mock.graph(|_| {}, VirtualClock::fixed());
    let u = g.get_user("a@contoso.com").await.unwrap();
    assert_eq!(u.user_principal_name, "a@contoso.com");
    assert_eq!(g.stats().token_fetches, 2);
}

#[tokio::test]
async fn every_request_carries_a_fresh_client_request_id_and_errors_keep_graph_fields() {
    let mock = Mock::start(|_| None).await;
    let g = mock.graph(|s| s.batching = false, VirtualClock::fixed());
    let users: Vec<String> = (0..6).map(|i| format!("user-{i}")).collect();
    g.list_phone_methods_many(&users).await;
    let ids = mock.state.client_request_ids.lock().unwrap().clone();
    assert_eq!(ids.len(), 6);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6);
    let e = g.list_phone_methods("missing-9").await.unwrap_err();
    match e {
        GraphError::Api {
            status,
            code,
            message,
            request_id,
            client_request_id,
            date,
        } => {
            assert_eq!((status, code.as_str()), (404, "Request_ResourceNotFound"));
            assert!(message.contains("missing-9"));
            assert_eq!(request_id.as_deref(), Some("req-404"));
            assert_eq!(client_request_id.map(|c| c.len()), Some(36));
            assert_eq!(date.as_deref(), Some("2026-01-01T00:00:00"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn upns_are_resolved_fifteen_per_filter_with_quotes_and_hashes_intact() {
    let mock = Mock::start(|_| None).await;
    let g = mock.graph(|_| {}, VirtualClock::fixed());
    let mut refs: Vec<String> = (0..38).map(|i| format!("u{i}@contoso.com")).collect();
    refs.push("o'neil@contoso.com".into());
    refs.push("jane_fabrikam.com#EXT#@contoso.onmicrosoft.com".into());
    refs.push("nobody@contoso.com".into());
    refs.push("4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e".into());
    let res = g.resolve_users(&refs).await;
    assert_eq!(res.len(), refs.len());
    for (r, u) in &res {
        match r.as_str() {
            "nobody@contoso.com" => assert!(u.as_ref().unwrap_err().is_not_found()),
            id if id.starts_with("4b1f") => assert_eq!(u.as_ref().unwrap().id, id),
            upn => assert_eq!(u.as_ref().unwrap().user_principal_name, upn),
        }
    }
    let filters = mock.state.filters.lock().unwrap().clone();
    assert_eq!(filters.len(), 3, "41 UPNs → 3 requests of at most 15");
    assert!(filters.iter().all(|f| f.len() <= 15));
    let all: Vec<String> = filters.concat();
    assert!(all.contains(&"o'neil@contoso.com".to_string()));
    assert!(all.contains(&"jane_fabrikam.com#EXT#@contoso.onmicrosoft.com".to_string()));
}

#[tokio::test]
async fn a_create_whose_connection_dropped_is_outcome_unknown_and_not_resent_while_reads_retry() {
    let graph = DroppingServer::start().await;
    let tokens = Mock::start(|_| None).await;
    let mut settings = GraphSettings::for_base_url(&graph.base).unwrap();
    settings.authority = crate::graph::settings::parse_root(&tokens.base).unwrap();
    let g = Graph::builder(settings, secret_credential())
        .clock(VirtualClock::fixed())
        .build()
        .unwrap();
    let e = g
        .create_phone("u1", crate::model::PhoneType::Mobile, "+1 2065555555")
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert_eq!(graph.count("POST"), 1, "a create is never sent twice");
    // The first GET's connection is dropped too; the read is retried and succeeds.
    let methods = g.list_phone_methods("u1").await.unwrap();
    assert!(methods.is_empty());
    assert_eq!(graph.count("GET"), 2);
    assert_eq!(g.stats().retries, 1);
}

#[tokio::test]
async fn secrets_and_tokens_never_reach_the_debug_output_of_the_client() {
    let mock = Mock::start(|_| None).await;
    let g = mock.graph(|_| {}, VirtualClock::fixed());
    g.get_user("a@contoso.com").await.unwrap();
    let shown = format!("{g:?}");
    assert!(
        !shown.contains("s3cret") && !shown.contains("tok-"),
        "{shown}"
    );
}

// ---- set-up -----------------------------------------------------------------------------------------------------

fn secret_credential() -> Credential {
    Credential::ClientSecret(ClientSecret {
        tenant: "contoso".into(),
        client_id: "app".into(),
        secret: Secret::new("s3cret"),
    })
}

type Pages = Arc<dyn Fn(&str) -> Option<Value> + Send + Sync>;

#[derive(Default)]
struct MockState {
    tokens_issued: AtomicUsize,
    batch_sizes: Mutex<Vec<usize>>,
    singles: AtomicUsize,
    served_ok: AtomicUsize,
    user_gets: AtomicUsize,
    any_requests: AtomicUsize,
    authorized_requests: AtomicUsize,
    throttle_even_once: AtomicUsize,
    throttle_first_get: AtomicUsize,
    throttled_seen: Mutex<Vec<String>>,
    reject_token: Mutex<Option<String>>,
    client_request_ids: Mutex<Vec<String>>,
    filters: Mutex<Vec<Vec<String>>>,
}

struct Mock {
    base: String,
    state: Arc<MockState>,
}

#[derive(Clone)]
struct Shared {
    state: Arc<MockState>,
    pages: Pages,
}

impl Mock {
    async fn start(pages: impl Fn(&str) -> Option<Value> + Send + Sync + 'static) -> Mock {
        let state = Arc::new(MockState::default());
        let shared = Shared {
            state: state.clone(),
            pages: Arc::new(pages),
        };
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/$batch", post(batch))
            .route("/v1.0/users", get(users_filter))
            .route("/v1.0/{*rest}", any(single))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock { base, state }
    }

    fn graph(&self, tweak: impl FnOnce(&mut GraphSettings), clock: SharedClock) -> Graph {
        let mut s = GraphSettings::for_base_url(&self.base).unwrap();
        tweak(&mut s);
        Graph::builder(s, secret_credential())
            .clock(clock)
            .build()
            .unwrap()
    }
}

async fn token(State(s): State<Shared>) -> Response {
    let n = s.state.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    axum::Json(
        json!({ "token_type": "Bearer", "expires_in": 3600, "access_token": format!("tok-{n}") }),
    )
    .into_response()
}

/// The answer for one GET path: 404 for `missing-*` users, a user object, or a one-phone list.
fn answer(s: &MockState, path: &str) -> (u16, Value) {
    if path.contains("missing") {
        let who = path.split('/').nth(2).unwrap_or("");
        return (
            404,
            json!({ "error": { "code": "Request_ResourceNotFound", "message": format!("Resource '{who}' does not exist"),
                    "innerError": { "date": "2026-01-01T00:00:00", "request-id": "req-404" } } }),
        );
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.len() == 2 && parts[0] == "users" {
        s.user_gets.fetch_add(1, Ordering::SeqCst);
        let id = parts[1].split('?').next().unwrap_or("");
        return (200, json!({ "id": id, "userPrincipalName": id }));
    }
    s.served_ok.fetch_add(1, Ordering::SeqCst);
    (
        200,
        json!({ "value": [ { "id": "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber": "+1 2065555555", "phoneType": "mobile", "smsSignInState": "ready" } ] }),
    )
}

fn note_request(s: &MockState, headers: &HeaderMap) -> Option<String> {
    s.any_requests.fetch_add(1, Ordering::SeqCst);
    if let Some(id) = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
    {
        s.client_request_ids.lock().unwrap().push(id.to_string());
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if auth.is_some() {
        s.authorized_requests.fetch_add(1, Ordering::SeqCst);
    }
    auth
}

async fn single(
    State(s): State<Shared>,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let auth = note_request(&s.state, &headers);
    if let (Some(bad), Some(auth)) = (s.state.reject_token.lock().unwrap().as_ref(), auth.as_ref())
        && auth.ends_with(bad.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({ "error": { "code": "InvalidAuthenticationToken", "message": "expired" } }),
            ),
        )
            .into_response();
    }
    let path = format!("/{rest}{}", q.map(|q| format!("?{q}")).unwrap_or_default());
    if let Some(v) = (s.pages)(&path) {
        return axum::Json(v).into_response();
    }
    if rest.starts_with("users/")
        && rest.matches('/').count() == 1
        && s.state.throttle_first_get.swap(0, Ordering::SeqCst) == 1
    {
        s.state.user_gets.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "30")],
            axum::Json(json!({ "error": { "code": "TooManyRequests", "message": "slow down" } })),
        )
            .into_response();
    }
    s.state.singles.fetch_add(1, Ordering::SeqCst);
    let (status, body) = answer(&s.state, &path);
    (
        StatusCode::from_u16(status).unwrap(),
        [("request-id", "req-single")],
        axum::Json(body),
    )
        .into_response()
}

async fn batch(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    note_request(&s.state, &headers);
    let v: Value = serde_json::from_str(&body).unwrap();
    let reqs = v["requests"].as_array().unwrap();
    s.state.batch_sizes.lock().unwrap().push(reqs.len());
    let mut responses = Vec::new();
    for r in reqs {
        let id = r["id"].as_str().unwrap();
        let url = r["url"].as_str().unwrap();
        let user = url.split('/').nth(2).unwrap_or("").to_string();
        let even = user
            .chars()
            .last()
            .and_then(|c| c.to_digit(10))
            .is_some_and(|d| d % 2 == 0);
        if s.state.throttle_even_once.load(Ordering::SeqCst) == 1
            && even
            && !user.starts_with("missing")
        {
            let mut seen = s.state.throttled_seen.lock().unwrap();
            if !seen.contains(&user) {
                seen.push(user);
                responses.push(
                    json!({ "id": id, "status": 429, "headers": { "Retry-After": "2" },
                    "body": { "error": { "code": "TooManyRequests", "message": "slow down" } } }),
                );
                continue;
            }
        }
        let (status, body) = answer(&s.state, url);
        responses.push(json!({ "id": id, "status": status, "headers": { "Content-Type": "application/json" }, "body": body }));
    }
    responses.reverse(); // Graph answers in any order.
    axum::Json(json!({ "responses": responses })).into_response()
}

async fn users_filter(
    State(s): State<Shared>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    note_request(&s.state, &headers);
    let q = q.unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(&q)
        .decode_utf8()
        .unwrap()
        .into_owned();
    // userPrincipalName in ('a','o''b',...) — split on the quote grammar.
    let start = decoded.find("in (").unwrap() + 4;
    let end = decoded[start..]
        .find(")&")
        .map_or(decoded.len() - 1, |e| start + e);
    let list = &decoded[start..end];
    let mut names = Vec::new();
    let mut cur = String::new();
    let mut inside = false;
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, inside) {
            ('\'', false) => inside = true,
            ('\'', true) if chars.peek() == Some(&'\'') => {
                chars.next();
                cur.push('\'');
            }
            ('\'', true) => {
                inside = false;
                names.push(std::mem::take(&mut cur));
            }
            (c, true) => cur.push(c),
            _ => {}
        }
    }
    s.state.filters.lock().unwrap().push(names.clone());
    let value: Vec<Value> = names
        .iter()
        .filter(|n| !n.starts_with("nobody"))
        .map(|n| json!({ "id": format!("id-{n}"), "userPrincipalName": n }))
        .collect();
    axum::Json(json!({ "value": value })).into_response()
}

/// A raw HTTP/1.1 server that closes the connection without answering every POST and the first GET.
struct DroppingServer {
    base: String,
    seen: Arc<Mutex<HashMap<String, usize>>>,
}

impl DroppingServer {
    async fn start() -> DroppingServer {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        let Some(head_end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let len: usize = text[..head_end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() < head_end + 4 + len {
                            continue;
                        }
                        let method = text.split(' ').next().unwrap_or("").to_string();
                        let n = {
                            let mut s = seen.lock().unwrap();
                            let c = s.entry(method.clone()).or_insert(0);
                            *c += 1;
                            *c
                        };
                        if method == "POST" || n == 1 {
                            return; // drop the connection without an answer
                        }
                        let body = r#"{"value":[]}"#;
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                        buf.clear();
                    }
                });
            }
        });
        DroppingServer { base, seen }
    }

    fn count(&self, method: &str) -> usize {
        self.seen.lock().unwrap().get(method).copied().unwrap_or(0)
    }
}

/// A clock that moves only when the test advances it; sleepers wait for real until then (so a test can observe
/// who is waiting).
#[derive(Debug)]
struct ManualClock {
    now: Mutex<Timestamp>,
    sleepers: Mutex<Vec<(Timestamp, tokio::sync::oneshot::Sender<()>)>>,
    registered: AtomicUsize,
    notify: tokio::sync::Notify,
}

impl ManualClock {
    fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now: Mutex::new(Timestamp::from_second(1_767_225_600).unwrap()),
            sleepers: Mutex::new(Vec::new()),
            registered: AtomicUsize::new(0),
            notify: tokio::sync::Notify::new(),
        })
    }

    async fn wait_for_sleepers(&self, n: usize) {
        loop {
            let notified = self.notify.notified();
            if self.registered.load(Ordering::SeqCst) >= n {
                return;
            }
            notified.await;
        }
    }

    fn advance(&self, d: Duration) {
        let now = {
            let mut now = self.now.lock().unwrap();
            *now = clock::add(*now, d);
            *now
        };
        let mut sleepers = self.sleepers.lock().unwrap();
        let (due, rest): (Vec<_>, Vec<_>) = sleepers.drain(..).partition(|(t, _)| *t <= now);
        *sleepers = rest;
        for (_, tx) in due {
            let _ = tx.send(());
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        if deadline <= self.now() {
            return Box::pin(async {});
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.sleepers.lock().unwrap().push((deadline, tx));
        self.registered.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
