//! The exit status of `idaudit`.

/// Exit status of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything worked.
    Success,
    /// The command finished, but some input was rejected (for example
    /// records in `logs import`); details were printed on stderr.
    Partial,
    /// The command failed.
    Failure,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Partial => 1,
            ExitStatus::Failure => 2,
        }
    }
}
