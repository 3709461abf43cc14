//! Remediation: the revocations a campaign's decisions call for, planned
//! from the synced directory, then made through the Okta client and verified
//! by reading the change back.
//!
//! An app assigned directly is unassigned from the user
//! (`DELETE /api/v1/apps/{appId}/users/{userId}`). An app that comes through a
//! group is revoked at the group, by removing the user from it
//! (`DELETE /api/v1/groups/{groupId}/users/{userId}`), because Okta rejects
//! unassigning a group-scoped app user. Group removals that idaudit cannot
//! or should not make are planned as `manual` or `blocked` steps with the
//! reason: groups imported from an app, built-in groups, groups a rule
//! fills, and removals that would also revoke an app a reviewer decided to keep.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use idaudit_okta::Client;
use idaudit_store::{Campaign, CampaignItem, Remediation, Store};
use serde_json::json;

use crate::ReviewError;

pub const ACTION_REMOVE_MEMBER: &str = "remove-group-member";
pub const ACTION_UNASSIGN_APP: &str = "unassign-app-user";
pub const ACTION_MANUAL: &str = "manual";

pub const STATUS_PLANNED: &str = "planned";
pub const STATUS_VERIFIED: &str = "verified";
pub const STATUS_FAILED: &str = "failed";
pub const STATUS_BLOCKED: &str = "blocked";
pub const STATUS_MANUAL: &str = "manual";

/// The Okta scopes that making the planned steps needs.
pub const MANAGE_SCOPES: &[&str] = &["okta.groups.manage", "okta.apps.manage"];

/// The steps that carry out a campaign's revocations.
#[derive(Clone, Debug)]
pub struct RemediationPlan {
    pub campaign: Campaign,
    pub steps: Vec<Remediation>,
    /// Login of each user a step concerns, for messages and verification.
    pub user_logins: HashMap<String, String>,
    /// Names of the groups and apps the steps concern.
    pub target_names: HashMap<String, String>,
}

impl RemediationPlan {
    /// Counts the steps by status.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for step in &self.steps {
            *counts.entry(step.status.clone()).or_default() += 1;
        }
        counts
    }
}

/// The directory as the last sync left it, indexed for planning.
struct Directory {
    groups: HashMap<String, idaudit_store::GroupRow>,
    groups_of_user: HashMap<String, HashSet<String>>,
    /// App id to the ids of its assigned groups.
    app_groups: HashMap<String, HashSet<String>>,
    /// (app id, user id) to the assignment's scope.
    app_users: HashMap<(String, String), String>,
    /// Group id to the names of the active rules that add users to it.
    rules_of_group: HashMap<String, Vec<String>>,
    app_labels: HashMap<String, String>,
}

impl Directory {
    fn load(store: &Store, org: &str) -> Result<Directory, ReviewError> {
        let mut groups_of_user: HashMap<String, HashSet<String>> = HashMap::new();
        for membership in store.memberships(org)? {
            groups_of_user
                .entry(membership.user_id)
                .or_default()
                .insert(membership.group_id);
        }
        let mut app_groups: HashMap<String, HashSet<String>> = HashMap::new();
        let mut app_labels = HashMap::new();
        for app in store.apps(org)? {
            for row in store.app_groups(org, &app.id)? {
                app_groups
                    .entry(app.id.clone())
                    .or_default()
                    .insert(row.group_id);
            }
            app_labels.insert(app.id, app.label);
        }
        let app_users = store
            .all_app_users(org)?
            .into_iter()
            .map(|row| ((row.app_id, row.user_id), row.scope))
            .collect();
        let mut rules_of_group: HashMap<String, Vec<String>> = HashMap::new();
        for rule in store.group_rules(org)? {
            if rule.status != "ACTIVE" {
                continue;
            }
            for group_id in &rule.group_ids {
                rules_of_group
                    .entry(group_id.clone())
                    .or_default()
                    .push(rule.name.clone());
            }
        }
        Ok(Directory {
            groups: store
                .groups(org)?
                .into_iter()
                .map(|group| (group.id.clone(), group))
                .collect(),
            groups_of_user,
            app_groups,
            app_users,
            rules_of_group,
            app_labels,
        })
    }

