//! Full sync: read every object of the org and replace the stored copy.
//!
//! Members, owners and roles are read per group, assignments per app,
//! roles per user that `/api/v1/iam/assignees/users` lists, and factors per
//! user who can have them: Okta has no bulk listing of any of these. An
//! object deleted while the sync runs returns 404 on its sub-listing; it is
//! skipped with a warning and counted.
//!
//! Rows go to the store's staging tables as each page arrives, and one
//! transaction at the end swaps them in and records the changes (see
//! [`idaudit_store::DirectoryStaging`]). So the rows never need to fit in
//! memory. What grows with the org is the lists of ids that drive the
//! per-object reads.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use idaudit_okta::Client;
use idaudit_okta::models::User;
use idaudit_store::{DirectoryStaging, Membership, Store};

use super::read::{self, WithinPhase, for_each_fetched, skip_if_vanished};
use super::{SyncError, SyncSummary, last_full_key, last_sync_key};
use crate::Progress;

/// The staging of the directory, shared by the reads that run at once. Each
/// read locks it only to write rows, never across an `await`.
type Staging<'a> = Mutex<DirectoryStaging<'a>>;

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
    let staging = Mutex::new(store.stage_directory(org)?);
    let outcome = read_directory(client, &staging, progress).await?;
    let staging = staging.into_inner().unwrap_or_else(PoisonError::into_inner);

    let time = idaudit_store::format_time(started);
    let (sync_key, full_key) = (last_sync_key(org), last_full_key(org));
    let state = [
        (sync_key.as_str(), time.as_str()),
        (full_key.as_str(), time.as_str()),
    ];
    let history_time = (!baseline).then_some(time.as_str());
    progress.start_phase("Saving the directory", None);
    let changes = staging.commit(!outcome.read_roles, history_time, &state)?;
    progress.finish_phase();

    Ok(SyncSummary {
        kind: "full".to_string(),
        changes,
        vanished: outcome.vanished,
        ..SyncSummary::default()
    })
}

/// Facts [`read_directory`] returns beside the rows it staged.
struct ReadOutcome {
    /// Whether admin roles were read; without `okta.roles.read` they are not.
    read_roles: bool,
    /// Objects that disappeared while they were read.
    vanished: u64,
}

/// Reads the whole directory into `staging`, page by page, so that memory
/// does not grow with the org.
///
/// Okta counts each rate-limit bucket separately, so work on different
/// buckets runs at once. The listings run first, then three chains of
/// per-object reads: group members, owners and roles on the groups bucket,
/// app assignments on the apps bucket, and user roles and factors on the
/// users bucket. The sync then takes about as long as its busiest bucket
/// needs.
async fn read_directory(
    client: &Client,
    staging: &Staging<'_>,
    progress: &dyn Progress,
) -> Result<ReadOutcome, SyncError> {
    progress.start_phase("Users, groups and apps", None);
    let within = WithinPhase(progress);
    let (admins, factor_users, group_ids, app_ids, rules) = tokio::join!(
        read_admins(client),
        stage_users(client, &within, staging),
        stage_groups(client, &within, staging),
        stage_apps(client, &within, staging),
        read::read_group_rules(client, &within),
    );
    progress.finish_phase();
    let admins = admins?;
    let (factor_users, group_ids, app_ids) = (factor_users?, group_ids?, app_ids?);
    lock(staging).group_rules(&rules?)?;

    let read_roles = admins.is_some();
    let admins = admins.unwrap_or_default();
    let objects = group_ids.len() + app_ids.len() + admins.len() + factor_users.len();
    progress.start_phase(
        "Members, assignments, roles and factors",
        Some(objects as u64),
    );
    let (groups_vanished, apps_vanished, users_vanished) = tokio::join!(
        stage_group_details(client, &within, staging, group_ids, read_roles),
        stage_app_details(client, &within, staging, app_ids),
        stage_user_details(client, &within, staging, admins, factor_users),
    );
    progress.finish_phase();

    Ok(ReadOutcome {
        read_roles,
        vanished: groups_vanished? + apps_vanished? + users_vanished?,
    })
}

