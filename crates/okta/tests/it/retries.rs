use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::mock::{client, rate_headers, serve};

#[derive(Clone, Default)]
struct Seen {
    calls: Arc<AtomicUsize>,
    retry_headers: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

/// Rate-limits the first call, with a reset one second ahead.
async fn limited_once(State(seen): State<Seen>, headers: HeaderMap) -> impl IntoResponse {
    let call = seen.calls.fetch_add(1, Ordering::SeqCst);
    if let (Some(retry_for), Some(count)) = (
        headers.get("x-okta-retry-for"),
        headers.get("x-okta-retry-count"),
    ) {
        seen.retry_headers.lock().unwrap().push((
            retry_for.to_str().unwrap().to_string(),
            count.to_str().unwrap().to_string(),
        ));
    }
    if call == 0 {
        let body = json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests.", "errorLink": "E0000047", "errorId": "x", "errorCauses": []});
        return (
            StatusCode::TOO_MANY_REQUESTS,
            rate_headers(600, 0, 1),
            axum::Json(body),
        );
    }
    (
        StatusCode::OK,
        rate_headers(600, 599, 60),
        axum::Json(json!([{"id": "00u1"}])),
    )
}

#[tokio::test]
async fn rate_limited_request_retried_after_reset() {
    let seen = Seen::default();
    let router = Router::new()
        .route("/api/v1/users", get(limited_once))
        .with_state(seen.clone());
    let (base, _) = serve(router).await;
    let client = client(&base);

    let started = Instant::now();
    let all = client.list_all("/api/v1/users").await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(
        started.elapsed().as_millis() >= 1000,
        "retried before the reset: {:?}",
        started.elapsed()
    );
    assert_eq!(client.stats().rate_limited, 1);
    let retries = seen.retry_headers.lock().unwrap().clone();
    assert_eq!(retries, vec![("req-1".to_string(), "1".to_string())]);
}

/// Fails with 503 twice, then succeeds.
async fn flaky(State(seen): State<Seen>) -> impl IntoResponse {
    let call = seen.calls.fetch_add(1, Ordering::SeqCst);
    if call < 2 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            rate_headers(600, 500, 60),
            axum::Json(
                json!({"errorCode": "E0000010", "errorSummary": "Service is in read only mode"}),
            ),
        );
    }
    (
        StatusCode::OK,
        rate_headers(600, 500, 60),
        axum::Json(json!([{"id": "00g1"}])),
    )
}

#[tokio::test]
async fn server_error_then_success() {
    let seen = Seen::default();
    let router = Router::new()
        .route("/api/v1/groups", get(flaky))
        .with_state(seen.clone());
    let (base, _) = serve(router).await;
    let client = client(&base);

    let all = client.list_all("/api/v1/groups").await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 3);
    assert_eq!(client.stats().retries, 2);
}

/// Rejects the first token, as Okta does with an expired or revoked one.
async fn expiring_token(State(seen): State<Seen>, headers: HeaderMap) -> impl IntoResponse {
    seen.calls.fetch_add(1, Ordering::SeqCst);
    let authorization = headers.get("authorization").unwrap().to_str().unwrap();
    if authorization == "Bearer token-1" {
        let body = json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorId": "y"});
        return (
            StatusCode::UNAUTHORIZED,
            rate_headers(600, 500, 60),
            axum::Json(body),
        );
    }
    (
        StatusCode::OK,
        rate_headers(600, 500, 60),
        axum::Json(json!([{"id": "0oa1"}])),
    )
}

#[tokio::test]
async fn rejected_token_renewed_once() {
    let seen = Seen::default();
    let router = Router::new()
        .route("/api/v1/apps", get(expiring_token))
        .with_state(seen.clone());
    let (base, tokens) = serve(router).await;

    let all = client(&base).list_all("/api/v1/apps").await.unwrap();
    assert_eq!(all.len(), 1);
    let tokens = tokens.lock().unwrap();
    assert_eq!(tokens.requests, 2);
    // Each token request carries a new assertion, so a new `jti`.
    assert_ne!(tokens.assertion_ids[0], tokens.assertion_ids[1]);
}

async fn missing_scope() -> impl IntoResponse {
    let mut headers = rate_headers(600, 500, 60);
    headers.insert(
        "www-authenticate",
        "Bearer authorization_uri=\"http://x/oauth2/v1/authorize\", realm=\"http://x\", scope=\"okta.logs.read\", error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\""
            .parse()
            .unwrap(),
    );
    (StatusCode::FORBIDDEN, headers)
}

#[tokio::test]
async fn missing_scope_named_with_hint() {
    let (base, _) = serve(Router::new().route("/api/v1/logs", get(missing_scope))).await;
    let error = client(&base).list_all("/api/v1/logs").await.unwrap_err();
    match &error {
        idaudit_okta::Error::MissingScope { scope, .. } => assert_eq!(scope, "okta.logs.read"),
        other => panic!("expected a missing scope, got {other:?}"),
    }
    assert!(error.hint().unwrap().contains("okta.logs.read"));
}
