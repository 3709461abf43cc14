//! Versioned schema migrations.
//!
//! Each entry moves the schema one version forward and runs in its own
//! transaction; SQLite's `user_version` pragma records how far a file has
//! come. Entries are never edited once released, only appended.

use rusqlite::{Connection, TransactionBehavior};

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
    // Version 2: admin roles, factors, group rules and owners, the granting group of
    // app assignments, and the history of entitlement changes.
    r#"
    ALTER TABLE app_user_assignments ADD COLUMN granting_group_id TEXT;

    -- Admin role assignments, standard and custom. assignee_type is USER or GROUP.
    CREATE TABLE role_assignments (
        org TEXT NOT NULL,
        assignee_type TEXT NOT NULL,
        assignee_id TEXT NOT NULL,
        id TEXT NOT NULL,
        role_type TEXT NOT NULL,
        label TEXT,
        status TEXT,
        assignment_type TEXT,
        custom_role_id TEXT,
        resource_set_id TEXT,
        created TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, assignee_type, assignee_id, id)
    );

    CREATE TABLE factors (
        org TEXT NOT NULL,
        user_id TEXT NOT NULL,
        id TEXT NOT NULL,
        factor_type TEXT NOT NULL,
        provider TEXT,
        vendor_name TEXT,
        status TEXT,
        created TEXT,
        last_updated TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, user_id, id)
    );

    -- group_ids is a JSON array of the groups the rule assigns users to.
    CREATE TABLE group_rules (
        org TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        expression TEXT,
        group_ids TEXT NOT NULL,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, id)
    );

    CREATE TABLE group_owners (
        org TEXT NOT NULL,
        group_id TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        display_name TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (org, group_id, owner_id)
    );

    -- One row per added, removed or changed entitlement. source is `sync` for a
    -- change found by comparing snapshots, or `event` with the System Log event
    -- that explains it.
    CREATE TABLE changes (
        id INTEGER PRIMARY KEY,
        org TEXT NOT NULL,
        time TEXT NOT NULL,
        kind TEXT NOT NULL,
        action TEXT NOT NULL,
        subject_type TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        object_id TEXT NOT NULL,
        old_value TEXT,
        new_value TEXT,
        source TEXT NOT NULL,
        event_uuid TEXT
    );
    CREATE INDEX changes_time ON changes (org, time);
    CREATE INDEX changes_subject ON changes (org, subject_id, time);
    "#,
    // Version 3: the outbox of alert deliveries to sinks, and the revision of
    // each alert that deliveries refer to.
    r#"
    -- fingerprint is the alert's JSON without its triage status; a new
    -- revision starts only when it changes.
    CREATE TABLE alert_revisions (
        alert_id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        fingerprint TEXT NOT NULL
    );

    -- One row per alert, sink and revision. state is `pending` until the
    -- sink accepts the payload, then `delivered`.
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        sink TEXT NOT NULL,
        revision INTEGER NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT,
        UNIQUE (alert_id, sink, revision)
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);
    "#,
    // Version 4: the System Log archive. Events wait in `archive_pending`
    // until they are assigned to an archive batch, and each batch is written
    // as one Parquet object.
    r#"
    -- One row per archive object. object is its path below the archive root,
    -- fixed when the batch is created, so that writing a batch again after a
    -- crash replaces the same object. written_at stays NULL until the object
    -- is written.
    CREATE TABLE archive_batches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        org TEXT NOT NULL,
        date TEXT NOT NULL,
        object TEXT NOT NULL UNIQUE,
        events INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        written_at TEXT
    );

    -- Stored events that no archive batch contains yet. Kept apart from
    -- `events` so that assigning an event to a batch does not rewrite its
    -- raw JSON.
    CREATE TABLE archive_pending (
        org TEXT NOT NULL,
        published TEXT NOT NULL,
        uuid TEXT NOT NULL,
        PRIMARY KEY (org, published, uuid)
    ) WITHOUT ROWID;
    INSERT INTO archive_pending (org, published, uuid)
        SELECT org, published, uuid FROM events;
    CREATE TRIGGER events_archive_pending AFTER INSERT ON events BEGIN
        INSERT OR IGNORE INTO archive_pending (org, published, uuid)
        VALUES (new.org, new.published, new.uuid);
    END;

    -- The events of batches not yet written. A batch's rows are deleted
    -- when it is marked written.
    CREATE TABLE archive_members (
        batch INTEGER NOT NULL REFERENCES archive_batches (id),
        published TEXT NOT NULL,
        uuid TEXT NOT NULL,
        PRIMARY KEY (batch, published, uuid)
    ) WITHOUT ROWID;

    -- The uuids of archived events deleted from `events` by the local
    -- retention, so that an event stored again (a repeated import) is
    -- recognised as archived rather than written to the archive twice.
    CREATE TABLE archived_events (
        uuid TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    "#,
    // Version 5: review decisions, remediation with its proof, item details and
    // the closing of a campaign.
    r#"
    -- details is a JSON object of what an item records beyond the columns:
    -- granting group ids, group rules, since when, last sign-in and SSO.
    ALTER TABLE campaign_items ADD COLUMN details TEXT NOT NULL DEFAULT '{}';

    -- Set when the campaign is closed: package_root is the last hash of the
    -- auditor package's manifest chain, package_zip_sha256 the hash of its zip.
    ALTER TABLE campaigns ADD COLUMN closed_at TEXT;
    ALTER TABLE campaigns ADD COLUMN package_root TEXT;
    ALTER TABLE campaigns ADD COLUMN package_zip_sha256 TEXT;

    -- One row per decided item; source names the imported file and its SHA-256.
    CREATE TABLE campaign_decisions (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        item_no INTEGER NOT NULL,
        decision TEXT NOT NULL,
        reviewer_login TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (campaign_id, item_no)
    );

    -- One row per revocation step, such as removing a user from a group.
    -- item_nos is a JSON array of the items the step revokes; proof is a JSON
    -- object with the request, Okta's request id and the read that verified it.
    CREATE TABLE campaign_remediations (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        action TEXT NOT NULL,
        target_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        item_nos TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT NOT NULL,
        proof TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (campaign_id, action, target_id, user_id)
    );
    "#,
    // Version 6: the archive finds new events by rowid instead of a trigger
    // that added each stored event to `archive_pending`.
    r#"
    DROP TRIGGER events_archive_pending;

    -- One row. Every event with a rowid at or below events_through is in
    -- `archive_pending`, in `archive_members` or archived; the events above
    -- it are pending and are moved to `archive_pending` in bulk before the
    -- archive reads or changes its lists. The trigger kept every event
    -- stored so far in those lists, so the scan starts at the newest rowid.
    CREATE TABLE archive_scan (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        events_through INTEGER NOT NULL
    );
    INSERT INTO archive_scan (id, events_through)
        SELECT 1, COALESCE(MAX(rowid), 0) FROM events;
    "#,
    // Version 7: pending events of each org and day are kept as one rowid
    // range instead of a row per event in `archive_pending`, and a batch
    // names its events by that range instead of a row per event in
    // `archive_members`. Both lists stay for the events already in them.
    r#"
    -- One row per org and UTC day of `published` with pending events: those
    -- of the org and day with a rowid in (rowid_after, rowid_through], less
    -- the events whose uuid is in `archived_events`. events counts them.
    CREATE TABLE archive_ranges (
        org TEXT NOT NULL,
        date TEXT NOT NULL,
        rowid_after INTEGER NOT NULL,
        rowid_through INTEGER NOT NULL,
        events INTEGER NOT NULL,
        PRIMARY KEY (org, date)
    ) WITHOUT ROWID;

    -- A batch contains its rows in `archive_members` and, when these are
    -- set, the events of its org and day in the rowid range
    -- (range_after, range_through], less those in `archived_events`.
    ALTER TABLE archive_batches ADD COLUMN range_after INTEGER;
    ALTER TABLE archive_batches ADD COLUMN range_through INTEGER;
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

    if current == latest_version() {
        return Ok(());
    }

    // Another process may be migrating the same file (`serve` and a CLI
    // command started on a new store): each step takes the write lock first
    // and reads the version again under it, so a step is applied once.
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: u32 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(());
        };
        let version = current + 1;
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", version)?;
        transaction.commit()?;
        tracing::debug!(version, "Applied store migration");
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::MIGRATIONS;
    use crate::{EventRecord, Store};

    fn record(uuid: &str, published: &str) -> EventRecord {
        EventRecord {
            uuid: uuid.to_string(),
            published: published.to_string(),
            event_type: "user.session.start".to_string(),
            actor_id: None,
            actor_alternate_id: None,
            outcome_result: None,
            client_ip: None,
            raw: format!(r#"{{"uuid":"{uuid}"}}"#),
        }
    }

    /// Writes a store at schema version 5, when a trigger kept the archive's
    /// pending list, with three events of which `archived` is in a written
    /// batch and `pending-1` and `pending-2` are pending.
    fn write_version_5_store(path: &std::path::Path) {
        let connection = write_store_at_version(path, 5);
        for (uuid, published) in [
            ("archived", "2026-01-01T10:00:00.000Z"),
            ("pending-1", "2026-01-02T10:00:00.000Z"),
            ("pending-2", "2026-01-02T11:00:00.000Z"),
        ] {
            connection
                .execute(
                    "INSERT INTO events (uuid, org, published, event_type, source, stored_at, raw)
                     VALUES (?1, 'org', ?2, 'user.session.start', 'poll', ?2, '{}')",
                    [uuid, published],
                )
                .unwrap();
        }
        connection
            .execute_batch(
                "INSERT INTO archive_batches (org, date, object, events, created_at, written_at)
                 VALUES ('org', '2026-01-01', 'a.parquet', 1, 'x', 'x');
                 DELETE FROM archive_pending WHERE uuid = 'archived';",
            )
            .unwrap();
    }

    /// Applies the first `version` migrations to a new file at `path`.
    fn write_store_at_version(path: &std::path::Path, version: usize) -> Connection {
        let mut connection = Connection::open(path).unwrap();
        for (index, sql) in MIGRATIONS.iter().take(version).enumerate() {
            let transaction = connection.transaction().unwrap();
            transaction.execute_batch(sql).unwrap();
            transaction
                .pragma_update(None, "user_version", index as u32 + 1)
                .unwrap();
            transaction.commit().unwrap();
        }
        connection
    }

    /// Writes a store at schema version 6, when pending events below the
    /// rowid mark had a row each in `archive_pending` and batches a row per
    /// event in `archive_members`. `archived` is in a written batch,
    /// `member` in an unwritten one, `listed` in the pending list, and
    /// `unscanned` above the mark.
    fn write_version_6_store(path: &std::path::Path) {
        let connection = write_store_at_version(path, 6);
        let insert = |uuid: &str, published: &str| {
            connection
                .execute(
                    "INSERT INTO events (uuid, org, published, event_type, source, stored_at, raw)
                     VALUES (?1, 'org', ?2, 'user.session.start', 'poll', ?2, '{}')",
                    [uuid, published],
                )
                .unwrap();
        };
        insert("archived", "2026-01-01T10:00:00.000Z");
        insert("listed", "2026-01-02T11:00:00.000Z");
        insert("member", "2026-01-03T10:00:00.000Z");
        connection
            .execute_batch(
                "UPDATE archive_scan SET events_through = (SELECT MAX(rowid) FROM events);
                 INSERT INTO archive_pending (org, published, uuid)
                 VALUES ('org', '2026-01-02T11:00:00.000Z', 'listed');
                 INSERT INTO archive_batches (id, org, date, object, events, created_at, written_at)
                 VALUES (1, 'org', '2026-01-01', '1.parquet', 1, 'x', 'x'),
                        (2, 'org', '2026-01-03', '2.parquet', 1, 'x', NULL);
                 INSERT INTO archive_members (batch, published, uuid)
                 VALUES (2, '2026-01-03T10:00:00.000Z', 'member');",
            )
            .unwrap();
        insert("unscanned", "2026-01-02T10:00:00.000Z");
    }

    fn batch_uuids(store: &Store, batch: i64) -> Vec<String> {
        let mut uuids = Vec::new();
        store
            .for_each_archive_batch_event(batch, |row| uuids.push(row.uuid))
            .unwrap();
        uuids
    }

    #[test]
    fn version_6_archive_state_carries_over() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("idaudit.db");
        write_version_6_store(&path);

        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), super::latest_version());
        let counts = store.archive_counts().unwrap();
        assert_eq!(counts.pending_events, 2);
        assert_eq!(counts.unwritten_batches, 1);
        assert_eq!(counts.written_batches, 1);
        assert_eq!(counts.archived_events, 1);

        let unwritten = store.unwritten_archive_batches().unwrap();
        assert_eq!(unwritten.len(), 1);
        assert_eq!(batch_uuids(&store, unwritten[0].id), vec!["member"]);

        assert_eq!(store.relink_archived_events().unwrap(), 0);
        let partitions = store.pending_archive_partitions().unwrap();
        assert_eq!(partitions.len(), 1);
        assert_eq!(partitions[0].date, "2026-01-02");
        assert_eq!(partitions[0].events, 2);

        let batch = store
            .create_archive_batch("org", "2026-01-02", 10, "now", |id| format!("{id}.parquet"))
            .unwrap()
            .expect("two events are pending");
        assert_eq!(batch.events, 2);
        assert_eq!(batch_uuids(&store, batch.id), vec!["unscanned", "listed"]);
        assert_eq!(store.archive_counts().unwrap().pending_events, 0);

        store
            .mark_archive_batch_written(unwritten[0].id, "now")
            .unwrap();
        store.mark_archive_batch_written(batch.id, "now").unwrap();
        let counts = store.archive_counts().unwrap();
        assert_eq!(counts.unwritten_batches, 0);
        assert_eq!(counts.archived_events, 4);
        assert_eq!(
            store
                .prune_archived_events("2026-02-01T00:00:00.000Z")
                .unwrap(),
            4
        );
    }

    #[test]
    fn version_5_pending_events_stay_pending() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("idaudit.db");
        write_version_5_store(&path);

        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), super::latest_version());
        assert_eq!(store.count_events().unwrap(), 3);
        let counts = store.archive_counts().unwrap();
        assert_eq!(counts.pending_events, 2);
        assert_eq!(counts.archived_events, 1);

        store
            .insert_events(
                "org",
                "import",
                &[record("new", "2026-01-02T12:00:00.000Z")],
            )
            .unwrap();
        let partitions = store.pending_archive_partitions().unwrap();
        assert_eq!(partitions.len(), 1);
        assert_eq!(partitions[0].date, "2026-01-02");
        assert_eq!(partitions[0].events, 3);

        let batch = store
            .create_archive_batch("org", "2026-01-02", 10, "now", |id| format!("{id}.parquet"))
            .unwrap()
            .expect("three events are pending");
        assert_eq!(
            batch_uuids(&store, batch.id),
            vec!["pending-1", "pending-2", "new"]
        );
        assert_eq!(store.archive_counts().unwrap().pending_events, 0);
    }
}
