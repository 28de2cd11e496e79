//! Benchmark (not a test): the email method and registered method types for 10,000 users, each with three
//! registered types (Microsoft Authenticator, FIDO2, Windows Hello for Business), against the built-in emulator at
//! 30 ms latency per HTTP request and a large tenant's identity read budget (`--throttle 8000/10s`). Every 10th user
//! has an Authenticator on a lost phone that the keep-lists remove. Measures:
//!
//! 1. plan: the read side as `authctl plan` runs it (UPNs resolved, one `GET …/authentication/methods` per user
//!    through `$batch`, the plan built);
//! 2. apply of that plan (re-resolve, re-read, deletes, convergence);
//! 3. the read cost as the number of types grows: the one polymorphic list per user (through `$batch`) against one
//!    request per type per user (through `$batch`, and as single GETs).
//!
//! ```text
//! CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo run --release --example bench_methods
//! cargo run --release --example bench_methods -- 2000      # fewer users
//! ```

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use authctl::apply::{ApplyOptions, apply};
use authctl::emulator::tenant::{Method, Tenant, User};
use authctl::graph::Graph;
use authctl::model::{
    DesiredRegistrations, DesiredUser, MethodKind, Mode, PhoneType, RegistrationType,
    SourceLocation,
};
use authctl::observe::{NoProgress, plan_users};
use authctl::plan::{PlanSettings, Policy};

const TENANT_ID: &str = "00000000-0000-4000-8000-00000000b000";
const CLIENT_ID: &str = "00000000-0000-4000-8000-00000000b001";

/// The three registered types every user has, with their emulator type names and list segments.
const TYPES: [(MethodKind, &str); 3] = [
    (MethodKind::MicrosoftAuthenticator, "microsoftAuthenticator"),
    (MethodKind::Fido2, "fido2"),
    (
        MethodKind::WindowsHelloForBusiness,
        "windowsHelloForBusiness",
    ),
];

fn method(kind: &str, id: String, name: &str) -> Method {
    Method {
        kind: kind.into(),
        id,
        properties: [
            ("displayName".to_string(), serde_json::json!(name)),
            (
                "createdDateTime".to_string(),
                serde_json::json!("2025-01-01T00:00:00Z"),
            ),
        ]
        .into_iter()
        .collect(),
    }
}

fn tenant(users: usize) -> Tenant {
    common::tenant(
        TENANT_ID,
        CLIENT_ID,
        "UserAuthenticationMethod.ReadWrite.All",
        (0..users)
            .map(|i| {
                let mut methods: Vec<Method> = TYPES
                    .iter()
                    .map(|(_, k)| method(k, format!("{k}-{i}"), "device"))
                    .collect();
                if i % 10 == 0 {
                    methods.push(method(
                        "microsoftAuthenticator",
                        format!("lost-{i}"),
                        "lost phone",
                    ));
                }
                User {
                    phones: [(
                        PhoneType::Mobile,
                        common::phone(format!("+1 206{:07}", 5_000_000 + i)),
                    )]
                    .into_iter()
                    .collect(),
                    methods,
                    ..common::user(i)
                }
            })
            .collect(),
    )
}

/// Keep-lists of each user's three registrations (the lost phone's Authenticator goes).
fn desired(users: usize) -> Vec<DesiredUser> {
    (0..users)
        .map(|i| DesiredUser {
            user: format!("user{i}@contoso.com"),
            mode: Mode::Merge,
            phones: Default::default(),
            sms_sign_in: None,
            email: None,
            registrations: TYPES
                .iter()
                .map(|(kind, k)| {
                    (
                        RegistrationType::of(*kind).expect("registered"),
                        DesiredRegistrations::Keep(BTreeSet::from([format!("{k}-{i}")])),
                    )
                })
                .collect(),
            source: SourceLocation {
                file: "methods.yaml".into(),
                line: 1 + i,
                column: 7,
            },
        })
        .collect()
}

