//! Import throughput: System Log events per second that `idaudit logs
//! import` reads from a JSON Lines file into a fresh store, on one core.
//!
//! Run: `cargo run --release -p idaudit-bench --bin import_rate -- [USERS] [DAYS] [SEEDS]`
//! (defaults 2000, 30 and 1). Each seed generates one simulated org of USERS
//! users and DAYS days of System Log; the events of all orgs are written to
//! one JSON Lines file in a temporary folder, which is not timed. The import
//! runs on the calling thread, so its on-CPU time is that of one core.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{Duration, TimeZone, Utc};
use idaudit_collect::import::import_path;
use idaudit_okta_sim::OrgSpec;
use idaudit_store::Store;

fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: usize| -> Result<usize> {
        match arguments.get(index) {
            Some(text) => text
                .parse()
                .with_context(|| format!("Invalid number `{text}`")),
            None => Ok(default),
        }
    };
    let (users, days, seeds) = (number(0, 2000)?, number(1, 30)?, number(2, 1)?);

    let folder = tempfile::tempdir()?;
    let input = folder.path().join("events.jsonl");
    let (events, bytes) = write_events(&input, users, days as u32, seeds)?;
    eprintln!(
        "Wrote {events} events ({:.0} MB of JSON Lines) from {seeds} orgs of {users} users and {days} days",
        bytes as f64 / 1e6
    );

    let mut store = Store::open(folder.path().join("idaudit.db"))?;
    let wall = Instant::now();
    let cpu = thread_cpu_seconds();
    let summary = import_path(&mut store, "bench.okta.com", &input)?;
    let cpu = thread_cpu_seconds() - cpu;
    let wall = wall.elapsed().as_secs_f64();

    anyhow::ensure!(
        summary.stored.inserted == events && summary.rejected.is_empty(),
        "Imported {} of {events} events, {} rejected",
        summary.stored.inserted,
        summary.rejected.len()
    );
    println!(
        "import: {events} events in {wall:.2} s wall ({:.0} events/s), {cpu:.2} s on CPU ({:.0} events/s, {:.0} MB/s)",
        events as f64 / wall,
        events as f64 / cpu,
        bytes as f64 / 1e6 / cpu
    );
    Ok(())
}

/// Writes the events of `seeds` orgs, laid end to end in time, as JSON Lines;
/// returns the number of events and bytes.
fn write_events(
    path: &std::path::Path,
    users: usize,
    days: u32,
    seeds: usize,
) -> Result<(u64, u64)> {
    let file = std::fs::File::create(path)?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let first_end = Utc
        .with_ymd_and_hms(2026, 1, 31, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let (mut events, mut bytes) = (0, 0);
    for seed in 0..seeds {
        let spec = OrgSpec {
            seed: 42 + seed as u64,
            users,
            log_days: days,
            end: first_end + Duration::days(i64::from(days) * seed as i64),
            ..OrgSpec::default()
        };
        for event in &idaudit_okta_sim::generate(&spec).events {
            writer.write_all(event.as_json().as_bytes())?;
            writer.write_all(b"\n")?;
            events += 1;
            bytes += event.as_json().len() as u64 + 1;
        }
    }
    writer.flush()?;
    Ok((events, bytes))
}

/// On-CPU time of the current thread, from `/proc/thread-self/schedstat`
/// (Linux; zero elsewhere), so that a rate stays meaningful while other
/// processes share the cores.
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0) as f64
        / 1e9
}
