//! Code shared by the joiner and mover audits: the synced directory indexed
//! per user, the access a policy expects of a profile, the times at which access
//! appeared, each person's timeline, and the check of Okta's own group rules.
//!
//! Okta applies group rules only to users who are neither pending nor
//! deactivated (Okta support article "How To Create A Group Rule": rules do
//! "not affect users in a Pending or Inactive state"), so both the rule
//! check and the birthright check skip `STAGED`, `PROVISIONED` and
//! `DEPROVISIONED` users.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use idaudit_store::{Change, ChangeQuery, GroupRuleRow, Store, StoredEvent, UserRow};
use serde::Serialize;

use super::expression::{Expression, ProfileSubject};
use super::leavers::{HeldAccess, TimelineEntry, names_target, parse_event, target_id};
use super::policy::{Policy, ResolvedRule};
use super::posture::{PostureUser, parse_time, posture_user};
use crate::ReviewError;

/// Statuses of users that Okta's group rules and the birthright check skip.
pub(super) const UNEVALUATED_STATUSES: &[&str] = &["STAGED", "PROVISIONED", "DEPROVISIONED"];

/// Event types shown in a joiner's or mover's timeline.
pub(super) const TIMELINE_EVENT_TYPES: &[&str] = &[
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.reactivate",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.account.update_profile",
    "group.user_membership.add",
    "group.user_membership.remove",
    "application.user_membership.add",
    "application.user_membership.remove",
    "application.user_membership.update",
    "application.provision.user.push",
    "application.provision.user.push_profile",
    "application.provision.user.sync",
    "application.provision.user.deactivate",
    "application.provision.user.reactivate",
    "user.account.privilege.grant",
    "user.account.privilege.revoke",
];

/// An access a birthright rule expects, and whether and when the user got it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ExpectedAccess {
    pub access: HeldAccess,
    /// Names of the birthright rules that expect it.
    pub rules: Vec<String>,
    pub held: bool,
    /// When the access appeared, from the change history or the System Log.
    pub granted_at: Option<String>,
    /// Minutes from the start (activation, or the profile change of a mover)
    /// to `granted_at`; zero when it was granted before.
    pub minutes_to_access: Option<f64>,
}

/// A finding about one person.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AccessViolation {
    /// `missing-birthright`, `kept-old-access`, `group-rule-missing-membership`
    /// or `group-rule-member-not-matching`.
    pub violation: String,
    pub access: HeldAccess,
    /// The rule behind the finding, in words.
    pub detail: String,
}

/// One joiner or mover.
#[derive(Clone, Debug, Serialize)]
pub struct PersonAudit {
    pub user: PostureUser,
    /// When the person joined (activation, else creation) or last moved
    /// (profile change).
    pub started_at: String,
    pub department: String,
    pub title: String,
    pub manager: String,
    /// Whether the checks ran; false for users Okta does not evaluate yet or
    /// any more (staged, pending activation, deactivated).
    pub evaluated: bool,
    /// Names of the birthright rules the current profile matches.
    pub matched_rules: Vec<String>,
    pub expected: Vec<ExpectedAccess>,
    /// Minutes from `started_at` until every expected access was held; `None`
    /// while some is missing or its time is unknown.
    pub minutes_to_access: Option<f64>,
    pub violations: Vec<AccessViolation>,
    pub timeline: Vec<TimelineEntry>,
}

/// A group rule that the check could not use.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SkippedRule {
    pub id: String,
    pub name: String,
    pub reason: String,
}

/// A membership that disagrees with an active group rule.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RuleFinding {
    /// `missing-membership` or `member-not-matching`.
    pub finding: String,
    pub rule_id: String,
    pub rule_name: String,
    pub expression: String,
    pub user: PostureUser,
    pub group: HeldAccess,
}

/// The result of evaluating the org's group rules against every user.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupRuleCheck {
    /// Ids of the active rules evaluated.
    pub evaluated: Vec<String>,
    pub skipped: Vec<SkippedRule>,
    pub findings: Vec<RuleFinding>,
}

