//! End-to-end tests of the `idaudit` pipeline: the public fixtures through
//! import and detection, the binary's exit status and output, and the demo
//! on the simulator.

mod audit;
mod cli;
mod demo;
mod directory;
mod fixtures;
mod follow;
mod review;
mod secrets;
mod workflows;

use std::path::PathBuf;

use idaudit_store::Store;

/// Returns the folder of public Okta System Log fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-fixtures/okta")
}

pub fn temp_store() -> (tempfile::TempDir, Store) {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(folder.path().join("idaudit.db")).unwrap();
    (folder, store)
}
