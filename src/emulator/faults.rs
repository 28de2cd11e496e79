//! Fault injection, deterministic under `--seed`: token buckets that answer 429 with `Retry-After` (the flat read and
//! write buckets of `--throttle`/`--write-throttle`, and Graph's documented identity-and-access limits with
//! `--throttle-profile`), seeded 503s and dropped connections. Draws come from one seeded generator in request
//! order, so the same seed and the same sequence of requests give the same faults.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::units::Rate;

use super::Options;

/// A token bucket: capacity one window's worth, refilled continuously at `count/per`.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Option<Timestamp>,
}

impl Bucket {
    fn new(rate: Rate) -> Bucket {
        Bucket {
            rate,
            tokens: f64::from(rate.count),
            last: None,
        }
    }

    /// Takes `cost` tokens, or says how long until they are available (nothing taken then).
    fn take(&mut self, now: Timestamp, cost: u32) -> Result<(), Duration> {
        let cap = f64::from(self.rate.count);
        if let Some(last) = self.last {
            let elapsed = crate::clock::since(now, last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate.per_second()).min(cap);
        }
        self.last = Some(now);
        let cost = f64::from(cost).min(cap);
        if self.tokens >= cost {
            self.tokens -= cost;
            Ok(())
        } else {
            let wait = (cost - self.tokens) / self.rate.per_second();
            // Whole milliseconds, at least one.
            Err(Duration::from_millis((wait * 1000.0).ceil().max(1.0) as u64))
        }
    }
}

/// Graph's identity-and-access service limits for a tenant size (Microsoft Graph throttling limits, "Identity and
/// access service limits"): per app and tenant, resource units per 10 s by tenant size and 3,000 writes per
/// 2 min 30 s; per tenant (all apps), 18,000 writes per 5 min. The per-app limits across all tenants (150,000 RU per
/// 20 s, 35,000 writes per 5 min) never bind before these with one tenant, so they are not modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleProfile {
    /// Fewer than 50 users: 3,500 RU per 10 s per app.
    Small,
    /// 50–500 users: 5,000 RU per 10 s per app.
    Medium,
    /// More than 500 users: 8,000 RU per 10 s per app.
    Large,
}

impl ThrottleProfile {
    /// Resource units per app and tenant.
    pub fn app_resource_units(self) -> Rate {
        let count = match self {
            ThrottleProfile::Small => 3_500,
            ThrottleProfile::Medium => 5_000,
            ThrottleProfile::Large => 8_000,
        };
        Rate {
            count,
            per: Duration::from_secs(10),
        }
    }

    /// Writes per app and tenant.
    pub fn app_writes(self) -> Rate {
        Rate {
            count: 3_000,
            per: Duration::from_secs(150),
        }
    }

    /// Writes per tenant, all apps together.
    pub fn tenant_writes(self) -> Rate {
        Rate {
            count: 18_000,
            per: Duration::from_secs(300),
        }
    }
}

impl FromStr for ThrottleProfile {
    type Err = String;

    fn from_str(s: &str) -> Result<ThrottleProfile, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "small" => Ok(ThrottleProfile::Small),
            "medium" => Ok(ThrottleProfile::Medium),
            "large" => Ok(ThrottleProfile::Large),
            _ => Err(format!(
                "`{s}` is not a throttle profile; write small (<50 users), medium (50-500) or large (>500)"
            )),
        }
    }
}

/// What one request (or batch item) costs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Charge<'a> {
    /// The calling app (client id), for the per-app buckets.
    pub app: &'a str,
    /// Resource units (the profile's read-side cost).
    pub resource_units: u32,
    /// POST, PATCH, PUT or DELETE.
    pub write: bool,
}

/// Which limit refused a request: the `x-ms-throttle-scope` and `x-ms-throttle-information` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limit {
    pub scope: String,
    pub information: &'static str,
}

/// The per-app buckets of a profile.
#[derive(Debug)]
struct AppBuckets {
    resource_units: Bucket,
    writes: Bucket,
}

/// The fault state of one emulator.
#[derive(Debug)]
pub(crate) struct Faults {
    rng: StdRng,
    read: Option<Bucket>,
    write: Option<Bucket>,
    profile: Option<ThrottleProfile>,
    apps: HashMap<String, AppBuckets>,
    tenant_writes: Option<Bucket>,
    fail_prob: f64,
    drop_prob: f64,
}

