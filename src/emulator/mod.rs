//! The built-in Microsoft Graph emulator: an axum server that behaves like Graph for the endpoints authctl uses, with
//! the token endpoint, fault injection, a crash-safe journal, and an in-process mode for `--emulate`.
//!
//! Layout, one job per file: [`tenant`] (the YAML state file), [`rules`] (number format, masking — independent of
//! authctl's own number code), `roles` (the one table of directory role ids), `ids` (GUIDs, dates, well-known ids; a
//! leaf), `kinds` (the table of method types served per type; a leaf), `policy` (the authentication methods policy
//! as data: defaults, PATCH validation, who a configuration reaches), `store` (state, read lag, journal), `tokens/` (JWTs, the token endpoint, client assertions, device code),
//! `graph/` (the Graph routes, one file per job, also run for each `$batch` item), `faults` (latency, token
//! buckets, seeded 5xx and dropped connections), `server` (the listener, [`spawn`], [`EmulatorHandle`]), `tls` (the HTTPS identity and acceptor).
//!
//! A new Graph endpoint: a variant and its path in `graph/routing.rs`, its permission in `graph/mod.rs`
//! (`need`), its handler in the `graph/` file of its job, and its tests in `tests/it/emulator/`.

mod faults;
mod graph;
mod ids;
mod kinds;
mod policy;
mod roles;
pub mod rules;
mod server;
mod store;
pub mod tenant;
mod tenant_file;
mod tls;
mod tokens;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::{SharedClock, SystemClock};
use crate::units::Rate;

pub use faults::ThrottleProfile;
pub use server::{EmulatorHandle, app, spawn};
pub use store::EmulatorState;
pub use tenant::Tenant;
pub use tenant_file::load_tenant;
pub use tls::TlsIdentity;

/// What can go wrong starting, running or stopping the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The tenant file is not valid.
    #[error("tenant file: {0}")]
    Tenant(String),
    /// A file or socket operation failed.
    #[error("{0}")]
    Io(String),
    /// The journal beside the state file could not be read or written.
    #[error("journal: {0}")]
    Journal(String),
}

/// How the emulator runs: where it listens, which faults it injects, its clock, and whether it persists.
#[derive(Debug, Clone)]
pub struct Options {
    /// Added before every HTTP response (a `$batch` costs the largest of its items, i.e. one latency).
    pub latency: Duration,
    /// Read token bucket (`800/1s`), charged one per request and per `$batch` item; capacity one window's worth.
    pub throttle: Option<Rate>,
    /// Write token bucket (`3000/150s`), charged per POST/PATCH/DELETE (and per write item of a batch).
    pub write_throttle: Option<Rate>,
    /// Graph's identity-and-access limits for a tenant size: per app resource units and writes, per tenant writes
    /// (each `$batch` item charged on its own). Applies beside `throttle`/`write_throttle`.
    pub throttle_profile: Option<ThrottleProfile>,
    /// Probability that a request (or batch item) is answered `503 serviceNotAvailable` without being applied.
    pub fail_prob: f64,
    /// Probability that the connection of an HTTP request is dropped without an answer, *after* the request was
    /// applied (the worst case for a client: a create that happened but was never acknowledged).
    pub drop_prob: f64,
    /// Read-after-write lag: reads of a user's methods see the state as of `lag` ago.
    pub lag: Duration,
    /// Seeds fault draws and, when not 0, varies behaviours the documentation leaves uncertain (see ASSUMPTIONS.md).
    pub seed: u64,
    /// Approve every device-code sign-in at once (as `Tenant::device_code_user` or the first admin).
    pub auto_approve_device_code: bool,
    /// The state file to journal changes beside and fold them into at clean shutdown; `None` = memory only.
    pub persist: Option<PathBuf>,
    /// The clock every wait (latency), bucket, token lifetime and read lag uses.
    pub clock: SharedClock,
    /// Where to listen (`127.0.0.1:0` = a free port).
    pub listen: SocketAddr,
    /// Page size of `GET /users` (with or without `$filter`); `None` = Graph's default of 100.
    pub page_size: Option<usize>,
    /// Serve HTTPS with this identity (`None` = plain HTTP); discovery, `Location` and `nextLink` then say `https`.
    pub tls: Option<TlsIdentity>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            latency: Duration::ZERO,
            throttle: None,
            write_throttle: None,
            throttle_profile: None,
            fail_prob: 0.0,
            drop_prob: 0.0,
            lag: Duration::ZERO,
            seed: 0,
            auto_approve_device_code: false,
            persist: None,
            clock: Arc::new(SystemClock),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            page_size: None,
            tls: None,
        }
    }
}

