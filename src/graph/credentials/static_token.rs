//! A ready access token from `AUTHCTL_ACCESS_TOKEN` (e.g. `az account get-access-token`): used as it is; its expiry
//! is read from the JWT's `exp` when it has one. It cannot be renewed, so an expired one is an error that says so.

use jiff::Timestamp;

use super::{AccessToken, TokenContext, jwt_expiry};
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// A ready token.
#[derive(Debug)]
pub struct StaticToken {
    token: Secret,
    expires_at: Timestamp,
}

impl StaticToken {
    /// Wraps `token`; the expiry comes from its `exp` claim (far future when it is not a JWT).
    pub fn new(token: Secret) -> StaticToken {
        let expires_at = jwt_expiry(token.expose()).unwrap_or(Timestamp::MAX);
        StaticToken { token, expires_at }
    }

    /// A token with a given expiry (tests).
    pub fn counting(token: &str, expires_at: Timestamp) -> StaticToken {
        StaticToken {
            token: Secret::new(token),
            expires_at,
        }
    }

    /// The token, unless it has expired.
    pub fn fetch(&self, cx: &TokenContext) -> Result<AccessToken, AuthError> {
        if cx.clock.now() >= self.expires_at {
            return Err(AuthError::Config(format!(
                "AUTHCTL_ACCESS_TOKEN expired at {}; get a new token",
                self.expires_at
            )));
        }
        Ok(AccessToken {
            token: self.token.clone(),
            expires_at: self.expires_at,
        })
    }
}
