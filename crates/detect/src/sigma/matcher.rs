//! One field condition of a Sigma selection, such as
//! `actor.alternateid|re: '^0oa'`, compiled for matching.
//!
//! Strings match without regard to case unless the `cased` modifier is
//! given, as the Sigma specification sets. `*` and `?` are wildcards unless
//! escaped with `\`. A list of values matches when any value matches, or
//! every value with the `all` modifier. A field that reaches several values
//! (an array) matches when any of them does.
//!
//! A path that is the single key `eventType`, in any case, reads
//! [`Event::event_type`] without walking the event. That is the top-level
//! key spelled exactly `eventType`, Okta's own key, by which the event is
//! recognised. An event may also have a key that differs from it only in
//! case, such as `eventtype`, and an `eventType` condition never reads it.
//! NOTE: other paths are walked, and a walk reads the key spelled as the
//! rule spells it, so a rule on `eventtype` once read such a second key.

use std::net::IpAddr;

use ipnet::IpNet;
use regex::{Regex, RegexBuilder};

use super::path::{FieldPath, scalar_text};
use crate::event::Event;
use crate::node::Node;

/// A field condition that could not be compiled; the caller adds the place.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("Unsupported field modifier `{0}`")]
    UnsupportedModifier(String),
    #[error("Invalid regular expression `{pattern}`: {message}")]
    InvalidRegex { pattern: String, message: String },
    #[error("Invalid CIDR range `{0}`")]
    InvalidCidr(String),
    #[error("Modifier `{modifier}` needs a number, found `{value}`")]
    NotANumber { modifier: String, value: String },
    #[error("Field values must be scalars or a list of scalars")]
    NotAScalar,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Clone, Copy, Debug)]
enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Clone, Debug)]
enum Pattern {
    /// Plain text; lower-cased when matching ignores case.
    Text {
        kind: Kind,
        needle: String,
    },
    /// A pattern with wildcards, or a `re` regular expression.
    Regex(Regex),
    Cidr(IpNet),
    Number(Comparison, f64),
    /// `null`: the field is missing or null.
    Null,
    /// `exists`: whether the field is present.
    Exists(bool),
}

/// A compiled field condition.
#[derive(Clone, Debug)]
pub struct FieldMatcher {
    pub path: FieldPath,
    patterns: Vec<Pattern>,
    all: bool,
    cased: bool,
    /// Whether every pattern tests one value at a time, unlike `null`
    /// and `exists`, which test the whole path.
    leaf_only: bool,
    /// Whether `path` is the single key `eventType`, which is read from
    /// [`Event::event_type`].
    reads_event_type: bool,
    /// The source text the matcher was compiled from. Two matchers with
    /// equal keys match the same events.
    key: MatcherKey,
    /// Position in the table of distinct conditions of the engine that
    /// evaluates the matcher, or [`FieldMatcher::NO_ID`].
    id: u32,
}

/// Source text of a field condition: the field with its modifiers and the
/// values, as the rule spells them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MatcherKey {
    spec: String,
    values: Vec<ScalarKey>,
}

/// A YAML scalar with its type, because the type can change the pattern.
/// For example, `exists: true` tests presence but `exists: 'true'` compares text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ScalarKey {
    Null,
    Bool(bool),
    Number(String),
    String(String),
}

