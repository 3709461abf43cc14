//! Shared helpers of the benchmark binaries in `src/bin/`.

pub mod follow;
