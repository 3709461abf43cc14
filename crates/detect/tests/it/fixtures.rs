//! The public fixtures under `test-fixtures/okta`: the built-in pack and the
//! SigmaHQ Okta rules over recorded and hand-made events.

use std::path::PathBuf;

use idaudit_detect::{Event, RuleSet, Settings};
use idaudit_store::Alert;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-fixtures/okta")
}

/// Reads the Cribl capture: a JSON array of records with the event in `_raw`.
fn cribl_events() -> Vec<Event> {
    let text = std::fs::read_to_string(fixtures().join("cribl-okta-rest/I4942I.json")).unwrap();
    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut events: Vec<Event> = records
        .iter()
        .map(|record| Event::parse(record["_raw"].as_str().unwrap()).unwrap())
        .collect();
    events.sort_by_key(|event| event.published);
    events
}

/// Reads JSON Lines files; records that are not LogEvents are counted, not kept.
fn jsonl_events(relative: &[&str]) -> (Vec<Event>, usize) {
    let mut events = Vec::new();
    let mut unrecognised = 0;
    for file in relative {
        let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            match Event::parse(line) {
                Ok(event) => events.push(event),
                Err(_) => unrecognised += 1,
            }
        }
    }
    events.sort_by_key(|event| event.published);
    (events, unrecognised)
}

fn storyline() -> Vec<Event> {
    let files: Vec<String> = [
        "legit_login",
        "brute_force_logins",
        "admin_privs_assigned",
        "new-user",
    ]
    .iter()
    .map(|file| format!("panther-analysis/test_scenarios/okta-add-administrator/{file}.jsonl"))
    .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    jsonl_events(&files).0
}

fn run(rules: &RuleSet, events: &[Event]) -> Vec<Alert> {
    rules.detector(Settings::default()).unwrap().run(events)
}

fn of_rule<'a>(alerts: &'a [Alert], rule: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|alert| alert.rule == rule).collect()
}

#[test]
fn cribl_grant_raised_once() {
    let alerts = run(&RuleSet::builtin().unwrap(), &cribl_events());
    let grants = of_rule(&alerts, "admin-privilege-grant");
    assert_eq!(grants.len(), 1, "{alerts:#?}");
    assert_eq!(grants[0].user.as_deref(), Some("jdoe@acme.com"));
    assert_eq!(grants[0].severity, "critical");
}

#[test]
fn storyline_raises_expected_alerts() {
    let alerts = run(&RuleSet::builtin().unwrap(), &storyline());

    let failures = of_rule(&alerts, "failed-sign-ins-per-user");
    assert_eq!(failures.len(), 1, "{alerts:#?}");
    assert_eq!(
        failures[0].user.as_deref(),
        Some("jack.naglieri@runpanther.io")
    );
    assert_eq!(failures[0].ip.as_deref(), Some("194.88.246.242"));

    let grants = of_rule(&alerts, "admin-privilege-grant");
    assert_eq!(grants.len(), 1, "{alerts:#?}");
    assert_eq!(grants[0].user.as_deref(), Some("thomas12223391@gmail.com"));

    let then_success = of_rule(&alerts, "failures-then-success");
    assert_eq!(then_success.len(), 1, "{alerts:#?}");
    assert_eq!(then_success[0].ip.as_deref(), Some("194.88.246.242"));
    assert_eq!(
        then_success[0].user.as_deref(),
        Some("jack.naglieri@runpanther.io")
    );
}

#[test]
fn sigmahq_rules_run_on_fixtures() {
    let rules = RuleSet::sigmahq().unwrap();
    let alerts = run(&rules, &cribl_events());
    let grants = of_rule(&alerts, "okta_admin_role_assigned_to_user_or_group");
    assert_eq!(grants.len(), 1, "{alerts:#?}");
    assert_eq!(
        grants[0].details["ruleAuthor"],
        "Austin Songer @austinsonger"
    );

    let alerts = run(&rules, &storyline());
    assert_eq!(
        of_rule(&alerts, "okta_admin_role_assigned_to_user_or_group").len(),
        1
    );
    assert_eq!(
        of_rule(&alerts, "okta_user_created").len(),
        1,
        "{alerts:#?}"
    );
}

#[test]
fn panther_lower_cased_events_unrecognised() {
    let mut files = Vec::new();
    for folder in ["okta_rules", "standard_rules"] {
        let path = fixtures().join("panther-analysis/rules").join(folder);
        for entry in std::fs::read_dir(path).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            files.push(format!("panther-analysis/rules/{folder}/{name}"));
        }
    }
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let (events, unrecognised) = jsonl_events(&files);
    assert!(unrecognised >= 45, "{unrecognised}");
    assert!(
        events
            .iter()
            .all(|event| event.value.get("eventtype").is_none())
    );
}
