//! Integration tests: client (one job: the Graph client's behaviour on the wire). The Graph client against the in-process emulator on a shared VirtualClock (no real
//! sleeping): every credential path, token renewal, throttling and faults at 2,000 users, `$batch` item retries,
//! refusals, and secrets kept out of logs; `auth check` through the real binary.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authctl::cli::graph_args::emulator_approval;
use authctl::clock::{Clock as _, SharedClock, VirtualClock};
use authctl::emulator::tenant::{FederatedCredential, Phone, Tenant, User};
use authctl::emulator::{self, EmulatorHandle, Options, TokenSpec};
use authctl::graph::credentials::device_code::stderr_prompt;
use authctl::graph::credentials::select::{Selection, imds_url};
use authctl::graph::credentials::{self, AuthMethod, Env};
use authctl::graph::{AuthError, Graph, GraphError, GraphSettings, Secret};
use authctl::model::PhoneType;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};

use crate::support::{SMALL_TENANT, authctl_cmd, small_id, tenant};

const RW: &str = "00000000-0000-4000-8000-00000000a001";
const RO: &str = "00000000-0000-4000-8000-00000000a002";
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
const GITHUB_SUBJECT: &str = "repo:contoso/identity-config:environment:prod";
const PHONES_ROUTE: &str = "GET /users/{id}/authentication/phoneMethods";

// ---- each credential path gets a token and reads a user ---------------------------------------------------------

#[tokio::test]
async fn client_secret_from_the_environment_reads_a_user() {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let g = t.graph_from_env(AuthMethod::Auto, &[("AZURE_CLIENT_SECRET", "s3cret")]);
    t.assert_reads_kim(&g).await;
    assert_eq!(
        g.credential_description(),
        format!("client secret of app {RW}")
    );
}

