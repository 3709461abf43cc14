//! The worker that runs workflow actions away from the ingestion paths:
//! it queues `notify` alerts in the outbox and runs batched directory
//! refreshes.
//!
//! A refresh is an incremental sync ([`crate::sync::sync`]). It reads the
//! users and groups changed since the last sync, then the memberships,
//! assignments, roles and factors of the objects that System Log events in
//! the store name, and records each change in the history.
//! One refresh covers every event stored before it, so the worker runs at
//! most one per [`WorkerOptions::refresh_interval`], whatever the number of
//! events that asked, and the sync's requests share the client's rate
//! budget with the poller.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use idaudit_okta::Client;
use idaudit_store::{Alert, AlertStatus, Store};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::{Notification, Pending, RefreshTargets};
use crate::NoProgress;
use crate::sync::{SyncOptions, sync};

/// Default minimum time between two refreshes.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Settings of the worker.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Minimum time between the starts of two refreshes.
    pub refresh_interval: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
        }
    }
}

/// Counts of the worker's work so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub refreshes: u64,
    pub failed_refreshes: u64,
    pub notifications: u64,
}

/// Runs the actions that a [`super::Dispatcher`] queues.
pub struct Worker {
    pending: Arc<Mutex<Pending>>,
    wake: Arc<tokio::sync::Notify>,
    options: WorkerOptions,
    stats: WorkerStats,
}

impl Worker {
    pub(super) fn new(
        pending: Arc<Mutex<Pending>>,
        wake: Arc<tokio::sync::Notify>,
        options: WorkerOptions,
    ) -> Worker {
        Worker {
            pending,
            wake,
            options,
            stats: WorkerStats::default(),
        }
    }

    pub fn stats(&self) -> WorkerStats {
        self.stats
    }

    /// Runs queued actions until `shutdown` completes, then queues the
    /// notifications still waiting. `client` is `None` when no org is
    /// configured, and refreshes are then skipped with a warning.
    ///
    /// NOTE: actions wait in memory between the commit of their events and
    /// this worker, so a crash in between loses them. The events are
    /// stored, and `idaudit sync` catches up on a missed refresh.
    pub async fn run(
        &mut self,
        store: &mut Store,
        client: Option<&Client>,
        org: &str,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut next_refresh = Instant::now();
        loop {
            let (notifications, refresh) = self.take(next_refresh);
            self.queue(store, &notifications);
            if let Some(targets) = refresh {
                next_refresh = Instant::now() + self.options.refresh_interval;
                // A sync commits in one step at its end, so stopping it
                // earlier leaves the store as it was.
                tokio::select! {
                    () = &mut shutdown => break,
                    () = self.refresh(store, client, org, &targets) => {}
                }
                continue;
            }
            let waiting = self.refresh_waiting();
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep_until(next_refresh), if waiting => {}
            }
        }
        let notifications = self.stop();
        self.queue(store, &notifications);
    }

    /// Takes the waiting notifications, and the refresh targets when a
    /// refresh is due at `next_refresh`.
    fn take(&self, next_refresh: Instant) -> (Vec<Notification>, Option<RefreshTargets>) {
        let Ok(mut pending) = self.pending.lock() else {
            return (Vec::new(), None);
        };
        let notifications = std::mem::take(&mut pending.notifications);
        let due = !pending.refresh.is_empty() && Instant::now() >= next_refresh;
        let refresh = due.then(|| std::mem::take(&mut pending.refresh));
        (notifications, refresh)
    }

    fn refresh_waiting(&self) -> bool {
        self.pending
            .lock()
            .is_ok_and(|pending| !pending.refresh.is_empty())
    }

    /// Marks the worker stopped and returns the notifications left.
    fn stop(&self) -> Vec<Notification> {
        let Ok(mut pending) = self.pending.lock() else {
            return Vec::new();
        };
        pending.stopped = true;
        if !pending.refresh.is_empty() {
            tracing::info!(
                events = pending.refresh.events,
                "Stopped with a workflow refresh pending; the next `idaudit sync` reads those changes"
            );
        }
        std::mem::take(&mut pending.notifications)
    }

    fn queue(&mut self, store: &Store, notifications: &[Notification]) {
        for notification in notifications {
            let alert = notification_alert(notification);
            match store.upsert_alert_and_queue(&alert, &notification.sinks) {
                Ok(_) => {
                    self.stats.notifications += 1;
                    tracing::info!(workflow = %notification.workflow, alert = %alert.id, event = %notification.event.uuid, "Queued a workflow notification");
                }
                Err(error) => {
                    tracing::error!(workflow = %notification.workflow, event = %notification.event.uuid, %error, "Failed to queue a workflow notification");
                }
            }
        }
    }

    async fn refresh(
        &mut self,
        store: &mut Store,
        client: Option<&Client>,
        org: &str,
        targets: &RefreshTargets,
    ) {
        let Some(client) = client else {
            tracing::warn!(
                events = targets.events,
                "Skipped a workflow refresh: no Okta org is configured for `refresh` to read"
            );
            return;
        };
        match store.directory_counts(org) {
            Ok(counts) if counts.users == 0 => {
                tracing::warn!(
                    org,
                    "Skipped a workflow refresh: the directory of this org was never synced; run `idaudit sync` once first"
                );
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(org, %error, "Failed to read the directory before a workflow refresh");
                return;
            }
        }
        // A refresh never starts the periodic full reconcile, which is a
        // job for `idaudit sync`; it reads only what changed.
        let options = SyncOptions {
            reconcile_after: chrono::Duration::days(365 * 100),
            ..SyncOptions::default()
        };
        match sync(client, store, org, &options, &NoProgress).await {
            Ok(summary) => {
                self.stats.refreshes += 1;
                tracing::info!(
                    org,
                    events = targets.events,
                    users = targets.users.len(),
                    groups = targets.groups.len(),
                    kind = %summary.kind,
                    changes = summary.changes,
                    requests = summary.requests,
                    "Workflow refresh finished"
                );
            }
            Err(error) => {
                // NOTE: the sync's write transaction starts deferred, so a
                // commit of another connection, such as the poller's,
                // between its reads and its writes can fail it with
                // `database is locked`. Its targets go back in the queue
                // for the next interval.
                self.stats.failed_refreshes += 1;
                tracing::warn!(org, events = targets.events, error = %error, "Workflow refresh failed; retrying after the refresh interval");
                if let Ok(mut pending) = self.pending.lock() {
                    pending.refresh.extend(targets.clone());
                }
            }
        }
    }
}

