//! The joiner audit: users created or activated in a window, the access the
//! birthright policy expects of their profile, what they hold, how long the
//! access took to arrive, and what is missing.
//!
//! A user joins at the earliest known activation: the `activated` field of
//! the Okta user object or a successful `user.lifecycle.activate` event. A
//! user with no activation in the window joins at creation (`created` or a
//! `user.lifecycle.create` event). Time to access runs from that moment to the membership or
//! assignment, as the change history or the System Log records it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use idaudit_store::{Store, UserRow};
use serde::Serialize;

use super::birthright::{
    Directory, GroupRuleCheck, PersonAudit, compare_expected, expectation, group_rules_of_policy,
    missing_birthright, person, rule_violations, synced_users,
};
use super::leavers::target_id;
use super::policy::Policy;
use super::posture::parse_time;
use crate::ReviewError;

/// Settings of a joiner or mover audit.
#[derive(Clone, Debug)]
pub struct AccessAuditOptions {
    /// Start of the window in which users joined or moved.
    pub since: DateTime<Utc>,
    /// The time the audit is taken at.
    pub now: DateTime<Utc>,
}

/// The joiners or movers of one org in a window.
#[derive(Clone, Debug, Serialize)]
pub struct AccessAudit {
    /// `joiners` or `movers`.
    pub audit: String,
    pub org: String,
    pub generated_at: String,
    pub since: String,
    /// The number of birthright rules in the policy.
    pub policy_rules: usize,
    pub people: Vec<PersonAudit>,
    /// Okta's group rules evaluated against every user; empty when the
    /// policy turns the check off.
    pub group_rules: GroupRuleCheck,
}

impl AccessAudit {
    /// Returns the number of violations over all people.
    pub fn violation_count(&self) -> usize {
        self.people
            .iter()
            .map(|person| person.violations.len())
            .sum()
    }
}

/// Finds the users of `org` who joined since `options.since` and checks
/// their access against `policy`.
pub fn joiners(
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

    let starts = join_times(&users, &directory, options.since);
    let mut people = Vec::new();
    for user in &users {
        let Some(&started) = starts.get(user.id.as_str()) else {
            continue;
        };
        let mut joiner = person(&directory, user, started);
        if joiner.evaluated {
            let subject = directory.subject(user);
            let expected = expectation(&rules, &subject)?;
            let (items, minutes) = compare_expected(&directory, &user.id, &expected, started);
            joiner.violations = missing_birthright(&items);
            joiner.matched_rules = expected.matched;
            joiner.expected = items;
            joiner.minutes_to_access = minutes;
            joiner
                .violations
                .extend(rule_violations(&group_rules, &user.id));
        }
        people.push(joiner);
    }
    people.sort_by(|left, right| left.started_at.cmp(&right.started_at));

    Ok(AccessAudit {
        audit: "joiners".to_string(),
        org: org.to_string(),
        generated_at: idaudit_store::format_time(options.now),
        since,
        policy_rules: rules.len(),
        people,
        group_rules,
    })
}

/// Returns, per user who joined at or after `since`, the time they joined.
fn join_times<'a>(
    users: &'a [UserRow],
    directory: &Directory<'_>,
    since: DateTime<Utc>,
) -> BTreeMap<&'a str, DateTime<Utc>> {
    let mut created = BTreeMap::new();
    let mut activated = BTreeMap::new();
    let earliest = |map: &mut BTreeMap<String, DateTime<Utc>>, id: String, time: DateTime<Utc>| {
        let entry = map.entry(id).or_insert(time);
        if time < *entry {
            *entry = time;
        }
    };
    for user in users {
        let raw: serde_json::Value = serde_json::from_str(&user.raw).unwrap_or_default();
        let activated_at = raw
            .get("activated")
            .and_then(|value| value.as_str())
            .and_then(parse_time);
        if let Some(time) = activated_at {
            earliest(&mut activated, user.id.clone(), time);
        }
        if let Some(time) = user.created.as_deref().and_then(parse_time) {
            earliest(&mut created, user.id.clone(), time);
        }
    }
    for (event, raw) in &directory.events {
        let map = match event.event_type.as_str() {
            "user.lifecycle.activate" => &mut activated,
            "user.lifecycle.create" => &mut created,
            _ => continue,
        };
        if raw
            .pointer("/outcome/result")
            .and_then(|value| value.as_str())
            == Some("FAILURE")
        {
            continue;
        }
        if let (Some(user), Some(time)) = (target_id(raw, "User"), parse_time(&event.published)) {
            earliest(map, user, time);
        }
    }

    let mut starts = BTreeMap::new();
    for user in users {
        let joined = activated
            .get(&user.id)
            .filter(|time| **time >= since)
            .or_else(|| created.get(&user.id).filter(|time| **time >= since));
        if let Some(time) = joined {
            starts.insert(user.id.as_str(), *time);
        }
    }
    starts
}
