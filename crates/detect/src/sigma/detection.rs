//! The `detection` section of a Sigma rule: named selections and the
//! condition that combines them.

use super::condition::{Condition, ConditionError};
use super::matcher::{FieldMatcher, MatcherError};
use super::path::{FieldPath, scalar_text};
use crate::event::Event;
use crate::node::Node;

/// Failure to compile a `detection` section. The caller adds the place.
#[derive(Debug, thiserror::Error)]
pub enum DetectionError {
    #[error("Missing `condition` in `detection`")]
    MissingCondition,
    #[error("Selection `{name}`: {source}")]
    Field {
        name: String,
        #[source]
        source: MatcherError,
    },
    #[error("Selection `{0}` must be a map of fields, a list of maps or a list of keywords")]
    BadSelection(String),
    #[error(transparent)]
    Condition(#[from] ConditionError),
}

/// A map of field conditions, all of which must hold.
#[derive(Clone, Debug)]
struct FieldGroup(Vec<FieldMatcher>);

#[derive(Clone, Debug)]
enum Selection {
    /// Any of the groups matches.
    Groups(Vec<FieldGroup>),
    /// Any string in the event contains one of the lower-cased keywords.
    Keywords(Vec<String>),
}

/// A compiled detection.
#[derive(Clone, Debug)]
pub struct Detection {
    selections: Vec<Selection>,
    condition: Condition,
}

impl Detection {
    pub fn compile(section: &yaml_serde::Mapping) -> Result<Detection, DetectionError> {
        let mut names = Vec::new();
        let mut selections = Vec::new();
        let mut conditions = Vec::new();
        for (key, value) in section {
            let Some(name) = key.as_str() else { continue };
            match name {
                "condition" => conditions = condition_texts(value),
                "timeframe" => {}
                _ => {
                    selections.push(compile_selection(name, value)?);
                    names.push(name.to_string());
                }
            }
        }
        let parsed = conditions
            .iter()
            .map(|text| Condition::parse(text, &names))
            .collect::<Result<Vec<_>, _>>()?;
        let condition = match parsed.len() {
            0 => return Err(DetectionError::MissingCondition),
            1 => parsed
                .into_iter()
                .next()
                .ok_or(DetectionError::MissingCondition)?,
            _ => Condition::Or(parsed),
        };
        Ok(Detection {
            selections,
            condition,
        })
    }

    pub fn matches(&self, event: &Event) -> bool {
        self.matches_with(event, &mut |matcher| matcher.matches(event))
    }

    /// Evaluates the condition on `event` with `test` deciding each field
    /// condition, so that a caller can reuse results across detections.
    pub(super) fn matches_with(
        &self,
        event: &Event,
        test: &mut dyn FnMut(&FieldMatcher) -> bool,
    ) -> bool {
        self.condition
            .evaluate(&mut |index| self.selections[index].matches(event, test))
    }

    /// Returns every field condition of the detection, to give them ids.
    pub(super) fn matchers_mut(&mut self) -> impl Iterator<Item = &mut FieldMatcher> {
        self.selections
            .iter_mut()
            .flat_map(|selection| match selection {
                Selection::Groups(groups) => groups.as_mut_slice(),
                Selection::Keywords(_) => &mut [],
            })
            .flat_map(|group| group.0.iter_mut())
    }

    /// Returns every field path the detection reads, or `None` when a
    /// keyword selection searches the whole event.
    pub fn fields(&self) -> Option<Vec<&FieldPath>> {
        let mut paths = Vec::new();
        for selection in &self.selections {
            match selection {
                Selection::Groups(groups) => {
                    for group in groups {
                        paths.extend(group.0.iter().map(|matcher| &matcher.path));
                    }
                }
                Selection::Keywords(_) => return None,
            }
        }
        Some(paths)
    }

    /// Returns the lower-cased `eventType` values outside of which the
    /// detection can never match, when the condition implies such a set.
    pub fn required_event_types(&self) -> Option<Vec<String>> {
        self.condition_event_types(&self.condition)
    }

