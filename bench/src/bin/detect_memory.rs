//! Memory of streaming detection alone: the resident set size of this
//! process while a detector checks millions of sign-in events in batches.
//! The detector is built as `idaudit logs follow` builds it (the built-in
//! pack, default settings), and no store or network is in the way.
//!
//! Run: `cargo run --release -p idaudit-bench --bin detect_memory -- [EVENTS] [PER_SECOND] [USERS] [SAMPLES]`
//! (defaults 10,000,000 events, 200 events a second of event time, 500
//! users and 20 samples). Events have the shape `follow_rss` appends:
//! successful `user.session.start` from `USERS` users, each with one of 250
//! addresses, one second of event time every `PER_SECOND` events. With
//! `USERS` 0 every event has its own actor, which starts a new correlation
//! group per event. RSS is read from `/proc/self/status` (Linux only).

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{Duration, TimeZone, Utc};
use idaudit_detect::{RuleSet, Settings};

/// Events handed to the detector at once, about one poll of `logs follow`.
const BATCH: u64 = 1000;

fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let argument = |index: usize, default: u64| -> Result<u64> {
        Ok(arguments
            .get(index)
            .map(|text| text.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let events = argument(0, 10_000_000)?;
    let per_second = argument(1, 200)?.max(1);
    let users = argument(2, 500)?;
    let samples = argument(3, 20)?.max(1);

    let mut detector = RuleSet::builtin()?.detector(Settings::default())?;
    let start = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .context("Invalid start time")?;
    let sample_every = (events / samples).max(BATCH);
    println!(
        "{events} events, {per_second} a second of event time, {} users",
        if users == 0 {
            "distinct".to_string()
        } else {
            users.to_string()
        }
    );
    println!("| events | event hours | RSS MB | alerts |");
    println!("|---|---|---|---|");
    let started = Instant::now();
    let mut alerts = 0u64;
    let mut number = 0u64;
    let mut batch = Vec::with_capacity(BATCH as usize);
    while number < events {
        batch.clear();
        for _ in 0..BATCH.min(events - number) {
            let time = start + Duration::milliseconds((number * 1000 / per_second) as i64);
            let user = if users == 0 { number } else { number % users };
            let text = format!(
                r#"{{"uuid":"7e570000-0000-4000-8000-{number:012}","published":"{}","eventType":"user.session.start","version":"0","severity":"INFO","actor":{{"id":"00u{user:017}","type":"User","alternateId":"user{user}@example.com"}},"client":{{"ipAddress":"198.51.100.{}"}},"outcome":{{"result":"SUCCESS"}}}}"#,
                idaudit_store::format_time(time),
                user % 250
            );
            if let Ok(event) = detector.parse(&text) {
                batch.push(event);
            }
            number += 1;
        }
        alerts += detector.observe_batch(&batch).len() as u64;
        if number.is_multiple_of(sample_every) || number == events {
            let hours = (number / per_second) as f64 / 3600.0;
            println!(
                "| {number} | {hours:.1} | {:.1} | {alerts} |",
                resident_megabytes()?
            );
        }
    }
    println!(
        "{:.0} events a second",
        events as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Reads this process's `VmRSS` in megabytes.
fn resident_megabytes() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .context("No VmRSS line in /proc/self/status")?;
    let kilobytes: f64 = line
        .split_whitespace()
        .nth(1)
        .context("Invalid VmRSS line")?
        .parse()?;
    Ok(kilobytes / 1024.0)
}
