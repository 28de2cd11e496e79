//! After apply: is a re-read user converged, still lagging, or is something wrong? Compares the plan that was
//! applied with a re-plan of the re-read user (same desired state), so it uses exactly the engine's own rules.

use super::model::{Op, Target, UserPlan};

/// How a re-read user compares with what apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Convergence {
    /// The re-plan is empty.
    Converged,
    /// Graph still shows the values from before apply for these targets (read-after-write lag): re-read later.
    NotYetVisible(Vec<Target>),
    /// The stored number has the digits authctl sent but canonicalises differently: a bug in authctl's number
    /// handling (never retried; report it).
    NormalisedDifferently {
        /// The phone type.
        target: Target,
        /// What authctl sent.
        sent: String,
        /// What Graph now holds (canonicalised).
        stored: String,
    },
    /// Something else changed (another writer, or a write Graph did not keep): these targets differ.
    Diverged(Vec<Target>),
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Classifies a re-plan of a re-read user against the plan that was applied to it.
pub fn convergence(applied: &UserPlan, replanned: &UserPlan) -> Convergence {
    if replanned.actions.is_empty() {
        return Convergence::Converged;
    }
    let mut lagging = Vec::new();
    let mut diverged = Vec::new();
    for r in &replanned.actions {
        let planned = applied.actions.iter().find(|a| a.same_subject(r));
        if let (Some(p), Some(sent), Some(stored)) =
            (planned, planned.and_then(|p| p.after.as_ref()), &r.before)
            && r.target().phone_type().is_some()
            && matches!(p.op(), Op::Create | Op::Update)
            && digits(sent) == digits(stored)
        {
            return Convergence::NormalisedDifferently {
                target: r.target(),
                sent: sent.clone(),
                stored: stored.clone(),
            };
        }
        let still_old = match planned {
            Some(p) => p.op() == r.op() && p.before == r.before,
            None => false,
        };
        if still_old {
            lagging.push(r.target());
        } else {
            diverged.push(r.target());
        }
    }
    if diverged.is_empty() {
        Convergence::NotYetVisible(lagging)
    } else {
        Convergence::Diverged(diverged)
    }
}
