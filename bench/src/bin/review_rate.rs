//! Review campaign at scale: 50,000 users with 20 app entitlements each.
//!
//! The first run of the binary builds a store with that directory (not
//! measured), then runs itself again on it, so that the peak RSS it reports
//! covers only the campaign: start, export of every reviewer package (CSV,
//! HTML, the XLSX workbook and campaign.json), decisions on every item, the
//! remediation plan, and close with the auditor package (folder and zip).
//!
//! Usage: `review_rate [USERS] [ENTITLEMENTS]` (defaults 50000 and 20).
//! To profile one step, build a store once with `review_rate --build FOLDER
//! [USERS] [ENTITLEMENTS]`, then run `review_rate --measure FOLDER` on it as
//! often as needed. Each run adds a campaign to that store.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use idaudit_store::{
    AppGroupRow, AppRow, AppUserRow, CampaignDecision, DirectorySnapshot, GroupRow, ItemOrder,
    Membership, Store, UserRow,
};

const ORG: &str = "bench-org";
/// Users per manager; each manager is one reviewer.
const REPORTS_PER_MANAGER: usize = 25;
const APPS: usize = 400;
/// Groups, each assigned to one app; every user is in some of them.
const GROUPS: usize = 200;
/// Entitlements of each user that come through a group.
const THROUGH_GROUPS: usize = 4;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--measure") => return measure(Path::new(&args[2])),
        Some("--build") => {
            let folder = Path::new(&args[2]);
            let users: usize = args.get(3).map_or(Ok(50_000), |text| text.parse())?;
            let entitlements: usize = args.get(4).map_or(Ok(20), |text| text.parse())?;
            std::fs::create_dir_all(folder)?;
            return build_store(&folder.join("idaudit.db"), users, entitlements);
        }
        _ => {}
    }
    let users: usize = args.get(1).map_or(Ok(50_000), |text| text.parse())?;
    let entitlements: usize = args.get(2).map_or(Ok(20), |text| text.parse())?;

    let folder = tempfile::tempdir()?;
    let store_path = folder.path().join("idaudit.db");
    let started = Instant::now();
    build_store(&store_path, users, entitlements)?;
    eprintln!(
        "Built a store of {users} users with {entitlements} entitlements each in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--measure")
        .arg(folder.path())
        .status()?;
    anyhow::ensure!(status.success(), "the measured run failed");
    Ok(())
}

