//! Importing reviewers' decisions from an edited package: the campaign
//! workbook (XLSX) or a CSV package.
//!
//! Every row is checked against the stored campaign before anything is
//! stored. Any of these rejects the whole file, with the row of each
//! problem: an item number the campaign does not have, a changed user or
//! app, an item listed twice, a decision on another reviewer's item, or a
//! value other than `keep` or `revoke`. A file that passes is stored in one
//! transaction.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use calamine::{Data, Reader};
use idaudit_store::{Campaign, CampaignDecision, CampaignItem, Store};

use crate::ReviewError;
use crate::export::inert_cell;
use crate::xlsx::{OVERVIEW_SHEET, SHEET_HEADER, sheet_name};

/// Counts of an accepted decisions file.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportedDecisions {
    pub campaign_id: i64,
    pub rows: usize,
    pub keep: usize,
    pub revoke: usize,
    /// Rows left without a decision.
    pub undecided: usize,
    /// The SHA-256 of the imported file, recorded with each decision.
    pub file_sha256: String,
}

/// One data row of a decisions file, as read.
struct FileRow {
    /// The row's position, such as "sheet `1 boss@example.com` row 4" or "line 7".
    location: String,
    /// The reviewer the row is filed under: its sheet, or its `reviewer` column.
    reviewer: Option<String>,
    item: String,
    user_login: String,
    app: String,
    decision: String,
}

/// Imports the decisions in `path` (`.xlsx` or `.csv`) into campaign `id`
/// (the newest when `None`). With `reviewer`, every decided item must
/// belong to that reviewer.
pub fn import_decisions(
    store: &mut Store,
    id: Option<i64>,
    path: &Path,
    reviewer: Option<&str>,
) -> Result<ImportedDecisions, ReviewError> {
    let campaign = store.campaign(id)?.ok_or(ReviewError::NoCampaign { id })?;
    if let Some(closed_at) = &campaign.closed_at {
        return Err(ReviewError::Closed {
            id: campaign.id,
            closed_at: closed_at.clone(),
        });
    }
    let items = store.campaign_items(campaign.id)?;
    let bytes = std::fs::read(path).map_err(|source| ReviewError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file_sha256 = crate::package::sha256_hex(&bytes);

    let mut problems = Vec::new();
    let rows = if is_xlsx(path) {
        read_workbook(&bytes, &campaign, &items, &mut problems)
    } else {
        read_csv(&bytes, &mut problems)
    };
    let decisions = check_rows(&rows, &items, reviewer, &mut problems);
    if !problems.is_empty() {
        return Err(ReviewError::DecisionsRejected {
            path: path.to_path_buf(),
            problems,
        });
    }

    let now = idaudit_store::format_time(chrono::Utc::now());
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = format!("{file_name} sha256:{file_sha256}");
    let stored: Vec<CampaignDecision> = decisions
        .iter()
        .map(|(item, decision)| CampaignDecision {
            item_no: item.item_no,
            decision: decision.to_string(),
            reviewer_login: item.reviewer_login.clone(),
            decided_at: now.clone(),
            source: source.clone(),
        })
        .collect();
    store.record_decisions(campaign.id, &stored)?;

    let revoke = decisions
        .iter()
        .filter(|(_, decision)| *decision == "revoke")
        .count();
    Ok(ImportedDecisions {
        campaign_id: campaign.id,
        rows: rows.len(),
        keep: decisions.len() - revoke,
        revoke,
        undecided: rows.len() - decisions.len(),
        file_sha256,
    })
}

fn is_xlsx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("xlsx"))
}

