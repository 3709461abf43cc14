//! The event-hook endpoint: verification, the secret, duplicate and
//! out-of-order deliveries, bad bodies, and the simulator's hook sender.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use idaudit_okta::Secret;
use idaudit_okta_sim::{EventHook, LogEvent, OrgSpec, SimOptions};
use idaudit_server::{EventWriter, HookSettings};
use idaudit_store::Store;
use serde_json::{Value, json};

const SECRET: &str = "Basic aWRhdWRpdDpob29rLXNlY3JldA==";

/// A server on a loopback port with its store; new events handed on by the
/// writer are collected in `handed_on`.
struct TestServer {
    url: String,
    store_path: std::path::PathBuf,
    handed_on: Arc<Mutex<Vec<String>>>,
    _folder: tempfile::TempDir,
}

async fn start_server(max_body_bytes: usize) -> TestServer {
    let folder = tempfile::tempdir().unwrap();
    let store_path = folder.path().join("idaudit.db");
    let store = Store::open(&store_path).unwrap();
    let handed_on = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&handed_on);
    let (writer, _thread) = EventWriter::start(
        store,
        "test-org".to_string(),
        Box::new(move |events| {
            let mut collected = collected.lock().unwrap();
            collected.extend(events.into_iter().map(|event| event.uuid));
        }),
    )
    .unwrap();
    let settings = HookSettings {
        max_body_bytes,
        ..HookSettings::new(Secret::new(SECRET))
    };
    let app = idaudit_server::app(Some((settings, writer)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/okta", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer {
        url,
        store_path,
        handed_on,
        _folder: folder,
    }
}

impl TestServer {
    fn stored(&self) -> Vec<String> {
        let mut uuids = Store::open(&self.store_path)
            .unwrap()
            .event_uuids()
            .unwrap();
        uuids.sort();
        uuids
    }

    async fn deliver(&self, body: String, secret: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header("Authorization", secret);
        }
        request.send().await.unwrap()
    }
}

fn event(uuid: &str, published: &str) -> Value {
    json!({
        "uuid": uuid,
        "published": published,
        "eventType": "user.lifecycle.deactivate",
        "version": "0",
        "severity": "INFO",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
        "target": [{"id": "00u1", "type": "User", "alternateId": "jdoe@example.com"}],
        "outcome": {"result": "SUCCESS"},
    })
}

fn envelope(events: &[Value]) -> String {
    json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/who1",
        "eventId": "85b60edb-4263-4e13-993b-818e26201052",
        "eventTime": "2026-12-01T10:00:00.000Z",
        "contentType": "application/json",
        "data": {"events": events},
    })
    .to_string()
}

#[tokio::test]
async fn verification_challenge_echoed() {
    let server = start_server(1 << 20).await;
    let response = reqwest::Client::new()
        .get(&server.url)
        .header("X-Okta-Verification-Challenge", "2f3a1c5e-challenge")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"verification": "2f3a1c5e-challenge"}));

    let missing = reqwest::get(&server.url).await.unwrap();
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn wrong_or_missing_secret_rejected() {
    let server = start_server(1 << 20).await;
    let body = envelope(&[event(
        "0b1e0000-0000-4000-8000-000000000001",
        "2026-12-01T10:00:00.000Z",
    )]);

    let missing = server.deliver(body.clone(), None).await;
    assert_eq!(missing.status(), 401);
    let wrong = server.deliver(body.clone(), Some("Basic d3Jvbmc=")).await;
    assert_eq!(wrong.status(), 401);
    let prefix = server.deliver(body.clone(), Some(&SECRET[..10])).await;
    assert_eq!(prefix.status(), 401);
    let text = wrong.text().await.unwrap();
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        server.stored().is_empty(),
        "nothing stored without the secret"
    );

    let right = server.deliver(body, Some(SECRET)).await;
    assert_eq!(right.status(), 200);
    assert_eq!(server.stored().len(), 1);
}

#[tokio::test]
async fn duplicate_delivery_stored_once() {
    let server = start_server(1 << 20).await;
    let events = [
        event(
            "0b1e0000-0000-4000-8000-000000000011",
            "2026-12-01T10:00:00.000Z",
        ),
        event(
            "0b1e0000-0000-4000-8000-000000000012",
            "2026-12-01T10:00:01.000Z",
        ),
    ];
    let first = server.deliver(envelope(&events), Some(SECRET)).await;
    let again = server.deliver(envelope(&events), Some(SECRET)).await;

    assert_eq!(first.status(), 200);
    assert_eq!(again.status(), 200, "a repeated delivery is acknowledged");
    assert_eq!(server.stored().len(), 2);
    assert_eq!(
        server.handed_on.lock().unwrap().len(),
        2,
        "handed on once each"
    );
}

