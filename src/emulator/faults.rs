//! Fault injection, deterministic under `--seed`: token buckets (read and write) that answer 429 with
//! `Retry-After`, seeded 503s and dropped connections. Draws come from one seeded generator in request order, so the
//! same seed and the same sequence of requests give the same faults.

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

    /// Takes one token, or says how long until one is available.
    fn take(&mut self, now: Timestamp) -> Result<(), Duration> {
        let cap = f64::from(self.rate.count);
        if let Some(last) = self.last {
            let elapsed = crate::clock::since(now, last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate.per_second()).min(cap);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.rate.per_second();
            // Whole milliseconds, at least one, so `Retry-After` is never zero.
            Err(Duration::from_millis((wait * 1000.0).ceil().max(1.0) as u64))
        }
    }
}

/// The fault state of one emulator.
#[derive(Debug)]
pub(crate) struct Faults {
    rng: StdRng,
    read: Option<Bucket>,
    write: Option<Bucket>,
    fail_prob: f64,
    drop_prob: f64,
}

/// What the fault layer decided for one request or batch item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Go ahead.
    Pass,
    /// 429 with this `Retry-After`.
    Throttled(Duration),
    /// 503 (nothing applied).
    Fail,
}

impl Faults {
    pub fn new(options: &Options) -> Faults {
        Faults {
            rng: StdRng::seed_from_u64(options.seed),
            read: options.throttle.map(Bucket::new),
            write: options.write_throttle.map(Bucket::new),
            fail_prob: options.fail_prob,
            drop_prob: options.drop_prob,
        }
    }

    /// Charges one request (or batch item) and draws whether it fails. Every request draws once, throttled or
    /// not, so the sequence of draws depends only on the sequence of requests.
    pub fn admit(&mut self, now: Timestamp, is_write: bool) -> Verdict {
        let draw: f64 = self.rng.random();
        if let Some(b) = &mut self.read
            && let Err(wait) = b.take(now)
        {
            return Verdict::Throttled(wait);
        }
        if is_write
            && let Some(b) = &mut self.write
            && let Err(wait) = b.take(now)
        {
            return Verdict::Throttled(wait);
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

/// Formats a `Retry-After` value in seconds: whole seconds when exact, else up to three decimals (Graph's own
/// sample is fractional: `2.128`).
pub(crate) fn retry_after(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}", ms / 1000)
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        s.trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_holds_one_window_and_refills() {
        let rate: Rate = "2/1s".parse().unwrap();
        let mut b = Bucket::new(rate);
        let t0 = Timestamp::from_second(1_000).unwrap();
        assert!(b.take(t0).is_ok());
        assert!(b.take(t0).is_ok());
        assert_eq!(b.take(t0), Err(Duration::from_millis(500)));
        let t1 = crate::clock::add(t0, Duration::from_millis(500));
        assert!(b.take(t1).is_ok());
        // Never more than capacity, however long it rested.
        let t2 = crate::clock::add(t1, Duration::from_secs(3600));
        assert!(b.take(t2).is_ok());
        assert!(b.take(t2).is_ok());
        assert!(b.take(t2).is_err());
    }

    #[test]
    fn retry_after_format() {
        assert_eq!(retry_after(Duration::from_secs(2)), "2");
        assert_eq!(retry_after(Duration::from_millis(2128)), "2.128");
        assert_eq!(retry_after(Duration::from_millis(500)), "0.5");
    }
}
