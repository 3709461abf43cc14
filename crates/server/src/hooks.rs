//! The Okta event-hook endpoint, `/hooks/okta`.
//!
//! Okta verifies a hook once with a `GET` that carries the header
//! `X-Okta-Verification-Challenge` and expects `{"verification": <value>}`
//! back. It then `POST`s deliveries: an envelope whose `data.events` contains
//! System Log LogEvents, with the configured header (such as
//! `Authorization`) sent verbatim. Okta waits 3 seconds, retries a timeout or
//! a 5xx once and never retries a 4xx. Delivery is at least once and may be
//! out of order, so events are deduplicated by `uuid` in the store, which
//! also drops events the System Log poller stored first.
//!
//! A delivery is acknowledged with 200 only once its events are committed,
//! so an acknowledged event cannot be lost by a crash. Commits go through
//! [`EventWriter`], one thread that owns a store connection and commits the
//! deliveries waiting at that moment in one transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use idaudit_okta::Secret;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::writer::{EventWriter, WriteError};

/// Header of Okta's one-time verification request.
const CHALLENGE_HEADER: &str = "x-okta-verification-challenge";
/// Maximum length of a verification challenge echoed back; Okta's are UUID-sized.
const MAX_CHALLENGE_LENGTH: usize = 1024;
/// Default limit of a delivery body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Settings of the hook endpoint.
#[derive(Clone, Debug)]
pub struct HookSettings {
    /// Value the configured header must carry, as set in the hook's `authScheme.value`.
    pub secret: Secret,
    /// Header that carries the secret, `Authorization` unless the hook names another.
    pub header: HeaderName,
    /// Largest accepted delivery body in bytes; larger ones get 413.
    pub max_body_bytes: usize,
}

impl HookSettings {
    /// Settings with the `Authorization` header and the default body limit.
    pub fn new(secret: Secret) -> HookSettings {
        HookSettings {
            secret,
            header: axum::http::header::AUTHORIZATION,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

struct HookState {
    header: HeaderName,
    secret_digest: [u8; 32],
    writer: EventWriter,
    rejected: AtomicU64,
}

/// Okta's delivery envelope; only `data.events` is read.
#[derive(Deserialize)]
struct Envelope {
    data: EnvelopeData,
}

#[derive(Deserialize)]
struct EnvelopeData {
    events: Vec<Value>,
}

/// Builds the `/hooks/okta` routes, which store events through `writer`.
pub fn routes(settings: HookSettings, writer: EventWriter) -> Router {
    let state = Arc::new(HookState {
        header: settings.header,
        secret_digest: digest(settings.secret.expose().as_bytes()),
        writer,
        rejected: AtomicU64::new(0),
    });
    Router::new()
        .route("/hooks/okta", get(verify).post(receive))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .with_state(state)
}

/// `GET /hooks/okta`: echoes Okta's verification challenge.
async fn verify(headers: HeaderMap) -> Response {
    let challenge = headers
        .get(CHALLENGE_HEADER)
        .and_then(|value| value.to_str().ok());
    match challenge {
        Some(challenge) if !challenge.is_empty() && challenge.len() <= MAX_CHALLENGE_LENGTH => {
            tracing::info!("Answered Okta's event hook verification");
            Json(serde_json::json!({"verification": challenge})).into_response()
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "Missing or invalid `X-Okta-Verification-Challenge` header",
        ),
    }
}

/// `POST /hooks/okta`: stores the events of one delivery, then acknowledges it.
async fn receive(State(state): State<Arc<HookState>>, request: Request) -> Response {
    if !state.authorized(request.headers()) {
        return state.reject();
    }
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::warn!("Rejected an event hook delivery above the body size limit");
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Delivery body is above the size limit",
            );
        }
        Err(rejection) => {
            tracing::warn!(reason = %rejection.body_text(), "Failed to read an event hook delivery");
            return error(rejection.status(), "Failed to read the delivery body");
        }
    };
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(parse_error) => {
            let reason = parse_error.to_string();
            tracing::warn!(%reason, bytes = body.len(), "Rejected a malformed event hook delivery");
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid delivery: {reason}"),
            );
        }
    };

    let mut records = Vec::with_capacity(envelope.data.events.len());
    for value in envelope.data.events {
        match idaudit_collect::to_event_record(value) {
            Ok(record) => records.push(record),
            // Okta does not retry a 4xx, and sending the same event again
            // would not make it readable, so the rest of the delivery is kept.
            Err(reason) => tracing::warn!(reason, "Skipped an unreadable event in a hook delivery"),
        }
    }
    if records.is_empty() {
        return StatusCode::OK.into_response();
    }
    match state.writer.write(records).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(WriteError::Stopped) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down",
        ),
        Err(WriteError::Store) => {
            // Okta retries a 5xx once; the cause was logged by the writer.
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Failed to store the events",
            )
        }
    }
}

impl HookState {
    /// Compares the configured header with the secret in constant time, on
    /// SHA-256 digests so that the time does not depend on the length either.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers.get(&self.header) else {
            return false;
        };
        let presented = digest(presented.as_bytes());
        bool::from(presented.ct_eq(&self.secret_digest))
    }

    /// Answers 401, logging the first rejection and then every hundredth.
    fn reject(&self) -> Response {
        let count = self.rejected.fetch_add(1, Ordering::Relaxed) + 1;
        if count == 1 || count.is_multiple_of(100) {
            tracing::warn!(
                header = %self.header,
                rejected = count,
                "Rejected an event hook delivery with a missing or wrong secret"
            );
        }
        error(
            StatusCode::UNAUTHORIZED,
            "Missing or wrong event hook secret",
        )
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A JSON error body; never contains a secret or a stored value.
fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({"error": message}))).into_response()
}
