//! Write-back endpoints: each changes the org, writes the System Log event Okta writes,
//! and needs the `manage` scope.

use idaudit_okta_sim::{RunningSim, SimOptions, UserStatus, serve};
use serde_json::Value;

use crate::support::{access_token_for, http, options, small_org};

const ALL_SCOPES: &str = "okta.users.read okta.users.manage okta.groups.read okta.groups.manage okta.apps.read okta.apps.manage okta.logs.read";

async fn start_manageable() -> RunningSim {
    let scopes = ALL_SCOPES.split(' ').map(String::from).collect();
    serve(
        small_org(),
        SimOptions {
            scopes,
            ..options()
        },
    )
    .await
    .unwrap()
}

async fn send(
    sim: &RunningSim,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::Response {
    http()
        .request(method, format!("{}{path}", sim.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Returns the type and target ids of the newest System Log event.
fn last_event(sim: &RunningSim) -> (String, Vec<String>) {
    let org = sim.org();
    let org = org.read().unwrap();
    let event = org.events.last().unwrap().to_value();
    let targets = event["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|target| target["id"].as_str().unwrap().to_string())
        .collect();
    (event["eventType"].as_str().unwrap().to_string(), targets)
}

#[tokio::test]
async fn remove_group_member_changes_org_and_log() {
    let sim = start_manageable().await;
    let token = access_token_for(&sim, ALL_SCOPES).await;
    let (group_id, user_id) = {
        let org = sim.org();
        let org = org.read().unwrap();
        let group = org
            .groups
            .iter()
            .find(|group| {
                group.group_type == idaudit_okta_sim::GroupType::OktaGroup
                    && !org.memberships[&group.id].is_empty()
            })
            .unwrap();
        (group.id.clone(), org.memberships[&group.id][0].clone())
    };
    let path = format!("/api/v1/groups/{group_id}/users/{user_id}");
    let response = send(&sim, &token, reqwest::Method::DELETE, &path).await;
    assert_eq!(response.status(), 204);
    assert!(!sim.org().read().unwrap().memberships[&group_id].contains(&user_id));
    let (event_type, targets) = last_event(&sim);
    assert_eq!(event_type, "group.user_membership.remove");
    assert_eq!(targets, vec![user_id, group_id]);
    sim.shutdown().await;
}

#[tokio::test]
async fn unassign_app_user_changes_org_and_log() {
    let sim = start_manageable().await;
    let token = access_token_for(&sim, ALL_SCOPES).await;
    let (app_id, user_id) = {
        let org = sim.org();
        let org = org.read().unwrap();
        let (app_id, users) = org
            .app_user_assignments
            .iter()
            .find(|(_, users)| !users.is_empty())
            .unwrap();
        (app_id.clone(), users[0].clone())
    };
    let path = format!("/api/v1/apps/{app_id}/users/{user_id}");
    assert_eq!(
        send(&sim, &token, reqwest::Method::DELETE, &path)
            .await
            .status(),
        204
    );
    assert!(!sim.org().read().unwrap().app_user_assignments[&app_id].contains(&user_id));
    assert_eq!(last_event(&sim).0, "application.user_membership.remove");
    assert_eq!(
        send(&sim, &token, reqwest::Method::DELETE, &path)
            .await
            .status(),
        404,
        "no direct assignment is left"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn lifecycle_suspend_unsuspend_deactivate() {
    let sim = start_manageable().await;
    let token = access_token_for(&sim, ALL_SCOPES).await;
    let user_id = {
        let org = sim.org();
        let org = org.read().unwrap();
        org.users
            .iter()
            .find(|user| user.status == UserStatus::Active)
            .unwrap()
            .id
            .clone()
    };
    let status = || sim.org().read().unwrap().user(&user_id).unwrap().status;
    let steps = [
        ("suspend", UserStatus::Suspended, "user.lifecycle.suspend"),
        ("unsuspend", UserStatus::Active, "user.lifecycle.unsuspend"),
        (
            "deactivate",
            UserStatus::Deprovisioned,
            "user.lifecycle.deactivate",
        ),
    ];
    for (operation, expected, event_type) in steps {
        let path = format!("/api/v1/users/{user_id}/lifecycle/{operation}");
        let response = send(&sim, &token, reqwest::Method::POST, &path).await;
        assert_eq!(response.status(), 200, "{operation}");
        assert_eq!(status(), expected, "{operation}");
        let (logged, targets) = last_event(&sim);
        assert_eq!(logged, event_type);
        assert_eq!(targets, vec![user_id.clone()]);
    }
    let again = send(
        &sim,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/users/{user_id}/lifecycle/suspend"),
    )
    .await;
    assert_eq!(again.status(), 403);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000038");
    sim.shutdown().await;
}

#[tokio::test]
async fn manage_needs_manage_scope() {
    let sim = start_manageable().await;
    let token = access_token_for(&sim, "okta.users.read").await;
    let user_id = sim.org().read().unwrap().users[0].id.clone();
    let response = send(
        &sim,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/users/{user_id}/lifecycle/suspend"),
    )
    .await;
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("scope=\"okta.users.manage\""),
        "{challenge}"
    );
    sim.shutdown().await;
}
