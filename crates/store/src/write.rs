//! Writing directory rows: the inserts shared by a full replacement and an
//! incremental [`DirectoryUpdate`], into the stored or the staging tables.

use rusqlite::{Connection, params};

use crate::access::{FactorRow, GroupOwnerRow, GroupRuleRow, RoleAssignmentRow};
use crate::{AppGroupRow, AppRow, AppUserRow, GroupRow, Membership, Result, UserRow};

/// The part of one org's directory that an incremental sync read again.
///
/// Each `(id, rows)` pair replaces everything stored under that owner: the
/// members of a group, the assignments of an app, the roles of a user or
/// group, the factors of a user, the owners of a group. Users and groups are
/// upserted. A deleted user, group or app is removed with every row that
/// names it. Lists too large to hold in memory, such as the assignments of
/// an app assigned to everyone, go through [`crate::UpdateStaging`] instead.
#[derive(Clone, Debug, Default)]
pub struct DirectoryUpdate {
    pub users: Vec<UserRow>,
    pub groups: Vec<GroupRow>,
    /// The complete app listing, when it was read; apps missing from it are deleted.
    pub apps: Option<Vec<AppRow>>,
    /// The complete rule listing, when it was read.
    pub group_rules: Option<Vec<GroupRuleRow>>,
    pub deleted_users: Vec<String>,
    pub deleted_groups: Vec<String>,
    pub deleted_apps: Vec<String>,
    pub group_members: Vec<(String, Vec<String>)>,
    pub app_users: Vec<(String, Vec<AppUserRow>)>,
    pub app_groups: Vec<(String, Vec<AppGroupRow>)>,
    pub user_roles: Vec<(String, Vec<RoleAssignmentRow>)>,
    pub group_roles: Vec<(String, Vec<RoleAssignmentRow>)>,
    pub user_factors: Vec<(String, Vec<FactorRow>)>,
    pub group_owners: Vec<(String, Vec<GroupOwnerRow>)>,
}

/// Inserts rows of one org inside an open transaction.
pub(crate) struct Writer<'a> {
    /// The open transaction, seen through its connection.
    pub transaction: &'a Connection,
    pub org: &'a str,
    /// Prefix of the table names: empty for the stored directory,
    /// [`STAGED`] for the staging tables of a sync.
    pub tables: &'a str,
}

/// Prefix of the temporary tables that a sync fills before it writes their
/// contents to the stored directory.
pub(crate) const STAGED: &str = "temp.staged_";

