//! The System Log archive: Parquet objects read back with the parquet crate
//! and with pyarrow, in a local folder and through an S3-compatible server,
//! and each event archived exactly once across interrupted runs.
//!
//! Two environment variables, which `.ci/run` sets, enable the parts that need
//! software from outside the workspace: `IDAUDIT_TEST_PYTHON` names a Python
//! with pyarrow, and `IDAUDIT_TEST_S3_ENDPOINT` is the loopback URL of an
//! S3-compatible server that accepts any credentials (moto in server mode).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::TryStreamExt;
use idaudit_collect::archive::{
    ArchivePolicy, ArchiveTarget, S3Credentials, S3Location, archive_pending, create_batches,
    encode_batch, write_object,
};
use idaudit_collect::to_event_record;
use idaudit_okta_sim::OrgSpec;
use idaudit_store::{EventRecord, Store};
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use crate::temp_store;

const ORG: &str = "acme.okta.com";

/// One archived row as read back from an object.
#[derive(Debug)]
struct ArchivedRow {
    object: String,
    uuid: String,
    published_ms: i64,
    event_type: String,
}

/// Events of a small simulated org: about 600 over four days.
fn simulated_events(end: DateTime<Utc>) -> Vec<EventRecord> {
    let spec = OrgSpec {
        seed: 7,
        users: 150,
        groups: 20,
        apps: 8,
        log_days: 4,
        end,
        ..OrgSpec::default()
    };
    let org = idaudit_okta_sim::generate(&spec);
    org.events
        .iter()
        .map(|event| {
            let value: Value = serde_json::from_str(event.as_json()).unwrap();
            to_event_record(value).unwrap()
        })
        .collect()
}

/// A LogEvent with every field that becomes a column.
fn full_event(uuid: &str, published: &str) -> EventRecord {
    let value = json!({
        "uuid": uuid,
        "published": published,
        "eventType": "user.session.start",
        "version": "0",
        "severity": "WARN",
        "actor": {"id": "00u1", "type": "User", "alternateId": "jdoe@example.com"},
        "client": {
            "ipAddress": "198.51.100.7",
            "zone": "null",
            "geographicalContext": {"country": "France", "city": "Lyon"}
        },
        "securityContext": {"asNumber": 64500, "isp": "Example ISP"},
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
        "target": [{"id": "0oa1", "type": "AppInstance"}, {"id": "0oa2", "type": "AppInstance"}],
        "transaction": {"type": "WEB", "id": "Wx1"}
    });
    to_event_record(value).unwrap()
}

fn store_uuids(store: &Store) -> BTreeSet<String> {
    let mut uuids = BTreeSet::new();
    store
        .for_each_event(None, None, |event| {
            uuids.insert(event.uuid);
        })
        .unwrap();
    uuids
}

/// Opens the archive object at `location` with the parquet crate.
async fn object_reader(
    objects: &dyn object_store::ObjectStore,
    location: &object_store::path::Path,
) -> parquet::arrow::arrow_reader::ParquetRecordBatchReader {
    let bytes = objects.get(location).await.unwrap().bytes().await.unwrap();
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap()
}

/// Reads every object of the archive with the parquet crate.
async fn read_back(target: &ArchiveTarget) -> Vec<ArchivedRow> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMillisecondType;

    let objects = target.object_store();
    let listed: Vec<_> = objects.list(None).try_collect().await.unwrap();
    let mut rows = Vec::new();
    for meta in listed {
        let name = meta.location.to_string();
        if !name.ends_with(".parquet") {
            continue;
        }
        let reader = object_reader(objects.as_ref(), &meta.location).await;
        for batch in reader {
            let batch = batch.unwrap();
            let uuid = batch.column_by_name("uuid").unwrap().as_string::<i32>();
            let published = batch
                .column_by_name("published")
                .unwrap()
                .as_primitive::<TimestampMillisecondType>();
            let event_type = batch
                .column_by_name("event_type")
                .unwrap()
                .as_string::<i32>();
            for index in 0..batch.num_rows() {
                rows.push(ArchivedRow {
                    object: name.clone(),
                    uuid: uuid.value(index).to_string(),
                    published_ms: published.value(index),
                    event_type: event_type.value(index).to_string(),
                });
            }
        }
    }
    rows
}

