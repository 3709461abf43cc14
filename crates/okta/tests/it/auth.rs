//! Token endpoint variants: client secret, EC keys, DPoP with nonces, SSWS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idaudit_okta::{Client, Credentials, DpopMode, OrgConfig, Secret};
use serde_json::{Value, json};

use crate::mock::rate_headers;

/// Everything the mock org saw.
#[derive(Default)]
struct Seen {
    token_requests: Vec<(HeaderMap, HashMap<String, String>)>,
    resource_requests: Vec<HeaderMap>,
    challenged: bool,
}

type Shared = Arc<Mutex<Seen>>;

fn decode_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default()).unwrap_or(Value::Null)
}

/// Serves a token endpoint that requires DPoP: no proof, then no nonce, then success.
async fn dpop_token(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    seen.lock()
        .unwrap()
        .token_requests
        .push((headers.clone(), form));
    let Some(proof) = headers.get("dpop").and_then(|value| value.to_str().ok()) else {
        let body = json!({"error": "invalid_dpop_proof", "error_description": "The DPoP proof JWT header is missing."});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    };
    if decode_part(proof, 1)["nonce"] != "token-nonce" {
        let body = json!({"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof."});
        let mut response = (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert("dpop-nonce", "token-nonce".parse().unwrap());
        return response;
    }
    axum::Json(json!({"token_type": "DPoP", "expires_in": 3600, "access_token": "dpop-token", "scope": "okta.users.read"})).into_response()
}

/// Serves a resource that challenges the first request for a nonce.
async fn dpop_users(State(seen): State<Shared>, headers: HeaderMap) -> Response {
    let mut seen = seen.lock().unwrap();
    seen.resource_requests.push(headers.clone());
    if !seen.challenged {
        seen.challenged = true;
        let mut response = (StatusCode::UNAUTHORIZED, rate_headers(600, 500, 60)).into_response();
        response.headers_mut().insert("www-authenticate", "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in DPoP proof\"".parse().unwrap());
        response
            .headers_mut()
            .insert("dpop-nonce", "resource-nonce".parse().unwrap());
        return response;
    }
    (
        rate_headers(600, 500, 60),
        axum::Json(json!([{"id": "00u1"}])),
    )
        .into_response()
}

/// Serves a token endpoint for an API Service Integration with a client secret.
async fn secret_token(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    seen.lock().unwrap().token_requests.push((headers, form));
    axum::Json(json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "secret-token"}))
        .into_response()
}

async fn plain_users(State(seen): State<Shared>, headers: HeaderMap) -> Response {
    seen.lock().unwrap().resource_requests.push(headers);
    (
        rate_headers(600, 500, 60),
        axum::Json(json!([{"id": "00u1"}])),
    )
        .into_response()
}

async fn serve(router: Router<Shared>, seen: Shared) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let app = router.with_state(seen);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn client(base: &str, credentials: Credentials) -> Client {
    Client::new(&OrgConfig::new(base, credentials, Vec::new()).unwrap()).unwrap()
}

fn ec_credentials() -> Credentials {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let key = p256::SecretKey::random(&mut rand::thread_rng());
    Credentials::PrivateKey {
        client_id: "0oaservice".to_string(),
        private_key: Secret::new(key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()),
        key_id: Some("ec-key".to_string()),
    }
}

#[tokio::test]
async fn dpop_nonces_at_token_and_resource() {
    let seen = Shared::default();
    let router = Router::new()
        .route("/oauth2/v1/token", post(dpop_token))
        .route("/api/v1/users", get(dpop_users));
    let base = serve(router, seen.clone()).await;

    let users = client(&base, ec_credentials())
        .list_all("/api/v1/users?limit=200")
        .await
        .unwrap();
    assert_eq!(users.len(), 1);

    let seen = seen.lock().unwrap();
    // Without proof, without nonce, then with the nonce: three token requests.
    assert_eq!(seen.token_requests.len(), 3);
    let assertions: Vec<Value> = seen
        .token_requests
        .iter()
        .map(|(_, form)| decode_part(&form["client_assertion"], 1))
        .collect();
    assert_ne!(
        assertions[1]["jti"], assertions[2]["jti"],
        "an assertion was reused"
    );
    let final_proof = decode_part(seen.token_requests[2].0["dpop"].to_str().unwrap(), 1);
    assert_eq!(final_proof["htm"], "POST");
    assert_eq!(final_proof["htu"], format!("{base}/oauth2/v1/token"));

    // The resource challenge is met once with the new nonce and a new proof.
    assert_eq!(seen.resource_requests.len(), 2);
    let proofs: Vec<Value> = seen
        .resource_requests
        .iter()
        .map(|headers| decode_part(headers["dpop"].to_str().unwrap(), 1))
        .collect();
    assert_eq!(proofs[1]["nonce"], "resource-nonce");
    assert_ne!(proofs[0]["jti"], proofs[1]["jti"]);
    assert_eq!(proofs[1]["htu"], format!("{base}/api/v1/users"));
    assert!(proofs[1]["ath"].is_string());
    assert_eq!(
        seen.resource_requests[1]["authorization"],
        "DPoP dpop-token"
    );
}

