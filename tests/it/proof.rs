//! Integration tests: proof. Arbitrary input never panics the loader or the number parser; the loader's budgets stop
//! alias bombs and oversized documents with a clear error; the CI recipes' `steps.sh` runs against the emulator; the
//! security pass; the fault campaign and the soak over an in-process emulator on a virtual clock.

use std::fmt::Write as _;

use authctl::apply::{ApplyOptions, apply};
use authctl::emulator::Options;
use authctl::manifest::{self, Manifests, Severity};
use authctl::model::PhoneType;
use authctl::phone::PhoneNumber;
use proptest::prelude::*;

use crate::support::{Emu, repo_path};

// ---------------------------------------------------------------------------------------------------------------
// Arbitrary input: no panic.

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_manifest_loader_never_panics_on_arbitrary_text(text in any::<String>()) {
        let m = load_text(&text);
        // Whatever it was, the loader answered with users or diagnostics, never both silently empty for non-YAML.
        prop_assert!(m.files == vec!["-".to_string()]);
    }

    #[test]
    fn the_manifest_loader_never_panics_on_manifest_shaped_documents(text in manifest_like()) {
        let m = load_text(&text);
        // Every error names a place inside the input.
        for d in m.diagnostics.iter().filter(|d| d.severity == Severity::Error) {
            prop_assert!(d.line >= 1, "{d:?}");
            prop_assert!(d.line <= manifest::diagnostic::yaml_lines(&text).count().max(1) + 1, "{d:?} in\n{text}");
        }
    }

    #[test]
    fn the_number_parsers_never_panic_on_arbitrary_text(text in any::<String>()) {
        let _ = PhoneNumber::parse(&text);
        let _ = PhoneNumber::parse_observed(&text);
    }

    #[test]
    fn the_number_parsers_never_panic_on_number_shaped_text(text in number_like()) {
        if let Ok(p) = PhoneNumber::parse(&text) {
            // What parse accepts, the lenient reader accepts too, and canonical forms are fixed points.
            let canonical = p.number.canonical();
            let again = PhoneNumber::parse_observed(&canonical);
            prop_assert_eq!(again.map(|n| n.canonical()), Ok(canonical.clone()), "from {:?}", text);
        }
        if let Ok(n) = PhoneNumber::parse_observed(&text) {
            let canonical = n.canonical();
            prop_assert_eq!(
                PhoneNumber::parse_observed(&canonical).map(|n| n.canonical()),
                Ok(canonical.clone()),
                "from {:?}", text
            );
        }
    }
}

fn load_text(text: &str) -> Manifests {
    let mut stdin = text.as_bytes();
    manifest::load_from(&["-".to_string()], &mut stdin)
}

/// Text shaped like a phone number: a sign, digits, separators, extension markers, stray letters.
fn number_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[0-9]{1,4}",
            2 => Just(" ".to_string()),
            1 => Just("+".to_string()),
            1 => prop::sample::select(vec!["(", ")", "-", ".", "/", "x", "ext", "ext. ", "extension ", ";ext="])
                .prop_map(str::to_string),
            1 => "[a-zA-Z٠-٩０-９]{1,2}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// A manifest document assembled from valid and broken pieces, so the walker and validator are reached, not only
/// the YAML parser.
fn manifest_like() -> impl Strategy<Value = String> {
    let word = |good: &'static [&'static str]| {
        prop_oneof![
            4 => prop::sample::select(good.to_vec()).prop_map(str::to_string),
            1 => "[a-zA-Z:~{}\\[\\]&*!|>'\"#%@ -]{0,8}",
        ]
    };
    let number = prop_oneof![
        3 => number_like().prop_map(|n| format!("\"{n}\"")),
        1 => Just("absent".to_string()),
        1 => prop::sample::select(vec!["~", "null", "", "12065550100", "[]", "{}", "&a x", "*a"]).prop_map(str::to_string),
    ];
    let phone = (
        word(&["mobile", "alternateMobile", "office", "mobil"]),
        number,
    )
        .prop_map(|(k, v)| format!("        {k}: {v}\n"));
    let user = (
        word(&[
            "AdeleV@contoso.com",
            "4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e",
            "x#EXT#@contoso.onmicrosoft.com",
        ]),
        prop::option::of(word(&["exact", "merge"])),
        prop::collection::vec(phone, 0..4),
        prop::option::of(word(&["enabled", "disabled", "yes"])),
    )
        .prop_map(|(u, mode, phones, sms)| {
            let mut s = format!("    - user: {u}\n");
            if let Some(m) = mode {
                s.push_str(&format!("      mode: {m}\n"));
            }
            if !phones.is_empty() {
                s.push_str("      phones:\n");
                s.push_str(&phones.concat());
            }
            if let Some(x) = sms {
                s.push_str(&format!("      smsSignIn: {x}\n"));
            }
            s
        });
    (
        word(&["authctl/v1"]),
        word(&["PhoneMethods"]),
        word(&["exact", "merge"]),
        prop::collection::vec(user, 0..5),
        1..3usize,
    )
        .prop_map(|(api, kind, mode, users, docs)| {
            let doc = format!(
                "apiVersion: {api}\nkind: {kind}\nspec:\n  mode: {mode}\n  users:\n{}",
                users.concat()
            );
            vec![doc; docs].join("---\n")
        })
}

