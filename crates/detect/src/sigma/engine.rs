//! Evaluation of a set of Sigma rules over events in time order.
//!
//! Detection rules are indexed by the `eventType` values their condition
//! requires, so an event is only checked against rules that can match it.
//! A detection referenced by a correlation feeds that correlation; it
//! raises alerts of its own only when the correlation sets `generate: true`
//! or another rule does not reference it. A correlation that fires feeds
//! the correlations that reference it in turn. A field condition that
//! several detections share is evaluated once per event.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use idaudit_store::{Alert, AlertStatus};
use rustc_hash::FxHashMap;
use serde_json::{Value, json};

use super::correlation::{Burst, CorrelationSpec, CorrelationState, HitEntities, KEY_SEPARATOR};
use super::detection::Detection;
use super::field_results::FieldResults;
use super::path::{FieldPath, scalar_text};
use super::{RuleBody, RuleMeta, SigmaRule};
use crate::event::Event;
use crate::node::Node;
use crate::settings::Settings;
use crate::suppress::Suppressor;
use crate::{LoadError, alert_id};

/// Maximum depth of correlations that reference other correlations.
const MAX_CHAIN: usize = 8;

struct DetectionRule {
    meta: RuleMeta,
    detection: Detection,
    raises_alerts: bool,
    /// Correlations fed by this rule, with this rule's position in their `rules`.
    feeds: Vec<(usize, usize)>,
}

struct CorrelationRule {
    meta: RuleMeta,
    spec: CorrelationSpec,
    state: CorrelationState,
    raises_alerts: bool,
    feeds: Vec<(usize, usize)>,
    /// Group-by fields per position in `rules`, with aliases resolved.
    group_fields: Vec<Vec<FieldPath>>,
}

/// Sigma rules compiled for evaluation.
pub struct SigmaEngine {
    detections: Vec<DetectionRule>,
    correlations: Vec<CorrelationRule>,
    by_event_type: FxHashMap<String, Vec<usize>>,
    unindexed: Vec<usize>,
    /// Results of the detections' field conditions on the current event.
    field_results: FieldResults,
    settings: Arc<Settings>,
    suppressor: Suppressor,
    /// Buffer for the group key of a correlation match.
    key: String,
    /// Buffer for the value a `value_count` correlation counts.
    value: String,
}

/// Position of a matched rule.
#[derive(Clone, Copy)]
enum Source {
    Detection(usize),
    Correlation(usize),
}

impl SigmaEngine {
    /// Compiles `rules`; rules for other log sources than Okta are left out.
    pub fn new(rules: Vec<SigmaRule>, settings: Arc<Settings>) -> Result<SigmaEngine, LoadError> {
        let mut engine = SigmaEngine {
            detections: Vec::new(),
            correlations: Vec::new(),
            by_event_type: FxHashMap::default(),
            unindexed: Vec::new(),
            field_results: FieldResults::default(),
            settings,
            suppressor: Suppressor::default(),
            key: String::new(),
            value: String::new(),
        };
        let mut names: HashMap<String, Source> = HashMap::new();
        for rule in rules {
            if !rule.meta.is_for_okta() || engine.settings.is_disabled(&rule.meta.id) {
                continue;
            }
            engine.add(rule, &mut names);
        }
        engine.link(&names)?;
        engine.index();
        Ok(engine)
    }

    fn add(&mut self, rule: SigmaRule, names: &mut HashMap<String, Source>) {
        let source = match rule.body {
            RuleBody::Detection(_) => Source::Detection(self.detections.len()),
            RuleBody::Correlation(_) => Source::Correlation(self.correlations.len()),
        };
        for key in [
            Some(&rule.meta.id),
            rule.meta.name.as_ref(),
            rule.meta.sigma_id.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            names.insert(key.clone(), source);
        }
        match rule.body {
            RuleBody::Detection(detection) => self.detections.push(DetectionRule {
                meta: rule.meta,
                detection,
                raises_alerts: true,
                feeds: Vec::new(),
            }),
            RuleBody::Correlation(spec) => self.correlations.push(CorrelationRule {
                meta: rule.meta,
                spec,
                state: CorrelationState::default(),
                raises_alerts: true,
                feeds: Vec::new(),
                group_fields: Vec::new(),
            }),
        }
    }