/// Asserts that every uuid of `expected` is archived exactly once, in the
/// partition of its org and `published` day.
fn assert_exactly_once(rows: &[ArchivedRow], expected: &BTreeSet<String>) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for row in rows {
        *seen.entry(&row.uuid).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        duplicated.is_empty(),
        "archived more than once: {duplicated:?}"
    );
    let archived: BTreeSet<String> = seen.keys().map(|uuid| uuid.to_string()).collect();
    assert_eq!(archived.len(), expected.len());
    assert_eq!(&archived, expected);

    for row in rows {
        let day = Utc
            .timestamp_millis_opt(row.published_ms)
            .unwrap()
            .format("%Y-%m-%d");
        let partition = format!("org={ORG}/date={day}/");
        assert!(
            row.object.contains(&partition),
            "`{}` of {day} is in `{}`",
            row.uuid,
            row.object
        );
        assert!(!row.event_type.is_empty());
    }
}

/// Runs the pyarrow reader, or returns `None` when no Python is configured.
fn read_with_pyarrow(arguments: &[&str]) -> Option<Value> {
    let Ok(python) = std::env::var("IDAUDIT_TEST_PYTHON") else {
        eprintln!(
            "skipped the pyarrow check: IDAUDIT_TEST_PYTHON is not set (.ci/run sets it to a Python with pyarrow)"
        );
        return None;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/archive/read_archive.py");
    let output = Command::new(python)
        .arg(script)
        .args(arguments)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pyarrow reader failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

/// Checks what pyarrow read against the store's uuids and partitions.
fn assert_pyarrow_matches(read: &Value, expected: &BTreeSet<String>) {
    assert_eq!(read["published_type"], "timestamp[ms, tz=UTC]");
    let rows = read["rows"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    let uuids: BTreeSet<String> = rows
        .iter()
        .map(|row| row["uuid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&uuids, expected);
    for row in rows {
        let day = Utc
            .timestamp_millis_opt(row["published_ms"].as_i64().unwrap())
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        assert_eq!(row["date"], day.as_str());
        assert_eq!(row["org"], ORG);
    }
}

#[tokio::test]
async fn local_archive_matches_store() {
    let (folder, mut store) = temp_store();
    let events = simulated_events(Utc::now() - Duration::days(2));
    store.insert_events(ORG, "import", &events).unwrap();
    let expected = store_uuids(&store);
    assert!(expected.len() > 100, "only {} events", expected.len());

    let archive = folder.path().join("archive");
    let target = ArchiveTarget::local(&archive).unwrap();
    let report = archive_pending(&mut store, &target, &ArchivePolicy::on_demand())
        .await
        .unwrap();
    assert_eq!(report.events, expected.len() as u64);
    assert_eq!(report.pending_events, 0);
    // Four or five days of events: one object per day.
    assert!(report.objects.len() >= 4, "{:?}", report.objects);

    let rows = read_back(&target).await;
    assert_exactly_once(&rows, &expected);

    let again = archive_pending(&mut store, &target, &ArchivePolicy::on_demand())
        .await
        .unwrap();
    assert!(again.objects.is_empty(), "{:?}", again.objects);

    if let Some(read) = read_with_pyarrow(&[archive.to_str().unwrap()]) {
        assert_pyarrow_matches(&read, &expected);
    }
}

#[tokio::test]
async fn key_fields_become_columns() {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    let (folder, mut store) = temp_store();
    let mut bare = full_event("bare", "2026-11-30T11:00:00.000Z");
    bare.raw = json!({"uuid": "bare", "published": "2026-11-30T11:00:00.000Z",
                      "eventType": "system.import.done", "client": {"geographicalContext": null},
                      "target": null})
    .to_string();
    let events = [full_event("full", "2026-11-30T10:00:00.000Z"), bare];
    store.insert_events(ORG, "import", &events).unwrap();

    let target = ArchiveTarget::local(&folder.path().join("archive")).unwrap();
    let report = archive_pending(&mut store, &target, &ArchivePolicy::on_demand())
        .await
        .unwrap();
    assert_eq!(report.objects.len(), 1);

    let path = folder.path().join("archive").join(&report.objects[0]);
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap();
    assert!(
        metadata
            .iter()
            .any(|entry| entry.key == "idaudit.archive.schema_version")
    );
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    let text = |name: &str, row: usize| {
        let column = batch.column_by_name(name).unwrap().as_string::<i32>();
        (!column.is_null(row)).then(|| column.value(row).to_string())
    };

    assert_eq!(text("uuid", 0).as_deref(), Some("full"));
    assert_eq!(text("severity", 0).as_deref(), Some("WARN"));
    assert_eq!(text("outcome_result", 0).as_deref(), Some("FAILURE"));
    assert_eq!(
        text("outcome_reason", 0).as_deref(),
        Some("INVALID_CREDENTIALS")
    );
    assert_eq!(text("actor_id", 0).as_deref(), Some("00u1"));
    assert_eq!(
        text("actor_alternate_id", 0).as_deref(),
        Some("jdoe@example.com")
    );
    assert_eq!(text("actor_type", 0).as_deref(), Some("User"));
    assert_eq!(text("client_ip", 0).as_deref(), Some("198.51.100.7"));
    assert_eq!(text("country", 0).as_deref(), Some("France"));
    assert_eq!(text("city", 0).as_deref(), Some("Lyon"));
    assert_eq!(text("transaction_id", 0).as_deref(), Some("Wx1"));
    let asn = batch
        .column_by_name("asn")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(asn.value(0), 64500);
    let targets = batch.column_by_name("target_ids").unwrap().as_list::<i32>();
    let first_targets = targets.value(0);
    let first_targets = first_targets.as_string::<i32>();
    assert_eq!(first_targets.len(), 2);
    assert_eq!(first_targets.value(1), "0oa2");
    let raw: Value = serde_json::from_str(&text("raw", 0).unwrap()).unwrap();
    assert_eq!(raw["uuid"], "full");

    assert_eq!(text("uuid", 1).as_deref(), Some("bare"));
    assert_eq!(text("event_type", 1).as_deref(), Some("system.import.done"));
    assert_eq!(text("severity", 1), None);
    assert_eq!(text("country", 1), None);
    assert!(asn.is_null(1));
    assert!(targets.is_null(1));
}

#[tokio::test]
async fn interrupted_run_archives_each_event_once() {
    let (folder, mut store) = temp_store();
    let end = Utc::now() - Duration::days(1);
    let events = simulated_events(end);
    let (first, second) = events.split_at(events.len() / 2);
    store.insert_events(ORG, "import", first).unwrap();

    let target = ArchiveTarget::local(&folder.path().join("archive")).unwrap();
    let policy = ArchivePolicy::on_demand();
    let first_run = archive_pending(&mut store, &target, &policy).await.unwrap();
    assert_eq!(first_run.events, first.len() as u64);

    // A run stopped between writing its objects and confirming them: the
    // first batch is written and unconfirmed, the others not written at all.
    store.insert_events(ORG, "import", second).unwrap();
    let batches = create_batches(&mut store, &policy, Utc::now()).unwrap();
    assert!(batches.len() >= 2, "{batches:?}");
    let bytes = encode_batch(&store, &batches[0]).unwrap();
    write_object(&target, &batches[0].object, bytes)
        .await
        .unwrap();
    assert_eq!(
        store.archive_counts().unwrap().unwritten_batches,
        batches.len() as u64
    );

    // More events arrive before the restart; some fall on days that the
    // interrupted batches cover.
    let late: Vec<EventRecord> = (0..20)
        .map(|index| {
            let published = idaudit_store::format_time(end - Duration::hours(index * 3));
            full_event(&format!("late-{index}"), &published)
        })
        .collect();
    store.insert_events(ORG, "import", &late).unwrap();

    let restarted = archive_pending(&mut store, &target, &policy).await.unwrap();
    assert_eq!(restarted.resumed_objects, batches.len() as u64);
    for batch in &batches {
        assert!(
            restarted.objects.contains(&batch.object),
            "{} not rewritten",
            batch.object
        );
    }
    assert_eq!(restarted.events, (second.len() + late.len()) as u64);

    let expected = store_uuids(&store);
    assert_eq!(expected.len(), events.len() + late.len());
    let rows = read_back(&target).await;
    assert_exactly_once(&rows, &expected);
    let counts = store.archive_counts().unwrap();
    assert_eq!(counts.unwritten_batches, 0);
    assert_eq!(counts.archived_events, expected.len() as u64);
}

#[tokio::test]
async fn continuous_policy_waits_for_day_end() {
    let (folder, mut store) = temp_store();
    let now = Utc::now();
    let today = full_event("today", &idaudit_store::format_time(now));
    let earlier = full_event(
        "earlier",
        &idaudit_store::format_time(now - Duration::days(2)),
    );
    store.insert_events(ORG, "poll", &[today, earlier]).unwrap();

    let target = ArchiveTarget::local(&folder.path().join("archive")).unwrap();
    let continuous = ArchivePolicy::continuous();
    let report = archive_pending(&mut store, &target, &continuous)
        .await
        .unwrap();
    assert_eq!(report.events, 1);
    assert_eq!(report.pending_events, 1);

    let small = ArchivePolicy {
        max_events_per_object: 1,
        ..ArchivePolicy::continuous()
    };
    let full_batch = archive_pending(&mut store, &target, &small).await.unwrap();
    assert_eq!(
        full_batch.events, 1,
        "a full batch of an open day is written"
    );
    assert_eq!(full_batch.pending_events, 0);
}

#[tokio::test]
async fn retention_deletes_only_archived_events() {
    let (folder, mut store) = temp_store();
    let now = Utc::now();
    let old = |uuid: &str, days: i64| {
        full_event(
            uuid,
            &idaudit_store::format_time(now - Duration::days(days)),
        )
    };
    store
        .insert_events(
            ORG,
            "import",
            &[old("archived-old", 120), old("recent", 10)],
        )
        .unwrap();

    let target = ArchiveTarget::local(&folder.path().join("archive")).unwrap();
    archive_pending(&mut store, &target, &ArchivePolicy::on_demand())
        .await
        .unwrap();
    store
        .insert_events(ORG, "import", &[old("pending-old", 130)])
        .unwrap();

    let cutoff = idaudit_store::format_time(now - Duration::days(90));
    assert_eq!(store.prune_archived_events(&cutoff).unwrap(), 1);
    let left = store_uuids(&store);
    assert!(
        left.contains("pending-old"),
        "an event not archived was deleted"
    );
    assert!(left.contains("recent"));
    assert!(!left.contains("archived-old"));

    // The pruned event imported again is linked to its object, not archived twice.
    let policy = ArchivePolicy {
        keep_days: Some(90),
        ..ArchivePolicy::on_demand()
    };
    store
        .insert_events(ORG, "import", &[old("archived-old", 120)])
        .unwrap();
    let report = archive_pending(&mut store, &target, &policy).await.unwrap();
    assert_eq!(report.relinked_events, 1);
    assert_eq!(report.events, 1, "only `pending-old` is new to the archive");
    assert_eq!(report.pruned_events, 2);
    assert_eq!(store_uuids(&store), BTreeSet::from(["recent".to_string()]));

    let rows = read_back(&target).await;
    let archived: Vec<&str> = rows.iter().map(|row| row.uuid.as_str()).collect();
    assert_eq!(archived.len(), 3, "{archived:?}");
}

/// Creates a bucket on the test S3 server; it accepts unsigned requests.
async fn create_bucket(endpoint: &str, bucket: &str) {
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn s3_archive_matches_store() {
    let Ok(endpoint) = std::env::var("IDAUDIT_TEST_S3_ENDPOINT") else {
        eprintln!(
            "skipped: IDAUDIT_TEST_S3_ENDPOINT is not set (.ci/run starts a loopback S3 server and sets it)"
        );
        return;
    };
    let bucket = format!("idaudit-test-{}", uuid::Uuid::new_v4().simple());
    create_bucket(&endpoint, &bucket).await;
    let location = S3Location {
        bucket: bucket.clone(),
        prefix: "okta/system-log".to_string(),
        region: Some("us-east-1".to_string()),
        endpoint: Some(endpoint.clone()),
        credentials: Some(S3Credentials {
            access_key_id: "testing".to_string(),
            secret_access_key: "testing".to_string(),
        }),
    };
    let target = ArchiveTarget::s3(&location).unwrap();
    assert!(!format!("{target:?}").contains("secret_access_key: \"testing\""));

    let (_folder, mut store) = temp_store();
    let events = simulated_events(Utc::now() - Duration::days(2));
    let (first, second) = events.split_at(events.len() / 3);
    store.insert_events(ORG, "poll", first).unwrap();
    let policy = ArchivePolicy::on_demand();
    archive_pending(&mut store, &target, &policy).await.unwrap();

    // Interrupted after writing one object and before confirming it.
    store.insert_events(ORG, "poll", second).unwrap();
    let batches = create_batches(&mut store, &policy, Utc::now()).unwrap();
    let bytes = encode_batch(&store, &batches[0]).unwrap();
    write_object(&target, &batches[0].object, bytes)
        .await
        .unwrap();
    let resumed = archive_pending(&mut store, &target, &policy).await.unwrap();
    assert_eq!(resumed.resumed_objects, batches.len() as u64);

    let expected = store_uuids(&store);
    let rows = read_back(&target).await;
    for row in &rows {
        assert!(
            row.object.starts_with("okta/system-log/org="),
            "{}",
            row.object
        );
    }
    assert_exactly_once(&rows, &expected);

    let source = format!("s3://{bucket}/okta/system-log");
    if let Some(read) = read_with_pyarrow(&[&source, &endpoint, "testing", "testing"]) {
        assert_pyarrow_matches(&read, &expected);
    }
}

#[tokio::test]
async fn raw_column_matches_store_in_order() {
    use arrow_array::cast::AsArray;

    let (folder, mut store) = temp_store();
    let events = simulated_events(Utc::now() - Duration::days(2));
    store.insert_events(ORG, "import", &events).unwrap();
    let mut stored = BTreeMap::new();
    store
        .for_each_event(None, None, |event| {
            stored.insert(event.uuid, (event.published, event.raw));
        })
        .unwrap();

    // Small objects, so that each day is split and the encoding tasks reuse
    // their buffers for many batches.
    let target = ArchiveTarget::local(&folder.path().join("archive")).unwrap();
    let policy = ArchivePolicy {
        max_events_per_object: 37,
        ..ArchivePolicy::on_demand()
    };
    let report = archive_pending(&mut store, &target, &policy).await.unwrap();
    assert_eq!(report.events, stored.len() as u64);
    assert!(report.objects.len() > 10, "{:?}", report.objects);

    let objects = target.object_store();
    let listed: Vec<_> = objects.list(None).try_collect().await.unwrap();
    let mut archived = 0;
    for meta in listed {
        let reader = object_reader(objects.as_ref(), &meta.location).await;
        let mut keys = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let uuid = batch.column_by_name("uuid").unwrap().as_string::<i32>();
            let raw = batch.column_by_name("raw").unwrap().as_string::<i32>();
            for index in 0..batch.num_rows() {
                let uuid = uuid.value(index).to_string();
                let (published, stored_raw) = &stored[&uuid];
                assert_eq!(raw.value(index), stored_raw, "raw JSON of `{uuid}`");
                keys.push((published.clone(), uuid));
            }
        }
        assert!(
            keys.is_sorted(),
            "rows of {} are not in order of published then uuid",
            meta.location
        );
        archived += keys.len();
    }
    assert_eq!(archived, stored.len());
}
