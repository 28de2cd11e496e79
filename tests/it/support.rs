//! Shared test set-up: fixtures, the emulator on a free loopback port, and running the real binary.
//!
//! ```ignore
//! let emu = Emu::example().await;                       // examples/tenant.yaml, VirtualClock, no faults
//! let token = emu.app_token().await;                    // client_credentials of the first app, over HTTP
//! let r = emu.get("/users/AdeleV@contoso.com/authentication/phoneMethods", &token).await;
//! assert_eq!(r.status, 200);
//! let out = emu.run_authctl(&["methods", "AdeleV@contoso.com"]).await;   // the real binary, AZURE_* set
//! ```
//!
//! Others may append helpers at the end of this file.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Output, Stdio};
use std::sync::Arc;

use authctl::clock::VirtualClock;
use authctl::emulator::{self, EmulatorHandle, Options, Stats, Tenant, TokenSpec};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

/// The example tenant (examples/tenant.yaml), as text.
pub const EXAMPLE_TENANT: &str = include_str!("../../examples/tenant.yaml");

/// The example tenant's first (read-write) app.
pub const RW_CLIENT_ID: &str = "5a1e0c3d-7b2f-4e6a-9c8d-1f2e3a4b5c6d";
/// Its secret.
pub const RW_SECRET: &str = "emulator-rw-secret";
/// The example tenant's read-only app.
pub const RO_CLIENT_ID: &str = "6b2f1d4e-8c3a-4f7b-0d9e-2a3b4c5d6e7f";
/// Its secret.
pub const RO_SECRET: &str = "emulator-ro-secret";
/// The mobile phone method id.
pub const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
/// The alternateMobile phone method id.
pub const ALTERNATE: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
/// The office phone method id.
pub const OFFICE: &str = "e37fc753-ff3b-4958-9484-eaa9425c82bc";
/// The password method id.
pub const PASSWORD: &str = "28c10230-6103-485e-b985-444c60001490";

/// A small tenant for rule tests: one read-write app (`rw`/`s3cret`), an admin (PAA), a helpdesk (AA only), and
/// users `kim` (in SMS policy), `lee` (not in policy, default method mobile) and `sam` (synced).
pub const SMALL_TENANT: &str = r#"
tenantId: 00000000-0000-4000-8000-0000000000aa
domains: [contoso.com]
apps:
  - name: rw
    clientId: 00000000-0000-4000-8000-00000000a001
    secret: s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
    delegatedPermissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
    tokenLifetime: 1h
  - name: ro
    clientId: 00000000-0000-4000-8000-00000000a002
    secret: r3ad
    permissions: [UserAuthMethod-Phone.Read.All]
bannedPasswords: [contoso]
users:
  - id: 00000000-0000-4000-8000-000000000001
    userPrincipalName: admin@contoso.com
    displayName: Admin
    roles: [Privileged Authentication Administrator]
    password: Admin-Pass1!
  - id: 00000000-0000-4000-8000-000000000002
    userPrincipalName: helpdesk@contoso.com
    displayName: Helpdesk
    roles: [Authentication Administrator]
    password: Help-Pass1!
  - id: 00000000-0000-4000-8000-000000000003
    userPrincipalName: kim@contoso.com
    displayName: Kim Akers
    smsSignInPolicy: true
    password: Kim-Pass1!
  - id: 00000000-0000-4000-8000-000000000004
    userPrincipalName: lee@contoso.com
    displayName: Lee Gu
    defaultMethod: mobile
    phones:
      mobile: { number: "+1 2065550004" }
      office: { number: "+1 4255550004x12" }
  - id: 00000000-0000-4000-8000-000000000005
    userPrincipalName: sam@contoso.com
    displayName: Sam Synced
    synced: true
    smsSignInPolicy: true
    phones:
      mobile: { number: "+1 2065550005", smsSignInState: ready }
"#;

/// The id of a user of [`SMALL_TENANT`].
pub fn small_id(name: &str) -> &'static str {
    match name {
        "admin" => "00000000-0000-4000-8000-000000000001",
        "helpdesk" => "00000000-0000-4000-8000-000000000002",
        "kim" => "00000000-0000-4000-8000-000000000003",
        "lee" => "00000000-0000-4000-8000-000000000004",
        "sam" => "00000000-0000-4000-8000-000000000005",
        other => panic!("no user {other} in SMALL_TENANT"),
    }
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the repository's root.
pub fn repo_path(rel: &str) -> PathBuf {
    repo().join(rel)
}

/// One of Microsoft's examples (tests/fixtures/graph-examples/NAME.json).
/// Copies a directory tree (the examples' manifests into a test's own directory, to edit them there).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

