//! Integration tests: the email method and registered method types end to end (issue 15): read (one method list
//! per user through `$batch`), plan, apply, converge, plan again, drift, the guards (lock-out, `--max-deletes`),
//! Graph's default-method refusal, resume, and saved plans through the verification gate. Desired users are built in
//! code here; the binary runs over manifests of the `AuthenticationMethods` kind are at the end.

use std::collections::BTreeSet;
use std::time::Duration;

use authctl::apply::{ApplyOptions, apply, verify};
use authctl::emulator::tenant::Method;
use authctl::model::{
    DesiredEmail, DesiredRegistrations, DesiredUser, MethodKind, Mode, RegistrationType,
    SourceLocation,
};
use authctl::observe::{NoProgress, plan_users};
use authctl::plan::{
    ActionOutcome, BlockCode, Call, DriftReport, DriftStatus, LockoutCheck, Plan, PlanSettings,
    Policy, Target, UserOutcome,
};

use crate::apply::graph_for;
use crate::support::{Emu, TenantDir};

/// `pradeep`: a mobile, an old email, two Authenticators (one on a lost phone), a FIDO2 key and Windows Hello (a
/// type no manifest here declares). `alex`: an office phone, two FIDO2 keys (one left with a contractor). `diego`:
/// only a password and an Authenticator. `erin`: two Authenticators, the one in use is her default method.
const TENANT: &str = r##"
tenantId: 00000000-0000-4000-8000-0000000000cc
domains: [contoso.com]
apps:
  - name: rw
    clientId: 00000000-0000-4000-8000-00000000c001
    secret: s3cret
    permissions: [UserAuthenticationMethod.ReadWrite.All, User.Read.All]
users:
  - id: 00000000-0000-4000-8000-0000000000a1
    userPrincipalName: pradeep@contoso.com
    phones:
      mobile: { number: "+1 2065550161" }
    methods:
      - { type: email, id: 3ddfcfc8-9383-446f-83cc-3ab9be4be18f, emailAddress: old@contoso.com }
      - { type: microsoftAuthenticator, id: a-lost, displayName: "Pradeep's old iPhone", deviceTag: SoftwareTokenActivated, createdDateTime: "2023-02-01T09:00:00Z" }
      - { type: microsoftAuthenticator, id: a-new, displayName: "Pradeep's Pixel", createdDateTime: "2025-09-01T09:00:00Z" }
      - { type: fido2, id: f-pradeep, displayName: YubiKey 5C, model: YubiKey 5C NFC }
      - { type: windowsHelloForBusiness, id: w-pradeep, displayName: PRADEEP-LAPTOP }
    rawMethods:
      - { "@odata.type": "#microsoft.graph.quantumKeyAuthenticationMethod", id: q-pradeep, displayName: Q key }
  - id: 00000000-0000-4000-8000-0000000000a2
    userPrincipalName: alex@contoso.com
    phones:
      office: { number: "+1 4255550162" }
    methods:
      - { type: fido2, id: f-keep, displayName: Alex's key, model: YubiKey 5 NFC, createdDateTime: "2024-01-10T12:00:00Z" }
      - { type: fido2, id: f-contractor, displayName: Contractor key, model: Feitian ePass, createdDateTime: "2024-05-02T12:00:00Z" }
  - id: 00000000-0000-4000-8000-0000000000a3
    userPrincipalName: diego@contoso.com
    methods:
      - { type: microsoftAuthenticator, id: d-only, displayName: "Diego's phone" }
  - id: 00000000-0000-4000-8000-0000000000a4
    userPrincipalName: erin@contoso.com
    defaultMethodId: e-default
    phones:
      office: { number: "+1 4255550164" }
    methods:
      - { type: microsoftAuthenticator, id: e-default, displayName: "Erin's phone" }
      - { type: microsoftAuthenticator, id: e-other, displayName: "Erin's tablet" }
"##;

fn t(kind: MethodKind) -> RegistrationType {
    RegistrationType::of(kind).unwrap()
}

fn keep(ids: &[&str]) -> DesiredRegistrations {
    DesiredRegistrations::Keep(ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>())
}

fn user(
    upn: &str,
    email: Option<DesiredEmail>,
    regs: Vec<(MethodKind, DesiredRegistrations)>,
) -> DesiredUser {
    DesiredUser {
        user: upn.into(),
        mode: Mode::Merge,
        phones: Default::default(),
        sms_sign_in: None,
        email,
        registrations: regs.into_iter().map(|(k, r)| (t(k), r)).collect(),
        source: SourceLocation {
            file: "methods.yaml".into(),
            line: 1,
            column: 7,
        },
    }
}

/// Pradeep: a new email, the lost phone's Authenticator removed, the FIDO2 key kept. Alex: the contractor's key
/// removed.
fn desired() -> Vec<DesiredUser> {
    vec![
        user(
            "pradeep@contoso.com",
            Some(DesiredEmail::Address("pradeep.g@contoso.com".into())),
            vec![
                (MethodKind::MicrosoftAuthenticator, keep(&["a-new"])),
                (MethodKind::Fido2, keep(&["f-pradeep"])),
            ],
        ),
        user(
            "alex@contoso.com",
            None,
            vec![(MethodKind::Fido2, keep(&["f-keep"]))],
        ),
    ]
}

fn settings(graph: &authctl::graph::Graph, policy: Policy) -> PlanSettings {
    let mut s = PlanSettings::new(graph.clock().now(), "00112233");
    s.policy = policy;
    s
}

/// Plans `users` against `graph` under `policy`'s guards.
async fn plan_for(graph: &authctl::graph::Graph, users: &[DesiredUser], policy: Policy) -> Plan {
    plan_users(graph, users, &settings(graph, policy), &NoProgress)
        .await
        .0
}

/// The report has no failure and every user converged.
fn assert_applied_and_converged(report: &authctl::plan::ApplyReport) {
    let text = authctl::render::apply_report_text(report, false);
    assert!(!report.has_failures(), "{text}");
    assert!(
        report.users.iter().all(|u| u.converged == Some(true)),
        "{text}"
    );
}

fn guards(max_deletes: usize, allow_lockout: bool) -> Policy {
    Policy {
        max_deletes,
        allow_lockout,
        ..Policy::default()
    }
}

fn options() -> ApplyOptions {
    ApplyOptions {
        parallelism: 4,
        converge_timeout: Duration::from_secs(30),
        ..ApplyOptions::default()
    }
}

fn ids_of(t: &authctl::emulator::Tenant, upn: &str, kind: &str) -> Vec<String> {
    let u = t
        .users
        .iter()
        .find(|u| u.user_principal_name == upn)
        .expect("user");
    u.methods
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| m.id.clone())
        .collect()
}

