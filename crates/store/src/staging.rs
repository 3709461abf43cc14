//! Staging of directory syncs: rows written as they arrive, then applied
//! at once.
//!
//! A full sync reads far more than it should hold in memory: an org with
//! tens of thousands of users has millions of app assignments. It writes each
//! page into temporary tables of this connection (`temp.staged_users` and so
//! on), which have the columns and keys of the stored tables. At the end,
//! [`DirectoryStaging::commit`] replaces the org's stored directory with the
//! staged rows and records the entitlement changes, in one transaction and
//! inside SQLite. Readers on other connections never see half a sync, and
//! the rows never need to fit in memory.
//!
//! An incremental sync reads again the members of some groups and the
//! assignments of some apps, and one app can list every user of the org.
//! [`UpdateStaging`] stages those lists in the same tables, and
//! [`UpdateStaging::apply`] replaces the stored rows of each group or app
//! read again with the staged ones, together with the rest of a
//! [`DirectoryUpdate`].

use std::collections::BTreeSet;

use rusqlite::{Connection, params};

use crate::access::{FactorRow, GroupOwnerRow, GroupRuleRow, RoleAssignmentRow};
use crate::directory::DIRECTORY_TABLES;
use crate::history::History;
use crate::write::{DirectoryUpdate, STAGED, Writer};
use crate::{AppGroupRow, AppRow, AppUserRow, GroupRow, Membership, Result, Store, UserRow};

/// A full replacement of one org's directory, being written.
///
/// Dropping it without [`DirectoryStaging::commit`] discards the staged rows
/// and leaves the stored directory as it was.
pub struct DirectoryStaging<'a> {
    store: &'a mut Store,
    org: String,
}

impl Store {
    /// Starts a full replacement of the directory of `org`: creates empty
    /// staging tables shaped like the stored ones.
    pub fn stage_directory(&mut self, org: &str) -> Result<DirectoryStaging<'_>> {
        for table in DIRECTORY_TABLES {
            let definition: String = self.connection.query_row(
                "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |row| row.get(0),
            )?;
            // The definition starts `CREATE TABLE name (`; the staged table
            // takes everything from the column list on, keys included.
            let columns = definition
                .find('(')
                .map_or("", |start| &definition[start..]);
            self.connection.execute_batch(&format!(
                "DROP TABLE IF EXISTS {STAGED}{table}; CREATE TABLE {STAGED}{table} {columns};"
            ))?;
        }
        Ok(DirectoryStaging {
            store: self,
            org: org.to_string(),
        })
    }
}

impl DirectoryStaging<'_> {
    /// Runs `write` on the staging tables in one transaction.
    fn write(&mut self, write: impl FnOnce(&Writer<'_>) -> Result<()>) -> Result<()> {
        let transaction = self.store.connection.transaction()?;
        write(&Writer {
            transaction: &transaction,
            org: &self.org,
            tables: STAGED,
        })?;
        transaction.commit()?;
        Ok(())
    }

    /// Stages users; a user staged twice keeps the later row.
    pub fn users(&mut self, rows: &[UserRow]) -> Result<()> {
        self.write(|writer| writer.users(rows))
    }

    pub fn groups(&mut self, rows: &[GroupRow]) -> Result<()> {
        self.write(|writer| writer.groups(rows))
    }

    pub fn memberships(&mut self, rows: &[Membership]) -> Result<()> {
        self.write(|writer| writer.memberships(rows))
    }

    pub fn apps(&mut self, rows: &[AppRow]) -> Result<()> {
        self.write(|writer| writer.apps(rows))
    }

    pub fn app_users(&mut self, rows: &[AppUserRow]) -> Result<()> {
        self.write(|writer| writer.app_users(rows))
    }

    pub fn app_groups(&mut self, rows: &[AppGroupRow]) -> Result<()> {
        self.write(|writer| writer.app_groups(rows))
    }

    pub fn role_assignments(&mut self, rows: &[RoleAssignmentRow]) -> Result<()> {
        self.write(|writer| writer.role_assignments(rows))
    }

    pub fn factors(&mut self, rows: &[FactorRow]) -> Result<()> {
        self.write(|writer| writer.factors(rows))
    }

    pub fn group_rules(&mut self, rows: &[GroupRuleRow]) -> Result<()> {
        self.write(|writer| writer.group_rules(rows))
    }

    pub fn group_owners(&mut self, rows: &[GroupOwnerRow]) -> Result<()> {
        self.write(|writer| writer.group_owners(rows))
    }

    /// Removes the staged assignments of an app deleted while they were read.
    pub fn discard_app_details(&mut self, app_id: &str) -> Result<()> {
        let targets = [
            ("app_user_assignments", "app_id = ?2"),
            ("app_group_assignments", "app_id = ?2"),
        ];
        self.discard(&targets, app_id)
    }

    /// Deletes the staged rows of each `(table, condition)`, in which `?2`
    /// is `id`. The tables and conditions are constants of this module.
    fn discard(&mut self, targets: &[(&str, &str)], id: &str) -> Result<()> {
        for (table, condition) in targets {
            self.store.connection.execute(
                &format!("DELETE FROM {STAGED}{table} WHERE org = ?1 AND {condition}"),
                params![self.org, id],
            )?;
        }
        Ok(())
    }

    /// Replaces the stored directory of the org with the staged rows and
    /// saves `state`, in one transaction. With a `time`, each entitlement
    /// change is recorded as found by a sync at that time. With `None`, as on
    /// the first sync of an org, nothing is recorded. With
    /// `keep_role_assignments`, the stored role assignments stay as they are,
    /// because the sync could not read roles. Returns the count of changes
    /// recorded.
    ///
    /// Only rows that differ are written: a row equal in every column to the
    /// stored one stays, so a sync that finds few changes writes little.
    pub fn commit(
        self,
        keep_role_assignments: bool,
        time: Option<&str>,
        state: &[(&str, &str)],
    ) -> Result<u64> {
        let org = self.org.clone();
        self.store
            .write_with_sync_history(&org, time, state, |transaction| {
                for table in DIRECTORY_TABLES {
                    if *table == "role_assignments" && keep_role_assignments {
                        continue;
                    }
                    replace_from_staging(transaction, &org, table)?;
                }
                Ok(())
            })
    }
}

