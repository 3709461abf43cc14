//! `idaudit logs pull`, `idaudit logs follow` and `idaudit logs import`.

use anyhow::{Context, Result};
use chrono::Utc;
use idaudit_collect::Progress;
use idaudit_collect::import::import_path;
use idaudit_collect::logs::{PullSummary, pull as pull_logs};
use idaudit_okta::Client;

use crate::args::{ImportArgs, PullArgs, StreamArgs};
use crate::commands::sync::open_store;
use crate::exit::ExitStatus;
use crate::settings::Settings;
use crate::time::parse_time;

/// Org key for imported events when no org is configured or named.
const IMPORTED_ORG: &str = "imported";

pub async fn pull(
    settings: &Settings,
    args: &PullArgs,
    progress: &dyn Progress,
) -> Result<ExitStatus> {
    let now = Utc::now();
    let since = parse_time(&args.since, now)?;
    let until = match &args.until {
        Some(text) => parse_time(text, now)?,
        None => now,
    };
    // Checked before reading credentials, so a bad range fails fast.
    idaudit_collect::logs::check_range(since, until, now)?;

    let config = settings.org_config()?;
    let client = Client::new(&config)?;
    let mut store = open_store(settings)?;
    let org = config.org_key();
    let summary = pull_logs(&client, &mut store, &org, since, until, progress)
        .await
        .with_context(|| format!("System Log pull from `{org}` failed"))?;
    eprintln!("{}", describe_pull(&org, &summary));
    Ok(ExitStatus::Success)
}

/// Returns a one-line summary of a pull.
pub fn describe_pull(org: &str, summary: &PullSummary) -> String {
    let mut text = format!(
        "Pulled {} events from `{org}` in {} pages: {} new, {} already stored",
        summary.events, summary.pages, summary.inserted, summary.duplicates
    );
    if summary.unreadable > 0 {
        text.push_str(&format!(", {} unreadable and skipped", summary.unreadable));
    }
    text
}

/// Polls the System Log until Ctrl-C or SIGTERM, running detection and the
/// workflows on each stored page and delivering alerts to the sinks.
pub async fn follow(settings: &Settings, args: &StreamArgs) -> Result<ExitStatus> {
    use crate::commands::serve::{Shutdown, StreamDetection, deliver_alerts, follow_logs};
    use crate::commands::workflows::{NewEvents, StreamWorkflows};

    // Checked before reading credentials, so a bad window fails fast.
    crate::commands::serve::follow_options(settings, args)?;
    crate::memory::return_large_blocks();
    let workflows = StreamWorkflows::build(settings)?;
    let config = settings.org_config()?;
    let org = config.org_key();
    // The poller and workflow refreshes share one client, so one rate budget.
    let client = Client::new(&config)?;
    let shutdown = Shutdown::on_signals();
    let detection = StreamDetection::start(settings, args, workflows.detects())?;
    let new_events = NewEvents {
        detection: detection.submitter(),
        detect_all: !args.no_detect,
        workflows: workflows.dispatcher.clone(),
    };
    let (followed, delivered, acted) = tokio::join!(
        async {
            let followed = follow_logs(
                settings,
                args,
                &new_events,
                client.clone(),
                shutdown.clone(),
            )
            .await;
            shutdown.trigger();
            followed
        },
        async {
            let delivered = deliver_alerts(settings, shutdown.clone()).await;
            if delivered.is_err() {
                shutdown.trigger();
            }
            delivered
        },
        async {
            let acted = workflows
                .run(settings, Some(client.clone()), &org, shutdown.clone())
                .await;
            if acted.is_err() {
                shutdown.trigger();
            }
            acted
        }
    );
    // Detection stops once every handle that submits to it is gone.
    drop(new_events);
    detection.stop();
    followed?;
    delivered?;
    acted?;
    Ok(ExitStatus::Success)
}

pub fn import(settings: &Settings, args: &ImportArgs) -> Result<ExitStatus> {
    let org = match &args.org {
        Some(org) => org.clone(),
        None if settings.has_org() => settings.org_config()?.org_key(),
        None => IMPORTED_ORG.to_string(),
    };
    let mut store = open_store(settings)?;
    let mut rejected = 0;
    for path in &args.files {
        let summary = import_path(&mut store, &org, path)
            .with_context(|| format!("Failed to import `{}`", path.display()))?;
        for rejection in &summary.rejected {
            eprintln!("warning: skipped {rejection}");
        }
        eprintln!(
            "Imported `{}`: {} records, {} new, {} already stored, {} rejected",
            path.display(),
            summary.records,
            summary.stored.inserted,
            summary.stored.duplicates,
            summary.rejected.len()
        );
        rejected += summary.rejected.len();
    }
    if rejected > 0 {
        let noun = if rejected == 1 {
            "record was"
        } else {
            "records were"
        };
        eprintln!(
            "{rejected} {noun} rejected. idaudit imports Okta System Log events as a JSON array, \
             JSON Lines, API pages or event-hook deliveries, optionally gzip-compressed"
        );
        return Ok(ExitStatus::Partial);
    }
    Ok(ExitStatus::Success)
}
