//! One pass over the text of a plain LogEvent that checks it is valid JSON,
//! finds the fields the store indexes, and removes the whitespace between
//! its tokens.
//!
//! A serde projection of the indexed fields and a second pass that removed
//! whitespace took about 30% of an import's CPU time. This scanner does both
//! in one pass. It returns `None` on anything unusual, which the general path
//! then reads and reports with its reasons: escaped keys or indexed values,
//! duplicate keys, hook deliveries, renamed keys, mistyped fields, invalid
//! JSON, and nesting deeper than serde_json accepts.
//!
//! The archive's projection of events to Parquet columns reads events with
//! the same [`Scanner`], without the whitespace removal.

/// The indexed fields of a LogEvent, as slices of its text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PlainFields<'a> {
    pub uuid: Option<&'a str>,
    pub published: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub actor_alternate_id: Option<&'a str>,
    pub outcome_result: Option<&'a str>,
    pub client_ip: Option<&'a str>,
}

/// Top-level keys that mark a record as something other than a plain
/// LogEvent: an event-hook delivery (`data`) or keys lower-cased by another
/// tool.
const SPECIAL_KEYS: &[&[u8]] = &[
    b"data",
    b"eventtype",
    b"displaymessage",
    b"debugcontext",
    b"authenticationcontext",
    b"securitycontext",
    b"legacyeventtype",
];

/// Maximum container depth. serde_json rejects JSON nested deeper than 128
/// containers, and the scanner stops earlier so that it never accepts what
/// serde_json rejects.
const MAX_DEPTH: u32 = 120;

/// Returns the indexed fields of `text` and the text without whitespace
/// between tokens, or `None` when `text` needs the general path.
pub fn scan_plain_event(text: &str) -> Option<(PlainFields<'_>, String)> {
    let mut scanner = Scanner::new(
        text,
        Compact {
            text: String::with_capacity(text.len()),
            copied_to: 0,
        },
    );
    let mut fields = PlainFields::default();
    scanner.skip_whitespace();
    scanner.expect(b'{')?;
    scanner.top_level(&mut fields)?;
    scanner.skip_whitespace();
    if !scanner.at_end() {
        return None;
    }
    let mut compact = scanner.whitespace;
    compact.text.push_str(&text[compact.copied_to..]);
    Some((fields, compact.text))
}

/// The nested object being read, which decides its indexed fields.
#[derive(Clone, Copy)]
enum Nested {
    Actor,
    Outcome,
    Client,
}

/// Receiver of the whitespace between tokens that a [`Scanner`] skips.
pub(crate) trait Whitespace {
    /// Receives the whitespace at `text[start..end]`.
    fn skipped(&mut self, text: &str, start: usize, end: usize);
}

/// Skipped whitespace is dropped.
impl Whitespace for () {
    #[inline]
    fn skipped(&mut self, _text: &str, _start: usize, _end: usize) {}
}

/// The text without whitespace between tokens, built as the scanner skips it.
struct Compact {
    text: String,
    /// End of the scanned text already copied to `text`.
    copied_to: usize,
}

impl Whitespace for Compact {
    #[inline]
    fn skipped(&mut self, text: &str, start: usize, end: usize) {
        // Whitespace is ASCII, so both ends are character boundaries.
        self.text.push_str(&text[self.copied_to..start]);
        self.copied_to = end;
    }
}

/// A one-pass reader of JSON text that checks it against JSON's grammar and
/// returns `None` from each method on invalid or unusual input.
pub(crate) struct Scanner<'a, W> {
    pub(crate) text: &'a str,
    bytes: &'a [u8],
    pub(crate) position: usize,
    whitespace: W,
}

/// A JSON string read by [`Scanner::string`]: its content and whether the
/// content has escapes.
pub(crate) struct Text<'a> {
    pub(crate) content: &'a str,
    pub(crate) escaped: bool,
}

impl<'a, W: Whitespace> Scanner<'a, W> {
    pub(crate) fn new(text: &'a str, whitespace: W) -> Scanner<'a, W> {
        Scanner {
            text,
            bytes: text.as_bytes(),
            position: 0,
            whitespace,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    pub(crate) fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.position += 1)
    }

    /// Returns whether the whole text has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.position == self.bytes.len()
    }

