use idaudit_store::migrations::latest_version;
use idaudit_store::{DirectorySnapshot, Membership, Store, UserRow};

use crate::temp_store;

#[test]
fn store_uses_wal_mode() {
    let (_folder, store) = temp_store();
    assert_eq!(store.journal_mode().unwrap(), "wal");
}

#[test]
fn migrations_reach_latest_version() {
    let (_folder, store) = temp_store();
    assert_eq!(store.schema_version().unwrap(), latest_version());
}

#[test]
fn reopening_keeps_data() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("idaudit.db");
    {
        let store = Store::open(&path).unwrap();
        store.set_state("cursor", "abc").unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.state("cursor").unwrap().as_deref(), Some("abc"));
    assert_eq!(store.schema_version().unwrap(), latest_version());
}

#[test]
fn newer_schema_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("idaudit.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.pragma_update(None, "user_version", 999).unwrap();
    }
    let error = Store::open(&path)
        .err()
        .expect("a newer schema must be rejected");
    assert!(error.to_string().contains("newer idaudit"), "{error}");
}

/// A new store file opened by several processes at once (`serve` and a CLI
/// command started together) is created once. No opener reads a half-made
/// schema or creates it again.
#[test]
fn concurrent_first_opens_all_succeed() {
    for _ in 0..20 {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("idaudit.db");
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        Store::open(&path).map(|store| store.schema_version().unwrap())
                    })
                })
                .collect();
            for opener in openers {
                let version = opener.join().unwrap().expect("every opener succeeds");
                assert_eq!(version, latest_version());
            }
        });
    }
}

fn user(id: &str, status: &str) -> UserRow {
    UserRow {
        id: id.to_string(),
        status: status.to_string(),
        login: format!("{id}@example.com"),
        raw: "{}".to_string(),
        ..UserRow::default()
    }
}

#[test]
fn directory_replaced_per_org() {
    let (_folder, mut store) = temp_store();
    let first = DirectorySnapshot {
        users: vec![user("u1", "ACTIVE"), user("u2", "DEPROVISIONED")],
        memberships: vec![Membership {
            group_id: "g1".to_string(),
            user_id: "u1".to_string(),
        }],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("a.okta.com", &first).unwrap();
    store.replace_directory("b.okta.com", &first).unwrap();

    let second = DirectorySnapshot {
        users: vec![user("u3", "ACTIVE")],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("a.okta.com", &second).unwrap();

    let users_a: Vec<String> = store
        .users("a.okta.com")
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(users_a, vec!["u3"]);
    assert_eq!(store.directory_counts("a.okta.com").unwrap().memberships, 0);
    assert_eq!(store.directory_counts("b.okta.com").unwrap().users, 2);
    assert_eq!(store.orgs().unwrap(), vec!["a.okta.com", "b.okta.com"]);
}
