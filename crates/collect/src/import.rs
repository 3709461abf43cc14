//! Import of exported System Log files.
//!
//! The format is detected from the content rather than the file name. Accepted
//! are a JSON array of events, JSON Lines, a raw `/api/v1/logs` page (an
//! array), an event-hook delivery (`data.events`), and wrappers that contain
//! each event as a JSON string. Any of these may be gzip-compressed. A record that is not a
//! LogEvent is reported with its location and skipped; the rest are stored.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use idaudit_store::{EventRecord, EventWriter, InsertOutcome, Store};
use serde_json::Value;

use crate::event::{plain_event_record, to_event_record};

/// Events are stored one at a time as they are read, and committed in
/// transactions of this many. A 2 KB event stays in memory only until it is
/// stored, and each commit rewrites the `uuid` index's pages, so fewer
/// commits write less. Storing 50,000 events of 2 KB took about 0.55 s of CPU
/// in the import benchmark (BENCHMARKS.md), well within the 10 s that other
/// writers wait for the store.
const EVENTS_PER_TRANSACTION: usize = 50_000;

/// A transaction is also committed once it has been open this long, because
/// it holds the store's write lock while the input is read, and a slow input
/// such as a pipe would otherwise keep the System Log poller waiting.
const MAX_TRANSACTION_TIME: Duration = Duration::from_secs(2);

/// Position of a record in its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A line of a JSON Lines input, counted from 1.
    Line(usize),
    /// An element of a JSON array, counted from 0.
    Index(usize),
    /// The input as a whole.
    Whole,
}

/// A record that was not imported, and why.
#[derive(Clone, Debug)]
pub struct Rejection {
    pub source: String,
    pub location: Location,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Location::Line(line) => write!(formatter, "{}:{line}: {}", self.source, self.reason),
            Location::Index(index) => {
                write!(formatter, "{} [{index}]: {}", self.source, self.reason)
            }
            Location::Whole => write!(formatter, "{}: {}", self.source, self.reason),
        }
    }
}

/// Counts from one import, with every rejected record.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub records: u64,
    pub stored: InsertOutcome,
    pub rejected: Vec<Rejection>,
}

/// Imports one file, or standard input when `path` is `-`.
pub fn import_path(store: &mut Store, org: &str, path: &Path) -> std::io::Result<ImportSummary> {
    let name = path.display().to_string();
    if name == "-" {
        return import_reader(store, org, "<stdin>", std::io::stdin().lock());
    }
    let file = std::fs::File::open(path)?;
    import_reader(store, org, &name, file)
}

/// Imports from any reader; `source` names it in rejections.
pub fn import_reader<'r>(
    store: &mut Store,
    org: &str,
    source: &str,
    reader: impl Read + 'r,
) -> std::io::Result<ImportSummary> {
    let mut reader = BufReader::new(reader);
    let is_gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead + 'r> = if is_gzip {
        Box::new(BufReader::new(MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    };
    let mut importer = Importer::new(store, org, source)?;
    importer.read(reader)?;
    importer.finish()
}

struct Importer<'a> {
    writer: EventWriter<'a>,
    source: &'a str,
    /// Events stored since the last commit.
    uncommitted: usize,
    /// When the first of them was stored.
    transaction_started: Instant,
    summary: ImportSummary,
}

