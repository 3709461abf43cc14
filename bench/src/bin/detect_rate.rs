//! Detection throughput: events per second through the built-in pack
//! (native, Sigma detection and correlation rules), through the SigmaHQ
//! Okta rules and through the full pack (both in one detector), on one
//! core, over simulator events.
//!
//! Run: `cargo run --release -p idaudit-bench --bin detect_rate -- MODE ...`
//!
//! - `generate USERS DAYS SEEDS [scattered]` generates SEEDS orgs of USERS
//!   users and DAYS days of System Log, one at a time and laid end to end
//!   in time. It streams each org through one built-in-pack detector, one
//!   SigmaHQ detector and one full-pack detector, and prints the three
//!   rates and the process's resident memory. The events' text lies end
//!   to end in one buffer (see `Layout`). With `scattered`, each event is
//!   a separate heap string, read in an order unrelated to its address.
//! - `write USERS DAYS SEEDS JSONL` writes the same events, one per line,
//!   to a file or to stdout for `-`, for `bench/detect_sqlite.py`.
//! - `file JSONL [PASS]...` times passes over a file's events: `parse`
//!   (a whole `serde_json::Value`), `project` (the built-in detector's own
//!   parse only), `builtin`, `sigmahq`, `full` (the built-in pack and the
//!   SigmaHQ rules in one detector), `fields`, which prints how many values
//!   the full pack's parse keeps for the first event of each type,
//!   `matches`, which prints how
//!   many events each SigmaHQ detection matches, for comparison with
//!   `bench/detect_sqlite.py`, and `alerts`, which prints every alert
//!   update of the full pack as a line of JSON, to compare two builds
//!   with `diff`.
//!
//! Each timed pass starts from the JSON text, as stored events are read,
//! so parsing is part of every rate.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{Duration, TimeZone, Utc};
use idaudit_detect::sigma::{RuleBody, parse_documents};
use idaudit_detect::{Event, Node, RuleSet, Settings};
use idaudit_okta_sim::OrgSpec;

fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.first().map(String::as_str) {
        Some("generate") => {
            let (users, days, seeds) = org_arguments(&arguments[1..])?;
            let layout = match arguments.get(4).map(String::as_str) {
                None => Layout::EndToEnd,
                Some("scattered") => Layout::Scattered,
                Some(_) => anyhow::bail!(USAGE),
            };
            run_streaming(users, days, seeds, layout)
        }
        Some("write") => {
            let (users, days, seeds) = org_arguments(&arguments[1..])?;
            let path = arguments.get(4).context(USAGE)?;
            write_jsonl(path, users, days, seeds)
        }
        Some("file") => {
            let path = arguments.get(1).context(USAGE)?;
            let passes: Vec<&str> = arguments[2..].iter().map(String::as_str).collect();
            run_file(path, &passes)
        }
        _ => anyhow::bail!(USAGE),
    }
}

const USAGE: &str = "Usage: detect_rate generate USERS DAYS SEEDS [scattered] | write USERS DAYS SEEDS JSONL|- | file JSONL [parse|project|builtin|sigmahq|full|fields|matches|alerts]...";

/// Returns the built-in pack with the SigmaHQ Okta rules added.
fn full_pack() -> Result<RuleSet> {
    let mut set = RuleSet::builtin()?;
    set.extend(RuleSet::sigmahq()?);
    Ok(set)
}

fn org_arguments(arguments: &[String]) -> Result<(usize, u32, usize)> {
    let [users, days, seeds, ..] = arguments else {
        anyhow::bail!(USAGE);
    };
    Ok((users.parse()?, days.parse()?, seeds.parse()?))
}

