//! The emulator as a process: persistence (journal, replay, fold), crash safety under SIGKILL, the binary's
//! startup, URL line and clean stop.

use super::*;

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn persist_journals_replays_and_folds() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();
    let journal = dir.path().join("tenant.yaml.journal");
    let options =
        |clock: std::sync::Arc<authctl::clock::VirtualClock>| authctl::emulator::Options {
            persist: Some(state.clone()),
            clock,
            ..Default::default()
        };
    let clock = authctl::clock::VirtualClock::fixed();
    let h = authctl::emulator::spawn(
        authctl::emulator::load_tenant(&state).unwrap(),
        options(clock.clone()),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let t = h.mint_token(TokenSpec::default());
    let r = http
        .post(format!(
            "{}/users/kim@contoso.com/authentication/phoneMethods",
            h.graph_url()
        ))
        .bearer_auth(&t)
        .json(&json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    #[cfg(unix)]
    assert_eq!(mode(&journal), 0o600);
    assert!(
        std::fs::read_to_string(&journal)
            .unwrap()
            .contains("+1 2065550003")
    );
    // No clean shutdown (as after a crash): the file is untouched, the journal holds the change.
    drop(h);
    assert!(
        !std::fs::read_to_string(&state)
            .unwrap()
            .contains("+1 2065550003")
    );
    let h = authctl::emulator::spawn(
        authctl::emulator::load_tenant(&state).unwrap(),
        options(clock),
    )
    .await
    .unwrap();
    assert_eq!(
        h.snapshot().user("kim@contoso.com").unwrap().phones[&authctl::model::PhoneType::Mobile]
            .number,
        "+1 2065550003"
    );
    // Clean shutdown folds the journal into the file (atomically, 0600) and empties it.
    h.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("+1 2065550003"));
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "");
    #[cfg(unix)]
    assert_eq!(mode(&state), 0o600);
    // The folded file is a valid tenant file with the same users.
    let t2 = authctl::emulator::Tenant::from_yaml(&text).unwrap();
    assert_eq!(t2.users.len(), 5);
    assert_eq!(t2, authctl::emulator::load_tenant(&state).unwrap());
}

async fn small_token(url: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!(
            "{url}/00000000-0000-4000-8000-0000000000aa/oauth2/v2.0/token"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "00000000-0000-4000-8000-00000000a001"),
            ("client_secret", "s3cret"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn binary_prints_its_url_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();
    let p = EmulatorProcess::start(&state, &["--persist"]);
    let token = small_token(&p.url).await;
    let r = reqwest::Client::new()
        .patch(format!(
            "{}/v1.0/users/lee@contoso.com/authentication/phoneMethods/{OFFICE}",
            p.url
        ))
        .bearer_auth(&token)
        .json(&json!({"phoneNumber": "+1 4255550777"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    p.signal("TERM");
    assert_eq!(p.wait(), Some(0));
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .contains("+1 4255550777"),
        "folded at clean stop"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tenant.yaml.journal")).unwrap(),
        ""
    );
}

#[tokio::test]
async fn binary_serves_the_example_tenant() {
    let p = EmulatorProcess::start(&repo_path("examples/tenant.yaml"), &[]);
    let token = reqwest::Client::new()
        .post(format!(
            "{}/9b1e2f4a-6c3d-4e8f-a1b2-c3d4e5f6a7b8/oauth2/v2.0/token",
            p.url
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", RW_CLIENT_ID),
            ("client_secret", RW_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r: Value = reqwest::Client::new()
        .get(format!(
            "{}/v1.0/users/AdeleV@contoso.com/authentication/methods",
            p.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["value"].as_array().unwrap().len() >= 3);
    p.signal("INT");
    assert_eq!(p.wait(), Some(0));
}

#[tokio::test]
async fn crash_safety_sigkill_during_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();
    let p = EmulatorProcess::start(&state, &["--persist"]);
    let token = small_token(&p.url).await;
    let users = ["kim", "lee", "sam", "helpdesk", "admin"];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, String)>();
    let url = p.url.clone();
    // A stream of writes: office numbers of five users, each acknowledged write reported as it is answered.
    let writer = tokio::spawn(async move {
        let http = reqwest::Client::new();
        for k in 0..100_000usize {
            let u = users[k % users.len()];
            let number = format!("+1 42555{k:05}");
            let r = http
                .patch(format!(
                    "{url}/v1.0/users/{u}@contoso.com/authentication/phoneMethods/{OFFICE}"
                ))
                .bearer_auth(&token)
                .json(&json!({"phoneNumber": number}))
                .send()
                .await;
            // The office phone may not exist yet: create it.
            let r = match r {
                Ok(r) if r.status().as_u16() == 404 => {
                    http.post(format!(
                        "{url}/v1.0/users/{u}@contoso.com/authentication/phoneMethods"
                    ))
                    .bearer_auth(&token)
                    .json(&json!({"phoneNumber": number, "phoneType": "office"}))
                    .send()
                    .await
                }
                other => other,
            };
            match r {
                Ok(r) if r.status().is_success() => {
                    if tx.send((k, number)).is_err() {
                        return k;
                    }
                }
                Ok(r) => panic!("write {k} refused: {}", r.status()),
                Err(_) => return k,
            }
        }
        100_000
    });
    let mut acked: Vec<(usize, String)> = Vec::new();
    while let Some(a) = rx.recv().await {
        acked.push(a);
        if acked.len() == 60 {
            p.signal("KILL");
            break;
        }
    }
    let in_flight = writer.await.unwrap();
    while let Ok(a) = rx.try_recv() {
        acked.push(a);
    }
    assert_eq!(p.wait(), None, "killed by a signal");
    assert!(acked.len() >= 60);
    // Restart from the files: every acknowledged write is there (the one in flight at the kill may or may not be).
    let tenant_after = {
        let p2 = EmulatorProcess::start(&state, &["--persist"]);
        let t = small_token(&p2.url).await;
        let mut out = std::collections::BTreeMap::new();
        for u in users {
            let r: Value = reqwest::Client::new()
                .get(format!(
                    "{}/v1.0/users/{u}@contoso.com/authentication/phoneMethods/{OFFICE}",
                    p2.url
                ))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            out.insert(u, r["phoneNumber"].as_str().map(str::to_string));
        }
        p2.signal("TERM");
        assert_eq!(p2.wait(), Some(0));
        out
    };
    for (i, u) in users.iter().enumerate() {
        let last_acked = acked
            .iter()
            .rev()
            .find(|(k, _)| k % users.len() == i)
            .map(|(_, n)| n.clone());
        let in_flight_number =
            (in_flight % users.len() == i).then(|| format!("+1 42555{in_flight:05}"));
        let got = tenant_after[u].clone();
        assert!(
            got == last_acked || (in_flight_number.is_some() && got == in_flight_number),
            "{u}: stored {got:?}, last acknowledged {last_acked:?}"
        );
    }
}

#[tokio::test]
async fn persist_without_changes_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, EXAMPLE_TENANT).unwrap();
    let options = authctl::emulator::Options {
        persist: Some(state.clone()),
        ..Default::default()
    };
    let h = authctl::emulator::spawn(authctl::emulator::load_tenant(&state).unwrap(), options)
        .await
        .unwrap();
    let t = h.mint_token(TokenSpec::default());
    let r = reqwest::Client::new()
        .get(format!(
            "{}/users/AdeleV@contoso.com/authentication/phoneMethods",
            h.graph_url()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    h.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        EXAMPLE_TENANT,
        "comments kept: nothing to fold"
    );
}
