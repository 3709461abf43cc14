//! The idaudit HTTP server: `GET /healthz` and the Okta event-hook endpoint.
//!
//! [`router`] serves the health check alone; [`app`] adds `/hooks/okta`
//! when event hooks are configured (see [`hooks`]). The web UI and the JSON
//! API will be added as further routes.

pub mod hooks;
pub mod writer;

use axum::Router;
use axum::routing::get;

pub use hooks::{DEFAULT_MAX_BODY_BYTES, HookSettings};
pub use writer::{EventWriter, OnNewEvents, WriteError, Written};

/// Builds the health route.
pub fn router() -> Router {
    Router::new().route("/healthz", get(health))
}

/// Builds the application: the health route, and the event-hook routes
/// when `hooks` gives their settings and the writer that stores events.
pub fn app(hooks: Option<(HookSettings, EventWriter)>) -> Router {
    let router = router();
    match hooks {
        Some((settings, writer)) => router.merge(hooks::routes(settings, writer)),
        None => router,
    }
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn health_returns_ok() {
        let response = super::router()
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
