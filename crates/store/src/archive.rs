//! Bookkeeping of the System Log archive.
//!
//! Archiving an event takes two steps with a crash possible between them.
//! First the event is assigned to an archive batch, and the batch is given
//! the name of the object it will be written to, in one transaction. Then,
//! once the object is written, the batch is marked written. A batch that was
//! created but never marked written is written again, under the same name and
//! with the same events, so an interrupted run leaves neither a gap nor a
//! duplicate in the archive.
//!
//! Events reach `archive_pending` in bulk: the store records the rowid up to
//! which it has scanned `events` (`archive_scan.events_through`), and events
//! above that rowid count as pending until a call that changes the archive's
//! lists moves them to `archive_pending`. Storing an event therefore writes
//! nothing for the archive. Creating a batch moves events from
//! `archive_pending` to `archive_members`, whose rows of a batch are deleted
//! when the batch is marked written. An event at or below the scanned rowid
//! and in neither table is archived. Local retention deletes only archived events, and keeps
//! their uuids in `archived_events`, so that the same event stored again later
//! is recognised instead of being archived twice.

use chrono::{Duration, NaiveDate};
use rusqlite::{Connection, params};

use crate::{Result, Store};

/// Events of one org and one UTC day of `published` that no batch contains yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPartition {
    pub org: String,
    /// The UTC day of `published`, as `YYYY-MM-DD`.
    pub date: String,
    pub events: u64,
}

/// A set of events that is written as one archive object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveBatch {
    pub id: i64,
    pub org: String,
    pub date: String,
    /// Path of the object below the archive root.
    pub object: String,
    pub events: u64,
}

/// One event as the archive writer reads it.
#[derive(Clone, Debug)]
pub struct ArchiveRow {
    pub uuid: String,
    /// RFC 3339 UTC with milliseconds, as written by [`crate::format_time`].
    pub published: String,
    /// The LogEvent as compact JSON.
    pub raw: String,
}

/// State of the archive as the store records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchiveCounts {
    /// Stored events not yet in any batch.
    pub pending_events: u64,
    /// Batches created but not yet marked written.
    pub unwritten_batches: u64,
    /// Batches whose object was written.
    pub written_batches: u64,
    /// Events in written batches, including those deleted by retention.
    pub archived_events: u64,
}