// ---------------------------------------------------------------------------------------------------------------
// Security: the loader's budgets.

#[test]
fn an_alias_bomb_is_rejected_by_the_budget_with_a_clear_error() {
    // Nine levels of nine-fold aliases: 9^9 (≈387 million) nodes if expanded.
    let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        y.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    y = format!(
        "apiVersion: authctl/v1\nkind: PhoneMethods\n{y}spec:\n  mode: exact\n  users: []\n"
    );
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(budget.message.contains("alias bomb"), "{}", budget.message);
    assert!(budget.help.is_some());
}

#[test]
fn a_manifest_nested_past_the_depth_budget_is_rejected_with_a_clear_error() {
    let deep = format!("{}x{}", "[".repeat(200), "]".repeat(200));
    let y = format!(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users: []\nextra: {deep}\n"
    );
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(
        budget.message.contains("authctl's YAML limits") || budget.message.contains("deep"),
        "{}",
        budget.message
    );
}

#[test]
fn an_oversized_manifest_file_is_refused_before_it_is_read() {
    // A sparse file one byte past the 64 MiB cap: refused from its size alone, so it costs no memory or parse time.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(manifest::MAX_FILE_BYTES + 1).unwrap();
    drop(f);
    let m = manifest::load(&[path.to_string_lossy().into_owned()]);
    let d = only_file_budget_error(&m);
    assert_eq!(d.file, path.to_string_lossy());
    assert!(
        d.message
            .contains(&format!("{} bytes", manifest::MAX_FILE_BYTES + 1)),
        "{}",
        d.message
    );
    assert!(d.message.contains("64 MiB"), "{}", d.message);
}

#[test]
fn an_endless_stdin_is_cut_off_at_the_cap_with_a_clear_error() {
    // `yes x | authctl validate -`: the loader stops reading at the cap instead of filling memory.
    let mut endless = std::io::repeat(b'x');
    let m = manifest::load_from(&["-".to_string()], &mut endless);
    let d = only_file_budget_error(&m);
    assert_eq!(d.file, "-");
    assert!(d.message.contains("over authctl's limit"), "{}", d.message);
}

/// The one error of `m`, which must be the file-level `budget` error (no line: the file was not read).
#[track_caller]
fn only_file_budget_error(m: &Manifests) -> &manifest::Diagnostic {
    let d = the_budget_error(m);
    assert_eq!(d.line, 0, "{d:#?}");
    d
}

