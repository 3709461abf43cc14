//! The joiner, mover and leaver audits as files: an HTML page with charts,
//! an XLSX workbook, CSV and JSON.
//!
//! Every value from the directory is text that an attacker may control (a
//! profile field, a group name). The HTML template escapes it, the chart
//! module escapes its labels, every CSV cell goes through [`inert_cell`],
//! and the workbook writes every value as a string cell, never a formula.

use std::path::{Path, PathBuf};

use minijinja::{Environment, context};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::joiners::AccessAudit;
use super::leavers::{LEAVERS_CSV_HEADER, LeaverReport, leaver_rows, leavers_csv};
use super::posture::{POSTURE_CSV_HEADER, Posture, posture_rows};
use crate::ReviewError;
use crate::chart::{self, Bar};
use crate::export::{inert_cell, write_file};

const ACCESS_TEMPLATE: &str = include_str!("../templates/access.html");
const LEAVERS_TEMPLATE: &str = include_str!("../templates/leavers.html");

/// Maximum number of bars in a per-person chart; the slowest people are kept.
const MAX_CHART_BARS: usize = 40;

/// The files written for one audit.
#[derive(Clone, Debug)]
pub struct AuditFiles {
    pub html: PathBuf,
    pub xlsx: PathBuf,
    pub csv: PathBuf,
    pub json: PathBuf,
}

impl AuditFiles {
    fn in_folder(folder: &Path, stem: &str) -> AuditFiles {
        AuditFiles {
            html: folder.join(format!("{stem}.html")),
            xlsx: folder.join(format!("{stem}.xlsx")),
            csv: folder.join(format!("{stem}.csv")),
            json: folder.join(format!("{stem}.json")),
        }
    }
}

/// The CSV columns of a joiner or mover audit: one row per violation, then
/// one per group-rule finding of a user outside the audit.
pub const ACCESS_CSV_HEADER: &[&str] = &[
    "user_id",
    "login",
    "name",
    "department",
    "started_at",
    "violation",
    "access_kind",
    "access_id",
    "access_name",
    "detail",
];

/// Returns the rows of [`ACCESS_CSV_HEADER`].
pub fn access_rows(audit: &AccessAudit) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for person in &audit.people {
        for violation in &person.violations {
            rows.push(vec![
                person.user.id.clone(),
                person.user.login.clone(),
                person.user.name.clone(),
                person.department.clone(),
                person.started_at.clone(),
                violation.violation.clone(),
                violation.access.kind.clone(),
                violation.access.id.clone(),
                violation.access.name.clone(),
                violation.detail.clone(),
            ]);
        }
    }
    for finding in &audit.group_rules.findings {
        if audit
            .people
            .iter()
            .any(|person| person.user.id == finding.user.id)
        {
            continue;
        }
        rows.push(vec![
            finding.user.id.clone(),
            finding.user.login.clone(),
            finding.user.name.clone(),
            String::new(),
            String::new(),
            format!("group-rule-{}", finding.finding),
            finding.group.kind.clone(),
            finding.group.id.clone(),
            finding.group.name.clone(),
            format!(
                "group rule `{}` ({})",
                finding.rule_name, finding.expression
            ),
        ]);
    }
    rows
}

/// Returns the audit as CSV with every cell made inert for spreadsheets.
pub fn access_csv(audit: &AccessAudit) -> Result<Vec<u8>, ReviewError> {
    csv_bytes(ACCESS_CSV_HEADER, &access_rows(audit))
}

fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, ReviewError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(ReviewError::Csv)?;
    for row in rows {
        writer
            .write_record(row.iter().map(|cell| inert_cell(cell)))
            .map_err(ReviewError::Csv)?;
    }
    writer
        .into_inner()
        .map_err(|error| ReviewError::Csv(error.into_error().into()))
}

/// Returns the bars of a violations-per-kind chart.
fn violations_per_kind<'a>(kinds: impl Iterator<Item = &'a str>) -> Vec<Bar> {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for kind in kinds {
        *counts.entry(kind).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(kind, count)| Bar::new(kind, count as f64))
        .collect()
}

/// Renders a joiner or mover audit as one self-contained HTML page.
pub fn access_html(audit: &AccessAudit) -> Result<String, ReviewError> {
    let kinds = audit
        .people
        .iter()
        .flat_map(|person| person.violations.iter())
        .map(|violation| violation.violation.as_str());
    let violations_chart =
        chart::horizontal_bars("Violations per kind", &violations_per_kind(kinds));

    let mut timed: Vec<Bar> = audit
        .people
        .iter()
        .filter_map(|person| {
            person
                .minutes_to_access
                .map(|minutes| Bar::new(person.user.login.clone(), minutes))
        })
        .collect();
    timed.sort_by(|left, right| right.value.total_cmp(&left.value));
    timed.truncate(MAX_CHART_BARS);
    let title = if audit.audit == "joiners" {
        "Minutes from activation to full birthright access"
    } else {
        "Minutes from the profile change to full birthright access"
    };
    let time_chart = chart::horizontal_bars(title, &timed);

    render(
        "access.html",
        ACCESS_TEMPLATE,
        context! {
            audit => audit,
            violations => audit.violation_count(),
            violations_chart => violations_chart,
            time_chart => time_chart,
        },
    )
}

