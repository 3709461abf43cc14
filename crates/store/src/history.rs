//! The history of entitlements: every added, removed or changed group
//! membership, app assignment, admin role, MFA factor, user status, group
//! owner and group rule.
//!
//! A write that may change entitlements runs through
//! [`Store::write_with_history`]: the org's entitlements are copied into a
//! temporary table before and after the write, and the difference becomes
//! rows of `changes` in the same transaction. The caller decides the time and
//! source of each change, because only it can tell which System Log event, if
//! any, explains it.

use rusqlite::{Transaction, params};
use serde::Serialize;

use crate::{Result, Store};

/// One entitlement per row: what kind it is, who has it, what it grants,
/// and a value whose change counts as a change of the entitlement.
const ENTITLEMENTS: &str = "
    SELECT 'membership', 'user', user_id, group_id, '' FROM memberships WHERE org = ?1
    UNION ALL
    SELECT 'app_assignment', 'user', user_id, app_id,
           scope || COALESCE(' ' || granting_group_id, '')
    FROM app_user_assignments WHERE org = ?1
    UNION ALL
    SELECT 'app_group_assignment', 'group', group_id, app_id, '' FROM app_group_assignments
    WHERE org = ?1
    UNION ALL
    SELECT 'role', lower(assignee_type), assignee_id, id,
           role_type || COALESCE(' ' || custom_role_id, '') || COALESCE(' ' || resource_set_id, '')
    FROM role_assignments WHERE org = ?1
    UNION ALL
    SELECT 'factor', 'user', user_id, id, factor_type || ' ' || COALESCE(status, '')
    FROM factors WHERE org = ?1
    UNION ALL
    SELECT 'user_status', 'user', id, '', status FROM users WHERE org = ?1
    UNION ALL
    SELECT 'group_owner', lower(owner_type), owner_id, group_id, '' FROM group_owners
    WHERE org = ?1
    UNION ALL
    SELECT 'group_rule', 'rule', rules.id, target.value,
           rules.status || COALESCE(' ' || rules.expression, '')
    FROM group_rules rules, json_each(rules.group_ids) target WHERE rules.org = ?1";

/// The difference of the two temporary snapshots, one row per change:
/// action, kind, subject type, subject, object, old value, new value.
const DIFF: &str = "
    SELECT 'added' AS action, a.kind AS kind, a.subject_type AS subject_type,
           a.subject_id AS subject_id, a.object_id AS object_id, NULL AS old_value,
           a.value AS new_value
    FROM entitlements_after a LEFT JOIN entitlements_before b
      USING (kind, subject_type, subject_id, object_id)
    WHERE b.kind IS NULL
    UNION ALL
    SELECT 'removed', b.kind, b.subject_type, b.subject_id, b.object_id, b.value, NULL
    FROM entitlements_before b LEFT JOIN entitlements_after a
      USING (kind, subject_type, subject_id, object_id)
    WHERE a.kind IS NULL
    UNION ALL
    SELECT 'changed', a.kind, a.subject_type, a.subject_id, a.object_id, b.value, a.value
    FROM entitlements_after a JOIN entitlements_before b
      USING (kind, subject_type, subject_id, object_id)
    WHERE a.value IS NOT b.value
    ORDER BY 2, 4, 5";

/// A difference between two snapshots of an org's entitlements, before it
/// is given a time and a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangeDraft {
    /// `membership`, `app_assignment`, `app_group_assignment`, `role`,
    /// `factor`, `user_status`, `group_owner` or `group_rule`.
    pub kind: String,
    /// `added`, `removed` or `changed`.
    pub action: String,
    /// `user` or `group`; `rule` for a group rule, whose value is its status
    /// and expression, with one entitlement per group the rule assigns to.
    pub subject_type: String,
    /// The holder: a user, a group, a group's owner, or a group rule.
    pub subject_id: String,
    /// The group, app, role assignment or factor; empty for `user_status`.
    pub object_id: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// When a change happened and what reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The `uuid` of the System Log event that explains the change, or
    /// `None` for a change found only by comparing snapshots.
    pub event_uuid: Option<String>,
}

/// A recorded change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: i64,
    pub org: String,
    pub time: String,
    #[serde(flatten)]
    pub draft: ChangeDraft,
    /// `sync` or `event`.
    pub source: String,
    pub event_uuid: Option<String>,
}

