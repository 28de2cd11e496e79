//! Progress off a terminal: where a bar cannot be drawn (CI logs, cron mail), long runs print one line to stderr at
//! a steady interval of the run's clock, so a run that takes minutes never looks hung, and a log shows how far it
//! got. Lines come when users advance and, while a phase is under way, from a ticker that waits on the clock (it
//! follows the clock, never moves it: on a virtual clock it wakes only when the run's own waits move time), so a
//! run stuck on `Retry-After` or a slow Graph still prints every interval. The ticker ends with its phase, or when
//! the progress display is dropped. The clock and the writer are injected, so tests see the lines without waiting.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;

use crate::clock::{self, SharedClock};
use crate::observe::Progress;

/// The interval between progress lines off a terminal.
pub const LINE_INTERVAL: Duration = Duration::from_secs(10);

/// Prints `authctl: PHASE: DONE/TOTAL (Ns)` when a phase starts, every interval while it is under way (advancing or
/// not), and when it completes.
pub struct LineProgress {
    inner: Arc<Inner>,
    /// The ticker of the current phase (a tokio task; none outside a runtime).
    ticker: Mutex<Option<tokio::task::AbortHandle>>,
}

struct Inner {
    clock: SharedClock,
    interval: Duration,
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    phase: String,
    /// Counts phases, so a ticker of an earlier phase stops.
    generation: u64,
    total: u64,
    done: u64,
    started: Timestamp,
    last: Timestamp,
}

impl LineProgress {
    /// Lines to `out`, one per `interval` of `clock`.
    pub fn new(clock: SharedClock, interval: Duration, out: Box<dyn Write + Send>) -> LineProgress {
        let now = clock.now();
        LineProgress {
            inner: Arc::new(Inner {
                clock,
                interval,
                state: Mutex::new(State {
                    out,
                    phase: String::new(),
                    generation: 0,
                    total: 0,
                    done: 0,
                    started: now,
                    last: now,
                }),
            }),
            ticker: Mutex::new(None),
        }
    }

    /// Lines to stderr, every [`LINE_INTERVAL`] of `clock`.
    pub fn stderr(clock: SharedClock) -> LineProgress {
        LineProgress::new(clock, LINE_INTERVAL, Box::new(std::io::stderr()))
    }

    /// Stops the current phase's ticker, if any.
    fn stop_ticker(&self) {
        let mut t = self.ticker.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = t.take() {
            t.abort();
        }
    }

    /// Whether a ticker is running (for tests).
    #[cfg(test)]
    fn ticking(&self) -> bool {
        let t = self.ticker.lock().unwrap_or_else(|e| e.into_inner());
        t.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for LineProgress {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits on the clock for each interval without a line and prints one, until phase `generation` is over.
    async fn tick(self: Arc<Inner>, generation: u64) {
        loop {
            let next = {
                let s = self.lock();
                if s.generation != generation || s.done >= s.total {
                    return;
                }
                clock::add(s.last, self.interval)
            };
            self.clock.wait_until(next).await;
            let now = self.clock.now();
            let mut s = self.lock();
            if s.generation != generation || s.done >= s.total {
                return;
            }
            if clock::since(now, s.last) >= self.interval {
                s.line(now);
            }
        }
    }
}

impl State {
    fn line(&mut self, now: Timestamp) {
        let elapsed = clock::since(now, self.started).as_secs();
        let _ = writeln!(
            self.out,
            "authctl: {}: {}/{} ({elapsed}s)",
            self.phase, self.done, self.total
        );
        let _ = self.out.flush();
        self.last = now;
    }
}

impl Progress for LineProgress {
    fn start(&self, message: &str, total: u64) {
        self.stop_ticker();
        let now = self.inner.clock.now();
        let generation = {
            let mut s = self.inner.lock();
            s.phase = crate::escape::visible_capped(message, 80);
            s.total = total;
            s.done = 0;
            s.started = now;
            s.generation += 1;
            s.line(now);
            s.generation
        };
        if total > 0
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let task = rt.spawn(self.inner.clone().tick(generation));
            *self.ticker.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
        }
    }

    fn advance(&self, n: u64) {
        let now = self.inner.clock.now();
        let complete = {
            let mut s = self.inner.lock();
            s.done = s.done.saturating_add(n);
            if s.done >= s.total || clock::since(now, s.last) >= self.inner.interval {
                s.line(now);
            }
            s.done >= s.total
        };
        if complete {
            self.stop_ticker();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock as _, VirtualClock};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_line_per_interval_of_the_clock_and_one_at_the_end() {
        let clock = VirtualClock::fixed();
        let sink = Sink::default();
        let p = LineProgress::new(
            clock.clone(),
            Duration::from_secs(10),
            Box::new(sink.clone()),
        );
        p.start("applying", 100);
        for _ in 0..100 {
            clock.advance(Duration::from_secs(1));
            p.advance(1);
        }
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"authctl: applying: 0/100 (0s)"));
        assert_eq!(lines[1], "authctl: applying: 10/100 (10s)");
        assert_eq!(lines[2], "authctl: applying: 20/100 (20s)");
        assert_eq!(lines.last(), Some(&"authctl: applying: 100/100 (100s)"));
        assert_eq!(lines.len(), 11, "{text}");
    }

