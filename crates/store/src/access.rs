//! Admin role assignments, MFA factors, group rules and group owners, and the
//! queries behind `idaudit access`.

use rusqlite::{Row, params};
use serde::Serialize;

use crate::directory::{read_app_user, read_user};
use crate::{AppUserRow, Result, Store, UserRow};

/// An admin role assigned to a user or a group.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RoleAssignmentRow {
    /// `USER` or `GROUP`.
    pub assignee_type: String,
    pub assignee_id: String,
    /// The id of the assignment, which Okta also uses to revoke it.
    pub id: String,
    /// `SUPER_ADMIN`, `ORG_ADMIN`, … or `CUSTOM`.
    pub role_type: String,
    pub label: Option<String>,
    pub status: Option<String>,
    pub assignment_type: Option<String>,
    pub custom_role_id: Option<String>,
    pub resource_set_id: Option<String>,
    pub created: Option<String>,
    #[serde(skip)]
    pub raw: String,
}

/// An MFA factor enrolled by a user.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FactorRow {
    pub user_id: String,
    pub id: String,
    pub factor_type: String,
    pub provider: Option<String>,
    pub vendor_name: Option<String>,
    pub status: Option<String>,
    pub created: Option<String>,
    pub last_updated: Option<String>,
    #[serde(skip)]
    pub raw: String,
}

/// A group rule: users matching `expression` are added to `group_ids`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupRuleRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub expression: Option<String>,
    pub group_ids: Vec<String>,
    #[serde(skip)]
    pub raw: String,
}

/// An owner of a group, a user or a group.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupOwnerRow {
    pub group_id: String,
    pub owner_id: String,
    /// `USER` or `GROUP`.
    pub owner_type: String,
    pub display_name: Option<String>,
    #[serde(skip)]
    pub raw: String,
}

/// A group a user belongs to, with the apps and roles it grants.
#[derive(Clone, Debug, Serialize)]
pub struct GroupAccess {
    pub group_id: String,
    pub name: String,
    pub group_type: String,
}

/// An app a user is assigned to, with the app's label.
#[derive(Clone, Debug, Serialize)]
pub struct AppAccess {
    pub label: String,
    pub granting_group_name: Option<String>,
    pub assignment: AppUserRow,
}

/// Everything one user can reach, as stored by the last sync.
#[derive(Clone, Debug, Serialize)]
pub struct UserAccess {
    pub user: UserRow,
    pub groups: Vec<GroupAccess>,
    pub apps: Vec<AppAccess>,
    /// Roles assigned to the user and to the user's groups.
    pub roles: Vec<RoleAssignmentRow>,
    pub factors: Vec<FactorRow>,
}

impl Store {
    /// Finds a user of `org` by id or login (case-insensitive) and returns
    /// the user's current access, or `None` when no user matches.
    pub fn user_access(&self, org: &str, user: &str) -> Result<Option<UserAccess>> {
        use rusqlite::OptionalExtension;
        let found = self
            .connection
            .query_row(
                "SELECT id, status, login, email, first_name, last_name, display_name, manager_id,
                        department, title, created, last_login, last_updated, status_changed, raw
                 FROM users WHERE org = ?1 AND (id = ?2 OR login = ?2 COLLATE NOCASE)",
                [org, user],
                read_user,
            )
            .optional()?;
        let Some(user) = found else {
            return Ok(None);
        };
        Ok(Some(UserAccess {
            groups: self.groups_of_user(org, &user.id)?,
            apps: self.apps_of_user(org, &user.id)?,
            roles: self.roles_of_user(org, &user.id)?,
            factors: self.factors_of_user(org, &user.id)?,
            user,
        }))
    }