pub fn graph_example(name: &str) -> Value {
    let p = repo_path(&format!("tests/fixtures/graph-examples/{name}.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A parsed tenant (panics on an invalid file: a test bug).
pub fn tenant(yaml: &str) -> Tenant {
    Tenant::from_yaml(yaml).unwrap_or_else(|e| panic!("tenant: {e}"))
}

/// A Graph answer: status, headers and the JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON.
    pub body: Value,
}

impl Reply {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// `error.code` of a Graph error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts a Graph error: status, `error.code`, a `request-id` header equal to `innerError.request-id`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        let rid = self.header("request-id").expect("request-id header");
        assert!(!rid.is_empty());
        assert_eq!(self.body["error"]["innerError"]["request-id"], json!(rid));
        assert!(self.body["error"]["innerError"]["date"].is_string());
        assert!(self.body["error"]["innerError"]["client-request-id"].is_string());
    }
}

/// An in-process emulator on 127.0.0.1:0 with a [`VirtualClock`], and a plain HTTP client for it.
pub struct Emu {
    /// The running emulator.
    pub handle: EmulatorHandle,
    /// Its clock (advance it, or share it with a client under test).
    pub clock: Arc<VirtualClock>,
    /// A reqwest client without retries.
    pub http: reqwest::Client,
}

impl Emu {
    /// The emulator over `yaml`, no faults.
    pub async fn start(yaml: &str) -> Emu {
        Emu::start_with(yaml, |_| {}).await
    }

    /// The emulator over `yaml` with options adjusted by `f` (its clock is already a fresh VirtualClock).
    pub async fn start_with(yaml: &str, f: impl FnOnce(&mut Options)) -> Emu {
        let clock = VirtualClock::fixed();
        let mut options = Options {
            clock: clock.clone(),
            ..Options::default()
        };
        f(&mut options);
        let handle = emulator::spawn(tenant(yaml), options)
            .await
            .expect("emulator starts");
        Emu {
            handle,
            clock,
            http: reqwest::Client::new(),
        }
    }

    /// The emulator over examples/tenant.yaml.
    pub async fn example() -> Emu {
        Emu::start(EXAMPLE_TENANT).await
    }

    /// The emulator over [`SMALL_TENANT`].
    pub async fn small() -> Emu {
        Emu::start(SMALL_TENANT).await
    }

    /// `http://127.0.0.1:PORT` (also the authority host).
    pub fn url(&self) -> String {
        self.handle.base_url()
    }

    /// `{url}/v1.0`.
    pub fn graph_url(&self) -> String {
        self.handle.graph_url()
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> String {
        self.handle.tenant_id().to_string()
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        self.handle.token_url()
    }

    /// Statistics so far.
    pub fn stats(&self) -> Stats {
        self.handle.stats()
    }

    /// The current state.
    pub fn snapshot(&self) -> Tenant {
        self.handle.snapshot()
    }

    /// Posts a form to the token endpoint; returns status and JSON.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(self.token_url())
            .form(form)
            .send()
            .await
            .expect("token endpoint answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A client-credentials token for an app and secret, over HTTP.
    pub async fn secret_token(&self, client_id: &str, secret: &str) -> String {
        let (status, body) = self
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .await;
        assert_eq!(status, 200, "token: {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// A client-credentials token of the tenant's first app (its secret), over HTTP.
    pub async fn app_token(&self) -> String {
        let t = self.snapshot();
        let app = t.apps.first().expect("the tenant has an app");
        self.secret_token(
            &app.client_id,
            app.secret.as_deref().expect("first app has a secret"),
        )
        .await
    }

    /// A token minted directly (no HTTP).
    pub fn token(&self, spec: TokenSpec) -> String {
        self.handle.mint_token(spec)
    }

    /// A delegated token for `upn` with the first app's delegated permissions and the user's roles.
    pub fn delegated(&self, upn: &str) -> String {
        self.token(TokenSpec {
            user: Some(upn.to_string()),
            ..TokenSpec::default()
        })
    }

    /// A Graph request: `path` is relative to `/v1.0` (`/users/...`) or absolute (`http://...`).
    pub async fn send(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.graph_url())
        };
        let mut rb = self
            .http
            .request(method.parse().expect("method"), url)
            .header("client-request-id", "7e57c11e-0000-4000-8000-000000000000");
        if !token.is_empty() {
            rb = rb.bearer_auth(token);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("emulator answers");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// `GET`.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, token, None).await
    }

    /// `POST` with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send("POST", path, token, Some(body)).await
    }

    /// `PATCH` with a JSON body.
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send("PATCH", path, token, Some(body)).await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.send("DELETE", path, token, None).await
    }

    /// Environment for the real binary: the first app's credentials against this emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        let t = self.snapshot();
        let app = t.apps.first().expect("an app");
        vec![
            ("AZURE_TENANT_ID".into(), self.tenant_id()),
            ("AZURE_CLIENT_ID".into(), app.client_id.clone()),
            (
                "AZURE_CLIENT_SECRET".into(),
                app.secret.clone().unwrap_or_default(),
            ),
            ("AZURE_AUTHORITY_HOST".into(), self.url()),
            ("NO_COLOR".into(), "1".into()),
        ]
    }

    /// The real binary with [`Emu::env`] set and every other `AZURE_*`/`AUTHCTL_*` credential variable cleared.
    /// Add the Graph command's own flags (e.g. `--graph-url`) as the client defines them.
    pub fn authctl(&self) -> assert_cmd::Command {
        let mut cmd = authctl_cmd();
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the real binary with `args` on a blocking thread (the emulator keeps serving meanwhile).
    pub async fn run_authctl(&self, args: &[&str]) -> Output {
        let mut cmd = self.authctl();
        cmd.args(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("authctl runs"))
            .await
            .expect("authctl thread")
    }
}

/// The real binary, `NO_COLOR=1`, with credential variables cleared.
pub fn authctl_cmd() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_authctl"));
    for k in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "AUTHCTL_ACCESS_TOKEN",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "AUTHCTL_LOG",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "ARM_TENANT_ID",
        "ARM_CLIENT_ID",
        "ARM_CLIENT_SECRET",
        "ARM_CLIENT_CERTIFICATE_PATH",
        "ARM_CLIENT_CERTIFICATE_PASSWORD",
        "ARM_USE_OIDC",
        "ARM_OIDC_TOKEN",
        "ARM_OIDC_TOKEN_FILE_PATH",
        "ARM_OIDC_REQUEST_URL",
        "ARM_OIDC_REQUEST_TOKEN",
        "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
        "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID",
        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
        "SYSTEM_OIDCREQUESTURI",
        "SYSTEM_ACCESSTOKEN",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// A throwaway RSA certificate for an app: (certificate PEM, PKCS#8 private key PEM, DER bytes).
pub fn make_certificate() -> (String, String, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let params = rcgen::CertificateParams::new(vec!["authctl-test".to_string()]).expect("params");
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

/// A throwaway EC P-256 issuer key: (PKCS#8 private key PEM, public key PEM).
pub fn make_issuer_key() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("EC key");
    (key.serialize_pem(), key.public_key_pem())
}

/// A certificate client assertion (PS256, `x5t#S256`) as the token endpoint expects it.
pub fn certificate_assertion(
    key_pem: &str,
    cert_der: &[u8],
    client_id: &str,
    aud: &str,
    now: i64,
) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(cert_der)),
    );
    let claims = json!({
        "aud": aud, "iss": client_id, "sub": client_id, "jti": format!("jti-{now}"),
        "nbf": now, "iat": now, "exp": now + 600,
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("RSA key"),
    )
    .expect("signs")
}

