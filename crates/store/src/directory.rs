//! The directory tables: users, groups, memberships, apps and assignments.
//!
//! A full sync hands over a [`DirectorySnapshot`] of one org, which replaces
//! that org's rows in one transaction, so a reader never sees half a sync.
//! An incremental sync hands over a [`crate::DirectoryUpdate`] instead.

use rusqlite::{Row, params};
use serde::Serialize;

use crate::access::{FactorRow, GroupOwnerRow, GroupRuleRow, RoleAssignmentRow};
use crate::history::{Change, History};
use crate::write::Writer;
use crate::{Result, Store};

/// A user as stored; `raw` is the Okta JSON object as received.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UserRow {
    pub id: String,
    pub status: String,
    pub login: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub manager_id: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub created: Option<String>,
    pub last_login: Option<String>,
    pub last_updated: Option<String>,
    pub status_changed: Option<String>,
    #[serde(skip)]
    pub raw: String,
}

impl UserRow {
    /// Returns "First Last", or the display name, or the login.
    pub fn full_name(&self) -> String {
        if let Some(name) = self.display_name.as_deref().filter(|name| !name.is_empty()) {
            return name.to_string();
        }
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .collect();
        if parts.is_empty() {
            self.login.clone()
        } else {
            parts.join(" ")
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupRow {
    pub id: String,
    pub group_type: String,
    pub name: String,
    pub description: Option<String>,
    pub last_updated: Option<String>,
    pub last_membership_updated: Option<String>,
    #[serde(skip)]
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Membership {
    pub group_id: String,
    pub user_id: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct AppRow {
    pub id: String,
    pub name: String,
    pub label: String,
    pub status: String,
    pub sign_on_mode: Option<String>,
    #[serde(skip)]
    pub raw: String,
}

/// A row of `/apps/{id}/users`: scope `USER` is direct, `GROUP` through a group.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AppUserRow {
    pub app_id: String,
    pub user_id: String,
    pub scope: String,
    pub status: Option<String>,
    pub user_name: Option<String>,
    pub created: Option<String>,
    /// The group that grants a `GROUP`-scoped assignment, from `_links.group`.
    pub granting_group_id: Option<String>,
    #[serde(skip)]
    pub raw: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct AppGroupRow {
    pub app_id: String,
    pub group_id: String,
    pub priority: Option<i64>,
    #[serde(skip)]
    pub raw: String,
}

/// Everything a full directory sync read from one org.
#[derive(Clone, Debug, Default)]
pub struct DirectorySnapshot {
    pub users: Vec<UserRow>,
    pub groups: Vec<GroupRow>,
    pub memberships: Vec<Membership>,
    pub apps: Vec<AppRow>,
    pub app_users: Vec<AppUserRow>,
    pub app_groups: Vec<AppGroupRow>,
    pub role_assignments: Vec<RoleAssignmentRow>,
    pub factors: Vec<FactorRow>,
    pub group_rules: Vec<GroupRuleRow>,
    pub group_owners: Vec<GroupOwnerRow>,
    /// Leaves the stored role assignments as they are, because the sync
    /// could not read roles (the token lacks `okta.roles.read`).
    pub keep_role_assignments: bool,
}

/// Row counts of one org's directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectoryCounts {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    pub apps: u64,
    pub app_users: u64,
    pub app_groups: u64,
    pub role_assignments: u64,
    pub factors: u64,
    pub group_rules: u64,
    pub group_owners: u64,
}

pub(crate) const DIRECTORY_TABLES: &[&str] = &[
    "users",
    "groups",
    "memberships",
    "apps",
    "app_user_assignments",
    "app_group_assignments",
    "role_assignments",
    "factors",
    "group_rules",
    "group_owners",
];

impl Store {
    /// Replaces the stored directory of `org` with `snapshot`, in one
    /// transaction, without recording changes.
    pub fn replace_directory(&mut self, org: &str, snapshot: &DirectorySnapshot) -> Result<()> {
        self.replace_directory_with_history(org, snapshot, History::Off, &[])?;
        Ok(())
    }

    /// Replaces the stored directory of `org` with `snapshot` and records
    /// what changed, with `state` entries (such as the sync cursor), all in
    /// one transaction.
    pub fn replace_directory_with_history(
        &mut self,
        org: &str,
        snapshot: &DirectorySnapshot,
        history: History<'_>,
        state: &[(&str, &str)],
    ) -> Result<Vec<Change>> {
        self.write_with_history(org, history, state, |transaction| {
            for table in DIRECTORY_TABLES {
                if *table == "role_assignments" && snapshot.keep_role_assignments {
                    continue;
                }
                transaction.execute(&format!("DELETE FROM {table} WHERE org = ?1"), [org])?;
            }
            let writer = Writer {
                transaction,
                org,
                tables: "",
            };
            writer.users(&snapshot.users)?;
            writer.groups(&snapshot.groups)?;
            writer.memberships(&snapshot.memberships)?;
            writer.apps(&snapshot.apps)?;
            writer.app_users(&snapshot.app_users)?;
            writer.app_groups(&snapshot.app_groups)?;
            writer.role_assignments(&snapshot.role_assignments)?;
            writer.factors(&snapshot.factors)?;
            writer.group_rules(&snapshot.group_rules)?;
            writer.group_owners(&snapshot.group_owners)?;
            Ok(())
        })
    }

    /// Counts the stored directory rows of `org`.
    pub fn directory_counts(&self, org: &str) -> Result<DirectoryCounts> {
        let count = |table: &str| -> Result<u64> {
            Ok(self.connection.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE org = ?1"),
                [org],
                |row| row.get(0),
            )?)
        };
        Ok(DirectoryCounts {
            users: count("users")?,
            groups: count("groups")?,
            memberships: count("memberships")?,
            apps: count("apps")?,
            app_users: count("app_user_assignments")?,
            app_groups: count("app_group_assignments")?,
            role_assignments: count("role_assignments")?,
            factors: count("factors")?,
            group_rules: count("group_rules")?,
            group_owners: count("group_owners")?,
        })
    }

    /// Returns the orgs that have a synced directory, in name order.
    pub fn orgs(&self) -> Result<Vec<String>> {
        let mut statement = self
            .connection
            .prepare("SELECT DISTINCT org FROM users ORDER BY org")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every user of `org`, ordered by login.
    pub fn users(&self, org: &str) -> Result<Vec<UserRow>> {
        let mut statement = self.connection.prepare(
            "SELECT id, status, login, email, first_name, last_name, display_name, manager_id,
                    department, title, created, last_login, last_updated, status_changed, raw
             FROM users WHERE org = ?1 ORDER BY login",
        )?;
        let rows = statement.query_map([org], read_user)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every group of `org`, ordered by name.
    pub fn groups(&self, org: &str) -> Result<Vec<GroupRow>> {
        let mut statement = self.connection.prepare(
            "SELECT id, type, name, description, last_updated, last_membership_updated, raw
             FROM groups WHERE org = ?1 ORDER BY name, id",
        )?;
        let rows = statement.query_map([org], |row| {
            Ok(GroupRow {
                id: row.get(0)?,
                group_type: row.get(1)?,
                name: row.get(2)?,
                description: row.get(3)?,
                last_updated: row.get(4)?,
                last_membership_updated: row.get(5)?,
                raw: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every group membership of `org`.
    pub fn memberships(&self, org: &str) -> Result<Vec<Membership>> {
        let mut statement = self.connection.prepare(
            "SELECT group_id, user_id FROM memberships WHERE org = ?1 ORDER BY group_id, user_id",
        )?;
        let rows = statement.query_map([org], |row| {
            Ok(Membership {
                group_id: row.get(0)?,
                user_id: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every app of `org`, ordered by label.
    pub fn apps(&self, org: &str) -> Result<Vec<AppRow>> {
        let mut statement = self.connection.prepare(
            "SELECT id, name, label, status, sign_on_mode, raw
             FROM apps WHERE org = ?1 ORDER BY label, id",
        )?;
        let rows = statement.query_map([org], |row| {
            Ok(AppRow {
                id: row.get(0)?,
                name: row.get(1)?,
                label: row.get(2)?,
                status: row.get(3)?,
                sign_on_mode: row.get(4)?,
                raw: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns the user assignments of one app.
    pub fn app_users(&self, org: &str, app_id: &str) -> Result<Vec<AppUserRow>> {
        let mut statement = self.connection.prepare(
            "SELECT app_id, user_id, scope, status, user_name, created, granting_group_id, raw
             FROM app_user_assignments WHERE org = ?1 AND app_id = ?2 ORDER BY user_id",
        )?;
        let rows = statement.query_map([org, app_id], read_app_user)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns the group assignments of one app.
    pub fn app_groups(&self, org: &str, app_id: &str) -> Result<Vec<AppGroupRow>> {
        let mut statement = self.connection.prepare(
            "SELECT app_id, group_id, priority, raw
             FROM app_group_assignments WHERE org = ?1 AND app_id = ?2 ORDER BY priority, group_id",
        )?;
        let rows = statement.query_map([org, app_id], |row| {
            Ok(AppGroupRow {
                app_id: row.get(0)?,
                group_id: row.get(1)?,
                priority: row.get(2)?,
                raw: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records a finished sync run with its summary as JSON.
    pub fn record_sync_run(
        &self,
        org: &str,
        kind: &str,
        started: &str,
        finished: &str,
        summary: &serde_json::Value,
    ) -> Result<()> {
        self.connection.execute(
            "INSERT INTO sync_runs (org, kind, started, finished, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![org, kind, started, finished, summary.to_string()],
        )?;
        Ok(())
    }
}

pub(crate) fn read_app_user(row: &Row<'_>) -> rusqlite::Result<AppUserRow> {
    Ok(AppUserRow {
        app_id: row.get(0)?,
        user_id: row.get(1)?,
        scope: row.get(2)?,
        status: row.get(3)?,
        user_name: row.get(4)?,
        created: row.get(5)?,
        granting_group_id: row.get(6)?,
        raw: row.get(7)?,
    })
}

pub(crate) fn read_user(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        status: row.get(1)?,
        login: row.get(2)?,
        email: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
        display_name: row.get(6)?,
        manager_id: row.get(7)?,
        department: row.get(8)?,
        title: row.get(9)?,
        created: row.get(10)?,
        last_login: row.get(11)?,
        last_updated: row.get(12)?,
        status_changed: row.get(13)?,
        raw: row.get(14)?,
    })
}
