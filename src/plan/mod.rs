//! The pure plan engine: desired (manifests) × observed (Graph) → a [`Plan`] of ordered per-user actions, blocked
//! items, predicted state and digests; and the saved-plan file format. No HTTP, files or terminals.
//!
//! The flow a caller follows (`plan`, `apply`, `drift` commands):
//!
//! 1. Build an [`ObservedSet`]: for each desired user (keyed by the user as written), [`Observed::Found`] with the
//!    [`crate::model::ObservedUser`], [`Observed::Missing`], or [`Observed::Error`].
//! 2. [`plan()`] with [`PlanSettings`] (time, salt, and the [`Policy`] resolved from the command line, supplied by the
//!    caller).
//! 3. If [`Plan::users_needing_lockout_check`] is not empty, read those users' full method lists, add them with
//!    [`ObservedSet::set_methods`], and plan again (until then their destructive actions are blocked).
//! 4. Render (`crate::render`), save ([`Plan::to_file_json`]), or apply: per user, re-read and call
//!    [`UserPlan::freshness`]; run `actions[resume_at..]` in order; for an action with
//!    [`Action::after_reread`], re-read the mobile and act on [`sms_decision`]. Report into [`ApplyReport`].
//!
//! 5. After apply, re-read each touched user, plan it again, and classify with [`convergence()`] (converged / not
//!    yet visible / normalised differently / diverged).
//!
//! [`simulate`] models Graph applying actions (for property tests and as the reference the executor's behaviour is
//! checked against).

mod action;
mod change;
mod convergence;
mod engine;
mod lockout;
pub mod methods_policy;
mod model;
mod policy_model;
mod redact;
mod report;
mod state;

pub use action::{registration_detail, registration_label};
pub use change::{Change, Conflict};
pub use convergence::{Convergence, convergence};
pub use engine::{Observed, ObservedSet, PlanSettings, Policy, plan};
pub use lockout::check as lockout_check;
pub use methods_policy::{PolicyPlan, SmsPolicyView};
pub use model::{
    Action, BlockCode, Blocked, Call, DEFAULT_MAX_DELETES, DeleteGuard, DesiredState, EmailWant,
    FORMAT_VERSION, GraphErrorSummary, Guards, LockoutCheck, Op, Pending, Plan, PlanFileError,
    RunError, Summary, Target, UserError, UserPlan, UserState,
};
pub use redact::{Mask, RedactScope, Redaction, is_masked};
pub use report::{
    ActionOutcome, ActionReport, ApplyCounts, ApplyReport, DriftDifference, DriftReport,
    DriftStatus, DriftUser, UserOutcome, UserReport,
};
pub use state::{
    Freshness, MaskedNumber, Registration, SimulateError, SmsDecision, SmsView, canonical_observed,
    managed_digest, simulate, sms_decision, step,
};
