//! `idaudit demo`: the whole pipeline on a built-in simulated org.
//!
//! Generates an org, serves it on a loopback port with Okta's rate limits
//! over 1-second windows, then syncs it, pulls its System Log, runs
//! detection and starts a review campaign over every app, exactly as
//! against a real org. Everything lands in one output folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use idaudit_collect::Progress;
use idaudit_collect::logs::PullSummary;
use idaudit_collect::sync::SyncSummary;
use idaudit_detect::rules;
use idaudit_okta::{Client, Credentials, OrgConfig, Secret};
use idaudit_okta_sim::{OrgSpec, RateLimits, SimOptions};
use idaudit_review::ReviewerPackage;
use idaudit_store::{Alert, DirectoryCounts, Store};

use crate::args::DemoArgs;
use crate::output::alert_json;

/// The key under which the simulated org is stored.
pub const DEMO_ORG: &str = "simulated-org";

/// Files the demo writes into its folder, removed before each run.
const OUTPUT_FILES: &[&str] = &[
    "idaudit.db",
    "idaudit.db-wal",
    "idaudit.db-shm",
    "alerts.jsonl",
    "ground-truth.json",
];
const PACKAGES_DIR: &str = "packages";

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub out: PathBuf,
    pub seed: u64,
    pub users: usize,
    /// Length of the simulator's rate-limit windows.
    pub rate_window: Duration,
}

impl DemoOptions {
    pub fn from_args(args: &DemoArgs) -> DemoOptions {
        DemoOptions {
            out: args.out.clone(),
            seed: args.seed,
            users: args.users,
            rate_window: Duration::from_secs(1),
        }
    }
}

/// The demo's outputs and counts.
#[derive(Debug)]
pub struct DemoReport {
    pub out: PathBuf,
    pub seed: u64,
    pub store: PathBuf,
    pub alerts_file: PathBuf,
    pub ground_truth_file: PathBuf,
    pub packages_dir: PathBuf,
    pub counts: DirectoryCounts,
    pub events: u64,
    pub sync: SyncSummary,
    pub pull: PullSummary,
    pub alerts: Vec<Alert>,
    pub campaign_id: i64,
    pub review_items: u64,
    pub flagged_items: u64,
    pub packages: Vec<ReviewerPackage>,
}

/// Runs the demo and returns what it produced.
pub async fn run(options: &DemoOptions, progress: &dyn Progress) -> Result<DemoReport> {
    prepare_folder(&options.out)?;
    let store_path = options.out.join("idaudit.db");
    let mut store = Store::open(&store_path)
        .with_context(|| format!("Failed to create the store `{}`", store_path.display()))?;

    let spec = OrgSpec {
        seed: options.seed,
        users: options.users,
        ..OrgSpec::default()
    };
    progress.start_phase("Generating org", None);
    let org = idaudit_okta_sim::generate(&spec);
    progress.finish_phase();
    let ground_truth_file = options.out.join("ground-truth.json");
    write_json(&ground_truth_file, &org.ground_truth)?;

    let sim_options = SimOptions {
        rate_limits: RateLimits::Workforce {
            window: options.rate_window,
        },
        ..SimOptions::default()
    };
    let sim = idaudit_okta_sim::serve(org, sim_options)
        .await
        .context("Failed to start the simulated org")?;
    tracing::info!(url = sim.base_url, "Simulated org listening");
    let mut config = OrgConfig::new(
        &sim.base_url,
        Credentials::PrivateKey {
            client_id: sim.client_id.clone(),
            private_key: Secret::new(sim.private_key_pem.clone()),
            key_id: Some(sim.key_id.clone()),
        },
        Vec::new(),
    )?;
    // Admin roles need their own scope; the simulated app grants it.
    config.optional_scopes.push("okta.roles.read".to_string());
    let client = Client::new(&config)?;

    let outcome = run_pipeline(&client, &mut store, &spec, options, progress).await;
    sim.shutdown().await;
    let (sync, pull, alerts, campaign, packages) = outcome?;

    let alerts_file = options.out.join("alerts.jsonl");
    let lines: Vec<String> = alerts
        .iter()
        .map(|alert| alert_json(alert).to_string())
        .collect();
    write_bytes(&alerts_file, (lines.join("\n") + "\n").as_bytes())?;

    Ok(DemoReport {
        out: options.out.clone(),
        seed: options.seed,
        store: store_path,
        alerts_file,
        ground_truth_file,
        packages_dir: options.out.join(PACKAGES_DIR),
        counts: store.directory_counts(DEMO_ORG)?,
        events: store.count_events()?,
        sync,
        pull,
        alerts,
        campaign_id: campaign.id,
        review_items: campaign.items,
        flagged_items: campaign.flagged,
        packages,
    })
}

