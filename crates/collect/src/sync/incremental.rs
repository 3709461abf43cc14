//! Incremental sync: read what changed since the last sync.
//!
//! Users and groups are listed with `filter=lastUpdated gt …` from the start
//! of the last sync minus an overlap window; groups also by
//! `lastMembershipUpdated`. Apps and group rules are few and listed whole,
//! which also finds deleted apps. Entitlement events of the System Log since
//! the same time are fetched into the store's `events` table and read back
//! from there, with any that `idaudit logs` or an event hook stored. The
//! objects they name get their members, assignments, roles or factors read
//! again. Objects deleted without an event are left for the periodic full
//! sync to find.
//!
//! The members of the groups and the assignments of the apps read again go
//! to the store's staging tables as they arrive, because one app can be
//! assigned to every user of the org. One transaction at the end applies
//! them with the other changes (see [`idaudit_store::UpdateStaging`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use idaudit_okta::Client;
use idaudit_store::{DirectoryUpdate, GroupRow, History, Store, UpdateStaging, UserRow};

use super::events::{ENTITLEMENT_EVENT_TYPES, EntitlementEvent, attribute};
use super::read::{self, encode_query, fetch_each, for_each_fetched, is_vanished};
use super::{SyncError, SyncSummary, last_sync_key};
use crate::Progress;
use crate::event::to_event_record;

