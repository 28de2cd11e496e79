//! Choosing the credential, once, from the resolved settings and the environment (azure-identity's variable
//! names, with the `ARM_*` names Terraform users set as aliases: an `AZURE_*` variable wins over its `ARM_*` alias).
//! In `auto` mode the first of these that is configured wins: `AUTHCTL_ACCESS_TOKEN`, a client secret, a client
//! certificate, a federated token file, `ARM_OIDC_TOKEN`, GitHub Actions OIDC, Azure Pipelines OIDC,
//! `IDENTITY_ENDPOINT` managed identity, and the Azure CLI's sign-in when `az` is on `PATH`. IMDS (which cannot be
//! detected without a network probe) and device-code sign-in are chosen explicitly with `--auth`. Every source
//! considered is reported with why it was chosen or not ([`Considered`]); when nothing is found the error lists
//! everything that was looked for.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use url::Url;

use super::Credential;
use super::azure_cli::AzureCli;
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
    /// `AZURE_CLIENT_CERTIFICATE_PATH` (PEM, or PKCS#12 with `AZURE_CLIENT_CERTIFICATE_PASSWORD`).
    Certificate,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    FederatedToken,
    /// GitHub Actions OIDC.
    GithubOidc,
    /// Azure Pipelines OIDC (`SYSTEM_OIDCREQUESTURI`, a service connection id, `SYSTEM_ACCESSTOKEN`).
    AzurePipelines,
    /// Azure managed identity: `IDENTITY_ENDPOINT`, else IMDS.
    ManagedIdentity,
    /// The Azure CLI's sign-in (`az account get-access-token`).
    AzureCli,
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

/// `ARM_*` aliases (Terraform's azurerm and azuread providers) of the variables authctl reads; the `AZURE_*` (or
/// GitHub's) name wins when both are set. The last column marks those that count only with `ARM_USE_OIDC=true`, as
/// in Terraform.
pub const ALIASES: [(&str, &str, bool); 9] = [
    ("AZURE_TENANT_ID", "ARM_TENANT_ID", false),
    ("AZURE_CLIENT_ID", "ARM_CLIENT_ID", false),
    ("AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET", false),
    (
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "ARM_CLIENT_CERTIFICATE_PATH",
        false,
    ),
    (
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "ARM_CLIENT_CERTIFICATE_PASSWORD",
        false,
    ),
    (
        "AZURE_FEDERATED_TOKEN_FILE",
        "ARM_OIDC_TOKEN_FILE_PATH",
        true,
    ),
    ("ACTIONS_ID_TOKEN_REQUEST_URL", "ARM_OIDC_REQUEST_URL", true),
    (
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ARM_OIDC_REQUEST_TOKEN",
        true,
    ),
    (
        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
        "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
        true,
    ),
];

/// A variable found, and under which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'a> {
    /// The name it was read from (`AZURE_CLIENT_SECRET` or its alias `ARM_CLIENT_SECRET`).
    pub name: &'static str,
    /// The value.
    pub value: &'a str,
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

    /// `ARM_USE_OIDC` is true.
    pub fn arm_use_oidc(&self) -> bool {
        self.get("ARM_USE_OIDC")
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"))
    }

    /// `name` (a `&'static` name from [`ALIASES`] or any other), else its `ARM_*` alias.
    pub fn var(&self, name: &'static str) -> Option<Found<'_>> {
        if let Some(value) = self.get(name) {
            return Some(Found { name, value });
        }
        let (_, alias, needs_oidc) = ALIASES.iter().find(|(n, ..)| *n == name)?;
        if *needs_oidc && !self.arm_use_oidc() {
            return None;
        }
        self.get(alias).map(|value| Found { name: alias, value })
    }

    /// Why `name` was not found: unset, or its alias set without `ARM_USE_OIDC=true`.
    fn why_not(&self, name: &'static str) -> String {
        match ALIASES.iter().find(|(n, ..)| *n == name) {
            Some((_, alias, true)) if self.get(alias).is_some() && !self.arm_use_oidc() => {
                format!("{name} is not set; {alias} is, but counts only with ARM_USE_OIDC=true")
            }
            Some((_, alias, _)) => format!("neither {name} nor {alias} is set"),
            None => format!("{name} is not set"),
        }
    }
}

