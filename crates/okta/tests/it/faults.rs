//! Faults the client must survive: dropped connections, concurrency 429s,
//! and a token that expires in the middle of a listing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::mock::{client, rate_headers};

/// Serves raw HTTP: the first connection sends half a body and closes, the
/// next ones send the whole response.
async fn serve_dropping() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let index = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 8192];
                let _ = socket.read(&mut buffer).await;
                let body = json!([{"id": "00u1"}, {"id": "00u2"}]).to_string();
                let reset = chrono::Utc::now().timestamp() + 60;
                let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-rate-limit-limit: 600\r\nx-rate-limit-remaining: 500\r\nx-rate-limit-reset: {reset}\r\ndate: {date}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                if index == 0 {
                    let _ = socket.write_all(&body.as_bytes()[..body.len() / 2]).await;
                } else {
                    let _ = socket.write_all(body.as_bytes()).await;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{address}"), connections)
}

#[tokio::test]
async fn dropped_body_retried() {
    let (base, connections) = serve_dropping().await;
    let credentials = idaudit_okta::Credentials::ApiToken(idaudit_okta::Secret::new("00token"));
    let config = idaudit_okta::OrgConfig::new(&base, credentials, Vec::new()).unwrap();
    let client = idaudit_okta::Client::new(&config).unwrap();

    let users = client.list_all("/api/v1/users").await.unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(client.stats().retries, 1);
}

/// Returns a concurrency 429 (limit and remaining 0) to the first request.
async fn concurrency_limited(State(calls): State<Arc<AtomicUsize>>) -> Response {
    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
        let mut headers = rate_headers(0, 0, 60);
        headers.insert("x-rate-limit-limit", 0.into());
        let body = json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."});
        return (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(body)).into_response();
    }
    (
        rate_headers(600, 599, 60),
        axum::Json(json!([{"id": "00g1"}])),
    )
        .into_response()
}

#[tokio::test]
async fn concurrency_limit_backs_off_briefly() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route("/api/v1/groups", get(concurrency_limited))
        .with_state(calls.clone());
    let (base, _) = crate::mock::serve(router).await;
    let client = client(&base);

    let started = Instant::now();
    client.list_all("/api/v1/groups").await.unwrap();
    // The reset is 60 s ahead, but a concurrency 429 does not wait for it.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(client.stats().rate_limited, 1);
}

#[derive(Default)]
struct Tokens {
    issued: usize,
}

type SharedTokens = Arc<Mutex<Tokens>>;

/// Issues tokens that must be renewed one second after issue.
async fn short_token(
    State(tokens): State<SharedTokens>,
    Form(_form): Form<HashMap<String, String>>,
) -> Response {
    let mut tokens = tokens.lock().unwrap();
    tokens.issued += 1;
    axum::Json(json!({"token_type": "Bearer", "expires_in": 61, "access_token": format!("token-{}", tokens.issued)})).into_response()
}

#[derive(serde::Deserialize)]
struct PageQuery {
    after: Option<usize>,
}

/// Three slow pages that accept only the newest token.
async fn slow_pages(
    State(tokens): State<SharedTokens>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let newest = format!("Bearer token-{}", tokens.lock().unwrap().issued);
    if headers["authorization"].to_str().unwrap() != newest {
        let body = json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided"});
        return (
            StatusCode::UNAUTHORIZED,
            rate_headers(600, 500, 60),
            axum::Json(body),
        )
            .into_response();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let host = headers["host"].to_str().unwrap().to_string();
    let page = query.after.unwrap_or(0);
    let mut response = rate_headers(600, 500, 60);
    if page < 2 {
        response.append(
            "link",
            format!(
                "<http://{host}/api/v1/users?after={}>; rel=\"next\"",
                page + 1
            )
            .parse()
            .unwrap(),
        );
    }
    (response, axum::Json(json!([{"id": format!("00u{page}")}]))).into_response()
}

#[tokio::test]
async fn token_expiring_mid_listing_renewed() {
    let tokens = SharedTokens::default();
    let router = Router::new()
        .route("/oauth2/v1/token", post(short_token))
        .route("/api/v1/users", get(slow_pages))
        .with_state(tokens.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let users = client(&format!("http://{address}"))
        .list_all("/api/v1/users")
        .await
        .unwrap();
    assert_eq!(users.len(), 3);
    assert!(
        tokens.lock().unwrap().issued >= 2,
        "the token was never renewed"
    );
}
