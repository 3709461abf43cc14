//! The served org behind a lock that counts changes.
//!
//! Tests change the org while the server runs. Every change goes through
//! [`SharedOrg::write`], whose guard advances a generation number before it unlocks,
//! so the server's caches can tell in one comparison that nothing changed since they
//! were filled, instead of checking every cached object against the org.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LockResult, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::generate::Org;

/// An org shared between the server and the code that drives it.
#[derive(Debug)]
pub struct SharedOrg {
    org: RwLock<Org>,
    generation: AtomicU64,
}

impl SharedOrg {
    pub fn new(org: Org) -> SharedOrg {
        SharedOrg {
            org: RwLock::new(org),
            generation: AtomicU64::new(0),
        }
    }

    /// Locks the org for reading, as [`RwLock::read`] does.
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, Org>> {
        self.org.read()
    }

    /// Locks the org for a change, as [`RwLock::write`] does. The generation advances
    /// when the guard is dropped, before the lock is released.
    pub fn write(&self) -> LockResult<OrgWriteGuard<'_>> {
        match self.org.write() {
            Ok(guard) => Ok(self.guard(guard)),
            Err(poisoned) => Err(PoisonError::new(self.guard(poisoned.into_inner()))),
        }
    }

    /// Returns the number of write locks released so far. Read it while holding a read
    /// lock to know which state of the org that lock shows.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn guard<'a>(&'a self, guard: RwLockWriteGuard<'a, Org>) -> OrgWriteGuard<'a> {
        OrgWriteGuard {
            guard,
            generation: &self.generation,
        }
    }
}

/// A write lock on a [`SharedOrg`]; dereferences to the [`Org`].
pub struct OrgWriteGuard<'a> {
    guard: RwLockWriteGuard<'a, Org>,
    generation: &'a AtomicU64,
}

impl Deref for OrgWriteGuard<'_> {
    type Target = Org;

    fn deref(&self) -> &Org {
        &self.guard
    }
}

impl DerefMut for OrgWriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut Org {
        &mut self.guard
    }
}

impl Drop for OrgWriteGuard<'_> {
    fn drop(&mut self) {
        // Runs before the field `guard` is dropped, so the lock is still held.
        self.generation.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_advances_once_per_write_lock() {
        let spec = crate::OrgSpec {
            users: 10,
            groups: 3,
            apps: 2,
            log_days: 1,
            ..crate::OrgSpec::default()
        };
        let shared = SharedOrg::new(crate::generate(&spec));
        assert_eq!(shared.generation(), 0);
        drop(shared.read().unwrap());
        assert_eq!(shared.generation(), 0);
        {
            let mut org = shared.write().unwrap();
            org.users.clear();
            assert_eq!(shared.generation(), 0);
        }
        assert_eq!(shared.generation(), 1);
    }
}
