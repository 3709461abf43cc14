//! Archive throughput: System Log events per second that `idaudit archive`
//! reads from the store and writes as zstd Parquet to a local folder.
//!
//! Run: `cargo run --release -p idaudit-bench --bin archive_rate -- [USERS] [DAYS] [SEEDS]`
//! (defaults 2000, 30 and 1). Each seed generates one simulated org of USERS
//! users and DAYS days of System Log, stored before timing starts. The
//! archive is then written twice from two copies of the store: with one
//! encoding task, and with one task per core (at most 4), as `idaudit
//! archive` runs. Rates count wall-clock time, and the process's on-CPU
//! time, which includes every thread.

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{Duration, TimeZone, Utc};
use idaudit_collect::archive::{ArchivePolicy, ArchiveTarget, archive_pending, encode_rows};
use idaudit_collect::to_event_record;
use idaudit_okta_sim::OrgSpec;
use idaudit_store::{ArchiveRow, EventRecord, Store};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
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
    let events = generate(users, days as u32, seeds)?;
    let json_bytes: usize = events.iter().map(|event| event.raw.len()).sum();
    eprintln!(
        "Generated {} events ({:.0} MB of JSON) from {seeds} orgs of {users} users and {days} days",
        events.len(),
        json_bytes as f64 / 1e6
    );

    // Encoding alone, from rows in memory, on this thread.
    let rows: Vec<ArchiveRow> = events
        .iter()
        .map(|event| ArchiveRow {
            uuid: event.uuid.clone(),
            published: event.published.clone(),
            raw: event.raw.clone(),
        })
        .collect();
    let wall = Instant::now();
    let cpu = process_cpu_seconds();
    let mut parquet_bytes = 0;
    for chunk in rows.chunks(ArchivePolicy::on_demand().max_events_per_object as usize) {
        parquet_bytes += encode_rows(chunk)?.len();
    }
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
    println!(
        "encoding only: {} events, {wall:.2} s wall ({:.0} events/s), {cpu:.2} s on CPU ({:.0} events/s); {:.1} MB of Parquet",
        rows.len(),
        rows.len() as f64 / wall,
        rows.len() as f64 / cpu,
        parquet_bytes as f64 / 1e6
    );
    drop(rows);

    let default = ArchivePolicy::on_demand();
    for parallelism in [1, default.parallelism] {
        let folder = tempfile::tempdir()?;
        let path = folder.path().join("idaudit.db");
        Store::open(&path)?.insert_events("bench.okta.com", "import", &events)?;
        // Closing the store checkpoints its WAL, so that the timed run starts
        // from events at rest, as when archiving events stored earlier.
        let mut store = Store::open(&path)?;
        let target = ArchiveTarget::local(&folder.path().join("archive"))?;
        let policy = ArchivePolicy {
            parallelism,
            ..ArchivePolicy::on_demand()
        };

        // Batches are assigned, read, encoded and written together, as
        // `idaudit archive` runs: the main store connection assigns the
        // next batch while earlier ones are read and encoded on other threads.
        let wall = Instant::now();
        let cpu = process_cpu_seconds();
        let report = archive_pending(&mut store, &target, &policy).await?;
        let cpu = process_cpu_seconds() - cpu;
        let wall = wall.elapsed().as_secs_f64();

        anyhow::ensure!(
            report.events == events.len() as u64,
            "Archived {} of {} events",
            report.events,
            events.len()
        );
        println!(
            "archive, {parallelism} encoding task(s): {} events in {} objects, {wall:.2} s wall ({:.0} events/s), \
             {cpu:.2} s on CPU ({:.0} events/s); {:.1} MB of Parquet, {:.1}x smaller than the JSON",
            report.events,
            report.objects.len(),
            report.events as f64 / wall,
            report.events as f64 / cpu,
            report.bytes as f64 / 1e6,
            json_bytes as f64 / report.bytes as f64
        );
    }
    Ok(())
}

/// Generates `seeds` orgs laid end to end in time, as storable events.
fn generate(users: usize, days: u32, seeds: usize) -> Result<Vec<EventRecord>> {
    let first_end = Utc
        .with_ymd_and_hms(2026, 1, 31, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut records = Vec::new();
    for seed in 0..seeds {
        let spec = OrgSpec {
            seed: 42 + seed as u64,
            users,
            log_days: days,
            end: first_end + Duration::days(i64::from(days) * seed as i64),
            ..OrgSpec::default()
        };
        for event in &idaudit_okta_sim::generate(&spec).events {
            let value = serde_json::from_str(event.as_json())?;
            let record = to_event_record(value)
                .map_err(|reason| anyhow::anyhow!("Generated event not storable: {reason}"))?;
            records.push(record);
        }
    }
    Ok(records)
}

/// On-CPU time of the whole process, user and system, from
/// `/proc/self/stat` (Linux; zero elsewhere), in seconds at 100 ticks per second.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime, fields 14 and 15 of the line; the state, field 3, is at index 0.
    (ticks(11) + ticks(12)) as f64 / 100.0
}
