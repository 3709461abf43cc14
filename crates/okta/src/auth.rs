//! OAuth 2.0 client credentials with `private_key_jwt` at the org
//! authorization server.
//!
//! Okta only mints tokens with `okta.*` scopes at `{org}/oauth2/v1/token`.
//! Each token request carries a freshly signed client assertion with a new
//! `jti`, because Okta accepts an assertion once. Tokens live 3600 s; one is
//! cached and renewed a minute before it expires, or at once when Okta
//! reports it invalid.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::{Error, Result, Secret};

/// How long before its expiry a cached token is renewed.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// How far ahead an assertion expires; Okta rejects more than one hour.
const ASSERTION_LIFETIME_SECONDS: i64 = 300;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
}

struct CachedToken {
    value: Secret,
    renew_at: Instant,
}

/// A source of access tokens for one service app.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    key: EncodingKey,
    algorithm: Algorithm,
    key_id: Option<String>,
    scopes: String,
    cached: Mutex<Option<CachedToken>>,
}

impl TokenSource {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: String,
        client_id: String,
        private_key: &Secret,
        key_id: Option<String>,
        scopes: &[String],
    ) -> Result<TokenSource> {
        let (key, algorithm) = load_signing_key(private_key)?;
        Ok(TokenSource {
            http,
            token_url,
            client_id,
            key,
            algorithm,
            key_id,
            scopes: scopes.join(" "),
            cached: Mutex::new(None),
        })
    }

    /// Returns a valid access token, requesting a new one when needed.
    ///
    /// The lock is held across the request, so concurrent callers wait for
    /// one token request instead of each making their own.
    pub(crate) async fn token(&self) -> Result<Secret> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let token = self.request_token().await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Drops the cached token if it is still `rejected`, so the next call renews it.
    pub(crate) async fn invalidate(&self, rejected: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|token| &token.value == rejected)
        {
            *cached = None;
        }
    }

    async fn request_token(&self) -> Result<CachedToken> {
        let assertion = self.sign_assertion()?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", self.scopes.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.expose()),
        ];
        let response = self
            .http
            .post(&self.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|source| Error::Http {
                url: self.token_url.clone(),
                source,
            })?;

        let status = response.status();
        let body = response.bytes().await.map_err(|source| Error::Http {
            url: self.token_url.clone(),
            source,
        })?;
        if !status.is_success() {
            return Err(oauth_error(status, &body));
        }
        let token: TokenResponse =
            serde_json::from_slice(&body).map_err(|source| Error::Decode {
                url: self.token_url.clone(),
                source,
            })?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        tracing::debug!(
            token_type = token.token_type.as_deref().unwrap_or("Bearer"),
            expires_in = lifetime.as_secs(),
            "Received an access token"
        );
        Ok(CachedToken {
            value: Secret::new(token.access_token),
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_BEFORE_EXPIRY),
        })
    }

    fn sign_assertion(&self) -> Result<Secret> {
        let now = chrono::Utc::now().timestamp();
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: &self.token_url,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(self.algorithm);
        header.kid = self.key_id.clone();
        let token = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|error| {
            Error::InvalidKey {
                reason: format!("signing the client assertion failed: {error}"),
            }
        })?;
        Ok(Secret::new(token))
    }
}

/// Reads a PEM private key: RSA keys sign with RS256, EC keys with ES256.
fn load_signing_key(pem: &Secret) -> Result<(EncodingKey, Algorithm)> {
    let text = pem.expose().trim();
    if !text.starts_with("-----BEGIN") {
        return Err(Error::InvalidKey {
            reason: "expected a PEM block starting with `-----BEGIN`".to_string(),
        });
    }
    if let Ok(key) = EncodingKey::from_rsa_pem(text.as_bytes()) {
        return Ok((key, Algorithm::RS256));
    }
    if let Ok(key) = EncodingKey::from_ec_pem(text.as_bytes()) {
        return Ok((key, Algorithm::ES256));
    }
    Err(Error::InvalidKey {
        reason: "the PEM is neither an RSA nor an EC private key".to_string(),
    })
}

fn oauth_error(status: reqwest::StatusCode, body: &[u8]) -> Error {
    match serde_json::from_slice::<OAuthErrorBody>(body) {
        Ok(parsed) => Error::OAuth {
            status,
            error: parsed.error,
            description: parsed.error_description,
        },
        Err(_) => Error::OAuth {
            status,
            error: "unknown_error".to_string(),
            description: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}
