//! A System Log event as rules see it: the raw JSON object plus the fields
//! every rule needs, read once.
//!
//! Only an object with Okta's own camelCase `eventType` key holding a string
//! is an event. Panther-normalised records (`eventtype`, `debugcontext`) and
//! other JSON are reported as unrecognised, so no rule can match them by
//! accident, even though Sigma field names match keys without regard to case.

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::node::Node;
use crate::projection::Projection;

/// Okta's own actor for changes it makes itself, such as setting up a new org.
pub const SYSTEM_ACTOR: &str = "system@okta.com";

/// One parsed LogEvent.
#[derive(Clone, Debug)]
pub struct Event {
    pub uuid: String,
    pub published: Option<DateTime<Utc>>,
    pub event_type: String,
    /// The event as Okta sent it: the whole of it, or, when a detector
    /// parsed it, the fields its rules read.
    ///
    /// NOTE: [`Event::outcome_is`] and [`Event::actor_name`] read copies
    /// made when the event was parsed, so they do not see later changes here.
    pub value: Node,
    /// Whether Okta itself acted, worked out on first use: every rule
    /// about people asks.
    system_actor: OnceLock<bool>,
    /// `outcome.result`, empty when absent. Read from `value` once per
    /// event, because most rules test it first.
    outcome: String,
    /// The actor's most readable name, read from `value` once per event.
    actor: Option<String>,
    /// The position of the projection that `value` was last parsed with,
    /// if a projection parsed it.
    shape: Option<usize>,
    /// The value last parsed with each other projection, by position.
    /// Parsing an event of a type seen before then overwrites values in
    /// place instead of removing and adding fields.
    spares: Vec<Node>,
}

/// Reason a stored record is not an event rules can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unrecognised {
    /// The text is not JSON.
    NotJson,
    /// JSON without a string `eventType` key spelled as Okta spells it.
    NotLogEvent,
}

impl Event {
    /// Dotted paths of the fields that [`Event::parse`] reads and that the
    /// accessors with fixed paths read, such as [`Event::actor_name`]. Rules
    /// that call [`Event::text`] or [`Event::debug_text`] name their paths in
    /// [`crate::Rule::fields`]; rules that read some of these fields on a
    /// few event types only say so in [`crate::Rule::fields_for`].
    pub const ACCESSOR_FIELDS: &[&str] = &[
        "uuid",
        "published",
        "eventType",
        "outcome.result",
        "client.ipAddress",
        "client.geographicalContext.country",
        "client.geographicalContext.geolocation.lat",
        "client.geographicalContext.geolocation.lon",
        "securityContext.asNumber",
        "actor.alternateId",
        "actor.displayName",
        "actor.id",
        "actor.type",
        "target.type",
        "target.alternateId",
        "target.displayName",
        "target.id",
    ];

    /// Dotted paths of the fields that a detector parses on every event:
    /// those that [`Event::parse`] reads, and those that allow-lists, the
    /// skipping of Okta's system actor and correlation tallies read.
    pub const CORE_FIELDS: &[&str] = &[
        "uuid",
        "published",
        "eventType",
        "outcome.result",
        "client.ipAddress",
        "securityContext.asNumber",
        "actor.alternateId",
        "actor.displayName",
        "actor.id",
        "actor.type",
    ];

    /// Parses a stored LogEvent.
    pub fn parse(raw: &str) -> Result<Event, Unrecognised> {
        let value: Value = serde_json::from_str(raw).map_err(|_| Unrecognised::NotJson)?;
        Event::from_value(value)
    }

    /// Parses a stored LogEvent into `event`, keeping only the fields in
    /// `projection` and reusing the allocations of the event parsed before.
    /// On error `event` must not be read.
    ///
    /// `shape` is the projection's position among those that parse into
    /// `event`, for [`Event::take_shape`].
    pub(crate) fn parse_projected_into(
        raw: &str,
        projection: &Projection,
        shape: usize,
        event: &mut Event,
    ) -> Result<(), Unrecognised> {
        event.take_shape(shape);
        projection
            .parse_into(raw, &mut event.value)
            .map_err(|_| Unrecognised::NotJson)?;
        let top = TopLevel::find(&event.value);
        match top.event_type {
            Some(Node::String(text)) if !text.is_empty() => {
                event.event_type.clear();
                event.event_type.push_str(text);
            }
            _ => return Err(Unrecognised::NotLogEvent),
        }
        event.uuid.clear();
        if let Some(uuid) = top.uuid.and_then(Node::as_str) {
            event.uuid.push_str(uuid);
        }
        event.published = top.published.and_then(published_time);
        event.system_actor = OnceLock::new();
        copy_accessor_fields(&top, &mut event.outcome, &mut event.actor);
        Ok(())
    }

