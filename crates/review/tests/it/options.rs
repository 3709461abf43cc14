//! Campaign options: reviewer routing, group scope, due date, and the risk
//! flags that depend on factors, admin roles and conflicting apps.

use idaudit_store::{
    AppGroupRow, AppRow, AppUserRow, DirectorySnapshot, FactorRow, GroupOwnerRow, GroupRow,
    Membership, RoleAssignmentRow, Store, UserRow,
};

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

fn app(id: &str, label: &str) -> AppRow {
    AppRow {
        id: id.to_string(),
        name: id.to_string(),
        label: label.to_string(),
        status: "ACTIVE".to_string(),
        raw: "{}".to_string(),
        ..AppRow::default()
    }
}

fn assignment(app_id: &str, user_id: &str, group: Option<&str>) -> AppUserRow {
    AppUserRow {
        app_id: app_id.to_string(),
        user_id: user_id.to_string(),
        scope: if group.is_some() { "GROUP" } else { "USER" }.to_string(),
        granting_group_id: group.map(str::to_string),
        raw: "{}".to_string(),
        ..AppUserRow::default()
    }
}

/// `amy` has Payroll through the Finance group (owned by `owner`) and
/// Payments directly, an admin role and no factor; `ben` has Payroll
/// directly and an active factor.
fn store(folder: &std::path::Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let snapshot = DirectorySnapshot {
        users: vec![
            user("boss", None),
            user("owner", None),
            user("amy", Some("boss")),
            user("ben", Some("boss")),
        ],
        groups: vec![GroupRow {
            id: "00gfin".to_string(),
            group_type: "OKTA_GROUP".to_string(),
            name: "Finance".to_string(),
            raw: "{}".to_string(),
            ..GroupRow::default()
        }],
        memberships: vec![Membership {
            group_id: "00gfin".to_string(),
            user_id: "amy".to_string(),
        }],
        apps: vec![app("0oapay", "Payroll"), app("0oapmt", "Payments")],
        app_users: vec![
            assignment("0oapay", "amy", Some("00gfin")),
            assignment("0oapmt", "amy", None),
            assignment("0oapay", "ben", None),
        ],
        app_groups: vec![AppGroupRow {
            app_id: "0oapay".to_string(),
            group_id: "00gfin".to_string(),
            priority: Some(0),
            raw: "{}".to_string(),
        }],
        role_assignments: vec![RoleAssignmentRow {
            assignee_type: "USER".to_string(),
            assignee_id: "amy".to_string(),
            id: "ra1".to_string(),
            role_type: "APP_ADMIN".to_string(),
            status: Some("ACTIVE".to_string()),
            raw: "{}".to_string(),
            ..RoleAssignmentRow::default()
        }],
        factors: vec![FactorRow {
            user_id: "ben".to_string(),
            id: "f1".to_string(),
            factor_type: "push".to_string(),
            status: Some("ACTIVE".to_string()),
            raw: "{}".to_string(),
            ..FactorRow::default()
        }],
        group_owners: vec![GroupOwnerRow {
            group_id: "00gfin".to_string(),
            owner_id: "owner".to_string(),
            owner_type: "USER".to_string(),
            raw: "{}".to_string(),
            ..GroupOwnerRow::default()
        }],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    store
}

#[test]
fn group_owner_reviews_group_access() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = store(folder.path());
    let options = idaudit_review::StartOptions {
        reviewer: idaudit_review::ReviewerRule::GroupOwner,
        due: Some("2026-12-31".to_string()),
        sod_conflicts: vec![("Payroll".to_string(), "Payments".to_string())],
        ..idaudit_review::StartOptions::default()
    };
    let started = idaudit_review::start_campaign_with(&mut store, "org", "Q4", &options).unwrap();
    let campaign = store.campaign(Some(started.id)).unwrap().unwrap();
    assert_eq!(campaign.scope["due"], "2026-12-31");
    assert_eq!(campaign.scope["reviewer"], "group-owner");

    let items = store.campaign_items(started.id).unwrap();
    let find = |user: &str, app: &str| {
        items
            .iter()
            .find(|item| item.user_id == user && item.app_label == app)
            .unwrap()
    };
    let amy_payroll = find("amy", "Payroll");
    assert_eq!(amy_payroll.reviewer_login, "owner@example.com");
    assert_eq!(amy_payroll.granting_groups, vec!["Finance".to_string()]);
    assert_eq!(
        amy_payroll.details.granting_group_ids,
        vec!["00gfin".to_string()]
    );
    for flag in ["no-mfa-factor", "privileged-role", "separation-of-duties"] {
        assert!(
            amy_payroll.flags.iter().any(|found| found == flag),
            "{flag}: {amy_payroll:?}"
        );
    }
    assert!(
        amy_payroll.reason.contains("Payments"),
        "{}",
        amy_payroll.reason
    );
    assert_eq!(amy_payroll.suggestion, "keep");

    // Direct assignments go to the manager.
    assert_eq!(find("amy", "Payments").reviewer_login, "boss@example.com");
    let ben = find("ben", "Payroll");
    assert!(ben.flags.is_empty(), "{:?}", ben.flags);
    assert!(ben.details.last_sign_in.is_some());
}

