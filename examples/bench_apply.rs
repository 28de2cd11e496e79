//! Benchmark (not a test): plan and apply 10,000 users against the built-in emulator at 30 ms latency per HTTP
//! request, with Graph's large-tenant read budget (`--throttle 8000/10s`) and the client's default `--max-rate
//! 800/1s`. Prints Graph requests, 429s, retries and wall time for the plan and the apply (which includes the
//! per-user re-read, the writes and the convergence re-read).
//!
//! ```text
//! cargo run --release --example bench_apply                 # 10,000 users, parallelism 8
//! cargo run --release --example bench_apply -- 2000 16      # users, --parallelism
//! ```
//!
//! A third of the users get a new mobile (and SMS sign-in disabled: the write registers it, so a disable follows),
//! a third an updated mobile, a third lose their office phone: about 1.7 writes per user.

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::time::Instant;

use authctl::apply::{ApplyOptions, apply};
use authctl::emulator::tenant::{Method, Tenant, User};
use authctl::model::PhoneType;
use authctl::observe::{NoProgress, build_plan};
use authctl::plan::Policy;

const TENANT_ID: &str = "00000000-0000-4000-8000-00000000c000";
const CLIENT_ID: &str = "00000000-0000-4000-8000-00000000c001";

fn mobile(i: usize, v: usize) -> String {
    format!("+1 206{}{:04}", 200 + v * 100 + i / 10_000, i % 10_000)
}

fn tenant(users: usize) -> Tenant {
    common::tenant(
        TENANT_ID,
        CLIENT_ID,
        "UserAuthenticationMethod.ReadWrite.All",
        (0..users)
            .map(|i| {
                let mut phones = std::collections::BTreeMap::new();
                if i % 3 != 0 {
                    phones.insert(PhoneType::Mobile, common::phone(mobile(i, 0)));
                }
                if i % 3 == 2 {
                    phones.insert(
                        PhoneType::Office,
                        common::phone(format!("+1 425555{:04}", i % 10_000)),
                    );
                }
                User {
                    sms_sign_in_policy: true,
                    phones,
                    // Something usable remains after the office delete (the lock-out preflight passes).
                    methods: vec![Method {
                        kind: "microsoftAuthenticator".into(),
                        id: format!("6a1f1f9e-0000-4000-9000-{i:012}"),
                        properties: Default::default(),
                    }],
                    ..common::user(i)
                }
            })
            .collect(),
    )
}

fn manifest(users: usize) -> String {
    let mut y = String::from(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n",
    );
    for i in 0..users {
        let _ = writeln!(y, "    - user: user{i}@contoso.com\n      phones:");
        match i % 3 {
            0 => {
                let _ = writeln!(
                    y,
                    "        mobile: \"{}\"\n      smsSignIn: disabled",
                    mobile(i, 1)
                );
            }
            1 => {
                let _ = writeln!(y, "        mobile: \"{}\"", mobile(i, 2));
            }
            _ => {
                let _ = writeln!(y, "        office: absent");
            }
        }
    }
    y
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let users: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let parallelism: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let handle = common::emulator(tenant(users), 30, "8000/10s").await;
    let graph = common::client(&handle, TENANT_ID, CLIENT_ID, |s| {
        s.parallelism = parallelism
    })
    .await;
    let manifests = authctl::manifest::load_from(&["-".into()], &mut manifest(users).as_bytes());
    assert!(
        !manifests.has_errors(),
        "{:?}",
        manifests.diagnostics.first()
    );

    println!(
        "{users} users, emulator latency 30 ms, throttle 8000/10s per item; client --parallelism {parallelism}, \
         --max-rate 800/1s\n"
    );
    println!("| phase | Graph requests | batch items | 429s | retries | wall time |");
    println!("|---|---|---|---|---|---|");
    let build = Policy {
        max_deletes: users,
        ..Policy::default()
    };
    let start = Instant::now();
    let plan = build_plan(&graph, &manifests, &build, &NoProgress)
        .await
        .expect("plans");
    let plan_wall = start.elapsed();
    let s0 = graph.stats();
    println!(
        "| plan ({} actions) | {} | {} | {} | {} | {:.1} s |",
        plan.summary.actions(),
        s0.requests,
        s0.batch_items,
        s0.throttled,
        s0.retries,
        plan_wall.as_secs_f64()
    );
    let options = ApplyOptions {
        parallelism,
        ..ApplyOptions::default()
    };
    let start = Instant::now();
    let report = apply(&plan, &graph, &options).await;
    let apply_wall = start.elapsed();
    let s1 = graph.stats();
    let k = report.counts();
    println!(
        "| apply | {} | {} | {} | {} | {:.1} s |",
        s1.requests - s0.requests,
        s1.batch_items - s0.batch_items,
        s1.throttled - s0.throttled,
        s1.retries - s0.retries,
        apply_wall.as_secs_f64()
    );
    println!(
        "\napply: {} users done ({} actions), {} failed, {} skipped, {} not converged; emulator saw {} HTTP \
         requests, {} answered 429",
        k.done,
        k.actions_done,
        k.failed,
        k.skipped,
        k.not_converged,
        handle.stats().http_requests,
        handle.stats().throttled
    );
    handle.shutdown().await.expect("shutdown");
}
