//! Parsing of only the event fields that a set of rules reads.
//!
//! Building a whole `serde_json::Value` costs one allocation per key and
//! string, and a simulator LogEvent has about eighty of them, so a full
//! parse takes most of the time of a detection run. A [`Projection`] is a
//! tree of the dotted paths the rules read. Parsing with it still scans the
//! whole text, but it builds values only along those paths and skips the
//! rest without allocating or decoding it.
//!
//! Keys match without regard to ASCII case, as [`crate::sigma::FieldPath`]
//! resolves them, so an event keeps every spelling of a key a rule may
//! read. Arrays are kept element by element with the same subtree, because
//! paths fan out over arrays. The value at the end of a path is kept whole.

use rustc_hash::FxHashMap;
use serde_json::{Number, Value};

use crate::event::{Event, Unrecognised};
use crate::node::Node;
use crate::rules::Rule;

/// The fields to keep, as a tree of keys.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Projection {
    /// Keep the whole value.
    All,
    /// Keep only these keys of an object, each with its own subtree.
    Keys(Keys),
}

/// The keys of an object that a [`Projection`] keeps, indexed by length so
/// that a key of the text is compared only with kept keys of its length.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Keys {
    /// Lower-cased keys, each with its own subtree.
    children: Vec<(String, Projection)>,
    /// Bit `i` of entry `n` is set when `children[i]` is `n` bytes long,
    /// or at least `n` bytes for the last entry. Children past the 64th
    /// have no bit and are compared one by one.
    by_length: [u64; LENGTH_BUCKETS],
}

/// Entries of [`Keys::by_length`]. A key of 19 bytes or more is compared
/// with every kept key of 19 bytes or more. In the first 2,000 events of
/// `detect_rate write 2000 30 3`, 95% of the keys are shorter.
const LENGTH_BUCKETS: usize = 20;

/// Tells whether `key` equals `lower`, which is in ASCII lower case,
/// without regard to ASCII case, as `eq_ignore_ascii_case` does. It folds
/// eight bytes at a time in a `u64`, which takes fewer instructions than
/// the byte-by-byte loop of the standard library.
#[inline(always)]
pub(crate) fn eq_lowercase(key: &[u8], lower: &[u8]) -> bool {
    if key.len() != lower.len() {
        return false;
    }
    let mut key_words = key.chunks_exact(8);
    let mut lower_words = lower.chunks_exact(8);
    for (key_word, lower_word) in (&mut key_words).zip(&mut lower_words) {
        let key_word = u64::from_le_bytes(key_word.try_into().unwrap_or_default());
        let lower_word = u64::from_le_bytes(lower_word.try_into().unwrap_or_default());
        if fold_ascii_word(key_word) != lower_word {
            return false;
        }
    }
    key_words
        .remainder()
        .iter()
        .zip(lower_words.remainder())
        .all(|(key_byte, lower_byte)| key_byte.to_ascii_lowercase() == *lower_byte)
}

/// Returns `word` with each of its eight bytes in ASCII lower case.
#[inline(always)]
fn fold_ascii_word(word: u64) -> u64 {
    const LOW_SEVEN: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Adding to the low seven bits of a byte never carries into the next
    // byte. The high bit of a sum is set when the byte is at least `A`,
    // and when it is above `Z`, respectively.
    let low = word & LOW_SEVEN;
    let from_a = low.wrapping_add(u64::from_ne_bytes([0x80 - b'A'; 8]));
    let above_z = low.wrapping_add(u64::from_ne_bytes([0x7f - b'Z'; 8]));
    // Bytes with the high bit set are not ASCII and stay as they are.
    let upper = from_a & !above_z & !word & HIGHS;
    word | (upper >> 2)
}

/// A [`Keys`] that keeps nothing, for scalars kept whole.
static NO_KEYS: Keys = Keys {
    children: Vec::new(),
    by_length: [0; LENGTH_BUCKETS],
};

impl Keys {
    /// Adds a lower-cased key that is not already there and returns its position.
    fn push(&mut self, key: String) -> usize {
        let index = self.children.len();
        if index < 64 {
            self.by_length[key.len().min(LENGTH_BUCKETS - 1)] |= 1 << index;
        }
        self.children.push((key, Projection::empty()));
        index
    }

    /// Returns the position of the child whose key equals `key` without
    /// regard to ASCII case. Keys are unique once lower-cased, so at most
    /// one child matches.
    #[inline(always)]
    fn find(&self, key: &[u8]) -> Option<usize> {
        let mut candidates = self.by_length[key.len().min(LENGTH_BUCKETS - 1)];
        while candidates != 0 {
            let index = candidates.trailing_zeros() as usize;
            if eq_lowercase(key, self.children[index].0.as_bytes()) {
                return Some(index);
            }
            candidates &= candidates - 1;
        }
        let unindexed = self.children.get(64..)?;
        unindexed
            .iter()
            .position(|(name, _)| key.eq_ignore_ascii_case(name.as_bytes()))
            .map(|position| position + 64)
    }
}

