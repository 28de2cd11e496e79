//! Joiners and leavers through the real binary against the emulator: `authctl tap issue` (the TAP policy checked
//! before any write, warnings, one pass per user, 200 users into a 0600 CSV, JSON rows, the pass never in a log, the
//! journal, `--stats` or an error) and `tap revoke`; `authctl offboard` (every method type removed but the password,
//! the default method last, sessions revoked, `--max-deletes`, protected accounts from the flag and the config file,
//! the manifest warning, a SIGKILL mid-run then a re-run that finishes with nothing removed twice).

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::imperative_commands::{code, stderr, stdout};
use crate::support::Emu;

const PILOT: &str = "11111111-1111-4111-8111-111111111111";

/// A tenant whose app may do everything `tap` and `offboard` need; TAP enabled for the Pilot group (kim is in it,
/// lee is not) with lifetimes of 60–480 minutes, reusable passes allowed; `pat` holds one method of every type
/// (ten, besides the password; her default is the FIDO2 key), `breakglass` is an admin with a key.
fn tenant(tap_config: &str) -> String {
    format!(
        r##"
tenantId: 00000000-0000-4000-8000-0000000000f0
apps:
  - clientId: 00000000-0000-4000-8000-00000000f001
    secret: s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All, Policy.Read.AuthenticationMethod, GroupMember.Read.All, User.RevokeSessions.All]
    delegatedPermissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All, Policy.Read.AuthenticationMethod, GroupMember.Read.All]
groups:
  - {{ id: {PILOT}, displayName: Pilot, members: [kim@contoso.com] }}
authenticationMethodsPolicy:
  authenticationMethodConfigurations:
    - id: TemporaryAccessPass
{tap_config}
users:
  - id: 00000000-0000-4000-8000-0000000000f1
    userPrincipalName: kim@contoso.com
    phones:
      mobile: {{ number: "+1 2065550101" }}
  - id: 00000000-0000-4000-8000-0000000000f2
    userPrincipalName: lee@contoso.com
  - id: 00000000-0000-4000-8000-0000000000f3
    userPrincipalName: pat@contoso.com
    defaultMethodId: fido-key-1
    phones:
      mobile: {{ number: "+1 2065550103" }}
      alternateMobile: {{ number: "+1 2065550104" }}
    methods:
      - {{ type: email, id: 3ddfcfc8-9383-446f-83cc-3ab9be4be18f, emailAddress: pat@fabrikam.example }}
      - {{ type: microsoftAuthenticator, id: auth-1, displayName: "Pat's iPhone", deviceTag: SoftwareTokenActivated }}
      - {{ type: fido2, id: fido-key-1, displayName: YubiKey 5 NFC, model: YubiKey 5 Series }}
      - {{ type: windowsHelloForBusiness, id: whfb-1, displayName: PAT-LAPTOP, keyStrength: normal }}
      - {{ type: softwareOath, id: oath-1, secretKey: null }}
      - {{ type: platformCredential, id: psso-1, displayName: "Pat's MacBook", platform: macOS }}
      - {{ type: externalAuthentication, id: ext-1, configurationId: cfg-1, displayName: Contoso MFA }}
      - {{ type: temporaryAccessPass, id: tap-1, lifetimeInMinutes: 60, isUsableOnce: true }}
      - {{ type: qrCodePin, id: qr-1, pin: {{ code: null, forceChangePinNextSignIn: true }} }}
  - id: 00000000-0000-4000-8000-0000000000f4
    userPrincipalName: breakglass@contoso.com
    roles: [Global Administrator]
    methods:
      - {{ type: fido2, id: bg-key, displayName: Vault key }}
  - id: 00000000-0000-4000-8000-0000000000f7
    userPrincipalName: admin@contoso.com
    roles: [Privileged Authentication Administrator, Global Reader]
  - id: 00000000-0000-4000-8000-0000000000f6
    userPrincipalName: helpdesk@contoso.com
    roles: [Authentication Administrator]
  - id: 00000000-0000-4000-8000-0000000000f5
    userPrincipalName: sam@contoso.com
    phones:
      mobile: {{ number: "+1 2065550105" }}
      office: {{ number: "+1 4255550105" }}
    methods:
      - {{ type: fido2, id: sam-key, displayName: Key }}
      - {{ type: softwareOath, id: sam-oath }}
