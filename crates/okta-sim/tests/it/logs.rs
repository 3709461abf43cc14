//! `GET /api/v1/logs`: polling with an ever-present `next` link, bounded queries that
//! end, retention limits and filters.

use chrono::{Duration, SecondsFormat, Utc};
use idaudit_okta_sim::LogEvent;
use serde_json::{Value, json};

use crate::support::{
    access_token, collect_pages, encode, get, links, next_link, small_org, start,
};

fn iso(timestamp: chrono::DateTime<Utc>) -> String {
    encode(&timestamp.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[tokio::test]
async fn polling_empty_page_still_links_next() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let since = iso(Utc::now() + Duration::seconds(5));

    let empty = get(&sim, &token, &format!("/api/v1/logs?since={since}")).await;
    assert_eq!(empty.status(), 200);
    let next = next_link(&empty).expect("polling always links next");
    assert!(next.starts_with(&format!("{}/api/v1/logs?", sim.base_url)));
    let page: Vec<Value> = empty.json().await.unwrap();
    assert!(page.is_empty());

    let again = get(&sim, &token, &next).await;
    assert_eq!(
        next_link(&again).as_deref(),
        Some(next.as_str()),
        "an empty page links to itself"
    );
    assert!(again.json::<Vec<Value>>().await.unwrap().is_empty());

    let late = json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "published": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "eventType": "user.session.start",
        "version": "0",
    });
    sim.org()
        .write()
        .unwrap()
        .events
        .push(LogEvent::from_value(&late).unwrap());
    let refreshed = get(&sim, &token, &next).await;
    assert!(next_link(&refreshed).is_some());
    let page: Vec<Value> = refreshed.json().await.unwrap();
    assert_eq!(page.len(), 1, "the same next link returns the new event");
    assert_eq!(page[0]["uuid"], late["uuid"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn polling_walks_the_whole_log_in_storage_order() {
    let org = small_org();
    let total = org.events.len();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let since = iso(Utc::now() - Duration::days(30));
    let mut url = format!("/api/v1/logs?since={since}&limit=1000");
    let mut seen = Vec::new();
    loop {
        let response = get(&sim, &token, &url).await;
        url = next_link(&response).expect("polling always links next");
        let page: Vec<Value> = response.json().await.unwrap();
        if page.is_empty() {
            break;
        }
        seen.extend(page);
    }
    assert_eq!(seen.len(), total);
    let published: Vec<&str> = seen
        .iter()
        .map(|event| event["published"].as_str().unwrap())
        .collect();
    assert!(published.windows(2).all(|pair| pair[0] <= pair[1]));
    sim.shutdown().await;
}

#[tokio::test]
async fn bounded_query_ends_without_next() {
    let org = small_org();
    let until = Utc::now();
    let since = until - Duration::days(10);
    let expected = org
        .events
        .iter()
        .filter(|event| since <= event.published() && event.published() < until)
        .count();
    let sim = start(org).await;
    let token = access_token(&sim).await;

    let path = format!(
        "/api/v1/logs?since={}&until={}&limit=1000",
        iso(since),
        iso(until)
    );
    let first = get(&sim, &token, &path).await;
    assert_eq!(links(&first)[0].rel, "self");
    let events = collect_pages(&sim, &token, &path).await;
    assert_eq!(events.len(), expected);
    let uuids: std::collections::HashSet<&str> = events
        .iter()
        .map(|event| event["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(uuids.len(), expected, "no event twice");
    sim.shutdown().await;
}

#[tokio::test]
async fn bounded_descending_is_newest_first() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let until = Utc::now();
    let path = format!(
        "/api/v1/logs?since={}&until={}&sortOrder=DESCENDING&limit=50",
        iso(until - Duration::days(2)),
        iso(until)
    );
    let events: Vec<Value> = get(&sim, &token, &path).await.json().await.unwrap();
    let published: Vec<&str> = events
        .iter()
        .map(|event| event["published"].as_str().unwrap())
        .collect();
    assert!(!published.is_empty());
    assert!(published.windows(2).all(|pair| pair[0] >= pair[1]));
    sim.shutdown().await;
}

#[tokio::test]
async fn since_older_than_180_days_is_rejected() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let response = get(
        &sim,
        &token,
        &format!(
            "/api/v1/logs?since={}",
            iso(Utc::now() - Duration::days(181))
        ),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000053");
    assert_eq!(
        body["errorSummary"],
        "Invalid parameter: The since parameter is over 180 days prior to the current day."
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn since_older_than_90_days_is_accepted() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let response = get(
        &sim,
        &token,
        &format!(
            "/api/v1/logs?since={}&limit=1",
            iso(Utc::now() - Duration::days(120))
        ),
    )
    .await;
    assert_eq!(response.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_date_is_validation_error() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let response = get(&sim, &token, "/api/v1/logs?until=last-tuesday").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000001");
    assert!(
        body["errorSummary"]
            .as_str()
            .unwrap()
            .starts_with("Api validation failed: 'until'")
    );
    assert_eq!(body["errorCauses"].as_array().unwrap().len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn event_type_filter_selects_events() {
    let org = small_org();
    let expected = org
        .events
        .iter()
        .filter(|event| event.event_type() == "user.authentication.sso")
        .count();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let until = Utc::now();
    let filter = encode(r#"eventType eq "user.authentication.sso""#);
    let path = format!(
        "/api/v1/logs?since={}&until={}&filter={filter}&limit=1000",
        iso(until - Duration::days(20)),
        iso(until)
    );
    let events = collect_pages(&sim, &token, &path).await;
    assert_eq!(events.len(), expected);
    assert!(
        events
            .iter()
            .all(|event| event["eventType"] == "user.authentication.sso")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn nested_filter_matches_targets() {
    let org = small_org();
    let brute_force = org.scenario("brute_force").unwrap().clone();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let until = Utc::now();
    let filter = encode(&format!(
        r#"eventType eq "user.session.start" and outcome.result eq "FAILURE" and client.ipAddress eq "{}""#,
        brute_force.ips[0]
    ));
    let path = format!(
        "/api/v1/logs?since={}&until={}&filter={filter}&limit=1000",
        iso(until - Duration::days(20)),
        iso(until)
    );
    let events = collect_pages(&sim, &token, &path).await;
    assert_eq!(events.len(), brute_force.event_uuids.len());
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_filter_operator_is_rejected() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let filter = r#"displayMessage eqq "User login to Okta""#;
    let response = get(
        &sim,
        &token,
        &format!("/api/v1/logs?filter={}", encode(filter)),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000053");
    assert_eq!(
        body["errorSummary"],
        format!(
            "Invalid filter '{filter}': Unrecognized attribute operator 'eqq' at position 15. Expected: eq,co,sw,pr,gt,ge,lt,le"
        )
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn events_older_than_90_days_are_absent() {
    let mut org = small_org();
    let old = json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "published": (Utc::now() - Duration::days(100)).to_rfc3339_opts(SecondsFormat::Millis, true),
        "eventType": "user.session.start",
    });
    org.events.insert(0, LogEvent::from_value(&old).unwrap());
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let until = Utc::now();
    let path = format!(
        "/api/v1/logs?since={}&until={}&limit=5",
        iso(until - Duration::days(150)),
        iso(until)
    );
    let events: Vec<Value> = get(&sim, &token, &path).await.json().await.unwrap();
    assert!(events.iter().all(|event| event["uuid"] != old["uuid"]));
    assert_eq!(events.len(), 5);
    sim.shutdown().await;
}
