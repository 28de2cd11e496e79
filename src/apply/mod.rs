//! The executor: applies a plan through the Graph client — per-user freshness, users in parallel with each user's
//! actions in order, idempotency, convergence, and the apply report and journal.

pub mod observe;