impl<'a> Importer<'a> {
    fn new(store: &'a mut Store, org: &'a str, source: &'a str) -> std::io::Result<Importer<'a>> {
        let writer = store
            .event_writer(org, "import")
            .map_err(std::io::Error::other)?;
        Ok(Importer {
            writer,
            source,
            uncommitted: 0,
            transaction_started: Instant::now(),
            summary: ImportSummary::default(),
        })
    }

    /// Reads the input: a whole JSON document when it starts with `[`, else
    /// JSON Lines (a lone JSON object is a one-line JSON Lines input).
    fn read(&mut self, mut reader: Box<dyn BufRead + '_>) -> std::io::Result<()> {
        let first = loop {
            let buffer = reader.fill_buf()?;
            if buffer.is_empty() {
                return Ok(());
            }
            match buffer.iter().position(|byte| !byte.is_ascii_whitespace()) {
                Some(position) => break buffer[position],
                None => {
                    let length = buffer.len();
                    reader.consume(length);
                }
            }
        };
        match first {
            b'[' => {
                let mut text = String::new();
                reader.read_to_string(&mut text)?;
                self.read_document(&text)
            }
            b'{' => self.read_object_or_lines(reader),
            _ => self.read_lines(reader),
        }
    }

    /// Reads JSON Lines when the first line is a whole JSON value, and
    /// otherwise one pretty-printed object, such as an indented event-hook
    /// delivery. An object that does not parse is read line by line, so
    /// the errors carry line numbers.
    fn read_object_or_lines(&mut self, mut reader: Box<dyn BufRead + '_>) -> std::io::Result<()> {
        let mut first_line = String::new();
        reader.read_line(&mut first_line)?;
        if serde_json::from_str::<Value>(first_line.trim()).is_ok() {
            let rest = std::io::Cursor::new(first_line).chain(reader);
            return self.read_lines(Box::new(rest));
        }
        let mut text = first_line;
        reader.read_to_string(&mut text)?;
        match serde_json::from_str::<Value>(&text) {
            Ok(value) => self.add_line_value(value, Location::Whole),
            Err(_) => self.read_lines(Box::new(std::io::Cursor::new(text))),
        }
    }

    fn read_document(&mut self, text: &str) -> std::io::Result<()> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => {
                for (index, item) in items.into_iter().enumerate() {
                    self.add(item, Location::Index(index))?;
                }
                Ok(())
            }
            Ok(other) => self.add(other, Location::Whole),
            Err(error) => {
                self.reject(Location::Whole, format!("invalid JSON: {error}"));
                Ok(())
            }
        }
    }

    fn read_lines(&mut self, mut reader: Box<dyn BufRead + '_>) -> std::io::Result<()> {
        let mut line = String::new();
        let mut index = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            index += 1;
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            // Most lines are plain LogEvents, read without a JSON tree.
            if let Some(record) = plain_event_record(trimmed) {
                self.push(record)?;
                continue;
            }
            let location = Location::Line(index);
            match serde_json::from_str::<Value>(trimmed) {
                Ok(value) => self.add_line_value(value, location)?,
                Err(error) => self.reject(location, format!("invalid JSON: {error}")),
            }
        }
    }

    /// A JSON Lines record is an event, or a whole API page or hook delivery.
    fn add_line_value(&mut self, value: Value, location: Location) -> std::io::Result<()> {
        match value {
            Value::Array(items) => {
                for item in items {
                    self.add(item, location.clone())?;
                }
                Ok(())
            }
            Value::Object(ref object) if is_hook_delivery(object) => {
                let events = value["data"]["events"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for event in events {
                    self.add(event, location.clone())?;
                }
                Ok(())
            }
            other => self.add(other, location),
        }
    }

    fn add(&mut self, value: Value, location: Location) -> std::io::Result<()> {
        match to_event_record(value) {
            Ok(record) => self.push(record)?,
            Err(reason) => self.reject(location, reason),
        }
        Ok(())
    }

    fn push(&mut self, record: EventRecord) -> std::io::Result<()> {
        self.summary.records += 1;
        if self.uncommitted == 0 {
            self.transaction_started = Instant::now();
        }
        self.writer.insert(&record).map_err(std::io::Error::other)?;
        self.uncommitted += 1;
        if self.uncommitted >= EVENTS_PER_TRANSACTION
            || self.transaction_started.elapsed() >= MAX_TRANSACTION_TIME
        {
            self.commit()?;
        }
        Ok(())
    }

    /// Counts a record that could not be read and reports where it was.
    fn reject(&mut self, location: Location, reason: String) {
        self.summary.records += 1;
        let rejection = Rejection {
            source: self.source.to_string(),
            location,
            reason,
        };
        tracing::debug!("Skipped a record: {rejection}");
        self.summary.rejected.push(rejection);
    }

    fn commit(&mut self) -> std::io::Result<()> {
        self.writer.commit().map_err(std::io::Error::other)?;
        self.uncommitted = 0;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<ImportSummary> {
        self.commit()?;
        self.summary.stored = self.writer.outcome();
        Ok(self.summary)
    }
}

/// Returns true for an Okta event-hook delivery envelope.
fn is_hook_delivery(object: &serde_json::Map<String, Value>) -> bool {
    object
        .get("data")
        .and_then(|data| data.get("events"))
        .is_some_and(Value::is_array)
}
