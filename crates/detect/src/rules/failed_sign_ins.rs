//! `failed-sign-ins-per-user`: many failed sign-ins for one account.
//!
//! Counts `user.session.start` events with outcome FAILURE per account (the
//! actor's alternate id, which for a failed sign-in is the login that was
//! tried). When `threshold` failures fall within `window`, a burst starts.
//! The burst grows while failures keep coming less than `window` apart. It
//! raises one alert naming the account and the source IP with the most
//! failures when it starts, and updates that alert as it grows, so events
//! fed one at a time raise the same alert as a batch.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{Alert, AlertStatus};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::Rule;
use crate::event::Event;
use crate::{MAX_EVIDENCE, alert_id};

pub const RULE_ID: &str = "failed-sign-ins-per-user";

/// One failed sign-in.
#[derive(Clone, Debug)]
struct Failure {
    time: DateTime<Utc>,
    uuid: String,
    ip: Option<String>,
}

#[derive(Default)]
struct Account {
    /// Failures within the last window, before a burst is confirmed.
    recent: VecDeque<Failure>,
    /// The failures of a confirmed burst.
    burst: Vec<Failure>,
}

impl Account {
    /// Tells whether every failure held is more than `window` before
    /// `now`, so that the next failure would find the same state in a new
    /// account.
    fn is_stale(&self, now: DateTime<Utc>, window: Duration) -> bool {
        self.recent
            .iter()
            .chain(&self.burst)
            .all(|failure| now - failure.time > window)
    }
}

pub struct FailedSignIns {
    threshold: usize,
    window: Duration,
    accounts: FxHashMap<Box<str>, Account>,
    /// Event time of the last removal of stale accounts.
    swept: Option<DateTime<Utc>>,
}

impl Default for FailedSignIns {
    /// Five failures in ten minutes: above what a person mistyping a password
    /// produces before Okta's default lockout of ten attempts, and well below
    /// what a guessing tool sends.
    fn default() -> FailedSignIns {
        FailedSignIns::new(5, Duration::minutes(10))
    }
}

impl FailedSignIns {
    pub fn new(threshold: usize, window: Duration) -> FailedSignIns {
        FailedSignIns {
            threshold: threshold.max(1),
            window,
            accounts: FxHashMap::default(),
            swept: None,
        }
    }

    fn burst_alert(&self, account_name: &str, burst: &[Failure]) -> Alert {
        let mut per_ip: BTreeMap<&str, u64> = BTreeMap::new();
        for failure in burst {
            *per_ip
                .entry(failure.ip.as_deref().unwrap_or("unknown"))
                .or_default() += 1;
        }
        // The most frequent IP wins; ties go to the IP seen last.
        let last_ip = burst.last().and_then(|failure| failure.ip.as_deref());
        let source_ip = per_ip
            .iter()
            .max_by_key(|(ip, count)| (**count, Some(**ip) == last_ip))
            .map(|(ip, _)| ip.to_string());
        let (first, last) = (&burst[0], &burst[burst.len() - 1]);

        Alert {
            id: alert_id(RULE_ID, account_name, &first.uuid),
            rule: RULE_ID.to_string(),
            severity: "medium".to_string(),
            title: format!(
                "{} failed sign-ins for {account_name}, {} from {}",
                burst.len(),
                if per_ip.len() == 1 { "all" } else { "most" },
                source_ip.as_deref().unwrap_or("an unknown IP")
            ),
            user: Some(account_name.to_string()),
            ip: source_ip,
            first_seen: idaudit_store::format_time(first.time),
            last_seen: idaudit_store::format_time(last.time),
            count: burst.len() as u64,
            evidence: burst
                .iter()
                .take(MAX_EVIDENCE)
                .map(|failure| failure.uuid.clone())
                .collect(),
            details: json!({
                "failuresPerIp": per_ip,
                "threshold": self.threshold,
                "windowMinutes": self.window.num_minutes(),
            }),
            status: AlertStatus::Open,
        }
    }
}

impl Rule for FailedSignIns {
    fn id(&self) -> &str {
        RULE_ID
    }

    fn fields(&self) -> Option<Vec<String>> {
        Some(Vec::new())
    }

    fn fields_for(&self, _event_type: Option<&str>) -> Option<Vec<String>> {
        Some(Vec::new())
    }

    fn is_about_people(&self) -> bool {
        true
    }

    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        if event.event_type != "user.session.start" || !event.outcome_is("FAILURE") {
            return;
        }
        let (Some(time), Some(name)) = (event.published, event.actor_name()) else {
            return;
        };
        let name = super::lower(name);
        let failure = Failure {
            time,
            uuid: event.uuid.clone(),
            ip: event.client_ip().map(str::to_string),
        };
        let (window, threshold) = (self.window, self.threshold);
        if super::sweep_due(&mut self.swept, time, window) {
            self.accounts
                .retain(|_, account| !account.is_stale(time, window));
        }

        if !self.accounts.contains_key(name.as_ref()) {
            self.accounts
                .insert(name.as_ref().into(), Account::default());
        }
        let Some(account) = self.accounts.get_mut(name.as_ref()) else {
            return;
        };
        // A burst ends when failures stop for a whole window.
        if account
            .burst
            .last()
            .is_some_and(|last| time - last.time > window)
        {
            account.burst.clear();
        }
        if account.burst.is_empty() {
            account.recent.push_back(failure);
            while account
                .recent
                .front()
                .is_some_and(|oldest| time - oldest.time > window)
            {
                account.recent.pop_front();
            }
            if account.recent.len() < threshold {
                return;
            }
            account.burst = account.recent.drain(..).collect();
        } else {
            account.burst.push(failure);
        }
        let burst = std::mem::take(&mut account.burst);
        alerts.push(self.burst_alert(&name, &burst));
        if let Some(account) = self.accounts.get_mut(name.as_ref()) {
            account.burst = burst;
        }
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}
