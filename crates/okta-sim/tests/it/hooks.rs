//! Event hooks: the verification request, then deliveries of new System Log events in
//! Okta's envelope, with a retry after a 5xx and the duplicate-and-reorder knob.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use idaudit_okta_sim::{EventHook, LogEvent, RunningSim, SimOptions, UserStatus, serve};
use serde_json::{Value, json};

use crate::support::{access_token_for, http, options, small_org};

/// What the hook target received.
#[derive(Default)]
struct Received {
    challenges: Vec<String>,
    /// Authorization header and body of each POST.
    deliveries: Vec<(Option<String>, Value)>,
    /// Number of POSTs still to fail with 503.
    failures_left: usize,
}

type Shared = Arc<Mutex<Received>>;

async fn verify(headers: HeaderMap) -> Json<Value> {
    let challenge = headers["x-okta-verification-challenge"].to_str().unwrap();
    Json(json!({"verification": challenge}))
}

async fn receive(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    let mut received = shared.lock().unwrap();
    let authorization = headers
        .get("authorization")
        .map(|value| value.to_str().unwrap().to_string());
    received.deliveries.push((authorization, body));
    if received.failures_left > 0 {
        received.failures_left -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::OK
}

async fn record_challenge(State(shared): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let challenge = headers["x-okta-verification-challenge"]
        .to_str()
        .unwrap()
        .to_string();
    shared.lock().unwrap().challenges.push(challenge);
    verify(headers).await
}

/// Starts a hook target on loopback and returns its URL and what it receives.
async fn start_target(failures: usize) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Received {
        failures_left: failures,
        ..Received::default()
    }));
    let app = Router::new()
        .route("/hook", get(record_challenge).post(receive))
        .with_state(Arc::clone(&shared));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

async fn start_sim(url: &str, duplicate_and_reorder: bool) -> RunningSim {
    serve(
        small_org(),
        SimOptions {
            scopes: vec!["okta.users.manage".to_string()],
            event_hook: Some(EventHook {
                url: url.to_string(),
                authorization: Some(("Authorization".to_string(), "hook-secret".to_string())),
                event_types: vec![
                    "user.lifecycle.suspend".to_string(),
                    "user.lifecycle.unsuspend".to_string(),
                ],
                duplicate_and_reorder,
            }),
            ..options()
        },
    )
    .await
    .unwrap()
}

/// Suspends and unsuspends an active user through the API, which stores two events.
async fn suspend_and_unsuspend(sim: &RunningSim) {
    let token = access_token_for(sim, "okta.users.manage").await;
    let user_id = {
        let org = sim.org();
        let org = org.read().unwrap();
        org.users
            .iter()
            .find(|user| user.status == UserStatus::Active)
            .unwrap()
            .id
            .clone()
    };
    for operation in ["suspend", "unsuspend"] {
        let url = format!(
            "{}/api/v1/users/{user_id}/lifecycle/{operation}",
            sim.base_url
        );
        let response = http().post(url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
}

async fn wait_for_deliveries(shared: &Shared, count: usize) {
    let started = Instant::now();
    while shared.lock().unwrap().deliveries.len() < count {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "deliveries did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn event_types(envelope: &Value) -> Vec<String> {
    envelope["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["eventType"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn hook_is_verified_then_gets_envelopes() {
    let (url, shared) = start_target(0).await;
    let sim = start_sim(&url, false).await;
    suspend_and_unsuspend(&sim).await;
    wait_for_deliveries(&shared, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    {
        let received = shared.lock().unwrap();
        assert_eq!(received.challenges.len(), 1, "one verification");
        let (authorization, envelope) = &received.deliveries[0];
        assert_eq!(authorization.as_deref(), Some("hook-secret"));
        assert_eq!(envelope["eventType"], "com.okta.event_hook");
        assert_eq!(envelope["cloudEventsVersion"], "0.1");
        assert_eq!(envelope["contentType"], "application/json");
        let types: Vec<String> = received
            .deliveries
            .iter()
            .flat_map(|(_, body)| event_types(body))
            .collect();
        assert_eq!(
            types,
            vec!["user.lifecycle.suspend", "user.lifecycle.unsuspend"]
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn hook_delivery_retried_once_after_5xx() {
    let (url, shared) = start_target(1).await;
    let sim = start_sim(&url, false).await;
    suspend_and_unsuspend(&sim).await;
    wait_for_deliveries(&shared, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let received = shared.lock().unwrap();
        let first = &received.deliveries[0].1;
        let second = &received.deliveries[1].1;
        assert_eq!(
            first["eventId"], second["eventId"],
            "the retry resends the same envelope"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn hook_duplicates_and_reorders() {
    let (url, shared) = start_target(0).await;
    let sim = start_sim(&url, true).await;
    // Both events are stored under one lock, so the sender finds them in one look.
    {
        let org = sim.org();
        let mut org = org.write().unwrap();
        for (index, event_type) in ["user.lifecycle.suspend", "user.lifecycle.unsuspend"]
            .iter()
            .enumerate()
        {
            let event = json!({
                "uuid": format!("00000000-0000-4000-8000-00000000000{index}"),
                "published": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "eventType": event_type,
            });
            org.events.push(LogEvent::from_value(&event).unwrap());
        }
    }
    wait_for_deliveries(&shared, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let received = shared.lock().unwrap();
        assert_eq!(received.deliveries.len(), 3);
        let types: Vec<String> = received
            .deliveries
            .iter()
            .flat_map(|(_, body)| event_types(body))
            .collect();
        assert_eq!(
            types,
            vec![
                "user.lifecycle.unsuspend",
                "user.lifecycle.suspend",
                "user.lifecycle.suspend"
            ]
        );
    }
    sim.shutdown().await;
}
