//! Review campaigns: an immutable snapshot of the entitlements under review,
//! one item per user and app, each with the reviewer it goes to, then the
//! reviewers' decisions, the remediation steps with their proof, and the
//! closing of the campaign.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::{Result, Store};

/// A review campaign as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub org: String,
    pub created_at: String,
    /// The campaign's scope, such as the app ids, as JSON.
    pub scope: serde_json::Value,
    /// When the campaign was closed, if it was.
    #[serde(default)]
    pub closed_at: Option<String>,
    /// The last hash of the auditor package's manifest chain, once closed.
    #[serde(default)]
    pub package_root: Option<String>,
    /// The SHA-256 of the auditor package's zip, once closed.
    #[serde(default)]
    pub package_zip_sha256: Option<String>,
}

/// One entitlement under review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignItem {
    pub item_no: i64,
    pub reviewer_id: Option<String>,
    pub reviewer_login: String,
    pub reviewer_name: String,
    pub user_id: String,
    pub user_login: String,
    pub user_name: String,
    pub user_status: String,
    pub app_id: String,
    pub app_label: String,
    /// `USER` for a direct assignment, `GROUP` for one through a group.
    pub grant_type: String,
    /// Names of the groups that grant the app, when `grant_type` is `GROUP`.
    pub granting_groups: Vec<String>,
    /// Risk flags such as `deactivated-still-assigned`.
    pub flags: Vec<String>,
    /// `keep` or `revoke`.
    pub suggestion: String,
    pub reason: String,
    #[serde(default)]
    pub details: ItemDetails,
}

/// What an item records beyond the reviewer, user and app.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemDetails {
    /// Ids of the groups that grant the app, in the order of `granting_groups`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granting_group_ids: Vec<String>,
    /// Names of the active group rules that add the user to a granting group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_rules: Vec<String>,
    /// When the user got the access, if the recorded history covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The user's last sign-in to Okta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in: Option<String>,
    /// The user's last successful SSO into the app, from the System Log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sso: Option<String>,
}

/// A reviewer's decision on one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignDecision {
    pub item_no: i64,
    /// `keep` or `revoke`.
    pub decision: String,
    pub reviewer_login: String,
    pub decided_at: String,
    /// The imported file and its SHA-256, such as `decisions.xlsx sha256:ab12…`.
    pub source: String,
}

/// One revocation step of a campaign and its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    /// `remove-group-member` or `unassign-app-user`, or `manual` for a step
    /// that idaudit does not make.
    pub action: String,
    /// The group or app the user loses.
    pub target_id: String,
    pub user_id: String,
    /// The items this step revokes.
    pub item_nos: Vec<i64>,
    /// `planned`, `verified`, `failed`, `blocked` or `manual`.
    pub status: String,
    /// What the step does, or why it failed or was not made.
    pub detail: String,
    /// The request, Okta's request id and the read that verified the change.
    pub proof: serde_json::Value,
    pub updated_at: String,
}
impl Store {
    /// Stores a new campaign with its items in one transaction and returns its id.
    pub fn create_campaign(
        &mut self,
        name: &str,
        org: &str,
        scope: &serde_json::Value,
        items: &[CampaignItem],
    ) -> Result<i64> {
        self.create_campaign_from(name, org, scope, items)
    }

