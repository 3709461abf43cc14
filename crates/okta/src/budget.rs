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
//!
//! When the window ends matters as much as how many requests fit in it.
//! `X-Rate-Limit-Reset` and `Date` have one-second resolution, so waiting
//! `reset − Date` seconds after a response can start up to two seconds late.
//! The budget narrows that in two ways, both of which can only err late:
//!
//! - It places the server's clock against the local one with the smallest
//!   `local time − Date` seen so far, which approaches the true offset
//!   because `Date` is rounded down. The reset second then converts to a
//!   local instant at or after the true one.
//! - When a response reports `remaining = limit − 1`, that request opened
//!   the window, which therefore started after the request was sent and
//!   ends no later than the response's arrival plus the window length. The
//!   local reset instant minus the send time is an upper bound of the
//!   length. The budget keeps the smallest such bound, and a later window
//!   that it opens ends by that bound, before the rounded-up reset second.
//!   A 429 on the bucket discards the bound, in case another client opened
//!   a window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::rate::RateLimit;

/// Last known state of one bucket.
#[derive(Debug, Default)]
struct Bucket {
    limit: Option<u64>,
    remaining: u64,
    /// `X-Rate-Limit-Reset` of the current window.
    reset_epoch: Option<u64>,
    /// The latest reset second of a window that has ended: responses that
    /// still report it were counted in that window.
    ended_epoch: Option<u64>,
    /// Local instant at or after the end of the current window.
    reset_at: Option<Instant>,
    in_flight: u64,
    /// Upper bound of the window length, learned from windows this client opened.
    window_length: Option<Duration>,
}

/// A permission to send one request, returned to the budget with the result.
pub(crate) struct Ticket {
    bucket: &'static str,
    /// When the budget let the request go, at or before it was sent.
    granted: Instant,
    _permit: OwnedSemaphorePermit,
}

/// The offset of the local clock from the server's, from `Date` headers.
#[derive(Debug)]
struct ServerClock {
    /// A pair of monotonic and wall-clock readings. Later wall-clock times
    /// are derived from the monotonic clock, so a clock step does not move them.
    origin: Instant,
    origin_epoch: f64,
    /// Upper bound of `local − server` in seconds, and when it was last lowered.
    offset: Option<(f64, Instant)>,
}

/// Maximum rise of the offset bound per second between samples (100 ppm),
/// so that the bound follows a server clock that runs slower than the local one.
const CLOCK_DRIFT: f64 = 1e-4;

impl ServerClock {
    fn new() -> ServerClock {
        let origin_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        ServerClock {
            origin: Instant::now(),
            origin_epoch,
            offset: None,
        }
    }

    fn local_epoch(&self, at: Instant) -> f64 {
        self.origin_epoch + at.saturating_duration_since(self.origin).as_secs_f64()
    }

    /// Takes the `Date` of a response received at `at`. `Date` is rounded
    /// down, so `local − Date` is at least the true offset.
    fn observe(&mut self, at: Instant, date: u64) {
        let sample = self.local_epoch(at) - date as f64;
        let bound = match self.offset {
            Some((offset, since)) => {
                let allowed =
                    offset + at.saturating_duration_since(since).as_secs_f64() * CLOCK_DRIFT;
                allowed.min(sample)
            }
            None => sample,
        };
        self.offset = Some((bound, at));
    }

    /// Returns a local instant at or after the moment the server's clock
    /// reads `epoch`, or `None` before any `Date` was seen.
    fn instant_of(&self, epoch: u64, now: Instant) -> Option<Instant> {
        let (offset, _) = self.offset?;
        let ahead = epoch as f64 + offset - self.local_epoch(now);
        Some(now + Duration::from_secs_f64(ahead.max(0.0)))
    }
}

pub(crate) struct Budget {
    share: f64,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
    clock: Mutex<ServerClock>,
    concurrency: std::sync::Arc<Semaphore>,
}

