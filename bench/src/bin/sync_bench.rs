//! Directory sync benchmark: requests, wall time and memory of `idaudit sync`
//! against the minimum the org's data needs, beside the official Okta Python
//! SDK gathering the same inventory.
//!
//! Run: `cargo run --release -p idaudit-bench --bin sync_bench -- [OPTIONS]`
//! after `cargo build --release -p idaudit`. Options, with their defaults:
//!
//! - `--users 50000 --groups 5000 --apps 1000 --memberships 500000`: the org.
//! - `--window-seconds 10`: length of a rate-limit window, 60 in Okta.
//! - `--share 0.8`: idaudit's `rate_limit_share`.
//! - `--changed-percent 1`: users changed before the incremental sync.
//! - `--idaudit target/release/idaudit`: the binary to measure.
//! - `--python PYTHON`: an interpreter with `okta` installed. Without it the
//!   SDK run is skipped.
//!
//! The simulator runs in this process with Okta's Workforce limits over the
//! given window, and the release `idaudit` binary runs as a child process
//! under `/usr/bin/time -v`, so that its peak RSS is measured alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use idaudit_okta_sim::{
    GroupType, LogEvent, Org, OrgSpec, RateLimits, RunningSim, SimOptions, UserStatus,
};
use serde_json::json;

/// Page sizes idaudit requests, the largest each listing allows.
const USERS_PAGE: usize = 200;
const GROUPS_PAGE: usize = 200;
const MEMBERS_PAGE: usize = 1000;
const OWNERS_PAGE: usize = 1000;
const APPS_PAGE: usize = 200;
const APP_USERS_PAGE: usize = 500;
const APP_GROUPS_PAGE: usize = 200;
const RULES_PAGE: usize = 200;
const ASSIGNEES_PAGE: usize = 1000;

/// Requests per window one app may make in each bucket of the simulator:
/// half of Okta's Workforce limit per minute.
const USERS_BUCKET: f64 = 300.0;
const GROUPS_BUCKET: f64 = 250.0;
const GROUP_BY_ID_BUCKET: f64 = 500.0;
const APPS_BUCKET: f64 = 50.0;
const OTHER_BUCKET: f64 = 600.0;

struct Options {
    users: usize,
    groups: usize,
    apps: usize,
    memberships: usize,
    window: Duration,
    share: f64,
    changed_percent: f64,
    idaudit: PathBuf,
    python: Option<PathBuf>,
}

