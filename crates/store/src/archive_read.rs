//! Reading archive batches: the events of a batch into one buffer, and
//! read-only connections for the archive writer, so that events of one batch
//! are read while another batch is encoded and the main connection assigns
//! the next. `archive.rs` keeps the batches and the pending events.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

use crate::archive::{ArchiveRow, RowidRange, day_bounds, range_filter};
use crate::{Error, Result, Store};

/// One event of [`ArchiveRows`], borrowed from its buffer.
#[derive(Clone, Copy, Debug)]
pub struct ArchiveRowRef<'a> {
    pub uuid: &'a str,
    /// RFC 3339 UTC with milliseconds, as written by [`crate::format_time`].
    pub published: &'a str,
    /// The LogEvent as compact JSON.
    pub raw: &'a str,
}

/// Events to archive, in order. The raw JSON of all of them is in one
/// buffer and their uuids and `published` values in another, so reading a
/// batch allocates no string per event, and the raw JSON becomes a column
/// without a copy.
#[derive(Clone, Debug)]
pub struct ArchiveRows {
    /// Each event's uuid followed by its `published`.
    keys: String,
    /// Per event, the end offsets in `keys` of its uuid and of its
    /// `published`. Each uuid starts where the previous `published` ends.
    key_ends: Vec<[usize; 2]>,
    raw: String,
    /// Start offset of each event's raw JSON in `raw`, then the end of the last.
    raw_offsets: Vec<usize>,
}

impl Default for ArchiveRows {
    fn default() -> ArchiveRows {
        ArchiveRows {
            keys: String::new(),
            key_ends: Vec::new(),
            raw: String::new(),
            raw_offsets: vec![0],
        }
    }
}

impl ArchiveRows {
    /// Returns how many events there are.
    pub fn len(&self) -> usize {
        self.key_ends.len()
    }

    /// Returns true when there are no events.
    pub fn is_empty(&self) -> bool {
        self.key_ends.is_empty()
    }

    /// Returns the total length of the raw JSON of every event, in bytes.
    pub fn raw_bytes(&self) -> usize {
        self.raw.len()
    }

    /// Returns the events in order.
    pub fn iter(&self) -> impl Iterator<Item = ArchiveRowRef<'_>> {
        (0..self.len()).map(|index| self.get(index))
    }

    /// Appends an event after the others.
    pub fn push(&mut self, uuid: &str, published: &str, raw: &str) {
        self.keys.push_str(uuid);
        let uuid_end = self.keys.len();
        self.keys.push_str(published);
        self.key_ends.push([uuid_end, self.keys.len()]);
        self.raw.push_str(raw);
        self.raw_offsets.push(self.raw.len());
    }

    /// Returns empty rows with room for `events` events whose raw JSON
    /// totals `raw_bytes`.
    pub fn with_capacity(events: usize, raw_bytes: usize) -> ArchiveRows {
        let mut rows = ArchiveRows {
            keys: String::with_capacity(events * 60),
            key_ends: Vec::with_capacity(events),
            raw: String::with_capacity(raw_bytes),
            raw_offsets: Vec::with_capacity(events + 1),
        };
        rows.raw_offsets.push(0);
        rows
    }

    /// Returns the offset where each event's raw JSON starts, followed by the
    /// end of the last.
    pub fn raw_offsets(&self) -> &[usize] {
        &self.raw_offsets
    }

    /// Moves out the raw JSON of every event, concatenated in order, and
    /// empties the rows, keeping the capacity of their other buffers.
    pub fn take_raw_json(&mut self) -> String {
        let raw = std::mem::take(&mut self.raw);
        self.clear();
        raw
    }

    /// Empties the rows, keeping the capacity of their buffers.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.key_ends.clear();
        self.raw.clear();
        self.raw_offsets.clear();
        self.raw_offsets.push(0);
    }

    /// Empties the rows, and takes `buffer`, such as the bytes of a string
    /// from [`ArchiveRows::take_raw_json`], as the buffer of the raw JSON,
    /// so that its memory serves again.
    pub fn reuse_raw_buffer(&mut self, mut buffer: Vec<u8>) {
        buffer.clear();
        self.clear();
        // An empty buffer is valid UTF-8, so this keeps `buffer`.
        self.raw = String::from_utf8(buffer).unwrap_or_default();
    }

    fn get(&self, index: usize) -> ArchiveRowRef<'_> {
        let start = match index {
            0 => 0,
            _ => self.key_ends[index - 1][1],
        };
        let [uuid_end, published_end] = self.key_ends[index];
        ArchiveRowRef {
            uuid: &self.keys[start..uuid_end],
            published: &self.keys[uuid_end..published_end],
            raw: &self.raw[self.raw_offsets[index]..self.raw_offsets[index + 1]],
        }
    }

    /// Appends the rows of `rows`, whose columns are uuid, published and raw.
    fn extend(&mut self, mut rows: rusqlite::Rows<'_>) -> Result<()> {
        while let Some(row) = rows.next()? {
            self.push(text(row, 0)?, text(row, 1)?, text(row, 2)?);
        }
        Ok(())
    }

    /// Orders the events by `published` then `uuid`. Events read through the
    /// `published` index are in that order already, and then nothing moves.
    fn sort(&mut self) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_unstable_by(|&left, &right| {
            let left = self.get(left);
            let right = self.get(right);
            (left.published, left.uuid).cmp(&(right.published, right.uuid))
        });
        if order
            .iter()
            .enumerate()
            .all(|(position, &index)| position == index)
        {
            return;
        }
        let mut sorted = ArchiveRows {
            keys: String::with_capacity(self.keys.len()),
            key_ends: Vec::with_capacity(self.len()),
            raw: String::with_capacity(self.raw.len()),
            raw_offsets: Vec::with_capacity(self.len() + 1),
        };
        sorted.raw_offsets.push(0);
        for index in order {
            let row = self.get(index);
            sorted.push(row.uuid, row.published, row.raw);
        }
        *self = sorted;
    }
}

