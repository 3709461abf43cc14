//! Error responses in Okta's two formats.
//!
//! Management API errors carry the Okta error object (`errorCode`, `errorSummary`,
//! `errorLink`, `errorId`, `errorCauses`). The token endpoint answers in the OAuth 2.0
//! format (`error`, `error_description`). A missing scope is a 403 with an empty body and
//! a `WWW-Authenticate` challenge.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ids::random_token;

/// An error response of the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// An Okta error object.
    Okta {
        status: StatusCode,
        code: &'static str,
        summary: String,
        causes: Vec<String>,
    },
    /// An OAuth 2.0 error of the token endpoint.
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    /// A 403 for a token without the scope an endpoint needs, with its `WWW-Authenticate` challenge.
    InsufficientScope { challenge: String },
    /// An OAuth 2.0 error with a `dpop-nonce` header and, from a resource endpoint, a
    /// `WWW-Authenticate` challenge.
    DpopNonce {
        status: StatusCode,
        description: String,
        nonce: String,
        challenge: Option<String>,
    },
    /// A 500 `E0000009`, or another status with the same body, injected as a fault.
    ServerError { status: StatusCode },
}

impl ApiError {
    fn okta(status: StatusCode, code: &'static str, summary: impl Into<String>) -> ApiError {
        ApiError::Okta {
            status,
            code,
            summary: summary.into(),
            causes: Vec::new(),
        }
    }

    /// 401 `E0000011` for a missing, unknown or expired access token.
    pub fn invalid_token() -> ApiError {
        ApiError::okta(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        )
    }

    /// 404 `E0000007` for an unknown object or path.
    pub fn not_found(resource: &str, kind: &str) -> ApiError {
        ApiError::okta(
            StatusCode::NOT_FOUND,
            "E0000007",
            format!("Not found: Resource not found: {resource} ({kind})"),
        )
    }

    /// 400 `E0000001` for an invalid parameter; `causes` become `errorCauses`.
    pub fn validation(summary: &str, causes: Vec<String>) -> ApiError {
        ApiError::Okta {
            status: StatusCode::BAD_REQUEST,
            code: "E0000001",
            summary: format!("Api validation failed: {summary}"),
            causes,
        }
    }

    /// 400 `E0000031` for a `filter` or `search` the endpoint does not support.
    pub fn invalid_search() -> ApiError {
        ApiError::okta(
            StatusCode::BAD_REQUEST,
            "E0000031",
            "Invalid search criteria.",
        )
    }

    /// 403 `E0000006` for an operation the caller may not perform.
    pub fn forbidden() -> ApiError {
        ApiError::okta(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        )
    }

    /// 403 `E0000038` for a lifecycle operation the user's status does not allow.
    pub fn status_not_allowed() -> ApiError {
        ApiError::okta(
            StatusCode::FORBIDDEN,
            "E0000038",
            "This operation is not allowed in the user's current status.",
        )
    }

    /// 400 `E0000053`, the System Log's code for invalid filters and parameters.
    pub fn invalid_log_parameter(summary: impl Into<String>) -> ApiError {
        ApiError::okta(StatusCode::BAD_REQUEST, "E0000053", summary)
    }

    /// 429 `E0000047` when a rate-limit bucket is exhausted.
    pub fn rate_limited() -> ApiError {
        ApiError::okta(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
    }

    /// 405 `E0000022` for a method the endpoint does not support.
    pub fn method_not_allowed() -> ApiError {
        ApiError::okta(
            StatusCode::METHOD_NOT_ALLOWED,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        )
    }

    /// Builds an OAuth 2.0 error of the token endpoint.
    pub fn oauth(status: StatusCode, error: &'static str, description: &str) -> ApiError {
        ApiError::OAuth {
            status,
            error,
            description: description.to_string(),
        }
    }

    /// `use_dpop_nonce` with the nonce the client must put in its next proof.
    pub fn use_dpop_nonce(
        status: StatusCode,
        description: &str,
        nonce: String,
        challenge: Option<String>,
    ) -> ApiError {
        ApiError::DpopNonce {
            status,
            description: description.to_string(),
            nonce,
            challenge,
        }
    }

    /// 401 `invalid_client` with the given description.
    pub fn invalid_client(description: &str) -> ApiError {
        ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Okta {
                status,
                code,
                summary,
                causes,
            } => {
                let causes: Vec<_> = causes
                    .into_iter()
                    .map(|cause| json!({"errorSummary": cause}))
                    .collect();
                let body = json!({
                    "errorCode": code,
                    "errorSummary": summary,
                    "errorLink": code,
                    "errorId": format!("oae{}", random_token(&mut rand::thread_rng(), 22)),
                    "errorCauses": causes,
                });
                (status, Json(body)).into_response()
            }
            ApiError::OAuth {
                status,
                error,
                description,
            } => {
                let body = json!({"error": error, "error_description": description});
                let mut response = (status, Json(body)).into_response();
                let headers = response.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
                response
            }
            ApiError::DpopNonce {
                status,
                description,
                nonce,
                challenge,
            } => {
                let body = json!({"error": "use_dpop_nonce", "error_description": description});
                let mut response = (status, Json(body)).into_response();
                let headers = response.headers_mut();
                let values = [("dpop-nonce", Some(nonce)), ("www-authenticate", challenge)];
                for (name, value) in values {
                    if let Some(Ok(value)) = value.map(|value| HeaderValue::from_str(&value)) {
                        headers.insert(name, value);
                    }
                }
                response
            }
            ApiError::ServerError { status } => {
                let body = json!({
                    "errorCode": "E0000009",
                    "errorSummary": "Internal Server Error",
                    "errorLink": "E0000009",
                    "errorId": format!("oae{}", random_token(&mut rand::thread_rng(), 22)),
                    "errorCauses": [],
                });
                (status, Json(body)).into_response()
            }
            ApiError::InsufficientScope { challenge } => {
                let mut response = StatusCode::FORBIDDEN.into_response();
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
        }
    }
}
