//! Directory sync: users, groups, memberships, apps, assignments, admin
//! roles, MFA factors, group rules and group owners, with their history.
//!
//! [`sync`] runs a full sync on the first run for an org and when the last
//! full one is older than [`SyncOptions::reconcile_after`]; otherwise it runs
//! an incremental one. A full sync (`full`) reads everything and replaces the
//! stored copy. An incremental sync (`incremental`) reads the users and
//! groups updated since the last sync, and refreshes memberships,
//! assignments, roles and factors only of the objects that System Log events
//! name. Either way the store compares its entitlements before and after the
//! write and records each difference in `changes` in the same transaction.
//! Only a full sync finds objects deleted without an event, so it also runs
//! periodically as a reconcile.

mod events;
mod full;
mod incremental;
mod read;

use chrono::{DateTime, Duration, Utc};
use idaudit_okta::{Client, Error as OktaError};
use idaudit_store::Store;
use serde::Serialize;

use crate::Progress;

/// Counts and timings of one sync.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncSummary {
    /// `full` or `incremental`.
    pub kind: String,
    /// The reason this kind of sync ran, such as `periodic reconcile`.
    pub reason: String,
    /// Rows stored for the org after the sync.
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    pub apps: u64,
    pub app_users: u64,
    pub app_groups: u64,
    pub role_assignments: u64,
    pub factors: u64,
    pub group_rules: u64,
    pub group_owners: u64,
    /// Objects whose members, assignments, roles or factors an incremental
    /// sync read again.
    pub refreshed: u64,
    /// System Log events an incremental sync acted on.
    pub events: u64,
    /// Entitlement changes recorded.
    pub changes: u64,
    /// Objects that disappeared while the sync ran.
    pub vanished: u64,
    pub requests: u64,
    pub rate_limited: u64,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Okta(#[from] OktaError),
    #[error("failed to write the directory to the store")]
    Store(#[from] idaudit_store::Error),
    #[error("Okta returned an object that could not be read: {0}")]
    Model(String),
}

/// Settings of [`sync`]'s choice between a full and an incremental sync.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Run a full sync whatever the state.
    pub force_full: bool,
    /// Run a full sync when the last one is older than this, to find
    /// objects deleted without a System Log event.
    pub reconcile_after: Duration,
    /// How far before the last sync an incremental one starts reading, so
    /// that objects and events Okta made visible late are still seen.
    pub overlap: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            force_full: false,
            reconcile_after: Duration::days(7),
            overlap: Duration::minutes(10),
        }
    }
}

/// Age of the last sync beyond which a full sync runs. Okta keeps System Log
/// events for 90 days, and an incremental sync needs every event since the last.
const EVENT_RETENTION: Duration = Duration::days(89);

/// When the last syncs of an org started, as saved in the store's `state`.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    last_sync: Option<DateTime<Utc>>,
    last_full: Option<DateTime<Utc>>,
}

impl Cursor {
    fn load(store: &Store, org: &str) -> Result<Cursor, SyncError> {
        let read = |key: String| -> Result<Option<DateTime<Utc>>, SyncError> {
            Ok(store
                .state(&key)?
                .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
                .map(|time| time.with_timezone(&Utc)))
        };
        Ok(Cursor {
            last_sync: read(last_sync_key(org))?,
            last_full: read(last_full_key(org))?,
        })
    }
}

fn last_sync_key(org: &str) -> String {
    format!("sync.{org}.last_sync")
}

fn last_full_key(org: &str) -> String {
    format!("sync.{org}.last_full")
}

/// The kind of sync to run, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Plan {
    Full { reason: &'static str },
    Incremental { since: DateTime<Utc> },
}

fn plan(cursor: Cursor, options: &SyncOptions, now: DateTime<Utc>) -> Plan {
    let (Some(last_sync), Some(last_full)) = (cursor.last_sync, cursor.last_full) else {
        return Plan::Full {
            reason: "first sync of this org",
        };
    };
    if options.force_full {
        return Plan::Full {
            reason: "requested with --full",
        };
    }
    if now - last_full >= options.reconcile_after {
        return Plan::Full {
            reason: "periodic reconcile",
        };
    }
    let since = last_sync - options.overlap;
    if now - since >= EVENT_RETENTION {
        return Plan::Full {
            reason: "last sync older than the System Log retention",
        };
    }
    Plan::Incremental { since }
}

