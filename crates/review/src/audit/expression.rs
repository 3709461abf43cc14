//! An evaluator for the subset of Okta Expression Language that birthright
//! policies and Okta group rules use to select users by profile.
//!
//! The subset, with the syntax of Okta's reference (SpEL based):
//!
//! - `user.attr` and `user.profile.attr`: an attribute of the user's Okta
//!   profile; a missing attribute is `null`.
//! - Literals: strings in double or single quotes (backslash escapes the
//!   next character), whole or decimal numbers, `true`, `false`, `null`.
//! - `==` and `!=` compare strings and numbers exactly (case-sensitive, as
//!   SpEL does); `null == null` is true.
//! - `and`, `AND`, `&&`, `or`, `OR`, `||`, `!`, `not`, `NOT` and parentheses.
//!   `and` binds tighter than `or`. A `null` operand counts as false.
//! - Functions: `String.stringContains(s, part)`, `String.startsWith(s,
//!   prefix)`, `String.endsWith(s, suffix)`, `String.toLowerCase(s)`,
//!   `String.toUpperCase(s)`, `Arrays.contains(array, value)`,
//!   `isMemberOfGroup(groupId)`, `isMemberOfAnyGroup(groupId, ...)` and
//!   `isMemberOfGroupName(name)`. A string function given `null` returns
//!   false or `null`, never an error.
//!
//! Anything else, such as another function, `appuser.attr` or a ternary,
//! is rejected when the expression is parsed, with an error that names it:
//! an expression is never taken as false because part of it is unknown.

use std::collections::HashSet;
use std::fmt;

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expression {
    source: String,
    root: Node,
}

/// The failure to parse or evaluate an expression, with the expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} in `{expression}`")]
pub struct ExpressionError {
    pub expression: String,
    pub message: String,
}

/// The user an expression is evaluated for.
pub trait Subject {
    /// Returns a profile attribute, `Value::Null` when the profile has none.
    fn attribute(&self, name: &str) -> Value;
    /// Returns whether the user belongs to the group with this id.
    fn is_member_of(&self, group_id: &str) -> bool;
    /// Returns whether the user belongs to a group with this name.
    fn is_member_of_name(&self, name: &str) -> bool;
}

/// A value during evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
}

impl Value {
    /// Converts a JSON profile value.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(value) => Value::Bool(*value),
            serde_json::Value::Number(number) => {
                number.as_f64().map(Value::Number).unwrap_or(Value::Null)
            }
            serde_json::Value::String(text) => Value::String(text.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from_json).collect())
            }
            // An object attribute has no use in this subset; it compares
            // equal to nothing.
            serde_json::Value::Object(_) => Value::Null,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    StringContains,
    StartsWith,
    EndsWith,
    ToLowerCase,
    ToUpperCase,
    ArraysContains,
    IsMemberOfGroup,
    IsMemberOfAnyGroup,
    IsMemberOfGroupName,
}

impl Function {
    fn from_name(name: &str) -> Option<Function> {
        Some(match name {
            "String.stringContains" => Function::StringContains,
            "String.startsWith" => Function::StartsWith,
            "String.endsWith" => Function::EndsWith,
            "String.toLowerCase" => Function::ToLowerCase,
            "String.toUpperCase" => Function::ToUpperCase,
            "Arrays.contains" => Function::ArraysContains,
            "isMemberOfGroup" => Function::IsMemberOfGroup,
            "isMemberOfAnyGroup" => Function::IsMemberOfAnyGroup,
            "isMemberOfGroupName" => Function::IsMemberOfGroupName,
            _ => return None,
        })
    }