impl Projection {
    /// Returns a projection that keeps nothing until paths are added.
    pub fn empty() -> Projection {
        Projection::Keys(Keys::default())
    }

    /// Returns the projection that `rules` read: the fields of [`Event`]'s
    /// accessors and those each rule names, or everything when a rule may
    /// read any field.
    pub fn for_rules(rules: &[Box<dyn Rule>]) -> Projection {
        let mut projection = Projection::empty();
        for path in Event::ACCESSOR_FIELDS {
            projection.add_dotted(path);
        }
        for rule in rules {
            let Some(paths) = rule.fields() else {
                return Projection::All;
            };
            for path in paths {
                projection.add_dotted(&path);
            }
        }
        projection
    }

    /// Returns the projection that `rules` read on an event of `event_type`,
    /// or of a type none of them names when `None`, with
    /// [`Event::CORE_FIELDS`].
    fn for_event_type(rules: &[Box<dyn Rule>], event_type: Option<&str>) -> Projection {
        let mut projection = Projection::empty();
        for path in Event::CORE_FIELDS {
            projection.add_dotted(path);
        }
        for rule in rules {
            let Some(paths) = rule.fields_for(event_type) else {
                return Projection::All;
            };
            for path in paths {
                projection.add_dotted(&path);
            }
        }
        projection
    }

    /// Adds a path given as its keys; an empty path keeps everything.
    pub fn add<S: AsRef<str>>(&mut self, segments: &[S]) {
        let Projection::Keys(keys) = self else {
            return;
        };
        let Some((first, rest)) = segments.split_first() else {
            *self = Projection::All;
            return;
        };
        let key = first.as_ref().to_ascii_lowercase();
        let position = match keys.children.iter().position(|(name, _)| *name == key) {
            Some(position) => position,
            None => keys.push(key),
        };
        keys.children[position].1.add(rest);
    }

    /// Adds a dotted path such as `client.geographicalContext.country`.
    pub fn add_dotted(&mut self, path: &str) {
        let segments: Vec<&str> = path.split('.').collect();
        self.add(&segments);
    }

    /// Parses JSON text into `target`, keeping only the projected fields.
    ///
    /// The result does not depend on what `target` held before, but its
    /// strings, maps and arrays are overwritten in place, so
    /// parsing one event after another into the same value allocates
    /// little. On error `target` contains part of the text and must not be read.
    pub fn parse_into(&self, text: &str, target: &mut Node) -> Result<(), ScanError> {
        let mut scanner = Scanner::new(text);
        scanner.skip_whitespace();
        scanner.value_into(self, 0, target)?;
        scanner.skip_whitespace();
        if scanner.position != scanner.bytes.len() {
            return Err(ScanError);
        }
        Ok(())
    }
}

/// The projections a detector parses with: one for each event type that
/// some rule reads more fields of, one for every other type, and their
/// union for events whose type is not known before parsing.
///
/// Most events are of a few types (`user.authentication.sso`,
/// `user.session.start`) that few rules read, so parsing only what the rules
/// for the event's own type read saves most of the values a single
/// projection for every rule would build.
pub(crate) struct Projections {
    /// Each with its position among the projections, from 2 on.
    by_type: FxHashMap<String, (usize, Projection)>,
    other: Projection,
    union: Projection,
    finder: memchr::memmem::Finder<'static>,
}

impl Projections {
    pub fn for_rules(rules: &[Box<dyn Rule>]) -> Projections {
        let mut types: Vec<String> = rules
            .iter()
            .flat_map(|rule| rule.event_types_read())
            .collect();
        types.sort();
        types.dedup();
        let by_type = types
            .into_iter()
            .enumerate()
            .map(|(position, event_type)| {
                let projection = Projection::for_event_type(rules, Some(&event_type));
                (event_type, (position + FIRST_BY_TYPE, projection))
            })
            .collect();
        let mut union = Projection::for_rules(rules);
        for path in Event::CORE_FIELDS {
            union.add_dotted(path);
        }
        Projections {
            by_type,
            other: Projection::for_event_type(rules, None),
            union,
            finder: memchr::memmem::Finder::new(EVENT_TYPE_KEY).into_owned(),
        }
    }

    /// Parses a stored LogEvent with the projection for its event type.
    pub fn parse(&self, raw: &str) -> Result<Event, Unrecognised> {
        let mut event = Event::default();
        self.parse_into(raw, &mut event)?;
        Ok(event)
    }

