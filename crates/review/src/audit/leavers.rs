//! The leaver audit: users deactivated or suspended in a window, the access
//! they still hold, and the access removed only after the deadline.
//!
//! A user counts as a leaver from a successful `user.lifecycle.deactivate`
//! or `user.lifecycle.suspend` event naming the user as target, or from a
//! recorded `user_status` change to `DEPROVISIONED` or `SUSPENDED`, whichever
//! is earlier. Removals come from the change history and from
//! `group.user_membership.remove` and `application.user_membership.remove`
//! events.
//!
//! [`LeaverRules`] decide what counts as a violation. Okta keeps the group
//! memberships of a deactivated user and deprovisions its apps, and a
//! suspension keeps every assignment. So by default neither memberships nor
//! a suspended user's access are violations, while [`leavers`] counts
//! everything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{AppUserRow, ChangeQuery, RoleAssignmentRow, Store, StoredEvent, UserRow};
use serde::Serialize;

use super::posture::{PostureUser, parse_time, posture_user};
use crate::ReviewError;
use crate::export::{inert_cell, write_file};

/// The default number of hours after leaving by which access must be gone.
pub const DEFAULT_DEADLINE_HOURS: i64 = 24;

const LEAVE_EVENT_TYPES: &[&str] = &["user.lifecycle.deactivate", "user.lifecycle.suspend"];

const REMOVAL_EVENT_TYPES: &[&str] = &[
    "group.user_membership.remove",
    "application.user_membership.remove",
];

/// Event types shown in a leaver's timeline.
const TIMELINE_EVENT_TYPES: &[&str] = &[
    "user.lifecycle.activate",
    "user.lifecycle.reactivate",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "group.user_membership.add",
    "group.user_membership.remove",
    "application.user_membership.add",
    "application.user_membership.remove",
    "user.account.privilege.grant",
    "user.account.privilege.revoke",
];

/// Change kinds that are a user's access.
const ACCESS_KINDS: &[&str] = &["membership", "app_assignment", "role"];

/// Settings of a leaver audit.
#[derive(Clone, Debug)]
pub struct LeaverOptions {
    /// Start of the window in which users left.
    pub since: DateTime<Utc>,
    /// Hours after leaving by which every access must be removed.
    pub deadline_hours: i64,
    /// The time the audit is taken at.
    pub now: DateTime<Utc>,
}

/// The leaver audit's choice of violations, beyond the deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaverRules {
    /// Whether group memberships kept or removed late count. Okta keeps a
    /// deactivated user's memberships, and a deactivated user cannot sign in.
    pub memberships_count: bool,
    /// Whether access kept by a suspended user counts. Okta keeps every
    /// assignment of a suspended user, and `unsuspend` restores the account.
    pub suspended_count: bool,
    /// Hours from a leaver's last sign-in to the deactivation; a later
    /// deactivation is the violation `deactivated-late`. `None` skips the
    /// check.
    pub deactivation_deadline_hours: Option<i64>,
}

impl Default for LeaverRules {
    /// Memberships and suspended users do not count; no deactivation check.
    fn default() -> Self {
        LeaverRules {
            memberships_count: false,
            suspended_count: false,
            deactivation_deadline_hours: None,
        }
    }
}

impl LeaverRules {
    /// Rules that count every kept access, as [`leavers`] applies them.
    pub fn count_everything() -> Self {
        LeaverRules {
            memberships_count: true,
            suspended_count: true,
            deactivation_deadline_hours: None,
        }
    }
}

/// A group membership, app assignment or admin role; `account` for the Okta
/// account itself in a `deactivated-late` violation.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HeldAccess {
    /// `membership`, `app_assignment` or `role`.
    pub kind: String,
    pub id: String,
    pub name: String,
}

/// Access that outlived the deadline.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Violation {
    /// `still-held` after the deadline, `removed-late`, or `deactivated-late`
    /// when the account stayed active too long after the last sign-in.
    pub violation: String,
    pub access: HeldAccess,
    /// When a late removal or deactivation happened.
    pub removed_at: Option<String>,
}

/// One lifecycle, membership, assignment or role event of a leaver.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TimelineEntry {
    pub time: String,
    /// `event` for a System Log event, `change` for a recorded change.
    pub source: String,
    /// The event type, or the change kind and action.
    pub action: String,
    /// The group, app or role concerned, empty for a lifecycle event.
    pub object: String,
}

