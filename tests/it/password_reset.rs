//! Integration tests: `authctl password reset` through the real binary against the built-in emulator (a copy of the
//! example tenant, on a virtual clock so polling never sleeps), and the operation-polling loop as a library on the
//! emulator's `VirtualClock`.

use std::sync::Arc;
use std::time::Duration;

use authctl::clock::{self, Clock as _, SharedClock, SystemClock};
use authctl::emulator::TokenSpec;
use authctl::graph::credentials::static_token::StaticToken;
use authctl::graph::operations::{PollOutcome, PollSettings, follow_operation};
use authctl::graph::{Credential, Graph, GraphError, GraphSettings, Secret};

use crate::imperative_commands::{
    ADMIN, CAMERON, CAMERON_ID, PATTI_SYNCED, Tenant, code, stderr, stdout,
};
use crate::support::{EXAMPLE_TENANT, Emu, authctl_cmd};

// ---- password reset ---------------------------------------------------------------------------------------------

#[test]
fn reset_with_a_given_password_from_stdin_is_followed_to_succeeded() {
    let t = Tenant::example();
    let o = t.run(
        &["password", "reset", CAMERON, "--password-stdin"],
        Some("Cuyo5459!x\n"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "a given password is never echoed");
    let err = stderr(&o);
    assert!(err.contains("operation status: notStarted"), "{err}");
    assert!(err.contains("operation status: running"), "{err}");
    assert!(
        err.contains("password reset of CameronW@contoso.com: succeeded"),
        "{err}"
    );
    let cameron = t.state().user(CAMERON).unwrap().clone();
    assert_eq!(
        cameron.password.as_deref(),
        Some("Cuyo5459!x"),
        "the final newline is not part of it"
    );
}

#[test]
fn reset_with_a_generated_password_prints_it_once_and_it_becomes_the_password() {
    let t = Tenant::example();
    let o = t.run(&["password", "reset", CAMERON], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    let generated = out.trim_end();
    assert!(generated.len() >= 8, "{out}");
    assert!(stderr(&o).contains("succeeded"));
    assert_eq!(
        t.state().user(CAMERON).unwrap().password.as_deref(),
        Some(generated)
    );
}

#[cfg(unix)]
#[test]
fn generated_password_goes_to_out_with_mode_0600_and_not_to_stdout() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = Tenant::example();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cameron.pw");
    let o = t.run(
        &[
            "password",
            "reset",
            CAMERON,
            "--out",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let pw = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        t.state().user(CAMERON).unwrap().password.as_deref(),
        Some(pw.trim_end())
    );
}

#[test]
fn reset_of_ones_own_password_is_refused_with_graphs_error() {
    let t = Tenant::example();
    let o = t.run(
        &["password", "reset", ADMIN, "--password-stdin"],
        Some("An0ther-Passw0rd\n"),
    );
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("Graph refused to reset the password of admin@contoso.com"),
        "{err}"
    );
    assert!(err.contains("Graph answered 403"), "{err}");
    assert!(err.contains("can't reset their own password"), "{err}");
    assert!(err.contains("request-id"), "{err}");
}

#[test]
fn banned_password_fails_the_operation_and_exits_1_with_its_status_detail() {
    let t = Tenant::example();
    let o = t.run(
        &["password", "reset", CAMERON, "--password-stdin"],
        Some("MyContoso2026!\n"),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("password reset of CameronW@contoso.com: failed"),
        "{err}"
    );
    assert!(
        err.contains("status detail: The password is on the banned password list"),
        "{err}"
    );
    assert_eq!(
        t.state().user(CAMERON).unwrap().password.as_deref(),
        Some("Cameron-Passw0rd!")
    );
}

#[test]
fn no_wait_prints_the_operation_url_and_exits_0() {
    let t = Tenant::example();
    let o = t.run(
        &[
            "password",
            "reset",
            CAMERON,
            "--password-stdin",
            "--no-wait",
        ],
        Some("Cuyo5459!x\n"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let url = stdout(&o);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        url.contains(&format!(
            "/v1.0/users/{CAMERON_ID}/authentication/operations/"
        )),
        "{url}"
    );
    assert!(
        url.trim_end().ends_with("?aadgdc=EMU01P&aadgsu=ssprprod-a"),
        "{url}"
    );
    assert!(!stderr(&o).contains("succeeded"));
}

#[test]
fn timeout_expiring_exits_1_and_says_the_operation_may_still_complete() {
    let t = Tenant::with_operations(
        "operations:\n  runningPolls: 1000000\n  outcome: succeeded\n  retryAfterSeconds: 7",
    );
    let o = t.run(
        &[
            "password",
            "reset",
            CAMERON,
            "--password-stdin",
            "--timeout",
            "2m",
        ],
        Some("Cuyo5459!x\n"),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no final status after 2m (last status: running)"),
        "{err}"
    );
    assert!(err.contains("the operation may still complete"), "{err}");
    assert!(err.contains("/authentication/operations/"), "{err}");
}

#[test]
fn a_location_off_the_graph_host_is_refused() {
    let t = Tenant::with_operations(
        "operations:\n  runningPolls: 1\n  outcome: succeeded\n  retryAfterSeconds: 1\n  locationBase: https://graph.evil.example",
    );
    let o = t.run(
        &["password", "reset", CAMERON, "--password-stdin"],
        Some("Cuyo5459!x\n"),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("https://graph.evil.example"), "{err}");
    assert!(err.contains("is not the configured Graph host"), "{err}");
    assert!(err.contains("it may still complete"), "{err}");
}

#[test]
fn passwords_never_appear_in_trace_logs() {
    let t = Tenant::example();
    let given = "Given-Secret-7391";
    let o = t.run(
        &["-vvv", "password", "reset", CAMERON, "--password-stdin"],
        Some(given),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("TRACE"), "trace logging is on: {err}");
    assert!(!err.contains(given), "{err}");
    let o = t.run_env(
        &["password", "reset", CAMERON],
        None,
        &[("AUTHCTL_LOG", "trace")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let generated = stdout(&o).trim_end().to_string();
    assert!(!generated.is_empty());
    let err = stderr(&o);
    assert!(err.contains("TRACE"), "trace logging is on: {err}");
    assert!(!err.contains(&generated), "{err}");
}

/// The emulator as a separate server (its statistics readable), the binary pointed at it with a minted token.
#[tokio::test]
async fn synced_user_without_a_given_password_is_refused_before_any_reset_is_sent() {
    let emu = Emu::start_with(EXAMPLE_TENANT, |o| {
        o.clock = Arc::new(SystemClock);
    })
    .await;
    let token = emu.token(TokenSpec {
        user: Some(ADMIN.into()),
        ..TokenSpec::default()
    });
    let mut cmd = authctl_cmd();
    cmd.args(["password", "reset", PATTI_SYNCED, "--graph-url"])
        .arg(emu.url())
        .env("AUTHCTL_ACCESS_TOKEN", token);
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("PattiF@contoso.com is synced from on-premises AD"),
        "{err}"
    );
    assert!(err.contains("--password-stdin"), "{err}");
    let stats = emu.stats();
    let resets: u64 = stats
        .by_route
        .iter()
        .filter(|(route, _)| route.contains("resetPassword"))
        .map(|(_, by_status)| by_status.values().sum::<u64>())
        .sum();
    assert_eq!(resets, 0, "{stats:?}");
    assert!(
        stats
            .by_route
            .keys()
            .any(|r| r.starts_with("GET /users/{id}")),
        "the user was read: {stats:?}"
    );
}

#[tokio::test]
async fn app_only_token_gets_a_warning_and_graphs_answer() {
    let emu = Emu::start_with(EXAMPLE_TENANT, |o| {
        o.clock = Arc::new(SystemClock);
    })
    .await;
    let token = emu.token(TokenSpec::default());
    let mut cmd = authctl_cmd();
    cmd.args(["password", "reset", CAMERON, "--graph-url"])
        .arg(emu.url())
        .env("AUTHCTL_ACCESS_TOKEN", token);
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("documents resetPassword as delegated-only"),
        "{err}"
    );
    assert!(
        err.contains("Graph answered 403"),
        "Graph's own answer is shown: {err}"
    );
    assert_eq!(
        emu.stats()
            .total("POST /users/{id}/authentication/methods/{id}/resetPassword"),
        1
    );
}

// ---- the polling loop as a library, on the emulator's VirtualClock ---------------------------------------------

fn graph_on(emu: &Emu, token: String) -> Graph {
    let settings = GraphSettings::for_base_url(&emu.url()).unwrap();
    let clock: SharedClock = emu.clock.clone();
    Graph::builder(
        settings,
        Credential::Static(StaticToken::new(Secret::new(token))),
    )
    .clock(clock)
    .build()
    .unwrap()
}

async fn emu_with_operations(running_polls: u32, retry_after: u32) -> Emu {
    let yaml = EXAMPLE_TENANT.replace(
        "operations:\n  runningPolls: 1\n  outcome: succeeded\n  retryAfterSeconds: 1",
        &format!(
            "operations:\n  runningPolls: {running_polls}\n  outcome: succeeded\n  retryAfterSeconds: {retry_after}"
        ),
    );
    assert_ne!(yaml, EXAMPLE_TENANT, "the operations block was replaced");
    Emu::start(&yaml).await
}

#[tokio::test]
async fn polling_follows_retry_after_on_the_graph_clock_until_succeeded() {
    let emu = emu_with_operations(3, 4).await;
    let g = graph_on(&emu, emu.delegated(ADMIN));
    let accepted = g
        .reset_password(CAMERON_ID, Some(&Secret::new("Cuyo5459!x")))
        .await
        .unwrap();
    let location = accepted.location.clone().unwrap();
    let t0 = emu.clock.now();
    let mut seen = Vec::new();
    let outcome = follow_operation(
        &g,
        &location,
        accepted.retry_after,
        &PollSettings::default(),
        &mut |op| seen.push(op.status.clone()),
    )
    .await
    .unwrap();
    match outcome {
        PollOutcome::Finished(op) => assert_eq!(op.status, "succeeded"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        seen,
        ["notStarted", "running", "running", "running", "succeeded"]
    );
    // One Retry-After (4 s) before each of the 5 polls, on the virtual clock; nothing slept for real.
    assert_eq!(clock::since(emu.clock.now(), t0), Duration::from_secs(20));
}

#[tokio::test]
async fn polling_stops_at_the_timeout_with_the_last_status() {
    let emu = emu_with_operations(1_000_000, 10).await;
    let g = graph_on(&emu, emu.delegated(ADMIN));
    let accepted = g.reset_password(CAMERON_ID, None).await.unwrap();
    assert!(accepted.new_password.is_some());
    let settings = PollSettings {
        timeout: Duration::from_secs(95),
        ..PollSettings::default()
    };
    let outcome = follow_operation(
        &g,
        accepted.location.as_ref().unwrap(),
        accepted.retry_after,
        &settings,
        &mut |_| {},
    )
    .await
    .unwrap();
    match outcome {
        PollOutcome::TimedOut { last, waited } => {
            assert_eq!(last.unwrap().status, "running");
            assert_eq!(
                waited,
                Duration::from_secs(95),
                "the last wait is cut to the deadline"
            );
        }
        other => panic!("{other:?}"),
    }
    // Polls at 10, 20, …, 90 s and one last at the deadline (95 s): 10 polls.
    assert_eq!(
        emu.stats()
            .total("GET /users/{id}/authentication/operations/{id}"),
        10
    );
}

#[tokio::test]
async fn polling_refuses_a_foreign_location_before_sending_anything() {
    let emu = Emu::example().await;
    let g = graph_on(&emu, emu.delegated(ADMIN));
    let foreign = url::Url::parse(&format!(
        "https://graph.evil.example/v1.0/users/{CAMERON_ID}/authentication/operations/x"
    ))
    .unwrap();
    let before = g.stats();
    let e = follow_operation(&g, &foreign, None, &PollSettings::default(), &mut |_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, GraphError::Refused { .. }), "{e}");
    assert_eq!(g.stats().requests, before.requests);
}
