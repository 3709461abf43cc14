//! Full directory sync: users, groups, memberships, apps and assignments.
//!
//! Okta omits DEPROVISIONED users from an unfiltered `/api/v1/users`, so the
//! listing is read twice: once plain and once with
//! `filter=status eq "DEPROVISIONED"`. Members and assignments are read per
//! group and per app, a few at a time. A group or app deleted while the sync
//! runs returns 404; it is skipped with a warning and counted.

use std::time::Instant;

use futures::stream::{self, StreamExt};
use idaudit_okta::models::{self, AppGroup, AppUser, Application, Group, User};
use idaudit_okta::{Client, Error as OktaError};
use idaudit_store::{
    AppGroupRow, AppRow, AppUserRow, DirectorySnapshot, GroupRow, Membership, Store, UserRow,
};
use serde::Serialize;
use serde_json::Value;

use crate::Progress;

/// Requests for members and assignments in flight at once.
const CONCURRENCY: usize = 4;

/// Counts and timings of one sync.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncSummary {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    pub apps: u64,
    pub app_users: u64,
    pub app_groups: u64,
    /// Groups or apps that disappeared while the sync ran.
    pub vanished: u64,
    pub requests: u64,
    pub rate_limited: u64,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Okta(#[from] OktaError),
    #[error("failed to write the directory to the store")]
    Store(#[from] idaudit_store::Error),
    #[error("Okta returned an object that could not be read: {0}")]
    Model(String),
}

/// Reads the whole directory of the org behind `client` and replaces the
/// stored copy of `org` with it.
pub async fn full_sync(
    client: &Client,
    store: &mut Store,
    org: &str,
    progress: &dyn Progress,
) -> Result<SyncSummary, SyncError> {
    let started = Instant::now();
    let started_at = idaudit_store::format_time(chrono::Utc::now());
    let mut snapshot = DirectorySnapshot::default();
    let mut vanished = 0;

    snapshot.users = read_users(client, progress).await?;
    let groups =
        read_listing::<Group>(client, progress, "Groups", "/api/v1/groups?limit=200").await?;
    let (memberships, gone) = read_memberships(client, progress, &groups).await?;
    snapshot.memberships = memberships;
    vanished += gone;
    snapshot.groups = groups.into_iter().map(group_row).collect();

    let apps =
        read_listing::<Application>(client, progress, "Apps", "/api/v1/apps?limit=200").await?;
    let (app_users, app_groups, gone) = read_assignments(client, progress, &apps).await?;
    snapshot.app_users = app_users;
    snapshot.app_groups = app_groups;
    vanished += gone;
    snapshot.apps = apps.into_iter().map(app_row).collect();

    store.replace_directory(org, &snapshot)?;
    let stats = client.stats();
    let summary = SyncSummary {
        users: snapshot.users.len() as u64,
        groups: snapshot.groups.len() as u64,
        memberships: snapshot.memberships.len() as u64,
        apps: snapshot.apps.len() as u64,
        app_users: snapshot.app_users.len() as u64,
        app_groups: snapshot.app_groups.len() as u64,
        vanished,
        requests: stats.requests,
        rate_limited: stats.rate_limited,
        seconds: started.elapsed().as_secs_f64(),
    };
    let finished_at = idaudit_store::format_time(chrono::Utc::now());
    let summary_json = serde_json::to_value(&summary).unwrap_or(Value::Null);
    store.record_sync_run(org, "full", &started_at, &finished_at, &summary_json)?;
    Ok(summary)
}

async fn read_users(client: &Client, progress: &dyn Progress) -> Result<Vec<UserRow>, SyncError> {
    let mut users =
        read_listing::<User>(client, progress, "Users", "/api/v1/users?limit=200").await?;
    if users.is_empty() {
        // Okta returns 200 with an empty list when the app has scopes but no admin role.
        tracing::warn!(
            "Okta listed no users: the service app may lack an admin role; assign it one that can read users, such as Read-only Administrator"
        );
    }
    let deprovisioned = read_listing::<User>(
        client,
        progress,
        "Deprovisioned users",
        "/api/v1/users?limit=200&filter=status%20eq%20%22DEPROVISIONED%22",
    )
    .await?;
    users.extend(deprovisioned);
    // The two listings can overlap if a user is deactivated between them.
    users.sort_by(|left, right| left.0.id.cmp(&right.0.id));
    users.dedup_by(|left, right| left.0.id == right.0.id);
    Ok(users.into_iter().map(user_row).collect())
}

/// Reads every page of a listing, keeping each model with its raw JSON.
async fn read_listing<T: serde::de::DeserializeOwned>(
    client: &Client,
    progress: &dyn Progress,
    phase: &str,
    path: &str,
) -> Result<Vec<(T, String)>, SyncError> {
    progress.start_phase(phase, None);
    let mut items = Vec::new();
    let mut failure = None;
    client
        .for_each_page(path, |page| {
            progress.advance(page.items.len() as u64);
            for value in page.items {
                match models::from_value::<T>(&value) {
                    Ok(model) => items.push((model, value.to_string())),
                    Err(error) => failure = Some(format!("{phase} in {}: {error}", page.url)),
                }
            }
            Ok(())
        })
        .await?;
    progress.finish_phase();
    match failure {
        Some(message) => Err(SyncError::Model(message)),
        None => Ok(items),
    }
}

async fn read_memberships(
    client: &Client,
    progress: &dyn Progress,
    groups: &[(Group, String)],
) -> Result<(Vec<Membership>, u64), SyncError> {
    progress.start_phase("Group members", Some(groups.len() as u64));
    let results: Vec<_> = stream::iter(groups.iter().map(|(group, _)| async move {
        let path = format!("/api/v1/groups/{}/users?limit=1000", group.id);
        let members = client.list_all(&path).await;
        progress.advance(1);
        (group.id.clone(), members)
    }))
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await;
    progress.finish_phase();

    let mut memberships = Vec::new();
    let mut vanished = 0;
    for (group_id, members) in results {
        match skip_if_vanished(members, "group", &group_id)? {
            Some(members) => memberships.extend(members.iter().filter_map(|member| {
                Some(Membership {
                    group_id: group_id.clone(),
                    user_id: member.get("id")?.as_str()?.to_string(),
                })
            })),
            None => vanished += 1,
        }
    }
    memberships.sort();
    Ok((memberships, vanished))
}

type Assignments = (Vec<AppUserRow>, Vec<AppGroupRow>, u64);

async fn read_assignments(
    client: &Client,
    progress: &dyn Progress,
    apps: &[(Application, String)],
) -> Result<Assignments, SyncError> {
    progress.start_phase("App assignments", Some(apps.len() as u64));
    let results: Vec<_> = stream::iter(apps.iter().map(|(app, _)| async move {
        let users = client
            .list_all(&format!("/api/v1/apps/{}/users?limit=500", app.id))
            .await;
        let groups = client
            .list_all(&format!("/api/v1/apps/{}/groups?limit=200", app.id))
            .await;
        progress.advance(1);
        (app.id.clone(), users, groups)
    }))
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await;
    progress.finish_phase();

    let (mut app_users, mut app_groups, mut vanished) = (Vec::new(), Vec::new(), 0);
    for (app_id, users, groups) in results {
        let users = skip_if_vanished(users, "app", &app_id)?;
        let groups = skip_if_vanished(groups, "app", &app_id)?;
        let (Some(users), Some(groups)) = (users, groups) else {
            vanished += 1;
            continue;
        };
        for value in users {
            let row: AppUser = models::from_value(&value)
                .map_err(|error| SyncError::Model(format!("app user of `{app_id}`: {error}")))?;
            app_users.push(app_user_row(&app_id, row, value));
        }
        for value in groups {
            let row: AppGroup = models::from_value(&value)
                .map_err(|error| SyncError::Model(format!("app group of `{app_id}`: {error}")))?;
            app_groups.push(AppGroupRow {
                app_id: app_id.clone(),
                group_id: row.id,
                priority: row.priority,
                raw: value.to_string(),
            });
        }
    }
    Ok((app_users, app_groups, vanished))
}

/// Turns a 404 on an object's sub-listing into `None` with a warning.
fn skip_if_vanished(
    result: Result<Vec<Value>, OktaError>,
    kind: &str,
    id: &str,
) -> Result<Option<Vec<Value>>, SyncError> {
    match result {
        Ok(values) => Ok(Some(values)),
        Err(error) if error.status().is_some_and(|status| status == 404) => {
            tracing::warn!(kind, id, "Skipped a {kind} deleted during the sync");
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

fn user_row((user, raw): (User, String)) -> UserRow {
    let profile = user.profile;
    UserRow {
        id: user.id,
        status: user.status,
        login: profile.login,
        email: profile.email,
        first_name: profile.first_name,
        last_name: profile.last_name,
        display_name: profile.display_name,
        manager_id: profile.manager_id,
        department: profile.department,
        title: profile.title,
        created: user.created,
        last_login: user.last_login,
        last_updated: user.last_updated,
        status_changed: user.status_changed,
        raw,
    }
}

fn group_row((group, raw): (Group, String)) -> GroupRow {
    GroupRow {
        id: group.id,
        group_type: group.group_type,
        name: group.profile.name,
        description: group.profile.description,
        last_updated: group.last_updated,
        last_membership_updated: group.last_membership_updated,
        raw,
    }
}

fn app_row((app, raw): (Application, String)) -> AppRow {
    AppRow {
        id: app.id,
        name: app.name,
        label: app.label,
        status: app.status,
        sign_on_mode: app.sign_on_mode,
        raw,
    }
}

fn app_user_row(app_id: &str, row: AppUser, value: Value) -> AppUserRow {
    AppUserRow {
        app_id: app_id.to_string(),
        user_name: row.user_name(),
        user_id: row.id,
        scope: row.scope,
        status: row.status,
        created: row.created,
        raw: value.to_string(),
    }
}
