//! The alerts table.
//!
//! An alert's `id` is derived from its rule, its entity and its first
//! evidence event, so running detection again over the same events updates
//! the alert it raised before instead of adding a second one.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::{Result, Store};

/// Triage status of an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    fn parse(text: &str) -> AlertStatus {
        match text {
            "acknowledged" => AlertStatus::Acknowledged,
            "closed" => AlertStatus::Closed,
            _ => AlertStatus::Open,
        }
    }
}

/// An alert raised by a detection rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule: String,
    pub severity: String,
    pub title: String,
    /// The user the alert is about (a login or an id), if any.
    pub user: Option<String>,
    /// The source IP the alert is about, if any.
    pub ip: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
    /// The `uuid`s of the events that raised the alert.
    pub evidence: Vec<String>,
    /// Rule-specific facts, such as the privilege granted or every source IP.
    pub details: serde_json::Value,
    pub status: AlertStatus,
}

/// Whether [`Store::upsert_alert`] added an alert or updated one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    New,
    Updated,
}

impl Store {
    /// Adds `alert`, or refreshes the stored alert with the same id while
    /// keeping its status, so an acknowledged alert stays acknowledged.
    pub fn upsert_alert(&self, alert: &Alert) -> Result<Upserted> {
        let existed: Option<i64> = self
            .connection
            .query_row("SELECT 1 FROM alerts WHERE id = ?1", [&alert.id], |row| {
                row.get(0)
            })
            .optional()?;
        self.connection.execute(
            "INSERT INTO alerts (id, rule, severity, title, user, ip, first_seen, last_seen,
                count, evidence, details, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (id) DO UPDATE SET
                severity = excluded.severity, title = excluded.title,
                last_seen = excluded.last_seen, count = excluded.count,
                evidence = excluded.evidence, details = excluded.details",
            params![
                alert.id,
                alert.rule,
                alert.severity,
                alert.title,
                alert.user,
                alert.ip,
                alert.first_seen,
                alert.last_seen,
                alert.count,
                serde_json::to_string(&alert.evidence)?,
                alert.details.to_string(),
                alert.status.as_str(),
                crate::format_time(chrono::Utc::now()),
            ],
        )?;
        Ok(if existed.is_some() {
            Upserted::Updated
        } else {
            Upserted::New
        })
    }

    /// Returns the alert with `id`, or with the only id that starts with `id`.
    pub fn alert(&self, id: &str) -> Result<Option<Alert>> {
        let pattern = format!("{}%", id.replace(['%', '_'], ""));
        let mut statement = self.connection.prepare(
            "SELECT id, rule, severity, title, user, ip, first_seen, last_seen, count,
                    evidence, details, status
             FROM alerts WHERE id = ?1 OR id LIKE ?2 ORDER BY id = ?1 DESC, id LIMIT 2",
        )?;
        let rows: Vec<_> = statement
            .query_map([id, pattern.as_str()], read_alert)?
            .collect::<rusqlite::Result<_>>()?;
        let exact = rows.first().is_some_and(|(alert, _, _)| alert.id == id);
        if rows.is_empty() || (rows.len() > 1 && !exact) {
            return Ok(None);
        }
        let Some((mut alert, evidence, details)) = rows.into_iter().next() else {
            return Ok(None);
        };
        alert.evidence = serde_json::from_str(&evidence)?;
        alert.details = serde_json::from_str(&details)?;
        Ok(Some(alert))
    }

    /// Sets the triage status of the alert with `id`; returns false when no
    /// alert has that id.
    pub fn set_alert_status(&self, id: &str, status: AlertStatus) -> Result<bool> {
        let changed = self.connection.execute(
            "UPDATE alerts SET status = ?2 WHERE id = ?1",
            [id, status.as_str()],
        )?;
        Ok(changed == 1)
    }

    /// Returns stored alerts, oldest first, optionally only those of one status.
    pub fn alerts(&self, status: Option<AlertStatus>) -> Result<Vec<Alert>> {
        let mut statement = self.connection.prepare(
            "SELECT id, rule, severity, title, user, ip, first_seen, last_seen, count,
                    evidence, details, status
             FROM alerts WHERE (?1 IS NULL OR status = ?1) ORDER BY first_seen, id",
        )?;
        let rows = statement.query_map([status.map(AlertStatus::as_str)], read_alert)?;
        let mut alerts = Vec::new();
        for row in rows {
            let (mut alert, evidence, details) = row?;
            alert.evidence = serde_json::from_str(&evidence)?;
            alert.details = serde_json::from_str(&details)?;
            alerts.push(alert);
        }
        Ok(alerts)
    }
}

fn read_alert(row: &Row<'_>) -> rusqlite::Result<(Alert, String, String)> {
    let status: String = row.get(11)?;
    let alert = Alert {
        id: row.get(0)?,
        rule: row.get(1)?,
        severity: row.get(2)?,
        title: row.get(3)?,
        user: row.get(4)?,
        ip: row.get(5)?,
        first_seen: row.get(6)?,
        last_seen: row.get(7)?,
        count: row.get(8)?,
        evidence: Vec::new(),
        details: serde_json::Value::Null,
        status: AlertStatus::parse(&status),
    };
    Ok((alert, row.get(9)?, row.get(10)?))
}
