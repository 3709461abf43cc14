//! Starting a campaign: a snapshot of app entitlements, each routed to the
//! user's manager for review, with risk flags and a suggested decision.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{CampaignItem, Store, UserRow};
use serde_json::json;

use crate::ReviewError;

/// The reviewer for users without a known manager.
pub const FALLBACK_REVIEWER: &str = "unassigned";

/// Users with no sign-in for this many days are flagged as inactive.
const INACTIVE_DAYS: i64 = 90;

/// Flags, as written in packages.
pub const FLAG_DEACTIVATED: &str = "deactivated-still-assigned";
pub const FLAG_SUSPENDED: &str = "suspended-still-assigned";
pub const FLAG_INACTIVE: &str = "inactive-90-days";
pub const FLAG_UNKNOWN_USER: &str = "user-not-in-directory";

/// Counts of a new campaign.
#[derive(Clone, Debug)]
pub struct StartedCampaign {
    pub id: i64,
    pub items: u64,
    pub reviewers: u64,
    pub flagged: u64,
}

/// Starts a campaign over the user assignments of `apps` (ids or labels,
/// case-insensitive), or of every app when `apps` is empty.
pub fn start_campaign(
    store: &mut Store,
    org: &str,
    name: &str,
    apps: &[String],
) -> Result<StartedCampaign, ReviewError> {
    let now = Utc::now();
    let all_apps = store.apps(org)?;
    if all_apps.is_empty() {
        return Err(ReviewError::EmptyDirectory {
            org: org.to_string(),
        });
    }
    let selected = select_apps(&all_apps, apps)?;

    let users: HashMap<String, UserRow> = store
        .users(org)?
        .into_iter()
        .map(|user| (user.id.clone(), user))
        .collect();
    let group_names: HashMap<String, String> = store
        .groups(org)?
        .into_iter()
        .map(|group| (group.id, group.name))
        .collect();
    let mut groups_of_user: HashMap<String, HashSet<String>> = HashMap::new();
    for membership in store.memberships(org)? {
        groups_of_user
            .entry(membership.user_id)
            .or_default()
            .insert(membership.group_id);
    }

    let mut items = Vec::new();
    for app in &selected {
        let app_groups: Vec<String> = store
            .app_groups(org, &app.id)?
            .into_iter()
            .map(|row| row.group_id)
            .collect();
        for assignment in store.app_users(org, &app.id)? {
            let user = users.get(&assignment.user_id);
            let granting_groups = granting_groups(
                &assignment.scope,
                groups_of_user.get(&assignment.user_id),
                &app_groups,
                &group_names,
            );
            let mut item = build_item(user, &assignment.user_id, &users, now);
            item.app_id = app.id.clone();
            item.app_label = app.label.clone();
            item.grant_type = assignment.scope.clone();
            item.granting_groups = granting_groups;
            items.push(item);
        }
    }
    // Items sorted by reviewer, then user, then app, and numbered in that order.
    items.sort_by(|left, right| {
        (&left.reviewer_login, &left.user_login, &left.app_label).cmp(&(
            &right.reviewer_login,
            &right.user_login,
            &right.app_label,
        ))
    });
    for (index, item) in items.iter_mut().enumerate() {
        item.item_no = index as i64 + 1;
    }

    let scope = json!({
        "apps": selected.iter().map(|app| json!({"id": app.id, "label": app.label})).collect::<Vec<_>>(),
        "reviewer": "manager",
    });
    let id = store.create_campaign(name, org, &scope, &items)?;
    let reviewers: HashSet<&str> = items
        .iter()
        .map(|item| item.reviewer_login.as_str())
        .collect();
    Ok(StartedCampaign {
        id,
        items: items.len() as u64,
        reviewers: reviewers.len() as u64,
        flagged: items.iter().filter(|item| !item.flags.is_empty()).count() as u64,
    })
}

