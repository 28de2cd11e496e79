//! Per-task call tracing: a caller that must account for every HTTP exchange it causes (the apply journal records
//! each call's status and Graph's `request-id`, also on success, where the typed calls return no headers) wraps its
//! calls in [`traced`]; [`Graph::execute`](super::Graph) records every attempt of the wrapped future. Outside
//! [`traced`] recording is a no-op, so other callers pay nothing.

use std::cell::RefCell;
use std::future::Future;

use jiff::Timestamp;

/// One HTTP exchange with Graph (one attempt; retries are separate records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// When the answer (or the failure) arrived, on the client's clock.
    pub time: Timestamp,
    /// HTTP method.
    pub method: String,
    /// The URL path (no query: it may hold UPNs of other users in a `$filter`).
    pub path: String,
    /// The HTTP status, `None` when no answer arrived.
    pub status: Option<u16>,
    /// Graph's `request-id` header.
    pub request_id: Option<String>,
    /// The `client-request-id` authctl sent.
    pub client_request_id: String,
}

tokio::task_local! {
    static TRACE: RefCell<Vec<CallRecord>>;
}

/// Runs `f`, returning its output and every HTTP exchange it made through a [`Graph`](super::Graph).
pub async fn traced<F: Future>(f: F) -> (F::Output, Vec<CallRecord>) {
    TRACE
        .scope(RefCell::new(Vec::new()), async move {
            let out = f.await;
            let records = TRACE.with(|t| std::mem::take(&mut *t.borrow_mut()));
            (out, records)
        })
        .await
}

/// Records an exchange when inside [`traced`].
pub(crate) fn record(r: impl FnOnce() -> CallRecord) {
    let _ = TRACE.try_with(|t| t.borrow_mut().push(r()));
}
