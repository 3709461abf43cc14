//! The `filter` of a workflow: a small condition on the fields of a
//! LogEvent, written either as an expression or as a Sigma-style table.
//!
//! Expression form, comparisons joined by `and` and `or` (`and` binds
//! tighter, and there are no parentheses):
//!
//! ```text
//! outcome.result == "SUCCESS" and target.type == "User"
//! actor.alternateId contains "@example.com" or client.ipAddress startswith "10."
//! ```
//!
//! Table form, every field must match, and a list matches any of its values.
//! A `|contains` or `|startswith` suffix on the field name changes the
//! comparison as in Sigma:
//!
//! ```toml
//! filter = { "outcome.result" = "SUCCESS", "target.type" = ["User", "UserGroup"] }
//! ```
//!
//! A field path names camelCase LogEvent keys joined by dots. Arrays on
//! the way are searched element by element, so `target.type` reads the
//! type of every target. `==`, `contains` and `startswith` hold when any
//! value read satisfies them, so they fail on a missing field. `!=` holds
//! when no value read equals the literal, so it holds on a missing field.
//! Strings compare exactly, with case; numbers and booleans compare as
//! JSON values.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

/// A `filter` as written in the configuration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum FilterConfig {
    /// An expression such as `outcome.result == "SUCCESS"`.
    Expression(String),
    /// A Sigma-style table of field paths and the values they must have.
    Fields(BTreeMap<String, Value>),
}

/// A compiled filter: alternatives (`or`) of conjunctions (`and`).
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    alternatives: Vec<Vec<Comparison>>,
}

#[derive(Clone, Debug, PartialEq)]
struct Comparison {
    path: Vec<String>,
    operator: Operator,
    /// Any of these values satisfies the comparison (one for expressions).
    values: Vec<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    Equals,
    NotEquals,
    Contains,
    StartsWith,
}

impl Operator {
    fn parse(word: &str) -> Option<Operator> {
        match word {
            "==" => Some(Operator::Equals),
            "!=" => Some(Operator::NotEquals),
            "contains" => Some(Operator::Contains),
            "startswith" => Some(Operator::StartsWith),
            _ => None,
        }
    }
}

/// The reason a filter could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError(String);

impl fmt::Display for FilterError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

impl Filter {
    /// Compiles a filter from its configuration.
    pub fn compile(config: &FilterConfig) -> Result<Filter, FilterError> {
        match config {
            FilterConfig::Expression(text) => Filter::parse(text),
            FilterConfig::Fields(fields) => Filter::from_fields(fields),
        }
    }

    /// Parses the expression form.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err(FilterError(
                "Empty filter: write a comparison such as `outcome.result == \"SUCCESS\"`"
                    .to_string(),
            ));
        }
        let mut alternatives = vec![Vec::new()];
        let mut rest = tokens.as_slice();
        loop {
            let (comparison, after) = parse_comparison(rest)?;
            if let Some(current) = alternatives.last_mut() {
                current.push(comparison);
            }
            match after {
                [] => break,
                [Token::Word(word), tail @ ..] if word == "and" => rest = tail,
                [Token::Word(word), tail @ ..] if word == "or" => {
                    alternatives.push(Vec::new());
                    rest = tail;
                }
                [other, ..] => {
                    return Err(FilterError(format!(
                        "Expected `and` or `or` in filter `{text}`, found {other}"
                    )));
                }
            }
        }
        Ok(Filter { alternatives })
    }

    fn from_fields(fields: &BTreeMap<String, Value>) -> Result<Filter, FilterError> {
        if fields.is_empty() {
            return Err(FilterError(
                "Empty filter table: name at least one field, such as `\"outcome.result\" = \"SUCCESS\"`"
                    .to_string(),
            ));
        }
        let mut comparisons = Vec::new();
        for (key, value) in fields {
            let (field, operator) = match key.split_once('|') {
                None => (key.as_str(), Operator::Equals),
                Some((field, "contains")) => (field, Operator::Contains),
                Some((field, "startswith")) => (field, Operator::StartsWith),
                Some((_, modifier)) => {
                    return Err(FilterError(format!(
                        "Unsupported modifier `|{modifier}` on filter field `{key}`: use `|contains` or `|startswith`"
                    )));
                }
            };
            let values = match value {
                Value::Array(values) => values.clone(),
                other => vec![other.clone()],
            };
            if let Some(bad) = values.iter().find(|value| !is_scalar(value)) {
                return Err(FilterError(format!(
                    "Invalid value {bad} of filter field `{key}`: use a string, number or boolean, or a list of them"
                )));
            }
            comparisons.push(Comparison {
                path: parse_path(field)?,
                operator,
                values,
            });
        }
        Ok(Filter {
            alternatives: vec![comparisons],
        })
    }

    /// Returns whether the LogEvent `event` satisfies the filter.
    pub fn matches(&self, event: &Value) -> bool {
        self.alternatives
            .iter()
            .any(|comparisons| comparisons.iter().all(|comparison| comparison.holds(event)))
    }
}

