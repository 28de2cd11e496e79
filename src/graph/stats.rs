//! Counters of one client's traffic (`--stats`): requests sent, `$batch` items, retries, 429s, bytes, elapsed.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GraphStats {
    /// HTTP requests sent to Graph (a `$batch` counts once; retries count).
    pub requests: u64,
    /// Items sent inside `$batch` requests (retried items count again).
    pub batch_items: u64,
    /// Retries (of requests and of batch items).
    pub retries: u64,
    /// 429 answers (requests and batch items).
    pub throttled: u64,
    /// Request bytes sent (bodies).
    pub bytes_sent: u64,
    /// Response bytes received (bodies).
    pub bytes_received: u64,
    /// Token requests.
    pub token_fetches: u64,
    /// Time since the client was created, on its clock.
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl fmt::Display for GraphStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "graph: {} requests, {} batch items, {} retries, {} throttled (429), {} bytes sent, {} bytes received, {} tokens, {:.2}s elapsed",
            self.requests,
            self.batch_items,
            self.retries,
            self.throttled,
            self.bytes_sent,
            self.bytes_received,
            self.token_fetches,
            self.elapsed.as_secs_f64()
        )
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub batch_items: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self, token_fetches: u64, elapsed: Duration) -> GraphStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        GraphStats {
            requests: g(&self.requests),
            batch_items: g(&self.batch_items),
            retries: g(&self.retries),
            throttled: g(&self.throttled),
            bytes_sent: g(&self.bytes_sent),
            bytes_received: g(&self.bytes_received),
            token_fetches,
            elapsed,
        }
    }
}
