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

/// Parsing each event into the one before must give what a fresh parse
/// gives, whatever the earlier event's type and shape.
#[test]
fn parse_into_reused_event_equals_fresh() {
    let mut set = RuleSet::builtin().unwrap();
    set.extend(RuleSet::sigmahq().unwrap());
    let detector = set.detector(Settings::default()).unwrap();
    let mut texts = org_events();
    // Shapes the simulator does not produce: missing and extra keys, a
    // kept key spelled twice, an escaped key and an empty target list.
    texts.push(r#"{"uuid":"u1","eventType":"user.session.start","actor":{"alternateId":"a@example.com","alternateId":"b@example.com"},"target":[]}"#.to_string());
    texts.push(r#"{"uuid":"u2","eventType":"user.session.start","actor":{"alternate\u0049d":"c@example.com","type":"User"},"outcome":{"result":"FAILURE","reason":null}}"#.to_string());
    texts.push(r#"{"uuid":"u3","eventType":"user.account.privilege.grant","target":[{"type":"User","alternateId":"d@example.com"},{"type":"ROLE"}],"actor":"not an object"}"#.to_string());
    texts.push(r#"{"uuid":"u4","eventType":"user.account.privilege.grant","target":{"type":"User"},"actor":{}}"#.to_string());

    let mut event = Event::default();
    for text in &texts {
        let fresh = detector.parse(text).unwrap();
        detector.parse_into(text, &mut event).unwrap();
        assert_eq!(event.value, fresh.value, "{text}");
        assert_eq!(event.uuid, fresh.uuid);
        assert_eq!(event.event_type, fresh.event_type);
        assert_eq!(event.published, fresh.published);
    }
}
