//! Reading Sigma YAML documents into [`SigmaRule`]s.

use chrono::Duration;
use yaml_serde::{Mapping, Value};

use super::aggregation::Aggregation;
use super::correlation::CorrelationSpec;
use super::detection::Detection;
use super::path::FieldPath;
use super::{RuleBody, RuleMeta, SigmaRule};
use crate::LoadError;

/// Parses every YAML document of a rule file.
///
/// `file` names the file in errors and `source` is recorded in each rule's
/// metadata. Documents that are empty are skipped.
pub fn parse_documents(text: &str, file: &str, source: &str) -> Result<Vec<SigmaRule>, LoadError> {
    let mut documents = Vec::new();
    for (index, document) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let value = <Value as serde::Deserialize>::deserialize(document).map_err(|error| {
            let line = error.location().map(|location| location.line());
            LoadError::new(file, line, format!("Invalid YAML: {error}"))
        })?;
        if value.is_null() {
            continue;
        }
        documents.push((index, value));
    }

    let starts = document_starts(text);
    let single = documents.len() == 1;
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rules = Vec::new();
    for (index, value) in documents {
        let start = starts.get(index).copied().unwrap_or(1);
        let place = Place {
            file,
            text,
            start,
            end: starts.get(index + 1).copied(),
        };
        let default_id = single.then(|| stem.clone());
        rules.extend(parse_rule(&value, &place, source, default_id)?);
    }
    Ok(rules)
}

/// A document's place in its file, for error messages.
struct Place<'a> {
    file: &'a str,
    text: &'a str,
    /// First line of the document, counted from 1.
    start: usize,
    end: Option<usize>,
}

impl Place<'_> {
    /// Returns an error at the first line of the document that contains
    /// `needle`, else at the document's start.
    fn error(&self, needle: &str, message: String) -> LoadError {
        let line = self
            .text
            .lines()
            .enumerate()
            .skip(self.start.saturating_sub(1))
            .take_while(|(index, _)| self.end.is_none_or(|end| index + 1 < end))
            .find(|(_, line)| !needle.is_empty() && line.contains(needle))
            .map_or(self.start, |(index, _)| index + 1);
        LoadError::new(self.file, Some(line), message)
    }
}

/// Returns the first line of each document, counted from 1.
fn document_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![1];
    for (index, line) in text.lines().enumerate() {
        if line.trim_end() == "---" && index > 0 {
            starts.push(index + 2);
        }
    }
    if text
        .lines()
        .next()
        .is_some_and(|line| line.trim_end() == "---")
    {
        starts[0] = 2;
    }
    starts
}

/// Parses one rule document; a detection with a Sigma 1.0 aggregation in
/// its condition becomes two rules (see [`super::aggregation`]).
fn parse_rule(
    value: &Value,
    place: &Place<'_>,
    source: &str,
    default_id: Option<String>,
) -> Result<Vec<SigmaRule>, LoadError> {
    let map = value
        .as_mapping()
        .ok_or_else(|| place.error("", "A rule must be a YAML map".to_string()))?;
    let meta = parse_meta(map, place, source, default_id)?;

    let body = if let Some(section) = map.get("correlation") {
        let section = section.as_mapping().ok_or_else(|| {
            place.error("correlation:", "`correlation` must be a map".to_string())
        })?;
        RuleBody::Correlation(
            CorrelationSpec::parse(section)
                .map_err(|message| place.error("correlation:", message))?,
        )
    } else if let Some(section) = map.get("detection") {
        let section = section
            .as_mapping()
            .ok_or_else(|| place.error("detection:", "`detection` must be a map".to_string()))?;
        if let Some(rules) = parse_aggregation(section, &meta, place)? {
            return Ok(rules);
        }
        let detection = Detection::compile(section).map_err(|error| {
            let needle = match &error {
                super::detection::DetectionError::Field { name, .. } => format!("{name}:"),
                _ => "condition:".to_string(),
            };
            place.error(&needle, error.to_string())
        })?;
        RuleBody::Detection(detection)
    } else {
        return Err(place.error(
            "title:",
            format!(
                "Rule `{}` has neither `detection` nor `correlation`",
                meta.title
            ),
        ));
    };
    Ok(vec![SigmaRule { meta, body }])
}

