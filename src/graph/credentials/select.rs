//! Choosing the credential, once, from the resolved settings and the environment (azure-identity's variable
//! names). In `auto` mode the first of these that is configured wins: `AUTHCTL_ACCESS_TOKEN`, `AZURE_CLIENT_SECRET`,
//! `AZURE_CLIENT_CERTIFICATE_PATH`, `AZURE_FEDERATED_TOKEN_FILE`, GitHub Actions OIDC, `IDENTITY_ENDPOINT` managed
//! identity. IMDS (which cannot be detected without a network probe) and device-code sign-in are chosen explicitly
//! with `--auth`. When nothing is found the error lists everything that was looked for.

use std::collections::BTreeMap;
use std::path::PathBuf;

use url::Url;

use super::Credential;
use super::certificate::Certificate;
use super::client_secret::ClientSecret;
use super::device_code::{DeviceCode, PromptHandler};
use super::federated::{Federated, FederatedSource};
use super::managed_identity::{self, ManagedIdentity};
use super::static_token::StaticToken;
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// `--auth`: which credential to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuthMethod {
    /// The first credential found in the environment.
    #[default]
    Auto,
    /// `AZURE_CLIENT_SECRET`.
    Secret,
    /// `AZURE_CLIENT_CERTIFICATE_PATH`.
    Certificate,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    FederatedToken,
    /// GitHub Actions OIDC.
    GithubOidc,
    /// Azure managed identity: `IDENTITY_ENDPOINT`, else IMDS.
    ManagedIdentity,
    /// Interactive device-code sign-in (delegated).
    DeviceCode,
    /// `AUTHCTL_ACCESS_TOKEN`.
    Token,
}

/// The environment variables credentials are read from (a snapshot, so tests can pass their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    /// Given variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A non-empty variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

/// What [`select`] needs besides the environment.
pub struct Selection {
    /// `--auth`.
    pub method: AuthMethod,
    /// Tenant (flag over `AZURE_TENANT_ID`).
    pub tenant: Option<String>,
    /// Client id (flag over `AZURE_CLIENT_ID`).
    pub client_id: Option<String>,
    /// The device-code refresh-token cache file.
    pub token_cache: Option<PathBuf>,
    /// Shows (or approves) a device-code prompt.
    pub prompt: PromptHandler,
    /// The IMDS endpoint (overridable for tests).
    pub imds_url: Url,
    /// The public client used for device-code sign-in when no client id is configured.
    pub default_public_client: String,
}

const LOOKED_FOR: [&str; 7] = [
    "AUTHCTL_ACCESS_TOKEN (a ready access token)",
    "AZURE_CLIENT_SECRET (with AZURE_TENANT_ID/--tenant and AZURE_CLIENT_ID/--client-id)",
    "AZURE_CLIENT_CERTIFICATE_PATH (PEM with key and certificate; with tenant and client id)",
    "AZURE_FEDERATED_TOKEN_FILE (with tenant and client id)",
    "ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN (GitHub Actions with `permissions: id-token: write`; with tenant and client id)",
    "IDENTITY_ENDPOINT + IDENTITY_HEADER (Azure managed identity; `--auth managed-identity` also tries IMDS)",
    "`--auth device-code` (interactive sign-in)",
];