#[test]
fn a_manifest_with_more_aliases_than_the_budget_is_rejected_with_a_clear_error() {
    // Cheap to expand (each alias is one scalar) but more aliases than any manifest needs.
    let mut y = String::from(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users: []\nx: &x y\nextra: [",
    );
    for _ in 0..10_001 {
        y.push_str("*x, ");
    }
    y.push_str("]\n");
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(budget.message.contains("limit"), "{}", budget.message);
}

/// The one error of `m`, which must be the loader's `budget` error at a real place.
#[track_caller]
fn only_budget_error(m: &Manifests) -> &manifest::Diagnostic {
    let d = the_budget_error(m);
    assert!(d.line >= 1, "{d:#?}");
    d
}

/// The one error of `m`: a `budget` error with a fix, and no user loaded.
#[track_caller]
fn the_budget_error(m: &Manifests) -> &manifest::Diagnostic {
    let errors: Vec<_> = m
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let d = errors[0];
    assert_eq!(d.code, "authctl::manifest::budget", "{d:#?}");
    assert!(d.help.is_some(), "{d:#?}");
    assert!(m.users.is_empty());
    d
}

// ---------------------------------------------------------------------------------------------------------------
// The CI recipes: examples/ci/steps.sh, as the workflows call it, against the emulator.

/// Three users, one per kind of change the recipes must carry through: a create, an update, a delete.
pub(crate) const CI_TENANT: &str = r#"
tenantId: 00000000-0000-4000-8000-0000000c1000
domains: [contoso.com]
apps:
  - name: rw
    clientId: 00000000-0000-4000-8000-0000000c1001
    secret: ci-s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
    tokenLifetime: 1h
users:
  - id: 00000000-0000-4000-8000-0000000c0001
    userPrincipalName: ana@contoso.com
  - id: 00000000-0000-4000-8000-0000000c0002
    userPrincipalName: ben@contoso.com
    phones:
      mobile: { number: "+1 2065550002" }
  - id: 00000000-0000-4000-8000-0000000c0003
    userPrincipalName: cal@contoso.com
    phones:
      mobile: { number: "+1 2065550003" }
      office: { number: "+1 4255550003" }
"#;

pub(crate) const CI_MANIFEST: &str = r#"apiVersion: authctl/v1
kind: PhoneMethods
spec:
  mode: exact
  users:
    - user: ana@contoso.com
      phones:
        mobile: "+1 206 555 0001"
    - user: ben@contoso.com
      phones:
        mobile: "+1 (206) 555-0012"
    - user: cal@contoso.com
      phones:
        mobile: "+1 2065550003"
"#;

/// `bash examples/ci/steps.sh STEP` in `dir`, with the emulator's credentials and `AUTHCTL_ARGS` pointing the Graph
/// commands at it; returns the exit code, stdout, stderr and the GitHub step outputs it wrote.
async fn steps(emu: &Emu, dir: &std::path::Path, step: &str) -> StepRun {
    let outputs = dir.join(format!("github-output-{step}"));
    let _ = std::fs::remove_file(&outputs);
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(repo_path("examples/ci/steps.sh"))
        .arg(step)
        .current_dir(dir)
        .env("AUTHCTL", env!("CARGO_BIN_EXE_authctl"))
        // The form steps.sh documents: the host with /v1.0.
        .env("AUTHCTL_ARGS", format!("--graph-url {}", emu.graph_url()))
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env_remove("AUTHCTL_LOG")
        .env_remove("AUTHCTL_MANIFESTS")
        .env_remove("AUTHCTL_OUT");
    for (k, v) in emu.env() {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("bash runs"))
        .await
        .expect("steps thread");
    let outputs = std::fs::read_to_string(&outputs).unwrap_or_default();
    StepRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs,
    }
}

#[derive(Debug)]
struct StepRun {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: String,
}

