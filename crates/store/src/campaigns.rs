//! Review campaigns: an immutable snapshot of the entitlements under review,
//! one item per user and app, each with the reviewer it goes to.

use rusqlite::params;
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
                    grant_type, granting_groups, flags, suggestion, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            for item in items {
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
                ])?;
            }
        }
        transaction.commit()?;
        Ok(campaign_id)
    }

    /// Returns the campaign with `id`, or the newest one when `id` is `None`.
    pub fn campaign(&self, id: Option<i64>) -> Result<Option<Campaign>> {
        use rusqlite::OptionalExtension;
        let found = self
            .connection
            .query_row(
                "SELECT id, name, org, created_at, scope FROM campaigns
                 WHERE (?1 IS NULL OR id = ?1) ORDER BY id DESC LIMIT 1",
                [id],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, name, org, created_at, scope)) = found else {
            return Ok(None);
        };
        Ok(Some(Campaign {
            id,
            name,
            org,
            created_at,
            scope: serde_json::from_str(&scope)?,
        }))
    }

    /// Returns the items of a campaign in item order.
    pub fn campaign_items(&self, campaign_id: i64) -> Result<Vec<CampaignItem>> {
        let mut statement = self.connection.prepare(
            "SELECT item_no, reviewer_id, reviewer_login, reviewer_name, user_id, user_login,
                    user_name, user_status, app_id, app_label, grant_type, granting_groups,
                    flags, suggestion, reason
             FROM campaign_items WHERE campaign_id = ?1 ORDER BY item_no",
        )?;
        let rows = statement.query_map([campaign_id], |row| {
            Ok((
                CampaignItem {
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
                    granting_groups: Vec::new(),
                    flags: Vec::new(),
                    suggestion: row.get(13)?,
                    reason: row.get(14)?,
                },
                row.get::<_, String>(11)?,
                row.get::<_, String>(12)?,
            ))
        })?;
        let mut items = Vec::new();
        for row in rows {
            let (mut item, groups, flags) = row?;
            item.granting_groups = serde_json::from_str(&groups)?;
            item.flags = serde_json::from_str(&flags)?;
            items.push(item);
        }
        Ok(items)
    }
}
