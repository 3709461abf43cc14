//! Memory of `idaudit logs follow` over a large backfill: its resident set
//! size sampled at intervals while it reads a generated org's whole System
//! Log from the start of the 90-day retention, then keeps up with new events.
//!
//! Run: `cargo build --release -p idaudit -p idaudit-bench` then
//! `target/release/follow_backfill [USERS] [DAYS] [SAMPLE_SECONDS] [KEEP_UP_SECONDS] [detect|no-detect]`
//! (defaults 100000, 89, 30, 120 and `detect`). The simulator runs in this
//! process with an org of USERS users and DAYS days of System Log, and Okta's
//! Workforce limits over one-second windows. It appends 200 new events a
//! second from 500 users and 250 addresses. `target/release/idaudit logs
//! follow` runs beside it with `backfill = "90d"` and a one-second poll
//! interval. Once the store contains as many events as the generated org, the
//! run goes on for KEEP_UP_SECONDS, then stops the new events and checks that
//! the store contains every event of the simulator. RSS is read from
//! `/proc/PID/status` (Linux only).
//!
//! The store takes about 2.6 KB per generated event (measured: 13.4 GB at
//! 5,100,000 events), so about 26 GB for 10,000,000. It goes in a new folder
//! under `target/`, next to the folder of this binary. The folder is deleted
//! at the end and when the run returns an error, but not when this process is
//! killed by a signal.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idaudit_bench::follow::{self, Follow, STORE_FILE};
use idaudit_okta_sim::{Org, OrgSpec, SharedOrg};

/// New events a second while `logs follow` runs, as in `follow_rss`.
const NEW_EVENTS_PER_SECOND: u64 = 200;

/// Maximum length of the generated System Log, in days. The first run of `logs follow`
/// reads back 90 days, and the simulator drops events older than 90 days, so
/// a day of margin keeps every generated event in reach for the whole run.
const MAX_DAYS: u32 = 89;

/// Maximum wait, after the new events stop, for the store to catch up.
const FINAL_CATCH_UP: Duration = Duration::from_secs(120);

struct Options {
    users: usize,
    days: u32,
    sample_seconds: u64,
    keep_up_seconds: u64,
    detect: bool,
}

impl Options {
    fn parse() -> Result<Options> {
        let arguments: Vec<String> = std::env::args().collect();
        let argument = |index: usize, default: u64| -> Result<u64> {
            Ok(arguments
                .get(index)
                .map(|text| text.parse())
                .transpose()
                .with_context(|| format!("Invalid argument {index}: expected a whole number"))?
                .unwrap_or(default))
        };
        let options = Options {
            users: usize::try_from(argument(1, 100_000)?)?,
            days: u32::try_from(argument(2, u64::from(MAX_DAYS))?)?,
            sample_seconds: argument(3, 30)?.max(1),
            keep_up_seconds: argument(4, 120)?,
            detect: arguments.get(5).is_none_or(|mode| mode != "no-detect"),
        };
        if options.days > MAX_DAYS {
            bail!(
                "DAYS `{}` is over {MAX_DAYS}: events older than 90 days leave the simulator's retention during the run, so use at most {MAX_DAYS}",
                options.days
            );
        }
        Ok(options)
    }
}

/// One row of the table.
struct Sample {
    seconds: u64,
    stored: u64,
    in_simulator: u64,
    rss: f64,
    cpu_seconds: f64,
}

impl Sample {
    fn take(started: Instant, process: &Follow, store: &Path, org: &SharedOrg) -> Result<Sample> {
        Ok(Sample {
            seconds: started.elapsed().as_secs(),
            stored: follow::count_stored(store),
            in_simulator: follow::simulator_events(org)?,
            rss: process.resident_megabytes()?,
            cpu_seconds: process.cpu_seconds()?,
        })
    }

