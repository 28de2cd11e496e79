//! Device-code sign-in for delegated work (password reset, an admin at a laptop): authctl shows a code, the admin
//! approves it in a browser, authctl polls the token endpoint. The refresh token is kept in a cache file (mode 0600,
//! replaced atomically), so later runs renew silently; a refused refresh token falls back to a new sign-in.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::entra::{TokenAnswer, parse_error, parse_token_answer, post_form, request_token};
use super::{AccessToken, TokenContext};
use crate::clock;
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// What the user must do to approve a sign-in.
#[derive(Debug, Clone)]
pub struct DeviceCodePrompt {
    /// The code to enter.
    pub user_code: String,
    /// Where to enter it.
    pub verification_uri: String,
    /// Entra's ready-made instruction.
    pub message: String,
}

/// Called with the prompt; shows it (or, under `--emulate-as`, approves it through the emulator).
pub type PromptHandler = Arc<dyn Fn(DeviceCodePrompt) -> BoxFuture<'static, ()> + Send + Sync>;

/// Device-code sign-in.
pub struct DeviceCode {
    /// Tenant id or domain (`organizations` when unknown).
    pub tenant: String,
    /// The public client app's id.
    pub client_id: String,
    /// The refresh-token cache file (`None` = memory only).
    pub cache_file: Option<PathBuf>,
    prompt: PromptHandler,
    refresh: tokio::sync::Mutex<Option<Secret>>,
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCode")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("cache_file", &self.cache_file)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    user_code: String,
    #[serde(default)]
    verification_uri: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    interval: Option<serde_json::Value>,
    #[serde(default)]
    message: String,
}

/// The cache file's content.
#[derive(Serialize, Deserialize)]
struct CacheFile {
    authority: String,
    tenant: String,
    client_id: String,
    refresh_token: String,
}

/// The prompt handler for a terminal: the instruction on stderr.
pub fn stderr_prompt() -> PromptHandler {
    Arc::new(|p: DeviceCodePrompt| {
        Box::pin(async move {
            if p.message.is_empty() {
                eprintln!(
                    "To sign in, open {} and enter the code {}",
                    p.verification_uri, p.user_code
                );
            } else {
                eprintln!("{}", p.message);
            }
        })
    })
}

impl DeviceCode {
    /// Device-code sign-in with `prompt` showing the code.
    pub fn new(
        tenant: &str,
        client_id: &str,
        cache_file: Option<PathBuf>,
        prompt: PromptHandler,
    ) -> DeviceCode {
        DeviceCode {
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            cache_file,
            prompt,
            refresh: tokio::sync::Mutex::new(None),
        }
    }

    fn scope(cx: &TokenContext) -> String {
        format!("{} offline_access", cx.scope())
    }