fn lock<'s, 'a>(staging: &'s Staging<'a>) -> std::sync::MutexGuard<'s, DirectoryStaging<'a>> {
    staging.lock().unwrap_or_else(PoisonError::into_inner)
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

/// Stages every user, page by page; returns the ids of the users whose
/// factors are worth reading.
///
/// Okta omits DEPROVISIONED users from an unfiltered `/api/v1/users`, so the
/// listing is read twice: once plain and once with
/// `filter=status eq "DEPROVISIONED"`. A user deactivated between the two
/// appears in both, and the later row replaces the earlier one.
async fn stage_users(
    client: &Client,
    progress: &dyn Progress,
    staging: &Staging<'_>,
) -> Result<Vec<String>, SyncError> {
    let mut factor_users = Vec::new();
    let mut listed = 0;
    let paths = [
        "/api/v1/users?limit=200",
        "/api/v1/users?limit=200&filter=status%20eq%20%22DEPROVISIONED%22",
    ];
    for path in paths {
        read::read_pages::<User>(client, path, |page| {
            progress.advance(page.len() as u64);
            listed += page.len();
            let rows: Vec<_> = page
                .into_iter()
                .map(|(user, value)| read::user_row((user, value.to_string())))
                .collect();
            factor_users.extend(
                rows.iter()
                    .filter(|user| read::may_have_factors(&user.status))
                    .map(|user| user.id.clone()),
            );
            Ok(lock(staging).users(&rows)?)
        })
        .await?;
    }
    if listed == 0 {
        // Okta returns 200 with an empty list when the app has scopes but no admin role.
        tracing::warn!(
            "Okta listed no users: the service app may lack an admin role; assign it one that can read users, such as Read-only Administrator"
        );
    }
    factor_users.sort();
    factor_users.dedup();
    Ok(factor_users)
}

/// Stages every group; returns their ids.
async fn stage_groups(
    client: &Client,
    progress: &dyn Progress,
    staging: &Staging<'_>,
) -> Result<Vec<String>, SyncError> {
    let groups = read::read_groups(client, progress, None).await?;
    lock(staging).groups(&groups)?;
    Ok(groups.into_iter().map(|group| group.id).collect())
}

/// Stages every app; returns their ids.
async fn stage_apps(
    client: &Client,
    progress: &dyn Progress,
    staging: &Staging<'_>,
) -> Result<Vec<String>, SyncError> {
    let apps = read::read_apps(client, progress).await?;
    lock(staging).apps(&apps)?;
    Ok(apps.into_iter().map(|app| app.id).collect())
}

/// Reads and stages the members, owners and, `with_roles`, the roles of
/// each group; returns the count of groups that vanished meanwhile.
async fn stage_group_details(
    client: &Client,
    progress: &dyn Progress,
    staging: &Staging<'_>,
    group_ids: Vec<String>,
    with_roles: bool,
) -> Result<u64, SyncError> {
    let mut vanished = 0;
    let fetch = |group_id: String| async move {
        let members = read::read_members(client, &group_id).await?;
        let owners = read::read_owners(client, &group_id).await?;
        let roles = if with_roles {
            read::read_roles(client, "GROUP", &group_id).await?
        } else {
            Vec::new()
        };
        Ok((members, owners, roles))
    };
    for_each_fetched(progress, group_ids, fetch, |group_id, result| {
        let Some((members, owners, roles)) = skip_if_vanished(result, "group", &group_id)? else {
            vanished += 1;
            return Ok(());
        };
        let memberships: Vec<Membership> = members
            .into_iter()
            .map(|user_id| Membership {
                group_id: group_id.clone(),
                user_id,
            })
            .collect();
        let mut staging = lock(staging);
        staging.memberships(&memberships)?;
        staging.group_owners(&owners)?;
        staging.role_assignments(&roles)?;
        Ok(())
    })
    .await?;
    Ok(vanished)
}

/// Reads and stages the user and group assignments of each app; returns the
/// count of apps that vanished meanwhile.
///
/// An app's user assignments are staged page by page, because an app
/// assigned to everyone lists every user of the org.
async fn stage_app_details(
    client: &Client,
    progress: &dyn Progress,
    staging: &Staging<'_>,
    app_ids: Vec<String>,
) -> Result<u64, SyncError> {
    let mut vanished = 0;
    let fetch = |app_id: String| async move {
        read::read_app_user_pages(client, &app_id, |rows| Ok(lock(staging).app_users(&rows)?))
            .await?;
        read::read_app_groups(client, &app_id).await
    };
    for_each_fetched(progress, app_ids, fetch, |app_id, result| {
        match skip_if_vanished(result, "app", &app_id)? {
            Some(groups) => lock(staging).app_groups(&groups)?,
            None => {
                vanished += 1;
                lock(staging).discard_app_details(&app_id)?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(vanished)
}

/// Reads and stages the roles of each of `admins` and the factors of each
/// of `factor_users`; returns the count of users that vanished meanwhile.
async fn stage_user_details(
    client: &Client,
    progress: &dyn Progress,
    staging: &Staging<'_>,
    admins: Vec<String>,
    factor_users: Vec<String>,
) -> Result<u64, SyncError> {
    let mut vanished = 0;
    let fetch_roles =
        |user_id: String| async move { read::read_roles(client, "USER", &user_id).await };
    for_each_fetched(progress, admins, fetch_roles, |user_id, result| {
        match skip_if_vanished(result, "user", &user_id)? {
            Some(roles) => lock(staging).role_assignments(&roles)?,
            None => vanished += 1,
        }
        Ok(())
    })
    .await?;

    let fetch_factors = |user_id: String| async move { read::read_factors(client, &user_id).await };
    for_each_fetched(progress, factor_users, fetch_factors, |user_id, result| {
        match skip_if_vanished(result, "user", &user_id)? {
            Some(factors) => lock(staging).factors(&factors)?,
            None => vanished += 1,
        }
        Ok(())
    })
    .await?;
    Ok(vanished)
}
