//! Detection over Okta System Log events.
//!
//! Rules come in two kinds. Sigma rules (detection and correlation, see
//! [`sigma`]) are evaluated directly on the raw camelCase LogEvents; the
//! built-in pack is embedded in the binary and users may add folders of
//! their own. Native rules ([`rules`]) cover what Sigma cannot express:
//! impossible travel, first-seen country, ASN or device against a learnt
//! baseline, a reset MFA factor that is never enrolled again, and the two
//! original rules.
//!
//! A [`Detector`] runs a rule set over events in `published` order. It
//! works the same whether events arrive one by one (streaming), in small
//! batches ([`Detector::observe_batch`]) or as a stored batch
//! ([`detect`]). Every rule reports an alert as soon as it matches and
//! re-reports it, under the same id, as it grows. An alert's id is
//! derived from its rule, its entity and its first evidence event, so
//! running detection again refreshes alerts instead of duplicating them.
//!
//! State expires with event time, not with the calls that deliver events:
//! correlation groups and native windows are dropped once no later event
//! can count with them, first-seen baselines and known admins after 90
//! idle days, and suppression entries a week after their window. Memory
//! therefore follows recent activity over a long streaming run, and the
//! way a stream is cut into batches cannot change the alerts.
//!
//! # Why not an existing Sigma crate
//!
//! Checked with rustc 1.95 and this workspace's `rust-version` of 1.88:
//!
//! - `sigma-rust` 0.7.0 evaluates detection rules only; its source has no
//!   correlation support.
//! - `rsigma-eval` evaluates both. Versions from 0.23 declare
//!   `rust-version = "1.95"`, and those from 0.20 up depend, through
//!   `rsigma-parser`, on `yamlpatch` and `tree-sitter-iter` 1.30 or later,
//!   which require rustc 1.97, so they do not build here. Version 0.12
//!   builds, but a selection on `target.type` does not match when `target`
//!   is an array, as it always is in a LogEvent.
//!
//! The SigmaHQ Okta rules also spell fields in lower case (`eventtype`,
//! `debugcontext.debugdata.behaviors`), so field names here match keys
//! without regard to case; an event must still carry Okta's exact
//! `eventType` key to be evaluated at all.

pub mod delivery;
mod event;
mod node;
mod projection;
pub mod rules;
mod ruleset;
mod settings;
pub mod sigma;
pub mod sinks;
mod suppress;

use idaudit_store::{Alert, Store, Upserted};
use sha2::{Digest, Sha256};

pub use delivery::{DeliveryReport, DeliveryWorker, RetryPolicy};
pub use event::{Event, SYSTEM_ACTOR, Unrecognised, entity_name};
pub use node::Node;
pub use rules::Rule;
pub use ruleset::{Detector, LoadError, RuleInfo, RuleSet, TestError, TestOutcome, test_rule};
pub use settings::{AllowList, RuleSettings, Settings};
pub use sinks::{Sink, SinkConfig, SinkConfigError, SinkKind, build_sinks};

/// Evidence uuids kept per alert; the count still covers every match.
pub const MAX_EVIDENCE: usize = 200;

/// Counts and alerts of one detection run.
#[derive(Clone, Debug, Default)]
pub struct DetectSummary {
    pub events: u64,
    /// Stored events that could not be parsed as JSON.
    pub unreadable: u64,
    /// JSON records without Okta's `eventType` key, such as
    /// Panther-normalised events with lower-cased keys.
    pub unrecognised: u64,
    pub alerts: Vec<Alert>,
    pub new_alerts: u64,
    /// Alert revisions queued in the outbox, one row per sink each.
    pub queued: u64,
}

/// Runs `rules` over the stored events published in `[since, until)` with
/// default settings and stores the alerts they raise.
pub fn detect(
    store: &Store,
    rules: &mut [Box<dyn Rule>],
    since: Option<&str>,
    until: Option<&str>,
) -> Result<DetectSummary, idaudit_store::Error> {
    let settings = Settings::default();
    let mut suppressor = suppress::Suppressor::default();
    let projection = projection::Projections::for_rules(rules);
    let mut runner = ruleset::Runner {
        rules,
        settings: &settings,
        suppressor: &mut suppressor,
        projection: &projection,
    };
    run_stored(store, &mut runner, since, until, &[])
}

/// Runs a [`Detector`] over the stored events published in `[since, until)`
/// and stores the alerts it raises.
pub fn detect_with(
    store: &Store,
    detector: &mut Detector,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<DetectSummary, idaudit_store::Error> {
    run_stored(store, &mut detector.runner(), since, until, &[])
}

/// Runs a [`Detector`] like [`detect_with`] and, in the transaction that
/// stores each new or changed alert, queues its delivery to every sink in
/// `sinks` (names from [`DeliveryWorker::sink_names`]).
pub fn detect_and_queue(
    store: &Store,
    detector: &mut Detector,
    since: Option<&str>,
    until: Option<&str>,
    sinks: &[String],
) -> Result<DetectSummary, idaudit_store::Error> {
    run_stored(store, &mut detector.runner(), since, until, sinks)
}

fn run_stored(
    store: &Store,
    runner: &mut ruleset::Runner<'_>,
    since: Option<&str>,
    until: Option<&str>,
    sinks: &[String],
) -> Result<DetectSummary, idaudit_store::Error> {
    let mut summary = DetectSummary::default();
    let mut alerts = Vec::new();
    // One event parsed into again and again, which saves most allocations.
    let mut event = Event::default();
    summary.events = store.for_each_event(since, until, |stored| {
        match runner.parse_into(&stored.raw, &mut event) {
            Ok(()) => runner.observe(&event, &mut alerts),
            Err(Unrecognised::NotJson) => summary.unreadable += 1,
            Err(Unrecognised::NotLogEvent) => summary.unrecognised += 1,
        }
    })?;
    runner.finish(&mut alerts);

    let mut alerts = latest_by_id(alerts);
    for alert in &alerts {
        let upserted = if sinks.is_empty() {
            store.upsert_alert(alert)?
        } else {
            let stored = store.upsert_alert_and_queue(alert, sinks)?;
            summary.queued += u64::from(stored.queued);
            stored.upserted
        };
        if upserted == Upserted::New {
            summary.new_alerts += 1;
        }
    }
    alerts.sort_by(|left, right| (&left.first_seen, &left.id).cmp(&(&right.first_seen, &right.id)));
    summary.alerts = alerts;
    Ok(summary)
}

/// Keeps the last version of each alert id, in order of first report.
pub fn latest_by_id(alerts: Vec<Alert>) -> Vec<Alert> {
    let mut positions = std::collections::HashMap::new();
    let mut latest: Vec<Alert> = Vec::new();
    for alert in alerts {
        match positions.get(&alert.id) {
            Some(&position) => latest[position] = alert,
            None => {
                positions.insert(alert.id.clone(), latest.len());
                latest.push(alert);
            }
        }
    }
    latest
}

/// Derives a stable alert id from the rule, the entity and the first evidence event.
pub fn alert_id(rule: &str, entity: &str, first_uuid: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [rule, entity, first_uuid] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
