//! Sigma correlation rules: the parsed specification and the sliding-window
//! state that evaluates it as matches arrive in time order.
//!
//! Each group (the values of the `group-by` fields) keeps the matches of the
//! last `timespan`. When the condition holds, a burst starts; it grows while
//! the condition keeps holding on matches less than `timespan` after the
//! burst's last one, and it raises one alert that each growth updates.
//!
//! A window keeps every match of its last `timespan`, so a busy stream keeps
//! about `events per second × timespan` matches in memory. A
//! `temporal_ordered` window is the exception: it does not keep a match
//! that no earlier matches lead up to, because it can never count. Each match is
//! therefore kept in 48 bytes: its time in microseconds, the event's uuid as
//! 16 bytes when it has the usual lower-case form, and numbers that stand
//! for its client IP, actor and counted value in a table of names shared by
//! the correlation's groups ([`Names`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rustc_hash::{FxBuildHasher, FxHashMap};
use smallvec::SmallVec;
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

/// One match of a referenced rule, inside a group's window. Text fields
/// are ids in the correlation's [`Names`], or [`NO_NAME`].
#[derive(Clone, Debug)]
struct Hit {
    /// Microseconds since the Unix epoch.
    time: i64,
    /// Position of the matched rule in the correlation's `rules`.
    rule: u32,
    /// The `value_count` field's value.
    value: u32,
    ip: u32,
    user: u32,
    /// The uuid's 16 bytes, or the id of its text in `uuid_text`.
    uuid: [u8; 16],
    uuid_text: u32,
}

/// Reads a lower-case hyphenated UUID, as Okta writes them, into 16 bytes;
/// `None` for any other text, which [`uuid_text`] could not restore as it was.
pub(crate) fn uuid_bytes(text: &str) -> Option<[u8; 16]> {
    let digits = text.as_bytes();
    if digits.len() != 36 || [8, 13, 18, 23].iter().any(|&at| digits[at] != b'-') {
        return None;
    }
    let mut nibbles = digits.iter().filter(|&&digit| digit != b'-');
    let mut bytes = [0u8; 16];
    for byte in &mut bytes {
        let high = lower_hex(*nibbles.next()?)?;
        let low = lower_hex(*nibbles.next()?)?;
        *byte = high << 4 | low;
    }
    Some(bytes)
}