    fn print(&self) {
        println!(
            "| {} | {} | {} | {:.1} | {:.0} | {} |",
            self.seconds,
            self.stored,
            self.in_simulator,
            self.rss,
            self.cpu_seconds,
            load_average()
        );
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = Options::parse()?;
    let folder = tempfile::Builder::new()
        .prefix("follow-backfill-")
        .tempdir_in(target_folder()?)
        .context("Failed to create the store's folder under `target/`")?;
    println!("store folder {}", folder.path().display());

    let org = generate_org(&options);
    let initial_events = org.events.len() as u64;

    let sim = follow::serve_with_workforce_limits(org).await?;
    follow::write_config(folder.path(), &sim, Some("90d"))?;

    let stop = Arc::new(AtomicBool::new(false));
    let producer = follow::produce(sim.org(), Arc::clone(&stop), NEW_EVENTS_PER_SECOND);
    let mut child = Follow::start(folder.path(), options.detect)?;
    println!(
        "{NEW_EVENTS_PER_SECOND} new events per second; detection {}",
        if options.detect { "on" } else { "off" }
    );
    let store = folder.path().join(STORE_FILE);
    let started = Instant::now();
    let backfill_seconds = sample_until_kept_up(
        &options,
        &mut child,
        &store,
        &sim.org(),
        started,
        initial_events,
    )
    .await?;

    stop.store(true, Ordering::Relaxed);
    producer.await?;
    let expected = follow::simulator_events(&sim.org())?;
    let catching_up = Instant::now();
    while follow::count_stored(&store) < expected && catching_up.elapsed() < FINAL_CATCH_UP {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let peak = child.peak_resident_megabytes()?;
    let cpu_seconds = child.cpu_seconds()?;
    let total_seconds = started.elapsed().as_secs_f64();
    child.stop()?;
    let summary = Summary {
        stored: follow::count_stored(&store),
        expected,
        initial_events,
        backfill_seconds,
        peak,
        cpu_seconds,
        total_seconds,
        store_bytes: folder_bytes(folder.path())?,
    };
    sim.shutdown().await;

    summary.print();
    if summary.stored != expected {
        bail!(
            "The store contains {} events but the simulator has {expected}",
            summary.stored
        );
    }
    Ok(())
}

/// Generates the org and prints its size and the time taken.
fn generate_org(options: &Options) -> Org {
    let generating = Instant::now();
    let org = idaudit_okta_sim::generate(&OrgSpec {
        users: options.users,
        log_days: options.days,
        ..OrgSpec::default()
    });
    println!(
        "generated {} users and {} events over {} days in {:.0} s",
        options.users,
        org.events.len(),
        options.days,
        generating.elapsed().as_secs_f64()
    );
    org
}

/// Figures of the whole run, printed at the end.
struct Summary {
    stored: u64,
    expected: u64,
    initial_events: u64,
    /// Elapsed seconds at the first sample that found the backfill done.
    backfill_seconds: u64,
    /// `VmHWM` of `logs follow` in MiB.
    peak: f64,
    cpu_seconds: f64,
    total_seconds: f64,
    store_bytes: u64,
}

impl Summary {
    fn print(&self) {
        println!(
            "stored {} events; the simulator has {}",
            self.stored, self.expected
        );
        println!(
            "backfill of {} events in about {} s ({:.0} events/s wall)",
            self.initial_events,
            self.backfill_seconds,
            self.initial_events as f64 / self.backfill_seconds.max(1) as f64
        );
        println!(
            "follow: peak RSS (VmHWM) {:.1} MB, {:.0} s on CPU ({:.0} stored events/s on CPU); run {:.0} s; store {:.1} GB; load average {}",
            self.peak,
            self.cpu_seconds,
            self.stored as f64 / self.cpu_seconds.max(0.01),
            self.total_seconds,
            self.store_bytes as f64 / 1e9,
            load_average()
        );
    }
}

/// Prints a sample every `sample_seconds` until the store contains
/// `initial_events` and `keep_up_seconds` more have passed. Returns the
/// elapsed seconds at the first sample that found the backfill done.
async fn sample_until_kept_up(
    options: &Options,
    child: &mut Follow,
    store: &Path,
    org: &SharedOrg,
    started: Instant,
    initial_events: u64,
) -> Result<u64> {
    println!(
        "| seconds | events stored | events in simulator | RSS MB | follow CPU s | load average |"
    );
    println!("|---|---|---|---|---|---|");
    let mut ticks = tokio::time::interval(Duration::from_secs(options.sample_seconds));
    ticks.tick().await;
    let mut backfill_seconds = None;
    loop {
        ticks.tick().await;
        child.check_running()?;
        let sample = Sample::take(started, child, store, org)?;
        sample.print();
        if backfill_seconds.is_none() && sample.stored >= initial_events {
            backfill_seconds = Some(sample.seconds);
        }
        if let Some(done) = backfill_seconds
            && sample.seconds >= done + options.keep_up_seconds
        {
            return Ok(done);
        }
    }
}

/// Finds `target/`: the parent of the folder of this binary (`target/release`).
fn target_folder() -> Result<PathBuf> {
    let own = std::env::current_exe()?;
    own.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("The benchmark binary is not in `target/PROFILE/`")
}

/// Sums the sizes of the files in `folder` (the store, its WAL and the config).
fn folder_bytes(folder: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(folder)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

/// Reads the one-minute load average from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}