impl Budget {
    pub(crate) fn new(share: f64, max_concurrency: usize) -> Budget {
        Budget {
            share: share.clamp(0.01, 1.0),
            buckets: Mutex::new(HashMap::new()),
            clock: Mutex::new(ServerClock::new()),
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
                granted: Instant::now(),
                _permit: permit,
            },
            // The semaphore is never closed, so acquiring cannot fail.
            Err(_) => unreachable!("the concurrency semaphore is never closed"),
        }
    }

    /// Records the rate-limit state a response reported and ends the ticket.
    /// `rejected` is true for a 429.
    pub(crate) fn release(&self, ticket: Ticket, rate: Option<&RateLimit>, rejected: bool) {
        let now = Instant::now();
        let reset_at = rate.and_then(|rate| self.reset_instant(rate, now));
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
        let (Some(limit), Some(remaining), Some(reset_at)) = (rate.limit, rate.remaining, reset_at)
        else {
            return;
        };
        if rejected {
            bucket.window_length = None;
        }
        let stale = !rejected
            && bucket.limit == Some(limit)
            && rate.reset.is_some()
            && (rate.reset <= bucket.ended_epoch
                || bucket
                    .reset_epoch
                    .is_some_and(|known| rate.reset < Some(known)));
        if stale {
            return;
        }
        let same_window = bucket.limit == Some(limit)
            && bucket.reset_at.is_some()
            && (rate.reset.is_some() && rate.reset == bucket.reset_epoch);
        if same_window {
            // Responses may arrive out of order within a window, so the lowest remaining is the latest.
            bucket.remaining = bucket.remaining.min(remaining);
            bucket.reset_at = bucket.reset_at.map(|known| known.min(reset_at));
        } else {
            bucket.remaining = remaining;
            bucket.reset_at = Some(reset_at);
            bucket.reset_epoch = rate.reset;
        }
        bucket.limit = Some(limit);

        let opened_window = !rejected && remaining + 1 == limit && rate.reset.is_some();
        if opened_window {
            let bound = reset_at.saturating_duration_since(ticket.granted);
            let length = bucket.window_length.map_or(bound, |known| known.min(bound));
            bucket.window_length = Some(length);
            bucket.reset_at = bucket.reset_at.map(|known| known.min(now + length));
        }
    }

    /// Converts a response's reset to a local instant at or after it.
    fn reset_instant(&self, rate: &RateLimit, now: Instant) -> Option<Instant> {
        let Ok(mut clock) = self.clock.lock() else {
            return None;
        };
        if let Some(date) = rate.date {
            clock.observe(now, date);
        }
        let converted = rate.reset.and_then(|reset| clock.instant_of(reset, now));
        let fallback = || now + Duration::from_secs(rate.reset_after.unwrap_or(60));
        Some(converted.unwrap_or_else(fallback))
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
            bucket.ended_epoch = bucket.ended_epoch.max(bucket.reset_epoch.take());
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
        Err(wait.max(Duration::from_millis(1)))
    }
}