/// What [`select`] needs besides the environment.
pub struct Selection {
    /// `--auth`.
    pub method: AuthMethod,
    /// Tenant (flag over `AZURE_TENANT_ID` over `ARM_TENANT_ID`; when `None`, the environment is read here).
    pub tenant: Option<String>,
    /// Client id (flag over `AZURE_CLIENT_ID` over `ARM_CLIENT_ID`; when `None`, the environment is read here).
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

const LOOKED_FOR: [&str; 10] = [
    "AUTHCTL_ACCESS_TOKEN (a ready access token)",
    "AZURE_CLIENT_SECRET or ARM_CLIENT_SECRET (with AZURE_TENANT_ID/--tenant and AZURE_CLIENT_ID/--client-id)",
    "AZURE_CLIENT_CERTIFICATE_PATH or ARM_CLIENT_CERTIFICATE_PATH (PEM with key and certificate, or PKCS#12 with AZURE_CLIENT_CERTIFICATE_PASSWORD; with tenant and client id)",
    "AZURE_FEDERATED_TOKEN_FILE, or ARM_OIDC_TOKEN_FILE_PATH with ARM_USE_OIDC=true (with tenant and client id)",
    "ARM_OIDC_TOKEN with ARM_USE_OIDC=true (with tenant and client id)",
    "ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN (GitHub Actions with `permissions: id-token: write`; with tenant and client id)",
    "SYSTEM_OIDCREQUESTURI + AZURESUBSCRIPTION_SERVICE_CONNECTION_ID + SYSTEM_ACCESSTOKEN (Azure Pipelines; with tenant and client id)",
    "IDENTITY_ENDPOINT + IDENTITY_HEADER (Azure managed identity; `--auth managed-identity` also tries IMDS)",
    "`az` on PATH (the Azure CLI's sign-in, after `az login`)",
    "`--auth device-code` (interactive sign-in)",
];

/// How a source fared in the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// This one is used.
    Chosen,
    /// Configured, but an earlier one (or `--auth`) won.
    Skipped,
    /// Not configured.
    NotConfigured,
}

/// One credential source and why it was or was not chosen (for `auth check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Considered {
    /// The source, e.g. `client secret`.
    pub source: &'static str,
    /// Chosen, skipped or not configured.
    pub verdict: Verdict,
    /// Why, naming the variables (never their values).
    pub reason: String,
}

/// The sources in `auto` order, with the `--auth` value that names each.
const SOURCES: [(&str, AuthMethod); 11] = [
    ("access token", AuthMethod::Token),
    ("client secret", AuthMethod::Secret),
    ("client certificate", AuthMethod::Certificate),
    ("federated token file", AuthMethod::FederatedToken),
    ("ARM_OIDC_TOKEN", AuthMethod::FederatedToken),
    ("GitHub Actions OIDC", AuthMethod::GithubOidc),
    ("Azure Pipelines OIDC", AuthMethod::AzurePipelines),
    ("managed identity", AuthMethod::ManagedIdentity),
    ("Azure CLI", AuthMethod::AzureCli),
    ("device code", AuthMethod::DeviceCode),
    ("IMDS", AuthMethod::ManagedIdentity),
];

