//! Credentials and access tokens. Each way of proving who authctl is lives in its own file; they share the
//! [`TokenContext`] (HTTP client, clock, authority, Graph scope) and produce an [`AccessToken`]. Which credential is
//! used is decided once, from flags and the environment, in [`select`]. [`TokenProvider`] caches the token in
//! memory, renews it before it expires, and lets only one renewal run at a time.
//!
//! Nothing here logs a secret, an assertion or a token: they are [`Secret`]s from the moment they are read.

pub mod azure_cli;
pub mod certificate;
pub mod client_secret;
pub mod device_code;
pub mod entra;
pub mod federated;
pub mod managed_identity;
pub mod select;
pub mod static_token;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use url::Url;

use crate::clock::{self, SharedClock};
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

pub use select::{AuthMethod, Considered, Env, Verdict, select, select_explained};

/// An access token and when it stops being valid.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Secret,
    /// Its expiry.
    pub expires_at: Timestamp,
}

/// What every credential needs to get a token.
#[derive(Debug, Clone)]
pub struct TokenContext {
    /// The HTTP client (no redirects followed, timeouts set).
    pub http: reqwest::Client,
    /// The clock expiries are measured on.
    pub clock: SharedClock,
    /// The authority host, e.g. `https://login.microsoftonline.com/` (the emulator's base URL under `--emulate`).
    pub authority: Url,
    /// The Graph root the token is for, e.g. `https://graph.microsoft.com` (the resource of managed identity).
    pub resource: String,
    /// The audience of federated (GitHub OIDC) tokens: `api://AzureADTokenExchange` (or the national cloud's).
    pub federation_audience: String,
}

impl TokenContext {
    /// The `.default` scope of the Graph resource.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.resource.trim_end_matches('/'))
    }

    /// `{authority}/{tenant}/oauth2/v2.0/{leaf}` (`token` or `devicecode`).
    pub fn endpoint(&self, tenant: &str, leaf: &str) -> Result<Url, AuthError> {
        let mut u = self.authority.clone();
        u.path_segments_mut()
            .map_err(|()| {
                AuthError::Config(format!(
                    "authority `{}` cannot be a base URL",
                    self.authority
                ))
            })?
            .pop_if_empty()
            .extend([tenant, "oauth2", "v2.0", leaf]);
        Ok(u)
    }
}

/// A configured credential (chosen once by [`select`]).
#[derive(Debug)]
pub enum Credential {
    /// `AZURE_CLIENT_SECRET`.
    ClientSecret(client_secret::ClientSecret),
    /// `AZURE_CLIENT_CERTIFICATE_PATH`: a PS256 client assertion signed with the certificate's key.
    Certificate(certificate::Certificate),
    /// `AZURE_FEDERATED_TOKEN_FILE` or GitHub Actions OIDC: an external JWT exchanged as a client assertion.
    Federated(federated::Federated),
    /// Azure managed identity (`IDENTITY_ENDPOINT` or IMDS).
    ManagedIdentity(managed_identity::ManagedIdentity),
    /// The Azure CLI's sign-in (`az account get-access-token`).
    AzureCli(azure_cli::AzureCli),
    /// Device-code sign-in (delegated), refresh token cached in a 0600 file.
    DeviceCode(device_code::DeviceCode),
    /// `AUTHCTL_ACCESS_TOKEN`: a ready token, used as it is.
    Static(static_token::StaticToken),
}

impl Credential {
    /// A one-line description for logs and `auth check` (never the secret).
    pub fn describe(&self) -> String {
        match self {
            Credential::ClientSecret(c) => {
                format!("client secret of app {}", c.client_id)
            }
            Credential::Certificate(c) => format!(
                "client certificate of app {} ({})",
                c.client_id,
                c.path.display()
            ),
            Credential::Federated(c) => format!(
                "federated token of app {} ({})",
                c.client_id,
                c.source.describe()
            ),
            Credential::ManagedIdentity(c) => format!("managed identity ({})", c.describe()),
            Credential::AzureCli(c) => match &c.tenant {
                Some(t) => format!("Azure CLI sign-in ({}, tenant {t})", c.program.display()),
                None => format!("Azure CLI sign-in ({})", c.program.display()),
            },
            Credential::DeviceCode(c) => format!("device-code sign-in with app {}", c.client_id),
            Credential::Static(_) => "a ready access token (AUTHCTL_ACCESS_TOKEN)".to_string(),
        }
    }

    async fn fetch(&self, cx: &TokenContext) -> Result<AccessToken, AuthError> {
        match self {
            Credential::ClientSecret(c) => c.fetch(cx).await,
            Credential::Certificate(c) => c.fetch(cx).await,
            Credential::Federated(c) => c.fetch(cx).await,
            Credential::ManagedIdentity(c) => c.fetch(cx).await,
            Credential::AzureCli(c) => c.fetch(cx).await,
            Credential::DeviceCode(c) => c.fetch(cx).await,
            Credential::Static(c) => c.fetch(cx),
        }
    }
}

/// Caches one access token; renews it before expiry; one renewal at a time.
#[derive(Debug)]
pub struct TokenProvider {
    credential: Credential,
    cx: TokenContext,
    cached: tokio::sync::Mutex<Option<(AccessToken, Timestamp)>>,
    fetches: AtomicU64,
}

/// Renew this long before expiry (or at half the token's lifetime when that is shorter), so a request never
/// leaves with a token about to lapse.
const RENEW_MARGIN: Duration = Duration::from_secs(300);

