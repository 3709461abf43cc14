//! Workflows in `idaudit logs follow`, run as a process against the
//! simulator with a store file. A deactivation refreshes the user, and a
//! privilege grant reaches detection and a local webhook sink. A filter
//! that does not match runs nothing, and the built-in workflows follow the
//! `defaults` switch.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use idaudit_okta_sim::{LogEvent, OrgSpec, RunningSim, SimOptions, UserStatus};
use idaudit_store::Store;
use serde_json::json;

async fn start_sim() -> RunningSim {
    let spec = OrgSpec {
        seed: 7,
        users: 40,
        groups: 6,
        apps: 4,
        log_days: 2,
        ..OrgSpec::default()
    };
    idaudit_okta_sim::serve(idaudit_okta_sim::generate(&spec), SimOptions::default())
        .await
        .unwrap()
}

/// Writes `idaudit.toml` for the simulator's service app, polling every
/// 100 ms, with `extra` appended.
fn write_config(folder: &Path, sim: &RunningSim, extra: &str) {
    std::fs::write(folder.join("client-key.pem"), &sim.private_key_pem).unwrap();
    let config = format!(
        "[okta]\norg_url = \"{}\"\nclient_id = \"{}\"\nkey_id = \"{}\"\nprivate_key_file = \"client-key.pem\"\n[logs]\npoll_interval = \"100ms\"\n{extra}",
        sim.base_url, sim.client_id, sim.key_id
    );
    std::fs::write(folder.join("idaudit.toml"), config).unwrap();
}

fn command(folder: &Path, arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_idaudit"));
    command
        .current_dir(folder)
        .arg("--config")
        .arg(folder.join("idaudit.toml"))
        .arg("--store")
        .arg(folder.join("idaudit.db"))
        .arg("-v")
        .args(arguments)
        .env_remove("IDAUDIT_OKTA_ORG_URL")
        .env("NO_COLOR", "1");
    command
}

