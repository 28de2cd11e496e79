//! Shared by the in-process benchmark examples (`bench_read`, `bench_plan`, `bench_apply`): the emulator on the real
//! clock with a latency and a per-item throttle, and a client of the tenant's bench app (secret `bench-secret`),
//! with its token fetched outside the timed part.

use std::sync::Arc;
use std::time::Duration;

use authctl::clock::SystemClock;
use authctl::emulator::tenant::Tenant;
use authctl::emulator::{self, EmulatorHandle, Options};
use authctl::graph::credentials::client_secret::ClientSecret;
use authctl::graph::{Credential, Graph, GraphSettings, Secret};

/// The emulator over `tenant` with `latency_ms` per request and the `throttle` (e.g. `800/1s`) per item.
pub async fn emulator(tenant: Tenant, latency_ms: u64, throttle: &str) -> EmulatorHandle {
    emulator::spawn(
        tenant,
        Options {
            latency: Duration::from_millis(latency_ms),
            throttle: Some(throttle.parse().expect("rate")),
            clock: Arc::new(SystemClock),
            ..Options::default()
        },
    )
    .await
    .expect("emulator")
}

/// A client of app `client_id` in `tenant_id`, its settings adjusted by `f`, holding a token already.
pub async fn client(
    handle: &EmulatorHandle,
    tenant_id: &str,
    client_id: &str,
    f: impl FnOnce(&mut GraphSettings),
) -> Graph {
    let mut settings = GraphSettings::for_base_url(&handle.base_url()).expect("settings");
    f(&mut settings);
    let graph = Graph::builder(
        settings,
        Credential::ClientSecret(ClientSecret {
            tenant: tenant_id.into(),
            client_id: client_id.into(),
            secret: Secret::new("bench-secret"),
        }),
    )
    .build()
    .expect("client");
    graph.access_token().await.expect("token");
    graph
}