    /// Returns the user's groups that are assigned to the app, sorted.
    fn granting_groups(&self, user_id: &str, app_id: &str) -> Vec<String> {
        let (Some(user_groups), Some(app_groups)) = (
            self.groups_of_user.get(user_id),
            self.app_groups.get(app_id),
        ) else {
            return Vec::new();
        };
        let mut groups: Vec<String> = user_groups.intersection(app_groups).cloned().collect();
        groups.sort();
        groups
    }

    fn group_name(&self, group_id: &str) -> String {
        self.groups
            .get(group_id)
            .map_or_else(|| group_id.to_string(), |group| group.name.clone())
    }
}

/// Plans the revocations of campaign `id` (the newest when `None`) from its
/// `revoke` decisions and the synced directory. Steps already verified by an
/// earlier run keep their stored state.
pub fn plan_remediation(store: &Store, id: Option<i64>) -> Result<RemediationPlan, ReviewError> {
    let campaign = store.campaign(id)?.ok_or(ReviewError::NoCampaign { id })?;
    let items = store.campaign_items(campaign.id)?;
    let decisions: HashMap<i64, String> = store
        .campaign_decisions(campaign.id)?
        .into_iter()
        .map(|decision| (decision.item_no, decision.decision))
        .collect();
    let directory = Directory::load(store, &campaign.org)?;
    let now = idaudit_store::format_time(chrono::Utc::now());

    let mut steps: BTreeMap<(String, String, String), Remediation> = BTreeMap::new();
    let mut add =
        |action: &str, target: &str, item: &CampaignItem, status: &str, detail: String| {
            let key = (item.user_id.clone(), action.to_string(), target.to_string());
            let step = steps.entry(key).or_insert_with(|| Remediation {
                action: action.to_string(),
                target_id: target.to_string(),
                user_id: item.user_id.clone(),
                item_nos: Vec::new(),
                status: status.to_string(),
                detail,
                proof: serde_json::Value::Null,
                updated_at: now.clone(),
            });
            step.item_nos.push(item.item_no);
        };

    for item in &items {
        if decisions.get(&item.item_no).map(String::as_str) != Some("revoke") {
            continue;
        }
        let key = (item.app_id.clone(), item.user_id.clone());
        let scope = directory.app_users.get(&key).map(String::as_str);
        let groups = directory.granting_groups(&item.user_id, &item.app_id);
        if scope == Some("USER") {
            let detail = format!(
                "Unassign `{}` from app `{}`",
                item.user_login, item.app_label
            );
            add(
                ACTION_UNASSIGN_APP,
                &item.app_id,
                item,
                STATUS_PLANNED,
                detail,
            );
        }
        for group_id in &groups {
            let (status, detail) = group_step(&directory, group_id, &item.user_login);
            add(ACTION_REMOVE_MEMBER, group_id, item, status, detail);
        }
        if scope.is_none() && groups.is_empty() {
            let detail = format!(
                "No assignment of `{}` to app `{}` in the last sync; check the app in Okta",
                item.user_login, item.app_label
            );
            add(ACTION_MANUAL, &item.app_id, item, STATUS_MANUAL, detail);
        }
    }

    let mut steps: Vec<Remediation> = steps.into_values().collect();
    block_conflicts(&mut steps, &items, &decisions, &directory);
    keep_verified(store, campaign.id, &mut steps)?;

    let user_logins = items
        .iter()
        .map(|item| (item.user_id.clone(), item.user_login.clone()))
        .collect();
    let mut target_names: HashMap<String, String> = directory.app_labels.clone();
    for group in directory.groups.values() {
        target_names.insert(group.id.clone(), group.name.clone());
    }
    Ok(RemediationPlan {
        campaign,
        steps,
        user_logins,
        target_names,
    })
}

/// Returns the status and description of removing a user from a group.
fn group_step(directory: &Directory, group_id: &str, user_login: &str) -> (&'static str, String) {
    let name = directory.group_name(group_id);
    let group_type = directory
        .groups
        .get(group_id)
        .map_or("OKTA_GROUP", |group| group.group_type.as_str());
    match group_type {
        "APP_GROUP" => (
            STATUS_MANUAL,
            format!(
                "Group `{name}` is imported from an app: remove `{user_login}` from it in its source directory"
            ),
        ),
        "BUILT_IN" => (
            STATUS_MANUAL,
            format!(
                "Group `{name}` is built in and cannot be changed: unassign it from the app or assign the app to a narrower group"
            ),
        ),
        _ => match directory.rules_of_group.get(group_id) {
            Some(rules) => (
                STATUS_MANUAL,
                format!(
                    "`{user_login}` is in group `{name}` through group rule `{}`: change the rule or the user's profile",
                    rules.join("`, `")
                ),
            ),
            None => (
                STATUS_PLANNED,
                format!("Remove `{user_login}` from group `{name}`"),
            ),
        },
    }
}

