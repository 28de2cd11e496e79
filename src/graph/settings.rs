//! Resolved client settings: endpoints (by national cloud or explicit URLs) and limits. Built once by the CLI from
//! flags and environment; nothing in the client reads flags.

use std::time::Duration;

use url::Url;

use crate::graph::credentials::is_safe_for_credentials;
use crate::graph::retry::RetryPolicy;
use crate::units::Rate;

/// A Microsoft cloud (`--cloud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Cloud {
    /// The global cloud (including M365 GCC).
    #[default]
    Global,
    /// US Government L4 (GCC High).
    Usgov,
    /// US Government L5 (DoD).
    UsgovDod,
}

impl Cloud {
    /// Graph's root URL.
    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::Usgov => "https://graph.microsoft.us",
            Cloud::UsgovDod => "https://dod-graph.microsoft.us",
        }
    }

    /// The login authority host.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::Usgov | Cloud::UsgovDod => "https://login.microsoftonline.us",
        }
    }

    /// The audience of federated tokens exchanged in this cloud.
    pub fn federation_audience(self) -> &'static str {
        match self {
            Cloud::Global => "api://AzureADTokenExchange",
            Cloud::Usgov | Cloud::UsgovDod => "api://AzureADTokenExchangeUSGov",
        }
    }
}

/// Everything the client needs besides the credential and the clock.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    /// Graph's root, e.g. `https://graph.microsoft.com` (without `/v1.0`).
    pub graph_url: Url,
    /// The authority host, e.g. `https://login.microsoftonline.com/`.
    pub authority: Url,
    /// The audience of federated tokens.
    pub federation_audience: String,
    /// Requests in flight at most (`--parallelism`).
    pub parallelism: usize,
    /// The request-rate cap (`--max-rate`), counting each `$batch` item.
    pub max_rate: Option<Rate>,
    /// Use `$batch` for many-user reads (`--no-batch` turns it off).
    pub batching: bool,
    /// Retry bounds.
    pub retry: RetryPolicy,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (above Graph's own 60 s).
    pub request_timeout: Duration,
    /// When every request's connection has failed for this long (no answer of any kind in between), Graph is
    /// taken to be unreachable: requests in flight give up and new ones fail at once, so a run ends within about
    /// this time instead of each request spending its whole retry budget (`--unreachable-after`, default 30 s).
    pub unreachable_after: Duration,
}

impl GraphSettings {
    /// The defaults for `cloud`.
    pub fn for_cloud(cloud: Cloud) -> GraphSettings {
        GraphSettings {
            graph_url: parse_root(cloud.graph_url())
                .unwrap_or_else(|_| unreachable!("constant URL")),
            authority: parse_root(cloud.authority_host())
                .unwrap_or_else(|_| unreachable!("constant URL")),
            federation_audience: cloud.federation_audience().to_string(),
            parallelism: 8,
            max_rate: Some(Rate {
                count: 800,
                per: Duration::from_secs(1),
            }),
            batching: true,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(100),
            unreachable_after: Duration::from_secs(30),
        }
    }

    /// The defaults for a Graph (or emulator) at `base`, which doubles as the authority host.
    pub fn for_base_url(base: &str) -> Result<GraphSettings, String> {
        let mut s = GraphSettings::for_cloud(Cloud::Global);
        s.graph_url = parse_root(base)?;
        s.authority = parse_root(base)?;
        Ok(s)
    }

    /// Refuses endpoints a bearer token or a secret must not go to.
    pub fn check(&self) -> Result<(), String> {
        for (what, u) in [
            ("--graph-url", &self.graph_url),
            ("--authority-host", &self.authority),
        ] {
            if !is_safe_for_credentials(u) {
                return Err(format!(
                    "{what} `{u}`: credentials and tokens are sent only over https, or plain http to a loopback address"
                ));
            }
        }
        if self.parallelism == 0 {
            return Err("--parallelism must be at least 1".into());
        }
        Ok(())
    }
}

/// Parses a root URL: adds `https://` when no scheme is given, drops a trailing path slash, keeps a path prefix.
pub fn parse_root(s: &str) -> Result<Url, String> {
    let t = s.trim();
    let with_scheme = if t.contains("://") {
        t.to_string()
    } else {
        format!("https://{t}")
    };
    let mut u = Url::parse(&with_scheme).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    if u.cannot_be_a_base() || u.host().is_none() {
        return Err(format!("`{s}` is not an http(s) URL with a host"));
    }
    let path = u.path().trim_end_matches('/').to_string();
    u.set_path(&format!("{path}/"));
    u.set_query(None);
    u.set_fragment(None);
    Ok(u)
}

/// Parses `--graph-url`: Graph's host (`https://graph.microsoft.com`), with or without a trailing `/` or `/v1.0`
/// (authctl adds `/v1.0` itself). Any other path (`/beta`, a proxy prefix) is refused: every request would go to
/// the wrong place.
pub fn parse_graph_root(s: &str) -> Result<Url, String> {
    let mut u = parse_root(s)?;
    match u.path() {
        "/" => {}
        p if p.eq_ignore_ascii_case("/v1.0/") => u.set_path("/"),
        p => {
            return Err(format!(
                "`{s}` has the path `{}`; give Graph's host, e.g. https://graph.microsoft.com or \
                 https://graph.microsoft.com/v1.0 (authctl calls the v1.0 API only)",
                p.trim_end_matches('/')
            ));
        }
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_roots_accept_the_host_with_or_without_v1() {
        for ok in [
            "https://graph.microsoft.com",
            "https://graph.microsoft.com/",
            "https://graph.microsoft.com/v1.0",
            "https://graph.microsoft.com/v1.0/",
            "http://127.0.0.1:8080/v1.0",
        ] {
            let u = parse_graph_root(ok).unwrap();
            assert_eq!(u.path(), "/", "{ok}");
        }
        for bad in [
            "https://graph.microsoft.com/beta",
            "https://proxy/graph/v1.0",
        ] {
            let e = parse_graph_root(bad).unwrap_err();
            assert!(e.contains("v1.0"), "{e}");
        }
    }

    #[test]
    fn roots_are_normalised() {
        assert_eq!(
            parse_root("login.microsoftonline.us").unwrap().as_str(),
            "https://login.microsoftonline.us/"
        );
        assert_eq!(
            parse_root("https://graph.microsoft.com/").unwrap().as_str(),
            "https://graph.microsoft.com/"
        );
        assert_eq!(
            parse_root("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
    }

    #[test]
    fn national_clouds() {
        let s = GraphSettings::for_cloud(Cloud::UsgovDod);
        assert_eq!(s.graph_url.as_str(), "https://dod-graph.microsoft.us/");
        assert_eq!(s.authority.as_str(), "https://login.microsoftonline.us/");
        assert_eq!(s.federation_audience, "api://AzureADTokenExchangeUSGov");
        assert!(s.check().is_ok());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(
            GraphSettings::for_base_url("http://127.0.0.1:1")
                .unwrap()
                .check()
                .is_ok()
        );
        let e = GraphSettings::for_base_url("http://graph.example.com")
            .unwrap()
            .check()
            .unwrap_err();
        assert!(e.contains("loopback"), "{e}");
    }
}