/// Writes 16 bytes as a lower-case hyphenated UUID.
pub(crate) fn uuid_text(bytes: &[u8; 16]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

fn lower_hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// The matched event: its uuid, and its client IP and actor, which name the
/// alert when the correlation's grouping does not.
#[derive(Clone, Copy, Debug, Default)]
pub struct HitEntities<'a> {
    pub uuid: &'a str,
    pub ip: Option<&'a str>,
    pub user: Option<&'a str>,
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
    fn tally(&mut self, ip: Option<&str>, user: Option<&str>) {
        if let Some(ip) = ip {
            match self.ips.get_mut(ip) {
                Some(count) => *count += 1,
                None => {
                    self.ips.insert(ip.to_string(), 1);
                }
            }
        }
        if let Some(user) = user {
            match self.users.get_mut(user) {
                Some(count) => *count += 1,
                None => {
                    self.users.insert(user.to_string(), 1);
                }
            }
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

/// The id of an absent name.
const NO_NAME: u32 = u32::MAX;

/// The texts the matches in a correlation's windows refer to, each stored
/// once with the number of references to it, and dropped with the last.
#[derive(Default)]
struct Names {
    ids: FxHashMap<Arc<str>, u32>,
    /// Each id's text and references; `None` for a free id.
    slots: Vec<Option<(Arc<str>, u32)>>,
    free: Vec<u32>,
}

impl Names {
    /// Returns the id of `text`, counting one more reference to it.
    fn acquire(&mut self, text: Option<&str>) -> u32 {
        let Some(text) = text else {
            return NO_NAME;
        };
        if let Some(&id) = self.ids.get(text) {
            if let Some(Some((_, references))) = self.slots.get_mut(id as usize) {
                *references += 1;
            }
            return id;
        }
        let shared: Arc<str> = Arc::from(text);
        let slot = Some((Arc::clone(&shared), 1));
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.ids.insert(shared, id);
        id
    }

    /// Counts one reference less to `id`, and drops its text with the last.
    fn release(&mut self, id: u32) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        let Some((text, references)) = slot else {
            return;
        };
        *references -= 1;
        if *references == 0 {
            self.ids.remove(text);
            *slot = None;
            self.free.push(id);
        }
    }

    fn get(&self, id: u32) -> Option<&str> {
        match self.slots.get(id as usize) {
            Some(Some((text, _))) => Some(text),
            _ => None,
        }
    }

    fn release_hit(&mut self, hit: &Hit) {
        for id in [hit.value, hit.ip, hit.user, hit.uuid_text] {
            self.release(id);
        }
    }

    fn uuid(&self, hit: &Hit) -> String {
        match self.get(hit.uuid_text) {
            Some(text) => text.to_string(),
            None => uuid_text(&hit.uuid),
        }
    }
}

#[derive(Default)]
struct Group {
    window: VecDeque<Hit>,
    /// Matches in the window per distinct `value_count` value, by name id.
    values: FxHashMap<u32, u32>,
    /// Matches in the window per position in `rules`, for `temporal`.
    /// Correlations name a few rules, so the counts fit inline.
    rules: SmallVec<[u32; 4]>,
    /// Boxed, because most groups never start a burst and a stream can
    /// hold one group per recent session or sign-in.
    burst: Option<Box<Burst>>,
}

impl Group {
    fn push(&mut self, hit: Hit) {
        if hit.value != NO_NAME {
            *self.values.entry(hit.value).or_default() += 1;
        }
        let rule = hit.rule as usize;
        if self.rules.len() <= rule {
            self.rules.resize(rule + 1, 0);
        }
        self.rules[rule] += 1;
        // Many groups never see a second match, so the first push takes
        // room for one, not the four that growth would allocate.
        if self.window.capacity() == 0 {
            self.window.reserve_exact(1);
        }
        self.window.push_back(hit);
    }

    /// Drops the matches more than `timespan` before `now`.
    fn expire(&mut self, now: i64, timespan: i64, names: &mut Names) {
        while let Some(oldest) = self.window.front() {
            if now - oldest.time <= timespan {
                break;
            }
            if let Some(hit) = self.window.pop_front() {
                self.remove_counts(&hit, names);
            }
        }
    }

    /// Removes the newest match, which a `temporal_ordered` sequence can
    /// never use, once the burst it extended has counted it.
    fn drop_newest(&mut self, names: &mut Names) {
        if let Some(hit) = self.window.pop_back() {
            self.remove_counts(&hit, names);
        }
    }

    /// Removes a match that left the window from the per-value and
    /// per-rule counts, and releases its names.
    fn remove_counts(&mut self, hit: &Hit, names: &mut Names) {
        if let Some(count) = self.values.get_mut(&hit.value) {
            *count -= 1;
            if *count == 0 {
                self.values.remove(&hit.value);
            }
        }
        self.rules[hit.rule as usize] -= 1;
        names.release_hit(hit);
    }

    /// Returns the longest prefix of the correlation's rules that the
    /// matches left after expiring those older than `timespan` at `now`
    /// reach in order, without expiring them.
    fn ordered_prefix_at(&self, now: i64, timespan: i64) -> u32 {
        let mut next = 0;
        let current = self
            .window
            .iter()
            .skip_while(|hit| now - hit.time > timespan);
        for hit in current {
            if hit.rule == next {
                next += 1;
            }
        }
        next
    }

    /// Tells whether nothing in the group can count again after `now`: its
    /// last match and its burst are more than `timespan` old, so a new
    /// match would find the same state in a fresh group.
    ///
    /// The last match is compared in whole microseconds, as it is kept.
    /// `now_micros` is `now` truncated to microseconds, so a `now` with a
    /// finer remainder counts as later by it, as a [`Duration`] would.
    fn is_stale(&self, now: DateTime<Utc>, now_micros: i64, timespan: Duration) -> bool {
        let timespan_micros = timespan.num_microseconds().unwrap_or(i64::MAX);
        let finer = !now.timestamp_subsec_nanos().is_multiple_of(1_000);
        let last_stale = self.window.back().is_none_or(|hit| {
            let elapsed = now_micros.saturating_sub(hit.time);
            elapsed > timespan_micros || (elapsed == timespan_micros && finer)
        });
        last_stale
            && self
                .burst
                .as_ref()
                .is_none_or(|burst| now - burst.last > timespan)
    }
}

/// The evaluation state of one correlation rule.
#[derive(Default)]
pub struct CorrelationState {
    /// Groups by their `group-by` values joined with [`KEY_SEPARATOR`].
    groups: hashbrown::HashMap<String, Group, FxBuildHasher>,
    /// The texts the held matches refer to.
    names: Names,
    /// When stale groups were last removed.
    swept: Option<DateTime<Utc>>,
}

/// Joins the values of a group key. It is a control character (unit
/// separator), which logins, IPs and session ids do not contain.
pub const KEY_SEPARATOR: char = '\u{1f}';

impl CorrelationState {
    /// Adds a match of referenced rule `rule` and returns the burst when
    /// the condition holds after it. `key` is the group's values joined
    /// with [`KEY_SEPARATOR`].
    pub fn add(
        &mut self,
        spec: &CorrelationSpec,
        key: &str,
        rule: usize,
        value: Option<&str>,
        time: DateTime<Utc>,
        entities: &HitEntities<'_>,
    ) -> Option<&Burst> {
        self.sweep(spec, time);
        // A `temporal_ordered` match counts only if the matches before it
        // reach its rule's place in the sequence. That prefix can only
        // shrink as older matches expire, and later matches come after this
        // one, so a match that misses its place now never counts. It is not
        // kept, and unless the condition holds without it, it changes
        // nothing. A sign-in that follows no failures is such a match for
        // `failures-then-success`, and a busy org has many in each window.
        let mut keep_newest = true;
        if spec.kind == CorrelationKind::TemporalOrdered && rule > 0 {
            let prefix = self.groups.get(key).map_or(0, |group| {
                group.ordered_prefix_at(to_micros(time), timespan_micros(spec))
            });
            if prefix < rule as u32 {
                if !spec.holds(u64::from(prefix)) {
                    return None;
                }
                keep_newest = false;
            }
        }
        let names = &mut self.names;
        let uuid = uuid_bytes(entities.uuid);
        let hit = Hit {
            time: to_micros(time),
            rule: rule as u32,
            value: names.acquire(value),
            ip: names.acquire(entities.ip),
            user: names.acquire(entities.user),
            uuid: uuid.unwrap_or_default(),
            uuid_text: match uuid {
                Some(_) => NO_NAME,
                None => names.acquire(Some(entities.uuid)),
            },
        };
        // One lookup by reference, which copies the key only for a new group.
        let group = self.groups.entry_ref(key).or_default();
        group.push(hit);
        group.expire(to_micros(time), timespan_micros(spec), names);
        if group
            .burst
            .as_ref()
            .is_some_and(|burst| time - burst.last > spec.timespan)
        {
            group.burst = None;
        }

        let count = measure(spec, group);
        if !spec.holds(count) {
            return None;
        }
        match &mut group.burst {
            Some(burst) => {
                burst.last = time;
                burst.count += 1;
                burst.peak = burst.peak.max(count);
                if burst.evidence.len() < crate::MAX_EVIDENCE {
                    burst.evidence.push(entities.uuid.to_string());
                }
                burst.tally(entities.ip, entities.user);
            }
            None => {
                let names = &self.names;
                let mut burst = Burst {
                    first: group
                        .window
                        .front()
                        .map_or(time, |hit| from_micros(hit.time)),
                    last: time,
                    evidence: group
                        .window
                        .iter()
                        .take(crate::MAX_EVIDENCE)
                        .map(|hit| names.uuid(hit))
                        .collect(),
                    count: group.window.len() as u64,
                    peak: count,
                    ips: BTreeMap::new(),
                    users: BTreeMap::new(),
                };
                for hit in &group.window {
                    burst.tally(names.get(hit.ip), names.get(hit.user));
                }
                group.burst = Some(Box::new(burst));
            }
        }
        if !keep_newest {
            group.drop_newest(&mut self.names);
        }
        group.burst.as_deref()
    }

    /// Removes the groups that can no longer count, with the names only
    /// they referred to, at most once per `timespan` of event time. The
    /// first sweep more than a timespan after a group's last match or burst
    /// removes it, so memory follows the matches of recent activity. The
    /// groups left after a sweep all had a match in the last `timespan`, so
    /// the sweeps of a stream cost about one group visit per match.
    fn sweep(&mut self, spec: &CorrelationSpec, now: DateTime<Utc>) {
        let due = self.swept.is_none_or(|swept| now - swept > spec.timespan);
        if !due {
            return;
        }
        self.swept = Some(now);
        let now_micros = to_micros(now);
        let names = &mut self.names;
        self.groups.retain(|_, group| {
            let stale = group.is_stale(now, now_micros, spec.timespan);
            if stale {
                for hit in &group.window {
                    names.release_hit(hit);
                }
            }
            !stale
        });
    }
}

fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn timespan_micros(spec: &CorrelationSpec) -> i64 {
    spec.timespan.num_microseconds().unwrap_or(i64::MAX)
}

/// Returns the count the condition is compared with.
fn measure(spec: &CorrelationSpec, group: &Group) -> u64 {
    match spec.kind {
        CorrelationKind::EventCount => group.window.len() as u64,
        CorrelationKind::ValueCount => group.values.len() as u64,
        CorrelationKind::Temporal => group.rules.iter().filter(|count| **count > 0).count() as u64,
        CorrelationKind::TemporalOrdered => {
            // The longest prefix of `rules` seen in order inside the window.
            let mut next = 0;
            for hit in &group.window {
                if hit.rule as usize == next {
                    next += 1;
                }
            }
            next as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use yaml_serde::Mapping;

    use super::{CorrelationSpec, CorrelationState, HitEntities};

    fn parse_spec(yaml: &str) -> CorrelationSpec {
        let section: Mapping = yaml_serde::from_str(yaml).unwrap();
        CorrelationSpec::parse(&section).unwrap()
    }

    fn spec() -> CorrelationSpec {
        parse_spec(
            "type: event_count\nrules: [failed]\ngroup-by: [actor.alternateId]\ntimespan: 10m\ncondition:\n    gte: 3\n",
        )
    }

    /// A week of one new group a minute keeps only the groups of the last
    /// two timespans (ten minutes each), not all 10,080.
    #[test]
    fn stale_groups_removed() {
        let spec = spec();
        let mut state = CorrelationState::default();
        let start = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let mut max_groups = 0;
        for minute in 0..7 * 24 * 60 {
            let uuid = format!("u{minute}");
            let entities = HitEntities {
                uuid: &uuid,
                ..HitEntities::default()
            };
            let key = format!("user{minute}@example.com");
            let time = start + Duration::minutes(minute);
            state.add(&spec, &key, 0, None, time, &entities);
            max_groups = max_groups.max(state.groups.len());
        }
        assert!(max_groups <= 2 * 10 + 2, "{max_groups} groups held at once");
        let held = state.names.ids.len();
        assert!(held <= 2 * 10 + 2, "{held} uuids held at once");
    }

    fn ordered_spec() -> CorrelationSpec {
        parse_spec(
            "type: temporal_ordered\nrules: [first, second, third]\ngroup-by: [actor.alternateId]\ntimespan: 10m\n",
        )
    }

    /// Matches of a later rule with nothing before them are not kept.
    #[test]
    fn ordered_window_drops_matches_out_of_place() {
        let spec = ordered_spec();
        let mut state = CorrelationState::default();
        let start = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let entities = HitEntities {
            uuid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            ip: Some("198.51.100.7"),
            user: Some("jdoe@example.com"),
        };
        for second in 0..100 {
            let time = start + Duration::seconds(second);
            assert!(state.add(&spec, "jdoe", 2, None, time, &entities).is_none());
        }
        assert!(
            state
                .groups
                .get("jdoe")
                .is_none_or(|group| group.window.is_empty())
        );
        assert!(
            state.names.ids.is_empty(),
            "names of dropped matches released"
        );

        let time = start + Duration::seconds(100);
        assert!(state.add(&spec, "jdoe", 0, None, time, &entities).is_none());
        let time = start + Duration::seconds(101);
        assert!(state.add(&spec, "jdoe", 2, None, time, &entities).is_none());
        assert_eq!(state.groups["jdoe"].window.len(), 1, "third before second");
        let time = start + Duration::seconds(102);
        assert!(state.add(&spec, "jdoe", 1, None, time, &entities).is_none());
        let time = start + Duration::seconds(103);
        let burst = state.add(&spec, "jdoe", 2, None, time, &entities).unwrap();
        assert_eq!(burst.count, 3, "only the matches in sequence are evidence");
    }

    /// Whether the condition holds after each match is the same as over a
    /// window that keeps every match, with the default condition (the whole
    /// sequence) and with one that a partial sequence meets.
    #[test]
    fn ordered_window_holds_as_with_every_match_kept() {
        let partial = parse_spec(
            "type: temporal_ordered\nrules: [first, second, third]\ngroup-by: [actor.alternateId]\ntimespan: 10m\ncondition:\n    gte: 1\n",
        );
        for (spec, needed) in [(ordered_spec(), 3), (partial, 1)] {
            let held = count_bursts_against_every_match(&spec, needed);
            assert!(held > 100, "the condition held {held} times");
        }
    }

    /// Adds 20,000 random matches of three rules, checks after each that a
    /// burst is returned exactly when an ordered prefix of `needed` rules is
    /// in the last ten minutes of all matches, and returns how many were.
    fn count_bursts_against_every_match(spec: &CorrelationSpec, needed: u32) -> usize {
        let mut state = CorrelationState::default();
        let start = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let entities = HitEntities::default();
        let mut every: Vec<(i64, u32)> = Vec::new();
        let mut random = 0x2545_f491_4f6c_dd1d_u64;
        let mut seconds = 0;
        let mut held = 0;
        for _ in 0..20_000 {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            seconds += (random % 90) as i64;
            let rule = ((random >> 8) % 3) as u32;
            let time = start + Duration::seconds(seconds);
            every.push((seconds, rule));
            let mut next = 0;
            for &(at, rule) in &every {
                if seconds - at <= 600 && rule == next {
                    next += 1;
                }
            }
            let expected = next >= needed;
            let burst = state.add(spec, "jdoe", rule as usize, None, time, &entities);
            assert_eq!(burst.is_some(), expected, "after {} matches", every.len());
            held += usize::from(expected);
        }
        held
    }

    #[test]
    fn uuid_bytes_restore_the_text() {
        let canonical = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
        let bytes = super::uuid_bytes(canonical).unwrap();
        assert_eq!(super::uuid_text(&bytes), canonical);
        for other in [
            "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
            "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d",
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4-",
            "not-a-uuid",
            "",
        ] {
            assert!(super::uuid_bytes(other).is_none(), "{other}");
        }
    }

    #[test]
    fn names_dropped_with_the_last_reference() {
        let mut names = super::Names::default();
        let first = names.acquire(Some("198.51.100.7"));
        let second = names.acquire(Some("198.51.100.7"));
        assert_eq!(first, second);
        assert_eq!(names.acquire(None), super::NO_NAME);
        names.release(first);
        assert_eq!(names.get(first), Some("198.51.100.7"));
        names.release(second);
        assert_eq!(names.get(first), None);
        assert!(names.ids.is_empty());
        let reused = names.acquire(Some("jdoe@example.com"));
        assert_eq!(reused, first, "a freed id is used again");
    }

    /// A group removed by a sweep and one started afresh count the same.
    #[test]
    fn group_after_sweep_counts_afresh() {
        let spec = spec();
        let mut state = CorrelationState::default();
        let start = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let entities = HitEntities::default();
        for minute in [0, 1] {
            let time = start + Duration::minutes(minute);
            assert!(state.add(&spec, "jdoe", 0, None, time, &entities).is_none());
        }
        // Seven hours later the sweep drops the group; two more matches
        // are not enough on their own.
        let later = start + Duration::hours(7);
        assert!(
            state
                .add(&spec, "other", 0, None, later, &entities)
                .is_none()
        );
        assert!(!state.groups.contains_key("jdoe"));
        for minute in [0, 1] {
            let time = later + Duration::minutes(minute);
            assert!(state.add(&spec, "jdoe", 0, None, time, &entities).is_none());
        }
        let time = later + Duration::minutes(2);
        let burst = state.add(&spec, "jdoe", 0, None, time, &entities);
        assert_eq!(burst.map(|burst| burst.count), Some(3));
    }
}