/// Chooses and builds the credential.
pub fn select(s: &Selection, env: &Env) -> Result<Credential, AuthError> {
    let app = |what: &str| -> Result<(String, String), AuthError> {
        let tenant = s.tenant.clone().ok_or_else(|| {
            AuthError::Config(format!(
                "{what} needs a tenant: set AZURE_TENANT_ID or --tenant"
            ))
        })?;
        let client = s.client_id.clone().ok_or_else(|| {
            AuthError::Config(format!(
                "{what} needs the app's client id: set AZURE_CLIENT_ID or --client-id"
            ))
        })?;
        Ok((tenant, client))
    };
    let missing = |var: &str| AuthError::Config(format!("--auth needs {var} to be set"));
    let secret = || -> Result<Credential, AuthError> {
        let v = env
            .get("AZURE_CLIENT_SECRET")
            .ok_or_else(|| missing("AZURE_CLIENT_SECRET"))?;
        let (tenant, client_id) = app("AZURE_CLIENT_SECRET")?;
        Ok(Credential::ClientSecret(ClientSecret {
            tenant,
            client_id,
            secret: Secret::new(v),
        }))
    };
    let certificate = || -> Result<Credential, AuthError> {
        let p = env
            .get("AZURE_CLIENT_CERTIFICATE_PATH")
            .ok_or_else(|| missing("AZURE_CLIENT_CERTIFICATE_PATH"))?;
        let (tenant, client_id) = app("AZURE_CLIENT_CERTIFICATE_PATH")?;
        Ok(Credential::Certificate(Certificate::from_file(
            &tenant,
            &client_id,
            &PathBuf::from(p),
        )?))
    };
    let federated_file = || -> Result<Credential, AuthError> {
        let p = env
            .get("AZURE_FEDERATED_TOKEN_FILE")
            .ok_or_else(|| missing("AZURE_FEDERATED_TOKEN_FILE"))?;
        let (tenant, client_id) = app("AZURE_FEDERATED_TOKEN_FILE")?;
        Ok(Credential::Federated(Federated {
            tenant,
            client_id,
            source: FederatedSource::file(PathBuf::from(p)),
        }))
    };
    let github = || -> Result<Credential, AuthError> {
        let url = env
            .get("ACTIONS_ID_TOKEN_REQUEST_URL")
            .ok_or_else(|| missing("ACTIONS_ID_TOKEN_REQUEST_URL"))?;
        let token = env
            .get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
            .ok_or_else(|| missing("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))?;
        let request_url = Url::parse(url).map_err(|e| {
            AuthError::Config(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"))
        })?;
        let (tenant, client_id) = app("GitHub Actions OIDC")?;
        Ok(Credential::Federated(Federated {
            tenant,
            client_id,
            source: FederatedSource::GitHubActions {
                request_url,
                request_token: Secret::new(token),
            },
        }))
    };
    let managed = |imds_fallback: bool| -> Result<Credential, AuthError> {
        let endpoint = match (env.get("IDENTITY_ENDPOINT"), env.get("IDENTITY_HEADER")) {
            (Some(u), Some(h)) => managed_identity::Endpoint::AppService {
                url: Url::parse(u).map_err(|e| {
                    AuthError::Config(format!("IDENTITY_ENDPOINT is not a URL: {e}"))
                })?,
                header: Secret::new(h),
            },
            _ if imds_fallback => managed_identity::Endpoint::Imds {
                url: s.imds_url.clone(),
            },
            _ => return Err(missing("IDENTITY_ENDPOINT and IDENTITY_HEADER")),
        };
        Ok(Credential::ManagedIdentity(ManagedIdentity {
            endpoint,
            client_id: s.client_id.clone(),
        }))
    };
    let token = || -> Result<Credential, AuthError> {
        let t = env
            .get("AUTHCTL_ACCESS_TOKEN")
            .ok_or_else(|| missing("AUTHCTL_ACCESS_TOKEN"))?;
        Ok(Credential::Static(StaticToken::new(Secret::new(t.trim()))))
    };
    match s.method {
        AuthMethod::Secret => secret(),
        AuthMethod::Certificate => certificate(),
        AuthMethod::FederatedToken => federated_file(),
        AuthMethod::GithubOidc => github(),
        AuthMethod::ManagedIdentity => managed(true),
        AuthMethod::Token => token(),
        AuthMethod::DeviceCode => Ok(Credential::DeviceCode(DeviceCode::new(
            s.tenant.as_deref().unwrap_or("organizations"),
            s.client_id.as_deref().unwrap_or(&s.default_public_client),
            s.token_cache.clone(),
            s.prompt.clone(),
        ))),
        AuthMethod::Auto => {
            if env.get("AUTHCTL_ACCESS_TOKEN").is_some() {
                token()
            } else if env.get("AZURE_CLIENT_SECRET").is_some() {
                secret()
            } else if env.get("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
                certificate()
            } else if env.get("AZURE_FEDERATED_TOKEN_FILE").is_some() {
                federated_file()
            } else if env.get("ACTIONS_ID_TOKEN_REQUEST_URL").is_some()
                && env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN").is_some()
            {
                github()
            } else if env.get("IDENTITY_ENDPOINT").is_some() && env.get("IDENTITY_HEADER").is_some()
            {
                managed(false)
            } else {
                Err(AuthError::NoCredential {
                    looked_for: LOOKED_FOR.iter().map(|s| (*s).to_string()).collect(),
                })
            }
        }
    }
}

/// The IMDS endpoint as a URL.
pub fn imds_url() -> Url {
    Url::parse(managed_identity::IMDS_ENDPOINT).unwrap_or_else(|_| unreachable!("constant URL"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::credentials::device_code::stderr_prompt;

    fn sel(method: AuthMethod) -> Selection {
        Selection {
            method,
            tenant: Some("contoso".into()),
            client_id: Some("app".into()),
            token_cache: None,
            prompt: stderr_prompt(),
            imds_url: imds_url(),
            default_public_client: "public".into(),
        }
    }

    #[test]
    fn nothing_found_lists_what_was_looked_for() {
        let e = select(&sel(AuthMethod::Auto), &Env::default()).unwrap_err();
        let shown = e.to_string();
        for var in [
            "AUTHCTL_ACCESS_TOKEN",
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_FEDERATED_TOKEN_FILE",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "IDENTITY_ENDPOINT",
            "device-code",
        ] {
            assert!(shown.contains(var), "{var} missing from: {shown}");
        }
    }

    #[test]
    fn auto_picks_in_documented_order() {
        let env = Env::from_pairs([
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/x"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/"),
            ("IDENTITY_HEADER", "h"),
        ]);
        assert!(matches!(
            select(&sel(AuthMethod::Auto), &env).unwrap(),
            Credential::ClientSecret(_)
        ));
        let env = Env::from_pairs([
            ("AZURE_FEDERATED_TOKEN_FILE", "/x"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/"),
            ("IDENTITY_HEADER", "h"),
        ]);
        assert!(matches!(
            select(&sel(AuthMethod::Auto), &env).unwrap(),
            Credential::Federated(_)
        ));
        let env = Env::from_pairs([
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/"),
            ("IDENTITY_HEADER", "h"),
        ]);
        assert!(matches!(
            select(&sel(AuthMethod::Auto), &env).unwrap(),
            Credential::ManagedIdentity(_)
        ));
        let env = Env::from_pairs([("AUTHCTL_ACCESS_TOKEN", "t"), ("AZURE_CLIENT_SECRET", "s")]);
        assert!(matches!(
            select(&sel(AuthMethod::Auto), &env).unwrap(),
            Credential::Static(_)
        ));
        let env = Env::from_pairs([
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "https://pipelines.actions.githubusercontent.com/x?api-version=2.0",
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t"),
        ]);
        assert!(matches!(
            select(&sel(AuthMethod::Auto), &env).unwrap(),
            Credential::Federated(Federated {
                source: FederatedSource::GitHubActions { .. },
                ..
            })
        ));
    }

    #[test]
    fn managed_identity_falls_back_to_imds_only_when_asked() {
        let c = select(&sel(AuthMethod::ManagedIdentity), &Env::default()).unwrap();
        assert!(matches!(
            c,
            Credential::ManagedIdentity(ManagedIdentity {
                endpoint: managed_identity::Endpoint::Imds { .. },
                ..
            })
        ));
    }

    #[test]
    fn a_secret_without_tenant_names_the_missing_setting_and_never_the_secret() {
        let mut s = sel(AuthMethod::Auto);
        s.tenant = None;
        let e = select(&s, &Env::from_pairs([("AZURE_CLIENT_SECRET", "p@ss")])).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(shown.contains("AZURE_TENANT_ID"), "{shown}");
        assert!(!shown.contains("p@ss"));
    }
}
