//! Comparing an Okta report export of app assignments with the synced
//! entitlements.
//!
//! The columns are those of the Admin Console's "Current Assignments" report
//! (Reports > Application Access Audit), as Okta's help page "Current
//! Assignments report" lists them: User, Login, Application name,
//! Application instance, Application login, Assigned on, Unassigned on, Last
//! login, Last password change. Okta's announcement of that report adds the
//! assignment type (individual or group) and the name of the group that
//! granted access as optional columns, and the "User App Access" report
//! (Reports > Entitlements and Access) filters on Okta username, Application
//! name, Group name and Group membership type, so those names are read too.
//! Header names match case-insensitively; only a login and an app column are
//! required.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use idaudit_store::Store;
use serde::Serialize;

use crate::ReviewError;

/// Header names accepted for each field, in order of preference.
const LOGIN_COLUMNS: &[&str] = &["login", "okta username", "username"];
const APP_COLUMNS: &[&str] = &[
    "application instance",
    "application name",
    "application",
    "app",
];
const TYPE_COLUMNS: &[&str] = &[
    "assignment type",
    "group membership type",
    "assigned by type",
];
const GROUP_COLUMNS: &[&str] = &["group name", "group", "assigned by"];
const UNASSIGNED_COLUMNS: &[&str] = &["unassigned on"];

/// One difference between the report and the synced entitlements.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    /// `only-in-okta`, `only-in-report` or `assigned-differently`.
    pub kind: String,
    pub user_login: String,
    pub app: String,
    /// The grant path in the synced directory, such as `direct` or `group Sales`.
    pub okta: Option<String>,
    /// The grant path in the report.
    pub report: Option<String>,
    /// The report's line, when the report lists the pair.
    pub line: Option<u64>,
}

/// The outcome of a comparison.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Comparison {
    pub report_rows: usize,
    pub okta_assignments: usize,
    pub differences: Vec<Difference>,
}

/// A report row reduced to what is compared.
struct ReportRow {
    line: u64,
    login: String,
    app: String,
    assignment: Option<Grant>,
}

#[derive(Clone, Debug, PartialEq)]
enum Grant {
    Direct,
    Group(Option<String>),
}

impl Grant {
    fn describe(&self) -> String {
        match self {
            Grant::Direct => "direct".to_string(),
            Grant::Group(Some(name)) => format!("group {name}"),
            Grant::Group(None) => "group".to_string(),
        }
    }
}

