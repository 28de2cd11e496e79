//! Progress off a terminal: where a bar cannot be drawn (CI logs, cron mail), long runs print one line to stderr at
//! a steady interval of the run's clock, so a run that takes minutes never looks hung, and a log shows how far it
//! got. The clock and the writer are injected, so tests see the lines without waiting.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;

use crate::clock::{self, SharedClock};
use crate::observe::Progress;

/// The interval between progress lines off a terminal.
pub const LINE_INTERVAL: Duration = Duration::from_secs(10);

/// Prints `authctl: PHASE: DONE/TOTAL (Ns)` when a phase starts, at most once per interval while it advances, and
/// when it completes.
pub struct LineProgress {
    clock: SharedClock,
    interval: Duration,
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    phase: String,
    total: u64,
    done: u64,
    started: Timestamp,
    last: Timestamp,
}

impl LineProgress {
    /// Lines to `out`, one per `interval` of `clock` at most.
    pub fn new(clock: SharedClock, interval: Duration, out: Box<dyn Write + Send>) -> LineProgress {
        let now = clock.now();
        LineProgress {
            clock,
            interval,
            state: Mutex::new(State {
                out,
                phase: String::new(),
                total: 0,
                done: 0,
                started: now,
                last: now,
            }),
        }
    }

    /// Lines to stderr, every [`LINE_INTERVAL`] of `clock`.
    pub fn stderr(clock: SharedClock) -> LineProgress {
        LineProgress::new(clock, LINE_INTERVAL, Box::new(std::io::stderr()))
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
        let now = self.clock.now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.phase = crate::escape::visible_capped(message, 80);
        s.total = total;
        s.done = 0;
        s.started = now;
        s.line(now);
    }

    fn advance(&self, n: u64) {
        let now = self.clock.now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.done = s.done.saturating_add(n);
        if s.done >= s.total || clock::since(now, s.last) >= self.interval {
            s.line(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::VirtualClock;

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
}