    /// Resolves the rules each correlation references.
    fn link(&mut self, names: &HashMap<String, Source>) -> Result<(), LoadError> {
        for index in 0..self.correlations.len() {
            let references = self.correlations[index].spec.rules.clone();
            let generate = self.correlations[index].spec.generate;
            for (position, reference) in references.iter().enumerate() {
                let source = names.get(reference).copied().ok_or_else(|| {
                    let meta = &self.correlations[index].meta;
                    LoadError::at(
                        &meta.location,
                        format!(
                            "Correlation `{}` references unknown rule `{reference}`",
                            meta.id
                        ),
                    )
                })?;
                let fields = self.group_fields(index, reference, names);
                self.correlations[index].group_fields.push(fields);
                match source {
                    Source::Detection(target) => {
                        let rule = &mut self.detections[target];
                        rule.feeds.push((index, position));
                        rule.raises_alerts &= generate;
                    }
                    Source::Correlation(target) => {
                        let rule = &mut self.correlations[target];
                        rule.feeds.push((index, position));
                        rule.raises_alerts &= generate;
                    }
                }
            }
        }
        Ok(())
    }

    fn group_fields(
        &self,
        index: usize,
        reference: &str,
        names: &HashMap<String, Source>,
    ) -> Vec<FieldPath> {
        let spec = &self.correlations[index].spec;
        spec.group_by
            .iter()
            .map(|field| {
                let aliased = spec.aliases.get(field).and_then(|fields| {
                    fields.iter().find_map(|(rule, target)| {
                        let same = rule == reference
                            || names
                                .get(rule)
                                .zip(names.get(reference))
                                .is_some_and(|(left, right)| same_source(*left, *right));
                        same.then_some(target.as_str())
                    })
                });
                FieldPath::parse(aliased.unwrap_or(field))
            })
            .collect()
    }

    fn index(&mut self) {
        self.field_results =
            FieldResults::intern(self.detections.iter_mut().map(|rule| &mut rule.detection));
        for (index, rule) in self.detections.iter().enumerate() {
            match rule.detection.required_event_types() {
                Some(types) => {
                    for event_type in types {
                        let slot = self.by_event_type.entry(event_type).or_default();
                        if !slot.contains(&index) {
                            slot.push(index);
                        }
                    }
                }
                None => self.unindexed.push(index),
            }
        }
    }