/// A federated assertion (ES256) as an external issuer (e.g. GitHub Actions) would issue it.
pub fn federated_assertion(key_pem: &str, iss: &str, sub: &str, aud: &str, now: i64) -> String {
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    let claims =
        json!({ "iss": iss, "sub": sub, "aud": aud, "nbf": now, "iat": now, "exp": now + 600 });
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(key_pem.as_bytes()).expect("EC key"),
    )
    .expect("signs")
}

/// `authctl emulator` as a child process (the real binary), with its base URL read from its first stdout line.
pub struct EmulatorProcess {
    /// The child.
    pub child: Child,
    /// Its base URL.
    pub url: String,
}

impl EmulatorProcess {
    /// Starts `authctl emulator --state STATE ARGS...` and waits for its URL line.
    pub fn start(state: &std::path::Path, args: &[&str]) -> EmulatorProcess {
        let mut child = StdCommand::new(env!("CARGO_BIN_EXE_authctl"))
            .arg("emulator")
            .arg("--state")
            .arg(state)
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("authctl emulator starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reads the URL line");
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
            "first line: {url:?}"
        );
        EmulatorProcess { child, url }
    }

    /// Sends a signal (`TERM`, `KILL`, `INT`) to the child.
    pub fn signal(&self, sig: &str) {
        let status = StdCommand::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the child to exit and returns its exit code (`None` when a signal ended it).
    pub fn wait(mut self) -> Option<i32> {
        self.child.wait().expect("waits for the child").code()
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A temporary directory holding an emulator tenant file, `tenant.yaml`, for runs of the real binary with
/// `--emulate tenant.yaml --virtual-clock` (`--emulate-persist` among the arguments writes the tenant back).
pub struct TenantDir {
    /// The directory.
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl TenantDir {
    /// A new directory with `tenant` as its `tenant.yaml`.
    pub fn new(tenant: &str) -> TenantDir {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("tenant.yaml"), tenant).unwrap();
        TenantDir { dir, _tmp: tmp }
    }

    /// Writes the file `name` (a relative path; its folders are made).
    pub fn write(&self, name: &str, text: &str) {
        let p = self.dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Runs `authctl COMMAND ARGS… --emulate tenant.yaml --virtual-clock` in the directory.
    pub fn run(&self, command: &str, args: &[&str]) -> Output {
        authctl_cmd()
            .current_dir(&self.dir)
            .arg(command)
            .args(args)
            .args(["--emulate", "tenant.yaml", "--virtual-clock"])
            .output()
            .unwrap()
    }

    /// The tenant file as it is now.
    pub fn tenant(&self) -> Tenant {
        tenant(&std::fs::read_to_string(self.dir.join("tenant.yaml")).unwrap())
    }

    /// Changes the tenant file through its parsed form.
    pub fn edit_tenant(&self, f: impl FnOnce(&mut Tenant)) {
        let mut t = self.tenant();
        f(&mut t);
        std::fs::write(self.dir.join("tenant.yaml"), t.to_yaml().unwrap()).unwrap();
    }
}