impl ScalarKey {
    /// Returns the key of a scalar, or `None` for a list, map or tagged value.
    fn of(value: &yaml_serde::Value) -> Option<ScalarKey> {
        match value {
            yaml_serde::Value::Null => Some(ScalarKey::Null),
            yaml_serde::Value::Bool(flag) => Some(ScalarKey::Bool(*flag)),
            yaml_serde::Value::Number(number) => Some(ScalarKey::Number(number.to_string())),
            yaml_serde::Value::String(text) => Some(ScalarKey::String(text.clone())),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Modifiers {
    kind: Option<Kind>,
    regex: bool,
    regex_flags: String,
    cidr: bool,
    all: bool,
    cased: bool,
    exists: bool,
    comparison: Option<Comparison>,
}

impl FieldMatcher {
    /// Compiles `field|modifier|…` with its YAML value (a scalar or a list).
    pub fn compile(spec: &str, value: &yaml_serde::Value) -> Result<FieldMatcher, MatcherError> {
        let mut parts = spec.split('|');
        let path = FieldPath::parse(parts.next().unwrap_or_default());
        let modifiers = parse_modifiers(parts)?;

        let values: Vec<&yaml_serde::Value> = match value {
            yaml_serde::Value::Sequence(items) => items.iter().collect(),
            other => vec![other],
        };
        let patterns = values
            .iter()
            .map(|value| compile_pattern(value, &modifiers))
            .collect::<Result<Vec<_>, _>>()?;
        let leaf_only = patterns
            .iter()
            .all(|pattern| !matches!(pattern, Pattern::Null | Pattern::Exists(_)));
        let key = MatcherKey {
            spec: spec.to_string(),
            values: values
                .into_iter()
                .map(ScalarKey::of)
                .collect::<Option<Vec<_>>>()
                .ok_or(MatcherError::NotAScalar)?,
        };
        Ok(FieldMatcher {
            reads_event_type: path.is_event_type(),
            path,
            patterns,
            all: modifiers.all,
            cased: modifiers.cased,
            leaf_only,
            key,
            id: FieldMatcher::NO_ID,
        })
    }

    /// The id of a matcher that no engine has given an id.
    pub const NO_ID: u32 = u32::MAX;

    /// Returns the source text the matcher was compiled from.
    pub fn key(&self) -> &MatcherKey {
        &self.key
    }

    /// Returns the matcher's position in its engine's table of distinct
    /// conditions, or [`FieldMatcher::NO_ID`].
    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn set_id(&mut self, id: u32) {
        self.id = id;
    }

    /// Returns the values an unmodified `eventType` condition requires, lower-cased.
    pub fn required_event_types(&self) -> Option<Vec<String>> {
        if !self.path.is_event_type() || self.all || self.cased {
            return None;
        }
        self.patterns
            .iter()
            .map(|pattern| match pattern {
                Pattern::Text {
                    kind: Kind::Equals,
                    needle,
                } => Some(needle.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn matches(&self, event: &Event) -> bool {
        if self.reads_event_type {
            return self.matches_text(&event.event_type);
        }
        let event = &event.value;
        if self.all {
            return self
                .patterns
                .iter()
                .all(|pattern| self.pattern_matches(pattern, event));
        }
        if self.leaf_only {
            // Some value matching some pattern: one walk of the path tests
            // every pattern on each value, where a walk per pattern would
            // look the path up again for each value of the list.
            return self.path.any(event, &mut |value| {
                self.patterns
                    .iter()
                    .any(|pattern| leaf_matches(pattern, value, self.cased))
            });
        }
        self.patterns
            .iter()
            .any(|pattern| self.pattern_matches(pattern, event))
    }

    /// Matches a field that is present with the string value `text`.
    fn matches_text(&self, text: &str) -> bool {
        let pattern_matches = |pattern: &Pattern| match pattern {
            Pattern::Null => false,
            Pattern::Exists(expected) => *expected,
            _ => text_leaf_matches(pattern, text, self.cased),
        };
        if self.all {
            self.patterns.iter().all(pattern_matches)
        } else {
            self.patterns.iter().any(pattern_matches)
        }
    }

    fn pattern_matches(&self, pattern: &Pattern, event: &Node) -> bool {
        match pattern {
            Pattern::Null => !self.path.any(event, &mut |value| !value.is_null()),
            Pattern::Exists(expected) => self.path.any(event, &mut |_| true) == *expected,
            _ => self
                .path
                .any(event, &mut |value| leaf_matches(pattern, value, self.cased)),
        }
    }
}

fn parse_modifiers<'a>(parts: impl Iterator<Item = &'a str>) -> Result<Modifiers, MatcherError> {
    let mut modifiers = Modifiers::default();
    for modifier in parts {
        match modifier {
            "contains" => modifiers.kind = Some(Kind::Contains),
            "startswith" => modifiers.kind = Some(Kind::StartsWith),
            "endswith" => modifiers.kind = Some(Kind::EndsWith),
            "all" => modifiers.all = true,
            "re" => modifiers.regex = true,
            "i" | "m" | "s" if modifiers.regex => modifiers.regex_flags.push_str(modifier),
            "cidr" => modifiers.cidr = true,
            "cased" => modifiers.cased = true,
            "exists" => modifiers.exists = true,
            "lt" => modifiers.comparison = Some(Comparison::Less),
            "lte" => modifiers.comparison = Some(Comparison::LessOrEqual),
            "gt" => modifiers.comparison = Some(Comparison::Greater),
            "gte" => modifiers.comparison = Some(Comparison::GreaterOrEqual),
            other => return Err(MatcherError::UnsupportedModifier(other.to_string())),
        }
    }
    Ok(modifiers)
}

fn compile_pattern(
    value: &yaml_serde::Value,
    modifiers: &Modifiers,
) -> Result<Pattern, MatcherError> {
    let text = match value {
        yaml_serde::Value::Null => return Ok(Pattern::Null),
        yaml_serde::Value::String(text) => text.clone(),
        yaml_serde::Value::Number(number) => number.to_string(),
        yaml_serde::Value::Bool(flag) if modifiers.exists => return Ok(Pattern::Exists(*flag)),
        yaml_serde::Value::Bool(flag) => flag.to_string(),
        _ => return Err(MatcherError::NotAScalar),
    };

    if let Some(comparison) = modifiers.comparison {
        let number = text.parse::<f64>().map_err(|_| MatcherError::NotANumber {
            modifier: format!("{comparison:?}").to_lowercase(),
            value: text.clone(),
        })?;
        return Ok(Pattern::Number(comparison, number));
    }
    if modifiers.cidr {
        let network = text
            .parse::<IpNet>()
            .map_err(|_| MatcherError::InvalidCidr(text.clone()))?;
        return Ok(Pattern::Cidr(network));
    }
    if modifiers.regex {
        return build_regex(&text, &modifiers.regex_flags, false);
    }

    let kind = modifiers.kind.unwrap_or(Kind::Equals);
    if has_wildcard(&text) {
        return build_regex(&glob_to_regex(&text, kind), "s", !modifiers.cased);
    }
    let needle = unescape(&text);
    let needle = if modifiers.cased {
        needle
    } else {
        needle.to_lowercase()
    };
    Ok(Pattern::Text { kind, needle })
}

fn build_regex(pattern: &str, flags: &str, ignore_case: bool) -> Result<Pattern, MatcherError> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case || flags.contains('i'))
        .multi_line(flags.contains('m'))
        .dot_matches_new_line(flags.contains('s'))
        .build()
        .map(Pattern::Regex)
        .map_err(|error| MatcherError::InvalidRegex {
            pattern: pattern.to_string(),
            message: error.to_string(),
        })
}

fn leaf_matches(pattern: &Pattern, value: &Node, cased: bool) -> bool {
    if let Node::String(text) = value {
        return text_leaf_matches(pattern, text, cased);
    }
    match pattern {
        Pattern::Number(comparison, limit) => value
            .as_f64()
            .is_some_and(|number| compare(*comparison, number, *limit)),
        // Only a string can contain an IP address.
        Pattern::Cidr(_) => false,
        Pattern::Regex(regex) => scalar_text(value).is_some_and(|text| regex.is_match(&text)),
        Pattern::Text { kind, needle } => {
            scalar_text(value).is_some_and(|text| text_matches(*kind, needle, &text, cased))
        }
        Pattern::Null | Pattern::Exists(_) => false,
    }
}

/// Matches one string value, as [`leaf_matches`] does a JSON string.
fn text_leaf_matches(pattern: &Pattern, text: &str, cased: bool) -> bool {
    match pattern {
        Pattern::Number(comparison, limit) => text
            .parse::<f64>()
            .is_ok_and(|number| compare(*comparison, number, *limit)),
        Pattern::Cidr(network) => text
            .parse::<IpAddr>()
            .is_ok_and(|address| network.contains(&address)),
        Pattern::Regex(regex) => regex.is_match(text),
        Pattern::Text { kind, needle } => text_matches(*kind, needle, text, cased),
        Pattern::Null | Pattern::Exists(_) => false,
    }
}

fn compare(comparison: Comparison, number: f64, limit: f64) -> bool {
    match comparison {
        Comparison::Less => number < limit,
        Comparison::LessOrEqual => number <= limit,
        Comparison::Greater => number > limit,
        Comparison::GreaterOrEqual => number >= limit,
    }
}

fn text_matches(kind: Kind, needle: &str, text: &str, cased: bool) -> bool {
    if cased {
        return match kind {
            Kind::Equals => text == needle,
            Kind::Contains => text.contains(needle),
            Kind::StartsWith => text.starts_with(needle),
            Kind::EndsWith => text.ends_with(needle),
        };
    }
    match kind {
        Kind::Equals => text.len() == needle.len() && text.eq_ignore_ascii_case(needle),
        Kind::StartsWith => text
            .get(..needle.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(needle)),
        Kind::EndsWith => text
            .len()
            .checked_sub(needle.len())
            .and_then(|start| text.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(needle)),
        Kind::Contains => contains_ignoring_case(text, needle),
    }
}

/// Tells whether `text` in lower case contains `needle`, which is in lower
/// case already. ASCII text is compared byte by byte without a lower-case copy.
fn contains_ignoring_case(text: &str, needle: &str) -> bool {
    if !text.is_ascii() {
        return text.to_lowercase().contains(needle);
    }
    // Lower-casing ASCII text leaves it ASCII, so a needle with other
    // characters cannot occur in it, and a byte comparison is exact.
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return true;
    }
    text.as_bytes().windows(needle.len()).any(|window| {
        window
            .iter()
            .zip(needle)
            .all(|(byte, wanted)| byte.to_ascii_lowercase() == *wanted)
    })
}

/// Tells whether a Sigma value contains an unescaped `*` or `?`.
fn has_wildcard(text: &str) -> bool {
    let mut escaped = false;
    for character in text.chars() {
        match character {
            '\\' if !escaped => escaped = true,
            '*' | '?' if !escaped => return true,
            _ => escaped = false,
        }
    }
    false
}

/// Removes Sigma's escapes: `\*`, `\?` and `\\` stand for the character.
fn unescape(text: &str) -> String {
    let mut output = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '\\'
            && let Some(next @ ('*' | '?' | '\\')) = characters.peek().copied()
        {
            output.push(next);
            characters.next();
            continue;
        }
        output.push(character);
    }
    output
}

/// Translates a Sigma wildcard value into an anchored regular expression.
fn glob_to_regex(text: &str, kind: Kind) -> String {
    let mut pattern = String::from(match kind {
        Kind::Contains | Kind::EndsWith => "^.*",
        Kind::Equals | Kind::StartsWith => "^",
    });
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\\' => match characters.peek().copied() {
                Some(next @ ('*' | '?' | '\\')) => {
                    pattern.push_str(&regex::escape(&next.to_string()));
                    characters.next();
                }
                _ => pattern.push_str(r"\\"),
            },
            '*' => pattern.push_str(".*"),
            '?' => pattern.push('.'),
            other => pattern.push_str(&regex::escape(&other.to_string())),
        }
    }
    pattern.push_str(match kind {
        Kind::Contains | Kind::StartsWith => ".*$",
        Kind::Equals | Kind::EndsWith => "$",
    });
    pattern
}

#[cfg(test)]
mod tests {
    use super::contains_ignoring_case;

    /// The byte comparison for ASCII text must agree with lower-casing
    /// the text first, as the Sigma `contains` modifier is defined here.
    #[test]
    fn contains_ignoring_case_agrees_with_lowercase() {
        let texts = [
            "Okta Dashboard",
            "OKTA",
            "",
            "Zürich Office",
            "İstanbul",
            "a",
        ];
        let needles = [
            "okta",
            "dashboard",
            "",
            "zürich",
            "i̇stanbul",
            "ok",
            "x",
            "ab",
        ];
        for text in texts {
            for needle in needles {
                assert_eq!(
                    contains_ignoring_case(text, needle),
                    text.to_lowercase().contains(needle),
                    "{text:?} contains {needle:?}"
                );
            }
        }
    }
}
