//! The campaign as one XLSX workbook: an overview sheet, then one sheet per
//! reviewer whose Decision column accepts only `keep` or `revoke`.
//!
//! Every value is written as a string cell, so a profile value such as
//! `=HYPERLINK(...)` stays text and never becomes a formula.

use std::collections::BTreeMap;
use std::path::Path;

use idaudit_store::{Campaign, CampaignItem};
use rust_xlsxwriter::{DataValidation, Format, Workbook, Worksheet, XlsxError};

/// Column headers of a reviewer sheet; the last one is filled in by the reviewer.
pub const SHEET_HEADER: &[&str] = &[
    "Item",
    "User login",
    "User name",
    "Status",
    "Application",
    "Granted",
    "Granting groups",
    "Flags",
    "Suggestion",
    "Reason",
    "Since",
    "Last sign-in",
    "Last SSO to app",
    "Decision",
];

/// The name of the first sheet, which lists the reviewers.
pub const OVERVIEW_SHEET: &str = "Overview";

/// Excel's limit on sheet name length.
const MAX_SHEET_NAME: usize = 31;

/// Writes the workbook for `items`, grouped by reviewer, to `path`.
pub fn write_workbook(
    campaign: &Campaign,
    per_reviewer: &BTreeMap<&str, Vec<&CampaignItem>>,
    path: &Path,
) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();

    let overview = workbook.add_worksheet();
    overview.set_name(OVERVIEW_SHEET)?;
    write_overview(overview, campaign, per_reviewer, &bold)?;

    for (index, (reviewer, items)) in per_reviewer.iter().enumerate() {
        let name = sheet_name(index + 1, reviewer);
        // Constant-memory sheets write each finished row to a temporary file,
        // so a campaign of a million items does not hold every cell in memory.
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(&name)?;
        write_reviewer_sheet(sheet, items, &bold)?;
    }
    workbook.save(path)
}

fn write_overview(
    sheet: &mut Worksheet,
    campaign: &Campaign,
    per_reviewer: &BTreeMap<&str, Vec<&CampaignItem>>,
    bold: &Format,
) -> Result<(), XlsxError> {
    sheet.write_string_with_format(0, 0, "Campaign", bold)?;
    sheet.write_string(0, 1, &campaign.name)?;
    sheet.write_string_with_format(1, 0, "Org", bold)?;
    sheet.write_string(1, 1, &campaign.org)?;
    sheet.write_string_with_format(2, 0, "Snapshot taken", bold)?;
    sheet.write_string(2, 1, &campaign.created_at)?;
    if let Some(due) = campaign.scope["due"].as_str() {
        sheet.write_string_with_format(3, 0, "Decide by", bold)?;
        sheet.write_string(3, 1, due)?;
    }

    for (column, title) in [
        "Reviewer",
        "Sheet",
        "Items",
        "Flagged",
        "Suggested revocations",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string_with_format(4, column as u16, *title, bold)?;
    }
    for (index, (reviewer, items)) in per_reviewer.iter().enumerate() {
        let row = 5 + index as u32;
        let flagged = items.iter().filter(|item| !item.flags.is_empty()).count();
        let revocations = items
            .iter()
            .filter(|item| item.suggestion == "revoke")
            .count();
        sheet.write_string(row, 0, *reviewer)?;
        sheet.write_number(row, 1, (index + 1) as f64)?;
        sheet.write_number(row, 2, items.len() as f64)?;
        sheet.write_number(row, 3, flagged as f64)?;
        sheet.write_number(row, 4, revocations as f64)?;
    }
    sheet.set_column_width(0, 40)?;
    Ok(())
}

fn write_reviewer_sheet(
    sheet: &mut Worksheet,
    items: &[&CampaignItem],
    bold: &Format,
) -> Result<(), XlsxError> {
    for (column, title) in SHEET_HEADER.iter().enumerate() {
        sheet.write_string_with_format(0, column as u16, *title, bold)?;
    }
    for (index, item) in items.iter().enumerate() {
        let row = index as u32 + 1;
        let cells = crate::export::item_cells(item);
        for (column, cell) in cells.iter().enumerate() {
            sheet.write_string(row, column as u16, cell)?;
        }
    }

    let decision_column = (SHEET_HEADER.len() - 1) as u16;
    if !items.is_empty() {
        let validation = DataValidation::new()
            .allow_list_strings(&["keep", "revoke"])?
            .set_error_title("Invalid decision")?
            .set_error_message("Enter keep or revoke")?;
        sheet.add_data_validation(
            1,
            decision_column,
            items.len() as u32,
            decision_column,
            &validation,
        )?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.set_column_width(1, 32)?;
    sheet.set_column_width(4, 24)?;
    Ok(())
}

/// Returns a valid sheet name: the sheet number, which makes it unique, and
/// the reviewer's login with the characters Excel forbids replaced, cut to
/// Excel's 31 characters.
pub(crate) fn sheet_name(number: usize, reviewer: &str) -> String {
    let cleaned: String = reviewer
        .chars()
        .map(|character| {
            if "[]:*?/\\'".contains(character) {
                '_'
            } else {
                character
            }
        })
        .collect();
    format!("{number} {cleaned}")
        .chars()
        .take(MAX_SHEET_NAME)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sheet_name;

    #[test]
    fn sheet_names_valid() {
        let long = sheet_name(1, "a.very.long.reviewer.login@example.com");
        assert_eq!(long.chars().count(), 31, "{long}");
        let odd = sheet_name(2, "x[y]:z*?/\\");
        assert_eq!(odd, "2 x_y__z____");
    }
}