    /// Returns the smallest and largest number of arguments.
    fn arity(self) -> (usize, usize) {
        match self {
            Function::StringContains
            | Function::StartsWith
            | Function::EndsWith
            | Function::ArraysContains => (2, 2),
            Function::ToLowerCase
            | Function::ToUpperCase
            | Function::IsMemberOfGroup
            | Function::IsMemberOfGroupName => (1, 1),
            Function::IsMemberOfAnyGroup => (1, usize::MAX),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Literal(Value),
    Attribute(String),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Equal(Box<Node>, Box<Node>),
    NotEqual(Box<Node>, Box<Node>),
    Call(Function, Vec<Node>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Identifier(String),
    String(String),
    Number(f64),
    Equal,
    NotEqual,
    And,
    Or,
    Not,
    Open,
    Close,
    Comma,
    /// A character outside the subset, such as `{` or `?`. The parser rejects
    /// it at its position, so an unknown function before it is named first.
    Unsupported(char),
}

impl fmt::Display for Token {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Identifier(name) => write!(formatter, "`{name}`"),
            Token::String(text) => write!(formatter, "string \"{text}\""),
            Token::Number(number) => write!(formatter, "number {number}"),
            Token::Equal => formatter.write_str("`==`"),
            Token::NotEqual => formatter.write_str("`!=`"),
            Token::And => formatter.write_str("`and`"),
            Token::Or => formatter.write_str("`or`"),
            Token::Not => formatter.write_str("`!`"),
            Token::Open => formatter.write_str("`(`"),
            Token::Close => formatter.write_str("`)`"),
            Token::Comma => formatter.write_str("`,`"),
            Token::Unsupported(character) => write!(formatter, "character `{character}`"),
        }
    }
}

impl Expression {
    /// Parses `source`; an unknown function or reference is an error.
    pub fn parse(source: &str) -> Result<Expression, ExpressionError> {
        let error = |message: String| ExpressionError {
            expression: source.to_string(),
            message,
        };
        let tokens = tokenize(source).map_err(error)?;
        if tokens.is_empty() {
            return Err(error("empty expression".to_string()));
        }
        let mut parser = Parser {
            tokens: &tokens,
            position: 0,
        };
        let root = parser.or().map_err(error)?;
        if let Some(token) = parser.peek() {
            let message = match token {
                Token::Unsupported(character) => format!("unsupported character `{character}`"),
                other => format!("unexpected {other} after the expression"),
            };
            return Err(error(message));
        }
        Ok(Expression {
            source: source.to_string(),
            root,
        })
    }

    /// Returns the text the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression for `subject`; the result must be a boolean.
    pub fn evaluate(&self, subject: &dyn Subject) -> Result<bool, ExpressionError> {
        let error = |message: String| ExpressionError {
            expression: self.source.clone(),
            message,
        };
        match evaluate(&self.root, subject).map_err(error)? {
            Value::Bool(value) => Ok(value),
            Value::Null => Ok(false),
            other => Err(error(format!(
                "the expression returns {}, not a boolean",
                other.kind()
            ))),
        }
    }
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let characters: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        let next = characters.get(index + 1).copied();
        match character {
            ' ' | '\t' | '\r' | '\n' => index += 1,
            '(' => {
                tokens.push(Token::Open);
                index += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                index += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                index += 1;
            }
            '=' if next == Some('=') => {
                tokens.push(Token::Equal);
                index += 2;
            }
            '=' => return Err("single `=` found: compare with `==`".to_string()),
            '!' if next == Some('=') => {
                tokens.push(Token::NotEqual);
                index += 2;
            }
            '!' => {
                tokens.push(Token::Not);
                index += 1;
            }
            '&' if next == Some('&') => {
                tokens.push(Token::And);
                index += 2;
            }
            '|' if next == Some('|') => {
                tokens.push(Token::Or);
                index += 2;
            }
            '"' | '\'' => {
                let (text, end) = read_string(&characters, index)?;
                tokens.push(Token::String(text));
                index = end;
            }
            '0'..='9' => {
                let start = index;
                while index < characters.len()
                    && (characters[index].is_ascii_digit() || characters[index] == '.')
                {
                    index += 1;
                }
                let text: String = characters[start..index].iter().collect();
                let number = text
                    .parse()
                    .map_err(|_| format!("invalid number `{text}`"))?;
                tokens.push(Token::Number(number));
            }
            _ if character.is_alphabetic() || character == '_' || character == '$' => {
                let start = index;
                while index < characters.len()
                    && (characters[index].is_alphanumeric()
                        || matches!(characters[index], '_' | '$' | '.'))
                {
                    index += 1;
                }
                let word: String = characters[start..index].iter().collect();
                tokens.push(match word.as_str() {
                    "and" | "AND" => Token::And,
                    "or" | "OR" => Token::Or,
                    "not" | "NOT" => Token::Not,
                    _ => Token::Identifier(word),
                });
            }
            _ => {
                tokens.push(Token::Unsupported(character));
                index += 1;
            }
        }
    }
    Ok(tokens)
}

