use idaudit_store::{Alert, AlertStatus, Upserted};

use crate::temp_store;

fn alert(count: u64) -> Alert {
    Alert {
        id: "abc".to_string(),
        rule: "failed-sign-ins-per-user".to_string(),
        severity: "medium".to_string(),
        title: "test".to_string(),
        user: Some("jdoe@example.com".to_string()),
        ip: Some("198.51.100.7".to_string()),
        first_seen: "2026-01-01T00:00:00.000Z".to_string(),
        last_seen: "2026-01-01T00:05:00.000Z".to_string(),
        count,
        evidence: vec!["e1".to_string()],
        details: serde_json::json!({"threshold": 5}),
        status: AlertStatus::Open,
    }
}

#[test]
fn alert_upsert_updates_in_place() {
    let (_folder, store) = temp_store();
    assert_eq!(store.upsert_alert(&alert(5)).unwrap(), Upserted::New);
    assert_eq!(store.upsert_alert(&alert(7)).unwrap(), Upserted::Updated);

    let alerts = store.alerts(None).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].count, 7);
    assert_eq!(alerts[0].details["threshold"], 5);
    assert_eq!(alerts[0].evidence, vec!["e1"]);
}

#[test]
fn alerts_filtered_by_status() {
    let (_folder, store) = temp_store();
    store.upsert_alert(&alert(5)).unwrap();
    assert_eq!(store.alerts(Some(AlertStatus::Open)).unwrap().len(), 1);
    assert!(store.alerts(Some(AlertStatus::Closed)).unwrap().is_empty());
}

#[test]
fn alert_found_by_prefix_and_acknowledged() {
    let (_folder, store) = temp_store();
    store.upsert_alert(&alert(5)).unwrap();
    assert_eq!(store.alert("ab").unwrap().unwrap().id, "abc");
    assert!(store.alert("x").unwrap().is_none());

    assert!(
        store
            .set_alert_status("abc", AlertStatus::Acknowledged)
            .unwrap()
    );
    assert!(
        !store
            .set_alert_status("missing", AlertStatus::Closed)
            .unwrap()
    );
    // Detection running again keeps the triage status.
    store.upsert_alert(&alert(9)).unwrap();
    let stored = store.alert("abc").unwrap().unwrap();
    assert_eq!(stored.status, AlertStatus::Acknowledged);
    assert_eq!(stored.count, 9);
}
