//! Okta's per-minute rate limits and the headers every response carries.
//!
//! Requests fall into buckets by method and path, with the Workforce limits of Okta's
//! historical per-endpoint table: `/api/v1/apps` and everything under it 100 a minute
//! (one app by id 500), `/api/v1/groups` and its sub-resources 500 (one group by id
//! 1000), `GET /api/v1/users` and user sub-resources 600, one user by id 2000,
//! `/api/v1/logs` 120 and anything else 1200. Each OAuth app may use half of a bucket,
//! so the headers report that half. A window starts with the first request in it, not
//! on the wall-clock minute, and its length can be scaled down for tests.
//!
//! Every response, errors and 429s included, carries `X-Rate-Limit-Limit`,
//! `X-Rate-Limit-Remaining`, `X-Rate-Limit-Reset` (epoch seconds when the window ends,
//! rounded up so that waiting until then always suffices), `Date` and
//! `X-Okta-Request-Id`. The injected faults of [`super::Faults`] are applied here too,
//! apart from those that belong to one endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::AppState;
use super::error::ApiError;
use super::faults::{cut_body, distort_json};
use crate::ids::request_id;
use crate::time::format_http_date;

/// Rate limiting of the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimits {
    /// No request is rejected. The headers still count down per 60-second window.
    Off,
    /// Okta's Workforce limits per window, half of each bucket per app.
    Workforce {
        /// Length of a window; 60 seconds in Okta, shorter to make tests fast.
        window: Duration,
    },
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::Workforce {
            window: Duration::from_secs(60),
        }
    }
}

/// A rate-limit bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Bucket {
    Apps,
    AppById,
    Groups,
    GroupById,
    Users,
    UserById,
    Logs,
    Other,
}

impl Bucket {
    /// Finds the bucket of a request: an exact path shape first, then the path prefix.
    pub fn classify(method: &Method, path: &str) -> Bucket {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        match segments.as_slice() {
            ["api", "v1", "apps", _] => Bucket::AppById,
            ["api", "v1", "apps", ..] => Bucket::Apps,
            ["api", "v1", "groups", _] => Bucket::GroupById,
            ["api", "v1", "groups", ..] => Bucket::Groups,
            ["api", "v1", "users", _] if method == Method::GET => Bucket::UserById,
            // NOTE: whether Okta bills user sub-resources such as `/users/{id}/roles` to
            // the users bucket or to "other" is not documented; this follows the users bucket.
            ["api", "v1", "users", ..] => Bucket::Users,
            ["api", "v1", "logs"] => Bucket::Logs,
            _ => Bucket::Other,
        }
    }

    /// Requests per minute for the whole org on a Workforce plan.
    fn org_limit(self) -> u32 {
        match self {
            Bucket::Apps => 100,
            Bucket::AppById => 500,
            Bucket::Groups => 500,
            Bucket::GroupById => 1000,
            Bucket::Users => 600,
            Bucket::UserById => 2000,
            Bucket::Logs => 120,
            Bucket::Other => 1200,
        }
    }

    /// Requests per window that one OAuth app may make: half of the org's limit.
    pub fn app_share(self) -> u32 {
        self.org_limit() / 2
    }
}

/// The state of one rate-limit window.
#[derive(Clone, Copy, Debug)]
struct Window {
    started: DateTime<Utc>,
    used: u32,
}

/// Outcome of counting one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// End of the window in epoch seconds, rounded up.
    pub reset: i64,
}

/// Counts requests per client and bucket.
pub(crate) struct RateLimiter {
    mode: RateLimits,
    windows: Mutex<HashMap<(String, Bucket), Window>>,
}