"##
    )
}

const TAP_ENABLED: &str = "      state: enabled\n      includeTargets: [{ id: 11111111-1111-4111-8111-111111111111, targetType: group }]\n      minimumLifetimeInMinutes: 60\n      maximumLifetimeInMinutes: 480\n      defaultLifetimeInMinutes: 60\n      isUsableOnce: false";
const TAP_ONE_TIME_ONLY: &str =
    "      state: enabled\n      isUsableOnce: true\n      maximumLifetimeInMinutes: 240";
const TAP_DISABLED: &str = "      state: disabled";

const PAT: &str = "00000000-0000-4000-8000-0000000000f3";

async fn run(emu: &Emu, args: &[&str]) -> Output {
    let url = emu.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--graph-url", url.as_str()]);
    emu.run_authctl(&all).await
}

/// Requests to routes whose template starts with `method` and contains `part`, any status.
fn requests(emu: &Emu, method: &str, part: &str) -> u64 {
    emu.stats()
        .by_route
        .iter()
        .filter(|(r, _)| r.starts_with(&format!("{method} ")) && r.contains(part))
        .flat_map(|(_, m)| m.values())
        .sum()
}

/// `authctl tap issue ARGS… --out -` (the passes on stdout).
async fn tap_issue(emu: &Emu, args: &[&str]) -> Output {
    run(emu, &[&["tap", "issue"], args, &["--out", "-"]].concat()).await
}

/// Stderr holds `part` (shown in full when it does not).
fn assert_stderr_has(o: &Output, part: &str) {
    assert!(stderr(o).contains(part), "{}", stderr(o));
}

/// Stdout holds `part` (shown in full when it does not).
fn assert_stdout_has(o: &Output, part: &str) {
    assert!(stdout(o).contains(part), "{}", stdout(o));
}

/// `authctl offboard ARGS…`.
async fn offboard(emu: &Emu, args: &[&str]) -> Output {
    run(emu, &[&["offboard"], args].concat()).await
}