/// The directory of one org, indexed for the per-user checks.
pub(super) struct Directory<'a> {
    pub users: &'a [UserRow],
    pub names: HashMap<String, String>,
    /// User id to the ids of the user's groups.
    pub groups_of: HashMap<String, BTreeSet<String>>,
    /// User id to the ids of the apps the user is assigned, directly or
    /// through a group.
    pub apps_of: HashMap<String, BTreeSet<String>>,
    /// App id to the ids of the groups assigned to it.
    pub app_groups: HashMap<String, Vec<String>>,
    /// Ids of built-in groups such as Everyone, which Okta adds every user
    /// to at creation without logging a membership event.
    pub built_in_groups: HashSet<String>,
    /// `(user, kind, object)` to the earliest time the access appeared.
    pub granted: HashMap<(String, String, String), DateTime<Utc>>,
    pub events: Vec<(StoredEvent, serde_json::Value)>,
    pub changes: Vec<Change>,
}

impl<'a> Directory<'a> {
    /// Loads the memberships, assignments, names, events and changes of
    /// `org` since `since`.
    pub fn load(
        store: &Store,
        org: &str,
        users: &'a [UserRow],
        since: &str,
    ) -> Result<Self, ReviewError> {
        let mut groups_of: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        for membership in store.memberships(org)? {
            groups_of
                .entry(membership.user_id.clone())
                .or_default()
                .insert(membership.group_id.clone());
            members
                .entry(membership.group_id)
                .or_default()
                .push(membership.user_id);
        }
        let mut apps_of: HashMap<String, BTreeSet<String>> = HashMap::new();
        for row in store.all_app_users(org)? {
            apps_of.entry(row.user_id).or_default().insert(row.app_id);
        }
        let mut app_groups: HashMap<String, Vec<String>> = HashMap::new();
        for app in store.apps(org)? {
            let groups: Vec<String> = store
                .app_groups(org, &app.id)?
                .into_iter()
                .map(|row| row.group_id)
                .collect();
            for group in &groups {
                for user in members.get(group).into_iter().flatten() {
                    apps_of
                        .entry(user.clone())
                        .or_default()
                        .insert(app.id.clone());
                }
            }
            app_groups.insert(app.id, groups);
        }

        let events: Vec<(StoredEvent, serde_json::Value)> = store
            .events_of_types(org, since, TIMELINE_EVENT_TYPES)?
            .into_iter()
            .map(|event| {
                let raw = parse_event(&event);
                (event, raw)
            })
            .collect();
        let changes = store.changes(&ChangeQuery {
            org: Some(org.to_string()),
            since: Some(since.to_string()),
            ..ChangeQuery::default()
        })?;
        let built_in_groups = store
            .groups(org)?
            .into_iter()
            .filter(|group| group.group_type == "BUILT_IN")
            .map(|group| group.id)
            .collect();
        let mut directory = Directory {
            users,
            names: store.object_names(org)?,
            groups_of,
            apps_of,
            app_groups,
            built_in_groups,
            granted: HashMap::new(),
            events,
            changes,
        };
        directory.index_grants();
        Ok(directory)
    }

    /// Records the earliest time each membership and assignment appeared.
    fn index_grants(&mut self) {
        let mut granted: HashMap<(String, String, String), DateTime<Utc>> = HashMap::new();
        let mut note = |user: &str, kind: &str, object: String, time: DateTime<Utc>| {
            let entry = granted
                .entry((user.to_string(), kind.to_string(), object))
                .or_insert(time);
            if time < *entry {
                *entry = time;
            }
        };
        for change in &self.changes {
            let draft = &change.draft;
            if draft.action == "added"
                && draft.subject_type == "user"
                && matches!(draft.kind.as_str(), "membership" | "app_assignment")
                && let Some(time) = parse_time(&change.time)
            {
                note(
                    &draft.subject_id,
                    &draft.kind,
                    draft.object_id.clone(),
                    time,
                );
            }
        }
        for (event, raw) in &self.events {
            let (kind, target_type) = match event.event_type.as_str() {
                "group.user_membership.add" => ("membership", "UserGroup"),
                "application.user_membership.add" => ("app_assignment", "AppInstance"),
                _ => continue,
            };
            if raw
                .pointer("/outcome/result")
                .and_then(|value| value.as_str())
                == Some("FAILURE")
            {
                continue;
            }
            if let (Some(user), Some(object), Some(time)) = (
                target_id(raw, "User"),
                target_id(raw, target_type),
                parse_time(&event.published),
            ) {
                note(&user, kind, object, time);
            }
        }
        self.granted = granted;
    }

    pub fn name(&self, id: &str) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    pub fn access(&self, kind: &str, id: &str) -> HeldAccess {
        HeldAccess {
            kind: kind.to_string(),
            id: id.to_string(),
            name: self.name(id),
        }
    }