/// Checks every row against the campaign and returns the decided items.
fn check_rows<'a>(
    rows: &[FileRow],
    items: &'a [CampaignItem],
    reviewer: Option<&str>,
    problems: &mut Vec<String>,
) -> Vec<(&'a CampaignItem, &'static str)> {
    let by_number: HashMap<i64, &CampaignItem> =
        items.iter().map(|item| (item.item_no, item)).collect();
    let mut seen: HashMap<i64, &str> = HashMap::new();
    let mut decisions = Vec::new();
    for row in rows {
        let Some(number) = parse_item_number(&row.item) else {
            problems.push(format!(
                "{}: item `{}` is not an item number",
                row.location, row.item
            ));
            continue;
        };
        let Some(item) = by_number.get(&number).copied() else {
            problems.push(format!(
                "{}: item {number} is not in the campaign",
                row.location
            ));
            continue;
        };
        if let Some(first) = seen.insert(number, &row.location) {
            problems.push(format!(
                "{}: item {number} is listed again (first at {first})",
                row.location
            ));
            continue;
        }
        if !same_value(&row.user_login, &item.user_login) {
            problems.push(format!(
                "{}: item {number} changed: user `{}` in the file, `{}` in the campaign",
                row.location, row.user_login, item.user_login
            ));
        }
        if !same_value(&row.app, &item.app_label) {
            problems.push(format!(
                "{}: item {number} changed: app `{}` in the file, `{}` in the campaign",
                row.location, row.app, item.app_label
            ));
        }
        if let Some(filed_under) = &row.reviewer
            && !same_value(filed_under, &item.reviewer_login)
        {
            problems.push(format!(
                "{}: item {number} belongs to reviewer `{}`, not `{filed_under}`",
                row.location, item.reviewer_login
            ));
        }
        let decision = match row.decision.trim().to_ascii_lowercase().as_str() {
            "" => continue,
            "keep" => "keep",
            "revoke" => "revoke",
            _ => {
                problems.push(format!(
                    "{}: decision `{}` is not `keep` or `revoke`",
                    row.location, row.decision
                ));
                continue;
            }
        };
        if let Some(reviewer) = reviewer
            && item.reviewer_login != reviewer
        {
            problems.push(format!(
                "{}: item {number} belongs to reviewer `{}`, not `{reviewer}`",
                row.location, item.reviewer_login
            ));
            continue;
        }
        decisions.push((item, decision));
    }
    decisions
}

/// Compares a cell with the stored value it was exported from. CSV packages
/// prefix formula-like values with `'`, and a spreadsheet may drop it again.
fn same_value(cell: &str, stored: &str) -> bool {
    let cell = cell.trim();
    cell == stored.trim() || cell == inert_cell(stored).trim()
}

/// Reads an item number written as text, or as a number by a spreadsheet.
fn parse_item_number(cell: &str) -> Option<i64> {
    let cell = cell.trim();
    if let Ok(number) = cell.parse::<i64>() {
        return Some(number);
    }
    let float: f64 = cell.parse().ok()?;
    (float.fract() == 0.0 && (1.0..1e15).contains(&float)).then_some(float as i64)
}

/// Reads the reviewer sheets of a campaign workbook. Each sheet's reviewer
/// comes from its name, which export derives from the reviewer's position in
/// login order.
fn read_workbook(
    bytes: &[u8],
    campaign: &Campaign,
    items: &[CampaignItem],
    problems: &mut Vec<String>,
) -> Vec<FileRow> {
    let mut workbook = match calamine::Xlsx::new(std::io::Cursor::new(bytes)) {
        Ok(workbook) => workbook,
        Err(error) => {
            problems.push(format!("the file is not a readable XLSX workbook: {error}"));
            return Vec::new();
        }
    };
    let mut reviewers: BTreeMap<&str, ()> = BTreeMap::new();
    for item in items {
        reviewers.insert(&item.reviewer_login, ());
    }
    let sheet_reviewers: HashMap<String, &str> = reviewers
        .keys()
        .enumerate()
        .map(|(index, reviewer)| (sheet_name(index + 1, reviewer), *reviewer))
        .collect();

    let mut rows = Vec::new();
    for sheet in workbook.sheet_names() {
        if sheet == OVERVIEW_SHEET {
            continue;
        }
        let Some(reviewer) = sheet_reviewers.get(&sheet).copied() else {
            problems.push(format!(
                "sheet `{sheet}` is not a reviewer sheet of campaign {}",
                campaign.id
            ));
            continue;
        };
        let range = match workbook.worksheet_range(&sheet) {
            Ok(range) => range,
            Err(error) => {
                problems.push(format!("sheet `{sheet}` could not be read: {error}"));
                continue;
            }
        };
        let cells: Vec<Vec<String>> = range
            .rows()
            .map(|row| row.iter().map(cell_text).collect())
            .collect();
        let location = |row: usize| format!("sheet `{sheet}` row {row}");
        rows.extend(read_table(
            &cells,
            &location,
            &WORKBOOK_COLUMNS,
            Some(reviewer),
            problems,
        ));
    }
    rows
}

