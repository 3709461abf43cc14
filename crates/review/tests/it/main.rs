//! Review packages from a real SQLite store: every format carries hostile
//! profile values as inert text, and the workbook reads back.

mod audit;
mod charts;
mod chromium;
mod compare;
mod decide;
mod export;
mod joiners_movers;
mod options;

use calamine::{Data, Reader, Xlsx, open_workbook};
use idaudit_store::{AppRow, AppUserRow, DirectorySnapshot, Store, UserRow};

pub const SCRIPT: &str = "<script>alert('x')</script>";
pub const FORMULA: &str = "=HYPERLINK(\"https://evil.example\",\"click\")";
const RIGHT_TO_LEFT: &str = "\u{202e}gnp.exe";
pub const EMOJI: &str = "Zoë 🚀";

fn user(
    id: &str,
    login: &str,
    first: &str,
    last: &str,
    status: &str,
    manager: Option<&str>,
) -> UserRow {
    UserRow {
        id: id.to_string(),
        status: status.to_string(),
        login: login.to_string(),
        first_name: Some(first.to_string()),
        last_name: Some(last.to_string()),
        manager_id: manager.map(str::to_string),
        last_login: Some(idaudit_store::format_time(chrono::Utc::now())),
        raw: "{}".to_string(),
        ..UserRow::default()
    }
}

fn assignment(user_id: &str) -> AppUserRow {
    AppUserRow {
        app_id: "0oa1".to_string(),
        user_id: user_id.to_string(),
        scope: "USER".to_string(),
        raw: "{}".to_string(),
        ..AppUserRow::default()
    }
}

/// Builds a store with one manager and four reports whose profiles carry
/// hostile values, one of them deactivated but still assigned.
fn hostile_store(folder: &std::path::Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let snapshot = DirectorySnapshot {
        users: vec![
            user(
                "00umanager",
                "boss@example.com",
                "Big",
                "Boss",
                "ACTIVE",
                None,
            ),
            user(
                "00u1",
                "script@example.com",
                SCRIPT,
                "Doe",
                "ACTIVE",
                Some("00umanager"),
            ),
            user(
                "00u2",
                "formula@example.com",
                FORMULA,
                "Doe",
                "ACTIVE",
                Some("00umanager"),
            ),
            user(
                "00u3",
                "rtl@example.com",
                RIGHT_TO_LEFT,
                EMOJI,
                "ACTIVE",
                Some("00umanager"),
            ),
            user(
                "00u4",
                "leaver@example.com",
                "Lee",
                "Ver",
                "DEPROVISIONED",
                Some("00umanager"),
            ),
        ],
        apps: vec![AppRow {
            id: "0oa1".to_string(),
            name: "salesforce".to_string(),
            label: "Salesforce".to_string(),
            status: "ACTIVE".to_string(),
            raw: "{}".to_string(),
            ..AppRow::default()
        }],
        app_users: ["00u1", "00u2", "00u3", "00u4"]
            .into_iter()
            .map(assignment)
            .collect(),
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    store
}

#[test]
fn hostile_values_inert_in_every_format() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = hostile_store(folder.path());
    let started = idaudit_review::start_campaign(&mut store, "org", "Q4", &[]).unwrap();
    let out = folder.path().join("packages");
    let (_, packages) = idaudit_review::export_campaign(&store, Some(started.id), &out).unwrap();
    assert_eq!(packages.len(), 1);

    let html = std::fs::read_to_string(&packages[0].html).unwrap();
    assert!(!html.contains(SCRIPT), "raw script tag in the HTML");
    assert!(
        html.contains("&lt;script&gt;"),
        "escaped script tag missing"
    );
    assert!(html.contains(EMOJI));
    assert!(html.contains(RIGHT_TO_LEFT));

    let csv = std::fs::read_to_string(&packages[0].csv).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let names: Vec<String> = reader
        .records()
        .map(|record| record.unwrap()[3].to_string())
        .collect();
    assert!(
        names.iter().any(|name| name.starts_with("'=HYPERLINK")),
        "{names:?}"
    );
    assert!(names.iter().all(|name| !name.starts_with('=')), "{names:?}");
}

#[test]
fn workbook_reads_back() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = hostile_store(folder.path());
    let started = idaudit_review::start_campaign(&mut store, "org", "Q4", &[]).unwrap();
    let out = folder.path().join("packages");
    idaudit_review::export_campaign(&store, Some(started.id), &out).unwrap();

    let mut workbook: Xlsx<_> =
        open_workbook(out.join(format!("campaign-{}.xlsx", started.id))).unwrap();
    let sheets = workbook.sheet_names();
    assert_eq!(sheets[0], "Overview");
    assert_eq!(sheets.len(), 2, "{sheets:?}");

    let range = workbook.worksheet_range(&sheets[1]).unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|row| row.to_vec()).collect();
    assert_eq!(rows[0].last(), Some(&Data::String("Decision".to_string())));
    assert_eq!(rows.len(), 5, "a header and four items");
    // The formula-like name is a plain string cell, not a formula.
    assert!(
        rows.iter()
            .any(|row| row[2] == Data::String(format!("{FORMULA} Doe")))
    );
    let formulas = workbook.worksheet_formula(&sheets[1]).unwrap();
    assert!(
        formulas
            .used_cells()
            .all(|(_, _, formula)| formula.is_empty())
    );

    let leaver = rows
        .iter()
        .find(|row| row[1] == Data::String("leaver@example.com".to_string()))
        .unwrap();
    assert!(leaver[7].to_string().contains("deactivated-still-assigned"));
    assert_eq!(leaver[8], Data::String("revoke".to_string()));
}