    fn holds(&self, user_id: &str, kind: &str, id: &str) -> bool {
        let held = if kind == "membership" {
            self.groups_of.get(user_id)
        } else {
            self.apps_of.get(user_id)
        };
        held.is_some_and(|ids| ids.contains(id))
    }

    /// Returns when the user got the access. For a group that is the
    /// membership time, or the user's creation for a built-in group. For an
    /// app it is the earliest of the direct assignment and the memberships of
    /// the user's groups that the app is assigned to.
    fn granted_at(&self, user_id: &str, kind: &str, id: &str) -> Option<DateTime<Utc>> {
        let created = || {
            self.users
                .iter()
                .find(|user| user.id == user_id)
                .and_then(|user| user.created.as_deref())
                .and_then(parse_time)
        };
        let find = |kind: &str, id: &str| {
            if kind == "membership" && self.built_in_groups.contains(id) {
                return created();
            }
            self.granted
                .get(&(user_id.to_string(), kind.to_string(), id.to_string()))
                .copied()
        };
        if kind == "membership" {
            return find("membership", id);
        }
        let user_groups = self.groups_of.get(user_id);
        let through_groups = self
            .app_groups
            .get(id)
            .into_iter()
            .flatten()
            .filter(|group| user_groups.is_some_and(|groups| groups.contains(*group)))
            .filter_map(|group| find("membership", group));
        find("app_assignment", id)
            .into_iter()
            .chain(through_groups)
            .min()
    }

    /// Returns the profile and groups of a user as an expression subject.
    pub fn subject(&self, user: &UserRow) -> ProfileSubject {
        let raw: serde_json::Value = serde_json::from_str(&user.raw).unwrap_or_default();
        let mut profile = raw
            .get("profile")
            .and_then(|value| value.as_object())
            .cloned()
            .unwrap_or_default();
        let columns = [
            ("login", Some(&user.login)),
            ("email", user.email.as_ref()),
            ("firstName", user.first_name.as_ref()),
            ("lastName", user.last_name.as_ref()),
            ("displayName", user.display_name.as_ref()),
            ("department", user.department.as_ref()),
            ("title", user.title.as_ref()),
            ("managerId", user.manager_id.as_ref()),
        ];
        for (name, value) in columns {
            if let Some(value) = value
                && !profile.contains_key(name)
            {
                profile.insert(name.to_string(), serde_json::Value::String(value.clone()));
            }
        }
        let group_ids: HashSet<String> = self
            .groups_of
            .get(&user.id)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        let group_names = group_ids.iter().map(|id| self.name(id)).collect();
        ProfileSubject {
            profile,
            group_ids,
            group_names,
        }
    }

    /// Returns the user's events and recorded changes, oldest first.
    pub fn timeline(&self, user_id: &str) -> Vec<TimelineEntry> {
        let mut timeline = Vec::new();
        for (event, raw) in &self.events {
            if !names_target(raw, user_id) {
                continue;
            }
            let object = ["UserGroup", "AppInstance"]
                .into_iter()
                .find_map(|target_type| target_id(raw, target_type))
                .map(|id| self.name(&id))
                .unwrap_or_default();
            timeline.push(TimelineEntry {
                time: event.published.clone(),
                source: "event".to_string(),
                action: event.event_type.clone(),
                object,
            });
        }
        for change in &self.changes {
            let draft = &change.draft;
            if draft.subject_id != user_id {
                continue;
            }
            let object = if draft.kind == "user_status" {
                draft.new_value.clone().unwrap_or_default()
            } else {
                self.name(&draft.object_id)
            };
            timeline.push(TimelineEntry {
                time: change.time.clone(),
                source: "change".to_string(),
                action: format!("{} {}", draft.kind, draft.action),
                object,
            });
        }
        timeline.sort_by(|left, right| left.time.cmp(&right.time));
        timeline
    }
}

/// Returns whether Okta evaluates group rules for a user of this status.
pub(super) fn is_evaluated(user: &UserRow) -> bool {
    !UNEVALUATED_STATUSES.contains(&user.status.as_str())
}

/// The birthright rules a profile matches and the access they expect,
/// keyed by `(kind, id)` with the names of the rules behind each.
pub(super) struct Expectation {
    pub matched: Vec<String>,
    pub access: BTreeMap<(String, String), Vec<String>>,
}

