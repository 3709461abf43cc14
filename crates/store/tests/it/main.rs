//! Store tests against a real SQLite file.

mod alerts;
mod archive;
mod events;
mod schema;
mod staging;

use idaudit_store::Store;

/// Opens a store in a new temporary folder; the folder lives as long as the guard.
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(folder.path().join("idaudit.db")).unwrap();
    (folder, store)
}
