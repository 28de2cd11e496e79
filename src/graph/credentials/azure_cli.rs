//! The Azure CLI's sign-in, as azure-identity's `AzureCliCredential` uses it: `az account get-access-token --output
//! json --resource {graph}` (plus `--tenant T` when a tenant is configured, so the token is never for another
//! directory), run without a shell from a fixed working directory, with a 10-second limit. The answer's
//! `accessToken` is used with `expires_on` (epoch seconds, Azure CLI 2.54 and later), else `expiresOn` (local time),
//! else the token's own `exp`. Failures are explained: the CLI is missing, nobody ran `az login`, or Entra refused.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;

use super::entra::number;
use super::{AccessToken, TokenContext, jwt_expiry};
use crate::clock;
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// How long `az` may take (azure-identity's limit).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of the CLI's output is read or shown.
const MAX_OUTPUT: usize = 64 * 1024;

/// The Azure CLI credential.
#[derive(Debug, Clone)]
pub struct AzureCli {
    /// The `az` program (found on `PATH`).
    pub program: PathBuf,
    /// `--tenant`, when a tenant is configured.
    pub tenant: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    access_token: String,
    #[serde(default, rename = "expires_on")]
    expires_on: Option<serde_json::Value>,
    #[serde(default)]
    expires_on_local: Option<String>,
    #[serde(default, rename = "expiresOn")]
    expires_on_text: Option<String>,
}

impl AzureCli {
    /// The credential for the `az` found on `path_var` (a `PATH` value), if any.
    pub fn find(path_var: Option<&str>, tenant: Option<String>) -> Option<AzureCli> {
        find_program(path_var?, "az").map(|program| AzureCli { program, tenant })
    }

    /// The arguments given to `az`.
    pub fn args(&self, resource: &str) -> Result<Vec<String>, AuthError> {
        let mut args: Vec<String> = [
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        args.push(resource.to_string());
        if let Some(t) = &self.tenant {
            if !is_valid_tenant(t) {
                return Err(AuthError::Config(format!(
                    "the tenant `{}` is not a tenant id or domain (letters, digits, `-` and `.` only)",
                    super::printable(t, 80)
                )));
            }
            args.push("--tenant".into());
            args.push(t.clone());
        }
        Ok(args)
    }

    /// Runs `az` and reads its token.
    pub async fn fetch(&self, cx: &TokenContext) -> Result<AccessToken, AuthError> {
        let resource = cx.resource.trim_end_matches('/');
        let args = self.args(resource)?;
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&args)
            .current_dir(safe_dir())
            .env("AZURE_CORE_NO_COLOR", "true")
            .env("AZURE_CORE_ONLY_SHOW_ERRORS", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                not_installed()
            } else {
                AuthError::AzureCli(format!("cannot run {}: {e}", self.program.display()))
            }
        })?;
        let out = match tokio::time::timeout(TIMEOUT, child.wait_with_output()).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => {
                return Err(AuthError::AzureCli(format!(
                    "cannot read the output of `az account get-access-token`: {e}"
                )));
            }
            Err(_) => {
                return Err(AuthError::AzureCli(format!(
                    "`az account get-access-token` did not answer within {} seconds (is it waiting for a \
                     prompt? run it yourself to see)",
                    TIMEOUT.as_secs()
                )));
            }
        };
        if !out.status.success() {
            return Err(explain_failure(
                out.status.code(),
                &out.stderr,
                self.tenant.as_deref(),
            ));
        }
        let stdout = &out.stdout[..out.stdout.len().min(MAX_OUTPUT)];
        parse_answer(stdout, cx.clock.now())
    }
}

/// Reads `az account get-access-token --output json`.
pub fn parse_answer(stdout: &[u8], now: Timestamp) -> Result<AccessToken, AuthError> {
    let a: Answer = serde_json::from_slice(stdout).map_err(|e| {
        AuthError::AzureCli(format!(
            "`az account get-access-token` printed something that is not its JSON answer ({e})"
        ))
    })?;
    if a.access_token.trim().is_empty() {
        return Err(AuthError::AzureCli(
            "`az account get-access-token` answered without an accessToken".into(),
        ));
    }
    let expires_at = a
        .expires_on
        .as_ref()
        .and_then(number)
        .and_then(|s| Timestamp::from_second(i64::try_from(s).ok()?).ok())
        .or_else(|| {
            a.expires_on_text
                .as_deref()
                .or(a.expires_on_local.as_deref())
                .and_then(parse_local_time)
        })
        .or_else(|| jwt_expiry(&a.access_token))
        .unwrap_or_else(|| clock::add(now, Duration::from_secs(300)));
    Ok(AccessToken {
        token: Secret::new(a.access_token.trim()),
        expires_at,
    })
}

/// `expiresOn`: `2026-12-02 05:31:10.000000`, in the machine's local time.
fn parse_local_time(s: &str) -> Option<Timestamp> {
    let dt: jiff::civil::DateTime = s.trim().replace(' ', "T").parse().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::system())
        .ok()
        .map(|z| z.timestamp())
}

