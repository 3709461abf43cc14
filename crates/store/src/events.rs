//! The System Log table: each event stored once, keyed by its `uuid`.

use rusqlite::{CachedStatement, Connection, params};

use crate::archive::NewEvents;
use crate::{Result, Store};

/// Inserts one event, unless an event with its `uuid` is already stored.
const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events (uuid, org, published, event_type,
    actor_id, actor_alternate_id, outcome_result, client_ip, source, stored_at, raw)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// An event ready to store: key fields pulled out of the raw LogEvent.
#[derive(Clone, Debug)]
pub struct EventRecord {
    pub uuid: String,
    /// RFC 3339 UTC with milliseconds, as written by [`crate::format_time`].
    pub published: String,
    pub event_type: String,
    pub actor_id: Option<String>,
    pub actor_alternate_id: Option<String>,
    pub outcome_result: Option<String>,
    pub client_ip: Option<String>,
    /// The LogEvent as compact JSON.
    pub raw: String,
}

/// A stored event as read back for detection or export.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub uuid: String,
    pub published: String,
    pub event_type: String,
    pub raw: String,
}

/// How many events of a batch were new and how many were already stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    pub inserted: u64,
    pub duplicates: u64,
}

impl std::ops::AddAssign for InsertOutcome {
    fn add_assign(&mut self, other: InsertOutcome) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
    }
}

impl Store {
    /// Stores `events` for `org` in one transaction; an event whose `uuid` is
    /// already stored is counted as a duplicate and left as it was.
    ///
    /// `source` names where the events came from (`poll`, `import`, `hook`).
    pub fn insert_events(
        &mut self,
        org: &str,
        source: &str,
        events: &[EventRecord],
    ) -> Result<InsertOutcome> {
        self.insert_events_with_state(org, source, events, None)
    }

    /// Like [`Store::insert_events`], and saves `state` (a key and value, such
    /// as a log cursor) in the same transaction, so that a crash can neither
    /// keep the events without the cursor nor the cursor without the events.
    pub fn insert_events_with_state(
        &mut self,
        org: &str,
        source: &str,
        events: &[EventRecord],
        state: Option<(&str, &str)>,
    ) -> Result<InsertOutcome> {
        let new = self.insert_new_events(org, source, events, state)?;
        let inserted = new.len() as u64;
        Ok(InsertOutcome {
            inserted,
            duplicates: events.len() as u64 - inserted,
        })
    }