/// Blocks a group removal that would also revoke an app that a reviewer
/// decided to keep for the same user, unless the user reaches that app in
/// another way.
fn block_conflicts(
    steps: &mut [Remediation],
    items: &[CampaignItem],
    decisions: &HashMap<i64, String>,
    directory: &Directory,
) {
    let mut kept: HashMap<&str, Vec<&CampaignItem>> = HashMap::new();
    for item in items {
        if decisions.get(&item.item_no).map(String::as_str) == Some("keep") {
            kept.entry(&item.user_id).or_default().push(item);
        }
    }
    for step in steps.iter_mut() {
        if step.action != ACTION_REMOVE_MEMBER || step.status != STATUS_PLANNED {
            continue;
        }
        let mut conflicts = BTreeSet::new();
        for item in kept.get(step.user_id.as_str()).into_iter().flatten() {
            let through_this_group = directory
                .app_groups
                .get(&item.app_id)
                .is_some_and(|groups| groups.contains(&step.target_id));
            let key = (item.app_id.clone(), item.user_id.clone());
            let direct = directory.app_users.get(&key).map(String::as_str) == Some("USER");
            let other_groups = directory
                .granting_groups(&item.user_id, &item.app_id)
                .into_iter()
                .any(|group| group != step.target_id);
            if through_this_group && !direct && !other_groups {
                conflicts.insert(format!("`{}` (item {})", item.app_label, item.item_no));
            }
        }
        if !conflicts.is_empty() {
            step.status = STATUS_BLOCKED.to_string();
            step.detail = format!(
                "{}: it would also revoke {}, decided keep; settle the decisions or change the assignment in Okta",
                step.detail,
                conflicts.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
}

/// Replaces planned steps with their stored state when an earlier run verified them.
fn keep_verified(
    store: &Store,
    campaign_id: i64,
    steps: &mut Vec<Remediation>,
) -> Result<(), ReviewError> {
    let stored: HashMap<(String, String, String), Remediation> = store
        .campaign_remediations(campaign_id)?
        .into_iter()
        .map(|step| {
            (
                (
                    step.user_id.clone(),
                    step.action.clone(),
                    step.target_id.clone(),
                ),
                step,
            )
        })
        .collect();
    let planned: HashSet<(String, String, String)> = steps
        .iter()
        .map(|step| {
            (
                step.user_id.clone(),
                step.action.clone(),
                step.target_id.clone(),
            )
        })
        .collect();
    for step in steps.iter_mut() {
        let key = (
            step.user_id.clone(),
            step.action.clone(),
            step.target_id.clone(),
        );
        if let Some(done) = stored
            .get(&key)
            .filter(|done| done.status == STATUS_VERIFIED)
        {
            *step = done.clone();
        }
    }
    // A verified step stays in the record even when the next sync no longer
    // shows the access it removed.
    for (key, done) in stored {
        if done.status == STATUS_VERIFIED && !planned.contains(&key) {
            steps.push(done);
        }
    }
    Ok(())
}

/// Stores the plan's steps as they stand, without calling Okta.
pub fn record_plan(store: &Store, plan: &RemediationPlan) -> Result<(), ReviewError> {
    for step in &plan.steps {
        store.upsert_remediation(plan.campaign.id, step)?;
    }
    Ok(())
}

/// Makes every `planned` step through `client`, reads each change back to
/// verify it, and stores each step's outcome and proof as soon as it is known.
/// Returns the number of steps verified and failed.
pub async fn apply_remediation(
    store: &Store,
    client: &Client,
    plan: &mut RemediationPlan,
) -> Result<(usize, usize), ReviewError> {
    if plan.campaign.closed_at.is_some() {
        return Err(ReviewError::Closed {
            id: plan.campaign.id,
            closed_at: plan.campaign.closed_at.clone().unwrap_or_default(),
        });
    }
    let (mut verified, mut failed) = (0, 0);
    for step in plan.steps.iter_mut() {
        if step.status != STATUS_PLANNED && step.status != STATUS_FAILED {
            continue;
        }
        let login = plan
            .user_logins
            .get(&step.user_id)
            .cloned()
            .unwrap_or_else(|| step.user_id.clone());
        apply_step(client, step, &login).await;
        if step.status == STATUS_VERIFIED {
            verified += 1;
        } else {
            failed += 1;
        }
        store.upsert_remediation(plan.campaign.id, step)?;
    }
    Ok((verified, failed))
}

/// Makes one step and verifies it, recording the proof in the step.
async fn apply_step(client: &Client, step: &mut Remediation, login: &str) {
    let path = match step.action.as_str() {
        ACTION_REMOVE_MEMBER => format!("/api/v1/groups/{}/users/{}", step.target_id, step.user_id),
        _ => format!("/api/v1/apps/{}/users/{}", step.target_id, step.user_id),
    };
    let requested_at = idaudit_store::format_time(chrono::Utc::now());
    let request = match client.delete(&path).await {
        Ok(deleted) => json!({
            "method": "DELETE",
            "url": deleted.url,
            "status": deleted.status,
            "request_id": deleted.request_id,
            "at": requested_at,
        }),
        // Unassigning an app user that is no longer assigned answers 404.
        Err(idaudit_okta::Error::Api(error))
            if error.status.as_u16() == 404 && step.action == ACTION_UNASSIGN_APP =>
        {
            json!({
                "method": "DELETE",
                "url": client.url(&path),
                "status": 404,
                "request_id": error.request_id,
                "at": requested_at,
                "note": "Okta reported no such assignment",
            })
        }
        Err(error) => {
            tracing::warn!(action = step.action, target = step.target_id, user = step.user_id, error = %error, "Remediation step failed");
            step.status = STATUS_FAILED.to_string();
            step.detail = format!("{}: {}", step.detail, error_chain(&error));
            step.proof = json!({"request": {"method": "DELETE", "url": client.url(&path), "at": requested_at}});
            step.updated_at = idaudit_store::format_time(chrono::Utc::now());
            return;
        }
    };

    let verification = verify_step(client, step, login).await;
    let still_present = verification["still_present"].as_bool();
    step.status = match still_present {
        Some(false) => STATUS_VERIFIED,
        _ => STATUS_FAILED,
    }
    .to_string();
    step.proof = json!({"request": request, "verification": verification});
    step.updated_at = idaudit_store::format_time(chrono::Utc::now());
}

/// Reads the user's access back from Okta and reports whether the step's
/// access is still there.
async fn verify_step(client: &Client, step: &Remediation, login: &str) -> serde_json::Value {
    let at = idaudit_store::format_time(chrono::Utc::now());
    let (path, outcome) = if step.action == ACTION_REMOVE_MEMBER {
        let path = format!("/api/v1/users/{}/groups", step.user_id);
        let outcome = client.list_all(&path).await.map(|groups| {
            groups
                .iter()
                .any(|group| group["id"].as_str() == Some(&step.target_id))
        });
        (path, outcome)
    } else {
        // The app user listing's `q` matches the start of the user name,
        // which narrows the read to this user without another endpoint.
        let path = format!(
            "/api/v1/apps/{}/users?limit=500&q={}",
            step.target_id,
            url_component(login)
        );
        let outcome = client.list_all(&path).await.map(|users| {
            users.iter().any(|user| {
                user["id"].as_str() == Some(&step.user_id) && user["scope"].as_str() == Some("USER")
            })
        });
        (path, outcome)
    };
    match outcome {
        Ok(still_present) => json!({
            "method": "GET",
            "url": client.url(&path),
            "at": at,
            "still_present": still_present,
        }),
        Err(error) => json!({
            "method": "GET",
            "url": client.url(&path),
            "at": at,
            "error": error_chain(&error),
        }),
    }
}

/// Percent-encodes a query value.
fn url_component(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Formats an error with its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::url_component;

    #[test]
    fn query_values_encoded() {
        assert_eq!(url_component("a.b@example.com"), "a.b%40example.com");
        assert_eq!(url_component("x y&z"), "x%20y%26z");
    }
}
