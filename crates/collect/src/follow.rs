//! Continuous System Log polling (`idaudit logs follow`).
//!
//! A System Log request without `until` and in ascending order is a polling
//! request. Okta returns its events in the order it stored them, not by
//! `published`, so an event stored late carries a `published` in the past.
//! Its `next` link is always present, also on an empty page, and an empty
//! page means the client has caught up. Resuming from the last `published`
//! would skip or repeat events, so the poller saves the `next` URL in the
//! store, in the same transaction as the events of the page it came with. A
//! crash then keeps both or neither. A restart reads the page again, and the
//! store drops its events as duplicates by `uuid`.
//!
//! The first run of an org has no saved URL and starts a polling request
//! with `since` set the backfill window back from now, then follows `next`
//! until caught up. The same rate-limited [`Client`] as every other request
//! sends each page, so a backfill stays within the configured share of the
//! `/api/v1/logs` bucket.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use idaudit_okta::Client;
use idaudit_store::{EventRecord, Store};

use crate::event::event_records;
use crate::logs::RETENTION_DAYS;

/// Events per page; Okta's maximum for `/api/v1/logs`.
const PAGE_SIZE: u32 = 1000;

/// Default time between two requests once caught up.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(15);
/// Default window a first run reads back from now.
pub const DEFAULT_BACKFILL: chrono::Duration = chrono::Duration::days(7);
/// Default time between two progress lines.
pub const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// Settings of the poller.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    /// Time between two requests once caught up.
    pub poll_interval: Duration,
    /// How far back from now a first run starts; at most Okta's 90-day retention.
    pub backfill: chrono::Duration,
    /// Time between two progress lines (events, rate and lag) at INFO.
    pub report_interval: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: DEFAULT_POLL_INTERVAL,
            backfill: DEFAULT_BACKFILL,
            report_interval: DEFAULT_REPORT_INTERVAL,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(
        "Backfill window of {days} days is past Okta's {RETENTION_DAYS}-day System Log retention: use at most `{RETENTION_DAYS}d`"
    )]
    BackfillBeyondRetention { days: i64 },
    #[error("Backfill window must be positive, such as `7d`")]
    EmptyBackfill,
    #[error(transparent)]
    Okta(#[from] idaudit_okta::Error),
    #[error("failed to store events")]
    Store(#[from] idaudit_store::Error),
}

/// Counts of a poller's work so far.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FollowStats {
    pub requests: u64,
    pub events: u64,
    pub inserted: u64,
    pub duplicates: u64,
    /// Events in Okta's response that could not be read as LogEvents.
    pub unreadable: u64,
    /// Requests that failed with a transient error after the client's own retries.
    pub failed_requests: u64,
}

/// The outcome of one committed page.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events stored by this page that were not stored before, in page order.
    pub new_events: Vec<EventRecord>,
    /// Whether the page was shorter than a full page, so the poller has
    /// read everything Okta had stored when it sent the response.
    pub caught_up: bool,
}

/// Receives the new events of each committed page, for example to run detection.
pub trait OnCommit {
    /// Called after each commit with the events that page stored for the
    /// first time. They are handed over, so that a handler that passes them
    /// on to another thread does not copy a page of events.
    fn committed(
        &mut self,
        store: &Store,
        new_events: Vec<EventRecord>,
    ) -> impl Future<Output = ()>;
}

/// An [`OnCommit`] that does nothing.
pub struct NoHandler;

impl OnCommit for NoHandler {
    async fn committed(&mut self, _store: &Store, _new_events: Vec<EventRecord>) {}
}

/// Returns the state key of the saved `next` URL of `org`.
pub fn cursor_key(org: &str) -> String {
    format!("logs.follow.next:{org}")
}

/// The polling position of one org and the counts behind the progress lines.
pub struct Poller {
    client: Client,
    org: String,
    url: String,
    stats: FollowStats,
    newest_published: Option<String>,
}

impl Poller {
    /// Resumes from the saved `next` URL of `org`, or starts a polling
    /// request `options.backfill` back from now when none is saved.
    pub fn resume(
        client: Client,
        store: &Store,
        org: &str,
        options: &FollowOptions,
    ) -> Result<Poller, FollowError> {
        check_backfill(options.backfill)?;
        let url = match store.state(&cursor_key(org))? {
            Some(url) => {
                tracing::info!(org, "Resuming the System Log from the saved position");
                url
            }
            None => {
                let since = idaudit_store::format_time(Utc::now() - options.backfill);
                tracing::info!(
                    org,
                    since,
                    "Starting the System Log from the backfill window"
                );
                client.url(&format!(
                    "/api/v1/logs?since={}&limit={PAGE_SIZE}",
                    since.replace(':', "%3A")
                ))
            }
        };
        Ok(Poller {
            client,
            org: org.to_string(),
            url,
            stats: FollowStats::default(),
            newest_published: store.newest_event_time()?,
        })
    }

    /// Returns the counts so far.
    pub fn stats(&self) -> &FollowStats {
        &self.stats
    }