    /// Parses a stored LogEvent like [`Projections::parse`], into `event`,
    /// reusing the allocations of the event parsed into it before.
    pub fn parse_into(&self, raw: &str, event: &mut Event) -> Result<(), Unrecognised> {
        let Some(guess) = self.event_type_guess(raw) else {
            return Event::parse_projected_into(raw, &self.union, UNION, event);
        };
        let (shape, projection) = match self.by_type.get(guess) {
            Some((shape, projection)) => (*shape, projection),
            // Rules index event types in lower case.
            None if guess.bytes().any(|byte| byte.is_ascii_uppercase()) => (UNION, &self.union),
            None => (OTHER, &self.other),
        };
        Event::parse_projected_into(raw, projection, shape, event)?;
        if event.event_type == guess {
            return Ok(());
        }
        // The key found was not the top-level one, or the type has escapes.
        Event::parse_projected_into(raw, &self.union, UNION, event)
    }

    /// Returns the text after the first `"eventType":"`, up to the next
    /// quote. It is checked against the parsed event, because the key may
    /// also occur in a nested object.
    fn event_type_guess<'a>(&self, raw: &'a str) -> Option<&'a str> {
        let start = self.finder.find(raw.as_bytes())? + EVENT_TYPE_KEY.len();
        let length = memchr::memchr(b'"', &raw.as_bytes()[start..])?;
        raw.get(start..start + length)
    }
}

const EVENT_TYPE_KEY: &[u8] = b"\"eventType\":\"";

/// Positions of [`Projections::other`] and [`Projections::union`]. Those of
/// the projections by type start at [`FIRST_BY_TYPE`].
const OTHER: usize = 0;
const UNION: usize = 1;
const FIRST_BY_TYPE: usize = 2;

/// Text that is not valid JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Invalid JSON")]
pub(crate) struct ScanError;

/// Nesting deeper than this is rejected, as `serde_json` rejects it, so
/// that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 128;

