//! Models read Okta's own OpenAPI examples and real System Log events.

use std::path::PathBuf;

use idaudit_okta::models::{
    AppGroup, AppUser, Application, Factor, Group, GroupRule, LogEvent, RoleAssignment, User,
    from_value, parse,
};
use serde_json::Value;

fn fixture(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openapi")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn read_all<T: serde::de::DeserializeOwned>(name: &str) -> Vec<T> {
    fixture(name)
        .iter()
        .enumerate()
        .map(|(index, value)| {
            from_value::<T>(value).unwrap_or_else(|error| panic!("{name} [{index}]: {error}"))
        })
        .collect()
}

#[test]
fn users_read() {
    let users: Vec<User> = read_all("users.json");
    assert!(users.iter().all(|user| user.id.starts_with("00u")));
    assert!(users.iter().all(|user| !user.status.is_empty()));
    assert!(users.iter().all(|user| !user.profile.login.is_empty()));
}

#[test]
fn groups_and_rules_read() {
    let groups: Vec<Group> = read_all("groups.json");
    assert!(groups.iter().all(|group| !group.profile.name.is_empty()));
    let rules: Vec<GroupRule> = read_all("group-rules.json");
    assert!(rules[0].expression().is_some());
    assert!(!rules[0].group_ids().is_empty());
}

#[test]
fn apps_and_assignments_read() {
    let apps: Vec<Application> = read_all("apps.json");
    let modes: std::collections::BTreeSet<_> = apps
        .iter()
        .filter_map(|app| app.sign_on_mode.clone())
        .collect();
    assert_eq!(modes.len(), apps.len(), "one example per signOnMode");
    let app_users: Vec<AppUser> = read_all("app-users.json");
    assert!(app_users.iter().all(|row| row.id.starts_with("00u")));
    let app_groups: Vec<AppGroup> = read_all("app-groups.json");
    assert!(app_groups.iter().all(|row| row.id.starts_with("00g")));
}

#[test]
fn roles_and_factors_read() {
    let roles: Vec<RoleAssignment> = read_all("roles.json");
    assert!(roles.iter().any(|role| role.role_type == "CUSTOM"));
    assert!(roles.iter().any(|role| role.role_type == "SUPER_ADMIN"));
    let factors: Vec<Factor> = read_all("factors.json");
    let types: std::collections::BTreeSet<_> = factors
        .iter()
        .map(|factor| factor.factor_type.clone())
        .collect();
    assert!(types.len() >= 4, "{types:?}");
}

#[test]
fn openapi_log_event_read() {
    let events: Vec<LogEvent> = read_all("log-events.json");
    assert!(!events[0].uuid.is_empty());
    assert!(!events[0].event_type.is_empty());
    assert!(events[0].actor.is_some());
}

/// Reads the public fixtures: a real capture wrapped as JSON strings, and
/// hand-made Panther scenario events.
fn public_events() -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-fixtures/okta");
    let cribl: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("cribl-okta-rest/I4942I.json")).unwrap(),
    )
    .unwrap();
    let mut events: Vec<Value> = cribl
        .iter()
        .map(|wrapper| serde_json::from_str(wrapper["_raw"].as_str().unwrap()).unwrap())
        .collect();
    for file in [
        "legit_login",
        "brute_force_logins",
        "admin_privs_assigned",
        "new-user",
    ] {
        let path = root.join(format!(
            "panther-analysis/test_scenarios/okta-add-administrator/{file}.jsonl"
        ));
        for line in std::fs::read_to_string(path).unwrap().lines() {
            events.push(serde_json::from_str(line).unwrap());
        }
    }
    events
}

#[test]
fn public_log_events_read() {
    let events = public_events();
    assert_eq!(events.len(), 117);
    for value in events {
        let parsed = parse::<LogEvent>(value).unwrap();
        assert!(!parsed.model.uuid.is_empty());
        assert_eq!(parsed.raw["uuid"], parsed.model.uuid.as_str());
    }
}

#[test]
fn cribl_null_zone_and_grant_read() {
    let events = public_events();
    let grant = events
        .iter()
        .map(|value| from_value::<LogEvent>(value).unwrap())
        .find(|event| event.event_type == "user.account.privilege.grant")
        .unwrap();
    assert_eq!(
        grant.debug_text("privilegeGranted").as_deref(),
        Some("Super administrator")
    );
    assert_eq!(grant.client_ip(), None);
    let with_zone = events
        .iter()
        .map(|value| from_value::<LogEvent>(value).unwrap())
        .find(|event| {
            event
                .client
                .as_ref()
                .is_some_and(|client| client.ip_address.is_some())
        })
        .unwrap();
    // The capture sends `"zone": "null"`, which reads as absent.
    assert_eq!(with_zone.client.unwrap().zone, None);
}

#[test]
fn unknown_enums_do_not_fail_a_page() {
    let mut page = fixture("users.json");
    page[0]["status"] = Value::from("SOME_FUTURE_STATUS");
    page[0]["profile"]["login"] = Value::Null;
    page[1]["created"] = Value::from(12345);
    let users: Vec<User> = page
        .iter()
        .map(|value| from_value(value).unwrap())
        .collect();
    assert_eq!(users[0].status, "SOME_FUTURE_STATUS");
    assert_eq!(users[0].profile.login, "");
    assert_eq!(users[1].created.as_deref(), Some("12345"));

    let mut factors = fixture("factors.json");
    factors[0]["factorType"] = Value::from("quantum_token");
    factors[0]["status"] = Value::Null;
    let factor: Factor = from_value(&factors[0]).unwrap();
    assert_eq!(factor.factor_type, "quantum_token");
    assert_eq!(factor.status, None);
}
