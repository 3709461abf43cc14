use idaudit_store::{EventRecord, Store};

use crate::temp_store;

fn record(uuid: &str, published: &str) -> EventRecord {
    EventRecord {
        uuid: uuid.to_string(),
        published: published.to_string(),
        event_type: "user.session.start".to_string(),
        actor_id: None,
        actor_alternate_id: None,
        outcome_result: None,
        client_ip: None,
        raw: format!(r#"{{"uuid":"{uuid}"}}"#),
    }
}

/// Assigns every pending event of `date` to one batch and marks it written.
fn archive_day(store: &mut Store, date: &str) -> u64 {
    let batch = store
        .create_archive_batch("org", date, 1_000, "now", |id| format!("{id}.parquet"))
        .unwrap()
        .expect("events are pending");
    store.mark_archive_batch_written(batch.id, "now").unwrap();
    batch.events
}

#[test]
fn stored_events_count_as_pending() {
    let (_folder, mut store) = temp_store();
    let batch = [
        record("a", "2026-01-01T00:00:00.000Z"),
        record("b", "2026-01-02T00:00:00.000Z"),
        record("a", "2026-01-01T00:00:00.000Z"),
    ];
    store.insert_events("org", "import", &batch).unwrap();

    assert_eq!(store.archive_counts().unwrap().pending_events, 2);
    let partitions = store.pending_archive_partitions().unwrap();
    let days: Vec<(&str, u64)> = partitions
        .iter()
        .map(|partition| (partition.date.as_str(), partition.events))
        .collect();
    assert_eq!(days, vec![("2026-01-01", 1), ("2026-01-02", 1)]);
}

#[test]
fn archived_day_leaves_other_days_pending() {
    let (_folder, mut store) = temp_store();
    let batch = [
        record("a", "2026-01-01T00:00:00.000Z"),
        record("b", "2026-01-02T00:00:00.000Z"),
    ];
    store.insert_events("org", "import", &batch).unwrap();

    assert_eq!(archive_day(&mut store, "2026-01-01"), 1);
    store
        .insert_events("org", "import", &[record("c", "2026-01-01T01:00:00.000Z")])
        .unwrap();

    let counts = store.archive_counts().unwrap();
    assert_eq!(counts.pending_events, 2);
    assert_eq!(counts.archived_events, 1);
    assert_eq!(archive_day(&mut store, "2026-01-01"), 1, "only `c` is new");
    assert_eq!(archive_day(&mut store, "2026-01-02"), 1);
    assert_eq!(store.archive_counts().unwrap().pending_events, 0);
}

#[test]
fn events_stored_after_pruning_newest_are_pending() {
    let (_folder, mut store) = temp_store();
    let batch = [
        record("a", "2026-01-01T00:00:00.000Z"),
        record("b", "2026-01-01T01:00:00.000Z"),
    ];
    store.insert_events("org", "import", &batch).unwrap();
    archive_day(&mut store, "2026-01-01");

    // Deleting every event lets SQLite give the next event rowid 1 again.
    assert_eq!(
        store
            .prune_archived_events("2026-02-01T00:00:00.000Z")
            .unwrap(),
        2
    );
    store
        .insert_events("org", "import", &[record("c", "2026-01-03T00:00:00.000Z")])
        .unwrap();

    assert_eq!(store.archive_counts().unwrap().pending_events, 1);
    assert_eq!(archive_day(&mut store, "2026-01-03"), 1);
}

#[test]
fn event_stored_again_after_pruning_is_relinked() {
    let (_folder, mut store) = temp_store();
    let event = record("a", "2026-01-01T00:00:00.000Z");
    store
        .insert_events("org", "import", std::slice::from_ref(&event))
        .unwrap();
    archive_day(&mut store, "2026-01-01");
    store
        .prune_archived_events("2026-02-01T00:00:00.000Z")
        .unwrap();

    store.insert_events("org", "import", &[event]).unwrap();
    assert_eq!(store.relink_archived_events().unwrap(), 1);
    assert_eq!(store.archive_counts().unwrap().pending_events, 0);
}
