//! Flags shared by every command that talks to Graph (tenant, endpoints, credentials, limits, `--emulate`), and
//! their resolution — once, flags over environment — into [`GraphSettings`] and a credential, then a connected
//! [`Graph`] client held by a [`GraphSession`].
//!
//! `--emulate tenant.yaml` starts the built-in emulator in-process on a free loopback port and signs in as the
//! tenant's first app with its secret, or, with `--emulate-as UPN`, through the real device-code flow, approving the
//! code through the emulator with the user's password from the tenant file. `AZURE_*` variables are ignored then.

use std::path::PathBuf;
use std::sync::Arc;

use miette::miette;
#[cfg(feature = "emulator")]
use miette::{IntoDiagnostic as _, WrapErr as _};

use crate::cli::Context;
use crate::cli::config::SettingSource;
use crate::clock::{SharedClock, SystemClock};
use crate::graph::credentials::device_code;
use crate::graph::credentials::select::{Selection, imds_url};
use crate::graph::credentials::{Considered, select_explained};
use crate::graph::settings::{parse_graph_root, parse_root};
use crate::graph::{AuthMethod, Cloud, Env, Graph, GraphSettings};
use crate::units::Rate;
#[cfg(feature = "emulator")]
use {
    crate::clock::VirtualClock,
    crate::emulator::{self, EmulatorHandle},
    crate::graph::Credential,
    crate::graph::credentials::Verdict,
    crate::graph::credentials::client_secret::ClientSecret,
    crate::graph::credentials::device_code::{DeviceCode, DeviceCodePrompt, PromptHandler},
};

/// The public client used for device-code sign-in when no `--client-id` is given: Microsoft Graph Command Line
/// Tools, which every tenant can consent to for the delegated scopes authctl needs.
pub const DEFAULT_PUBLIC_CLIENT: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// Flags shared by every Graph command; flattened into each command's `Args`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Graph connection")]
pub struct GraphArgs {
    /// Tenant id or domain.
    #[arg(long, env = "AZURE_TENANT_ID", hide_env_values = true)]
    pub tenant: Option<String>,
    /// The app's client id (for device-code sign-in: a public client; default Microsoft Graph Command Line Tools).
    #[arg(long, env = "AZURE_CLIENT_ID", hide_env_values = true)]
    pub client_id: Option<String>,
    /// Graph's host, with or without `/v1.0` (default: the cloud's, e.g. https://graph.microsoft.com).
    #[arg(long, env = "AUTHCTL_GRAPH_URL", value_name = "URL")]
    pub graph_url: Option<String>,
    /// The login authority host (default: the cloud's, e.g. https://login.microsoftonline.com).
    #[arg(long, env = "AZURE_AUTHORITY_HOST", value_name = "URL")]
    pub authority_host: Option<String>,
    /// The Microsoft cloud: sets Graph URL, authority host and federated-token audience.
    #[arg(long, value_enum, default_value_t = Cloud::Global, env = "AUTHCTL_CLOUD")]
    pub cloud: Cloud,
    /// Which credential to use; `auto` takes the first found in the environment.
    #[arg(long, value_enum, default_value_t = AuthMethod::Auto, env = "AUTHCTL_AUTH")]
    pub auth: AuthMethod,
    /// Where device-code sign-in keeps its refresh token (mode 0600).
    #[arg(long, env = "AUTHCTL_TOKEN_CACHE", value_name = "FILE")]
    pub token_cache: Option<PathBuf>,
    /// Graph requests in flight at most (one limit for the whole run).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Cap on the request rate, each `$batch` item counted (`off` for none).
    #[arg(long, default_value = "800/1s", value_parser = parse_max_rate, value_name = "N/DURATION")]
    pub max_rate: MaxRate,
    /// Read users one request each instead of `$batch` (for comparison).
    #[arg(long)]
    pub no_batch: bool,
    /// Print request counts, batch items, retries, 429s, bytes and elapsed time to stderr at exit.
    #[arg(long)]
    pub stats: bool,
    /// Stop the run when every connection to Graph has failed for this long, saying Graph is unreachable.
    #[arg(long, default_value = "30s", value_parser = crate::units::parse_duration, value_name = "DURATION")]
    pub unreachable_after: std::time::Duration,
    #[cfg(feature = "emulator")]
    /// Run against the built-in emulator loaded from this tenant file, in-process (ignores AZURE_* variables).
    #[arg(long, value_name = "TENANT_FILE")]
    pub emulate: Option<PathBuf>,
    #[cfg(feature = "emulator")]
    /// With --emulate: sign in as this user (device code approved through the emulator) instead of the first app.
    #[arg(long, value_name = "UPN", requires = "emulate")]
    pub emulate_as: Option<String>,
    #[cfg(feature = "emulator")]
    /// With --emulate: write changes back to the tenant file (journal beside it).
    #[arg(long, requires = "emulate")]
    pub emulate_persist: bool,
    #[cfg(feature = "emulator")]
    /// Tests: the embedded emulator and the client share a virtual clock (no real waiting).
    #[arg(long, hide = true, requires = "emulate")]
    pub virtual_clock: bool,
}