    /// Returns every rule's metadata, detections first.
    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.detections
            .iter()
            .map(|rule| &rule.meta)
            .chain(self.correlations.iter().map(|rule| &rule.meta))
    }

    /// Returns the dotted paths of every field the rules read, or `None`
    /// when a keyword selection searches the whole event.
    pub fn fields(&self) -> Option<Vec<String>> {
        let mut paths: Vec<&FieldPath> = Vec::new();
        for rule in &self.detections {
            paths.extend(rule.detection.fields()?);
            paths.extend(rule.meta.user_field.iter().chain(&rule.meta.ip_field));
        }
        for rule in &self.correlations {
            paths.extend(rule.group_fields.iter().flatten());
            paths.extend(&rule.spec.field);
            paths.extend(rule.meta.user_field.iter().chain(&rule.meta.ip_field));
        }
        Some(
            paths
                .into_iter()
                .map(|path| path.segments().join("."))
                .collect(),
        )
    }

    /// Returns the dotted paths of the fields the rules read on an event of
    /// `event_type` (lower-cased), or of a type no detection is indexed
    /// under when `None`; `None` in return means any field.
    pub fn fields_for(&self, event_type: Option<&str>) -> Option<Vec<String>> {
        let indexed = event_type
            .and_then(|event_type| self.by_event_type.get(event_type))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut paths: Vec<&FieldPath> = Vec::new();
        for &index in indexed.iter().chain(&self.unindexed) {
            let rule = &self.detections[index];
            paths.extend(rule.detection.fields()?);
            paths.extend(rule.meta.user_field.iter().chain(&rule.meta.ip_field));
        }
        for rule in &self.correlations {
            paths.extend(rule.group_fields.iter().flatten());
            paths.extend(&rule.spec.field);
            paths.extend(rule.meta.user_field.iter().chain(&rule.meta.ip_field));
        }
        let mut fields: Vec<String> = paths
            .into_iter()
            .map(|path| path.segments().join("."))
            .collect();
        // Read by `base_details` for every alert.
        fields.push("client.geographicalContext.country".to_string());
        Some(fields)
    }

    /// Evaluates one event and appends the alerts it raises or updates.
    pub fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        let Some(time) = event.published else {
            return;
        };
        self.suppressor.prune(time);
        self.field_results.start_event();
        // Okta spells event types in lower case, so this rarely allocates.
        let lower = if event
            .event_type
            .bytes()
            .any(|byte| byte.is_ascii_uppercase())
        {
            std::borrow::Cow::Owned(event.event_type.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(event.event_type.as_str())
        };
        // Taken out of the index for the loop, which needs `self` mutable
        // to feed correlations, so that the type is looked up only twice.
        let indexed = self
            .by_event_type
            .get_mut(lower.as_ref())
            .map(std::mem::take)
            .unwrap_or_default();
        let mut entities = None;
        for position in 0..indexed.len() + self.unindexed.len() {
            let index = match position.checked_sub(indexed.len()) {
                None => indexed[position],
                Some(unindexed) => self.unindexed[unindexed],
            };
            let rule = &self.detections[index];
            let results = &mut self.field_results;
            if !rule
                .detection
                .matches_with(event, &mut |matcher| results.test(matcher, event))
            {
                continue;
            }
            if self.settings.skips(&rule.meta.id, rule.meta.people, event) {
                continue;
            }
            if rule.raises_alerts {
                let alert = single_alert(&rule.meta, event);
                let (id, suppress) = (rule.meta.id.clone(), rule.meta.suppress);
                self.emit(&id, suppress, alert, alerts);
            }
            // Taken out while the correlations it names are fed, which
            // never changes it, to avoid copying it for every match.
            let feeds = std::mem::take(&mut self.detections[index].feeds);
            self.feed(&feeds, event, time, &mut entities, alerts, 0);
            self.detections[index].feeds = feeds;
        }
        if let Some(slot) = self.by_event_type.get_mut(lower.as_ref()) {
            *slot = indexed;
        }
    }

    fn feed<'event>(
        &mut self,
        feeds: &[(usize, usize)],
        event: &'event Event,
        time: DateTime<Utc>,
        entities: &mut Option<HitEntities<'event>>,
        alerts: &mut Vec<Alert>,
        depth: usize,
    ) {
        if depth > MAX_CHAIN {
            return;
        }
        for &(index, position) in feeds {
            let rule = &mut self.correlations[index];
            if self.settings.skips(&rule.meta.id, rule.meta.people, event) {
                continue;
            }
            let mut key = std::mem::take(&mut self.key);
            key.clear();
            for (number, field) in rule.group_fields[position].iter().enumerate() {
                if number > 0 {
                    key.push(KEY_SEPARATOR);
                }
                push_first_text(field, &event.value, &mut key);
            }
            let mut value = std::mem::take(&mut self.value);
            value.clear();
            let found = rule
                .spec
                .field
                .as_ref()
                .is_some_and(|field| push_first_text(field, &event.value, &mut value));
            let entities = *entities.get_or_insert_with(|| hit_entities(event));
            let burst = rule
                .state
                .add(
                    &rule.spec,
                    &key,
                    position,
                    found.then_some(value.as_str()),
                    time,
                    &entities,
                )
                .cloned();
            self.value = value;
            let Some(burst) = burst else {
                self.key = key;
                continue;
            };
            if rule.raises_alerts {
                let values: Vec<String> = key.split(KEY_SEPARATOR).map(str::to_string).collect();
                let alert = burst_alert(rule, &values, &burst, event);
                let (id, suppress) = (rule.meta.id.clone(), rule.meta.suppress);
                self.emit(&id, suppress, alert, alerts);
            }
            self.key = key;
            let next = std::mem::take(&mut self.correlations[index].feeds);
            self.feed(&next, event, time, &mut Some(entities), alerts, depth + 1);
            self.correlations[index].feeds = next;
        }
    }

    fn emit(
        &mut self,
        rule: &str,
        suppress: Option<chrono::Duration>,
        alert: Alert,
        alerts: &mut Vec<Alert>,
    ) {
        let window = self.settings.suppression(rule, suppress);
        alerts.push(self.suppressor.fold(alert, window));
    }
}

fn same_source(left: Source, right: Source) -> bool {
    match (left, right) {
        (Source::Detection(left), Source::Detection(right)) => left == right,
        (Source::Correlation(left), Source::Correlation(right)) => left == right,
        _ => false,
    }
}

/// Returns the user and IP an alert names, read from the event.
fn entities(meta: &RuleMeta, event: &Event) -> (Option<String>, Option<String>) {
    let user = match &meta.user_field {
        Some(field) => field.first_text(&event.value),
        None => event.actor_name().map(str::to_string),
    };
    let ip = match &meta.ip_field {
        Some(field) => field.first_text(&event.value),
        None => event.client_ip().map(str::to_string),
    };
    (
        user.filter(|user| !user.is_empty()),
        ip.filter(|ip| !ip.is_empty() && ip != "null"),
    )
}

/// Appends the first scalar `field` reaches in `event`, as text. Returns
/// false when `field` reaches no scalar.
fn push_first_text(field: &FieldPath, event: &Node, buffer: &mut String) -> bool {
    field.any(event, &mut |value| match scalar_text(value) {
        Some(text) => {
            buffer.push_str(&text);
            true
        }
        None => false,
    })
}

/// Returns the uuid, client IP and actor of an event for a correlation's tallies.
fn hit_entities(event: &Event) -> HitEntities<'_> {
    HitEntities {
        uuid: &event.uuid,
        ip: event.client_ip(),
        user: event.actor_name(),
    }
}