/// An incremental update of one org's directory whose large lists are
/// being written: the members and owners of the groups read again and the
/// user and group assignments of the apps read again.
///
/// Dropping it without [`UpdateStaging::apply`] discards the staged rows and
/// leaves the stored directory as it was.
pub struct UpdateStaging<'a> {
    staging: DirectoryStaging<'a>,
    /// Groups whose stored members and owners the staged ones replace.
    groups: BTreeSet<String>,
    /// Apps whose stored user and group assignments the staged ones replace.
    apps: BTreeSet<String>,
}

impl Store {
    /// Starts an incremental update of the directory of `org`: creates empty
    /// staging tables shaped like the stored ones.
    pub fn stage_directory_update(&mut self, org: &str) -> Result<UpdateStaging<'_>> {
        Ok(UpdateStaging {
            staging: self.stage_directory(org)?,
            groups: BTreeSet::new(),
            apps: BTreeSet::new(),
        })
    }
}

impl UpdateStaging<'_> {
    /// Stages the members (user ids) and owners of `group_id`, which replace
    /// the stored ones when the update is applied.
    pub fn group_members_and_owners(
        &mut self,
        group_id: &str,
        members: &[String],
        owners: &[GroupOwnerRow],
    ) -> Result<()> {
        self.groups.insert(group_id.to_string());
        let memberships: Vec<Membership> = members
            .iter()
            .map(|user_id| Membership {
                group_id: group_id.to_string(),
                user_id: user_id.clone(),
            })
            .collect();
        self.staging.write(|writer| {
            writer.memberships(&memberships)?;
            writer.group_owners(owners)
        })
    }

    /// Stages user assignments of `app_id`, which replace the stored ones
    /// when the update is applied. It may be called once per page.
    pub fn app_users(&mut self, app_id: &str, rows: &[AppUserRow]) -> Result<()> {
        self.apps.insert(app_id.to_string());
        self.staging.app_users(rows)
    }

    /// Stages the group assignments of `app_id`. When the update is applied,
    /// the app's staged user and group assignments replace its stored ones,
    /// even when `rows` and the staged users are empty.
    pub fn app_groups(&mut self, app_id: &str, rows: &[AppGroupRow]) -> Result<()> {
        self.apps.insert(app_id.to_string());
        self.staging.app_groups(rows)
    }

    /// Removes the staged members and owners of a group deleted while it was
    /// read, so that applying the update writes none of them.
    pub fn discard_group(&mut self, group_id: &str) -> Result<()> {
        self.groups.remove(group_id);
        let targets = [
            ("memberships", "group_id = ?2"),
            ("group_owners", "group_id = ?2"),
        ];
        self.staging.discard(&targets, group_id)
    }

    /// Removes the staged assignments of an app deleted while they were
    /// read, so that applying the update writes none of them.
    pub fn discard_app(&mut self, app_id: &str) -> Result<()> {
        self.apps.remove(app_id);
        self.staging.discard_app_details(app_id)
    }

    /// Applies `update` and then the staged rows, records the entitlement
    /// changes as `history` describes, and saves `state`, in one transaction.
    /// Returns the count of changes recorded.
    ///
    /// The staged rows replace the stored members and owners of each staged
    /// group and the stored assignments of each staged app. Like
    /// [`DirectoryStaging::commit`], only rows that differ are written.
    pub fn apply(
        self,
        update: &DirectoryUpdate,
        history: History<'_>,
        state: &[(&str, &str)],
    ) -> Result<u64> {
        let UpdateStaging {
            staging,
            groups,
            apps,
        } = self;
        let org = staging.org.clone();
        let mut recorded = 0;
        staging.store.write_with_history_streamed(
            &org,
            history,
            state,
            |transaction| {
                let writer = Writer {
                    transaction,
                    org: &org,
                    tables: "",
                };
                writer.apply(update)?;
                let owned = [
                    ("memberships", "group_id", &groups),
                    ("group_owners", "group_id", &groups),
                    ("app_user_assignments", "app_id", &apps),
                    ("app_group_assignments", "app_id", &apps),
                ];
                for (table, owner_column, owners) in owned {
                    replace_owned_from_staging(transaction, &org, table, owner_column, owners)?;
                }
                Ok(())
            },
            |_| recorded += 1,
        )?;
        Ok(recorded)
    }
}