fn cloud_name(c: Cloud) -> String {
    use clap::ValueEnum as _;
    c.to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// `--max-rate`: a rate or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxRate(pub Option<Rate>);

fn parse_max_rate(s: &str) -> Result<MaxRate, String> {
    match s.trim() {
        "off" | "none" => Ok(MaxRate(None)),
        other => other.parse::<Rate>().map(|r| MaxRate(Some(r))),
    }
}

/// A connected Graph client, and the embedded emulator when `--emulate` started one. [`GraphSession::finish`] prints
/// `--stats` and stops the emulator cleanly (folding its journal under `--emulate-persist`).
pub struct GraphSession {
    /// The client.
    pub graph: Graph,
    #[cfg(feature = "emulator")]
    emulator: Option<EmulatorHandle>,
    /// Every credential source considered, and why it was or was not chosen (for `auth check`).
    pub sources: Vec<Considered>,
    /// Where each connection setting came from (flag, environment, config file, default).
    pub settings_sources: Vec<SettingSource>,
    print_stats: bool,
    finished: bool,
}

impl std::fmt::Debug for GraphSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphSession")
            .field("graph", &self.graph)
            .field("emulated", &self.is_emulated())
            .finish_non_exhaustive()
    }
}

impl GraphSession {
    /// True when `--emulate` started an embedded emulator.
    pub fn is_emulated(&self) -> bool {
        #[cfg(feature = "emulator")]
        return self.emulator.is_some();
        #[cfg(not(feature = "emulator"))]
        false
    }

    /// The embedded emulator, when `--emulate` started one.
    #[cfg(feature = "emulator")]
    pub fn emulator(&self) -> Option<&EmulatorHandle> {
        self.emulator.as_ref()
    }

    /// Prints `--stats` and stops the embedded emulator cleanly.
    pub async fn finish(mut self) -> miette::Result<()> {
        self.finished = true;
        self.report_stats();
        #[cfg(feature = "emulator")]
        if let Some(h) = self.emulator.take() {
            h.shutdown()
                .await
                .into_diagnostic()
                .wrap_err("stopping the embedded emulator")?;
        }
        Ok(())
    }

    fn report_stats(&self) {
        if self.print_stats {
            eprintln!("{}", self.graph.stats());
        }
    }
}

impl Drop for GraphSession {
    fn drop(&mut self) {
        // A command that returned early (an error) still owes `--stats`; the emulator handle stops on its own drop.
        if !self.finished {
            self.report_stats();
        }
    }
}