fn follow(folder: &Path, arguments: &[&str]) -> Child {
    let log = std::fs::File::create(folder.join("follow.log")).unwrap();
    let mut all = vec!["logs", "follow"];
    all.extend_from_slice(arguments);
    command(folder, &all)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Stops `child` with SIGTERM and returns its exit code.
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

fn log_text(folder: &Path) -> String {
    std::fs::read_to_string(folder.join("follow.log")).unwrap_or_default()
}

/// Waits up to 20 seconds for `done`, checking every 100 ms.
async fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

fn open_store(folder: &Path) -> Option<Store> {
    let path = folder.join("idaudit.db");
    path.exists().then(|| Store::open(path).unwrap())
}

fn is_stored(folder: &Path, uuid: &str) -> bool {
    open_store(folder).is_some_and(|store| store.event_uuids().unwrap().iter().any(|u| u == uuid))
}

/// Waits until the store contains every event of the simulator.
async fn wait_caught_up(folder: &Path, sim: &RunningSim) {
    let expected = sim.org().read().unwrap().events.len() as u64;
    let caught_up = wait_for(|| {
        open_store(folder).is_some_and(|store| store.count_events().unwrap() >= expected)
    })
    .await;
    assert!(caught_up, "{}", log_text(folder));
}

fn admin_event(uuid: &str, event_type: &str, result: &str, target: (&str, &str)) -> LogEvent {
    LogEvent::from_value(&json!({
        "uuid": uuid,
        "published": idaudit_store::format_time(chrono::Utc::now()),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": event_type,
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com", "displayName": "Admin"},
        "target": [{"id": target.0, "type": "User", "alternateId": target.1, "displayName": target.1}],
        "outcome": {"result": result},
        "debugContext": {"debugData": {"privilegeGranted": "Super administrator"}},
    }))
    .unwrap()
}

fn push(sim: &RunningSim, event: LogEvent) {
    sim.org().write().unwrap().events.push(event);
}

/// Alerts whose evidence includes `uuid`, by rule.
fn alert_rules_for(folder: &Path, uuid: &str) -> Vec<String> {
    let Some(store) = open_store(folder) else {
        return Vec::new();
    };
    let mut rules: Vec<String> = store
        .alerts(None)
        .unwrap()
        .into_iter()
        .filter(|alert| alert.evidence.iter().any(|evidence| evidence == uuid))
        .map(|alert| alert.rule)
        .collect();
    rules.sort();
    rules
}

/// Starts a webhook sink on 127.0.0.1 that records the bodies it receives.
async fn start_sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/alerts",
        axum::routing::post(move |body: String| {
            let recorder = Arc::clone(&recorder);
            async move {
                recorder.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, received)
}

/// Returns whether a received body is an alert of `rule` with `uuid` as evidence.
fn received_alert(received: &Mutex<Vec<String>>, rule: &str, uuid: &str) -> bool {
    received.lock().unwrap().iter().any(|body| {
        let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        value.to_string().contains(&format!("\"{rule}\"")) && body.contains(uuid)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_refreshes_the_user() {
    let sim = start_sim().await;
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path();
    write_config(folder, &sim, "[workflows]\nrefresh_interval = \"100ms\"\n");
    let synced = command(folder, &["sync"]).output().unwrap();
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );

    // An active user with factors and a direct app assignment.
    let (user, login, app) = {
        let org = sim.org();
        let org = org.read().unwrap();
        org.users
            .iter()
            .filter(|user| user.status == UserStatus::Active)
            .filter(|user| org.factors.get(&user.id).is_some_and(|f| !f.is_empty()))
            .find_map(|user| {
                let app = org
                    .app_user_assignments
                    .iter()
                    .find(|(_, users)| users.contains(&user.id))?;
                Some((user.id.clone(), user.profile.login.clone(), app.0.clone()))
            })
            .expect("the generated org has an active user with factors and a direct app")
    };
    let store = open_store(folder).unwrap();
    let org_key = store.orgs().unwrap()[0].clone();
    let before = store.user_access(&org_key, &user).unwrap().unwrap();
    assert_eq!(before.user.status, "ACTIVE");
    assert!(!before.factors.is_empty());
    assert!(
        before
            .apps
            .iter()
            .any(|access| access.assignment.app_id == app)
    );

    let child = follow(folder, &[]);
    wait_caught_up(folder, &sim).await;

    // Deactivation as Okta applies it: the status changes, factors and
    // direct app assignments go, and the System Log records the event.
    {
        let org = sim.org();
        let mut org = org.write().unwrap();
        let now = chrono::Utc::now();
        let deactivated = org.users.iter_mut().find(|u| u.id == user).unwrap();
        deactivated.status = UserStatus::Deprovisioned;
        deactivated.status_changed = Some(now);
        deactivated.last_updated = now;
        org.factors.remove(&user);
        for users in org.app_user_assignments.values_mut() {
            users.retain(|id| *id != user);
        }
        org.events.push(admin_event(
            "de0a0000-0000-4000-8000-000000000001",
            "user.lifecycle.deactivate",
            "SUCCESS",
            (&user, &login),
        ));
    }
    let refreshed = wait_for(|| {
        store.user_status(&org_key, &user).unwrap().as_deref() == Some("DEPROVISIONED")
    })
    .await;
    let code = terminate(child);
    sim.shutdown().await;
    let log = log_text(folder);

    assert!(refreshed, "{log}");
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("Workflow refresh finished"), "{log}");
    let after = store.user_access(&org_key, &user).unwrap().unwrap();
    assert!(after.factors.is_empty(), "{:?}", after.factors);
    assert!(
        !after
            .apps
            .iter()
            .any(|access| access.assignment.app_id == app && access.assignment.scope == "USER"),
        "{:?}",
        after.apps
    );
    let changes = store
        .changes(&idaudit_store::ChangeQuery::default())
        .unwrap();
    let status_change = changes
        .iter()
        .find(|change| change.draft.kind == "user_status" && change.draft.subject_id == user)
        .expect("the status change is in the history");
    assert_eq!(
        status_change.event_uuid.as_deref(),
        Some("de0a0000-0000-4000-8000-000000000001")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privilege_grant_detected_and_notified() {
    let sim = start_sim().await;
    let (url, received) = start_sink().await;
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path();
    write_config(
        folder,
        &sim,
        &format!("[[sinks]]\nkind = \"webhook\"\nname = \"siem\"\nurl = \"{url}\"\n"),
    );
    // Detection of every event is off, so only the workflow's `detect`
    // action can raise the detection alert.
    let child = follow(folder, &["--no-detect"]);
    wait_caught_up(folder, &sim).await;

    let uuid = "9a1e0000-0000-4000-8000-0000000000a1";
    push(
        &sim,
        admin_event(
            uuid,
            "user.account.privilege.grant",
            "SUCCESS",
            ("00u1", "jdoe@example.com"),
        ),
    );
    let delivered = wait_for(|| {
        received_alert(&received, "workflow:privilege-granted", uuid)
            && received_alert(&received, "admin-privilege-grant", uuid)
    })
    .await;
    let code = terminate(child);
    sim.shutdown().await;
    let log = log_text(folder);

    assert!(delivered, "{:?}\n{log}", received.lock().unwrap());
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(
        alert_rules_for(folder, uuid),
        vec![
            "admin-privilege-grant".to_string(),
            "workflow:privilege-granted".to_string()
        ]
    );
    // The directory was never synced, so the refresh is skipped with a hint.
    assert!(log.contains("run `idaudit sync` once first"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_filter_runs_nothing() {
    let sim = start_sim().await;
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path();
    let sink = folder.join("alerts.jsonl");
    write_config(
        folder,
        &sim,
        &format!(
            "[[sinks]]\nkind = \"jsonl\"\npath = \"{}\"\n[workflows]\ndefaults = false\n[[workflows.custom]]\nname = \"failed-grants\"\non = [\"user.account.privilege.grant\"]\nfilter = 'outcome.result == \"FAILURE\"'\nactions = [\"detect\", \"notify\"]\n",
            sink.display()
        ),
    );
    let child = follow(folder, &["--no-detect"]);
    wait_caught_up(folder, &sim).await;

    let succeeded = "9a1e0000-0000-4000-8000-0000000000b1";
    push(
        &sim,
        admin_event(
            succeeded,
            "user.account.privilege.grant",
            "SUCCESS",
            ("00u1", "jdoe@example.com"),
        ),
    );
    assert!(wait_for(|| is_stored(folder, succeeded)).await);
    // A matching event afterwards shows the workflow is running; once its
    // alert is stored, the earlier event has long been through the workflows.
    let failed = "9a1e0000-0000-4000-8000-0000000000b2";
    push(
        &sim,
        admin_event(
            failed,
            "user.account.privilege.grant",
            "FAILURE",
            ("00u2", "asmith@example.com"),
        ),
    );
    let matched = wait_for(|| !alert_rules_for(folder, failed).is_empty()).await;
    let code = terminate(child);
    sim.shutdown().await;
    let log = log_text(folder);

    assert!(matched, "{log}");
    assert_eq!(code, Some(0), "{log}");
    assert!(
        alert_rules_for(folder, failed).contains(&"workflow:failed-grants".to_string()),
        "{log}"
    );
    assert_eq!(alert_rules_for(folder, succeeded), Vec::<String>::new());
    assert!(!log.contains("Workflow refresh"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_switch_turns_builtin_workflows_on_and_off() {
    let sim = start_sim().await;
    for (defaults, expected) in [
        (true, vec!["workflow:user-risk-changed".to_string()]),
        (false, Vec::new()),
    ] {
        let folder = tempfile::tempdir().unwrap();
        let folder = folder.path();
        let sink = folder.join("alerts.jsonl");
        write_config(
            folder,
            &sim,
            &format!(
                "[[sinks]]\nkind = \"jsonl\"\npath = \"{}\"\n[workflows]\ndefaults = {defaults}\n",
                sink.display()
            ),
        );
        let child = follow(folder, &["--no-detect"]);
        wait_caught_up(folder, &sim).await;

        let uuid = format!("7c1e0000-0000-4000-8000-00000000000{}", u8::from(defaults));
        push(
            &sim,
            admin_event(
                &uuid,
                "user.risk.change",
                "SUCCESS",
                ("00u3", "risky@example.com"),
            ),
        );
        assert!(wait_for(|| is_stored(folder, &uuid)).await);
        let raised = wait_for(|| alert_rules_for(folder, &uuid) == expected).await;
        // Give a workflow that should not run the time it would have taken.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let code = terminate(child);
        let log = log_text(folder);

        assert!(raised, "defaults = {defaults}: {log}");
        assert_eq!(alert_rules_for(folder, &uuid), expected, "{log}");
        assert_eq!(code, Some(0), "{log}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_delivery_runs_workflows() {
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let secret = "Basic d29ya2Zsb3dzLXRlc3Q=";
    std::fs::write(folder.join("hook-secret.txt"), secret).unwrap();
    let sink = folder.join("alerts.jsonl");
    // No `[okta]` section: hooks need none, and refreshes are then off.
    std::fs::write(
        folder.join("idaudit.toml"),
        format!(
            "[server]\nhook_secret_file = \"hook-secret.txt\"\n[[sinks]]\nkind = \"jsonl\"\npath = \"{}\"\n",
            sink.display()
        ),
    )
    .unwrap();
    let bind = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(folder.join("follow.log")).unwrap();
    let child = command(folder, &["serve", "--bind", &bind, "--no-detect"])
        .env_remove("IDAUDIT_HOOK_SECRET")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // The simulator verifies its hook once, when it starts, so the server
    // must be listening first.
    assert!(wait_for(|| std::net::TcpStream::connect(&bind).is_ok()).await);
    let spec = OrgSpec {
        seed: 7,
        users: 10,
        groups: 2,
        apps: 2,
        log_days: 1,
        ..OrgSpec::default()
    };
    let sim = idaudit_okta_sim::serve(
        idaudit_okta_sim::generate(&spec),
        SimOptions {
            event_hook: Some(idaudit_okta_sim::EventHook {
                url: format!("http://{bind}/hooks/okta"),
                authorization: Some(("Authorization".to_string(), secret.to_string())),
                event_types: Vec::new(),
                duplicate_and_reorder: false,
            }),
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    // Let the sender verify the hook before the event is stored.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let uuid = "9a1e0000-0000-4000-8000-0000000000c1";
    push(
        &sim,
        admin_event(
            uuid,
            "user.account.privilege.grant",
            "SUCCESS",
            ("00u1", "jdoe@example.com"),
        ),
    );
    let expected = vec![
        "admin-privilege-grant".to_string(),
        "workflow:privilege-granted".to_string(),
    ];
    let raised = wait_for(|| alert_rules_for(folder, uuid) == expected).await;
    let code = terminate(child);
    sim.shutdown().await;
    let log = log_text(folder);

    assert!(raised, "{:?}\n{log}", alert_rules_for(folder, uuid));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("Workflow refreshes are off"), "{log}");
    assert!(!log.contains(secret), "the secret is never logged");
}