    #[tokio::test]
    async fn a_stuck_phase_prints_every_interval_and_the_ticker_ends_with_it() {
        let clock = VirtualClock::fixed();
        let sink = Sink::default();
        let p = LineProgress::new(
            clock.clone(),
            Duration::from_secs(10),
            Box::new(sink.clone()),
        );
        let lines = || {
            let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
            text.lines().map(str::to_string).collect::<Vec<_>>()
        };
        let settle = || async {
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
        };
        p.start("applying", 3);
        p.advance(1);
        // The ticker follows the clock and never moves it: with nobody waiting, time stands still, no line comes.
        settle().await;
        assert_eq!(clock.now(), VirtualClock::fixed().now());
        assert_eq!(lines(), ["authctl: applying: 0/3 (0s)"]);
        assert!(p.ticking());
        // Stuck: the run waits 35 s on the clock (a slow Graph, a Retry-After), one second at a time, and no user
        // advances; a line still comes every 10 s.
        for _ in 0..35 {
            clock.sleep(Duration::from_secs(1)).await;
            settle().await;
        }
        assert_eq!(
            lines()[1..],
            [
                "authctl: applying: 1/3 (10s)",
                "authctl: applying: 1/3 (20s)",
                "authctl: applying: 1/3 (30s)",
            ]
        );
        // A long wait in one step gives one line when it ends, not a burst.
        clock.sleep(Duration::from_secs(60)).await;
        settle().await;
        assert_eq!(lines().last().unwrap(), "authctl: applying: 1/3 (95s)");
        assert_eq!(lines().len(), 5);
        // A user advancing within the interval prints nothing; the ticker's next line comes 10 s after the last.
        clock.sleep(Duration::from_secs(5)).await;
        p.advance(1);
        settle().await;
        assert_eq!(lines().len(), 5, "{:?}", lines());
        clock.sleep(Duration::from_secs(6)).await;
        settle().await;
        assert_eq!(lines().last().unwrap(), "authctl: applying: 2/3 (106s)");
        // The phase ends: its last line, and the ticker stops.
        p.advance(1);
        settle().await;
        assert_eq!(lines().last().unwrap(), "authctl: applying: 3/3 (106s)");
        assert!(!p.ticking());
        clock.sleep(Duration::from_secs(600)).await;
        settle().await;
        assert_eq!(lines().len(), 7);
        // A new phase gets its own ticker, which ends when the display is dropped (the run ends).
        p.start("converging", 2);
        assert!(p.ticking());
        let handle = p.ticker.lock().unwrap().clone().unwrap();
        drop(p);
        settle().await;
        assert!(handle.is_finished());
    }
}
