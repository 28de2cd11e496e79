//! Benchmark (not a test): `plan` for 10,000 users against the built-in emulator at 30 ms latency per HTTP request
//! with a large tenant's identity read budget (`--throttle 8000/10s`). Goes through the same path as `authctl plan`:
//! manifests loaded from a generated file, UPNs resolved 15 a request, phones read through `$batch`, the lock-out
//! preflight for the users whose plan deletes a phone, the plan built. Prints requests, 429s and wall time.
//!
//! ```text
//! cargo run --release --example bench_plan              # 10,000 users
//! cargo run --release --example bench_plan -- 2000      # fewer users
//! ```
//!
//! The tenant is out of step on purpose: every 10th user has another mobile (an update), every 50th an office phone
//! the exact-mode manifest removes (a delete, so a lock-out preflight read).

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::time::Instant;

use authctl::emulator::tenant::{Tenant, User};
use authctl::model::PhoneType;
use authctl::observe::{NoProgress, build_plan};
use authctl::plan::Policy;

const TENANT_ID: &str = "00000000-0000-4000-8000-00000000b000";
const CLIENT_ID: &str = "00000000-0000-4000-8000-00000000b001";

fn mobile(i: usize) -> String {
    format!("+1 206{:07}", 5_000_000 + i)
}

fn tenant(users: usize) -> Tenant {
    common::tenant(
        TENANT_ID,
        CLIENT_ID,
        "UserAuthenticationMethod.ReadWrite.All",
        (0..users)
            .map(|i| {
                let mut phones = vec![(
                    PhoneType::Mobile,
                    common::phone(if i % 10 == 0 {
                        format!("+1 425{:07}", 5_000_000 + i)
                    } else {
                        mobile(i)
                    }),
                )];
                if i % 50 == 0 {
                    phones.push((
                        PhoneType::Office,
                        common::phone(format!("+1 312{:07}", 5_000_000 + i)),
                    ));
                }
                User {
                    phones: phones.into_iter().collect(),
                    ..common::user(i)
                }
            })
            .collect(),
    )
}

fn manifest(users: usize) -> String {
    let mut s = String::from(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n",
    );
    for i in 0..users {
        let _ = write!(
            s,
            "    - user: user{i}@contoso.com\n      phones:\n        mobile: \"{}\"\n",
            mobile(i)
        );
    }
    s
}

#[tokio::main]
async fn main() {
    let users: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("authctl-bench-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("users.yaml");
    std::fs::write(&file, manifest(users)).expect("manifest");

    println!(
        "{users} users, emulator latency 30 ms, throttle 8000/10s per item; client defaults (parallelism 8, --max-rate 800/1s)\n"
    );
    println!(
        "| reads | parallelism | HTTP requests | batch items | 429s | retries | load manifests | Graph + plan | plan |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (batching, parallelism) in [(true, 8), (true, 16), (false, 8)] {
        let handle = common::emulator(tenant(users), 30, "8000/10s").await;
        let graph = common::client(&handle, TENANT_ID, CLIENT_ID, |s| {
            s.batching = batching;
            s.parallelism = parallelism;
        })
        .await;

        let load_start = Instant::now();
        let manifests = authctl::manifest::load(&[file.to_string_lossy().into_owned()]);
        assert!(!manifests.has_errors(), "generated manifest is valid");
        let load = load_start.elapsed();
        let start = Instant::now();
        let plan = build_plan(
            &graph,
            &manifests,
            &Policy {
                max_deletes: usize::MAX,
                ..Policy::default()
            },
            &NoProgress,
        )
        .await
        .expect("plan");
        let wall = start.elapsed();
        let s = graph.stats();
        let e = handle.stats();
        println!(
            "| {} | {parallelism} | {} | {} | {} | {} | {:.1} s | {:.1} s | {} |",
            if batching {
                "$batch (20)"
            } else {
                "single GETs"
            },
            s.requests,
            s.batch_items,
            e.throttled,
            s.retries,
            load.as_secs_f64(),
            wall.as_secs_f64(),
            plan.summary.line()
        );
        handle.shutdown().await.expect("shutdown");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