/// Returns a cell as text; whole numbers lose their `.0`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(text) => text.clone(),
        Data::Float(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            format!("{}", *number as i64)
        }
        other => other.to_string(),
    }
}

/// The header names of the columns a decisions file needs.
struct Columns {
    item: &'static str,
    reviewer: Option<&'static str>,
    user_login: &'static str,
    app: &'static str,
    decision: &'static str,
}

const WORKBOOK_COLUMNS: Columns = Columns {
    item: SHEET_HEADER[0],
    reviewer: None,
    user_login: SHEET_HEADER[1],
    app: SHEET_HEADER[4],
    decision: SHEET_HEADER[SHEET_HEADER.len() - 1],
};

const CSV_COLUMNS: Columns = Columns {
    item: "item",
    reviewer: Some("reviewer"),
    user_login: "user_login",
    app: "app",
    decision: "decision",
};

/// Reads the data rows of a table whose first row is its header. Row
/// numbers start at 1 with the header, as a spreadsheet shows them.
fn read_table(
    cells: &[Vec<String>],
    location: &dyn Fn(usize) -> String,
    columns: &Columns,
    reviewer: Option<&str>,
    problems: &mut Vec<String>,
) -> Vec<FileRow> {
    let Some(header) = cells.first() else {
        problems.push(format!("{}: the header row is missing", location(1)));
        return Vec::new();
    };
    let find = |name: &str| header.iter().position(|cell| cell.trim() == name);
    let mut missing = Vec::new();
    let mut index = |name: &'static str| {
        find(name).unwrap_or_else(|| {
            missing.push(name);
            0
        })
    };
    let item = index(columns.item);
    let user_login = index(columns.user_login);
    let app = index(columns.app);
    let decision = index(columns.decision);
    let reviewer_column = columns.reviewer.map(&mut index);
    if !missing.is_empty() {
        problems.push(format!(
            "{}: the header lacks the column(s) {}",
            location(1),
            missing
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Vec::new();
    }

    let cell = |row: &[String], column: usize| row.get(column).cloned().unwrap_or_default();
    let mut rows = Vec::new();
    for (offset, row) in cells.iter().enumerate().skip(1) {
        if row.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        rows.push(FileRow {
            location: location(offset + 1),
            reviewer: reviewer_column
                .map(|column| cell(row, column))
                .or_else(|| reviewer.map(str::to_string)),
            item: cell(row, item),
            user_login: cell(row, user_login),
            app: cell(row, app),
            decision: cell(row, decision),
        });
    }
    rows
}

/// Reads a CSV package, or several reviewers' CSV packages joined under one header.
fn read_csv(bytes: &[u8], problems: &mut Vec<String>) -> Vec<FileRow> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut cells = Vec::new();
    let mut lines = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                lines.push(record.position().map_or(0, |position| position.line()));
                cells.push(record.iter().map(str::to_string).collect::<Vec<_>>());
            }
            Err(error) => {
                problems.push(format!("the file is not valid CSV: {error}"));
                return Vec::new();
            }
        }
    }
    let location = |row: usize| format!("line {}", lines.get(row - 1).copied().unwrap_or(0));
    read_table(&cells, &location, &CSV_COLUMNS, None, problems)
}

#[cfg(test)]
mod tests {
    use super::{parse_item_number, same_value};

    #[test]
    fn item_numbers_from_text_or_float() {
        assert_eq!(parse_item_number("12"), Some(12));
        assert_eq!(parse_item_number(" 7.0 "), Some(7));
        assert_eq!(parse_item_number("7.5"), None);
        assert_eq!(parse_item_number("abc"), None);
    }

    #[test]
    fn inert_prefix_accepted_as_same() {
        assert!(same_value("'=HYPERLINK(1)", "=HYPERLINK(1)"));
        assert!(same_value("=HYPERLINK(1)", "=HYPERLINK(1)"));
        assert!(!same_value("other", "=HYPERLINK(1)"));
    }
}