/// Writes a directory where each user has `entitlements` apps: the first
/// ones through groups, the rest assigned directly.
fn build_store(path: &Path, users: usize, entitlements: usize) -> Result<()> {
    let mut store = Store::open(path)?;
    let now = idaudit_store::format_time(chrono::Utc::now());
    let user_rows: Vec<UserRow> = (0..users)
        .map(|index| UserRow {
            id: format!("00u{index:08}"),
            status: if index % 97 == 0 {
                "SUSPENDED"
            } else {
                "ACTIVE"
            }
            .to_string(),
            login: format!("user{index:06}@example.com"),
            first_name: Some(format!("First{index}")),
            last_name: Some("Last".to_string()),
            manager_id: (index % REPORTS_PER_MANAGER != 0)
                .then(|| format!("00u{:08}", index - index % REPORTS_PER_MANAGER)),
            last_login: (index % 13 != 0).then(|| now.clone()),
            raw: "{}".to_string(),
            ..UserRow::default()
        })
        .collect();
    let apps: Vec<AppRow> = (0..APPS)
        .map(|index| AppRow {
            id: format!("0oa{index:06}"),
            name: format!("app_{index}"),
            label: format!("App {index}"),
            status: "ACTIVE".to_string(),
            raw: "{}".to_string(),
            ..AppRow::default()
        })
        .collect();
    let groups: Vec<GroupRow> = (0..GROUPS)
        .map(|index| GroupRow {
            id: format!("00g{index:06}"),
            group_type: "OKTA_GROUP".to_string(),
            name: format!("Group {index}"),
            raw: "{}".to_string(),
            ..GroupRow::default()
        })
        .collect();
    // Group g is assigned to app g.
    let app_groups: Vec<AppGroupRow> = groups
        .iter()
        .zip(&apps)
        .map(|(group, app)| AppGroupRow {
            app_id: app.id.clone(),
            group_id: group.id.clone(),
            priority: Some(0),
            raw: "{}".to_string(),
        })
        .collect();

    let mut memberships = Vec::new();
    let mut app_users = Vec::new();
    for (index, user) in user_rows.iter().enumerate() {
        for slot in 0..entitlements {
            if slot < THROUGH_GROUPS {
                let group = (index + slot * 37) % GROUPS;
                memberships.push(Membership {
                    group_id: groups[group].id.clone(),
                    user_id: user.id.clone(),
                });
                app_users.push(AppUserRow {
                    app_id: apps[group].id.clone(),
                    user_id: user.id.clone(),
                    scope: "GROUP".to_string(),
                    granting_group_id: Some(groups[group].id.clone()),
                    raw: "{}".to_string(),
                    ..AppUserRow::default()
                });
            } else {
                let app = GROUPS + (index + slot * 11) % (APPS - GROUPS);
                app_users.push(AppUserRow {
                    app_id: apps[app].id.clone(),
                    user_id: user.id.clone(),
                    scope: "USER".to_string(),
                    raw: "{}".to_string(),
                    ..AppUserRow::default()
                });
            }
        }
    }
    memberships.sort();
    memberships.dedup();
    app_users
        .sort_by(|left, right| (&left.app_id, &left.user_id).cmp(&(&right.app_id, &right.user_id)));
    app_users.dedup_by(|left, right| left.app_id == right.app_id && left.user_id == right.user_id);
    let snapshot = DirectorySnapshot {
        users: user_rows,
        groups,
        memberships,
        apps,
        app_users,
        app_groups,
        ..DirectorySnapshot::default()
    };
    store.replace_directory(ORG, &snapshot)?;
    Ok(())
}