#[tokio::test]
async fn ec_assertion_signed_es256() {
    let seen = Shared::default();
    let router = Router::new()
        .route("/oauth2/v1/token", post(secret_token))
        .route("/api/v1/users", get(plain_users));
    let base = serve(router, seen.clone()).await;

    client(&base, ec_credentials())
        .list_all("/api/v1/users")
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let assertion = &seen.token_requests[0].1["client_assertion"];
    let header = decode_part(assertion, 0);
    let claims = decode_part(assertion, 1);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], "ec-key");
    assert_eq!(claims["iss"], "0oaservice");
    assert_eq!(claims["sub"], "0oaservice");
    assert_eq!(claims["aud"], format!("{base}/oauth2/v1/token"));
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 3600);
}

#[tokio::test]
async fn client_secret_sent_as_basic() {
    let seen = Shared::default();
    let router = Router::new()
        .route("/oauth2/v1/token", post(secret_token))
        .route("/api/v1/users", get(plain_users));
    let base = serve(router, seen.clone()).await;
    let credentials = Credentials::ClientSecret {
        client_id: "0oaintegration".to_string(),
        client_secret: Secret::new("s3cret"),
    };

    client(&base, credentials)
        .list_all("/api/v1/users")
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let (headers, form) = &seen.token_requests[0];
    let expected = format!("Basic {}", STANDARD.encode("0oaintegration:s3cret"));
    assert_eq!(headers["authorization"], expected.as_str());
    assert!(!form.contains_key("client_assertion"));
    assert!(
        !form.contains_key("client_secret"),
        "client_secret_post is not accepted by Okta"
    );
    assert_eq!(
        seen.resource_requests[0]["authorization"],
        "Bearer secret-token"
    );
}

#[tokio::test]
async fn api_token_sent_as_ssws() {
    let seen = Shared::default();
    let router = Router::new().route("/api/v1/users", get(plain_users));
    let base = serve(router, seen.clone()).await;

    client(&base, Credentials::ApiToken(Secret::new("00abc")))
        .list_all("/api/v1/users")
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.token_requests.is_empty());
    assert_eq!(seen.resource_requests[0]["authorization"], "SSWS 00abc");
}

#[tokio::test]
async fn dpop_never_mode_reports_the_requirement() {
    let seen = Shared::default();
    let router = Router::new()
        .route("/oauth2/v1/token", post(dpop_token))
        .route("/api/v1/users", get(dpop_users));
    let base = serve(router, seen.clone()).await;
    let mut config = OrgConfig::new(&base, ec_credentials(), Vec::new()).unwrap();
    config.options.dpop = DpopMode::Never;

    let error = Client::new(&config)
        .unwrap()
        .list_all("/api/v1/users")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid_dpop_proof"), "{error}");
    assert_eq!(seen.lock().unwrap().token_requests.len(), 1);
}

/// Rejects any request for `okta.roles.read`, as Okta does for a scope the
/// app was not granted.
async fn scope_checking_token(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let scope = form.get("scope").cloned().unwrap_or_default();
    seen.lock().unwrap().token_requests.push((headers, form));
    if scope.contains("okta.roles.read") {
        let body = json!({"error": "invalid_scope", "error_description": "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner."});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    axum::Json(json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "scoped-token", "scope": scope})).into_response()
}

#[tokio::test]
async fn optional_scope_dropped_when_not_granted() {
    let seen = Shared::default();
    let router = Router::new()
        .route("/oauth2/v1/token", post(scope_checking_token))
        .route("/api/v1/users", get(plain_users));
    let base = serve(router, seen.clone()).await;
    let mut config = OrgConfig::new(&base, ec_credentials(), Vec::new()).unwrap();
    config.optional_scopes = vec!["okta.roles.read".to_string()];

    Client::new(&config)
        .unwrap()
        .list_all("/api/v1/users")
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.token_requests.len(), 2);
    assert!(seen.token_requests[0].1["scope"].contains("okta.roles.read"));
    assert!(!seen.token_requests[1].1["scope"].contains("okta.roles.read"));
    assert!(seen.token_requests[1].1["scope"].contains("okta.users.read"));
}

#[tokio::test]
async fn required_scope_rejection_reported() {
    let seen = Shared::default();
    let router = Router::new()
        .route("/oauth2/v1/token", post(scope_checking_token))
        .route("/api/v1/users", get(plain_users));
    let base = serve(router, seen.clone()).await;
    let config =
        OrgConfig::new(&base, ec_credentials(), vec!["okta.roles.read".to_string()]).unwrap();

    let error = Client::new(&config)
        .unwrap()
        .list_all("/api/v1/users")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("invalid_scope"), "{error}");
    assert!(error.hint().unwrap().contains("Okta API Scopes"));
}