/// Compares the report at `path` with the synced assignments of `org`.
pub fn compare_report(store: &Store, org: &str, path: &Path) -> Result<Comparison, ReviewError> {
    let bytes = std::fs::read(path).map_err(|source| ReviewError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let rows = read_report(&bytes).map_err(|problem| ReviewError::InvalidReport {
        path: path.to_path_buf(),
        problem,
    })?;

    let users: HashMap<String, String> = store
        .users(org)?
        .into_iter()
        .map(|user| (user.id, user.login))
        .collect();
    let apps: HashMap<String, (String, String)> = store
        .apps(org)?
        .into_iter()
        .map(|app| (app.id, (app.label, app.name)))
        .collect();
    let group_names: HashMap<String, String> = store
        .groups(org)?
        .into_iter()
        .map(|group| (group.id, group.name))
        .collect();

    // (login, app label), both lowercase, to how Okta grants it.
    let mut okta: BTreeMap<(String, String), (String, String, Grant)> = BTreeMap::new();
    for row in store.all_app_users(org)? {
        let (Some(login), Some((label, _))) = (users.get(&row.user_id), apps.get(&row.app_id))
        else {
            continue;
        };
        let grant = if row.scope == "GROUP" {
            Grant::Group(
                row.granting_group_id
                    .as_ref()
                    .and_then(|id| group_names.get(id).cloned()),
            )
        } else {
            Grant::Direct
        };
        okta.insert(
            (login.to_lowercase(), label.to_lowercase()),
            (login.clone(), label.clone(), grant),
        );
    }
    let app_names: HashMap<String, String> = apps
        .values()
        .map(|(label, name)| (name.to_lowercase(), label.to_lowercase()))
        .collect();

    let mut comparison = Comparison {
        report_rows: rows.len(),
        okta_assignments: okta.len(),
        differences: Vec::new(),
    };
    let mut matched = std::collections::HashSet::new();
    for row in &rows {
        let mut app = row.app.to_lowercase();
        if !okta.contains_key(&(row.login.to_lowercase(), app.clone()))
            && let Some(label) = app_names.get(&app)
        {
            app = label.clone();
        }
        let key = (row.login.to_lowercase(), app);
        match okta.get(&key) {
            None => comparison.differences.push(Difference {
                kind: "only-in-report".to_string(),
                user_login: row.login.clone(),
                app: row.app.clone(),
                okta: None,
                report: row.assignment.as_ref().map(Grant::describe),
                line: Some(row.line),
            }),
            Some((login, label, grant)) => {
                matched.insert(key.clone());
                if let Some(reported) = &row.assignment
                    && !same_grant(grant, reported)
                {
                    comparison.differences.push(Difference {
                        kind: "assigned-differently".to_string(),
                        user_login: login.clone(),
                        app: label.clone(),
                        okta: Some(grant.describe()),
                        report: Some(reported.describe()),
                        line: Some(row.line),
                    });
                }
            }
        }
    }
    for (key, (login, label, grant)) in &okta {
        if !matched.contains(key) {
            comparison.differences.push(Difference {
                kind: "only-in-okta".to_string(),
                user_login: login.clone(),
                app: label.clone(),
                okta: Some(grant.describe()),
                report: None,
                line: None,
            });
        }
    }
    Ok(comparison)
}

/// Compares grants; a report that names no group matches any group.
fn same_grant(okta: &Grant, report: &Grant) -> bool {
    match (okta, report) {
        (Grant::Direct, Grant::Direct) => true,
        (Grant::Group(_), Grant::Group(None)) => true,
        (Grant::Group(Some(left)), Grant::Group(Some(right))) => left.eq_ignore_ascii_case(right),
        (Grant::Group(None), Grant::Group(Some(_))) => true,
        _ => false,
    }
}

/// Reads the report's rows, skipping rows that record an unassignment.
fn read_report(bytes: &[u8]) -> Result<Vec<ReportRow>, String> {
    // Excel writes a byte order mark before the header.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|error| format!("the header cannot be read: {error}"))?
        .iter()
        .map(|name| name.trim().to_lowercase())
        .collect();
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| header.iter().position(|column| column == name))
    };
    let login = find(LOGIN_COLUMNS).ok_or("no login column such as `Login` or `Okta username`")?;
    let app = find(APP_COLUMNS)
        .ok_or("no app column such as `Application instance` or `Application name`")?;
    let kind = find(TYPE_COLUMNS);
    let group = find(GROUP_COLUMNS);
    let unassigned = find(UNASSIGNED_COLUMNS);

    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| format!("invalid CSV: {error}"))?;
        let cell = |column: Option<usize>| {
            column
                .and_then(|column| record.get(column))
                .map(str::trim)
                .unwrap_or_default()
                .to_string()
        };
        if !cell(unassigned).is_empty() || cell(Some(login)).is_empty() {
            continue;
        }
        let group_name = Some(cell(group)).filter(|name| !name.is_empty());
        let assignment = match cell(kind).to_lowercase().as_str() {
            "" => group_name.clone().map(|name| Grant::Group(Some(name))),
            kind if kind.contains("group") => Some(Grant::Group(group_name)),
            _ => Some(Grant::Direct),
        };
        rows.push(ReportRow {
            line: record.position().map_or(0, |position| position.line()),
            login: cell(Some(login)),
            app: cell(Some(app)),
            assignment,
        });
    }
    Ok(rows)
}