    /// Skips whitespace and passes it to the [`Whitespace`] handler.
    #[inline]
    pub(crate) fn skip_whitespace(&mut self) {
        if !matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            return;
        }
        let start = self.position;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.position += 1;
        }
        self.whitespace.skipped(self.text, start, self.position);
    }

    /// Reads the members of the top-level object, after its `{`.
    fn top_level(&mut self, fields: &mut PlainFields<'a>) -> Option<()> {
        let mut nested_seen = [false; 3];
        self.members(|scanner, key| {
            if SPECIAL_KEYS.contains(&key) {
                return None;
            }
            let slot = match key {
                b"uuid" => &mut fields.uuid,
                b"published" => &mut fields.published,
                b"eventType" => &mut fields.event_type,
                b"actor" | b"outcome" | b"client" => {
                    let (nested, index) = match key {
                        b"actor" => (Nested::Actor, 0),
                        b"outcome" => (Nested::Outcome, 1),
                        _ => (Nested::Client, 2),
                    };
                    if std::mem::replace(&mut nested_seen[index], true) {
                        return None;
                    }
                    return scanner.nested(nested, fields);
                }
                _ => return scanner.value(1),
            };
            scanner.indexed_text(slot)
        })
    }

    /// Reads the value of `actor`, `outcome` or `client`: an object, whose
    /// indexed members are kept, or `null`.
    fn nested(&mut self, nested: Nested, fields: &mut PlainFields<'a>) -> Option<()> {
        if self.peek()? == b'n' {
            return self.literal(b"null");
        }
        self.expect(b'{')?;
        self.members(|scanner, key| {
            let slot = match (nested, key) {
                (Nested::Actor, b"id") => &mut fields.actor_id,
                (Nested::Actor, b"alternateId") => &mut fields.actor_alternate_id,
                (Nested::Outcome, b"result") => &mut fields.outcome_result,
                (Nested::Client, b"ipAddress") => &mut fields.client_ip,
                _ => return scanner.value(2),
            };
            scanner.indexed_text(slot)
        })
    }

    /// Reads an indexed value: a string without escapes, or `null`. Any other
    /// value, or a second one for the same key, gives up.
    fn indexed_text(&mut self, slot: &mut Option<&'a str>) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        if self.peek()? == b'n' {
            return self.literal(b"null");
        }
        let text = self.string()?;
        if text.escaped {
            return None;
        }
        *slot = Some(text.content);
        Some(())
    }

    /// Reads the members of an object after its `{`, through its `}`,
    /// calling `member` for each key with the position on its value.
    pub(crate) fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        self.sequence(b'}', |scanner| {
            let key = scanner.string()?;
            if key.escaped {
                return None;
            }
            scanner.skip_whitespace();
            scanner.expect(b':')?;
            scanner.skip_whitespace();
            member(scanner, key.content.as_bytes())
        })
    }

    /// Reads the comma-separated items of an object or array, after its
    /// opening bracket, through `close`, calling `item` at the start of each.
    pub(crate) fn sequence(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.skip_whitespace();
        if self.peek()? == close {
            self.position += 1;
            return Some(());
        }
        loop {
            item(self)?;
            self.skip_whitespace();
            match self.peek()? {
                b',' => {
                    self.position += 1;
                    self.skip_whitespace();
                }
                byte if byte == close => {
                    self.position += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Checks any JSON value, at container depth `depth`.
    pub(crate) fn value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.position += 1;
                self.members(|scanner, _| scanner.value(depth + 1))
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.position += 1;
                self.sequence(b']', |scanner| scanner.value(depth + 1))
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.position + word.len();
        (self.bytes.get(self.position..end)? == word).then(|| self.position = end)
    }

    /// Checks a number against JSON's grammar:
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    pub(crate) fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.position += 1;
        }
        match self.peek()? {
            b'0' => self.position += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.position += 1;
            self.at_least_one_digit()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.position += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.position += 1;
            }
            self.at_least_one_digit()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.position += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Option<()> {
        let start = self.position;
        self.digits();
        (self.position > start).then_some(())
    }

    /// Reads a string from its opening quote through its closing one. Gives
    /// up on a control character (JSON requires them escaped), an invalid
    /// escape, or an escaped UTF-16 surrogate, which serde_json checks more
    /// closely than this scanner.
    pub(crate) fn string(&mut self) -> Option<Text<'a>> {
        self.expect(b'"')?;
        let start = self.position;
        let mut escaped = false;
        loop {
            self.position += special_byte(&self.bytes[self.position..])?;
            match self.bytes[self.position] {
                b'"' => {
                    let content = &self.text[start..self.position];
                    self.position += 1;
                    return Some(Text { content, escaped });
                }
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                _ => return None,
            }
        }
    }

    /// Checks the escape sequence at the position, a backslash, and moves past it.
    fn escape(&mut self) -> Option<()> {
        match *self.bytes.get(self.position + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                self.position += 2;
                Some(())
            }
            b'u' => {
                let digits = self.bytes.get(self.position + 2..self.position + 6)?;
                let text = std::str::from_utf8(digits).ok()?;
                let unit = u16::from_str_radix(text, 16).ok()?;
                if !digits.iter().all(u8::is_ascii_hexdigit) || (0xD800..0xE000).contains(&unit) {
                    return None;
                }
                self.position += 6;
                Some(())
            }
            _ => None,
        }
    }
}