fn select_apps(
    all_apps: &[idaudit_store::AppRow],
    requested: &[String],
) -> Result<Vec<idaudit_store::AppRow>, ReviewError> {
    if requested.is_empty() {
        return Ok(all_apps.to_vec());
    }
    let mut selected = Vec::new();
    for name in requested {
        let found = all_apps
            .iter()
            .find(|app| app.id == *name || app.label.eq_ignore_ascii_case(name))
            .ok_or_else(|| ReviewError::UnknownApp { name: name.clone() })?;
        selected.push(found.clone());
    }
    Ok(selected)
}

fn granting_groups(
    scope: &str,
    user_groups: Option<&HashSet<String>>,
    app_groups: &[String],
    group_names: &HashMap<String, String>,
) -> Vec<String> {
    if scope != "GROUP" {
        return Vec::new();
    }
    let Some(user_groups) = user_groups else {
        return Vec::new();
    };
    let mut names: Vec<String> = app_groups
        .iter()
        .filter(|group_id| user_groups.contains(*group_id))
        .map(|group_id| {
            group_names
                .get(group_id)
                .cloned()
                .unwrap_or_else(|| group_id.clone())
        })
        .collect();
    names.sort();
    names
}

/// Builds the user and reviewer half of an item, with flags and a suggestion.
fn build_item(
    user: Option<&UserRow>,
    user_id: &str,
    users: &HashMap<String, UserRow>,
    now: DateTime<Utc>,
) -> CampaignItem {
    let manager = user
        .and_then(|user| user.manager_id.as_deref())
        .and_then(|manager_id| users.get(manager_id));
    let (flags, reasons) = risk_flags(user, now);
    let suggestion = if flags.iter().any(|flag| flag != FLAG_INACTIVE) {
        "revoke"
    } else {
        "keep"
    };
    let reason = if reasons.is_empty() {
        "Active user with a current assignment".to_string()
    } else {
        reasons.join("; ")
    };
    CampaignItem {
        item_no: 0,
        reviewer_id: manager.map(|manager| manager.id.clone()),
        reviewer_login: manager
            .map(|manager| manager.login.clone())
            .unwrap_or_else(|| FALLBACK_REVIEWER.to_string()),
        reviewer_name: manager
            .map(UserRow::full_name)
            .unwrap_or_else(|| "No manager on record".to_string()),
        user_id: user_id.to_string(),
        user_login: user
            .map(|user| user.login.clone())
            .unwrap_or_else(|| user_id.to_string()),
        user_name: user.map(UserRow::full_name).unwrap_or_default(),
        user_status: user
            .map(|user| user.status.clone())
            .unwrap_or_else(|| "UNKNOWN".to_string()),
        app_id: String::new(),
        app_label: String::new(),
        grant_type: String::new(),
        granting_groups: Vec::new(),
        flags,
        suggestion: suggestion.to_string(),
        reason,
    }
}

fn risk_flags(user: Option<&UserRow>, now: DateTime<Utc>) -> (Vec<String>, Vec<String>) {
    let Some(user) = user else {
        return (
            vec![FLAG_UNKNOWN_USER.to_string()],
            vec!["The assigned user is not in the synced directory".to_string()],
        );
    };
    let mut flags = BTreeMap::new();
    match user.status.as_str() {
        "DEPROVISIONED" => {
            flags.insert(
                FLAG_DEACTIVATED,
                "User is deactivated but still assigned".to_string(),
            );
        }
        "SUSPENDED" => {
            flags.insert(
                FLAG_SUSPENDED,
                "User is suspended but still assigned".to_string(),
            );
        }
        _ => {}
    }
    let last_login = user
        .last_login
        .as_deref()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok());
    if user.status != "DEPROVISIONED"
        && last_login
            .is_none_or(|time| now - time.with_timezone(&Utc) > Duration::days(INACTIVE_DAYS))
    {
        flags.insert(
            FLAG_INACTIVE,
            format!("No sign-in in the last {INACTIVE_DAYS} days"),
        );
    }
    flags
        .into_iter()
        .map(|(flag, reason)| (flag.to_string(), reason))
        .unzip()
}
