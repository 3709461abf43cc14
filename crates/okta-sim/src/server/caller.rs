//! Authentication of management API requests: `Bearer` and `DPoP` access tokens from
//! the token endpoint, SSWS API tokens, and the scope check.
//!
//! An SSWS token acts for the admin who created it, so it passes every scope check. A
//! DPoP-bound token must be sent with the `DPoP` scheme and a proof whose key is the
//! bound key and whose `ath` is the hash of the token. A `Bearer` token must not be
//! sent with the `DPoP` scheme.

use axum::http::{HeaderMap, Method, StatusCode, header};
use chrono::{DateTime, Utc};

use super::auth::{Authority, Grant};
use super::dpop::{Expected, access_token_hash, invalid_proof};
use super::error::ApiError;

/// Algorithms named in the `DPoP` challenge of a DPoP-enabled org.
const DPOP_ALGORITHMS: &str = "RS256 RS384 RS512 ES256 ES384 ES512";

/// The scheme and credential of an `Authorization` header.
enum Credential<'a> {
    Bearer(&'a str),
    Dpop(&'a str),
    Ssws(&'a str),
}

fn credential(headers: &HeaderMap) -> Option<Credential<'_>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    match scheme {
        "Bearer" => Some(Credential::Bearer(token)),
        "DPoP" => Some(Credential::Dpop(token)),
        "SSWS" => Some(Credential::Ssws(token)),
        _ => None,
    }
}

impl Authority {
    /// Returns the grant behind the request's credential if the token is known and
    /// current; DPoP proofs are checked by [`Authority::check_resource_proof`].
    pub fn grant(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<Grant> {
        let token = match credential(headers)? {
            Credential::Ssws(token) => return self.api_token_grant(token),
            Credential::Bearer(token) | Credential::Dpop(token) => token,
        };
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens
            .get(token)
            .filter(|grant| grant.expires_at > now)
            .cloned()
    }

    fn api_token_grant(&self, token: &str) -> Option<Grant> {
        (token == self.api_token).then(|| Grant {
            client_id: "ssws:api-token".to_string(),
            scopes: Vec::new(),
            expires_at: DateTime::<Utc>::MAX_UTC,
            bound_key: None,
            api_token: true,
        })
    }

    /// Checks the DPoP rules of a management API request with a known access token:
    /// the scheme matches the binding, and a bound token comes with a valid proof.
    /// Requests without a known token pass, so that the handler returns `E0000011`.
    pub fn check_resource_proof(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let (token, dpop_scheme) = match credential(headers) {
            Some(Credential::Bearer(token)) => (token, false),
            Some(Credential::Dpop(token)) => (token, true),
            Some(Credential::Ssws(_)) | None => return Ok(()),
        };
        let Some(grant) = self.grant(headers, now) else {
            return Ok(());
        };
        let bound_key = match (grant.bound_key, dpop_scheme) {
            (None, false) => return Ok(()),
            (None, true) => {
                return Err(ApiError::oauth(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "The presented access_token is not DPoP bound.",
                ));
            }
            (Some(_), false) => {
                return Err(ApiError::oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The resource request must use the DPoP authentication scheme when using a DPoP bound token.",
                ));
            }
            (Some(bound_key), true) => bound_key,
        };
        let Some(proof) = headers.get("dpop").and_then(|value| value.to_str().ok()) else {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The resource request requires a DPoP proof.",
            ));
        };
        let url = format!("{}{path}", self.base_url);
        let expected = Expected {
            method: method.as_str(),
            url: &url,
            now,
        };
        let proof = self.dpop.verify(proof, &expected)?;
        if proof.thumbprint != bound_key {
            return Err(invalid_proof(
                "The access_token is not bound to the provided DPoP proof.",
            ));
        }
        if proof.access_token_hash.as_deref() != Some(access_token_hash(token).as_str()) {
            return Err(invalid_proof(
                "'ath' claim in the DPoP proof does not match the presented access_token.",
            ));
        }
        if let Some(nonce) = self.dpop.resource_challenge(&proof) {
            // NOTE: Okta does not send this challenge on its management API today; it is
            // the RFC 9449 section 8 behaviour that clients must handle.
            return Err(ApiError::use_dpop_nonce(
                StatusCode::UNAUTHORIZED,
                "Resource server requires nonce in DPoP proof.",
                nonce,
                Some(
                    "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in DPoP proof\""
                        .to_string(),
                ),
            ));
        }
        Ok(())
    }

    /// Checks that the request carries a current token with `scope`, or the matching
    /// `manage` scope, which includes reading. An SSWS API token passes every check.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        scope: &str,
        resource: &str,
    ) -> Result<Grant, ApiError> {
        let grant = self
            .grant(headers, Utc::now())
            .ok_or_else(ApiError::invalid_token)?;
        let manage = scope.replace(".read", ".manage");
        if grant.api_token
            || grant
                .scopes
                .iter()
                .any(|granted| *granted == scope || *granted == manage)
        {
            return Ok(grant);
        }
        let base = &self.base_url;
        let scheme = if self.dpop_required {
            format!("DPoP algs=\"{DPOP_ALGORITHMS}\",")
        } else {
            "Bearer".to_string()
        };
        Err(ApiError::InsufficientScope {
            challenge: format!(
                "{scheme} authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", scope=\"{scope}\", \
                 error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", \
                 resource=\"{resource}\""
            ),
        })
    }
}
