//! Detection settings: allow-lists, global and per rule, and the default
//! suppression window.
//!
//! The settings deserialize from TOML or JSON, for example:
//!
//! ```toml
//! suppress_minutes = 60
//! [allow]
//! actors = ["scanner@example.com"]
//! ips = ["203.0.113.0/24"]
//! asns = [64500]
//! service_accounts = ["svc-*@example.com"]
//! [rules.password-spray.allow]
//! ips = ["198.51.100.7"]
//! ```

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::Duration;
use ipnet::IpNet;
use serde::Deserialize;

use crate::event::Event;

/// Events that a rule, or every rule, must not alert on.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowList {
    /// Actor logins (`actor.alternateId`); `*` matches any run of characters.
    pub actors: Vec<String>,
    /// Client IPs or CIDR ranges.
    pub ips: Vec<IpNet>,
    /// Autonomous system numbers of the client IP.
    pub asns: Vec<u64>,
    /// Logins of service accounts, matched like `actors`. Rules about people
    /// skip them as they skip Okta's system actor.
    pub service_accounts: Vec<String>,
}

impl AllowList {
    /// Tells whether the event's actor, IP or ASN is allowed.
    pub fn allows(&self, event: &Event) -> bool {
        if self.actors.is_empty() && self.ips.is_empty() && self.asns.is_empty() {
            return false;
        }
        let actor = event.actor_name();
        if actor.is_some_and(|actor| {
            self.actors
                .iter()
                .any(|pattern| login_matches(pattern, actor))
        }) {
            return true;
        }
        if !self.ips.is_empty()
            && let Some(address) = event.client_ip().and_then(|ip| ip.parse::<IpAddr>().ok())
            && self.ips.iter().any(|network| network.contains(&address))
        {
            return true;
        }
        !self.asns.is_empty()
            && event
                .asn()
                .and_then(|asn| asn.parse::<u64>().ok())
                .is_some_and(|asn| self.asns.contains(&asn))
    }

    /// Tells whether the list allows nothing.
    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
            && self.ips.is_empty()
            && self.asns.is_empty()
            && self.service_accounts.is_empty()
    }

    /// Tells whether the actor is a listed service account.
    pub fn is_service_account(&self, event: &Event) -> bool {
        event.actor_name().is_some_and(|actor| {
            self.service_accounts
                .iter()
                .any(|pattern| login_matches(pattern, actor))
        })
    }
}

/// Settings of one rule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSettings {
    pub allow: AllowList,
    /// Overrides the suppression window, in minutes.
    pub suppress_minutes: Option<i64>,
    /// Turns the rule off.
    pub disabled: bool,
}

/// Settings of a detection run.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Applies to every rule.
    pub allow: AllowList,
    /// Per rule id.
    pub rules: HashMap<String, RuleSettings>,
    /// Window within which further matches for the same rule and entity
    /// update one alert, in minutes.
    pub suppress_minutes: i64,
}

impl Default for Settings {
    /// An hour of suppression: long enough that a noisy source raises one
    /// alert per incident, short enough that a second incident the same day
    /// is seen apart.
    fn default() -> Settings {
        Settings {
            allow: AllowList::default(),
            rules: HashMap::new(),
            suppress_minutes: 60,
        }
    }
}

impl Settings {
    /// Tells whether `rule` must ignore the event: it is allow-listed for
    /// that rule or globally, or the rule is about people and the actor is
    /// Okta's system actor or a service account.
    pub fn skips(&self, rule: &str, people: bool, event: &Event) -> bool {
        if self.rules.is_empty() && self.allow.is_empty() {
            return people && event.actor_is_system();
        }
        let own = self.rules.get(rule);
        if self.allow.allows(event) || own.is_some_and(|own| own.allow.allows(event)) {
            return true;
        }
        people
            && (event.actor_is_system()
                || self.allow.is_service_account(event)
                || own.is_some_and(|own| own.allow.is_service_account(event)))
    }

    pub fn is_disabled(&self, rule: &str) -> bool {
        self.rules.get(rule).is_some_and(|own| own.disabled)
    }

    /// Returns the suppression window of `rule`, given the rule's own default.
    pub fn suppression(&self, rule: &str, rule_default: Option<Duration>) -> Duration {
        self.rules
            .get(rule)
            .and_then(|own| own.suppress_minutes)
            .map(Duration::minutes)
            .or(rule_default)
            .unwrap_or_else(|| Duration::minutes(self.suppress_minutes))
    }
}

/// Matches a login against a pattern where `*` is any run of characters,
/// without regard to ASCII case.
fn login_matches(pattern: &str, login: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let login = login.to_ascii_lowercase();
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = login.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}
