//! Versioned schema migrations.
//!
//! Each entry moves the schema one version forward and runs in its own
//! transaction; SQLite's `user_version` pragma records how far a file has
//! come. Entries are never edited once released, only appended.

use rusqlite::Connection;

use crate::Error;

/// Schema steps in order; the index plus one is the version they produce.
const MIGRATIONS: &[&str] = &[
    // Version 1: the directory, the System Log, alerts and review campaigns.
    r#"
    CREATE TABLE users (
        org TEXT NOT NULL,
        id TEXT NOT NULL,
        status TEXT NOT NULL,
        login TEXT NOT NULL,
        email TEXT,
        first_name TEXT,
        last_name TEXT,
        display_name TEXT,
        manager_id TEXT,
        department TEXT,
        title TEXT,
        created TEXT,
        last_login TEXT,
        last_updated TEXT,
        status_changed TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, id)
    );
    CREATE INDEX users_login ON users (org, login);

    CREATE TABLE groups (
        org TEXT NOT NULL,
        id TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        last_updated TEXT,
        last_membership_updated TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, id)
    );

    CREATE TABLE memberships (
        org TEXT NOT NULL,
        group_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (org, group_id, user_id)
    );
    CREATE INDEX memberships_user ON memberships (org, user_id);

    CREATE TABLE apps (
        org TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        label TEXT NOT NULL,
        status TEXT NOT NULL,
        sign_on_mode TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, id)
    );

    -- One row per user listed by /apps/{id}/users: scope USER is a direct
    -- assignment, scope GROUP comes through one of the app's groups.
    CREATE TABLE app_user_assignments (
        org TEXT NOT NULL,
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        status TEXT,
        user_name TEXT,
        created TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, app_id, user_id)
    );
    CREATE INDEX app_user_assignments_user ON app_user_assignments (org, user_id);

    CREATE TABLE app_group_assignments (
        org TEXT NOT NULL,
        app_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        priority INTEGER,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, app_id, group_id)
    );

    CREATE TABLE sync_runs (
        id INTEGER PRIMARY KEY,
        org TEXT NOT NULL,
        kind TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT NOT NULL,
        summary TEXT NOT NULL
    );

    CREATE TABLE events (
        uuid TEXT PRIMARY KEY,
        org TEXT NOT NULL,
        published TEXT NOT NULL,
        event_type TEXT NOT NULL,
        actor_id TEXT,
        actor_alternate_id TEXT,
        outcome_result TEXT,
        client_ip TEXT,
        source TEXT NOT NULL,
        stored_at TEXT NOT NULL,
        raw TEXT NOT NULL
    );
    CREATE INDEX events_published ON events (published);
    CREATE INDEX events_type ON events (event_type, published);

    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        rule TEXT NOT NULL,
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        user TEXT,
        ip TEXT,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        count INTEGER NOT NULL,
        evidence TEXT NOT NULL,
        details TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        created_at TEXT NOT NULL
    );
    CREATE INDEX alerts_first_seen ON alerts (first_seen);

    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        org TEXT NOT NULL,
        created_at TEXT NOT NULL,
        scope TEXT NOT NULL
    );

    CREATE TABLE campaign_items (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        item_no INTEGER NOT NULL,
        reviewer_id TEXT,
        reviewer_login TEXT NOT NULL,
        reviewer_name TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_login TEXT NOT NULL,
        user_name TEXT NOT NULL,
        user_status TEXT NOT NULL,
        app_id TEXT NOT NULL,
        app_label TEXT NOT NULL,
        grant_type TEXT NOT NULL,
        granting_groups TEXT NOT NULL,
        flags TEXT NOT NULL,
        suggestion TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (campaign_id, item_no)
    );

    CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
];

/// Returns the schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Brings the schema of `connection` up to the latest version.
///
/// A file written by a newer idaudit (a higher `user_version`) is rejected
/// rather than guessed at.
pub fn migrate(connection: &mut Connection) -> Result<(), Error> {
    let current: u32 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > latest_version() {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: latest_version(),
        });
    }

    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as u32 + 1;
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", version)?;
        transaction.commit()?;
        tracing::debug!(version, "Applied store migration");
    }
    Ok(())
}
