//! The idaudit HTTP server.
//!
//! For now it serves only `GET /healthz`. The web UI, the JSON API and the
//! event-hook endpoint will be added as routes on [`router`].

use axum::Router;
use axum::routing::get;

/// Builds the application's routes.
pub fn router() -> Router {
    Router::new().route("/healthz", get(health))
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
