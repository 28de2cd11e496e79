//! The emulator over TLS (`--tls`): a certificate for the loopback names, discovery, `Location` and `nextLink` on
//! `https://`, and authctl itself trusting the certificate through `SSL_CERT_FILE`, end to end.

use authctl::emulator::TlsIdentity;

use super::*;

/// The emulator over `yaml`, serving HTTPS with a fresh certificate; and a client trusting it.
async fn tls_emu(yaml: &str, f: impl FnOnce(&mut authctl::emulator::Options)) -> (Emu, String) {
    let identity = TlsIdentity::generate().unwrap();
    let cert = identity.cert_pem.clone();
    let mut emu = Emu::start_with(yaml, |o| {
        o.tls = Some(identity);
        f(o);
    })
    .await;
    emu.http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .build()
        .unwrap();
    (emu, cert)
}

#[tokio::test]
async fn tls_discovery_locations_and_next_links_say_https() {
    let (emu, _) = tls_emu(EXAMPLE_TENANT, |o| o.page_size = Some(2)).await;
    let base = emu.url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let oidc: Value = emu
        .http
        .get(format!(
            "{base}/{}/v2.0/.well-known/openid-configuration",
            emu.tenant_id()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for k in ["issuer", "token_endpoint", "device_authorization_endpoint"] {
        assert!(
            oidc[k].as_str().unwrap().starts_with(&format!("{base}/")),
            "{k}: {oidc}"
        );
    }
    let t = emu.app_token().await;
    let page = emu.get("/users?$select=id", &t).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body["@odata.nextLink"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/v1.0/users?")),
        "{}",
        page.body
    );
    let created = emu
        .post(
            "/users/CameronW@contoso.com/authentication/phoneMethods",
            &t,
            json!({"phoneNumber": "+1 4255550177", "phoneType": "office"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.header("location").unwrap().starts_with("https://"));
    // A client that doesn't trust the certificate is refused at the handshake.
    let untrusting = reqwest::Client::new()
        .get(format!("{base}/v1.0/users"))
        .send()
        .await;
    assert!(untrusting.is_err());
}

#[tokio::test]
async fn authctl_trusts_the_emulator_certificate_through_ssl_cert_file() {
    let (emu, cert) = tls_emu(EXAMPLE_TENANT, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("emulator.pem");
    std::fs::write(&ca, &cert).unwrap();
    let url = emu.url();
    let run = |trust: bool| {
        let mut cmd = emu.authctl();
        cmd.args([
            "methods",
            "AdeleV@contoso.com",
            "--format",
            "json",
            "--graph-url",
        ])
        .arg(&url);
        if trust {
            cmd.env("SSL_CERT_FILE", &ca);
        } else {
            cmd.env_remove("SSL_CERT_FILE");
        }
        cmd
    };
    let mut trusted = run(true);
    let o = tokio::task::spawn_blocking(move || trusted.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v.to_string().contains("phoneAuthenticationMethod") || v.to_string().contains("mobile"),
        "{v}"
    );
    assert!(emu.stats().count("POST /{tenant}/oauth2/v2.0/token", 200) >= 1);
    // Without the certificate, authctl refuses the connection.
    let mut untrusted = run(false);
    let o = tokio::task::spawn_blocking(move || untrusted.output().unwrap())
        .await
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
}

#[tokio::test]
async fn binary_tls_prints_an_https_url_and_writes_the_certificate_to_trust() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();
    let cert = dir.path().join("trust.pem");
    let p = EmulatorProcess::start(&state, &["--tls", "--tls-cert-out", cert.to_str().unwrap()]);
    assert!(p.url.starts_with("https://127.0.0.1:"), "{}", p.url);
    let pem = std::fs::read_to_string(&cert).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    // Each loopback name the certificate covers.
    let port = p.url.rsplit(':').next().unwrap().to_string();
    for host in ["127.0.0.1", "localhost"] {
        let r = http
            .get(format!(
                "https://{host}:{port}/00000000-0000-4000-8000-0000000000aa/v2.0/.well-known/openid-configuration"
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["token_endpoint"],
            json!(format!(
                "https://{host}:{port}/00000000-0000-4000-8000-0000000000aa/oauth2/v2.0/token"
            ))
        );
    }
    p.signal("TERM");
    assert_eq!(p.wait(), Some(0));
}
