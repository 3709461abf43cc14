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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use idaudit_bench::follow::{self, Follow, STORE_FILE};
use idaudit_okta_sim::OrgSpec;

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
    let sim = follow::serve_with_workforce_limits(org).await?;
    let folder = tempfile::tempdir()?;
    follow::write_config(folder.path(), &sim, None)?;

    let stop = Arc::new(AtomicBool::new(false));
    let producer = follow::produce(sim.org(), Arc::clone(&stop), events_per_second);
    let mut child = Follow::start(folder.path(), detect)?;
    println!(
        "org of {initial_events} events; {events_per_second} new events per second; detection {}",
        if detect { "on" } else { "off" }
    );
    println!("| seconds | RSS MB | events stored |");
    println!("|---|---|---|");
    let started = Instant::now();
    let store_path = folder.path().join(STORE_FILE);
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(sample_seconds)).await;
        child.check_running()?;
        let rss = child.resident_megabytes()?;
        let stored = follow::count_stored(&store_path);
        println!("| {} | {rss:.1} | {stored} |", started.elapsed().as_secs());
    }
    stop.store(true, Ordering::Relaxed);
    producer.await?;
    let expected = follow::simulator_events(&sim.org())?;
    let caught_up = Instant::now();
    while follow::count_stored(&store_path) < expected
        && caught_up.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.stop()?;
    let stored = follow::count_stored(&store_path);
    println!("stored {stored} events; the simulator has {expected}");
    sim.shutdown().await;
    if stored != expected {
        bail!("the store does not hold every event of the simulator");
    }
    Ok(())
}