/// Generates `seeds` orgs, starting at seed number `first`, one after
/// another in time, and returns their events as JSON text in `published` order.
fn generate(users: usize, days: u32, seeds: usize, first: usize) -> Vec<String> {
    let started = Instant::now();
    let mut events = Vec::new();
    for seed in first..first + seeds {
        let spec = OrgSpec {
            seed: 42 + seed as u64,
            users,
            log_days: days,
            end: first_end() + Duration::days(i64::from(days) * seed as i64),
            ..OrgSpec::default()
        };
        let org = idaudit_okta_sim::generate(&spec);
        let mut batch: Vec<_> = org
            .events
            .iter()
            .map(|event| (event.published(), event.as_json().to_string()))
            .collect();
        batch.sort_by_key(|(published, _)| *published);
        events.extend(batch.into_iter().map(|(_, json)| json));
    }
    let bytes: usize = events.iter().map(String::len).sum();
    eprintln!(
        "Generated {} events ({:.0} MB of JSON) from {seeds} orgs of {users} users and {days} days in {:.1} s",
        events.len(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    events
}

/// End of the first org's System Log; each later org ends `days` later.
fn first_end() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 31, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Memory layout of an org's event text while the detectors read it.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// One buffer with the events end to end in `published` order. The
    /// text that `idaudit detect` parses was just copied out of SQLite,
    /// and `logs follow` parses a page whose texts were allocated in turn.
    EndToEnd,
    /// A heap string per event, allocated in the simulator's order and
    /// read in `published` order, so that each event starts at an
    /// unrelated address.
    Scattered,
}

/// Generates one org at a time and runs the built-in pack, the SigmaHQ
/// rules and the full pack over each in turn, with one detector of each for all
/// of them, timing only parsing and detection. Prints the resident memory
/// every tenth org and the peak at the end.
fn run_streaming(users: usize, days: u32, seeds: usize, layout: Layout) -> Result<()> {
    let mut passes = [
        (
            "builtin",
            RuleSet::builtin()?.detector(Settings::default())?,
        ),
        (
            "sigmahq",
            RuleSet::sigmahq()?.detector(Settings::default())?,
        ),
        ("full", full_pack()?.detector(Settings::default())?),
    ];
    let mut seconds = [Seconds::default(); 3];
    let mut alerts = [0usize; 3];
    let mut events = 0;
    // On-CPU seconds and events since the last progress line, to show
    // whether the rates change as state builds up over the run.
    let mut recent_cpu = [0f64; 3];
    let mut recent_events = 0;
    for seed in 0..seeds {
        let generated = generate(users, days, 1, seed);
        let lengths: Vec<usize> = generated.iter().map(String::len).collect();
        let (owned, joined) = match layout {
            Layout::EndToEnd => {
                // Each string is freed once copied, so that memory contains
                // the org's text about once in either layout.
                let mut joined = String::with_capacity(lengths.iter().sum());
                for text in generated {
                    joined.push_str(&text);
                }
                (Vec::new(), joined)
            }
            Layout::Scattered => (generated, String::new()),
        };
        let batch: Vec<&str> = match layout {
            Layout::EndToEnd => lengths
                .iter()
                .scan(0, |start, length| {
                    let text = &joined[*start..*start + length];
                    *start += length;
                    Some(text)
                })
                .collect(),
            Layout::Scattered => owned.iter().map(String::as_str).collect(),
        };
        for (index, (_, detector)) in passes.iter_mut().enumerate() {
            let clock = Clock::start();
            let mut event = Event::default();
            for text in &batch {
                detector
                    .parse_into(text, &mut event)
                    .map_err(|error| anyhow::anyhow!("Generated event not readable: {error:?}"))?;
                alerts[index] += detector.observe(&event).len();
            }
            let spent = clock.seconds();
            seconds[index] += spent;
            recent_cpu[index] += spent.cpu;
        }
        events += batch.len();
        recent_events += batch.len();
        if seed % 10 == 9 || seed + 1 == seeds {
            let rates: Vec<String> = passes
                .iter()
                .zip(&recent_cpu)
                .map(|((name, _), cpu)| {
                    format!("{name} {:.0}", recent_events as f64 / cpu.max(1e-9))
                })
                .collect();
            eprintln!(
                "After {} orgs ({events} events): resident memory {} MB; events/s on CPU since the last line: {}",
                seed + 1,
                memory_kb("VmRSS") / 1024,
                rates.join(", ")
            );
            recent_cpu = [0.0; 3];
            recent_events = 0;
        }
    }
    for (index, (name, detector)) in passes.iter_mut().enumerate() {
        let clock = Clock::start();
        alerts[index] += detector.finish().len();
        seconds[index] += clock.seconds();
        println!(
            "{name}, streamed: {}, {} alert updates",
            seconds[index].describe(events),
            alerts[index]
        );
    }
    println!("peak resident memory: {} MB", memory_kb("VmHWM") / 1024);
    Ok(())
}

/// Returns a memory figure of this process from `/proc/self/status`, in
/// KiB, such as `VmRSS` (resident now) or `VmHWM` (peak resident); zero
/// where the file does not exist.
fn memory_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Reads a JSON Lines file and times each pass over its events.
fn run_file(path: &str, passes: &[&str]) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("Failed to read `{path}`"))?;
    let events: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
    let passes = if passes.is_empty() {
        &["parse", "builtin", "sigmahq", "matches"][..]
    } else {
        passes
    };
    for pass in passes {
        let (seconds, alerts) = match *pass {
            "parse" => time_pass(None, &events)?,
            "project" => time_project(&RuleSet::builtin()?, &events)?,
            "builtin" => time_pass(Some(&RuleSet::builtin()?), &events)?,
            "sigmahq" => time_pass(Some(&RuleSet::sigmahq()?), &events)?,
            "full" => time_pass(Some(&full_pack()?), &events)?,
            "fields" => {
                print_kept_fields(&events)?;
                continue;
            }
            "matches" => {
                print_sigmahq_matches(&events)?;
                continue;
            }
            "alerts" => {
                print_alert_updates(&events)?;
                continue;
            }
            other => anyhow::bail!("Unknown pass `{other}`: {USAGE}"),
        };
        println!(
            "{pass}: {}, {alerts} alert updates",
            seconds.describe(events.len())
        );
    }
    Ok(())
}

