//! Sigma correlation rules: the parsed specification and the sliding-window
//! state that evaluates it as matches arrive in time order.
//!
//! Each group (the values of the `group-by` fields) keeps the matches of the
//! last `timespan`. When the condition holds, a burst starts; it grows while
//! the condition keeps holding on matches less than `timespan` after the
//! burst's last one, and it raises one alert that each growth updates.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use yaml_serde::{Mapping, Value};

use super::parse::parse_timespan;
use super::path::FieldPath;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelationKind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

/// One criterion of a correlation condition, such as `gte: 10`.
#[derive(Clone, Copy, Debug)]
enum Criterion {
    Greater(u64),
    GreaterOrEqual(u64),
    Less(u64),
    LessOrEqual(u64),
    Equal(u64),
    NotEqual(u64),
}

/// A parsed `correlation` section.
#[derive(Clone, Debug)]
pub struct CorrelationSpec {
    pub kind: CorrelationKind,
    /// Referenced rules, by `name` or `id`.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan: Duration,
    /// The field whose distinct values `value_count` counts.
    pub field: Option<FieldPath>,
    /// Alias name, then referenced rule, then the field it stands for.
    pub aliases: HashMap<String, HashMap<String, String>>,
    pub generate: bool,
    criteria: Vec<Criterion>,
}

impl CorrelationSpec {
    pub fn parse(section: &Mapping) -> Result<CorrelationSpec, String> {
        let kind = match section.get("type").and_then(Value::as_str) {
            Some("event_count") => CorrelationKind::EventCount,
            Some("value_count") => CorrelationKind::ValueCount,
            Some("temporal") => CorrelationKind::Temporal,
            Some("temporal_ordered") => CorrelationKind::TemporalOrdered,
            Some(other) => return Err(format!("Unsupported correlation type `{other}`")),
            None => return Err("Missing correlation `type`".to_string()),
        };
        let rules = strings(section.get("rules"));
        if rules.is_empty() {
            return Err("Missing correlation `rules`".to_string());
        }
        let timespan_text = section
            .get("timespan")
            .and_then(Value::as_str)
            .ok_or("Missing correlation `timespan`")?;
        let timespan = parse_timespan(timespan_text)
            .ok_or_else(|| format!("Invalid correlation `timespan` `{timespan_text}`"))?;
        let condition = section.get("condition").and_then(Value::as_mapping);
        let criteria = parse_criteria(condition)?;
        let field = condition
            .and_then(|condition| condition.get("field"))
            .or_else(|| section.get("field"))
            .and_then(Value::as_str)
            .map(FieldPath::parse);
        if kind == CorrelationKind::ValueCount && field.is_none() {
            return Err(
                "A `value_count` correlation needs a `field` in its `condition`".to_string(),
            );
        }
        if criteria.is_empty()
            && matches!(
                kind,
                CorrelationKind::EventCount | CorrelationKind::ValueCount
            )
        {
            return Err("Missing correlation `condition`".to_string());
        }
        Ok(CorrelationSpec {
            kind,
            rules,
            group_by: strings(section.get("group-by")),
            timespan,
            field,
            aliases: parse_aliases(section.get("aliases")),
            generate: section
                .get("generate")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            criteria,
        })
    }

    /// Tells whether `count` satisfies the condition; temporal correlations
    /// without a condition need every referenced rule.
    fn holds(&self, count: u64) -> bool {
        if self.criteria.is_empty() {
            return count >= self.rules.len() as u64;
        }
        self.criteria.iter().all(|criterion| match *criterion {
            Criterion::Greater(limit) => count > limit,
            Criterion::GreaterOrEqual(limit) => count >= limit,
            Criterion::Less(limit) => count < limit,
            Criterion::LessOrEqual(limit) => count <= limit,
            Criterion::Equal(limit) => count == limit,
            Criterion::NotEqual(limit) => count != limit,
        })
    }

    /// Returns the smallest count that can satisfy the condition, for `details`.
    pub fn threshold(&self) -> Option<u64> {
        self.criteria.iter().find_map(|criterion| match *criterion {
            Criterion::Greater(limit) => Some(limit + 1),
            Criterion::GreaterOrEqual(limit) | Criterion::Equal(limit) => Some(limit),
            _ => None,
        })
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(text)) => vec![text.clone()],
        _ => Vec::new(),
    }
}

fn parse_criteria(condition: Option<&Mapping>) -> Result<Vec<Criterion>, String> {
    let Some(condition) = condition else {
        return Ok(Vec::new());
    };
    let mut criteria = Vec::new();
    for (key, value) in condition {
        let Some(key) = key.as_str() else { continue };
        if key == "field" {
            continue;
        }
        let limit = value
            .as_u64()
            .ok_or_else(|| format!("Correlation condition `{key}` needs a whole number"))?;
        criteria.push(match key {
            "gt" => Criterion::Greater(limit),
            "gte" => Criterion::GreaterOrEqual(limit),
            "lt" => Criterion::Less(limit),
            "lte" => Criterion::LessOrEqual(limit),
            "eq" => Criterion::Equal(limit),
            "neq" => Criterion::NotEqual(limit),
            other => return Err(format!("Unsupported correlation condition `{other}`")),
        });
    }
    Ok(criteria)
}

fn parse_aliases(value: Option<&Value>) -> HashMap<String, HashMap<String, String>> {
    let Some(Value::Mapping(aliases)) = value else {
        return HashMap::new();
    };
    aliases
        .iter()
        .filter_map(|(alias, fields)| {
            let fields = fields.as_mapping()?;
            let fields = fields
                .iter()
                .filter_map(|(rule, field)| {
                    Some((rule.as_str()?.to_string(), field.as_str()?.to_string()))
                })
                .collect();
            Some((alias.as_str()?.to_string(), fields))
        })
        .collect()
}