/// An error for a failed `az` run, from its exit code and stderr (bounded, control characters removed).
pub fn explain_failure(code: Option<i32>, stderr: &[u8], tenant: Option<&str>) -> AuthError {
    let text = String::from_utf8_lossy(&stderr[..stderr.len().min(MAX_OUTPUT)]);
    let shown = super::printable(text.trim(), 500);
    let lower = text.to_ascii_lowercase();
    if code == Some(127)
        || lower.contains("command not found")
        || lower.contains("is not recognized")
    {
        return not_installed();
    }
    if lower.contains("az login") || lower.contains("az account set") {
        let login = match tenant {
            Some(t) => format!("az login --tenant {t}"),
            None => "az login".to_string(),
        };
        return AuthError::AzureCli(format!(
            "the Azure CLI is not signed in{}: run `{login}` (the CLI said: {shown})",
            tenant
                .map(|t| format!(" to tenant {t}"))
                .unwrap_or_default()
        ));
    }
    if lower.contains("aadsts") {
        return AuthError::AzureCli(format!(
            "Entra ID refused the Azure CLI's token request (sign in again with `az login`; the CLI said: {shown})"
        ));
    }
    AuthError::AzureCli(format!(
        "`az account get-access-token` failed{}: {shown}",
        code.map(|c| format!(" with exit code {c}"))
            .unwrap_or_default()
    ))
}

fn not_installed() -> AuthError {
    AuthError::AzureCli(
        "the Azure CLI (`az`) is not on PATH: install it (see Microsoft's \"How to install the Azure CLI\") and run \
         `az login`, or choose another credential with --auth"
            .into(),
    )
}

/// Letters, digits, `-` and `.`, starting with a letter or digit: what a tenant id or domain can be (azure-identity checks the same before passing
/// it to a process).
pub fn is_valid_tenant(t: &str) -> bool {
    t.starts_with(|c: char| c.is_ascii_alphanumeric())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// The first executable `name` on `path_var`.
pub fn find_program(path_var: &str, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &std::path::Path) -> bool {
    p.is_file() || p.with_extension("cmd").is_file()
}

/// A working directory outside the repository (so nothing there is run by mistake).
fn safe_dir() -> PathBuf {
    let bin = PathBuf::from("/bin");
    if bin.is_dir() {
        bin
    } else {
        std::env::temp_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_with_expires_on_epoch_seconds() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let t = parse_answer(
            br#"{"accessToken":"tok","expiresOn":"2023-11-14 23:13:20.000000","expires_on":1700003600,"tokenType":"Bearer"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.token.expose(), "tok");
        assert_eq!(t.expires_at.as_second(), 1_700_003_600);
    }

    #[test]
    fn answer_of_an_old_cli_uses_local_expires_on() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let t = parse_answer(
            br#"{"accessToken":"tok","expiresOn":"2030-01-01 00:00:00.000000"}"#,
            now,
        )
        .unwrap();
        assert!(t.expires_at > now);
    }

    #[test]
    fn garbage_and_empty_tokens_are_refused() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        assert!(parse_answer(b"WARNING: x", now).is_err());
        assert!(parse_answer(br#"{"accessToken":" "}"#, now).is_err());
    }

    #[test]
    fn failures_are_explained() {
        let e = explain_failure(
            Some(1),
            b"ERROR: Please run 'az login' to setup account.",
            Some("contoso.com"),
        );
        let s = e.to_string();
        assert!(s.contains("az login --tenant contoso.com"), "{s}");
        let s = explain_failure(Some(127), b"az: command not found", None).to_string();
        assert!(s.contains("not on PATH"), "{s}");
        let s = explain_failure(
            Some(1),
            b"ERROR: AADSTS70043: The refresh token has expired",
            None,
        )
        .to_string();
        assert!(s.contains("AADSTS70043") && s.contains("az login"), "{s}");
        let s = explain_failure(Some(2), b"\x1b[31mboom\x1b[0m", None).to_string();
        assert!(s.contains("exit code 2") && !s.contains('\x1b'), "{s}");
    }

    #[test]
    fn tenants_that_could_be_flags_or_shell_are_refused() {
        let az = AzureCli {
            program: "az".into(),
            tenant: Some("--help".into()),
        };
        assert!(
            az.args("https://graph.microsoft.com").is_err(),
            "never a flag"
        );
        let az = AzureCli {
            program: "az".into(),
            tenant: Some("a b;rm".into()),
        };
        assert!(az.args("https://graph.microsoft.com").is_err());
        let az = AzureCli {
            program: "az".into(),
            tenant: Some("contoso.onmicrosoft.com".into()),
        };
        assert_eq!(
            az.args("https://graph.microsoft.com").unwrap(),
            [
                "account",
                "get-access-token",
                "--output",
                "json",
                "--resource",
                "https://graph.microsoft.com",
                "--tenant",
                "contoso.onmicrosoft.com"
            ]
        );
    }
}
