//! Turning one JSON value into a storable System Log event.
//!
//! Okta's LogEvent is camelCase with a required `uuid`, `published` and
//! `eventType`. Exports made by other tools differ: Cribl keeps the event as
//! a JSON string in `_raw`, and Panther lower-cases some top-level keys and
//! rewrites `published`. Wrappers are unwrapped. A record whose keys were
//! renamed is rejected with the reason rather than guessed at, so that a rule
//! cannot match it by mistake.

use chrono::{DateTime, NaiveDateTime, Utc};
use idaudit_okta::RawPage;
use idaudit_store::EventRecord;
use serde_json::{Map, Value};

/// Fields that hold a whole LogEvent as a JSON string in export formats.
const WRAPPER_FIELDS: &[&str] = &["_raw", "message"];

/// Renamed keys that mark an event rewritten by another tool.
const LOWER_CASED_KEYS: &[(&str, &str)] = &[
    ("eventtype", "eventType"),
    ("displaymessage", "displayMessage"),
    ("debugcontext", "debugContext"),
    ("authenticationcontext", "authenticationContext"),
    ("securitycontext", "securityContext"),
    ("legacyeventtype", "legacyEventType"),
];

/// Builds an [`EventRecord`] from a LogEvent, or from a wrapper that contains
/// one as a JSON string. Returns the reason when the value is not a LogEvent.
pub fn to_event_record(value: Value) -> Result<EventRecord, String> {
    let object = unwrap_event(value)?;

    if let Some((found, expected)) = LOWER_CASED_KEYS
        .iter()
        .find(|(found, _)| object.contains_key(*found))
    {
        return Err(format!(
            "unrecognised event: key `{found}` instead of Okta's `{expected}` (keys were renamed by another tool)"
        ));
    }

    let uuid = required_text(&object, "uuid")?;
    let event_type = required_text(&object, "eventType")?;
    let published_text = required_text(&object, "published")?;
    let published = parse_published(&published_text)
        .ok_or_else(|| format!("invalid `published` value `{}`", truncate(&published_text)))?;

    let actor = object.get("actor");
    let record = EventRecord {
        uuid,
        published: idaudit_store::format_time(published),
        event_type,
        actor_id: text_at(actor, &["id"]),
        actor_alternate_id: text_at(actor, &["alternateId"]),
        outcome_result: text_at(object.get("outcome"), &["result"]),
        client_ip: text_at(object.get("client"), &["ipAddress"]).filter(|ip| ip != "null"),
        raw: Value::Object(object).to_string(),
    };
    Ok(record)
}

/// The events of one System Log page: how many items it has, and each
/// item's record or the reason it cannot be stored.
pub type PageEvents = (usize, Vec<Result<EventRecord, String>>);

/// Reads the events of a System Log page for `logs follow` and `logs pull`. Plain LogEvents are read straight
/// from their text, as `logs import` reads them, and stored as Okta sent
/// them, less whitespace. Anything else goes through a JSON tree.
pub fn event_records(page: &RawPage) -> idaudit_okta::Result<PageEvents> {
    if let Some(texts) = page.item_texts() {
        let results = texts
            .iter()
            .map(|text| match plain_event_record(text.get()) {
                Some(record) => Ok(record),
                None => serde_json::from_str(text.get())
                    .map_err(|error| format!("invalid JSON: {error}"))
                    .and_then(to_event_record),
            })
            .collect();
        return Ok((texts.len(), results));
    }
    let items = page.to_page()?.items;
    Ok((
        items.len(),
        items.into_iter().map(to_event_record).collect(),
    ))
}

