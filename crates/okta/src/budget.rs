//! The rate-limit budget: requests paced per bucket so that this client
//! uses at most its configured share of each one.
//!
//! Okta counts requests per endpoint bucket in windows of usually 60 s that
//! are not aligned to the minute, and reports each bucket's state in
//! `X-Rate-Limit-*` headers. The budget remembers that state per bucket. It
//! delays a request when sending it would take the bucket past
//! `share × limit` for the current window, counting requests still in
//! flight. Until a bucket's headers have been seen, or when they are missing
//! or malformed, one request at a time goes out: a conservative pace that
//! learns the limit from the first response.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::rate::RateLimit;

/// Last known state of one bucket.
#[derive(Debug, Default)]
struct Bucket {
    limit: Option<u64>,
    remaining: u64,
    reset_at: Option<Instant>,
    in_flight: u64,
}

/// A permission to send one request, returned to the budget with the result.
pub(crate) struct Ticket {
    bucket: &'static str,
    _permit: OwnedSemaphorePermit,
}

pub(crate) struct Budget {
    share: f64,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
    concurrency: std::sync::Arc<Semaphore>,
}

impl Budget {
    pub(crate) fn new(share: f64, max_concurrency: usize) -> Budget {
        Budget {
            share: share.clamp(0.01, 1.0),
            buckets: Mutex::new(HashMap::new()),
            concurrency: std::sync::Arc::new(Semaphore::new(max_concurrency.max(1))),
        }
    }

    /// Waits until a request to `path` fits the budget, then counts it in flight.
    pub(crate) async fn acquire(&self, path: &str) -> Ticket {
        let bucket = bucket_of(path);
        let permit = loop {
            match self.try_reserve(bucket) {
                Ok(()) => break self.concurrency.clone().acquire_owned().await,
                Err(wait) => {
                    tracing::debug!(
                        bucket,
                        wait_ms = wait.as_millis() as u64,
                        "Pacing to the rate-limit share"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        };
        match permit {
            Ok(permit) => Ticket {
                bucket,
                _permit: permit,
            },
            // The semaphore is never closed, so acquiring cannot fail.
            Err(_) => unreachable!("the concurrency semaphore is never closed"),
        }
    }

    /// Records the rate-limit state a response reported and ends the ticket.
    pub(crate) fn release(&self, ticket: Ticket, rate: Option<&RateLimit>) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        let bucket = buckets.entry(ticket.bucket).or_default();
        bucket.in_flight = bucket.in_flight.saturating_sub(1);
        let Some(rate) = rate else {
            return;
        };
        // A concurrency 429 reports 0 and 0, which reveals nothing about the bucket.
        if rate.is_concurrency_limit() {
            return;
        }
        if let (Some(limit), Some(remaining)) = (rate.limit, rate.remaining) {
            let reset_at = Instant::now() + Duration::from_secs(rate.reset_after.unwrap_or(60));
            let new_window = bucket
                .reset_at
                .is_none_or(|known| reset_at > known + Duration::from_millis(500));
            // Responses may arrive out of order within a window, so the lowest remaining is the latest.
            if new_window || remaining < bucket.remaining {
                bucket.remaining = remaining;
            }
            bucket.limit = Some(limit);
            bucket.reset_at = Some(reset_at);
        }
    }

    /// Counts a request in flight if it fits, or returns how long to wait.
    fn try_reserve(&self, name: &'static str) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let bucket = buckets.entry(name).or_default();
        let now = Instant::now();
        if let Some(reset_at) = bucket.reset_at
            && now >= reset_at
        {
            bucket.remaining = bucket.limit.unwrap_or(0);
            bucket.reset_at = None;
        }
        let Some(limit) = bucket.limit else {
            // Unknown bucket: one request at a time until its headers are seen.
            if bucket.in_flight == 0 {
                bucket.in_flight += 1;
                return Ok(());
            }
            return Err(Duration::from_millis(50));
        };
        let allowed = ((limit as f64) * self.share).floor().max(1.0) as u64;
        let used = limit.saturating_sub(bucket.remaining) + bucket.in_flight;
        if used < allowed {
            bucket.in_flight += 1;
            return Ok(());
        }
        let wait = bucket
            .reset_at
            .map(|reset_at| reset_at.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(50));
        Err(wait.max(Duration::from_millis(10)))
    }
}

/// Returns the bucket a path is billed to, after Okta's Workforce table.
/// All of `/api/v1/apps` shares one bucket, as do `/api/v1/groups`,
/// `/api/v1/users` and `/api/v1/logs`. Other paths share a general one.
fn bucket_of(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or(path);
    let path = match path.find("/api/") {
        Some(start) => &path[start..],
        None => path,
    };
    const PREFIXES: &[(&str, &str)] = &[
        ("/api/v1/apps", "apps"),
        ("/api/v1/groups", "groups"),
        ("/api/v1/users", "users"),
        ("/api/v1/logs", "logs"),
        ("/oauth2/", "oauth2"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, name)| *name)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Budget, bucket_of};
    use crate::rate::RateLimit;

    #[test]
    fn buckets_by_prefix() {
        assert_eq!(
            bucket_of("https://e.okta.com/api/v1/apps/0oa1/users?limit=2"),
            "apps"
        );
        assert_eq!(bucket_of("/api/v1/groups/00g1/users"), "groups");
        assert_eq!(bucket_of("/api/v1/logs?since=x"), "logs");
        assert_eq!(bucket_of("/api/v1/iam/assignees/users"), "other");
    }

    #[tokio::test]
    async fn unknown_bucket_one_at_a_time() {
        let budget = Budget::new(0.8, 8);
        let first = budget.acquire("/api/v1/users").await;
        assert!(budget.try_reserve("users").is_err());
        budget.release(first, None);
        assert!(budget.try_reserve("users").is_ok());
    }

    #[tokio::test]
    async fn share_of_limit_respected() {
        let budget = Budget::new(0.8, 8);
        let ticket = budget.acquire("/api/v1/users").await;
        let rate = RateLimit {
            limit: Some(10),
            remaining: Some(9),
            reset_after: Some(30),
        };
        budget.release(ticket, Some(&rate));
        // 8 of 10 allowed; one used, so seven more fit and the eighth waits.
        for _ in 0..7 {
            assert!(budget.try_reserve("users").is_ok());
        }
        let wait = budget.try_reserve("users").unwrap_err();
        assert!(wait > Duration::from_secs(25), "{wait:?}");
    }
}