impl GraphArgs {
    /// These flags with the config file's values filled in where no flag or environment variable gave one, and
    /// where each setting came from.
    pub fn resolve(&self, ctx: &Context) -> miette::Result<(GraphArgs, Vec<SettingSource>)> {
        let mut g = self.clone();
        let cfg_path = ctx
            .config
            .as_ref()
            .map(|c| c.path.display().to_string())
            .unwrap_or_default();
        let explicit = ctx.explicit.clone().unwrap_or_default();
        let env = Env::from_process();
        let mut sources = Vec::new();
        let mut note = |setting: &'static str, value: String, from: String| {
            sources.push(SettingSource {
                setting,
                value,
                from,
            })
        };
        // tenant and client id: flag, AZURE_*, ARM_*, config file.
        for (setting, id, flag, var, arm) in [
            (
                "tenant",
                "tenant",
                "--tenant",
                "AZURE_TENANT_ID",
                "ARM_TENANT_ID",
            ),
            (
                "client id",
                "client_id",
                "--client-id",
                "AZURE_CLIENT_ID",
                "ARM_CLIENT_ID",
            ),
        ] {
            let slot = if id == "tenant" {
                &mut g.tenant
            } else {
                &mut g.client_id
            };
            let from = if explicit.flags.contains(id) {
                Some(flag.to_string())
            } else if explicit.env.contains(id) || (ctx.explicit.is_none() && slot.is_some()) {
                Some(var.to_string())
            } else if let Some(v) = env.get(arm) {
                *slot = Some(v.to_string());
                Some(arm.to_string())
            } else if let Some(v) = ctx.from_config(id, |c| {
                if id == "tenant" {
                    c.tenant.clone()
                } else {
                    c.client_id.clone()
                }
            }) {
                *slot = Some(v);
                Some(cfg_path.clone())
            } else {
                None
            };
            match (slot.as_ref(), from) {
                (Some(v), Some(from)) => note(setting, v.clone(), from),
                _ => note(setting, "(not set)".into(), "nowhere".into()),
            }
        }
        // cloud, parallelism, max rate: flag (or AUTHCTL_CLOUD), config file, default.
        let from = |id: &str, flag: &str, var: Option<&str>| -> Option<String> {
            if explicit.flags.contains(id) {
                Some(flag.to_string())
            } else if explicit.env.contains(id) {
                var.map(str::to_string)
            } else {
                None
            }
        };
        let cloud_from = match from("cloud", "--cloud", Some("AUTHCTL_CLOUD")) {
            Some(f) => f,
            None => match ctx.config.as_ref().filter(|_| ctx.explicit.is_some()) {
                Some(c) => match c.cloud().map_err(|e| miette!("{e}"))? {
                    Some(cloud) => {
                        g.cloud = cloud;
                        cfg_path.clone()
                    }
                    None => "default".into(),
                },
                None => "default".into(),
            },
        };
        note("cloud", cloud_name(g.cloud), cloud_from);
        let par_from = match from("parallelism", "--parallelism", None) {
            Some(f) => f,
            None => match ctx.from_config("parallelism", |c| c.limits.parallelism) {
                Some(p) => {
                    g.parallelism = p;
                    cfg_path.clone()
                }
                None => "default".into(),
            },
        };
        note("parallelism", g.parallelism.to_string(), par_from);
        let rate_from = match from("max_rate", "--max-rate", None) {
            Some(f) => f,
            None => match ctx.from_config("max_rate", |c| c.limits.max_rate.clone()) {
                Some(r) => {
                    g.max_rate = parse_max_rate(&r)
                        .map_err(|e| miette!("{cfg_path}: limits.maxRate `{r}`: {e}"))?;
                    cfg_path.clone()
                }
                None => "default".into(),
            },
        };
        note(
            "max rate",
            match g.max_rate.0 {
                Some(r) => r.to_string(),
                None => "off".into(),
            },
            rate_from,
        );
        Ok((g, sources))
    }

    /// Resolves the settings and the credential and builds the client (starting the emulator under `--emulate`).
    pub async fn connect(&self, ctx: &Context) -> miette::Result<GraphSession> {
        let (resolved, settings_sources) = self.resolve(ctx)?;
        let mut session = resolved.connect_resolved().await?;
        session.settings_sources = settings_sources;
        Ok(session)
    }

    async fn connect_resolved(&self) -> miette::Result<GraphSession> {
        #[cfg(feature = "emulator")]
        if let Some(path) = &self.emulate {
            let clock: SharedClock = if self.virtual_clock {
                VirtualClock::fixed()
            } else {
                Arc::new(SystemClock)
            };
            return self.connect_emulated(path, clock).await;
        }
        let clock: SharedClock = Arc::new(SystemClock);
        let settings = self.settings()?;
        let selection = Selection {
            method: self.auth,
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            token_cache: self.token_cache.clone().or_else(default_token_cache),
            prompt: device_code::stderr_prompt(),
            imds_url: imds_url(),
            default_public_client: DEFAULT_PUBLIC_CLIENT.to_string(),
        };
        let (credential, sources) = select_explained(&selection, &Env::from_process());
        let credential = credential.map_err(|e| miette!("{e}"))?;
        let graph = Graph::builder(settings, credential)
            .clock(clock)
            .build()
            .map_err(|e| miette!("{e}"))?;
        Ok(GraphSession {
            graph,
            #[cfg(feature = "emulator")]
            emulator: None,
            sources,
            settings_sources: Vec::new(),
            print_stats: self.stats,
            finished: false,
        })
    }

    /// Settings from `--cloud`, overridden by `--graph-url`/`--authority-host`, plus the limits.
    pub fn settings(&self) -> miette::Result<GraphSettings> {
        let mut s = GraphSettings::for_cloud(self.cloud);
        if let Some(u) = &self.graph_url {
            s.graph_url = parse_graph_root(u).map_err(|e| miette!("--graph-url: {e}"))?;
        }
        if let Some(u) = &self.authority_host {
            s.authority = parse_root(u).map_err(|e| miette!("--authority-host: {e}"))?;
        }
        self.apply_limits(&mut s);
        s.check().map_err(|e| miette!("{e}"))?;
        Ok(s)
    }

    fn apply_limits(&self, s: &mut GraphSettings) {
        s.parallelism = usize::from(self.parallelism);
        s.max_rate = self.max_rate.0;
        s.batching = !self.no_batch;
        s.unreachable_after = self.unreachable_after;
    }

    #[cfg(feature = "emulator")]
    async fn connect_emulated(
        &self,
        path: &std::path::Path,
        clock: SharedClock,
    ) -> miette::Result<GraphSession> {
        let tenant = emulator::load_tenant(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("loading the tenant file {}", path.display()))?;
        let app = tenant.apps.first().cloned().ok_or_else(|| {
            miette!(
                "{}: the tenant has no apps; --emulate signs in as the first app",
                path.display()
            )
        })?;
        let tenant_id = tenant.tenant_id.clone();
        let password = match &self.emulate_as {
            Some(upn) => Some(
                tenant
                    .users
                    .iter()
                    .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
                    .ok_or_else(|| {
                        miette!("--emulate-as {upn}: no such user in {}", path.display())
                    })?
                    .password
                    .clone()
                    .ok_or_else(|| {
                        miette!(
                            "--emulate-as {upn}: the user has no password in {}",
                            path.display()
                        )
                    })?,
            ),
            None => None,
        };
        let options = emulator::Options {
            clock: clock.clone(),
            persist: self.emulate_persist.then(|| path.to_path_buf()),
            ..emulator::Options::default()
        };
        let handle = emulator::spawn(tenant, options)
            .await
            .into_diagnostic()
            .wrap_err("starting the embedded emulator")?;
        let base = handle.base_url();
        let mut settings = GraphSettings::for_base_url(&base).map_err(|e| miette!("{e}"))?;
        self.apply_limits(&mut settings);
        let credential = match (&self.emulate_as, password) {
            (Some(upn), Some(password)) => Credential::DeviceCode(DeviceCode::new(
                &tenant_id,
                &app.client_id,
                None,
                emulator_approval(&base, upn, &password),
            )),
            _ => Credential::ClientSecret(ClientSecret {
                tenant: tenant_id,
                client_id: app.client_id.clone(),
                secret: app
                    .secret
                    .clone()
                    .map(crate::graph::Secret::new)
                    .ok_or_else(|| miette!("{}: the first app has no secret", path.display()))?,
            }),
        };
        let graph = Graph::builder(settings, credential)
            .clock(clock)
            .build()
            .map_err(|e| miette!("{e}"))?;
        Ok(GraphSession {
            graph,
            emulator: Some(handle),
            sources: vec![Considered {
                source: "emulator",
                verdict: Verdict::Chosen,
                reason: "--emulate: the environment's credentials are ignored".into(),
            }],
            settings_sources: Vec::new(),
            print_stats: self.stats,
            finished: false,
        })
    }
}