    fn groups_of_user(&self, org: &str, user_id: &str) -> Result<Vec<GroupAccess>> {
        let mut statement = self.connection.prepare(
            "SELECT m.group_id, COALESCE(g.name, m.group_id), COALESCE(g.type, '')
             FROM memberships m LEFT JOIN groups g ON g.org = m.org AND g.id = m.group_id
             WHERE m.org = ?1 AND m.user_id = ?2 ORDER BY 2, 1",
        )?;
        let rows = statement.query_map([org, user_id], |row| {
            Ok(GroupAccess {
                group_id: row.get(0)?,
                name: row.get(1)?,
                group_type: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn apps_of_user(&self, org: &str, user_id: &str) -> Result<Vec<AppAccess>> {
        let mut statement = self.connection.prepare(
            "SELECT a.app_id, a.user_id, a.scope, a.status, a.user_name, a.created,
                    a.granting_group_id, a.raw, COALESCE(p.label, a.app_id), g.name
             FROM app_user_assignments a
             LEFT JOIN apps p ON p.org = a.org AND p.id = a.app_id
             LEFT JOIN groups g ON g.org = a.org AND g.id = a.granting_group_id
             WHERE a.org = ?1 AND a.user_id = ?2 ORDER BY 9, 1",
        )?;
        let rows = statement.query_map([org, user_id], |row| {
            Ok(AppAccess {
                assignment: read_app_user(row)?,
                label: row.get(8)?,
                granting_group_name: row.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn roles_of_user(&self, org: &str, user_id: &str) -> Result<Vec<RoleAssignmentRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {ROLE_COLUMNS} FROM role_assignments
             WHERE org = ?1 AND ((assignee_type = 'USER' AND assignee_id = ?2)
                OR (assignee_type = 'GROUP' AND assignee_id IN
                    (SELECT group_id FROM memberships WHERE org = ?1 AND user_id = ?2)))
             ORDER BY role_type, id"
        ))?;
        let rows = statement.query_map([org, user_id], read_role)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn factors_of_user(&self, org: &str, user_id: &str) -> Result<Vec<FactorRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {FACTOR_COLUMNS} FROM factors WHERE org = ?1 AND user_id = ?2
             ORDER BY factor_type, id"
        ))?;
        let rows = statement.query_map([org, user_id], read_factor)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every admin role assignment of `org`.
    pub fn role_assignments(&self, org: &str) -> Result<Vec<RoleAssignmentRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {ROLE_COLUMNS} FROM role_assignments WHERE org = ?1
             ORDER BY assignee_type, assignee_id, id"
        ))?;
        let rows = statement.query_map([org], read_role)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every stored factor of `org`.
    pub fn factors(&self, org: &str) -> Result<Vec<FactorRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {FACTOR_COLUMNS} FROM factors WHERE org = ?1 ORDER BY user_id, id"
        ))?;
        let rows = statement.query_map([org], read_factor)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every group rule of `org`.
    pub fn group_rules(&self, org: &str) -> Result<Vec<GroupRuleRow>> {
        let mut statement = self.connection.prepare(
            "SELECT id, name, status, expression, group_ids, raw FROM group_rules
             WHERE org = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([org], |row| {
            let group_ids: String = row.get(4)?;
            Ok(GroupRuleRow {
                id: row.get(0)?,
                name: row.get(1)?,
                status: row.get(2)?,
                expression: row.get(3)?,
                // The column is written from a Vec<String>, so it always parses.
                group_ids: serde_json::from_str(&group_ids).unwrap_or_default(),
                raw: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every group owner of `org`.
    pub fn group_owners(&self, org: &str) -> Result<Vec<GroupOwnerRow>> {
        let mut statement = self.connection.prepare(
            "SELECT group_id, owner_id, owner_type, display_name, raw FROM group_owners
             WHERE org = ?1 ORDER BY group_id, owner_id",
        )?;
        let rows = statement.query_map([org], |row| {
            Ok(GroupOwnerRow {
                group_id: row.get(0)?,
                owner_id: row.get(1)?,
                owner_type: row.get(2)?,
                display_name: row.get(3)?,
                raw: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns every user assignment of every app of `org`.
    pub fn all_app_users(&self, org: &str) -> Result<Vec<AppUserRow>> {
        let mut statement = self.connection.prepare(
            "SELECT app_id, user_id, scope, status, user_name, created, granting_group_id, raw
             FROM app_user_assignments WHERE org = ?1 ORDER BY app_id, user_id",
        )?;
        let rows = statement.query_map([org], read_app_user)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns the ids of the apps assigned to any of `group_ids`.
    pub fn apps_of_groups(&self, org: &str, group_ids: &[String]) -> Result<Vec<String>> {
        let mut statement = self.connection.prepare(
            "SELECT DISTINCT app_id FROM app_group_assignments WHERE org = ?1 AND group_id = ?2",
        )?;
        let mut apps = std::collections::BTreeSet::new();
        for group_id in group_ids {
            let rows = statement.query_map(params![org, group_id], |row| row.get(0))?;
            for app in rows {
                apps.insert(app?);
            }
        }
        Ok(apps.into_iter().collect())
    }

    /// Returns the ids of the apps a user reaches, directly or through a group.
    pub fn apps_reaching_user(&self, org: &str, user_id: &str) -> Result<Vec<String>> {
        let mut statement = self.connection.prepare(
            "SELECT app_id FROM app_user_assignments WHERE org = ?1 AND user_id = ?2
             UNION
             SELECT a.app_id FROM app_group_assignments a
             JOIN memberships m ON m.org = a.org AND m.group_id = a.group_id
             WHERE a.org = ?1 AND m.user_id = ?2",
        )?;
        let rows = statement.query_map([org, user_id], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns a readable name for each stored user (login), group (name)
    /// and app (label) of `org`, by id.
    pub fn object_names(&self, org: &str) -> Result<std::collections::HashMap<String, String>> {
        let mut statement = self.connection.prepare(
            "SELECT id, login FROM users WHERE org = ?1
             UNION ALL SELECT id, name FROM groups WHERE org = ?1
             UNION ALL SELECT id, label FROM apps WHERE org = ?1",
        )?;
        let rows = statement.query_map([org], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns the stored status of a user, or `None` for an unknown user.
    pub fn user_status(&self, org: &str, user_id: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .connection
            .query_row(
                "SELECT status FROM users WHERE org = ?1 AND id = ?2",
                [org, user_id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Returns the ids of the groups a user belongs to.
    pub fn group_ids_of_user(&self, org: &str, user_id: &str) -> Result<Vec<String>> {
        let mut statement = self
            .connection
            .prepare("SELECT group_id FROM memberships WHERE org = ?1 AND user_id = ?2")?;
        let rows = statement.query_map([org, user_id], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const ROLE_COLUMNS: &str = "assignee_type, assignee_id, id, role_type, label, status, \
    assignment_type, custom_role_id, resource_set_id, created, raw";

const FACTOR_COLUMNS: &str =
    "user_id, id, factor_type, provider, vendor_name, status, created, last_updated, raw";

fn read_role(row: &Row<'_>) -> rusqlite::Result<RoleAssignmentRow> {
    Ok(RoleAssignmentRow {
        assignee_type: row.get(0)?,
        assignee_id: row.get(1)?,
        id: row.get(2)?,
        role_type: row.get(3)?,
        label: row.get(4)?,
        status: row.get(5)?,
        assignment_type: row.get(6)?,
        custom_role_id: row.get(7)?,
        resource_set_id: row.get(8)?,
        created: row.get(9)?,
        raw: row.get(10)?,
    })
}

fn read_factor(row: &Row<'_>) -> rusqlite::Result<FactorRow> {
    Ok(FactorRow {
        user_id: row.get(0)?,
        id: row.get(1)?,
        factor_type: row.get(2)?,
        provider: row.get(3)?,
        vendor_name: row.get(4)?,
        status: row.get(5)?,
        created: row.get(6)?,
        last_updated: row.get(7)?,
        raw: row.get(8)?,
    })
}
