//! Comparing a Current Assignments report export with the synced entitlements.

use idaudit_store::{
    AppGroupRow, AppRow, AppUserRow, DirectorySnapshot, GroupRow, Membership, Store, UserRow,
};

fn user(id: &str, login: &str) -> UserRow {
    UserRow {
        id: id.to_string(),
        status: "ACTIVE".to_string(),
        login: login.to_string(),
        raw: "{}".to_string(),
        ..UserRow::default()
    }
}

fn assignment(user_id: &str, scope: &str, group: Option<&str>) -> AppUserRow {
    AppUserRow {
        app_id: "0oacrm".to_string(),
        user_id: user_id.to_string(),
        scope: scope.to_string(),
        granting_group_id: group.map(str::to_string),
        raw: "{}".to_string(),
        ..AppUserRow::default()
    }
}

fn group(id: &str, name: &str) -> GroupRow {
    GroupRow {
        id: id.to_string(),
        group_type: "OKTA_GROUP".to_string(),
        name: name.to_string(),
        raw: "{}".to_string(),
        ..GroupRow::default()
    }
}

/// Ann direct, Bea through Sales, Cid through Sales (the report says
/// direct), Dee through Sales (the report says Marketing), Eve direct (not
/// in the report); Old is in the report only.
fn store(folder: &std::path::Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let logins = ["ann", "bea", "cid", "dee", "eve"];
    let snapshot = DirectorySnapshot {
        users: logins
            .iter()
            .map(|login| user(&format!("00u{login}"), &format!("{login}@example.com")))
            .collect(),
        groups: vec![group("00gsales", "Sales"), group("00gmkt", "Marketing")],
        memberships: ["bea", "cid", "dee"]
            .iter()
            .map(|login| Membership {
                group_id: "00gsales".to_string(),
                user_id: format!("00u{login}"),
            })
            .collect(),
        apps: vec![AppRow {
            id: "0oacrm".to_string(),
            name: "crm_app".to_string(),
            label: "CRM".to_string(),
            status: "ACTIVE".to_string(),
            raw: "{}".to_string(),
            ..AppRow::default()
        }],
        app_users: vec![
            assignment("00uann", "USER", None),
            assignment("00ubea", "GROUP", Some("00gsales")),
            assignment("00ucid", "GROUP", Some("00gsales")),
            assignment("00udee", "GROUP", Some("00gsales")),
            assignment("00ueve", "USER", None),
        ],
        app_groups: vec![AppGroupRow {
            app_id: "0oacrm".to_string(),
            group_id: "00gsales".to_string(),
            priority: Some(0),
            raw: "{}".to_string(),
        }],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    store
}

#[test]
fn report_differences_listed() {
    let folder = tempfile::tempdir().unwrap();
    let store = store(folder.path());
    let report = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/current-assignments.csv");
    let comparison = idaudit_review::compare_report(&store, "org", &report).unwrap();

    assert_eq!(comparison.report_rows, 5, "the unassigned row is skipped");
    assert_eq!(comparison.okta_assignments, 5);
    let found: Vec<(String, String, Option<u64>)> = comparison
        .differences
        .iter()
        .map(|difference| {
            (
                difference.kind.clone(),
                difference.user_login.clone(),
                difference.line,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "assigned-differently".to_string(),
                "cid@example.com".to_string(),
                Some(4)
            ),
            (
                "only-in-report".to_string(),
                "old@example.com".to_string(),
                Some(5)
            ),
            (
                "assigned-differently".to_string(),
                "dee@example.com".to_string(),
                Some(7)
            ),
            (
                "only-in-okta".to_string(),
                "eve@example.com".to_string(),
                None
            ),
        ]
    );
    let dee = &comparison.differences[2];
    assert_eq!(dee.okta.as_deref(), Some("group Sales"));
    assert_eq!(dee.report.as_deref(), Some("group Marketing"));
}

#[test]
fn report_without_login_column_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let store = store(folder.path());
    let report = folder.path().join("report.csv");
    std::fs::write(&report, "User,Application\nAnn,CRM\n").unwrap();
    let error = idaudit_review::compare_report(&store, "org", &report)
        .unwrap_err()
        .to_string();
    assert!(error.contains("no login column"), "{error}");
}
