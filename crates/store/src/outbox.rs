//! The outbox: alert deliveries waiting for a sink (Slack, a webhook, a file).
//!
//! Storing an alert and queueing its deliveries happen in one transaction,
//! so a crash cannot leave a stored alert that no sink will hear of. Each
//! change of an alert's content starts a new revision. The outbox contains
//! at most one row per alert, sink and revision, so running detection again
//! over the same events queues nothing new. A delivery worker (in
//! `idaudit-detect`) reads due rows in order, sends them and marks them
//! delivered; a failed attempt leaves the row pending and defers every
//! pending row of that sink, so the sink receives revisions in order.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::{Alert, AlertStatus, Result, Store, Upserted, format_time};

/// One pending delivery of an alert revision to a sink.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub alert_id: String,
    /// The sink's name, as given when the alert was queued.
    pub sink: String,
    /// Starts at 1 and grows each time the alert's content changes.
    pub revision: u32,
    /// The alert as it was at this revision.
    pub alert: Alert,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// Outcome of [`Store::upsert_alert_and_queue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedAlert {
    pub upserted: Upserted,
    /// The alert's current revision.
    pub revision: u32,
    /// Whether this call started the revision and queued its deliveries;
    /// false when the stored alert already had the same content.
    pub queued: bool,
}

/// Outbox rows by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
}

impl Store {
    /// Stores `alert` as [`Store::upsert_alert`] does and, when its content
    /// is new or changed, starts a revision and queues one delivery per
    /// sink, all in one transaction.
    pub fn upsert_alert_and_queue(&self, alert: &Alert, sinks: &[String]) -> Result<QueuedAlert> {
        // IMMEDIATE takes the write lock first, waiting up to the busy
        // timeout. A deferred transaction that reads and then writes fails
        // at once with SQLITE_BUSY when another connection, such as the
        // workflow worker's beside detection's, committed in between.
        let transaction = rusqlite::Transaction::new_unchecked(
            &self.connection,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        let upserted = self.upsert_alert(alert)?;

        let fingerprint = fingerprint(alert)?;
        let previous: Option<(u32, String)> = transaction
            .query_row(
                "SELECT revision, fingerprint FROM alert_revisions WHERE alert_id = ?1",
                [&alert.id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let revision = match previous {
            Some((revision, previous)) if previous == fingerprint => {
                transaction.commit()?;
                return Ok(QueuedAlert {
                    upserted,
                    revision,
                    queued: false,
                });
            }
            Some((revision, _)) => revision + 1,
            None => 1,
        };
        transaction.execute(
            "INSERT INTO alert_revisions (alert_id, revision, fingerprint) VALUES (?1, ?2, ?3)
             ON CONFLICT (alert_id) DO UPDATE SET
                revision = excluded.revision, fingerprint = excluded.fingerprint",
            params![alert.id, revision, fingerprint],
        )?;

        let payload = serde_json::to_string(alert)?;
        let now = format_time(Utc::now());
        for sink in sinks {
            transaction.execute(
                "INSERT INTO outbox (alert_id, sink, revision, payload, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (alert_id, sink, revision) DO NOTHING",
                params![alert.id, sink, revision, payload, now],
            )?;
        }
        transaction.commit()?;
        Ok(QueuedAlert {
            upserted,
            revision,
            queued: true,
        })
    }

    /// Returns up to `limit` pending deliveries due at `now`, oldest first.
    pub fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxEntry>> {
        let mut statement = self.connection.prepare(
            "SELECT id, alert_id, sink, revision, payload, attempts FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= ?1
             ORDER BY id LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![format_time(now), limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, u32>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, u32>(5)?,
            ))
        })?;
        let mut entries = Vec::new();
        for row in rows {
            let (id, alert_id, sink, revision, payload, attempts) = row?;
            entries.push(OutboxEntry {
                id,
                alert_id,
                sink,
                revision,
                alert: serde_json::from_str(&payload)?,
                attempts,
            });
        }
        Ok(entries)
    }

    /// Marks a delivery as accepted by its sink.
    pub fn mark_delivered(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        self.connection.execute(
            "UPDATE outbox SET state = 'delivered', delivered_at = ?2, last_error = NULL
             WHERE id = ?1",
            params![id, format_time(at)],
        )?;
        Ok(())
    }

    /// Records a failed attempt of delivery `id` and defers every pending
    /// delivery of its sink to `retry_at`, so that later revisions do not
    /// overtake it. `error` must not contain secrets.
    pub fn defer_sink(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        let transaction = self.connection.unchecked_transaction()?;
        transaction.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        transaction.execute(
            "UPDATE outbox SET next_attempt_at = ?2
             WHERE state = 'pending' AND sink = (SELECT sink FROM outbox WHERE id = ?1)",
            params![id, format_time(retry_at)],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Returns the last error recorded for delivery `id`, if any.
    pub fn delivery_error(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .connection
            .query_row("SELECT last_error FROM outbox WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?
            .flatten())
    }

    /// Counts outbox rows by state.
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        let mut counts = OutboxCounts::default();
        let mut statement = self
            .connection
            .prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, u64>(1)?))
        })?;
        for row in rows {
            match row? {
                (state, count) if state == "pending" => counts.pending = count,
                (state, count) if state == "delivered" => counts.delivered = count,
                _ => {}
            }
        }
        Ok(counts)
    }
}

/// Returns the alert's JSON without its triage status, which is not sent
/// to sinks.
fn fingerprint(alert: &Alert) -> Result<String> {
    let mut content = alert.clone();
    content.status = AlertStatus::Open;
    Ok(serde_json::to_string(&content)?)
}
