//! Field paths such as `debugContext.debugData.privilegeGranted`, resolved
//! against a JSON event.
//!
//! Keys match without regard to ASCII case, because the SigmaHQ Okta rules
//! spell fields in lower case (`eventtype`, `actor.alternateid`) while Okta
//! sends camelCase. Arrays fan out: `target.type` (or `target[].type`) reads
//! the `type` of every target.

use crate::node::Node;
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
    pub fn any(&self, event: &Node, visit: &mut dyn FnMut(&Node) -> bool) -> bool {
        walk(event, &self.segments, &self.lower, visit)
    }

    /// Returns the first scalar the path reaches, as text.
    pub fn first_text(&self, event: &Node) -> Option<String> {
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
    value: &Node,
    segments: &[String],
    lower: &[String],
    visit: &mut dyn FnMut(&Node) -> bool,
) -> bool {
    if let Node::Array(items) = value {
        return items.iter().any(|item| walk(item, segments, lower, visit));
    }
    let (Some((first, rest)), Some((first_lower, rest_lower))) =
        (segments.split_first(), lower.split_first())
    else {
        return visit(value);
    };
    let Node::Object(pairs) = value else {
        return false;
    };
    match child_ignoring_case(pairs, first, first_lower) {
        Some(child) => walk(child, rest, rest_lower, visit),
        None => false,
    }
}

/// Returns the value of the key spelled exactly `name`, else of the first
/// key in byte order among those equal to `name` without regard to ASCII
/// case. Byte order makes the result independent of the order of the pairs.
///
/// One pass over the keys does both, because most objects of an event are
/// small and most keys differ from `name` in length. `lower` is `name` in
/// ASCII lower case.
fn child_ignoring_case<'a>(
    pairs: &'a [(String, Node)],
    name: &str,
    lower: &str,
) -> Option<&'a Node> {
    let mut folded: Option<(&str, &Node)> = None;
    for (key, child) in pairs {
        if key.len() != name.len() {
            continue;
        }
        if key == name {
            return Some(child);
        }
        if folded.is_none_or(|(first, _)| key.as_str() < first)
            && eq_lowercase(key.as_bytes(), lower.as_bytes())
        {
            folded = Some((key, child));
        }
    }
    folded.map(|(_, child)| child)
}

/// Returns a scalar as text: strings as they are, numbers and booleans in
/// their JSON spelling. `null`, arrays and objects have no text.
pub fn scalar_text(value: &Node) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Node::String(text) => Some(std::borrow::Cow::Borrowed(text)),
        Node::Number(number) => Some(std::borrow::Cow::Owned(number.to_string())),
        Node::Bool(flag) => Some(std::borrow::Cow::Borrowed(if *flag {
            "true"
        } else {
            "false"
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::FieldPath;
    use crate::node::Node;

    fn object(pairs: &[(&str, &str)]) -> Node {
        Node::Object(
            pairs
                .iter()
                .map(|(key, value)| (key.to_string(), Node::String(value.to_string())))
                .collect(),
        )
    }

    #[test]
    fn arrays_fan_out_at_any_depth() {
        let event = Node::from(serde_json::json!({
            "target": [
                {"type": "User", "tags": [["a", "b"], "c"]},
                [{"type": "Group"}],
            ],
        }));
        let texts = |path: &str| {
            let mut found = Vec::new();
            FieldPath::parse(path).any(&event, &mut |value| {
                found.extend(value.as_str().map(str::to_string));
                false
            });
            found
        };

        assert_eq!(texts("target.type"), ["User", "Group"]);
        assert_eq!(texts("target.tags"), ["a", "b", "c"]);
        assert!(texts("target.type.x").is_empty());
    }

    #[test]
    fn case_variants_read_independent_of_order() {
        let forward = object(&[("EventType", "camel"), ("EVENTTYPE", "upper")]);
        let backward = object(&[("EVENTTYPE", "upper"), ("EventType", "camel")]);

        for event in [&forward, &backward] {
            // No key is spelled `eventtype`, so the first in byte order wins.
            let folded = FieldPath::parse("eventtype").first_text(event);
            assert_eq!(folded.as_deref(), Some("upper"));

            let exact = FieldPath::parse("EventType").first_text(event);
            assert_eq!(exact.as_deref(), Some("camel"));
        }
    }
}
