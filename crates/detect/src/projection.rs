//! Parsing of only the event fields that a set of rules reads.
//!
//! Building a whole `serde_json::Value` costs one allocation per key and
//! string, and a simulator LogEvent has about eighty of them, so a full
//! parse takes most of the time of a detection run. A [`Projection`] is a
//! tree of the dotted paths the rules read. Parsing with it still scans the
//! whole text, but it builds values only along those paths and skips the
//! rest without allocating.
//!
//! Keys match without regard to ASCII case, as [`crate::sigma::FieldPath`]
//! resolves them, so an event keeps every spelling of a key a rule may
//! read. Arrays are kept element by element with the same subtree, because
//! paths fan out over arrays. The value at the end of a path is kept whole.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::event::Event;
use crate::rules::Rule;

/// The fields to keep, as a tree of keys.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Projection {
    /// Keep the whole value.
    All,
    /// Keep only these keys of an object, each with its own subtree. Keys
    /// are lower-cased.
    Keys(Vec<(String, Projection)>),
}

impl Projection {
    /// Returns a projection that keeps nothing until paths are added.
    pub fn empty() -> Projection {
        Projection::Keys(Vec::new())
    }

    /// Returns the projection that `rules` read: the fields of [`Event`]'s
    /// accessors and those each rule names, or everything when a rule may
    /// read any field.
    pub fn for_rules(rules: &[Box<dyn Rule>]) -> Projection {
        let mut projection = Projection::empty();
        for path in Event::ACCESSOR_FIELDS {
            projection.add_dotted(path);
        }
        for rule in rules {
            let Some(paths) = rule.fields() else {
                return Projection::All;
            };
            for path in paths {
                projection.add_dotted(&path);
            }
        }
        projection
    }

    /// Adds a path given as its keys; an empty path keeps everything.
    pub fn add<S: AsRef<str>>(&mut self, segments: &[S]) {
        let Projection::Keys(children) = self else {
            return;
        };
        let Some((first, rest)) = segments.split_first() else {
            *self = Projection::All;
            return;
        };
        let key = first.as_ref().to_ascii_lowercase();
        let position = match children.iter().position(|(name, _)| *name == key) {
            Some(position) => position,
            None => {
                children.push((key, Projection::empty()));
                children.len() - 1
            }
        };
        children[position].1.add(rest);
    }

    /// Adds a dotted path such as `client.geographicalContext.country`.
    pub fn add_dotted(&mut self, path: &str) {
        let segments: Vec<&str> = path.split('.').collect();
        self.add(&segments);
    }

    /// Parses JSON text, keeping only the projected fields.
    pub fn parse(&self, text: &str) -> Result<Value, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let value = self.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }

    fn child(&self, key: &str) -> Option<&Projection> {
        match self {
            Projection::All => Some(self),
            Projection::Keys(children) => children
                .iter()
                .find(|(name, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, child)| child),
        }
    }
}

impl<'de> DeserializeSeed<'de> for &Projection {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self {
            Projection::All => serde::Deserialize::deserialize(deserializer),
            Projection::Keys(_) => deserializer.deserialize_any(ProjectedVisitor(self)),
        }
    }
}

/// Builds a value from JSON, descending into objects only along the projection.
struct ProjectedVisitor<'a>(&'a Projection);

impl<'de> Visitor<'de> for ProjectedVisitor<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.0.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = items.next_element_seed(self.0)? {
            values.push(value);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = entries.next_key_seed(KeySeed(self.0))? {
            match key {
                Some((key, child)) => {
                    let value = entries.next_value_seed(child)?;
                    map.insert(key, value);
                }
                None => {
                    entries.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(map))
    }
}

/// Reads an object key and returns it with its subtree when the projection
/// keeps it; a skipped key is not copied.
struct KeySeed<'a>(&'a Projection);

impl<'de, 'a> DeserializeSeed<'de> for KeySeed<'a> {
    type Value = Option<(String, &'a Projection)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'a> Visitor<'_> for KeySeed<'a> {
    type Value = Option<(String, &'a Projection)>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.child(key).map(|child| (key.to_string(), child)))
    }
}
