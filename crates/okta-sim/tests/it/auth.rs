//! Bearer tokens on the management API: 401 without a usable token, 403 with a
//! `WWW-Authenticate` challenge when the token lacks the endpoint's scope.

use std::time::Duration;

use idaudit_okta_sim::{SimOptions, serve};
use serde_json::Value;

use crate::support::{access_token, access_token_for, get, http, options, small_org, start};

async fn assert_invalid_token(response: reqwest::Response) {
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000011");
    assert_eq!(body["errorSummary"], "Invalid token provided");
    assert_eq!(body["errorLink"], "E0000011");
    assert!(body["errorId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(body["errorCauses"].is_array());
}

#[tokio::test]
async fn missing_token_is_unauthorized() {
    let sim = start(small_org()).await;
    let response = http()
        .get(format!("{}/api/v1/users", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_invalid_token(response).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_token_is_unauthorized() {
    let sim = start(small_org()).await;
    let response = get(&sim, "eyJhbGciOiJIUzI1NiJ9.e30.forged", "/api/v1/users").await;
    assert_invalid_token(response).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn ssws_token_is_unauthorized() {
    let sim = start(small_org()).await;
    let response = http()
        .get(format!("{}/api/v1/users", sim.base_url))
        .header("Authorization", "SSWS 00abcdef")
        .send()
        .await
        .unwrap();
    assert_invalid_token(response).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_token_is_unauthorized() {
    let sim = serve(
        small_org(),
        SimOptions {
            access_token_lifetime: Duration::from_secs(1),
            ..options()
        },
    )
    .await
    .unwrap();
    let token = access_token(&sim).await;
    assert_eq!(
        get(&sim, &token, "/api/v1/users?limit=1").await.status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_invalid_token(get(&sim, &token, "/api/v1/users?limit=1").await).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_token_is_unauthorized() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    sim.revoke_access_tokens();
    assert_invalid_token(get(&sim, &token, "/api/v1/groups").await).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_scope_is_forbidden_with_challenge() {
    let sim = start(small_org()).await;
    let token = access_token_for(&sim, "okta.users.read").await;
    let response = get(&sim, &token, "/api/v1/logs").await;
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"scope="okta.logs.read""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(
            r#"error_description="The access token provided does not contain the required scopes.""#
        ),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(r#"realm="{}""#, sim.base_url)),
        "{challenge}"
    );
    assert!(
        response.text().await.unwrap().is_empty(),
        "403 body is empty"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn scope_not_granted_to_app_cannot_be_used() {
    let sim = serve(
        small_org(),
        SimOptions {
            scopes: vec!["okta.users.read".to_string()],
            ..options()
        },
    )
    .await
    .unwrap();
    let token = access_token_for(&sim, "okta.users.read").await;
    assert_eq!(get(&sim, &token, "/api/v1/apps").await.status(), 403);
    assert_eq!(
        get(&sim, &token, "/api/v1/users?limit=1").await.status(),
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_and_paths_are_not_found() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    for path in [
        "/api/v1/users/00uDoesNotExist00697",
        "/api/v1/groups/00gNope/users",
        "/api/v1/apps/0oaNope/users",
        "/api/v1/nothing",
    ] {
        let response = get(&sim, &token, path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000007", "{path}");
        assert!(
            body["errorSummary"]
                .as_str()
                .unwrap()
                .starts_with("Not found: "),
            "{path}"
        );
    }
    sim.shutdown().await;
}