/// Renders a leaver audit as one self-contained HTML page.
pub fn leavers_html(report: &LeaverReport) -> Result<String, ReviewError> {
    let kinds = report
        .leavers
        .iter()
        .flat_map(|leaver| leaver.violations.iter())
        .map(|violation| violation.violation.as_str());
    let violations_chart =
        chart::horizontal_bars("Violations per kind", &violations_per_kind(kinds));
    let mut held: Vec<Bar> = report
        .leavers
        .iter()
        .filter(|leaver| !leaver.violations.is_empty())
        .map(|leaver| Bar::new(leaver.user.login.clone(), leaver.violations.len() as f64))
        .collect();
    held.sort_by(|left, right| right.value.total_cmp(&left.value));
    held.truncate(MAX_CHART_BARS);
    let per_leaver_chart = chart::horizontal_bars("Violations per leaver", &held);
    let violations: usize = report
        .leavers
        .iter()
        .map(|leaver| leaver.violations.len())
        .sum();
    render(
        "leavers.html",
        LEAVERS_TEMPLATE,
        context! {
            report => report,
            violations => violations,
            violations_chart => violations_chart,
            per_leaver_chart => per_leaver_chart,
        },
    )
}

fn render(name: &str, source: &str, values: minijinja::Value) -> Result<String, ReviewError> {
    let mut environment = Environment::new();
    environment
        .add_template(name, source)
        .map_err(ReviewError::Template)?;
    environment
        .get_template(name)
        .and_then(|template| template.render(values))
        .map_err(ReviewError::Template)
}

