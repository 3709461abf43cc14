//! The idaudit store: one SQLite file in WAL mode.
//!
//! Every other crate reads and writes through [`Store`]. The directory tables
//! contain the latest synced copy of each org, keyed by org, and `changes`
//! records how its entitlements changed from one sync to the next. The `events`
//! table contains each System Log event once, keyed by `uuid`, and the
//! `archive_*` tables record which events the Parquet archive contains. Alerts and
//! review campaigns have tables of their own. The schema is versioned by [`migrations`].

mod access;
mod alerts;
mod archive;
mod archive_read;
mod campaigns;
mod directory;
mod events;
mod history;
pub mod migrations;
mod outbox;
mod staging;
mod write;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use access::{
    AppAccess, FactorRow, GroupAccess, GroupOwnerRow, GroupRuleRow, RoleAssignmentRow, UserAccess,
};
pub use alerts::{Alert, AlertStatus, Upserted};
pub use archive::{ArchiveBatch, ArchiveCounts, ArchiveRow, PendingPartition};
pub use archive_read::{ArchiveRowRef, ArchiveRows};
pub use campaigns::{
    Campaign, CampaignDecision, CampaignItem, ItemDetails, ItemOrder, Remediation,
};
pub use directory::{
    AppGroupRow, AppRow, AppUserRow, DirectoryCounts, DirectorySnapshot, GroupRow, Membership,
    UserRow,
};
pub use events::{EventRecord, EventWriter, InsertOutcome, StoredEvent};
pub use history::{Attribution, Change, ChangeDraft, ChangeQuery, History};
pub use outbox::{OutboxCounts, OutboxEntry, QueuedAlert};
pub use staging::{DirectoryStaging, UpdateStaging};
pub use write::DirectoryUpdate;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SQLite error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("failed to encode or decode stored JSON")]
    Json(#[from] serde_json::Error),
    #[error(
        "the store was written by a newer idaudit (schema version {found}, this build supports {supported})"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    #[error("failed to open the store at `{path}`")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A handle on one store file.
pub struct Store {
    connection: Connection,
    path: PathBuf,
}

/// How long opening a store waits for another process's lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Switches `connection` to WAL. On a new file another process may be
/// switching it at the same moment. SQLite then returns "database is locked"
/// at once, without waiting through the busy timeout, so this retries.
fn set_wal_mode(connection: &Connection) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(failure, _))
                if failure.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

impl Store {
    /// Opens the store at `path`, creating it if needed, and migrates its schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let mut connection = Connection::open(&path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;

        // Wait for another process's write lock (a sync, a migration) rather
        // than fail at once; set first so the pragmas below wait too.
        connection.busy_timeout(LOCK_WAIT)?;
        // 16 KiB pages hold about seven 2 KB events each, against one in
        // SQLite's default 4 KiB; importing events then takes about a third less
        // CPU (BENCHMARKS.md). A page size applies only to a new file, so stores
        // created earlier keep theirs.
        connection.pragma_update(None, "page_size", 16384)?;
        // WAL lets readers (the web UI, an MCP client) work while a sync writes.
        set_wal_mode(&connection)?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoint when the WAL reaches 4,000 pages (64 MiB) rather than 1,000,
        // so that pages rewritten by consecutive batches are copied back once.
        connection.pragma_update(None, "wal_autocheckpoint", 4000)?;
        // 64 MiB of page cache (negative means KiB): a batch of events then
        // stays in memory until its commit instead of spilling to the WAL.
        connection.pragma_update(None, "cache_size", -65536)?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&mut connection)?;

        Ok(Store { connection, path })
    }

    /// Returns the path of the store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the journal mode SQLite reports for this connection.
    pub fn journal_mode(&self) -> Result<String> {
        Ok(self
            .connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))?)
    }

    /// Sets the maximum memory SQLite may use to cache this connection's
    /// pages, in KiB, in place of the default that [`Store::open`] sets. A
    /// connection that runs for days and rarely reads its pages back, such
    /// as the System Log poller's, needs far less.
    pub fn set_cache_size_kib(&self, kib: u32) -> Result<()> {
        self.connection
            .pragma_update(None, "cache_size", -i64::from(kib))?;
        Ok(())
    }

    /// Returns the schema version of the open file.
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// Reads a value saved with [`Store::set_state`].
    pub fn state(&self, key: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .connection
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Saves a small named value, such as a cursor or the time of the last sync.
    pub fn set_state(&self, key: &str, value: &str) -> Result<()> {
        self.connection.execute(
            "INSERT INTO state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }
}

/// Formats a time the way the store keeps it: RFC 3339 in UTC with
/// milliseconds, so that text order is time order.
pub fn format_time(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
