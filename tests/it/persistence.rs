//! Integration tests: the emulator's state file under `--persist` / `--emulate-persist` (issue 12). One writer
//! at a time (a lock naming its holder), and a journal replayed only onto the state file it was written for.

use serde_json::{Value, json};

use crate::support::{EmulatorProcess, OFFICE, SMALL_TENANT, authctl_cmd};

async fn token(url: &str) -> String {
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

async fn lee_office(url: &str, token: &str) -> Value {
    reqwest::Client::new()
        .get(format!(
            "{url}/v1.0/users/lee@contoso.com/authentication/phoneMethods/{OFFICE}"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn set_lee_office(url: &str, token: &str, number: &str) {
    let r = reqwest::Client::new()
        .patch(format!(
            "{url}/v1.0/users/lee@contoso.com/authentication/phoneMethods/{OFFICE}"
        ))
        .bearer_auth(token)
        .json(&json!({ "phoneNumber": number }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

#[tokio::test]
async fn a_second_writer_of_a_state_file_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();
    let first = EmulatorProcess::start(&state, &["--persist"]);
    let pid = first.child.id();

    // Another emulator on the same file.
    let out = authctl_cmd()
        .args(["emulator", "--persist", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("is in use by authctl process {pid}")),
        "{err}"
    );

    // An apply with --emulate-persist on the same file.
    let manifest = dir.path().join("m.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n    - user: kim@contoso.com\n      phones: {mobile: \"+1 2065550003\"}\n",
    )
    .unwrap();
    let out = authctl_cmd()
        .arg("apply")
        .arg(&manifest)
        .arg("--emulate")
        .arg(&state)
        .args(["--emulate-persist", "--auto-approve"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("is in use by authctl process {pid}")),
        "{err}"
    );
    assert!(err.contains("tenant.yaml.lock"), "{err}");

    // Once the holder is gone (however it ends), the file is free again.
    first.signal("KILL");
    first.wait();
    let out = authctl_cmd()
        .arg("apply")
        .arg(&manifest)
        .arg("--emulate")
        .arg(&state)
        .args(["--emulate-persist", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .contains("+1 2065550003")
    );
}

#[tokio::test]
async fn a_leftover_journal_is_never_replayed_onto_a_freshly_copied_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.yaml");
    std::fs::write(&state, SMALL_TENANT).unwrap();

    // A change acknowledged, then a crash: the journal holds it.
    let p = EmulatorProcess::start(&state, &["--persist"]);
    let t = token(&p.url).await;
    set_lee_office(&p.url, &t, "+1 4255550777").await;
    p.signal("KILL");
    p.wait();

    // Restarted on the same file: the journal belongs to it and is replayed.
    let p = EmulatorProcess::start(&state, &["--persist"]);
    let t = token(&p.url).await;
    assert_eq!(lee_office(&p.url, &t).await["phoneNumber"], "+1 4255550777");
    set_lee_office(&p.url, &t, "+1 4255550888").await;
    p.signal("KILL");
    p.wait();

    // The state file is copied afresh (the same bytes as before): the leftover journal is not replayed onto it,
    // and is kept aside.
    std::fs::write(&state, SMALL_TENANT).unwrap();
    // A copy gets its own modification time; set one that cannot be the old file's, rather than wait for the
    // file system's clock to tick.
    std::fs::File::options()
        .write(true)
        .open(&state)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
        .unwrap();
    let p = EmulatorProcess::start(&state, &["--persist"]);
    let t = token(&p.url).await;
    assert_eq!(
        lee_office(&p.url, &t).await["phoneNumber"],
        "+1 4255550004x12"
    );
    let stale: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tenant.yaml.journal.stale-"))
        .collect();
    assert_eq!(stale.len(), 1, "{stale:?}");
    let kept = std::fs::read_to_string(dir.path().join(&stale[0])).unwrap();
    assert!(kept.contains("+1 4255550888"), "{kept}");
    p.signal("TERM");
    assert_eq!(p.wait(), Some(0));
}
