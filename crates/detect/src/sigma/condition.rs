//! The `condition` of a Sigma detection: selection names combined with
//! `and`, `or`, `not`, parentheses, and `1 of`/`N of`/`all of` over a name
//! pattern (`selection_*`) or `them`.
//!
//! Precedence, from loosest to tightest: `or`, `and`, `not`, then a name,
//! an `of` expression or a parenthesised condition.

/// A parsed condition over selection indexes.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    Selection(usize),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    /// At least `count` of the selections match.
    AtLeast(usize, Vec<usize>),
}

/// A condition that could not be parsed; the caller adds the place.
#[derive(Debug, thiserror::Error)]
pub enum ConditionError {
    #[error("Unknown selection `{0}` in the condition")]
    UnknownSelection(String),
    #[error("No selection matches `{0}` in the condition")]
    EmptyPattern(String),
    #[error("Unexpected `{found}` in the condition, expected {expected}")]
    Unexpected {
        found: String,
        expected: &'static str,
    },
    #[error("Aggregation `| {0}` in the condition is not supported; write a correlation rule")]
    Aggregation(String),
}

impl Condition {
    pub fn evaluate(&self, selected: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Condition::Selection(index) => selected(*index),
            Condition::Not(inner) => !inner.evaluate(selected),
            Condition::And(parts) => parts.iter().all(|part| part.evaluate(selected)),
            Condition::Or(parts) => parts.iter().any(|part| part.evaluate(selected)),
            Condition::AtLeast(count, indexes) => {
                let mut matched = 0;
                for index in indexes {
                    if selected(*index) {
                        matched += 1;
                        if matched >= *count {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }

    /// Parses `text` against the selection `names`, in their order.
    pub fn parse(text: &str, names: &[String]) -> Result<Condition, ConditionError> {
        if let Some((_, aggregation)) = text.split_once('|') {
            return Err(ConditionError::Aggregation(aggregation.trim().to_string()));
        }
        let tokens = tokenize(text);
        let mut parser = Parser {
            tokens: &tokens,
            position: 0,
            names,
        };
        let condition = parser.or()?;
        match parser.peek() {
            None => Ok(condition),
            Some(token) => Err(ConditionError::Unexpected {
                found: token.to_string(),
                expected: "the end of the condition",
            }),
        }
    }
}

fn tokenize(text: &str) -> Vec<String> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    spaced.split_whitespace().map(str::to_string).collect()
}

struct Parser<'a> {
    tokens: &'a [String],
    position: usize,
    names: &'a [String],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.position).map(String::as_str)
    }

    fn next(&mut self, expected: &'static str) -> Result<&str, ConditionError> {
        let token = self
            .tokens
            .get(self.position)
            .ok_or(ConditionError::Unexpected {
                found: "end of condition".to_string(),
                expected,
            })?;
        self.position += 1;
        Ok(token)
    }

    fn keyword(&self, word: &str) -> bool {
        self.peek()
            .is_some_and(|token| token.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            self.position += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.not()?];
        while self.keyword("and") {
            self.position += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::And(parts)
        })
    }

    fn not(&mut self) -> Result<Condition, ConditionError> {
        if self.keyword("not") {
            self.position += 1;
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Condition, ConditionError> {
        let token = self.next("a selection, `not`, `(` or `1 of`")?.to_string();
        if token == "(" {
            let inner = self.or()?;
            let closing = self.next("`)`")?;
            if closing != ")" {
                return Err(ConditionError::Unexpected {
                    found: closing.to_string(),
                    expected: "`)`",
                });
            }
            return Ok(inner);
        }
        if self.keyword("of") {
            self.position += 1;
            let pattern = self.next("a selection pattern or `them`")?.to_string();
            return self.quantified(&token, &pattern);
        }
        self.names
            .iter()
            .position(|name| *name == token)
            .map(Condition::Selection)
            .ok_or(ConditionError::UnknownSelection(token))
    }

    fn quantified(&self, quantifier: &str, pattern: &str) -> Result<Condition, ConditionError> {
        let indexes: Vec<usize> = self
            .names
            .iter()
            .enumerate()
            .filter(|(_, name)| pattern == "them" || glob_matches(pattern, name))
            .filter(|(_, name)| pattern != "them" || !name.starts_with('_'))
            .map(|(index, _)| index)
            .collect();
        if indexes.is_empty() {
            return Err(ConditionError::EmptyPattern(pattern.to_string()));
        }
        let count = match quantifier {
            "all" => indexes.len(),
            "any" => 1,
            number => number
                .parse::<usize>()
                .map_err(|_| ConditionError::Unexpected {
                    found: number.to_string(),
                    expected: "`all` or a number before `of`",
                })?,
        };
        Ok(Condition::AtLeast(count.max(1), indexes))
    }
}

/// Matches a selection name against a pattern where `*` is any run of characters.
fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            if !tail.contains('*') {
                return rest.ends_with(tail);
            }
            (0..=rest.len())
                .filter(|start| rest.is_char_boundary(*start))
                .any(|start| glob_matches(tail, &rest[start..]))
        }
    }
}
