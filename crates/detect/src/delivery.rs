//! The delivery worker: sends the store's pending outbox rows to their
//! sinks, with retries and exponential back-off.
//!
//! A row is marked delivered only after its sink accepted it, so an
//! unreachable sink loses nothing: its rows stay pending and are tried
//! again. A failure defers every pending row of that sink, so a sink
//! receives an alert's revisions in the order they were queued.
//!
//! NOTE: a row is sent again if the process stops after its sink accepted
//! it but before it was marked delivered. Webhooks carry
//! [`crate::sinks::DELIVERY_HEADER`], so a receiver can drop the repeat.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use idaudit_store::{OutboxEntry, Store};

use crate::sinks::Sink;

/// Rows read from the outbox per round.
const BATCH: usize = 100;

/// When to try a failed delivery again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure; each further failure doubles it.
    pub initial: Duration,
    /// The maximum delay between two attempts.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// Two seconds, doubling up to ten minutes: a sink down for a minute
    /// gets about six attempts, and one down for hours is asked six times
    /// an hour.
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// Returns the delay after the `failures`-th failed attempt (from 1), or
    /// the server's `Retry-After` when that is longer, capped at `max`.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let backoff = self.initial.saturating_mul(1 << doublings).min(self.max);
        retry_after
            .map_or(backoff, |asked| asked.max(backoff))
            .min(self.max)
    }
}

/// Counts of one round of deliveries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: u64,
    pub failed: u64,
    /// Due rows left for a later round, because their sink failed earlier
    /// in this round or is no longer configured.
    pub skipped: u64,
}

/// Sends pending outbox rows to the configured sinks.
pub struct DeliveryWorker {
    sinks: Vec<Sink>,
    policy: RetryPolicy,
}

impl DeliveryWorker {
    pub fn new(sinks: Vec<Sink>, policy: RetryPolicy) -> DeliveryWorker {
        DeliveryWorker { sinks, policy }
    }

    /// Returns the sink names to queue alerts for, as
    /// [`crate::detect_and_queue`] takes them.
    pub fn sink_names(&self) -> Vec<String> {
        self.sinks
            .iter()
            .map(|sink| sink.name().to_string())
            .collect()
    }

    /// Sends every row that is due now, oldest first, once each.
    pub async fn deliver_due(&self, store: &Store) -> Result<DeliveryReport, idaudit_store::Error> {
        let mut report = DeliveryReport::default();
        let mut failed_sinks: HashSet<String> = HashSet::new();
        let mut unknown_sinks: HashSet<String> = HashSet::new();
        loop {
            // Rows of unknown sinks are read again each pass; count them once.
            report.skipped = 0;
            let entries = store.due_deliveries(Utc::now(), BATCH)?;
            let mut progressed = false;
            for entry in &entries {
                if failed_sinks.contains(&entry.sink) || unknown_sinks.contains(&entry.sink) {
                    report.skipped += 1;
                    continue;
                }
                let Some(sink) = self.sinks.iter().find(|sink| sink.name() == entry.sink) else {
                    tracing::warn!(sink = %entry.sink, "Outbox rows wait for a sink that is not configured; add it back or they stay pending");
                    unknown_sinks.insert(entry.sink.clone());
                    report.skipped += 1;
                    continue;
                };
                if self.deliver(store, sink, entry).await? {
                    report.delivered += 1;
                    progressed = true;
                } else {
                    report.failed += 1;
                    failed_sinks.insert(entry.sink.clone());
                }
            }
            // A full batch that delivered something may have more rows behind it.
            if entries.len() < BATCH || !progressed {
                return Ok(report);
            }
        }
    }

    /// Delivers rounds every `poll` until `shutdown` completes.
    pub async fn run(
        &self,
        store: &Store,
        poll: Duration,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), idaudit_store::Error> {
        tokio::pin!(shutdown);
        loop {
            self.deliver_due(store).await?;
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Sends one row; returns whether the sink accepted it.
    async fn deliver(
        &self,
        store: &Store,
        sink: &Sink,
        entry: &OutboxEntry,
    ) -> Result<bool, idaudit_store::Error> {
        match sink.deliver(&entry.alert, entry.revision).await {
            Ok(()) => {
                store.mark_delivered(entry.id, Utc::now())?;
                tracing::debug!(sink = %entry.sink, alert = %entry.alert_id, revision = entry.revision, "Delivered alert");
                Ok(true)
            }
            Err(error) => {
                let failures = entry.attempts + 1;
                let delay = self.policy.delay(failures, error.retry_after());
                let retry_at = Utc::now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::days(1));
                store.defer_sink(entry.id, &error.to_string(), retry_at)?;
                tracing::warn!(
                    sink = %entry.sink,
                    alert = %entry.alert_id,
                    revision = entry.revision,
                    failures,
                    delay_ms = delay.as_millis() as u64,
                    %error,
                    "Failed to deliver alert; retrying later"
                );
                Ok(false)
            }
        }
    }
}