/// Returns column `index` of `row` as text borrowed from SQLite.
fn text<'a>(row: &'a rusqlite::Row<'_>, index: usize) -> rusqlite::Result<&'a str> {
    row.get_ref(index)?.as_str().map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, error.into())
    })
}

impl Store {
    /// Reads the events of the unwritten batch `id`, in order of `published`
    /// then `uuid`.
    pub fn read_archive_batch(&self, id: i64) -> Result<ArchiveRows> {
        let mut rows = ArchiveRows::default();
        self.read_archive_batch_into(id, &mut rows)?;
        Ok(rows)
    }

    /// Reads the events of the unwritten batch `id` into `rows`, replacing
    /// what they held, in order of `published` then `uuid`.
    pub fn read_archive_batch_into(&self, id: i64, rows: &mut ArchiveRows) -> Result<()> {
        let (org, date, events, after, through): (String, String, u64, Option<i64>, Option<i64>) =
            self.connection.query_row(
                "SELECT org, date, events, range_after, range_through FROM archive_batches
                 WHERE id = ?1",
                [id],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )?;
        rows.clear();
        rows.key_ends.reserve(events as usize);
        rows.raw_offsets.reserve(events as usize);

        let mut members = self.connection.prepare_cached(
            "SELECT events.uuid, events.published, events.raw
             FROM archive_members AS member JOIN events ON events.uuid = member.uuid
             WHERE member.batch = ?1",
        )?;
        rows.extend(members.query([id])?)?;

        if let (Some(after), Some(through)) = (after, through) {
            let range = RowidRange { after, through };
            let (start, end) = day_bounds(&date);
            let sql = format!(
                "SELECT uuid, published, raw FROM events WHERE {}",
                range_filter(range, events)
            );
            let mut statement = self.connection.prepare_cached(&sql)?;
            let found = statement.query(params![after, through, start, end, org, date])?;
            rows.extend(found)?;
        }
        rows.sort();
        Ok(())
    }

    /// Calls `visit` for each event of the unwritten batch `id`, in order of
    /// `published` then `uuid`, and returns how many there were.
    pub fn for_each_archive_batch_event(
        &self,
        id: i64,
        mut visit: impl FnMut(ArchiveRow),
    ) -> Result<u64> {
        let rows = self.read_archive_batch(id)?;
        for row in rows.iter() {
            visit(ArchiveRow {
                uuid: row.uuid.to_string(),
                published: row.published.to_string(),
                raw: row.raw.to_string(),
            });
        }
        Ok(rows.len() as u64)
    }

    /// Opens a second, read-only connection to the store file at `path`,
    /// without migrating it. Only reading methods work on it, and each read
    /// returns what was committed when it started.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            Connection::open_with_flags(&path, flags).map_err(|source| Error::Open {
                path: path.clone(),
                source,
            })?;
        connection.pragma_update(None, "query_only", true)?;
        connection.pragma_update(None, "cache_size", -16384)?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Store { connection, path })
    }
}