/// Builds an [`EventRecord`] from the text of a plain LogEvent without
/// building its JSON tree, and keeps the text, without whitespace between
/// tokens, as `raw`. Returns `None` for anything that needs a closer look: a
/// wrapper, a hook delivery, renamed keys, a missing or mistyped key field,
/// or invalid JSON. [`to_event_record`] then decides, with its reasons.
pub fn plain_event_record(text: &str) -> Option<EventRecord> {
    let (fields, raw) = crate::plain::scan_plain_event(text)?;
    let uuid = fields.uuid.filter(|uuid| !uuid.trim().is_empty())?;
    let event_type = fields.event_type.filter(|kind| !kind.trim().is_empty())?;
    let published = parse_published(fields.published?)?;
    Some(EventRecord {
        uuid: uuid.to_string(),
        published: idaudit_store::format_time(published),
        event_type: event_type.to_string(),
        actor_id: fields.actor_id.map(str::to_string),
        actor_alternate_id: fields.actor_alternate_id.map(str::to_string),
        outcome_result: fields.outcome_result.map(str::to_string),
        client_ip: fields
            .client_ip
            .filter(|ip| *ip != "null")
            .map(str::to_string),
        raw,
    })
}

/// Returns the LogEvent object inside `value`, unwrapping a JSON-string wrapper.
fn unwrap_event(value: Value) -> Result<Map<String, Value>, String> {
    let Value::Object(object) = value else {
        return Err(format!("expected a JSON object, found {}", kind_of(&value)));
    };
    if object.contains_key("eventType") || object.contains_key("eventtype") {
        return Ok(object);
    }
    for field in WRAPPER_FIELDS {
        if let Some(Value::String(inner)) = object.get(*field) {
            return match serde_json::from_str::<Value>(inner) {
                Ok(Value::Object(inner)) => Ok(inner),
                Ok(other) => Err(format!(
                    "field `{field}` holds {} instead of an event",
                    kind_of(&other)
                )),
                Err(error) => Err(format!("field `{field}` is not valid JSON: {error}")),
            };
        }
    }
    Err("unrecognised record: no `eventType` field".to_string())
}

/// Parses Okta's ISO 8601 `published`, and the `YYYY-MM-DD HH:MM:SS.fff`
/// form that some exporters write, read as UTC.
pub fn parse_published(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc())
}

fn required_text(object: &Map<String, Value>, key: &str) -> Result<String, String> {
    match object.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        Some(Value::String(_)) => Err(format!("empty `{key}`")),
        Some(other) => Err(format!("`{key}` is {} instead of a string", kind_of(other))),
        None => Err(format!("missing `{key}`")),
    }
}

