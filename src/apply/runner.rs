//! What one apply run shares: its options ([`ApplyOptions`]) and the [`Runner`] that every step of the run (the
//! executor's actions, the re-reads, the convergence checks) goes through, journaling each Graph exchange. A leaf of
//! `apply`: the executor, `reread` and `converge` each add their steps to the runner without importing each other.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::graph::Graph;
use crate::graph::trace::traced;
use crate::observe::Progress;
use crate::plan::Redaction;

use super::journal::{Journal, JournalSubject};

/// How apply runs.
#[derive(Clone)]
pub struct ApplyOptions {
    /// Users applied at the same time (`--parallelism`, default 8).
    pub parallelism: usize,
    /// How long to re-read and re-plan applied users until they converge (`--converge-timeout`, default 60 s).
    /// Zero checks once without waiting.
    pub converge_timeout: Duration,
    /// `--journal FILE`: one line per Graph call.
    pub journal: Option<Arc<Journal>>,
    /// Progress display: one step per user applied, then one per user checked for convergence.
    pub progress: Option<Arc<dyn Progress>>,
    /// `None`: the plan's own `--max-deletes` guard is enforced (a plan made in this process). `Some(n)`: the
    /// apply side's `--max-deletes`, already enforced by the caller on the actions that remain after the re-read
    /// (`crate::apply::verify`); the limit written in a plan file is information only.
    pub max_deletes: Option<usize>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 8,
            converge_timeout: Duration::from_secs(60),
            journal: None,
            progress: None,
            max_deletes: None,
        }
    }
}

impl std::fmt::Debug for ApplyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("parallelism", &self.parallelism)
            .field("converge_timeout", &self.converge_timeout)
            .field(
                "journal",
                &self.journal.as_ref().map(|j| j.path().to_path_buf()),
            )
            .finish_non_exhaustive()
    }
}

/// The shared state of one apply run.
pub(crate) struct Runner<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) options: &'a ApplyOptions,
    /// The plan's redaction (to recognise masked `before` values in a loaded plan).
    pub(crate) redaction: Option<&'a Redaction>,
    /// Set when the journal can't be written: no new user starts.
    pub(crate) stop: AtomicBool,
}

impl Runner<'_> {
    /// Runs `fut` (Graph calls) and journals every HTTP exchange it made.
    pub(crate) async fn journaled<T>(
        &self,
        user: Option<&str>,
        users: Option<usize>,
        op: &str,
        target: Option<&str>,
        fut: impl Future<Output = T>,
    ) -> T {
        let Some(journal) = &self.options.journal else {
            return fut.await;
        };
        let subject = JournalSubject {
            user,
            users,
            op,
            target,
        };
        // The intent is on disk before the first request goes out, so a kill in flight leaves it unanswered.
        if let Err(e) = journal.intent(subject, self.graph.clock().now()) {
            tracing::error!(journal = %journal.path().display(), error = %e, "cannot write the journal; no further user is started");
            self.stop.store(true, Ordering::SeqCst);
        }
        let (out, records) = traced(fut).await;
        if let Err(e) = journal.write(subject, &records) {
            tracing::error!(journal = %journal.path().display(), error = %e, "cannot write the journal; no further user is started");
            self.stop.store(true, Ordering::SeqCst);
        }
        out
    }
}
