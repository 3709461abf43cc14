//! Charts in the HTML packages: access granted per month and flagged items
//! in each reviewer's package, decisions and items per reviewer in the
//! auditor package's summary.

use idaudit_store::{AppRow, AppUserRow, CampaignDecision, DirectorySnapshot, Store, UserRow};

use crate::SCRIPT;

fn user(id: &str, login: &str, status: &str, manager: Option<&str>) -> UserRow {
    UserRow {
        id: id.to_string(),
        status: status.to_string(),
        login: login.to_string(),
        manager_id: manager.map(str::to_string),
        last_login: Some(idaudit_store::format_time(chrono::Utc::now())),
        raw: "{}".to_string(),
        ..UserRow::default()
    }
}

fn assignment(app_id: &str, user_id: &str, created: &str) -> AppUserRow {
    AppUserRow {
        app_id: app_id.to_string(),
        user_id: user_id.to_string(),
        scope: "USER".to_string(),
        created: Some(created.to_string()),
        raw: "{}".to_string(),
        ..AppUserRow::default()
    }
}

/// Two managers: `boss` with three reports granted in January and March
/// 2026, one of them suspended, and a manager whose login is markup with one
/// report.
fn store(folder: &std::path::Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let snapshot = DirectorySnapshot {
        users: vec![
            user("boss", "boss@example.com", "ACTIVE", None),
            user("odd", SCRIPT, "ACTIVE", None),
            user("amy", "amy@example.com", "ACTIVE", Some("boss")),
            user("ben", "ben@example.com", "SUSPENDED", Some("boss")),
            user("cat", "cat@example.com", "ACTIVE", Some("boss")),
            user("dan", "dan@example.com", "ACTIVE", Some("odd")),
        ],
        apps: vec![AppRow {
            id: "0oa1".to_string(),
            name: "payroll".to_string(),
            label: "Payroll".to_string(),
            status: "ACTIVE".to_string(),
            raw: "{}".to_string(),
            ..AppRow::default()
        }],
        app_users: vec![
            assignment("0oa1", "amy", "2026-01-05T10:00:00.000Z"),
            assignment("0oa1", "ben", "2026-01-20T10:00:00.000Z"),
            assignment("0oa1", "cat", "2026-03-02T10:00:00.000Z"),
            assignment("0oa1", "dan", "2026-03-02T10:00:00.000Z"),
        ],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    store
}

/// Returns the inline SVG whose `aria-label` is `title`.
fn svg<'a>(html: &'a str, title: &str) -> &'a str {
    let label = format!("aria-label=\"{title}\"");
    let at = html
        .find(&label)
        .unwrap_or_else(|| panic!("no chart {title}"));
    let start = html[..at].rfind("<svg").unwrap();
    let end = at + html[at..].find("</svg>").unwrap();
    &html[start..end]
}

#[test]
fn reviewer_package_charts_grants_and_flags() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = store(folder.path());
    let started = idaudit_review::start_campaign(&mut store, "org", "Q1", &[]).unwrap();
    let out = folder.path().join("packages");
    let (_, packages) = idaudit_review::export_campaign(&store, Some(started.id), &out).unwrap();
    let boss = packages
        .iter()
        .find(|package| package.reviewer_login == "boss@example.com")
        .unwrap();
    let html = std::fs::read_to_string(&boss.html).unwrap();

    // January (2 grants), February (none) and March (1 grant).
    let granted = svg(&html, "Access granted per month");
    assert_eq!(granted.matches("<rect").count(), 3, "{granted}");
    for month in ["2026-01: 2", "2026-02: 0", "2026-03: 1"] {
        assert!(granted.contains(month), "{month}: {granted}");
    }
    let flags = svg(&html, "Flagged items per flag");
    assert_eq!(flags.matches("<rect").count(), 1, "{flags}");
    assert!(flags.contains(idaudit_review::FLAG_SUSPENDED), "{flags}");
    // The table is still there, after the charts.
    assert!(html.find("<svg").unwrap() < html.find("<table").unwrap());
    assert_eq!(html.matches("data-item=").count(), 3);
}

#[test]
fn summary_charts_reviewers_and_decisions() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = store(folder.path());
    let started = idaudit_review::start_campaign(&mut store, "org", "Q1", &[]).unwrap();
    // Boss decides two of three items; the other reviewer decides nothing.
    let items = store.campaign_items(started.id).unwrap();
    let decisions: Vec<CampaignDecision> = items
        .iter()
        .filter(|item| item.reviewer_login == "boss@example.com")
        .take(2)
        .map(|item| CampaignDecision {
            item_no: item.item_no,
            decision: "keep".to_string(),
            reviewer_login: item.reviewer_login.clone(),
            decided_at: idaudit_store::format_time(chrono::Utc::now()),
            source: "test".to_string(),
        })
        .collect();
    store.record_decisions(started.id, &decisions).unwrap();
    let closed =
        idaudit_review::close_campaign(&store, Some(started.id), &folder.path().join("audit"))
            .unwrap();
    let html = std::fs::read_to_string(closed.folder.join("summary.html")).unwrap();

    assert!(!html.contains(SCRIPT), "raw markup from a login");
    let decided = svg(&html, "Decisions");
    assert!(decided.contains(">Kept<"), "{decided}");
    assert!(decided.contains(">2<"), "{decided}");
    let items_chart = svg(&html, "Items per reviewer");
    assert_eq!(items_chart.matches("<rect").count(), 2, "{items_chart}");
    // Most items first: boss (3), then the other reviewer (1).
    let boss = items_chart.find("boss@example.com").unwrap();
    let other = items_chart.find("&lt;script&gt;").unwrap();
    assert!(boss < other, "{items_chart}");
    let per_reviewer = svg(&html, "Decisions per reviewer");
    assert_eq!(per_reviewer.matches("<rect").count(), 2, "{per_reviewer}");
    assert!(per_reviewer.contains(">2</text>"), "{per_reviewer}");
    assert!(per_reviewer.contains(">0</text>"), "{per_reviewer}");
}
