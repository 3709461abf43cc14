//! A detector's own parse keeps only the fields its rules read; its alerts
//! must equal those of a full parse.

use chrono::{TimeZone, Utc};
use idaudit_detect::{Event, RuleSet, Settings};
use idaudit_okta_sim::{OrgSpec, generate};

fn org_events() -> Vec<String> {
    let spec = OrgSpec {
        users: 300,
        log_days: 20,
        end: Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap(),
        ..OrgSpec::default()
    };
    let org = generate(&spec);
    let mut events: Vec<_> = org
        .events
        .iter()
        .map(|event| (event.published(), event.as_json().to_string()))
        .collect();
    events.sort_by_key(|(published, _)| *published);
    events.into_iter().map(|(_, json)| json).collect()
}

fn assert_same_alerts(set: &RuleSet, texts: &[String]) {
    let full: Vec<Event> = texts
        .iter()
        .map(|text| Event::parse(text).unwrap())
        .collect();
    let expected = set.detector(Settings::default()).unwrap().run(&full);

    let mut detector = set.detector(Settings::default()).unwrap();
    let projected: Vec<Event> = texts
        .iter()
        .map(|text| detector.parse(text).unwrap())
        .collect();
    let alerts = detector.run(&projected);

    assert!(!expected.is_empty());
    assert_eq!(alerts, expected);
}

#[test]
fn builtin_pack_same_alerts_projected() {
    assert_same_alerts(&RuleSet::builtin().unwrap(), &org_events());
}

#[test]
fn sigmahq_rules_same_alerts_projected() {
    assert_same_alerts(&RuleSet::sigmahq().unwrap(), &org_events());
}

#[test]
fn keyword_rule_keeps_whole_event() {
    let folder = tempfile::tempdir().unwrap();
    let rule = folder.path().join("keyword.yml");
    std::fs::write(
        &rule,
        "title: Keyword\nname: keyword\nlogsource:\n  product: okta\ndetection:\n  words:\n    - 'Okta Dashboard'\n  condition: words\n",
    )
    .unwrap();
    let set = RuleSet::load_file(&rule).unwrap();
    let detector = set.detector(Settings::default()).unwrap();
    let text = r#"{"uuid":"u1","published":"2026-11-30T09:00:00.000Z","eventType":"user.authentication.sso","request":{"note":"Okta Dashboard"}}"#;

    let event = detector.parse(text).unwrap();

    assert_eq!(event.value["request"]["note"], "Okta Dashboard");
}