/// Whether a source is configured: `Ok(how)` or `Err(why not)`.
fn detect(source: &str, env: &Env) -> Result<String, String> {
    let both = |a: &'static str, b: &'static str, what: &str| match (env.var(a), env.var(b)) {
        (Some(x), Some(y)) => Ok(format!("{} and {} are set", x.name, y.name)),
        (Some(x), None) => Err(format!("{} is set but {}", x.name, env.why_not(b))),
        (None, _) => Err(format!("{} ({what})", env.why_not(a))),
    };
    let one = |a: &'static str| {
        env.var(a)
            .map(|f| format!("{} is set", f.name))
            .ok_or_else(|| env.why_not(a))
    };
    match source {
        "access token" => one("AUTHCTL_ACCESS_TOKEN"),
        "client secret" => one("AZURE_CLIENT_SECRET"),
        "client certificate" => one("AZURE_CLIENT_CERTIFICATE_PATH"),
        "federated token file" => one("AZURE_FEDERATED_TOKEN_FILE"),
        "ARM_OIDC_TOKEN" => match env.get("ARM_OIDC_TOKEN") {
            Some(_) if env.arm_use_oidc() => Ok("ARM_OIDC_TOKEN is set with ARM_USE_OIDC=true".into()),
            Some(_) => Err("ARM_OIDC_TOKEN is set but counts only with ARM_USE_OIDC=true".into()),
            None => Err("ARM_OIDC_TOKEN is not set".into()),
        },
        "GitHub Actions OIDC" => both(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "not in GitHub Actions, or the job lacks `permissions: id-token: write`",
        ),
        "Azure Pipelines OIDC" => match env.get("SYSTEM_OIDCREQUESTURI") {
            None => Err("SYSTEM_OIDCREQUESTURI is not set (not in Azure Pipelines)".into()),
            Some(_) => match (
                pipelines_connection(env),
                env.get("SYSTEM_ACCESSTOKEN").or_else(|| env.var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(|f| f.value)),
            ) {
                (Some((name, _)), Some(_)) => Ok(format!(
                    "SYSTEM_OIDCREQUESTURI, {name} and SYSTEM_ACCESSTOKEN are set"
                )),
                (None, _) => Err(
                    "SYSTEM_OIDCREQUESTURI is set but no service connection id \
                     (AZURESUBSCRIPTION_SERVICE_CONNECTION_ID, or ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID / \
                     ARM_OIDC_AZURE_SERVICE_CONNECTION_ID with ARM_USE_OIDC=true)"
                        .into(),
                ),
                (Some(_), None) => Err(
                    "SYSTEM_OIDCREQUESTURI is set but SYSTEM_ACCESSTOKEN is not: map it into the step with \
                     `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`"
                        .into(),
                ),
            },
        },
        "managed identity" => both("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "not on Azure App Service, Functions or Container Apps"),
        "Azure CLI" => match AzureCli::find(env.get("PATH"), None) {
            Some(az) => Ok(format!("`az` found at {}", az.program.display())),
            None => Err("`az` is not on PATH".into()),
        },
        "device code" => Err("only with --auth device-code (interactive)".into()),
        "IMDS" => Err("only with --auth managed-identity (cannot be detected without a network probe)".into()),
        _ => Err("unknown".into()),
    }
}

/// The Azure Pipelines service connection id and the variable it came from.
fn pipelines_connection(env: &Env) -> Option<(&'static str, &str)> {
    if let Some(f) = env.var("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID") {
        return Some((f.name, f.value));
    }
    if env.arm_use_oidc() {
        return env
            .get("ARM_OIDC_AZURE_SERVICE_CONNECTION_ID")
            .map(|v| ("ARM_OIDC_AZURE_SERVICE_CONNECTION_ID", v));
    }
    None
}

/// Chooses and builds the credential.
pub fn select(s: &Selection, env: &Env) -> Result<Credential, AuthError> {
    select_explained(s, env).0
}

/// Chooses and builds the credential, and says for every source why it was or was not chosen.
pub fn select_explained(
    s: &Selection,
    env: &Env,
) -> (Result<Credential, AuthError>, Vec<Considered>) {
    let mut considered = Vec::new();
    let mut chosen: Option<&'static str> = None;
    let target = (s.method != AuthMethod::Auto).then(|| explicit_source(s.method, env));
    let asked = method_name(s.method);
    for (source, _) in SOURCES {
        let detected = detect(source, env);
        let (verdict, reason) = match (target, detected, chosen) {
            (Some(t), detected, _) if t == source => {
                chosen = Some(source);
                let how = detected.map(|h| format!(": {h}")).unwrap_or_default();
                (
                    Verdict::Chosen,
                    format!("asked for with --auth {asked}{how}"),
                )
            }
            (Some(_), Ok(how), _) => (
                Verdict::Skipped,
                format!("{how}, but --auth {asked} was asked for"),
            ),
            (None, Ok(how), None) => {
                chosen = Some(source);
                (
                    Verdict::Chosen,
                    format!("{how}; the first source configured"),
                )
            }
            (None, Ok(how), Some(first)) => {
                (Verdict::Skipped, format!("{how}, but {first} comes first"))
            }
            (_, Err(why), _) => (Verdict::NotConfigured, why),
        };
        considered.push(Considered {
            source,
            verdict,
            reason,
        });
    }
    let result = match (s.method, chosen) {
        (AuthMethod::Auto, None) => Err(AuthError::NoCredential {
            looked_for: LOOKED_FOR.iter().map(|s| (*s).to_string()).collect(),
        }),
        (_, Some(source)) => build(source, s, env),
        (m, None) => build(explicit_source(m, env), s, env),
    };
    if result.is_err() {
        for c in &mut considered {
            if c.verdict == Verdict::Chosen {
                c.reason.push_str(" — but it could not be used");
            }
        }
    }
    (result, considered)
}