impl Options {
    fn parse() -> Result<Options> {
        let mut options = Options {
            users: 50_000,
            groups: 5_000,
            apps: 1_000,
            memberships: 500_000,
            window: Duration::from_secs(10),
            share: 0.8,
            changed_percent: 1.0,
            idaudit: PathBuf::from("target/release/idaudit"),
            python: None,
        };
        let arguments: Vec<String> = std::env::args().skip(1).collect();
        for pair in arguments.chunks(2) {
            let [name, value] = pair else {
                bail!("Missing value after `{}`", pair[0]);
            };
            match name.as_str() {
                "--users" => options.users = value.parse()?,
                "--groups" => options.groups = value.parse()?,
                "--apps" => options.apps = value.parse()?,
                "--memberships" => options.memberships = value.parse()?,
                "--window-seconds" => options.window = Duration::from_secs_f64(value.parse()?),
                "--share" => options.share = value.parse()?,
                "--changed-percent" => options.changed_percent = value.parse()?,
                "--idaudit" => options.idaudit = PathBuf::from(value),
                "--python" => options.python = Some(PathBuf::from(value)),
                other => bail!("Unknown option `{other}`"),
            }
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = Options::parse()?;
    let started = Instant::now();
    let spec = OrgSpec {
        seed: 42,
        users: options.users,
        groups: options.groups,
        apps: options.apps,
        memberships: Some(options.memberships),
        log_days: 1,
        ..OrgSpec::default()
    };
    let org = idaudit_okta_sim::generate(&spec);
    let minimum = Minimum::of(&org);
    println!(
        "org: {} users, {} groups, {} apps, {} memberships, {} app assignments (generated in {:.1} s)",
        org.users.len(),
        org.groups.len(),
        org.apps.len(),
        org.memberships.values().map(Vec::len).sum::<usize>(),
        org.apps
            .iter()
            .map(|app| org.app_users(&app.id).len())
            .sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    minimum.print(&options);

    let sim_options = SimOptions {
        rate_limits: RateLimits::Workforce {
            window: options.window,
        },
        ..SimOptions::default()
    };
    let sim = idaudit_okta_sim::serve(org, sim_options).await?;
    let folder = tempfile_dir()?;
    let config = write_config(&folder, &sim, options.share)?;

    print_load_average("before the full sync");
    let full = run_idaudit(&options.idaudit, &config, &folder.join("idaudit.db"))?;
    full.print("idaudit full sync");
    print_load_average("after the full sync");
    let floor = minimum.floor_seconds(&options);
    println!(
        "  requests / minimum = {:.3}; wall time / floor = {:.3}",
        full.requests as f64 / minimum.total() as f64,
        full.wall.as_secs_f64() / floor
    );

    match &options.python {
        Some(python) => {
            let sdk = run_sdk(python, &sim, &folder)?;
            println!(
                "okta Python SDK, same inventory: {:.1} s, {} objects, {} requests, {} 429s",
                sdk.wall.as_secs_f64(),
                sdk.objects,
                sdk.requests,
                sdk.rate_limited
            );
            println!(
                "  SDK time / idaudit time = {:.2}",
                sdk.wall.as_secs_f64() / full.wall.as_secs_f64()
            );
        }
        None => println!("okta Python SDK: skipped, no --python given"),
    }

    let changed = change_users(&sim, options.changed_percent);
    println!(
        "changed {changed} users ({} % of {}): profile edits, group joins and suspensions, each with its System Log event",
        options.changed_percent, options.users
    );
    let incremental = run_idaudit(&options.idaudit, &config, &folder.join("idaudit.db"))?;
    incremental.print("idaudit incremental sync");
    println!(
        "  incremental requests / full requests = {:.4}",
        incremental.requests as f64 / full.requests as f64
    );
    sim.shutdown().await;
    std::fs::remove_dir_all(&folder).ok();
    Ok(())
}

/// Prints the 1-, 5- and 15-minute load averages, since other work on the
/// machine slows the runs.
fn print_load_average(when: &str) {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let averages: Vec<&str> = text.split_whitespace().take(3).collect();
    println!("load average {when}: {}", averages.join(" "));
}

/// The fewest requests a full sync of `org` can make, by rate-limit bucket.
struct Minimum {
    /// Listing pages and per-object calls on `/api/v1/users*`.
    users: usize,
    /// The same on `/api/v1/groups*`, apart from the group rules.
    groups: usize,
    /// Group rules, which the simulator bills to the group-by-id bucket.
    group_rules: usize,
    apps: usize,
    /// `/api/v1/iam/assignees/users`.
    other: usize,
}

/// Pages needed to list `count` items at `page` per page; an empty listing
/// still takes one request.
fn pages(count: usize, page: usize) -> usize {
    count.div_ceil(page).max(1)
}

impl Minimum {
    fn of(org: &Org) -> Minimum {
        let deprovisioned = org
            .users
            .iter()
            .filter(|user| user.status == UserStatus::Deprovisioned)
            .count();
        let listed = org.users.len() - deprovisioned;
        let admins = org
            .admin_roles
            .values()
            .filter(|roles| !roles.is_empty())
            .count();
        let with_factors = org
            .users
            .iter()
            .filter(|user| {
                !matches!(
                    user.status,
                    UserStatus::Staged | UserStatus::Provisioned | UserStatus::Deprovisioned
                )
            })
            .count();
        let users =
            pages(listed, USERS_PAGE) + pages(deprovisioned, USERS_PAGE) + admins + with_factors;

        let per_group: usize = org
            .groups
            .iter()
            .map(|group| {
                let members = org.memberships.get(&group.id).map_or(0, Vec::len);
                let owners = org.group_owners.get(&group.id).map_or(0, Vec::len);
                pages(members, MEMBERS_PAGE) + pages(owners, OWNERS_PAGE) + 1
            })
            .sum();
        let groups = pages(org.groups.len(), GROUPS_PAGE) + per_group;

        let per_app: usize = org
            .apps
            .iter()
            .map(|app| {
                let users = org.app_users(&app.id).len();
                let groups = org.app_group_assignments.get(&app.id).map_or(0, Vec::len);
                pages(users, APP_USERS_PAGE) + pages(groups, APP_GROUPS_PAGE)
            })
            .sum();
        Minimum {
            users,
            groups,
            group_rules: pages(org.group_rules.len(), RULES_PAGE),
            apps: pages(org.apps.len(), APPS_PAGE) + per_app,
            other: pages(admins, ASSIGNEES_PAGE),
        }
    }

    fn total(&self) -> usize {
        self.users + self.groups + self.group_rules + self.apps + self.other
    }

    /// Seconds the busiest bucket needs at `share` of its allowance: the
    /// buckets are paced separately, so they can all be read at once.
    fn floor_seconds(&self, options: &Options) -> f64 {
        let window = options.window.as_secs_f64();
        let seconds = |requests: usize, bucket: f64| {
            let allowed = (bucket * options.share).floor();
            requests as f64 / allowed * window
        };
        [
            seconds(self.users, USERS_BUCKET),
            seconds(self.groups, GROUPS_BUCKET),
            seconds(self.group_rules, GROUP_BY_ID_BUCKET),
            seconds(self.apps, APPS_BUCKET),
            seconds(self.other, OTHER_BUCKET),
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }

    fn print(&self, options: &Options) {
        println!(
            "minimum requests: {} (users bucket {}, groups {}, group rules {}, apps {}, other {})",
            self.total(),
            self.users,
            self.groups,
            self.group_rules,
            self.apps,
            self.other
        );
        println!(
            "rate-limit floor: {:.1} s at share {} of Workforce limits over {} s windows",
            self.floor_seconds(options),
            options.share,
            options.window.as_secs_f64()
        );
    }
}

/// Figures of one `idaudit sync` run, from its summary line and `/usr/bin/time`.
struct SyncRun {
    requests: u64,
    rate_limited: u64,
    wall: Duration,
    max_rss_kib: u64,
    summary: String,
}

impl SyncRun {
    fn print(&self, label: &str) {
        println!(
            "{label}: {:.1} s, {} requests, {} 429s, peak RSS {:.1} MiB",
            self.wall.as_secs_f64(),
            self.requests,
            self.rate_limited,
            self.max_rss_kib as f64 / 1024.0
        );
        println!("  {}", self.summary);
    }
}

fn tempfile_dir() -> Result<PathBuf> {
    let folder = std::env::temp_dir().join(format!("idaudit-sync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    Ok(folder)
}

fn write_config(folder: &Path, sim: &RunningSim, share: f64) -> Result<PathBuf> {
    let key = folder.join("key.pem");
    std::fs::write(&key, &sim.private_key_pem)?;
    let config = folder.join("idaudit.toml");
    let text = format!(
        "[okta]\norg_url = \"{}\"\nclient_id = \"{}\"\nprivate_key_file = \"{}\"\nkey_id = \"{}\"\nrate_limit_share = {share}\n",
        sim.base_url,
        sim.client_id,
        key.display(),
        sim.key_id
    );
    std::fs::write(&config, text)?;
    Ok(config)
}

/// Runs `idaudit sync` under `/usr/bin/time -v` and reads its summary line
/// and peak RSS.
fn run_idaudit(binary: &Path, config: &Path, store: &Path) -> Result<SyncRun> {
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(binary)
        .arg("--config")
        .arg(config)
        .arg("--store")
        .arg(store)
        .arg("sync")
        .env("NO_COLOR", "1")
        .output()
        .context("Failed to run /usr/bin/time")?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("idaudit sync failed:\n{stderr}");
    }
    let summary = stderr
        .lines()
        .find(|line| line.starts_with("Synced "))
        .context("No summary line from idaudit sync")?
        .to_string();
    let max_rss_kib = stderr
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|value| value.trim().parse().ok())
        .context("No peak RSS from /usr/bin/time")?;
    Ok(SyncRun {
        requests: number_before(&summary, " requests")?,
        rate_limited: number_before(&summary, " rate-limited")?,
        wall,
        max_rss_kib,
        summary,
    })
}

/// Reads the number just before `marker` in `text`, such as `123` in
/// `; 123 requests`.
fn number_before(text: &str, marker: &str) -> Result<u64> {
    let end = text
        .find(marker)
        .with_context(|| format!("No `{marker}` in `{text}`"))?;
    let digits: String = text[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    Ok(digits.chars().rev().collect::<String>().parse()?)
}

/// Figures of one run of the Python SDK script.
struct SdkRun {
    wall: Duration,
    objects: u64,
    requests: u64,
    rate_limited: u64,
}

fn run_sdk(python: &Path, sim: &RunningSim, folder: &Path) -> Result<SdkRun> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sync_okta_sdk.py");
    let started = Instant::now();
    let output = Command::new(python)
        .arg(script)
        .arg(&sim.base_url)
        .arg(&sim.client_id)
        .arg(&sim.key_id)
        .arg(folder.join("key.pem"))
        .output()
        .context("Failed to run the Python SDK script")?;
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "The Python SDK script failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let result: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .last()
            .context("No output from the Python SDK script")?,
    )?;
    let number = |key: &str| result[key].as_u64().unwrap_or_default();
    Ok(SdkRun {
        wall,
        objects: number("objects"),
        requests: number("requests"),
        rate_limited: number("rate_limited"),
    })
}

/// Changes `percent` % of the active users in the live org, in turn: a
/// profile edit, a join to a group, a suspension. Each change moves the
/// object's `lastUpdated` or `lastMembershipUpdated` and, where Okta logs
/// one, appends the System Log event. Returns how many users changed.
fn change_users(sim: &RunningSim, percent: f64) -> usize {
    let live = sim.org();
    let mut org = live
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let count = (org.users.len() as f64 * percent / 100.0).round() as usize;
    let active: Vec<String> = org
        .users
        .iter()
        .filter(|user| user.status == UserStatus::Active)
        .map(|user| user.id.clone())
        .take(count)
        .collect();
    let okta_groups: Vec<String> = org
        .groups
        .iter()
        .filter(|group| group.group_type == GroupType::OktaGroup)
        .map(|group| group.id.clone())
        .collect();
    let now = Utc::now();
    let mut events = Vec::new();
    for (index, user_id) in active.iter().enumerate() {
        match index % 3 {
            0 => {
                if let Some(user) = org.users.iter_mut().find(|user| &user.id == user_id) {
                    user.profile.title = format!("Changed title {index}");
                    user.last_updated = now;
                }
            }
            1 => {
                let joined: BTreeSet<String> = org
                    .memberships
                    .iter()
                    .filter(|(_, members)| members.contains(user_id))
                    .map(|(group, _)| group.clone())
                    .collect();
                let Some(group_id) = okta_groups
                    .iter()
                    .skip(index % okta_groups.len().max(1))
                    .find(|group| !joined.contains(*group))
                    .cloned()
                else {
                    continue;
                };
                org.memberships
                    .entry(group_id.clone())
                    .or_default()
                    .push(user_id.clone());
                if let Some(group) = org.groups.iter_mut().find(|group| group.id == group_id) {
                    group.last_membership_updated = now;
                }
                events.push(admin_event(
                    "group.user_membership.add",
                    &[("User", user_id), ("UserGroup", &group_id)],
                    index,
                ));
            }
            _ => {
                if let Some(user) = org.users.iter_mut().find(|user| &user.id == user_id) {
                    user.status = UserStatus::Suspended;
                    user.last_updated = now;
                    user.status_changed = Some(now);
                }
                events.push(admin_event(
                    "user.lifecycle.suspend",
                    &[("User", user_id)],
                    index,
                ));
            }
        }
    }
    org.events.extend(events.into_iter().flatten());
    active.len()
}

/// Builds the System Log event Okta writes for an admin's change.
fn admin_event(event_type: &str, targets: &[(&str, &str)], index: usize) -> Option<LogEvent> {
    let targets: Vec<_> = targets
        .iter()
        .map(|(kind, id)| json!({"id": id, "type": kind, "alternateId": id, "displayName": id}))
        .collect();
    LogEvent::from_value(&json!({
        "uuid": format!("5b0e1c2d-0000-4000-8000-{index:012x}"),
        "published": Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": event_type,
        "actor": {"id": "00ubenchadmin", "type": "User", "alternateId": "admin@example.com"},
        "outcome": {"result": "SUCCESS"},
        "target": targets,
    }))
    .ok()
}