fn title(meta: &RuleMeta, user: Option<&str>, ip: Option<&str>) -> String {
    match (user, ip) {
        (Some(user), Some(ip)) => format!("{}: {user} from {ip}", meta.title),
        (Some(user), None) => format!("{}: {user}", meta.title),
        (None, Some(ip)) => format!("{}: {ip}", meta.title),
        (None, None) => meta.title.clone(),
    }
}

fn base_details(meta: &RuleMeta, event: &Event) -> Value {
    json!({
        "source": meta.source,
        "sigmaId": meta.sigma_id,
        "ruleTitle": meta.title,
        "ruleAuthor": meta.author,
        "techniques": meta.techniques(),
        "eventType": event.event_type,
        "actor": event.actor_name(),
        "country": event.country(),
        "asn": event.asn(),
    })
}

fn single_alert(meta: &RuleMeta, event: &Event) -> Alert {
    let (user, ip) = entities(meta, event);
    let time = event
        .published
        .map(idaudit_store::format_time)
        .unwrap_or_default();
    let entity = format!(
        "{}|{}",
        user.as_deref().unwrap_or_default(),
        ip.as_deref().unwrap_or_default()
    );
    Alert {
        id: alert_id(&meta.id, &entity, &event.uuid),
        rule: meta.id.clone(),
        severity: meta.level.clone(),
        title: title(meta, user.as_deref(), ip.as_deref()),
        user,
        ip,
        first_seen: time.clone(),
        last_seen: time,
        count: 1,
        evidence: vec![event.uuid.clone()],
        details: base_details(meta, event),
        status: AlertStatus::Open,
    }
}

fn burst_alert(rule: &CorrelationRule, key: &[String], burst: &Burst, event: &Event) -> Alert {
    let meta = &rule.meta;
    let (event_user, event_ip) = entities(meta, event);
    // A correlation names the entities it groups by, not those of whichever
    // event happened to complete it.
    let grouped = |default: &str, explicit: &Option<FieldPath>| {
        rule.spec
            .group_by
            .iter()
            .zip(key)
            .find_map(|(field, value)| {
                let wanted = explicit
                    .clone()
                    .unwrap_or_else(|| FieldPath::parse(default));
                (FieldPath::parse(field) == wanted && !value.is_empty()).then(|| value.clone())
            })
    };
    let user =
        grouped("actor.alternateId", &meta.user_field).or(if rule.spec.group_by.is_empty() {
            None
        } else {
            event_user.filter(|_| meta.user_field.is_some())
        });
    // When the grouping names no IP or user (a correlation over a network,
    // a session or the whole org), the burst's own matches do: the IP with
    // the most matches, and the actor if every match had the same one.
    let ip = grouped("client.ipAddress", &meta.ip_field)
        .or(event_ip.filter(|_| meta.ip_field.is_some()))
        .or_else(|| burst.top_ip().map(str::to_string));
    let user = user.or_else(|| burst.only_user().map(str::to_string));
    let first_uuid = burst.evidence.first().cloned().unwrap_or_default();
    let mut details = base_details(meta, event);
    details["groupBy"] = json!(
        rule.spec
            .group_by
            .iter()
            .zip(key)
            .collect::<HashMap<_, _>>()
    );
    details["timespanMinutes"] = json!(rule.spec.timespan.num_minutes());
    details["threshold"] = json!(rule.spec.threshold());
    details["peak"] = json!(burst.peak);
    details["matchesPerIp"] = json!(burst.ips);
    details["distinctUsers"] = json!(burst.users.len());
    Alert {
        id: alert_id(&meta.id, &key.join("|"), &first_uuid),
        rule: meta.id.clone(),
        severity: meta.level.clone(),
        title: title(meta, user.as_deref(), ip.as_deref()),
        user,
        ip,
        first_seen: idaudit_store::format_time(burst.first),
        last_seen: idaudit_store::format_time(burst.last),
        count: burst.count,
        evidence: burst.evidence.clone(),
        details,
        status: AlertStatus::Open,
    }
}

impl crate::rules::Rule for SigmaEngine {
    fn id(&self) -> &str {
        "sigma"
    }

    fn applies_settings(&self) -> bool {
        true
    }

    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        SigmaEngine::observe(self, event, alerts);
    }

    fn fields(&self) -> Option<Vec<String>> {
        SigmaEngine::fields(self)
    }

    fn event_types_read(&self) -> Vec<String> {
        self.by_event_type.keys().cloned().collect()
    }

    fn fields_for(&self, event_type: Option<&str>) -> Option<Vec<String>> {
        SigmaEngine::fields_for(self, event_type)
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
}
