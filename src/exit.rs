//! Process exit codes, as Terraform's `-detailed-exitcode` users expect them. Precedence when several apply:
//! [`ExitCode::Error`] over [`ExitCode::Changes`] over [`ExitCode::Success`].

/// What the process exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// 0: success (and, for `plan --detailed-exitcode` and `drift`, nothing to change).
    Success = 0,
    /// 2: success with changes pending (`plan --detailed-exitcode`, `drift`).
    Changes = 2,
    /// 1: an error: bad input, a failed, stale, missing or non-converged user.
    Error = 1,
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

    #[test]
    fn precedence_is_error_then_changes_then_success() {
        assert_eq!(Success.combine(Changes), Changes);
        assert_eq!(Changes.combine(Error), Error);
        assert_eq!(Error.combine(Changes), Error);
        assert_eq!(Success.combine(Success).code(), 0);
        assert_eq!(Changes.code(), 2);
        assert_eq!(Error.code(), 1);
    }
}
