//! Writing review packages: one CSV and one self-contained HTML file per
//! reviewer, one XLSX workbook with a sheet per reviewer, and the whole
//! campaign as JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use idaudit_store::{Campaign, CampaignItem, Store};
use minijinja::{Environment, context};

use crate::ReviewError;

const PACKAGE_TEMPLATE: &str = include_str!("templates/package.html");

/// The files written for one reviewer.
#[derive(Clone, Debug)]
pub struct ReviewerPackage {
    pub reviewer_login: String,
    pub items: usize,
    pub csv: PathBuf,
    pub html: PathBuf,
}

/// Writes the packages of campaign `id` (the newest when `None`) into `out_dir`.
pub fn export_campaign(
    store: &Store,
    id: Option<i64>,
    out_dir: &Path,
) -> Result<(Campaign, Vec<ReviewerPackage>), ReviewError> {
    let campaign = store.campaign(id)?.ok_or(ReviewError::NoCampaign { id })?;
    let items = store.campaign_items(campaign.id)?;
    std::fs::create_dir_all(out_dir).map_err(|source| ReviewError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;

    let mut per_reviewer: BTreeMap<&str, Vec<&CampaignItem>> = BTreeMap::new();
    for item in &items {
        per_reviewer
            .entry(&item.reviewer_login)
            .or_default()
            .push(item);
    }

    let mut environment = Environment::new();
    environment
        .add_template("package.html", PACKAGE_TEMPLATE)
        .map_err(ReviewError::Template)?;
    let template = environment
        .get_template("package.html")
        .map_err(ReviewError::Template)?;

    // The workbook is written on a second thread while the per-reviewer
    // files are rendered on this one.
    let workbook = out_dir.join(format!("campaign-{}.xlsx", campaign.id));
    let packages = std::thread::scope(|scope| {
        let workbook_thread = scope.spawn(|| {
            crate::xlsx::write_workbook(&campaign, &per_reviewer, &workbook).map_err(|source| {
                ReviewError::Xlsx {
                    path: workbook.clone(),
                    source,
                }
            })
        });
        let packages = write_reviewer_files(&campaign, &per_reviewer, &template, out_dir);
        let written = workbook_thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        written.and(packages)
    })?;

    /// The whole campaign, serialized without building a JSON tree first.
    #[derive(serde::Serialize)]
    struct Whole<'a> {
        campaign: &'a Campaign,
        items: &'a [CampaignItem],
    }
    let json_path = out_dir.join("campaign.json");
    let write_error = |source| ReviewError::Write {
        path: json_path.clone(),
        source,
    };
    let file = std::fs::File::create(&json_path).map_err(write_error)?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(
        &mut writer,
        &Whole {
            campaign: &campaign,
            items: &items,
        },
    )
    .map_err(ReviewError::Json)?;
    std::io::Write::flush(&mut writer).map_err(write_error)?;
    Ok((campaign, packages))
}

/// Writes the CSV and HTML file of each reviewer.
fn write_reviewer_files(
    campaign: &Campaign,
    per_reviewer: &BTreeMap<&str, Vec<&CampaignItem>>,
    template: &minijinja::Template<'_, '_>,
    out_dir: &Path,
) -> Result<Vec<ReviewerPackage>, ReviewError> {
    let mut packages = Vec::new();
    for (&reviewer_login, reviewer_items) in per_reviewer {
        let stem = file_stem(reviewer_login);
        let csv = out_dir.join(format!("{stem}.csv"));
        let html = out_dir.join(format!("{stem}.html"));
        write_file(&csv, &render_csv(reviewer_items)?)?;

        let flagged = reviewer_items
            .iter()
            .filter(|item| !item.flags.is_empty())
            .count();
        let revocations = reviewer_items
            .iter()
            .filter(|item| item.suggestion == "revoke")
            .count();
        let page = template
            .render(context! {
                campaign => campaign,
                reviewer_login => reviewer_login,
                reviewer_name => reviewer_items[0].reviewer_name,
                items => reviewer_items,
                flagged => flagged,
                revocations => revocations,
            })
            .map_err(ReviewError::Template)?;
        write_file(&html, page.as_bytes())?;

        packages.push(ReviewerPackage {
            reviewer_login: reviewer_login.to_string(),
            items: reviewer_items.len(),
            csv,
            html,
        });
    }
    Ok(packages)
}

/// The CSV columns, in order.
const CSV_HEADER: &[&str] = &[
    "item",
    "reviewer",
    "user_login",
    "user_name",
    "user_status",
    "app",
    "granted",
    "granting_groups",
    "flags",
    "suggestion",
    "reason",
    "since",
    "last_sign_in",
    "last_sso",
    "decision",
];

/// Returns an item's cells as every package format lists them: number,
/// user login, name and status, app, how granted, granting groups (with the
/// group rules that fill them), flags, suggestion, reason, since when, last
/// sign-in and last SSO into the app.
pub(crate) fn item_cells(item: &CampaignItem) -> [String; 13] {
    let granted = if item.grant_type == "GROUP" {
        "group"
    } else {
        "direct"
    };
    [
        item.item_no.to_string(),
        item.user_login.clone(),
        item.user_name.clone(),
        item.user_status.clone(),
        item.app_label.clone(),
        granted.to_string(),
        granting_text(item),
        item.flags.join("; "),
        item.suggestion.clone(),
        item.reason.clone(),
        item.details.since.clone().unwrap_or_default(),
        item.details.last_sign_in.clone().unwrap_or_default(),
        item.details.last_sso.clone().unwrap_or_default(),
    ]
}

/// Returns the granting groups, followed by the group rules that fill them.
fn granting_text(item: &CampaignItem) -> String {
    let mut text = item.granting_groups.join("; ");
    if !item.details.group_rules.is_empty() {
        text.push_str(&format!(
            " (by group rule {})",
            item.details.group_rules.join("; ")
        ));
    }
    text
}

fn render_csv(items: &[&CampaignItem]) -> Result<Vec<u8>, ReviewError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(ReviewError::Csv)?;
    for item in items {
        let mut row = vec![item.item_no.to_string(), item.reviewer_login.clone()];
        row.extend(item_cells(item).into_iter().skip(1));
        row.push(String::new());
        writer
            .write_record(row.iter().map(|cell| inert_cell(cell)))
            .map_err(ReviewError::Csv)?;
    }
    writer
        .into_inner()
        .map_err(|error| ReviewError::Csv(error.into_error().into()))
}

/// Prefixes a cell that a spreadsheet would run as a formula with `'`, so a
/// profile value such as `=HYPERLINK(...)` stays text.
pub fn inert_cell(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// Turns a reviewer login into a safe file name.
fn file_stem(login: &str) -> String {
    let stem: String = login
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_' | '@') {
                character
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        "reviewer".to_string()
    } else {
        stem.to_string()
    }
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReviewError> {
    std::fs::write(path, bytes).map_err(|source| ReviewError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::{file_stem, inert_cell};

    #[test]
    fn formula_cells_made_inert() {
        assert_eq!(inert_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert_cell("Jane"), "Jane");
    }

    #[test]
    fn reviewer_file_names_safe() {
        assert_eq!(file_stem("jane.doe@example.com"), "jane.doe@example.com");
        assert_eq!(file_stem("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_stem(""), "reviewer");
    }
}