/// A single-pass JSON reader over bytes.
///
/// Skipped values are checked for JSON's structure but not decoded: a
/// string is skipped by searching for its closing quote eight bytes at a
/// time, so the long strings of a LogEvent (user agents, URLs) cost little.
/// Kept strings without escapes are copied as they are; the rare escaped
/// ones, numbers and kept objects and arrays are decoded by `serde_json`.
///
/// NOTE: in skipped values, numbers are only checked to consist of number
/// characters and escapes are not checked, so text such as `1.2.3` or
/// `"\q"` there is accepted where `serde_json` would reject the event.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        Scanner {
            text,
            bytes: text.as_bytes(),
            position: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    /// Skips whitespace. Every whitespace byte is at most a space, so one
    /// comparison settles the usual case of compact JSON, which has none.
    #[inline(always)]
    fn skip_whitespace(&mut self) {
        if self.peek().is_some_and(|byte| byte > b' ') {
            return;
        }
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.position += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), ScanError> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(ScanError);
        }
        self.position += 1;
        Ok(())
    }

    /// Reads a value into `slot`, keeping what `projection` keeps and
    /// reusing the allocations of what `slot` held before.
    fn value_into(
        &mut self,
        projection: &Projection,
        depth: usize,
        slot: &mut Node,
    ) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError);
        }
        let first = self.peek().ok_or(ScanError)?;
        let keys = match projection {
            Projection::Keys(keys) => keys,
            Projection::All if matches!(first, b'{' | b'[') => {
                let start = self.position;
                self.skip_value(depth)?;
                let value: Value = serde_json::from_str(&self.text[start..self.position])
                    .map_err(|_| ScanError)?;
                *slot = Node::from(value);
                return Ok(());
            }
            Projection::All => &NO_KEYS,
        };
        match first {
            b'{' => self.object_into(keys, depth, slot),
            b'[' => self.array_into(projection, depth, slot),
            b'"' => self.string_into(slot),
            b't' => self.literal(b"true").map(|()| *slot = Node::Bool(true)),
            b'f' => self.literal(b"false").map(|()| *slot = Node::Bool(false)),
            b'n' => self.literal(b"null").map(|()| *slot = Node::Null),
            _ => self.number().map(|number| *slot = Node::Number(number)),
        }
    }

    /// Reads an object into `slot`. Pairs kept from an earlier value are
    /// updated in place and those this object lacks are removed afterwards.
    fn object_into(&mut self, keys: &Keys, depth: usize, slot: &mut Node) -> Result<(), ScanError> {
        if !matches!(slot, Node::Object(_)) {
            *slot = Node::Object(Vec::new());
        }
        let Node::Object(pairs) = slot else {
            return Err(ScanError);
        };
        // Bit `i` is set once `pairs[i]` contains a value of this object.
        // Pairs past the 64th can only have been added by this object,
        // because a longer object is cleared first.
        if pairs.len() > 64 {
            pairs.clear();
        }
        let mut set = 0u64;
        // Events of one type usually list their keys in the same order, so the
        // pair after the one set last is the likely match of the next key.
        let mut next = 0;
        self.position += 1;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.position += 1;
            pairs.clear();
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            let (key_start, key_end, escaped) = self.raw_string()?;
            self.expect(b':')?;
            self.skip_whitespace();
            // Okta's keys have no escapes, so a key is decoded, and
            // copied, only when it is kept.
            // Bytes, not `str`: slicing a `str` checks character
            // boundaries, which quotes found by the scan always are.
            let decoded;
            let key = if escaped {
                decoded = decode_string(&self.text[key_start - 1..key_end + 1])?;
                decoded.as_bytes()
            } else {
                &self.bytes[key_start..key_end]
            };
            match keys.find(key) {
                Some(index) => {
                    let child = &keys.children[index].1;
                    let position = match pairs.get(next) {
                        Some((name, _)) if name.as_bytes() == key => Some(next),
                        _ => pairs.iter().position(|(name, _)| name.as_bytes() == key),
                    };
                    let position = match position {
                        Some(position) => {
                            self.value_into(child, depth + 1, &mut pairs[position].1)?;
                            position
                        }
                        None => {
                            let mut value = Node::Null;
                            self.value_into(child, depth + 1, &mut value)?;
                            // Valid, as a slice of text between quotes.
                            let key = std::str::from_utf8(key).map_err(|_| ScanError)?;
                            pairs.push((key.to_string(), value));
                            pairs.len() - 1
                        }
                    };
                    set |= 1u64.checked_shl(position as u32).unwrap_or(0);
                    next = position + 1;
                }
                None => self.skip_value(depth + 1)?,
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    break;
                }
                _ => return Err(ScanError),
            }
        }
        let tracked = pairs.len().min(64);
        let all = u64::MAX.checked_shr(64 - tracked as u32).unwrap_or(0);
        if set & all != all {
            let mut position = 0;
            pairs.retain(|_| {
                let keep = position >= 64 || set & (1 << position) != 0;
                position += 1;
                keep
            });
        }
        Ok(())
    }

    /// Reads an array into `slot`, element by element with the same projection.
    fn array_into(
        &mut self,
        projection: &Projection,
        depth: usize,
        slot: &mut Node,
    ) -> Result<(), ScanError> {
        if !matches!(slot, Node::Array(_)) {
            *slot = Node::Array(Vec::new());
        }
        let Node::Array(items) = slot else {
            return Err(ScanError);
        };
        self.position += 1;
        self.skip_whitespace();
        let mut count = 0;
        if self.peek() == Some(b']') {
            self.position += 1;
            items.clear();
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            match items.get_mut(count) {
                Some(item) => self.value_into(projection, depth + 1, item)?,
                None => {
                    let mut item = Node::Null;
                    self.value_into(projection, depth + 1, &mut item)?;
                    items.push(item);
                }
            }
            count += 1;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    items.truncate(count);
                    return Ok(());
                }
                _ => return Err(ScanError),
            }
        }
    }

    /// Reads a string and returns the byte range of its contents, without
    /// the quotes, and whether it contains an escape.
    #[inline(always)]
    fn raw_string(&mut self) -> Result<(usize, usize, bool), ScanError> {
        if self.peek() != Some(b'"') {
            return Err(ScanError);
        }
        let start = self.position + 1;
        let mut at = start;
        let mut escaped = false;
        loop {
            at = find_quote_or_backslash(self.bytes, at).ok_or(ScanError)?;
            if self.bytes[at] == b'"' {
                self.position = at + 1;
                return Ok((start, at, escaped));
            }
            escaped = true;
            // The byte after a backslash is part of the escape, even a quote.
            at += 2;
            if at > self.bytes.len() {
                return Err(ScanError);
            }
        }
    }

    /// Reads a string into `slot`, reusing the string already in `slot`, if any.
    fn string_into(&mut self, slot: &mut Node) -> Result<(), ScanError> {
        let (start, end, escaped) = self.raw_string()?;
        if escaped {
            *slot = Node::String(decode_string(&self.text[start - 1..end + 1])?);
            return Ok(());
        }
        let text = &self.text[start..end];
        match slot {
            Node::String(existing) => {
                existing.clear();
                existing.push_str(text);
            }
            other => *other = Node::String(text.to_string()),
        }
        Ok(())
    }

    /// Reads `true`, `false` or `null`. Inlined, so that the comparison
    /// with a word of known length needs no call to `memcmp`.
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Result<(), ScanError> {
        if !self.bytes[self.position..].starts_with(word) {
            return Err(ScanError);
        }
        self.position += word.len();
        Ok(())
    }

    fn number_end(&mut self) -> Result<usize, ScanError> {
        let start = self.position;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.position += 1;
        }
        if self.position == start {
            return Err(ScanError);
        }
        Ok(start)
    }

    #[inline(never)]
    fn number(&mut self) -> Result<Number, ScanError> {
        let start = self.number_end()?;
        let text = &self.text[start..self.position];
        if let Some(number) = short_number(text) {
            return Ok(number);
        }
        serde_json::from_str::<Number>(text).map_err(|_| ScanError)
    }

    /// Skips one value, checking its grammar.
    ///
    /// Inlined into its callers, which include [`Scanner::skip_object`] and
    /// [`Scanner::skip_array`], so that the strings and numbers that make up
    /// most of a skipped value cost no call. Only nested containers recurse.
    #[inline(always)]
    fn skip_value(&mut self, depth: usize) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError);
        }
        match self.peek().ok_or(ScanError)? {
            b'"' => self.raw_string().map(|_| ()),
            b'{' => self.skip_object(depth),
            b'[' => self.skip_array(depth),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number_end().map(|_| ()),
        }
    }

    #[inline(never)]
    fn skip_object(&mut self, depth: usize) -> Result<(), ScanError> {
        self.position += 1;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            self.raw_string()?;
            self.expect(b':')?;
            self.skip_whitespace();
            self.skip_value(depth + 1)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(());
                }
                _ => return Err(ScanError),
            }
        }
    }

    #[inline(never)]
    fn skip_array(&mut self, depth: usize) -> Result<(), ScanError> {
        self.position += 1;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.position += 1;
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            self.skip_value(depth + 1)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(());
                }
                _ => return Err(ScanError),
            }
        }
    }
}

