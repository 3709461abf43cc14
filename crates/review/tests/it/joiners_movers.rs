//! Joiner, mover and leaver audits against the example policy, on a store
//! filled from the simulator over loopback: every planted joiner, mover and
//! leaver case shows up, and users outside the scenarios have no violation.
//! Hostile profile values stay inert in the HTML, CSV and XLSX files.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx, open_workbook};
use chrono::{Datelike, Utc};
use idaudit_collect::NoProgress;
use idaudit_okta::{Client, Credentials, OrgConfig, Secret};
use idaudit_okta_sim::{Org, OrgSpec, RateLimits, SimOptions};
use idaudit_review::ReviewError;
use idaudit_review::audit::{
    AccessAudit, AccessAuditOptions, LeaverOptions, Policy, joiners, leavers_with_rules, movers,
    write_access_audit, write_leaver_audit,
};
use idaudit_store::{
    AppGroupRow, AppRow, DirectorySnapshot, EventRecord, GroupRow, GroupRuleRow, Membership, Store,
    UserRow,
};

use crate::{FORMULA, SCRIPT};

const ORG: &str = "simulated";

/// The store of a simulated org after a full sync and a log pull, shared by
/// the tests of this module because a sync takes a few seconds.
struct Synced {
    store_path: PathBuf,
    org: Org,
    /// Start of the audit window: a day before the simulated log begins.
    since: chrono::DateTime<Utc>,
}

fn synced() -> &'static Synced {
    static SYNCED: OnceLock<Synced> = OnceLock::new();
    SYNCED.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(sync_simulated_org())
    })
}

async fn sync_simulated_org() -> Synced {
    // Benign sign-ins depend on the weekday, so the log ends at the last
    // Monday midnight (UTC): every run then generates the same org.
    let now = Utc::now();
    let days_since_monday = i64::from(now.weekday().num_days_from_monday());
    let end = (now - chrono::Duration::days(days_since_monday))
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let spec = OrgSpec {
        seed: 11,
        users: 400,
        groups: 40,
        apps: 20,
        log_days: 30,
        end,
        ..OrgSpec::default()
    };
    let org = idaudit_okta_sim::generate(&spec);
    let options = SimOptions {
        rate_limits: RateLimits::Workforce {
            window: Duration::from_secs(1),
        },
        ..SimOptions::default()
    };
    let sim = idaudit_okta_sim::serve(org.clone(), options).await.unwrap();
    let scopes = idaudit_okta_sim::DEFAULT_SCOPES
        .iter()
        .map(|scope| scope.to_string())
        .collect();
    let credentials = Credentials::PrivateKey {
        client_id: sim.client_id.clone(),
        private_key: Secret::new(sim.private_key_pem.clone()),
        key_id: Some(sim.key_id.clone()),
    };
    let client = Client::new(&OrgConfig::new(&sim.base_url, credentials, scopes).unwrap()).unwrap();

    // The store serves every test of this module, so it lives in Cargo's
    // folder for test files and is replaced on the next run.
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("joiners-movers");
    if folder.exists() {
        std::fs::remove_dir_all(&folder).unwrap();
    }
    std::fs::create_dir_all(&folder).unwrap();
    let store_path = folder.join("idaudit.db");
    let mut store = Store::open(&store_path).unwrap();
    idaudit_collect::sync::full_sync(&client, &mut store, ORG, &NoProgress)
        .await
        .unwrap();
    let since = spec.end - chrono::Duration::days(31);
    idaudit_collect::logs::pull(&client, &mut store, ORG, since, Utc::now(), &NoProgress)
        .await
        .unwrap();
    sim.shutdown().await;
    Synced {
        store_path,
        org,
        since,
    }
}

fn example_policy() -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/policy.toml");
    Policy::load(&path).unwrap()
}

/// Returns a window of the last 31 days, for the hand-built stores.
fn window() -> AccessAuditOptions {
    AccessAuditOptions {
        since: Utc::now() - chrono::Duration::days(31),
        now: Utc::now(),
    }
}

/// Returns the window of the simulated log.
fn simulated_window(synced: &Synced) -> AccessAuditOptions {
    AccessAuditOptions {
        since: synced.since,
        now: Utc::now(),
    }
}