/// Evaluates every rule for `subject`.
pub(super) fn expectation(
    rules: &[ResolvedRule],
    subject: &ProfileSubject,
) -> Result<Expectation, ReviewError> {
    let mut expectation = Expectation {
        matched: Vec::new(),
        access: BTreeMap::new(),
    };
    for rule in rules {
        let matches =
            rule.when
                .evaluate(subject)
                .map_err(|error| ReviewError::PolicyEvaluation {
                    rule: rule.name.clone(),
                    problem: error.to_string(),
                })?;
        if !matches {
            continue;
        }
        expectation.matched.push(rule.name.clone());
        let items = rule
            .group_ids
            .iter()
            .map(|id| ("membership", id))
            .chain(rule.app_ids.iter().map(|id| ("app_assignment", id)));
        for (kind, id) in items {
            expectation
                .access
                .entry((kind.to_string(), id.clone()))
                .or_default()
                .push(rule.name.clone());
        }
    }
    Ok(expectation)
}

/// Compares the expected access with what the user holds; returns the
/// expected items and the minutes until all of them were held.
pub(super) fn compare_expected(
    directory: &Directory<'_>,
    user_id: &str,
    expectation: &Expectation,
    start: DateTime<Utc>,
) -> (Vec<ExpectedAccess>, Option<f64>) {
    let mut expected = Vec::new();
    // Nothing expected means no time to access, rather than zero minutes.
    let mut complete = (!expectation.access.is_empty()).then_some(0.0f64);
    for ((kind, id), rules) in &expectation.access {
        let held = directory.holds(user_id, kind, id);
        let granted_at = held
            .then(|| directory.granted_at(user_id, kind, id))
            .flatten();
        let minutes = granted_at.map(|time| minutes_between(start, time));
        complete = match (complete, minutes) {
            (Some(longest), Some(minutes)) => Some(longest.max(minutes)),
            _ => None,
        };
        expected.push(ExpectedAccess {
            access: directory.access(kind, id),
            rules: rules.clone(),
            held,
            granted_at: granted_at.map(idaudit_store::format_time),
            minutes_to_access: minutes,
        });
    }
    (expected, complete)
}

/// Returns the minutes from `start` to `time`, zero when `time` is earlier,
/// rounded to a tenth.
fn minutes_between(start: DateTime<Utc>, time: DateTime<Utc>) -> f64 {
    let seconds = (time - start).num_seconds().max(0) as f64;
    (seconds / 6.0).round() / 10.0
}

/// Returns a `missing-birthright` violation for each expected access not held.
pub(super) fn missing_birthright(expected: &[ExpectedAccess]) -> Vec<AccessViolation> {
    expected
        .iter()
        .filter(|item| !item.held)
        .map(|item| AccessViolation {
            violation: "missing-birthright".to_string(),
            access: item.access.clone(),
            detail: format!("expected by birthright rule {}", item.rules.join(", ")),
        })
        .collect()
}

/// Returns the person's fields that every audit fills the same way.
pub(super) fn person(
    directory: &Directory<'_>,
    user: &UserRow,
    started_at: DateTime<Utc>,
) -> PersonAudit {
    let raw: serde_json::Value = serde_json::from_str(&user.raw).unwrap_or_default();
    let profile_text = |name: &str| {
        raw.pointer(&format!("/profile/{name}"))
            .and_then(|value| value.as_str())
            .map(str::to_string)
    };
    PersonAudit {
        user: posture_user(user),
        started_at: idaudit_store::format_time(started_at),
        department: user
            .department
            .clone()
            .or_else(|| profile_text("department"))
            .unwrap_or_default(),
        title: user
            .title
            .clone()
            .or_else(|| profile_text("title"))
            .unwrap_or_default(),
        manager: profile_text("manager")
            .or_else(|| user.manager_id.as_deref().map(|id| directory.name(id)))
            .unwrap_or_default(),
        evaluated: is_evaluated(user),
        matched_rules: Vec::new(),
        expected: Vec::new(),
        minutes_to_access: None,
        violations: Vec::new(),
        timeline: directory.timeline(&user.id),
    }
}

/// Returns the synced users of `org`, or an error when the org was never synced.
pub(super) fn synced_users(store: &Store, org: &str) -> Result<Vec<UserRow>, ReviewError> {
    let users = store.users(org)?;
    if users.is_empty() {
        return Err(ReviewError::EmptyDirectory {
            org: org.to_string(),
        });
    }
    Ok(users)
}