impl RateLimiter {
    pub fn new(mode: RateLimits) -> RateLimiter {
        RateLimiter {
            mode,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn window_length(&self) -> chrono::Duration {
        let length = match self.mode {
            RateLimits::Off => Duration::from_secs(60),
            RateLimits::Workforce { window } => window,
        };
        chrono::Duration::from_std(length).unwrap_or(chrono::Duration::seconds(60))
    }

    /// Counts a request of `client` in `bucket` at `now`; a rejected request is not counted.
    pub fn check(&self, client: &str, bucket: Bucket, now: DateTime<Utc>) -> Decision {
        let length = self.window_length();
        let limit = bucket.app_share();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = windows
            .entry((client.to_string(), bucket))
            .or_insert(Window {
                started: now,
                used: 0,
            });
        if now >= window.started + length {
            *window = Window {
                started: now,
                used: 0,
            };
        }
        let allowed = self.mode == RateLimits::Off || window.used < limit;
        if allowed {
            window.used += 1;
        }
        let end_millis = (window.started + length).timestamp_millis();
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(window.used),
            reset: end_millis.div_euclid(1000) + i64::from(end_millis.rem_euclid(1000) > 0),
        }
    }
}

/// Middleware that applies the rate limits and injected faults, checks DPoP proofs of
/// API requests, and adds the common headers to every response.
pub(crate) async fn envelope(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let in_flight = state.faults.enter();
    let now = Utc::now();
    let clock = now + state.faults.clock_skew();
    let client = state
        .authority
        .grant(request.headers(), now)
        .map_or_else(|| "anonymous".to_string(), |grant| grant.client_id);
    let bucket = Bucket::classify(request.method(), request.uri().path());
    let (mut response, decision) = if state.faults.over_concurrency_limit(&in_flight) {
        tracing::debug!(in_flight = in_flight.count, "Concurrency limit exceeded");
        let decision = Decision {
            allowed: false,
            limit: 0,
            remaining: 0,
            reset: clock.timestamp() + 1,
        };
        (ApiError::rate_limited().into_response(), decision)
    } else if state.faults.take_burst() {
        let decision = Decision {
            allowed: false,
            limit: bucket.app_share(),
            remaining: 0,
            reset: clock.timestamp() + 1,
        };
        (ApiError::rate_limited().into_response(), decision)
    } else {
        let mut decision = state.limiter.check(&client, bucket, now);
        decision.reset += state.faults.clock_skew().num_seconds();
        let response = if decision.allowed {
            handle(&state, request, next, now).await
        } else {
            tracing::debug!(client, ?bucket, "Rate limit exceeded");
            ApiError::rate_limited().into_response()
        };
        (response, decision)
    };
    drop(in_flight);
    add_common_headers(response.headers_mut(), decision, clock);
    response
}

/// Runs a request that the rate limits let through: added latency, an injected server
/// error, the DPoP check of API requests, the handler, and a cut-off body.
async fn handle(state: &AppState, request: Request, next: Next, now: DateTime<Utc>) -> Response {
    let (latency, server_error) = state.faults.draw();
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    if server_error {
        return ApiError::ServerError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
        .into_response();
    }
    let path = request.uri().path().to_string();
    let api = path.starts_with("/api/");
    if api
        && let Err(error) =
            state
                .authority
                .check_resource_proof(request.method(), &path, request.headers(), now)
    {
        return error.into_response();
    }
    let mut response = next.run(request).await;
    if api && state.faults.faults.odd_values && response.status().is_success() {
        response = distort_response(response).await;
    }
    if api && state.faults.drop_this_body() {
        tracing::debug!(path, "Cutting off the response body");
        return cut_body(response).await;
    }
    response
}

/// Applies [`distort_json`] to a JSON response body.
async fn distort_response(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    distort_json(&mut value);
    let text = value.to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

fn add_common_headers(headers: &mut HeaderMap, decision: Decision, now: DateTime<Utc>) {
    let request = request_id(&mut rand::thread_rng());
    let values = [
        (
            HeaderName::from_static("x-rate-limit-limit"),
            decision.limit.to_string(),
        ),
        (
            HeaderName::from_static("x-rate-limit-remaining"),
            decision.remaining.to_string(),
        ),
        (
            HeaderName::from_static("x-rate-limit-reset"),
            decision.reset.to_string(),
        ),
        (HeaderName::from_static("x-okta-request-id"), request),
        (header::DATE, format_http_date(now)),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn buckets_follow_exact_then_prefix_match() {
        let get = Method::GET;
        assert_eq!(Bucket::classify(&get, "/api/v1/apps"), Bucket::Apps);
        assert_eq!(Bucket::classify(&get, "/api/v1/apps/0oa1"), Bucket::AppById);
        assert_eq!(
            Bucket::classify(&get, "/api/v1/apps/0oa1/users"),
            Bucket::Apps
        );
        assert_eq!(
            Bucket::classify(&get, "/api/v1/groups/00g1/users"),
            Bucket::Groups
        );
        assert_eq!(
            Bucket::classify(&get, "/api/v1/groups/00g1"),
            Bucket::GroupById
        );
        assert_eq!(Bucket::classify(&get, "/api/v1/users"), Bucket::Users);
        assert_eq!(
            Bucket::classify(&get, "/api/v1/users/00u1"),
            Bucket::UserById
        );
        assert_eq!(Bucket::classify(&get, "/api/v1/logs"), Bucket::Logs);
        assert_eq!(
            Bucket::classify(&Method::POST, "/oauth2/v1/token"),
            Bucket::Other
        );
    }

    #[test]
    fn window_rejects_over_share_then_resets() {
        let limiter = RateLimiter::new(RateLimits::Workforce {
            window: Duration::from_millis(1500),
        });
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::milliseconds(200);
        for used in 1..=60 {
            let decision = limiter.check("client", Bucket::Logs, start);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, 60 - used);
        }
        let rejected = limiter.check("client", Bucket::Logs, start);
        assert!(!rejected.allowed);
        assert_eq!(rejected.limit, 60);
        assert_eq!(
            rejected.reset,
            start.timestamp() + 2,
            "window end 1.7 s rounds up to 2 s"
        );

        let other_client = limiter.check("other", Bucket::Logs, start);
        assert!(other_client.allowed);

        let later = start + chrono::Duration::milliseconds(1500);
        let decision = limiter.check("client", Bucket::Logs, later);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 59);
    }

    #[test]
    fn off_mode_never_refuses() {
        let limiter = RateLimiter::new(RateLimits::Off);
        let now = Utc::now();
        for _ in 0..100 {
            assert!(limiter.check("client", Bucket::Logs, now).allowed);
        }
        assert_eq!(limiter.check("client", Bucket::Logs, now).remaining, 0);
    }
}
