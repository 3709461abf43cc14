//! Posture and leaver audits on a real SQLite store: each finding lists the
//! expected users and apps, and hostile profile values stay inert in the
//! HTML and CSV files.

use chrono::{Duration, Utc};
use idaudit_review::audit::{
    LeaverOptions, PostureOptions, leavers, posture, write_leavers, write_posture,
};
use idaudit_store::{
    AppGroupRow, AppRow, AppUserRow, DirectorySnapshot, EventRecord, FactorRow, GroupRow,
    Membership, RoleAssignmentRow, Store, UserRow,
};

use crate::{FORMULA, SCRIPT};

fn user(id: &str, status: &str, days_since_login: Option<i64>, manager: Option<&str>) -> UserRow {
    let now = Utc::now();
    UserRow {
        id: id.to_string(),
        status: status.to_string(),
        login: format!("{id}@example.com"),
        first_name: Some(id.to_string()),
        manager_id: manager.map(str::to_string),
        created: Some(idaudit_store::format_time(now - Duration::days(400))),
        last_login: days_since_login
            .map(|days| idaudit_store::format_time(now - Duration::days(days))),
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

fn factor(user_id: &str, status: &str) -> FactorRow {
    FactorRow {
        user_id: user_id.to_string(),
        id: format!("mfa-{user_id}"),
        factor_type: "token:software:totp".to_string(),
        status: Some(status.to_string()),
        raw: "{}".to_string(),
        ..FactorRow::default()
    }
}

fn role(assignee_type: &str, assignee_id: &str, role_type: &str) -> RoleAssignmentRow {
    RoleAssignmentRow {
        assignee_type: assignee_type.to_string(),
        assignee_id: assignee_id.to_string(),
        id: format!("ra-{assignee_id}"),
        role_type: role_type.to_string(),
        status: Some("ACTIVE".to_string()),
        raw: "{}".to_string(),
        ..RoleAssignmentRow::default()
    }
}

fn sso(uuid: &str, user_id: &str, app_id: &str, days_ago: i64, result: &str) -> EventRecord {
    let published = idaudit_store::format_time(Utc::now() - Duration::days(days_ago));
    let raw = serde_json::json!({
        "uuid": uuid,
        "published": published,
        "eventType": "user.authentication.sso",
        "actor": {"id": user_id, "type": "User"},
        "outcome": {"result": result},
        "target": [{"id": app_id, "type": "AppInstance"}],
    });
    EventRecord {
        uuid: uuid.to_string(),
        published,
        event_type: "user.authentication.sso".to_string(),
        actor_id: Some(user_id.to_string()),
        actor_alternate_id: None,
        outcome_result: Some(result.to_string()),
        client_ip: None,
        raw: raw.to_string(),
    }
}

/// Five users:
/// - `boss`: no manager, super admin, a factor.
/// - `amy`: admin through the Helpdesk group, a factor, a script as first name.
/// - `ben`: no factor, inactive for 200 days, a formula as first name.
/// - `cat`: never signed in, a pending factor, a manager only in the raw profile.
/// - `dan`: deactivated, so every user check skips him.
///
/// Payroll is signed into, Wiki is assigned to a group but only a failed
/// SSO names it, and Legacy has no assignment.
fn posture_store(folder: &std::path::Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let mut amy = user("amy", "ACTIVE", Some(1), Some("boss"));
    amy.first_name = Some(SCRIPT.to_string());
    let mut ben = user("ben", "ACTIVE", Some(200), Some("boss"));
    ben.first_name = Some(FORMULA.to_string());
    let mut cat = user("cat", "ACTIVE", None, None);
    cat.raw = r#"{"profile":{"manager":"Big Boss"}}"#.to_string();
    let snapshot = DirectorySnapshot {
        users: vec![
            user("boss", "ACTIVE", Some(2), None),
            amy,
            ben,
            cat,
            user("dan", "DEPROVISIONED", Some(300), None),
        ],
        groups: vec![GroupRow {
            id: "00ghelp".to_string(),
            group_type: "OKTA_GROUP".to_string(),
            name: "Helpdesk".to_string(),
            raw: "{}".to_string(),
            ..GroupRow::default()
        }],
        memberships: vec![Membership {
            group_id: "00ghelp".to_string(),
            user_id: "amy".to_string(),
        }],
        apps: vec![
            app("0oapay", "Payroll"),
            app("0oawiki", "Wiki"),
            app("0oaold", "Legacy"),
        ],
        app_users: vec![AppUserRow {
            app_id: "0oapay".to_string(),
            user_id: "ben".to_string(),
            scope: "USER".to_string(),
            raw: "{}".to_string(),
            ..AppUserRow::default()
        }],
        app_groups: vec![AppGroupRow {
            app_id: "0oawiki".to_string(),
            group_id: "00ghelp".to_string(),
            priority: Some(0),
            raw: "{}".to_string(),
        }],
        role_assignments: vec![
            role("USER", "boss", "SUPER_ADMIN"),
            role("GROUP", "00ghelp", "HELP_DESK_ADMIN"),
        ],
        factors: vec![
            factor("boss", "ACTIVE"),
            factor("amy", "ACTIVE"),
            factor("cat", "PENDING_ACTIVATION"),
        ],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    let events = [
        sso("e1", "ben", "0oapay", 3, "SUCCESS"),
        sso("e2", "amy", "0oawiki", 3, "FAILURE"),
        sso("e3", "amy", "0oaold", 120, "SUCCESS"),
    ];
    store.insert_events("org", "import", &events).unwrap();
    store
}

fn ids<'a>(
    users: impl IntoIterator<Item = &'a idaudit_review::audit::PostureUser>,
) -> Vec<&'a str> {
    let mut ids: Vec<&str> = users.into_iter().map(|user| user.id.as_str()).collect();
    ids.sort();
    ids
}

#[test]
fn posture_counts_findings() {
    let folder = tempfile::tempdir().unwrap();
    let store = posture_store(folder.path());
    let report = posture(&store, "org", &PostureOptions::default()).unwrap();

    assert_eq!(report.mfa.active_users, 4);
    assert_eq!(report.mfa.with_factor, 2);
    assert_eq!(report.mfa.percent, 50.0);
    assert_eq!(ids(&report.mfa.without_factor), ["ben", "cat"]);
    assert_eq!(ids(&report.inactive_users), ["ben", "cat"]);
    assert_eq!(ids(&report.users_without_manager), ["boss"]);

    let admins: Vec<(&str, &str, Option<&str>)> = report
        .admins
        .iter()
        .map(|grant| {
            (
                grant.user.id.as_str(),
                grant.role.as_str(),
                grant.group.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        admins,
        [
            ("amy", "HELP_DESK_ADMIN", Some("Helpdesk")),
            ("boss", "SUPER_ADMIN", None)
        ]
    );

    let labels = |apps: &[idaudit_review::audit::PostureApp]| -> Vec<String> {
        apps.iter().map(|app| app.label.clone()).collect()
    };
    assert_eq!(labels(&report.apps_without_assignments), ["Legacy"]);
    assert_eq!(labels(&report.apps_without_sign_ins), ["Legacy", "Wiki"]);
    assert_eq!(
        report.sso_events_read, 2,
        "the old event is outside the window"
    );
}

#[test]
fn posture_inactive_days_option() {
    let folder = tempfile::tempdir().unwrap();
    let store = posture_store(folder.path());
    let options = PostureOptions {
        inactive_days: 250,
        ..PostureOptions::default()
    };
    let report = posture(&store, "org", &options).unwrap();
    assert_eq!(ids(&report.inactive_users), ["cat"]);
}

#[test]
fn posture_empty_org_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(folder.path().join("idaudit.db")).unwrap();
    let error = posture(&store, "org", &PostureOptions::default()).unwrap_err();
    assert!(error.to_string().contains("idaudit sync"), "{error}");
}

#[test]
fn posture_files_inert() {
    let folder = tempfile::tempdir().unwrap();
    let store = posture_store(folder.path());
    let report = posture(&store, "org", &PostureOptions::default()).unwrap();
    let files = write_posture(&report, &folder.path().join("out")).unwrap();

    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(!html.contains(SCRIPT), "raw script tag in the HTML");
    assert!(
        html.contains("&lt;script&gt;"),
        "escaped script tag missing"
    );
    // The summary carries a chart of findings per check, drawn inline.
    assert!(html.contains("<h2>Findings per check</h2>"), "{html}");
    assert!(html.contains("<svg"), "{html}");

    let csv = std::fs::read_to_string(&files.csv).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let names: Vec<String> = reader
        .records()
        .map(|record| record.unwrap()[3].to_string())
        .collect();
    assert!(names.iter().any(|name| name == SCRIPT), "{names:?}");
    assert!(
        names.iter().any(|name| name.starts_with("'=HYPERLINK")),
        "{names:?}"
    );
    let cells: Vec<String> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .flat_map(|record| {
            record
                .unwrap()
                .iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        cells
            .iter()
            .all(|cell| !cell.starts_with(['=', '+', '-', '@'])),
        "{cells:?}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(json["mfa"]["with_factor"], 2);
}

fn lifecycle(uuid: &str, event_type: &str, user_id: &str, hours_ago: i64) -> EventRecord {
    let published = idaudit_store::format_time(Utc::now() - Duration::hours(hours_ago));
    let raw = serde_json::json!({
        "uuid": uuid,
        "published": published,
        "eventType": event_type,
        "actor": {"id": "admin", "type": "User"},
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": user_id, "type": "User"}],
    });
    EventRecord {
        uuid: uuid.to_string(),
        published,
        event_type: event_type.to_string(),
        actor_id: Some("admin".to_string()),
        actor_alternate_id: None,
        outcome_result: Some("SUCCESS".to_string()),
        client_ip: None,
        raw: raw.to_string(),
    }
}

fn direct(app_id: &str, user_id: &str) -> AppUserRow {
    AppUserRow {
        app_id: app_id.to_string(),
        user_id: user_id.to_string(),
        scope: "USER".to_string(),
        raw: "{}".to_string(),
        ..AppUserRow::default()
    }
}

/// Two syncs. `lee` was deactivated 72 hours ago and keeps Payroll and the
/// Finance group. `sue` was suspended 72 hours ago and lost Payroll and
/// Finance 40 hours ago, past a 24-hour deadline. `amy` stays active with
/// the same access.
fn leaver_store(folder: &std::path::Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let mut lee = user("lee", "ACTIVE", Some(80), Some("boss"));
    lee.first_name = Some(FORMULA.to_string());
    let before = DirectorySnapshot {
        users: vec![
            user("boss", "ACTIVE", Some(1), None),
            user("amy", "ACTIVE", Some(1), Some("boss")),
            lee,
            user("sue", "ACTIVE", Some(80), Some("boss")),
        ],
        groups: vec![
            GroupRow {
                id: "00gfin".to_string(),
                group_type: "OKTA_GROUP".to_string(),
                name: "Finance".to_string(),
                raw: "{}".to_string(),
                ..GroupRow::default()
            },
            GroupRow {
                id: "00gall".to_string(),
                group_type: "BUILT_IN".to_string(),
                name: "Everyone".to_string(),
                raw: "{}".to_string(),
                ..GroupRow::default()
            },
        ],
        memberships: ["amy", "lee", "sue"]
            .into_iter()
            .flat_map(|user_id| {
                ["00gfin", "00gall"].map(|group_id| Membership {
                    group_id: group_id.to_string(),
                    user_id: user_id.to_string(),
                })
            })
            .collect(),
        apps: vec![app("0oapay", "Payroll")],
        app_users: vec![
            direct("0oapay", "amy"),
            direct("0oapay", "lee"),
            direct("0oapay", "sue"),
        ],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &before).unwrap();

    let mut after = before.clone();
    for user in &mut after.users {
        match user.id.as_str() {
            "lee" => user.status = "DEPROVISIONED".to_string(),
            "sue" => user.status = "SUSPENDED".to_string(),
            _ => {}
        }
    }
    after.app_users.retain(|row| row.user_id != "sue");
    after
        .memberships
        .retain(|row| !(row.user_id == "sue" && row.group_id == "00gfin"));
    let removal_time = idaudit_store::format_time(Utc::now() - Duration::hours(40));
    let attribute = |draft: &idaudit_store::ChangeDraft| idaudit_store::Attribution {
        // The status changes come from the events below; the removals are
        // only seen by this sync.
        time: if draft.kind == "user_status" {
            idaudit_store::format_time(Utc::now() - Duration::hours(72))
        } else {
            removal_time.clone()
        },
        event_uuid: None,
    };
    store
        .replace_directory_with_history(
            "org",
            &after,
            idaudit_store::History::Record(&attribute),
            &[],
        )
        .unwrap();
    let events = [
        lifecycle("d1", "user.lifecycle.deactivate", "lee", 72),
        lifecycle("s1", "user.lifecycle.suspend", "sue", 72),
    ];
    store.insert_events("org", "import", &events).unwrap();
    store
}

fn leaver_options(days: i64) -> LeaverOptions {
    LeaverOptions {
        since: Utc::now() - Duration::days(days),
        deadline_hours: 24,
        now: Utc::now(),
    }
}

#[test]
fn leavers_violations_listed() {
    let folder = tempfile::tempdir().unwrap();
    let store = leaver_store(folder.path());
    let report = leavers(&store, "org", &leaver_options(30)).unwrap();

    let ids: Vec<&str> = report
        .leavers
        .iter()
        .map(|leaver| leaver.user.id.as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"lee"));
    assert!(ids.contains(&"sue"));
    assert!(!ids.contains(&"amy"), "an active user is no leaver");

    let lee = report.leavers.iter().find(|l| l.user.id == "lee").unwrap();
    assert_eq!(lee.how, "deactivated");
    let held: Vec<(&str, &str)> = lee
        .violations
        .iter()
        .map(|v| (v.violation.as_str(), v.access.name.as_str()))
        .collect();
    assert!(held.contains(&("still-held", "Payroll")), "{held:?}");
    assert!(held.contains(&("still-held", "Finance")), "{held:?}");
    assert!(
        !held.iter().any(|(_, name)| *name == "Everyone"),
        "built-in group listed: {held:?}"
    );

    let sue = report.leavers.iter().find(|l| l.user.id == "sue").unwrap();
    assert_eq!(sue.how, "suspended");
    let late: Vec<(&str, &str)> = sue
        .violations
        .iter()
        .map(|v| (v.violation.as_str(), v.access.name.as_str()))
        .collect();
    assert_eq!(
        late,
        [("removed-late", "Payroll"), ("removed-late", "Finance")],
        "{late:?}"
    );
    assert!(
        sue.timeline
            .iter()
            .any(|entry| entry.action == "user.lifecycle.suspend"),
        "{:?}",
        sue.timeline
    );
    assert!(
        sue.timeline
            .iter()
            .any(|entry| entry.action == "app_assignment removed"),
        "{:?}",
        sue.timeline
    );
}

#[test]
fn leavers_window_and_deadline() {
    let folder = tempfile::tempdir().unwrap();
    let store = leaver_store(folder.path());

    let outside = leavers(&store, "org", &leaver_options(1)).unwrap();
    assert!(outside.leavers.is_empty(), "{:?}", outside.leavers);

    let lenient = LeaverOptions {
        deadline_hours: 100,
        ..leaver_options(30)
    };
    let report = leavers(&store, "org", &lenient).unwrap();
    assert_eq!(report.leavers.len(), 2);
    for leaver in &report.leavers {
        assert!(
            leaver.violations.is_empty(),
            "within the deadline: {:?}",
            leaver.violations
        );
    }
    let lee = report.leavers.iter().find(|l| l.user.id == "lee").unwrap();
    assert_eq!(lee.still_held.len(), 2, "{:?}", lee.still_held);
}

#[test]
fn leavers_csv_inert() {
    let folder = tempfile::tempdir().unwrap();
    let store = leaver_store(folder.path());
    let report = leavers(&store, "org", &leaver_options(30)).unwrap();
    let files = write_leavers(&report, &folder.path().join("out")).unwrap();

    let csv = std::fs::read_to_string(&files.csv).unwrap();
    let names: Vec<String> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|record| record.unwrap()[2].to_string())
        .collect();
    assert!(
        names.iter().any(|name| name.starts_with("'=HYPERLINK")),
        "{names:?}"
    );
    assert!(names.iter().all(|name| !name.starts_with('=')), "{names:?}");
}