/// Runs the campaign on the store in `folder` and prints each phase's time.
fn measure(folder: &Path) -> Result<()> {
    let mut store = Store::open(folder.join("idaudit.db"))?;
    let total = Instant::now();
    let mut phases = Vec::new();
    reset_peak_rss();
    let mut cpu = cpu_seconds()?;

    let phase = Instant::now();
    let started = idaudit_review::start_campaign(&mut store, ORG, "Scale", &[])?;
    phases.push(Phase::end("start", phase, &mut cpu)?);

    let phase = Instant::now();
    let packages_dir = folder.join("packages");
    let (_, packages) = idaudit_review::export_campaign(&store, Some(started.id), &packages_dir)?;
    phases.push(Phase::end("export", phase, &mut cpu)?);

    let phase = Instant::now();
    let decided_at = idaudit_store::format_time(chrono::Utc::now());
    let mut decisions: Vec<CampaignDecision> = Vec::new();
    store.for_each_campaign_item(started.id, ItemOrder::ItemNo, |item| {
        decisions.push(CampaignDecision {
            decision: if item.suggestion == "revoke" {
                "revoke"
            } else {
                "keep"
            }
            .to_string(),
            item_no: item.item_no,
            reviewer_login: item.reviewer_login,
            decided_at: decided_at.clone(),
            source: "bench".to_string(),
        });
        Ok::<_, idaudit_store::Error>(())
    })?;
    let revocations = decisions
        .iter()
        .filter(|decision| decision.decision == "revoke")
        .count();
    store.record_decisions(started.id, &decisions)?;
    drop(decisions);
    phases.push(Phase::end("decisions", phase, &mut cpu)?);

    let phase = Instant::now();
    let plan = idaudit_review::plan_remediation(&store, Some(started.id))?;
    idaudit_review::record_plan(&store, &plan)?;
    let steps = plan.steps.len();
    drop(plan);
    phases.push(Phase::end("remediation plan", phase, &mut cpu)?);

    let phase = Instant::now();
    let audit_dir = folder.join("audit");
    let closed = idaudit_review::close_campaign(&store, Some(started.id), &audit_dir)?;
    phases.push(Phase::end("close", phase, &mut cpu)?);

    let phase = Instant::now();
    let verification = idaudit_review::verify_package(
        &closed.zip,
        &idaudit_review::Expected {
            root: Some(closed.root.clone()),
            zip_sha256: Some(closed.zip_sha256.clone()),
        },
    )?;
    anyhow::ensure!(verification.is_intact(), "{:?}", verification.problems);
    phases.push(Phase::end("verify zip", phase, &mut cpu)?);
    let seconds = total.elapsed().as_secs_f64();

    println!(
        "items {} reviewers {} packages {} revocations {revocations} steps {steps}",
        started.items,
        started.reviewers,
        packages.len()
    );
    let mut overall_peak = 0;
    let mut packages_seconds = (0.0, 0.0);
    for phase in &phases {
        println!(
            "{:<18} {:>7.2} s  CPU {:>7.2} s  peak RSS {:>6.0} MiB",
            phase.name,
            phase.seconds,
            phase.cpu_seconds,
            phase.peak_kib as f64 / 1024.0
        );
        overall_peak = overall_peak.max(phase.peak_kib);
        if ["start", "export"].contains(&phase.name) {
            packages_seconds.0 += phase.seconds;
            packages_seconds.1 += phase.cpu_seconds;
        }
    }
    println!(
        "{:<18} {:>7.2} s  CPU {:>7.2} s",
        "start + export", packages_seconds.0, packages_seconds.1
    );
    println!("{:<18} {seconds:>7.2} s", "total");
    println!(
        "peak RSS           {:>7.0} MiB",
        overall_peak as f64 / 1024.0
    );
    println!(
        "output             {:>7.0} MiB",
        (folder_bytes(&packages_dir)? + folder_bytes(&audit_dir)?) as f64 / 1_048_576.0
    );
    Ok(())
}

/// One measured step: wall time, CPU time of all threads, and peak RSS.
struct Phase {
    name: &'static str,
    seconds: f64,
    cpu_seconds: f64,
    peak_kib: u64,
}

impl Phase {
    /// Ends the step that began at `started`, when the process had used
    /// `cpu` CPU seconds, resets the peak RSS and moves `cpu` to now.
    fn end(name: &'static str, started: Instant, cpu: &mut f64) -> Result<Phase> {
        let seconds = started.elapsed().as_secs_f64();
        let now = cpu_seconds()?;
        let phase = Phase {
            name,
            seconds,
            cpu_seconds: now - *cpu,
            peak_kib: peak_rss_kib()?,
        };
        *cpu = now;
        reset_peak_rss();
        Ok(phase)
    }
}

/// Reads the user and system CPU time of this process, all threads, from
/// /proc/self/stat, in seconds.
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("malformed /proc/self/stat")?
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // NOTE: assumes the kernel's USER_HZ of 100, the value on x86-64 Linux.
    Ok(ticks as f64 / 100.0)
}

/// Resets the peak resident set size that /proc reports to the current one
/// (Linux `clear_refs` value 5), so that each phase reports its own peak.
fn reset_peak_rss() {
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("Failed to reset the peak RSS: {error}");
    }
}

/// Reads the peak resident set size of this process from /proc, in KiB.
fn peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("malformed VmHWM")?
        .parse()?)
}

fn folder_bytes(folder: &Path) -> Result<u64> {
    let mut total = 0;
    let mut pending: Vec<PathBuf> = vec![folder.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(directory)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else {
                total += entry.metadata()?.len();
            }
        }
    }
    Ok(total)
}
