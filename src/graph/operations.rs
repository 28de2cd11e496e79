//! Following a long-running operation (the `Location` a password reset answers with) to its end: poll the URL
//! exactly as Graph gave it, wait Graph's `Retry-After` or else a doubling backoff, until the operation is
//! `succeeded` or `failed`, or the caller's timeout passes. Every wait goes through the client's clock, so tests run
//! the loop on a `VirtualClock` without sleeping.

use std::time::Duration;

use url::Url;

use crate::clock;
use crate::graph::client::Graph;
use crate::graph::error::GraphError;
use crate::graph::types::Operation;

/// The shortest wait between polls.
const MIN_WAIT: Duration = Duration::from_millis(200);

/// How long and how often to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSettings {
    /// Give up this long after the first poll was due (the operation may still complete).
    pub timeout: Duration,
    /// The first backoff when Graph sends no `Retry-After` (doubled after each poll).
    pub initial_backoff: Duration,
    /// The longest backoff (and the longest `Retry-After` honoured as given).
    pub max_backoff: Duration,
}

impl Default for PollSettings {
    fn default() -> PollSettings {
        PollSettings {
            timeout: Duration::from_secs(300),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// How following an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// The operation reached `succeeded` or `failed`.
    Finished(Operation),
    /// The timeout passed first; the operation may still complete. `last` is the last status read.
    TimedOut {
        /// The last answer, if any poll was answered.
        last: Option<Operation>,
        /// How long was waited (on the client's clock).
        waited: Duration,
    },
}

/// Polls `location` until the operation is terminal or `settings.timeout` passes. `first_wait` is the
/// `Retry-After` of the answer that gave the `Location` (waited before the first poll). `on_poll` sees every answer
/// (for progress output). A `Location` off the configured Graph host is refused before anything is sent.
pub async fn follow_operation(
    graph: &Graph,
    location: &Url,
    first_wait: Option<Duration>,
    settings: &PollSettings,
    on_poll: &mut (dyn FnMut(&Operation) + Send),
) -> Result<PollOutcome, GraphError> {
    graph.check_target(location)?;
    let clock = graph.clock();
    let start = clock.now();
    let deadline = clock::add(start, settings.timeout);
    let mut backoff = settings.initial_backoff.max(MIN_WAIT);
    let mut wait = first_wait;
    loop {
        if let Some(w) = wait {
            let remaining = clock::since(deadline, clock.now());
            clock.sleep(w.min(remaining)).await;
        }
        let (op, retry_after) = graph.get_operation(location).await?;
        tracing::debug!(status = %op.status, "operation polled");
        on_poll(&op);
        if op.is_terminal() {
            return Ok(PollOutcome::Finished(op));
        }
        let now = clock.now();
        if now >= deadline {
            return Ok(PollOutcome::TimedOut {
                last: Some(op),
                waited: clock::since(now, start),
            });
        }
        wait = Some(match retry_after {
            // A `Retry-After: 0` on a running operation would make the loop spin; wait a little at least.
            Some(r) => r.clamp(MIN_WAIT, settings.max_backoff.max(MIN_WAIT)),
            None => {
                let w = backoff;
                backoff = (backoff * 2).min(settings.max_backoff);
                w
            }
        });
    }
}
