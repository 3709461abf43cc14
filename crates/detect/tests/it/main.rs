//! Rule tests over events stored in a real SQLite file.

mod coverage;
mod failed_sign_ins;
mod fixtures;
mod native;
mod privilege_grant;
mod projection;
mod scenarios;
mod sigma;
mod sinks;
mod streaming;

use chrono::{DateTime, Duration, TimeZone, Utc};
use idaudit_store::{EventRecord, Store};
use serde_json::{Value, json};

pub fn temp_store() -> (tempfile::TempDir, Store) {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(folder.path().join("idaudit.db")).unwrap();
    (folder, store)
}

pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

/// Builds a `user.session.start` for `login` from `ip`, `minutes` after the base time.
pub fn sign_in(uuid: &str, login: &str, ip: &str, minutes: i64, result: &str) -> Value {
    let published = base_time() + Duration::minutes(minutes);
    json!({
        "uuid": uuid,
        "published": idaudit_store::format_time(published),
        "eventType": "user.session.start",
        "actor": {"id": "00u1", "type": "User", "alternateId": login, "displayName": "J Doe"},
        "client": {"ipAddress": ip, "zone": "null"},
        "outcome": {"result": result, "reason": if result == "FAILURE" { "INVALID_CREDENTIALS" } else { "" }}
    })
}

pub fn store_events(store: &mut Store, events: &[Value]) {
    let records: Vec<EventRecord> = events
        .iter()
        .map(|event| EventRecord {
            uuid: event["uuid"].as_str().unwrap().to_string(),
            published: event["published"].as_str().unwrap().to_string(),
            event_type: event["eventType"].as_str().unwrap().to_string(),
            actor_id: None,
            actor_alternate_id: None,
            outcome_result: None,
            client_ip: None,
            raw: event.to_string(),
        })
        .collect();
    store.insert_events("org", "import", &records).unwrap();
}

pub fn run_rules(store: &Store) -> Vec<idaudit_store::Alert> {
    let mut rules = idaudit_detect::rules::builtin();
    idaudit_detect::detect(store, &mut rules, None, None)
        .unwrap()
        .alerts
}