/// Returns the search detection and the correlation that a condition such
/// as `selection | count(field) by group > N` stands for, or `None` when
/// the condition has no aggregation.
fn parse_aggregation(
    section: &Mapping,
    meta: &RuleMeta,
    place: &Place<'_>,
) -> Result<Option<Vec<SigmaRule>>, LoadError> {
    let Some(condition) = section.get("condition").and_then(Value::as_str) else {
        return Ok(None);
    };
    let Some(aggregation) =
        Aggregation::parse(condition).map_err(|message| place.error("condition:", message))?
    else {
        return Ok(None);
    };
    let timeframe = section
        .get("timeframe")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            place.error(
                "condition:",
                "An aggregation in the condition needs a `timeframe` in `detection`".to_string(),
            )
        })?;

    let mut search_section = section.clone();
    search_section.insert("condition".into(), aggregation.search.as_str().into());
    let detection = Detection::compile(&search_section)
        .map_err(|error| place.error("condition:", error.to_string()))?;
    let search_id = format!("{}.search", meta.id);
    let search_meta = RuleMeta {
        id: search_id.clone(),
        sigma_id: None,
        name: Some(search_id.clone()),
        title: format!("{} (matching events)", meta.title),
        level: "informational".to_string(),
        ..meta.clone()
    };

    let correlation = CorrelationSpec::parse(&aggregation.correlation(&search_id, timeframe))
        .map_err(|message| place.error("condition:", message))?;
    Ok(Some(vec![
        SigmaRule {
            meta: search_meta,
            body: RuleBody::Detection(detection),
        },
        SigmaRule {
            meta: meta.clone(),
            body: RuleBody::Correlation(correlation),
        },
    ]))
}

fn text_of(map: &Mapping, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn parse_meta(
    map: &Mapping,
    place: &Place<'_>,
    source: &str,
    default_id: Option<String>,
) -> Result<RuleMeta, LoadError> {
    let title =
        text_of(map, "title").ok_or_else(|| place.error("", "Missing `title`".to_string()))?;
    let sigma_id = text_of(map, "id");
    let name = text_of(map, "name");
    let id = name
        .clone()
        .or(default_id)
        .or_else(|| sigma_id.clone())
        .ok_or_else(|| {
            place.error(
                "title:",
                format!("Rule `{title}` needs a `name` or an `id`"),
            )
        })?;
    let tags = match map.get("tags") {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let logsource = map
        .get("logsource")
        .and_then(Value::as_mapping)
        .map(|logsource| {
            ["product", "service"]
                .into_iter()
                .filter_map(|key| text_of(logsource, key))
                .collect()
        })
        .unwrap_or_default();
    let extension = map.get("idaudit").and_then(Value::as_mapping);
    let extra = |key: &str| extension.and_then(|extension| extension.get(key));
    let suppress = match extra("suppress").and_then(Value::as_str) {
        Some(text) => Some(parse_timespan(text).ok_or_else(|| {
            place.error("suppress:", format!("Invalid `suppress` window `{text}`"))
        })?),
        None => None,
    };

    Ok(RuleMeta {
        id,
        sigma_id,
        name,
        title,
        author: text_of(map, "author"),
        description: text_of(map, "description"),
        level: text_of(map, "level").unwrap_or_else(|| "medium".to_string()),
        tags,
        logsource,
        source: source.to_string(),
        location: format!("{}:{}", place.file, place.start),
        people: extra("people").and_then(Value::as_bool).unwrap_or(false),
        user_field: extra("user").and_then(Value::as_str).map(FieldPath::parse),
        ip_field: extra("ip").and_then(Value::as_str).map(FieldPath::parse),
        suppress,
    })
}

/// Parses a Sigma timespan such as `30s`, `10m`, `1h`, `1d` or `1w`.
pub fn parse_timespan(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let amount: i64 = text[..text.len() - unit.len_utf8()].trim().parse().ok()?;
    match unit {
        's' => Some(Duration::seconds(amount)),
        'm' => Some(Duration::minutes(amount)),
        'h' => Some(Duration::hours(amount)),
        'd' => Some(Duration::days(amount)),
        'w' => Some(Duration::weeks(amount)),
        _ => None,
    }
}
