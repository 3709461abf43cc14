//! `mfa-reset-not-reenrolled`: a user's MFA factors were reset or
//! deactivated and no factor was enrolled again within `grace`.
//!
//! Sigma cannot express the absence of a later event, so this rule is
//! native. A pending reset is alerted on once an event published more than
//! `grace` after it arrives, so events fed one at a time and a batch raise
//! the same alerts, and a reset too recent to judge raises nothing yet.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{Alert, AlertStatus};
use serde_json::json;

use super::Rule;
use crate::alert_id;
use crate::event::{Event, entity_name};

pub const RULE_ID: &str = "mfa-reset-not-reenrolled";

const RESET_EVENTS: &[&str] = &["user.mfa.factor.reset_all", "user.mfa.factor.deactivate"];

const ENROLMENT_EVENT: &str = "user.mfa.factor.activate";

struct Pending {
    time: DateTime<Utc>,
    uuid: String,
    actor: Option<String>,
    ip: Option<String>,
    event_type: String,
}

pub struct MfaReset {
    grace: Duration,
    /// Pending resets by user.
    pending: BTreeMap<String, Pending>,
}

impl Default for MfaReset {
    /// A day of grace: a help-desk reset is followed by enrolment at the
    /// user's next sign-in, normally the same working day.
    fn default() -> MfaReset {
        MfaReset {
            grace: Duration::hours(24),
            pending: BTreeMap::new(),
        }
    }
}

impl MfaReset {
    fn expire(&mut self, now: DateTime<Utc>, alerts: &mut Vec<Alert>) {
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, pending)| now - pending.time > self.grace)
            .map(|(user, _)| user.clone())
            .collect();
        for user in due {
            if let Some(pending) = self.pending.remove(&user) {
                alerts.push(reset_alert(&user, &pending, self.grace));
            }
        }
    }
}

impl Rule for MfaReset {
    fn id(&self) -> &str {
        RULE_ID
    }

    fn fields(&self) -> Option<Vec<String>> {
        Some(Vec::new())
    }

    fn event_types_read(&self) -> Vec<String> {
        super::owned(RESET_EVENTS)
            .into_iter()
            .chain(super::owned(&[ENROLMENT_EVENT]))
            .collect()
    }

    fn fields_for(&self, event_type: Option<&str>) -> Option<Vec<String>> {
        let mut types = RESET_EVENTS.to_vec();
        types.push(ENROLMENT_EVENT);
        super::fields_on(event_type, &types, super::TARGET_FIELDS)
    }

    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        let Some(time) = event.published else {
            return;
        };
        if !self.pending.is_empty() {
            self.expire(time, alerts);
        }
        let is_reset = RESET_EVENTS.contains(&event.event_type.as_str());
        let is_enrolment = event.event_type == ENROLMENT_EVENT;
        if !(is_reset || is_enrolment) || !event.outcome_is("SUCCESS") {
            return;
        }
        let user = event
            .target_of_type("User")
            .and_then(entity_name)
            .or_else(|| event.actor_name())
            .map(str::to_ascii_lowercase);
        let Some(user) = user else {
            return;
        };
        if is_enrolment {
            self.pending.remove(&user);
            return;
        }
        self.pending.entry(user).or_insert(Pending {
            time,
            uuid: event.uuid.clone(),
            actor: event.actor_name().map(str::to_string),
            ip: event.client_ip().map(str::to_string),
            event_type: event.event_type.clone(),
        });
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}

fn reset_alert(user: &str, pending: &Pending, grace: Duration) -> Alert {
    let stamp = idaudit_store::format_time(pending.time);
    Alert {
        id: alert_id(RULE_ID, user, &pending.uuid),
        rule: RULE_ID.to_string(),
        severity: "medium".to_string(),
        title: format!(
            "MFA of {user} reset and not enrolled again within {} hours",
            grace.num_hours()
        ),
        user: Some(user.to_string()),
        ip: pending.ip.clone(),
        first_seen: stamp.clone(),
        last_seen: stamp,
        count: 1,
        evidence: vec![pending.uuid.clone()],
        details: json!({
            "actor": pending.actor,
            "eventType": pending.event_type,
            "graceHours": grace.num_hours(),
            "techniques": ["T1556.006"],
        }),
        status: AlertStatus::Open,
    }
}
