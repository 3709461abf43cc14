//! Injected faults: rate-limit bursts, concurrency 429s, server errors, latency,
//! cut-off bodies, clock skew, odd payload values and the groups `next` quirk.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use idaudit_okta_sim::{Faults, LatencyRange, RunningSim, SimOptions, serve};
use serde_json::Value;

use crate::support::{access_token, collect_pages, get, next_link, options, small_org};

async fn start_with(faults: Faults) -> RunningSim {
    serve(
        small_org(),
        SimOptions {
            faults,
            ..options()
        },
    )
    .await
    .unwrap()
}

fn header_number(response: &reqwest::Response, name: &str) -> i64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn burst_answers_429_then_recovers() {
    let sim = start_with(Faults::default()).await;
    let token = access_token(&sim).await;
    sim.inject_rate_limit_burst(3);
    for attempt in 0..3 {
        let response = get(&sim, &token, "/api/v1/users?limit=1").await;
        assert_eq!(response.status(), 429, "attempt {attempt}");
        assert_eq!(header_number(&response, "x-rate-limit-remaining"), 0);
        let reset = header_number(&response, "x-rate-limit-reset");
        let date = DateTime::parse_from_rfc2822(response.headers()["date"].to_str().unwrap())
            .unwrap()
            .timestamp();
        assert!(
            (1..=2).contains(&(reset - date)),
            "reset {reset}, date {date}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000047");
    }
    assert_eq!(
        get(&sim, &token, "/api/v1/users?limit=1").await.status(),
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn burst_option_applies_from_start() {
    let sim = start_with(Faults {
        rate_limit_burst: 1,
        ..Faults::default()
    })
    .await;
    let first = reqwest::get(format!("{}/api/v1/users", sim.base_url))
        .await
        .unwrap();
    assert_eq!(first.status(), 429);
    let token = access_token(&sim).await;
    assert_eq!(
        get(&sim, &token, "/api/v1/users?limit=1").await.status(),
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrency_limit_answers_zero_limit() {
    let sim = start_with(Faults {
        concurrency_limit: Some(2),
        latency: Some(LatencyRange {
            min: Duration::from_millis(400),
            max: Duration::from_millis(400),
        }),
        ..Faults::default()
    })
    .await;
    let token = access_token(&sim).await;
    let requests = (0..5).map(|_| get(&sim, &token, "/api/v1/users?limit=1"));
    let responses = futures_util::future::join_all(requests).await;
    let limited: Vec<&reqwest::Response> = responses
        .iter()
        .filter(|response| response.status() == 429)
        .collect();
    assert!(limited.len() >= 3, "{} of 5 limited", limited.len());
    for response in limited {
        assert_eq!(header_number(response, "x-rate-limit-limit"), 0);
        assert_eq!(header_number(response, "x-rate-limit-remaining"), 0);
    }
    assert!(responses.iter().any(|response| response.status() == 200));
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_follow_rate_and_seed() {
    let faults = Faults {
        server_error_rate: 0.5,
        seed: 9,
        ..Faults::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = start_with(faults.clone()).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let response = reqwest::get(format!("{}/api/v1/users", sim.base_url))
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        sim.shutdown().await;
        runs.push(statuses);
    }
    let errors = runs[0].iter().filter(|status| **status == 500).count();
    assert!((8..=32).contains(&errors), "{errors} of 40 failed");
    assert!(runs[0].iter().all(|status| [401, 500].contains(status)));
    assert_eq!(runs[0], runs[1], "the same seed gives the same faults");
}

#[tokio::test]
async fn latency_delays_responses() {
    let sim = start_with(Faults {
        latency: Some(LatencyRange {
            min: Duration::from_millis(150),
            max: Duration::from_millis(200),
        }),
        ..Faults::default()
    })
    .await;
    let started = Instant::now();
    reqwest::get(format!("{}/api/v1/users", sim.base_url))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    sim.shutdown().await;
}

#[tokio::test]
async fn every_second_body_is_cut_off() {
    let sim = start_with(Faults {
        drop_body_every: Some(2),
        ..Faults::default()
    })
    .await;
    let token = access_token(&sim).await;
    let first = get(&sim, &token, "/api/v1/users?limit=5").await;
    assert!(
        first.json::<Vec<Value>>().await.is_ok(),
        "first body is whole"
    );
    let second = get(&sim, &token, "/api/v1/users?limit=5").await;
    assert_eq!(second.status(), 200, "headers arrive");
    assert!(second.bytes().await.is_err(), "second body is cut off");
    let third = get(&sim, &token, "/api/v1/users?limit=5").await;
    assert!(
        third.json::<Vec<Value>>().await.is_ok(),
        "third body is whole"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn clock_skew_shifts_date_and_reset() {
    let sim = start_with(Faults {
        clock_skew_seconds: -600,
        ..Faults::default()
    })
    .await;
    let response = reqwest::get(format!("{}/api/v1/users", sim.base_url))
        .await
        .unwrap();
    let date = DateTime::parse_from_rfc2822(response.headers()["date"].to_str().unwrap())
        .unwrap()
        .timestamp();
    let behind = Utc::now().timestamp() - date;
    assert!((595..=605).contains(&behind), "Date is {behind} s behind");
    let reset = header_number(&response, "x-rate-limit-reset");
    assert!(
        (reset - date) <= 61,
        "reset {reset} follows the skewed clock"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn odd_values_appear_in_payloads() {
    let sim = start_with(Faults {
        odd_values: true,
        ..Faults::default()
    })
    .await;
    let token = access_token(&sim).await;
    let users = collect_pages(&sim, &token, "/api/v1/users").await;
    let odd_users = users
        .iter()
        .filter(|user| user["profile"]["mobilePhone"] == "null")
        .count();
    assert!(
        odd_users > 0 && odd_users < users.len(),
        "{odd_users} odd users"
    );
    assert!(
        users
            .iter()
            .any(|user| user["credentials"]["provider"]["type"] == "FUTURE_PROVIDER")
    );
    let apps = collect_pages(&sim, &token, "/api/v1/apps").await;
    assert!(
        apps.iter()
            .any(|app| app["signOnMode"] == "FUTURE_SIGN_ON_MODE")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn groups_last_page_has_next_link() {
    let sim = start_with(Faults {
        groups_next_after_last_page: true,
        ..Faults::default()
    })
    .await;
    let token = access_token(&sim).await;
    let all = get(&sim, &token, "/api/v1/groups?limit=200").await;
    let next = next_link(&all).expect("a next link after the last page");
    let groups: Vec<Value> = all.json().await.unwrap();
    assert_eq!(groups.len(), sim.org().read().unwrap().groups.len());
    let empty = get(&sim, &token, &next).await;
    assert_eq!(empty.status(), 200);
    assert_eq!(next_link(&empty), None, "the empty page ends the list");
    let page: Vec<Value> = empty.json().await.unwrap();
    assert!(page.is_empty());
    sim.shutdown().await;
}

/// Returns the first polling page of the log since the org's first event, and its `next` link.
async fn first_poll_page(sim: &RunningSim, token: &str, limit: usize) -> (Vec<Value>, String) {
    let since = {
        let org = sim.org();
        let org = org.read().unwrap();
        org.events[0]
            .published()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let path = format!(
        "/api/v1/logs?limit={limit}&since={}",
        crate::support::encode(&since)
    );
    let response = get(sim, token, &path).await;
    assert_eq!(response.status(), 200);
    let next = next_link(&response).unwrap();
    (response.json().await.unwrap(), next)
}

#[tokio::test]
async fn polling_repeats_last_event_of_full_page() {
    let sim = start_with(Faults {
        duplicate_log_events: true,
        ..Faults::default()
    })
    .await;
    let token = access_token(&sim).await;
    let (first, next) = first_poll_page(&sim, &token, 50).await;
    assert_eq!(first.len(), 50);
    let second: Vec<Value> = get(&sim, &token, &next).await.json().await.unwrap();
    assert_eq!(second[0]["uuid"], first[49]["uuid"], "the duplicate");
    assert_ne!(second[1]["uuid"], first[49]["uuid"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn polling_returns_late_stored_events() {
    let sim = start_with(Faults {
        late_log_events_every: Some(10),
        ..Faults::default()
    })
    .await;
    let token = access_token(&sim).await;
    let (page, _) = first_poll_page(&sim, &token, 200).await;
    let published: Vec<&str> = page
        .iter()
        .map(|event| event["published"].as_str().unwrap())
        .collect();
    let out_of_order = published
        .windows(2)
        .filter(|pair| pair[1] < pair[0])
        .count();
    assert!(out_of_order >= 5, "{out_of_order} late events on the page");
    sim.shutdown().await;
}