/// Returns the bucket a path is billed to, after Okta's Workforce table.
/// `/api/v1/apps`, `/api/v1/groups` and `/api/v1/users` with their
/// sub-resources each share one bucket, and one object by id
/// (`/api/v1/users/{id}` and the like) has a bucket of its own with a higher
/// limit. `/api/v1/logs` has its own; other paths share a general one.
///
/// NOTE: `/api/v1/groups/rules` has the shape of a group by id and is billed
/// as one here, as the simulator does; Okta's table does not list it.
fn bucket_of(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or(path);
    let path = match path.find("/api/") {
        Some(start) => &path[start..],
        None => path,
    };
    const COLLECTIONS: &[(&str, &str, &str)] = &[
        ("/api/v1/apps", "apps", "app"),
        ("/api/v1/groups", "groups", "group"),
        ("/api/v1/users", "users", "user"),
    ];
    for (prefix, collection, one) in COLLECTIONS {
        let Some(rest) = path.strip_prefix(prefix) else {
            continue;
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() {
            return collection;
        }
        let Some(below) = rest.strip_prefix('/') else {
            continue;
        };
        return if below.contains('/') { collection } else { one };
    }
    const PREFIXES: &[(&str, &str)] = &[("/api/v1/logs", "logs"), ("/oauth2/", "oauth2")];
    PREFIXES
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, name)| *name)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::time::Instant;

    use super::{Budget, ServerClock, bucket_of};
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
        assert_eq!(bucket_of("/api/v1/users?limit=200"), "users");
        assert_eq!(bucket_of("/api/v1/users/00u1/factors"), "users");
        assert_eq!(bucket_of("/api/v1/users/00u1"), "user");
        assert_eq!(bucket_of("/api/v1/groups/rules?limit=200"), "group");
        assert_eq!(bucket_of("/api/v1/apps/0oa1"), "app");
        assert_eq!(bucket_of("/api/v1/usersfoo"), "other");
    }

    #[tokio::test]
    async fn unknown_bucket_one_at_a_time() {
        let budget = Budget::new(0.8, 8);
        let first = budget.acquire("/api/v1/users").await;
        assert!(budget.try_reserve("users").is_err());
        budget.release(first, None, false);
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
            ..RateLimit::default()
        };
        budget.release(ticket, Some(&rate), false);
        // 8 of 10 allowed; one used, so seven more fit and the eighth waits.
        for _ in 0..7 {
            assert!(budget.try_reserve("users").is_ok());
        }
        let wait = budget.try_reserve("users").unwrap_err();
        assert!(wait > Duration::from_secs(25), "{wait:?}");
    }
    #[test]
    fn clock_offset_takes_smallest_sample() {
        let origin = Instant::now();
        let mut clock = ServerClock {
            origin,
            origin_epoch: 1000.0,
            offset: None,
        };
        assert_eq!(clock.instant_of(1010, origin), None);
        clock.observe(origin, 999);
        clock.observe(origin + Duration::from_millis(500), 1000);
        clock.observe(origin + Duration::from_millis(900), 1000);
        let reset = clock.instant_of(1010, origin).unwrap();
        let ahead = reset.duration_since(origin).as_secs_f64();
        // local - Date was 1.0, 0.5 and 0.9 s: the bound is 0.5 s.
        assert!((ahead - 10.5).abs() < 0.001, "{ahead}");
    }

    /// Returns the current epoch second, as a `Date` header would give it.
    fn date_now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[tokio::test]
    async fn learned_window_length_ends_window_early() {
        let budget = Budget::new(1.0, 8);
        let date = date_now();
        let ticket = budget.acquire("/api/v1/users").await;
        budget
            .buckets
            .lock()
            .unwrap()
            .get_mut("users")
            .unwrap()
            .window_length = Some(Duration::from_secs(2));
        // This request opened the window: the server counted it first.
        let rate = RateLimit {
            limit: Some(2),
            remaining: Some(1),
            reset: Some(date + 30),
            date: Some(date),
            ..RateLimit::default()
        };
        budget.release(ticket, Some(&rate), false);
        assert!(budget.try_reserve("users").is_ok());
        let wait = budget.try_reserve("users").unwrap_err();
        assert!(wait <= Duration::from_secs(2), "{wait:?}");
        assert!(wait > Duration::from_millis(1500), "{wait:?}");
    }

    #[tokio::test]
    async fn rejection_forgets_window_length() {
        let budget = Budget::new(1.0, 8);
        let date = date_now();
        let ticket = budget.acquire("/api/v1/users").await;
        budget
            .buckets
            .lock()
            .unwrap()
            .get_mut("users")
            .unwrap()
            .window_length = Some(Duration::from_secs(2));
        let rate = RateLimit {
            limit: Some(2),
            remaining: Some(0),
            reset: Some(date + 30),
            date: Some(date),
            ..RateLimit::default()
        };
        budget.release(ticket, Some(&rate), true);
        let buckets = budget.buckets.lock().unwrap();
        assert_eq!(buckets["users"].window_length, None);
        assert_eq!(buckets["users"].reset_epoch, Some(date + 30));
    }

    #[tokio::test]
    async fn response_from_ended_window_ignored() {
        let budget = Budget::new(1.0, 8);
        let date = date_now();
        let first = budget.acquire("/api/v1/users").await;
        let late = RateLimit {
            limit: Some(10),
            remaining: Some(5),
            reset: Some(date + 30),
            date: Some(date),
            ..RateLimit::default()
        };
        budget.release(first, Some(&late), false);
        // The budget decides that window has ended, as a learned length allows.
        budget
            .buckets
            .lock()
            .unwrap()
            .get_mut("users")
            .unwrap()
            .reset_at = Some(Instant::now());
        let second = budget.acquire("/api/v1/users").await;
        let stale = RateLimit {
            remaining: Some(0),
            ..late
        };
        budget.release(second, Some(&stale), false);
        let buckets = budget.buckets.lock().unwrap();
        assert_eq!(buckets["users"].remaining, 10);
        assert_eq!(buckets["users"].ended_epoch, Some(date + 30));
    }
}