/// Wall-clock and on-CPU time of the current thread since a start.
///
/// The CPU time comes from `/proc/thread-self/schedstat` (Linux), so that a
/// rate stays meaningful while other processes share the cores. Elsewhere it
/// is reported as zero.
struct Clock {
    wall: Instant,
    cpu_nanoseconds: u64,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu_nanoseconds: thread_cpu_nanoseconds(),
        }
    }

    /// Returns the wall-clock and on-CPU seconds since the start.
    fn seconds(&self) -> Seconds {
        Seconds {
            wall: self.wall.elapsed().as_secs_f64(),
            cpu: (thread_cpu_nanoseconds() - self.cpu_nanoseconds) as f64 / 1e9,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Seconds {
    wall: f64,
    cpu: f64,
}

impl std::ops::AddAssign for Seconds {
    fn add_assign(&mut self, other: Seconds) {
        self.wall += other.wall;
        self.cpu += other.cpu;
    }
}

impl Seconds {
    /// Formats the times and the rates of `events` over them.
    fn describe(self, events: usize) -> String {
        let rate = |seconds: f64| events as f64 / seconds.max(1e-9);
        format!(
            "{events} events in {:.3} s wall ({:.0} events/s), {:.3} s on CPU ({:.0} events/s)",
            self.wall,
            rate(self.wall),
            self.cpu,
            rate(self.cpu)
        )
    }
}

fn thread_cpu_nanoseconds() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Parses every event and, given a rule set, runs it. Returns the time
/// taken and the number of alert updates. With a rule set, each event is
/// parsed into the same [`Event`] with the detector's `parse_into`, as
/// stored events are read for detection. Without one, the events are
/// parsed in full, as `Event::parse` does.
fn time_pass(set: Option<&RuleSet>, events: &[&str]) -> Result<(Seconds, usize)> {
    let mut detector = set
        .map(|set| set.detector(Settings::default()))
        .transpose()?;
    let clock = Clock::start();
    let mut alerts = 0;
    let mut parsed = 0;
    let mut event = Event::default();
    for text in events {
        match &mut detector {
            Some(detector) => {
                if detector.parse_into(text, &mut event).is_err() {
                    continue;
                }
                alerts += detector.observe(&event).len();
            }
            None => {
                let Ok(event) = Event::parse(text) else {
                    continue;
                };
                std::hint::black_box(&event);
            }
        }
        parsed += 1;
    }
    if let Some(detector) = &mut detector {
        alerts += detector.finish().len();
    }
    let seconds = clock.seconds();
    anyhow::ensure!(
        parsed == events.len(),
        "{} events did not parse",
        events.len() - parsed
    );
    Ok((seconds, alerts))
}

/// Parses every event with the detector's projection only, without rules.
fn time_project(set: &RuleSet, events: &[&str]) -> Result<(Seconds, usize)> {
    let detector = set.detector(Settings::default())?;
    let clock = Clock::start();
    let mut event = Event::default();
    for text in events {
        let parsed = detector.parse_into(text, &mut event);
        std::hint::black_box((&parsed, &event));
    }
    Ok((clock.seconds(), 0))
}

/// Writes the events of `seeds` orgs to `path`, or to stdout for `-`,
/// one org at a time so that only one org's events are in memory.
fn write_jsonl(path: &str, users: usize, days: u32, seeds: usize) -> Result<()> {
    let output: Box<dyn Write> = if path == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(path).with_context(|| format!("Failed to create `{path}`"))?)
    };
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, output);
    for seed in 0..seeds {
        for event in generate(users, days, 1, seed) {
            writer.write_all(event.as_bytes())?;
            writer.write_all(b"\n")?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// Prints, for the first event of each type, how many scalar values the
/// full pack's parse keeps.
fn print_kept_fields(events: &[&str]) -> Result<()> {
    let detector = full_pack()?.detector(Settings::default())?;
    let mut seen = std::collections::BTreeMap::new();
    for text in events {
        let Ok(event) = detector.parse(text) else {
            continue;
        };
        if !seen.contains_key(&event.event_type) {
            seen.insert(event.event_type.clone(), count_scalars(&event.value));
        }
    }
    for (event_type, count) in seen {
        println!("fields {count:>4}  {event_type}");
    }
    Ok(())
}

fn count_scalars(value: &Node) -> usize {
    match value {
        Node::Object(pairs) => pairs.iter().map(|(_, value)| count_scalars(value)).sum(),
        Node::Array(items) => items.iter().map(count_scalars).sum(),
        _ => 1,
    }
}

/// Prints every alert update of the full pack, one JSON object a line, in
/// the order the detector returns them.
fn print_alert_updates(events: &[&str]) -> Result<()> {
    let mut detector = full_pack()?.detector(Settings::default())?;
    let mut output = std::io::BufWriter::new(std::io::stdout().lock());
    let mut event = Event::default();
    for text in events {
        if detector.parse_into(text, &mut event).is_err() {
            continue;
        }
        for alert in detector.observe(&event) {
            writeln!(output, "{}", serde_json::to_string(&alert)?)?;
        }
    }
    for alert in detector.finish() {
        writeln!(output, "{}", serde_json::to_string(&alert)?)?;
    }
    output.flush()?;
    Ok(())
}

/// Prints how many events each SigmaHQ detection matches, before
/// allow-lists and suppression, sorted by rule title.
fn print_sigmahq_matches(events: &[&str]) -> Result<()> {
    let folder =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/detect/rules/sigmahq");
    let mut rules = Vec::new();
    for entry in std::fs::read_dir(&folder)? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "yml") {
            let text = std::fs::read_to_string(&path)?;
            rules.extend(parse_documents(
                &text,
                &path.display().to_string(),
                "sigmahq",
            )?);
        }
    }
    let mut counts = vec![0u64; rules.len()];
    for text in events {
        let Ok(event) = Event::parse(text) else {
            continue;
        };
        for (rule, count) in rules.iter().zip(&mut counts) {
            if let RuleBody::Detection(detection) = &rule.body
                && detection.matches(&event)
            {
                *count += 1;
            }
        }
    }
    let mut lines: Vec<_> = rules
        .iter()
        .zip(counts)
        .filter(|(rule, _)| matches!(rule.body, RuleBody::Detection(_)))
        .map(|(rule, count)| (rule.meta.title.clone(), count))
        .collect();
    lines.sort();
    for (title, count) in lines {
        println!("match {count:>8}  {title}");
    }
    Ok(())
}
