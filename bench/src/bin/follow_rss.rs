//! Memory of `idaudit logs follow` over a long run: its resident set size
//! sampled at intervals while it backfills a simulated org's System Log and
//! then keeps up with new events.
//!
//! Run: `cargo build --release -p idaudit -p idaudit-bench` then
//! `target/release/follow_rss [SECONDS] [SAMPLE_SECONDS] [EVENTS_PER_SECOND] [detect|no-detect]`
//! (defaults 120, 10, 200 and `detect`). The simulator runs in this process
//! with Okta's Workforce limits over one-second windows, and new events come
//! from 500 users and 250 addresses. `target/release/idaudit logs follow`
//! runs beside it with a one-second poll interval. RSS is read from
//! `/proc/PID/status` (Linux only).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idaudit_okta_sim::{LogEvent, OrgSpec, RateLimits, SharedOrg, SimOptions};

#[tokio::main]
async fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().collect();
    let argument = |index: usize, default: u64| -> Result<u64> {
        Ok(arguments
            .get(index)
            .map(|text| text.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let seconds = argument(1, 120)?;
    let sample_seconds = argument(2, 10)?;
    let events_per_second = argument(3, 200)?;
    let detect = arguments.get(4).is_none_or(|mode| mode != "no-detect");

    let spec = OrgSpec {
        users: 2000,
        log_days: 7,
        ..OrgSpec::default()
    };
    let org = idaudit_okta_sim::generate(&spec);
    let initial_events = org.events.len();
    let sim = idaudit_okta_sim::serve(
        org,
        SimOptions {
            rate_limits: RateLimits::Workforce {
                window: Duration::from_secs(1),
            },
            ..SimOptions::default()
        },
    )
    .await?;
    let folder = tempfile::tempdir()?;
    std::fs::write(folder.path().join("client-key.pem"), &sim.private_key_pem)?;
    std::fs::write(
        folder.path().join("idaudit.toml"),
        format!(
            "[okta]\norg_url = \"{}\"\nclient_id = \"{}\"\nkey_id = \"{}\"\nprivate_key_file = \"client-key.pem\"\n[logs]\npoll_interval = \"1s\"\n",
            sim.base_url, sim.client_id, sim.key_id
        ),
    )?;

    let stop = Arc::new(AtomicBool::new(false));
    let producer = produce(sim.org(), Arc::clone(&stop), events_per_second);
    let mut child = start_follow(folder.path(), detect)?;
    println!(
        "org of {initial_events} events; {events_per_second} new events per second; detection {}",
        if detect { "on" } else { "off" }
    );
    println!("| seconds | RSS MB | events stored |");
    println!("|---|---|---|");
    let started = Instant::now();
    let store_path = folder.path().join("idaudit.db");
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(sample_seconds)).await;
        if child.try_wait()?.is_some() {
            bail!("`idaudit logs follow` exited early");
        }
        let rss = resident_megabytes(child.id())?;
        let stored = count_stored(&store_path);
        println!("| {} | {rss:.1} | {stored} |", started.elapsed().as_secs());
    }
    stop.store(true, Ordering::Relaxed);
    producer.await?;
    let expected = sim
        .org()
        .read()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .events
        .len() as u64;
    let caught_up = Instant::now();
    while count_stored(&store_path) < expected && caught_up.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_child(&mut child)?;
    let stored = count_stored(&store_path);
    println!("stored {stored} events; the simulator has {expected}");
    sim.shutdown().await;
    if stored != expected {
        bail!("the store does not hold every event of the simulator");
    }
    Ok(())
}

/// Appends `per_second` events a second, in ten rounds, until `stop`.
fn produce(
    org: Arc<SharedOrg>,
    stop: Arc<AtomicBool>,
    per_second: u64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut number = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(mut org) = org.write() {
                for _ in 0..per_second / 10 {
                    let published = idaudit_store::format_time(chrono::Utc::now());
                    let text = format!(
                        r#"{{"uuid":"7e570000-0000-4000-8000-{number:012}","published":"{published}","eventType":"user.session.start","version":"0","severity":"INFO","actor":{{"id":"00u{:017}","type":"User","alternateId":"user{}@example.com"}},"client":{{"ipAddress":"198.51.100.{}"}},"outcome":{{"result":"SUCCESS"}}}}"#,
                        number % 500,
                        number % 500,
                        number % 250
                    );
                    if let Ok(event) = LogEvent::from_json(&text) {
                        org.events.push(event);
                    }
                    number += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

fn idaudit_binary() -> Result<PathBuf> {
    let own = std::env::current_exe()?;
    let folder = own.parent().context("The benchmark binary has no folder")?;
    let binary = folder.join("idaudit");
    if !binary.exists() {
        bail!(
            "`{}` not found: build it first with `cargo build --release -p idaudit`",
            binary.display()
        );
    }
    Ok(binary)
}

fn start_follow(folder: &Path, detect: bool) -> Result<Child> {
    let mut command = Command::new(idaudit_binary()?);
    command
        .current_dir(folder)
        .args(["--store", "idaudit.db", "logs", "follow"]);
    if !detect {
        command.arg("--no-detect");
    }
    command
        .env_remove("IDAUDIT_OKTA_ORG_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("Failed to start `idaudit logs follow`")
}

/// Reads `VmRSS` of process `pid` in megabytes.
fn resident_megabytes(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .context("No VmRSS line in /proc/PID/status")?;
    let kilobytes: f64 = line
        .split_whitespace()
        .nth(1)
        .context("Invalid VmRSS line")?
        .parse()?;
    Ok(kilobytes / 1024.0)
}

fn count_stored(path: &Path) -> u64 {
    idaudit_store::Store::open(path)
        .and_then(|store| store.count_events())
        .unwrap_or(0)
}

fn stop_child(child: &mut Child) -> Result<()> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let status = child.wait()?;
    if !status.success() {
        bail!("`idaudit logs follow` exited with {status}");
    }
    Ok(())
}