#[test]
fn named_reviewer_and_group_scope() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = store(folder.path());
    let options = idaudit_review::StartOptions {
        groups: vec!["finance".to_string()],
        reviewer: idaudit_review::ReviewerRule::User("owner@example.com".to_string()),
        ..idaudit_review::StartOptions::default()
    };
    let started = idaudit_review::start_campaign_with(&mut store, "org", "Q4", &options).unwrap();
    let items = store.campaign_items(started.id).unwrap();
    assert_eq!(items.len(), 1, "only access through Finance: {items:?}");
    assert_eq!(items[0].user_id, "amy");
    assert_eq!(items[0].reviewer_login, "owner@example.com");
    assert_eq!(items[0].reviewer_id.as_deref(), Some("owner"));

    let unknown = idaudit_review::StartOptions {
        groups: vec!["Nope".to_string()],
        ..idaudit_review::StartOptions::default()
    };
    let error = idaudit_review::start_campaign_with(&mut store, "org", "Q4", &unknown);
    assert!(matches!(
        error,
        Err(idaudit_review::ReviewError::UnknownGroup { .. })
    ));
}

#[test]
fn app_owner_reviews_by_id_or_label() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = store(folder.path());
    let owners = [
        ("payroll", "owner@example.com"),
        ("0oapmt", "cfo@example.com"),
        ("Retired App", "nobody@example.com"),
    ]
    .into_iter()
    .map(|(app, login)| (app.to_string(), login.to_string()))
    .collect();
    let options = idaudit_review::StartOptions {
        reviewer: idaudit_review::ReviewerRule::AppOwner(owners),
        ..idaudit_review::StartOptions::default()
    };
    let started = idaudit_review::start_campaign_with(&mut store, "org", "Q4", &options).unwrap();
    let campaign = store.campaign(Some(started.id)).unwrap().unwrap();
    assert_eq!(campaign.scope["reviewer"], "app-owner");
    assert_eq!(started.reviewers, 2);

    let items = store.campaign_items(started.id).unwrap();
    let find = |user: &str, app: &str| {
        items
            .iter()
            .find(|item| item.user_id == user && item.app_label == app)
            .unwrap()
    };
    // Matched by label, case-insensitively; the owner is a synced user.
    for user in ["amy", "ben"] {
        let payroll = find(user, "Payroll");
        assert_eq!(payroll.reviewer_login, "owner@example.com");
        assert_eq!(payroll.reviewer_id.as_deref(), Some("owner"));
    }
    // Matched by app id; the owner is not in the directory.
    let payments = find("amy", "Payments");
    assert_eq!(payments.reviewer_login, "cfo@example.com");
    assert_eq!(payments.reviewer_id, None);
    assert_eq!(payments.reviewer_name, "cfo@example.com");
}

#[test]
fn app_without_owner_goes_to_fallback() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = store(folder.path());
    let owners = [("Payroll".to_string(), "owner@example.com".to_string())].into();
    let options = idaudit_review::StartOptions {
        reviewer: idaudit_review::ReviewerRule::AppOwner(owners),
        ..idaudit_review::StartOptions::default()
    };
    let started = idaudit_review::start_campaign_with(&mut store, "org", "Q4", &options).unwrap();
    let items = store.campaign_items(started.id).unwrap();
    let payments: Vec<_> = items
        .iter()
        .filter(|item| item.app_label == "Payments")
        .collect();
    assert_eq!(payments.len(), 1);
    assert_eq!(
        payments[0].reviewer_login,
        idaudit_review::FALLBACK_REVIEWER
    );
    assert_eq!(payments[0].reviewer_id, None);
    assert_eq!(payments[0].reviewer_name, "No app owner configured");
    let payroll = items
        .iter()
        .filter(|item| item.app_label == "Payroll")
        .count();
    assert_eq!(payroll, 2);
    assert!(
        items
            .iter()
            .filter(|item| item.app_label == "Payroll")
            .all(|item| item.reviewer_login == "owner@example.com")
    );
}