fn simulated_leaver_options(synced: &Synced, deadline_hours: i64) -> LeaverOptions {
    LeaverOptions {
        since: synced.since,
        deadline_hours,
        now: Utc::now(),
    }
}

/// Returns the one user id of the scenario of `kind`.
fn scenario_user(org: &Org, kind: &str) -> String {
    org.scenario(kind)
        .unwrap_or_else(|| panic!("no `{kind}` scenario planted"))
        .user_ids[0]
        .clone()
}

/// Returns every user a scenario names, attacker and admin included.
fn scenario_users(org: &Org) -> HashSet<String> {
    org.ground_truth
        .scenarios
        .iter()
        .flat_map(|scenario| scenario.user_ids.iter().cloned())
        .collect()
}

/// Returns the id of the department group named `name`.
fn group_id(org: &Org, name: &str) -> String {
    org.groups
        .iter()
        .find(|group| group.name == name)
        .unwrap_or_else(|| panic!("no group `{name}`"))
        .id
        .clone()
}

fn assert_benign_clean(audit: &AccessAudit, scenario_users: &HashSet<String>) {
    for person in &audit.people {
        if !scenario_users.contains(&person.user.id) {
            assert!(
                person.violations.is_empty(),
                "benign {} `{}` has violations: {:#?}",
                audit.audit,
                person.user.login,
                person.violations
            );
        }
    }
    for finding in &audit.group_rules.findings {
        assert!(
            scenario_users.contains(&finding.user.id),
            "group-rule finding on benign user: {finding:#?}"
        );
    }
}

#[test]
fn joiner_missing_birthright_found() {
    let synced = synced();
    let store = Store::open(&synced.store_path).unwrap();
    let audit = joiners(&store, ORG, &simulated_window(synced), &example_policy()).unwrap();
    let joiner_id = scenario_user(&synced.org, "joiner_missing_birthright_groups");
    let department = synced
        .org
        .user(&joiner_id)
        .unwrap()
        .profile
        .department
        .clone();
    let department_group = group_id(&synced.org, &department);

    assert!(
        audit.people.len() > 1,
        "only {} joiners",
        audit.people.len()
    );
    let joiner = audit
        .people
        .iter()
        .find(|person| person.user.id == joiner_id)
        .unwrap_or_else(|| panic!("labelled joiner missing: {:#?}", audit.people));
    assert!(
        joiner.violations.iter().any(|violation| {
            violation.violation == "missing-birthright" && violation.access.id == department_group
        }),
        "{:#?}",
        joiner.violations
    );
    assert!(joiner.minutes_to_access.is_none(), "access is incomplete");
    assert!(
        joiner
            .timeline
            .iter()
            .any(|entry| entry.action == "user.lifecycle.activate"),
        "{:#?}",
        joiner.timeline
    );
    assert_benign_clean(&audit, &scenario_users(&synced.org));

    let timed = audit
        .people
        .iter()
        .filter(|person| person.violations.is_empty() && person.minutes_to_access.is_some())
        .count();
    assert!(timed > 0, "no benign joiner with a time to access");
}

#[test]
fn group_rules_evaluated() {
    let synced = synced();
    let store = Store::open(&synced.store_path).unwrap();
    let audit = joiners(&store, ORG, &simulated_window(synced), &example_policy()).unwrap();
    let rules = &audit.group_rules;
    let active = synced
        .org
        .group_rules
        .iter()
        .filter(|rule| rule.status == "ACTIVE")
        .count();
    assert_eq!(rules.evaluated.len(), active, "{:#?}", rules.skipped);
    assert!(
        rules
            .skipped
            .iter()
            .all(|rule| rule.reason.starts_with("status")),
        "{:#?}",
        rules.skipped
    );

    // The mover stays in the old department group, whose rule no longer
    // matches, unless that rule is the inactive one.
    let mover_id = scenario_user(&synced.org, "mover_keeps_old_access");
    let stale: Vec<&str> = rules
        .findings
        .iter()
        .filter(|finding| finding.user.id == mover_id)
        .map(|finding| finding.finding.as_str())
        .collect();
    assert!(
        stale
            .iter()
            .all(|finding| *finding == "member-not-matching"),
        "{stale:?}"
    );
}

