//! `idaudit sync`: copy the configured org's directory into the store.

use anyhow::{Context, Result};
use idaudit_collect::Progress;
use idaudit_collect::sync::{SyncSummary, full_sync};
use idaudit_okta::Client;
use idaudit_store::Store;

use crate::exit::ExitStatus;
use crate::settings::Settings;

pub async fn run(settings: &Settings, progress: &dyn Progress) -> Result<ExitStatus> {
    let config = settings.org_config()?;
    let client = Client::new(&config)?;
    let mut store = open_store(settings)?;
    let org = config.org_key();
    tracing::info!(org, "Sync started");

    let summary = full_sync(&client, &mut store, &org, progress)
        .await
        .with_context(|| format!("Sync of `{org}` failed"))?;
    eprintln!("{}", describe(&org, &summary));
    Ok(ExitStatus::Success)
}

/// Returns a one-line summary of a sync.
pub fn describe(org: &str, summary: &SyncSummary) -> String {
    let mut text = format!(
        "Synced `{org}`: {} users, {} groups, {} memberships, {} apps, {} app user assignments, \
         {} app group assignments; {} requests, {} rate-limited, {:.1} s",
        summary.users,
        summary.groups,
        summary.memberships,
        summary.apps,
        summary.app_users,
        summary.app_groups,
        summary.requests,
        summary.rate_limited,
        summary.seconds
    );
    if summary.vanished > 0 {
        text.push_str(&format!(
            "; {} objects deleted during the sync were skipped",
            summary.vanished
        ));
    }
    text
}

/// Opens the store named in the settings.
pub fn open_store(settings: &Settings) -> Result<Store> {
    Store::open(&settings.store)
        .with_context(|| format!("Failed to open the store `{}`", settings.store.display()))
}