/// Returns the position of the first `"` or `\\` at or after `start`.
///
/// Strings in a LogEvent are mostly short, where setting up a general
/// vectorised search such as `memchr2` costs more than it saves. On x86-64
/// this tests sixteen bytes at a time with SSE2, which every x86-64
/// processor has, so a key such as `alternateId` takes one test.
/// The last bytes of the text, and all of it elsewhere, go through
/// [`find_quote_or_backslash_by_word`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn find_quote_or_backslash(bytes: &[u8], start: usize) -> Option<usize> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    let mut at = start;
    while let Some(chunk) = bytes.get(at..at + 16) {
        // SAFETY: SSE2 is part of every x86-64 target, so the intrinsics
        // can run, and `chunk` is 16 bytes long, the size of `__m128i`,
        // which `_mm_loadu_si128` reads without any alignment requirement.
        let mask = unsafe {
            let chunk = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            let found = _mm_or_si128(
                _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8)),
                _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8)),
            );
            _mm_movemask_epi8(found)
        };
        if mask != 0 {
            // Bit `i` of the mask is set when byte `i` matched.
            return Some(at + mask.trailing_zeros() as usize);
        }
        at += 16;
    }
    find_quote_or_backslash_by_word(bytes, at)
}

#[cfg(not(target_arch = "x86_64"))]
fn find_quote_or_backslash(bytes: &[u8], start: usize) -> Option<usize> {
    find_quote_or_backslash_by_word(bytes, start)
}

/// Returns the position of the first `"` or `\\` at or after `start`,
/// testing eight bytes at a time in a `u64` (the "has zero byte" bit trick)
/// and finishing byte by byte.
fn find_quote_or_backslash_by_word(bytes: &[u8], start: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;

    let mut at = start;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        let found = has_zero(word ^ QUOTES) | has_zero(word ^ BACKSLASHES);
        if found != 0 {
            // The lowest flagged byte is exact (a borrow only flags bytes
            // above a true match), and on little-endian it comes first.
            if cfg!(target_endian = "little") {
                return Some(at + found.trailing_zeros() as usize / 8);
            }
            break;
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|byte| matches!(byte, b'"' | b'\\'))
        .map(|offset| at + offset)
}

/// Digits up to which [`short_number`] reads a number: every integer of
/// this many digits is exact in an `f64`.
const SHORT_NUMBER_DIGITS: usize = 15;

