//! The workflow worker against the simulator: a burst of events that ask
//! for a refresh runs a few incremental syncs, not one per event.

use std::time::{Duration, Instant};

use idaudit_collect::NoProgress;
use idaudit_collect::sync::full_sync;
use idaudit_collect::workflows::{self, WorkerOptions, Workflows};
use idaudit_store::{EventRecord, Store};
use serde_json::json;

use crate::{sim, temp_store};

fn deactivation(index: usize, user: &str) -> EventRecord {
    idaudit_collect::to_event_record(json!({
        "uuid": format!("b0a50000-0000-4000-8000-{index:012}"),
        "published": idaudit_store::format_time(chrono::Utc::now()),
        "eventType": "user.lifecycle.deactivate",
        "version": "0",
        "severity": "INFO",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
        "target": [{"id": user, "type": "User"}],
        "outcome": {"result": "SUCCESS"},
    }))
    .unwrap()
}

#[tokio::test]
async fn event_burst_batched_into_few_refreshes() {
    let (org, sim, client) = sim::start(60).await;
    let (folder, mut store) = temp_store();
    full_sync(&client, &mut store, "sim", &NoProgress)
        .await
        .unwrap();
    let mut worker_store = Store::open(folder.path().join("idaudit.db")).unwrap();

    let interval = Duration::from_millis(400);
    let built = Workflows::build(true, &[], &[]).unwrap();
    let (dispatcher, mut worker) = workflows::start(
        built,
        WorkerOptions {
            refresh_interval: interval,
        },
    );
    let users: Vec<String> = org.users.iter().map(|user| user.id.clone()).collect();
    let requests_before = client.stats().requests;
    let burst = Duration::from_millis(1200);

    let producer = async {
        let started = Instant::now();
        let mut index = 0;
        while started.elapsed() < burst {
            let batch: Vec<EventRecord> = (0..5)
                .map(|offset| deactivation(index + offset, &users[(index + offset) % users.len()]))
                .collect();
            index += batch.len();
            dispatcher.dispatch(&batch);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        index
    };
    let shutdown = tokio::time::sleep(burst + Duration::from_millis(300));
    let (events, ()) = tokio::join!(
        producer,
        worker.run(&mut worker_store, Some(&client), "sim", shutdown)
    );
    let requests = client.stats().requests - requests_before;
    sim.shutdown().await;

    let stats = worker.stats();
    eprintln!(
        "{events} events, {} refreshes, {requests} requests",
        stats.refreshes
    );
    let most = (burst.as_millis() / interval.as_millis()) as u64 + 2;
    assert!(events >= 100, "{events} events dispatched");
    assert!(stats.refreshes >= 1, "{stats:?}");
    assert!(stats.refreshes <= most, "{stats:?} for {events} events");
    assert_eq!(stats.failed_refreshes, 0);
    // An incremental sync of this org costs a handful of requests, so the
    // burst costs a few syncs' worth, far from one sync per event.
    assert!(
        requests < events as u64,
        "{requests} requests for {events} events"
    );
}