pub(super) async fn run(
    client: &Client,
    store: &mut Store,
    org: &str,
    since: DateTime<Utc>,
    started: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<SyncSummary, SyncError> {
    let since_text = idaudit_store::format_time(since);
    let users_filter = format!("lastUpdated gt \"{since_text}\"");
    let groups_filter =
        format!("lastUpdated gt \"{since_text}\" or lastMembershipUpdated gt \"{since_text}\"");
    let mut update = DirectoryUpdate {
        users: read::read_users(client, progress, Some(&users_filter)).await?,
        groups: read::read_groups(client, progress, Some(&groups_filter)).await?,
        apps: Some(read::read_apps(client, progress).await?),
        group_rules: Some(read::read_group_rules(client, progress).await?),
        ..DirectoryUpdate::default()
    };

    fetch_events(client, store, org, since, started, progress).await?;
    let events: Vec<EntitlementEvent> = store
        .events_of_types(org, &since_text, ENTITLEMENT_EVENT_TYPES)?
        .iter()
        .filter_map(EntitlementEvent::from_stored)
        .collect();

    let mut targets = Targets::plan(store, org, &update, &events)?;
    let refreshed = targets.count();
    targets.read_named(client, progress, &mut update).await?;
    let factor_users = targets.factor_users(store, org, &mut update)?;

    let staging = Mutex::new(store.stage_directory_update(org)?);
    let vanished = targets
        .read(client, &staging, factor_users, progress, &mut update)
        .await?;
    let staging = staging.into_inner().unwrap_or_else(PoisonError::into_inner);

    let sync_time = idaudit_store::format_time(started);
    let attribute_change =
        |draft: &idaudit_store::ChangeDraft| attribute(&events, draft, &sync_time);
    let key = last_sync_key(org);
    let state = [(key.as_str(), sync_time.as_str())];
    let changes = staging.apply(&update, History::Record(&attribute_change), &state)?;

    Ok(SyncSummary {
        kind: "incremental".to_string(),
        reason: format!("changes since {since_text}"),
        refreshed,
        events: events.len() as u64,
        changes,
        vanished,
        ..SyncSummary::default()
    })
}

/// Stores the entitlement events published in `[since, until)`.
async fn fetch_events(
    client: &Client,
    store: &mut Store,
    org: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<(), SyncError> {
    let filter: Vec<String> = ENTITLEMENT_EVENT_TYPES
        .iter()
        .map(|event_type| format!("eventType eq \"{event_type}\""))
        .collect();
    let path = format!(
        "/api/v1/logs?since={}&until={}&limit=1000&sortOrder=ASCENDING&filter={}",
        encode_query(&idaudit_store::format_time(since)),
        encode_query(&idaudit_store::format_time(until)),
        encode_query(&filter.join(" or "))
    );
    progress.start_phase("Entitlement events", None);
    let mut records = Vec::new();
    client
        .for_each_page(&path, |page| {
            progress.advance(page.items.len() as u64);
            for value in page.items {
                match to_event_record(value) {
                    Ok(record) => records.push(record),
                    Err(reason) => {
                        tracing::warn!(url = %page.url, reason, "Skipped an unreadable event")
                    }
                }
            }
            Ok(())
        })
        .await?;
    progress.finish_phase();
    store.insert_events(org, "poll", &records)?;
    Ok(())
}

/// The staging of the update, shared by the reads that run at once. Each
/// read locks it only to write rows, never across an `await`.
type Staging<'a> = Mutex<UpdateStaging<'a>>;

fn lock<'s, 'a>(staging: &'s Staging<'a>) -> MutexGuard<'s, UpdateStaging<'a>> {
    staging.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Returns whether a user keeps the factors enrolled while moving between
/// statuses of this kind: an active, suspended or locked-out user can sign
/// in again with the same factors.
fn keeps_enrollment(status: &str) -> bool {
    matches!(status, "ACTIVE" | "SUSPENDED" | "LOCKED_OUT")
}

/// The objects an incremental sync reads again, by what is read.
#[derive(Debug, Default)]
struct Targets {
    /// Users to read again by id, because an event named them.
    users: BTreeSet<String>,
    /// Groups to read again by id, because an event named them.
    groups: BTreeSet<String>,
    /// Groups whose members and owners are read again.
    group_members: BTreeSet<String>,
    group_roles: BTreeSet<String>,
    user_roles: BTreeSet<String>,
    user_factors: BTreeSet<String>,
    /// Apps whose user and group assignments are read again.
    apps: BTreeSet<String>,
}

impl Targets {
    /// Chooses what to read again from the listed changes and the events.
    fn plan(
        store: &Store,
        org: &str,
        update: &DirectoryUpdate,
        events: &[EntitlementEvent],
    ) -> Result<Targets, SyncError> {
        let mut targets = Targets::default();
        targets.add_changed_users(store, org, &update.users)?;
        targets.add_changed_groups(store, org, &update.groups)?;

        let stored_apps: BTreeSet<String> =
            store.apps(org)?.into_iter().map(|app| app.id).collect();
        for app in update.apps.iter().flatten() {
            if !stored_apps.contains(&app.id) {
                targets.apps.insert(app.id.clone());
            }
        }

        let listed_users: BTreeSet<&str> =
            update.users.iter().map(|user| user.id.as_str()).collect();
        for event in events {
            targets.add_event(store, org, event, &listed_users)?;
        }
        Ok(targets)
    }

    /// Adds the factors of each new user and of each user whose status
    /// changed in a way that can change them, and the apps of each user who
    /// was deactivated or reactivated.
    fn add_changed_users(
        &mut self,
        store: &Store,
        org: &str,
        users: &[UserRow],
    ) -> Result<(), SyncError> {
        for user in users {
            let stored = store.user_status(org, &user.id)?;
            if stored.as_deref() == Some(user.status.as_str()) {
                continue;
            }
            let statuses = [stored.as_deref().unwrap_or("STAGED"), user.status.as_str()];
            if !statuses.iter().all(|status| keeps_enrollment(status)) {
                self.user_factors.insert(user.id.clone());
            }
            if statuses.contains(&"DEPROVISIONED") {
                self.apps.extend(store.apps_reaching_user(org, &user.id)?);
            }
        }
        Ok(())
    }

    /// Adds the members of each new group, and of each group whose
    /// `lastMembershipUpdated` moved, with the apps assigned to it.
    ///
    /// NOTE: owners are read again only with the members. Whether Okta
    /// moves a group's `lastUpdated` when only its owners change is not
    /// documented, so such a change may wait for the next full sync.
    fn add_changed_groups(
        &mut self,
        store: &Store,
        org: &str,
        groups: &[GroupRow],
    ) -> Result<(), SyncError> {
        let stored: BTreeMap<String, Option<String>> = store
            .groups(org)?
            .into_iter()
            .map(|group| (group.id, group.last_membership_updated))
            .collect();
        for group in groups {
            match stored.get(&group.id) {
                None => {
                    self.group_members.insert(group.id.clone());
                    self.group_roles.insert(group.id.clone());
                }
                Some(updated) if *updated != group.last_membership_updated => {
                    self.group_members.insert(group.id.clone());
                    self.apps
                        .extend(store.apps_of_groups(org, std::slice::from_ref(&group.id))?);
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn add_event(
        &mut self,
        store: &Store,
        org: &str,
        event: &EntitlementEvent,
        listed_users: &BTreeSet<&str>,
    ) -> Result<(), SyncError> {
        let kind = event.event_type.as_str();
        if kind.starts_with("group.user_membership.") {
            self.group_members.extend(event.groups.iter().cloned());
            self.apps.extend(store.apps_of_groups(org, &event.groups)?);
        } else if kind.starts_with("application.user_membership.")
            || kind.starts_with("group.application_assignment.")
        {
            self.apps.extend(event.apps.iter().cloned());
        } else if kind.starts_with("user.account.privilege.") {
            self.user_roles.extend(event.users.iter().cloned());
        } else if kind.starts_with("group.privilege.") {
            self.group_roles.extend(event.groups.iter().cloned());
        } else if kind.starts_with("user.mfa.factor.") {
            self.user_factors.extend(event.users.iter().cloned());
        } else if kind.starts_with("user.lifecycle.") {
            // Suspending and unsuspending keep factors and app assignments.
            let keeps_access =
                matches!(kind, "user.lifecycle.suspend" | "user.lifecycle.unsuspend");
            // Only deactivation and reactivation add or remove the apps a
            // user reaches through groups.
            let moves_apps = kind == "user.lifecycle.deactivate"
                || kind == "user.lifecycle.reactivate"
                || kind.starts_with("user.lifecycle.delete");
            for user_id in &event.users {
                if !listed_users.contains(user_id.as_str()) {
                    self.users.insert(user_id.clone());
                }
                if !keeps_access {
                    self.user_factors.insert(user_id.clone());
                }
                if moves_apps {
                    self.apps.extend(store.apps_reaching_user(org, user_id)?);
                }
            }
        } else if kind.starts_with("group.lifecycle.") {
            self.groups.extend(event.groups.iter().cloned());
            self.group_members.extend(event.groups.iter().cloned());
            self.group_roles.extend(event.groups.iter().cloned());
            self.apps.extend(store.apps_of_groups(org, &event.groups)?);
        }
        Ok(())
    }

    fn count(&self) -> u64 {
        [
            &self.users,
            &self.groups,
            &self.group_members,
            &self.group_roles,
            &self.user_roles,
            &self.user_factors,
            &self.apps,
        ]
        .iter()
        .map(|set| set.len() as u64)
        .sum()
    }

    /// Reads the users and groups that events named into `update`, with
    /// those deleted since, and drops the deleted ones from the targets.
    async fn read_named(
        &mut self,
        client: &Client,
        progress: &dyn Progress,
        update: &mut DirectoryUpdate,
    ) -> Result<(), SyncError> {
        let users = std::mem::take(&mut self.users).into_iter().collect();
        for (user_id, result) in fetch_each(progress, "Named users", users, |id| async move {
            read::read_user(client, &id).await
        })
        .await
        {
            match result {
                Ok(user) => update.users.push(user),
                Err(error) if is_vanished(&error) => update.deleted_users.push(user_id),
                Err(error) => return Err(error),
            }
        }
        let groups = std::mem::take(&mut self.groups).into_iter().collect();
        for (group_id, result) in fetch_each(progress, "Named groups", groups, |id| async move {
            read::read_group(client, &id).await
        })
        .await
        {
            match result {
                Ok(group) => update.groups.push(group),
                Err(error) if is_vanished(&error) => update.deleted_groups.push(group_id),
                Err(error) => return Err(error),
            }
        }
        self.forget_deleted(update);
        Ok(())
    }

    /// Drops deleted objects, whose rows the update removes anyway.
    fn forget_deleted(&mut self, update: &DirectoryUpdate) {
        for user_id in &update.deleted_users {
            self.user_roles.remove(user_id);
            self.user_factors.remove(user_id);
        }
        for group_id in &update.deleted_groups {
            self.group_members.remove(group_id);
            self.group_roles.remove(group_id);
        }
        let listed: BTreeSet<&str> = update
            .apps
            .iter()
            .flatten()
            .map(|app| app.id.as_str())
            .collect();
        self.apps.retain(|app_id| listed.contains(app_id.as_str()));
    }

    /// Returns the users whose factors are read again. Users who cannot
    /// have factors lose the stored ones in `update`, without a request.
    fn factor_users(
        &self,
        store: &Store,
        org: &str,
        update: &mut DirectoryUpdate,
    ) -> Result<Vec<String>, SyncError> {
        let mut eligible = Vec::new();
        for user_id in &self.user_factors {
            let listed = update.users.iter().find(|user| &user.id == user_id);
            let status = match listed {
                Some(user) => Some(user.status.clone()),
                None => store.user_status(org, user_id)?,
            };
            match status {
                Some(status) if read::may_have_factors(&status) => eligible.push(user_id.clone()),
                _ => update.user_factors.push((user_id.clone(), Vec::new())),
            }
        }
        Ok(eligible)
    }

    /// Reads the members, assignments, roles and `factor_users`' factors of
    /// the targets: the small lists into `update`, members, owners and app
    /// assignments into `staging`. Returns how many targets had been deleted.
    async fn read(
        &self,
        client: &Client,
        staging: &Staging<'_>,
        factor_users: Vec<String>,
        progress: &dyn Progress,
        update: &mut DirectoryUpdate,
    ) -> Result<u64, SyncError> {
        let mut vanished = 0;
        vanished += self.read_groups(client, staging, progress, update).await?;
        vanished += self
            .read_users(client, factor_users, progress, update)
            .await?;
        vanished += self.read_apps(client, staging, progress, update).await?;
        Ok(vanished)
    }

    async fn read_groups(
        &self,
        client: &Client,
        staging: &Staging<'_>,
        progress: &dyn Progress,
        update: &mut DirectoryUpdate,
    ) -> Result<u64, SyncError> {
        let mut vanished = 0;
        let ids: Vec<String> = self.group_members.iter().cloned().collect();
        let fetch = |id: String| async move {
            let members = read::read_members(client, &id).await?;
            let owners = read::read_owners(client, &id).await?;
            Ok((members, owners))
        };
        progress.start_phase("Group members", Some(ids.len() as u64));
        for_each_fetched(progress, ids, fetch, |group_id, result| {
            match read::skip_if_vanished(result, "group", &group_id)? {
                Some((members, owners)) => {
                    lock(staging).group_members_and_owners(&group_id, &members, &owners)?
                }
                None => {
                    vanished += 1;
                    update.deleted_groups.push(group_id);
                }
            }
            Ok(())
        })
        .await?;
        progress.finish_phase();

        let ids = self.group_roles.iter().cloned().collect();
        let mut roles_skipped = false;
        for (group_id, result) in fetch_each(progress, "Group roles", ids, |id| async move {
            read::read_roles(client, "GROUP", &id).await
        })
        .await
        {
            if result.as_ref().is_err_and(read::is_missing_scope) {
                roles_skipped = true;
                continue;
            }
            match read::skip_if_vanished(result, "group", &group_id)? {
                Some(roles) => update.group_roles.push((group_id, roles)),
                None => {
                    vanished += 1;
                    lock(staging).discard_group(&group_id)?;
                    update.deleted_groups.push(group_id);
                }
            }
        }
        if roles_skipped {
            read::warn_roles_skipped();
        }
        Ok(vanished)
    }

    async fn read_users(
        &self,
        client: &Client,
        factor_users: Vec<String>,
        progress: &dyn Progress,
        update: &mut DirectoryUpdate,
    ) -> Result<u64, SyncError> {
        let mut vanished = 0;
        let ids = self.user_roles.iter().cloned().collect();
        let mut roles_skipped = false;
        for (user_id, result) in fetch_each(progress, "Admin roles", ids, |id| async move {
            read::read_roles(client, "USER", &id).await
        })
        .await
        {
            if result.as_ref().is_err_and(read::is_missing_scope) {
                roles_skipped = true;
                continue;
            }
            match read::skip_if_vanished(result, "user", &user_id)? {
                Some(roles) => update.user_roles.push((user_id, roles)),
                None => vanished += 1,
            }
        }
        if roles_skipped {
            read::warn_roles_skipped();
        }

        for (user_id, result) in fetch_each(progress, "Factors", factor_users, |id| async move {
            read::read_factors(client, &id).await
        })
        .await
        {
            match read::skip_if_vanished(result, "user", &user_id)? {
                Some(factors) => update.user_factors.push((user_id, factors)),
                None => vanished += 1,
            }
        }
        Ok(vanished)
    }

    /// Reads the user and group assignments of each target app into
    /// `staging`, the users page by page.
    async fn read_apps(
        &self,
        client: &Client,
        staging: &Staging<'_>,
        progress: &dyn Progress,
        update: &mut DirectoryUpdate,
    ) -> Result<u64, SyncError> {
        let mut vanished = 0;
        let ids: Vec<String> = self.apps.iter().cloned().collect();
        let fetch = |app_id: String| async move {
            read::read_app_user_pages(client, &app_id, |rows| {
                Ok(lock(staging).app_users(&app_id, &rows)?)
            })
            .await?;
            read::read_app_groups(client, &app_id).await
        };
        progress.start_phase("App assignments", Some(ids.len() as u64));
        for_each_fetched(progress, ids, fetch, |app_id, result| {
            match read::skip_if_vanished(result, "app", &app_id)? {
                Some(groups) => lock(staging).app_groups(&app_id, &groups)?,
                None => {
                    vanished += 1;
                    lock(staging).discard_app(&app_id)?;
                    update.deleted_apps.push(app_id);
                }
            }
            Ok(())
        })
        .await?;
        progress.finish_phase();
        Ok(vanished)
    }
}
