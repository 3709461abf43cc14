use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use idaudit_collect::NoProgress;
use idaudit_collect::sync::{SyncOptions, SyncSummary, full_sync, sync};
use idaudit_okta_sim::{
    Faults, GroupType, LogEvent, Org, RateLimits, RoleAssignment, RunningSim, SimOptions,
    UserStatus,
};
use idaudit_store::{Change, ChangeQuery, Store};
use serde_json::json;

use crate::truth::assert_store_matches;
use crate::{sim, temp_store};

#[tokio::test]
async fn full_sync_matches_simulated_org() {
    let (org, sim, client) = sim::start(400).await;
    let (_folder, mut store) = temp_store();

    let summary = full_sync(&client, &mut store, "sim", &NoProgress)
        .await
        .unwrap();
    sim.shutdown().await;

    assert_store_matches(&store, "sim", &org);
    assert!(
        org.users
            .iter()
            .any(|user| user.status == UserStatus::Deprovisioned)
    );
    assert_eq!(summary.kind, "full");
    assert_eq!(summary.users as usize, org.users.len());
    assert_eq!(summary.groups as usize, org.groups.len());
    assert_eq!(summary.apps as usize, org.apps.len());
    assert_eq!(summary.vanished, 0);
    // The first sync is the baseline: nothing to compare with, so no history.
    assert_eq!(summary.changes, 0);
}

/// The objects a test changes, chosen from the generated org.
struct Picks {
    removed_member: (String, String),
    unassigned: (String, String),
    suspended: String,
    deactivated: String,
    joined: (String, String),
    granted: String,
    deleted_group: String,
    reassigned_app: String,
    unassigned_group: String,
    assigned_group: String,
}

fn active_users(org: &Org) -> Vec<String> {
    org.users
        .iter()
        .filter(|user| user.status == UserStatus::Active)
        .map(|user| user.id.clone())
        .collect()
}

fn pick(org: &Org) -> Picks {
    let okta_groups: Vec<String> = org
        .groups
        .iter()
        .filter(|group| group.group_type == GroupType::OktaGroup)
        .filter(|group| org.memberships.get(&group.id).is_some_and(|m| m.len() > 1))
        .map(|group| group.id.clone())
        .collect();
    let active = active_users(org);
    let is_active = |id: &String| active.contains(id);

    let group = okta_groups[0].clone();
    let member = org.memberships[&group]
        .iter()
        .find(|id| is_active(id))
        .unwrap()
        .clone();
    let (app, direct) = org
        .app_user_assignments
        .iter()
        .find_map(|(app, users)| {
            let user = users
                .iter()
                .find(|user| is_active(user) && **user != member)?;
            Some((app.clone(), user.clone()))
        })
        .unwrap();
    let excluded = [member.clone(), direct.clone()];
    let mut others = active.iter().filter(|id| !excluded.contains(id));
    let suspended = others.next().unwrap().clone();
    let deactivated = others
        .find(|id| {
            org.factors
                .get(*id)
                .is_some_and(|factors| !factors.is_empty())
        })
        .unwrap()
        .clone();
    let joining_group = okta_groups[1].clone();
    let joiner = others
        .find(|id| !org.memberships[&joining_group].contains(id))
        .unwrap()
        .clone();
    let granted = others
        .find(|id| !org.admin_roles.contains_key(*id))
        .unwrap()
        .clone();

    let (reassigned_app, unassigned_group) = org
        .app_group_assignments
        .iter()
        .find_map(|(app, groups)| {
            let group = groups.iter().find(|id| !okta_groups[..2].contains(id))?;
            Some((app.clone(), group.clone()))
        })
        .unwrap();
    let assigned_group = org
        .groups
        .iter()
        .map(|group| group.id.clone())
        .find(|id| {
            !org.app_group_assignments[&reassigned_app].contains(id)
                && !okta_groups[..2].contains(id)
                && *id != unassigned_group
        })
        .unwrap();
    let deleted_group = okta_groups
        .iter()
        .skip(2)
        .find(|id| **id != unassigned_group && **id != assigned_group)
        .unwrap()
        .clone();
    Picks {
        removed_member: (group, member),
        unassigned: (app, direct),
        suspended,
        deactivated,
        joined: (joining_group, joiner),
        granted,
        deleted_group,
        reassigned_app,
        unassigned_group,
        assigned_group,
    }
}