#[tokio::test]
async fn out_of_order_deliveries_all_stored() {
    let server = start_server(1 << 20).await;
    let early = event(
        "0b1e0000-0000-4000-8000-000000000021",
        "2026-12-01T10:00:00.000Z",
    );
    let late = event(
        "0b1e0000-0000-4000-8000-000000000022",
        "2026-12-01T10:05:00.000Z",
    );
    let later = server.deliver(envelope(&[late]), Some(SECRET)).await;
    let earlier = server.deliver(envelope(&[early]), Some(SECRET)).await;

    assert_eq!(later.status(), 200);
    assert_eq!(earlier.status(), 200);
    assert_eq!(
        server.stored(),
        vec![
            "0b1e0000-0000-4000-8000-000000000021".to_string(),
            "0b1e0000-0000-4000-8000-000000000022".to_string()
        ]
    );
}

#[tokio::test]
async fn malformed_body_rejected() {
    let server = start_server(1 << 20).await;
    let cases = [
        "{\"data\": {\"events\": [",
        "[]",
        "{\"data\": {}}",
        "not json",
    ];
    for body in cases {
        let response = server.deliver(body.to_string(), Some(SECRET)).await;
        assert_eq!(response.status(), 400, "{body}");
        let reply: Value = response.json().await.unwrap();
        assert!(
            reply["error"]
                .as_str()
                .unwrap()
                .starts_with("Invalid delivery"),
            "{reply}"
        );
    }
    assert!(server.stored().is_empty());
}

#[tokio::test]
async fn unreadable_event_skipped_rest_kept() {
    let server = start_server(1 << 20).await;
    let events = [
        json!({"uuid": "no-event-type"}),
        event(
            "0b1e0000-0000-4000-8000-000000000031",
            "2026-12-01T10:00:00.000Z",
        ),
    ];
    let response = server.deliver(envelope(&events), Some(SECRET)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(server.stored().len(), 1);
}

#[tokio::test]
async fn oversized_body_rejected() {
    let server = start_server(16 * 1024).await;
    let events: Vec<Value> = (0..100)
        .map(|index| {
            event(
                &format!("0b1e0000-0000-4000-8000-{index:012}"),
                "2026-12-01T10:00:00.000Z",
            )
        })
        .collect();
    let body = envelope(&events);
    assert!(body.len() > 16 * 1024);
    let response = server.deliver(body, Some(SECRET)).await;
    assert_eq!(response.status(), 413);
    assert!(server.stored().is_empty());
}

/// Appends events to the simulator's log; its hook sender delivers them.
fn append(org: &Arc<idaudit_okta_sim::SharedOrg>, start: usize, count: usize) {
    let mut org = org.write().unwrap();
    for index in start..start + count {
        let published = idaudit_store::format_time(chrono_now_minus(index as i64 % 5));
        let value = event(&format!("5e4d0000-0000-4000-8000-{index:012}"), &published);
        org.events.push(LogEvent::from_value(&value).unwrap());
    }
}

fn chrono_now_minus(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::minutes(minutes)
}

#[tokio::test]
async fn simulator_deliveries_stored_exactly_once() {
    let server = start_server(1 << 20).await;
    let spec = OrgSpec {
        users: 20,
        groups: 4,
        apps: 3,
        log_days: 1,
        ..OrgSpec::default()
    };
    let sim = idaudit_okta_sim::serve(
        idaudit_okta_sim::generate(&spec),
        SimOptions {
            event_hook: Some(EventHook {
                url: server.url.clone(),
                authorization: Some(("Authorization".to_string(), SECRET.to_string())),
                event_types: Vec::new(),
                duplicate_and_reorder: true,
            }),
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let org = sim.org();
    let mut expected = Vec::new();
    for round in 0..4 {
        append(&org, round * 30, 30);
        expected.extend(
            (round * 30..round * 30 + 30)
                .map(|index| format!("5e4d0000-0000-4000-8000-{index:012}")),
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    expected.sort();

    let started = Instant::now();
    while server.stored().len() < expected.len() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Late repeats would arrive within one more look of the sender.
    tokio::time::sleep(Duration::from_millis(500)).await;
    sim.shutdown().await;

    assert_eq!(server.stored(), expected);
    let mut handed_on = server.handed_on.lock().unwrap().clone();
    handed_on.sort();
    assert_eq!(handed_on, expected, "each event handed on once");
}