impl Writer<'_> {
    /// Writes `update`: deletions first, then upserts, then the rows that
    /// replace what is stored under each owner.
    pub(crate) fn apply(&self, update: &DirectoryUpdate) -> Result<()> {
        for user_id in &update.deleted_users {
            self.delete_user(user_id)?;
        }
        for group_id in &update.deleted_groups {
            self.delete_group(group_id)?;
        }
        let mut deleted_apps = update.deleted_apps.clone();
        if let Some(apps) = &update.apps {
            deleted_apps.extend(self.apps_missing_from(apps)?);
            self.apps(apps)?;
        }
        for app_id in &deleted_apps {
            self.delete_app(app_id)?;
        }
        self.users(&update.users)?;
        self.groups(&update.groups)?;
        if let Some(rules) = &update.group_rules {
            self.delete_where("group_rules", "1", "")?;
            self.group_rules(rules)?;
        }

        for (group_id, members) in &update.group_members {
            self.delete_where("memberships", "group_id = ?2", group_id)?;
            let rows: Vec<Membership> = members
                .iter()
                .map(|user_id| Membership {
                    group_id: group_id.clone(),
                    user_id: user_id.clone(),
                })
                .collect();
            self.memberships(&rows)?;
        }
        for (app_id, rows) in &update.app_users {
            self.delete_where("app_user_assignments", "app_id = ?2", app_id)?;
            self.app_users(rows)?;
        }
        for (app_id, rows) in &update.app_groups {
            self.delete_where("app_group_assignments", "app_id = ?2", app_id)?;
            self.app_groups(rows)?;
        }
        for (user_id, rows) in &update.user_roles {
            let condition = "assignee_type = 'USER' AND assignee_id = ?2";
            self.delete_where("role_assignments", condition, user_id)?;
            self.role_assignments(rows)?;
        }
        for (group_id, rows) in &update.group_roles {
            let condition = "assignee_type = 'GROUP' AND assignee_id = ?2";
            self.delete_where("role_assignments", condition, group_id)?;
            self.role_assignments(rows)?;
        }
        for (user_id, rows) in &update.user_factors {
            self.delete_where("factors", "user_id = ?2", user_id)?;
            self.factors(rows)?;
        }
        for (group_id, rows) in &update.group_owners {
            self.delete_where("group_owners", "group_id = ?2", group_id)?;
            self.group_owners(rows)?;
        }
        Ok(())
    }

    /// Deletes the rows of `table` in this org that match `condition`, in
    /// which `?2` is `value`. The table and condition are constants of this module.
    fn delete_where(&self, table: &str, condition: &str, value: &str) -> Result<()> {
        let sql = format!("DELETE FROM {table} WHERE org = ?1 AND {condition}");
        if condition.contains("?2") {
            self.transaction.execute(&sql, params![self.org, value])?;
        } else {
            self.transaction.execute(&sql, params![self.org])?;
        }
        Ok(())
    }

    fn delete_user(&self, user_id: &str) -> Result<()> {
        self.delete_where("users", "id = ?2", user_id)?;
        self.delete_where("memberships", "user_id = ?2", user_id)?;
        self.delete_where("app_user_assignments", "user_id = ?2", user_id)?;
        let condition = "assignee_type = 'USER' AND assignee_id = ?2";
        self.delete_where("role_assignments", condition, user_id)?;
        self.delete_where("factors", "user_id = ?2", user_id)?;
        self.delete_where("group_owners", "owner_id = ?2", user_id)
    }

    fn delete_group(&self, group_id: &str) -> Result<()> {
        self.delete_where("groups", "id = ?2", group_id)?;
        self.delete_where("memberships", "group_id = ?2", group_id)?;
        self.delete_where("app_group_assignments", "group_id = ?2", group_id)?;
        let condition = "assignee_type = 'GROUP' AND assignee_id = ?2";
        self.delete_where("role_assignments", condition, group_id)?;
        self.delete_where("group_owners", "group_id = ?2", group_id)
    }

    fn delete_app(&self, app_id: &str) -> Result<()> {
        self.delete_where("apps", "id = ?2", app_id)?;
        self.delete_where("app_user_assignments", "app_id = ?2", app_id)?;
        self.delete_where("app_group_assignments", "app_id = ?2", app_id)
    }

    fn apps_missing_from(&self, apps: &[AppRow]) -> Result<Vec<String>> {
        let listed: std::collections::HashSet<&str> =
            apps.iter().map(|app| app.id.as_str()).collect();
        let mut statement = self
            .transaction
            .prepare("SELECT id FROM apps WHERE org = ?1")?;
        let stored = statement.query_map([self.org], |row| row.get::<_, String>(0))?;
        let mut missing = Vec::new();
        for id in stored {
            let id = id?;
            if !listed.contains(id.as_str()) {
                missing.push(id);
            }
        }
        Ok(missing)
    }

    pub fn users(&self, users: &[UserRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}users (org, id, status, login, email, first_name, last_name,
                display_name, manager_id, department, title, created, last_login,
                last_updated, status_changed, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            prefix = self.tables
        ))?;
        for user in users {
            insert.execute(params![
                self.org,
                user.id,
                user.status,
                user.login,
                user.email,
                user.first_name,
                user.last_name,
                user.display_name,
                user.manager_id,
                user.department,
                user.title,
                user.created,
                user.last_login,
                user.last_updated,
                user.status_changed,
                user.raw
            ])?;
        }
        Ok(())
    }

    pub fn groups(&self, groups: &[GroupRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}groups (org, id, type, name, description, last_updated,
                last_membership_updated, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            prefix = self.tables
        ))?;
        for group in groups {
            insert.execute(params![
                self.org,
                group.id,
                group.group_type,
                group.name,
                group.description,
                group.last_updated,
                group.last_membership_updated,
                group.raw
            ])?;
        }
        Ok(())
    }

    pub fn memberships(&self, memberships: &[Membership]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {prefix}memberships (org, group_id, user_id) VALUES (?1, ?2, ?3)",
            prefix = self.tables
        ))?;
        for membership in memberships {
            insert.execute(params![self.org, membership.group_id, membership.user_id])?;
        }
        Ok(())
    }

    pub fn apps(&self, apps: &[AppRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}apps (org, id, name, label, status, sign_on_mode, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            prefix = self.tables
        ))?;
        for app in apps {
            insert.execute(params![
                self.org,
                app.id,
                app.name,
                app.label,
                app.status,
                app.sign_on_mode,
                app.raw
            ])?;
        }
        Ok(())
    }

    pub fn app_users(&self, rows: &[AppUserRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}app_user_assignments
                (org, app_id, user_id, scope, status, user_name, created, granting_group_id, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            prefix = self.tables
        ))?;
        for row in rows {
            insert.execute(params![
                self.org,
                row.app_id,
                row.user_id,
                row.scope,
                row.status,
                row.user_name,
                row.created,
                row.granting_group_id,
                row.raw
            ])?;
        }
        Ok(())
    }

    pub fn app_groups(&self, rows: &[AppGroupRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}app_group_assignments (org, app_id, group_id, priority, raw)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            prefix = self.tables
        ))?;
        for row in rows {
            insert.execute(params![
                self.org,
                row.app_id,
                row.group_id,
                row.priority,
                row.raw
            ])?;
        }
        Ok(())
    }

    pub fn role_assignments(&self, rows: &[RoleAssignmentRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}role_assignments (org, assignee_type, assignee_id, id,
                role_type, label, status, assignment_type, custom_role_id, resource_set_id,
                created, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            prefix = self.tables
        ))?;
        for row in rows {
            insert.execute(params![
                self.org,
                row.assignee_type,
                row.assignee_id,
                row.id,
                row.role_type,
                row.label,
                row.status,
                row.assignment_type,
                row.custom_role_id,
                row.resource_set_id,
                row.created,
                row.raw
            ])?;
        }
        Ok(())
    }

    pub fn factors(&self, rows: &[FactorRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}factors (org, user_id, id, factor_type, provider, vendor_name,
                status, created, last_updated, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            prefix = self.tables
        ))?;
        for row in rows {
            insert.execute(params![
                self.org,
                row.user_id,
                row.id,
                row.factor_type,
                row.provider,
                row.vendor_name,
                row.status,
                row.created,
                row.last_updated,
                row.raw
            ])?;
        }
        Ok(())
    }

    pub fn group_rules(&self, rows: &[GroupRuleRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}group_rules (org, id, name, status, expression, group_ids, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            prefix = self.tables
        ))?;
        for row in rows {
            insert.execute(params![
                self.org,
                row.id,
                row.name,
                row.status,
                row.expression,
                serde_json::to_string(&row.group_ids)?,
                row.raw
            ])?;
        }
        Ok(())
    }

    pub fn group_owners(&self, rows: &[GroupOwnerRow]) -> Result<()> {
        let mut insert = self.transaction.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {prefix}group_owners (org, group_id, owner_id, owner_type,
                display_name, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            prefix = self.tables
        ))?;
        for row in rows {
            insert.execute(params![
                self.org,
                row.group_id,
                row.owner_id,
                row.owner_type,
                row.display_name,
                row.raw
            ])?;
        }
        Ok(())
    }
}