/// Sends a write-back request with the simulator's SSWS token, which passes
/// every `manage` scope check.
async fn write_back(sim: &RunningSim, method: reqwest::Method, path: &str) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url))
        .header("Authorization", format!("SSWS {}", sim.api_token))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// Builds a System Log event as Okta writes it for an admin change.
fn admin_event(event_type: &str, targets: &[(&str, &str)]) -> LogEvent {
    let targets: Vec<_> = targets
        .iter()
        .map(|(kind, id)| json!({"id": id, "type": kind, "alternateId": "unknown", "displayName": id}))
        .collect();
    LogEvent::from_value(&json!({
        "uuid": uuid_like(),
        "published": idaudit_store::format_time(Utc::now()),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": event_type,
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
        "outcome": {"result": "SUCCESS"},
        "target": targets,
    }))
    .unwrap()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "0a1b2c3d-0000-4000-8000-{:012x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Applies the changes that the write-back endpoints cannot make to the
/// live org, each with the event Okta would log, except the join, which
/// only moves the group's `lastMembershipUpdated`.
fn change_org_directly(sim: &RunningSim, picks: &Picks) {
    let live = sim.org();
    let mut org = live.write().unwrap();
    let now = Utc::now();

    let (group, user) = &picks.joined;
    org.memberships.get_mut(group).unwrap().push(user.clone());
    let joined = org.groups.iter_mut().find(|g| g.id == *group).unwrap();
    joined.last_membership_updated = now;

    org.admin_roles
        .entry(picks.granted.clone())
        .or_default()
        .push(RoleAssignment {
            id: "irb1grantedrole0001".to_string(),
            role_type: "USER_ADMIN".to_string(),
            label: "Group Administrator".to_string(),
            created: now,
        });
    let grant = admin_event(
        "user.account.privilege.grant",
        &[("User", picks.granted.as_str())],
    );

    let app = picks.reassigned_app.clone();
    let assigned = org.app_group_assignments.get_mut(&app).unwrap();
    assigned.retain(|id| *id != picks.unassigned_group);
    assigned.push(picks.assigned_group.clone());
    let unassign = admin_event(
        "group.application_assignment.remove",
        &[
            ("AppInstance", &app),
            ("UserGroup", &picks.unassigned_group),
        ],
    );
    let assign = admin_event(
        "group.application_assignment.add",
        &[("AppInstance", &app), ("UserGroup", &picks.assigned_group)],
    );

    let deleted = picks.deleted_group.clone();
    org.groups.retain(|group| group.id != deleted);
    org.memberships.remove(&deleted);
    org.group_roles.remove(&deleted);
    org.group_owners.remove(&deleted);
    for groups in org.app_group_assignments.values_mut() {
        groups.retain(|id| *id != deleted);
    }
    org.group_rules
        .iter_mut()
        .for_each(|rule| rule.group_ids.retain(|id| *id != deleted));
    let delete = admin_event("group.lifecycle.delete", &[("UserGroup", &deleted)]);

    org.events.extend([grant, unassign, assign, delete]);
}

fn event_types(store: &Store) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    store
        .for_each_event(None, None, |event| {
            types.insert(event.uuid, event.event_type);
        })
        .unwrap();
    types
}

/// Returns the recorded changes, after checking that the summary counts
/// them all and that no change is listed twice.
fn changes_listed_once(store: &Store, summary: &SyncSummary) -> Vec<Change> {
    let changes = store.changes(&ChangeQuery::default()).unwrap();
    assert_eq!(summary.changes as usize, changes.len());
    assert_each_listed_once(&changes);
    changes
}

/// Checks that no change is listed twice.
fn assert_each_listed_once(changes: &[Change]) {
    let keys: BTreeSet<_> = changes
        .iter()
        .map(|change| {
            (
                &change.draft.kind,
                &change.draft.subject_id,
                &change.draft.object_id,
            )
        })
        .collect();
    assert_eq!(keys.len(), changes.len(), "each change is listed once");
}