#[test]
fn mover_keeps_old_access_found() {
    let synced = synced();
    let store = Store::open(&synced.store_path).unwrap();
    let audit = movers(&store, ORG, &simulated_window(synced), &example_policy()).unwrap();
    let mover_id = scenario_user(&synced.org, "mover_keeps_old_access");
    let department = synced
        .org
        .user(&mover_id)
        .unwrap()
        .profile
        .department
        .clone();
    let old_groups: Vec<String> = synced
        .org
        .memberships
        .iter()
        .filter(|(group, members)| {
            members.contains(&mover_id)
                && synced.org.ground_truth.scenarios.iter().any(|scenario| {
                    scenario.kind == "mover_keeps_old_access"
                        && scenario
                            .description
                            .contains(&format!("`{}`", synced.org.group(group).unwrap().name))
                })
        })
        .map(|(group, _)| group.clone())
        .collect();
    assert_eq!(old_groups.len(), 1, "{old_groups:?}");

    let mover = audit
        .people
        .iter()
        .find(|person| person.user.id == mover_id)
        .unwrap_or_else(|| panic!("labelled mover missing: {:#?}", audit.people));
    assert_eq!(mover.department, department);
    assert!(
        mover.violations.iter().any(|violation| {
            violation.violation == "kept-old-access" && violation.access.id == old_groups[0]
        }),
        "{:#?}",
        mover.violations
    );
    assert!(
        !mover
            .violations
            .iter()
            .any(|violation| violation.violation == "missing-birthright"),
        "the mover joined the new group: {:#?}",
        mover.violations
    );
    assert!(
        mover
            .timeline
            .iter()
            .any(|entry| entry.action == "user.account.update_profile")
    );
    assert_benign_clean(&audit, &scenario_users(&synced.org));
}

#[test]
fn leaver_scenarios_found_benign_clean() {
    let synced = synced();
    let store = Store::open(&synced.store_path).unwrap();
    let policy = example_policy();
    let options = simulated_leaver_options(synced, policy.leaver_deadline_hours);
    let report = leavers_with_rules(&store, ORG, &options, &policy.leavers).unwrap();

    let late_id = scenario_user(&synced.org, "leaver_deactivated_late");
    let late = report
        .leavers
        .iter()
        .find(|leaver| leaver.user.id == late_id)
        .unwrap_or_else(|| panic!("late leaver missing: {:#?}", report.leavers));
    assert!(
        late.violations
            .iter()
            .any(|violation| violation.violation == "deactivated-late"),
        "{:#?}",
        late.violations
    );

    let assigned = synced.org.scenario("leaver_with_assignments").unwrap();
    let kept = report
        .leavers
        .iter()
        .find(|leaver| leaver.user.id == assigned.user_ids[0])
        .unwrap_or_else(|| panic!("leaver with assignments missing: {:#?}", report.leavers));
    let held: BTreeSet<&str> = kept
        .violations
        .iter()
        .filter(|violation| violation.violation == "still-held")
        .map(|violation| violation.access.id.as_str())
        .collect();
    for app_id in &assigned.app_ids {
        assert!(held.contains(app_id.as_str()), "{app_id} not in {held:?}");
    }

    let scenario_users = scenario_users(&synced.org);
    let benign: Vec<_> = report
        .leavers
        .iter()
        .filter(|leaver| !scenario_users.contains(&leaver.user.id))
        .collect();
    assert!(benign.len() > 1, "too few benign leavers to mean anything");
    for leaver in benign {
        assert!(
            leaver.violations.is_empty(),
            "benign leaver `{}`: {:#?}",
            leaver.user.login,
            leaver.violations
        );
    }
}

#[test]
fn leaver_memberships_count_when_asked() {
    let synced = synced();
    let store = Store::open(&synced.store_path).unwrap();
    let mut policy = example_policy();
    policy.leavers.memberships_count = true;
    let options = simulated_leaver_options(synced, 24);
    let report = leavers_with_rules(&store, ORG, &options, &policy.leavers).unwrap();
    let memberships = report
        .leavers
        .iter()
        .flat_map(|leaver| leaver.violations.iter())
        .filter(|violation| violation.access.kind == "membership")
        .count();
    assert!(
        memberships > 0,
        "deactivated users keep memberships in Okta"
    );
}

