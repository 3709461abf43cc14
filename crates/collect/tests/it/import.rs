use std::io::Write;

use idaudit_collect::import::{Location, import_path, import_reader};
use serde_json::json;

use crate::temp_store;

fn event(uuid: &str) -> serde_json::Value {
    json!({
        "uuid": uuid,
        "published": "2026-11-30T10:00:00.000Z",
        "eventType": "user.session.start",
        "version": "0",
        "actor": {"id": "00u1", "type": "User", "alternateId": "jdoe@example.com"},
        "outcome": {"result": "SUCCESS"}
    })
}

#[test]
fn json_array_with_bad_element() {
    let (_folder, mut store) = temp_store();
    let input = json!([event("a"), {"not": "an event"}, event("b"), 42]).to_string();
    let summary = import_reader(&mut store, "org", "events.json", input.as_bytes()).unwrap();

    assert_eq!(summary.records, 4);
    assert_eq!(summary.stored.inserted, 2);
    assert_eq!(summary.rejected.len(), 2);
    assert_eq!(summary.rejected[0].location, Location::Index(1));
    assert_eq!(summary.rejected[1].location, Location::Index(3));
    assert!(
        summary.rejected[0]
            .to_string()
            .starts_with("events.json [1]: ")
    );
}

#[test]
fn json_lines_with_malformed_line() {
    let (_folder, mut store) = temp_store();
    let input = format!("{}\n{{broken\n\n{}\n", event("a"), event("b"));
    let summary = import_reader(&mut store, "org", "events.jsonl", input.as_bytes()).unwrap();

    assert_eq!(summary.stored.inserted, 2);
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(summary.rejected[0].location, Location::Line(2));
    assert!(
        summary.rejected[0].reason.contains("invalid JSON"),
        "{}",
        summary.rejected[0].reason
    );
    assert_eq!(store.count_events().unwrap(), 2);
}

#[test]
fn duplicates_stored_once() {
    let (_folder, mut store) = temp_store();
    let input = format!("{}\n{}\n{}\n", event("a"), event("a"), event("b"));
    let summary = import_reader(&mut store, "org", "dupes.jsonl", input.as_bytes()).unwrap();
    assert_eq!(summary.stored.inserted, 2);
    assert_eq!(summary.stored.duplicates, 1);

    let again = import_reader(&mut store, "org", "dupes.jsonl", input.as_bytes()).unwrap();
    assert_eq!(again.stored.inserted, 0);
    assert_eq!(again.stored.duplicates, 3);
    assert_eq!(store.count_events().unwrap(), 2);
}

#[test]
fn api_page_and_hook_delivery() {
    let (_folder, mut store) = temp_store();
    let page = json!([event("p1"), event("p2")]).to_string();
    let hook = json!({
        "eventType": "com.okta.event_hook",
        "eventId": "85b60edb-4263-4e13-993b-818e26201052",
        "data": {"events": [event("h1"), event("h2"), event("h3")]}
    })
    .to_string();

    let from_page = import_reader(&mut store, "org", "page.json", page.as_bytes()).unwrap();
    let from_hook = import_reader(&mut store, "org", "hook.json", hook.as_bytes()).unwrap();
    assert_eq!(from_page.stored.inserted, 2);
    assert_eq!(from_hook.stored.inserted, 3);
    assert!(from_hook.rejected.is_empty());
}

#[test]
fn gzip_file_imported() {
    let (folder, mut store) = temp_store();
    let path = folder.path().join("events.jsonl.gz");
    let file = std::fs::File::create(&path).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    for uuid in ["g1", "g2", "g3"] {
        writeln!(encoder, "{}", event(uuid)).unwrap();
    }
    encoder.finish().unwrap();

    let summary = import_path(&mut store, "org", &path).unwrap();
    assert_eq!(summary.stored.inserted, 3);
    assert!(summary.rejected.is_empty());
}

#[test]
fn invalid_whole_document_reported() {
    let (_folder, mut store) = temp_store();
    let summary = import_reader(&mut store, "org", "cut.json", "[{\"uuid\": ".as_bytes()).unwrap();
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(summary.rejected[0].location, Location::Whole);
    assert_eq!(store.count_events().unwrap(), 0);
}

#[test]
fn empty_input_imports_nothing() {
    let (_folder, mut store) = temp_store();
    let summary = import_reader(&mut store, "org", "empty", "  \n".as_bytes()).unwrap();
    assert_eq!(summary.records, 0);
    assert!(summary.rejected.is_empty());
}

#[test]
fn pretty_printed_hook_delivery() {
    let (_folder, mut store) = temp_store();
    let hook = json!({
        "eventType": "com.okta.event_hook",
        "data": {"events": [event("p1"), event("p2")]}
    });
    let pretty = serde_json::to_string_pretty(&hook).unwrap();
    let summary = import_reader(&mut store, "org", "hook.json", pretty.as_bytes()).unwrap();
    assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
    assert_eq!(summary.stored.inserted, 2);

    let single = serde_json::to_string_pretty(&event("p3")).unwrap();
    let summary = import_reader(&mut store, "org", "event.json", single.as_bytes()).unwrap();
    assert_eq!(summary.stored.inserted, 1);
}

#[test]
fn broken_pretty_object_reported_by_line() {
    let (_folder, mut store) = temp_store();
    let broken = "{\n  \"uuid\": \"x\",\n  oops\n}\n";
    let summary = import_reader(&mut store, "org", "broken.json", broken.as_bytes()).unwrap();
    assert!(!summary.rejected.is_empty());
    assert!(
        summary
            .rejected
            .iter()
            .all(|rejection| matches!(rejection.location, Location::Line(_)))
    );
    assert_eq!(store.count_events().unwrap(), 0);
}