/// A user who left in the window.
#[derive(Clone, Debug, Serialize)]
pub struct Leaver {
    pub user: PostureUser,
    pub left_at: String,
    /// `deactivated` or `suspended`.
    pub how: String,
    pub deadline: String,
    /// The user's last sign-in before leaving, when Okta recorded one.
    pub last_sign_in: Option<String>,
    /// The status now; an `ACTIVE` user was reactivated and has no violation
    /// for access still held.
    pub current_status: String,
    pub still_held: Vec<HeldAccess>,
    pub violations: Vec<Violation>,
    pub timeline: Vec<TimelineEntry>,
}

/// The leavers of one org in a window.
#[derive(Clone, Debug, Serialize)]
pub struct LeaverReport {
    pub org: String,
    pub generated_at: String,
    pub since: String,
    pub deadline_hours: i64,
    pub leavers: Vec<Leaver>,
}

/// The files written by [`write_leavers`].
#[derive(Clone, Debug)]
pub struct LeaverFiles {
    pub csv: PathBuf,
    pub json: PathBuf,
}

/// Finds the users of `org` who left since `options.since` and checks the
/// access each still has or lost late, counting every kind of access and
/// suspended users too.
pub fn leavers(
    store: &Store,
    org: &str,
    options: &LeaverOptions,
) -> Result<LeaverReport, ReviewError> {
    leavers_with_rules(store, org, options, &LeaverRules::count_everything())
}

/// Finds the users of `org` who left since `options.since` and reports the
/// violations that `rules` count.
pub fn leavers_with_rules(
    store: &Store,
    org: &str,
    options: &LeaverOptions,
    rules: &LeaverRules,
) -> Result<LeaverReport, ReviewError> {
    let users = store.users(org)?;
    if users.is_empty() {
        return Err(ReviewError::EmptyDirectory {
            org: org.to_string(),
        });
    }
    let since = idaudit_store::format_time(options.since);
    let events = store.events_of_types(org, &since, TIMELINE_EVENT_TYPES)?;
    let changes = store.changes(&ChangeQuery {
        org: Some(org.to_string()),
        since: Some(since.clone()),
        ..ChangeQuery::default()
    })?;
    let departures = departures(&events, &changes);

    let context = Context {
        store,
        org,
        names: store.object_names(org)?,
        users: users.iter().map(|user| (user.id.as_str(), user)).collect(),
        built_in_groups: store
            .groups(org)?
            .into_iter()
            .filter(|group| group.group_type == "BUILT_IN")
            .map(|group| group.id)
            .collect(),
        app_users: store.all_app_users(org)?,
        roles: store.role_assignments(org)?,
        events: events
            .iter()
            .map(|event| (event, parse_event(event)))
            .collect(),
        changes: &changes,
        options,
        rules,
    };
    let mut leavers = Vec::new();
    for (user_id, (left_at, how)) in departures {
        if let Some(leaver) = context.leaver(&user_id, left_at, how)? {
            leavers.push(leaver);
        }
    }
    leavers.sort_by(|left, right| left.left_at.cmp(&right.left_at));

    Ok(LeaverReport {
        org: org.to_string(),
        generated_at: idaudit_store::format_time(options.now),
        since,
        deadline_hours: options.deadline_hours,
        leavers,
    })
}

/// Returns each leaving user's earliest departure time and how they left.
fn departures(
    events: &[StoredEvent],
    changes: &[idaudit_store::Change],
) -> BTreeMap<String, (DateTime<Utc>, &'static str)> {
    let mut departures: BTreeMap<String, (DateTime<Utc>, &'static str)> = BTreeMap::new();
    let mut note = |user_id: &str, time: DateTime<Utc>, how: &'static str| {
        let entry = departures.entry(user_id.to_string()).or_insert((time, how));
        if time < entry.0 {
            *entry = (time, how);
        }
    };
    for event in events {
        if !LEAVE_EVENT_TYPES.contains(&event.event_type.as_str()) {
            continue;
        }
        let raw = parse_event(event);
        if raw
            .pointer("/outcome/result")
            .and_then(|value| value.as_str())
            == Some("FAILURE")
        {
            continue;
        }
        let how = if event.event_type.ends_with("suspend") {
            "suspended"
        } else {
            "deactivated"
        };
        if let (Some(user_id), Some(time)) = (target_id(&raw, "User"), parse_time(&event.published))
        {
            note(&user_id, time, how);
        }
    }
    for change in changes {
        let draft = &change.draft;
        if draft.kind != "user_status" || draft.subject_type != "user" {
            continue;
        }
        let how = match draft.new_value.as_deref() {
            Some("DEPROVISIONED") => "deactivated",
            Some("SUSPENDED") => "suspended",
            _ => continue,
        };
        if let Some(time) = parse_time(&change.time) {
            note(&draft.subject_id, time, how);
        }
    }
    departures
}