    /// Like [`Store::insert_events_with_state`], and returns the positions in
    /// `events` of the events that were new, in order, so that a caller can
    /// run detection on each event once, whichever source stored it first.
    pub fn insert_new_events(
        &mut self,
        org: &str,
        source: &str,
        events: &[EventRecord],
        state: Option<(&str, &str)>,
    ) -> Result<Vec<usize>> {
        let stored_at = crate::format_time(chrono::Utc::now());
        let transaction = self.connection.transaction()?;
        let mut new = Vec::new();
        let mut tally = NewEvents::default();
        {
            let mut insert = transaction.prepare_cached(INSERT_EVENT)?;
            for (position, event) in events.iter().enumerate() {
                if insert_event(&mut insert, org, source, &stored_at, event)? {
                    tally.add(transaction.last_insert_rowid(), &event.published);
                    new.push(position);
                }
            }
        }
        tally.record(&transaction, org)?;
        if let Some((key, value)) = state {
            transaction.execute(
                "INSERT INTO state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
        }
        transaction.commit()?;
        Ok(new)
    }

    /// Starts an [`EventWriter`] that stores events of `org` from `source` one
    /// at a time, for an import too large to hold in memory.
    pub fn event_writer<'s>(
        &'s mut self,
        org: &'s str,
        source: &'s str,
    ) -> Result<EventWriter<'s>> {
        let connection = &self.connection;
        Ok(EventWriter {
            insert: connection.prepare_cached(INSERT_EVENT)?,
            connection,
            org,
            source,
            stored_at: String::new(),
            in_transaction: false,
            tally: NewEvents::default(),
            outcome: InsertOutcome::default(),
        })
    }

    /// Returns the uuids of every stored event, in no particular order.
    pub fn event_uuids(&self) -> Result<Vec<String>> {
        let mut statement = self.connection.prepare("SELECT uuid FROM events")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counts all stored events.
    pub fn count_events(&self) -> Result<u64> {
        Ok(self
            .connection
            .query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))?)
    }

    /// Calls `visit` for each stored event published in `[since, until)`, in
    /// order of `published` then `uuid`. Either bound may be left open.
    pub fn for_each_event(
        &self,
        since: Option<&str>,
        until: Option<&str>,
        mut visit: impl FnMut(StoredEvent),
    ) -> Result<u64> {
        let mut statement = self.connection.prepare(
            "SELECT uuid, published, event_type, raw FROM events
             WHERE (?1 IS NULL OR published >= ?1) AND (?2 IS NULL OR published < ?2)
             ORDER BY published, uuid",
        )?;
        let mut rows = statement.query(params![since, until])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            visit(StoredEvent {
                uuid: row.get(0)?,
                published: row.get(1)?,
                event_type: row.get(2)?,
                raw: row.get(3)?,
            });
            count += 1;
        }
        Ok(count)
    }

    /// Returns the events of `org` of any of `event_types` published at or
    /// after `since`, in order of `published` then `uuid`.
    pub fn events_of_types(
        &self,
        org: &str,
        since: &str,
        event_types: &[&str],
    ) -> Result<Vec<StoredEvent>> {
        let types = serde_json::to_string(event_types)?;
        let mut statement = self.connection.prepare(
            "SELECT uuid, published, event_type, raw FROM events
             WHERE org = ?1 AND published >= ?2
               AND event_type IN (SELECT value FROM json_each(?3))
             ORDER BY published, uuid",
        )?;
        let rows = statement.query_map(params![org, since, types], |row| {
            Ok(StoredEvent {
                uuid: row.get(0)?,
                published: row.get(1)?,
                event_type: row.get(2)?,
                raw: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Returns the newest `published` time of any stored event.
    pub fn newest_event_time(&self) -> Result<Option<String>> {
        Ok(self
            .connection
            .query_row("SELECT MAX(published) FROM events", [], |row| row.get(0))?)
    }

    /// Returns the time of the user's latest successful SSO into `app_id`, from
    /// stored `user.authentication.sso` events.
    pub fn last_sso(&self, user_id: &str, app_id: &str) -> Result<Option<String>> {
        Ok(self.connection.query_row(
            "SELECT MAX(published) FROM events
             WHERE event_type = 'user.authentication.sso' AND actor_id = ?1
               AND outcome_result = 'SUCCESS'
               AND EXISTS (SELECT 1 FROM json_each(events.raw, '$.target')
                           WHERE json_extract(value, '$.id') = ?2)",
            [user_id, app_id],
            |row| row.get(0),
        )?)
    }
}

/// Stores events one at a time in transactions that the caller commits, so
/// that a large import needs neither a transaction per event nor all of its
/// events in memory at once.
///
/// Events are stored as by [`Store::insert_events`]: a `uuid` already stored
/// is counted as a duplicate and left as it was, and events take rowids in
/// the order they are passed. Events not yet committed when the writer is
/// dropped are rolled back.
pub struct EventWriter<'s> {
    connection: &'s Connection,
    insert: CachedStatement<'s>,
    org: &'s str,
    source: &'s str,
    /// `stored_at` of the events of the open transaction.
    stored_at: String,
    in_transaction: bool,
    /// The events of the open transaction, for the archive's pending ranges.
    tally: NewEvents,
    outcome: InsertOutcome,
}

impl EventWriter<'_> {
    /// Stores `event` in the open transaction, starting one if none is open.
    /// Returns true when the event was new.
    pub fn insert(&mut self, event: &EventRecord) -> Result<bool> {
        if !self.in_transaction {
            self.connection.execute_batch("BEGIN")?;
            self.in_transaction = true;
            self.tally = NewEvents::default();
            self.stored_at = crate::format_time(chrono::Utc::now());
        }
        let new = insert_event(
            &mut self.insert,
            self.org,
            self.source,
            &self.stored_at,
            event,
        )?;
        if new {
            self.tally
                .add(self.connection.last_insert_rowid(), &event.published);
            self.outcome.inserted += 1;
        } else {
            self.outcome.duplicates += 1;
        }
        Ok(new)
    }

    /// Commits the events stored since the last commit, if any.
    pub fn commit(&mut self) -> Result<()> {
        if self.in_transaction {
            self.tally.record(self.connection, self.org)?;
            self.connection.execute_batch("COMMIT")?;
            self.in_transaction = false;
        }
        Ok(())
    }

    /// Returns how many events were new and how many were duplicates so far,
    /// committed or not.
    pub fn outcome(&self) -> InsertOutcome {
        self.outcome
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        if self.in_transaction {
            // A failed rollback leaves SQLite to roll the transaction back when
            // the connection closes, which loses nothing that was committed.
            if let Err(error) = self.connection.execute_batch("ROLLBACK") {
                tracing::warn!(%error, "Failed to roll back uncommitted events");
            }
        }
    }
}

/// Runs `insert` (the statement [`INSERT_EVENT`]) for one event; returns true
/// when the event was new.
fn insert_event(
    insert: &mut CachedStatement<'_>,
    org: &str,
    source: &str,
    stored_at: &str,
    event: &EventRecord,
) -> Result<bool> {
    let changed = insert.execute(params![
        event.uuid,
        org,
        event.published,
        event.event_type,
        event.actor_id,
        event.actor_alternate_id,
        event.outcome_result,
        event.client_ip,
        source,
        stored_at,
        event.raw
    ])?;
    Ok(changed == 1)
}
