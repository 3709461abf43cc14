//! SCIM-style filter expressions, as the `filter` and `search` parameters of Okta's list
//! endpoints take them: `status eq "ACTIVE" and (lastUpdated gt "2025-01-01T00:00:00.000Z")`.
//!
//! The parser accepts `eq`, `ne`, `co`, `sw`, `ew`, `pr`, `gt`, `ge`, `lt` and `le`,
//! `and`, `or`, `not` and parentheses; keywords and operators are case-insensitive.
//! Each endpoint decides which attributes and operators it allows, and evaluates the
//! expression against the object's Okta JSON. An attribute path that crosses an array,
//! such as `target.id` in a LogEvent, matches when any element matches.

use std::cmp::Ordering;

use serde_json::Value;

use crate::time::parse_iso;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Pr,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Operator {
    fn parse(word: &str) -> Option<Operator> {
        let operator = match word.to_ascii_lowercase().as_str() {
            "eq" => Operator::Eq,
            "ne" => Operator::Ne,
            "co" => Operator::Co,
            "sw" => Operator::Sw,
            "ew" => Operator::Ew,
            "pr" => Operator::Pr,
            "gt" => Operator::Gt,
            "ge" => Operator::Ge,
            "lt" => Operator::Lt,
            "le" => Operator::Le,
            _ => return None,
        };
        Some(operator)
    }

    /// Returns whether the operator orders values (`gt`, `ge`, `lt`, `le`).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            Operator::Gt | Operator::Ge | Operator::Lt | Operator::Le
        )
    }
}

/// The value on the right of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Compare {
        path: String,
        operator: Operator,
        value: Option<Literal>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// Error from parsing a filter; the message follows Okta's wording where it is known.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "Unrecognized attribute operator '{operator}' at position {position}. Expected: eq,co,sw,pr,gt,ge,lt,le"
    )]
    UnknownOperator { operator: String, position: usize },
    #[error("Invalid filter syntax at position {position}: {message}")]
    Syntax {
        position: usize,
        message: &'static str,
    },
}

/// String comparison settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct MatchOptions {
    /// Compare string values without regard to ASCII case, as user `search` does.
    pub ignore_value_case: bool,
}

impl Expr {
    /// Parses a filter expression.
    pub fn parse(text: &str) -> Result<Expr, FilterError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens,
            next: 0,
            end: text.chars().count(),
        };
        let expr = parser.parse_or()?;
        match parser.peek() {
            None => Ok(expr),
            Some(token) => Err(FilterError::Syntax {
                position: token.position,
                message: "unexpected token after the expression",
            }),
        }
    }

    /// Returns every comparison in the expression as `(path, operator)`.
    pub fn comparisons(&self) -> Vec<(&str, Operator)> {
        let mut found = Vec::new();
        self.collect_comparisons(&mut found);
        found
    }

    fn collect_comparisons<'a>(&'a self, found: &mut Vec<(&'a str, Operator)>) {
        match self {
            Expr::Compare { path, operator, .. } => found.push((path.as_str(), *operator)),
            Expr::And(left, right) | Expr::Or(left, right) => {
                left.collect_comparisons(found);
                right.collect_comparisons(found);
            }
            Expr::Not(inner) => inner.collect_comparisons(found),
        }
    }

    /// Evaluates the expression against a JSON document.
    pub fn matches(&self, document: &Value, options: MatchOptions) -> bool {
        match self {
            Expr::And(left, right) => {
                left.matches(document, options) && right.matches(document, options)
            }
            Expr::Or(left, right) => {
                left.matches(document, options) || right.matches(document, options)
            }
            Expr::Not(inner) => !inner.matches(document, options),
            Expr::Compare {
                path,
                operator,
                value,
            } => compare_path(document, path, *operator, value.as_ref(), options),
        }
    }
}

fn compare_path(
    document: &Value,
    path: &str,
    operator: Operator,
    literal: Option<&Literal>,
    options: MatchOptions,
) -> bool {
    let values = resolve(document, path);
    match (operator, literal) {
        (Operator::Pr, _) => values.iter().any(|value| !value.is_null()),
        (Operator::Ne, Some(literal)) => !values
            .iter()
            .any(|value| compare_value(value, Operator::Eq, literal, options)),
        (_, Some(literal)) => values
            .iter()
            .any(|value| compare_value(value, operator, literal, options)),
        (_, None) => false,
    }
}

/// Returns the values at a dotted path, stepping into every element of arrays on the way.
fn resolve<'a>(document: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![document];
    for key in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            match value {
                Value::Object(map) => next.extend(map.get(key)),
                Value::Array(items) => next.extend(items.iter().filter_map(|item| item.get(key))),
                _ => {}
            }
        }
        current = next;
    }
    current
        .into_iter()
        .flat_map(|value| match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        })
        .collect()
}