#[tokio::test]
async fn client_certificate_generated_in_the_test_signs_a_ps256_assertion_and_reads_a_user() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["authctl-test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut ten = tenant(SMALL_TENANT);
    ten.apps[0].secret = None;
    ten.apps[0].certificate = Some(cert.pem());
    let t = Tenanted::start(ten, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("app.pem");
    std::fs::write(&pem, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
    let g = t.graph_from_env(
        AuthMethod::Auto,
        &[("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap())],
    );
    t.assert_reads_kim(&g).await;
}

#[tokio::test]
async fn federated_token_file_with_a_jwt_from_a_trusted_test_issuer_reads_a_user() {
    let issuer = TestIssuer::new();
    let t = Tenanted::start(
        issuer.trusted_by(tenant(SMALL_TENANT), "https://issuer.test"),
        |_| {},
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    let jwt = issuer.jwt(
        "https://issuer.test",
        GITHUB_SUBJECT,
        "api://AzureADTokenExchange",
        t.clock.now(),
    );
    std::fs::write(&file, &jwt).unwrap();
    let g = t.graph_from_env(
        AuthMethod::Auto,
        &[("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap())],
    );
    t.assert_reads_kim(&g).await;
}

#[tokio::test]
async fn github_actions_oidc_through_a_loopback_stand_in_reads_a_user() {
    let issuer = Arc::new(TestIssuer::new());
    let t = Tenanted::start(
        issuer.trusted_by(tenant(SMALL_TENANT), GITHUB_ISSUER),
        |_| {},
    )
    .await;
    // GitHub's token endpoint: checks the request token, answers a JWT for the audience asked.
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stand_in = StandIn::start({
        let issuer = issuer.clone();
        let clock = t.clock.clone();
        let seen = seen.clone();
        move |q: BTreeMap<String, String>, h: HeaderMap| {
            let auth = h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let audience = q.get("audience").cloned().unwrap_or_default();
            seen.lock().unwrap().push((auth.clone(), audience.clone()));
            if auth != "bearer gh-request-token" {
                return (401, json!({ "message": "bad request token" }));
            }
            (200, json!({ "value": issuer.jwt(GITHUB_ISSUER, GITHUB_SUBJECT, &audience, clock.now()) }))
        }
    })
    .await;
    let request_url = format!("{}/token?api-version=2.0", stand_in.base);
    let g = t.graph_from_env(
        AuthMethod::Auto,
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token"),
        ],
    );
    t.assert_reads_kim(&g).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, "api://AzureADTokenExchange");
}

#[tokio::test]
async fn managed_identity_through_a_loopback_identity_endpoint_reads_a_user() {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let token = t.handle.mint_token(TokenSpec::app(&[
        "UserAuthenticationMethod.Read.All",
        "User.Read.All",
    ]));
    let expires_on = t.clock.now().as_second() + 3600;
    let seen: Arc<Mutex<Vec<BTreeMap<String, String>>>> = Arc::default();
    let stand_in = StandIn::start({
        let seen = seen.clone();
        move |q: BTreeMap<String, String>, h: HeaderMap| {
            seen.lock().unwrap().push(q);
            if h.get("x-identity-header").and_then(|v| v.to_str().ok()) != Some("id-header-secret") {
                return (401, json!({ "error": "missing header" }));
            }
            (200, json!({ "access_token": token, "expires_on": expires_on.to_string(), "token_type": "Bearer" }))
        }
    })
    .await;
    let endpoint = format!("{}/msi/token", stand_in.base);
    let g = t.graph_from_env(
        AuthMethod::Auto,
        &[
            ("IDENTITY_ENDPOINT", endpoint.as_str()),
            ("IDENTITY_HEADER", "id-header-secret"),
        ],
    );
    t.assert_reads_kim(&g).await;
    let q = seen.lock().unwrap()[0].clone();
    assert_eq!(q.get("api-version").map(String::as_str), Some("2019-08-01"));
    assert_eq!(q.get("resource"), Some(&t.handle.base_url()));
}

#[tokio::test]
async fn device_code_approved_through_the_emulator_reads_a_user_and_keeps_the_refresh_token_in_a_0600_file()
 {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache").join("device-code.json");
    let sel = |prompt| Selection {
        method: AuthMethod::DeviceCode,
        tenant: Some(t.tenant_id()),
        client_id: Some(RW.into()),
        token_cache: Some(cache.clone()),
        prompt,
        imds_url: imds_url(),
        default_public_client: RW.into(),
    };
    let approve = emulator_approval(&t.handle.base_url(), "admin@contoso.com", "Admin-Pass1!");
    let g = t.graph_with(
        credentials::select(&sel(approve), &Env::default()).unwrap(),
        |_| {},
    );
    t.assert_reads_kim(&g).await;
    let token = g.access_token().await.unwrap();
    let claims = authctl::graph::jwt::decode_claims(token.token.expose()).unwrap();
    assert!(
        claims["scp"]
            .as_str()
            .unwrap()
            .contains("UserAuthenticationMethod.ReadWrite.All")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let devicecode_route = "POST /{tenant}/oauth2/v2.0/devicecode";
    assert_eq!(t.handle.stats().total(devicecode_route), 1);
    // A later run renews silently from the cached refresh token: no new sign-in (the prompt would print only).
    let g2 = t.graph_with(
        credentials::select(&sel(stderr_prompt()), &Env::default()).unwrap(),
        |_| {},
    );
    t.assert_reads_kim(&g2).await;
    assert_eq!(
        t.handle.stats().total(devicecode_route),
        1,
        "no second device-code sign-in"
    );
}

#[tokio::test]
async fn a_ready_access_token_from_the_environment_reads_a_user() {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let token = t.handle.mint_token(TokenSpec::app(&[
        "UserAuthenticationMethod.Read.All",
        "User.Read.All",
    ]));
    let g = t.graph_from_env(
        AuthMethod::Auto,
        &[("AUTHCTL_ACCESS_TOKEN", token.as_str())],
    );
    t.assert_reads_kim(&g).await;
    assert_eq!(
        t.token_requests(),
        0,
        "a ready token needs no token endpoint"
    );
}

#[tokio::test]
async fn a_wrong_secret_fails_with_the_aadsts_code_in_the_library_and_on_the_command_line() {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let g = t.graph_from_env(AuthMethod::Auto, &[("AZURE_CLIENT_SECRET", "wrong")]);
    let e = g.get_user("kim@contoso.com").await.unwrap_err();
    match &e {
        GraphError::Auth(a @ AuthError::Aad { .. }) => {
            assert_eq!(a.aadsts(), Some(7_000_215), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let mut cmd = t.authctl(&[("AZURE_CLIENT_SECRET", "wrong")]);
    cmd.args(["auth", "check", "--graph-url", &t.handle.base_url()]);
    let out = run(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("AADSTS7000215"), "{stderr}");
    assert!(!stderr.contains("wrong\n") && !String::from_utf8_lossy(&out.stdout).contains("eyJ"));
}

#[tokio::test]
async fn with_no_credential_configured_the_error_lists_what_was_looked_for() {
    let out = authctl_cmd()
        .args(["auth", "check", "--tenant", "contoso", "--client-id", RW])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    for var in [
        "AUTHCTL_ACCESS_TOKEN",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "IDENTITY_ENDPOINT",
        "device-code",
    ] {
        assert!(stderr.contains(var), "{var} not listed: {stderr}");
    }
}

// ---- auth check -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn auth_check_reports_roles_and_allowed_commands_for_a_read_only_app() {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let mut cmd = t.authctl(&[("AZURE_CLIENT_ID", RO), ("AZURE_CLIENT_SECRET", "r3ad")]);
    cmd.args([
        "auth",
        "check",
        "--graph-url",
        &t.handle.base_url(),
        "--format",
        "json",
    ]);
    let out = run(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "application");
    assert_eq!(v["tenant"], t.tenant_id());
    assert_eq!(v["appId"], RO);
    assert_eq!(v["roles"], json!(["UserAuthMethod-Phone.Read.All"]));
    let allowed: BTreeMap<String, bool> = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["command"].as_str().unwrap().to_string(),
                c["allowed"].as_bool().unwrap(),
            )
        })
        .collect();
    // Phone reads are granted, but resolving UPNs needs User.Read(Basic).All, and writes need ReadWrite.
    assert!(!allowed["plan"]);
    assert!(!allowed["apply"]);
    assert!(!allowed["password reset"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("eyJ"),
        "the token is never printed"
    );
}

#[tokio::test]
async fn auth_check_reports_roles_for_the_emulated_app_and_for_an_admin_signed_in_by_device_code() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.yaml");
    std::fs::write(&file, SMALL_TENANT).unwrap();
    let f = file.to_str().unwrap();
    let app = authctl_cmd()
        .args(["auth", "check", "--emulate", f, "--virtual-clock"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&app.stdout);
    assert_eq!(
        app.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&app.stderr)
    );
    assert!(
        text.contains("roles:           UserAuthenticationMethod.ReadWrite.All, User.Read.All"),
        "{text}"
    );
    assert!(text.contains("✓ apply"), "{text}");
    assert!(text.contains("✗ password reset"), "{text}");
    assert!(!text.contains("eyJ"));

    let admin = authctl_cmd()
        .args([
            "auth",
            "check",
            "--emulate",
            f,
            "--emulate-as",
            "admin@contoso.com",
            "--virtual-clock",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&admin.stdout);
    assert_eq!(
        admin.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    assert!(
        text.contains("user:            admin@contoso.com (delegated)"),
        "{text}"
    );
    assert!(
        text.contains("directory roles: Privileged Authentication Administrator"),
        "{text}"
    );
    assert!(
        text.contains("UserAuthenticationMethod.ReadWrite.All"),
        "{text}"
    );
    assert!(text.contains("✓ password reset"), "{text}");
    assert!(!text.contains("eyJ"));
    // --emulate never writes the tenant file.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), SMALL_TENANT);
}

/// A tenant whose app holds the policy, the whole-list read and the granular TAP write, and whose policy
/// administrator signs in with the policy scope only.
const POLICY_APP_TENANT: &str = r#"
tenantId: 00000000-0000-4000-8000-0000000000aa
domains: [contoso.com]
apps:
  - name: onboarding
    clientId: 00000000-0000-4000-8000-00000000a003
    secret: s3cret
    permissions: [Policy.ReadWrite.AuthenticationMethod, GroupMember.Read.All, UserAuthenticationMethod.Read.All, UserAuthMethod-TAP.ReadWrite.All, User.Read.All]
    delegatedPermissions: [Policy.ReadWrite.AuthenticationMethod, GroupMember.Read.All]
users:
  - id: 00000000-0000-4000-8000-000000000001
    userPrincipalName: polly@contoso.com
    displayName: Polly
    roles: [Authentication Policy Administrator]
    password: Polly-Pass1!
"#;

#[tokio::test]
async fn auth_check_knows_the_policy_taps_offboarding_and_the_email_and_registered_types() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.yaml");
    std::fs::write(&file, POLICY_APP_TENANT).unwrap();
    let f = file.to_str().unwrap();
    let app = authctl_cmd()
        .args([
            "auth",
            "check",
            "--emulate",
            f,
            "--virtual-clock",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        app.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&app.stderr)
    );
    let v: Value = serde_json::from_slice(&app.stdout).unwrap();
    let commands: BTreeMap<String, (bool, String)> = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["command"].as_str().unwrap().to_string(),
                (
                    c["allowed"].as_bool().unwrap(),
                    c["note"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect();
    for allowed in [
        "plan/drift: methods policy",
        "apply: methods policy",
        "import --policy",
        "import",
        "plan/drift: email, registered types",
        "apply: email, registered types",
        "tap issue",
        "tap revoke",
    ] {
        assert!(commands[allowed].0, "{allowed}: {commands:?}");
    }
    assert!(
        commands["apply: email, registered types"]
            .1
            .contains("changes only temporaryAccessPass"),
        "{commands:?}"
    );
    for refused in ["apply", "phone", "offboard", "offboard --revoke-sessions"] {
        assert!(!commands[refused].0, "{refused}: {commands:?}");
    }
    assert!(
        commands["offboard --revoke-sessions"]
            .1
            .contains("User.RevokeSessions.All"),
        "{commands:?}"
    );

    let admin = authctl_cmd()
        .args([
            "auth",
            "check",
            "--emulate",
            f,
            "--emulate-as",
            "polly@contoso.com",
            "--virtual-clock",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&admin.stdout);
    assert_eq!(
        admin.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    assert!(
        text.contains("directory roles: Authentication Policy Administrator"),
        "{text}"
    );
    assert!(text.contains("✓ apply: methods policy"), "{text}");
    assert!(text.contains("✓ import --policy"), "{text}");
    // Notes line up after the longest command name.
    let tap = text.lines().find(|l| l.contains("✗ tap issue")).unwrap();
    let offboard = text.lines().find(|l| l.contains("✗ offboard ")).unwrap();
    assert!(
        tap.contains("managing Temporary Access Passes needs delegated scope"),
        "{text}"
    );
    assert_eq!(tap.find("managing"), offboard.find("reading"), "{text}");
}

// ---- tokens renewed mid-run -------------------------------------------------------------------------------------

#[tokio::test]
async fn an_expired_token_is_renewed_mid_run_without_failing_a_request() {
    // Tokens live 1 minute; 100 batches one after another at 1 s (virtual) latency each take 100 s.
    let mut ten = big_tenant(2_000);
    ten.apps[0].token_lifetime = Some(Duration::from_secs(60));
    let t = Tenanted::start(ten, |o| o.latency = Duration::from_secs(1)).await;
    let g = t.graph_with(t.secret_credential(), |s| s.parallelism = 1);
    let ids = t.user_ids();
    let res = g.list_phone_methods_many(&ids).await;
    assert!(
        res.iter().all(|(_, r)| r.is_ok()),
        "{:?}",
        res.iter().find(|(_, r)| r.is_err())
    );
    let s = g.stats();
    assert!(s.token_fetches >= 2, "renewed mid-run: {s}");
    assert_eq!(
        t.handle.stats().with_status(401),
        0,
        "no request went out with an expired token"
    );
    // Long after expiry, the next call renews first.
    t.clock.advance(Duration::from_secs(3 * 3600));
    g.get_user(&ids[0]).await.unwrap();
    assert_eq!(g.stats().token_fetches, s.token_fetches + 1);
}

// ---- throttling and faults at 2,000 users -----------------------------------------------------------------------

#[tokio::test]
async fn throttle_storm_2000_users_complete_with_nothing_lost_or_doubled_and_few_429s() {
    // Graph's identity budget 800/1s per item, the client at its defaults (8 in flight, --max-rate 800/1s, $batch).
    let rate = "800/1s".parse().unwrap();
    let t = Tenanted::start(big_tenant(2_000), |o| o.throttle = Some(rate)).await;
    let g = t.graph_with(t.secret_credential(), |_| {});
    let ids = t.user_ids();
    let res = g.list_phone_methods_many(&ids).await;
    for (id, r) in &res {
        let phones = r.as_ref().unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(phones.len(), 1, "{id}");
    }
    let e = t.handle.stats();
    for id in &ids {
        assert_eq!(
            e.successful_for(id, PHONES_ROUTE),
            1,
            "{id} read exactly once"
        );
    }
    assert!(
        e.throttled * 50 < 2_000,
        "429s: {} of 2000 items",
        e.throttled
    );
    assert_eq!(g.stats().throttled, e.throttled);
}

#[tokio::test]
async fn throttle_storm_with_graph_budget_below_the_cap_still_reads_everyone_exactly_once() {
    // The server's budget (200/1s) is a quarter of the client's cap: the shared gate and per-item retries carry it.
    let t = Tenanted::start(big_tenant(2_000), |o| {
        o.throttle = Some("200/1s".parse().unwrap())
    })
    .await;
    let g = t.graph_with(t.secret_credential(), |_| {});
    let ids = t.user_ids();
    let res = g.list_phone_methods_many(&ids).await;
    assert!(
        res.iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|p| p.len() == 1))
    );
    let e = t.handle.stats();
    assert!(ids.iter().all(|id| e.successful_for(id, PHONES_ROUTE) == 1));
    assert!(e.throttled > 0, "the budget was exceeded");
    assert_eq!(
        g.stats().throttled,
        e.throttled,
        "every 429 seen and retried"
    );
}

#[tokio::test]
async fn throttle_storm_against_graphs_small_tenant_profile_reads_everyone_exactly_once() {
    // Graph's documented per-app budget for a small tenant (3,500 RU per 10 s, i.e. 350 a second) under the
    // client's default cap of 800 a second: 8,000 phone reads outrun the budget (3,500 + 350 a second), and the rest is paced by
    // whole-second Retry-After answers.
    let t = Tenanted::start(big_tenant(8_000), |o| {
        o.throttle_profile = Some(authctl::emulator::ThrottleProfile::Small)
    })
    .await;
    let g = t.graph_with(t.secret_credential(), |_| {});
    let ids = t.user_ids();
    let started = t.clock.now();
    let res = g.list_phone_methods_many(&ids).await;
    assert!(
        res.iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|p| p.len() == 1))
    );
    let e = t.handle.stats();
    assert!(ids.iter().all(|id| e.successful_for(id, PHONES_ROUTE) == 1));
    assert!(e.throttled > 0, "the profile's budget was exceeded");
    assert_eq!(
        g.stats().throttled,
        e.throttled,
        "every 429 seen and retried"
    );
    eprintln!(
        "small-tenant profile, 8,000 reads: {} 429s, {:.1} s on the emulator's clock",
        e.throttled,
        authctl::clock::since(t.clock.now(), started).as_secs_f64()
    );
}

#[tokio::test]
async fn with_503s_dropped_connections_and_read_lag_a_2000_user_read_after_writes_returns_the_written_state()
 {
    let lag = Duration::from_secs(5);
    let t = Tenanted::start(big_tenant(2_000), |o| {
        o.fail_prob = 0.05;
        o.drop_prob = 0.05;
        o.lag = lag;
        o.seed = 7;
    })
    .await;
    let g = t.graph_with(t.secret_credential(), |_| {});
    let ids = t.user_ids();
    // Writes: 300 users get a new mobile number (PATCH is safe to repeat after a dropped connection).
    let mut expected: BTreeMap<String, String> = t
        .tenant
        .users
        .iter()
        .map(|u| (u.id.clone(), u.phones[&PhoneType::Mobile].number.clone()))
        .collect();
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| i % 7 == 0).take(300) {
        let number = format!("+44 7700{:06}", i);
        g.update_phone(id, PhoneType::Mobile, &number)
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        expected.insert(id.clone(), number);
    }
    // Replication catches up after `lag`; then one read of everyone, through 503s and drops.
    t.clock.advance(lag);
    let res = g.list_phone_methods_many(&ids).await;
    for (id, r) in res {
        let phones = r.unwrap_or_else(|e| panic!("{id}: {e}"));
        let mobile = phones
            .iter()
            .find(|p| p.phone_type.as_deref() == Some("mobile"))
            .expect("a mobile");
        assert_eq!(
            mobile.phone_number.as_deref(),
            Some(expected[&id].as_str()),
            "{id}"
        );
    }
    let e = t.handle.stats();
    assert!(
        e.injected_failures > 0 && e.dropped > 0,
        "faults were injected: {e:?}"
    );
    assert!(g.stats().retries > 0);
}

#[tokio::test]
async fn a_batch_with_throttled_and_missing_items_retries_the_429s_and_reports_404s_per_user() {
    let t = Tenanted::start(big_tenant(30), |o| {
        o.throttle = Some("10/1s".parse().unwrap())
    })
    .await;
    let g = t.graph_with(t.secret_credential(), |s| s.max_rate = None);
    let mut ids = t.user_ids()[..17].to_vec();
    let missing = [
        "00000000-0000-4000-9999-000000000001",
        "00000000-0000-4000-9999-000000000002",
        "00000000-0000-4000-9999-000000000003",
    ];
    ids.extend(missing.iter().map(|s| s.to_string()));
    let res = g.list_phone_methods_many(&ids).await;
    for (id, r) in &res {
        if missing.contains(&id.as_str()) {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.status(), Some(404), "{id}: {e}");
            assert!(e.is_not_found());
        } else {
            assert_eq!(r.as_ref().unwrap_or_else(|e| panic!("{id}: {e}")).len(), 1);
        }
    }
    let e = t.handle.stats();
    assert!(e.throttled > 0, "some items were throttled");
    assert_eq!(
        e.batches,
        g.stats().requests,
        "only $batch requests were sent"
    );
    assert!(e.batches >= 2, "the throttled items went again");
    assert!(
        ids[..17]
            .iter()
            .all(|id| e.successful_for(id, PHONES_ROUTE) == 1)
    );
}

// ---- refusals ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn http_to_a_non_loopback_host_and_a_foreign_location_are_refused_before_any_token_is_sent() {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    // Plain http to a remote Graph: refused when the client is built.
    let mut s = GraphSettings::for_base_url(&t.handle.base_url()).unwrap();
    s.graph_url = url::Url::parse("http://graph.example.com/").unwrap();
    let e = Graph::builder(s, t.secret_credential())
        .clock(t.clock.clone())
        .build()
        .unwrap_err();
    assert!(matches!(e, GraphError::Refused { .. }), "{e}");
    // ... and on the command line.
    let mut cmd = t.authctl(&[("AZURE_CLIENT_SECRET", "s3cret")]);
    cmd.args(["auth", "check", "--graph-url", "http://graph.example.com"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    // A Location on another host (loopback, but not the Graph host): refused before a token is even fetched.
    let foreign = StandIn::start(|_, _| (200, json!({ "status": "succeeded" }))).await;
    let g = t.graph_with(t.secret_credential(), |_| {});
    let loc = url::Url::parse(&format!(
        "{}/v1.0/users/x/authentication/operations/1",
        foreign.base
    ))
    .unwrap();
    let e = g.get_operation(&loc).await.unwrap_err();
    assert!(matches!(e, GraphError::Refused { .. }), "{e}");
    assert_eq!(foreign.hits(), 0);
    assert_eq!(
        t.token_requests(),
        0,
        "no token was requested, let alone sent"
    );
}

// ---- secrets never logged ---------------------------------------------------------------------------------------

#[test]
fn no_secret_assertion_token_or_password_appears_in_trace_logs() {
    let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let lines = lines.clone();
            move || Capture(lines.clone())
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // One thread: every task (client, emulator, hyper) logs through the subscriber above.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refresh = rt.block_on(async {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["authctl-test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut ten = tenant(SMALL_TENANT);
        ten.apps[1].certificate = Some(cert.pem());
        ten.apps[1].permissions = vec![
            "UserAuthenticationMethod.Read.All".into(),
            "User.Read.All".into(),
        ];
        let t = Tenanted::start(ten, |_| {}).await;
        let dir = tempfile::tempdir().unwrap();
        // Secret.
        let g = t.graph_from_env(AuthMethod::Auto, &[("AZURE_CLIENT_SECRET", "s3cret")]);
        t.assert_reads_kim(&g).await;
        g.update_phone(small_id("lee"), PhoneType::Mobile, "+1 2065550099")
            .await
            .unwrap();
        // Certificate (an assertion).
        let pem = dir.path().join("app.pem");
        std::fs::write(&pem, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
        let sel = Selection {
            method: AuthMethod::Certificate,
            tenant: Some(t.tenant_id()),
            client_id: Some(RO.into()),
            token_cache: None,
            prompt: stderr_prompt(),
            imds_url: imds_url(),
            default_public_client: RW.into(),
        };
        let env = Env::from_pairs([("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap())]);
        let g = t.graph_with(credentials::select(&sel, &env).unwrap(), |_| {});
        t.assert_reads_kim(&g).await;
        // Device code with a password, then a password reset with a chosen password.
        let cache = dir.path().join("dc.json");
        let sel = Selection {
            method: AuthMethod::DeviceCode,
            client_id: Some(RW.into()),
            token_cache: Some(cache.clone()),
            prompt: emulator_approval(&t.handle.base_url(), "admin@contoso.com", "Admin-Pass1!"),
            ..sel
        };
        let g = t.graph_with(credentials::select(&sel, &Env::default()).unwrap(), |_| {});
        let accepted = g
            .reset_password(small_id("kim"), Some(&Secret::new("N3w-Passw0rd!x")))
            .await
            .unwrap();
        if let Some(loc) = accepted.location {
            g.get_operation(&loc).await.unwrap();
        }
        let cached: Value =
            serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
        cached["refresh_token"].as_str().unwrap().to_string()
    });
    drop(_guard);
    let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    assert!(
        text.lines().count() > 20,
        "trace logging was captured:\n{text}"
    );
    for needle in [
        "s3cret",
        "Admin-Pass1!",
        "N3w-Passw0rd!x",
        "eyJ",
        refresh.as_str(),
        "PRIVATE KEY",
    ] {
        assert!(
            !text.contains(needle),
            "`{needle}` appeared in the logs:\n{}",
            text.lines()
                .filter(|l| l.contains(needle))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// ---- set-up -----------------------------------------------------------------------------------------------------

/// An emulator over a tenant built in code, with its VirtualClock shared with the clients under test.
struct Tenanted {
    handle: EmulatorHandle,
    clock: Arc<VirtualClock>,
    tenant: Tenant,
}

impl Tenanted {
    async fn start(tenant: Tenant, f: impl FnOnce(&mut Options)) -> Tenanted {
        let clock = VirtualClock::fixed();
        let mut options = Options {
            clock: clock.clone(),
            ..Options::default()
        };
        f(&mut options);
        let handle = emulator::spawn(tenant.clone(), options)
            .await
            .expect("emulator starts");
        Tenanted {
            handle,
            clock,
            tenant,
        }
    }

    fn tenant_id(&self) -> String {
        self.handle.tenant_id().to_string()
    }

    fn user_ids(&self) -> Vec<String> {
        self.tenant.users.iter().map(|u| u.id.clone()).collect()
    }

    fn secret_credential(&self) -> authctl::graph::Credential {
        let env = Env::from_pairs([(
            "AZURE_CLIENT_SECRET",
            self.tenant.apps[0].secret.clone().unwrap(),
        )]);
        credentials::select(&self.selection(AuthMethod::Secret), &env).unwrap()
    }

    fn selection(&self, method: AuthMethod) -> Selection {
        Selection {
            method,
            tenant: Some(self.tenant_id()),
            client_id: Some(self.tenant.apps[0].client_id.clone()),
            token_cache: None,
            prompt: stderr_prompt(),
            imds_url: imds_url(),
            default_public_client: RW.into(),
        }
    }

    /// A client whose credential is chosen from `vars` exactly as the CLI does.
    fn graph_from_env(&self, method: AuthMethod, vars: &[(&str, &str)]) -> Graph {
        let c = credentials::select(
            &self.selection(method),
            &Env::from_pairs(vars.iter().copied()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        self.graph_with(c, |_| {})
    }

    fn graph_with(
        &self,
        c: authctl::graph::Credential,
        f: impl FnOnce(&mut GraphSettings),
    ) -> Graph {
        let mut s = GraphSettings::for_base_url(&self.handle.base_url()).unwrap();
        f(&mut s);
        let clock: SharedClock = self.clock.clone();
        Graph::builder(s, c).clock(clock).build().unwrap()
    }

    async fn assert_reads_kim(&self, g: &Graph) {
        let u = g
            .get_user("kim@contoso.com")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.id, small_id("kim"));
        assert_eq!(u.display_name.as_deref(), Some("Kim Akers"));
    }

    fn token_requests(&self) -> u64 {
        self.handle
            .stats()
            .total("POST /{tenant}/oauth2/v2.0/token")
    }

    /// The real binary against this emulator (`--graph-url` still to be given), with `vars` set.
    fn authctl(&self, vars: &[(&str, &str)]) -> assert_cmd::Command {
        let mut cmd = authctl_cmd();
        cmd.env("AZURE_TENANT_ID", self.tenant_id())
            .env("AZURE_CLIENT_ID", RW)
            .env("AZURE_AUTHORITY_HOST", self.handle.base_url());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    }
}

/// Runs the real binary on a blocking thread, so the in-process emulator keeps serving meanwhile.
async fn run(mut cmd: assert_cmd::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("authctl runs"))
        .await
        .expect("authctl thread")
}

/// `n` users, each with a mobile, and the small tenant's apps.
fn big_tenant(n: usize) -> Tenant {
    let mut t = tenant(SMALL_TENANT);
    t.users = (0..n)
        .map(|i| User {
            id: format!("00000000-0000-4000-9000-{i:012}"),
            user_principal_name: format!("user{i}@contoso.com"),
            phones: [(
                PhoneType::Mobile,
                Phone {
                    number: format!("+1 206555{:04}", i % 10_000),
                    sms_sign_in_state: None,
                },
            )]
            .into_iter()
            .collect(),
            ..User::default()
        })
        .collect();
    t
}

/// An external OIDC issuer (a test key pair) whose tokens the tenant's first app trusts.
struct TestIssuer {
    key: rcgen::KeyPair,
}

impl TestIssuer {
    fn new() -> TestIssuer {
        TestIssuer {
            key: rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap(),
        }
    }

    fn trusted_by(&self, mut t: Tenant, issuer: &str) -> Tenant {
        t.apps[0].federated_credentials.push(FederatedCredential {
            issuer: issuer.into(),
            subject: GITHUB_SUBJECT.into(),
            audience: "api://AzureADTokenExchange".into(),
            issuer_key: self.key.public_key_pem(),
        });
        t.apps[0].secret = None;
        t
    }

    fn jwt(&self, iss: &str, sub: &str, aud: &str, now: jiff::Timestamp) -> String {
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(self.key.serialize_pem().as_bytes()).unwrap();
        let claims = json!({ "iss": iss, "sub": sub, "aud": aud, "iat": now.as_second(), "nbf": now.as_second(), "exp": now.as_second() + 600, "jti": "test" });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &key,
        )
        .unwrap()
    }
}

type Handler = Arc<dyn Fn(BTreeMap<String, String>, HeaderMap) -> (u16, Value) + Send + Sync>;

/// A stand-in HTTP endpoint on loopback (GitHub's OIDC endpoint, a managed-identity endpoint, a foreign host).
struct StandIn {
    base: String,
    hits: Arc<Mutex<u64>>,
}

impl StandIn {
    async fn start(
        f: impl Fn(BTreeMap<String, String>, HeaderMap) -> (u16, Value) + Send + Sync + 'static,
    ) -> StandIn {
        let hits: Arc<Mutex<u64>> = Arc::default();
        let handler: Handler = Arc::new(f);
        let app = axum::Router::new()
            .fallback(get(
                |State((h, hits)): State<(Handler, Arc<Mutex<u64>>)>,
                 Query(q): Query<BTreeMap<String, String>>,
                 headers: HeaderMap| async move {
                    *hits.lock().unwrap() += 1;
                    let (status, body) = h(q, headers);
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        axum::Json(body),
                    )
                },
            ))
            .with_state((handler, hits.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StandIn { base, hits }
    }

    fn hits(&self) -> u64 {
        *self.hits.lock().unwrap()
    }
}

/// A log writer into a shared buffer.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---- credentials users already have: Azure CLI, Azure Pipelines, PFX, ARM_* -------------------------------------

/// A fake `az` on PATH: records its arguments and answers `answer` on stdout (exit 0) or `stderr` (exit 1).
fn fake_az(dir: &std::path::Path, answer: &str, fail_with: Option<&str>) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let args = dir.join("az-args");
    std::fs::write(dir.join("answer"), answer).unwrap();
    let body = match fail_with {
        None => format!("cat '{}'\n", dir.join("answer").display()),
        Some(e) => format!("echo '{e}' >&2\nexit 1\n"),
    };
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n{body}",
        args.display()
    );
    let az = bin.join("az");
    std::fs::write(&az, script).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[tokio::test]
async fn azure_cli_sign_in_through_a_fake_az_on_path_is_chosen_and_explained_by_auth_check() {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let token = t.handle.mint_token(TokenSpec::app(&[
        "UserAuthenticationMethod.Read.All",
        "User.Read.All",
    ]));
    let expires_on = t.clock.now().as_second() + 3600;
    let dir = tempfile::tempdir().unwrap();
    let answer = json!({ "accessToken": token, "expiresOn": "2030-01-01 00:00:00.000000", "expires_on": expires_on, "tenant": t.tenant_id(), "tokenType": "Bearer" });
    let bin = fake_az(dir.path(), &answer.to_string(), None);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let mut cmd = authctl_cmd();
    cmd.env("PATH", &path)
        .env("AZURE_TENANT_ID", t.tenant_id())
        .args(["auth", "check", "--graph-url", &t.handle.base_url()]);
    let out = run(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("credential:      Azure CLI sign-in"),
        "{stdout}"
    );
    assert!(stdout.contains("→ Azure CLI"), "{stdout}");
    assert!(
        stdout.contains("AZURE_CLIENT_SECRET nor ARM_CLIENT_SECRET"),
        "{stdout}"
    );
    assert!(!stdout.contains(&token), "the token is never printed");
    let args = std::fs::read_to_string(dir.path().join("az-args")).unwrap();
    let resource = t.handle.base_url().trim_end_matches('/').to_string();
    let expected = format!(
        "account\nget-access-token\n--output\njson\n--resource\n{resource}\n--tenant\n{}\n",
        t.tenant_id()
    );
    assert_eq!(args, expected);
    // The token from `az` works against Graph.
    let env = Env::from_pairs([("PATH", path.as_str())]);
    let g = t.graph_with(
        credentials::select(&t.selection(AuthMethod::AzureCli), &env).unwrap(),
        |_| {},
    );
    t.assert_reads_kim(&g).await;
}

#[tokio::test]
async fn azure_cli_not_signed_in_or_missing_is_explained() {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_az(
        dir.path(),
        "",
        Some("ERROR: Please run 'az login' to setup account."),
    );
    let env = Env::from_pairs([("PATH", format!("{}:/usr/bin:/bin", bin.display()))]);
    let g = t.graph_with(
        credentials::select(&t.selection(AuthMethod::AzureCli), &env).unwrap(),
        |_| {},
    );
    let e = g.get_user("kim@contoso.com").await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("az login --tenant {}", t.tenant_id())),
        "{e}"
    );
    let empty = tempfile::tempdir().unwrap();
    let e = credentials::select(
        &t.selection(AuthMethod::AzureCli),
        &Env::from_pairs([("PATH", empty.path().to_str().unwrap())]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not on PATH"), "{e}");
}

#[tokio::test]
async fn azure_pipelines_oidc_through_a_loopback_stand_in_reads_a_user_and_a_refused_access_token_is_explained()
 {
    const ADO_ISSUER: &str = "https://vstoken.dev.azure.com/00000000-0000-4000-8000-0000000000cc";
    const ADO_SUBJECT: &str = "sc://contoso/identity/authctl-prod";
    let issuer = Arc::new(TestIssuer::new());
    let mut ten = tenant(SMALL_TENANT);
    ten.apps[0].secret = None;
    ten.apps[0].federated_credentials.push(FederatedCredential {
        issuer: ADO_ISSUER.into(),
        subject: ADO_SUBJECT.into(),
        audience: "api://AzureADTokenExchange".into(),
        issuer_key: issuer.key.public_key_pem(),
    });
    let t = Tenanted::start(ten, |_| {}).await;
    // Azure DevOps' OIDC endpoint: POST with the job's access token and the service connection id.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = axum::Router::new().route(
        "/org/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
        axum::routing::post({
            let issuer = issuer.clone();
            let clock = t.clock.clone();
            let seen = seen.clone();
            move |Query(q): Query<BTreeMap<String, String>>, h: HeaderMap| async move {
                let auth = h
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                seen.lock().unwrap().push(format!(
                    "{} {} {}",
                    q.get("api-version").cloned().unwrap_or_default(),
                    q.get("serviceConnectionId").cloned().unwrap_or_default(),
                    h.get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                ));
                if auth != "Bearer ado-job-token" {
                    return (
                        axum::http::StatusCode::UNAUTHORIZED,
                        [("x-vss-e2eid", "e2e-1")],
                        axum::Json(json!({ "message": "TF400813" })),
                    );
                }
                let jwt = issuer.jwt(
                    ADO_ISSUER,
                    ADO_SUBJECT,
                    "api://AzureADTokenExchange",
                    clock.now(),
                );
                (
                    axum::http::StatusCode::OK,
                    [("x-vss-e2eid", "e2e-2")],
                    axum::Json(json!({ "oidcToken": jwt })),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!(
        "http://{}/org/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let g = t.graph_from_env(
        AuthMethod::Auto,
        &[
            ("SYSTEM_OIDCREQUESTURI", uri.as_str()),
            ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "sc-1234"),
            ("SYSTEM_ACCESSTOKEN", "ado-job-token"),
        ],
    );
    t.assert_reads_kim(&g).await;
    assert_eq!(seen.lock().unwrap()[0], "7.1 sc-1234 application/json");
    assert!(
        g.credential_description()
            .contains("Azure Pipelines OIDC, service connection sc-1234")
    );
    let g = t.graph_from_env(
        AuthMethod::AzurePipelines,
        &[
            ("SYSTEM_OIDCREQUESTURI", uri.as_str()),
            ("ARM_USE_OIDC", "true"),
            ("ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", "sc-1234"),
            ("SYSTEM_ACCESSTOKEN", "stale"),
        ],
    );
    let e = g.get_user("kim@contoso.com").await.unwrap_err().to_string();
    assert!(
        e.contains("401") && e.contains("$(System.AccessToken)") && e.contains("e2e-1"),
        "{e}"
    );
    assert!(!e.contains("stale"));
}

/// A PFX of `key` and `cert` protected by `password` (AES-256-CBC with PBKDF2, as OpenSSL 3 and Windows export).
fn pfx(key: &rcgen::KeyPair, cert: &rcgen::Certificate, password: &str) -> Vec<u8> {
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![7u8; 20],
        p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
        [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "authctl",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    store.writer(password).write().unwrap()
}

#[tokio::test]
async fn a_pfx_made_by_the_test_with_a_password_reads_a_user_through_azure_and_arm_variables() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["authctl-pfx".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut ten = tenant(SMALL_TENANT);
    ten.apps[0].secret = None;
    ten.apps[0].certificate = Some(cert.pem());
    let t = Tenanted::start(ten, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.pfx");
    std::fs::write(&file, pfx(&key, &cert, "Pfx-Pass1!")).unwrap();
    let path = file.to_str().unwrap();
    let g = t.graph_from_env(
        AuthMethod::Auto,
        &[
            ("AZURE_CLIENT_CERTIFICATE_PATH", path),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "Pfx-Pass1!"),
        ],
    );
    t.assert_reads_kim(&g).await;
    let g = t.graph_from_env(
        AuthMethod::Certificate,
        &[
            ("ARM_CLIENT_CERTIFICATE_PATH", path),
            ("ARM_CLIENT_CERTIFICATE_PASSWORD", "Pfx-Pass1!"),
        ],
    );
    t.assert_reads_kim(&g).await;
    // The AZURE_* password wins over the ARM_* one: a wrong AZURE_* password fails, naming the variable.
    let e = credentials::select(
        &t.selection(AuthMethod::Auto),
        &Env::from_pairs([
            ("AZURE_CLIENT_CERTIFICATE_PATH", path),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong"),
            ("ARM_CLIENT_CERTIFICATE_PASSWORD", "Pfx-Pass1!"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD") && e.contains("app.pfx"),
        "{e}"
    );
    assert!(!e.contains("Pfx-Pass1!"));
}

#[tokio::test]
async fn auth_check_json_with_terraform_arm_variables_says_which_source_was_chosen_and_why_not_the_others()
 {
    let t = Tenanted::start(tenant(SMALL_TENANT), |_| {}).await;
    let mut cmd = authctl_cmd();
    cmd.env("PATH", "/usr/bin:/bin")
        .env("ARM_TENANT_ID", t.tenant_id())
        .env("ARM_CLIENT_ID", RW)
        .env("ARM_CLIENT_SECRET", "s3cret")
        .env("ARM_OIDC_TOKEN", "not-used-without-arm-use-oidc")
        .env("AZURE_AUTHORITY_HOST", t.handle.base_url())
        .args([
            "auth",
            "check",
            "--graph-url",
            &t.handle.base_url(),
            "--format",
            "json",
        ]);
    let out = run(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = v["sources"].as_array().unwrap();
    let chosen: Vec<&Value> = sources
        .iter()
        .filter(|s| s["verdict"] == "chosen")
        .collect();
    assert_eq!(chosen.len(), 1, "{sources:?}");
    assert_eq!(chosen[0]["source"], "client secret");
    assert!(
        chosen[0]["reason"]
            .as_str()
            .unwrap()
            .contains("ARM_CLIENT_SECRET is set")
    );
    let oidc = sources
        .iter()
        .find(|s| s["source"] == "ARM_OIDC_TOKEN")
        .unwrap();
    assert_eq!(oidc["verdict"], "notConfigured");
    assert!(
        oidc["reason"]
            .as_str()
            .unwrap()
            .contains("ARM_USE_OIDC=true")
    );
    assert_eq!(v["tenant"], t.tenant_id());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"));
}
