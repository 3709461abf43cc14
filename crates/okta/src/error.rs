//! Errors from the Okta client, each with what a user can do about it.

use reqwest::StatusCode;

/// An error from talking to Okta.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid Okta org URL `{url}`")]
    InvalidUrl { url: String, reason: String },

    #[error("plain HTTP is only allowed for loopback hosts, not for `{url}`")]
    InsecureUrl { url: String },

    #[error("invalid private key: {reason}")]
    InvalidKey { reason: String },

    #[error("the token endpoint rejected the request with `{error}` ({status}): {description}")]
    OAuth {
        status: StatusCode,
        error: String,
        description: String,
    },

    #[error(
        "Okta returned {} `{}` for `{}`: {} (errorId `{}`)",
        .0.status, .0.code, .0.url, .0.summary, .0.error_id
    )]
    Api(Box<ApiError>),

    #[error("missing scope `{scope}` for `{url}`")]
    MissingScope { url: String, scope: String },

    #[error("Okta answered {status} for `{url}`")]
    UnexpectedStatus {
        url: String,
        status: StatusCode,
        body: String,
    },

    #[error("gave up on `{url}` after {attempts} attempts")]
    RetriesExhausted {
        url: String,
        attempts: u32,
        #[source]
        last: Box<Error>,
    },

    #[error("refused to follow a link to `{url}`: it is not on the org `{org}`")]
    ForeignLink { url: String, org: String },

    #[error("request to `{url}` failed")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("failed to read the response of `{url}` as JSON")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

/// An Okta error body (`errorCode`, `errorSummary`, `errorId`, `errorCauses`)
/// with the URL of the failed request.
#[derive(Debug)]
pub struct ApiError {
    pub url: String,
    pub status: StatusCode,
    pub code: String,
    pub summary: String,
    pub error_id: String,
    /// The `X-Okta-Request-Id` header, which finds the request in Okta's logs.
    pub request_id: Option<String>,
    pub causes: Vec<String>,
}

impl Error {
    /// Returns Okta's request id of a failed request, when Okta sent one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.request_id.as_deref(),
            _ => None,
        }
    }

    /// Returns the HTTP status of an API error, if this is one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::UnexpectedStatus { status, .. } | Error::OAuth { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Returns the fix for this error, where one is known.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::OAuth { error, .. } if error == "invalid_client" => Some(
                "check that the client id is the service app's and that the private key \
                 matches a public key registered on that app"
                    .to_string(),
            ),
            Error::OAuth { error, .. } if error == "invalid_scope" => Some(
                "grant the requested scopes to the service app in the Admin Console \
                 (Applications > the app > Okta API Scopes), or request fewer with `scopes`"
                    .to_string(),
            ),
            Error::MissingScope { scope, .. } => Some(format!(
                "grant `{scope}` to the service app in the Admin Console \
                 (Applications > the app > Okta API Scopes)"
            )),
            Error::InsecureUrl { .. } => {
                Some("use the https:// URL of the org, such as https://example.okta.com".to_string())
            }
            Error::Api(api) if api.code == "E0000011" => Some(
                "the token is invalid or expired: check the API token, or the service app's credentials"
                    .to_string(),
            ),
            Error::Api(api) if api.code == "E0000006" => Some(
                "assign the service app an admin role that covers these resources \
                 (Applications > the app > Admin roles)"
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// Returns true for errors worth retrying: 5xx responses and transport failures.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            // A body cut off mid-way surfaces as a decode error when the
            // response is compressed, and as a body error otherwise.
            Error::Http { source, .. } => {
                source.is_timeout()
                    || source.is_connect()
                    || source.is_request()
                    || source.is_body()
                    || source.is_decode()
            }
            Error::Api(api) => api.status.is_server_error(),
            Error::UnexpectedStatus { status, .. } => status.is_server_error(),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