/// Reads a quoted string starting at `start`; returns it and the index after it.
fn read_string(characters: &[char], start: usize) -> Result<(String, usize), String> {
    let quote = characters[start];
    let mut text = String::new();
    let mut index = start + 1;
    while index < characters.len() {
        match characters[index] {
            '\\' if index + 1 < characters.len() => {
                text.push(characters[index + 1]);
                index += 2;
            }
            character if character == quote => return Ok((text, index + 1)),
            character => {
                text.push(character);
                index += 1;
            }
        }
    }
    Err(format!(
        "unterminated string starting at position {}",
        start + 1
    ))
}

struct Parser<'a> {
    tokens: &'a [Token],
    position: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.position);
        self.position += 1;
        token
    }

    fn eat(&mut self, wanted: &Token) -> bool {
        if self.peek() == Some(wanted) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Node, String> {
        let mut left = self.and()?;
        while self.eat(&Token::Or) {
            left = Node::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, String> {
        let mut left = self.comparison()?;
        while self.eat(&Token::And) {
            left = Node::And(Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Node, String> {
        let left = self.unary()?;
        if self.eat(&Token::Equal) {
            return Ok(Node::Equal(Box::new(left), Box::new(self.unary()?)));
        }
        if self.eat(&Token::NotEqual) {
            return Ok(Node::NotEqual(Box::new(left), Box::new(self.unary()?)));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, String> {
        if self.eat(&Token::Not) {
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, String> {
        let Some(token) = self.next().cloned() else {
            return Err("the expression ends too early".to_string());
        };
        match token {
            Token::Open => {
                let inner = self.or()?;
                if !self.eat(&Token::Close) {
                    return Err("missing `)`".to_string());
                }
                Ok(inner)
            }
            Token::String(text) => Ok(Node::Literal(Value::String(text))),
            Token::Number(number) => Ok(Node::Literal(Value::Number(number))),
            Token::Identifier(name) => self.identifier(name),
            Token::Unsupported(character) => Err(format!("unsupported character `{character}`")),
            other => Err(format!("unexpected {other}")),
        }
    }

    fn identifier(&mut self, name: String) -> Result<Node, String> {
        if self.eat(&Token::Open) {
            return self.call(&name);
        }
        match name.as_str() {
            "true" => return Ok(Node::Literal(Value::Bool(true))),
            "false" => return Ok(Node::Literal(Value::Bool(false))),
            "null" => return Ok(Node::Literal(Value::Null)),
            _ => {}
        }
        let attribute = name
            .strip_prefix("user.profile.")
            .or_else(|| name.strip_prefix("user."));
        match attribute {
            Some(attribute) if !attribute.is_empty() && !attribute.contains('.') => {
                Ok(Node::Attribute(attribute.to_string()))
            }
            _ => Err(format!(
                "unsupported reference `{name}`: use `user.attribute` or `user.profile.attribute`"
            )),
        }
    }

    fn call(&mut self, name: &str) -> Result<Node, String> {
        let function =
            Function::from_name(name).ok_or_else(|| format!("unsupported function `{name}`"))?;
        let mut arguments = Vec::new();
        if !self.eat(&Token::Close) {
            loop {
                arguments.push(self.or()?);
                if self.eat(&Token::Close) {
                    break;
                }
                if !self.eat(&Token::Comma) {
                    return Err(format!("missing `,` or `)` in the arguments of `{name}`"));
                }
            }
        }
        let (least, most) = function.arity();
        if arguments.len() < least || arguments.len() > most {
            let expected = if least == most {
                least.to_string()
            } else {
                format!("at least {least}")
            };
            return Err(format!(
                "`{name}` takes {expected} argument(s), not {}",
                arguments.len()
            ));
        }
        Ok(Node::Call(function, arguments))
    }
}

fn evaluate(node: &Node, subject: &dyn Subject) -> Result<Value, String> {
    match node {
        Node::Literal(value) => Ok(value.clone()),
        Node::Attribute(name) => Ok(subject.attribute(name)),
        Node::Not(inner) => Ok(Value::Bool(!truth(&evaluate(inner, subject)?)?)),
        Node::And(left, right) => {
            let value = truth(&evaluate(left, subject)?)? && truth(&evaluate(right, subject)?)?;
            Ok(Value::Bool(value))
        }
        Node::Or(left, right) => {
            let value = truth(&evaluate(left, subject)?)? || truth(&evaluate(right, subject)?)?;
            Ok(Value::Bool(value))
        }
        Node::Equal(left, right) => Ok(Value::Bool(
            evaluate(left, subject)? == evaluate(right, subject)?,
        )),
        Node::NotEqual(left, right) => Ok(Value::Bool(
            evaluate(left, subject)? != evaluate(right, subject)?,
        )),
        Node::Call(function, arguments) => {
            let values = arguments
                .iter()
                .map(|argument| evaluate(argument, subject))
                .collect::<Result<Vec<Value>, String>>()?;
            call(*function, &values, subject)
        }
    }
}

/// Returns the truth of an operand of `and`, `or` or `!`; `null` is false.
fn truth(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(value) => Ok(*value),
        Value::Null => Ok(false),
        other => Err(format!(
            "{} is used where a boolean is expected",
            other.kind()
        )),
    }
}

fn call(function: Function, values: &[Value], subject: &dyn Subject) -> Result<Value, String> {
    let text = |index: usize| -> Option<&str> {
        match values.get(index) {
            Some(Value::String(text)) => Some(text.as_str()),
            _ => None,
        }
    };
    let both = |test: fn(&str, &str) -> bool| -> Value {
        match (text(0), text(1)) {
            (Some(left), Some(right)) => Value::Bool(test(left, right)),
            _ => Value::Bool(false),
        }
    };
    let value = match function {
        Function::StringContains => both(|text, part| text.contains(part)),
        Function::StartsWith => both(|text, prefix| text.starts_with(prefix)),
        Function::EndsWith => both(|text, suffix| text.ends_with(suffix)),
        Function::ToLowerCase => {
            text(0).map_or(Value::Null, |text| Value::String(text.to_lowercase()))
        }
        Function::ToUpperCase => {
            text(0).map_or(Value::Null, |text| Value::String(text.to_uppercase()))
        }
        Function::ArraysContains => match &values[0] {
            Value::Array(items) => Value::Bool(items.contains(&values[1])),
            Value::Null => Value::Bool(false),
            other => {
                return Err(format!(
                    "`Arrays.contains` takes an array, not {}",
                    other.kind()
                ));
            }
        },
        Function::IsMemberOfGroup => {
            Value::Bool(text(0).is_some_and(|id| subject.is_member_of(id)))
        }
        Function::IsMemberOfAnyGroup => Value::Bool(
            values
                .iter()
                .any(|value| matches!(value, Value::String(id) if subject.is_member_of(id))),
        ),
        Function::IsMemberOfGroupName => {
            Value::Bool(text(0).is_some_and(|name| subject.is_member_of_name(name)))
        }
    };
    Ok(value)
}

/// A user's profile and groups, the [`Subject`] the audits evaluate.
#[derive(Clone, Debug, Default)]
pub struct ProfileSubject {
    pub profile: serde_json::Map<String, serde_json::Value>,
    pub group_ids: HashSet<String>,
    pub group_names: HashSet<String>,
}

impl Subject for ProfileSubject {
    fn attribute(&self, name: &str) -> Value {
        self.profile.get(name).map_or(Value::Null, Value::from_json)
    }

    fn is_member_of(&self, group_id: &str) -> bool {
        self.group_ids.contains(group_id)
    }

    fn is_member_of_name(&self, name: &str) -> bool {
        self.group_names.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject(profile: serde_json::Value) -> ProfileSubject {
        ProfileSubject {
            profile: profile.as_object().cloned().unwrap_or_default(),
            group_ids: ["00gsales".to_string()].into_iter().collect(),
            group_names: ["Sales".to_string()].into_iter().collect(),
        }
    }

    fn check(expression: &str, profile: serde_json::Value) -> bool {
        Expression::parse(expression)
            .unwrap()
            .evaluate(&subject(profile))
            .unwrap()
    }

    #[test]
    fn equality_and_inequality() {
        let profile = json!({"department": "Engineering"});
        assert!(check(
            r#"user.department == "Engineering""#,
            profile.clone()
        ));
        assert!(check(r#"user.department=="Engineering""#, profile.clone()));
        assert!(check(
            r#"user.profile.department == 'Engineering'"#,
            profile.clone()
        ));
        assert!(!check(
            r#"user.department == "engineering""#,
            profile.clone()
        ));
        assert!(check(r#"user.department != "Sales""#, profile.clone()));
        assert!(check("user.title == null", profile.clone()));
        assert!(!check(r#"user.title == "Engineer""#, profile));
    }

    #[test]
    fn logic_and_precedence() {
        let profile = json!({"department": "Sales", "city": "Berlin", "active": true});
        assert!(check(
            r#"user.department == "Sales" AND user.city == "Berlin""#,
            profile.clone()
        ));
        assert!(check(
            r#"user.department == "IT" or user.city == "Berlin" && user.department == "Sales""#,
            profile.clone()
        ));
        assert!(!check(
            r#"(user.department == "IT" || user.city == "Berlin") and user.department == "IT""#,
            profile.clone()
        ));
        assert!(check(r#"!(user.department == "IT")"#, profile.clone()));
        assert!(check(r#"NOT (user.department == "IT")"#, profile.clone()));
        assert!(check("user.active", profile.clone()));
        assert!(!check("user.missing && true", profile));
    }

    #[test]
    fn string_and_group_functions() {
        let profile = json!({"email": "ana@example.com", "roles": ["admin", "dev"]});
        assert!(check(
            r#"String.stringContains(user.email, "@example.com")"#,
            profile.clone()
        ));
        assert!(check(
            r#"String.startsWith(user.email, "ana")"#,
            profile.clone()
        ));
        assert!(check(
            r#"String.endsWith(user.email, ".com")"#,
            profile.clone()
        ));
        assert!(!check(
            r#"String.startsWith(user.missing, "ana")"#,
            profile.clone()
        ));
        assert!(check(
            r#"String.toLowerCase("ANA") == "ana" and String.toUpperCase('x') == "X""#,
            profile.clone()
        ));
        assert!(check(
            r#"Arrays.contains(user.roles, "dev")"#,
            profile.clone()
        ));
        assert!(check(r#"isMemberOfGroup("00gsales")"#, profile.clone()));
        assert!(check(
            r#"isMemberOfAnyGroup("00gx", "00gsales")"#,
            profile.clone()
        ));
        assert!(check(r#"isMemberOfGroupName("Sales")"#, profile.clone()));
        assert!(!check(r#"isMemberOfGroupName("IT")"#, profile));
    }

    #[test]
    fn unknown_function_named() {
        let error = Expression::parse(r#"String.substringAfter(user.email, "@") == "x""#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("`String.substringAfter`"), "{error}");
        let error = Expression::parse(r#"user.isMemberOf({'group.id': '00g1'})"#).unwrap_err();
        assert!(error.message.contains("user.isMemberOf"), "{error}");
    }

    #[test]
    fn syntax_errors_explained() {
        let cases = [
            (r#"user.department = "IT""#, "single `=`"),
            (r#"user.department == "IT"#, "unterminated string"),
            (r#"(user.department == "IT""#, "missing `)`"),
            (r#"user.department == "IT" user.title"#, "unexpected"),
            (
                r#"appuser.role == "x""#,
                "unsupported reference `appuser.role`",
            ),
            (
                r#"String.startsWith(user.email)"#,
                "takes 2 argument(s), not 1",
            ),
            ("", "empty expression"),
            (r#"user.a == "x" ? 1 : 2"#, "unsupported character `?`"),
        ];
        for (expression, expected) in cases {
            let error = Expression::parse(expression).unwrap_err();
            assert!(error.message.contains(expected), "`{expression}`: {error}");
        }
    }

    #[test]
    fn non_boolean_result_rejected() {
        // As in SpEL, `!` binds tighter than `==`.
        let error = Expression::parse(r#"!user.department == "IT""#)
            .unwrap()
            .evaluate(&subject(json!({"department": "IT"})))
            .unwrap_err();
        assert!(
            error.message.contains("where a boolean is expected"),
            "{error}"
        );
        let expression = Expression::parse("user.department").unwrap();
        let error = expression
            .evaluate(&subject(json!({"department": "IT"})))
            .unwrap_err();
        assert!(error.message.contains("not a boolean"), "{error}");
        let error = Expression::parse(r#"user.department and true"#)
            .unwrap()
            .evaluate(&subject(json!({"department": "IT"})))
            .unwrap_err();
        assert!(
            error.message.contains("where a boolean is expected"),
            "{error}"
        );
    }
}
