//! Integration tests: a Graph that goes away (issue 12). The emulator is stopped after planning, so every request
//! of the apply fails to connect; or Graph goes away with writes in flight (a proxy in front of the emulator holds
//! the first writes, then closes every connection and stops listening). The client's virtual clock shows the run
//! gives up within a minute of Graph time, without a real sleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authctl::apply::{ApplyOptions, JournalEntry, apply};
use authctl::clock::{Clock as _, SharedClock};
use authctl::graph::credentials::client_secret::ClientSecret;
use authctl::graph::{Credential, Graph, GraphSettings, Secret};
use authctl::plan::{ActionOutcome, UserOutcome};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::apply::{desired, graph_for, plan_now};
use crate::support::Emu;

const TENANT: &str = r#"
tenantId: 00000000-0000-4000-8000-0000000000cc
domains: [contoso.com]
apps:
  - name: rw
    clientId: 00000000-0000-4000-8000-00000000c001
    secret: s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
users:
  - { id: 00000000-0000-4000-8000-0000000000c1, userPrincipalName: u1@contoso.com }
  - id: 00000000-0000-4000-8000-0000000000c2
    userPrincipalName: u2@contoso.com
    phones: { mobile: { number: "+1 2065550999" } }
  - { id: 00000000-0000-4000-8000-0000000000c3, userPrincipalName: u3@contoso.com }
  - { id: 00000000-0000-4000-8000-0000000000c4, userPrincipalName: u4@contoso.com }
"#;

const MANIFEST: &str = r#"
apiVersion: authctl/v1
kind: PhoneMethods
spec:
  mode: merge
  users:
    - { user: u1@contoso.com, phones: { mobile: "+1 2065550101" } }
    - { user: u2@contoso.com, phones: { mobile: "+1 2065550102" } }
    - { user: u3@contoso.com, phones: { mobile: "+1 2065550103" } }
    - { user: u4@contoso.com, phones: { mobile: "+1 2065550104" } }
"#;

#[tokio::test]
async fn apply_stops_within_a_minute_of_graph_going_away_and_says_so() {
    let emu = Emu::start(TENANT).await;
    let graph = graph_for(&emu, 2);
    let p = plan_now(&graph, &desired(MANIFEST), 10).await;
    assert!(p.has_changes());
    // Graph goes away: the emulator stops listening.
    let clock = emu.clock.clone();
    emu.handle.shutdown().await.unwrap();
    let started = clock.now();
    let options = ApplyOptions {
        parallelism: 2,
        converge_timeout: Duration::from_secs(60),
        ..ApplyOptions::default()
    };
    let report = apply(&p, &graph, &options).await;
    let spent = authctl::clock::since(clock.now(), started);
    let text = authctl::render::apply_report_text(&report, false);
    // Before: each request spent its own retry budget (10 attempts, up to 600 s) and convergence waited out its
    // 60 s; now the run ends once every connection has failed for 30 s (Graph's time, the client's clock).
    assert!(spent <= Duration::from_secs(60), "{spent:?}\n{text}");
    let error = report.error.clone().unwrap_or_default();
    assert!(
        error.starts_with("Graph is unreachable: every connection has failed for"),
        "{text}"
    );
    assert!(report.has_failures());
    // Every user is reported: not attempted (the run stopped), or failed with the unreachable error.
    for u in &report.users {
        match u.outcome {
            UserOutcome::NotAttempted | UserOutcome::Skipped => {}
            other => panic!("{}: {other:?}\n{text}", u.user),
        }
    }
    assert!(
        report
            .users
            .iter()
            .any(|u| u.reason.as_deref() == Some("the run stopped: Graph is unreachable")),
        "{text}"
    );
    assert!(text.starts_with("Error: Graph is unreachable"), "{text}");
}

/// Checks a journal's shape: every `call` line follows an `intent` of the same operation that has no `outcome` yet,
/// and every `outcome` closes one. Returns how many intents were left open (operations in flight when the run
/// ended); with `complete`, there must be none.
pub fn assert_intents_precede_calls(entries: &[JournalEntry], complete: bool) -> usize {
    use authctl::apply::JournalPhase;
    let key = |e: &JournalEntry| (e.user.clone(), e.users, e.op.clone(), e.target.clone());
    let mut open: Vec<_> = Vec::new();
    for e in entries {
        match e.phase {
            JournalPhase::Intent => open.push(key(e)),
            JournalPhase::Call => {
                assert!(open.contains(&key(e)), "a call without its intent: {e:?}")
            }
            JournalPhase::Outcome => {
                let at = open
                    .iter()
                    .position(|k| *k == key(e))
                    .unwrap_or_else(|| panic!("an outcome without its intent: {e:?}"));
                open.remove(at);
                assert!(e.outcome.is_some(), "{e:?}");
            }
        }
    }
    if complete {
        assert!(open.is_empty(), "intents without outcome: {open:?}");
    }
    open.len()
}

