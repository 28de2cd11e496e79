//! Integration tests: a Graph that goes away (issue 12). The emulator is stopped after planning, so every request
//! of the apply fails to connect; the client's virtual clock shows the run gives up within a minute of Graph time,
//! without a real sleep.

use std::time::Duration;

use authctl::apply::{ApplyOptions, JournalEntry, apply};
use authctl::clock::Clock as _;
use authctl::plan::UserOutcome;

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
  - { id: 00000000-0000-4000-8000-0000000000c2, userPrincipalName: u2@contoso.com }
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
