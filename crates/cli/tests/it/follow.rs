//! `idaudit logs follow` and `idaudit serve` as processes: killed with
//! SIGKILL at seeded random points and restarted against one simulator that
//! keeps storing events, then stopped with SIGTERM; the hook endpoint of
//! `serve` fed by the simulator's hook sender; and `serve --follow`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use idaudit_okta_sim::{
    EventHook, Faults, LogEvent, OrgSpec, RateLimits, RunningSim, SharedOrg, SimOptions,
};
use idaudit_store::Store;
use serde_json::json;

/// Restarts of the crash test, each ended by SIGKILL.
const KILLS: usize = 20;
/// Seed of the kill points.
const SEED: u64 = 0x1dau64;

/// A small deterministic generator for the kill points (xorshift64).
struct Points(u64);

impl Points {
    fn next_millis(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

async fn start_sim(options: SimOptions) -> RunningSim {
    let spec = OrgSpec {
        seed: 5,
        users: 40,
        groups: 6,
        apps: 4,
        log_days: 2,
        ..OrgSpec::default()
    };
    idaudit_okta_sim::serve(idaudit_okta_sim::generate(&spec), options)
        .await
        .unwrap()
}

/// Writes `idaudit.toml` for the simulator's service app into `folder`.
fn write_config(folder: &Path, sim: &RunningSim, extra: &str) {
    std::fs::write(folder.join("client-key.pem"), &sim.private_key_pem).unwrap();
    let config = format!(
        "[okta]\norg_url = \"{}\"\nclient_id = \"{}\"\nkey_id = \"{}\"\nprivate_key_file = \"client-key.pem\"\n{extra}",
        sim.base_url, sim.client_id, sim.key_id
    );
    std::fs::write(folder.join("idaudit.toml"), config).unwrap();
}

fn idaudit(folder: &Path, arguments: &[&str], log_name: &str) -> Child {
    let log = std::fs::File::create(folder.join(log_name)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_idaudit"))
        .current_dir(folder)
        .arg("--config")
        .arg(folder.join("idaudit.toml"))
        .arg("--store")
        .arg(folder.join("idaudit.db"))
        .arg("-v")
        .args(arguments)
        .env_remove("IDAUDIT_OKTA_ORG_URL")
        .env_remove("IDAUDIT_HOOK_SECRET")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Appends three events every 30 ms until `stop`; one in three is published
/// a few minutes ago, so it is stored late.
fn produce(org: Arc<SharedOrg>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut index = 0u64;
        while !stop.load(Ordering::Relaxed) {
            {
                let mut org = org.write().unwrap();
                for _ in 0..3 {
                    let minutes = if index.is_multiple_of(3) { 4 } else { 0 };
                    let published = chrono::Utc::now() - chrono::Duration::minutes(minutes);
                    let value = json!({
                        "uuid": format!("f0110000-0000-4000-8000-{index:012}"),
                        "published": idaudit_store::format_time(published),
                        "eventType": "user.session.start",
                        "version": "0",
                        "severity": "INFO",
                        "actor": {"id": "00u1", "type": "User", "alternateId": "jdoe@example.com"},
                        "outcome": {"result": "SUCCESS"},
                    });
                    org.events.push(LogEvent::from_value(&value).unwrap());
                    index += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    })
}

fn sim_uuids(org: &Arc<SharedOrg>) -> Vec<String> {
    let org = org.read().unwrap();
    let uuids: BTreeSet<String> = org
        .events
        .iter()
        .map(|event| event.uuid().to_string())
        .collect();
    uuids.into_iter().collect()
}

fn stored_uuids(store: &Path) -> Vec<String> {
    let mut uuids = Store::open(store).unwrap().event_uuids().unwrap();
    uuids.sort();
    uuids
}

fn count_stored(store: &Path) -> usize {
    if !store.exists() {
        return 0;
    }
    Store::open(store).unwrap().count_events().unwrap() as usize
}

/// Sends SIGTERM and returns the exit code.
fn terminate(mut child: Child) -> Option<i32> {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            panic!("idaudit did not stop within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_tail(folder: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(folder.join(name)).unwrap_or_default();
    let start = text.len().saturating_sub(3000);
    text[start..].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_killed_twenty_times_loses_nothing() {
    let sim = start_sim(SimOptions {
        rate_limits: RateLimits::Workforce {
            window: Duration::from_secs(1),
        },
        faults: Faults {
            duplicate_log_events: true,
            late_log_events_every: Some(5),
            ..Faults::default()
        },
        ..SimOptions::default()
    })
    .await;
    let folder = tempfile::tempdir().unwrap();
    let store: PathBuf = folder.path().join("idaudit.db");
    write_config(folder.path(), &sim, "[logs]\npoll_interval = \"100ms\"\n");
    let org = sim.org();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = produce(Arc::clone(&org), Arc::clone(&stop));

    let mut points = Points(SEED);
    for run in 0..KILLS {
        let mut child = idaudit(
            folder.path(),
            &["logs", "follow"],
            &format!("run-{run}.log"),
        );
        let delay = points.next_millis(100, 1500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        assert!(
            child.try_wait().unwrap().is_none(),
            "run {run} exited early: {}",
            log_tail(folder.path(), &format!("run-{run}.log"))
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    producer.await.unwrap();

    // The last run catches up with everything the simulator stored, then
    // stops on SIGTERM with status 0.
    let child = idaudit(folder.path(), &["logs", "follow"], "final.log");
    let expected = sim_uuids(&org);
    let started = Instant::now();
    while count_stored(&store) < expected.len() && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = terminate(child);
    sim.shutdown().await;

    let final_log = log_tail(folder.path(), "final.log");
    let resumed = (0..KILLS)
        .filter(|run| {
            log_tail(folder.path(), &format!("run-{run}.log")).contains("Resuming the System Log")
        })
        .count();
    let committed = (0..KILLS)
        .filter(|run| {
            log_tail(folder.path(), &format!("run-{run}.log")).contains("Starting the System Log")
        })
        .count();
    eprintln!(
        "{resumed} of {KILLS} killed runs resumed from a saved position, {committed} started fresh"
    );
    assert!(resumed >= KILLS / 2, "{resumed} runs resumed");
    assert_eq!(code, Some(0), "{final_log}");
    assert!(final_log.contains("Stop requested"), "{final_log}");
    let stored = stored_uuids(&store);
    assert_eq!(stored.len(), expected.len(), "{final_log}");
    assert_eq!(stored, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stores_hook_deliveries_and_alerts() {
    let folder = tempfile::tempdir().unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let secret = "Basic c2VydmUtdGVzdA==";
    std::fs::write(folder.path().join("hook-secret.txt"), secret).unwrap();
    let sink = folder.path().join("alerts.jsonl");
    // No `[okta]` section: the hook endpoint needs none.
    std::fs::write(
        folder.path().join("idaudit.toml"),
        format!(
            "[server]\nhook_secret_file = \"hook-secret.txt\"\n[[sinks]]\nkind = \"jsonl\"\npath = \"{}\"\n",
            sink.display()
        ),
    )
    .unwrap();
    let bind = format!("127.0.0.1:{port}");
    let child = idaudit(folder.path(), &["serve", "--bind", &bind], "serve.log");
    let store = folder.path().join("idaudit.db");

    // The simulator verifies its hook once, when it starts, so the server
    // must be listening first.
    let started = Instant::now();
    while std::net::TcpStream::connect(&bind).is_err()
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sim = start_sim(SimOptions {
        event_hook: Some(EventHook {
            url: format!("http://{bind}/hooks/okta"),
            authorization: Some(("Authorization".to_string(), secret.to_string())),
            event_types: Vec::new(),
            duplicate_and_reorder: true,
        }),
        ..SimOptions::default()
    })
    .await;
    // Let the sender verify the hook before the event is stored.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let grant = json!({
        "uuid": "9a1e0000-0000-4000-8000-000000000001",
        "published": idaudit_store::format_time(chrono::Utc::now()),
        "eventType": "user.account.privilege.grant",
        "version": "0",
        "severity": "INFO",
        "displayMessage": "Grant user privilege",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com", "displayName": "Admin"},
        "target": [{"id": "00u1", "type": "User", "alternateId": "jdoe@example.com", "displayName": "J Doe"}],
        "outcome": {"result": "SUCCESS"},
        "debugContext": {"debugData": {"privilegeGranted": "Super administrator"}},
    });
    sim.org()
        .write()
        .unwrap()
        .events
        .push(LogEvent::from_value(&grant).unwrap());

    let started = Instant::now();
    while !std::fs::read_to_string(&sink).is_ok_and(|text| !text.is_empty())
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = terminate(child);
    sim.shutdown().await;
    let log = log_tail(folder.path(), "serve.log");

    assert_eq!(code, Some(0), "{log}");
    assert_eq!(
        stored_uuids(&store),
        vec!["9a1e0000-0000-4000-8000-000000000001".to_string()],
        "{log}"
    );
    let sent = std::fs::read_to_string(&sink).unwrap_or_default();
    assert!(sent.contains("admin-privilege-grant"), "{sent}\n{log}");
    assert!(!log.contains(secret), "the secret is never logged");
}

#[test]
fn follow_backfill_beyond_retention_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_idaudit"))
        .current_dir(folder.path())
        .arg("--store")
        .arg(folder.path().join("idaudit.db"))
        .args(["logs", "follow", "--backfill", "100d"])
        .env_remove("IDAUDIT_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("90-day System Log retention"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_follow_polls_the_log() {
    let sim = start_sim(SimOptions::default()).await;
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");
    write_config(folder.path(), &sim, "[logs]\npoll_interval = \"100ms\"\n");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let bind = format!("127.0.0.1:{port}");
    let child = idaudit(
        folder.path(),
        &["serve", "--follow", "--bind", &bind],
        "serve.log",
    );

    let expected = sim_uuids(&sim.org());
    let started = Instant::now();
    while count_stored(&store) < expected.len() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let healthy = std::net::TcpStream::connect(&bind).is_ok();
    let code = terminate(child);
    sim.shutdown().await;
    let log = log_tail(folder.path(), "serve.log");

    assert!(healthy, "{log}");
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(stored_uuids(&store), expected, "{log}");
}