/// Request counts, as `GET /_emulator/stats` returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// HTTP requests received (a `$batch` counts once here).
    pub http_requests: u64,
    /// Graph requests by route template (`GET /users/{id}/authentication/phoneMethods`) and status, including
    /// each `$batch` item under its own route.
    pub by_route: BTreeMap<String, BTreeMap<u16, u64>>,
    /// `$batch` requests.
    pub batches: u64,
    /// Items inside `$batch` requests.
    pub batch_items: u64,
    /// Requests and items answered 429.
    pub throttled: u64,
    /// Requests and items answered 503 by `--fail-prob`.
    pub injected_failures: u64,
    /// Connections dropped by `--drop-prob`.
    pub dropped: u64,
    /// Per user object id: 2xx answers by route template (batch items included), e.g. to check that each user's
    /// phone methods were read exactly once.
    pub successful_by_user: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Stats {
    /// How many requests to `route` were answered with `status`.
    pub fn count(&self, route: &str, status: u16) -> u64 {
        self.by_route
            .get(route)
            .and_then(|m| m.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// How many requests went to `route`, any status.
    pub fn total(&self, route: &str) -> u64 {
        self.by_route
            .get(route)
            .map(|m| m.values().sum())
            .unwrap_or(0)
    }

    /// How many 2xx answers `route` gave for the user with this object id.
    pub fn successful_for(&self, user_id: &str, route: &str) -> u64 {
        self.successful_by_user
            .get(user_id)
            .and_then(|m| m.get(route))
            .copied()
            .unwrap_or(0)
    }

    /// How many Graph requests (single or batch items) of any route were answered with `status`.
    pub fn with_status(&self, status: u16) -> u64 {
        self.by_route.values().filter_map(|m| m.get(&status)).sum()
    }
}

/// The claims of a token minted directly for a test ([`EmulatorHandle::mint_token`]), bypassing the token endpoint.
#[derive(Debug, Clone, Default)]
pub struct TokenSpec {
    /// The app (client id); default: the tenant's first app.
    pub client_id: Option<String>,
    /// A user (UPN or id) for a delegated token; `None` = app-only.
    pub user: Option<String>,
    /// Application permissions (`roles`); default for app-only: the app's registered permissions.
    pub roles: Option<Vec<String>>,
    /// Delegated scopes (`scp`); default for delegated: the app's delegated permissions.
    pub scopes: Option<Vec<String>>,
    /// Directory role template ids (`wids`); default: the user's roles.
    pub wids: Option<Vec<String>>,
    /// Lifetime from the emulator's now; default: the app's token lifetime.
    pub lifetime: Option<Duration>,
}

impl TokenSpec {
    /// An app-only token of the first app with exactly these application permissions.
    pub fn app(roles: &[&str]) -> TokenSpec {
        TokenSpec {
            roles: Some(roles.iter().map(|s| s.to_string()).collect()),
            ..TokenSpec::default()
        }
    }

    /// A delegated token for `user` (UPN) with exactly these scopes and the user's own directory roles.
    pub fn delegated(user: &str, scopes: &[&str]) -> TokenSpec {
        TokenSpec {
            user: Some(user.to_string()),
            scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
            ..TokenSpec::default()
        }
    }
}
