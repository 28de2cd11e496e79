//! Process exit codes, as Terraform's `-detailed-exitcode` users expect them, decided in one place: [`decide`]
//! maps what a run found ([`Outcome`]) under the flags that matter ([`Policy`]) to the code. `plan`, `drift` and
//! `apply` all call it, so their precedence is the same by construction:
//!
//! | what the run found                                                        | exit |
//! |---------------------------------------------------------------------------|------|
//! | an error (bad manifest, user error, run error, failing guard; for `apply`: a user failed, skipped, not attempted or not converged) | 1 |
//! | blocked items or pending user actions, with `--fail-on-blocked`          | 1    |
//! | changes apply would make (`plan --detailed-exitcode`; `drift` always)     | 2    |
//! | nothing of the above (blocked and pending items are reported, not failed) | 0    |

/// What the process exits with. Deliberately not `Ord`: the numbers (0, 2, 1) do not sort by precedence; use
/// [`ExitCode::combine`] or [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: success (and, for `plan --detailed-exitcode` and `drift`, nothing to change).
    Success = 0,
    /// 2: success with changes pending (`plan --detailed-exitcode`, `drift`).
    Changes = 2,
    /// 1: an error: bad input, a failed, stale, missing or non-converged user.
    Error = 1,
}

/// What a run found, as far as its exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Anything that is an error for this command (see the table in the module doc).
    pub errors: bool,
    /// Changes that apply would make (`plan`: planned calls; `drift`: differences apply would fix).
    pub changes: bool,
    /// Blocked items or pending user actions.
    pub blocked: bool,
}

/// The flags that change the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Exit 2 for changes (`plan --detailed-exitcode`; `drift` always sets it; `apply` never).
    pub detailed: bool,
    /// `--fail-on-blocked`: blocked items and pending user actions exit 1.
    pub fail_on_blocked: bool,
}

/// The exit code of a run: the one policy every command follows (the table in the module doc).
pub fn decide(outcome: Outcome, policy: Policy) -> ExitCode {
    if outcome.errors || (policy.fail_on_blocked && outcome.blocked) {
        ExitCode::Error
    } else if policy.detailed && outcome.changes {
        ExitCode::Changes
    } else {
        ExitCode::Success
    }
}

impl ExitCode {
    /// The numeric code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Combines two outcomes by precedence (1 > 2 > 0).
    pub fn combine(self, other: ExitCode) -> ExitCode {
        fn rank(e: ExitCode) -> u8 {
            match e {
                ExitCode::Success => 0,
                ExitCode::Changes => 1,
                ExitCode::Error => 2,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode::*;
    use super::{Outcome, Policy, decide};

    #[test]
    fn precedence_is_error_then_changes_then_success() {
        assert_eq!(Success.combine(Changes), Changes);
        assert_eq!(Changes.combine(Error), Error);
        assert_eq!(Error.combine(Changes), Error);
        assert_eq!(Success.combine(Success).code(), 0);
        assert_eq!(Changes.code(), 2);
        assert_eq!(Error.code(), 1);
    }

    #[test]
    fn decide_follows_the_table_for_every_combination() {
        for errors in [false, true] {
            for changes in [false, true] {
                for blocked in [false, true] {
                    for detailed in [false, true] {
                        for fail_on_blocked in [false, true] {
                            let o = Outcome {
                                errors,
                                changes,
                                blocked,
                            };
                            let p = Policy {
                                detailed,
                                fail_on_blocked,
                            };
                            let want = if errors || (blocked && fail_on_blocked) {
                                Error
                            } else if changes && detailed {
                                Changes
                            } else {
                                Success
                            };
                            assert_eq!(decide(o, p), want, "{o:?} {p:?}");
                            // The same as combining the parts by precedence.
                            let mut c = Success;
                            if changes && detailed {
                                c = c.combine(Changes);
                            }
                            if errors || (blocked && fail_on_blocked) {
                                c = c.combine(Error);
                            }
                            assert_eq!(c, want);
                        }
                    }
                }
            }
        }
    }
}