/// Syncs the directory of the org behind `client` into `store` under `org`:
/// full or incremental as [`SyncOptions`] and the stored state decide.
pub async fn sync(
    client: &Client,
    store: &mut Store,
    org: &str,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> Result<SyncSummary, SyncError> {
    let cursor = Cursor::load(store, org)?;
    let started = Utc::now();
    let stats_before = client.stats();
    let mut summary = match plan(cursor, options, started) {
        Plan::Full { reason } => {
            tracing::info!(org, reason, "Full sync started");
            let baseline = cursor.last_sync.is_none();
            let mut summary = full::run(client, store, org, started, baseline, progress).await?;
            summary.reason = reason.to_string();
            summary
        }
        Plan::Incremental { since } => {
            tracing::info!(org, since = %since, "Incremental sync started");
            incremental::run(client, store, org, since, started, progress).await?
        }
    };
    let stats = client.stats();
    summary.requests = stats.requests - stats_before.requests;
    summary.rate_limited = stats.rate_limited - stats_before.rate_limited;
    finish(store, org, started, &mut summary)?;
    Ok(summary)
}

/// Reads the whole directory and replaces the stored copy of `org`, whatever
/// the stored state.
pub async fn full_sync(
    client: &Client,
    store: &mut Store,
    org: &str,
    progress: &dyn Progress,
) -> Result<SyncSummary, SyncError> {
    let options = SyncOptions {
        force_full: true,
        ..SyncOptions::default()
    };
    sync(client, store, org, &options, progress).await
}

/// Fills in the stored counts and the time, and records the run.
fn finish(
    store: &Store,
    org: &str,
    started: DateTime<Utc>,
    summary: &mut SyncSummary,
) -> Result<(), SyncError> {
    let counts = store.directory_counts(org)?;
    summary.users = counts.users;
    summary.groups = counts.groups;
    summary.memberships = counts.memberships;
    summary.apps = counts.apps;
    summary.app_users = counts.app_users;
    summary.app_groups = counts.app_groups;
    summary.role_assignments = counts.role_assignments;
    summary.factors = counts.factors;
    summary.group_rules = counts.group_rules;
    summary.group_owners = counts.group_owners;
    summary.seconds = (Utc::now() - started).num_milliseconds() as f64 / 1000.0;

    let finished = idaudit_store::format_time(Utc::now());
    let summary_json = serde_json::to_value(&*summary).unwrap_or(serde_json::Value::Null);
    store.record_sync_run(
        org,
        &summary.kind,
        &idaudit_store::format_time(started),
        &finished,
        &summary_json,
    )?;
    tracing::info!(
        org,
        kind = summary.kind,
        changes = summary.changes,
        requests = summary.requests,
        "Sync finished"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::{Cursor, Plan, SyncOptions, plan};

    #[test]
    fn plan_full_then_incremental_then_reconcile() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let options = SyncOptions::default();
        assert!(matches!(
            plan(Cursor::default(), &options, now),
            Plan::Full { .. }
        ));

        let recent = Cursor {
            last_sync: Some(now - Duration::hours(1)),
            last_full: Some(now - Duration::days(2)),
        };
        assert_eq!(
            plan(recent, &options, now),
            Plan::Incremental {
                since: now - Duration::hours(1) - Duration::minutes(10)
            }
        );

        let stale = Cursor {
            last_full: Some(now - Duration::days(8)),
            ..recent
        };
        assert_eq!(
            plan(stale, &options, now),
            Plan::Full {
                reason: "periodic reconcile"
            }
        );

        let forced = SyncOptions {
            force_full: true,
            ..SyncOptions::default()
        };
        assert!(matches!(plan(recent, &forced, now), Plan::Full { .. }));
    }
}
