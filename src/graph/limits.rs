//! What keeps authctl inside Graph's budget: the shared 429 [`Gate`] (one worker's `Retry-After` pauses every
//! worker, because Graph throttles per app and tenant, not per connection) and the [`RateCap`] behind
//! `--max-rate` (a token bucket counting each `$batch` item, as Graph's own bucket does). The concurrency bound
//! (`--parallelism`) is a plain semaphore held by the client. All waiting goes through the injected clock.

use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;

use crate::clock::{self, SharedClock};
use crate::units::Rate;

/// The shared throttle gate: closed until an instant, open afterwards.
#[derive(Debug, Default)]
pub struct Gate {
    until: Mutex<Option<Timestamp>>,
}

impl Gate {
    /// A gate that is open.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Closes the gate until `until` (a later instant than the current closing wins; an earlier one is ignored).
    pub fn close_until(&self, until: Timestamp) {
        let mut u = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if u.is_none_or(|cur| until > cur) {
            *u = Some(until);
        }
    }

    /// The instant the gate opens, if it is closed at `now`.
    pub fn closed_until(&self, now: Timestamp) -> Option<Timestamp> {
        let u = self.until.lock().unwrap_or_else(|e| e.into_inner());
        u.filter(|t| *t > now)
    }

    /// Waits until the gate is open. Returns the time waited (on `clock`).
    pub async fn wait(&self, clock: &SharedClock) -> Duration {
        let start = clock.now();
        while let Some(t) = self.closed_until(clock.now()) {
            clock.sleep_until(t).await;
        }
        clock::since(clock.now(), start)
    }
}

/// A token bucket: `rate.count` permits per `rate.per`, burst of one window's worth. Callers reserve permits and
/// sleep off any debt, so waiters are served in reservation order without polling.
///
/// The cap adapts (additive increase, multiplicative decrease): a 429 means Graph's budget is below the cap, so the
/// rate is halved (at most once a second); successes win it back, a window's worth of items restoring half the
/// configured rate. (A tenth, as first written, made one stray 429 in 11,669 items cost two seconds of a 10,000-user
/// plan at 800/s; a storm still halves the rate every second it lasts.) It never exceeds the configured rate.
#[derive(Debug)]
pub struct RateCap {
    rate: Option<Rate>,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Option<Timestamp>,
    /// The share of the configured rate currently allowed, in `[MIN_FACTOR, 1]`.
    factor: f64,
    last_cut: Option<Timestamp>,
}

const MIN_FACTOR: f64 = 1.0 / 64.0;

impl RateCap {
    /// A cap of `rate`; `None` = unlimited.
    pub fn new(rate: Option<Rate>) -> RateCap {
        RateCap {
            rate,
            state: Mutex::new(Bucket {
                tokens: rate.map_or(0.0, |r| f64::from(r.count)),
                at: None,
                factor: 1.0,
                last_cut: None,
            }),
        }
    }

    /// Reserves `n` permits at `now` and returns how long the caller must wait before using them.
    pub fn reserve(&self, n: u32, now: Timestamp) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let per_sec = rate.per_second() * b.factor;
        let cap = (f64::from(rate.count) * b.factor).max(1.0);
        if let Some(at) = b.at {
            let dt = clock::since(now, at).as_secs_f64();
            b.tokens = (b.tokens + dt * per_sec).min(cap);
        }
        b.at = Some(match b.at {
            Some(at) if at > now => at,
            _ => now,
        });
        b.tokens -= f64::from(n);
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / per_sec)
        }
    }

    /// Graph answered 429: halve the allowed rate (at most once a second) and drop any saved-up burst.
    pub fn throttled(&self, now: Timestamp) {
        if self.rate.is_none() {
            return;
        }
        let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if b.last_cut
            .is_some_and(|t| clock::since(now, t) < Duration::from_secs(1))
        {
            return;
        }
        b.last_cut = Some(now);
        b.factor = (b.factor / 2.0).max(MIN_FACTOR);
        b.tokens = b.tokens.min(0.0);
    }

    /// `n` requests or items succeeded: win back part of the rate.
    pub fn succeeded(&self, n: u32) {
        let Some(rate) = self.rate else { return };
        let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if b.factor < 1.0 {
            b.factor = (b.factor + 0.5 * f64::from(n) / f64::from(rate.count)).min(1.0);
        }
    }

    /// The share of the configured rate currently allowed (1 when not throttled).
    pub fn factor(&self) -> f64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).factor
    }

    /// Reserves `n` permits and waits for them on `clock`.
    pub async fn acquire(&self, n: u32, clock: &SharedClock) {
        let wait = self.reserve(n, clock.now());
        if !wait.is_zero() {
            clock.sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VirtualClock;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_closed_gate_holds_every_waiter_until_it_opens() {
        let vc = VirtualClock::fixed();
        let clock: SharedClock = vc.clone();
        let gate = Arc::new(Gate::new());
        let t0 = clock.now();
        assert_eq!(gate.wait(&clock).await, Duration::ZERO);
        gate.close_until(clock::add(t0, Duration::from_secs(5)));
        // An earlier closing does not shorten the pause.
        gate.close_until(clock::add(t0, Duration::from_secs(2)));
        let waits = futures_util::future::join_all((0..4).map(|_| {
            let g = gate.clone();
            let c = clock.clone();
            async move { g.wait(&c).await }
        }))
        .await;
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(5)));
        assert_eq!(clock::since(clock.now(), t0), Duration::from_secs(5));
        assert_eq!(gate.closed_until(clock.now()), None);
    }

    #[test]
    fn rate_cap_allows_one_window_of_burst_then_spaces_permits() {
        let cap = RateCap::new(Some("10/1s".parse().unwrap()));
        let t0 = Timestamp::from_second(1_767_225_600).unwrap();
        assert_eq!(cap.reserve(10, t0), Duration::ZERO);
        assert_eq!(cap.reserve(1, t0), Duration::from_millis(100));
        assert_eq!(cap.reserve(1, t0), Duration::from_millis(200));
        // A $batch of 20 items costs 20 permits.
        let later = clock::add(t0, Duration::from_secs(10));
        assert_eq!(cap.reserve(20, later), Duration::from_secs(1));
    }

    #[test]
    fn a_429_halves_the_rate_once_a_second_and_successes_win_it_back() {
        let cap = RateCap::new(Some("10/1s".parse().unwrap()));
        let t0 = Timestamp::from_second(1_767_225_600).unwrap();
        cap.throttled(t0);
        cap.throttled(t0);
        assert_eq!(
            cap.factor(),
            0.5,
            "one cut per second however many workers saw the 429"
        );
        // Half the rate, no saved burst: 5 permits cost one second.
        assert_eq!(cap.reserve(5, t0), Duration::from_secs(1));
        cap.throttled(clock::add(t0, Duration::from_secs(1)));
        assert_eq!(cap.factor(), 0.25);
        // A window's worth of successes (10 items at 10/1s) wins back half the configured rate.
        for _ in 0..10 {
            cap.succeeded(1);
        }
        assert!((cap.factor() - 0.75).abs() < 1e-9, "{}", cap.factor());
        for _ in 0..100 {
            cap.succeeded(1);
        }
        assert_eq!(cap.factor(), 1.0, "never above the configured rate");
    }

    #[test]
    fn no_rate_means_no_wait() {
        let cap = RateCap::new(None);
        assert_eq!(
            cap.reserve(1_000_000, Timestamp::UNIX_EPOCH),
            Duration::ZERO
        );
    }
}