fn phones_of(emu: &Emu, upn: &str) -> Vec<(String, String)> {
    let t = emu.snapshot();
    let u = t
        .users
        .iter()
        .find(|u| u.user_principal_name == upn)
        .expect("the user exists");
    u.phones
        .iter()
        .map(|(k, p)| (k.to_string(), p.number.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_steps_validate_plan_apply_and_drift_work_against_the_emulator() {
    let emu = Emu::start(CI_TENANT).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    std::fs::create_dir(d.join("manifests")).expect("mkdir");
    std::fs::write(d.join("manifests/users.yaml"), CI_MANIFEST).expect("writes the manifest");

    let v = steps(&emu, d, "validate").await;
    assert_eq!(v.code, 0, "{v:#?}");
    assert!(!v.stdout.contains("::error"), "{v:#?}");

    // Plan: changes pending is success for the job, told through the step output; the comment starts with the
    // marker the workflow finds it by; the saved plan is private.
    let p = steps(&emu, d, "plan").await;
    assert_eq!(p.code, 0, "{p:#?}");
    assert!(p.outputs.contains("changes=true"), "{p:#?}");
    let md = std::fs::read_to_string(d.join("authctl-out/plan.md")).expect("plan.md");
    assert!(md.starts_with("<!-- authctl:plan -->\n"), "{md}");
    assert!(
        md.contains("ana@contoso.com") && md.contains("cal@contoso.com"),
        "{md}"
    );
    assert!(md.len() < 65_536);
    let plan = d.join("authctl-out/plan.json");
    assert_eq!(mode_of(&plan), 0o600);
    assert!(d.join("authctl-out/manifests.sha256").exists());
    let summary = std::fs::read_to_string(d.join("summary.md")).expect("summary");
    assert!(summary.contains("authctl:plan"), "{summary}");
    // Planning changed nothing.
    assert_eq!(phones_of(&emu, "ana@contoso.com"), vec![]);

    // Nightly drift before anything was applied: reported through the output, numbers masked in the issue body.
    let drift = steps(&emu, d, "drift").await;
    assert_eq!(drift.code, 0, "{drift:#?}");
    assert!(drift.outputs.contains("drift=true"), "{drift:#?}");
    let body = std::fs::read_to_string(d.join("authctl-out/drift.md")).expect("drift.md");
    assert!(body.contains("ben@contoso.com"), "{body}");
    assert!(
        !body.contains("2065550002") && !body.contains("2065550012"),
        "numbers must be masked in an issue: {body}"
    );
    // The issue body never promises that a pull request fixes a blocked item.
    assert!(body.contains("are not fixed by any apply"), "{body}");
    assert!(
        !body.contains("on a pull request (or a manual run of the apply workflow) brings it back"),
        "{body}"
    );

    // A tampered artifact (the PR's job controls it: a number changed in plan.json, manifests.sha256 untouched) is
    // refused whole by the verified merge apply, before any write.
    let saved = std::fs::read_to_string(&plan).expect("plan.json");
    assert!(saved.contains("\"+1 2065550001\""), "{saved}");
    std::fs::write(
        &plan,
        saved.replace("\"+1 2065550001\"", "\"+1 2065550666\""),
    )
    .expect("tampers");
    let refused = steps(&emu, d, "apply").await;
    assert_eq!(refused.code, 1, "{refused:#?}");
    assert!(
        refused
            .stdout
            .contains("does not match what the manifests demand"),
        "{refused:#?}"
    );
    assert!(refused.stdout.contains("ana@contoso.com"), "{refused:#?}");
    assert_eq!(
        phones_of(&emu, "ana@contoso.com"),
        vec![],
        "nothing applied"
    );
    assert_eq!(
        phones_of(&emu, "cal@contoso.com").len(),
        2,
        "nothing applied for the other users either"
    );
    std::fs::write(&plan, saved).expect("restores the reviewed plan");

    // Merge to main: the reviewed plan applied as saved, verified against main's manifests; then no drift, and the
    // next plan has no changes.
    let a = steps(&emu, d, "apply").await;
    assert_eq!(a.code, 0, "{a:#?}");
    let mobile = |n: &str| vec![("mobile".to_string(), n.to_string())];
    assert_eq!(phones_of(&emu, "ana@contoso.com"), mobile("+1 2065550001"));
    assert_eq!(phones_of(&emu, "ben@contoso.com"), mobile("+1 2065550012"));
    assert_eq!(phones_of(&emu, "cal@contoso.com"), mobile("+1 2065550003"));
    let journal = d.join("authctl-out/journal.jsonl");
    assert_eq!(mode_of(&journal), 0o600);
    let clean = steps(&emu, d, "drift").await;
    assert_eq!(clean.code, 0, "{clean:#?}");
    assert!(clean.outputs.contains("drift=false"), "{clean:#?}");
    let p = steps(&emu, d, "plan").await;
    assert_eq!(p.code, 0, "{p:#?}");
    assert!(p.outputs.contains("changes=false"), "{p:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_steps_refuse_a_saved_plan_made_from_other_manifests_and_annotate_invalid_ones() {
    let emu = Emu::start(CI_TENANT).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    std::fs::create_dir(d.join("manifests")).expect("mkdir");
    std::fs::write(d.join("manifests/users.yaml"), CI_MANIFEST).expect("writes the manifest");
    let p = steps(&emu, d, "plan").await;
    assert_eq!(p.code, 0, "{p:#?}");

    // Another PR merged after this plan was reviewed: main's manifests are not the planned ones.
    std::fs::write(
        d.join("manifests/more.yaml"),
        CI_MANIFEST
            .replace("ana@", "dan@")
            .replace("ben@", "eve@")
            .replace("cal@", "fay@"),
    )
    .expect("writes");
    let a = steps(&emu, d, "apply").await;
    assert_eq!(a.code, 1, "{a:#?}");
    assert!(a.stderr.contains("other manifests"), "{a:#?}");
    assert_eq!(
        phones_of(&emu, "ana@contoso.com"),
        vec![],
        "nothing applied"
    );

    // An invalid manifest: annotations on stdout for the runner, exit 1.
    std::fs::write(
        d.join("manifests/more.yaml"),
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n    - user: dan@contoso.com\n      phones:\n        mobil: \"+1 2065550004\"\n",
    )
    .expect("writes");
    let v = steps(&emu, d, "validate").await;
    assert_eq!(v.code, 1, "{v:#?}");
    assert!(v.stdout.contains("::error file="), "{v:#?}");
    assert!(v.stdout.contains("more.yaml"), "{v:#?}");
}

#[cfg(unix)]
fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

// ---------------------------------------------------------------------------------------------------------------
// Fault campaign and soak: the library's plan (`build_plan`) and executor (`apply`) against the in-process
// emulator, sharing its virtual clock (Retry-After, backoff, read lag and convergence waits cost no real time).

/// A 429 storm: the tenant's read and write buckets are far below what the client's own rate cap allows (as when
/// other apps share the tenant's budget), so a large part of the requests and batch items is answered 429 with
/// Retry-After, all run long.
#[tokio::test]
async fn campaign_429_storm_converges_without_a_foreign_or_lost_phone() {
    let stats = campaign(
        11,
        |o| {
            o.throttle = Some(rate(10, 1));
            o.write_throttle = Some(rate(5, 1));
        },
        Some(rate(12, 1)),
    )
    .await;
    assert!(stats.throttled >= 20, "a storm: {stats:?}");
}

/// A harsher storm: buckets of 2 a second and no client rate cap at all, so all 8 workers are told to come back
/// when the next token is free, one wins, and the others are told again. Retries the server paces with
/// `Retry-After` have their own budget (the 600 s bound still holds); counted against the 10 attempts (as before),
/// items gave up after a few seconds and this test failed.
#[tokio::test]
async fn campaign_429_storm_without_a_client_rate_cap_converges() {
    let stats = campaign(
        16,
        |o| {
            o.throttle = Some(rate(2, 1));
            o.write_throttle = Some(rate(2, 1));
        },
        None,
    )
    .await;
    assert!(stats.throttled >= 100, "a storm: {stats:?}");
}

/// 5 % of requests and batch items answered 503 without being applied.
#[tokio::test]
async fn campaign_five_percent_503s_converges_without_a_foreign_or_lost_phone() {
    let stats = campaign(12, |o| o.fail_prob = 0.05, None).await;
    assert!(stats.injected_failures > 0, "{stats:?}");
}

/// 5 % of connections dropped after the request was applied (a create whose answer never came back).
#[tokio::test]
async fn campaign_five_percent_dropped_connections_converges_without_a_foreign_or_lost_phone() {
    let stats = campaign(13, |o| o.drop_prob = 0.05, None).await;
    assert!(stats.dropped > 0, "{stats:?}");
}

/// Reads see writes only 10 s later.
#[tokio::test]
async fn campaign_read_lag_converges_without_a_foreign_or_lost_phone() {
    campaign(14, |o| o.lag = std::time::Duration::from_secs(10), None).await;
}

/// Everything at once.
#[tokio::test]
async fn campaign_all_faults_together_converge_without_a_foreign_or_lost_phone() {
    let stats = campaign(
        15,
        |o| {
            o.throttle = Some(rate(20, 1));
            o.write_throttle = Some(rate(10, 1));
            o.fail_prob = 0.05;
            o.drop_prob = 0.05;
            o.lag = std::time::Duration::from_secs(3);
        },
        Some(rate(24, 1)),
    )
    .await;
    assert!(
        stats.throttled > 0 && stats.injected_failures > 0 && stats.dropped > 0,
        "{stats:?}"
    );
}

/// 20 plan/apply cycles over 1,000 users; between cycles, random drift is written straight into the emulator's
/// state (phones changed, removed or added behind authctl's back, as an admin in the portal would). Every cycle
/// converges: apply succeeds, the next plan is clean, and the state is exactly the manifests'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_20_cycles_over_1000_users_with_random_drift_all_converge() {
    use rand::{Rng as _, SeedableRng as _};
    let world = World::generate(1000, 42);
    let manifests = crate::apply::desired(&world.manifest);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(4242);
    let clock = authctl::clock::VirtualClock::fixed();
    let mut tenant = crate::support::tenant(&world.tenant);
    let mut drifted_total = 0;
    for cycle in 0..20 {
        // Real time per phase on stderr (`--no-capture`), to see what a cycle costs in a debug build.
        let t0 = std::time::Instant::now();
        let emu = emu_on(tenant.clone(), clock.clone(), |o| o.seed = cycle).await;
        let graph = crate::apply::graph_for(&emu, 8);
        let plan = crate::apply::plan_now(&graph, &manifests, usize::MAX).await;
        let t_plan = t0.elapsed();
        assert!(!plan.has_errors(), "cycle {cycle}: {}", plan_text(&plan));
        if cycle == 0 {
            assert!(plan.has_changes());
        }
        let report = apply(&plan, &graph, &apply_options()).await;
        let t_apply = t0.elapsed();
        assert!(
            !report.has_failures(),
            "cycle {cycle}: {}",
            report_text(&report)
        );
        world.check_between(&emu.snapshot(), &tenant, &format!("cycle {cycle}"));
        let t_check = t0.elapsed();
        let again = crate::apply::plan_now(&graph, &manifests, usize::MAX).await;
        eprintln!(
            "soak cycle {cycle}: plan {t_plan:?}, apply {:?}, check {:?}, re-plan {:?}; {}",
            t_apply - t_plan,
            t_check - t_apply,
            t0.elapsed() - t_check,
            graph.stats()
        );
        assert!(
            !again.has_changes() && !again.has_errors(),
            "cycle {cycle}: {}",
            plan_text(&again)
        );
        world.check_converged(&emu.snapshot(), &format!("cycle {cycle}"));
        // Drift for the next cycle: 2–5 % of users changed out of band.
        tenant = emu.snapshot();
        emu.handle.shutdown().await.expect("emulator stops");
        let n = rng.random_range(20..=50);
        for _ in 0..n {
            let i = rng.random_range(0..world.users.len());
            world.drift(&mut tenant, i, &mut rng);
        }
        drifted_total += n;
    }
    assert!(drifted_total >= 400);
}

/// One run of the campaign: a generated world, the emulator with `faults` (seeded), then apply, re-run (plan +
/// apply again), and the final plan must be clean; after every apply, the state holds no phone the manifests don't
/// declare and has lost none they do.
async fn campaign(
    seed: u64,
    faults: impl FnOnce(&mut Options),
    max_rate: Option<authctl::units::Rate>,
) -> authctl::emulator::Stats {
    let world = World::generate(60, seed);
    let manifests = crate::apply::desired(&world.manifest);
    let initial = crate::support::tenant(&world.tenant);
    let emu = emu_on(
        initial.clone(),
        authctl::clock::VirtualClock::fixed(),
        |o| {
            o.seed = seed;
            faults(o);
        },
    )
    .await;
    let graph = graph_with_rate(&emu, max_rate);
    for round in ["apply", "re-run"] {
        let plan = crate::apply::plan_now(&graph, &manifests, usize::MAX).await;
        let report = apply(&plan, &graph, &apply_options()).await;
        world.check_between(
            &emu.snapshot(),
            &initial,
            &format!("after {round}: {}", report_text(&report)),
        );
    }
    let last = crate::apply::plan_now(&graph, &manifests, usize::MAX).await;
    assert!(
        !last.has_changes() && !last.has_errors(),
        "{}\nemulator: {:?}\nclient: {}",
        plan_text(&last),
        emu.stats(),
        graph.stats()
    );
    world.check_converged(&emu.snapshot(), "after the re-run");
    emu.stats()
}

/// The apply tests' client (first app, the emulator's virtual clock), with a rate cap of its own when given.
fn graph_with_rate(emu: &Emu, max_rate: Option<authctl::units::Rate>) -> authctl::graph::Graph {
    crate::apply::graph_with(emu, |s| s.max_rate = max_rate)
}

fn rate(count: u32, secs: u64) -> authctl::units::Rate {
    authctl::units::Rate {
        count,
        per: std::time::Duration::from_secs(secs),
    }
}

fn apply_options() -> ApplyOptions {
    ApplyOptions {
        parallelism: 8,
        converge_timeout: std::time::Duration::from_secs(60),
        ..ApplyOptions::default()
    }
}

fn plan_text(p: &authctl::plan::Plan) -> String {
    authctl::render::plan_text(
        p,
        authctl::render::TextOptions {
            color: false,
            redact: false,
        },
    )
}

fn report_text(r: &authctl::plan::ApplyReport) -> String {
    authctl::render::apply_report_text(r, false)
}

/// The in-process emulator over `tenant` on `clock`, options adjusted by `f`.
async fn emu_on(
    tenant: authctl::emulator::Tenant,
    clock: std::sync::Arc<authctl::clock::VirtualClock>,
    f: impl FnOnce(&mut Options),
) -> Emu {
    let mut options = Options {
        clock: clock.clone(),
        ..Options::default()
    };
    f(&mut options);
    let handle = authctl::emulator::spawn(tenant, options)
        .await
        .expect("emulator starts");
    Emu {
        handle,
        clock,
        http: reqwest::Client::new(),
    }
}

const TYPES: [PhoneType; 3] = [
    PhoneType::Mobile,
    PhoneType::AlternateMobile,
    PhoneType::Office,
];

/// What the manifests say about one phone type of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    /// Not declared in merge mode: left as it is.
    Unmanaged,
    /// `absent`, or not declared in exact mode.
    Absent,
    /// This number (canonical).
    Number(String),
}

/// One generated user: where it starts and what the manifests want.
#[derive(Debug, Clone)]
struct WorldUser {
    id: String,
    upn: String,
    want: [Want; 3],
}

/// A generated tenant and manifests: every kind of change (create, update, delete, in sync) in exact and merge
/// mode, some users in the SMS sign-in policy, numbers unique per user.
struct World {
    users: Vec<WorldUser>,
    tenant: String,
    manifest: String,
}

impl World {
    fn generate(n: usize, seed: u64) -> World {
        use rand::{Rng as _, SeedableRng as _};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut tenant = String::from(
            "tenantId: 00000000-0000-4000-8000-0000000f0000\ndomains: [contoso.com]\napps:\n  - name: rw\n    \
             clientId: 00000000-0000-4000-8000-0000000f0001\n    secret: s3cret\n    \
             permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]\n    tokenLifetime: 24h\nusers:\n",
        );
        let mut exact = String::new();
        let mut merge = String::new();
        let mut users = Vec::new();
        for i in 0..n {
            let id = format!("00000000-0000-4000-8000-{:012}", 0xf0000 + i);
            let upn = format!("u{i:05}@contoso.com");
            let is_merge = rng.random_bool(0.25);
            // Start: a mobile more often than not; alternateMobile only beside a mobile.
            let mut start: [Option<String>; 3] = [None, None, None];
            if rng.random_bool(0.7) {
                start[0] = Some(world_number(0, i, rng.random_range(0..2)));
                if rng.random_bool(0.4) {
                    start[1] = Some(world_number(1, i, rng.random_range(0..2)));
                }
            }
            if rng.random_bool(0.5) {
                start[2] = Some(world_number(2, i, rng.random_range(0..2)));
            }
            // Want: always a mobile (so no plan can lock a user out), the others at random.
            let mut want = [
                Want::Number(world_number(0, i, rng.random_range(0..2))),
                Want::Absent,
                Want::Absent,
            ];
            for (t, w) in want.iter_mut().enumerate().skip(1) {
                *w = match rng.random_range(0..3) {
                    0 if is_merge => Want::Unmanaged,
                    0 | 1 => Want::Absent,
                    _ => Want::Number(world_number(t, i, rng.random_range(0..2))),
                };
            }
            let _ = writeln!(tenant, "  - id: {id}\n    userPrincipalName: {upn}");
            if rng.random_bool(0.2) {
                let _ = writeln!(tenant, "    smsSignInPolicy: true");
            }
            if start.iter().any(Option::is_some) {
                let _ = writeln!(tenant, "    phones:");
                for (t, s) in TYPES.iter().zip(&start) {
                    if let Some(num) = s {
                        let _ = writeln!(tenant, "      {t}: {{ number: \"{num}\" }}");
                    }
                }
            }
            let doc = if is_merge { &mut merge } else { &mut exact };
            let _ = writeln!(doc, "    - user: {upn}\n      phones:");
            for (t, w) in TYPES.iter().zip(&want) {
                match w {
                    Want::Unmanaged => {}
                    // Exact mode: undeclared means absent too; write it out for half of them.
                    Want::Absent if !is_merge && rng.random_bool(0.5) => {}
                    Want::Absent => {
                        let _ = writeln!(doc, "        {t}: absent");
                    }
                    Want::Number(num) => {
                        let _ = writeln!(doc, "        {t}: \"{num}\"");
                    }
                }
            }
            let want = if is_merge {
                want
            } else {
                want.map(|w| {
                    if w == Want::Unmanaged {
                        Want::Absent
                    } else {
                        w
                    }
                })
            };
            // Unmanaged types keep what they start with: that is what "lost" and "foreign" are measured against.
            users.push(WorldUser { id, upn, want });
        }
        let manifest = format!(
            "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users:\n{exact}---\n\
             apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: merge\n  users:\n{merge}"
        );
        World {
            users,
            tenant,
            manifest,
        }
    }

    /// Every phone in `state` is either what the user had in `before` or what the manifests want: nothing foreign
    /// was created, and nothing declared and already there was lost.
    #[track_caller]
    fn check_between(
        &self,
        state: &authctl::emulator::Tenant,
        before: &authctl::emulator::Tenant,
        ctx: &str,
    ) {
        for u in &self.users {
            let now = phones_by_id(state, &u.id);
            let was = phones_by_id(before, &u.id);
            for (k, t) in TYPES.iter().enumerate() {
                let got = &now[k];
                let allowed = match &u.want[k] {
                    Want::Unmanaged => got == &was[k],
                    Want::Absent => got.is_none() || got == &was[k],
                    Want::Number(n) => got.as_deref() == Some(n.as_str()) || got == &was[k],
                };
                assert!(
                    allowed,
                    "{ctx}\n{} {t}: holds {got:?}; before {:?}; the manifests want {:?}",
                    u.upn, was[k], u.want[k]
                );
                // A declared number that was already there is never lost.
                if let Want::Number(n) = &u.want[k]
                    && was[k].as_deref() == Some(n.as_str())
                {
                    assert_eq!(
                        got.as_deref(),
                        Some(n.as_str()),
                        "{ctx}\n{} {t}: lost",
                        u.upn
                    );
                }
            }
        }
    }

    /// The state is exactly what the manifests want (unmanaged types untouched is checked by `check_between`).
    #[track_caller]
    fn check_converged(&self, state: &authctl::emulator::Tenant, ctx: &str) {
        for u in &self.users {
            let now = phones_by_id(state, &u.id);
            for (k, t) in TYPES.iter().enumerate() {
                match &u.want[k] {
                    Want::Unmanaged => {}
                    Want::Absent => assert_eq!(now[k], None, "{ctx}: {} {t}", u.upn),
                    Want::Number(n) => {
                        assert_eq!(now[k].as_deref(), Some(n.as_str()), "{ctx}: {} {t}", u.upn)
                    }
                }
            }
        }
    }

    /// Out-of-band drift on user `i`: its mobile changed, or a managed phone removed, or an absent one added.
    fn drift(&self, tenant: &mut authctl::emulator::Tenant, i: usize, rng: &mut impl rand::Rng) {
        let u = &self.users[i];
        let t = tenant
            .users
            .iter_mut()
            .find(|x| x.id == u.id)
            .expect("the user exists");
        let phone = |n: String| authctl::emulator::tenant::Phone {
            number: n,
            sms_sign_in_state: None,
        };
        match rng.random_range(0..3) {
            // The mobile changed to another number (the generated numbers have variants 0 and 1; 7 is never wanted).
            0 => {
                t.phones
                    .insert(PhoneType::Mobile, phone(world_number(0, i, 7)));
            }
            // A managed phone removed (alternateMobile first: Graph never holds it without a mobile).
            1 => {
                if t.phones.remove(&PhoneType::AlternateMobile).is_none() {
                    t.phones.remove(&PhoneType::Office);
                }
            }
            // An office phone added where the manifests want none (exact) or leave it unmanaged (merge).
            _ => {
                t.phones
                    .insert(PhoneType::Office, phone(world_number(2, i, 8)));
            }
        }
    }
}

/// A unique number per phone type, user and variant, in Graph's canonical form.
fn world_number(t: usize, i: usize, variant: usize) -> String {
    let area = [206, 425, 312][t];
    format!(
        "+1 {area}{}{:04}",
        200 + variant * 100 + i / 10_000,
        i % 10_000
    )
}

/// A user's phones in `state`, canonical, in [`TYPES`] order.
fn phones_by_id(state: &authctl::emulator::Tenant, id: &str) -> [Option<String>; 3] {
    let u = state
        .users
        .iter()
        .find(|u| u.id == id)
        .expect("the user exists");
    TYPES.map(|t| {
        u.phones.get(&t).map(|p| {
            PhoneNumber::parse_observed(&p.number)
                .map(|n| n.canonical())
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: Graph holds an unreadable number {:?}: {e}",
                        u.user_principal_name, p.number
                    )
                })
        })
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Security: nothing secret in the logs, even at trace level.

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
