//! The client-secret credential (`AZURE_CLIENT_SECRET`): OAuth client credentials with the secret in the form body.

use super::entra::request_token;
use super::{AccessToken, TokenContext};
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// An app's client secret.
#[derive(Debug)]
pub struct ClientSecret {
    /// Tenant id or domain.
    pub tenant: String,
    /// The app's client id.
    pub client_id: String,
    /// The secret.
    pub secret: Secret,
}

impl ClientSecret {
    /// Gets a token by client credentials.
    pub async fn fetch(&self, cx: &TokenContext) -> Result<AccessToken, AuthError> {
        let scope = cx.scope();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("scope", scope.as_str()),
            ("client_secret", self.secret.expose()),
        ];
        Ok(request_token(cx, &self.tenant, &form).await?.access)
    }
}