impl TokenProvider {
    /// A provider for `credential`.
    pub fn new(credential: Credential, cx: TokenContext) -> TokenProvider {
        TokenProvider {
            credential,
            cx,
            cached: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// The credential in use.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The token context (HTTP client, clock, authority).
    pub fn context(&self) -> &TokenContext {
        &self.cx
    }

    /// How many tokens were fetched (renewals included).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid token: the cached one unless it is due for renewal. Concurrent callers wait for one fetch.
    pub async fn token(&self) -> Result<AccessToken, AuthError> {
        let mut cached = self.cached.lock().await;
        let now = self.cx.clock.now();
        if let Some((t, renew)) = cached.as_ref()
            && now < *renew
        {
            return Ok(t.clone());
        }
        tracing::debug!(credential = %self.credential.describe(), "getting an access token");
        let fresh = self.credential.fetch(&self.cx).await?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(expires_at = %fresh.expires_at, "access token obtained");
        *cached = Some((fresh.clone(), renew_at(&fresh, now)));
        Ok(fresh)
    }

    /// Forgets `stale` (Graph answered 401 for it), so the next [`TokenProvider::token`] fetches a new one. A token
    /// already replaced by another worker is left alone.
    pub async fn invalidate(&self, stale: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|(t, _)| &t.token == stale) {
            *cached = None;
        }
    }
}

/// When a token fetched at `now` is due for renewal: 5 minutes before expiry, or halfway through the lifetime of
/// tokens shorter than 10 minutes.
fn renew_at(t: &AccessToken, now: Timestamp) -> Timestamp {
    let left = clock::since(t.expires_at, now);
    let margin = RENEW_MARGIN.min(left / 2);
    let secs = jiff::SignedDuration::try_from(margin).unwrap_or(jiff::SignedDuration::ZERO);
    t.expires_at.checked_sub(secs).unwrap_or(t.expires_at)
}

/// A random UUID v4 string (request ids, assertion `jti`).
pub fn new_uuid() -> String {
    let b: [u8; 16] = rand::random();
    let mut b = b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `s` fit for a message: control characters (terminal escapes) dropped, at most `max` characters.
pub fn printable(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// True when `url` may carry a credential: https, or http to a loopback address.
pub fn is_safe_for_credentials(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback_host(url),
        _ => false,
    }
}

/// True when `url`'s host is `localhost` or a loopback IP.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Refuses to send a credential to `url` unless it is https or loopback http.
pub fn check_credential_url(url: &Url, what: &str) -> Result<(), AuthError> {
    if is_safe_for_credentials(url) {
        Ok(())
    } else {
        Err(AuthError::Refused(format!(
            "{what} `{}` is not https (plain http is allowed only to a loopback address)",
            url.origin().ascii_serialization()
        )))
    }
}

/// The `exp` claim of a JWT, read without verifying it (the token is not ours to verify).
pub fn jwt_expiry(token: &str) -> Option<Timestamp> {
    let claims = crate::graph::jwt::decode_claims(token).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    Timestamp::from_second(exp).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VirtualClock;
    use std::sync::Arc;

    fn cx(clock: SharedClock) -> TokenContext {
        TokenContext {
            http: reqwest::Client::new(),
            clock,
            authority: Url::parse("https://login.microsoftonline.com/").unwrap(),
            resource: "https://graph.microsoft.com".into(),
            federation_audience: "api://AzureADTokenExchange".into(),
        }
    }

    #[test]
    fn endpoints_and_scope() {
        let c = cx(VirtualClock::fixed());
        assert_eq!(
            c.endpoint("contoso", "token").unwrap().as_str(),
            "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
        );
        assert_eq!(c.scope(), "https://graph.microsoft.com/.default");
    }

    #[test]
    fn credentials_only_over_https_or_loopback_http() {
        for ok in [
            "https://login.microsoftonline.us/",
            "http://127.0.0.1:8080/",
            "http://[::1]:1/",
            "http://localhost/",
        ] {
            assert!(is_safe_for_credentials(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://graph.microsoft.com/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
        ] {
            assert!(!is_safe_for_credentials(&Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn uuids_are_v4_shaped_and_fresh() {
        let a = new_uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, new_uuid());
    }

    #[tokio::test]
    async fn token_is_cached_renewed_before_expiry_and_fetched_once_under_contention() {
        let vc = VirtualClock::fixed();
        let clock: SharedClock = vc.clone();
        let exp = clock::add(clock.now(), Duration::from_secs(3600));
        let tok = static_token::StaticToken::counting("t1", exp);
        let p = Arc::new(TokenProvider::new(
            Credential::Static(tok),
            cx(clock.clone()),
        ));
        let all = futures_util::future::join_all((0..16).map(|_| {
            let p = p.clone();
            async move { p.token().await.unwrap() }
        }))
        .await;
        assert!(all.iter().all(|t| t.token.expose() == "t1"));
        assert_eq!(p.fetches(), 1, "single flight");
        // 54 minutes in: still more than 5 minutes left → cached.
        vc.advance(Duration::from_secs(54 * 60));
        p.token().await.unwrap();
        assert_eq!(p.fetches(), 1);
        // 4 minutes before expiry: renewed although still valid.
        vc.advance(Duration::from_secs(2 * 60));
        p.token().await.unwrap();
        assert_eq!(p.fetches(), 2);
        // A 401 invalidates exactly that token.
        p.invalidate(&Secret::new("other")).await;
        p.token().await.unwrap();
        assert_eq!(p.fetches(), 2);
        p.invalidate(&Secret::new("t1")).await;
        p.token().await.unwrap();
        assert_eq!(p.fetches(), 3);
    }
}