/// Whether a write records the changes it makes.
#[derive(Clone, Copy)]
pub enum History<'a> {
    /// Record nothing, as for the first sync of an org, which has no earlier
    /// state to compare with.
    Off,
    /// Record each change with the time and source the function returns.
    Record(&'a dyn Fn(&ChangeDraft) -> Attribution),
}

/// Filter of the changes to list.
#[derive(Clone, Debug, Default)]
pub struct ChangeQuery {
    pub org: Option<String>,
    /// Changes at or after this time (RFC 3339 UTC).
    pub since: Option<String>,
    /// Changes before this time.
    pub until: Option<String>,
    /// Only changes of this user or group id.
    pub subject_id: Option<String>,
}

impl Store {
    /// Runs `write` in a transaction, records the entitlement changes it made
    /// as `history` describes, saves `state`, and commits.
    pub(crate) fn write_with_history(
        &mut self,
        org: &str,
        history: History<'_>,
        state: &[(&str, &str)],
        write: impl FnOnce(&Transaction<'_>) -> Result<()>,
    ) -> Result<Vec<Change>> {
        let mut changes = Vec::new();
        self.write_with_history_streamed(org, history, state, write, |change| {
            changes.push(change)
        })?;
        Ok(changes)
    }

    /// Runs `write` like [`Store::write_with_history`], but hands each
    /// recorded change to `on_change` as it is inserted instead of returning
    /// them all, so that memory does not grow with the count of changes.
    pub(crate) fn write_with_history_streamed(
        &mut self,
        org: &str,
        history: History<'_>,
        state: &[(&str, &str)],
        write: impl FnOnce(&Transaction<'_>) -> Result<()>,
        mut on_change: impl FnMut(Change),
    ) -> Result<()> {
        let transaction = self.connection.transaction()?;
        let recording = matches!(history, History::Record(_));
        if recording {
            snapshot_entitlements(&transaction, org, "entitlements_before")?;
        }
        write(&transaction)?;

        if let History::Record(attribute) = history {
            snapshot_entitlements(&transaction, org, "entitlements_after")?;
            record_changes(&transaction, org, attribute, &mut on_change)?;
            transaction.execute_batch(
                "DROP TABLE temp.entitlements_before; DROP TABLE temp.entitlements_after;",
            )?;
        }
        save_state(&transaction, state)?;
        transaction.commit()?;
        Ok(())
    }

    /// Runs `write` in a transaction like [`Store::write_with_history`], but
    /// records every change as found by a sync at `time` (none when `time`
    /// is `None`) inside SQLite, so memory stays flat however many
    /// entitlements changed. Returns the count of changes recorded.
    pub(crate) fn write_with_sync_history(
        &mut self,
        org: &str,
        time: Option<&str>,
        state: &[(&str, &str)],
        write: impl FnOnce(&Transaction<'_>) -> Result<()>,
    ) -> Result<u64> {
        let transaction = self.connection.transaction()?;
        if time.is_some() {
            snapshot_entitlements(&transaction, org, "entitlements_before")?;
        }
        write(&transaction)?;

        let mut recorded = 0;
        if let Some(time) = time {
            snapshot_entitlements(&transaction, org, "entitlements_after")?;
            // NULLIF keeps the empty values of memberships and owners as NULL,
            // as `diff_entitlements` does.
            let insert = format!(
                "INSERT INTO changes (org, time, kind, action, subject_type, subject_id,
                    object_id, old_value, new_value, source, event_uuid)
                 SELECT ?1, ?2, kind, action, subject_type, subject_id, object_id,
                        NULLIF(old_value, ''), NULLIF(new_value, ''), 'sync', NULL
                 FROM ({DIFF})"
            );
            recorded = transaction.execute(&insert, params![org, time])? as u64;
            transaction.execute_batch(
                "DROP TABLE temp.entitlements_before; DROP TABLE temp.entitlements_after;",
            )?;
        }
        save_state(&transaction, state)?;
        transaction.commit()?;
        Ok(recorded)
    }

    /// Lists recorded changes, oldest first.
    pub fn changes(&self, query: &ChangeQuery) -> Result<Vec<Change>> {
        let mut statement = self.connection.prepare(
            "SELECT id, org, time, kind, action, subject_type, subject_id, object_id,
                    old_value, new_value, source, event_uuid
             FROM changes
             WHERE (?1 IS NULL OR org = ?1) AND (?2 IS NULL OR time >= ?2)
               AND (?3 IS NULL OR time < ?3) AND (?4 IS NULL OR subject_id = ?4)
             ORDER BY time, id",
        )?;
        let rows = statement.query_map(
            params![query.org, query.since, query.until, query.subject_id],
            |row| {
                Ok(Change {
                    id: row.get(0)?,
                    org: row.get(1)?,
                    time: row.get(2)?,
                    draft: ChangeDraft {
                        kind: row.get(3)?,
                        action: row.get(4)?,
                        subject_type: row.get(5)?,
                        subject_id: row.get(6)?,
                        object_id: row.get(7)?,
                        old_value: row.get(8)?,
                        new_value: row.get(9)?,
                    },
                    source: row.get(10)?,
                    event_uuid: row.get(11)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns when the first sync of `org` started, if one finished. Access held at
    /// that sync and not added since has been held at least from then.
    pub fn first_sync_started(&self, org: &str) -> Result<Option<String>> {
        Ok(self.connection.query_row(
            "SELECT MIN(started) FROM sync_runs WHERE org = ?1",
            [org],
            |row| row.get(0),
        )?)
    }

    /// Returns the time of the latest `added` change of an entitlement, which
    /// is when the holder has had it since, if the history covers it.
    pub fn entitlement_since(
        &self,
        org: &str,
        kind: &str,
        subject_id: &str,
        object_id: &str,
    ) -> Result<Option<String>> {
        Ok(self.connection.query_row(
            "SELECT MAX(time) FROM changes WHERE org = ?1 AND kind = ?2 AND subject_id = ?3
               AND object_id = ?4 AND action = 'added'",
            params![org, kind, subject_id, object_id],
            |row| row.get(0),
        )?)
    }
}

fn save_state(transaction: &Transaction<'_>, state: &[(&str, &str)]) -> Result<()> {
    for (key, value) in state {
        transaction.execute(
            "INSERT INTO state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
    }
    Ok(())
}

fn snapshot_entitlements(transaction: &Transaction<'_>, org: &str, table: &str) -> Result<()> {
    transaction.execute_batch(&format!(
        "DROP TABLE IF EXISTS temp.{table};
         CREATE TEMP TABLE {table} (
             kind TEXT NOT NULL, subject_type TEXT NOT NULL, subject_id TEXT NOT NULL,
             object_id TEXT NOT NULL, value TEXT,
             PRIMARY KEY (kind, subject_type, subject_id, object_id));"
    ))?;
    transaction.execute(
        &format!("INSERT OR IGNORE INTO temp.{table} {ENTITLEMENTS}"),
        [org],
    )?;
    Ok(())
}

/// Compares the two temporary snapshots and inserts each difference into
/// `changes` as `attribute` dates it, row by row: rows only after are
/// `added`, rows only before are `removed`, rows in both with another value
/// are `changed`.
fn record_changes(
    transaction: &Transaction<'_>,
    org: &str,
    attribute: &dyn Fn(&ChangeDraft) -> Attribution,
    on_change: &mut dyn FnMut(Change),
) -> Result<()> {
    // The query reads only the temporary snapshots, so the inserts into
    // `changes` cannot alter the rows it returns.
    let mut statement = transaction.prepare(DIFF)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let empty_to_none = |value: Option<String>| value.filter(|text| !text.is_empty());
        let draft = ChangeDraft {
            action: row.get(0)?,
            kind: row.get(1)?,
            subject_type: row.get(2)?,
            subject_id: row.get(3)?,
            object_id: row.get(4)?,
            old_value: empty_to_none(row.get(5)?),
            new_value: empty_to_none(row.get(6)?),
        };
        let attribution = attribute(&draft);
        on_change(insert_change(transaction, org, draft, attribution)?);
    }
    Ok(())
}

fn insert_change(
    transaction: &Transaction<'_>,
    org: &str,
    draft: ChangeDraft,
    attribution: Attribution,
) -> Result<Change> {
    let source = if attribution.event_uuid.is_some() {
        "event"
    } else {
        "sync"
    };
    let mut insert = transaction.prepare_cached(
        "INSERT INTO changes (org, time, kind, action, subject_type, subject_id, object_id,
            old_value, new_value, source, event_uuid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    insert.execute(params![
        org,
        attribution.time,
        draft.kind,
        draft.action,
        draft.subject_type,
        draft.subject_id,
        draft.object_id,
        draft.old_value,
        draft.new_value,
        source,
        attribution.event_uuid
    ])?;
    Ok(Change {
        id: transaction.last_insert_rowid(),
        org: org.to_string(),
        time: attribution.time,
        draft,
        source: source.to_string(),
        event_uuid: attribution.event_uuid,
    })
}
