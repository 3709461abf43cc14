//! `admin-privilege-grant`: an admin role granted to a user or a group.
//!
//! Okta logs `user.account.privilege.grant` with the user as a `User`
//! target and the roles in `debugData.privilegeGranted`, and
//! `group.privilege.grant` for a role given to a group. Every successful
//! grant is worth a look, so it is `high`. It is `critical` when the role
//! is super administrator, when the actor is a person never seen doing an
//! admin change before (`firstAdminAction`), or when the actor's account had
//! failed sign-ins in the day before (`actorRecentFailures`), as happens
//! when a guessed password is used to grant a role.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{Alert, AlertStatus};
use serde_json::json;

use super::Rule;
use crate::alert_id;
use crate::event::{Event, entity_name};

pub const RULE_ID: &str = "admin-privilege-grant";

const GRANT_EVENTS: &[&str] = &["user.account.privilege.grant", "group.privilege.grant"];

/// Failed sign-ins of the actor in the day before a grant that make it critical.
const RECENT_FAILURES: usize = 3;

/// Event type prefixes that only an administrator can cause.
const ADMIN_PREFIXES: &[&str] = &[
    "user.lifecycle.",
    "group.",
    "application.",
    "policy.",
    "zone.",
    "system.",
    "iam.",
    "user.account.privilege.",
];

/// How long an actor's admin changes are remembered. An actor whose last
/// admin change is older counts as making a first admin change again, which
/// bounds the memory of a long run to the admins of one quarter.
const FORGET_ADMINS_AFTER_DAYS: i64 = 90;

#[derive(Default)]
pub struct PrivilegeGrant {
    /// Actors seen making an admin change, with the time of the last one.
    admins: HashMap<String, DateTime<Utc>>,
    /// Recent failed sign-in times per account.
    failures: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// Event time of the last removal of old failures and idle admins.
    swept: Option<DateTime<Utc>>,
}

impl PrivilegeGrant {
    fn remember(&mut self, event: &Event, time: DateTime<Utc>) {
        if super::sweep_due(&mut self.swept, time, Duration::hours(1)) {
            self.forget(time);
        }
        let failed_sign_in =
            event.event_type == "user.session.start" && event.outcome_is("FAILURE");
        let admin_change = !failed_sign_in
            && ADMIN_PREFIXES
                .iter()
                .any(|prefix| event.event_type.starts_with(prefix))
            && !GRANT_EVENTS.contains(&event.event_type.as_str());
        if !(failed_sign_in || admin_change) {
            return;
        }
        let Some(actor) = event.actor_name().map(str::to_ascii_lowercase) else {
            return;
        };
        if failed_sign_in {
            let times = self.failures.entry(actor).or_default();
            times.push_back(time);
            while times
                .front()
                .is_some_and(|oldest| time - *oldest > Duration::days(1))
            {
                times.pop_front();
            }
        } else {
            self.admins.insert(actor, time);
        }
    }

    /// Drops failures older than a day and admins idle for
    /// [`FORGET_ADMINS_AFTER_DAYS`].
    fn forget(&mut self, now: DateTime<Utc>) {
        self.failures.retain(|_, times| {
            times.retain(|failed| now - *failed <= Duration::days(1));
            !times.is_empty()
        });
        let horizon = Duration::days(FORGET_ADMINS_AFTER_DAYS);
        self.admins.retain(|_, last| now - *last <= horizon);
    }

    fn recent_failures(&self, actor: &str, time: DateTime<Utc>) -> usize {
        self.failures.get(actor).map_or(0, |times| {
            times
                .iter()
                .filter(|failed| time - **failed <= Duration::days(1))
                .count()
        })
    }
}

impl Rule for PrivilegeGrant {
    fn id(&self) -> &str {
        RULE_ID
    }

    fn fields(&self) -> Option<Vec<String>> {
        Some(vec!["debugContext.debugData.privilegeGranted".to_string()])
    }

    fn event_types_read(&self) -> Vec<String> {
        super::owned(GRANT_EVENTS)
    }

    fn fields_for(&self, event_type: Option<&str>) -> Option<Vec<String>> {
        let mut fields = super::TARGET_FIELDS.to_vec();
        fields.push("debugContext.debugData.privilegeGranted");
        super::fields_on(event_type, GRANT_EVENTS, &fields)
    }

    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        let Some(published) = event.published else {
            return;
        };
        if !GRANT_EVENTS.contains(&event.event_type.as_str()) || !event.outcome_is("SUCCESS") {
            self.remember(event, published);
            return;
        }
        let grantee = event
            .target_of_type("User")
            .or_else(|| event.target_of_type("UserGroup"))
            .and_then(entity_name)
            .unwrap_or("unknown")
            .to_string();
        let privilege = event
            .debug_text("privilegeGranted")
            .unwrap_or_else(|| "an admin role".to_string());
        let actor = event.actor_name().unwrap_or("unknown").to_string();
        let actor_key = actor.to_ascii_lowercase();
        let super_admin = privilege.to_ascii_lowercase().contains("super");
        let first_admin_action = !event.actor_is_system() && !self.admins.contains_key(&actor_key);
        let recent_failures = self.recent_failures(&actor_key, published);
        let severity = if super_admin || first_admin_action || recent_failures >= RECENT_FAILURES {
            "critical"
        } else {
            "high"
        };
        let time = idaudit_store::format_time(published);
        self.admins.insert(actor_key, published);

        alerts.push(Alert {
            id: alert_id(RULE_ID, &grantee, &event.uuid),
            rule: RULE_ID.to_string(),
            severity: severity.to_string(),
            title: format!("Admin privilege granted to {grantee}: {privilege}"),
            user: Some(grantee.clone()),
            ip: event.client_ip().map(str::to_string),
            first_seen: time.clone(),
            last_seen: time,
            count: 1,
            evidence: vec![event.uuid.clone()],
            details: json!({
                "grantee": grantee,
                "privilege": privilege,
                "actor": actor,
                "actorType": event.actor_type(),
                "eventType": event.event_type,
                "firstAdminAction": first_admin_action,
                "actorRecentFailures": recent_failures,
                "techniques": ["T1098.003"],
            }),
            status: AlertStatus::Open,
        });
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}
