//! Rate limits with a scaled-down window: 429 with `E0000047` once the app's share of a
//! bucket is used, and success again after the window ends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use idaudit_okta_sim::{RateLimits, SimOptions, serve};
use serde_json::Value;

use crate::support::{access_token, get, options, small_org};

#[tokio::test]
async fn exhausted_bucket_gives_429_until_window_ends() {
    let window = Duration::from_secs(3);
    let sim = serve(
        small_org(),
        SimOptions {
            rate_limits: RateLimits::Workforce { window },
            ..options()
        },
    )
    .await
    .unwrap();
    let token = access_token(&sim).await;

    // The apps bucket allows 100 requests a minute per org, so 50 per window for the app.
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let (sim_url, token) = (sim.base_url.clone(), token.clone());
            tokio::spawn(async move {
                reqwest::Client::new()
                    .get(format!("{sim_url}/api/v1/apps?limit=1"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }

    let limited = get(&sim, &token, "/api/v1/apps?limit=1").await;
    assert_eq!(limited.status(), 429);
    let headers = limited.headers().clone();
    assert_eq!(headers["x-rate-limit-limit"], "50");
    assert_eq!(headers["x-rate-limit-remaining"], "0");
    let reset: i64 = headers["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let date = DateTime::parse_from_rfc2822(headers["date"].to_str().unwrap()).unwrap();
    assert!(
        reset > date.timestamp(),
        "reset {reset} is after the response date"
    );
    assert!(reset <= date.timestamp() + window.as_secs() as i64 + 1);
    assert!(headers.contains_key("x-okta-request-id"));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000047");
    assert_eq!(
        body["errorSummary"],
        "API call exceeded rate limit due to too many requests."
    );

    let other_bucket = get(&sim, &token, "/api/v1/users?limit=1").await;
    assert_eq!(other_bucket.status(), 200, "buckets are counted separately");

    // Wait as an SDK does: until the reset second has passed.
    let wait = (reset - Utc::now().timestamp() + 1).max(0) as u64;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let after_window = get(&sim, &token, "/api/v1/apps?limit=1").await;
    assert_eq!(after_window.status(), 200);
    assert_eq!(after_window.headers()["x-rate-limit-remaining"], "49");
    sim.shutdown().await;
}

#[tokio::test]
async fn remaining_counts_down_per_request() {
    let sim = serve(
        small_org(),
        SimOptions {
            rate_limits: RateLimits::default(),
            ..options()
        },
    )
    .await
    .unwrap();
    let token = access_token(&sim).await;
    let first = get(&sim, &token, "/api/v1/logs?limit=1").await;
    let second = get(&sim, &token, "/api/v1/logs?limit=1").await;
    let remaining = |response: &reqwest::Response| -> u32 {
        response.headers()["x-rate-limit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(remaining(&first), 59);
    assert_eq!(remaining(&second), 58);
    assert_eq!(
        first.headers()["x-rate-limit-reset"],
        second.headers()["x-rate-limit-reset"],
        "one window"
    );
    sim.shutdown().await;
}