pub(super) fn parse_event(event: &StoredEvent) -> serde_json::Value {
    serde_json::from_str(&event.raw).unwrap_or_default()
}

/// Returns the id of the event's first target of `target_type`.
pub(super) fn target_id(raw: &serde_json::Value, target_type: &str) -> Option<String> {
    raw.get("target")?
        .as_array()?
        .iter()
        .find(|target| target.get("type").and_then(|value| value.as_str()) == Some(target_type))
        .and_then(|target| target.get("id")?.as_str().map(str::to_string))
}

/// Returns whether any target of the event has id `id`.
pub(super) fn names_target(raw: &serde_json::Value, id: &str) -> bool {
    raw.get("target")
        .and_then(|value| value.as_array())
        .is_some_and(|targets| {
            targets
                .iter()
                .any(|target| target.get("id").and_then(|value| value.as_str()) == Some(id))
        })
}

/// The rows every leaver check reads, loaded once.
struct Context<'a> {
    store: &'a Store,
    org: &'a str,
    names: HashMap<String, String>,
    users: HashMap<&'a str, &'a UserRow>,
    /// Ids of built-in groups such as Everyone, which Okta lets no user leave.
    built_in_groups: HashSet<String>,
    app_users: Vec<AppUserRow>,
    roles: Vec<RoleAssignmentRow>,
    /// The window's events, each parsed once.
    events: Vec<(&'a StoredEvent, serde_json::Value)>,
    changes: &'a [idaudit_store::Change],
    options: &'a LeaverOptions,
    rules: &'a LeaverRules,
}

