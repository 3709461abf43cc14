use serde_json::json;

use crate::{run_rules, store_events, temp_store};

fn grant(uuid: &str, result: &str, privilege: serde_json::Value) -> serde_json::Value {
    json!({
        "uuid": uuid,
        "published": "2026-11-30T09:00:00.000Z",
        "eventType": "user.account.privilege.grant",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
        "client": {"ipAddress": "203.0.113.5"},
        "outcome": {"result": result},
        "target": [
            {"id": "ROLE_ASSIGNED", "type": "ROLE_ASSIGNED", "alternateId": "unknown"},
            {"id": "00unew", "type": "User", "alternateId": "new.admin@example.com", "displayName": "New Admin"}
        ],
        "debugContext": {"debugData": {"privilegeGranted": privilege}}
    })
}

#[test]
fn grant_names_grantee_and_privilege() {
    let (_folder, mut store) = temp_store();
    store_events(
        &mut store,
        &[grant("g1", "SUCCESS", json!("Super administrator"))],
    );

    let alerts = run_rules(&store);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule, "admin-privilege-grant");
    assert_eq!(alerts[0].user.as_deref(), Some("new.admin@example.com"));
    assert_eq!(alerts[0].severity, "critical");
    assert_eq!(alerts[0].details["privilege"], "Super administrator");
    assert_eq!(alerts[0].details["actor"], "admin@example.com");
}

#[test]
fn failed_grant_ignored() {
    let (_folder, mut store) = temp_store();
    store_events(
        &mut store,
        &[grant("g1", "FAILURE", json!("Super administrator"))],
    );
    assert!(run_rules(&store).is_empty());
}

/// An admin change by the same actor, an hour before [`grant`]'s time.
fn earlier_admin_change() -> serde_json::Value {
    json!({
        "uuid": "c1",
        "published": "2026-11-30T08:00:00.000Z",
        "eventType": "group.user_membership.add",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
        "outcome": {"result": "SUCCESS"}
    })
}

#[test]
fn privilege_as_object_accepted() {
    let (_folder, mut store) = temp_store();
    store_events(
        &mut store,
        &[
            earlier_admin_change(),
            grant("g1", "SUCCESS", json!({"roles": ["APP_ADMIN"]})),
        ],
    );
    let alerts = run_rules(&store);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, "high");
    assert!(alerts[0].title.contains("APP_ADMIN"), "{}", alerts[0].title);
}

#[test]
fn grant_by_first_time_admin_critical() {
    let (_folder, mut store) = temp_store();
    store_events(
        &mut store,
        &[grant("g1", "SUCCESS", json!({"roles": ["APP_ADMIN"]}))],
    );
    let alerts = run_rules(&store);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, "critical");
    assert_eq!(alerts[0].details["firstAdminAction"], true);
}
