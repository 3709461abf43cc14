//! The JSON values of a parsed event.
//!
//! A [`Node`] is a JSON value whose objects are vectors of key and value
//! pairs rather than `serde_json`'s B-tree maps. A parsed event keeps only
//! a few keys of each object. For objects that small, a scan of a vector
//! takes fewer instructions than a B-tree search, both when rules look a key
//! up and when the projection parser updates an event in place. A vector
//! also keeps all pairs of an object in one allocation.
//!
//! Keys within an object are unique; when the text repeats a key, the last
//! value wins, as in `serde_json`. The order of the pairs is not part of the
//! value: [`Node`]'s equality compares objects as maps.

use serde_json::{Map, Number, Value};

/// A JSON value.
#[derive(Clone, Debug, Default)]
pub enum Node {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    /// Pairs with unique keys, in no particular order.
    Object(Vec<(String, Node)>),
}

impl Node {
    /// Returns the value of `key` spelled exactly so, if this is an object
    /// that has it.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Node> {
        let Node::Object(pairs) = self else {
            return None;
        };
        pairs
            .iter()
            .find(|(name, _)| name.len() == key.len() && name == key)
            .map(|(_, value)| value)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Number(number) => number.as_f64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// Returns the value as a `serde_json` value, with object keys in
    /// `serde_json`'s order.
    pub fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(flag) => Value::Bool(*flag),
            Node::Number(number) => Value::Number(number.clone()),
            Node::String(text) => Value::String(text.clone()),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Object(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_value()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }
}

impl From<Value> for Node {
    fn from(value: Value) -> Node {
        match value {
            Value::Null => Node::Null,
            Value::Bool(flag) => Node::Bool(flag),
            Value::Number(number) => Node::Number(number),
            Value::String(text) => Node::String(text),
            Value::Array(items) => Node::Array(items.into_iter().map(Node::from).collect()),
            // A `serde_json` map has unique keys already.
            Value::Object(map) => Node::Object(
                map.into_iter()
                    .map(|(key, value)| (key, Node::from(value)))
                    .collect(),
            ),
        }
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Null, Node::Null) => true,
            (Node::Bool(left), Node::Bool(right)) => left == right,
            (Node::Number(left), Node::Number(right)) => left == right,
            (Node::String(left), Node::String(right)) => left == right,
            (Node::Array(left), Node::Array(right)) => left == right,
            // Keys are unique, so equal lengths and every key of one
            // present with an equal value in the other make equal maps.
            (Node::Object(left), Node::Object(right)) => {
                left.len() == right.len()
                    && left
                        .iter()
                        .all(|(key, value)| other.get(key).is_some_and(|found| found == value))
            }
            _ => false,
        }
    }
}

impl std::ops::Index<&str> for Node {
    type Output = Node;

    /// Returns the value of `key`, or `Null` when there is none, as
    /// `serde_json::Value` does.
    fn index(&self, key: &str) -> &Node {
        static NULL: Node = Node::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl PartialEq<&str> for Node {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Node;

    #[test]
    fn converts_to_and_from_serde_json() {
        let value = json!({
            "a": [1, 2.5, "x", null, true, {"b": {}}],
            "c": {"d": -3, "e": []},
            "f": "text",
        });
        let node = Node::from(value.clone());
        assert_eq!(node.to_value(), value);
        assert_eq!(node["c"]["d"].as_f64(), Some(-3.0));
        assert_eq!(node["f"], "text");
        assert!(node["missing"]["deeper"].is_null());
        assert_eq!(
            node.get("a").and_then(Node::as_array).map(<[Node]>::len),
            Some(6)
        );
    }

    #[test]
    fn objects_compare_as_maps() {
        let forward = Node::Object(vec![
            ("a".into(), Node::Bool(true)),
            ("b".into(), Node::Null),
        ]);
        let backward = Node::Object(vec![
            ("b".into(), Node::Null),
            ("a".into(), Node::Bool(true)),
        ]);
        let other = Node::Object(vec![
            ("b".into(), Node::Null),
            ("c".into(), Node::Bool(true)),
        ]);
        assert_eq!(forward, backward);
        assert_ne!(forward, other);
        assert_ne!(forward, Node::Object(vec![("a".into(), Node::Bool(true))]));
    }
}
