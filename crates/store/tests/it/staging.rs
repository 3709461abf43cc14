use idaudit_store::{ChangeQuery, DirectorySnapshot, Membership, Store, UserRow};

use crate::temp_store;

fn user(id: &str, status: &str) -> UserRow {
    UserRow {
        id: id.to_string(),
        status: status.to_string(),
        login: format!("{id}@example.com"),
        raw: format!("{{\"id\":\"{id}\",\"status\":\"{status}\"}}"),
        ..UserRow::default()
    }
}

fn membership(group_id: &str, user_id: &str) -> Membership {
    Membership {
        group_id: group_id.to_string(),
        user_id: user_id.to_string(),
    }
}

/// Stages `users` and `memberships` for `org` and commits them.
fn stage(
    store: &mut Store,
    org: &str,
    users: &[UserRow],
    memberships: &[Membership],
    time: Option<&str>,
) -> u64 {
    let mut staging = store.stage_directory(org).unwrap();
    // Two writes per kind, as pages arrive.
    let (first, rest) = users.split_at(users.len() / 2);
    staging.users(first).unwrap();
    staging.users(rest).unwrap();
    staging.memberships(memberships).unwrap();
    staging
        .commit(false, time, &[("sync.test.last_full", "done")])
        .unwrap()
}

#[test]
fn staged_sync_replaces_and_records_changes() {
    let (_folder, mut store) = temp_store();
    let other = DirectorySnapshot {
        users: vec![user("u9", "ACTIVE")],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("b.okta.com", &other).unwrap();

    let users = [user("u1", "ACTIVE"), user("u2", "ACTIVE")];
    let baseline = stage(
        &mut store,
        "a.okta.com",
        &users,
        &[membership("g1", "u1")],
        None,
    );
    assert_eq!(baseline, 0);
    assert_eq!(store.directory_counts("a.okta.com").unwrap().users, 2);

    let users = [user("u1", "ACTIVE"), user("u2", "SUSPENDED")];
    let time = "2026-12-05T00:00:00.000Z";
    let changes = stage(
        &mut store,
        "a.okta.com",
        &users,
        &[membership("g1", "u2")],
        Some(time),
    );
    assert_eq!(changes, 3);

    let recorded = store.changes(&ChangeQuery::default()).unwrap();
    let summary: Vec<(&str, &str, &str)> = recorded
        .iter()
        .map(|change| {
            (
                change.draft.kind.as_str(),
                change.draft.action.as_str(),
                change.draft.subject_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("membership", "removed", "u1"),
            ("membership", "added", "u2"),
            ("user_status", "changed", "u2"),
        ]
    );
    assert!(recorded.iter().all(|change| change.time == time));
    assert!(recorded.iter().all(|change| change.source == "sync"));
    assert!(recorded.iter().all(|change| change.event_uuid.is_none()));
    assert_eq!(recorded[1].draft.old_value, None);
    assert_eq!(recorded[2].draft.old_value.as_deref(), Some("ACTIVE"));
    assert_eq!(recorded[2].draft.new_value.as_deref(), Some("SUSPENDED"));

    let stored: Vec<(String, String)> = store
        .users("a.okta.com")
        .unwrap()
        .into_iter()
        .map(|user| (user.id, user.status))
        .collect();
    assert_eq!(
        stored,
        [
            ("u1".to_string(), "ACTIVE".to_string()),
            ("u2".to_string(), "SUSPENDED".to_string()),
        ]
    );
    assert_eq!(
        store.memberships("a.okta.com").unwrap(),
        [membership("g1", "u2")]
    );
    assert_eq!(store.users("b.okta.com").unwrap().len(), 1);
    assert_eq!(
        store.state("sync.test.last_full").unwrap().as_deref(),
        Some("done")
    );
}

#[test]
fn unchanged_staged_sync_records_nothing() {
    let (_folder, mut store) = temp_store();
    let users = [user("u1", "ACTIVE"), user("u2", "STAGED")];
    let members = [membership("g1", "u1"), membership("g2", "u1")];
    stage(&mut store, "a.okta.com", &users, &members, None);
    let changes = stage(
        &mut store,
        "a.okta.com",
        &users,
        &members,
        Some("2026-12-05T00:00:00.000Z"),
    );
    assert_eq!(changes, 0);
    assert_eq!(store.directory_counts("a.okta.com").unwrap().memberships, 2);
}

#[test]
fn dropped_staging_leaves_directory() {
    let (_folder, mut store) = temp_store();
    stage(&mut store, "a.okta.com", &[user("u1", "ACTIVE")], &[], None);
    {
        let mut staging = store.stage_directory("a.okta.com").unwrap();
        staging.users(&[user("u2", "ACTIVE")]).unwrap();
    }
    let ids: Vec<String> = store
        .users("a.okta.com")
        .unwrap()
        .into_iter()
        .map(|user| user.id)
        .collect();
    assert_eq!(ids, ["u1"]);
    // A new staging starts empty.
    stage(&mut store, "a.okta.com", &[user("u3", "ACTIVE")], &[], None);
    assert_eq!(store.directory_counts("a.okta.com").unwrap().users, 1);
}
