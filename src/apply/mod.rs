//! The executor: applies a plan through the Graph client — per-user freshness, users in parallel with each user's
//! actions in order, idempotency, convergence, and the apply report and journal.

pub mod converge;
pub mod executor;
pub mod journal;
pub mod policy;
pub mod progress;
pub mod reread;
pub mod runner;
pub mod verify;

pub use executor::{apply, apply_user};
pub use journal::{Journal, JournalEntry, JournalPhase};
pub use runner::ApplyOptions;
pub use verify::{Verdict, verify};
