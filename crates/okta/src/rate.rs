//! Okta's rate-limit headers and the waits derived from them.
//!
//! `X-Rate-Limit-Reset` is an absolute time in epoch seconds, read against
//! the server's `Date` header rather than the local clock, so a skewed local
//! clock does not shorten or stretch the wait. A concurrency 429 reports a
//! limit and remaining of 0 and calls for a short back-off instead.

use std::time::Duration;

use reqwest::header::{DATE, HeaderMap};

/// Rate-limit state read from one response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Seconds from the response's `Date` until the window resets.
    pub reset_after: Option<u64>,
    /// `X-Rate-Limit-Reset`: when the window resets, in epoch seconds of
    /// the server's clock.
    pub reset: Option<u64>,
    /// The response's `Date` in epoch seconds, rounded down to the second.
    pub date: Option<u64>,
}

impl RateLimit {
    /// Reads the headers; a missing or malformed header is left as `None`.
    /// When a header is repeated (several buckets apply) the smallest value wins.
    pub fn from_headers(headers: &HeaderMap) -> RateLimit {
        let limit = min_header(headers, "x-rate-limit-limit");
        let remaining = min_header(headers, "x-rate-limit-remaining");
        let reset = min_header(headers, "x-rate-limit-reset");
        let date = headers
            .get(DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| chrono::DateTime::parse_from_rfc2822(text).ok())
            .map(|time| time.timestamp() as u64);
        let server_now = date.unwrap_or_else(|| chrono::Utc::now().timestamp() as u64);
        RateLimit {
            limit,
            remaining,
            reset_after: reset.map(|reset| reset.saturating_sub(server_now)),
            reset,
            date,
        }
    }

    /// Returns true for a concurrency 429, which reports limit and remaining 0.
    pub fn is_concurrency_limit(&self) -> bool {
        self.limit == Some(0) && self.remaining == Some(0)
    }

    /// Returns how long to wait after a 429 before trying again.
    pub fn wait_after_429(&self, attempt: u32) -> Duration {
        if self.is_concurrency_limit() {
            return backoff(attempt);
        }
        match self.reset_after {
            // One extra second covers the whole-second rounding of `Date`.
            Some(seconds) => Duration::from_secs(seconds.min(120) + 1) + jitter(),
            None => backoff(attempt.max(3)),
        }
    }
}

/// Exponential back-off from 250 ms, capped at 8 s, plus jitter.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 250u64.saturating_mul(1 << attempt.min(5));
    Duration::from_millis(base.min(8_000)) + jitter()
}

/// Up to 250 ms of jitter, so clients that hit a limit together do not retry together.
fn jitter() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(u64::from(nanos % 250))
}

fn min_header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(','))
        .filter_map(|part| part.trim().parse::<u64>().ok())
        .min()
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::RateLimit;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn reset_read_against_date() {
        let map = headers(&[
            ("x-rate-limit-limit", "600"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1609459230"),
            ("date", "Fri, 01 Jan 2021 00:00:00 GMT"),
        ]);
        let rate = RateLimit::from_headers(&map);
        assert_eq!(rate.reset_after, Some(30));
        assert!(!rate.is_concurrency_limit());
        let wait = rate.wait_after_429(0);
        assert!(wait.as_secs() >= 31, "{wait:?}");
        assert!(wait.as_secs() <= 32, "{wait:?}");
    }

    #[test]
    fn concurrency_limit_backs_off_briefly() {
        let map = headers(&[
            ("x-rate-limit-limit", "0"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1609459230"),
            ("date", "Fri, 01 Jan 2021 00:00:00 GMT"),
        ]);
        let rate = RateLimit::from_headers(&map);
        assert!(rate.is_concurrency_limit());
        assert!(rate.wait_after_429(0).as_secs() < 2);
    }

    #[test]
    fn missing_and_repeated_headers() {
        let rate = RateLimit::from_headers(&HeaderMap::new());
        assert_eq!(rate, RateLimit::default());
        let map = headers(&[
            ("x-rate-limit-remaining", "40"),
            ("x-rate-limit-remaining", "7"),
            ("x-rate-limit-limit", "junk"),
        ]);
        let rate = RateLimit::from_headers(&map);
        assert_eq!(rate.remaining, Some(7));
        assert_eq!(rate.limit, None);
    }
}
