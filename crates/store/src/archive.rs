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
//! Pending events are kept as rowid ranges, so that neither storing nor
//! assigning an event writes a row for it. The store records the rowid up to
//! which it has scanned `events` (`archive_scan.events_through`); events above
//! it are pending. A scan gives each org and UTC day of `published` with new
//! events one range in `archive_ranges`, from its first unassigned rowid to
//! the newest scanned rowid. A transaction that stores events, when the mark
//! is one below its first new row, adds them to the ranges and raises the
//! mark itself (see [`NewEvents`]), so that the archive need not read them
//! back. A batch takes a range whole, or its first events
//! in rowid order when the range contains more than a batch. Stores from before
//! schema version 7 may also hold pending events one row each in
//! `archive_pending`, and unwritten batches with their events in
//! `archive_members`, whose rows of a batch are deleted when it is marked
//! written. An event at or below the scanned rowid that is in no range and in
//! neither table is archived. Local retention deletes only archived events,
//! and keeps their uuids in `archived_events`, so that the same event stored
//! again later is recognised instead of being archived twice: ranges, and the
//! batches made of them, leave such events out.
//!
//! Every event of a range or of a batch's range has a rowid at or below the
//! scanned rowid, and SQLite gives a new row the largest rowid plus one, so
//! no event stored later falls into a range. Retention, which may delete the
//! newest rows, lowers the scanned rowid and the range ends to keep it so.

use chrono::{Duration, NaiveDate};
use rusqlite::{Connection, OptionalExtension, params};

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

/// A batch's rowid range, `(after, through]`, of the events of its org and day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowidRange {
    pub(crate) after: i64,
    pub(crate) through: i64,
}

/// Events of an org and day in a rowid range, less those in `archived_events`.
/// `?1` and `?2` bound the rowids, `?3` and `?4` the `published` text, `?5` is
/// the org and `?6` the day. The `+` keeps SQLite from using the terms it
/// marks for an index, so that `RANGE_BY_ROWID` scans the table by rowid and
/// `RANGE_BY_DAY` walks the `events_published` index.
const RANGE_BY_ROWID: &str = "rowid > ?1 AND rowid <= ?2
    AND +published >= ?3 AND +published < ?4 AND org = ?5 AND substr(published, 1, 10) = ?6
    AND uuid NOT IN (SELECT uuid FROM archived_events)";
const RANGE_BY_DAY: &str = "published >= ?3 AND published < ?4 AND +rowid > ?1 AND +rowid <= ?2
    AND org = ?5 AND substr(published, 1, 10) = ?6
    AND uuid NOT IN (SELECT uuid FROM archived_events)";

/// Returns the filter of [`RANGE_BY_ROWID`] for a range of at most four
/// rowids per event of its org and day, and of [`RANGE_BY_DAY`] for a
/// sparser one, such as a day among many imported at once. The ratio is a
/// guess at where walking the index starts to read fewer rows.
pub(crate) fn range_filter(range: RowidRange, events: u64) -> &'static str {
    let span = range.through.saturating_sub(range.after) as u64;
    if span <= events.saturating_mul(4) {
        RANGE_BY_ROWID
    } else {
        RANGE_BY_DAY
    }
}

impl Store {
    /// Returns the events that no archive batch contains, counted per org and
    /// UTC day of `published`, in order of org then day.
    pub fn pending_archive_partitions(&self) -> Result<Vec<PendingPartition>> {
        let mut statement = self.connection.prepare(
            "SELECT org, date, SUM(events) FROM (
                 SELECT org, substr(published, 1, 10) AS date, COUNT(*) AS events
                 FROM archive_pending GROUP BY 1, 2
                 UNION ALL
                 SELECT org, date, events FROM archive_ranges
                 UNION ALL
                 SELECT org, substr(published, 1, 10), COUNT(*) FROM events
                 WHERE rowid > (SELECT events_through FROM archive_scan) GROUP BY 1, 2
             )
             GROUP BY org, date HAVING SUM(events) > 0 ORDER BY org, date",
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
        let mut relinked = scan_new_events(&transaction)?;
        if any_archived_event_deleted(&transaction)? {
            relinked += transaction.execute(
                "DELETE FROM archive_pending WHERE uuid IN (SELECT uuid FROM archived_events)",
                [],
            )? as u64;
        }
        transaction.commit()?;
        Ok(relinked)
    }

