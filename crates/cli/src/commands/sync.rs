//! `idaudit sync`: copy the directory of each configured org into the store,
//! full or incremental, and record how its entitlements changed. Each org is
//! stored under its own key; a failure of one org is reported and the others
//! still sync.

use anyhow::{Context, Result, bail};
use chrono::Utc;
use idaudit_collect::Progress;
use idaudit_collect::sync::{SyncOptions, SyncSummary, sync};
use idaudit_okta::{Client, OrgConfig};
use idaudit_store::Store;

use crate::args::SyncArgs;
use crate::exit::ExitStatus;
use crate::settings::{OktaSection, Settings};
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
    let orgs = settings.select_orgs(args.org.as_deref())?;
    if orgs.is_empty() {
        // Explains what to configure.
        settings.org_config()?;
    }
    let mut store = open_store(settings)?;

    let mut failed = 0;
    let mut summaries = Vec::new();
    for org in &orgs {
        match sync_org(org, &mut store, &options, progress).await {
            Ok(summary) => {
                eprintln!("{}", describe(&org.label(), &summary));
                summaries.push((org.label(), summary));
            }
            Err(error) => {
                failed += 1;
                crate::print_error(&error);
            }
        }
    }
    if orgs.len() > 1 {
        eprintln!("{}", describe_total(&summaries, orgs.len()));
    }
    Ok(match (failed, summaries.len()) {
        (0, _) => ExitStatus::Success,
        (_, 0) => ExitStatus::Failure,
        _ => ExitStatus::Partial,
    })
}

/// Syncs one configured org into the store, under its store key.
async fn sync_org(
    org: &OktaSection,
    store: &mut Store,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> Result<SyncSummary> {
    let label = org.label();
    let config =
        sync_config_of(org).with_context(|| format!("Invalid settings of org `{label}`"))?;
    let client = Client::new(&config)?;
    let key = config.org_key();
    tracing::info!(org = label, key, "Sync started");
    let progress = OrgProgress {
        org: &label,
        inner: progress,
    };
    sync(&client, store, &key, options, &progress)
        .await
        .with_context(|| format!("Sync of `{label}` failed"))
}

/// Progress that names the org in each phase, so that the phases of several
/// orgs can be told apart.
struct OrgProgress<'a> {
    org: &'a str,
    inner: &'a dyn Progress,
}

impl Progress for OrgProgress<'_> {
    fn start_phase(&self, name: &str, total: Option<u64>) {
        self.inner
            .start_phase(&format!("{}: {name}", self.org), total);
    }

    fn advance(&self, count: u64) {
        self.inner.advance(count);
    }

    fn finish_phase(&self) {
        self.inner.finish_phase();
    }
}

/// Builds the client config for a sync of the only configured org.
pub fn sync_config(settings: &Settings) -> Result<OrgConfig> {
    sync_config_of(settings.single_org()?)
}

/// Builds the client config for a sync, asking for `okta.roles.read` as an
/// optional scope when no scopes are configured, so that a service app
/// without it still syncs everything else.
pub fn sync_config_of(org: &OktaSection) -> Result<OrgConfig> {
    let mut config = org.org_config()?;
    let configured = org.configured_scopes().is_some();
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

/// Returns the totals of a sync of several orgs, of which `summaries`
/// holds those that succeeded.
fn describe_total(summaries: &[(String, SyncSummary)], orgs: usize) -> String {
    let sum = |field: fn(&SyncSummary) -> u64| -> u64 {
        summaries.iter().map(|(_, summary)| field(summary)).sum()
    };
    let seconds: f64 = summaries.iter().map(|(_, summary)| summary.seconds).sum();
    format!(
        "Synced {} of {orgs} orgs: {} users, {} groups, {} apps; {} changes; {} requests, {} rate-limited, {seconds:.1} s",
        summaries.len(),
        sum(|summary| summary.users),
        sum(|summary| summary.groups),
        sum(|summary| summary.apps),
        sum(|summary| summary.changes),
        sum(|summary| summary.requests),
        sum(|summary| summary.rate_limited),
    )
}

/// Opens the store named in the settings, creating it if it does not exist.
pub fn open_store(settings: &Settings) -> Result<Store> {
    Store::open(&settings.store)
        .with_context(|| format!("Failed to open the store `{}`", settings.store.display()))
}

/// Opens the store named in the settings for a command that reads what others wrote.
/// A missing file is an error rather than a new empty store, so a mistyped `--store`
/// does not look like an org with no data.
pub fn open_existing_store(settings: &Settings) -> Result<Store> {
    if !settings.store.exists() {
        anyhow::bail!(
            "no store at `{}`: run `idaudit sync` or `idaudit logs follow` first, or name \
             the store with `--store` or `store =` in the config file",
            settings.store.display()
        );
    }
    open_store(settings)
}