#[test]
fn the_binary_exits_1_saying_graph_is_unreachable() {
    // A port nothing listens on; `--unreachable-after 0s` trips at the first refused connection, so nothing waits.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.yaml");
    std::fs::write(
        &m,
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n    - user: a@contoso.com\n      phones: {mobile: \"+1 2065550100\"}\n",
    )
    .unwrap();
    let out = crate::support::authctl_cmd()
        .arg("apply")
        .arg(&m)
        .args(["--graph-url", &format!("http://127.0.0.1:{port}")])
        .args(["--unreachable-after", "0s", "--auto-approve"])
        .env("AUTHCTL_ACCESS_TOKEN", "not-a-real-token")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("Error: Graph is unreachable: every connection has failed for 0s"),
        "{all}"
    );
}

/// A TCP proxy in front of the emulator that "dies" with writes in flight: it forwards everything until `hold`
/// write requests (POST, PATCH or DELETE on an authentication method) have arrived, holding those without forwarding
/// them; then it closes every connection, the held ones unanswered, and stops listening, so later connections are
/// refused. Returns its base URL.
async fn dying_proxy(upstream: String, hold: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (dead, _) = watch::channel(false);
    let dead = Arc::new(dead);
    let held = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        let mut gone = dead.subscribe();
        loop {
            let (client, _) = tokio::select! {
                r = listener.accept() => r.unwrap(),
                _ = gone.wait_for(|d| *d) => return, // the listener is dropped: connections are refused
            };
            let (dead, held, upstream) = (dead.clone(), held.clone(), upstream.clone());
            tokio::spawn(async move {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let mut gone = dead.subscribe();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = cr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        let head = String::from_utf8_lossy(&buf[..n.min(200)]).to_string();
                        let line = head.lines().next().unwrap_or_default();
                        let write = ["POST ", "PATCH ", "DELETE "]
                            .iter()
                            .any(|m| line.starts_with(m))
                            && line.contains("/authentication/");
                        if write {
                            // Held, never forwarded; the last one of `hold` kills the proxy.
                            if held.fetch_add(1, Ordering::SeqCst) + 1 >= hold {
                                dead.send_replace(true);
                            }
                            std::future::pending::<()>().await;
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                let down = tokio::io::copy(&mut sr, &mut cw);
                tokio::select! {
                    _ = up => {}
                    _ = down => {}
                    _ = gone.wait_for(|d| *d) => {}
                }
                // Both sockets are dropped here: a held request gets no answer.
            });
        }
    });
    url
}

