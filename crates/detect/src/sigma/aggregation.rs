//! The aggregation expressions of Sigma 1.0 conditions, such as
//! `selection | count(actor.alternateid) by eventtype > 20`, which Sigma
//! 2.0 retired in favour of correlation rules but which published rules
//! (SigmaHQ's `okta_mfa_fatigue.yml`) still use.
//!
//! The Sigma 1.0.0 specification (`Sigma_1_0_0.md` in the
//! sigma-specification repository, "Aggregation expression") defines
//! `agg-function(agg-field) [ by group-field ] comparison-op value` over the
//! detection's `timeframe`. `count()` counts the matching events and
//! `count(field)` the distinct values of the field. A rule with such a
//! condition is loaded as two rules: the search part as a detection that
//! raises no alerts of its own, and an `event_count` or `value_count`
//! correlation over it that carries the rule's id, title and level.
//! `min`, `max`, `avg` and `sum` have no correlation equivalent and are
//! rejected.

use std::sync::OnceLock;

use regex::Regex;
use yaml_serde::{Mapping, Value};

/// A parsed `search | aggregation` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregation {
    /// The condition before the pipe.
    pub search: String,
    /// The field whose distinct values are counted; all events when `None`.
    pub field: Option<String>,
    pub group_by: Option<String>,
    /// The correlation condition key: `gt`, `gte`, `lt`, `lte`, `eq` or `neq`.
    pub comparison: &'static str,
    pub limit: u64,
}

impl Aggregation {
    /// Splits a condition at its pipe. Returns `None` without a pipe, and
    /// an error for an aggregation that cannot be expressed as a correlation.
    pub fn parse(condition: &str) -> Result<Option<Aggregation>, String> {
        let Some((search, aggregation)) = condition.split_once('|') else {
            return Ok(None);
        };
        let aggregation = aggregation.trim();
        let captures = expression().captures(aggregation).ok_or_else(|| {
            format!(
                "Unsupported aggregation `| {aggregation}`: expected `count([field]) [by field] <op> <number>`"
            )
        })?;
        let function = &captures["function"];
        if !function.eq_ignore_ascii_case("count") {
            return Err(format!(
                "Aggregation `{function}` is not supported; only `count` has a correlation rule equivalent"
            ));
        }
        let comparison = match &captures["operator"] {
            ">" => "gt",
            ">=" => "gte",
            "<" => "lt",
            "<=" => "lte",
            "=" | "==" => "eq",
            _ => "neq",
        };
        let limit = captures["limit"]
            .parse()
            .map_err(|_| format!("Invalid number in aggregation `| {aggregation}`"))?;
        let field = captures
            .name("field")
            .map(|field| field.as_str().trim().to_string())
            .filter(|field| !field.is_empty());
        Ok(Some(Aggregation {
            search: search.trim().to_string(),
            field,
            group_by: captures
                .name("group")
                .map(|group| group.as_str().to_string()),
            comparison,
            limit,
        }))
    }

    /// Returns the `correlation` section equivalent to the aggregation over
    /// the rule named `search_rule`, within `timeframe`.
    pub fn correlation(&self, search_rule: &str, timeframe: &str) -> Mapping {
        let mut condition = Mapping::new();
        condition.insert(self.comparison.into(), self.limit.into());
        let kind = match &self.field {
            Some(field) => {
                condition.insert("field".into(), field.as_str().into());
                "value_count"
            }
            None => "event_count",
        };
        let mut section = Mapping::new();
        section.insert("type".into(), kind.into());
        section.insert("rules".into(), Value::Sequence(vec![search_rule.into()]));
        if let Some(group) = &self.group_by {
            section.insert(
                "group-by".into(),
                Value::Sequence(vec![group.as_str().into()]),
            );
        }
        section.insert("timespan".into(), timeframe.into());
        section.insert("condition".into(), Value::Mapping(condition));
        section
    }
}

fn expression() -> &'static Regex {
    static EXPRESSION: OnceLock<Regex> = OnceLock::new();
    EXPRESSION.get_or_init(|| {
        // The pattern is a constant, so building it cannot fail at run time.
        Regex::new(
            r"(?i)^(?P<function>\w+)\s*\(\s*(?P<field>[^)]*)\)(?:\s+by\s+(?P<group>\S+))?\s*(?P<operator>>=|<=|==|!=|=|>|<)\s*(?P<limit>\d+)$",
        )
        .expect("valid aggregation pattern")
    })
}

#[cfg(test)]
mod tests {
    use super::Aggregation;

    #[test]
    fn count_field_by_group_parsed() {
        let parsed = Aggregation::parse("selection | count(actor.alternateid) by eventtype > 20")
            .unwrap()
            .unwrap();
        assert_eq!(parsed.search, "selection");
        assert_eq!(parsed.field.as_deref(), Some("actor.alternateid"));
        assert_eq!(parsed.group_by.as_deref(), Some("eventtype"));
        assert_eq!(parsed.comparison, "gt");
        assert_eq!(parsed.limit, 20);
    }

    #[test]
    fn plain_count_without_group_parsed() {
        let parsed = Aggregation::parse("1 of sel* | count() >= 5")
            .unwrap()
            .unwrap();
        assert_eq!(parsed.search, "1 of sel*");
        assert_eq!(parsed.field, None);
        assert_eq!(parsed.group_by, None);
        assert_eq!(parsed.comparison, "gte");
    }

    #[test]
    fn other_functions_rejected() {
        let error = Aggregation::parse("selection | max(bytes) by host > 5").unwrap_err();
        assert!(error.contains("`max`"), "{error}");
    }

    #[test]
    fn condition_without_pipe_untouched() {
        assert_eq!(
            Aggregation::parse("selection and not filter").unwrap(),
            None
        );
    }
}
