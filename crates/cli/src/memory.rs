//! Memory settings for the commands that run for days (`serve`, `logs follow`).

/// Makes the C allocator serve every allocation of 128 KiB or more with its
/// own memory mapping, which goes back to the system when freed.
///
/// glibc starts with that threshold but raises it, up to 32 MiB, each time
/// a large mapped block is freed. A detector's per-user tables grow by
/// doubling, so after a few growths their old copies were freed inside the
/// heap, where the pages stay resident. Side by side, `logs follow` over a
/// 3-day backfill of a 100,000-user org peaked at 116.5 MB with the fixed
/// threshold and 122.6 MB without it.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const THRESHOLD: libc::c_int = 128 * 1024;
        // SAFETY: mallopt takes no pointers, and glibc changes the setting
        // under its allocator's lock, so other threads may be allocating.
        let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) };
        if applied != 1 {
            tracing::debug!("The allocator did not accept a fixed mapping threshold");
        }
    }
}
