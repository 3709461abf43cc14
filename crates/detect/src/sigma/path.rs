//! Field paths such as `debugContext.debugData.privilegeGranted`, resolved
//! against a JSON event.
//!
//! Keys match without regard to ASCII case, because the SigmaHQ Okta rules
//! spell fields in lower case (`eventtype`, `actor.alternateid`) while Okta
//! sends camelCase. Arrays fan out: `target.type` (or `target[].type`) reads
//! the `type` of every target.

use serde_json::Value;

use crate::projection::eq_lowercase;

/// A parsed dotted field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<String>,
    /// `segments` in ASCII lower case.
    lower: Vec<String>,
}

impl FieldPath {
    pub fn parse(text: &str) -> FieldPath {
        let segments: Vec<String> = text
            .split('.')
            .map(|segment| segment.trim_end_matches("[]").to_string())
            .collect();
        let lower = segments
            .iter()
            .map(|segment| segment.to_ascii_lowercase())
            .collect();
        FieldPath { segments, lower }
    }

    /// Returns the keys of the path, in order.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Tells whether the path is the single key `eventType`, in any case.
    pub fn is_event_type(&self) -> bool {
        self.segments.len() == 1 && self.segments[0].eq_ignore_ascii_case("eventtype")
    }

    /// Calls `visit` with every value the path reaches; stops early when
    /// `visit` returns true, and returns whether it did.
    pub fn any(&self, event: &Value, visit: &mut dyn FnMut(&Value) -> bool) -> bool {
        walk(event, &self.segments, &self.lower, visit)
    }

    /// Returns the first scalar the path reaches, as text.
    pub fn first_text(&self, event: &Value) -> Option<String> {
        let mut found = None;
        self.any(event, &mut |value| {
            found = scalar_text(value).map(|text| text.into_owned());
            found.is_some()
        });
        found
    }
}

/// Walks `segments`, whose lower-case forms are `lower`, from `value`.
fn walk(
    value: &Value,
    segments: &[String],
    lower: &[String],
    visit: &mut dyn FnMut(&Value) -> bool,
) -> bool {
    if let Value::Array(items) = value {
        return items.iter().any(|item| walk(item, segments, lower, visit));
    }
    let (Some((first, rest)), Some((first_lower, rest_lower))) =
        (segments.split_first(), lower.split_first())
    else {
        return visit(value);
    };
    let Value::Object(map) = value else {
        return false;
    };
    match child_ignoring_case(map, first, first_lower) {
        Some(child) => walk(child, rest, rest_lower, visit),
        None => false,
    }
}

/// Returns the value of the key spelled exactly `name`, else of the first
/// key, in the map's order, equal to `name` without regard to ASCII case.
/// One pass over the keys does both, because most maps of an event are
/// small and most keys differ from `name` in length. `lower` is `name` in
/// ASCII lower case.
fn child_ignoring_case<'a>(
    map: &'a serde_json::Map<String, Value>,
    name: &str,
    lower: &str,
) -> Option<&'a Value> {
    let mut folded = None;
    for (key, child) in map {
        if key.len() != name.len() {
            continue;
        }
        if key == name {
            return Some(child);
        }
        if folded.is_none() && eq_lowercase(key.as_bytes(), lower.as_bytes()) {
            folded = Some(child);
        }
    }
    folded
}

/// Returns a scalar as text: strings as they are, numbers and booleans in
/// their JSON spelling. `null`, arrays and objects have no text.
pub fn scalar_text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::String(text) => Some(std::borrow::Cow::Borrowed(text)),
        Value::Number(number) => Some(std::borrow::Cow::Owned(number.to_string())),
        Value::Bool(flag) => Some(std::borrow::Cow::Borrowed(if *flag {
            "true"
        } else {
            "false"
        })),
        _ => None,
    }
}
