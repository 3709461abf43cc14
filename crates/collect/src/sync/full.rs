//! Full sync: read every object of the org and replace the stored copy.
//!
//! Members, owners and roles are read per group, assignments per app,
//! roles per user that `/api/v1/iam/assignees/users` lists, and factors per
//! user who can have them: Okta has no bulk listing of any of these. An object deleted while the sync runs returns 404
//! on its sub-listing; it is skipped with a warning and counted.

use chrono::{DateTime, Utc};
use idaudit_okta::Client;
use idaudit_store::{
    AppRow, Attribution, DirectorySnapshot, GroupRow, History, Membership, Store, UserRow,
};

use super::read::{self, WithinPhase, fetch_all, skip_if_vanished};
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
///
/// Okta counts each rate-limit bucket separately, so work on different
/// buckets runs at once. The listings run first, then three chains of
/// per-object reads: group members, owners and roles on the groups bucket,
/// app assignments on the apps bucket, and user roles and factors on the
/// users bucket. The sync then takes about as long as its busiest bucket
/// needs.
///
/// TODO: the snapshot keeps every row, raw JSON included, in memory until
/// the store writes it in one transaction, so peak memory grows with the
/// org: about 1.6 GiB per million app assignments in `sync_bench`. Bounding
/// it needs a store write that takes rows as they arrive and still compares
/// the entitlements before and after in one transaction.
async fn read_snapshot(
    client: &Client,
    progress: &dyn Progress,
) -> Result<(DirectorySnapshot, u64), SyncError> {
    progress.start_phase("Users, groups and apps", None);
    let within = WithinPhase(progress);
    let (admins, users, groups, apps, group_rules) = tokio::join!(
        read_admins(client),
        read::read_users(client, &within, None),
        read::read_groups(client, &within, None),
        read::read_apps(client, &within),
        read::read_group_rules(client, &within),
    );
    progress.finish_phase();
    let admins = admins?;
    let mut snapshot = DirectorySnapshot {
        users: users?,
        groups: groups?,
        apps: apps?,
        group_rules: group_rules?,
        keep_role_assignments: admins.is_none(),
        ..DirectorySnapshot::default()
    };

    let with_roles = admins.is_some();
    let admins = admins.unwrap_or_default();
    let factor_users = users_with_factors(&snapshot.users);
    let objects = snapshot.groups.len() + snapshot.apps.len() + admins.len() + factor_users.len();
    progress.start_phase(
        "Members, assignments, roles and factors",
        Some(objects as u64),
    );
    let (group_details, app_details, user_details) = tokio::join!(
        read_group_details(client, &within, &snapshot.groups, with_roles),
        read_app_details(client, &within, &snapshot.apps),
        read_user_details(client, &within, admins, factor_users),
    );
    progress.finish_phase();

    let mut vanished = 0;
    vanished += group_details?.merge_into(&mut snapshot);
    vanished += app_details?.merge_into(&mut snapshot);
    vanished += user_details?.merge_into(&mut snapshot);
    snapshot.memberships.sort();
    Ok((snapshot, vanished))
}

/// Reads the ids of the users with an admin role, or `None` when the token
/// lacks `okta.roles.read`: older configs do not request it, and the rest
/// of the directory is still worth syncing without roles.
async fn read_admins(client: &Client) -> Result<Option<Vec<String>>, SyncError> {
    match read::read_role_assignees(client).await {
        Ok(admins) => Ok(Some(admins)),
        Err(error) if read::is_missing_scope(&error) => {
            read::warn_roles_skipped();
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Rows read per object, to be added to the snapshot.
#[derive(Default)]
struct Details {
    snapshot: DirectorySnapshot,
    vanished: u64,
}

impl Details {
    /// Moves the rows into `snapshot`; returns the count of vanished objects.
    fn merge_into(self, snapshot: &mut DirectorySnapshot) -> u64 {
        let mut rows = self.snapshot;
        snapshot.memberships.append(&mut rows.memberships);
        snapshot.group_owners.append(&mut rows.group_owners);
        snapshot.role_assignments.append(&mut rows.role_assignments);
        snapshot.app_users.append(&mut rows.app_users);
        snapshot.app_groups.append(&mut rows.app_groups);
        snapshot.factors.append(&mut rows.factors);
        self.vanished
    }
}

/// Reads the members, owners and, `with_roles`, the roles of each group.
async fn read_group_details(
    client: &Client,
    progress: &dyn Progress,
    groups: &[GroupRow],
    with_roles: bool,
) -> Result<Details, SyncError> {
    let group_ids = groups.iter().map(|group| group.id.clone()).collect();
    let results = fetch_all(progress, group_ids, |group_id| async move {
        let members = read::read_members(client, &group_id).await?;
        let owners = read::read_owners(client, &group_id).await?;
        let roles = if with_roles {
            read::read_roles(client, "GROUP", &group_id).await?
        } else {
            Vec::new()
        };
        Ok((members, owners, roles))
    })
    .await;

    let mut details = Details::default();
    for (group_id, result) in results {
        let Some((members, owners, roles)) = skip_if_vanished(result, "group", &group_id)? else {
            details.vanished += 1;
            continue;
        };
        let rows = &mut details.snapshot;
        rows.memberships
            .extend(members.into_iter().map(|user_id| Membership {
                group_id: group_id.clone(),
                user_id,
            }));
        rows.group_owners.extend(owners);
        rows.role_assignments.extend(roles);
    }
    Ok(details)
}

/// Reads the user and group assignments of each app.
async fn read_app_details(
    client: &Client,
    progress: &dyn Progress,
    apps: &[AppRow],
) -> Result<Details, SyncError> {
    let app_ids = apps.iter().map(|app| app.id.clone()).collect();
    let results = fetch_all(progress, app_ids, |app_id| async move {
        let users = read::read_app_users(client, &app_id).await?;
        let groups = read::read_app_groups(client, &app_id).await?;
        Ok((users, groups))
    })
    .await;

    let mut details = Details::default();
    for (app_id, result) in results {
        match skip_if_vanished(result, "app", &app_id)? {
            Some((users, groups)) => {
                details.snapshot.app_users.extend(users);
                details.snapshot.app_groups.extend(groups);
            }
            None => details.vanished += 1,
        }
    }
    Ok(details)
}

/// Reads the roles of each of `admins` and the factors of each of
/// `factor_users`.
async fn read_user_details(
    client: &Client,
    progress: &dyn Progress,
    admins: Vec<String>,
    factor_users: Vec<String>,
) -> Result<Details, SyncError> {
    let mut details = Details::default();
    let roles = fetch_all(progress, admins, |user_id| async move {
        read::read_roles(client, "USER", &user_id).await
    })
    .await;
    for (user_id, result) in roles {
        match skip_if_vanished(result, "user", &user_id)? {
            Some(roles) => details.snapshot.role_assignments.extend(roles),
            None => details.vanished += 1,
        }
    }

    let factors = fetch_all(progress, factor_users, |user_id| async move {
        read::read_factors(client, &user_id).await
    })
    .await;
    for (user_id, result) in factors {
        match skip_if_vanished(result, "user", &user_id)? {
            Some(factors) => details.snapshot.factors.extend(factors),
            None => details.vanished += 1,
        }
    }
    Ok(details)
}

fn users_with_factors(users: &[UserRow]) -> Vec<String> {
    users
        .iter()
        .filter(|user| read::may_have_factors(&user.status))
        .map(|user| user.id.clone())
        .collect()
}