/// Returns the one change of `kind` between `subject` and `object`.
fn only_change<'a>(changes: &'a [Change], kind: &str, subject: &str, object: &str) -> &'a Change {
    let found: Vec<&Change> = changes
        .iter()
        .filter(|change| {
            change.draft.kind == kind
                && change.draft.subject_id == subject
                && change.draft.object_id == object
        })
        .collect();
    assert_eq!(found.len(), 1, "{kind} {subject} {object}: {found:?}");
    found[0]
}

fn assert_from_event(change: &Change, types: &BTreeMap<String, String>, event_type: &str) {
    assert_eq!(change.source, "event", "{change:?}");
    let uuid = change.event_uuid.as_ref().unwrap();
    assert_eq!(
        types.get(uuid).map(String::as_str),
        Some(event_type),
        "{change:?}"
    );
}

#[tokio::test]
async fn incremental_sync_converges_with_history() {
    let (_, sim, client) = sim::start(300).await;
    let (_folder, mut store) = temp_store();
    let options = SyncOptions::default();

    let first = sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(first.kind, "full");
    let unchanged = sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(unchanged.kind, "incremental");
    assert_eq!(unchanged.changes, 0);

    let picks = pick(&sim.org().read().unwrap());
    let (group, member) = &picks.removed_member;
    write_back(
        &sim,
        reqwest::Method::DELETE,
        &format!("/api/v1/groups/{group}/users/{member}"),
    )
    .await;
    let (app, user) = &picks.unassigned;
    write_back(
        &sim,
        reqwest::Method::DELETE,
        &format!("/api/v1/apps/{app}/users/{user}"),
    )
    .await;
    let path = format!("/api/v1/users/{}/lifecycle/suspend", picks.suspended);
    write_back(&sim, reqwest::Method::POST, &path).await;
    let path = format!("/api/v1/users/{}/lifecycle/deactivate", picks.deactivated);
    write_back(&sim, reqwest::Method::POST, &path).await;
    change_org_directly(&sim, &picks);
    // The sync reads events published before it started, to the millisecond;
    // events of the same millisecond are left to the next sync's overlap.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let summary = sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(summary.kind, "incremental");
    assert!(
        summary.requests * 5 < first.requests,
        "an incremental sync reads a fraction of the org: {} requests against {}",
        summary.requests,
        first.requests
    );
    let truth = sim.org().read().unwrap().clone();
    assert_store_matches(&store, "sim", &truth);

    let changes = changes_listed_once(&store, &summary);
    let types = event_types(&store);

    let removed = only_change(&changes, "membership", member, group);
    assert_eq!(removed.draft.action, "removed");
    assert_from_event(removed, &types, "group.user_membership.remove");

    let unassigned = only_change(&changes, "app_assignment", user, app);
    assert_from_event(unassigned, &types, "application.user_membership.remove");

    let suspended = only_change(&changes, "user_status", &picks.suspended, "");
    assert_eq!(suspended.draft.new_value.as_deref(), Some("SUSPENDED"));
    assert_from_event(suspended, &types, "user.lifecycle.suspend");

    let deactivated = only_change(&changes, "user_status", &picks.deactivated, "");
    assert_eq!(
        deactivated.draft.new_value.as_deref(),
        Some("DEPROVISIONED")
    );
    assert_from_event(deactivated, &types, "user.lifecycle.deactivate");
    let lost_factors: Vec<&Change> = changes
        .iter()
        .filter(|change| {
            change.draft.kind == "factor" && change.draft.subject_id == picks.deactivated
        })
        .collect();
    assert!(!lost_factors.is_empty());
    for change in lost_factors {
        assert_eq!(change.draft.action, "removed");
        assert_from_event(change, &types, "user.lifecycle.deactivate");
    }

    let (joined_group, joiner) = &picks.joined;
    let joined = only_change(&changes, "membership", joiner, joined_group);
    assert_eq!(joined.draft.action, "added");
    assert_eq!(joined.source, "sync");
    assert_eq!(joined.event_uuid, None);

    let granted: Vec<&Change> = changes
        .iter()
        .filter(|change| change.draft.kind == "role" && change.draft.subject_id == picks.granted)
        .collect();
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].draft.action, "added");
    assert_from_event(granted[0], &types, "user.account.privilege.grant");

    let app = &picks.reassigned_app;
    let dropped = only_change(
        &changes,
        "app_group_assignment",
        &picks.unassigned_group,
        app,
    );
    assert_eq!(dropped.draft.action, "removed");
    assert_from_event(dropped, &types, "group.application_assignment.remove");
    let added = only_change(&changes, "app_group_assignment", &picks.assigned_group, app);
    assert_eq!(added.draft.action, "added");
    assert_from_event(added, &types, "group.application_assignment.add");

    let deleted_memberships: Vec<&Change> = changes
        .iter()
        .filter(|change| {
            change.draft.kind == "membership" && change.draft.object_id == picks.deleted_group
        })
        .collect();
    assert!(!deleted_memberships.is_empty());
    for change in deleted_memberships {
        assert_eq!(change.draft.action, "removed");
        assert_from_event(change, &types, "group.lifecycle.delete");
    }

    // Only the join happened without an event, so only it and the app
    // assignments it brought are attributed to the sync.
    for change in changes.iter().filter(|change| change.source == "sync") {
        assert_eq!(&change.draft.subject_id, joiner, "{change:?}");
    }

    let again = sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(again.changes, 0, "a converged store records nothing more");
    sim.shutdown().await;
}

