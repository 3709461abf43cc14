//! `new-country-for-user`, `new-asn-for-user` and `new-device-for-user`: a
//! successful sign-in from a country, network (ASN) or device the user has
//! not used before.
//!
//! Sigma cannot keep a per-user history, so these rules are native. Each
//! user's baseline is learnt from their successful `user.session.start`
//! events. A value is alerted on only once the user's baseline is older than
//! `learning` and contains at least `min_sign_ins` sign-ins, so new users and
//! the first weeks of data do not raise alerts for everything.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{Alert, AlertStatus};
use serde_json::json;

use super::Rule;
use crate::alert_id;
use crate::event::Event;

/// The sign-in attribute a baseline is kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    Country,
    Asn,
    /// The operating system and browser Okta parsed from the user agent.
    Device,
}

impl Attribute {
    fn rule_id(self) -> &'static str {
        match self {
            Attribute::Country => "new-country-for-user",
            Attribute::Asn => "new-asn-for-user",
            Attribute::Device => "new-device-for-user",
        }
    }

    fn read(self, event: &Event) -> Option<String> {
        match self {
            Attribute::Country => event.country().map(str::to_string),
            Attribute::Asn => event.asn(),
            Attribute::Device => {
                let os = event.text("client.userAgent.os")?;
                let browser = event.text("client.userAgent.browser").unwrap_or("UNKNOWN");
                Some(format!("{os} / {browser}"))
            }
        }
    }
}

struct Baseline {
    since: DateTime<Utc>,
    sign_ins: u64,
    seen: HashSet<String>,
}

pub struct FirstSeen {
    attribute: Attribute,
    learning: Duration,
    min_sign_ins: u64,
    users: HashMap<String, Baseline>,
}

impl FirstSeen {
    /// Fourteen days and ten sign-ins of learning: two working weeks cover
    /// a user's usual places and devices, including weekly travel.
    pub fn new(attribute: Attribute) -> FirstSeen {
        FirstSeen {
            attribute,
            learning: Duration::days(14),
            min_sign_ins: 10,
            users: HashMap::new(),
        }
    }
}

impl Rule for FirstSeen {
    fn id(&self) -> &str {
        self.attribute.rule_id()
    }

    fn fields(&self) -> Option<Vec<String>> {
        Some(vec![
            "client.userAgent.os".to_string(),
            "client.userAgent.browser".to_string(),
        ])
    }

    fn is_about_people(&self) -> bool {
        true
    }

    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        if event.event_type != "user.session.start" || !event.outcome_is("SUCCESS") {
            return;
        }
        let (Some(time), Some(user), Some(value)) = (
            event.published,
            event.actor_name(),
            self.attribute.read(event),
        ) else {
            return;
        };
        let user = user.to_ascii_lowercase();
        let baseline = self.users.entry(user.clone()).or_insert_with(|| Baseline {
            since: time,
            sign_ins: 0,
            seen: HashSet::new(),
        });
        let learnt =
            time - baseline.since >= self.learning && baseline.sign_ins >= self.min_sign_ins;
        baseline.sign_ins += 1;
        if !baseline.seen.insert(value.clone()) || !learnt {
            return;
        }
        let known = baseline.seen.len() - 1;
        let rule = self.attribute.rule_id();
        let stamp = idaudit_store::format_time(time);
        alerts.push(Alert {
            id: alert_id(rule, &user, &event.uuid),
            rule: rule.to_string(),
            severity: "medium".to_string(),
            title: format!("First sign-in of {user} from `{value}`"),
            user: Some(user),
            ip: event.client_ip().map(str::to_string),
            first_seen: stamp.clone(),
            last_seen: stamp,
            count: 1,
            evidence: vec![event.uuid.clone()],
            details: json!({
                "value": value,
                "knownValues": known,
                "techniques": ["T1078.004"],
            }),
            status: AlertStatus::Open,
        });
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}