impl Comparison {
    fn holds(&self, event: &Value) -> bool {
        let mut found = Vec::new();
        collect(event, &self.path, &mut found);
        let satisfies = |actual: &Value| {
            self.values
                .iter()
                .any(|expected| compare(self.operator, actual, expected))
        };
        match self.operator {
            Operator::NotEquals => !found.iter().any(|actual| {
                self.values
                    .iter()
                    .any(|expected| compare(Operator::Equals, actual, expected))
            }),
            _ => found.into_iter().any(satisfies),
        }
    }
}

fn compare(operator: Operator, actual: &Value, expected: &Value) -> bool {
    match operator {
        Operator::Equals | Operator::NotEquals => {
            actual == expected || numbers_equal(actual, expected)
        }
        Operator::Contains => match (actual.as_str(), expected.as_str()) {
            (Some(actual), Some(expected)) => actual.contains(expected),
            _ => false,
        },
        Operator::StartsWith => match (actual.as_str(), expected.as_str()) {
            (Some(actual), Some(expected)) => actual.starts_with(expected),
            _ => false,
        },
    }
}

/// Compares numbers by value, so that `1` equals `1.0`.
fn numbers_equal(actual: &Value, expected: &Value) -> bool {
    match (actual.as_f64(), expected.as_f64()) {
        (Some(actual), Some(expected)) => actual == expected,
        _ => false,
    }
}

/// Pushes every value at `path` under `value`, searching arrays element by element.
fn collect<'a>(value: &'a Value, path: &[String], found: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect(item, path, found);
            }
        }
        _ => match path.split_first() {
            None if !value.is_null() => found.push(value),
            None => {}
            Some((key, rest)) => {
                if let Some(child) = value.get(key.as_str()) {
                    collect(child, rest, found);
                }
            }
        },
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn parse_path(text: &str) -> Result<Vec<String>, FilterError> {
    let parts: Vec<String> = text.split('.').map(str::to_string).collect();
    let valid = parts.iter().all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || character == '_')
    });
    if !valid {
        return Err(FilterError(format!(
            "Invalid field path `{text}` in filter: use LogEvent keys joined by dots, such as `outcome.result`"
        )));
    }
    Ok(parts)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Literal(Value),
}

impl fmt::Display for Token {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(word) => write!(formatter, "`{word}`"),
            Token::Literal(value) => write!(formatter, "`{value}`"),
        }
    }
}

fn parse_comparison(tokens: &[Token]) -> Result<(Comparison, &[Token]), FilterError> {
    let [
        Token::Word(field),
        Token::Word(operator),
        Token::Literal(value),
        rest @ ..,
    ] = tokens
    else {
        let found = tokens
            .iter()
            .take(3)
            .map(Token::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        return Err(FilterError(format!(
            "Expected a comparison such as `outcome.result == \"SUCCESS\"` in filter, found {}",
            if found.is_empty() { "the end" } else { &found }
        )));
    };
    let operator = Operator::parse(operator).ok_or_else(|| {
        FilterError(format!(
            "Unknown operator `{operator}` in filter: use `==`, `!=`, `contains` or `startswith`"
        ))
    })?;
    let comparison = Comparison {
        path: parse_path(field)?,
        operator,
        values: vec![value.clone()],
    };
    Ok((comparison, rest))
}

/// Splits an expression into words (paths, operators, `and`, `or`) and literals.
fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut characters = text.chars().peekable();
    while let Some(&character) = characters.peek() {
        if character.is_whitespace() {
            characters.next();
        } else if character == '"' {
            characters.next();
            tokens.push(Token::Literal(Value::String(read_string(
                &mut characters,
                text,
            )?)));
        } else {
            let mut word = String::new();
            while let Some(&next) = characters.peek() {
                if next.is_whitespace() || next == '"' {
                    break;
                }
                word.push(next);
                characters.next();
            }
            tokens.push(word_token(word));
        }
    }
    Ok(tokens)
}

