//! Password reset: the role rules, synced users, banned passwords and the operation's outcomes.

use super::*;

async fn poll_to_end(emu: &Emu, location: &str, token: &str) -> Value {
    for _ in 0..10 {
        let r = emu.get(location, token).await;
        assert!(matches!(r.status, 200 | 202), "{}", r.body);
        if matches!(r.body["status"].as_str(), Some("succeeded" | "failed")) {
            return r.body;
        }
        assert!(r.header("retry-after").is_some());
    }
    panic!("operation never ended");
}

#[tokio::test]
async fn reset_password_never_on_own_account() {
    let emu = Emu::small().await;
    let admin = emu.delegated("admin@contoso.com");
    emu.post(&format!("/me{RESET}"), &admin, json!({}))
        .await
        .assert_error(403, "accessDenied");
    emu.post(
        &format!("/users/admin@contoso.com{RESET}"),
        &admin,
        json!({}),
    )
    .await
    .assert_error(403, "accessDenied");
}

#[tokio::test]
async fn reset_password_role_rules() {
    let emu = Emu::small().await;
    let help = emu.delegated("helpdesk@contoso.com");
    // Authentication Administrator: non-admins yes, admins no.
    assert_eq!(
        emu.post(&format!("/users/kim@contoso.com{RESET}"), &help, json!({}))
            .await
            .status,
        202
    );
    emu.post(
        &format!("/users/admin@contoso.com{RESET}"),
        &help,
        json!({}),
    )
    .await
    .assert_error(403, "accessDenied");
    // No role: no.
    let kim = emu.delegated("kim@contoso.com");
    emu.post(&format!("/users/lee@contoso.com{RESET}"), &kim, json!({}))
        .await
        .assert_error(403, "accessDenied");
    // Only the password method id.
    let admin = emu.delegated("admin@contoso.com");
    emu.post(
        &format!("/users/kim@contoso.com/authentication/methods/{MOBILE}/resetPassword"),
        &admin,
        json!({}),
    )
    .await
    .assert_error(404, "itemNotFound");
}

#[tokio::test]
async fn reset_password_synced_users_need_new_password() {
    let emu = Emu::small().await;
    let admin = emu.delegated("admin@contoso.com");
    emu.post(&format!("/users/sam@contoso.com{RESET}"), &admin, json!({}))
        .await
        .assert_error(400, "badRequest");
    let r = emu
        .post(
            &format!("/users/sam@contoso.com{RESET}"),
            &admin,
            json!({"newPassword": "Sam-Newpass1!"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let end = poll_to_end(&emu, &r.header("location").unwrap(), &admin).await;
    assert_eq!(end["status"], json!("succeeded"));
}

#[tokio::test]
async fn reset_password_banned_password_fails_the_operation() {
    let emu = Emu::small().await;
    let admin = emu.delegated("admin@contoso.com");
    let r = emu
        .post(
            &format!("/users/kim@contoso.com{RESET}"),
            &admin,
            json!({"newPassword": "Contoso2026!"}),
        )
        .await;
    assert_eq!(r.status, 202, "accepted: the check runs in the operation");
    let end = poll_to_end(&emu, &r.header("location").unwrap(), &admin).await;
    assert_eq!(end["status"], json!("failed"));
    assert!(end["statusDetail"].as_str().unwrap().contains("banned"));
    assert_eq!(
        emu.snapshot()
            .user("kim@contoso.com")
            .unwrap()
            .password
            .as_deref(),
        Some("Kim-Pass1!")
    );
    // Another user can't read this user's operation through their own path.
    let id = r
        .header("location")
        .unwrap()
        .split("/operations/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    emu.get(
        &format!("/users/lee@contoso.com/authentication/operations/{id}"),
        &admin,
    )
    .await
    .assert_error(404, "itemNotFound");
}

#[tokio::test]
async fn reset_password_configured_failure_outcome() {
    let yaml = format!(
        "{SMALL_TENANT}operations:\n  runningPolls: 2\n  outcome: failed\n  failureDetail: Writeback refused the password.\n"
    );
    let emu = Emu::start(&yaml).await;
    let admin = emu.delegated("admin@contoso.com");
    let r = emu
        .post(&format!("/users/kim@contoso.com{RESET}"), &admin, json!({}))
        .await;
    let loc = r.header("location").unwrap();
    let statuses: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(
                emu.get(&loc, &admin).await.body["status"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        v
    };
    assert_eq!(
        statuses,
        ["notStarted", "running", "running", "failed", "failed"]
    );
    let end = emu
        .get(&format!("{loc}&$select=status,statusDetail"), &admin)
        .await;
    assert_eq!(
        end.body["statusDetail"],
        json!("Writeback refused the password.")
    );
    assert!(end.body.get("createdDateTime").is_none(), "$select applies");
}

/// With only `User.ReadBasic.All`, `onPremisesSyncEnabled` reads `null` for everyone: `password reset` can't rule out
/// a synced user, says so, and Graph's refusal of the generated password is shown (nothing changed).
#[tokio::test]
async fn password_reset_says_when_it_cannot_read_the_sync_state() {
    let emu = Emu::start_with(SMALL_TENANT, |o| {
        o.clock = std::sync::Arc::new(authctl::clock::SystemClock);
    })
    .await;
    let token = emu.token(TokenSpec::delegated(
        "admin@contoso.com",
        &[
            "UserAuthenticationMethod.ReadWrite.All",
            "User.ReadBasic.All",
        ],
    ));
    let mut cmd = authctl_cmd();
    cmd.args(["password", "reset", "sam@contoso.com", "--graph-url"])
        .arg(emu.url())
        .env("AUTHCTL_ACCESS_TOKEN", token);
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("can't tell whether sam@contoso.com is synced")
            && err.contains("User.Read.All"),
        "{err}"
    );
    assert!(
        err.contains("400 badRequest"),
        "Graph's refusal shown: {err}"
    );
    assert!(
        emu.snapshot()
            .user("sam@contoso.com")
            .unwrap()
            .password
            .is_none()
    );
    // With a full-profile permission the preflight knows, and nothing is sent.
    let token = emu.token(TokenSpec::delegated(
        "admin@contoso.com",
        &["UserAuthenticationMethod.ReadWrite.All", "User.Read.All"],
    ));
    let before = emu
        .stats()
        .total("POST /users/{id}/authentication/methods/{id}/resetPassword");
    let mut cmd = authctl_cmd();
    cmd.args(["password", "reset", "sam@contoso.com", "--graph-url"])
        .arg(emu.url())
        .env("AUTHCTL_ACCESS_TOKEN", token);
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is synced from on-premises AD"), "{err}");
    assert!(!err.contains("can't tell"), "{err}");
    assert_eq!(
        emu.stats()
            .total("POST /users/{id}/authentication/methods/{id}/resetPassword"),
        before
    );
}
