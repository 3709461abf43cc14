//! Bounded System Log backfill (`idaudit logs pull`).
//!
//! A request with both `since` and `until` is a bounded query: Okta orders
//! it by `published` and ends it with a page without a `next` link. Each page
//! is stored in its own transaction, deduplicated by `uuid`.

use chrono::{DateTime, Duration, Utc};
use idaudit_okta::Client;
use idaudit_store::{InsertOutcome, Store};
use serde::Serialize;

use crate::Progress;
use crate::event::event_records;

/// Okta keeps System Log events for 90 days.
pub const RETENTION_DAYS: i64 = 90;

/// Events per page; Okta's maximum for `/api/v1/logs`.
const PAGE_SIZE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(
        "`--since` {since} is past Okta's {RETENTION_DAYS}-day System Log retention: the earliest accepted time is {earliest}"
    )]
    BeyondRetention { since: String, earliest: String },
    #[error("`--since` {since} is not before `--until` {until}")]
    EmptyRange { since: String, until: String },
    #[error(transparent)]
    Okta(#[from] idaudit_okta::Error),
    #[error("failed to store events")]
    Store(#[from] idaudit_store::Error),
}

/// Counts from one pull.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PullSummary {
    pub pages: u64,
    pub events: u64,
    pub inserted: u64,
    pub duplicates: u64,
    /// Events in Okta's response that could not be read as LogEvents.
    pub unreadable: u64,
}

/// Checks a pull range against Okta's retention before any request is made.
pub fn check_range(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), PullError> {
    let earliest = now - Duration::days(RETENTION_DAYS);
    // A range computed from an earlier "now", such as `--since 90d`, may be a
    // moment older than the limit by the time it is checked again.
    if since < earliest - Duration::minutes(1) {
        return Err(PullError::BeyondRetention {
            since: idaudit_store::format_time(since),
            earliest: idaudit_store::format_time(earliest),
        });
    }
    if since >= until {
        return Err(PullError::EmptyRange {
            since: idaudit_store::format_time(since),
            until: idaudit_store::format_time(until),
        });
    }
    Ok(())
}

/// Reads every event published in `[since, until)` and stores it for `org`.
pub async fn pull(
    client: &Client,
    store: &mut Store,
    org: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<PullSummary, PullError> {
    check_range(since, until, Utc::now())?;
    let path = format!(
        "/api/v1/logs?since={}&until={}&limit={PAGE_SIZE}&sortOrder=ASCENDING",
        encode_time(since),
        encode_time(until)
    );
    let mut summary = PullSummary::default();
    progress.start_phase("System Log", None);

    let mut url = client.url(&path);
    loop {
        let page = client.get_raw_page(&url).await?;
        let (count, results) = event_records(&page)?;
        summary.pages += 1;
        summary.events += count as u64;

        let mut records = Vec::with_capacity(count);
        for result in results {
            match result {
                Ok(record) => records.push(record),
                Err(reason) => {
                    summary.unreadable += 1;
                    tracing::warn!(url = %page.url, reason, "Skipped an unreadable event");
                }
            }
        }
        let outcome: InsertOutcome = store.insert_events(org, "poll", &records)?;
        summary.inserted += outcome.inserted;
        summary.duplicates += outcome.duplicates;
        progress.advance(records.len() as u64);

        match page.next {
            Some(next) if next != url => url = next,
            Some(_) => {
                tracing::warn!(url = %url, "Okta returned a next link equal to the page just read; ending the pull");
                break;
            }
            None => break,
        }
    }
    progress.finish_phase();
    Ok(summary)
}

fn encode_time(time: DateTime<Utc>) -> String {
    idaudit_store::format_time(time).replace(':', "%3A")
}
