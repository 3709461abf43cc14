//! Suppression: one alert per rule and entity within a window.
//!
//! Rules report matches as alerts. A rule that follows a burst re-sends the
//! same alert id each time the burst grows. The suppressor folds every
//! alert for the same rule, user and IP that starts within the window of
//! the previous one into a single alert. That alert keeps the id of its
//! first part, so re-running detection over the same events yields the
//! same ids.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use idaudit_store::Alert;

use crate::MAX_EVIDENCE;

type EntityKey = (String, String, String);

struct Open {
    combined: Alert,
    /// Latest version of each multi-event part, by the id the rule gave it.
    parts: HashMap<String, Alert>,
    /// Count and evidence of single-event parts folded in.
    single_count: u64,
    single_evidence: Vec<String>,
    first_id: String,
    last_seen: DateTime<Utc>,
    window: Duration,
}

/// Folds alerts per rule and entity.
#[derive(Default)]
pub struct Suppressor {
    open: HashMap<EntityKey, Open>,
    /// Event time an hour after the last [`Suppressor::prune`] that
    /// removed anything or looked. A prune before that time does nothing.
    /// It is `None` before the first prune, and `Some(None)` when that hour
    /// is past the last time chrono represents. Comparing with it costs
    /// less than subtracting times on every event.
    next_prune: Option<Option<DateTime<Utc>>>,
}

/// How long past its window an open alert is kept: longer than any rule
/// re-reports an alert after its last update (correlation bursts end after
/// a quiet timespan, `mfa-reset-not-reenrolled` reports a day late), so
/// pruning never splits what would have been folded.
const RETENTION: i64 = 8;

impl Suppressor {
    /// Removes the alerts whose window closed more than [`RETENTION`] days
    /// before `now`, at most once an hour of event time, so memory follows
    /// recent alerts rather than every alert of a long run.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        match self.next_prune {
            Some(Some(next)) if now < next => return,
            Some(None) => return,
            _ => {}
        }
        self.next_prune = Some(now.checked_add_signed(Duration::hours(1)));
        let horizon = Duration::days(RETENTION);
        self.open
            .retain(|_, open| now - open.last_seen <= open.window + horizon);
    }

    /// Folds `alert` in and returns the alert to store.
    pub fn fold(&mut self, alert: Alert, window: Duration) -> Alert {
        let key = (
            alert.rule.clone(),
            alert.user.clone().unwrap_or_default(),
            alert.ip.clone().unwrap_or_default(),
        );
        let first_seen = parse(&alert.first_seen);
        let last_seen = parse(&alert.last_seen);
        let joins = self.open.get(&key).is_some_and(|open| {
            open.parts.contains_key(&alert.id) || first_seen - open.last_seen <= window
        });
        if !joins {
            let open = Open {
                combined: alert.clone(),
                parts: HashMap::new(),
                single_count: 0,
                single_evidence: Vec::new(),
                first_id: alert.id.clone(),
                last_seen,
                window,
            };
            let open = self.open.entry(key).insert_entry(open).into_mut();
            absorb(open, alert);
            return open.combined.clone();
        }
        let Some(open) = self.open.get_mut(&key) else {
            return alert;
        };
        open.last_seen = open.last_seen.max(last_seen);
        open.window = window;
        absorb(open, alert);
        open.combined.clone()
    }
}

fn absorb(open: &mut Open, alert: Alert) {
    if alert.count <= 1 && !open.parts.contains_key(&alert.id) {
        open.single_count += alert.count.max(1);
        for uuid in &alert.evidence {
            if open.single_evidence.len() < MAX_EVIDENCE {
                open.single_evidence.push(uuid.clone());
            }
        }
        refresh(open, &alert);
        return;
    }
    open.parts.insert(alert.id.clone(), alert.clone());
    refresh(open, &alert);
}

/// Rebuilds the combined alert from its parts; `latest` supplies the title,
/// details and severity floor.
fn refresh(open: &mut Open, latest: &Alert) {
    let mut combined = latest.clone();
    combined.id = open.first_id.clone();
    combined.severity = max_severity(&open.combined.severity, &latest.severity).to_string();
    combined.count = open.single_count + open.parts.values().map(|part| part.count).sum::<u64>();
    let mut parts: Vec<&Alert> = open.parts.values().collect();
    parts.sort_by(|left, right| left.first_seen.cmp(&right.first_seen));
    let mut evidence = open.single_evidence.clone();
    for part in &parts {
        evidence.extend(part.evidence.iter().cloned());
    }
    evidence.truncate(MAX_EVIDENCE);
    combined.evidence = evidence;
    combined.first_seen =
        std::cmp::min(open.combined.first_seen.clone(), latest.first_seen.clone());
    combined.last_seen = std::cmp::max(open.combined.last_seen.clone(), latest.last_seen.clone());
    open.combined = combined;
}

fn parse(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Returns the rank of a Sigma level; unknown levels rank as `medium`.
pub fn severity_rank(level: &str) -> u8 {
    match level {
        "informational" => 0,
        "low" => 1,
        "high" => 3,
        "critical" => 4,
        _ => 2,
    }
}

fn max_severity<'a>(left: &'a str, right: &'a str) -> &'a str {
    if severity_rank(right) >= severity_rank(left) {
        right
    } else {
        left
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use idaudit_store::{Alert, AlertStatus};

    use super::Suppressor;

    fn alert_seen_at(time: DateTime<Utc>) -> Alert {
        let stamp = idaudit_store::format_time(time);
        Alert {
            id: "a1".to_string(),
            rule: "rule".to_string(),
            severity: "medium".to_string(),
            title: "Title".to_string(),
            user: Some("jdoe@example.com".to_string()),
            ip: None,
            first_seen: stamp.clone(),
            last_seen: stamp,
            count: 1,
            evidence: vec!["e1".to_string()],
            details: serde_json::json!({}),
            status: AlertStatus::Open,
        }
    }

    #[test]
    fn prune_runs_once_an_hour() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let mut suppressor = Suppressor::default();
        suppressor.prune(start);
        // Last seen 10 days before `start`, longer ago than its window of
        // an hour and the retention of 8 days.
        suppressor.fold(
            alert_seen_at(start - Duration::days(10)),
            Duration::hours(1),
        );

        suppressor.prune(start + Duration::minutes(59));
        assert_eq!(suppressor.open.len(), 1, "pruned within the hour");
        suppressor.prune(start - Duration::days(1));
        assert_eq!(suppressor.open.len(), 1, "pruned at an earlier time");

        suppressor.prune(start + Duration::hours(1));
        assert!(suppressor.open.is_empty(), "not pruned after the hour");
    }

    #[test]
    fn prune_at_last_time_runs_once() {
        let last = DateTime::<Utc>::MAX_UTC;
        let mut suppressor = Suppressor::default();
        suppressor.prune(last);
        suppressor.fold(alert_seen_at(last - Duration::days(10)), Duration::hours(1));

        suppressor.prune(last);

        assert_eq!(suppressor.open.len(), 1);
    }
}