fn row(what: &str, graph: &Graph, throttled: u64, wall: Duration, extra: &str) {
    let s = graph.stats();
    println!(
        "| {what} | {} | {} | {} | {} | {:.1} s | {extra} |",
        s.requests,
        s.batch_items,
        throttled,
        s.retries,
        wall.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let users: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    println!(
        "{users} users × 3 registered types (+ a lost phone's Authenticator for every 10th), emulator latency 30 ms, \
         throttle 8000/10s per item; client defaults (parallelism 8, --max-rate 800/1s)\n"
    );
    println!("| run | HTTP requests | batch items | 429s | retries | wall | result |");
    println!("|---|---|---|---|---|---|---|");

    // 1 and 2: plan, then apply the plan.
    let handle = common::emulator(tenant(users), 30, "8000/10s").await;
    let graph = common::client(&handle, TENANT_ID, CLIENT_ID, |_| {}).await;
    let want = desired(users);
    let mut settings = PlanSettings::new(graph.clock().now(), "0011");
    settings.policy = Policy {
        max_deletes: usize::MAX,
        ..Policy::default()
    };
    let start = Instant::now();
    let (plan, _) = plan_users(&graph, &want, &settings, &NoProgress).await;
    row(
        "plan (one methods list per user, $batch)",
        &graph,
        handle.stats().throttled,
        start.elapsed(),
        &plan.summary.line(),
    );
    let graph = common::client(&handle, TENANT_ID, CLIENT_ID, |_| {}).await;
    let before = handle.stats().throttled;
    let start = Instant::now();
    let report = apply(&plan, &graph, &ApplyOptions::default()).await;
    let c = report.counts();
    row(
        "apply",
        &graph,
        handle.stats().throttled - before,
        start.elapsed(),
        &format!(
            "{} users done, {} failed, {} actions done, {} not converged",
            c.done, c.failed, c.actions_done, c.not_converged
        ),
    );
    handle.shutdown().await.expect("shutdown");

    // 3: the read cost by number of types read.
    let ids: Vec<String> = tenant(users).users.iter().map(|u| u.id.clone()).collect();
    let segments = [
        "microsoftAuthenticatorMethods",
        "fido2Methods",
        "windowsHelloForBusinessMethods",
    ];
    let runs: Vec<(String, bool, Option<usize>)> = vec![
        (
            "read: one methods list per user, $batch (any number of types)".into(),
            true,
            None,
        ),
        ("read: per type, $batch, 1 type".into(), true, Some(1)),
        ("read: per type, $batch, 2 types".into(), true, Some(2)),
        ("read: per type, $batch, 3 types".into(), true, Some(3)),
        (
            "read: one methods list per user, single GETs".into(),
            false,
            None,
        ),
        (
            "read: per type, single GETs, 3 types".into(),
            false,
            Some(3),
        ),
    ];
    for (what, batching, types) in runs {
        let handle = common::emulator(tenant(users), 30, "8000/10s").await;
        let graph = common::client(&handle, TENANT_ID, CLIENT_ID, |s| s.batching = batching).await;
        let start = Instant::now();
        let mut failed = 0;
        let mut read = 0usize;
        match types {
            None => {
                for (_, r) in graph.list_methods_many(&ids).await {
                    match r {
                        Ok(v) => read += v.len(),
                        Err(_) => failed += 1,
                    }
                }
            }
            Some(k) => {
                for seg in &segments[..k] {
                    for (_, r) in graph.list_segment_many(&ids, seg).await {
                        match r {
                            Ok(v) => read += v.len(),
                            Err(_) => failed += 1,
                        }
                    }
                }
            }
        }
        row(
            &what,
            &graph,
            handle.stats().throttled,
            start.elapsed(),
            &format!("{read} method objects, {failed} failed reads"),
        );
        handle.shutdown().await.expect("shutdown");
    }
}