    /// Puts the value last parsed with projection `shape` in `value`, and
    /// keeps the current one as the spare of its own projection.
    fn take_shape(&mut self, shape: usize) {
        if self.shape == Some(shape) {
            return;
        }
        // The position of the projection in use is below the length
        // already, because this resized `spares` when it took that shape.
        if self.spares.len() <= shape {
            self.spares.resize_with(shape + 1, Node::default);
        }
        // The slot of the projection in use contains only a placeholder.
        if let Some(current) = self.shape {
            std::mem::swap(&mut self.value, &mut self.spares[current]);
        }
        std::mem::swap(&mut self.value, &mut self.spares[shape]);
        self.shape = Some(shape);
    }

    /// Copies the fields that rules read most often out of `value`,
    /// reusing the strings of the event parsed before.
    fn read_accessor_fields(&mut self) {
        let top = TopLevel::find(&self.value);
        copy_accessor_fields(&top, &mut self.outcome, &mut self.actor);
    }

    /// Reads the fields every rule needs from a parsed LogEvent.
    pub fn from_value(value: Value) -> Result<Event, Unrecognised> {
        let value = Node::from(value);
        let event_type = match value.get("eventType") {
            Some(Node::String(text)) if !text.is_empty() => text.clone(),
            _ => return Err(Unrecognised::NotLogEvent),
        };
        let uuid = value
            .get("uuid")
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        let published = value.get("published").and_then(published_time);
        let mut event = Event {
            uuid,
            published,
            event_type,
            value,
            system_actor: OnceLock::new(),
            outcome: String::new(),
            actor: None,
            shape: None,
            spares: Vec::new(),
        };
        event.read_accessor_fields();
        Ok(event)
    }

    /// Returns the text at a dotted path of exact keys, such as `outcome.result`.
    pub fn text(&self, path: &str) -> Option<&str> {
        let mut current = &self.value;
        let mut rest = path;
        // A byte loop finds the dots of paths this short in fewer
        // instructions than `str::split`, whose search for each dot calls
        // `memchr`.
        loop {
            let end = rest
                .bytes()
                .position(|byte| byte == b'.')
                .unwrap_or(rest.len());
            current = current.get(&rest[..end])?;
            if end == rest.len() {
                break;
            }
            rest = &rest[end + 1..];
        }
        current.as_str().filter(|text| !text.is_empty())
    }

    /// Tells whether `outcome.result` is `result`; an empty `result` never matches.
    pub fn outcome_is(&self, result: &str) -> bool {
        !self.outcome.is_empty() && self.outcome == result
    }

    /// Returns the client IP, treating Okta's `"null"` string as absent.
    pub fn client_ip(&self) -> Option<&str> {
        self.text("client.ipAddress").filter(|ip| *ip != "null")
    }

