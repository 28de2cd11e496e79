//! The Microsoft Graph client: credentials and tokens, resilient HTTP (retry, `Retry-After` gate, rate cap, request
//! ids), typed endpoints, `$batch` and paging.
//!
//! - [`Graph`] (in `client.rs`) is the one entry point: cheap to clone, every clone shares the token cache, the
//!   429 gate, the rate cap, the concurrency bound and the counters.
//! - [`credentials`] chooses and runs the credential (secret, certificate, federated token, GitHub OIDC, managed
//!   identity, device code, ready token).
//! - [`retry`] is the retry policy; [`limits`] the gate and rate cap; [`odata`] URL building.
//! - Errors keep Graph's own `code`, `message`, `request-id` ([`GraphError::Api`]) apart from transport, auth and
//!   refusals.

mod api;
mod batch;
mod client;
pub mod credentials;
pub mod error;
pub mod jwt;
pub mod limits;
mod methods_api;
pub mod odata;
pub mod operations;
pub mod permissions;
mod policy_api;
pub mod retry;
pub mod secret;
pub mod settings;
pub mod stats;
pub mod trace;
pub mod types;

pub use api::{PASSWORD_METHOD_ID, UPNS_PER_FILTER};
pub use batch::BATCH_SIZE;
pub use client::{Graph, GraphBuilder};
pub use credentials::{AccessToken, AuthMethod, Credential, Env};
pub use error::{AuthError, GraphError};
pub use methods_api::EMAIL_METHOD_ID;
pub use policy_api::TAP_CONFIGURATION_ID;
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use settings::{Cloud, GraphSettings};
pub use stats::GraphStats;
pub use types::{
    EmailMethod, GroupInfo, Operation, PhoneMethod, PolicyTarget, ResetAccepted, TapConfiguration,
    TapCreated, TapRequest, UserInfo,
};

// These tests serve Graph stand-ins with axum, which only the `emulator` feature brings.
#[cfg(all(test, feature = "emulator"))]
mod tests;
