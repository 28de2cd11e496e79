//! The retry policy: which answers are retried, how long to wait, and when to give up.
//!
//! Retried: 429, 503 and 504 (Graph did nothing), and connection failures where repeating is safe (GETs, PATCH,
//! DELETE, the SMS sign-in actions, `$batch` of reads; a create POST only when the connection was never
//! established). The wait is the server's `Retry-After` (seconds, fractional seconds, or an HTTP date) when present,
//! else exponential backoff with *full jitter* (a uniform draw from zero to `base · 2^retry`, capped), which spreads
//! out workers that failed together. Attempts and total time are both bounded, so a run always ends.
//!
//! A 429's `Retry-After` is not only this request's business: the caller hands it to the shared
//! [`Gate`](super::limits::Gate) so every worker pauses, since Graph's budget is per app and tenant.
//!
//! ```
//! use std::time::Duration;
//! use authctl::graph::retry::{Attempts, RetryPolicy};
//! use rand::SeedableRng;
//!
//! let policy = RetryPolicy::default();
//! let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
//! let start = jiff::Timestamp::UNIX_EPOCH;
//! let mut attempts = Attempts::new(&policy, start);
//! // First failure was a 429 with `Retry-After: 2.5`: wait exactly that.
//! let wait = attempts.next_delay(Some(Duration::from_millis(2500)), start, &mut rng);
//! assert_eq!(wait, Some(Duration::from_millis(2500)));
//! // A 503 without Retry-After: a jittered backoff no longer than the policy's cap.
//! let wait = attempts.next_delay(None, start, &mut rng).unwrap();
//! assert!(wait <= policy.max_backoff);
//! ```

use std::time::Duration;

use jiff::Timestamp;
use rand::Rng;

use crate::clock;

/// Bounds and shape of retrying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1), not counting retries the server paced with
    /// `Retry-After` (those count against `max_paced_retries`).
    pub max_attempts: u32,
    /// Retries made after a `Retry-After` (a 429 or 503 telling exactly when to come back). Bounded apart from
    /// `max_attempts`: under a tight shared rate limit every worker is told to wait a few milliseconds, and several
    /// may be told again before their turn comes; that is the server scheduling, not failing. A server answering
    /// `Retry-After: 0` forever still ends here.
    pub max_paced_retries: u32,
    /// The backoff before the first retry (doubled for each further retry, before jitter).
    pub base: Duration,
    /// The largest backoff drawn.
    pub max_backoff: Duration,
    /// Give up when the next wait would end later than this after the first attempt.
    pub max_total: Duration,
    /// The longest `Retry-After` honoured as given (longer values are clamped to it).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            max_paced_retries: 100,
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_total: Duration::from_secs(600),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Full-jitter backoff before retry number `retry` (0 = first retry): uniform in `[0, min(cap, base·2^retry)]`.
    pub fn backoff(&self, retry: u32, rng: &mut dyn rand::RngCore) -> Duration {
        let ceiling = self
            .base
            .checked_mul(1u32.checked_shl(retry.min(30)).unwrap_or(u32::MAX))
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// True for the HTTP statuses that mean "Graph did nothing; try again later".
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 503 | 504)
}

/// Parses a `Retry-After` value: whole or fractional seconds (`2`, `2.128`) or an HTTP date (relative to `now`; a
/// date in the past means "now"). `None` for anything else, so the caller falls back to backoff.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let parser = jiff::fmt::rfc2822::DateTimeParser::new();
    let at = parser.parse_timestamp(v).ok()?;
    Some(clock::since(at, now))
}

/// One request's retry budget: counts attempts and checks the total-time bound.
#[derive(Debug, Clone)]
pub struct Attempts {
    policy: RetryPolicy,
    start: Timestamp,
    made: u32,
    paced: u32,
}

impl Attempts {
    /// A fresh budget for a request first sent at `start`.
    pub fn new(policy: &RetryPolicy, start: Timestamp) -> Attempts {
        Attempts {
            policy: *policy,
            start,
            made: 1,
            paced: 0,
        }
    }

    /// Attempts made so far (paced retries included).
    pub fn made(&self) -> u32 {
        self.made + self.paced
    }

    /// Some of a `$batch`'s items went through: the attempt count starts over (the total-time bound does not), so a
    /// batch that keeps making progress under a tight budget is not abandoned.
    pub fn progressed(&mut self) {
        self.made = 1;
        self.paced = 0;
    }