    /// Creates a batch of at most `limit` pending events of `org` published on
    /// `date` (`YYYY-MM-DD`, UTC), and names its object with
    /// `object_name(batch id)`. Returns `None` when no event is pending.
    ///
    /// Events pending one row each since before schema version 7 go first,
    /// the earliest first, then the events of the day's rowid range, the
    /// first stored first. The batch, its name and its events are saved in
    /// one transaction.
    pub fn create_archive_batch(
        &mut self,
        org: &str,
        date: &str,
        limit: u64,
        created_at: &str,
        object_name: impl FnOnce(i64) -> String,
    ) -> Result<Option<ArchiveBatch>> {
        let transaction = self.connection.transaction()?;
        scan_new_events(&transaction)?;
        transaction.execute(
            "INSERT INTO archive_batches (org, date, object, events, created_at)
             VALUES (?1, ?2, '', 0, ?3)",
            params![org, date, created_at],
        )?;
        let id = transaction.last_insert_rowid();
        let mut events = take_listed_events(&transaction, id, org, date, limit)?;
        let mut range = None;
        if events < limit
            && let Some((taken, taken_range)) = take_range(&transaction, org, date, limit - events)?
        {
            events += taken;
            range = Some(taken_range);
        }
        if events == 0 {
            // Dropping the transaction rolls back the empty batch.
            return Ok(None);
        }

        let object = object_name(id);
        transaction.execute(
            "UPDATE archive_batches SET object = ?2, events = ?3, range_after = ?4, range_through = ?5
             WHERE id = ?1",
            params![
                id,
                object,
                events as i64,
                range.map(|range| range.after),
                range.map(|range| range.through)
            ],
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
    /// such a batch are neither pending nor in a written object.
    pub fn prune_archived_events(&mut self, before: &str) -> Result<u64> {
        // An event stored again after retention (its uuid in
        // `archived_events`) counts as archived even inside a pending range.
        const ARCHIVED: &str = "events.published < ?1
            AND events.rowid <= (SELECT events_through FROM archive_scan)
            AND NOT EXISTS (SELECT 1 FROM archive_batches WHERE written_at IS NULL)
            AND NOT EXISTS (SELECT 1 FROM archive_pending AS pending
                            WHERE pending.org = events.org AND pending.published = events.published
                              AND pending.uuid = events.uuid)
            AND (events.uuid IN (SELECT uuid FROM archived_events)
                 OR NOT EXISTS (SELECT 1 FROM archive_ranges AS pending
                                WHERE pending.org = events.org
                                  AND pending.date = substr(events.published, 1, 10)
                                  AND events.rowid > pending.rowid_after
                                  AND events.rowid <= pending.rowid_through))";
        let transaction = self.connection.transaction()?;
        scan_new_events(&transaction)?;
        transaction.execute(
            &format!("INSERT OR IGNORE INTO archived_events (uuid) SELECT uuid FROM events WHERE {ARCHIVED}"),
            [before],
        )?;
        let deleted =
            transaction.execute(&format!("DELETE FROM events WHERE {ARCHIVED}"), [before])?;
        // SQLite gives a new row the largest rowid plus one. After deleting
        // the newest rows, the mark and the range ends come down to the
        // largest rowid left, or events stored next would fall unscanned at
        // or below the mark, or into a range. The rowids cut off a range
        // contained only deleted events, which were archived.
        transaction.execute_batch(
            "UPDATE archive_scan
             SET events_through = MIN(events_through, (SELECT COALESCE(MAX(rowid), 0) FROM events));
             UPDATE archive_ranges
             SET rowid_through = MIN(rowid_through, (SELECT COALESCE(MAX(rowid), 0) FROM events));
             DELETE FROM archive_ranges WHERE rowid_through <= rowid_after;",
        )?;
        transaction.commit()?;
        Ok(deleted as u64)
    }

    /// Counts pending events and archive batches.
    pub fn archive_counts(&self) -> Result<ArchiveCounts> {
        let pending_events = self.connection.query_row(
            "SELECT (SELECT COUNT(*) FROM archive_pending)
                  + (SELECT COALESCE(SUM(events), 0) FROM archive_ranges)
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

/// Adds the events stored since the last scan, those with a rowid above
/// `archive_scan.events_through`, to the rowid range of their org and day in
/// `archive_ranges`, and raises the mark to the newest rowid. Returns how many
/// of them are in `archived_events`, stored again after retention; those stay
/// out of the ranges' counts and of every batch.
///
/// It runs in the caller's transaction. The newest rowid is read once and
/// bounds every step, so an event that another connection commits meanwhile
/// stays above the mark for the next scan. A day that already has a range
/// gets its end raised. No pending event of that day lies between the old
/// end and the old mark, because the scans that covered those rowids found
/// none.
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
    let any_archived = any_archived_event_deleted(connection)?;
    let not_archived = match any_archived {
        true => "AND uuid NOT IN (SELECT uuid FROM archived_events)",
        false => "",
    };
    connection.execute(
        &format!(
            "INSERT INTO archive_ranges (org, date, rowid_after, rowid_through, events)
             SELECT org, substr(published, 1, 10), ?1, ?2, COUNT(*) FROM events
             WHERE rowid > ?1 AND rowid <= ?2 {not_archived}
             GROUP BY 1, 2
             ON CONFLICT (org, date) DO UPDATE
             SET rowid_through = excluded.rowid_through, events = events + excluded.events"
        ),
        [through, newest],
    )?;
    let mut relinked = 0;
    if any_archived {
        relinked = connection.query_row(
            "SELECT COUNT(*) FROM events WHERE rowid > ?1 AND rowid <= ?2
             AND uuid IN (SELECT uuid FROM archived_events)",
            [through, newest],
            |row| row.get(0),
        )?;
    }
    connection.execute("UPDATE archive_scan SET events_through = ?1", [newest])?;
    Ok(relinked)
}

/// The events one transaction stored, counted per UTC day of `published`,
/// so that the transaction can add them to the pending ranges itself instead
/// of leaving their rows for [`scan_new_events`] to read back.
#[derive(Debug, Default)]
pub(crate) struct NewEvents {
    /// Rowids of the first and the last event stored.
    rowids: Option<(i64, i64)>,
    /// Events per day, in the order the days came.
    days: Vec<(String, u64)>,
    /// Set when a `published` does not start with ten ASCII characters,
    /// the day the scan's `substr` reads; the scan then counts them all.
    unusual: bool,
}

impl NewEvents {
    /// Counts a stored event with `rowid`. Rowids must come in increasing
    /// order, as SQLite gives them to the rows of one transaction.
    pub(crate) fn add(&mut self, rowid: i64, published: &str) {
        self.rowids = Some(match self.rowids {
            Some((first, _)) => (first, rowid),
            None => (rowid, rowid),
        });
        let day = published.get(..10).filter(|day| day.is_ascii());
        let Some(day) = day else {
            self.unusual = true;
            return;
        };
        match self.days.iter_mut().rev().find(|(known, _)| known == day) {
            Some((_, events)) => *events += 1,
            None => self.days.push((day.to_string(), 1)),
        }
    }

    /// Adds the counted events of `org` to the pending range of their day and
    /// raises the scan mark to the last of them, in the caller's transaction,
    /// then starts counting afresh. It does so only when the mark is one
    /// below the first of them and no archived event was ever deleted, because
    /// only then are the rowids above the mark exactly these events, none of
    /// them in `archived_events`. Otherwise it leaves them to the next scan.
    ///
    /// The caller must hold the write lock since before the first of them was
    /// stored, as a transaction that stored them does, so that no other
    /// connection stored a row in between.
    pub(crate) fn record(&mut self, connection: &Connection, org: &str) -> Result<()> {
        let tally = std::mem::take(self);
        let Some((first, last)) = tally.rowids else {
            return Ok(());
        };
        if tally.unusual {
            return Ok(());
        }
        let (through, archived): (i64, bool) = connection.query_row(
            "SELECT events_through, EXISTS (SELECT 1 FROM archived_events) FROM archive_scan",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if through != first - 1 || archived {
            return Ok(());
        }
        let mut upsert = connection.prepare_cached(
            "INSERT INTO archive_ranges (org, date, rowid_after, rowid_through, events)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (org, date) DO UPDATE
             SET rowid_through = excluded.rowid_through, events = events + excluded.events",
        )?;
        for (date, events) in &tally.days {
            upsert.execute(params![org, date, through, last, *events as i64])?;
        }
        connection.execute("UPDATE archive_scan SET events_through = ?1", [last])?;
        Ok(())
    }
}

fn any_archived_event_deleted(connection: &Connection) -> Result<bool> {
    Ok(
        connection.query_row("SELECT EXISTS (SELECT 1 FROM archived_events)", [], |row| {
            row.get(0)
        })?,
    )
}

/// Moves at most `limit` events of `org` and `date` from `archive_pending` to
/// batch `id` in `archive_members`, the earliest first, and returns how many.
fn take_listed_events(
    connection: &Connection,
    id: i64,
    org: &str,
    date: &str,
    limit: u64,
) -> Result<u64> {
    let (start, end) = day_bounds(date);
    let listed: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM archive_pending
                        WHERE org = ?1 AND published >= ?2 AND published < ?3)",
        params![org, start, end],
        |row| row.get(0),
    )?;
    if !listed {
        return Ok(0);
    }
    let events = connection.execute(
        "INSERT INTO archive_members (batch, published, uuid)
         SELECT ?1, pending.published, pending.uuid FROM archive_pending AS pending
         WHERE pending.org = ?2 AND pending.published >= ?3 AND pending.published < ?4
         ORDER BY pending.published, pending.uuid LIMIT ?5",
        params![id, org, start, end, limit as i64],
    )?;
    connection.execute(
        "DELETE FROM archive_pending
         WHERE org = ?2 AND published >= ?3 AND published < ?4
           AND uuid IN (SELECT uuid FROM archive_members WHERE batch = ?1)",
        params![id, org, start, end],
    )?;
    Ok(events as u64)
}

/// Takes at most `limit` events of the pending range of `org` and `date`, the
/// first stored first, and returns how many and their rowid range. What is
/// left of the range stays pending.
fn take_range(
    connection: &Connection,
    org: &str,
    date: &str,
    limit: u64,
) -> Result<Option<(u64, RowidRange)>> {
    let pending = connection
        .query_row(
            "SELECT rowid_after, rowid_through, events FROM archive_ranges
             WHERE org = ?1 AND date = ?2",
            params![org, date],
            |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, u64>(2)?)),
        )
        .optional()?;
    let Some((after, through, events)) = pending else {
        return Ok(None);
    };
    let range = RowidRange { after, through };
    if events <= limit {
        connection.execute(
            "DELETE FROM archive_ranges WHERE org = ?1 AND date = ?2",
            params![org, date],
        )?;
        return Ok(Some((events, range)));
    }

    // The range contains more than a batch, so the batch ends at the rowid
    // of its `limit`-th event, and the rest of the range stays pending.
    let (start, end) = day_bounds(date);
    let cut: i64 = connection.query_row(
        &format!(
            "SELECT rowid FROM events WHERE {} ORDER BY rowid LIMIT 1 OFFSET ?7",
            range_filter(range, events)
        ),
        params![after, through, start, end, org, date, limit as i64 - 1],
        |row| row.get(0),
    )?;
    connection.execute(
        "UPDATE archive_ranges SET rowid_after = ?3, events = events - ?4
         WHERE org = ?1 AND date = ?2",
        params![org, date, cut, limit as i64],
    )?;
    Ok(Some((
        limit,
        RowidRange {
            after,
            through: cut,
        },
    )))
}

/// Returns text bounds of the `published` values whose first ten characters
/// are `date`: the day and the next for a `YYYY-MM-DD` date. Any other `date`
/// (from a `published` not in RFC 3339) gets `date` and `date` followed by
/// U+10FFFF, the largest character.
pub(crate) fn day_bounds(date: &str) -> (String, String) {
    match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(day) => {
            let next = day + Duration::days(1);
            (date.to_string(), next.format("%Y-%m-%d").to_string())
        }
        Err(_) => (date.to_string(), format!("{date}\u{10FFFF}")),
    }
}
