//! Integration tests: nothing secret reaches the logs, even at trace level (tokens, client secrets, passwords).

use authctl::model::PhoneType;

use crate::support::Emu;

/// Everything logged while a client signs in with a secret, reads and writes phones, and an admin resets a password
/// (chosen, then generated) — authctl's client and the in-process emulator (which `--emulate` runs inside authctl)
/// at trace level — holds no secret, no token, no password.
#[tokio::test]
async fn secrets_tokens_and_passwords_never_reach_the_logs_at_trace_level() {
    use authctl::graph::credentials::static_token::StaticToken;
    use authctl::graph::{Credential, Secret};
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emu = Emu::small().await;
    let kim = crate::support::small_id("kim");
    let app = crate::apply::graph_for(&emu, 2);
    let token = app.access_token().await.expect("a token").token;
    assert!(
        app.resolve_users(&["kim@contoso.com".to_string()]).await[0]
            .1
            .is_ok()
    );
    app.create_phone(kim, PhoneType::Mobile, "+1 2065550177")
        .await
        .expect("creates");
    app.list_phone_methods(kim).await.expect("reads");

    let admin_token = emu.delegated("admin@contoso.com");
    let mut settings =
        authctl::graph::GraphSettings::for_base_url(&emu.url()).expect("loopback URL");
    settings.max_rate = None;
    let clock: authctl::clock::SharedClock = emu.clock.clone();
    let admin = authctl::graph::Graph::builder(
        settings,
        Credential::Static(StaticToken::new(Secret::new(admin_token.clone()))),
    )
    .clock(clock)
    .build()
    .expect("client builds");
    let chosen = "Chosen-Passw0rd-4711!";
    let accepted = admin
        .reset_password(kim, Some(&Secret::new(chosen)))
        .await
        .expect("reset accepted");
    if let Some(location) = &accepted.location {
        admin.get_operation(location).await.expect("operation");
    }
    let generated = admin
        .reset_password(kim, None)
        .await
        .expect("reset accepted")
        .new_password
        .expect("Graph generated a password");

    let text = logs.text();
    // Trace logging was on and saw the traffic: otherwise the checks below would prove nothing.
    assert!(text.lines().count() > 20, "{text}");
    assert!(text.contains("kim") || text.contains(kim), "{text}");
    for (what, secret) in [
        ("client secret", "s3cret"),
        ("app token", token.expose()),
        ("delegated token", admin_token.as_str()),
        ("chosen password", chosen),
        ("generated password", generated.expose()),
    ] {
        assert!(!text.contains(secret), "the {what} is in the logs:\n{text}");
    }
    // No JWT of any kind (tokens, client assertions).
    assert!(!text.contains("eyJ"), "a JWT is in the logs:\n{text}");
}

/// A `MakeWriter` collecting log lines in memory.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}
