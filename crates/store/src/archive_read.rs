//! Read-only connections for the archive writer, so that events of one batch
//! are read while another batch is encoded and the main connection assigns
//! the next.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::{Error, Result, Store};

impl Store {
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
