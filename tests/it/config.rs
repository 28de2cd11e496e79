//! The repository config file (`authctl.yaml` / `.authctl.toml`) through the real binary: found by walking up from
//! the manifests (or the working directory), flags and environment winning over it, `auth check` naming where each
//! setting came from, and protected accounts refusing a plan that changes them.

use serde_json::Value;

use crate::support::{Emu, RW_CLIENT_ID, RW_SECRET, authctl_cmd};

fn repo_with(config_name: &str, config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir_all(dir.path().join("manifests/emea")).unwrap();
    std::fs::write(dir.path().join(config_name), config).unwrap();
    dir
}

fn settings(v: &Value) -> std::collections::BTreeMap<String, (String, String)> {
    v["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["setting"].as_str().unwrap().to_string(),
                (
                    s["value"].as_str().unwrap().to_string(),
                    s["from"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

async fn auth_check(
    emu: &Emu,
    cwd: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, Value, String) {
    let mut cmd = authctl_cmd();
    cmd.current_dir(cwd)
        .env("PATH", "/usr/bin:/bin")
        .env("AZURE_CLIENT_SECRET", RW_SECRET)
        .env("AZURE_AUTHORITY_HOST", emu.url())
        .args([
            "auth",
            "check",
            "--graph-url",
            &emu.url(),
            "--format",
            "json",
        ])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn precedence_flag_over_environment_over_arm_over_config_file_over_default() {
    let emu = Emu::example().await;
    let tenant = emu.tenant_id();
    // The config file alone: tenant, client id and limits come from it (found from a subdirectory).
    let repo = repo_with(
        "authctl.yaml",
        &format!(
            "tenant: {tenant}\nclientId: {RW_CLIENT_ID}\ncloud: global\nlimits: {{ parallelism: 3, maxRate: 50/1s }}\n"
        ),
    );
    let cfg = std::fs::canonicalize(repo.path().join("authctl.yaml")).unwrap();
    let cfg = cfg.display().to_string();
    let sub = repo.path().join("manifests/emea");
    let (code, v, err) = auth_check(&emu, &sub, &[], &[]).await;
    assert_eq!(code, Some(0), "{err}");
    let s = settings(&v);
    assert_eq!(s["tenant"], (tenant.clone(), cfg.clone()));
    assert_eq!(s["clientId"], (RW_CLIENT_ID.to_string(), cfg.clone()));
    assert_eq!(s["cloud"], ("global".to_string(), cfg.clone()));
    assert_eq!(s["parallelism"], ("3".to_string(), cfg.clone()));
    assert_eq!(s["maxRate"].1, cfg);
    assert_eq!(v["tenant"], tenant.as_str());

    // The environment wins over the file (the file's tenant is wrong: the run still works).
    let wrong = repo_with(
        ".authctl.toml",
        "tenant = \"wrong.example\"\nclient_id = \"wrong-app\"\n[limits]\nparallelism = 3\n",
    );
    let (code, v, err) = auth_check(
        &emu,
        wrong.path(),
        &[
            ("AZURE_TENANT_ID", &tenant),
            ("ARM_CLIENT_ID", RW_CLIENT_ID),
        ],
        &["--parallelism", "5"],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    let s = settings(&v);
    assert_eq!(s["tenant"], (tenant.clone(), "AZURE_TENANT_ID".to_string()));
    assert_eq!(
        s["clientId"],
        (RW_CLIENT_ID.to_string(), "ARM_CLIENT_ID".to_string())
    );
    assert_eq!(
        s["parallelism"],
        ("5".to_string(), "--parallelism".to_string())
    );
    assert_eq!(s["maxRate"].1, "default");

    // A flag wins over the environment.
    let (code, v, err) = auth_check(
        &emu,
        wrong.path(),
        &[
            ("AZURE_TENANT_ID", "wrong.example"),
            ("AZURE_CLIENT_ID", RW_CLIENT_ID),
        ],
        &["--tenant", &tenant],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        settings(&v)["tenant"],
        (tenant.clone(), "--tenant".to_string())
    );

    // Only the file: its wrong tenant is used, and the failure shows.
    let (code, _, _) = auth_check(&emu, wrong.path(), &[], &[]).await;
    assert_eq!(code, Some(1));
}

#[tokio::test]
async fn a_broken_config_file_is_an_error_naming_the_file_and_the_field() {
    let repo = repo_with("authctl.yaml", "tenant: t\nmaxDeletes: 3\n");
    let out = authctl_cmd()
        .current_dir(repo.path())
        .args(["validate", "manifests"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("authctl.yaml") && err.contains("maxDeletes"),
        "{err}"
    );
}

#[test]
fn protected_accounts_refuse_a_plan_that_changes_them_and_max_deletes_comes_from_the_file() {
    let root = env!("CARGO_MANIFEST_DIR");
    let repo = repo_with(
        "authctl.yaml",
        "protectedAccounts: [adelev@contoso.com]\nlimits: { maxDeletes: 0 }\n",
    );
    let manifests = repo.path().join("manifests");
    for f in ["engineering.yaml", "emea/offices.yaml"] {
        std::fs::copy(format!("{root}/examples/manifests/{f}"), manifests.join(f)).unwrap();
    }
    let out = authctl_cmd()
        .args([
            "plan",
            manifests.to_str().unwrap(),
            "--emulate",
            &format!("{root}/examples/tenant.yaml"),
            "--virtual-clock",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("protected account(s) AdeleV@contoso.com"),
        "{err}"
    );
    assert!(
        err.contains("the limit is 0"),
        "maxDeletes from the file: {err}"
    );
    let out = authctl_cmd()
        .args([
            "apply",
            manifests.to_str().unwrap(),
            "--emulate",
            &format!("{root}/examples/tenant.yaml"),
            "--virtual-clock",
            "--auto-approve",
            "--max-deletes",
            "50",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing was applied"), "{err}");
}
