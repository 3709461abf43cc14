//! `admin-privilege-grant`: an admin role granted to a user or a group.
//!
//! Okta logs `user.account.privilege.grant` with the user as a `User`
//! target and the roles in `debugData.privilegeGranted`, and
//! `group.privilege.grant` for a role given to a group. Every successful
//! grant is worth a look; a super-admin grant is critical.

use idaudit_store::{Alert, AlertStatus};
use serde_json::json;

use super::Rule;
use crate::alert_id;
use crate::event::Event;

pub const RULE_ID: &str = "admin-privilege-grant";

const GRANT_EVENTS: &[&str] = &["user.account.privilege.grant", "group.privilege.grant"];

pub struct PrivilegeGrant;

impl Rule for PrivilegeGrant {
    fn id(&self) -> &'static str {
        RULE_ID
    }

    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        if !GRANT_EVENTS.contains(&event.event_type.as_str()) || !event.outcome_is("SUCCESS") {
            return;
        }
        let Some(published) = event.published else {
            return;
        };
        let grantee = event
            .target_of_type("User")
            .or_else(|| event.target_of_type("UserGroup"))
            .and_then(|target| target.name())
            .unwrap_or("unknown")
            .to_string();
        let privilege = event
            .debug_text("privilegeGranted")
            .unwrap_or_else(|| "an admin role".to_string());
        let actor = event
            .actor
            .as_ref()
            .and_then(|actor| actor.name())
            .unwrap_or("unknown");
        let severity = if privilege.to_ascii_lowercase().contains("super") {
            "critical"
        } else {
            "high"
        };
        let time = idaudit_store::format_time(published);

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
                "actorType": event.actor.as_ref().and_then(|actor| actor.entity_type.clone()),
                "eventType": event.event_type,
            }),
            status: AlertStatus::Open,
        });
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}
