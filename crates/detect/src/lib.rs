//! Detection over stored System Log events.
//!
//! [`detect`] reads events from the store in `published` order, runs each
//! rule over them, and stores the alerts. An alert's id is derived from its
//! rule, its entity and its first evidence event, so running detection again
//! over the same events refreshes alerts instead of duplicating them.

mod event;
pub mod rules;

use idaudit_store::{Alert, Store, Upserted};
use sha2::{Digest, Sha256};

pub use event::Event;
pub use rules::Rule;

/// Counts and alerts of one detection run.
#[derive(Clone, Debug, Default)]
pub struct DetectSummary {
    pub events: u64,
    /// Stored events that could not be parsed as JSON.
    pub unreadable: u64,
    pub alerts: Vec<Alert>,
    pub new_alerts: u64,
}

/// Runs `rules` over the stored events published in `[since, until)` and
/// stores the alerts they raise.
pub fn detect(
    store: &Store,
    rules: &mut [Box<dyn Rule>],
    since: Option<&str>,
    until: Option<&str>,
) -> Result<DetectSummary, idaudit_store::Error> {
    let mut summary = DetectSummary::default();
    let mut alerts = Vec::new();
    summary.events = store.for_each_event(since, until, |stored| {
        let Some(event) = Event::parse(&stored.raw) else {
            summary.unreadable += 1;
            return;
        };
        for rule in rules.iter_mut() {
            rule.observe(&event, &mut alerts);
        }
    })?;
    for rule in rules.iter_mut() {
        rule.finish(&mut alerts);
    }

    for alert in &alerts {
        if store.upsert_alert(alert)? == Upserted::New {
            summary.new_alerts += 1;
        }
    }
    alerts.sort_by(|left, right| (&left.first_seen, &left.id).cmp(&(&right.first_seen, &right.id)));
    summary.alerts = alerts;
    Ok(summary)
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