    /// A token: by refresh token when one is known, else by a new sign-in.
    pub async fn fetch(&self, cx: &TokenContext) -> Result<AccessToken, AuthError> {
        let mut refresh = self.refresh.lock().await;
        if refresh.is_none() {
            *refresh = self.read_cache(cx);
        }
        if let Some(rt) = refresh.clone() {
            let scope = Self::scope(cx);
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", self.client_id.as_str()),
                ("scope", scope.as_str()),
                ("refresh_token", rt.expose()),
            ];
            match request_token(cx, &self.tenant, &form).await {
                Ok(a) => return self.keep(cx, &mut refresh, a),
                Err(AuthError::Aad { error, .. }) if error == "invalid_grant" => {
                    tracing::info!("the cached refresh token was refused; signing in again");
                }
                Err(e) => return Err(e),
            }
        }
        let a = self.sign_in(cx).await?;
        self.keep(cx, &mut refresh, a)
    }

    fn keep(
        &self,
        cx: &TokenContext,
        refresh: &mut Option<Secret>,
        a: TokenAnswer,
    ) -> Result<AccessToken, AuthError> {
        if let Some(rt) = a.refresh_token {
            self.write_cache(cx, &rt)?;
            *refresh = Some(rt);
        }
        Ok(a.access)
    }

    async fn sign_in(&self, cx: &TokenContext) -> Result<TokenAnswer, AuthError> {
        let url = cx.endpoint(&self.tenant, "devicecode")?;
        let scope = Self::scope(cx);
        let (status, body) = post_form(
            cx,
            &url,
            &[
                ("client_id", self.client_id.as_str()),
                ("scope", scope.as_str()),
            ],
        )
        .await?;
        if !(200..300).contains(&status) {
            return Err(parse_error(status, &body));
        }
        let d: DeviceAnswer = serde_json::from_slice(&body).map_err(|e| {
            AuthError::Transport(format!(
                "the device-code endpoint answered an unreadable body: {e}"
            ))
        })?;
        let device_code = Secret::new(d.device_code);
        let mut interval = Duration::from_secs(
            d.interval
                .as_ref()
                .and_then(super::entra::number)
                .unwrap_or(5)
                .max(1),
        );
        let expires = clock::add(
            cx.clock.now(),
            Duration::from_secs(
                d.expires_in
                    .as_ref()
                    .and_then(super::entra::number)
                    .unwrap_or(900),
            ),
        );
        (self.prompt)(DeviceCodePrompt {
            user_code: d.user_code,
            verification_uri: d.verification_uri,
            message: d.message,
        })
        .await;
        let token_url = cx.endpoint(&self.tenant, "token")?;
        loop {
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", self.client_id.as_str()),
                ("device_code", device_code.expose()),
            ];
            let (status, body) = post_form(cx, &token_url, &form).await?;
            if (200..300).contains(&status) {
                return parse_token_answer(cx, status, &body);
            }
            match parse_error(status, &body) {
                AuthError::Aad { error, .. } if error == "authorization_pending" => {}
                AuthError::Aad { error, .. } if error == "slow_down" => {
                    interval += Duration::from_secs(5)
                }
                AuthError::Aad {
                    error, description, ..
                } if error == "expired_token"
                    || error == "authorization_declined"
                    || error == "bad_verification_code" =>
                {
                    return Err(AuthError::DeviceCode(format!("{error}: {description}")));
                }
                other => return Err(other),
            }
            if cx.clock.now() >= expires {
                return Err(AuthError::DeviceCode(
                    "the code expired before it was approved".into(),
                ));
            }
            cx.clock.sleep(interval).await;
        }
    }

    fn read_cache(&self, cx: &TokenContext) -> Option<Secret> {
        let path = self.cache_file.as_ref()?;
        let text = std::fs::read_to_string(path).ok()?;
        let c: CacheFile = serde_json::from_str(&text).ok()?;
        (c.authority == cx.authority.as_str()
            && c.tenant == self.tenant
            && c.client_id == self.client_id)
            .then(|| Secret::new(c.refresh_token))
    }

    fn write_cache(&self, cx: &TokenContext, rt: &Secret) -> Result<(), AuthError> {
        let Some(path) = &self.cache_file else {
            return Ok(());
        };
        let c = CacheFile {
            authority: cx.authority.to_string(),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            refresh_token: rt.expose().to_string(),
        };
        let text = serde_json::to_string(&c).map_err(|e| AuthError::Config(e.to_string()))?;
        write_private_atomically(path, text.as_bytes()).map_err(|e| {
            AuthError::Config(format!(
                "cannot write the token cache {}: {e}",
                path.display()
            ))
        })
    }
}

/// Writes `data` to `path` with [`crate::private_file::write`] (unique temporary name, `create_new` with mode 0600,
/// fsync, rename, directory fsync), creating the directory first.
pub fn write_private_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(crate::private_file::directory_of(path))?;
    crate::private_file::write(path, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn cache_file_is_private_and_replaced_atomically() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("cache.json");
        write_private_atomically(&p, b"one").unwrap();
        write_private_atomically(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_dir(p.parent().unwrap()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
