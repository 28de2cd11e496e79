//! `authctl emulator`: run the built-in Microsoft Graph emulator on loopback. The first line on stdout is the base
//! URL (`https://` with `--tls`; Graph at `{url}/v1.0`, the token endpoint at `{url}/{tenant}/oauth2/v2.0/token`); SIGINT or SIGTERM stops
//! it cleanly, folding the journal into the state file under `--persist`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use miette::IntoDiagnostic;

use crate::cli::Context;
use crate::clock::SystemClock;
use crate::emulator::{self, Options};
use crate::exit::ExitCode;
use crate::units::{Rate, parse_duration, parse_probability};

/// Arguments of `authctl emulator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tenant file (YAML) to serve; see README "emulator" for its format.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Keep changes: journal each one beside the state file (fsynced before answering) and fold them into the
    /// file at a clean stop.
    #[arg(long)]
    pub persist: bool,
    /// Added to every HTTP response (a `$batch` costs one).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub latency: Duration,
    /// Read token bucket, per request and per batch item (e.g. `800/1s`; `8000/10s` is a large tenant's budget).
    #[arg(long)]
    pub throttle: Option<Rate>,
    /// Write token bucket (e.g. `3000/150s`).
    #[arg(long)]
    pub write_throttle: Option<Rate>,
    /// Graph's documented identity-and-access limits for a tenant size: `small` (<50 users), `medium` (50-500) or
    /// `large` (>500): resource units and writes per app, writes per tenant, each `$batch` item charged on its own.
    #[arg(long, value_name = "SIZE")]
    pub throttle_profile: Option<emulator::ThrottleProfile>,
    /// Probability of answering a request 503 without applying it.
    #[arg(long, value_parser = parse_probability, default_value = "0")]
    pub fail_prob: f64,
    /// Probability of dropping a request's connection after applying it, without answering.
    #[arg(long, value_parser = parse_probability, default_value = "0")]
    pub drop_prob: f64,
    /// Read-after-write lag: reads see users' methods as of this long ago.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub lag: Duration,
    /// Seed of the fault draws; a non-zero seed also varies behaviours Microsoft documents inconsistently.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Approve device-code sign-ins at once (as the tenant's `deviceCodeUser`, else its first admin).
    #[arg(long)]
    pub auto_approve_device_code: bool,
    /// Serve HTTPS, with a certificate generated at start for 127.0.0.1, ::1 and localhost (or the one given by
    /// --tls-cert and --tls-key).
    #[arg(long)]
    pub tls: bool,
    /// The server certificate chain to use with --tls (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Write the certificate clients should trust (PEM) to this file before the URL is printed.
    #[arg(long, value_name = "FILE")]
    pub tls_cert_out: Option<PathBuf>,
}

/// The TLS identity the flags ask for, if any.
fn tls_identity(args: &Args) -> miette::Result<Option<emulator::TlsIdentity>> {
    let wants = args.tls || args.tls_cert.is_some() || args.tls_cert_out.is_some();
    if !wants {
        return Ok(None);
    }
    if !args.tls {
        return Err(miette::miette!(
            "--tls-cert, --tls-key and --tls-cert-out go with --tls"
        ));
    }
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).map_err(|e| miette::miette!("cannot read {}: {e}", p.display()))
    };
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => emulator::TlsIdentity {
            cert_pem: read(c)?,
            key_pem: read(k)?,
        },
        _ => emulator::TlsIdentity::generate().map_err(|e| miette::miette!("{e}"))?,
    };
    if let Some(out) = &args.tls_cert_out {
        std::fs::write(out, &identity.cert_pem)
            .map_err(|e| miette::miette!("cannot write {}: {e}", out.display()))?;
    }
    Ok(Some(identity))
}

/// Runs the command.
pub async fn run(args: Args, _ctx: &Context) -> miette::Result<ExitCode> {
    let tenant = emulator::load_tenant(&args.state).map_err(|e| miette::miette!("{e}"))?;
    let tls = tls_identity(&args)?;
    let options = Options {
        latency: args.latency,
        throttle: args.throttle,
        write_throttle: args.write_throttle,
        throttle_profile: args.throttle_profile,
        fail_prob: args.fail_prob,
        drop_prob: args.drop_prob,
        lag: args.lag,
        seed: args.seed,
        auto_approve_device_code: args.auto_approve_device_code,
        persist: args.persist.then(|| args.state.clone()),
        clock: Arc::new(SystemClock),
        listen: args.listen,
        page_size: None,
        tls,
    };
    let handle = emulator::spawn(tenant, options)
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handle.base_url()).into_diagnostic()?;
        out.flush().into_diagnostic()?;
    }
    tracing::info!(
        tenant = handle.tenant_id(),
        "emulator listening; Graph at {}/v1.0",
        handle.base_url()
    );
    wait_for_signal().await;
    tracing::info!("stopping");
    handle
        .shutdown()
        .await
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(ExitCode::Success)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