/// Under an explicit `--auth`, the one source of the method that is used (federated token: the file, else
/// `ARM_OIDC_TOKEN`; managed identity: `IDENTITY_ENDPOINT`, else IMDS).
fn explicit_source(m: AuthMethod, env: &Env) -> &'static str {
    match m {
        AuthMethod::FederatedToken
            if detect("federated token file", env).is_err()
                && detect("ARM_OIDC_TOKEN", env).is_ok() =>
        {
            "ARM_OIDC_TOKEN"
        }
        AuthMethod::ManagedIdentity if detect("managed identity", env).is_err() => "IMDS",
        _ => SOURCES
            .iter()
            .find(|(_, method)| *method == m)
            .map(|(s, _)| *s)
            .unwrap_or("access token"),
    }
}

fn method_name(m: AuthMethod) -> String {
    use clap::ValueEnum as _;
    m.to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// Builds the credential of `source`.
fn build(source: &str, s: &Selection, env: &Env) -> Result<Credential, AuthError> {
    let tenant = s
        .tenant
        .clone()
        .or_else(|| env.var("AZURE_TENANT_ID").map(|f| f.value.to_string()));
    let client_id = s
        .client_id
        .clone()
        .or_else(|| env.var("AZURE_CLIENT_ID").map(|f| f.value.to_string()));
    let app = |what: &str| -> Result<(String, String), AuthError> {
        let tenant = tenant.clone().ok_or_else(|| {
            AuthError::Config(format!(
                "{what} needs a tenant: set AZURE_TENANT_ID (or ARM_TENANT_ID) or --tenant"
            ))
        })?;
        let client = client_id.clone().ok_or_else(|| {
            AuthError::Config(format!(
                "{what} needs the app's client id: set AZURE_CLIENT_ID (or ARM_CLIENT_ID) or --client-id"
            ))
        })?;
        Ok((tenant, client))
    };
    let need = |name: &'static str| -> Result<Found<'_>, AuthError> {
        env.var(name).ok_or_else(|| {
            AuthError::Config(format!(
                "--auth needs {name} to be set ({})",
                env.why_not(name)
            ))
        })
    };
    let federated = |what: &str, source: FederatedSource| -> Result<Credential, AuthError> {
        let (tenant, client_id) = app(what)?;
        Ok(Credential::Federated(Federated {
            tenant,
            client_id,
            source,
        }))
    };
    match source {
        "access token" => {
            let t = need("AUTHCTL_ACCESS_TOKEN")?;
            Ok(Credential::Static(StaticToken::new(Secret::new(t.value.trim()))))
        }
        "client secret" => {
            let v = need("AZURE_CLIENT_SECRET")?;
            let (tenant, client_id) = app(v.name)?;
            Ok(Credential::ClientSecret(ClientSecret {
                tenant,
                client_id,
                secret: Secret::new(v.value),
            }))
        }
        "client certificate" => {
            let p = need("AZURE_CLIENT_CERTIFICATE_PATH")?;
            let (tenant, client_id) = app(p.name)?;
            let password = env
                .var("AZURE_CLIENT_CERTIFICATE_PASSWORD")
                .map(|f| Secret::new(f.value));
            Ok(Credential::Certificate(Certificate::from_file(
                &tenant,
                &client_id,
                &PathBuf::from(p.value),
                password.as_ref(),
            )?))
        }
        "federated token file" => {
            let p = need("AZURE_FEDERATED_TOKEN_FILE")?;
            federated(p.name, FederatedSource::file(PathBuf::from(p.value)))
        }
        "ARM_OIDC_TOKEN" => {
            let t = env
                .get("ARM_OIDC_TOKEN")
                .filter(|_| env.arm_use_oidc())
                .ok_or_else(|| AuthError::Config("--auth federated-token needs AZURE_FEDERATED_TOKEN_FILE, or ARM_OIDC_TOKEN(_FILE_PATH) with ARM_USE_OIDC=true".into()))?;
            federated("ARM_OIDC_TOKEN", FederatedSource::Value(Secret::new(t.trim())))
        }
        "GitHub Actions OIDC" => {
            let url = need("ACTIONS_ID_TOKEN_REQUEST_URL")?;
            let token = need("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?;
            let request_url = Url::parse(url.value).map_err(|e| {
                AuthError::Config(format!("{} is not a URL: {e}", url.name))
            })?;
            federated(
                "GitHub Actions OIDC",
                FederatedSource::GitHubActions {
                    request_url,
                    request_token: Secret::new(token.value),
                },
            )
        }
        "Azure Pipelines OIDC" => {
            let url = env.get("SYSTEM_OIDCREQUESTURI").ok_or_else(|| {
                AuthError::Config("--auth azure-pipelines needs SYSTEM_OIDCREQUESTURI (set by Azure Pipelines)".into())
            })?;
            let request_url = Url::parse(url).map_err(|e| {
                AuthError::Config(format!("SYSTEM_OIDCREQUESTURI is not a URL: {e}"))
            })?;
            let connection = pipelines_connection(env).map(|(_, v)| v.trim().to_string()).ok_or_else(|| {
                AuthError::Config(
                    "Azure Pipelines OIDC needs the service connection id: set \
                     AZURESUBSCRIPTION_SERVICE_CONNECTION_ID (or ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID with \
                     ARM_USE_OIDC=true)"
                        .into(),
                )
            })?;
            let access = env
                .get("SYSTEM_ACCESSTOKEN")
                .or_else(|| env.var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(|f| f.value))
                .ok_or_else(|| {
                    AuthError::Config(
                        "Azure Pipelines OIDC needs SYSTEM_ACCESSTOKEN: map it into the step with `env: \
                         SYSTEM_ACCESSTOKEN: $(System.AccessToken)`"
                            .into(),
                    )
                })?;
            federated(
                "Azure Pipelines OIDC",
                FederatedSource::AzurePipelines {
                    request_url,
                    service_connection_id: connection,
                    access_token: Secret::new(access.trim()),
                },
            )
        }
        "managed identity" | "IMDS" => {
            let endpoint = match (env.get("IDENTITY_ENDPOINT"), env.get("IDENTITY_HEADER")) {
                (Some(u), Some(h)) => managed_identity::Endpoint::AppService {
                    url: Url::parse(u).map_err(|e| {
                        AuthError::Config(format!("IDENTITY_ENDPOINT is not a URL: {e}"))
                    })?,
                    header: Secret::new(h),
                },
                _ => managed_identity::Endpoint::Imds {
                    url: s.imds_url.clone(),
                },
            };
            Ok(Credential::ManagedIdentity(ManagedIdentity {
                endpoint,
                client_id: client_id.clone(),
            }))
        }
        "Azure CLI" => AzureCli::find(env.get("PATH"), tenant.clone())
            .map(Credential::AzureCli)
            .ok_or_else(|| {
                AuthError::AzureCli(
                    "the Azure CLI (`az`) is not on PATH: install it and run `az login`, or choose another \
                     credential with --auth"
                        .into(),
                )
            }),
        _ => Ok(Credential::DeviceCode(DeviceCode::new(
            tenant.as_deref().unwrap_or("organizations"),
            client_id.as_deref().unwrap_or(&s.default_public_client),
            s.token_cache.clone(),
            s.prompt.clone(),
        ))),
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

    #[test]
    fn arm_aliases_count_and_azure_names_win() {
        let mut s = sel(AuthMethod::Auto);
        s.tenant = None;
        s.client_id = None;
        let env = Env::from_pairs([
            ("ARM_TENANT_ID", "arm-tenant"),
            ("ARM_CLIENT_ID", "arm-app"),
            ("ARM_CLIENT_SECRET", "arm-secret"),
        ]);
        match select(&s, &env).unwrap() {
            Credential::ClientSecret(c) => {
                assert_eq!(
                    (c.tenant.as_str(), c.client_id.as_str()),
                    ("arm-tenant", "arm-app")
                );
                assert_eq!(c.secret.expose(), "arm-secret");
            }
            other => panic!("{other:?}"),
        }
        let env = Env::from_pairs([
            ("ARM_TENANT_ID", "arm-tenant"),
            ("AZURE_TENANT_ID", "azure-tenant"),
            ("ARM_CLIENT_ID", "arm-app"),
            ("AZURE_CLIENT_ID", "azure-app"),
            ("ARM_CLIENT_SECRET", "arm-secret"),
            ("AZURE_CLIENT_SECRET", "azure-secret"),
        ]);
        match select(&s, &env).unwrap() {
            Credential::ClientSecret(c) => {
                assert_eq!(
                    (c.tenant.as_str(), c.client_id.as_str()),
                    ("azure-tenant", "azure-app")
                );
                assert_eq!(c.secret.expose(), "azure-secret");
            }
            other => panic!("{other:?}"),
        }
        // A flag (resolved by the caller) wins over both.
        let mut flagged = sel(AuthMethod::Auto);
        flagged.tenant = Some("flag-tenant".into());
        match select(&flagged, &env).unwrap() {
            Credential::ClientSecret(c) => assert_eq!(c.tenant, "flag-tenant"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arm_oidc_variables_count_only_with_arm_use_oidc() {
        let env = Env::from_pairs([
            ("ARM_OIDC_TOKEN", "jwt"),
            ("ARM_OIDC_TOKEN_FILE_PATH", "/t"),
        ]);
        let (r, considered) = select_explained(&sel(AuthMethod::Auto), &env);
        assert!(matches!(r, Err(AuthError::NoCredential { .. })));
        let file = considered
            .iter()
            .find(|c| c.source == "federated token file")
            .unwrap();
        assert!(file.reason.contains("ARM_USE_OIDC=true"), "{file:?}");
        let mut with = env.vars.clone();
        with.insert("ARM_USE_OIDC".into(), "true".into());
        let env = Env { vars: with };
        match select(&sel(AuthMethod::Auto), &env).unwrap() {
            Credential::Federated(f) => assert!(matches!(f.source, FederatedSource::File { .. })),
            other => panic!("{other:?}"),
        }
        let mut only_token = env.vars.clone();
        only_token.remove("ARM_OIDC_TOKEN_FILE_PATH");
        match select(&sel(AuthMethod::Auto), &Env { vars: only_token }).unwrap() {
            Credential::Federated(f) => match f.source {
                FederatedSource::Value(v) => assert_eq!(v.expose(), "jwt"),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_source_is_explained_chosen_skipped_or_not_configured() {
        let env = Env::from_pairs([
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/x"),
            ("SYSTEM_OIDCREQUESTURI", "https://dev.azure.com/o/_apis/x"),
        ]);
        let (r, c) = select_explained(&sel(AuthMethod::Auto), &env);
        assert!(matches!(r.unwrap(), Credential::ClientSecret(_)));
        assert_eq!(c.len(), SOURCES.len());
        let by = |name: &str| c.iter().find(|x| x.source == name).unwrap().clone();
        assert_eq!(by("client secret").verdict, Verdict::Chosen);
        assert!(
            by("client secret")
                .reason
                .contains("AZURE_CLIENT_SECRET is set")
        );
        assert_eq!(by("federated token file").verdict, Verdict::Skipped);
        assert!(
            by("federated token file")
                .reason
                .contains("client secret comes first")
        );
        assert_eq!(by("access token").verdict, Verdict::NotConfigured);
        assert!(
            by("Azure Pipelines OIDC")
                .reason
                .contains("no service connection id"),
            "{:?}",
            by("Azure Pipelines OIDC")
        );
        assert_eq!(c.iter().filter(|x| x.verdict == Verdict::Chosen).count(), 1);
        let (r, c) = select_explained(&sel(AuthMethod::FederatedToken), &env);
        assert!(matches!(r.unwrap(), Credential::Federated(_)));
        let secret = c.iter().find(|x| x.source == "client secret").unwrap();
        assert_eq!(secret.verdict, Verdict::Skipped);
        assert!(
            secret
                .reason
                .contains("--auth federated-token was asked for"),
            "{secret:?}"
        );
    }

    #[test]
    fn azure_pipelines_needs_uri_connection_and_access_token() {
        let env = Env::from_pairs([
            ("SYSTEM_OIDCREQUESTURI", "https://dev.azure.com/o/_apis/x"),
            ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "sc-1"),
        ]);
        let (r, c) = select_explained(&sel(AuthMethod::Auto), &env);
        assert!(r.is_err());
        let p = c
            .iter()
            .find(|x| x.source == "Azure Pipelines OIDC")
            .unwrap();
        assert!(p.reason.contains("$(System.AccessToken)"), "{p:?}");
        let mut vars = env.vars.clone();
        vars.insert("SYSTEM_ACCESSTOKEN".into(), "ado".into());
        match select(&sel(AuthMethod::Auto), &Env { vars }).unwrap() {
            Credential::Federated(Federated {
                source:
                    FederatedSource::AzurePipelines {
                        service_connection_id,
                        ..
                    },
                ..
            }) => assert_eq!(service_connection_id, "sc-1"),
            other => panic!("{other:?}"),
        }
    }
}