#[cfg(feature = "emulator")]
/// A device-code prompt handler that approves the code through the emulator as `upn` with `password` (the same
/// request a tester would make), so `--emulate-as` runs the real device-code flow.
pub fn emulator_approval(base: &str, upn: &str, password: &str) -> PromptHandler {
    let url = format!("{}/_emulator/device/approve", base.trim_end_matches('/'));
    let upn = upn.to_string();
    let password = crate::graph::Secret::new(password);
    Arc::new(move |p: DeviceCodePrompt| {
        let url = url.clone();
        let upn = upn.clone();
        let password = password.clone();
        Box::pin(async move {
            let body = serde_json::json!({ "user_code": p.user_code, "upn": upn, "password": password.expose() });
            match reqwest::Client::new().post(&url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::debug!("device code approved through the emulator")
                }
                Ok(r) => tracing::warn!(
                    status = r.status().as_u16(),
                    "the emulator refused the device-code approval"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the emulator to approve the device code")
                }
            }
        })
    })
}

/// `$XDG_CACHE_HOME/authctl/device-code.json`, else `~/.cache/authctl/device-code.json`.
fn default_token_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("authctl").join("device-code.json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        g: GraphArgs,
    }

    #[test]
    fn flags_resolve_into_settings() {
        let t = T::parse_from([
            "t",
            "--cloud",
            "usgov",
            "--parallelism",
            "3",
            "--max-rate",
            "100/10s",
            "--no-batch",
        ]);
        let s = t.g.settings().unwrap();
        assert_eq!(s.graph_url.as_str(), "https://graph.microsoft.us/");
        assert_eq!(s.authority.as_str(), "https://login.microsoftonline.us/");
        assert_eq!(s.parallelism, 3);
        assert_eq!(s.max_rate.map(|r| r.count), Some(100));
        assert!(!s.batching);
        let t = T::parse_from([
            "t",
            "--graph-url",
            "http://127.0.0.1:9",
            "--authority-host",
            "http://127.0.0.1:9",
            "--max-rate",
            "off",
        ]);
        let s = t.g.settings().unwrap();
        assert_eq!(s.graph_url.as_str(), "http://127.0.0.1:9/");
        assert_eq!(s.max_rate, None);
    }

    #[test]
    fn plain_http_to_a_remote_graph_is_refused() {
        let t = T::parse_from(["t", "--graph-url", "http://graph.example.com"]);
        let e = t.g.settings().unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }

    #[cfg(feature = "emulator")]
    #[test]
    fn emulate_only_flags_need_emulate() {
        assert!(T::try_parse_from(["t", "--emulate-as", "a@b"]).is_err());
        assert!(T::try_parse_from(["t", "--virtual-clock"]).is_err());
    }
}