/// Builds a large app for [`incremental_sync_converges_on_large_app`]:
/// assigns every user but the joiner to the app directly, and one group,
/// which neither the joiner nor the returned direct assignee is in. Returns
/// the app, the group, the joiner and the direct assignee.
fn enlarge_app(sim: &RunningSim) -> (String, String, String, String) {
    let live = sim.org();
    let mut org = live.write().unwrap();
    let active = active_users(&org);
    let group = org
        .groups
        .iter()
        .find(|group| group.group_type == GroupType::OktaGroup)
        .unwrap()
        .id
        .clone();

    let members = org.memberships.entry(group.clone()).or_default().clone();
    let joiner = active
        .iter()
        .find(|id| !members.contains(id))
        .unwrap()
        .clone();
    let unassigned = active
        .iter()
        .find(|id| !members.contains(id) && **id != joiner)
        .unwrap()
        .clone();

    let app = org.apps[0].id.clone();
    let direct: Vec<String> = org
        .users
        .iter()
        .map(|user| user.id.clone())
        .filter(|id| *id != joiner)
        .collect();
    org.app_user_assignments.insert(app.clone(), direct);
    org.app_group_assignments
        .insert(app.clone(), vec![group.clone()]);
    (app, group, joiner, unassigned)
}

#[tokio::test]
async fn incremental_sync_converges_on_large_app() {
    let (_, sim, client) = sim::start(600).await;
    let (app, group, joiner, unassigned) = enlarge_app(&sim);
    let (_folder, mut store) = temp_store();
    let options = SyncOptions::default();
    let first = sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(first.kind, "full");
    let assigned = store.app_users("sim", &app).unwrap().len();
    assert!(
        assigned > 500,
        "the app's users span more than one page of 500: {assigned}"
    );

    // The joiner reaches the app through the group, which makes the sync
    // read all of the app's users again. One direct assignment goes.
    {
        let live = sim.org();
        let mut org = live.write().unwrap();
        org.memberships
            .get_mut(&group)
            .unwrap()
            .push(joiner.clone());
        let joined = org.groups.iter_mut().find(|g| g.id == group).unwrap();
        joined.last_membership_updated = Utc::now();
        let join = admin_event(
            "group.user_membership.add",
            &[("User", joiner.as_str()), ("UserGroup", group.as_str())],
        );
        org.events.push(join);
    }
    write_back(
        &sim,
        reqwest::Method::DELETE,
        &format!("/api/v1/apps/{app}/users/{unassigned}"),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let summary = sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(summary.kind, "incremental");
    let truth = sim.org().read().unwrap().clone();
    assert_store_matches(&store, "sim", &truth);
    assert_eq!(store.app_users("sim", &app).unwrap().len(), assigned);

    let changes = changes_listed_once(&store, &summary);
    let types = event_types(&store);

    let joined = only_change(&changes, "membership", &joiner, &group);
    assert_eq!(joined.draft.action, "added");
    assert_from_event(joined, &types, "group.user_membership.add");
    let reached = only_change(&changes, "app_assignment", &joiner, &app);
    assert_eq!(reached.draft.action, "added");
    assert_eq!(
        reached.draft.new_value.as_deref(),
        Some(format!("GROUP {group}").as_str())
    );
    assert_from_event(reached, &types, "group.user_membership.add");
    let dropped = only_change(&changes, "app_assignment", &unassigned, &app);
    assert_eq!(dropped.draft.action, "removed");
    assert_from_event(dropped, &types, "application.user_membership.remove");

    let again = sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(again.changes, 0, "a converged store records nothing more");
    sim.shutdown().await;
}

#[tokio::test]
async fn reconcile_finds_deletion_without_event() {
    let (_, sim, client) = sim::start(200).await;
    let (_folder, mut store) = temp_store();
    let options = SyncOptions::default();
    sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();

    let deleted = {
        let live = sim.org();
        let mut org = live.write().unwrap();
        let user = org
            .memberships
            .values()
            .flatten()
            .find(|id| {
                org.user(id)
                    .is_some_and(|user| user.status == UserStatus::Active)
            })
            .unwrap()
            .clone();
        org.users.retain(|candidate| candidate.id != user);
        for members in org.memberships.values_mut() {
            members.retain(|id| *id != user);
        }
        for users in org.app_user_assignments.values_mut() {
            users.retain(|id| *id != user);
        }
        org.admin_roles.remove(&user);
        org.factors.remove(&user);
        for owners in org.group_owners.values_mut() {
            owners.retain(|id| *id != user);
        }
        user
    };

    // No event names the deleted user, so an incremental sync cannot see the
    // deletion itself. It may still drop the user from groups and apps that
    // recent generated events make it read again.
    let incremental = sync(&client, &mut store, "sim", &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(incremental.kind, "incremental");
    let changes = store.changes(&ChangeQuery::default()).unwrap();
    assert!(
        changes
            .iter()
            .all(|change| change.draft.kind != "user_status")
    );

    let reconcile = full_sync(&client, &mut store, "sim", &NoProgress)
        .await
        .unwrap();
    assert_store_matches(&store, "sim", &sim.org().read().unwrap());
    let changes = store.changes(&ChangeQuery::default()).unwrap();
    assert_eq!(
        (incremental.changes + reconcile.changes) as usize,
        changes.len()
    );
    let status = only_change(&changes, "user_status", &deleted, "");
    assert_eq!(status.draft.action, "removed");
    assert_eq!(status.source, "sync");
    assert_each_listed_once(&changes);
    for change in &changes {
        assert_eq!(change.draft.subject_id, deleted, "{change:?}");
        assert_eq!(change.draft.action, "removed");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn sync_exact_under_faults() {
    let options = SimOptions {
        rate_limits: RateLimits::Workforce {
            window: std::time::Duration::from_secs(1),
        },
        dpop: true,
        faults: Faults {
            server_error_rate: 0.03,
            drop_body_every: Some(29),
            groups_next_after_last_page: true,
            seed: 7,
            ..Faults::default()
        },
        ..SimOptions::default()
    };
    let (_, sim, client) = sim::start_with(200, options).await;
    let (_folder, mut store) = temp_store();
    let sync_options = SyncOptions::default();

    // A 429 burst comes once the sync is under way, then the token expires
    // and the DPoP nonce rotates. A burst from the server's start would hit
    // the token request, which the client does not retry.
    let interrupt = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        sim.inject_rate_limit_burst(6);
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        sim.revoke_access_tokens();
        sim.rotate_dpop_nonce();
    };
    let (first, ()) = tokio::join!(
        sync(&client, &mut store, "sim", &sync_options, &NoProgress),
        interrupt
    );
    let first = first.unwrap();
    assert!(first.rate_limited > 0, "the 429 burst should have been met");
    assert_store_matches(&store, "sim", &sim.org().read().unwrap());

    let picks = pick(&sim.org().read().unwrap());
    let (group, member) = &picks.removed_member;
    write_back(
        &sim,
        reqwest::Method::DELETE,
        &format!("/api/v1/groups/{group}/users/{member}"),
    )
    .await;
    let path = format!("/api/v1/users/{}/lifecycle/deactivate", picks.deactivated);
    write_back(&sim, reqwest::Method::POST, &path).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    sim.revoke_access_tokens();
    sim.rotate_dpop_nonce();

    let second = sync(&client, &mut store, "sim", &sync_options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(second.kind, "incremental");
    assert_store_matches(&store, "sim", &sim.org().read().unwrap());
    let changes = store.changes(&ChangeQuery::default()).unwrap();
    let removed = only_change(&changes, "membership", member, group);
    assert_eq!(removed.source, "event");
    let deactivated = only_change(&changes, "user_status", &picks.deactivated, "");
    assert_eq!(deactivated.source, "event");
    sim.shutdown().await;
}

#[tokio::test]
async fn sync_without_roles_scope_keeps_roles() {
    let (org, sim, client) = sim::start(150).await;
    let (_folder, mut store) = temp_store();
    full_sync(&client, &mut store, "sim", &NoProgress)
        .await
        .unwrap();
    let roles = store.role_assignments("sim").unwrap().len();
    assert!(roles > 0);

    // The client's default scopes leave out `okta.roles.read`.
    let without_roles = sim::client_with_scopes(&sim, Vec::new());
    let summary = full_sync(&without_roles, &mut store, "sim", &NoProgress)
        .await
        .unwrap();
    sim.shutdown().await;

    assert_eq!(summary.changes, 0);
    assert_eq!(store.role_assignments("sim").unwrap().len(), roles);
    assert_eq!(summary.users as usize, org.users.len());
}

#[tokio::test]
async fn owner_and_rule_changes_recorded() {
    let (_, sim, client) = sim::start(150).await;
    let (_folder, mut store) = temp_store();
    full_sync(&client, &mut store, "sim", &NoProgress)
        .await
        .unwrap();

    let (owned_group, new_owner, old_owner, rule_id, dropped_target, added_target) = {
        let live = sim.org();
        let mut org = live.write().unwrap();
        let active = active_users(&org);
        let (owned_group, owners) = org
            .group_owners
            .iter()
            .find(|(_, owners)| !owners.is_empty())
            .map(|(group, owners)| (group.clone(), owners.clone()))
            .unwrap();
        let new_owner = active
            .iter()
            .find(|id| !owners.contains(id))
            .unwrap()
            .clone();
        let old_owner = owners[0].clone();
        let owners = org.group_owners.get_mut(&owned_group).unwrap();
        owners.retain(|id| *id != old_owner);
        owners.push(new_owner.clone());

        let group_ids: Vec<String> = org.groups.iter().map(|group| group.id.clone()).collect();
        let rule = org
            .group_rules
            .iter_mut()
            .find(|rule| rule.status == "ACTIVE" && !rule.group_ids.is_empty())
            .unwrap();
        let dropped_target = rule.group_ids[0].clone();
        let added_target = group_ids
            .into_iter()
            .find(|id| !rule.group_ids.contains(id))
            .unwrap();
        rule.group_ids = vec![added_target.clone()];
        rule.status = "INACTIVE".to_string();
        rule.last_updated = Utc::now();
        (
            owned_group,
            new_owner,
            old_owner,
            rule.id.clone(),
            dropped_target,
            added_target,
        )
    };

    let summary = full_sync(&client, &mut store, "sim", &NoProgress)
        .await
        .unwrap();
    sim.shutdown().await;

    let changes = store.changes(&ChangeQuery::default()).unwrap();
    assert_eq!(summary.changes as usize, changes.len());
    let added = only_change(&changes, "group_owner", &new_owner, &owned_group);
    assert_eq!(added.draft.action, "added");
    assert_eq!(added.draft.subject_type, "user");
    let removed = only_change(&changes, "group_owner", &old_owner, &owned_group);
    assert_eq!(removed.draft.action, "removed");

    let dropped = only_change(&changes, "group_rule", &rule_id, &dropped_target);
    assert_eq!(dropped.draft.action, "removed");
    assert_eq!(dropped.draft.subject_type, "rule");
    assert!(
        dropped
            .draft
            .old_value
            .as_deref()
            .is_some_and(|value| value.starts_with("ACTIVE ")),
        "{dropped:?}"
    );
    let gained = only_change(&changes, "group_rule", &rule_id, &added_target);
    assert_eq!(gained.draft.action, "added");
    assert!(
        gained
            .draft
            .new_value
            .as_deref()
            .is_some_and(|value| value.starts_with("INACTIVE ")),
        "{gained:?}"
    );
    assert_eq!(changes.len(), 4, "{changes:?}");
}
