//! Fault injection: the failures a client of Okta must survive, each off by default.
//!
//! [`Faults`] is part of [`super::SimOptions`]. The middleware in `limits` applies
//! rate-limit bursts, concurrency 429s, server errors, latency and cut-off bodies. The
//! System Log and groups endpoints apply their own quirks, and [`reorder_late_events`]
//! stores events late when the server starts. Random draws come from a ChaCha8
//! stream seeded by [`Faults::seed`], so one request sequence always meets the same
//! faults.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::model::LogEvent;

/// Time between the first half of a cut-off body and the closing of the connection.
const CUT_OFF_DELAY: Duration = Duration::from_millis(50);
/// How many positions later in storage order a late-stored System Log event lands.
const LATE_STORE_DISTANCE: usize = 25;

/// Faults the simulator injects; [`Faults::default`] injects none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Number of requests, counted from server start, that get 429 `E0000047` with
    /// `X-Rate-Limit-Remaining: 0` and `X-Rate-Limit-Reset` one second ahead.
    pub rate_limit_burst: u32,
    /// Number of requests in flight above which a request gets a concurrency 429, with
    /// `X-Rate-Limit-Limit` and `X-Rate-Limit-Remaining` both 0; Okta's org limit is 75.
    pub concurrency_limit: Option<usize>,
    /// Share of requests, from 0 to 1, that get 500 `E0000009`.
    pub server_error_rate: f64,
    /// Delay added before each request is handled, drawn uniformly from the range.
    pub latency: Option<LatencyRange>,
    /// Every Nth management API response (`/api/v1/…`) sends its headers and half its
    /// body, then closes the connection.
    pub drop_body_every: Option<u32>,
    /// A full page of a System Log polling request is followed by a page that starts
    /// with the last event again, as Okta's at-least-once delivery allows.
    pub duplicate_log_events: bool,
    /// Every Nth System Log event is stored late: it moves 25 positions later in storage
    /// order while keeping its `published`, so polling returns it after newer events.
    pub late_log_events_every: Option<usize>,
    /// About one user, group and app in four carries unknown enum values
    /// (`credentials.provider.type`, `type`, `signOnMode`), and those users carry the
    /// string `"null"` in `secondEmail` and `mobilePhone`.
    pub odd_values: bool,
    /// The last page of `GET /api/v1/groups` has a `next` link, which returns an empty page.
    pub groups_next_after_last_page: bool,
    /// Seconds added to the server clock in `Date` and `X-Rate-Limit-Reset`; negative
    /// for a clock that is behind.
    pub clock_skew_seconds: i64,
    /// Seed of the random draws behind `server_error_rate` and `latency`.
    pub seed: u64,
}

/// A range of added latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyRange {
    pub min: Duration,
    pub max: Duration,
}

/// Runtime state of the faults.
pub(crate) struct FaultState {
    pub faults: Faults,
    burst_remaining: AtomicU32,
    in_flight: AtomicUsize,
    api_responses: AtomicU64,
    rng: Mutex<ChaCha8Rng>,
}

/// Counts a request as in flight until dropped.
pub(crate) struct InFlight<'a> {
    counter: &'a AtomicUsize,
    /// Number of requests in flight, this one included, when it arrived.
    pub count: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FaultState {
    pub fn new(faults: Faults) -> FaultState {
        FaultState {
            burst_remaining: AtomicU32::new(faults.rate_limit_burst),
            in_flight: AtomicUsize::new(0),
            api_responses: AtomicU64::new(0),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(faults.seed)),
            faults,
        }
    }

    pub fn enter(&self) -> InFlight<'_> {
        let count = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        InFlight {
            counter: &self.in_flight,
            count,
        }
    }

    pub fn over_concurrency_limit(&self, in_flight: &InFlight<'_>) -> bool {
        self.faults
            .concurrency_limit
            .is_some_and(|limit| in_flight.count > limit)
    }

    /// Makes the next `count` requests get a rate-limit 429, on top of any burst left.
    pub fn add_burst(&self, count: u32) {
        self.burst_remaining.fetch_add(count, Ordering::SeqCst);
    }

    /// Takes one request of the burst, if any remain.
    pub fn take_burst(&self) -> bool {
        self.burst_remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    /// Draws the added latency and whether the request fails with a server error.
    pub fn draw(&self) -> (Option<Duration>, bool) {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let latency = self.faults.latency.map(|range| {
            if range.max <= range.min {
                range.min
            } else {
                rng.gen_range(range.min..=range.max)
            }
        });
        let rate = self.faults.server_error_rate.clamp(0.0, 1.0);
        let server_error = rate > 0.0 && rng.gen_bool(rate);
        (latency, server_error)
    }

    /// Counts a management API response and returns whether to cut its body off.
    pub fn drop_this_body(&self) -> bool {
        let Some(every) = self.faults.drop_body_every.filter(|every| *every > 0) else {
            return false;
        };
        let count = self.api_responses.fetch_add(1, Ordering::SeqCst) + 1;
        count.is_multiple_of(u64::from(every))
    }

    pub fn clock_skew(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.faults.clock_skew_seconds)
    }
}

