use std::collections::BTreeSet;

use idaudit_store::{
    AppUserRow, Attribution, ChangeDraft, ChangeQuery, DirectorySnapshot, DirectoryUpdate, History,
    Membership, Store, UserRow,
};

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

fn app_user(app_id: &str, user_id: &str, scope: &str) -> AppUserRow {
    AppUserRow {
        app_id: app_id.to_string(),
        user_id: user_id.to_string(),
        scope: scope.to_string(),
        raw: format!("{{\"id\":\"{user_id}\",\"scope\":\"{scope}\"}}"),
        ..AppUserRow::default()
    }
}

/// Returns the stored `(app, user, scope)` assignments of `apps`.
fn assignments(store: &Store, org: &str, apps: &[&str]) -> BTreeSet<(String, String, String)> {
    apps.iter()
        .flat_map(|app_id| store.app_users(org, app_id).unwrap())
        .map(|row| (row.app_id, row.user_id, row.scope))
        .collect()
}

fn triple(app_id: &str, user_id: &str, scope: &str) -> (String, String, String) {
    (app_id.to_string(), user_id.to_string(), scope.to_string())
}

#[test]
fn staged_update_replaces_only_staged_owners() {
    let (_folder, mut store) = temp_store();
    let org = "a.okta.com";
    let users: Vec<UserRow> = ["u1", "u2", "u3", "u4"]
        .iter()
        .map(|id| user(id, "ACTIVE"))
        .collect();
    let baseline = DirectorySnapshot {
        users: users.clone(),
        memberships: vec![
            membership("g1", "u1"),
            membership("g1", "u2"),
            membership("g2", "u3"),
        ],
        app_users: vec![
            app_user("a1", "u1", "USER"),
            app_user("a1", "u2", "USER"),
            app_user("a2", "u3", "USER"),
            app_user("a3", "u4", "USER"),
        ],
        ..DirectorySnapshot::default()
    };
    store.replace_directory(org, &baseline).unwrap();

    let mut staging = store.stage_directory_update(org).unwrap();
    // The assignments of `a1` arrive in two pages: `u1` is gone, `u2`
    // changed scope and `u3` is new.
    staging
        .app_users("a1", &[app_user("a1", "u2", "GROUP")])
        .unwrap();
    staging
        .app_users("a1", &[app_user("a1", "u3", "USER")])
        .unwrap();
    staging.app_groups("a1", &[]).unwrap();
    // `a3` was deleted while it was read: its stored rows stay.
    staging.app_users("a3", &[]).unwrap();
    staging.discard_app("a3").unwrap();
    // `g1` loses `u2` and gains `u4`. `g2` is not read again.
    let members = ["u1".to_string(), "u4".to_string()];
    staging
        .group_members_and_owners("g1", &members, &[])
        .unwrap();

    let update = DirectoryUpdate {
        users: vec![user("u1", "SUSPENDED")],
        ..DirectoryUpdate::default()
    };
    let sync_time = "2026-12-05T01:00:00.000Z";
    // Membership changes are explained by an event, the rest only by the sync.
    let attribute = |draft: &ChangeDraft| match draft.kind.as_str() {
        "membership" => Attribution {
            time: "2026-12-05T00:59:00.000Z".to_string(),
            event_uuid: Some(format!("event-{}", draft.subject_id)),
        },
        _ => Attribution {
            time: sync_time.to_string(),
            event_uuid: None,
        },
    };
    let recorded = staging
        .apply(
            &update,
            History::Record(&attribute),
            &[("cursor", sync_time)],
        )
        .unwrap();

    assert_eq!(
        assignments(&store, org, &["a1", "a2", "a3"]),
        BTreeSet::from([
            triple("a1", "u2", "GROUP"),
            triple("a1", "u3", "USER"),
            triple("a2", "u3", "USER"),
            triple("a3", "u4", "USER"),
        ])
    );
    let stored_members: BTreeSet<Membership> =
        store.memberships(org).unwrap().into_iter().collect();
    assert_eq!(
        stored_members,
        BTreeSet::from([
            membership("g1", "u1"),
            membership("g1", "u4"),
            membership("g2", "u3"),
        ])
    );
    assert_eq!(store.state("cursor").unwrap().as_deref(), Some(sync_time));

    let changes = store.changes(&ChangeQuery::default()).unwrap();
    assert_eq!(recorded as usize, changes.len());
    let summary: BTreeSet<(&str, &str, &str, &str, &str)> = changes
        .iter()
        .map(|change| {
            (
                change.draft.kind.as_str(),
                change.draft.action.as_str(),
                change.draft.subject_id.as_str(),
                change.draft.object_id.as_str(),
                change.source.as_str(),
            )
        })
        .collect();
    assert_eq!(summary.len(), changes.len(), "each change is recorded once");
    assert_eq!(
        summary,
        BTreeSet::from([
            ("app_assignment", "removed", "u1", "a1", "sync"),
            ("app_assignment", "changed", "u2", "a1", "sync"),
            ("app_assignment", "added", "u3", "a1", "sync"),
            ("membership", "removed", "u2", "g1", "event"),
            ("membership", "added", "u4", "g1", "event"),
            ("user_status", "changed", "u1", "", "sync"),
        ])
    );
    let added = changes
        .iter()
        .find(|change| change.draft.kind == "membership" && change.draft.action == "added")
        .unwrap();
    assert_eq!(added.event_uuid.as_deref(), Some("event-u4"));
    assert_eq!(added.time, "2026-12-05T00:59:00.000Z");
}

#[test]
fn dropped_update_staging_leaves_directory() {
    let (_folder, mut store) = temp_store();
    let org = "a.okta.com";
    let baseline = DirectorySnapshot {
        users: vec![user("u1", "ACTIVE")],
        app_users: vec![app_user("a1", "u1", "USER")],
        ..DirectorySnapshot::default()
    };
    store.replace_directory(org, &baseline).unwrap();
    {
        let mut staging = store.stage_directory_update(org).unwrap();
        staging.app_users("a1", &[]).unwrap();
        staging.app_groups("a1", &[]).unwrap();
    }
    assert_eq!(
        assignments(&store, org, &["a1"]),
        BTreeSet::from([triple("a1", "u1", "USER")])
    );
}
