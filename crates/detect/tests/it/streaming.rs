//! Stored events detected in many small runs, as `logs follow` does after
//! each page it stores, raise the alerts of one run over all of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use idaudit_detect::{RuleSet, Settings, detect_with};
use idaudit_okta_sim::{OrgSpec, generate};
use idaudit_store::{Alert, EventRecord, Store};

use crate::temp_store;

/// A small org's events in `published` order, with their times.
fn org_events() -> Vec<(DateTime<Utc>, EventRecord)> {
    let spec = OrgSpec {
        users: 300,
        log_days: 10,
        end: Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap(),
        ..OrgSpec::default()
    };
    let org = generate(&spec);
    let mut events: Vec<_> = org
        .events
        .iter()
        .map(|event| {
            let value: serde_json::Value = serde_json::from_str(event.as_json()).unwrap();
            let record = EventRecord {
                uuid: value["uuid"].as_str().unwrap().to_string(),
                published: value["published"].as_str().unwrap().to_string(),
                event_type: value["eventType"].as_str().unwrap().to_string(),
                actor_id: None,
                actor_alternate_id: None,
                outcome_result: None,
                client_ip: None,
                raw: event.as_json().to_string(),
            };
            (event.published(), record)
        })
        .collect();
    events.sort_by_key(|(published, _)| *published);
    events
}

fn stored_alerts(store: &Store) -> BTreeMap<String, Alert> {
    store
        .alerts(None)
        .unwrap()
        .into_iter()
        .map(|alert| (alert.id.clone(), alert))
        .collect()
}

fn detector() -> idaudit_detect::Detector {
    RuleSet::builtin()
        .unwrap()
        .detector(Settings::default())
        .unwrap()
}

#[test]
fn stored_in_pages_same_alerts() {
    let events = org_events();
    let records: Vec<EventRecord> = events.iter().map(|(_, record)| record.clone()).collect();

    let (_whole_folder, mut whole) = temp_store();
    whole.insert_events("org", "import", &records).unwrap();
    detect_with(&whole, &mut detector(), None, None).unwrap();
    let expected = stored_alerts(&whole);
    assert!(!expected.is_empty());

    let (_paged_folder, mut paged) = temp_store();
    let mut detector = detector();
    let page = Duration::hours(3);
    let mut start = events[0].0;
    let mut position = 0;
    let mut pages = 0;
    while position < events.len() {
        let end = start + page;
        let next = events[position..]
            .iter()
            .position(|(published, _)| *published >= end)
            .map_or(events.len(), |offset| position + offset);
        paged
            .insert_events("org", "poll", &records[position..next])
            .unwrap();
        let since = idaudit_store::format_time(start);
        let until = idaudit_store::format_time(end);
        detect_with(&paged, &mut detector, Some(&since), Some(&until)).unwrap();
        position = next;
        start = end;
        pages += 1;
    }
    assert!(pages > 50, "{pages}");

    let alerts = stored_alerts(&paged);
    assert_eq!(alerts.len(), expected.len());
    for (id, alert) in &expected {
        assert_eq!(alerts.get(id), Some(alert), "{id}");
    }
}
