//! `idaudit archive`: writes pending System Log events to the Parquet
//! archive and deletes archived events past `keep_days` from the store.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use idaudit_collect::archive::{
    ArchivePolicy, ArchiveReport, ArchiveTarget, S3Location, archive_pending,
};
use serde_json::json;

use crate::args::{ArchiveArgs, Format};
use crate::commands::sync::open_store;
use crate::exit::ExitStatus;
use crate::settings::{ArchiveSection, Settings};

pub async fn run(settings: &Settings, args: &ArchiveArgs) -> Result<ExitStatus> {
    let location = args.to.as_deref().or(settings.archive.location.as_deref());
    let Some(location) = location else {
        bail!(
            "No archive location configured: set `location` in the `[archive]` section of \
             `idaudit.toml` to a folder or `s3://bucket/prefix`, or pass `--to`"
        );
    };
    // A folder given on the command line is relative to the working directory,
    // one in the config file to the config file's folder.
    let config_folder = match args.to {
        Some(_) => None,
        None => settings.config_path.as_deref().and_then(Path::parent),
    };
    let target = open_target(location, &settings.archive, config_folder)?;
    let mut policy = archive_policy(&settings.archive, ArchivePolicy::on_demand());
    if args.keep_days.is_some() {
        policy.keep_days = args.keep_days;
    }

    let mut store = open_store(settings)?;
    let report = archive_pending(&mut store, &target, &policy)
        .await
        .with_context(|| format!("Archiving to {} failed", target.location()))?;
    print_report(&report, target.location(), args.format)?;
    Ok(ExitStatus::Success)
}

/// Opens the archive configured in `[archive]`, or returns `None` when it
/// names no location; for commands that archive as they collect.
pub fn configured_target(settings: &Settings) -> Result<Option<ArchiveTarget>> {
    let Some(location) = settings.archive.location.as_deref() else {
        return Ok(None);
    };
    let config_folder = settings.config_path.as_deref().and_then(Path::parent);
    open_target(location, &settings.archive, config_folder).map(Some)
}

/// Applies the `[archive]` settings to `base`.
pub fn archive_policy(section: &ArchiveSection, base: ArchivePolicy) -> ArchivePolicy {
    ArchivePolicy {
        keep_days: section.keep_days.or(base.keep_days),
        max_events_per_object: section
            .max_events_per_object
            .unwrap_or(base.max_events_per_object),
        ..base
    }
}

/// Opens a folder, or an S3 bucket for an `s3://bucket/prefix` location.
fn open_target(
    location: &str,
    section: &ArchiveSection,
    config_folder: Option<&Path>,
) -> Result<ArchiveTarget> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!(
                "Invalid archive location `{location}`: name a bucket, as in `s3://bucket/prefix`"
            );
        }
        let s3 = S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            region: section.region.clone(),
            endpoint: section.endpoint.clone(),
            credentials: None,
        };
        return Ok(ArchiveTarget::s3(&s3)?);
    }
    if location.contains("://") {
        bail!("Invalid archive location `{location}`: use a folder or `s3://bucket/prefix`");
    }
    let mut folder = PathBuf::from(location);
    if let Some(base) = config_folder
        && folder.is_relative()
    {
        folder = base.join(folder);
    }
    Ok(ArchiveTarget::local(&folder)?)
}

fn print_report(report: &ArchiveReport, location: &str, format: Format) -> Result<()> {
    match format {
        Format::Json => {
            let line = json!({
                "type": "archive",
                "location": location.trim_matches('`'),
                "objects": report.objects,
                "events": report.events,
                "bytes": report.bytes,
                "resumed_objects": report.resumed_objects,
                "relinked_events": report.relinked_events,
                "pruned_events": report.pruned_events,
                "pending_events": report.pending_events,
            });
            println!("{line}");
        }
        Format::Table => {
            eprintln!(
                "Archived {} events in {} objects ({} bytes) to {location}",
                report.events,
                report.objects.len(),
                report.bytes
            );
            if report.resumed_objects > 0 {
                eprintln!(
                    "{} of the objects had been left unconfirmed by an interrupted run and were written again",
                    report.resumed_objects
                );
            }
            if report.relinked_events > 0 {
                eprintln!(
                    "{} events stored again after retention were already archived",
                    report.relinked_events
                );
            }
            if report.pruned_events > 0 {
                eprintln!(
                    "Deleted {} archived events older than `keep_days` from the store",
                    report.pruned_events
                );
            }
            eprintln!("{} events wait to be archived", report.pending_events);
        }
    }
    Ok(())
}