    /// After a retryable failure at `now`: the wait before the next attempt, or `None` when the budget is spent.
    /// `retry_after` (the server's hint) wins over backoff.
    pub fn next_delay(
        &mut self,
        retry_after: Option<Duration>,
        now: Timestamp,
        rng: &mut dyn rand::RngCore,
    ) -> Option<Duration> {
        let paced = retry_after.is_some();
        if paced && self.paced >= self.policy.max_paced_retries
            || !paced && self.made >= self.policy.max_attempts.max(1)
        {
            return None;
        }
        let wait = match retry_after {
            Some(d) => d.min(self.policy.max_retry_after),
            None => self.policy.backoff(self.made - 1, rng),
        };
        let elapsed = clock::since(now, self.start);
        if elapsed + wait > self.policy.max_total {
            return None;
        }
        if paced {
            self.paced += 1;
        } else {
            self.made += 1;
        }
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn t0() -> Timestamp {
        Timestamp::from_second(1_767_225_600).unwrap()
    }

    #[test]
    fn retry_after_in_seconds_fractional_and_http_date() {
        assert_eq!(parse_retry_after("3", t0()), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 2.128 ", t0()),
            Some(Duration::from_millis(2128))
        );
        // 2026-01-01T00:00:00Z + 90 s, written as an HTTP date.
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:01:30 GMT", t0()),
            Some(Duration::from_secs(90))
        );
        // A date already past means "retry now", not a negative wait.
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", t0()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", t0()), None);
        assert_eq!(parse_retry_after("soon", t0()), None);
        assert_eq!(parse_retry_after("NaN", t0()), None);
    }

    #[test]
    fn paced_retries_have_their_own_budget_and_the_time_bound_still_holds() {
        let p = RetryPolicy {
            max_attempts: 3,
            max_paced_retries: 5,
            max_total: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let mut rng = SmallRng::seed_from_u64(3);
        let mut a = Attempts::new(&p, t0());
        // Five short Retry-Afters in a row are all honoured, though max_attempts is 3…
        for _ in 0..5 {
            assert_eq!(
                a.next_delay(Some(Duration::from_millis(2)), t0(), &mut rng),
                Some(Duration::from_millis(2))
            );
        }
        // …the sixth is not: a server pacing forever still ends the request.
        assert_eq!(a.next_delay(Some(Duration::ZERO), t0(), &mut rng), None);
        // Unpaced failures keep their own count: two retries after the first attempt, then no more.
        assert!(a.next_delay(None, t0(), &mut rng).is_some());
        assert!(a.next_delay(None, t0(), &mut rng).is_some());
        assert_eq!(a.next_delay(None, t0(), &mut rng), None);
        assert_eq!(a.made(), 8);
        // And the total-time bound covers both kinds.
        let mut b = Attempts::new(&p, t0());
        let late = t0() + jiff::SignedDuration::from_secs(9);
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(2)), late, &mut rng),
            None
        );
    }

    #[test]
    fn only_429_503_504_are_retryable_statuses() {
        for s in [429, 503, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 409, 500, 502] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn full_jitter_stays_within_the_doubling_ceiling_and_uses_the_whole_range() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        for retry in 0..8u32 {
            let ceiling =
                (Duration::from_millis(100) * 2u32.pow(retry)).min(Duration::from_secs(1));
            let draws: Vec<Duration> = (0..200).map(|_| p.backoff(retry, &mut rng)).collect();
            assert!(draws.iter().all(|d| *d <= ceiling), "retry {retry}");
            // Full jitter: draws spread over the range, some well below half the ceiling.
            assert!(draws.iter().any(|d| *d < ceiling / 4), "retry {retry}");
            assert!(draws.iter().any(|d| *d > ceiling * 3 / 4), "retry {retry}");
        }
    }

    #[test]
    fn jitter_is_deterministic_for_a_seeded_rng() {
        let p = RetryPolicy::default();
        let a: Vec<_> = {
            let mut r = SmallRng::seed_from_u64(42);
            (0..5).map(|i| p.backoff(i, &mut r)).collect()
        };
        let b: Vec<_> = {
            let mut r = SmallRng::seed_from_u64(42);
            (0..5).map(|i| p.backoff(i, &mut r)).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn attempts_are_bounded_by_count() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let mut a = Attempts::new(&p, t0());
        assert!(a.next_delay(None, t0(), &mut rng).is_some());
        assert!(a.next_delay(None, t0(), &mut rng).is_some());
        assert_eq!(a.made(), 3);
        assert_eq!(a.next_delay(None, t0(), &mut rng), None);
    }

    #[test]
    fn progress_restarts_the_count_but_not_the_clock() {
        let p = RetryPolicy {
            max_attempts: 2,
            max_paced_retries: 1,
            max_total: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let mut a = Attempts::new(&p, t0());
        let one = Some(Duration::from_secs(1));
        assert!(a.next_delay(one, t0(), &mut rng).is_some());
        assert_eq!(a.next_delay(one, t0(), &mut rng), None);
        a.progressed();
        assert!(a.next_delay(one, t0(), &mut rng).is_some());
        a.progressed();
        assert_eq!(
            a.next_delay(one, clock::add(t0(), Duration::from_secs(10)), &mut rng),
            None
        );
    }

    #[test]
    fn attempts_are_bounded_by_total_time_and_retry_after_is_clamped() {
        let p = RetryPolicy {
            max_total: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let mut a = Attempts::new(&p, t0());
        assert_eq!(
            a.next_delay(Some(Duration::from_secs(3600)), t0(), &mut rng),
            Some(Duration::from_secs(30))
        );
        let later = clock::add(t0(), Duration::from_secs(50));
        assert_eq!(
            a.next_delay(Some(Duration::from_secs(20)), later, &mut rng),
            None
        );
    }
}
