//! Benchmark (not a test): read 2,000 users' phone methods from the built-in emulator at 20 ms latency per HTTP
//! request and Graph's identity read budget (`--throttle 800/1s`), with and without `$batch`, at parallelism 1 and
//! the default 8. Prints requests, items, wall time and 429s per run.
//!
//! ```text
//! cargo run --release --example bench_read            # or without --release; the time is latency-bound
//! cargo run --release --example bench_read -- 500     # fewer users
//! ```

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use authctl::emulator::tenant::{Tenant, User};
use authctl::model::PhoneType;

const TENANT_ID: &str = "00000000-0000-4000-8000-00000000b000";
const CLIENT_ID: &str = "00000000-0000-4000-8000-00000000b001";

fn tenant(users: usize) -> Tenant {
    common::tenant(
        TENANT_ID,
        CLIENT_ID,
        "UserAuthenticationMethod.Read.All",
        (0..users)
            .map(|i| User {
                phones: [(
                    PhoneType::Mobile,
                    common::phone(format!("+1 206555{:04}", i % 10_000)),
                )]
                .into_iter()
                .collect(),
                ..common::user(i)
            })
            .collect(),
    )
}

#[tokio::main]
async fn main() {
    let users: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let ids: Vec<String> = tenant(users).users.iter().map(|u| u.id.clone()).collect();
    println!(
        "{users} users, emulator latency 20 ms, throttle 800/1s per item; client --max-rate 800/1s\n"
    );
    println!("| mode | parallelism | HTTP requests | items | wall time | 429s (items) | retries |");
    println!("|---|---|---|---|---|---|---|");
    for (batching, parallelism) in [(true, 8), (true, 1), (false, 8), (false, 1)] {
        let handle = common::emulator(tenant(users), 20, "800/1s").await;
        let graph = common::client(&handle, TENANT_ID, CLIENT_ID, |s| {
            s.batching = batching;
            s.parallelism = parallelism;
        })
        .await;
        let start = Instant::now();
        let results = graph.list_phone_methods_many(&ids).await;
        let wall = start.elapsed();
        let failed = results.iter().filter(|(_, r)| r.is_err()).count();
        let s = graph.stats();
        let e = handle.stats();
        println!(
            "| {} | {parallelism} | {} | {} | {:.2} s | {} | {} |{}",
            if batching {
                "$batch (20)"
            } else {
                "single GETs"
            },
            s.requests,
            if batching { s.batch_items } else { s.requests },
            wall.as_secs_f64(),
            e.throttled,
            s.retries,
            if failed > 0 {
                format!(" {failed} FAILED")
            } else {
                String::new()
            }
        );
        handle.shutdown().await.expect("shutdown");
    }
}