fn creates(emu: &Emu) -> u64 {
    requests(emu, "POST", "temporaryAccessPassMethods")
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// `doc` validates against the committed schema `schemas/{file}`.
fn conforms(file: &str, doc: &Value) {
    let path = crate::support::repo_path(&format!("schemas/{file}"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{file}: {errors:#?}\n{doc}");
}

// ---- tap issue --------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_lifetime_outside_the_policy_is_refused_before_any_write_with_its_numbers() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    for lifetime in ["30m", "9h"] {
        let o = tap_issue(&emu, &["kim@contoso.com", "--lifetime", lifetime]).await;
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert_stderr_has(
            &o,
            "outside the Temporary Access Pass policy's range of 60 to 480 minutes (1h to 8h)",
        );
        assert_eq!(stdout(&o), "");
    }
    assert_eq!(creates(&emu), 0, "no POST reached Graph");
    assert_eq!(requests(&emu, "GET", "temporaryAccessPassMethods"), 0);
    assert!(
        emu.snapshot()
            .user("kim@contoso.com")
            .unwrap()
            .methods
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_reusable_pass_is_refused_when_the_policy_allows_only_one_time_passes() {
    let emu = Emu::start(&tenant(TAP_ONE_TIME_ONLY)).await;
    let o = tap_issue(&emu, &["kim@contoso.com", "--reusable"]).await;
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_stderr_has(&o, "allows only one-time passes");
    assert_eq!(creates(&emu), 0);
    // The policy's maximum is its own: 240 minutes.
    let o = tap_issue(&emu, &["kim@contoso.com", "--lifetime", "5h"]).await;
    assert_stderr_has(&o, "range of 60 to 240 minutes");
    assert_eq!(creates(&emu), 0);
    // Without --reusable the pass is one-time.
    let o = tap_issue(&emu, &["kim@contoso.com", "--format", "json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["passes"][0]["oneTime"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_warns_when_the_user_is_not_in_the_targets_or_the_policy_is_disabled() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let o = tap_issue(&emu, &["kim@contoso.com", "lee@contoso.com"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("lee@contoso.com is not in the Temporary Access Pass policy's targets"),
        "{err}"
    );
    assert!(!err.contains("kim@contoso.com is not in"), "{err}");
    assert_eq!(creates(&emu), 2, "the pass is still created");

    let emu = Emu::start(&tenant(TAP_DISABLED)).await;
    let o = tap_issue(&emu, &["kim@contoso.com"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_stderr_has(&o, "disabled in the authentication methods policy");
    assert_eq!(creates(&emu), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_second_pass_is_refused_without_replace_and_json_rows_carry_every_field() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let first = tap_issue(
        &emu,
        &[
            "kim@contoso.com",
            "--lifetime",
            "2h",
            "--once",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let doc = json(&first);
    conforms("tap-issue.schema.json", &doc);
    assert_eq!(doc["formatVersion"], 1);
    let row = &doc["passes"][0];
    assert_eq!(row["user"], "kim@contoso.com");
    assert_eq!(row["id"], "00000000-0000-4000-8000-0000000000f1");
    assert_eq!(row["oneTime"], true);
    let pass = row["pass"].as_str().unwrap().to_string();
    assert_eq!(pass.len(), 8, "the policy's default length");
    let from: jiff::Timestamp = row["validFrom"].as_str().unwrap().parse().unwrap();
    let until: jiff::Timestamp = row["validUntil"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        until.duration_since(from),
        jiff::SignedDuration::from_hours(2)
    );

    let again = tap_issue(&emu, &["kim@contoso.com"]).await;
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    assert_stderr_has(&again, "already has a usable Temporary Access Pass");
    assert!(stderr(&again).contains("--replace"));
    assert_eq!(creates(&emu), 1, "no second create without --replace");

    let replaced = tap_issue(&emu, &["kim@contoso.com", "--replace", "--format", "json"]).await;
    assert_eq!(code(&replaced), 0, "{}", stderr(&replaced));
    assert_ne!(json(&replaced)["passes"][0]["pass"].as_str().unwrap(), pass);
    assert_eq!(creates(&emu), 2);
    let taps = emu
        .snapshot()
        .user("kim@contoso.com")
        .unwrap()
        .methods
        .iter()
        .filter(|m| m.kind == "temporaryAccessPass")
        .count();
    assert_eq!(taps, 1, "one pass per user");
}

/// The binary with a delegated token of `upn` (its roles from the tenant file) instead of the app's secret.
async fn run_as(emu: &Emu, upn: &str, args: &[&str]) -> Output {
    // The emulator's clock is virtual (early 2026), the binary's real: a token that outlives the gap.
    let t = emu.token(authctl::emulator::TokenSpec {
        user: Some(upn.into()),
        lifetime: Some(Duration::from_secs(5 * 365 * 86400)),
        ..Default::default()
    });
    let url = emu.url();
    let mut cmd = emu.authctl();
    cmd.args(args)
        .args(["--graph-url", url.as_str()])
        .env_remove("AZURE_CLIENT_SECRET")
        .env("AUTHCTL_ACCESS_TOKEN", &t);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// A delegated Privileged Authentication Administrator (and Global Reader, to read the policy) issues passes to
/// others, not to themselves (Graph's 403, in its words); a pass that starts later is current too: no second one
/// without --replace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_delegated_admin_cannot_issue_themselves_a_pass_and_a_future_pass_counts() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let o = run_as(
        &emu,
        "admin@contoso.com",
        &[
            "tap",
            "issue",
            "admin@contoso.com",
            "kim@contoso.com",
            "--start",
            "2030-01-01T08:00:00+01:00",
            "--out",
            "-",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc = json(&o);
    conforms("tap-issue.schema.json", &doc);
    assert_eq!(doc["failed"][0]["user"], "admin@contoso.com");
    let why = doc["failed"][0]["error"].as_str().unwrap();
    assert!(
        why.contains("403")
            && why.contains("Nobody can create a Temporary Access Pass for their own account"),
        "{why}"
    );
    assert_eq!(doc["passes"][0]["user"], "kim@contoso.com");
    assert_eq!(doc["passes"][0]["validFrom"], "2030-01-01T07:00:00Z");
    let again = run_as(
        &emu,
        "admin@contoso.com",
        &["tap", "issue", "kim@contoso.com", "--out", "-"],
    )
    .await;
    assert_eq!(code(&again), 1);
    assert_stderr_has(&again, "already has a usable Temporary Access Pass");
    // An Authentication Administrator can't read the policy: refused before any write, in Graph's words.
    let o = run_as(
        &emu,
        "helpdesk@contoso.com",
        &["tap", "issue", "lee@contoso.com", "--out", "-"],
    )
    .await;
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "reading the Temporary Access Pass policy");
    assert_stderr_has(&o, "403");
    assert_eq!(
        emu.stats().count(
            "POST /users/{id}/authentication/temporaryAccessPassMethods",
            201
        ),
        1,
        "only kim's pass was created (the admin's own was Graph's 403)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_off_a_terminal_needs_out_so_passes_never_land_in_a_ci_log() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let o = run(&emu, &["tap", "issue", "kim@contoso.com"]).await;
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "stdout is not a terminal");
    assert_eq!(emu.stats().http_requests, 0, "refused before connecting");
}

/// 200 users (and one that doesn't exist) into a CSV: mode 0600, one row per issued pass with every column, the
/// failing user named on stderr, exit 1; no pass in the `-vvv` log, `--stats`, the journal or the error.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_200_users_into_a_0600_csv_with_one_failing_user_and_no_pass_anywhere_else() {
    use std::fmt::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mut yaml = tenant(TAP_ENABLED).replace(
        "[{ id: 11111111-1111-4111-8111-111111111111, targetType: group }]",
        "[{ id: all_users, targetType: group }]",
    );
    let mut list = String::from("# onboarding wave\n");
    for i in 0..200 {
        write!(
            yaml,
            "  - id: 00000000-0000-4000-8000-00000001{i:04}\n    userPrincipalName: new{i}@contoso.com\n"
        )
        .unwrap();
        writeln!(list, "new{i}@contoso.com").unwrap();
        if i == 100 {
            list.push_str("ghost@contoso.com\n");
        }
    }
    let emu = Emu::start(&yaml).await;
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("wave.txt");
    std::fs::write(&users, list).unwrap();
    let csv = dir.path().join("passes.csv");
    let journal = dir.path().join("tap.journal");
    let o = run(
        &emu,
        &[
            "-vvv",
            "tap",
            "issue",
            "--from-file",
            users.to_str().unwrap(),
            "--format",
            "csv",
            "--out",
            csv.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--stats",
        ],
    )
    .await;
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("error: ghost@contoso.com: does not exist in the tenant"),
        "{err}"
    );
    assert!(
        err.contains("Issued 200 Temporary Access Pass(es); 1 user(s) failed."),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&csv).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("user,userPrincipalName,id,pass,validFrom,validUntil,oneTime")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 200);
    let mut passes = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), 7, "{r:?}");
        assert_eq!(r[0], format!("new{i}@contoso.com"), "input order");
        assert_eq!(r[2], format!("00000000-0000-4000-8000-00000001{i:04}"));
        assert_eq!(r[3].len(), 8);
        assert!(r[4].parse::<jiff::Timestamp>().is_ok() && r[5].parse::<jiff::Timestamp>().is_ok());
        assert_eq!(r[6], "false");
        passes.push(r[3].to_string());
    }
    assert_eq!(creates(&emu), 200);
    // The pass is nowhere but the CSV: not on stdout, not in the trace log or --stats (stderr), not in the journal.
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(journal_text.matches("\"intent\"").count(), 200);
    assert!(
        err.contains("graph request"),
        "the -vvv trace log ran: {err}"
    );
    for p in &passes {
        assert!(!stdout(&o).contains(p.as_str()));
        assert!(!err.contains(p.as_str()), "a pass in the log: {p}");
        assert!(
            !journal_text.contains(p.as_str()),
            "a pass in the journal: {p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_revoke_removes_the_pass_and_a_second_revoke_finds_none() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let o = tap_issue(&emu, &["kim@contoso.com"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(
        &emu,
        &["tap", "revoke", "kim@contoso.com", "nobody@contoso.com"],
    )
    .await;
    assert_eq!(code(&o), 1, "the missing user fails: {}", stderr(&o));
    assert_stdout_has(&o, "kim@contoso.com: Temporary Access Pass removed");
    assert_stderr_has(&o, "nobody@contoso.com: does not exist");
    assert!(
        emu.snapshot()
            .user("kim@contoso.com")
            .unwrap()
            .methods
            .is_empty()
    );
    let o = run(&emu, &["tap", "revoke", "kim@contoso.com"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("kim@contoso.com: no Temporary Access Pass"));
}

// ---- offboard ---------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_removes_every_method_type_but_the_password_default_last_and_revokes_sessions() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let o = offboard(
        &emu,
        &[
            "pat@contoso.com",
            "--revoke-sessions",
            "--auto-approve",
            "--max-deletes",
            "12",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    // The plan was shown (on stderr with --format json) before anything was done.
    let plan = stderr(&o);
    assert!(plan.contains("remove fido2 \"YubiKey 5 NFC\""), "{plan}");
    assert!(plan.contains("= keep password"), "{plan}");
    assert!(
        plan.contains("Plan: remove 11 method(s) from 1 user(s), revoke their sign-in sessions."),
        "{plan}"
    );
    let doc = json(&o);
    conforms("offboard-report.schema.json", &doc);
    assert_eq!(doc["formatVersion"], 1);
    let u = &doc["users"][0];
    let removed: Vec<&str> = u["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    for t in [
        "temporaryAccessPass",
        "email",
        "fido2",
        "windowsHelloForBusiness",
        "platformCredential",
        "qrCodePin",
        "external",
        "softwareOath",
        "phone",
        "microsoftAuthenticator",
    ] {
        assert!(removed.contains(&t), "{t}: {removed:?}");
    }
    assert_eq!(removed.len(), 11, "{removed:?}");
    // The TAP first; the default (the FIDO2 key, refused while others remained) last, after the Authenticator.
    assert_eq!(removed[0], "temporaryAccessPass");
    assert_eq!(removed[10], "fido2", "{removed:?}");
    assert_eq!(removed[9], "microsoftAuthenticator", "{removed:?}");
    assert!(
        u["notes"][0]
            .as_str()
            .unwrap()
            .contains("default method: removed last"),
        "{u}"
    );
    assert_eq!(u["failed"], serde_json::json!([]));
    assert_eq!(u["remaining"], serde_json::json!([]));
    assert_eq!(u["sessions"]["state"], "revoked");
    let pat = emu.snapshot().user(PAT).unwrap().clone();
    assert!(pat.phones.is_empty() && pat.methods.is_empty(), "{pat:?}");
    assert!(pat.sign_in_sessions_valid_from.is_some());
    assert_eq!(
        requests(&emu, "DELETE", "fido2Methods"),
        2,
        "the default key: refused once, then removed"
    );

    // Again: nothing left to remove, nothing is an error.
    let o = offboard(&emu, &["pat@contoso.com", "--auto-approve"]).await;
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    assert_stdout_has(&o, "nothing to remove");
    assert_stdout_has(&o, "Offboarded 1 of 1 user(s); 0 method(s) removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_max_deletes_refuses_a_batch_and_nothing_is_removed_without_approval() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    // kim 1 + pat 11 + sam 4 = 16 methods > the default 10.
    let o = offboard(
        &emu,
        &[
            "kim@contoso.com",
            "pat@contoso.com",
            "sam@contoso.com",
            "--auto-approve",
        ],
    )
    .await;
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "offboarding would remove 16 method(s), the limit is 10");
    // Within the limit but stdin is not a terminal: refused without --auto-approve.
    let o = offboard(&emu, &["sam@contoso.com"]).await;
    assert_eq!(code(&o), 1);
    assert_stderr_has(&o, "pass --auto-approve to offboard");
    assert_eq!(
        requests(&emu, "DELETE", "/users/"),
        0,
        "nothing was deleted"
    );
    assert_eq!(requests(&emu, "POST", "revokeSignInSessions"), 0);
    // The batch as a visible decision.
    let o = offboard(
        &emu,
        &[
            "kim@contoso.com",
            "sam@contoso.com",
            "--auto-approve",
            "--max-deletes",
            "5",
        ],
    )
    .await;
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let sam = emu.snapshot().user("sam@contoso.com").unwrap().clone();
    assert!(sam.phones.is_empty() && sam.methods.is_empty());
    assert!(stdout(&o).contains("sessions      not revoked (no --revoke-sessions)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_refuses_protected_accounts_from_the_flag_and_the_config_file_naming_the_list() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let o = offboard(
        &emu,
        &[
            "sam@contoso.com",
            "breakglass@contoso.com",
            "--protect",
            "BreakGlass@contoso.com",
            "--auto-approve",
        ],
    )
    .await;
    assert_eq!(code(&o), 1);
    assert_stderr_has(
        &o,
        "refusing to offboard protected account(s): breakglass@contoso.com (--protect)",
    );
    assert_eq!(
        emu.stats().http_requests,
        0,
        "refused before Graph is called"
    );
    // The repository's config names it by object id; given by UPN, it is refused once resolved.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(
        dir.path().join("authctl.yaml"),
        "protectedAccounts: [00000000-0000-4000-8000-0000000000f4]\n",
    )
    .unwrap();
    let manifest = dir.path().join("users.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n    - user: kim@contoso.com\n      phones:\n        mobile: \"+1 2065550101\"\n",
    )
    .unwrap();
    let o = offboard(
        &emu,
        &[
            "breakglass@contoso.com",
            "--auto-approve",
            "--manifests",
            manifest.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("00000000-0000-4000-8000-0000000000f4 (protectedAccounts in "),
        "{err}"
    );
    assert!(err.contains("authctl.yaml)"), "{err}");
    assert_eq!(requests(&emu, "DELETE", "/users/"), 0);
    assert_eq!(
        emu.snapshot()
            .user("breakglass@contoso.com")
            .unwrap()
            .methods
            .len(),
        1
    );

    // A user the manifests still declare with a phone gets the warning (and is offboarded).
    let o = offboard(
        &emu,
        &[
            "kim@contoso.com",
            "--auto-approve",
            "--manifests",
            manifest.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("kim@contoso.com is still declared in")
            && stderr(&o).contains("users.yaml:6:")
            && stderr(&o).contains(
                "with methods to keep (phone (mobile)): the next apply would recreate them"
            ),
        "{}",
        stderr(&o)
    );
}

/// Graph's words reach the report: an admin's methods, offboarded with a delegated Authentication Administrator's
/// rights, are refused (Authentication Administrators can't act on admins) and the run exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_reports_what_graph_refused_in_its_words() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let o = run_as(
        &emu,
        "helpdesk@contoso.com",
        &[
            "offboard",
            "breakglass@contoso.com",
            "--auto-approve",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(code(&o), 1, "{}\n{}", stdout(&o), stderr(&o));
    conforms("offboard-report.schema.json", &json(&o));
    let u = &json(&o)["users"][0];
    let f = &u["failed"][0];
    assert_eq!(f["method"]["type"], "fido2", "{u}");
    assert_eq!(f["error"]["status"], 403);
    assert!(
        f["error"]["message"]
            .as_str()
            .unwrap()
            .contains("directory roles do not allow"),
        "{f}"
    );
    assert!(
        f["error"]["requestId"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(u["remaining"][0]["type"], "fido2");
}

/// `authctl offboard` killed with SIGKILL mid-run (while a delete is in flight: its intent line is in the journal),
/// against `authctl emulator --persist` (a separate process, 5 ms latency), then run again: it finishes, only the
/// password is left, no method was deleted twice (each delete route answered 2xx at most once for the user) and the
/// re-run reports no failure. Real time passes here, briefly.
#[test]
fn offboard_killed_mid_run_then_run_again_finishes_with_nothing_removed_twice() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = (
        "00000000-0000-4000-8000-00000000f001",
        "s3cret",
        "00000000-0000-4000-8000-0000000000f0",
    );
    for (run, kill_after) in [(0, 1usize), (1, 4), (2, 8)] {
        let state = dir.path().join(format!("tenant-{run}.yaml"));
        std::fs::write(&state, tenant(TAP_ENABLED)).unwrap();
        let emu =
            crate::support::EmulatorProcess::start(&state, &["--persist", "--latency", "5ms"]);
        let journal = dir.path().join(format!("offboard-{run}.journal"));
        let cmd = |journal: &std::path::Path| {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_authctl"));
            c.args([
                "offboard",
                "pat@contoso.com",
                "--revoke-sessions",
                "--auto-approve",
                "--max-deletes",
                "12",
                "--format",
                "json",
                "--graph-url",
                &emu.url,
                "--journal",
            ])
            .arg(journal)
            .env_clear()
            .env("AZURE_TENANT_ID", app.2)
            .env("AZURE_CLIENT_ID", app.0)
            .env("AZURE_CLIENT_SECRET", app.1)
            .env("AZURE_AUTHORITY_HOST", &emu.url)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
            c
        };
        let mut child = cmd(&journal).spawn().unwrap();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(30)
            && std::fs::read_to_string(&journal)
                .unwrap_or_default()
                .matches("\"intent\"")
                .count()
                < kill_after
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let before = std::fs::read_to_string(&journal).unwrap_or_default();
        assert!(
            before.matches("\"intent\"").count() >= kill_after,
            "run {run}: {before}"
        );
        let again = dir.path().join(format!("offboard-{run}-again.journal"));
        let out = cmd(&again).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("run {run}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(out.status.code(), Some(0), "run {run}: {report}");
        let u = &report["users"][0];
        assert_eq!(u["failed"], serde_json::json!([]), "run {run}: {u}");
        assert_eq!(u["remaining"], serde_json::json!([]), "run {run}: {u}");
        assert_eq!(u["sessions"]["state"], "revoked");
        let stats: authctl::emulator::Stats = rt.block_on(async {
            reqwest::get(format!("{}/_emulator/stats", emu.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        let mine = stats
            .successful_by_user
            .get(PAT)
            .cloned()
            .unwrap_or_default();
        let mut deleted = 0;
        for (route, n) in &mine {
            if route.starts_with("DELETE ") && !route.contains("phoneMethods") {
                assert_eq!(*n, 1, "run {run}: {route} removed twice");
                deleted += n;
            }
        }
        let phones = mine
            .get("DELETE /users/{id}/authentication/phoneMethods/{id}")
            .copied()
            .unwrap_or(0);
        assert_eq!(phones, 2, "run {run}: two phones, each removed once");
        assert_eq!(deleted + phones, 11, "run {run}: {mine:?}");
        drop(emu);
    }
}

/// The text a person reads: the plan (every method, what stays, the sessions) and the report, from a real run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_text_plan_and_report_snapshot() {
    let emu = Emu::start(&tenant(TAP_ENABLED)).await;
    let o = offboard(
        &emu,
        &[
            "pat@contoso.com",
            "ghost@contoso.com",
            "--revoke-sessions",
            "--auto-approve",
            "--max-deletes",
            "11",
        ],
    )
    .await;
    assert_eq!(
        code(&o),
        1,
        "the missing user fails the run: {}",
        stderr(&o)
    );
    insta::assert_snapshot!("offboard_text", stdout(&o));
}