/// One sheet of an audit workbook.
struct Sheet {
    name: &'static str,
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

/// Returns the bytes of a workbook of `sheets`; `name` names it in errors.
fn workbook_bytes(name: &str, sheets: &[Sheet]) -> Result<Vec<u8>, ReviewError> {
    let build = || -> Result<Vec<u8>, XlsxError> {
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        for sheet in sheets {
            let worksheet = workbook.add_worksheet();
            worksheet.set_name(sheet.name)?;
            for (column, title) in sheet.header.iter().enumerate() {
                worksheet.write_string_with_format(0, column as u16, *title, &bold)?;
            }
            for (index, row) in sheet.rows.iter().enumerate() {
                for (column, cell) in row.iter().enumerate() {
                    // Strings only: a value such as `=HYPERLINK(...)` stays text.
                    worksheet.write_string(index as u32 + 1, column as u16, cell)?;
                }
            }
            worksheet.set_freeze_panes(1, 0)?;
        }
        workbook.save_to_buffer()
    };
    build().map_err(|source| ReviewError::Xlsx {
        path: PathBuf::from(name),
        source,
    })
}

/// Returns the workbook of a joiner or mover audit: violations, expected
/// against actual access, timelines and group-rule findings.
pub fn access_xlsx(audit: &AccessAudit) -> Result<Vec<u8>, ReviewError> {
    let mut people = Vec::new();
    let mut expected = Vec::new();
    let mut timeline = Vec::new();
    for person in &audit.people {
        people.push(vec![
            person.user.id.clone(),
            person.user.login.clone(),
            person.user.name.clone(),
            person.user.status.clone(),
            person.department.clone(),
            person.title.clone(),
            person.manager.clone(),
            person.started_at.clone(),
            person.matched_rules.join("; "),
            person
                .minutes_to_access
                .map(|minutes| minutes.to_string())
                .unwrap_or_default(),
            person.violations.len().to_string(),
        ]);
        for item in &person.expected {
            expected.push(vec![
                person.user.login.clone(),
                item.access.kind.clone(),
                item.access.name.clone(),
                item.access.id.clone(),
                item.rules.join("; "),
                if item.held { "yes" } else { "no" }.to_string(),
                item.granted_at.clone().unwrap_or_default(),
                item.minutes_to_access
                    .map(|minutes| minutes.to_string())
                    .unwrap_or_default(),
            ]);
        }
        for entry in &person.timeline {
            timeline.push(vec![
                person.user.login.clone(),
                entry.time.clone(),
                entry.source.clone(),
                entry.action.clone(),
                entry.object.clone(),
            ]);
        }
    }
    let rules = audit
        .group_rules
        .findings
        .iter()
        .map(|finding| {
            vec![
                finding.rule_name.clone(),
                finding.expression.clone(),
                finding.finding.clone(),
                finding.user.login.clone(),
                finding.user.name.clone(),
                finding.group.name.clone(),
            ]
        })
        .collect();
    let sheets = [
        Sheet {
            name: "Violations",
            header: ACCESS_CSV_HEADER.to_vec(),
            rows: access_rows(audit),
        },
        Sheet {
            name: "People",
            header: vec![
                "user_id",
                "login",
                "name",
                "status",
                "department",
                "title",
                "manager",
                "started_at",
                "matched_rules",
                "minutes_to_access",
                "violations",
            ],
            rows: people,
        },
        Sheet {
            name: "Expected access",
            header: vec![
                "login",
                "kind",
                "access",
                "access_id",
                "rules",
                "held",
                "granted_at",
                "minutes_to_access",
            ],
            rows: expected,
        },
        Sheet {
            name: "Timeline",
            header: vec!["login", "time", "source", "action", "object"],
            rows: timeline,
        },
        Sheet {
            name: "Group rules",
            header: vec!["rule", "expression", "finding", "login", "name", "group"],
            rows: rules,
        },
    ];
    workbook_bytes(&format!("{}.xlsx", audit.audit), &sheets)
}

/// Writes `<audit>.html`, `.xlsx`, `.csv` and `.json` into `out_dir`, where
/// `<audit>` is `joiners` or `movers`.
pub fn write_access_audit(audit: &AccessAudit, out_dir: &Path) -> Result<AuditFiles, ReviewError> {
    create_folder(out_dir)?;
    let files = AuditFiles::in_folder(out_dir, &audit.audit);
    write_file(&files.html, access_html(audit)?.as_bytes())?;
    write_file(&files.xlsx, &access_xlsx(audit)?)?;
    write_file(&files.csv, &access_csv(audit)?)?;
    let json = serde_json::to_vec_pretty(audit).map_err(ReviewError::Json)?;
    write_file(&files.json, &json)?;
    Ok(files)
}

/// Returns the workbook of a leaver audit: violations, leavers and timelines.
pub fn leavers_xlsx(report: &LeaverReport) -> Result<Vec<u8>, ReviewError> {
    let mut leavers = Vec::new();
    let mut timeline = Vec::new();
    for leaver in &report.leavers {
        leavers.push(vec![
            leaver.user.id.clone(),
            leaver.user.login.clone(),
            leaver.user.name.clone(),
            leaver.how.clone(),
            leaver.left_at.clone(),
            leaver.deadline.clone(),
            leaver.last_sign_in.clone().unwrap_or_default(),
            leaver.current_status.clone(),
            leaver.still_held.len().to_string(),
            leaver.violations.len().to_string(),
        ]);
        for entry in &leaver.timeline {
            timeline.push(vec![
                leaver.user.login.clone(),
                entry.time.clone(),
                entry.source.clone(),
                entry.action.clone(),
                entry.object.clone(),
            ]);
        }
    }
    let sheets = [
        Sheet {
            name: "Violations",
            header: LEAVERS_CSV_HEADER.to_vec(),
            rows: leaver_rows(report)
                .into_iter()
                .map(|row| row.to_vec())
                .collect(),
        },
        Sheet {
            name: "Leavers",
            header: vec![
                "user_id",
                "login",
                "name",
                "how",
                "left_at",
                "deadline",
                "last_sign_in",
                "status_now",
                "still_held",
                "violations",
            ],
            rows: leavers,
        },
        Sheet {
            name: "Timeline",
            header: vec!["login", "time", "source", "action", "object"],
            rows: timeline,
        },
    ];
    workbook_bytes("leavers.xlsx", &sheets)
}

/// Writes `leavers.html`, `.xlsx`, `.csv` and `.json` into `out_dir`.
pub fn write_leaver_audit(
    report: &LeaverReport,
    out_dir: &Path,
) -> Result<AuditFiles, ReviewError> {
    create_folder(out_dir)?;
    let files = AuditFiles::in_folder(out_dir, "leavers");
    write_file(&files.html, leavers_html(report)?.as_bytes())?;
    write_file(&files.xlsx, &leavers_xlsx(report)?)?;
    write_file(&files.csv, &leavers_csv(report)?)?;
    let json = serde_json::to_vec_pretty(report).map_err(ReviewError::Json)?;
    write_file(&files.json, &json)?;
    Ok(files)
}

/// Returns the posture report as a workbook with one row per finding.
pub fn posture_xlsx(posture: &Posture) -> Result<Vec<u8>, ReviewError> {
    let sheets = [Sheet {
        name: "Findings",
        header: POSTURE_CSV_HEADER.to_vec(),
        rows: posture_rows(posture)
            .into_iter()
            .map(|row| row.to_vec())
            .collect(),
    }];
    workbook_bytes("posture.xlsx", &sheets)
}

fn create_folder(out_dir: &Path) -> Result<(), ReviewError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReviewError::Write {
        path: out_dir.to_path_buf(),
        source,
    })
}