    /// Stores a new campaign with the items that `items` yields, in one
    /// transaction, and returns its id. Each item is written as it arrives,
    /// so the caller never needs every item in memory at once.
    pub fn create_campaign_from<I>(
        &mut self,
        name: &str,
        org: &str,
        scope: &serde_json::Value,
        items: I,
    ) -> Result<i64>
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<CampaignItem>,
    {
        let transaction = self.connection.transaction()?;
        transaction.execute(
            "INSERT INTO campaigns (name, org, created_at, scope) VALUES (?1, ?2, ?3, ?4)",
            params![
                name,
                org,
                crate::format_time(chrono::Utc::now()),
                scope.to_string()
            ],
        )?;
        let campaign_id = transaction.last_insert_rowid();
        {
            let mut insert = transaction.prepare(
                "INSERT INTO campaign_items (campaign_id, item_no, reviewer_id, reviewer_login,
                    reviewer_name, user_id, user_login, user_name, user_status, app_id, app_label,
                    grant_type, granting_groups, flags, suggestion, reason, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17)",
            )?;
            for item in items {
                let item = std::borrow::Borrow::<CampaignItem>::borrow(&item);
                insert.execute(params![
                    campaign_id,
                    item.item_no,
                    item.reviewer_id,
                    item.reviewer_login,
                    item.reviewer_name,
                    item.user_id,
                    item.user_login,
                    item.user_name,
                    item.user_status,
                    item.app_id,
                    item.app_label,
                    item.grant_type,
                    serde_json::to_string(&item.granting_groups)?,
                    serde_json::to_string(&item.flags)?,
                    item.suggestion,
                    item.reason,
                    serde_json::to_string(&item.details)?,
                ])?;
            }
        }
        transaction.commit()?;
        Ok(campaign_id)
    }

    /// Returns the campaign with `id`, or the newest one when `id` is `None`.
    pub fn campaign(&self, id: Option<i64>) -> Result<Option<Campaign>> {
        let found = self
            .connection
            .query_row(
                "SELECT id, name, org, created_at, scope, closed_at, package_root,
                        package_zip_sha256
                 FROM campaigns
                 WHERE (?1 IS NULL OR id = ?1) ORDER BY id DESC LIMIT 1",
                [id],
                |row| {
                    Ok((
                        Campaign {
                            id: row.get(0)?,
                            name: row.get(1)?,
                            org: row.get(2)?,
                            created_at: row.get(3)?,
                            scope: serde_json::Value::Null,
                            closed_at: row.get(5)?,
                            package_root: row.get(6)?,
                            package_zip_sha256: row.get(7)?,
                        },
                        row.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((mut campaign, scope)) = found else {
            return Ok(None);
        };
        campaign.scope = serde_json::from_str(&scope)?;
        Ok(Some(campaign))
    }

    /// Returns the items of a campaign in item order.
    pub fn campaign_items(&self, campaign_id: i64) -> Result<Vec<CampaignItem>> {
        let mut items = Vec::new();
        self.for_each_campaign_item(campaign_id, ItemOrder::ItemNo, |item| {
            items.push(item);
            Ok::<_, crate::Error>(())
        })?;
        Ok(items)
    }

    /// Passes the items of a campaign to `each` one at a time, in `order`,
    /// so that a caller can write them out without holding them all. Stops at
    /// the first error that `each` returns.
    pub fn for_each_campaign_item<E>(
        &self,
        campaign_id: i64,
        order: ItemOrder,
        mut each: impl FnMut(CampaignItem) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<crate::Error>,
    {
        // NOTE: no index covers `reviewer_login`, so `ItemOrder::Reviewer`
        // makes SQLite sort the campaign's rows in a temporary B-tree.
        let order_by = match order {
            ItemOrder::ItemNo => "item_no",
            ItemOrder::Reviewer => "reviewer_login, item_no",
        };
        let sql = format!(
            "SELECT item_no, reviewer_id, reviewer_login, reviewer_name, user_id, user_login,
                    user_name, user_status, app_id, app_label, grant_type, granting_groups,
                    flags, suggestion, reason, details
             FROM campaign_items WHERE campaign_id = ?1 ORDER BY {order_by}"
        );
        let mut statement = self
            .connection
            .prepare(&sql)
            .map_err(|error| E::from(error.into()))?;
        let mut rows = statement
            .query([campaign_id])
            .map_err(|error| E::from(error.into()))?;
        while let Some(row) = rows.next().map_err(|error| E::from(error.into()))? {
            let item = read_item(row).map_err(E::from)?;
            each(item)?;
        }
        Ok(())
    }

    /// Stores decisions of a campaign in one transaction, replacing earlier
    /// decisions on the same items.
    pub fn record_decisions(
        &mut self,
        campaign_id: i64,
        decisions: &[CampaignDecision],
    ) -> Result<()> {
        let transaction = self.connection.transaction()?;
        {
            let mut upsert = transaction.prepare(
                "INSERT INTO campaign_decisions
                    (campaign_id, item_no, decision, reviewer_login, decided_at, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (campaign_id, item_no) DO UPDATE SET
                    decision = excluded.decision, reviewer_login = excluded.reviewer_login,
                    decided_at = excluded.decided_at, source = excluded.source",
            )?;
            for decision in decisions {
                upsert.execute(params![
                    campaign_id,
                    decision.item_no,
                    decision.decision,
                    decision.reviewer_login,
                    decision.decided_at,
                    decision.source,
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Returns the decisions of a campaign in item order.
    pub fn campaign_decisions(&self, campaign_id: i64) -> Result<Vec<CampaignDecision>> {
        let mut statement = self.connection.prepare(
            "SELECT item_no, decision, reviewer_login, decided_at, source
             FROM campaign_decisions WHERE campaign_id = ?1 ORDER BY item_no",
        )?;
        let rows = statement.query_map([campaign_id], |row| {
            Ok(CampaignDecision {
                item_no: row.get(0)?,
                decision: row.get(1)?,
                reviewer_login: row.get(2)?,
                decided_at: row.get(3)?,
                source: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a remediation step, replacing the stored state of the same step.
    pub fn upsert_remediation(&self, campaign_id: i64, step: &Remediation) -> Result<()> {
        self.connection.execute(
            "INSERT INTO campaign_remediations (campaign_id, action, target_id, user_id,
                item_nos, status, detail, proof, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (campaign_id, action, target_id, user_id) DO UPDATE SET
                item_nos = excluded.item_nos, status = excluded.status,
                detail = excluded.detail, proof = excluded.proof,
                updated_at = excluded.updated_at",
            params![
                campaign_id,
                step.action,
                step.target_id,
                step.user_id,
                serde_json::to_string(&step.item_nos)?,
                step.status,
                step.detail,
                step.proof.to_string(),
                step.updated_at,
            ],
        )?;
        Ok(())
    }

    /// Returns the stored remediation steps of a campaign.
    pub fn campaign_remediations(&self, campaign_id: i64) -> Result<Vec<Remediation>> {
        let mut statement = self.connection.prepare(
            "SELECT action, target_id, user_id, item_nos, status, detail, proof, updated_at
             FROM campaign_remediations WHERE campaign_id = ?1
             ORDER BY user_id, action, target_id",
        )?;
        let rows = statement.query_map([campaign_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
            ))
        })?;
        let mut steps = Vec::new();
        for row in rows {
            let (action, target_id, user_id, item_nos, status, detail, proof, updated_at) = row?;
            steps.push(Remediation {
                action,
                target_id,
                user_id,
                item_nos: serde_json::from_str(&item_nos)?,
                status,
                detail,
                proof: serde_json::from_str(&proof)?,
                updated_at,
            });
        }
        Ok(steps)
    }

    /// Marks a campaign closed, with the hashes of its auditor package.
    pub fn close_campaign(
        &self,
        campaign_id: i64,
        closed_at: &str,
        package_root: &str,
        package_zip_sha256: &str,
    ) -> Result<()> {
        self.connection.execute(
            "UPDATE campaigns SET closed_at = ?2, package_root = ?3, package_zip_sha256 = ?4
             WHERE id = ?1",
            params![campaign_id, closed_at, package_root, package_zip_sha256],
        )?;
        Ok(())
    }

    /// Returns, for each (user id, app id), when the recorded history last
    /// shows the app assignment added, for the "since" of review items.
    pub fn app_assignment_since(
        &self,
        org: &str,
    ) -> Result<std::collections::HashMap<(String, String), String>> {
        let mut statement = self.connection.prepare(
            "SELECT subject_id, object_id, MAX(time) FROM changes
             WHERE org = ?1 AND kind = 'app_assignment' AND action = 'added'
             GROUP BY subject_id, object_id",
        )?;
        let rows =
            statement.query_map([org], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns, for each (user id, app id), the time of the user's latest
    /// successful `user.authentication.sso` into the app among stored events.
    pub fn last_sso_by_user_and_app(
        &self,
        org: &str,
    ) -> Result<std::collections::HashMap<(String, String), String>> {
        let mut statement = self.connection.prepare(
            "SELECT events.actor_id, json_extract(target.value, '$.id'), MAX(events.published)
             FROM events, json_each(events.raw, '$.target') target
             WHERE events.org = ?1 AND events.event_type = 'user.authentication.sso'
               AND events.outcome_result = 'SUCCESS' AND events.actor_id IS NOT NULL
               AND json_extract(target.value, '$.type') = 'AppInstance'
             GROUP BY 1, 2",
        )?;
        let rows =
            statement.query_map([org], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns when the last sync of `org` finished, if one was recorded.
    pub fn last_sync_finished(&self, org: &str) -> Result<Option<String>> {
        Ok(self
            .connection
            .query_row(
                "SELECT MAX(finished) FROM sync_runs WHERE org = ?1",
                [org],
                |row| row.get(0),
            )
            .optional()?
            .flatten())
    }
}

/// The order in which [`Store::for_each_campaign_item`] passes items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemOrder {
    /// By item number, the order of the primary key.
    ItemNo,
    /// By reviewer login (bytewise), then item number.
    Reviewer,
}

/// Reads one row of the item query of [`Store::for_each_campaign_item`].
fn read_item(row: &rusqlite::Row<'_>) -> Result<CampaignItem> {
    let groups: String = row.get(11)?;
    let flags: String = row.get(12)?;
    let details: String = row.get(15)?;
    Ok(CampaignItem {
        item_no: row.get(0)?,
        reviewer_id: row.get(1)?,
        reviewer_login: row.get(2)?,
        reviewer_name: row.get(3)?,
        user_id: row.get(4)?,
        user_login: row.get(5)?,
        user_name: row.get(6)?,
        user_status: row.get(7)?,
        app_id: row.get(8)?,
        app_label: row.get(9)?,
        grant_type: row.get(10)?,
        granting_groups: serde_json::from_str(&groups)?,
        flags: serde_json::from_str(&flags)?,
        suggestion: row.get(13)?,
        reason: row.get(14)?,
        details: serde_json::from_str(&details)?,
    })
}