/// The powers of ten up to `10^SHORT_NUMBER_DIGITS`, each exact in an `f64`.
const POWERS_OF_TEN: [f64; SHORT_NUMBER_DIGITS + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Returns the number that `serde_json` reads from `text`, when `text` is
/// an integer or a decimal fraction, without exponent, of at most
/// [`SHORT_NUMBER_DIGITS`] digits, as ASNs and geolocations are. Returns
/// `None` for other text, which `serde_json` then reads. Its parser takes
/// about three times the instructions for a short number (callgrind).
///
/// A fraction is its digits as an integer divided by a power of ten. Both
/// are exact in an `f64` and division rounds correctly, so the result is
/// the correctly rounded value of the text. `serde_json` 1.0.154 does the
/// same division, and with its `float_roundtrip` feature it also rounds
/// correctly.
fn short_number(text: &str) -> Option<Number> {
    let (negative, unsigned) = match text.as_bytes().split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, text.as_bytes()),
    };
    let (integer, fraction) = match unsigned.iter().position(|&byte| byte == b'.') {
        Some(dot) => (&unsigned[..dot], Some(&unsigned[dot + 1..])),
        None => (unsigned, None),
    };
    let fraction_digits = fraction.map_or(0, <[u8]>::len);
    // JSON allows no leading zero and no empty integer or fraction part.
    if integer.is_empty()
        || (integer.len() > 1 && integer[0] == b'0')
        || (fraction_digits == 0 && fraction.is_some())
        || integer.len() + fraction_digits > SHORT_NUMBER_DIGITS
    {
        return None;
    }
    let mut significand = 0u64;
    for &byte in integer.iter().chain(fraction.unwrap_or_default()) {
        if !byte.is_ascii_digit() {
            return None;
        }
        significand = significand * 10 + u64::from(byte - b'0');
    }
    if fraction.is_some() {
        let magnitude = significand as f64 / POWERS_OF_TEN[fraction_digits];
        return Number::from_f64(if negative { -magnitude } else { magnitude });
    }
    match (negative, i64::try_from(significand)) {
        (false, _) => Some(Number::from(significand)),
        // `serde_json` reads `-0` as a float.
        (true, Ok(0)) => None,
        (true, Ok(magnitude)) => Some(Number::from(-magnitude)),
        (true, Err(_)) => None,
    }
}