/// A client of the emulator's first app, through `url`, on the emulator's virtual clock.
fn graph_via(emu: &crate::support::Emu, url: &str, parallelism: usize) -> Graph {
    let t = emu.snapshot();
    let app = t.apps.first().expect("an app");
    let mut settings = GraphSettings::for_base_url(url).expect("loopback URL");
    settings.parallelism = parallelism;
    settings.max_rate = None;
    let credential = Credential::ClientSecret(ClientSecret {
        tenant: emu.tenant_id(),
        client_id: app.client_id.clone(),
        secret: Secret::new(app.secret.clone().unwrap_or_default()),
    });
    let clock: SharedClock = emu.clock.clone();
    Graph::builder(settings, credential)
        .clock(clock)
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn graph_going_away_with_writes_in_flight_reports_them_as_outcome_unknown() {
    let emu = Emu::start(TENANT).await;
    let upstream = emu.url().trim_start_matches("http://").to_string();
    // Two users at a time: both creates are in flight when Graph goes away.
    let proxy = dying_proxy(upstream, 2).await;
    let graph = graph_via(&emu, &proxy, 2);
    let p = plan_now(&graph, &desired(MANIFEST), 10).await;
    assert!(p.has_changes());
    let clock = emu.clock.clone();
    let started = clock.now();
    let options = ApplyOptions {
        parallelism: 2,
        converge_timeout: Duration::from_secs(60),
        ..ApplyOptions::default()
    };
    // A guard against a hang, not a wait: the run takes milliseconds of real time.
    let report = tokio::time::timeout(Duration::from_secs(120), apply(&p, &graph, &options))
        .await
        .expect("the apply ends");
    let spent = authctl::clock::since(clock.now(), started);
    let text = authctl::render::apply_report_text(&report, false);
    let json = authctl::render::apply_report_json(&report);
    assert!(spent <= Duration::from_secs(60), "{spent:?}\n{text}");
    let error = report.error.clone().unwrap_or_default();
    assert!(
        error.starts_with("Graph is unreachable: every connection has failed for"),
        "{text}"
    );
    assert!(report.has_failures());
    // u1's create (POST, never repeated) and u2's update (PATCH, repeated after the dropped connection until Graph
    // was taken to be gone) were in flight: sent and never answered, so they may have landed.
    for (u, op) in report.users[..2].iter().zip(["create", "update"]) {
        assert_eq!(u.outcome, UserOutcome::Failed, "{}\n{text}", u.user);
        assert_eq!(
            u.actions[0].outcome,
            ActionOutcome::OutcomeUnknown,
            "{text}"
        );
        let reason = format!("outcome unknown: {op} mobile was sent and got no answer");
        assert!(
            u.reason.as_deref().unwrap_or_default().starts_with(&reason),
            "{text}"
        );
    }
    // u3 and u4 were never started.
    for u in &report.users[2..] {
        assert_eq!(u.outcome, UserOutcome::NotAttempted, "{}\n{text}", u.user);
        assert_eq!(
            u.reason.as_deref(),
            Some("the run stopped: Graph is unreachable"),
            "{text}"
        );
        assert!(
            u.actions
                .iter()
                .all(|a| a.outcome == ActionOutcome::NotAttempted)
        );
    }
    // Both renderings say so.
    assert!(text.starts_with("Error: Graph is unreachable"), "{text}");
    assert!(
        text.contains("u1@contoso.com: FAILED: outcome unknown: create mobile was sent"),
        "{text}"
    );
    assert_eq!(text.matches("— outcome unknown").count(), 2, "{text}");
    assert!(
        text.contains("u3@contoso.com: not attempted: the run stopped"),
        "{text}"
    );
    assert!(
        text.ends_with("0 actions done, 2 of unknown outcome (may have landed)\n"),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        doc["users"][0]["actions"][0]["outcome"], "outcomeUnknown",
        "{json}"
    );
    assert_eq!(
        doc["users"][1]["actions"][0]["outcome"], "outcomeUnknown",
        "{json}"
    );
    assert_eq!(doc["users"][2]["outcome"], "notAttempted", "{json}");
    assert_eq!(doc["summary"]["failed"], 2, "{json}");
    assert_eq!(doc["summary"]["notAttempted"], 2, "{json}");
    // Nothing reached the emulator's write routes.
    let t = emu.snapshot();
    assert_eq!(t.users.iter().filter(|u| !u.phones.is_empty()).count(), 1);
    assert_eq!(
        t.users[1].phones[&authctl::model::PhoneType::Mobile].number,
        "+1 2065550999"
    );
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_slow_graph_still_gets_a_progress_line_every_interval_while_no_user_advances() {
    // Every answer takes 25 s of the shared virtual clock; one user at a time.
    let emu = Emu::start_with(TENANT, |o| o.latency = Duration::from_secs(25)).await;
    let graph = graph_for(&emu, 1);
    let p = plan_now(&graph, &desired(MANIFEST), 10).await;
    let sink = Sink::default();
    let progress = Arc::new(authctl::apply::progress::LineProgress::new(
        emu.clock.clone(),
        Duration::from_secs(10),
        Box::new(sink.clone()),
    ));
    let options = ApplyOptions {
        parallelism: 1,
        converge_timeout: Duration::from_secs(60),
        progress: Some(progress.clone()),
        ..ApplyOptions::default()
    };
    let report = apply(&p, &graph, &options).await;
    assert!(
        !report.has_failures(),
        "{}",
        authctl::render::apply_report_text(&report, false)
    );
    drop(progress);
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let applying: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("authctl: applying: "))
        .collect();
    // Before any user is done (the re-read and the first create take 50 s), the ticker prints while the count
    // stands still; on main a line came only when a user advanced, so 0/4 was printed once.
    let waiting = applying.iter().filter(|l| l.contains(": 0/4 (")).count();
    assert!(waiting >= 2, "{text}");
    assert_eq!(
        applying.first(),
        Some(&"authctl: applying: 0/4 (0s)"),
        "{text}"
    );
    assert!(applying.last().unwrap().contains(": 4/4 ("), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reports_writes_in_flight_as_outcome_unknown_in_json() {
    let emu = Emu::start(TENANT).await;
    let upstream = emu.url().trim_start_matches("http://").to_string();
    let proxy = dying_proxy(upstream, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.yaml");
    std::fs::write(&m, MANIFEST).unwrap();
    let m = m.to_string_lossy().to_string();
    // The binary's clock is real: `--unreachable-after 0s` takes Graph to be gone at the first unanswered request.
    let out = emu
        .run_authctl(&[
            "apply",
            &m,
            "--graph-url",
            &proxy,
            "--parallelism",
            "2",
            "--unreachable-after",
            "0s",
            "--auto-approve",
            "--format",
            "json",
        ])
        .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON report");
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Graph is unreachable"),
        "{stdout}"
    );
    let outcomes: Vec<(&str, &str)> = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["outcome"].as_str().unwrap(),
                u["actions"][0]["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("failed", "outcomeUnknown"),
            ("failed", "outcomeUnknown"),
            ("notAttempted", "notAttempted"),
            ("notAttempted", "notAttempted"),
        ],
        "{stdout}"
    );
}