impl Drop for DirectoryStaging<'_> {
    fn drop(&mut self) {
        for table in DIRECTORY_TABLES {
            let drop = format!("DROP TABLE IF EXISTS {STAGED}{table}");
            if let Err(error) = self.store.connection.execute_batch(&drop) {
                tracing::warn!(table, %error, "Failed to drop a staging table of the directory sync");
            }
        }
    }
}

/// The SQL conditions that compare a stored row (`stored`) with a staged
/// row (`staged`) of one directory table.
struct RowComparison {
    /// The two rows have the same primary key.
    same_key: String,
    /// The two rows are equal in every column.
    same_values: String,
}

impl RowComparison {
    fn of(connection: &Connection, table: &str) -> Result<RowComparison> {
        let mut statement = connection.prepare(&format!("PRAGMA main.table_info({table})"))?;
        let columns: Vec<(String, i64)> = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(1)?, row.get::<_, i64>(5)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let same_key = columns
            .iter()
            .filter(|(_, key_position)| *key_position > 0)
            .map(|(name, _)| format!("stored.{name} = staged.{name}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let same_values = columns
            .iter()
            .map(|(name, _)| format!("stored.{name} IS staged.{name}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        Ok(RowComparison {
            same_key,
            same_values,
        })
    }
}

/// Makes the stored rows of `org` in `table` equal to the staged ones:
/// deletes the stored rows whose key is not staged, then inserts or replaces
/// the staged rows that differ from the stored row with the same key.
fn replace_from_staging(connection: &Connection, org: &str, table: &str) -> Result<()> {
    let RowComparison {
        same_key,
        same_values,
    } = RowComparison::of(connection, table)?;
    connection.execute(
        &format!(
            "DELETE FROM main.{table} AS stored WHERE stored.org = ?1 AND NOT EXISTS
               (SELECT 1 FROM {STAGED}{table} staged WHERE {same_key})"
        ),
        [org],
    )?;
    connection.execute(
        &format!(
            "INSERT OR REPLACE INTO main.{table}
             SELECT * FROM {STAGED}{table} staged WHERE NOT EXISTS
               (SELECT 1 FROM main.{table} stored WHERE {same_key} AND {same_values})"
        ),
        [],
    )?;
    Ok(())
}

/// Makes the stored rows of `org` in `table` whose `owner_column` is one of
/// `owners` equal to the staged rows of those owners, as
/// [`replace_from_staging`] does for a whole table. Rows of other owners stay.
fn replace_owned_from_staging(
    connection: &Connection,
    org: &str,
    table: &str,
    owner_column: &str,
    owners: &BTreeSet<String>,
) -> Result<()> {
    let RowComparison {
        same_key,
        same_values,
    } = RowComparison::of(connection, table)?;
    let mut delete = connection.prepare(&format!(
        "DELETE FROM main.{table} AS stored
         WHERE stored.org = ?1 AND stored.{owner_column} = ?2 AND NOT EXISTS
           (SELECT 1 FROM {STAGED}{table} staged WHERE {same_key})"
    ))?;
    let mut insert = connection.prepare(&format!(
        "INSERT OR REPLACE INTO main.{table}
         SELECT * FROM {STAGED}{table} staged
         WHERE staged.org = ?1 AND staged.{owner_column} = ?2 AND NOT EXISTS
           (SELECT 1 FROM main.{table} stored WHERE {same_key} AND {same_values})"
    ))?;
    for owner in owners {
        delete.execute(params![org, owner])?;
        insert.execute(params![org, owner])?;
    }
    Ok(())
}