type PipelineOutput = (
    SyncSummary,
    PullSummary,
    Vec<Alert>,
    idaudit_review::StartedCampaign,
    Vec<ReviewerPackage>,
);

async fn run_pipeline(
    client: &Client,
    store: &mut Store,
    spec: &OrgSpec,
    options: &DemoOptions,
    progress: &dyn Progress,
) -> Result<PipelineOutput> {
    let sync = idaudit_collect::sync::full_sync(client, store, DEMO_ORG, progress)
        .await
        .context("Sync of the simulated org failed")?;

    let until = Utc::now();
    let since =
        spec.end - chrono::Duration::days(i64::from(spec.log_days)) - chrono::Duration::hours(1);
    let pull = idaudit_collect::logs::pull(client, store, DEMO_ORG, since, until, progress)
        .await
        .context("System Log pull from the simulated org failed")?;

    progress.start_phase("Detection", None);
    let mut rules = rules::builtin();
    let detected = idaudit_detect::detect(store, &mut rules, None, None)?;
    progress.finish_phase();

    let campaign = idaudit_review::start_campaign(store, DEMO_ORG, "Demo access review", &[])?;
    let (_, packages) =
        idaudit_review::export_campaign(store, Some(campaign.id), &options.out.join(PACKAGES_DIR))?;
    Ok((sync, pull, detected.alerts, campaign, packages))
}

/// Creates the folder and removes the files an earlier demo wrote there.
fn prepare_folder(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("Failed to create the output folder `{}`", out.display()))?;
    for name in OUTPUT_FILES {
        let path = out.join(name);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("Failed to remove the earlier `{}`", path.display()))?;
        }
    }
    let packages = out.join(PACKAGES_DIR);
    if packages.exists() {
        std::fs::remove_dir_all(&packages)
            .with_context(|| format!("Failed to remove the earlier `{}`", packages.display()))?;
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    write_bytes(path, &bytes)
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("Failed to write `{}`", path.display()))
}

/// Prints the demo's summary on stdout.
pub fn print_report(report: &DemoReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    print_counts(&mut out, report)?;
    print_outputs(&mut out, report)?;
    Ok(())
}

fn print_counts(out: &mut impl std::io::Write, report: &DemoReport) -> Result<()> {
    let counts = &report.counts;
    writeln!(
        out,
        "idaudit demo on a simulated org (seed {})",
        report.seed
    )?;
    writeln!(
        out,
        "  directory: {} users, {} groups, {} memberships, {} apps, {} app assignments",
        counts.users, counts.groups, counts.memberships, counts.apps, counts.app_users
    )?;
    writeln!(
        out,
        "  requests:  {} to the simulated Okta API, {} rate-limited and retried",
        report.sync.requests, report.sync.rate_limited
    )?;
    writeln!(out, "  events:    {} System Log events", report.events)?;

    writeln!(out, "  alerts:    {}", report.alerts.len())?;
    for alert in &report.alerts {
        writeln!(out, "    [{}] {}", alert.severity, alert.title)?;
    }
    writeln!(
        out,
        "  review:    campaign {} with {} items, {} flagged, for {} reviewers",
        report.campaign_id,
        report.review_items,
        report.flagged_items,
        report.packages.len()
    )?;
    Ok(())
}

fn print_outputs(out: &mut impl std::io::Write, report: &DemoReport) -> Result<()> {
    writeln!(out)?;
    writeln!(out, "Outputs in {}:", report.out.display())?;
    writeln!(out, "  store            {}", report.store.display())?;
    writeln!(out, "  alerts           {}", report.alerts_file.display())?;
    writeln!(
        out,
        "  review packages  {} (CSV and HTML per reviewer, one XLSX workbook)",
        report.packages_dir.display()
    )?;
    writeln!(
        out,
        "  ground truth     {}",
        report.ground_truth_file.display()
    )?;

    writeln!(out)?;
    writeln!(
        out,
        "Next: idaudit --store {} alerts list",
        report.store.display()
    )?;
    Ok(())
}