    fn condition_event_types(&self, condition: &Condition) -> Option<Vec<String>> {
        match condition {
            Condition::Selection(index) => self.selections[*index].required_event_types(),
            Condition::Not(_) => None,
            Condition::And(parts) => parts
                .iter()
                .find_map(|part| self.condition_event_types(part)),
            Condition::Or(parts) => {
                union(parts.iter().map(|part| self.condition_event_types(part)))
            }
            Condition::AtLeast(count, indexes) if *count == indexes.len() => indexes
                .iter()
                .find_map(|index| self.selections[*index].required_event_types()),
            Condition::AtLeast(_, indexes) => union(
                indexes
                    .iter()
                    .map(|index| self.selections[*index].required_event_types()),
            ),
        }
    }
}

fn union(sets: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<String>> {
    let mut all = Vec::new();
    for set in sets {
        all.extend(set?);
    }
    Some(all)
}

fn condition_texts(value: &yaml_serde::Value) -> Vec<String> {
    match value {
        yaml_serde::Value::String(text) => vec![text.clone()],
        yaml_serde::Value::Sequence(items) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn compile_selection(name: &str, value: &yaml_serde::Value) -> Result<Selection, DetectionError> {
    match value {
        yaml_serde::Value::Mapping(map) => Ok(Selection::Groups(vec![compile_group(name, map)?])),
        yaml_serde::Value::Sequence(items) if items.iter().all(|item| item.is_mapping()) => {
            let groups = items
                .iter()
                .filter_map(yaml_serde::Value::as_mapping)
                .map(|map| compile_group(name, map))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Selection::Groups(groups))
        }
        yaml_serde::Value::Sequence(items) => items
            .iter()
            .map(|item| match item {
                yaml_serde::Value::String(text) => Some(text.to_lowercase()),
                yaml_serde::Value::Number(number) => Some(number.to_string()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Selection::Keywords)
            .ok_or_else(|| DetectionError::BadSelection(name.to_string())),
        _ => Err(DetectionError::BadSelection(name.to_string())),
    }
}

fn compile_group(name: &str, map: &yaml_serde::Mapping) -> Result<FieldGroup, DetectionError> {
    let mut matchers = Vec::new();
    for (key, value) in map {
        let spec = key
            .as_str()
            .ok_or_else(|| DetectionError::BadSelection(name.to_string()))?;
        let matcher =
            FieldMatcher::compile(spec, value).map_err(|source| DetectionError::Field {
                name: name.to_string(),
                source,
            })?;
        matchers.push(matcher);
    }
    // Checking `eventType` first rejects most events after one comparison.
    matchers.sort_by_key(|matcher| !matcher.path.is_event_type());
    Ok(FieldGroup(matchers))
}

impl Selection {
    fn matches(&self, event: &Event, test: &mut dyn FnMut(&FieldMatcher) -> bool) -> bool {
        match self {
            Selection::Groups(groups) => groups.iter().any(|group| group.0.iter().all(&mut *test)),
            Selection::Keywords(words) => any_string(&event.value, &mut |text| {
                let lower = text.to_lowercase();
                words.iter().any(|word| lower.contains(word.as_str()))
            }),
        }
    }

    fn required_event_types(&self) -> Option<Vec<String>> {
        match self {
            Selection::Groups(groups) => union(
                groups
                    .iter()
                    .map(|group| group.0.iter().find_map(FieldMatcher::required_event_types)),
            ),
            Selection::Keywords(_) => None,
        }
    }
}

fn any_string(value: &Node, visit: &mut dyn FnMut(&str) -> bool) -> bool {
    match value {
        Node::Array(items) => items.iter().any(|item| any_string(item, visit)),
        Node::Object(pairs) => pairs.iter().any(|(_, item)| any_string(item, visit)),
        other => scalar_text(other).is_some_and(|text| visit(&text)),
    }
}
