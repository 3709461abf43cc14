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

/// Events `a` and `b` on two days, and `a` again.
fn two_days_one_repeated() -> [EventRecord; 3] {
    [
        record("a", "2026-01-01T00:00:00.000Z"),
        record("b", "2026-01-02T00:00:00.000Z"),
        record("a", "2026-01-01T00:00:00.000Z"),
    ]
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
    store
        .insert_events("org", "import", &two_days_one_repeated())
        .unwrap();

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

fn batch_uuids(store: &Store, batch: i64) -> Vec<String> {
    let mut uuids = Vec::new();
    let count = store
        .for_each_archive_batch_event(batch, |row| uuids.push(row.uuid))
        .unwrap();
    assert_eq!(count, uuids.len() as u64);
    uuids
}

#[test]
fn day_larger_than_batch_splits_in_stored_order() {
    let (_folder, mut store) = temp_store();
    // Stored latest first, with another day's events in between.
    let batch = [
        record("e", "2026-01-01T05:00:00.000Z"),
        record("other-1", "2026-01-02T00:00:00.000Z"),
        record("d", "2026-01-01T04:00:00.000Z"),
        record("c", "2026-01-01T03:00:00.000Z"),
        record("other-2", "2026-01-02T01:00:00.000Z"),
        record("b", "2026-01-01T02:00:00.000Z"),
        record("a", "2026-01-01T01:00:00.000Z"),
    ];
    store.insert_events("org", "import", &batch).unwrap();

    let mut batches = Vec::new();
    while let Some(batch) = store
        .create_archive_batch("org", "2026-01-01", 2, "now", |id| format!("{id}.parquet"))
        .unwrap()
    {
        batches.push(batch);
    }
    let uuids: Vec<Vec<String>> = batches
        .iter()
        .map(|batch| batch_uuids(&store, batch.id))
        .collect();
    assert_eq!(uuids, vec![vec!["d", "e"], vec!["b", "c"], vec!["a"]]);
    let events: Vec<u64> = batches.iter().map(|batch| batch.events).collect();
    assert_eq!(events, vec![2, 2, 1]);
    assert_eq!(store.archive_counts().unwrap().pending_events, 2);
}

#[test]
fn sparse_day_reads_only_its_events() {
    let (_folder, mut store) = temp_store();
    // One event of the first day among many of the second, so that the
    // first day's rowid range is far wider than its events.
    let mut batch = vec![record("first-day", "2026-01-01T12:00:00.000Z")];
    for index in 0..40 {
        batch.push(record(
            &format!("second-{index:02}"),
            &format!("2026-01-02T00:00:{index:02}.000Z"),
        ));
    }
    batch.push(record("first-day-late", "2026-01-01T13:00:00.000Z"));
    store.insert_events("org", "import", &batch).unwrap();
    store
        .insert_events(
            "other-org",
            "import",
            &[record("other-org", "2026-01-01T12:30:00.000Z")],
        )
        .unwrap();

    let first = store
        .create_archive_batch("org", "2026-01-01", 100, "now", |id| {
            format!("{id}.parquet")
        })
        .unwrap()
        .expect("two events are pending");
    assert_eq!(
        batch_uuids(&store, first.id),
        vec!["first-day", "first-day-late"]
    );
    let second = store
        .create_archive_batch("org", "2026-01-02", 100, "now", |id| {
            format!("{id}.parquet")
        })
        .unwrap()
        .expect("forty events are pending");
    assert_eq!(batch_uuids(&store, second.id).len(), 40);
    assert_eq!(store.archive_counts().unwrap().pending_events, 1);
}

#[test]
fn unwritten_batch_keeps_its_events() {
    let (_folder, mut store) = temp_store();
    store
        .insert_events("org", "import", &[record("a", "2026-01-01T00:00:00.000Z")])
        .unwrap();
    let batch = store
        .create_archive_batch("org", "2026-01-01", 10, "now", |id| format!("{id}.parquet"))
        .unwrap()
        .expect("one event is pending");
    store
        .insert_events("org", "import", &[record("b", "2026-01-01T00:30:00.000Z")])
        .unwrap();

    assert_eq!(batch_uuids(&store, batch.id), vec!["a"]);
    assert_eq!(
        store
            .prune_archived_events("2026-02-01T00:00:00.000Z")
            .unwrap(),
        0,
        "nothing is deleted while a batch is unwritten"
    );
    let next = store
        .create_archive_batch("org", "2026-01-01", 10, "now", |id| format!("{id}.parquet"))
        .unwrap()
        .expect("`b` is pending");
    assert_eq!(batch_uuids(&store, next.id), vec!["b"]);
    assert_eq!(batch_uuids(&store, batch.id), vec!["a"]);
}

/// Reads the archive's scan mark, the largest rowid of `events` and the
/// pending ranges as (date, events), through a second connection.
fn scan_state(store: &Store) -> (i64, i64, Vec<(String, i64)>) {
    let connection = rusqlite::Connection::open(store.path()).unwrap();
    let (mark, newest) = connection
        .query_row(
            "SELECT events_through, (SELECT COALESCE(MAX(rowid), 0) FROM events) FROM archive_scan",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let mut statement = connection
        .prepare("SELECT date, events FROM archive_ranges ORDER BY date")
        .unwrap();
    let ranges = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    (mark, newest, ranges)
}

/// Events stored through the store join their day's pending range in the
/// transaction that stores them, so the archive reads no row back to find
/// them.
#[test]
fn stored_events_join_ranges_without_a_scan() {
    let (_folder, mut store) = temp_store();
    store
        .insert_events("org", "import", &two_days_one_repeated())
        .unwrap();
    {
        let mut writer = store.event_writer("org", "import").unwrap();
        writer
            .insert(&record("c", "2026-01-02T01:00:00.000Z"))
            .unwrap();
        writer.commit().unwrap();
        writer
            .insert(&record("d", "2026-01-03T00:00:00.000Z"))
            .unwrap();
        writer
            .insert(&record("b", "2026-01-02T00:00:00.000Z"))
            .unwrap();
        writer.commit().unwrap();
    }

    let (mark, newest, ranges) = scan_state(&store);
    assert_eq!(mark, newest, "the mark covers every stored event");
    let expected = [("2026-01-01", 1), ("2026-01-02", 2), ("2026-01-03", 1)];
    let expected: Vec<(String, i64)> = expected
        .iter()
        .map(|(date, events)| (date.to_string(), *events))
        .collect();
    assert_eq!(ranges, expected);
    assert_eq!(store.archive_counts().unwrap().pending_events, 4);
    assert_eq!(archive_day(&mut store, "2026-01-02"), 2);
    assert_eq!(batch_uuids_of_day(&mut store, "2026-01-03"), vec!["d"]);
}

/// When rows above the mark were stored by something that did not add them
/// to the ranges (an older version of idaudit), new events wait for the
/// scan with them, which counts each event once.
#[test]
fn events_after_unscanned_rows_wait() {
    let (_folder, mut store) = temp_store();
    store
        .insert_events("org", "import", &[record("a", "2026-01-01T00:00:00.000Z")])
        .unwrap();
    let connection = rusqlite::Connection::open(store.path()).unwrap();
    connection
        .execute(
            "INSERT INTO events (uuid, org, published, event_type, source, stored_at, raw)
             VALUES ('old', 'org', '2026-01-01T02:00:00.000Z', 'user.session.start', 'import', 'now', '{}')",
            [],
        )
        .unwrap();
    let (mark_before, _, _) = scan_state(&store);

    store
        .insert_events("org", "import", &[record("b", "2026-01-01T03:00:00.000Z")])
        .unwrap();

    let (mark, newest, _) = scan_state(&store);
    assert_eq!(mark, mark_before, "the mark waits for the scan");
    assert!(newest > mark);
    assert_eq!(store.archive_counts().unwrap().pending_events, 3);
    assert_eq!(archive_day(&mut store, "2026-01-01"), 3);
    assert_eq!(store.archive_counts().unwrap().pending_events, 0);
}

/// Batches the pending events of `date` and returns their uuids.
fn batch_uuids_of_day(store: &mut Store, date: &str) -> Vec<String> {
    let batch = store
        .create_archive_batch("org", date, 1_000, "now", |id| format!("{id}.parquet"))
        .unwrap()
        .expect("events are pending");
    batch_uuids(store, batch.id)
}
