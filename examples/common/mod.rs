//! Shared by the in-process benchmark examples (`bench_read`, `bench_plan`, `bench_apply`, `bench_methods`): the
//! bench tenant (its app, its numbered users), the emulator on the real clock with a latency and a per-item
//! throttle, and a client of the tenant's bench app (secret `bench-secret`), with its token fetched outside the timed
//! part.

use std::sync::Arc;
use std::time::Duration;

use authctl::clock::SystemClock;
use authctl::emulator::tenant::{App, Phone, Tenant, User};
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

/// The bench tenant `tenant_id`: one app, `bench` (`client_id`, secret `bench-secret`), holding `methods_permission`
/// (`UserAuthenticationMethod.Read.All` or `.ReadWrite.All`) and `User.Read.All`, and `users`.
pub fn tenant(
    tenant_id: &str,
    client_id: &str,
    methods_permission: &str,
    users: Vec<User>,
) -> Tenant {
    Tenant {
        tenant_id: tenant_id.into(),
        apps: vec![App {
            name: "bench".into(),
            client_id: client_id.into(),
            secret: Some("bench-secret".into()),
            permissions: vec![methods_permission.into(), "User.Read.All".into()],
            ..App::default()
        }],
        users,
        ..Tenant::default()
    }
}

/// Bench user `i`: `user{i}@contoso.com`, object id `00000000-0000-4000-9000-{i:012}`, nothing else.
pub fn user(i: usize) -> User {
    User {
        id: format!("00000000-0000-4000-9000-{i:012}"),
        user_principal_name: format!("user{i}@contoso.com"),
        ..User::default()
    }
}

/// A phone method with `number` (no SMS sign-in state).
pub fn phone(number: String) -> Phone {
    Phone {
        number,
        sms_sign_in_state: None,
    }
}
