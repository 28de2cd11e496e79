//! The injectable clock. Every wait in authctl (retry backoff, `Retry-After`, rate limiting, convergence polling,
//! operation polling, the emulator's token buckets and read lag) goes through a [`Clock`], so tests run on a
//! [`VirtualClock`] and never sleep for real.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

/// A boxed future returned by [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of time that can also wait.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Waits until `deadline` (returns at once if it has passed).
    fn sleep_until(&self, deadline: Timestamp) -> Sleep;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(add(self.now(), duration))
    }
    /// Waits until the clock reads `deadline` or later without moving it: for watchers (the progress ticker) that
    /// must follow the run's time, never drive it. The real clock's sleep is already that; a [`VirtualClock`]
    /// wakes the waiter when someone else moves it past `deadline`.
    fn wait_until(&self, deadline: Timestamp) -> Sleep {
        self.sleep_until(deadline)
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// `t + d`, saturating at the end of time.
pub fn add(t: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The time from `earlier` to `later` (zero when `later` is not after `earlier`).
pub fn since(later: Timestamp, earlier: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}

/// The real clock: system time and tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let d = since(deadline, Timestamp::now());
        Box::pin(tokio::time::sleep(d))
    }
}

/// A clock that only moves when someone sleeps on it or [`VirtualClock::advance`]s it. Sleeping moves the clock to
/// the deadline at once (never backwards), so concurrent sleepers waiting for the same deadline move it only once.
#[derive(Debug)]
pub struct VirtualClock {
    /// The time; its receivers are [`Clock::wait_until`] waiters.
    now: tokio::sync::watch::Sender<Timestamp>,
}

impl VirtualClock {
    /// A virtual clock starting at `start`.
    pub fn new(start: Timestamp) -> Arc<VirtualClock> {
        Arc::new(VirtualClock {
            now: tokio::sync::watch::Sender::new(start),
        })
    }

    /// A virtual clock starting at a fixed, recognisable instant (2026-01-01T00:00:00Z).
    pub fn fixed() -> Arc<VirtualClock> {
        VirtualClock::new(Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.now.send_modify(|now| *now = add(*now, d));
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        self.now.send_if_modified(|now| {
            let later = deadline > *now;
            if later {
                *now = deadline;
            }
            later
        });
        Box::pin(tokio::task::yield_now())
    }

    fn wait_until(&self, deadline: Timestamp) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // Err only when the clock is gone: nothing will move it any more.
            let _ = rx.wait_for(|now| *now >= deadline).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn virtual_sleep_moves_time_without_waiting() {
        let c = VirtualClock::fixed();
        let t0 = c.now();
        c.sleep(Duration::from_secs(3600)).await;
        assert_eq!(since(c.now(), t0), Duration::from_secs(3600));
        // A deadline in the past does not move the clock back.
        c.sleep_until(t0).await;
        assert_eq!(since(c.now(), t0), Duration::from_secs(3600));
    }

    #[tokio::test]
    async fn virtual_wait_follows_the_clock_without_moving_it() {
        let c = VirtualClock::fixed();
        let t0 = c.now();
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.wait_until(add(t0, Duration::from_secs(10))).await }
        });
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        // Waiting does not move the clock, and nobody else did.
        assert_eq!(c.now(), t0);
        assert!(!waiter.is_finished());
        c.sleep(Duration::from_secs(9)).await;
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        c.advance(Duration::from_secs(1));
        waiter.await.unwrap();
        assert_eq!(since(c.now(), t0), Duration::from_secs(10));
    }
}