impl Context<'_> {
    fn leaver(
        &self,
        user_id: &str,
        left_at: DateTime<Utc>,
        how: &str,
    ) -> Result<Option<Leaver>, ReviewError> {
        let Some(user) = self.users.get(user_id) else {
            return Ok(None);
        };
        let deadline = left_at + Duration::hours(self.options.deadline_hours);
        let still_held = self.held_access(user_id)?;
        let reactivated = user.status == "ACTIVE";
        let last_sign_in = user
            .last_login
            .as_deref()
            .and_then(parse_time)
            .filter(|time| *time <= left_at);
        let counted = |access: &HeldAccess| {
            let suspended = how == "suspended";
            (self.rules.memberships_count || access.kind != "membership")
                && (self.rules.suspended_count || !suspended)
        };

        let mut violations = Vec::new();
        if !reactivated && self.options.now > deadline {
            for access in still_held.iter().filter(|access| counted(access)) {
                violations.push(Violation {
                    violation: "still-held".to_string(),
                    access: access.clone(),
                    removed_at: None,
                });
            }
        }
        for (access, removed_at) in self.removals(user_id, left_at) {
            if removed_at > deadline && counted(&access) {
                violations.push(Violation {
                    violation: "removed-late".to_string(),
                    access,
                    removed_at: Some(idaudit_store::format_time(removed_at)),
                });
            }
        }
        // NOTE: the last sign-in stands in for the last working day, which
        // Okta does not record, so someone deactivated after a long absence
        // (leave, holidays) also counts as `deactivated-late`.
        if let (Some(hours), Some(last), "deactivated") =
            (self.rules.deactivation_deadline_hours, last_sign_in, how)
            && left_at > last + Duration::hours(hours)
        {
            violations.push(Violation {
                violation: "deactivated-late".to_string(),
                access: HeldAccess {
                    kind: "account".to_string(),
                    id: user.id.clone(),
                    name: user.login.clone(),
                },
                removed_at: Some(idaudit_store::format_time(left_at)),
            });
        }

        Ok(Some(Leaver {
            user: posture_user(user),
            left_at: idaudit_store::format_time(left_at),
            how: how.to_string(),
            deadline: idaudit_store::format_time(deadline),
            last_sign_in: last_sign_in.map(idaudit_store::format_time),
            current_status: user.status.clone(),
            still_held,
            violations,
            timeline: self.timeline(user_id),
        }))
    }

    fn name(&self, id: &str) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// Returns the user's memberships (except built-in groups), app
    /// assignments and directly assigned admin roles.
    fn held_access(&self, user_id: &str) -> Result<Vec<HeldAccess>, ReviewError> {
        let mut held = Vec::new();
        for group_id in self.store.group_ids_of_user(self.org, user_id)? {
            if !self.built_in_groups.contains(&group_id) {
                held.push(self.access("membership", &group_id));
            }
        }
        for row in &self.app_users {
            if row.user_id == user_id {
                held.push(self.access("app_assignment", &row.app_id));
            }
        }
        for role in &self.roles {
            if role.assignee_type == "USER" && role.assignee_id == user_id {
                held.push(HeldAccess {
                    kind: "role".to_string(),
                    id: role.id.clone(),
                    name: role.role_type.clone(),
                });
            }
        }
        Ok(held)
    }

    fn access(&self, kind: &str, id: &str) -> HeldAccess {
        HeldAccess {
            kind: kind.to_string(),
            id: id.to_string(),
            name: self.name(id),
        }
    }

    /// Returns each access removed from the user after `left_at`, with the
    /// earliest time the change history or an event records its removal.
    fn removals(&self, user_id: &str, left_at: DateTime<Utc>) -> Vec<(HeldAccess, DateTime<Utc>)> {
        let mut removals: BTreeMap<(String, String), DateTime<Utc>> = BTreeMap::new();
        let mut note = |kind: &str, id: String, time: DateTime<Utc>| {
            if time < left_at {
                return;
            }
            let entry = removals.entry((kind.to_string(), id)).or_insert(time);
            if time < *entry {
                *entry = time;
            }
        };
        for change in self.changes {
            let draft = &change.draft;
            if draft.subject_id == user_id
                && draft.action == "removed"
                && ACCESS_KINDS.contains(&draft.kind.as_str())
                && let Some(time) = parse_time(&change.time)
            {
                note(&draft.kind, draft.object_id.clone(), time);
            }
        }
        for (event, raw) in &self.events {
            if !REMOVAL_EVENT_TYPES.contains(&event.event_type.as_str()) {
                continue;
            }
            if target_id(raw, "User").as_deref() != Some(user_id) {
                continue;
            }
            let object = if event.event_type.starts_with("group.") {
                target_id(raw, "UserGroup").map(|id| ("membership", id))
            } else {
                target_id(raw, "AppInstance").map(|id| ("app_assignment", id))
            };
            if let (Some((kind, id)), Some(time)) = (object, parse_time(&event.published)) {
                note(kind, id, time);
            }
        }
        removals
            .into_iter()
            .map(|((kind, id), time)| (self.access(&kind, &id), time))
            .collect()
    }

    /// Returns the user's lifecycle and access events and changes, oldest first.
    fn timeline(&self, user_id: &str) -> Vec<TimelineEntry> {
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
        for change in self.changes {
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

/// The CSV columns of a leaver audit: one row per violation.
pub const LEAVERS_CSV_HEADER: &[&str] = &[
    "user_id",
    "login",
    "name",
    "how",
    "left_at",
    "deadline",
    "violation",
    "access_kind",
    "access_id",
    "access_name",
    "removed_at",
];

/// Returns one row per violation, in the order of [`LEAVERS_CSV_HEADER`].
pub fn leaver_rows(report: &LeaverReport) -> Vec<[String; 11]> {
    let mut rows = Vec::new();
    for leaver in &report.leavers {
        for violation in &leaver.violations {
            rows.push([
                leaver.user.id.clone(),
                leaver.user.login.clone(),
                leaver.user.name.clone(),
                leaver.how.clone(),
                leaver.left_at.clone(),
                leaver.deadline.clone(),
                violation.violation.clone(),
                violation.access.kind.clone(),
                violation.access.id.clone(),
                violation.access.name.clone(),
                violation.removed_at.clone().unwrap_or_default(),
            ]);
        }
    }
    rows
}

/// Returns the violations as CSV, with every cell made inert for spreadsheets.
pub fn leavers_csv(report: &LeaverReport) -> Result<Vec<u8>, ReviewError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(LEAVERS_CSV_HEADER)
        .map_err(ReviewError::Csv)?;
    for row in leaver_rows(report) {
        writer
            .write_record(row.iter().map(|cell| inert_cell(cell)))
            .map_err(ReviewError::Csv)?;
    }
    writer
        .into_inner()
        .map_err(|error| ReviewError::Csv(error.into_error().into()))
}

/// Writes `leavers.csv` and `leavers.json` into `out_dir`.
pub fn write_leavers(report: &LeaverReport, out_dir: &Path) -> Result<LeaverFiles, ReviewError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReviewError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let files = LeaverFiles {
        csv: out_dir.join("leavers.csv"),
        json: out_dir.join("leavers.json"),
    };
    write_file(&files.csv, &leavers_csv(report)?)?;
    let json = serde_json::to_vec_pretty(report).map_err(ReviewError::Json)?;
    write_file(&files.json, &json)?;
    Ok(files)
}