/// What the fault layer decided for one request or batch item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Go ahead.
    Pass,
    /// 429 with this `Retry-After`, and the profile limit that refused it (none for the flat buckets).
    Throttled(Duration, Option<Limit>),
    /// 503 (nothing applied).
    Fail,
}

impl Faults {
    pub fn new(options: &Options) -> Faults {
        Faults {
            rng: StdRng::seed_from_u64(options.seed),
            read: options.throttle.map(Bucket::new),
            write: options.write_throttle.map(Bucket::new),
            profile: options.throttle_profile,
            apps: HashMap::new(),
            tenant_writes: options
                .throttle_profile
                .map(|p| Bucket::new(p.tenant_writes())),
            fail_prob: options.fail_prob,
            drop_prob: options.drop_prob,
        }
    }

    /// Whether a Graph throttling profile is on (responses then carry `x-ms-resource-unit`).
    pub fn has_profile(&self) -> bool {
        self.profile.is_some()
    }

    /// Charges one request (or batch item) and draws whether it fails. Every request draws once, throttled or
    /// not, so the sequence of draws depends only on the sequence of requests.
    pub fn admit(&mut self, now: Timestamp, charge: Charge<'_>, tenant_id: &str) -> Verdict {
        let draw: f64 = self.rng.random();
        if let Some(b) = &mut self.read
            && let Err(wait) = b.take(now, 1)
        {
            return Verdict::Throttled(wait, None);
        }
        if charge.write
            && let Some(b) = &mut self.write
            && let Err(wait) = b.take(now, 1)
        {
            return Verdict::Throttled(wait, None);
        }
        if let Some(p) = self.profile {
            let app = self
                .apps
                .entry(charge.app.to_ascii_lowercase())
                .or_insert_with(|| AppBuckets {
                    resource_units: Bucket::new(p.app_resource_units()),
                    writes: Bucket::new(p.app_writes()),
                });
            let app_scope = |kind: &str| {
                format!(
                    "Tenant_Application/{kind}/{tenant_id}/{}",
                    charge.app.to_ascii_lowercase()
                )
            };
            if let Err(wait) = app.resource_units.take(now, charge.resource_units) {
                return Verdict::Throttled(
                    wait,
                    Some(Limit {
                        scope: app_scope("ReadWrite"),
                        information: "ResourceUnitLimitExceeded",
                    }),
                );
            }
            if charge.write {
                if let Err(wait) = app.writes.take(now, 1) {
                    return Verdict::Throttled(
                        wait,
                        Some(Limit {
                            scope: app_scope("Write"),
                            information: "WriteLimitExceeded",
                        }),
                    );
                }
                if let Some(t) = &mut self.tenant_writes
                    && let Err(wait) = t.take(now, 1)
                {
                    return Verdict::Throttled(
                        wait,
                        Some(Limit {
                            scope: format!("Tenant/Write/{tenant_id}"),
                            information: "WriteLimitExceeded",
                        }),
                    );
                }
            }
        }
        if draw < self.fail_prob {
            return Verdict::Fail;
        }
        Verdict::Pass
    }

    /// Draws whether to drop this HTTP request's connection (after it was applied).
    pub fn drop_connection(&mut self) -> bool {
        let draw: f64 = self.rng.random();
        draw < self.drop_prob
    }
}

