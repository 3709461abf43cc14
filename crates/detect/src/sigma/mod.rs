//! Sigma rules: parsing of detection and correlation documents and their
//! evaluation on raw camelCase LogEvents.
//!
//! A file may hold several YAML documents separated by `---`, as the Sigma
//! correlation specification (version 2.0) allows. Detection rules follow
//! the Sigma rules specification (version 2.0): selections, the modifiers
//! `contains`, `startswith`, `endswith`, `all`, `re` (with `i`, `m`, `s`),
//! `cidr`, `cased`, `exists`, `lt`, `lte`, `gt`, `gte`, keyword lists, and
//! conditions with `and`, `or`, `not`, `1 of`, `all of` and parentheses.
//! Correlation rules support `event_count`, `value_count`, `temporal` and
//! `temporal_ordered` with `group-by`, `timespan`, `condition`, `aliases`
//! and `generate`, and may reference other correlations. The retired Sigma
//! 1.0 form `selection | count(field) by field > N` with a `timeframe` is
//! loaded as a correlation (see `aggregation.rs`).
//!
//! Rules written for idaudit may add an `idaudit` map, which other Sigma
//! tools ignore:
//!
//! - `people: true` skips events where Okta's system actor acted;
//! - `user` and `ip` name the fields an alert takes its entities from
//!   (by default `actor.alternateId` and `client.ipAddress`);
//! - `suppress` is the window, such as `1h`, within which further matches
//!   for the same entity update one alert.

mod aggregation;
mod condition;
pub(crate) mod correlation;
mod detection;
mod engine;
mod field_results;
mod matcher;
mod parse;
mod path;

pub use correlation::{CorrelationKind, CorrelationSpec};
pub use detection::Detection;
pub use engine::SigmaEngine;
pub use parse::{parse_documents, parse_timespan};
pub use path::FieldPath;

use chrono::Duration;

/// A loaded Sigma rule, detection or correlation.
#[derive(Clone, Debug)]
pub struct SigmaRule {
    pub meta: RuleMeta,
    pub body: RuleBody,
}

#[derive(Clone, Debug)]
pub enum RuleBody {
    Detection(Detection),
    Correlation(CorrelationSpec),
}

/// A rule's own metadata, and the idaudit settings it carries.
#[derive(Clone, Debug)]
pub struct RuleMeta {
    /// The id alerts carry: the rule's `name`, else the file stem when the
    /// file contains one rule, else its Sigma `id`.
    pub id: String,
    /// The Sigma `id` (a UUID), if given.
    pub sigma_id: Option<String>,
    pub name: Option<String>,
    pub title: String,
    pub author: Option<String>,
    pub description: Option<String>,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub level: String,
    pub tags: Vec<String>,
    /// The product or service in `logsource`, if any.
    pub logsource: Vec<String>,
    /// Origin of the rule: `builtin`, `sigmahq` or a file path.
    pub source: String,
    /// The file and the line where the rule's document starts.
    pub location: String,
    pub people: bool,
    pub user_field: Option<FieldPath>,
    pub ip_field: Option<FieldPath>,
    pub suppress: Option<Duration>,
}

impl RuleMeta {
    /// Returns the ATT&CK techniques from tags such as `attack.t1098.003`.
    pub fn techniques(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|tag| tag.strip_prefix("attack.t"))
            .filter(|rest| rest.starts_with(|character: char| character.is_ascii_digit()))
            .map(|rest| format!("T{}", rest.to_uppercase()))
            .collect()
    }

    /// Tells whether the rule is meant for Okta System Log events: its
    /// `logsource` names `okta`, or it names no product or service.
    pub fn is_for_okta(&self) -> bool {
        self.logsource.is_empty()
            || self
                .logsource
                .iter()
                .any(|name| name.eq_ignore_ascii_case("okta"))
    }
}
