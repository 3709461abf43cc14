//! The second kind of client and credential: the API service integration with
//! `client_secret_basic`, client assertions signed with EC keys, and SSWS API tokens.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idaudit_okta_sim::{EcCurve, RunningSim, SimOptions, serve};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Response;
use serde_json::Value;

use crate::support::{assertion_claims, get, http, options, request_token, small_org, start};

async fn basic_token_request(sim: &RunningSim, id: &str, secret: &str, scope: &str) -> Response {
    let credentials = STANDARD.encode(format!("{id}:{secret}"));
    http()
        .post(sim.token_url())
        .header("Authorization", format!("Basic {credentials}"))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
}

async fn assert_invalid_client(response: Response, description: &str) {
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "body: {body}");
    assert_eq!(body["error_description"], description, "body: {body}");
}

#[tokio::test]
async fn integration_secret_gets_bearer_token() {
    let sim = start(small_org()).await;
    assert!(sim.secret_client_id.starts_with("0oa"));
    assert_ne!(sim.secret_client_id, sim.client_id);
    let response = basic_token_request(
        &sim,
        &sim.secret_client_id,
        &sim.client_secret,
        "okta.users.read",
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "okta.users.read");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        get(&sim, token, "/api/v1/users?limit=1").await.status(),
        200
    );
    assert_eq!(
        get(&sim, token, "/api/v1/groups").await.status(),
        403,
        "only the requested scope is granted"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn integration_wrong_secret_is_rejected() {
    let sim = start(small_org()).await;
    let response =
        basic_token_request(&sim, &sim.secret_client_id, "wrong", "okta.users.read").await;
    assert_invalid_client(
        response,
        "The client secret supplied for a confidential client is invalid.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn integration_secret_in_body_is_rejected() {
    let sim = start(small_org()).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "okta.users.read"),
        ("client_id", sim.secret_client_id.as_str()),
        ("client_secret", sim.client_secret.as_str()),
    ];
    let response = http()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_invalid_client(
        response,
        "OAuth Integration Client Credentials requests to the Org Authorization Server must use either private_key_jwt or client_secret_basic as the token_endpoint_auth_method.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn service_app_basic_auth_is_rejected() {
    let sim = start(small_org()).await;
    let response = basic_token_request(&sim, &sim.client_id, "anything", "okta.users.read").await;
    assert_invalid_client(
        response,
        "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn ec_assertions_get_tokens() {
    let sim = start(small_org()).await;
    assert_eq!(sim.ec_keys.len(), 2);
    for key in &sim.ec_keys {
        let algorithm = match key.curve {
            EcCurve::P256 => Algorithm::ES256,
            EcCurve::P384 => Algorithm::ES384,
        };
        for kid in [Some(key.key_id.clone()), None] {
            let header = Header {
                kid: kid.clone(),
                ..Header::new(algorithm)
            };
            let signing_key = EncodingKey::from_ec_pem(key.private_key_pem.as_bytes()).unwrap();
            let assertion =
                jsonwebtoken::encode(&header, &assertion_claims(&sim), &signing_key).unwrap();
            let response = request_token(&sim, &assertion, "okta.users.read").await;
            assert_eq!(response.status(), 200, "{algorithm:?} with kid {kid:?}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn ec_assertion_with_rsa_kid_is_rejected() {
    let sim = start(small_org()).await;
    let key = &sim.ec_keys[0];
    let header = Header {
        kid: Some(sim.key_id.clone()),
        ..Header::new(Algorithm::ES256)
    };
    let signing_key = EncodingKey::from_ec_pem(key.private_key_pem.as_bytes()).unwrap();
    let assertion = jsonwebtoken::encode(&header, &assertion_claims(&sim), &signing_key).unwrap();
    let response = request_token(&sim, &assertion, "okta.users.read").await;
    assert_invalid_client(response, "The client_assertion JWT kid is invalid.").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn ssws_token_reads_everything() {
    let sim = serve(
        small_org(),
        SimOptions {
            scopes: vec!["okta.users.read".to_string()],
            api_token: Some("00configuredApiToken".to_string()),
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(sim.api_token, "00configuredApiToken");
    for path in [
        "/api/v1/users?limit=1",
        "/api/v1/groups?limit=1",
        "/api/v1/logs?limit=1",
    ] {
        let response = http()
            .get(format!("{}{path}", sim.base_url))
            .header("Authorization", format!("SSWS {}", sim.api_token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let wrong = http()
        .get(format!("{}/api/v1/users", sim.base_url))
        .header("Authorization", "SSWS 00wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    sim.shutdown().await;
}