#[test]
fn unknown_policy_group_names_rule() {
    let synced = synced();
    let store = Store::open(&synced.store_path).unwrap();
    let policy = Policy::parse(
        "[[birthright]]\nname = \"Ghosts\"\nwhen = 'user.department == \"Ghosts\"'\ngroups = [\"Ghost Team\"]\n",
        Path::new("policy.toml"),
    )
    .unwrap();
    let error = joiners(&store, ORG, &simulated_window(synced), &policy).unwrap_err();
    assert!(
        matches!(&error, ReviewError::PolicyName { rule, name, .. } if rule == "Ghosts" && name == "Ghost Team"),
        "{error}"
    );
}

#[test]
fn access_files_of_simulated_org() {
    let synced = synced();
    let store = Store::open(&synced.store_path).unwrap();
    let audit = movers(&store, ORG, &simulated_window(synced), &example_policy()).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let files = write_access_audit(&audit, folder.path()).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("<svg"), "no chart in the HTML");
    assert!(html.contains("kept-old-access"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(json["audit"], "movers");

    let policy = example_policy();
    let options = simulated_leaver_options(synced, policy.leaver_deadline_hours);
    let report = leavers_with_rules(&store, ORG, &options, &policy.leavers).unwrap();
    let files = write_leaver_audit(&report, folder.path()).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("<svg"), "no chart in the leaver HTML");
    assert!(html.contains("deactivated-late"));
    let workbook: Xlsx<_> = open_workbook(&files.xlsx).unwrap();
    assert_eq!(workbook.sheet_names()[0], "Violations");
}

/// Builds a store with one joiner whose profile has hostile values in every
/// field the reports show, and a group rule whose group the joiner lacks.
fn hostile_store(folder: &Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let now = Utc::now();
    let joined = idaudit_store::format_time(now - chrono::Duration::days(2));
    let raw = serde_json::json!({
        "id": "00uhostile",
        "activated": joined,
        "profile": {
            "login": "hostile@example.com",
            "firstName": SCRIPT,
            "lastName": FORMULA,
            "department": FORMULA,
            "title": SCRIPT,
        },
    });
    let group = |id: &str, name: &str| GroupRow {
        id: id.to_string(),
        group_type: "OKTA_GROUP".to_string(),
        name: name.to_string(),
        raw: "{}".to_string(),
        ..GroupRow::default()
    };
    let snapshot = DirectorySnapshot {
        users: vec![UserRow {
            id: "00uhostile".to_string(),
            status: "ACTIVE".to_string(),
            login: "hostile@example.com".to_string(),
            first_name: Some(SCRIPT.to_string()),
            last_name: Some(FORMULA.to_string()),
            department: Some(FORMULA.to_string()),
            title: Some(SCRIPT.to_string()),
            created: Some(joined.clone()),
            raw: raw.to_string(),
            ..UserRow::default()
        }],
        groups: vec![group("00gformula", FORMULA), group("00gscript", SCRIPT)],
        memberships: vec![Membership {
            group_id: "00gscript".to_string(),
            user_id: "00uhostile".to_string(),
        }],
        apps: vec![AppRow {
            id: "0oaformula".to_string(),
            name: "formula".to_string(),
            label: FORMULA.to_string(),
            status: "ACTIVE".to_string(),
            raw: "{}".to_string(),
            ..AppRow::default()
        }],
        app_groups: vec![AppGroupRow {
            app_id: "0oaformula".to_string(),
            group_id: "00gformula".to_string(),
            priority: Some(0),
            raw: "{}".to_string(),
        }],
        group_rules: vec![GroupRuleRow {
            id: "0prformula".to_string(),
            name: FORMULA.to_string(),
            status: "ACTIVE".to_string(),
            expression: Some(
                "user.department == \"=HYPERLINK(\\\"https://evil.example\\\",\\\"click\\\")\""
                    .to_string(),
            ),
            group_ids: vec!["00gformula".to_string()],
            raw: "{}".to_string(),
        }],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    let activation = EventRecord {
        uuid: "a1".to_string(),
        published: joined.clone(),
        event_type: "user.lifecycle.activate".to_string(),
        actor_id: Some("admin".to_string()),
        actor_alternate_id: None,
        outcome_result: Some("SUCCESS".to_string()),
        client_ip: None,
        raw: serde_json::json!({
            "uuid": "a1",
            "published": joined,
            "eventType": "user.lifecycle.activate",
            "outcome": {"result": "SUCCESS"},
            "target": [{"id": "00uhostile", "type": "User", "displayName": SCRIPT}],
        })
        .to_string(),
    };
    store.insert_events("org", "import", &[activation]).unwrap();
    store
}

#[test]
fn hostile_values_inert_in_audit_files() {
    let folder = tempfile::tempdir().unwrap();
    let store = hostile_store(folder.path());
    let policy = Policy::parse(
        "[[birthright]]\nname = \"<b>everyone</b>\"\nwhen = 'true'\ngroups = [\"00gformula\"]\napps = [\"0oaformula\"]\n",
        Path::new("policy.toml"),
    )
    .unwrap();
    let audit = joiners(&store, "org", &window(), &policy).unwrap();
    assert_eq!(audit.people.len(), 1);
    let kinds: Vec<&str> = audit.people[0]
        .violations
        .iter()
        .map(|violation| violation.violation.as_str())
        .collect();
    assert!(kinds.contains(&"missing-birthright"), "{kinds:?}");
    assert!(
        kinds.contains(&"group-rule-missing-membership"),
        "{kinds:?}"
    );

    let files = write_access_audit(&audit, &folder.path().join("out")).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(!html.contains(SCRIPT), "raw script tag in the HTML");
    assert!(
        !html.contains("<b>everyone</b>"),
        "raw rule name in the HTML"
    );
    assert!(
        html.contains("&lt;script&gt;"),
        "escaped script tag missing"
    );

    let csv = std::fs::read_to_string(&files.csv).unwrap();
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
        cells.iter().any(|cell| cell.starts_with("'=HYPERLINK")),
        "{cells:?}"
    );
    assert!(
        cells
            .iter()
            .all(|cell| !cell.starts_with(['=', '+', '-', '@'])),
        "{cells:?}"
    );

    let mut workbook: Xlsx<_> = open_workbook(&files.xlsx).unwrap();
    let mut saw_formula_text = false;
    for sheet in workbook.sheet_names() {
        let formulas = workbook.worksheet_formula(&sheet).unwrap();
        assert!(
            formulas
                .used_cells()
                .all(|(_, _, formula)| formula.is_empty()),
            "a formula in sheet `{sheet}`"
        );
        let range = workbook.worksheet_range(&sheet).unwrap();
        saw_formula_text |= range
            .used_cells()
            .any(|(_, _, cell)| *cell == Data::String(FORMULA.to_string()));
    }
    assert!(
        saw_formula_text,
        "the formula-like value is missing as text"
    );
}

