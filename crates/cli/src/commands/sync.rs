//! `idaudit sync`: copy the configured org's directory into the store, full
//! or incremental, and record how its entitlements changed.

use anyhow::{Context, Result, bail};
use chrono::Utc;
use idaudit_collect::Progress;
use idaudit_collect::sync::{SyncOptions, SyncSummary, sync};
use idaudit_okta::{Client, OrgConfig};
use idaudit_store::Store;

use crate::args::SyncArgs;
use crate::exit::ExitStatus;
use crate::settings::Settings;
use crate::time::parse_time;

/// The scope that reading admin role assignments needs.
const ROLES_SCOPE: &str = "okta.roles.read";

pub async fn run(
    settings: &Settings,
    args: &SyncArgs,
    progress: &dyn Progress,
) -> Result<ExitStatus> {
    let options = SyncOptions {
        force_full: args.full,
        reconcile_after: parse_interval(&args.reconcile_after)?,
        ..SyncOptions::default()
    };
    let config = sync_config(settings)?;
    let client = Client::new(&config)?;
    let mut store = open_store(settings)?;
    let org = config.org_key();
    tracing::info!(org, "Sync started");

    let summary = sync(&client, &mut store, &org, &options, progress)
        .await
        .with_context(|| format!("Sync of `{org}` failed"))?;
    eprintln!("{}", describe(&org, &summary));
    Ok(ExitStatus::Success)
}

/// Builds the client config for a sync, asking for `okta.roles.read` as an
/// optional scope when no scopes are configured, so that a service app
/// without it still syncs everything else.
pub fn sync_config(settings: &Settings) -> Result<OrgConfig> {
    let mut config = settings.org_config()?;
    let configured = !settings.okta.scopes.is_empty() || settings.okta.sdk.scopes.is_some();
    if !configured && !config.scopes.iter().any(|scope| scope == ROLES_SCOPE) {
        config.optional_scopes.push(ROLES_SCOPE.to_string());
    }
    Ok(config)
}

/// Parses a duration such as `7d` or `36h` into a positive interval.
fn parse_interval(text: &str) -> Result<chrono::Duration> {
    let now = Utc::now();
    let interval = now - parse_time(text, now)?;
    if interval <= chrono::Duration::zero() {
        bail!("Invalid `--reconcile-after` `{text}`: use a positive duration such as `7d`");
    }
    Ok(interval)
}

/// Returns a one-line summary of a sync.
pub fn describe(org: &str, summary: &SyncSummary) -> String {
    let mut text = format!(
        "Synced `{org}` ({} sync, {}): {} users, {} groups, {} memberships, {} apps, \
         {} app user assignments, {} app group assignments, {} admin roles, {} factors, \
         {} group rules, {} group owners; {} changes",
        summary.kind,
        summary.reason,
        summary.users,
        summary.groups,
        summary.memberships,
        summary.apps,
        summary.app_users,
        summary.app_groups,
        summary.role_assignments,
        summary.factors,
        summary.group_rules,
        summary.group_owners,
        summary.changes,
    );
    if summary.kind == "incremental" {
        text.push_str(&format!(
            " from {} events and {} objects read again",
            summary.events, summary.refreshed
        ));
    }
    text.push_str(&format!(
        "; {} requests, {} rate-limited, {:.1} s",
        summary.requests, summary.rate_limited, summary.seconds
    ));
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
