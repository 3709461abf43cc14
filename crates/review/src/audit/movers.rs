//! The mover audit: users whose profile changed in a window, checked
//! against the birthright policy for their current profile.
//!
//! A mover is the target of a successful `user.account.update_profile`
//! event in the window. The event names the user, not the old values, and
//! the store keeps only the current profile, so the old attributes are not
//! known. Besides missing birthright access, the audit therefore flags each
//! group or app of the user that some birthright rule grants but no rule
//! matching the current profile grants (`kept-old-access`). For a mover that
//! is the access of the old department, title or manager.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use idaudit_store::Store;

use super::birthright::{
    AccessViolation, Directory, Expectation, compare_expected, expectation, group_rules_of_policy,
    missing_birthright, person, rule_violations, synced_users,
};
use super::joiners::{AccessAudit, AccessAuditOptions};
use super::leavers::target_id;
use super::policy::{Policy, ResolvedRule};
use super::posture::parse_time;
use crate::ReviewError;

/// Finds the users of `org` whose profile changed since `options.since` and
/// checks their access against `policy`.
pub fn movers(
    store: &Store,
    org: &str,
    options: &AccessAuditOptions,
    policy: &Policy,
) -> Result<AccessAudit, ReviewError> {
    let users = synced_users(store, org)?;
    let rules = policy.resolve(store, org)?;
    let since = idaudit_store::format_time(options.since);
    let directory = Directory::load(store, org, &users, &since)?;
    let group_rules = group_rules_of_policy(store, org, policy, &directory)?;

    let moves = profile_changes(&directory);
    let mut people = Vec::new();
    for user in &users {
        let Some(&moved) = moves.get(&user.id) else {
            continue;
        };
        let mut mover = person(&directory, user, moved);
        if mover.evaluated {
            let subject = directory.subject(user);
            let expected = expectation(&rules, &subject)?;
            let (items, minutes) = compare_expected(&directory, &user.id, &expected, moved);
            mover.violations = missing_birthright(&items);
            mover
                .violations
                .extend(kept_old_access(&directory, &user.id, &rules, &expected));
            mover
                .violations
                .extend(rule_violations(&group_rules, &user.id));
            mover.matched_rules = expected.matched;
            mover.expected = items;
            mover.minutes_to_access = minutes;
        }
        people.push(mover);
    }
    people.sort_by(|left, right| left.started_at.cmp(&right.started_at));

    Ok(AccessAudit {
        audit: "movers".to_string(),
        org: org.to_string(),
        generated_at: idaudit_store::format_time(options.now),
        since,
        policy_rules: rules.len(),
        people,
        group_rules,
    })
}

/// Returns, per user, the time of the latest successful profile change.
fn profile_changes(directory: &Directory<'_>) -> BTreeMap<String, DateTime<Utc>> {
    let mut moves: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for (event, raw) in &directory.events {
        if event.event_type != "user.account.update_profile" {
            continue;
        }
        if raw
            .pointer("/outcome/result")
            .and_then(|value| value.as_str())
            == Some("FAILURE")
        {
            continue;
        }
        if let (Some(user), Some(time)) = (target_id(raw, "User"), parse_time(&event.published)) {
            let entry = moves.entry(user).or_insert(time);
            if time > *entry {
                *entry = time;
            }
        }
    }
    moves
}

/// Returns a `kept-old-access` violation for each held group or app that a
/// birthright rule grants but no rule matching the current profile does.
fn kept_old_access(
    directory: &Directory<'_>,
    user_id: &str,
    rules: &[ResolvedRule],
    expected: &Expectation,
) -> Vec<AccessViolation> {
    let mut granted_by: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for rule in rules {
        let items = rule
            .group_ids
            .iter()
            .map(|id| ("membership", id.as_str()))
            .chain(
                rule.app_ids
                    .iter()
                    .map(|id| ("app_assignment", id.as_str())),
            );
        for item in items {
            granted_by.entry(item).or_default().insert(&rule.name);
        }
    }
    let groups = directory.groups_of.get(user_id);
    let apps = directory.apps_of.get(user_id);
    let held = groups
        .into_iter()
        .flatten()
        .map(|id| ("membership", id.as_str()))
        .chain(
            apps.into_iter()
                .flatten()
                .map(|id| ("app_assignment", id.as_str())),
        );
    let mut violations = Vec::new();
    for (kind, id) in held {
        let Some(granting) = granted_by.get(&(kind, id)) else {
            continue;
        };
        if expected
            .access
            .contains_key(&(kind.to_string(), id.to_string()))
        {
            continue;
        }
        let names: Vec<&str> = granting.iter().copied().collect();
        violations.push(AccessViolation {
            violation: "kept-old-access".to_string(),
            access: directory.access(kind, id),
            detail: format!(
                "granted by birthright rule {}, which the current profile does not match",
                names.join(", ")
            ),
        });
    }
    violations
}