fn email_of(t: &authctl::emulator::Tenant, upn: &str) -> Option<String> {
    let u = t.users.iter().find(|u| u.user_principal_name == upn)?;
    u.methods
        .iter()
        .find(|m| m.kind == "email")
        .and_then(|m| m.properties.get("emailAddress"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

#[tokio::test]
async fn plan_apply_converges_and_plans_clean_with_one_method_list_per_user() {
    let emu = Emu::start(TENANT).await;
    let graph = graph_for(&emu, 4);
    let before = emu.stats();
    let p = plan_for(&graph, &desired(), guards(10, false)).await;
    let after = emu.stats();
    // One polymorphic list per user, in one `$batch`; no per-type and no phone reads for these users.
    let list = "GET /users/{id}/authentication/methods";
    assert_eq!(after.count(list, 200) - before.count(list, 200), 2);
    assert_eq!(after.batches - before.batches, 1, "{after:?}");
    assert_eq!(
        after.total("GET /users/{id}/authentication/phoneMethods")
            - before.total("GET /users/{id}/authentication/phoneMethods"),
        0
    );
    assert!(p.users_needing_lockout_check().is_empty());

    let pradeep = &p.users[0];
    let calls: Vec<Call> = pradeep.actions.iter().map(|a| a.call).collect();
    assert_eq!(calls, vec![Call::UpdateEmail, Call::DeleteRegistration]);
    assert_eq!(
        pradeep.actions[1].registration.as_ref().unwrap().id,
        "a-lost"
    );
    let shown = authctl::render::plan_text(&p, Default::default());
    for part in [
        "Pradeep's old iPhone",
        "SoftwareTokenActivated",
        "2023-02-01T09:00:00Z",
        "a-lost",
        "Contractor key",
        "Feitian ePass",
    ] {
        assert!(shown.contains(part), "{part} not in\n{shown}");
    }
    assert!(
        !shown.contains("w-pradeep"),
        "an undeclared type is not planned: {shown}"
    );
    assert_eq!(p.summary.destroy, 2);
    assert_eq!(p.guards.max_deletes.deletes, 2);
    // The PR comment masks the addresses and puts the removals first under the banner.
    let md = authctl::render::plan_markdown(&p, Default::default());
    assert!(
        !md.contains("old@contoso.com") && !md.contains("pradeep.g@contoso.com"),
        "{md}"
    );
    assert!(md.contains("p•••@contoso.com ·"), "{md}");
    assert!(md.contains("**removes 2 registered methods**"), "{md}");
    let first_row = md
        .lines()
        .find(|l| l.starts_with("| pradeep") || l.starts_with("| alex"))
        .unwrap();
    assert!(first_row.contains("**delete**"), "{first_row}");

    let report = apply(&p, &graph, &options()).await;
    assert_applied_and_converged(&report);
    let t = emu.snapshot();
    assert_eq!(
        email_of(&t, "pradeep@contoso.com").as_deref(),
        Some("pradeep.g@contoso.com")
    );
    assert_eq!(
        ids_of(&t, "pradeep@contoso.com", "microsoftAuthenticator"),
        vec!["a-new"]
    );
    assert_eq!(
        ids_of(&t, "pradeep@contoso.com", "fido2"),
        vec!["f-pradeep"]
    );
    assert_eq!(
        ids_of(&t, "pradeep@contoso.com", "windowsHelloForBusiness"),
        vec!["w-pradeep"],
        "an undeclared type is never touched"
    );
    assert_eq!(ids_of(&t, "alex@contoso.com", "fido2"), vec!["f-keep"]);
    let pradeep = t
        .users
        .iter()
        .find(|u| u.user_principal_name == "pradeep@contoso.com")
        .unwrap();
    assert_eq!(
        pradeep.raw_methods.len(),
        1,
        "a type authctl does not know is never touched"
    );
    // …but it is read and listed, with what tells it apart.
    let observed = p.users[0].observed.as_ref().unwrap();
    assert!(
        observed
            .registrations
            .iter()
            .any(|r| r.method_type.name() == "quantumKey" && r.id == "q-pradeep"),
        "{observed:?}"
    );

    let again = plan_for(&graph, &desired(), guards(10, false)).await;
    assert!(
        !again.has_changes(),
        "{}",
        authctl::render::plan_text(&again, Default::default())
    );
    assert_eq!(DriftReport::from_plan(&again).exit_code(false).code(), 0);
}

#[tokio::test]
async fn a_registration_added_out_of_band_is_drift_and_the_next_apply_removes_it() {
    // The tenant after a clean apply, then a new FIDO2 key registered by the user (the emulator's tenant file).
    let mut t = crate::support::tenant(TENANT);
    for u in &mut t.users {
        if u.user_principal_name == "alex@contoso.com" {
            u.methods.retain(|m| m.id != "f-contractor");
            u.methods.push(Method {
                kind: "fido2".into(),
                id: "f-new".into(),
                properties: [
                    ("displayName".to_string(), serde_json::json!("Unknown key")),
                    ("model".to_string(), serde_json::json!("SoloKey")),
                ]
                .into_iter()
                .collect(),
            });
        }
    }
    let emu = Emu::start(&t.to_yaml().unwrap()).await;
    let graph = graph_for(&emu, 4);
    let alex = vec![desired().remove(1)];
    let p = plan_for(&graph, &alex, guards(10, false)).await;
    let drift = DriftReport::from_plan(&p);
    assert_eq!(drift.exit_code(false).code(), 2, "{drift:?}");
    let d = &drift.users[0].differences;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].target, Target::Registration);
    assert_eq!(d[0].status, DriftStatus::Planned);
    assert_eq!(d[0].registration.as_ref().unwrap().id, "f-new");
    assert!(d[0].observed.as_deref().unwrap().contains("SoloKey"));
    let text = authctl::render::drift_text(&drift, false);
    assert!(text.contains("Unknown key"), "{text}");

    let report = apply(&p, &graph, &options()).await;
    assert!(!report.has_failures(), "{report:?}");
    assert_eq!(
        ids_of(&emu.snapshot(), "alex@contoso.com", "fido2"),
        vec!["f-keep"]
    );
    let again = plan_for(&graph, &alex, guards(10, false)).await;
    assert_eq!(DriftReport::from_plan(&again).exit_code(false).code(), 0);
}

#[tokio::test]
async fn apply_rides_out_read_lag_on_removals_and_the_email() {
    let emu = Emu::start_with(TENANT, |o| o.lag = Duration::from_secs(5)).await;
    let graph = graph_for(&emu, 4);
    let p = plan_for(&graph, &desired(), guards(10, false)).await;
    let report = apply(&p, &graph, &options()).await;
    assert_applied_and_converged(&report);
    assert!(
        report
            .users
            .iter()
            .any(|u| u.notes.iter().any(|n| n.contains("read lag"))),
        "the first re-read still saw the old state: {}",
        authctl::render::apply_report_text(&report, false)
    );
}

#[tokio::test]
async fn removing_a_users_last_method_is_blocked_unless_allowed() {
    let emu = Emu::start(TENANT).await;
    let graph = graph_for(&emu, 4);
    let diego = vec![user(
        "diego@contoso.com",
        None,
        vec![(
            MethodKind::MicrosoftAuthenticator,
            DesiredRegistrations::Absent,
        )],
    )];
    let p = plan_for(&graph, &diego, guards(10, false)).await;
    let u = &p.users[0];
    assert_eq!(u.lockout, LockoutCheck::Blocked);
    assert!(u.actions.is_empty());
    assert_eq!(u.blocked[0].code, BlockCode::LockOut);
    assert_eq!(u.blocked[0].registration.as_ref().unwrap().id, "d-only");
    let report = apply(&p, &graph, &options()).await;
    assert!(!report.has_failures());
    assert_eq!(
        ids_of(
            &emu.snapshot(),
            "diego@contoso.com",
            "microsoftAuthenticator"
        ),
        vec!["d-only"]
    );
    // With --allow-lockout the removal is planned and applied.
    let p = plan_for(&graph, &diego, guards(10, true)).await;
    assert_eq!(p.users[0].lockout, LockoutCheck::Allowed);
    let report = apply(&p, &graph, &options()).await;
    assert!(!report.has_failures(), "{report:?}");
    assert!(
        ids_of(
            &emu.snapshot(),
            "diego@contoso.com",
            "microsoftAuthenticator"
        )
        .is_empty()
    );
}

#[tokio::test]
async fn every_removal_counts_for_max_deletes() {
    let emu = Emu::start(TENANT).await;
    let graph = graph_for(&emu, 4);
    let p = plan_for(&graph, &desired(), guards(1, false)).await;
    assert_eq!(p.guards.max_deletes.deletes, 2);
    assert!(!p.guards_hold());
    let report = apply(&p, &graph, &options()).await;
    let refusal = report.error.clone().expect("refused");
    assert!(refusal.contains("deletes 2 method(s)"), "{refusal}");
    assert_eq!(
        ids_of(&emu.snapshot(), "alex@contoso.com", "fido2").len(),
        2
    );
}

#[tokio::test]
async fn a_default_method_refusal_fails_the_user_with_the_remedy_after_its_other_removals() {
    let emu = Emu::start(TENANT).await;
    let graph = graph_for(&emu, 4);
    let erin = vec![user(
        "erin@contoso.com",
        None,
        vec![(
            MethodKind::MicrosoftAuthenticator,
            DesiredRegistrations::Absent,
        )],
    )];
    let p = plan_for(&graph, &erin, guards(10, false)).await;
    // The default comes first in Graph's list; the executor still removes the other one.
    let order: Vec<&str> = p.users[0]
        .actions
        .iter()
        .map(|a| a.registration.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(order, vec!["e-default", "e-other"]);
    let report = apply(&p, &graph, &options()).await;
    let u = &report.users[0];
    assert_eq!(u.outcome, UserOutcome::Failed);
    assert_eq!(u.actions[0].outcome, ActionOutcome::Failed);
    assert_eq!(u.actions[1].outcome, ActionOutcome::Done);
    let e = u.error.as_ref().unwrap();
    assert_eq!(e.status, Some(400));
    assert!(e.message.contains("default authentication method"), "{e}");
    let reason = u.reason.as_deref().unwrap();
    assert!(
        reason.contains("change the user's default method first"),
        "{reason}"
    );
    assert!(reason.contains("Erin's phone"), "{reason}");
    assert_eq!(
        ids_of(
            &emu.snapshot(),
            "erin@contoso.com",
            "microsoftAuthenticator"
        ),
        vec!["e-default"]
    );
}

#[tokio::test]
async fn a_saved_plan_is_verified_and_resumes_after_a_partial_apply() {
    let emu = Emu::start(TENANT).await;
    let graph = graph_for(&emu, 4);
    let p = plan_for(&graph, &desired(), guards(10, false)).await;
    let file = p.to_file_json();
    // The observed address is not in the manifests: masked in the file.
    assert!(!file.contains("old@contoso.com"));
    assert!(file.contains("pradeep.g@contoso.com"));
    let loaded = Plan::from_json(&file).expect("loads");
    // Part of it applied by someone else meanwhile: the email already updated.
    let token = emu.app_token().await;
    let r = emu
        .patch(
            "/users/pradeep@contoso.com/authentication/emailMethods/3ddfcfc8-9383-446f-83cc-3ab9be4be18f",
            &token,
            serde_json::json!({"emailAddress": "pradeep.g@contoso.com"}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let v = verify(
        &loaded,
        &graph,
        Some(&desired()),
        &guards(10, false),
        &NoProgress,
    )
    .await;
    assert!(v.refusal_text().is_none(), "{:?}", v.refusal_text());
    assert!(v.skipped.is_empty(), "{:?}", v.skipped);
    // The desired users a saved plan carries (what --unverified and convergence re-plan with) hold the email and the
    // keep-lists, not only the phones.
    for (u, d) in loaded.users.iter().zip(desired()) {
        let back = authctl::apply::converge::desired_user(u).expect("readable");
        assert_eq!(back.email, d.email, "{}", u.user);
        assert_eq!(back.registrations, d.registrations, "{}", u.user);
    }
    // --unverified: the saved plan's own desired state (email and keep-lists included) is read back and holds.
    let v = verify(&loaded, &graph, None, &guards(10, false), &NoProgress).await;
    assert!(v.refusal_text().is_none(), "{:?}", v.refusal_text());
    let report = apply(&loaded, &graph, &options()).await;
    let pradeep = &report.users[0];
    assert_eq!(pradeep.outcome, UserOutcome::Done, "{report:?}");
    assert!(
        pradeep
            .notes
            .iter()
            .any(|n| n.contains("resumed at action 2 of 2")),
        "{:?}",
        pradeep.notes
    );
    assert_eq!(pradeep.converged, Some(true));
    // A manifest that keeps the lost phone's Authenticator no longer matches the saved plan: refused.
    let mut changed = desired();
    changed[0].registrations.insert(
        t(MethodKind::MicrosoftAuthenticator),
        keep(&["a-new", "a-lost"]),
    );
    let emu2 = Emu::start(TENANT).await;
    let graph2 = graph_for(&emu2, 4);
    let p2 = plan_for(&graph2, &desired(), guards(10, false)).await;
    let loaded2 = Plan::from_json(&p2.to_file_json()).unwrap();
    let v = verify(
        &loaded2,
        &graph2,
        Some(&changed),
        &guards(10, false),
        &NoProgress,
    )
    .await;
    let why = v.refusal_text().expect("a mismatch");
    assert!(
        why.contains("delete registration microsoftAuthenticator a-lost"),
        "{why}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Through the binary, manifests of kind `AuthenticationMethods`, the emulator's tenant file persisted between runs.

/// Pradeep: a new email, the lost phone's Authenticator removed, his FIDO2 key kept (Windows Hello not declared).
/// Alex: the contractor's key removed.
const MANIFEST: &str = r#"apiVersion: authctl/v1
kind: AuthenticationMethods
spec:
  mode: merge
  users:
    - user: pradeep@contoso.com
      email: pradeep.g@contoso.com
      registered:
        microsoftAuthenticator: [a-new]
        fido2: [f-pradeep]
    - user: alex@contoso.com
      registered:
        fido2: [f-keep]
"#;

/// A tenant directory with the tenant and `methods.yaml`.
struct Dir(TenantDir);

impl Dir {
    fn new(manifest: &str) -> Dir {
        let d = TenantDir::new(TENANT);
        d.write("methods.yaml", manifest);
        Dir(d)
    }

    /// `authctl COMMAND methods.yaml ARGS…` against the tenant file.
    fn run(&self, command: &str, args: &[&str]) -> std::process::Output {
        self.0.run(command, &[&["methods.yaml"], args].concat())
    }

    fn tenant(&self) -> authctl::emulator::Tenant {
        self.0.tenant()
    }

    fn edit_tenant(&self, f: impl FnOnce(&mut authctl::emulator::Tenant)) {
        self.0.edit_tenant(f)
    }
}

fn out(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_binary_plans_applies_plans_clean_and_removes_a_registration_added_out_of_band() {
    let d = Dir::new(MANIFEST);
    let p = d.run("plan", &["--detailed-exitcode"]);
    assert_eq!(p.status.code(), Some(2), "{}", out(&p));
    let text = String::from_utf8_lossy(&p.stdout);
    for part in [
        "- microsoftAuthenticator",
        "Pradeep's old iPhone",
        "a-lost",
        "- fido2",
        "Contractor key",
        "~ email",
        "Guard max-deletes: 2 deletes planned",
    ] {
        assert!(text.contains(part), "{part}: {}", out(&p));
    }
    // --max-deletes counts the removals.
    let guarded = d.run("plan", &["--max-deletes", "1"]);
    assert_eq!(guarded.status.code(), Some(1), "{}", out(&guarded));

    let a = d.run("apply", &["--auto-approve", "--emulate-persist"]);
    assert_eq!(a.status.code(), Some(0), "{}", out(&a));
    let t = d.tenant();
    assert_eq!(
        email_of(&t, "pradeep@contoso.com").as_deref(),
        Some("pradeep.g@contoso.com")
    );
    assert_eq!(ids_of(&t, "alex@contoso.com", "fido2"), vec!["f-keep"]);
    assert_eq!(
        ids_of(&t, "pradeep@contoso.com", "windowsHelloForBusiness"),
        vec!["w-pradeep"],
        "an undeclared type is never touched"
    );
    let p = d.run("plan", &["--detailed-exitcode"]);
    assert_eq!(p.status.code(), Some(0), "{}", out(&p));
    let dr = d.run("drift", &[]);
    assert_eq!(dr.status.code(), Some(0), "{}", out(&dr));

    // Alex registers a new key out of band: drift (exit 2) names it; the next apply removes it.
    d.edit_tenant(|t| {
        let alex = t
            .users
            .iter_mut()
            .find(|u| u.user_principal_name == "alex@contoso.com")
            .unwrap();
        alex.methods.push(Method {
            kind: "fido2".into(),
            id: "f-new".into(),
            properties: [("displayName".to_string(), serde_json::json!("Unknown key"))]
                .into_iter()
                .collect(),
        });
    });
    let dr = d.run("drift", &["--format", "json"]);
    assert_eq!(dr.status.code(), Some(2), "{}", out(&dr));
    let doc: serde_json::Value = serde_json::from_slice(&dr.stdout).unwrap();
    let diff = &doc["users"][0]["differences"][0];
    assert_eq!(diff["type"], "registration", "{doc}");
    assert_eq!(diff["registration"]["id"], "f-new", "{doc}");
    assert_eq!(diff["status"], "planned");
    let a = d.run("apply", &["--auto-approve", "--emulate-persist"]);
    assert_eq!(a.status.code(), Some(0), "{}", out(&a));
    assert_eq!(
        ids_of(&d.tenant(), "alex@contoso.com", "fido2"),
        vec!["f-keep"]
    );
    assert_eq!(d.run("drift", &[]).status.code(), Some(0));
}

#[test]
fn the_binary_blocks_removing_a_users_last_method() {
    let d = Dir::new(
        "apiVersion: authctl/v1\nkind: AuthenticationMethods\nspec:\n  mode: merge\n  users:\n    - user: diego@contoso.com\n      registered:\n        microsoftAuthenticator: absent\n",
    );
    let p = d.run("plan", &[]);
    assert_eq!(p.status.code(), Some(0), "{}", out(&p));
    let text = String::from_utf8_lossy(&p.stdout);
    assert!(
        text.contains("! microsoftAuthenticator delete"),
        "{}",
        out(&p)
    );
    assert!(text.contains("--allow-lockout"), "{}", out(&p));
    let a = d.run("apply", &["--auto-approve", "--emulate-persist"]);
    assert_eq!(a.status.code(), Some(0), "{}", out(&a));
    assert_eq!(
        ids_of(&d.tenant(), "diego@contoso.com", "microsoftAuthenticator"),
        vec!["d-only"]
    );
}

/// A proxy in front of the emulator that forwards everything but swallows the answer to the first email create:
/// Graph makes the method, the client never hears so (its connection is closed with the request sent).
async fn answer_losing_proxy(upstream: String) -> String {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lost_one = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        loop {
            let (client, _) = listener.accept().await.unwrap();
            let (upstream, lost_one) = (upstream.clone(), lost_one.clone());
            tokio::spawn(async move {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let swallow = AtomicBool::new(false);
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = cr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        let head = String::from_utf8_lossy(&buf[..n.min(300)]).to_string();
                        let line = head.lines().next().unwrap_or_default();
                        if line.starts_with("POST ")
                            && line.contains("/emailMethods")
                            && !lost_one.swap(true, Ordering::SeqCst)
                        {
                            swallow.store(true, Ordering::SeqCst);
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                let down = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = sr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 || swallow.load(Ordering::SeqCst) {
                            return; // the answer never reaches the client
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = up => {}
                    _ = down => {}
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn an_email_create_whose_answer_is_lost_is_re_read_and_found_done() {
    let emu = Emu::start(TENANT).await;
    let proxy = answer_losing_proxy(emu.url().trim_start_matches("http://").to_string()).await;
    let graph = crate::apply::graph_with(&emu, |s| {
        *s = authctl::graph::GraphSettings::for_base_url(&proxy).expect("loopback URL");
        s.parallelism = 2;
        s.max_rate = None;
    });
    let alex = vec![user(
        "alex@contoso.com",
        Some(DesiredEmail::Address("alex@contoso.com".into())),
        vec![],
    )];
    let p = plan_for(&graph, &alex, guards(10, false)).await;
    assert_eq!(p.users[0].actions[0].call, Call::CreateEmail);
    let report = apply(&p, &graph, &options()).await;
    let u = &report.users[0];
    let text = authctl::render::apply_report_text(&report, false);
    assert_eq!(u.outcome, UserOutcome::Done, "{text}");
    let note = u.actions[0].note.as_deref().unwrap_or_default();
    assert!(note.contains("the re-read found the address"), "{text}");
    assert_eq!(
        email_of(&emu.snapshot(), "alex@contoso.com").as_deref(),
        Some("alex@contoso.com")
    );
    // Exactly one create reached Graph: the lost answer was not taken as a failure to retry blindly.
    assert_eq!(
        emu.stats()
            .total("POST /users/{id}/authentication/emailMethods"),
        1
    );
}

#[tokio::test]
async fn a_registration_delete_answered_404_is_done() {
    // Read lag: the apply's re-read still shows the key that someone removed just before, so the delete goes out and
    // Graph answers 404.
    let emu = Emu::start_with(TENANT, |o| o.lag = Duration::from_secs(5)).await;
    let graph = graph_for(&emu, 4);
    let alex = vec![desired().remove(1)];
    let p = plan_for(&graph, &alex, guards(10, false)).await;
    let token = emu.app_token().await;
    let r = emu
        .delete(
            "/users/alex@contoso.com/authentication/fido2Methods/f-contractor",
            &token,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let report = apply(&p, &graph, &options()).await;
    let text = authctl::render::apply_report_text(&report, false);
    let u = &report.users[0];
    assert_eq!(u.outcome, UserOutcome::Done, "{text}");
    assert_eq!(u.actions[0].outcome, ActionOutcome::Done, "{text}");
    assert!(
        u.actions[0]
            .note
            .as_deref()
            .is_some_and(|n| n.contains("404")),
        "{text}"
    );
    assert_eq!(u.converged, Some(true), "{text}");
}