fn read_string(
    characters: &mut std::iter::Peekable<std::str::Chars<'_>>,
    text: &str,
) -> Result<String, FilterError> {
    let mut value = String::new();
    while let Some(character) = characters.next() {
        match character {
            '"' => return Ok(value),
            '\\' => match characters.next() {
                Some(escaped) => value.push(escaped),
                None => break,
            },
            other => value.push(other),
        }
    }
    Err(FilterError(format!(
        "Unterminated string in filter `{text}`: close it with `\"`"
    )))
}

/// Reads `true`, `false` and numbers as literals; anything else is a word.
fn word_token(word: String) -> Token {
    match word.as_str() {
        "true" => Token::Literal(Value::Bool(true)),
        "false" => Token::Literal(Value::Bool(false)),
        _ => match serde_json::from_str::<serde_json::Number>(&word) {
            Ok(number) => Token::Literal(Value::Number(number)),
            Err(_) => Token::Word(word),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Filter, FilterConfig};

    fn event() -> serde_json::Value {
        json!({
            "eventType": "user.account.privilege.grant",
            "outcome": {"result": "SUCCESS"},
            "actor": {"alternateId": "admin@example.com"},
            "target": [
                {"type": "User", "alternateId": "jdoe@example.com"},
                {"type": "AppInstance", "alternateId": "Salesforce"}
            ],
            "debugContext": {"debugData": {"threatSuspected": "false", "count": 3}}
        })
    }

    fn holds(text: &str) -> bool {
        Filter::parse(text).unwrap().matches(&event())
    }

    #[test]
    fn expression_comparisons() {
        assert!(holds(r#"outcome.result == "SUCCESS""#));
        assert!(!holds(r#"outcome.result == "FAILURE""#));
        assert!(holds(r#"outcome.result != "FAILURE""#));
        assert!(holds(r#"target.type == "AppInstance""#));
        assert!(!holds(r#"target.type != "User""#));
        assert!(holds(r#"actor.alternateId contains "@example.com""#));
        assert!(holds(r#"target.alternateId startswith "Sales""#));
        assert!(holds("debugContext.debugData.count == 3"));
        assert!(!holds(r#"missing.field == "x""#));
        assert!(holds(r#"missing.field != "x""#));
    }

    #[test]
    fn expression_and_binds_tighter_than_or() {
        assert!(holds(
            r#"outcome.result == "FAILURE" and target.type == "User" or actor.alternateId == "admin@example.com""#
        ));
        assert!(!holds(
            r#"outcome.result == "SUCCESS" and target.type == "Group" or actor.alternateId == "x""#
        ));
        assert!(holds(
            r#"outcome.result == "SUCCESS" and target.type == "User""#
        ));
    }

    #[test]
    fn expression_errors_name_the_problem() {
        for (text, expected) in [
            ("", "Empty filter"),
            (r#"outcome.result = "SUCCESS""#, "Unknown operator `=`"),
            (
                r#"outcome.result == "SUCCESS" also"#,
                "Expected `and` or `or`",
            ),
            (r#"outcome.result == "SUCCESS"#, "Unterminated string"),
            (r#"outcome..result == "SUCCESS""#, "Invalid field path"),
            ("outcome.result ==", "Expected a comparison"),
        ] {
            let error = Filter::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn field_table_matches_like_sigma() {
        let config: FilterConfig = serde_json::from_value(json!({
            "outcome.result": "SUCCESS",
            "target.type": ["UserGroup", "User"],
            "actor.alternateId|contains": "@example"
        }))
        .unwrap();
        let filter = Filter::compile(&config).unwrap();
        assert!(filter.matches(&event()));

        let other: FilterConfig =
            serde_json::from_value(json!({"target.type": ["UserGroup"]})).unwrap();
        assert!(!Filter::compile(&other).unwrap().matches(&event()));

        let modifier: FilterConfig =
            serde_json::from_value(json!({"target.type|endswith": "r"})).unwrap();
        assert!(Filter::compile(&modifier).is_err());
    }
}
