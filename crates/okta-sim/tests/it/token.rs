//! The token endpoint: client credentials with `private_key_jwt`, and Okta's OAuth errors.

use chrono::Utc;
use idaudit_okta_sim::{ClientKey, SimOptions, serve};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::support::{
    assertion_claims, get, http, request_token, sign, sign_with, small_org, start,
};

/// Asserts an OAuth error response: status, `error` and `error_description`.
async fn assert_oauth_error(
    response: reqwest::Response,
    status: u16,
    error: &str,
    description: &str,
) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "body: {body}");
    assert_eq!(body["error_description"], description, "body: {body}");
}

#[tokio::test]
async fn valid_assertion_gets_bearer_token() {
    // Default options: the simulator generates its own key at start.
    let sim = serve(small_org(), SimOptions::default()).await.unwrap();
    assert_eq!(sim.client_id.len(), 20);
    assert!(sim.client_id.starts_with("0oa"));
    assert!(
        sim.private_key_pem
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );

    let assertion = sign(&sim, &assertion_claims(&sim));
    let response = request_token(&sim, &assertion, "okta.users.read okta.logs.read").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "okta.users.read okta.logs.read");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "access token is a JWT");

    let users = get(&sim, token, "/api/v1/users?limit=1").await;
    assert_eq!(users.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_audience_is_rejected() {
    let sim = start(small_org()).await;
    let mut claims = assertion_claims(&sim);
    claims["aud"] = json!(format!("{}/oauth2/default/v1/token", sim.base_url));
    let response = request_token(&sim, &sign(&sim, &claims), "okta.users.read").await;
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "The audience claim for client_assertion must be the endpoint invoked for the request.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_assertion_is_rejected() {
    let sim = start(small_org()).await;
    let mut claims = assertion_claims(&sim);
    claims["exp"] = json!(Utc::now().timestamp() - 10);
    let response = request_token(&sim, &sign(&sim, &claims), "okta.users.read").await;
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "The client_assertion token is expired.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn expiry_beyond_one_hour_is_rejected() {
    let sim = start(small_org()).await;
    let mut claims = assertion_claims(&sim);
    claims["exp"] = json!(Utc::now().timestamp() + 3600 + 120);
    let response = request_token(&sim, &sign(&sim, &claims), "okta.users.read").await;
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "The client_assertion token has an expiration too far into the future.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_expiry_is_rejected() {
    let sim = start(small_org()).await;
    let mut claims = assertion_claims(&sim);
    claims.as_object_mut().unwrap().remove("exp");
    let response = request_token(&sim, &sign(&sim, &claims), "okta.users.read").await;
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "The client_assertion must contain the 'exp' claim as seconds since epoch.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn reused_jti_is_rejected() {
    let sim = start(small_org()).await;
    let assertion = sign(&sim, &assertion_claims(&sim));
    let first = request_token(&sim, &assertion, "okta.users.read").await;
    assert_eq!(first.status(), 200);
    let second = request_token(&sim, &assertion, "okta.users.read").await;
    assert_oauth_error(
        second,
        401,
        "invalid_client",
        "The client_assertion token has already been used.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn foreign_key_signature_is_rejected() {
    let sim = start(small_org()).await;
    let other_key = ClientKey::generate().unwrap();
    let assertion = sign_with(
        &other_key.private_key_pem,
        Some(&sim.key_id),
        Algorithm::RS256,
        &assertion_claims(&sim),
    );
    let response = request_token(&sim, &assertion, "okta.users.read").await;
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "The client_assertion signature is invalid.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_kid_is_rejected() {
    let sim = start(small_org()).await;
    let assertion = sign_with(
        &sim.private_key_pem,
        Some("not-the-key"),
        Algorithm::RS256,
        &assertion_claims(&sim),
    );
    let response = request_token(&sim, &assertion, "okta.users.read").await;
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "The client_assertion JWT kid is invalid.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn rs384_without_kid_is_accepted() {
    let sim = start(small_org()).await;
    let assertion = sign_with(
        &sim.private_key_pem,
        None,
        Algorithm::RS384,
        &assertion_claims(&sim),
    );
    let response = request_token(&sim, &assertion, "okta.users.read").await;
    assert_eq!(response.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn subject_other_than_client_is_rejected() {
    let sim = start(small_org()).await;
    let mut claims = assertion_claims(&sim);
    claims["sub"] = json!("0oaSomeoneElse000697");
    let response = request_token(&sim, &sign(&sim, &claims), "okta.users.read").await;
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "The subject claim for client_assertion is not a valid client_id.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn scope_not_granted_is_invalid_scope() {
    let sim = start(small_org()).await;
    let assertion = sign(&sim, &assertion_claims(&sim));
    let response = request_token(&sim, &assertion, "okta.users.read okta.users.manage").await;
    assert_oauth_error(
        response,
        400,
        "invalid_scope",
        "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn empty_scope_is_invalid_scope() {
    let sim = start(small_org()).await;
    let assertion = sign(&sim, &assertion_claims(&sim));
    let response = request_token(&sim, &assertion, "").await;
    assert_oauth_error(response, 400, "invalid_scope", "No scopes were requested.").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported() {
    let sim = start(small_org()).await;
    let form = [("grant_type", "magic"), ("scope", "okta.users.read")];
    let response = http()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_oauth_error(
        response,
        400,
        "unsupported_grant_type",
        "The grant type in the request isn't supported.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn client_secret_is_rejected() {
    let sim = start(small_org()).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "okta.users.read"),
        ("client_id", sim.client_id.as_str()),
        ("client_secret", "hunter2"),
    ];
    let response = http()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_credentials_are_rejected() {
    let sim = start(small_org()).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "okta.users.read"),
    ];
    let response = http()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "No client credentials found.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn garbage_assertion_fails_to_parse() {
    let sim = start(small_org()).await;
    let response = request_token(&sim, "not-a-jwt", "okta.users.read").await;
    assert_oauth_error(
        response,
        401,
        "invalid_client",
        "The parsing of the client_assertion failed.",
    )
    .await;
    sim.shutdown().await;
}
