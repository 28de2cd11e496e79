//! The client's typed errors. Graph's own error (`status`, `code`, `message`, `request-id`, `client-request-id`,
//! `date`) is kept as Graph sent it in [`GraphError::Api`], apart from transport failures, credential failures and
//! requests authctl refused to send. Entra's token errors keep their `AADSTS` code in [`AuthError::Aad`].

use thiserror::Error;

/// An error from a Graph call.
#[derive(Debug, Clone, Error)]
pub enum GraphError {
    /// Graph answered with an error status and (usually) an OData error body.
    #[error("Graph answered {status} {code}: {message}{}", fmt_ids(request_id.as_deref(), client_request_id.as_deref(), date.as_deref()))]
    Api {
        /// The HTTP status.
        status: u16,
        /// Graph's `error.code` (the only field meant for program logic).
        code: String,
        /// Graph's `error.message`, verbatim.
        message: String,
        /// The `request-id` Graph assigned (for support cases).
        request_id: Option<String>,
        /// The `client-request-id` authctl sent (echoed by Graph).
        client_request_id: Option<String>,
        /// Graph's `date` (from `innerError` or the `Date` header).
        date: Option<String>,
    },
    /// The request did not complete: connection refused or dropped, timeout, unreadable response.
    #[error("{message}{}", if *outcome_unknown { " (the request may have been applied: re-read before retrying)" } else { "" })]
    Transport {
        /// What happened.
        message: String,
        /// True when a non-idempotent request (a create) was sent and its outcome is unknown.
        outcome_unknown: bool,
    },
    /// No access token could be obtained.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// authctl refused to send the request (a bearer token would have gone over plain http to a non-loopback host,
    /// or to a host other than the configured Graph host).
    #[error("refused: {reason}")]
    Refused {
        /// Why.
        reason: String,
    },
    /// The object does not exist (a UPN that `$filter` did not return).
    #[error("{what} not found")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// Graph answered success with a body authctl could not read.
    #[error("unexpected response from Graph: {message}")]
    Decode {
        /// What was wrong.
        message: String,
    },
}

fn fmt_ids(
    request_id: Option<&str>,
    client_request_id: Option<&str>,
    date: Option<&str>,
) -> String {
    let mut parts = Vec::new();
    if let Some(r) = request_id {
        parts.push(format!("request-id {r}"));
    }
    if let Some(c) = client_request_id {
        parts.push(format!("client-request-id {c}"));
    }
    if let Some(d) = date {
        parts.push(format!("date {d}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

impl GraphError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Graph's error code of an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// True for "does not exist": a 404 from Graph or a UPN that `$filter` did not return.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            GraphError::NotFound { .. } | GraphError::Api { status: 404, .. }
        )
    }

    /// True when a create may have been applied although no answer arrived.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            GraphError::Transport {
                outcome_unknown: true,
                ..
            }
        )
    }
}

/// An error while obtaining an access token.
#[derive(Debug, Clone, Error)]
pub enum AuthError {
    /// Entra ID (or the emulator's token endpoint) refused: `error_description` carries the `AADSTS` code and text.
    #[error("the token endpoint answered {status} {error}: {description}")]
    Aad {
        /// The HTTP status.
        status: u16,
        /// OAuth's `error` (`invalid_client`, `invalid_grant`, …).
        error: String,
        /// `error_description`, verbatim (starts with `AADSTS<code>:`).
        description: String,
        /// `error_codes` (the numeric AADSTS codes).
        codes: Vec<u64>,
        /// `correlation_id`, for support cases.
        correlation_id: Option<String>,
    },
    /// No credential was configured; lists every place that was looked at.
    #[error("no credential found; looked for: {}", looked_for.join("; "))]
    NoCredential {
        /// What was looked for, in order.
        looked_for: Vec<String>,
    },
    /// A credential is configured but unusable (missing tenant or client id, unreadable PEM or token file, …).
    #[error("credential configuration: {0}")]
    Config(String),
    /// The token endpoint (or managed-identity endpoint, or GitHub's OIDC endpoint) could not be reached or answered
    /// something unreadable.
    #[error("token request failed: {0}")]
    Transport(String),
    /// A managed-identity or GitHub OIDC endpoint answered an error.
    #[error("{source_name} answered {status}: {message}")]
    Endpoint {
        /// Which endpoint (`managed identity`, `GitHub OIDC`).
        source_name: String,
        /// The HTTP status.
        status: u16,
        /// The body's message (never a token).
        message: String,
    },
    /// The Azure CLI could not give a token (not installed, not signed in, refused); says what to do.
    #[error("Azure CLI: {0}")]
    AzureCli(String),
    /// Device-code sign-in did not complete (declined, expired).
    #[error("device-code sign-in failed: {0}")]
    DeviceCode(String),
    /// A credential would have been sent over plain http to a non-loopback host.
    #[error("refused: {0}")]
    Refused(String),
}

impl AuthError {
    /// The first `AADSTS` code of an Entra error.
    pub fn aadsts(&self) -> Option<u64> {
        match self {
            AuthError::Aad { codes, .. } => codes.first().copied(),
            _ => None,
        }
    }
}
