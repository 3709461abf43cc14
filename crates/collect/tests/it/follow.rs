//! Continuous System Log polling against the simulator: late-stored events,
//! repeated events and 429s, and the request rate once caught up.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use idaudit_collect::follow::{
    FollowOptions, NoHandler, OnCommit, Poller, check_backfill, cursor_key, follow,
};
use idaudit_okta_sim::{Faults, LogEvent, RateLimits, RunningSim, SimOptions};
use idaudit_store::{EventRecord, Store};
use serde_json::json;

use crate::{sim, temp_store};

const POLL_INTERVAL: Duration = Duration::from_millis(200);

fn options() -> FollowOptions {
    FollowOptions {
        poll_interval: POLL_INTERVAL,
        backfill: chrono::Duration::days(8),
        report_interval: Duration::from_millis(500),
    }
}

fn faulty_sim_options() -> SimOptions {
    SimOptions {
        rate_limits: RateLimits::Workforce {
            window: Duration::from_secs(1),
        },
        faults: Faults {
            duplicate_log_events: true,
            late_log_events_every: Some(7),
            rate_limit_burst: 2,
            ..Faults::default()
        },
        ..SimOptions::default()
    }
}

/// Appends `count` events to the running simulator; every third one is
/// published ten minutes ago, so it is stored late.
fn append_events(sim: &RunningSim, prefix: &str, count: usize) {
    let org = sim.org();
    let mut org = org.write().unwrap();
    for index in 0..count {
        let published = if index.is_multiple_of(3) {
            Utc::now() - chrono::Duration::minutes(10)
        } else {
            Utc::now()
        };
        let value = json!({
            "uuid": format!("{prefix}-{index:05}-0000-4000-8000-000000000000"),
            "published": idaudit_store::format_time(published),
            "eventType": "user.session.start",
            "version": "0",
            "severity": "INFO",
            "actor": {"id": "00u1", "type": "User", "alternateId": "jdoe@example.com"},
            "outcome": {"result": "SUCCESS"},
        });
        org.events.push(LogEvent::from_value(&value).unwrap());
    }
}

fn sim_uuids(sim: &RunningSim) -> BTreeSet<String> {
    let org = sim.org();
    let org = org.read().unwrap();
    org.events
        .iter()
        .map(|event| event.uuid().to_string())
        .collect()
}

fn stored_uuids(store: &Store) -> Vec<String> {
    let mut uuids = store.event_uuids().unwrap();
    uuids.sort();
    uuids
}

/// Waits until the store at `path` contains `expected` events, or 20 seconds.
async fn wait_for_count(path: &std::path::Path, expected: usize) {
    let reader = Store::open(path).unwrap();
    let started = Instant::now();
    while (reader.count_events().unwrap() as usize) < expected
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Counts the new events handed to the handler.
#[derive(Default)]
struct Counting {
    events: usize,
}

impl OnCommit for Counting {
    async fn committed(&mut self, _store: &Store, new_events: Vec<EventRecord>) {
        self.events += new_events.len();
    }
}

#[tokio::test]
async fn follow_stores_every_event_exactly_once() {
    let (_org, sim, client) = sim::start_with(120, faulty_sim_options()).await;
    let (folder, mut store) = temp_store();
    let path = folder.path().join("idaudit.db");
    let mut poller = Poller::resume(client.clone(), &store, "sim", &options()).unwrap();
    let mut handler = Counting::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();

    let driver = async {
        wait_for_count(&path, sim_uuids(&sim).len()).await;
        sim.inject_rate_limit_burst(3);
        append_events(&sim, "a1b2c3d4", 40);
        wait_for_count(&path, sim_uuids(&sim).len()).await;
        append_events(&sim, "e5f6a7b8", 25);
        wait_for_count(&path, sim_uuids(&sim).len()).await;

        // Caught up and idle: at most one request per poll interval.
        let before = client.stats().requests;
        let idle = Duration::from_millis(1500);
        tokio::time::sleep(idle).await;
        let idle_requests = client.stats().requests - before;
        let _ = stop.send(());
        idle_requests
    };
    let shutdown = async {
        let _ = stopped.await;
    };
    let follow_options = options();
    let (followed, idle_requests) = tokio::join!(
        follow(
            &mut poller,
            &mut store,
            &follow_options,
            &mut handler,
            shutdown
        ),
        driver
    );
    followed.unwrap();

    let expected: Vec<String> = sim_uuids(&sim).into_iter().collect();
    let stats = poller.stats().clone();
    let client_stats = client.stats();
    sim.shutdown().await;

    assert_eq!(stored_uuids(&store), expected, "the simulator's events");
    assert_eq!(stats.inserted as usize, expected.len(), "each stored once");
    assert_eq!(handler.events, expected.len(), "each handed on once");
    assert!(stats.duplicates > 0, "the simulator repeated events");
    assert!(client_stats.rate_limited >= 3, "{client_stats:?}");
    let allowed = (1500 / POLL_INTERVAL.as_millis() as u64) + 1;
    assert!(
        idle_requests <= allowed,
        "{idle_requests} requests while idle, at most {allowed}"
    );
    assert!(store.state(&cursor_key("sim")).unwrap().is_some());
}

#[tokio::test]
async fn follow_resumes_from_saved_next_url() {
    let (_org, sim, client) = sim::start(60).await;
    let (folder, mut store) = temp_store();
    let path = folder.path().join("idaudit.db");

    // The first run reads everything and stops.
    let mut poller = Poller::resume(client.clone(), &store, "sim", &options()).unwrap();
    loop {
        let batch = poller.poll_once(&mut store).await.unwrap();
        if batch.caught_up {
            break;
        }
    }
    let saved = store.state(&cursor_key("sim")).unwrap().unwrap();
    assert!(saved.contains("after="), "{saved}");

    // Events stored late, with `published` before the last one stored, are
    // still read after a restart because the saved URL is a storage position.
    append_events(&sim, "c0ffee00", 9);
    drop(poller);
    let mut resumed = Poller::resume(client.clone(), &store, "sim", &options()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = async {
        wait_for_count(&path, sim_uuids(&sim).len()).await;
        let _ = stop.send(());
    };
    let shutdown = async {
        let _ = stopped.await;
    };
    let follow_options = options();
    let mut handler = NoHandler;
    let (followed, ()) = tokio::join!(
        follow(
            &mut resumed,
            &mut store,
            &follow_options,
            &mut handler,
            shutdown
        ),
        driver
    );
    followed.unwrap();
    let expected: Vec<String> = sim_uuids(&sim).into_iter().collect();
    sim.shutdown().await;

    assert_eq!(stored_uuids(&store), expected);
    assert_eq!(
        resumed.stats().inserted,
        9,
        "only the appended events are new"
    );
}

#[test]
fn backfill_window_checked() {
    assert!(check_backfill(chrono::Duration::days(7)).is_ok());
    assert!(check_backfill(chrono::Duration::days(90)).is_ok());
    let beyond = check_backfill(chrono::Duration::days(91)).unwrap_err();
    assert!(beyond.to_string().contains("90-day"), "{beyond}");
    assert!(check_backfill(chrono::Duration::zero()).is_err());
}