/// Evaluates Okta's group rules when the policy enables the check, and returns an
/// empty check otherwise.
pub(super) fn group_rules_of_policy(
    store: &Store,
    org: &str,
    policy: &Policy,
    directory: &Directory<'_>,
) -> Result<GroupRuleCheck, ReviewError> {
    if policy.check_group_rules {
        check_group_rules(store, org, directory)
    } else {
        Ok(GroupRuleCheck::default())
    }
}

/// Evaluates every active group rule of `org` against every user that Okta
/// evaluates, and lists the memberships that disagree.
///
/// A user who matches an active rule but is not a member of one of its
/// groups is `missing-membership`. Either the rule has not run for the user
/// yet, or someone removed the membership by hand.
/// A member of a rule's group who does not match is `member-not-matching`.
/// Such a member was added by hand, or is left from an earlier profile that
/// the rule did match. The membership rows do not say which, so both are
/// findings to review rather than proof of a fault. Users in the rule's
/// exclusion list are skipped.
pub(super) fn check_group_rules(
    store: &Store,
    org: &str,
    directory: &Directory<'_>,
) -> Result<GroupRuleCheck, ReviewError> {
    let mut check = GroupRuleCheck::default();
    let subjects: Vec<(&UserRow, ProfileSubject)> = directory
        .users
        .iter()
        .filter(|user| is_evaluated(user))
        .map(|user| (user, directory.subject(user)))
        .collect();
    for rule in store.group_rules(org)? {
        let skip = |reason: String| SkippedRule {
            id: rule.id.clone(),
            name: rule.name.clone(),
            reason,
        };
        if rule.status != "ACTIVE" {
            check.skipped.push(skip(format!("status {}", rule.status)));
            continue;
        }
        let Some(text) = rule
            .expression
            .as_deref()
            .filter(|text| !text.trim().is_empty())
        else {
            check.skipped.push(skip("no expression".to_string()));
            continue;
        };
        let expression = match Expression::parse(text) {
            Ok(expression) => expression,
            Err(error) => {
                check.skipped.push(skip(error.to_string()));
                continue;
            }
        };
        match rule_findings(&rule, &expression, &subjects, directory) {
            Ok(findings) => {
                check.evaluated.push(rule.id.clone());
                check.findings.extend(findings);
            }
            Err(error) => check.skipped.push(skip(error)),
        }
    }
    Ok(check)
}

fn rule_findings(
    rule: &GroupRuleRow,
    expression: &Expression,
    subjects: &[(&UserRow, ProfileSubject)],
    directory: &Directory<'_>,
) -> Result<Vec<RuleFinding>, String> {
    let raw: serde_json::Value = serde_json::from_str(&rule.raw).unwrap_or_default();
    let excluded: HashSet<&str> = raw
        .pointer("/conditions/people/users/exclude")
        .and_then(|value| value.as_array())
        .into_iter()
        .flatten()
        .filter_map(|value| value.as_str())
        .collect();
    let mut findings = Vec::new();
    for (user, subject) in subjects {
        if excluded.contains(user.id.as_str()) {
            continue;
        }
        let matches = expression
            .evaluate(subject)
            .map_err(|error| format!("{error} for user `{}`", user.login))?;
        for group_id in &rule.group_ids {
            let member = subject.group_ids.contains(group_id);
            let finding = match (matches, member) {
                (true, false) => "missing-membership",
                (false, true) => "member-not-matching",
                _ => continue,
            };
            findings.push(RuleFinding {
                finding: finding.to_string(),
                rule_id: rule.id.clone(),
                rule_name: rule.name.clone(),
                expression: expression.source().to_string(),
                user: posture_user(user),
                group: directory.access("membership", group_id),
            });
        }
    }
    Ok(findings)
}

/// Returns the rule findings of one user as violations.
pub(super) fn rule_violations(check: &GroupRuleCheck, user_id: &str) -> Vec<AccessViolation> {
    check
        .findings
        .iter()
        .filter(|finding| finding.user.id == user_id)
        .map(|finding| AccessViolation {
            violation: format!("group-rule-{}", finding.finding),
            access: finding.group.clone(),
            detail: format!(
                "group rule `{}` ({})",
                finding.rule_name, finding.expression
            ),
        })
        .collect()
}