/// Builds a store where `mia` and `max` moved from Engineering to Sales a
/// day ago: `mia` left the Engineering group, `max` did not.
fn mover_store(folder: &Path) -> Store {
    let mut store = Store::open(folder.join("idaudit.db")).unwrap();
    let moved = idaudit_store::format_time(Utc::now() - chrono::Duration::days(1));
    let user = |id: &str| UserRow {
        id: id.to_string(),
        status: "ACTIVE".to_string(),
        login: format!("{id}@example.com"),
        department: Some("Sales".to_string()),
        created: Some("2024-01-01T00:00:00.000Z".to_string()),
        raw: r#"{"profile":{"department":"Sales"}}"#.to_string(),
        ..UserRow::default()
    };
    let group = |id: &str, name: &str| GroupRow {
        id: id.to_string(),
        group_type: "OKTA_GROUP".to_string(),
        name: name.to_string(),
        raw: "{}".to_string(),
        ..GroupRow::default()
    };
    let member = |group_id: &str, user_id: &str| Membership {
        group_id: group_id.to_string(),
        user_id: user_id.to_string(),
    };
    let snapshot = DirectorySnapshot {
        users: vec![user("mia"), user("max")],
        groups: vec![group("00geng", "Engineering"), group("00gsales", "Sales")],
        memberships: vec![
            member("00gsales", "mia"),
            member("00gsales", "max"),
            member("00geng", "max"),
        ],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    let events: Vec<EventRecord> = ["mia", "max"]
        .into_iter()
        .map(|user_id| {
            let uuid = format!("update-{user_id}");
            EventRecord {
                uuid: uuid.clone(),
                published: moved.clone(),
                event_type: "user.account.update_profile".to_string(),
                actor_id: Some("admin".to_string()),
                actor_alternate_id: None,
                outcome_result: Some("SUCCESS".to_string()),
                client_ip: None,
                raw: serde_json::json!({
                    "uuid": uuid,
                    "published": moved,
                    "eventType": "user.account.update_profile",
                    "outcome": {"result": "SUCCESS"},
                    "target": [{"id": user_id, "type": "User"}],
                })
                .to_string(),
            }
        })
        .collect();
    store.insert_events("org", "import", &events).unwrap();
    store
}

#[test]
fn mover_old_group_flagged_only_if_kept() {
    let folder = tempfile::tempdir().unwrap();
    let store = mover_store(folder.path());
    let policy = Policy::parse(
        "[[birthright]]\nname = \"Engineering\"\nwhen = 'user.department == \"Engineering\"'\ngroups = [\"Engineering\"]\n\n[[birthright]]\nname = \"Sales\"\nwhen = 'user.department == \"Sales\"'\ngroups = [\"Sales\"]\n",
        Path::new("policy.toml"),
    )
    .unwrap();
    let audit = movers(&store, "org", &window(), &policy).unwrap();
    assert_eq!(audit.people.len(), 2);

    let mia = audit
        .people
        .iter()
        .find(|person| person.user.id == "mia")
        .unwrap();
    assert!(mia.violations.is_empty(), "{:#?}", mia.violations);
    assert_eq!(mia.matched_rules, ["Sales"]);

    let max = audit
        .people
        .iter()
        .find(|person| person.user.id == "max")
        .unwrap();
    let found: Vec<(&str, &str)> = max
        .violations
        .iter()
        .map(|violation| (violation.violation.as_str(), violation.access.id.as_str()))
        .collect();
    assert_eq!(found, [("kept-old-access", "00geng")]);
    assert!(max.violations[0].detail.contains("Engineering"));
}

#[test]
fn group_rule_check_cases() {
    let folder = tempfile::tempdir().unwrap();
    let mut store = Store::open(folder.path().join("idaudit.db")).unwrap();
    let rule = |id: &str, status: &str, expression: &str, exclude: &[&str]| GroupRuleRow {
        id: id.to_string(),
        name: id.to_string(),
        status: status.to_string(),
        expression: Some(expression.to_string()),
        group_ids: vec!["00gsales".to_string()],
        raw: serde_json::json!({"conditions": {"people": {"users": {"exclude": exclude}}}})
            .to_string(),
    };
    let snapshot = DirectorySnapshot {
        users: vec![UserRow {
            id: "ana".to_string(),
            status: "ACTIVE".to_string(),
            login: "ana@example.com".to_string(),
            raw: r#"{"profile":{"department":"Sales"}}"#.to_string(),
            ..UserRow::default()
        }],
        groups: vec![GroupRow {
            id: "00gsales".to_string(),
            group_type: "OKTA_GROUP".to_string(),
            name: "Sales".to_string(),
            raw: "{}".to_string(),
            ..GroupRow::default()
        }],
        group_rules: vec![
            rule("matching", "ACTIVE", r#"user.department == "Sales""#, &[]),
            rule(
                "excluding",
                "ACTIVE",
                r#"user.department == "Sales""#,
                &["ana"],
            ),
            rule("inactive", "INACTIVE", r#"user.department == "Sales""#, &[]),
            rule(
                "unknown",
                "ACTIVE",
                r#"String.matches(user.department, "S")"#,
                &[],
            ),
        ],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();

    let audit = joiners(&store, "org", &window(), &Policy::default()).unwrap();
    let check = &audit.group_rules;
    assert_eq!(check.evaluated, ["excluding", "matching"]);
    let findings: Vec<(&str, &str)> = check
        .findings
        .iter()
        .map(|finding| (finding.rule_id.as_str(), finding.finding.as_str()))
        .collect();
    assert_eq!(findings, [("matching", "missing-membership")]);
    let skipped: Vec<(&str, &str)> = check
        .skipped
        .iter()
        .map(|rule| (rule.id.as_str(), rule.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0], ("inactive", "status INACTIVE"));
    assert_eq!(skipped[1].0, "unknown");
    assert!(skipped[1].1.contains("`String.matches`"), "{skipped:?}");

    let csv = String::from_utf8(idaudit_review::audit::access_csv(&audit).unwrap()).unwrap();
    assert!(csv.contains("group-rule-missing-membership"), "{csv}");
}