    /// Returns the actor's most readable name.
    pub fn actor_name(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    pub fn actor_type(&self) -> Option<&str> {
        self.text("actor.type")
    }

    /// Tells whether Okta itself, not a person or a client, acted. The
    /// answer is computed once, so a change to `value` after the first
    /// call is not seen.
    pub fn actor_is_system(&self) -> bool {
        *self.system_actor.get_or_init(|| {
            self.actor_type() == Some("SystemPrincipal")
                || self
                    .actor_name()
                    .is_some_and(|name| name.eq_ignore_ascii_case(SYSTEM_ACTOR))
        })
    }

    /// Returns the first target of the given type.
    pub fn target_of_type(&self, entity_type: &str) -> Option<&Node> {
        self.value
            .get("target")?
            .as_array()?
            .iter()
            .find(|target| target.get("type").and_then(Node::as_str) == Some(entity_type))
    }

    /// Returns a `debugContext.debugData` value as text, whether Okta sent it
    /// as a string or as another JSON value.
    pub fn debug_text(&self, key: &str) -> Option<String> {
        let value = self.value.get("debugContext")?.get("debugData")?.get(key)?;
        match value {
            Node::String(text) => Some(text.clone()),
            Node::Null => None,
            other => Some(other.to_value().to_string()),
        }
    }

    /// Returns the country Okta resolved the client IP to.
    pub fn country(&self) -> Option<&str> {
        self.text("client.geographicalContext.country")
    }

    /// Returns the autonomous system number of the client IP, as text.
    pub fn asn(&self) -> Option<String> {
        let context = self.value.get("securityContext")?;
        match context.get("asNumber")? {
            Node::Number(number) => Some(number.to_string()),
            Node::String(text) if !text.is_empty() => Some(text.clone()),
            _ => None,
        }
    }

    /// Appends the autonomous system number of the client IP, as
    /// [`Event::asn`] returns it, to `buffer`. Returns false when there is none.
    pub(crate) fn write_asn(&self, buffer: &mut String) -> bool {
        use std::fmt::Write;

        let Some(context) = self.value.get("securityContext") else {
            return false;
        };
        match context.get("asNumber") {
            Some(Node::Number(number)) => write!(buffer, "{number}").is_ok(),
            Some(Node::String(text)) if !text.is_empty() => {
                buffer.push_str(text);
                true
            }
            _ => false,
        }
    }

    /// Returns the latitude and longitude of the client IP, in degrees.
    pub fn geolocation(&self) -> Option<(f64, f64)> {
        let location = self
            .value
            .get("client")?
            .get("geographicalContext")?
            .get("geolocation")?;
        Some((
            location.get("lat")?.as_f64()?,
            location.get("lon")?.as_f64()?,
        ))
    }
}

impl Default for Event {
    /// Returns an event with no fields, to parse into with
    /// [`crate::Detector::parse_into`].
    fn default() -> Event {
        Event {
            uuid: String::new(),
            published: None,
            event_type: String::new(),
            value: Node::Null,
            system_actor: OnceLock::new(),
            outcome: String::new(),
            actor: None,
            shape: None,
            spares: Vec::new(),
        }
    }
}

/// Returns a `published` value as a time, if it is a string in RFC 3339.
fn published_time(value: &Node) -> Option<DateTime<Utc>> {
    let text = value.as_str()?;
    if let Some(time) = okta_time(text) {
        return Some(time);
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// Returns the time of text in the form Okta writes `published` in, such
/// as `2026-01-31T09:00:00.123Z`, or `None` for any other text, which
/// [`DateTime::parse_from_rfc3339`] then reads. Where both read a text,
/// they return the same time, and this takes fewer instructions.
fn okta_time(text: &str) -> Option<DateTime<Utc>> {
    let bytes: &[u8; 24] = text.as_bytes().try_into().ok()?;
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ];
    if separators
        .iter()
        .any(|&(at, separator)| bytes[at] != separator)
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        bytes[from..to].iter().try_fold(0u32, |number, &byte| {
            byte.is_ascii_digit()
                .then(|| number * 10 + u32::from(byte - b'0'))
        })
    };
    let second = number(17, 19)?;
    // A leap second (`60`) is left to chrono.
    if second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?;
    let time = date.and_hms_milli_opt(number(11, 13)?, number(14, 16)?, second, number(20, 23)?)?;
    Some(time.and_utc())
}

/// The top-level values of an event that [`Event`] copies out of it, found
/// in one pass over the event's keys, which costs less than a map lookup
/// for each.
#[derive(Default)]
struct TopLevel<'a> {
    event_type: Option<&'a Node>,
    uuid: Option<&'a Node>,
    published: Option<&'a Node>,
    outcome: Option<&'a Node>,
    actor: Option<&'a Node>,
}