fn compare_value(
    value: &Value,
    operator: Operator,
    literal: &Literal,
    options: MatchOptions,
) -> bool {
    match (value, literal) {
        (Value::String(actual), Literal::String(expected)) => {
            compare_strings(actual, operator, expected, options)
        }
        (Value::Number(actual), Literal::Number(expected)) => actual
            .as_f64()
            .and_then(|actual| actual.partial_cmp(expected))
            .is_some_and(|ordering| ordering_matches(ordering, operator)),
        (Value::Bool(actual), Literal::Bool(expected)) => {
            operator == Operator::Eq && actual == expected
        }
        (Value::Null, Literal::Null) => operator == Operator::Eq,
        _ => false,
    }
}

fn compare_strings(
    actual: &str,
    operator: Operator,
    expected: &str,
    options: MatchOptions,
) -> bool {
    let (actual, expected) = if options.ignore_value_case {
        (actual.to_ascii_lowercase(), expected.to_ascii_lowercase())
    } else {
        (actual.to_string(), expected.to_string())
    };
    match operator {
        Operator::Eq => actual == expected,
        Operator::Co => actual.contains(&expected),
        Operator::Sw => actual.starts_with(&expected),
        Operator::Ew => actual.ends_with(&expected),
        Operator::Gt | Operator::Ge | Operator::Lt | Operator::Le => {
            let ordering = match (parse_iso(&actual), parse_iso(&expected)) {
                (Some(actual), Some(expected)) => actual.cmp(&expected),
                _ => actual.cmp(&expected),
            };
            ordering_matches(ordering, operator)
        }
        Operator::Ne | Operator::Pr => false,
    }
}

fn ordering_matches(ordering: Ordering, operator: Operator) -> bool {
    match operator {
        Operator::Eq => ordering == Ordering::Equal,
        Operator::Gt => ordering == Ordering::Greater,
        Operator::Ge => ordering != Ordering::Less,
        Operator::Lt => ordering == Ordering::Less,
        Operator::Le => ordering != Ordering::Greater,
        _ => false,
    }
}

#[derive(Clone, Debug, PartialEq)]
enum TokenKind {
    Open,
    Close,
    Quoted(String),
    Word(String),
}

#[derive(Clone, Debug)]
struct Token {
    kind: TokenKind,
    /// Zero-based character offset of the token in the filter text.
    position: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let position = index;
        let kind = match chars[index] {
            character if character.is_whitespace() => {
                index += 1;
                continue;
            }
            '(' => {
                index += 1;
                TokenKind::Open
            }
            ')' => {
                index += 1;
                TokenKind::Close
            }
            '"' => {
                let (value, after) = read_quoted(&chars, index)?;
                index = after;
                TokenKind::Quoted(value)
            }
            _ => {
                let start = index;
                while index < chars.len() && !is_word_boundary(chars[index]) {
                    index += 1;
                }
                TokenKind::Word(chars[start..index].iter().collect())
            }
        };
        tokens.push(Token { kind, position });
    }
    Ok(tokens)
}

fn is_word_boundary(character: char) -> bool {
    character.is_whitespace() || matches!(character, '(' | ')' | '"')
}