impl Store {
    /// Returns the events that no archive batch contains, counted per org and
    /// UTC day of `published`, in order of org then day.
    pub fn pending_archive_partitions(&self) -> Result<Vec<PendingPartition>> {
        let mut statement = self.connection.prepare(
            "SELECT org, substr(published, 1, 10) AS date, COUNT(*) FROM (
                 SELECT org, published FROM archive_pending
                 UNION ALL
                 SELECT org, published FROM events
                 WHERE rowid > (SELECT events_through FROM archive_scan)
             )
             GROUP BY org, date ORDER BY org, date",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(PendingPartition {
                org: row.get(0)?,
                date: row.get(1)?,
                events: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Takes events that were archived, deleted by retention and then stored
    /// again out of the pending events, since an object already contains
    /// them. Returns how many.
    pub fn relink_archived_events(&mut self) -> Result<u64> {
        let transaction = self.connection.transaction()?;
        scan_new_events(&transaction)?;
        let any: bool =
            transaction.query_row("SELECT EXISTS (SELECT 1 FROM archived_events)", [], |row| {
                row.get(0)
            })?;
        let mut changed = 0;
        if any {
            changed = transaction.execute(
                "DELETE FROM archive_pending WHERE uuid IN (SELECT uuid FROM archived_events)",
                [],
            )?;
        }
        transaction.commit()?;
        Ok(changed as u64)
    }

    /// Creates a batch of at most `limit` pending events of `org` published on
    /// `date` (`YYYY-MM-DD`, UTC), the earliest first, and names its object
    /// with `object_name(batch id)`. Returns `None` when no event is pending.
    ///
    /// The batch, its name and its events are saved in one transaction.
    pub fn create_archive_batch(
        &mut self,
        org: &str,
        date: &str,
        limit: u64,
        created_at: &str,
        object_name: impl FnOnce(i64) -> String,
    ) -> Result<Option<ArchiveBatch>> {
        let (start, end) = day_bounds(date);
        let transaction = self.connection.transaction()?;
        scan_new_events(&transaction)?;
        transaction.execute(
            "INSERT INTO archive_batches (org, date, object, events, created_at)
             VALUES (?1, ?2, '', 0, ?3)",
            params![org, date, created_at],
        )?;
        let id = transaction.last_insert_rowid();
        let events = transaction.execute(
            "INSERT INTO archive_members (batch, published, uuid)
             SELECT ?1, pending.published, pending.uuid FROM archive_pending AS pending
             WHERE pending.org = ?2 AND pending.published >= ?3 AND pending.published < ?4
             ORDER BY pending.published, pending.uuid LIMIT ?5",
            params![id, org, start, end, limit as i64],
        )? as u64;
        if events == 0 {
            // Dropping the transaction rolls back the empty batch.
            return Ok(None);
        }
        transaction.execute(
            "DELETE FROM archive_pending
             WHERE org = ?2 AND published >= ?3 AND published < ?4
               AND uuid IN (SELECT uuid FROM archive_members WHERE batch = ?1)",
            params![id, org, start, end],
        )?;
        let object = object_name(id);
        transaction.execute(
            "UPDATE archive_batches SET object = ?2, events = ?3 WHERE id = ?1",
            params![id, object, events as i64],
        )?;
        transaction.commit()?;
        Ok(Some(ArchiveBatch {
            id,
            org: org.to_string(),
            date: date.to_string(),
            object,
            events,
        }))
    }

    /// Returns the batches created but not yet marked written, oldest first.
    pub fn unwritten_archive_batches(&self) -> Result<Vec<ArchiveBatch>> {
        let mut statement = self.connection.prepare(
            "SELECT id, org, date, object, events FROM archive_batches
             WHERE written_at IS NULL ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(ArchiveBatch {
                id: row.get(0)?,
                org: row.get(1)?,
                date: row.get(2)?,
                object: row.get(3)?,
                events: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Calls `visit` for each event of the unwritten batch `id`, in order of
    /// `published` then `uuid`, and returns how many there were.
    pub fn for_each_archive_batch_event(
        &self,
        id: i64,
        mut visit: impl FnMut(ArchiveRow),
    ) -> Result<u64> {
        let mut statement = self.connection.prepare_cached(
            "SELECT events.uuid, events.published, events.raw
             FROM archive_members AS member JOIN events ON events.uuid = member.uuid
             WHERE member.batch = ?1 ORDER BY member.published, member.uuid",
        )?;
        let mut rows = statement.query([id])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            visit(ArchiveRow {
                uuid: row.get(0)?,
                published: row.get(1)?,
                raw: row.get(2)?,
            });
            count += 1;
        }
        Ok(count)
    }

    /// Records that the object of batch `id` was written; its events count
    /// as archived from then on.
    pub fn mark_archive_batch_written(&mut self, id: i64, written_at: &str) -> Result<()> {
        let transaction = self.connection.transaction()?;
        transaction.execute(
            "UPDATE archive_batches SET written_at = ?2 WHERE id = ?1",
            params![id, written_at],
        )?;
        transaction.execute("DELETE FROM archive_members WHERE batch = ?1", [id])?;
        transaction.commit()?;
        Ok(())
    }

    /// Deletes the archived events published before `before`, keeping their
    /// `uuid` in `archived_events`. Events not yet archived are kept whatever
    /// their age. Returns how many were deleted.
    ///
    /// Nothing is deleted while any batch is unwritten, because the events of
    /// such a batch are in neither `archive_pending` nor a written object.
    pub fn prune_archived_events(&mut self, before: &str) -> Result<u64> {
        const ARCHIVED: &str = "events.published < ?1
            AND NOT EXISTS (SELECT 1 FROM archive_pending AS pending
                            WHERE pending.org = events.org AND pending.published = events.published
                              AND pending.uuid = events.uuid)
            AND NOT EXISTS (SELECT 1 FROM archive_batches WHERE written_at IS NULL)";
        let transaction = self.connection.transaction()?;
        scan_new_events(&transaction)?;
        transaction.execute(
            &format!("INSERT OR IGNORE INTO archived_events (uuid) SELECT uuid FROM events WHERE {ARCHIVED}"),
            [before],
        )?;
        let deleted =
            transaction.execute(&format!("DELETE FROM events WHERE {ARCHIVED}"), [before])?;
        // SQLite gives a new row the largest rowid plus one, so after deleting
        // the newest rows the mark must come down to the largest rowid left,
        // or events stored next would fall at or below it unscanned.
        transaction.execute(
            "UPDATE archive_scan
             SET events_through = MIN(events_through, (SELECT COALESCE(MAX(rowid), 0) FROM events))",
            [],
        )?;
        transaction.commit()?;
        Ok(deleted as u64)
    }

    /// Counts pending events and archive batches.
    pub fn archive_counts(&self) -> Result<ArchiveCounts> {
        let pending_events = self.connection.query_row(
            "SELECT (SELECT COUNT(*) FROM archive_pending)
                  + (SELECT COUNT(*) FROM events
                     WHERE rowid > (SELECT events_through FROM archive_scan))",
            [],
            |row| row.get(0),
        )?;
        let (unwritten_batches, written_batches, archived_events) = self.connection.query_row(
            "SELECT COUNT(*) FILTER (WHERE written_at IS NULL),
                    COUNT(*) FILTER (WHERE written_at IS NOT NULL),
                    COALESCE(SUM(events) FILTER (WHERE written_at IS NOT NULL), 0)
             FROM archive_batches",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        Ok(ArchiveCounts {
            pending_events,
            unwritten_batches,
            written_batches,
            archived_events,
        })
    }
}

/// Moves the events stored since the last scan, those with a rowid above
/// `archive_scan.events_through`, to `archive_pending`, and raises the mark to
/// the newest rowid. Returns how many events were moved.
///
/// It runs in the caller's transaction. The newest rowid is read once and
/// bounds both steps, so an event that another connection commits meanwhile
/// stays above the mark for the next scan.
///
/// NOTE: this relies on SQLite giving each new row a rowid above every
/// existing one. SQLite does so until a rowid reaches 2^63 - 1, and then
/// picks unused rowids at random.
fn scan_new_events(connection: &Connection) -> Result<u64> {
    let (through, newest): (i64, i64) = connection.query_row(
        "SELECT events_through, (SELECT COALESCE(MAX(rowid), 0) FROM events) FROM archive_scan",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if newest <= through {
        return Ok(0);
    }
    let moved = connection.execute(
        "INSERT OR IGNORE INTO archive_pending (org, published, uuid)
         SELECT org, published, uuid FROM events WHERE rowid > ?1 AND rowid <= ?2",
        [through, newest],
    )?;
    connection.execute("UPDATE archive_scan SET events_through = ?1", [newest])?;
    Ok(moved as u64)
}

/// Returns the first and past-the-end `published` values of a UTC day, as
/// text bounds. A `date` that is not `YYYY-MM-DD` bounds an empty range.
fn day_bounds(date: &str) -> (String, String) {
    match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(day) => {
            let next = day + Duration::days(1);
            (date.to_string(), next.format("%Y-%m-%d").to_string())
        }
        Err(_) => (date.to_string(), date.to_string()),
    }
}