/// One match of a referenced rule, inside a group's window.
#[derive(Clone, Debug)]
struct Hit {
    time: DateTime<Utc>,
    /// Position of the matched rule in the correlation's `rules`.
    rule: usize,
    /// The `value_count` field's value.
    value: Option<String>,
    uuid: String,
    entities: HitEntities,
}

/// The matched event: its uuid, and its client IP and actor, which name the
/// alert when the correlation's grouping does not.
#[derive(Clone, Debug, Default)]
pub struct HitEntities {
    pub uuid: String,
    pub ip: Option<String>,
    pub user: Option<String>,
}

/// An open burst: the alert the correlation has raised and keeps updating.
#[derive(Clone, Debug)]
pub struct Burst {
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Uuids of the events in the window when the burst started, then of
    /// each later match.
    pub evidence: Vec<String>,
    pub count: u64,
    /// The highest count the condition saw during the burst.
    pub peak: u64,
    /// Matches per client IP during the burst.
    pub ips: BTreeMap<String, u64>,
    /// Matches per actor during the burst.
    pub users: BTreeMap<String, u64>,
}

impl Burst {
    fn tally(&mut self, entities: &HitEntities) {
        if let Some(ip) = &entities.ip {
            *self.ips.entry(ip.clone()).or_default() += 1;
        }
        if let Some(user) = &entities.user {
            *self.users.entry(user.clone()).or_default() += 1;
        }
    }

    /// Returns the IP with the most matches, the first in order on a tie.
    pub fn top_ip(&self) -> Option<&str> {
        top(&self.ips)
    }

    /// Returns the actor when every match of the burst had the same one.
    pub fn only_user(&self) -> Option<&str> {
        match self.users.len() {
            1 => self.users.keys().next().map(String::as_str),
            _ => None,
        }
    }
}

fn top(counts: &BTreeMap<String, u64>) -> Option<&str> {
    let mut best: Option<(&str, u64)> = None;
    for (name, &count) in counts {
        if best.is_none_or(|(_, most)| count > most) {
            best = Some((name, count));
        }
    }
    best.map(|(name, _)| name)
}

#[derive(Default)]
struct Group {
    window: VecDeque<Hit>,
    burst: Option<Burst>,
}

/// The evaluation state of one correlation rule.
#[derive(Default)]
pub struct CorrelationState {
    // NOTE: a group stays after its window empties, so memory grows with
    // the number of distinct keys seen over a long streaming run.
    groups: HashMap<Vec<String>, Group>,
}

impl CorrelationState {
    /// Adds a match of referenced rule `rule` and returns the burst when
    /// the condition holds after it.
    pub fn add(
        &mut self,
        spec: &CorrelationSpec,
        key: &[String],
        rule: usize,
        value: Option<String>,
        time: DateTime<Utc>,
        entities: HitEntities,
    ) -> Option<&Burst> {
        let uuid = entities.uuid.as_str();
        // Looking the group up by reference first copies the key only for a new group.
        if !self.groups.contains_key(key) {
            self.groups.insert(key.to_vec(), Group::default());
        }
        let group = self.groups.get_mut(key)?;
        group.window.push_back(Hit {
            time,
            rule,
            value,
            uuid: uuid.to_string(),
            entities: entities.clone(),
        });
        while group
            .window
            .front()
            .is_some_and(|oldest| time - oldest.time > spec.timespan)
        {
            group.window.pop_front();
        }
        if group
            .burst
            .as_ref()
            .is_some_and(|burst| time - burst.last > spec.timespan)
        {
            group.burst = None;
        }

        let count = measure(spec, &group.window);
        if !spec.holds(count) {
            return None;
        }
        match &mut group.burst {
            Some(burst) => {
                burst.last = time;
                burst.count += 1;
                burst.peak = burst.peak.max(count);
                if burst.evidence.len() < crate::MAX_EVIDENCE {
                    burst.evidence.push(uuid.to_string());
                }
                burst.tally(&entities);
            }
            None => {
                let mut burst = Burst {
                    first: group.window.front().map_or(time, |hit| hit.time),
                    last: time,
                    evidence: group
                        .window
                        .iter()
                        .take(crate::MAX_EVIDENCE)
                        .map(|hit| hit.uuid.clone())
                        .collect(),
                    count: group.window.len() as u64,
                    peak: count,
                    ips: BTreeMap::new(),
                    users: BTreeMap::new(),
                };
                for hit in &group.window {
                    burst.tally(&hit.entities);
                }
                group.burst = Some(burst);
            }
        }
        group.burst.as_ref()
    }
}

/// Returns the count the condition is compared with.
fn measure(spec: &CorrelationSpec, window: &VecDeque<Hit>) -> u64 {
    match spec.kind {
        CorrelationKind::EventCount => window.len() as u64,
        CorrelationKind::ValueCount => window
            .iter()
            .filter_map(|hit| hit.value.as_deref())
            .collect::<HashSet<_>>()
            .len() as u64,
        CorrelationKind::Temporal => window
            .iter()
            .map(|hit| hit.rule)
            .collect::<HashSet<_>>()
            .len() as u64,
        CorrelationKind::TemporalOrdered => {
            // The longest prefix of `rules` seen in order inside the window.
            let mut next = 0;
            for hit in window {
                if hit.rule == next {
                    next += 1;
                }
            }
            next as u64
        }
    }
}
