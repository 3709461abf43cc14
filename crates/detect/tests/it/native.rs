//! Native rules: impossible travel, first-seen baselines and MFA resets.

use idaudit_detect::rules::haversine_km;
use idaudit_detect::{Event, RuleSet, Settings};
use serde_json::{Value, json};

use crate::sign_in;

fn located(uuid: &str, minutes: i64, lat: f64, lon: f64, country: &str) -> Value {
    let mut event = sign_in(uuid, "jdoe@example.com", "203.0.113.9", minutes, "SUCCESS");
    event["client"]["geographicalContext"] =
        json!({"country": country, "geolocation": {"lat": lat, "lon": lon}});
    event
}

fn run(events: &[Value]) -> Vec<idaudit_store::Alert> {
    let events: Vec<Event> = events
        .iter()
        .map(|value| Event::from_value(value.clone()).unwrap())
        .collect();
    RuleSet::builtin()
        .unwrap()
        .detector(Settings::default())
        .unwrap()
        .run(&events)
}

#[test]
fn haversine_paris_to_new_york() {
    let distance = haversine_km((48.8566, 2.3522), (40.7128, -74.0060));
    assert!((distance - 5837.0).abs() < 10.0, "{distance}");
}

#[test]
fn impossible_travel_raised() {
    let alerts = run(&[
        located("a", 0, 48.8566, 2.3522, "France"),
        located("b", 60, 40.7128, -74.0060, "United States"),
    ]);
    let travel: Vec<_> = alerts
        .iter()
        .filter(|alert| alert.rule == "impossible-travel")
        .collect();
    assert_eq!(travel.len(), 1, "{alerts:#?}");
    assert_eq!(travel[0].user.as_deref(), Some("jdoe@example.com"));
}

#[test]
fn plausible_travel_ignored() {
    let alerts = run(&[
        located("a", 0, 48.8566, 2.3522, "France"),
        located("b", 10 * 60, 40.7128, -74.0060, "United States"),
    ]);
    assert!(
        alerts.iter().all(|alert| alert.rule != "impossible-travel"),
        "{alerts:#?}"
    );
}

#[test]
fn new_country_after_learning() {
    let day = 24 * 60;
    let mut events: Vec<Value> = (0..20)
        .map(|index| located(&format!("d{index}"), index * day, 48.8566, 2.3522, "France"))
        .collect();
    events.push(located("new", 21 * day, 52.52, 13.405, "Germany"));
    let alerts = run(&events);
    let new: Vec<_> = alerts
        .iter()
        .filter(|alert| alert.rule == "new-country-for-user")
        .collect();
    assert_eq!(new.len(), 1, "{alerts:#?}");
    assert_eq!(new[0].evidence, vec!["new"]);
    assert!(
        new[0].title.ends_with("from country `Germany`"),
        "{}",
        new[0].title
    );
}

fn mfa_event(uuid: &str, event_type: &str, minutes: i64) -> Value {
    let mut event = sign_in(uuid, "admin@example.com", "203.0.113.5", minutes, "SUCCESS");
    event["eventType"] = json!(event_type);
    event["target"] = json!([{"id": "00u2", "type": "User", "alternateId": "jdoe@example.com"}]);
    event
}

#[test]
fn mfa_reset_without_enrolment_raised() {
    let alerts = run(&[
        mfa_event("r", "user.mfa.factor.reset_all", 0),
        mfa_event("later", "user.session.start", 25 * 60),
    ]);
    let resets: Vec<_> = alerts
        .iter()
        .filter(|alert| alert.rule == "mfa-reset-not-reenrolled")
        .collect();
    assert_eq!(resets.len(), 1, "{alerts:#?}");
    assert_eq!(resets[0].user.as_deref(), Some("jdoe@example.com"));

    let alerts = run(&[
        mfa_event("r", "user.mfa.factor.reset_all", 0),
        mfa_event("e", "user.mfa.factor.activate", 60),
        mfa_event("later", "user.session.start", 25 * 60),
    ]);
    assert!(
        alerts
            .iter()
            .all(|alert| alert.rule != "mfa-reset-not-reenrolled")
    );
}