/// Returns the offset of the first quote, backslash or control character in
/// `bytes`, or `None` when there is none.
///
/// Eight bytes are tested at a time: the lowest flagged byte of a word is
/// exact for each of the three tests, because a borrow only runs from a
/// flagged byte to the ones above it.
fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut offset = 0;
    while let Some(chunk) = bytes.get(offset..offset + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let flags = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let flags = flags & HIGHS;
        if flags != 0 {
            return Some(offset + (flags.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    bytes[offset..]
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        .map(|found| offset + found)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{PlainFields, scan_plain_event, special_byte};

    fn event() -> Value {
        json!({
            "uuid": "a1", "published": "2021-06-25T21:27:03.49Z", "eventType": "user.session.start",
            "actor": {"id": "00u1", "alternateId": "jdoe@example.com", "detailEntry": null},
            "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
            "client": {"ipAddress": "198.51.100.7", "geographicalContext": {"geolocation": {"lat": 52.37, "lon": -4.9e0}}},
            "displayMessage": "Sign in \"quoted\" \\ back\tslash, é 😀 \u{1}",
            "target": [{"id": "0oa1", "n": [1, -0.5, 2e10, true, false, null, [], {}]}]
        })
    }

    #[test]
    fn fields_and_compact_text_of_pretty_event() {
        let text = serde_json::to_string_pretty(&event()).unwrap();
        let (fields, compact) = scan_plain_event(&text).unwrap();
        assert_eq!(
            fields,
            PlainFields {
                uuid: Some("a1"),
                published: Some("2021-06-25T21:27:03.49Z"),
                event_type: Some("user.session.start"),
                actor_id: Some("00u1"),
                actor_alternate_id: Some("jdoe@example.com"),
                outcome_result: Some("FAILURE"),
                client_ip: Some("198.51.100.7"),
            }
        );
        assert_eq!(compact, serde_json::to_string(&event()).unwrap());
    }

    #[test]
    fn compact_text_copied_whole() {
        let text = serde_json::to_string(&event()).unwrap();
        assert_eq!(scan_plain_event(&text).unwrap().1, text);
    }

    #[test]
    fn whitespace_inside_strings_kept() {
        let text = "{ \"uuid\" : \"a b\" ,\n \"x\": [ 1 , \" \\\" \" ] }";
        let (fields, compact) = scan_plain_event(text).unwrap();
        assert_eq!(fields.uuid, Some("a b"));
        assert_eq!(compact, "{\"uuid\":\"a b\",\"x\":[1,\" \\\" \"]}");
    }

    #[test]
    fn null_indexed_fields_are_absent() {
        let text = r#"{"uuid":null,"actor":null,"client":{"ipAddress":null}}"#;
        let (fields, _) = scan_plain_event(text).unwrap();
        assert_eq!(fields, PlainFields::default());
    }

    #[test]
    fn unusual_records_left_to_general_path() {
        for text in [
            r#"{"uuid":"a","data":{"events":[]}}"#,
            r#"{"uuid":"a","eventtype":"x"}"#,
            r#"{"uuid":"a","uuid":"b"}"#,
            r#"{"actor":{"id":"a"},"actor":{"id":"b"}}"#,
            r#"{"uuid":7}"#,
            r#"{"actor":"someone"}"#,
            r#"{"actor":{"id":["a"]}}"#,
            r#"{"uuid":"a\u0062"}"#,
            r#"{"u\u0075id":"a"}"#,
            "[1]",
            "\"text\"",
        ] {
            assert!(scan_plain_event(text).is_none(), "{text}");
            // Each is valid JSON, which the general path reads.
            serde_json::from_str::<Value>(text).unwrap();
        }
    }

    #[test]
    fn invalid_json_rejected() {
        for text in [
            "",
            "{",
            "{\"a\":1,}",
            "{\"a\":[1,]}",
            "{\"a\" 1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\":\"x}",
            "{\"a\":\"x\\q\"}",
            "{\"a\":\"x\\u12g4\"}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":1} x",
            "{\"a\":1}}",
            "{'a':1}",
        ] {
            assert!(scan_plain_event(text).is_none(), "{text:?}");
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_rejected() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(scan_plain_event(&deep).is_none());
        let shallow = format!("{{\"a\":{}{}}}", "[".repeat(50), "]".repeat(50));
        assert!(scan_plain_event(&shallow).is_some());
    }

    /// Every text the scanner accepts is JSON that serde_json reads as the
    /// same value, with the same indexed fields: checked on every one-byte
    /// deletion and several one-byte insertions of an event's text.
    #[test]
    fn accepted_mutations_agree_with_serde_json() {
        let text = serde_json::to_string_pretty(&event()).unwrap();
        let mut accepted = 0;
        for at in 0..text.len() {
            let mut variants = Vec::new();
            if text.is_char_boundary(at) && text.is_char_boundary(at + 1) {
                variants.push(format!("{}{}", &text[..at], &text[at + 1..]));
            }
            if text.is_char_boundary(at) {
                for inserted in [" ", ",", "\"", "\\", "}", "1", "\u{7}"] {
                    variants.push(format!("{}{inserted}{}", &text[..at], &text[at..]));
                }
            }
            for variant in variants {
                let Some((fields, compact)) = scan_plain_event(&variant) else {
                    continue;
                };
                accepted += 1;
                let value: Value = serde_json::from_str(&variant)
                    .unwrap_or_else(|error| panic!("{error}: {variant}"));
                let reread: Value = serde_json::from_str(&compact).unwrap();
                assert_eq!(value, reread, "{variant}");
                let text_at = |path: &str| value.pointer(path).and_then(Value::as_str);
                assert_eq!(fields.uuid, text_at("/uuid"), "{variant}");
                assert_eq!(fields.event_type, text_at("/eventType"), "{variant}");
                assert_eq!(fields.actor_id, text_at("/actor/id"), "{variant}");
                assert_eq!(fields.client_ip, text_at("/client/ipAddress"), "{variant}");
            }
        }
        assert!(accepted > 100, "only {accepted} variants accepted");
    }

    #[test]
    fn special_byte_finds_first_of_each_kind() {
        let filler = "abcdefghijklmnopqrstuvwxyz0123456789";
        for at in 0..filler.len() {
            for special in ["\"", "\\", "\u{1f}", "\n"] {
                let text = format!("{}{special}{}", &filler[..at], &filler[at..]);
                assert_eq!(special_byte(text.as_bytes()), Some(at), "{text:?}");
            }
        }
        assert_eq!(special_byte(filler.as_bytes()), None);
        assert_eq!(special_byte("é😀 ~\u{7f}".as_bytes()), None);
    }
}
