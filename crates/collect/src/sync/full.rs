//! Full sync: read every object of the org and replace the stored copy.
//!
//! Members, owners and roles are read per group, assignments per app,
//! roles per user that `/api/v1/iam/assignees/users` lists, and factors per
//! user who can have them. An object deleted while the sync runs returns 404
//! on its sub-listing; it is skipped with a warning and counted.

use chrono::{DateTime, Utc};
use idaudit_okta::Client;
use idaudit_store::{
    Attribution, DirectorySnapshot, GroupRow, History, Membership, Store, UserRow,
};

use super::read::{self, fetch_each, skip_if_vanished};
use super::{SyncError, SyncSummary, last_full_key, last_sync_key};
use crate::Progress;

/// Runs a full sync. On the `baseline` (first) sync of an org there is no
/// earlier copy to compare with, so no changes are recorded.
pub(super) async fn run(
    client: &Client,
    store: &mut Store,
    org: &str,
    started: DateTime<Utc>,
    baseline: bool,
    progress: &dyn Progress,
) -> Result<SyncSummary, SyncError> {
    let (snapshot, vanished) = read_snapshot(client, progress).await?;

    let time = idaudit_store::format_time(started);
    let attribute = |_: &idaudit_store::ChangeDraft| Attribution {
        time: time.clone(),
        event_uuid: None,
    };
    let history = if baseline {
        History::Off
    } else {
        History::Record(&attribute)
    };
    let (sync_key, full_key) = (last_sync_key(org), last_full_key(org));
    let state = [
        (sync_key.as_str(), time.as_str()),
        (full_key.as_str(), time.as_str()),
    ];
    let changes = store.replace_directory_with_history(org, &snapshot, history, &state)?;

    Ok(SyncSummary {
        kind: "full".to_string(),
        changes: changes.len() as u64,
        vanished,
        ..SyncSummary::default()
    })
}

/// Reads the whole directory; returns it with the count of objects that
/// disappeared while it was read.
async fn read_snapshot(
    client: &Client,
    progress: &dyn Progress,
) -> Result<(DirectorySnapshot, u64), SyncError> {
    // Roles need `okta.roles.read`, which older configs do not request; the
    // rest of the directory is still worth syncing without them.
    let admins = match read::read_role_assignees(client).await {
        Ok(admins) => Some(admins),
        Err(error) if read::is_missing_scope(&error) => {
            read::warn_roles_skipped();
            None
        }
        Err(error) => return Err(error),
    };
    let mut snapshot = DirectorySnapshot {
        users: read::read_users(client, progress, None).await?,
        keep_role_assignments: admins.is_none(),
        ..DirectorySnapshot::default()
    };
    let groups = read::read_groups(client, progress, None).await?;
    let with_roles = admins.is_some();
    let mut vanished =
        read_group_details(client, progress, &groups, with_roles, &mut snapshot).await?;
    snapshot.groups = groups;

    snapshot.apps = read::read_apps(client, progress).await?;
    let app_ids = snapshot.apps.iter().map(|app| app.id.clone()).collect();
    let assignments = fetch_each(progress, "App assignments", app_ids, |app_id| async move {
        let users = read::read_app_users(client, &app_id).await?;
        let groups = read::read_app_groups(client, &app_id).await?;
        Ok((users, groups))
    })
    .await;
    for (app_id, result) in assignments {
        match skip_if_vanished(result, "app", &app_id)? {
            Some((users, groups)) => {
                snapshot.app_users.extend(users);
                snapshot.app_groups.extend(groups);
            }
            None => vanished += 1,
        }
    }

    snapshot.group_rules = read::read_group_rules(client, progress).await?;
    vanished += read_user_details(client, progress, admins, &mut snapshot).await?;
    Ok((snapshot, vanished))
}

/// Reads the members, owners and roles of each group into `snapshot`.
async fn read_group_details(
    client: &Client,
    progress: &dyn Progress,
    groups: &[GroupRow],
    with_roles: bool,
    snapshot: &mut DirectorySnapshot,
) -> Result<u64, SyncError> {
    let group_ids = groups.iter().map(|group| group.id.clone()).collect();
    let details = fetch_each(
        progress,
        "Group members",
        group_ids,
        |group_id| async move {
            let members = read::read_members(client, &group_id).await?;
            let owners = read::read_owners(client, &group_id).await?;
            let roles = if with_roles {
                read::read_roles(client, "GROUP", &group_id).await?
            } else {
                Vec::new()
            };
            Ok((members, owners, roles))
        },
    )
    .await;

    let mut vanished = 0;
    for (group_id, result) in details {
        let Some((members, owners, roles)) = skip_if_vanished(result, "group", &group_id)? else {
            vanished += 1;
            continue;
        };
        snapshot
            .memberships
            .extend(members.into_iter().map(|user_id| Membership {
                group_id: group_id.clone(),
                user_id,
            }));
        snapshot.group_owners.extend(owners);
        snapshot.role_assignments.extend(roles);
    }
    snapshot.memberships.sort();
    Ok(vanished)
}

/// Reads the roles of each of `admins` and the factors of each user who can
/// have them into `snapshot`.
async fn read_user_details(
    client: &Client,
    progress: &dyn Progress,
    admins: Option<Vec<String>>,
    snapshot: &mut DirectorySnapshot,
) -> Result<u64, SyncError> {
    let mut vanished = 0;
    let admins = admins.unwrap_or_default();
    let roles = fetch_each(progress, "Admin roles", admins, |user_id| async move {
        read::read_roles(client, "USER", &user_id).await
    })
    .await;
    for (user_id, result) in roles {
        match skip_if_vanished(result, "user", &user_id)? {
            Some(roles) => snapshot.role_assignments.extend(roles),
            None => vanished += 1,
        }
    }

    let factor_users = users_with_factors(&snapshot.users);
    let factors = fetch_each(progress, "Factors", factor_users, |user_id| async move {
        read::read_factors(client, &user_id).await
    })
    .await;
    for (user_id, result) in factors {
        match skip_if_vanished(result, "user", &user_id)? {
            Some(factors) => snapshot.factors.extend(factors),
            None => vanished += 1,
        }
    }
    Ok(vanished)
}

fn users_with_factors(users: &[UserRow]) -> Vec<String> {
    users
        .iter()
        .filter(|user| read::may_have_factors(&user.status))
        .map(|user| user.id.clone())
        .collect()
}
