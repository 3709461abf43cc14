//! Importing decisions: a file with any bad row is rejected whole, with row
//! numbers, and a clean one is stored; the closed package keeps hostile
//! values inert and verifies.

use idaudit_store::{AppRow, AppUserRow, DirectorySnapshot, Store, UserRow};

use crate::{EMOJI, FORMULA, SCRIPT};

fn user(id: &str, login: &str, first: &str, manager: Option<&str>) -> UserRow {
    UserRow {
        id: id.to_string(),
        status: "ACTIVE".to_string(),
        login: login.to_string(),
        first_name: Some(first.to_string()),
        last_name: Some(EMOJI.to_string()),
        manager_id: manager.map(str::to_string),
        last_login: Some(idaudit_store::format_time(chrono::Utc::now())),
        raw: "{}".to_string(),
        ..UserRow::default()
    }
}

/// Two managers with two reports each, all assigned to one app.
fn two_reviewer_store(folder: &std::path::Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let snapshot = DirectorySnapshot {
        users: vec![
            user("00ua", "alice@example.com", "Alice", None),
            user("00ub", "bob@example.com", "Bob", None),
            user("00u1", "one@example.com", SCRIPT, Some("00ua")),
            user("00u2", "two@example.com", FORMULA, Some("00ua")),
            user("00u3", "three@example.com", "Three", Some("00ub")),
            user("00u4", "four@example.com", "Four", Some("00ub")),
        ],
        apps: vec![AppRow {
            id: "0oa1".to_string(),
            name: "crm".to_string(),
            label: "CRM".to_string(),
            status: "ACTIVE".to_string(),
            raw: "{}".to_string(),
            ..AppRow::default()
        }],
        app_users: ["00u1", "00u2", "00u3", "00u4"]
            .into_iter()
            .map(|user_id| AppUserRow {
                app_id: "0oa1".to_string(),
                user_id: user_id.to_string(),
                scope: "USER".to_string(),
                raw: "{}".to_string(),
                ..AppUserRow::default()
            })
            .collect(),
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    store
}

/// Exports the campaign and returns Alice's CSV package.
fn alice_csv(store: &mut Store, folder: &std::path::Path) -> (i64, String) {
    let started = idaudit_review::start_campaign(store, "org", "Q4", &[]).unwrap();
    let out = folder.join("packages");
    idaudit_review::export_campaign(store, Some(started.id), &out).unwrap();
    let csv = std::fs::read_to_string(out.join("alice@example.com.csv")).unwrap();
    (started.id, csv)
}

/// Sets the decision (last column) of CSV line `line` (1 is the header).
fn decide_line(csv: &str, line: usize, decision: &str) -> String {
    csv.lines()
        .enumerate()
        .map(|(index, text)| {
            if index + 1 == line {
                format!("{text}{decision}")
            } else {
                text.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn bad_rows_reject_whole_file() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = two_reviewer_store(folder.path());
    let (campaign, csv) = alice_csv(&mut store, folder.path());
    assert_eq!(csv.lines().count(), 3, "{csv}");

    // A good decision on line 2, then three bad rows.
    let mut edited = decide_line(&csv, 2, "revoke");
    edited.push_str("\n99,alice@example.com,x@example.com,X,ACTIVE,CRM,direct,,,keep,r,keep");
    edited.push_str("\n4,alice@example.com,three@example.com,T,ACTIVE,CRM,direct,,,keep,r,revoke");
    let changed = csv.lines().nth(2).unwrap().replace("CRM", "Payroll");
    edited.push_str(&format!("\n{changed}keep"));
    let path = folder.path().join("edited.csv");
    std::fs::write(&path, edited).unwrap();

    let error = idaudit_review::import_decisions(&mut store, Some(campaign), &path, None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("line 4: item 99 is not in the campaign"),
        "{error}"
    );
    assert!(
        error.contains(
            "line 5: item 4 belongs to reviewer `bob@example.com`, not `alice@example.com`"
        ),
        "{error}"
    );
    assert!(error.contains("line 6: item 2 is listed again"), "{error}");
    assert!(error.contains("no decision was stored"), "{error}");
    assert!(store.campaign_decisions(campaign).unwrap().is_empty());
}

#[test]
fn changed_key_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = two_reviewer_store(folder.path());
    let (campaign, csv) = alice_csv(&mut store, folder.path());
    let edited = decide_line(&csv, 3, "keep").replace("two@example.com", "someone@example.com");
    let path = folder.path().join("edited.csv");
    std::fs::write(&path, edited).unwrap();

    let error = idaudit_review::import_decisions(&mut store, Some(campaign), &path, None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("line 3: item 2 changed: user `someone@example.com` in the file"),
        "{error}"
    );
    assert!(store.campaign_decisions(campaign).unwrap().is_empty());
}

#[test]
fn invalid_decision_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = two_reviewer_store(folder.path());
    let (campaign, csv) = alice_csv(&mut store, folder.path());
    let path = folder.path().join("edited.csv");
    std::fs::write(&path, decide_line(&csv, 2, "=1+1")).unwrap();
    let error = idaudit_review::import_decisions(&mut store, Some(campaign), &path, None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("line 2: decision `=1+1` is not"), "{error}");
}

#[test]
fn reviewer_option_limits_items() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = two_reviewer_store(folder.path());
    let (campaign, csv) = alice_csv(&mut store, folder.path());
    let path = folder.path().join("edited.csv");
    std::fs::write(&path, decide_line(&csv, 2, "keep")).unwrap();
    let result = idaudit_review::import_decisions(
        &mut store,
        Some(campaign),
        &path,
        Some("bob@example.com"),
    );
    assert!(result.is_err());
    assert!(store.campaign_decisions(campaign).unwrap().is_empty());
}

#[test]
fn clean_file_stored_then_closed() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = two_reviewer_store(folder.path());
    let (campaign, csv) = alice_csv(&mut store, folder.path());
    let edited = decide_line(&decide_line(&csv, 2, "revoke"), 3, "Keep");
    let path = folder.path().join("edited.csv");
    std::fs::write(&path, edited).unwrap();

    let imported =
        idaudit_review::import_decisions(&mut store, Some(campaign), &path, None).unwrap();
    assert_eq!(
        (imported.keep, imported.revoke, imported.undecided),
        (1, 1, 0)
    );
    let decisions = store.campaign_decisions(campaign).unwrap();
    assert_eq!(decisions.len(), 2);
    assert_eq!(decisions[0].reviewer_login, "alice@example.com");
    assert!(decisions[0].source.contains(&imported.file_sha256));

    let out = folder.path().join("audit");
    let closed = idaudit_review::close_campaign(&store, Some(campaign), &out).unwrap();
    let html = std::fs::read_to_string(closed.folder.join("summary.html")).unwrap();
    assert!(!html.contains("<script>alert"));
    let items = std::fs::read_to_string(closed.folder.join("items.csv")).unwrap();
    assert!(items.contains("'=HYPERLINK"), "{items}");
    assert!(!items.contains(",=HYPERLINK"), "{items}");
    assert!(items.contains(EMOJI));

    let expected = idaudit_review::Expected {
        root: Some(closed.root.clone()),
        zip_sha256: Some(closed.zip_sha256.clone()),
    };
    for package in [&closed.folder, &closed.zip] {
        let verification = idaudit_review::verify_package(package, &expected).unwrap();
        assert!(verification.is_intact(), "{:?}", verification.problems);
    }

    // A closed campaign takes no more decisions.
    let again = idaudit_review::import_decisions(&mut store, Some(campaign), &path, None);
    assert!(matches!(
        again,
        Err(idaudit_review::ReviewError::Closed { .. })
    ));
}
