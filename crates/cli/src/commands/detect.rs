//! `idaudit detect`: run the rules over stored events, and send new or
//! changed alerts to the configured sinks through the store's outbox.

use anyhow::{Context, Result};
use chrono::Utc;
use idaudit_detect::{DeliveryWorker, RetryPolicy, build_sinks, detect_and_queue};

use crate::args::DetectArgs;
use crate::commands::sync::open_store;
use crate::exit::ExitStatus;
use crate::output::print_alerts;
use crate::settings::Settings;
use crate::time::parse_time;

pub async fn run(settings: &Settings, args: &DetectArgs) -> Result<ExitStatus> {
    let now = Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|text| parse_time(text, now).map(idaudit_store::format_time))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|text| parse_time(text, now).map(idaudit_store::format_time))
        .transpose()?;
    let store = open_store(settings)?;
    let rule_set = crate::commands::rules::load_rules(&args.rule_dirs)?;
    let rule_count = rule_set.list().len();
    let mut detector = rule_set.detector(settings.detect.clone())?;
    let sinks = build_sinks(&settings.sinks).context("Invalid `[[sinks]]` configuration")?;
    let worker = DeliveryWorker::new(sinks, RetryPolicy::default());
    let summary = detect_and_queue(
        &store,
        &mut detector,
        since.as_deref(),
        until.as_deref(),
        &worker.sink_names(),
    )?;

    print_alerts(&mut std::io::stdout().lock(), &summary.alerts, args.format)?;
    eprintln!(
        "Ran {} rules over {} events: {} alerts, {} new",
        rule_count,
        summary.events,
        summary.alerts.len(),
        summary.new_alerts
    );
    if summary.unrecognised > 0 {
        eprintln!(
            "warning: {} stored records are not Okta LogEvents (no `eventType` key) and were skipped",
            summary.unrecognised
        );
    }
    if summary.unreadable > 0 {
        eprintln!(
            "warning: {} stored events could not be parsed and were skipped",
            summary.unreadable
        );
    }
    if settings.sinks.is_empty() {
        return Ok(ExitStatus::Success);
    }
    // Whatever a sink does not accept now stays in the outbox for the next run.
    let report = worker.deliver_due(&store).await?;
    eprintln!(
        "Sent {} alert deliveries to {} sinks; {} failed and stay queued for the next run",
        report.delivered,
        settings.sinks.len(),
        report.failed + report.skipped
    );
    Ok(ExitStatus::Success)
}
