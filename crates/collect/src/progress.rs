//! Progress reporting for long jobs, kept apart from how it is shown.

/// Receives progress from a long job; the CLI draws it as bars on stderr.
pub trait Progress: Send + Sync {
    /// Starts a new phase, with its item count when known.
    fn start_phase(&self, name: &str, total: Option<u64>);
    /// Adds `count` finished items to the current phase.
    fn advance(&self, count: u64);
    /// Marks the current phase finished.
    fn finish_phase(&self);
}

/// Progress that goes nowhere, for tests and quiet runs.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start_phase(&self, _name: &str, _total: Option<u64>) {}
    fn advance(&self, _count: u64) {}
    fn finish_phase(&self) {}
}
