//! Integration tests: the fault campaign and the soak. The library's plan (`build_plan`) and executor (`apply`)
//! against the in-process emulator under 429 storms, 503s, dropped connections and read lag, and 20 plan/apply
//! cycles with random drift, all sharing the emulator's virtual clock (Retry-After, backoff, read lag and
//! convergence waits cost no real time).

use std::fmt::Write as _;

use authctl::apply::{ApplyOptions, apply};
use authctl::emulator::Options;
use authctl::model::PhoneType;
use authctl::phone::PhoneNumber;

use crate::support::Emu;

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
