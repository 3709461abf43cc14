use idaudit_store::EventRecord;

use crate::temp_store;

fn record(uuid: &str, published: &str) -> EventRecord {
    EventRecord {
        uuid: uuid.to_string(),
        published: published.to_string(),
        event_type: "user.session.start".to_string(),
        actor_id: Some("00u1".to_string()),
        actor_alternate_id: Some("jdoe@example.com".to_string()),
        outcome_result: Some("SUCCESS".to_string()),
        client_ip: None,
        raw: format!(r#"{{"uuid":"{uuid}"}}"#),
    }
}

#[test]
fn events_stored_once_by_uuid() {
    let (_folder, mut store) = temp_store();
    let batch = vec![
        record("a", "2026-01-01T00:00:00.000Z"),
        record("b", "2026-01-01T00:00:01.000Z"),
        record("a", "2026-01-01T00:00:00.000Z"),
    ];
    let outcome = store.insert_events("org", "import", &batch).unwrap();
    assert_eq!(outcome.inserted, 2);
    assert_eq!(outcome.duplicates, 1);

    let again = store.insert_events("org", "poll", &batch[..2]).unwrap();
    assert_eq!(again.inserted, 0);
    assert_eq!(again.duplicates, 2);
    assert_eq!(store.count_events().unwrap(), 2);
}

#[test]
fn events_read_in_published_order() {
    let (_folder, mut store) = temp_store();
    let batch = vec![
        record("late", "2026-01-03T00:00:00.000Z"),
        record("early", "2026-01-01T00:00:00.000Z"),
        record("middle", "2026-01-02T00:00:00.000Z"),
    ];
    store.insert_events("org", "import", &batch).unwrap();

    let mut seen = Vec::new();
    store
        .for_each_event(None, None, |event| seen.push(event.uuid))
        .unwrap();
    assert_eq!(seen, vec!["early", "middle", "late"]);

    let mut bounded = Vec::new();
    store
        .for_each_event(
            Some("2026-01-02T00:00:00.000Z"),
            Some("2026-01-03T00:00:00.000Z"),
            |event| bounded.push(event.uuid),
        )
        .unwrap();
    assert_eq!(bounded, vec!["middle"]);
}

#[test]
fn cursor_saved_with_events() {
    let (_folder, mut store) = temp_store();
    store
        .insert_events_with_state(
            "org",
            "poll",
            &[record("a", "2026-01-01T00:00:00.000Z")],
            Some(("logs.next", "https://x/next")),
        )
        .unwrap();
    assert_eq!(
        store.state("logs.next").unwrap().as_deref(),
        Some("https://x/next")
    );
    assert_eq!(store.count_events().unwrap(), 1);
}

#[test]
fn new_event_positions_and_state_saved_together() {
    let (_folder, mut store) = temp_store();
    store
        .insert_events("org", "hook", &[record("b", "2026-01-01T00:00:01.000Z")])
        .unwrap();
    let batch = vec![
        record("a", "2026-01-01T00:00:00.000Z"),
        record("b", "2026-01-01T00:00:01.000Z"),
        record("c", "2026-01-01T00:00:02.000Z"),
        record("a", "2026-01-01T00:00:00.000Z"),
    ];
    let new = store
        .insert_new_events("org", "poll", &batch, Some(("cursor", "next-1")))
        .unwrap();

    assert_eq!(new, vec![0, 2], "`b` was stored before, `a` repeats");
    assert_eq!(store.state("cursor").unwrap().as_deref(), Some("next-1"));
    let mut uuids = store.event_uuids().unwrap();
    uuids.sort();
    assert_eq!(uuids, vec!["a", "b", "c"]);
}

#[test]
fn writer_stores_once_by_uuid() {
    let (_folder, mut store) = temp_store();
    store
        .insert_events("org", "poll", &[record("a", "2026-01-01T00:00:00.000Z")])
        .unwrap();

    let mut writer = store.event_writer("org", "import").unwrap();
    assert!(
        !writer
            .insert(&record("a", "2026-01-01T00:00:00.000Z"))
            .unwrap()
    );
    assert!(
        writer
            .insert(&record("b", "2026-01-01T00:00:01.000Z"))
            .unwrap()
    );
    writer.commit().unwrap();
    assert!(
        !writer
            .insert(&record("b", "2026-01-01T00:00:01.000Z"))
            .unwrap()
    );
    assert!(
        writer
            .insert(&record("c", "2026-01-01T00:00:02.000Z"))
            .unwrap()
    );
    writer.commit().unwrap();
    let outcome = writer.outcome();
    drop(writer);

    assert_eq!(outcome.inserted, 2);
    assert_eq!(outcome.duplicates, 2);
    assert_eq!(store.count_events().unwrap(), 3);
}

#[test]
fn writer_drops_uncommitted_events() {
    let (_folder, mut store) = temp_store();
    let mut writer = store.event_writer("org", "import").unwrap();
    writer
        .insert(&record("a", "2026-01-01T00:00:00.000Z"))
        .unwrap();
    writer.commit().unwrap();
    writer
        .insert(&record("b", "2026-01-01T00:00:01.000Z"))
        .unwrap();
    drop(writer);

    assert_eq!(store.event_uuids().unwrap(), vec!["a".to_string()]);
    assert_eq!(store.archive_counts().unwrap().pending_events, 1);
}
