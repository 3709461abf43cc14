//! The simulator's labelled scenarios: each expected alert is raised, benign
//! traffic raises almost nothing, and streaming equals batch.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{Duration, TimeZone, Utc};
use idaudit_detect::{Event, RuleSet, Settings};
use idaudit_okta_sim::{Org, OrgSpec, generate};
use idaudit_store::Alert;

struct Run {
    org: Org,
    events: Vec<Event>,
    alerts: Vec<Alert>,
}

/// Seed 42, 2,000 users and 30 days of logs, generated once for all tests.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let spec = OrgSpec {
            end: Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap(),
            ..OrgSpec::default()
        };
        let org = generate(&spec);
        let mut events: Vec<Event> = org
            .events
            .iter()
            .map(|event| Event::parse(event.as_json()).unwrap())
            .collect();
        events.sort_by_key(|event| event.published);
        let alerts = detector().run(&events);
        Run {
            org,
            events,
            alerts,
        }
    })
}

fn detector() -> idaudit_detect::Detector {
    RuleSet::builtin()
        .unwrap()
        .detector(Settings::default())
        .unwrap()
}

fn names_scenario(alert: &Alert, logins: &[String], ips: &[String]) -> bool {
    let user = alert
        .user
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    logins
        .iter()
        .any(|login| login.to_ascii_lowercase() == user)
        || alert.ip.as_ref().is_some_and(|ip| ips.contains(ip))
}

#[test]
fn every_expected_alert_raised() {
    let run = run();
    let expected: Vec<_> = run
        .org
        .ground_truth
        .scenarios
        .iter()
        .filter(|scenario| scenario.expected_alert.is_some())
        .collect();
    assert!(!expected.is_empty());
    for scenario in expected {
        let rule = scenario.expected_alert.as_deref().unwrap_or_default();
        let found = run.alerts.iter().any(|alert| {
            alert.rule == rule
                && names_scenario(alert, &scenario.user_logins, &scenario.ips)
                && alert.last_seen >= idaudit_store::format_time(scenario.start)
                && alert.first_seen <= idaudit_store::format_time(scenario.end + Duration::hours(1))
        });
        assert!(
            found,
            "no `{rule}` alert for scenario `{}` ({:?}, {:?})",
            scenario.id, scenario.user_logins, scenario.ips
        );
    }
}

/// Alerts that name no scenario's user or IP are false; there may be at
/// most one per 100,000 events that no scenario wrote.
#[test]
fn benign_traffic_under_one_per_100k() {
    let run = run();
    let scenarios = &run.org.ground_truth.scenarios;
    let scenario_events: HashSet<&str> = scenarios
        .iter()
        .flat_map(|scenario| scenario.event_uuids.iter().map(String::as_str))
        .collect();
    assert!(!scenario_events.is_empty());
    let benign = run
        .events
        .iter()
        .filter(|event| !scenario_events.contains(event.uuid.as_str()))
        .count();
    assert!(benign > 50_000, "{benign}");

    let false_alerts: Vec<&Alert> = run
        .alerts
        .iter()
        .filter(|alert| {
            !scenarios
                .iter()
                .any(|scenario| names_scenario(alert, &scenario.user_logins, &scenario.ips))
        })
        .collect();
    let summary: Vec<String> = false_alerts
        .iter()
        .map(|alert| format!("{} {}", alert.rule, alert.title))
        .collect();
    assert!(
        false_alerts.len() * 100_000 <= benign,
        "{} false alerts over {benign} benign events: {summary:#?}",
        false_alerts.len(),
    );
}

#[test]
fn streaming_equals_batch() {
    let run = run();
    let mut detector = detector();
    let mut stored: HashMap<String, Alert> = HashMap::new();
    for event in &run.events {
        for alert in detector.observe(event) {
            stored.insert(alert.id.clone(), alert);
        }
    }
    let batch: HashMap<String, Alert> = run
        .alerts
        .iter()
        .map(|alert| (alert.id.clone(), alert.clone()))
        .collect();
    assert_eq!(stored.len(), batch.len());
    for (id, alert) in &batch {
        assert_eq!(stored.get(id), Some(alert), "{id}");
    }
}

/// The stream cut into batches of varying sizes, from one event to a few
/// hundred, each handed over in arrival order as `logs follow` and the
/// event-hook endpoint do, raises the alerts of one batch of everything.
#[test]
fn small_batches_equal_one_batch() {
    let run = run();
    let mut detector = detector();
    let mut stored: HashMap<String, Alert> = HashMap::new();
    let sizes = [1, 7, 64, 3, 250, 19, 1, 128];
    let mut start = 0;
    let mut batches = 0;
    while start < run.events.len() {
        let end = (start + sizes[batches % sizes.len()]).min(run.events.len());
        for alert in detector.observe_batch(&run.events[start..end]) {
            stored.insert(alert.id.clone(), alert);
        }
        start = end;
        batches += 1;
    }
    for alert in detector.finish() {
        stored.insert(alert.id.clone(), alert);
    }
    assert!(batches > 1000, "{batches}");

    let batch: HashMap<String, Alert> = run
        .alerts
        .iter()
        .map(|alert| (alert.id.clone(), alert.clone()))
        .collect();
    assert!(!batch.is_empty());
    assert_eq!(stored.len(), batch.len());
    for (id, alert) in &batch {
        assert_eq!(stored.get(id), Some(alert), "{id}");
    }
}