/// Reads a double-quoted string starting at `start`; returns the value and the index after it.
fn read_quoted(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let mut value = String::new();
    let mut index = start + 1;
    while index < chars.len() {
        match chars[index] {
            '"' => return Ok((value, index + 1)),
            '\\' if index + 1 < chars.len() => {
                value.push(chars[index + 1]);
                index += 2;
            }
            character => {
                value.push(character);
                index += 1;
            }
        }
    }
    Err(FilterError::Syntax {
        position: start,
        message: "unterminated string",
    })
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// Character count of the filter, reported as the position of a missing token.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn advance(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: TokenKind::Word(word), .. }) if word.eq_ignore_ascii_case(keyword))
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let mut expr = self.parse_and()?;
        while self.peek_keyword("or") {
            self.advance();
            let right = self.parse_and()?;
            expr = Expr::Or(Box::new(expr), Box::new(right));
        }
        Ok(expr)
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let mut expr = self.parse_unary()?;
        while self.peek_keyword("and") {
            self.advance();
            let right = self.parse_unary()?;
            expr = Expr::And(Box::new(expr), Box::new(right));
        }
        Ok(expr)
    }

    fn parse_unary(&mut self) -> Result<Expr, FilterError> {
        if self.peek_keyword("not") {
            self.advance();
            return Ok(Expr::Not(Box::new(self.parse_unary()?)));
        }
        if matches!(
            self.peek(),
            Some(Token {
                kind: TokenKind::Open,
                ..
            })
        ) {
            self.advance();
            let inner = self.parse_or()?;
            return match self.advance() {
                Some(Token {
                    kind: TokenKind::Close,
                    ..
                }) => Ok(inner),
                other => Err(self.syntax_error(other, "missing closing parenthesis")),
            };
        }
        self.parse_comparison()
    }

    fn parse_comparison(&mut self) -> Result<Expr, FilterError> {
        let path = match self.advance() {
            Some(Token {
                kind: TokenKind::Word(word),
                ..
            }) => word,
            other => return Err(self.syntax_error(other, "expected an attribute name")),
        };
        let operator = match self.advance() {
            Some(Token {
                kind: TokenKind::Word(word),
                position,
            }) => Operator::parse(&word).ok_or(FilterError::UnknownOperator {
                operator: word,
                position,
            })?,
            other => return Err(self.syntax_error(other, "expected an operator")),
        };
        if operator == Operator::Pr {
            return Ok(Expr::Compare {
                path,
                operator,
                value: None,
            });
        }
        let value = match self.advance() {
            Some(Token {
                kind: TokenKind::Quoted(text),
                ..
            }) => Literal::String(text),
            Some(Token {
                kind: TokenKind::Word(word),
                position,
            }) => parse_bare_literal(&word).ok_or(FilterError::Syntax {
                position,
                message: "expected a quoted string, number, boolean or null",
            })?,
            other => return Err(self.syntax_error(other, "expected a value")),
        };
        Ok(Expr::Compare {
            path,
            operator,
            value: Some(value),
        })
    }

    fn syntax_error(&self, token: Option<Token>, message: &'static str) -> FilterError {
        FilterError::Syntax {
            position: token.map_or(self.end, |token| token.position),
            message,
        }
    }
}

fn parse_bare_literal(word: &str) -> Option<Literal> {
    match word.to_ascii_lowercase().as_str() {
        "true" => Some(Literal::Bool(true)),
        "false" => Some(Literal::Bool(false)),
        "null" => Some(Literal::Null),
        _ => word.parse::<f64>().ok().map(Literal::Number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(filter: &str, document: &Value) -> bool {
        Expr::parse(filter)
            .unwrap()
            .matches(document, MatchOptions::default())
    }

    #[test]
    fn equality_and_boolean_logic() {
        let user = json!({"status": "ACTIVE", "profile": {"login": "a@example.com"}});
        assert!(matches(r#"status eq "ACTIVE""#, &user));
        assert!(!matches(r#"status eq "active""#, &user));
        assert!(matches(
            r#"status eq "STAGED" or profile.login eq "a@example.com""#,
            &user
        ));
        assert!(!matches(
            r#"status eq "ACTIVE" and not (profile.login sw "a")"#,
            &user
        ));
    }

    #[test]
    fn dates_compare_as_instants() {
        let user = json!({"lastUpdated": "2025-03-01T10:00:00.000Z"});
        assert!(matches(r#"lastUpdated gt "2025-03-01T09:00:00Z""#, &user));
        assert!(!matches(
            r#"lastUpdated gt "2025-03-01T12:00:00+01:00""#,
            &user
        ));
        assert!(matches(
            r#"lastUpdated ge "2025-03-01T11:00:00+01:00""#,
            &user
        ));
    }

    #[test]
    fn array_paths_match_any_element() {
        let event = json!({"target": [{"id": "00g1"}, {"id": "00u2"}]});
        assert!(matches(r#"target.id eq "00u2""#, &event));
        assert!(!matches(r#"target.id eq "00u3""#, &event));
        assert!(matches("target.id pr", &event));
    }

    #[test]
    fn unknown_operator_reports_position() {
        let error = Expr::parse(r#"display_message eqq "Create okta user""#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Unrecognized attribute operator 'eqq' at position 16. Expected: eq,co,sw,pr,gt,ge,lt,le"
        );
    }

    #[test]
    fn syntax_errors_are_rejected() {
        assert!(Expr::parse(r#"status eq "ACTIVE"#).is_err());
        assert!(Expr::parse(r#"(status eq "ACTIVE""#).is_err());
        assert!(Expr::parse("status eq").is_err());
        assert!(Expr::parse(r#"status eq "A" extra"#).is_err());
    }

    #[test]
    fn ignore_value_case_option() {
        let user = json!({"profile": {"firstName": "Ada"}});
        let expr = Expr::parse(r#"profile.firstName eq "ada""#).unwrap();
        assert!(!expr.matches(&user, MatchOptions::default()));
        assert!(expr.matches(
            &user,
            MatchOptions {
                ignore_value_case: true
            }
        ));
    }
}