/// Sends the response's headers with the full `Content-Length` and half of its body,
/// then fails the body stream, which makes the server close the connection.
pub(crate) async fn cut_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let half = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
    // The failure waits a moment so that the server flushes the headers and the first
    // half before the connection is closed.
    let failure = futures_util::stream::once(async {
        tokio::time::sleep(CUT_OFF_DELAY).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection dropped by fault injection",
        ))
    });
    let chunks = futures_util::stream::iter([Ok(half)]).chain(failure);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::from_stream(chunks))
}

/// Moves every `every`th event 25 positions later in storage order.
pub(crate) fn reorder_late_events(events: &mut Vec<LogEvent>, every: usize) {
    if every == 0 {
        return;
    }
    let mut keyed: Vec<(usize, usize, LogEvent)> = std::mem::take(events)
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let late = (index + 1).is_multiple_of(every);
            let position = if late {
                index + LATE_STORE_DISTANCE
            } else {
                index
            };
            (position, usize::from(late), event)
        })
        .collect();
    keyed.sort_by_key(|(position, late, _)| (*position, *late));
    events.extend(keyed.into_iter().map(|(_, _, event)| event));
}

/// Rewrites users, groups and apps in a JSON body with unknown enum values and
/// `"null"` strings. An object is chosen when the byte sum of its id is divisible by 4.
pub(crate) fn distort_json(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(distort_json),
        Value::Object(object) => {
            if let Some(embedded) = object.get_mut("_embedded") {
                distort_json(embedded);
            }
            for key in ["user", "group", "app"] {
                if let Some(inner) = object.get_mut(key) {
                    distort_json(inner);
                }
            }
            let id = object.get("id").and_then(Value::as_str).unwrap_or("");
            let chosen = id.bytes().map(u32::from).sum::<u32>().is_multiple_of(4);
            if !chosen {
                return;
            }
            if id.starts_with("00u") {
                if let Some(profile) = object.get_mut("profile").and_then(Value::as_object_mut) {
                    profile.insert("secondEmail".into(), "null".into());
                    profile.insert("mobilePhone".into(), "null".into());
                }
                if let Some(provider) = object
                    .get_mut("credentials")
                    .and_then(|credentials| credentials.get_mut("provider"))
                    .and_then(Value::as_object_mut)
                {
                    provider.insert("type".into(), "FUTURE_PROVIDER".into());
                }
            } else if id.starts_with("00g") && object.contains_key("objectClass") {
                object.insert("type".into(), "FUTURE_GROUP_TYPE".into());
            } else if id.starts_with("0oa") && object.contains_key("signOnMode") {
                object.insert("signOnMode".into(), "FUTURE_SIGN_ON_MODE".into());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(index: usize) -> LogEvent {
        LogEvent::from_value(&json!({
            "uuid": format!("u{index}"),
            "published": format!("2025-01-01T00:{:02}:{:02}.000Z", index / 60, index % 60),
            "eventType": "user.session.start",
        }))
        .unwrap()
    }

    #[test]
    fn late_events_move_later_in_storage() {
        let mut events: Vec<LogEvent> = (0..60).map(event).collect();
        reorder_late_events(&mut events, 10);
        let position = |uuid: &str| {
            events
                .iter()
                .position(|event| event.uuid() == uuid)
                .unwrap()
        };
        assert_eq!(events.len(), 60);
        assert!(position("u9") > position("u30"), "u9 is stored after u30");
        assert!(position("u10") < position("u11"));
    }

    #[test]
    fn burst_counts_down() {
        let state = FaultState::new(Faults {
            rate_limit_burst: 2,
            ..Faults::default()
        });
        assert!(state.take_burst());
        assert!(state.take_burst());
        assert!(!state.take_burst());
        state.add_burst(1);
        assert!(state.take_burst());
    }
}