fn text_at(value: Option<&Value>, path: &[&str]) -> Option<String> {
    let mut current = value?;
    for key in path {
        current = current.get(key)?;
    }
    current.as_str().map(str::to_string)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use idaudit_okta::RawPage;
    use idaudit_okta::rate::RateLimit;

    use super::{event_records, parse_published, plain_event_record, to_event_record};

    fn event() -> serde_json::Value {
        json!({
            "uuid": "a1", "published": "2021-06-25T21:27:03.49Z", "eventType": "user.session.start",
            "actor": {"id": "00u1", "alternateId": "jdoe@example.com"},
            "outcome": {"result": "FAILURE"}, "client": {"ipAddress": "198.51.100.7"}
        })
    }

    #[test]
    fn plain_event() {
        let record = to_event_record(event()).unwrap();
        assert_eq!(record.uuid, "a1");
        assert_eq!(record.published, "2021-06-25T21:27:03.490Z");
        assert_eq!(
            record.actor_alternate_id.as_deref(),
            Some("jdoe@example.com")
        );
        assert_eq!(record.client_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(record.outcome_result.as_deref(), Some("FAILURE"));
    }

    #[test]
    fn raw_string_wrapper_unwrapped() {
        let wrapper = json!({"_raw": event().to_string(), "_time": 1});
        let record = to_event_record(wrapper).unwrap();
        assert_eq!(record.uuid, "a1");
        assert!(!record.raw.contains("_time"));
    }

    #[test]
    fn lower_cased_keys_rejected() {
        let renamed = json!({"uuid": "a2", "published": "2021-06-25T21:27:03Z", "eventtype": "user.session.start"});
        let reason = to_event_record(renamed).unwrap_err();
        assert!(reason.contains("`eventtype`"), "{reason}");
    }

    #[test]
    fn bad_published_rejected() {
        let mut redacted = event();
        redacted["published"] = json!("redacted");
        assert!(
            to_event_record(redacted)
                .unwrap_err()
                .contains("`published`")
        );
        let mut missing = event();
        missing.as_object_mut().unwrap().remove("published");
        assert_eq!(to_event_record(missing).unwrap_err(), "missing `published`");
    }

    #[test]
    fn published_forms() {
        assert!(parse_published("2021-06-25T21:27:03.490Z").is_some());
        assert!(parse_published("2021-06-25 21:27:03.490123").is_some());
        assert!(parse_published("2021-06-25 21:27:03.490123456").is_some());
        assert!(parse_published("yesterday").is_none());
    }

    #[test]
    fn plain_path_matches_general_path() {
        let text = serde_json::to_string_pretty(&event()).unwrap();
        let plain = plain_event_record(&text).unwrap();
        let general = to_event_record(event()).unwrap();
        assert_eq!(plain.uuid, general.uuid);
        assert_eq!(plain.published, general.published);
        assert_eq!(plain.event_type, general.event_type);
        assert_eq!(plain.actor_id, general.actor_id);
        assert_eq!(plain.actor_alternate_id, general.actor_alternate_id);
        assert_eq!(plain.outcome_result, general.outcome_result);
        assert_eq!(plain.client_ip, general.client_ip);
        assert!(!plain.raw.contains(' '), "{}", plain.raw);
        let raw: serde_json::Value = serde_json::from_str(&plain.raw).unwrap();
        assert_eq!(raw, event());
    }

    #[test]
    fn plain_path_leaves_special_records() {
        let wrapper = json!({"_raw": event().to_string()}).to_string();
        let renamed = json!({"uuid": "a2", "published": "2021-06-25T21:27:03Z",
                             "eventType": "x", "eventtype": null})
        .to_string();
        let hook = json!({"eventType": "com.okta.event_hook", "data": {"events": []}}).to_string();
        let mut mistyped = event();
        mistyped["actor"]["id"] = json!(7);
        for text in [
            wrapper,
            renamed,
            hook,
            mistyped.to_string(),
            "{broken".to_string(),
        ] {
            assert!(plain_event_record(&text).is_none(), "{text}");
        }
    }

    #[test]
    fn null_ip_string_dropped() {
        let mut value = event();
        value["client"]["ipAddress"] = json!("null");
        assert_eq!(to_event_record(value).unwrap().client_ip, None);
    }

    fn page(body: &str) -> RawPage {
        RawPage {
            url: "https://example.okta.com/api/v1/logs".to_string(),
            body: body.as_bytes().to_vec().into(),
            next: None,
            rate: RateLimit::default(),
        }
    }

    #[test]
    fn page_items_read_by_either_path() {
        let body = r#"[
            {"uuid": "plain", "published": "2026-01-01T00:00:00.000Z", "eventType": "user.session.start", "b": 1, "a": 2},
            {"uuid": "escaped", "published": "2026-01-01T00:00:01.000Z", "event\u0054ype": "user.session.start"},
            {"published": "2026-01-01T00:00:02.000Z", "eventType": "user.session.start"},
            7
        ]"#;
        let (count, results) = event_records(&page(body)).unwrap();
        assert_eq!(count, 4);
        let plain = results[0].as_ref().unwrap();
        // Stored as sent, keys in Okta's order, without whitespace.
        assert_eq!(
            plain.raw,
            r#"{"uuid":"plain","published":"2026-01-01T00:00:00.000Z","eventType":"user.session.start","b":1,"a":2}"#
        );
        assert_eq!(
            results[1].as_ref().unwrap().event_type,
            "user.session.start"
        );
        assert_eq!(results[2].as_ref().unwrap_err(), "missing `uuid`");
        assert!(results[3].is_err());
    }

    #[test]
    fn wrapped_page_read_through_json_tree() {
        let body = r#"{"value": [{"uuid": "w", "published": "2026-01-01T00:00:00.000Z", "eventType": "x"}]}"#;
        let (count, results) = event_records(&page(body)).unwrap();
        assert_eq!(count, 1);
        assert_eq!(results[0].as_ref().unwrap().uuid, "w");
    }

    #[test]
    fn invalid_page_body_is_an_error() {
        assert!(event_records(&page("[{")).is_err());
    }
}