    /// Reads one page and commits its events with its `next` URL.
    ///
    /// Cancel-safe: the only await is the request, and the commit that
    /// follows it runs without yielding, so dropping the future either
    /// leaves the store as it was or finishes the commit.
    pub async fn poll_once(&mut self, store: &mut Store) -> Result<Batch, FollowError> {
        self.stats.requests += 1;
        let mut page = self.client.get_raw_page(&self.url).await?;
        let (count, results) = event_records(&page)?;
        let full = count >= PAGE_SIZE as usize;
        self.stats.events += count as u64;

        let mut records = Vec::with_capacity(count);
        for result in results {
            match result {
                Ok(record) => records.push(record),
                Err(reason) => {
                    self.stats.unreadable += 1;
                    tracing::warn!(url = %page.url, reason, "Skipped an unreadable event");
                }
            }
        }
        let next = match page.next.take() {
            Some(next) => next,
            None => {
                // Okta documents a `next` link on every polling page; without
                // one the same page is read again after the poll interval.
                tracing::warn!(url = %self.url, "Okta sent a polling page without a next link; reading the same page again later");
                self.url.clone()
            }
        };
        // The body is no longer needed, and a page of 1,000 events takes
        // about 2.5 MB.
        drop(page);
        let key = cursor_key(&self.org);
        let new = store.insert_new_events(&self.org, "poll", &records, Some((&key, &next)))?;
        self.url = next;

        self.stats.inserted += new.len() as u64;
        self.stats.duplicates += (records.len() - new.len()) as u64;
        // The page's records are moved, not copied: `new` lists positions in
        // increasing order.
        let new_events: Vec<EventRecord> = if new.len() == records.len() {
            records
        } else {
            let mut positions = new.iter().copied().peekable();
            records
                .into_iter()
                .enumerate()
                .filter_map(|(position, record)| {
                    positions.next_if_eq(&position)?;
                    Some(record)
                })
                .collect()
        };
        for event in &new_events {
            if self
                .newest_published
                .as_ref()
                .is_none_or(|newest| *newest < event.published)
            {
                self.newest_published = Some(event.published.clone());
            }
        }
        Ok(Batch {
            new_events,
            caught_up: !full,
        })
    }

    /// Returns seconds from the newest stored `published` to now, if any event is stored.
    fn lag_seconds(&self) -> Option<f64> {
        let newest = self.newest_published.as_deref()?;
        let published = crate::parse_published(newest)?;
        Some((Utc::now() - published).num_milliseconds() as f64 / 1000.0)
    }
}

/// Polls until `shutdown` completes, calling `handler` after each commit.
///
/// Once caught up, the poller waits `options.poll_interval` before the next
/// request, so an idle org costs one request per interval. A transient
/// failure that outlasts the client's retries is logged and retried after
/// the interval; any other failure ends the loop with the error. `shutdown`
/// is honoured between requests and during a request, never inside a commit.
pub async fn follow(
    poller: &mut Poller,
    store: &mut Store,
    options: &FollowOptions,
    handler: &mut impl OnCommit,
    shutdown: impl Future<Output = ()>,
) -> Result<(), FollowError> {
    tokio::pin!(shutdown);
    let mut report = Report::new(options.report_interval);
    loop {
        let polled = tokio::select! {
            () = &mut shutdown => break,
            polled = poller.poll_once(store) => polled,
        };
        let caught_up = match polled {
            Ok(batch) => {
                if !batch.new_events.is_empty() {
                    handler.committed(store, batch.new_events).await;
                }
                batch.caught_up
            }
            Err(FollowError::Okta(error)) if worth_waiting_for(&error) => {
                poller.stats.failed_requests += 1;
                tracing::warn!(org = %poller.org, %error, "System Log request failed; retrying after the poll interval");
                true
            }
            Err(error) => return Err(error),
        };
        report.maybe_log(poller);
        if caught_up {
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(options.poll_interval) => {}
            }
        }
    }
    tracing::info!(
        org = %poller.org,
        requests = poller.stats.requests,
        inserted = poller.stats.inserted,
        duplicates = poller.stats.duplicates,
        "Stopped following the System Log"
    );
    Ok(())
}

/// Returns whether a failed request is worth sending again after the poll
/// interval: the client has already retried 429s, 5xx responses and dropped
/// connections, and gave up on this attempt, but a long-running poller should
/// outlast an outage. Other errors, such as a missing scope, need an operator.
fn worth_waiting_for(error: &idaudit_okta::Error) -> bool {
    use idaudit_okta::Error;
    match error {
        Error::RetriesExhausted { .. } | Error::Http { .. } | Error::Decode { .. } => true,
        Error::Api(api) => api.status.is_server_error(),
        Error::UnexpectedStatus { status, .. } => status.is_server_error(),
        _ => false,
    }
}

/// Rejects a backfill window Okta would clip or reject.
pub fn check_backfill(backfill: chrono::Duration) -> Result<(), FollowError> {
    if backfill <= chrono::Duration::zero() {
        return Err(FollowError::EmptyBackfill);
    }
    if backfill > chrono::Duration::days(RETENTION_DAYS) {
        return Err(FollowError::BackfillBeyondRetention {
            days: backfill.num_days(),
        });
    }
    Ok(())
}

/// Progress lines at a fixed interval: events stored, rate and lag.
struct Report {
    interval: Duration,
    last: Instant,
    inserted_then: u64,
}

impl Report {
    fn new(interval: Duration) -> Report {
        Report {
            interval,
            last: Instant::now(),
            inserted_then: 0,
        }
    }

    fn maybe_log(&mut self, poller: &Poller) {
        let elapsed = self.last.elapsed();
        if elapsed < self.interval {
            return;
        }
        let stats = &poller.stats;
        let inserted = stats.inserted - self.inserted_then;
        let rate = inserted as f64 / elapsed.as_secs_f64();
        let lag = poller.lag_seconds().unwrap_or(0.0);
        tracing::info!(
            org = %poller.org,
            inserted,
            events_per_second = format!("{rate:.1}"),
            lag_seconds = format!("{lag:.0}"),
            total_inserted = stats.inserted,
            duplicates = stats.duplicates,
            requests = stats.requests,
            "Following the System Log"
        );
        self.last = Instant::now();
        self.inserted_then = stats.inserted;
    }
}