/// Decodes a quoted JSON string that contains escapes.
fn decode_string(quoted: &str) -> Result<String, ScanError> {
    serde_json::from_str(quoted).map_err(|_| ScanError)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use serde_json::Number;

    use super::{
        MAX_DEPTH, Node, Projection, ScanError, eq_lowercase, find_quote_or_backslash, short_number,
    };

    /// Returns a projection that keeps `actor.alternateId` and skips the rest.
    fn actor_only() -> Projection {
        let mut projection = Projection::empty();
        projection.add_dotted("actor.alternateId");
        projection
    }

    fn parse(projection: &Projection, text: &str) -> Result<Value, ScanError> {
        let mut node = Node::Null;
        projection
            .parse_into(text, &mut node)
            .map(|()| node.to_value())
    }

    #[test]
    fn skipped_values_leave_kept_field() {
        let text = r#"{"a":{"b":[1,-2.5e3,{"c":"x\"}{[]"}],"d":{}},"e":[],"f":[[],[{}]],"g":true,"h":false,"i":null,"j":"\u00e9\\","actor":{"id":"1","alternateId":"a@example.com","detail":{"k":[null]}}}"#;

        let value = parse(&actor_only(), text).unwrap();

        assert_eq!(value, json!({"actor": {"alternateId": "a@example.com"}}));
    }

    #[test]
    fn skipped_values_allow_whitespace() {
        let text = " {\n\t\"a\" : { \"b\" : [ 1 , { } , [ ] , \"x\" ] } ,\r\n \"actor\" : { \"alternateId\" : \"a\" } } ";

        let value = parse(&actor_only(), text).unwrap();

        assert_eq!(value, json!({"actor": {"alternateId": "a"}}));
    }

    #[test]
    fn kept_string_decodes_escapes_and_unicode() {
        let text = r#"{"actor":{"alternateId":"a\"b\\c\u00e9\n😀"}}"#;

        let value = parse(&actor_only(), text).unwrap();

        assert_eq!(value["actor"]["alternateId"], "a\"b\\c\u{e9}\n😀");
    }

    #[test]
    fn kept_array_of_targets_keeps_each_element() {
        let mut projection = Projection::empty();
        projection.add_dotted("target.type");
        let text = r#"{"target":[{"type":"User","id":"1"},{"id":"2"},{"type":null,"x":[1]}]}"#;

        let value = parse(&projection, text).unwrap();

        assert_eq!(
            value,
            json!({"target": [{"type": "User"}, {}, {"type": null}]})
        );
    }

    #[test]
    fn reused_value_equals_fresh_parse() {
        let mut projection = actor_only();
        projection.add_dotted("actor.id");
        projection.add_dotted("uuid");
        let texts = [
            r#"{"uuid":"1","actor":{"id":"a","alternateId":"b"}}"#,
            r#"{"actor":{"alternateId":"c","AlternateId":"d","alternateid":"e"}}"#,
            r#"{"uuid":"2","actor":{"id":"f","id":"g","x":1}}"#,
            r#"{"uuid":"3","actor":{"ID":"h"},"UUID":"4"}"#,
            r#"{"uuid":"5","actor":{"alternate\u0049d":"i","id":"j"}}"#,
            r#"{"uuid":"6","actor":{}}"#,
            r#"{"uuid":"7","actor":{"id":{"nested":true},"alternateId":["k"]}}"#,
            r#"{"uuid":"8","actor":{"id":"l","alternateId":"m"}}"#,
        ];
        let mut reused = Node::Null;
        for text in texts {
            projection.parse_into(text, &mut reused).unwrap();
            assert_eq!(
                reused.to_value(),
                parse(&projection, text).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn key_lookup_finds_every_child() {
        // More than 64 children, of 5 to 45 bytes, so that several share
        // a length bucket and many share the last one.
        let names: Vec<String> = (0..80)
            .map(|number| format!("key{}{number:02}", "x".repeat(number % 41)))
            .collect();
        let mut projection = Projection::empty();
        for name in &names {
            projection.add(&[name.as_str()]);
        }
        let Projection::Keys(keys) = &projection else {
            panic!("projection keeps everything");
        };

        for (index, name) in names.iter().enumerate() {
            assert_eq!(keys.find(name.as_bytes()), Some(index), "{name}");
            assert_eq!(
                keys.find(name.to_ascii_uppercase().as_bytes()),
                Some(index),
                "{name}"
            );
        }
        assert_eq!(keys.find(b"key"), None);
        assert_eq!(keys.find(format!("{}0", names[79]).as_bytes()), None);
        assert_eq!(keys.find(&names[79].as_bytes()[1..]), None);
    }

    #[test]
    fn reused_wide_object_equals_fresh_parse() {
        // 70 kept keys, so that some pairs sit past the 64 that a reused
        // object tracks, in orders and subsets that change between events.
        let names: Vec<String> = (0..70).map(|number| format!("k{number}")).collect();
        let mut projection = Projection::empty();
        for name in &names {
            projection.add(&["wide", name.as_str()]);
        }
        let object = |keys: &mut dyn Iterator<Item = &String>| {
            let pairs: Vec<String> = keys.map(|key| format!(r#""{key}":"{key}""#)).collect();
            format!(r#"{{"wide":{{{}}}}}"#, pairs.join(","))
        };
        let texts = [
            object(&mut names.iter()),
            object(&mut names.iter().rev()),
            object(&mut names.iter().step_by(3)),
            object(&mut names.iter().skip(60)),
            object(&mut names.iter().chain(names.iter().take(5))),
            object(&mut names.iter().take(64)),
            object(&mut names.iter().rev().take(66)),
        ];

        let mut reused = Node::Null;
        for text in &texts {
            projection.parse_into(text, &mut reused).unwrap();
            assert_eq!(
                reused.to_value(),
                parse(&projection, text).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn word_folding_equals_byte_folding() {
        // Every pair of bytes, at a place in the first word, the second
        // word and the bytes after the last whole word.
        for length in [1, 8, 13, 16, 19] {
            for at in [0, length / 2, length - 1] {
                for key_byte in 0..=255u8 {
                    for lower_byte in 0..=255u8 {
                        let mut key = vec![b'k'; length];
                        key[at] = key_byte;
                        let mut lower = key.to_ascii_lowercase();
                        lower[at] = lower_byte.to_ascii_lowercase();
                        assert_eq!(
                            eq_lowercase(&key, &lower),
                            key.eq_ignore_ascii_case(&lower),
                            "length {length}, at {at}, bytes {key_byte} and {lower_byte}"
                        );
                    }
                }
            }
        }
        assert!(eq_lowercase(
            b"AuthenticationContext",
            b"authenticationcontext"
        ));
        assert!(!eq_lowercase(b"eventType", b"eventtyp"));
        assert!(!eq_lowercase(b"event_ype", b"eventtype"));
    }

    /// Checks that [`short_number`] reads `text` as `serde_json` does, to
    /// the bit, or leaves it to `serde_json`. Returns whether it read it.
    fn assert_short_number_exact(text: &str) -> bool {
        let Some(number) = short_number(text) else {
            return false;
        };
        let expected: Number = serde_json::from_str(text)
            .unwrap_or_else(|error| panic!("{text:?} read, but invalid: {error}"));
        assert_eq!(number, expected, "{text:?}");
        assert_eq!(number.as_i64(), expected.as_i64(), "{text:?}");
        assert_eq!(number.as_u64(), expected.as_u64(), "{text:?}");
        assert_eq!(
            number.as_f64().map(f64::to_bits),
            expected.as_f64().map(f64::to_bits),
            "{text:?}"
        );
        true
    }

    #[test]
    fn short_numbers_match_serde_json() {
        let read = [
            "0",
            "7",
            "1221",
            "-1",
            "-33.8688",
            "151.2093",
            "0.1",
            "-0.0",
            "0.0",
            "1.50",
            "999999999999999",
            "-999999999999999",
            "0.00000000000001",
            "12345678901.2345",
        ];
        for text in read {
            assert!(assert_short_number_exact(text), "{text:?} not read");
        }
        let left = [
            "",
            "-",
            "-0",
            "01",
            "-01",
            "00",
            "1.",
            ".5",
            "-.5",
            "1e5",
            "1.5E-3",
            "1.2.3",
            "--1",
            "1-2",
            "+1",
            "1000000000000000",
            "-1000000000000000",
            "0.1234567890123456",
        ];
        for text in left {
            assert!(!assert_short_number_exact(text), "{text:?} read");
        }

        // Decimal fractions of every length up to the limit, with digits
        // from a linear congruential generator.
        let mut state = 1u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let digits = format!("{:015}", (state >> 11) % 1_000_000_000_000_000);
            let length = 1 + (state >> 3) as usize % 15;
            let dot = (state >> 7) as usize % (length + 1);
            let mut text = String::new();
            if state & 1 == 1 {
                text.push('-');
            }
            let digits = &digits[15 - length..];
            let integer = digits[..dot].trim_start_matches('0');
            text.push_str(if integer.is_empty() { "0" } else { integer });
            if dot < length {
                text.push('.');
                text.push_str(&digits[dot..]);
            }
            assert_short_number_exact(&text);
        }
    }

    #[test]
    fn long_and_late_keys_kept() {
        let mut projection = Projection::empty();
        for number in 0..70 {
            projection.add_dotted(&format!("k{number}"));
        }
        projection.add_dotted("aVeryLongKeyNameOfMoreThanThirtyTwoBytes.inner");
        let text = r#"{"K69":1,"k3":2,"x":3,"averylongkeynameofmorethanthirtytwobytes":{"inner":4,"other":5},"aVeryLongKeyNameOfMoreThanThirtyTwoBytesX":6}"#;

        let value = parse(&projection, text).unwrap();

        assert_eq!(
            value,
            json!({"K69": 1, "k3": 2, "averylongkeynameofmorethanthirtytwobytes": {"inner": 4}})
        );
    }

    #[test]
    fn quote_search_finds_first_quote_or_backslash() {
        for length in 0..70 {
            for found in [b'"', b'\\'] {
                let mut bytes = vec![b'a'; length];
                bytes.push(found);
                bytes.extend_from_slice(b"\"\\tail");
                for start in 0..=length {
                    assert_eq!(
                        find_quote_or_backslash(&bytes, start),
                        Some(length),
                        "length {length}, start {start}"
                    );
                }
            }
            let plain = vec![b'a'; length];
            assert_eq!(find_quote_or_backslash(&plain, 0), None, "length {length}");
        }
    }

    #[test]
    fn malformed_skipped_values_rejected() {
        let cases = [
            r#"{"a":{"b":1,}}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{"b" 1}}"#,
            r#"{"a":{1:2}}"#,
            r#"{"a":{"b":1]}"#,
            r#"{"a":[1}"#,
            r#"{"a":[}"#,
            r#"{"a":{"b":}}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":"open}"#,
            r#"{"a":{"b":"c"}"#,
            r#"{"a":[[[]]}"#,
            r#"{"a":,}"#,
            r#"{"a":[,1]}"#,
            r#"{"a":{,}}"#,
            r#"{"a":x}"#,
            r#"{"a":{"b":[1]}}}"#,
            r#"{"a":1} x"#,
            r#"{"a":"\"#,
            "",
        ];
        for text in cases {
            assert_eq!(parse(&actor_only(), text), Err(ScanError), "{text}");
        }
    }

    #[test]
    fn nesting_limit_applies_to_skipped_values() {
        let nested =
            |depth: usize| format!(r#"{{"a":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth));

        // The value under `a` is at depth 1, so `MAX_DEPTH - 1` arrays put
        // the innermost number at `MAX_DEPTH`.
        assert!(parse(&actor_only(), &nested(MAX_DEPTH - 1)).is_ok());
        assert_eq!(parse(&actor_only(), &nested(MAX_DEPTH)), Err(ScanError));

        let empty = format!(
            r#"{{"a":{}{}}}"#,
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(parse(&actor_only(), &empty).is_ok());
        let too_deep = format!(
            r#"{{"a":{}{}}}"#,
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse(&actor_only(), &too_deep), Err(ScanError));
    }

    #[test]
    fn nesting_limit_applies_to_kept_document() {
        let projection = Projection::All;
        let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));

        // `serde_json` decodes a kept container and allows 128 levels.
        assert!(parse(&projection, &deep(127)).is_ok());
        assert_eq!(parse(&projection, &deep(128)), Err(ScanError));
    }
}