/// Builds the alert a `notify` workflow queues for its sinks. Its id
/// derives from the workflow and the event, so a repeated event updates
/// the same alert.
fn notification_alert(notification: &Notification) -> Alert {
    let event = &notification.event;
    let raw: Value = serde_json::from_str(&event.raw).unwrap_or(Value::Null);
    let targets: Vec<Value> = raw
        .get("target")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|target| {
            json!({
                "type": target.get("type"),
                "id": target.get("id"),
                "alternateId": target.get("alternateId"),
            })
        })
        .collect();
    let target_user = raw
        .get("target")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|target| target.get("type").and_then(Value::as_str) == Some("User"))
        .and_then(|target| target.get("alternateId").and_then(Value::as_str));
    let actor = event.actor_alternate_id.as_deref();
    let subject = target_user.or(actor).unwrap_or("unknown");
    let message = raw
        .get("displayMessage")
        .and_then(Value::as_str)
        .unwrap_or(&event.event_type);
    let rule = format!("workflow:{}", notification.workflow);
    Alert {
        id: notification_id(&rule, &event.uuid),
        title: format!("{message}: {subject}"),
        rule,
        severity: notification.severity.clone(),
        user: Some(subject.to_string()),
        ip: event.client_ip.clone(),
        first_seen: event.published.clone(),
        last_seen: event.published.clone(),
        count: 1,
        evidence: vec![event.uuid.clone()],
        details: json!({
            "workflow": notification.workflow,
            "eventType": event.event_type,
            "actor": actor,
            "outcome": event.outcome_result,
            "targets": targets,
            "queuedAt": idaudit_store::format_time(Utc::now()),
        }),
        status: AlertStatus::Open,
    }
}

fn notification_id(rule: &str, uuid: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [rule, uuid] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