/// Formats a `Retry-After` value: whole seconds, rounded up, at least 1. Graph sends whole seconds, and clients
/// parse it as an integer (kiota's retry handler uses `int()` and falls back to its own backoff otherwise).
pub(crate) fn retry_after(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    ms.div_ceil(1000).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_holds_one_window_and_refills() {
        let rate: Rate = "2/1s".parse().unwrap();
        let mut b = Bucket::new(rate);
        let t0 = Timestamp::from_second(1_000).unwrap();
        assert!(b.take(t0, 1).is_ok());
        assert!(b.take(t0, 1).is_ok());
        assert_eq!(b.take(t0, 1), Err(Duration::from_millis(500)));
        let t1 = crate::clock::add(t0, Duration::from_millis(500));
        assert!(b.take(t1, 1).is_ok());
        // Never more than capacity, however long it rested.
        let t2 = crate::clock::add(t1, Duration::from_secs(3600));
        assert!(b.take(t2, 1).is_ok());
        assert!(b.take(t2, 1).is_ok());
        assert!(b.take(t2, 1).is_err());
    }

    #[test]
    fn bucket_charges_a_cost_and_takes_nothing_when_refusing() {
        let rate: Rate = "10/10s".parse().unwrap();
        let mut b = Bucket::new(rate);
        let t0 = Timestamp::from_second(1_000).unwrap();
        assert!(b.take(t0, 2).is_ok());
        assert!(b.take(t0, 7).is_ok());
        assert_eq!(b.take(t0, 2), Err(Duration::from_secs(1)));
        assert!(b.take(t0, 1).is_ok(), "the refused charge took nothing");
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after(Duration::from_secs(2)), "2");
        assert_eq!(retry_after(Duration::from_millis(2128)), "3");
        assert_eq!(retry_after(Duration::from_millis(191)), "1");
        assert_eq!(retry_after(Duration::ZERO), "1");
    }

    fn profiled() -> Faults {
        Faults::new(&Options {
            throttle_profile: Some(ThrottleProfile::Small),
            ..Options::default()
        })
    }

    fn charge(app: &str, resource_units: u32, write: bool) -> Charge<'_> {
        Charge {
            app,
            resource_units,
            write,
        }
    }

    #[test]
    fn profile_charges_resource_units_per_app() {
        let mut f = profiled();
        let t0 = Timestamp::from_second(1_000).unwrap();
        for _ in 0..1_750 {
            assert_eq!(f.admit(t0, charge("a", 2, false), "tid"), Verdict::Pass);
        }
        let Verdict::Throttled(wait, Some(limit)) = f.admit(t0, charge("A", 1, false), "tid")
        else {
            panic!("app a spent its 3,500 RU");
        };
        assert_eq!(limit.scope, "Tenant_Application/ReadWrite/tid/a");
        assert_eq!(limit.information, "ResourceUnitLimitExceeded");
        assert_eq!(
            retry_after(wait),
            "1",
            "350 RU a second come back within a second"
        );
        assert_eq!(
            f.admit(t0, charge("b", 1, false), "tid"),
            Verdict::Pass,
            "another app has its own budget"
        );
        let t1 = crate::clock::add(t0, Duration::from_secs(1));
        assert_eq!(f.admit(t1, charge("a", 2, false), "tid"), Verdict::Pass);
    }

    #[test]
    fn profile_charges_writes_per_app_and_per_tenant() {
        let mut f = profiled();
        let t0 = Timestamp::from_second(1_000).unwrap();
        for _ in 0..3_000 {
            assert_eq!(f.admit(t0, charge("a", 1, true), "tid"), Verdict::Pass);
        }
        let Verdict::Throttled(_, Some(limit)) = f.admit(t0, charge("a", 1, true), "tid") else {
            panic!("app a spent its 3,000 writes");
        };
        assert_eq!(limit.scope, "Tenant_Application/Write/tid/a");
        assert_eq!(limit.information, "WriteLimitExceeded");
        assert_eq!(
            f.admit(t0, charge("a", 1, false), "tid"),
            Verdict::Pass,
            "reads are charged apart"
        );
        // Five more apps bring the tenant to 18,000 writes; the next app is refused at the tenant scope.
        for app in ["b", "c", "d", "e", "g"] {
            for _ in 0..3_000 {
                assert_eq!(f.admit(t0, charge(app, 1, true), "tid"), Verdict::Pass);
            }
        }
        let Verdict::Throttled(wait, Some(limit)) = f.admit(t0, charge("h", 1, true), "tid") else {
            panic!("the tenant spent its 18,000 writes");
        };
        assert_eq!(limit.scope, "Tenant/Write/tid");
        assert_eq!(retry_after(wait), "1");
    }

    #[test]
    fn profiles_parse_and_scale_with_tenant_size() {
        assert_eq!(
            "Large".parse::<ThrottleProfile>(),
            Ok(ThrottleProfile::Large)
        );
        assert!("huge".parse::<ThrottleProfile>().is_err());
        assert_eq!(ThrottleProfile::Small.app_resource_units().count, 3_500);
        assert_eq!(ThrottleProfile::Medium.app_resource_units().count, 5_000);
        assert_eq!(ThrottleProfile::Large.app_resource_units().count, 8_000);
    }
}
