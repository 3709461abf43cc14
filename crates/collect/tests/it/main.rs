//! Collection tests: file import into a real SQLite store, and sync, log
//! pull and log polling against the simulator over loopback.

mod archive;
mod follow;
mod import;
mod logs;
mod sim;
mod sync;
mod truth;
mod workflows;

use idaudit_store::Store;

/// Opens a store in a new temporary folder; the folder lives as long as the guard.
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(folder.path().join("idaudit.db")).unwrap();
    (folder, store)
}
