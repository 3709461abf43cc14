//! A minimal Okta-like server that each test scripts.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use idaudit_okta::{Client, Credentials, OrgConfig, Secret};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

/// What the token endpoint saw.
#[derive(Default)]
pub struct TokenLog {
    pub requests: usize,
    pub assertion_ids: Vec<String>,
}

pub type SharedTokenLog = Arc<Mutex<TokenLog>>;

/// Serves `router` plus a token endpoint on 127.0.0.1 and returns the base URL.
pub async fn serve(router: Router) -> (String, SharedTokenLog) {
    let log = SharedTokenLog::default();
    let app = router.merge(
        Router::new()
            .route("/oauth2/v1/token", post(token))
            .with_state(log.clone()),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), log)
}

async fn token(
    State(log): State<SharedTokenLog>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    let assertion = form.get("client_assertion").cloned().unwrap_or_default();
    let claims = assertion.split('.').nth(1).unwrap_or_default().to_string();
    let mut log = log.lock().unwrap();
    log.requests += 1;
    log.assertion_ids.push(claims);
    let body = serde_json::json!({
        "token_type": "Bearer",
        "expires_in": 3600,
        "access_token": format!("token-{}", log.requests),
        "scope": form.get("scope").cloned().unwrap_or_default(),
    });
    (StatusCode::OK, axum::Json(body))
}

/// Returns a fresh RSA private key as PKCS#8 PEM.
pub fn private_key_pem() -> String {
    let mut rng = rand::thread_rng();
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
}

/// Builds a client for `base_url` that authenticates with a new key.
pub fn client(base_url: &str) -> Client {
    let credentials = Credentials::PrivateKey {
        client_id: "0oatestclient".to_string(),
        private_key: Secret::new(private_key_pem()),
        key_id: None,
    };
    Client::new(&OrgConfig::new(base_url, credentials, Vec::new()).unwrap()).unwrap()
}

/// Returns the rate-limit and date headers Okta sends, with the window
/// resetting `reset_in` seconds from now.
pub fn rate_headers(limit: u64, remaining: u64, reset_in: i64) -> HeaderMap {
    let now = chrono::Utc::now();
    let mut headers = HeaderMap::new();
    headers.insert("x-rate-limit-limit", limit.into());
    headers.insert("x-rate-limit-remaining", remaining.into());
    headers.insert("x-rate-limit-reset", (now.timestamp() + reset_in).into());
    headers.insert(
        "date",
        now.format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
            .parse()
            .unwrap(),
    );
    headers.insert("x-okta-request-id", "req-1".parse().unwrap());
    headers
}
