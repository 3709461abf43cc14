//! Export of a campaign whose item numbers do not follow the reviewers:
//! every format still groups items by reviewer in login order, each group
//! in item order, and `campaign.json` lists the items in item order.

use calamine::Reader;
use idaudit_store::{AppRow, AppUserRow, DirectorySnapshot, Store, UserRow};

fn user(id: &str, manager: Option<&str>) -> UserRow {
    UserRow {
        id: id.to_string(),
        status: "ACTIVE".to_string(),
        login: format!("{id}@example.com"),
        manager_id: manager.map(str::to_string),
        last_login: Some(idaudit_store::format_time(chrono::Utc::now())),
        raw: "{}".to_string(),
        ..UserRow::default()
    }
}

/// Two managers, `anna` and `zoe`, with two reports each holding two apps.
fn store(folder: &std::path::Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let users = vec![
        user("anna", None),
        user("zoe", None),
        user("amy", Some("anna")),
        user("bob", Some("anna")),
        user("cal", Some("zoe")),
        user("dee", Some("zoe")),
    ];
    let apps: Vec<AppRow> = ["Payroll", "Wiki"]
        .iter()
        .map(|label| AppRow {
            id: format!("0oa{label}"),
            name: label.to_lowercase(),
            label: label.to_string(),
            status: "ACTIVE".to_string(),
            raw: "{}".to_string(),
            ..AppRow::default()
        })
        .collect();
    let mut app_users = Vec::new();
    for app in &apps {
        for user in ["amy", "bob", "cal", "dee"] {
            app_users.push(AppUserRow {
                app_id: app.id.clone(),
                user_id: user.to_string(),
                scope: "USER".to_string(),
                raw: "{}".to_string(),
                ..AppUserRow::default()
            });
        }
    }
    let snapshot = DirectorySnapshot {
        users,
        apps,
        app_users,
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    store
}

#[test]
fn export_regroups_items_numbered_out_of_order() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = store(folder.path());
    let started = idaudit_review::start_campaign(&mut store, "org", "Q1", &[]).unwrap();
    let campaign = store.campaign(Some(started.id)).unwrap().unwrap();

    // The same items numbered in reverse: zoe's items come first.
    let mut items = store.campaign_items(started.id).unwrap();
    let count = items.len() as i64;
    for item in &mut items {
        item.item_no = count + 1 - item.item_no;
    }
    items.reverse();
    let reversed = store
        .create_campaign("Q1 reversed", "org", &campaign.scope, &items)
        .unwrap();
    assert_eq!(items[0].reviewer_login, "zoe@example.com");

    let out = folder.path().join("packages");
    let (_, packages) = idaudit_review::export_campaign(&store, Some(reversed), &out).unwrap();
    let reviewers: Vec<&str> = packages
        .iter()
        .map(|package| package.reviewer_login.as_str())
        .collect();
    assert_eq!(reviewers, ["anna@example.com", "zoe@example.com"]);
    for package in &packages {
        assert_eq!(package.items, 4, "{}", package.reviewer_login);
        let mut reader = csv::Reader::from_path(&package.csv).unwrap();
        let numbers: Vec<i64> = reader
            .records()
            .map(|record| record.unwrap()[0].parse().unwrap())
            .collect();
        let mut sorted = numbers.clone();
        sorted.sort();
        assert_eq!(numbers, sorted, "{}", package.reviewer_login);
    }
    // anna's items got the last numbers, 5 to 8.
    let anna = std::fs::read_to_string(&packages[0].csv).unwrap();
    assert!(anna.lines().nth(1).unwrap().starts_with("5,"), "{anna}");

    let json = std::fs::read_to_string(out.join("campaign.json")).unwrap();
    let whole: serde_json::Value = serde_json::from_str(&json).unwrap();
    let numbers: Vec<i64> = whole["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["item_no"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());

    let workbook = out.join(format!("campaign-{reversed}.xlsx"));
    let workbook: calamine::Xlsx<_> = calamine::open_workbook(workbook).unwrap();
    let sheets = workbook.sheet_names();
    assert_eq!(
        sheets,
        ["Overview", "1 anna@example.com", "2 zoe@example.com"]
    );
}