impl<'a> TopLevel<'a> {
    /// Finds the keys spelled exactly as Okta spells them, as `Node::get`
    /// would. A value that is not an object has none of them.
    fn find(value: &'a Node) -> TopLevel<'a> {
        let mut top = TopLevel::default();
        let Node::Object(pairs) = value else {
            return top;
        };
        for (key, child) in pairs {
            let slot = match key.as_str() {
                "eventType" => &mut top.event_type,
                "uuid" => &mut top.uuid,
                "published" => &mut top.published,
                "outcome" => &mut top.outcome,
                "actor" => &mut top.actor,
                _ => continue,
            };
            *slot = Some(child);
        }
        top
    }
}

/// Copies `outcome.result` and the actor's name into `outcome` and `actor`,
/// reusing their strings.
fn copy_accessor_fields(top: &TopLevel<'_>, outcome: &mut String, actor: &mut Option<String>) {
    outcome.clear();
    if let Some(result) = top
        .outcome
        .and_then(|value| value.get("result"))
        .and_then(Node::as_str)
    {
        outcome.push_str(result);
    }
    let name = top.actor.and_then(entity_name);
    match (actor.as_mut(), name) {
        (Some(actor), Some(name)) => {
            actor.clear();
            actor.push_str(name);
        }
        (_, name) => *actor = name.map(str::to_string),
    }
}

/// Returns the most readable name of an actor or target: the alternate id
/// (a login), else the display name, else the id.
pub fn entity_name(entity: &Node) -> Option<&str> {
    ["alternateId", "displayName", "id"]
        .into_iter()
        .filter_map(|key| entity.get(key).and_then(Node::as_str))
        .find(|name| !name.is_empty() && *name != "unknown")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use chrono::{DateTime, Utc};

    use super::{Event, Node, okta_time};

    /// Returns the text at `path` as `str::split` on dots would walk it.
    fn text_by_split<'a>(value: &'a Node, path: &str) -> Option<&'a str> {
        let mut current = value;
        for key in path.split('.') {
            current = current.get(key)?;
        }
        current.as_str().filter(|text| !text.is_empty())
    }

    #[test]
    fn text_walks_dotted_paths() {
        let event = Event::from_value(json!({
            "eventType": "user.session.start",
            "a": {"b": {"c": "deep"}, "": {"d": "empty key"}, "e": ""},
            "": "top empty key",
            "f": "top",
        }))
        .unwrap();
        let paths = [
            "f",
            "a.b.c",
            "a..d",
            "",
            ".",
            "a.",
            "a.b",
            "a.b.c.d",
            "a.e",
            "x",
            "a.x.c",
            ".a",
            "eventType",
        ];

        for path in paths {
            assert_eq!(
                event.text(path),
                text_by_split(&event.value, path),
                "{path:?}"
            );
        }
        assert_eq!(event.text("a.b.c"), Some("deep"));
        assert_eq!(event.text("a..d"), Some("empty key"));
        assert_eq!(event.text(""), Some("top empty key"));
        assert_eq!(event.text("a.e"), None);
    }

    #[test]
    fn okta_time_equals_rfc3339_parse() {
        let mut texts = vec![
            "2026-01-31T09:00:00.123Z".to_string(),
            "2024-02-29T23:59:59.999Z".to_string(),
            "2023-02-29T00:00:00.000Z".to_string(),
            "2026-12-31T24:00:00.000Z".to_string(),
            "2026-06-30T23:59:60.000Z".to_string(),
            "2026-13-01T00:00:00.000Z".to_string(),
            "2026-00-10T00:00:00.000Z".to_string(),
            "2026-01-00T00:00:00.000Z".to_string(),
            "2026-01-01T00:60:00.000Z".to_string(),
            "0000-01-01T00:00:00.000Z".to_string(),
            "2026-01-01t00:00:00.000z".to_string(),
            "2026-01-01T00:00:00.000+00:00".to_string(),
            "2026-01-01T00:00:00Z".to_string(),
            "2026-01-01T00:00:00.1234Z".to_string(),
            "2026-01-01 00:00:00.000Z".to_string(),
            "2026-01-01T00:00:0x.000Z".to_string(),
            "+026-01-01T00:00:00.000Z".to_string(),
        ];
        // Days 1 and 28 to 31 of every month of a leap year, at the first
        // and last second of the day and at 12:30:45.
        for month in 1..=12 {
            for day in [1, 28, 29, 30, 31] {
                for (hour, minute, second) in [(0, 0, 0), (23, 59, 59), (12, 30, 45)] {
                    texts.push(format!(
                        "2024-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{day:03}Z"
                    ));
                }
            }
        }

        for text in &texts {
            let expected = DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|time| time.with_timezone(&Utc));
            if let Some(time) = okta_time(text) {
                assert_eq!(Some(time), expected, "{text}");
            }
            let published = Event::from_value(serde_json::json!({
                "eventType": "user.session.start",
                "published": text,
            }))
            .unwrap()
            .published;
            assert_eq!(published, expected, "{text}");
        }
        assert!(okta_time("2026-01-31T09:00:00.123Z").is_some());
        assert!(okta_time("2026-06-30T23:59:60.000Z").is_none());
    }
}
