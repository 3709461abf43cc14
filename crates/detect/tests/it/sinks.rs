//! Sinks and the outbox, against HTTP servers on 127.0.0.1 started by each test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use idaudit_detect::sinks::{DELIVERY_HEADER, SIGNATURE_HEADER};
use idaudit_detect::{DeliveryWorker, RetryPolicy, Sink, SinkConfig, SinkConfigError, SinkKind};
use idaudit_store::{Alert, AlertStatus, Store};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::temp_store;

/// Requests a test server received, and how many more it should fail.
#[derive(Clone, Default)]
struct Recorder {
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    failures_left: Arc<AtomicUsize>,
    attempts: Arc<AtomicUsize>,
}

impl Recorder {
    fn bodies(&self) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).unwrap())
            .collect()
    }
}

async fn record(State(recorder): State<Recorder>, headers: HeaderMap, body: Bytes) -> StatusCode {
    recorder.attempts.fetch_add(1, Ordering::SeqCst);
    let failing = recorder
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failing {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    recorder.requests.lock().unwrap().push((headers, body));
    StatusCode::OK
}

/// Serves `/hook` on a free loopback port; returns its URL.
async fn serve(recorder: Recorder) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/hook", post(record))
        .with_state(recorder);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/hook")
}

fn config(kind: SinkKind, url: Option<String>, secret_env: Option<&str>) -> SinkConfig {
    SinkConfig {
        kind,
        name: Some("test-sink".to_string()),
        url,
        path: None,
        secret_env: secret_env.map(str::to_string),
    }
}

fn alert(id: &str, count: u64) -> Alert {
    Alert {
        id: id.to_string(),
        rule: "password-spray".to_string(),
        severity: "high".to_string(),
        title: "Password spray: from 203.0.113.9".to_string(),
        user: Some("alice@example.com".to_string()),
        ip: Some("203.0.113.9".to_string()),
        first_seen: "2026-11-30T09:00:00.000Z".to_string(),
        last_seen: "2026-11-30T09:12:00.000Z".to_string(),
        count,
        evidence: (0..count).map(|index| format!("uuid-{index}")).collect(),
        details: json!({"country": "Netherlands"}),
        status: AlertStatus::Open,
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
    }
}

/// Runs delivery rounds until nothing is pending, at most 200 rounds.
async fn deliver_until_empty(worker: &DeliveryWorker, store: &Store) {
    for _ in 0..200 {
        worker.deliver_due(store).await.unwrap();
        if store.outbox_counts().unwrap().pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("outbox still pending after 200 rounds");
}

#[tokio::test]
async fn slack_message_has_block_kit_fields() {
    let recorder = Recorder::default();
    let url = serve(recorder.clone()).await;
    let sink = Sink::build(&config(SinkKind::Slack, Some(url), None), &|_| None).unwrap();

    sink.deliver(&alert("a1", 7), 1).await.unwrap();

    let bodies = recorder.bodies();
    assert_eq!(bodies.len(), 1);
    let message = &bodies[0];
    assert!(message["text"].as_str().unwrap().contains("Password spray"));
    assert_eq!(message["blocks"][0]["type"], "header");
    assert_eq!(
        message["blocks"][0]["text"]["text"],
        "[HIGH] Password spray: from 203.0.113.9"
    );
    assert_eq!(message["blocks"][1]["type"], "section");
    let fields: Vec<&str> = message["blocks"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "*What*\npassword-spray (high)",
            "*Who*\nalice@example.com",
            "*Where*\n203.0.113.9 (Netherlands)",
            "*When*\n2026-11-30T09:00:00.000Z to 2026-11-30T09:12:00.000Z",
            "*Evidence*\n7 events",
        ]
    );
    assert!(
        message["blocks"][2]["elements"][0]["text"]
            .as_str()
            .unwrap()
            .contains("`a1`")
    );
}

#[tokio::test]
async fn webhook_signature_verifies() {
    let recorder = Recorder::default();
    let url = serve(recorder.clone()).await;
    let environment = |variable: &str| {
        (variable == "IDAUDIT_TEST_WEBHOOK_SECRET").then(|| "correct horse battery".to_string())
    };
    let sink = Sink::build(
        &config(
            SinkKind::Webhook,
            Some(url),
            Some("IDAUDIT_TEST_WEBHOOK_SECRET"),
        ),
        &environment,
    )
    .unwrap();

    sink.deliver(&alert("a1", 3), 2).await.unwrap();

    let requests = recorder.requests.lock().unwrap();
    let (headers, body) = &requests[0];
    let mut mac = Hmac::<Sha256>::new_from_slice(b"correct horse battery").unwrap();
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        headers[SIGNATURE_HEADER].to_str().unwrap(),
        format!("sha256={expected}")
    );
    assert_eq!(headers[DELIVERY_HEADER].to_str().unwrap(), "a1-2");
    let record: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(record["type"], "alert");
    assert_eq!(record["revision"], 2);
    assert_eq!(record["alert"]["id"], "a1");
}

#[tokio::test]
async fn failing_sink_gets_each_alert_once() {
    let recorder = Recorder::default();
    recorder.failures_left.store(5, Ordering::SeqCst);
    let url = serve(recorder.clone()).await;
    let sink = Sink::build(&config(SinkKind::Webhook, Some(url), None), &|_| None).unwrap();
    let worker = DeliveryWorker::new(vec![sink], fast_retries());
    let (_folder, store) = temp_store();
    for id in ["a1", "a2", "a3"] {
        let queued = store
            .upsert_alert_and_queue(&alert(id, 1), &worker.sink_names())
            .unwrap();
        assert!(queued.queued);
    }

    deliver_until_empty(&worker, &store).await;

    let delivered: Vec<(String, u64)> = recorder
        .bodies()
        .iter()
        .map(|body| {
            (
                body["alert"]["id"].as_str().unwrap().to_string(),
                body["revision"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        delivered,
        [
            ("a1".to_string(), 1),
            ("a2".to_string(), 1),
            ("a3".to_string(), 1)
        ]
    );
    assert_eq!(recorder.attempts.load(Ordering::SeqCst), 5 + 3);
    let counts = store.outbox_counts().unwrap();
    assert_eq!(counts.delivered, 3);
    assert_eq!(counts.pending, 0);

    worker.deliver_due(&store).await.unwrap();
    assert_eq!(recorder.bodies().len(), 3);
}

#[tokio::test]
async fn changed_alert_queues_new_revision() {
    let recorder = Recorder::default();
    let url = serve(recorder.clone()).await;
    let sink = Sink::build(&config(SinkKind::Webhook, Some(url), None), &|_| None).unwrap();
    let worker = DeliveryWorker::new(vec![sink], fast_retries());
    let (_folder, store) = temp_store();
    let sinks = worker.sink_names();

    let first = store
        .upsert_alert_and_queue(&alert("a1", 1), &sinks)
        .unwrap();
    let repeated = store
        .upsert_alert_and_queue(&alert("a1", 1), &sinks)
        .unwrap();
    let grown = store
        .upsert_alert_and_queue(&alert("a1", 4), &sinks)
        .unwrap();
    deliver_until_empty(&worker, &store).await;

    assert_eq!((first.revision, first.queued), (1, true));
    assert_eq!((repeated.revision, repeated.queued), (1, false));
    assert_eq!((grown.revision, grown.queued), (2, true));
    let counts: Vec<u64> = recorder
        .bodies()
        .iter()
        .map(|body| body["alert"]["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 4]);
}

#[tokio::test]
async fn unreachable_sink_keeps_rows_and_hides_token() {
    // A port that was free a moment ago, so connecting to it is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{address}/services/T000/B000/SECRETTOKEN");
    let environment = |_: &str| Some(url.clone());
    let sink = Sink::build(
        &config(SinkKind::Slack, None, Some("IDAUDIT_TEST_SLACK_URL")),
        &environment,
    )
    .unwrap();
    let worker = DeliveryWorker::new(vec![sink], fast_retries());
    let (_folder, store) = temp_store();
    store
        .upsert_alert_and_queue(&alert("a1", 1), &worker.sink_names())
        .unwrap();

    let report = worker.deliver_due(&store).await.unwrap();

    assert_eq!(report.failed, 1);
    assert_eq!(store.outbox_counts().unwrap().pending, 1);
    let entry_id = 1;
    let error = store.delivery_error(entry_id).unwrap().unwrap();
    assert!(error.contains(&address.to_string()), "{error}");
    assert!(!error.contains("SECRETTOKEN"), "{error}");
    assert!(!format!("{:?}", worker.sink_names()).contains("SECRETTOKEN"));
}

#[tokio::test]
async fn jsonl_sink_appends_lines() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("alerts.jsonl");
    let sink = Sink::build(
        &SinkConfig {
            kind: SinkKind::Jsonl,
            name: None,
            url: None,
            path: Some(path.clone()),
            secret_env: None,
        },
        &|_| None,
    )
    .unwrap();

    sink.deliver(&alert("a1", 1), 1).await.unwrap();
    sink.deliver(&alert("a1", 2), 2).await.unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["revision"], 2);
    assert_eq!(records[1]["alert"]["count"], 2);
    assert!(sink.name().starts_with("jsonl-"));
}

#[test]
fn missing_secret_names_variable() {
    let error = Sink::build(
        &config(
            SinkKind::Webhook,
            Some("https://siem.example.com/hook".to_string()),
            Some("IDAUDIT_TEST_UNSET"),
        ),
        &|_| None,
    )
    .unwrap_err();

    assert!(matches!(error, SinkConfigError::MissingSecret { .. }));
    assert!(error.to_string().contains("`IDAUDIT_TEST_UNSET`"));
}

#[test]
fn sink_config_reads_toml() {
    let text = r#"
        [[sinks]]
        kind = "webhook"
        url = "https://siem.example.com/hook"
        secret_env = "IDAUDIT_WEBHOOK_SECRET"

        [[sinks]]
        kind = "stdout"
    "#;
    #[derive(serde::Deserialize)]
    struct Section {
        sinks: Vec<SinkConfig>,
    }

    let section: Section = toml::from_str(text).unwrap();

    assert_eq!(section.sinks.len(), 2);
    assert_eq!(section.sinks[0].kind, SinkKind::Webhook);
    assert_eq!(
        section.sinks[0].secret_env.as_deref(),
        Some("IDAUDIT_WEBHOOK_SECRET")
    );
    assert_eq!(section.sinks[1].kind, SinkKind::Stdout);
}
