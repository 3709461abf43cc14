//! OAuth 2.0 client credentials at the org authorization server.
//!
//! Okta only mints tokens with `okta.*` scopes at `{org}/oauth2/v1/token`.
//! A custom service app authenticates with `private_key_jwt`: each token
//! request, retries included, carries a freshly signed assertion with a new
//! `jti`, because Okta accepts an assertion once. An API Service Integration
//! may use `client_secret_basic` instead.
//!
//! When Okta returns `invalid_dpop_proof`, the app requires DPoP, and the
//! source switches to it for the rest of the process. A `use_dpop_nonce`
//! error carries the nonce for the next attempt in a `dpop-nonce` header.
//! Tokens live 3600 s; one is cached and renewed a minute before expiry, or
//! at once when Okta reports it invalid, once for all concurrent callers.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::Header;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::dpop::DpopKey;
use crate::keys::{SigningKey, load_signing_key};
use crate::rate::backoff;
use crate::{Error, Result, Secret};

/// How long before its expiry a cached token is renewed.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// How far ahead an assertion expires; Okta rejects more than one hour.
const ASSERTION_LIFETIME_SECONDS: i64 = 300;

/// Token requests per token, the first included: room for the DPoP switch,
/// the nonce exchange, dropping optional scopes and a few transient failures.
const MAX_TOKEN_ATTEMPTS: u32 = 8;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Client authentication at the token endpoint.
pub(crate) enum ClientAuth {
    PrivateKey {
        client_id: String,
        key: SigningKey,
        key_id: Option<String>,
    },
    Secret {
        client_id: String,
        secret: Secret,
    },
}

impl ClientAuth {
    pub(crate) fn private_key(
        client_id: &str,
        private_key: &Secret,
        key_id: Option<String>,
        algorithm: Option<&str>,
    ) -> Result<ClientAuth> {
        let key = load_signing_key(private_key, algorithm)?;
        let key_id = key_id.or_else(|| key.key_id.clone());
        Ok(ClientAuth::PrivateKey {
            client_id: client_id.to_string(),
            key,
            key_id,
        })
    }
}

/// Whether to send DPoP proofs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DpopMode {
    /// Start without, and switch on when Okta requires it.
    #[default]
    Auto,
    Always,
    Never,
}

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

/// An access token with how it must be presented.
#[derive(Clone, Debug)]
pub(crate) struct AccessToken {
    pub(crate) value: Secret,
    /// True for a DPoP-bound token, sent as `Authorization: DPoP` with a proof.
    pub(crate) dpop: bool,
}

struct CachedToken {
    token: AccessToken,
    renew_at: Instant,
}

#[derive(Default)]
struct TokenState {
    cached: Option<CachedToken>,
    use_dpop: bool,
    nonce: Option<String>,
    /// Optional scopes still requested; cleared when Okta rejects them.
    optional_scopes: Vec<String>,
}

/// A source of access tokens for one service app.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    client: ClientAuth,
    scopes: String,
    dpop_mode: DpopMode,
    dpop_key: DpopKey,
    state: Mutex<TokenState>,
    /// The latest nonce a resource server sent in a `use_dpop_nonce` challenge.
    resource_nonce: std::sync::Mutex<Option<String>>,
}

impl TokenSource {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: String,
        client: ClientAuth,
        scopes: &[String],
        optional_scopes: &[String],
        dpop_mode: DpopMode,
    ) -> Result<TokenSource> {
        Ok(TokenSource {
            http,
            token_url,
            client,
            scopes: scopes.join(" "),
            dpop_mode,
            dpop_key: DpopKey::generate()?,
            state: Mutex::new(TokenState {
                use_dpop: dpop_mode == DpopMode::Always,
                optional_scopes: optional_scopes
                    .iter()
                    .filter(|scope| !scopes.contains(scope))
                    .cloned()
                    .collect(),
                ..TokenState::default()
            }),
            resource_nonce: std::sync::Mutex::new(None),
        })
    }

    /// Returns a valid access token, requesting a new one when needed.
    ///
    /// The lock is held across the request, so concurrent callers wait for
    /// one token request instead of each making their own.
    pub(crate) async fn token(&self) -> Result<AccessToken> {
        let mut state = self.state.lock().await;
        if let Some(cached) = state.cached.as_ref()
            && Instant::now() < cached.renew_at
        {
            return Ok(cached.token.clone());
        }
        let cached = self.request_token(&mut state).await?;
        let token = cached.token.clone();
        state.cached = Some(cached);
        Ok(token)
    }

    /// Drops the cached token if it is still `rejected`, so the next call renews it.
    pub(crate) async fn invalidate(&self, rejected: &Secret) {
        let mut state = self.state.lock().await;
        if state
            .cached
            .as_ref()
            .is_some_and(|cached| &cached.token.value == rejected)
        {
            state.cached = None;
        }
    }

    /// Remembers a nonce from a resource server's `use_dpop_nonce` challenge.
    pub(crate) fn set_resource_nonce(&self, nonce: String) {
        if let Ok(mut current) = self.resource_nonce.lock() {
            *current = Some(nonce);
        }
    }

    /// Returns the `Authorization` value and, for DPoP tokens, a fresh proof
    /// for this request.
    pub(crate) fn authorization(
        &self,
        token: &AccessToken,
        method: &str,
        url: &str,
    ) -> Result<(String, Option<Secret>)> {
        if !token.dpop {
            return Ok((format!("Bearer {}", token.value.expose()), None));
        }
        let nonce = self
            .resource_nonce
            .lock()
            .ok()
            .and_then(|nonce| nonce.clone());
        let proof = self
            .dpop_key
            .proof(method, url, nonce.as_deref(), Some(&token.value))?;
        Ok((format!("DPoP {}", token.value.expose()), Some(proof)))
    }

    async fn request_token(&self, state: &mut TokenState) -> Result<CachedToken> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.send_token_request(state).await;
            let error = match outcome {
                Ok(token) => return Ok(token),
                Err(error) => error,
            };
            if attempt >= MAX_TOKEN_ATTEMPTS {
                return Err(error);
            }
            match &error {
                Error::OAuth { error: code, .. }
                    if code == "invalid_dpop_proof"
                        && !state.use_dpop
                        && self.dpop_mode == DpopMode::Auto =>
                {
                    tracing::info!(
                        "The service app requires DPoP; sending DPoP proofs from now on"
                    );
                    state.use_dpop = true;
                }
                // The nonce itself was stored when the response was read.
                Error::OAuth { error: code, .. }
                    if code == "use_dpop_nonce" && state.nonce.is_some() =>
                {
                    tracing::debug!("Retrying the token request with the server's DPoP nonce");
                }
                Error::OAuth { error: code, .. }
                    if code == "invalid_scope" && !state.optional_scopes.is_empty() =>
                {
                    let dropped = std::mem::take(&mut state.optional_scopes).join("`, `");
                    tracing::warn!(
                        "The service app was not granted `{dropped}`; continuing without it (grant it in the Admin Console under Okta API Scopes to read what it covers)"
                    );
                }
                error if error.status() == Some(reqwest::StatusCode::TOO_MANY_REQUESTS) => {
                    // Okta's 429 at the token endpoint carries a reset about a second ahead.
                    let delay = Duration::from_secs(1) + backoff(attempt);
                    tracing::warn!(
                        url = self.token_url,
                        delay_ms = delay.as_millis() as u64,
                        attempt,
                        "Token request rate limited; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                error if error.is_transient() => {
                    let delay = backoff(attempt);
                    tracing::warn!(url = self.token_url, delay_ms = delay.as_millis() as u64, attempt, error = %error, "Token request failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(error),
            }
        }
    }

    async fn send_token_request(&self, state: &mut TokenState) -> Result<CachedToken> {
        let mut request = self
            .http
            .post(&self.token_url)
            .header(ACCEPT, "application/json");
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            (
                "scope",
                requested_scopes(&self.scopes, &state.optional_scopes),
            ),
        ];
        match &self.client {
            ClientAuth::PrivateKey { .. } => {
                let assertion = self.sign_assertion()?;
                form.push(("client_assertion_type", ASSERTION_TYPE.to_string()));
                form.push(("client_assertion", assertion.expose().to_string()));
            }
            ClientAuth::Secret { client_id, secret } => {
                let credentials = STANDARD.encode(format!("{client_id}:{}", secret.expose()));
                request = request.header(AUTHORIZATION, format!("Basic {credentials}"));
            }
        }
        if state.use_dpop {
            let proof =
                self.dpop_key
                    .proof("POST", &self.token_url, state.nonce.as_deref(), None)?;
            request = request.header("DPoP", proof.expose());
        }

        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|source| Error::Http {
                url: self.token_url.clone(),
                source,
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|source| Error::Http {
            url: self.token_url.clone(),
            source,
        })?;
        if let Some(nonce) = dpop_nonce(&headers) {
            state.nonce = Some(nonce);
        }
        if !status.is_success() {
            return Err(token_error(status, &self.token_url, &body));
        }
        self.read_token(&body)
    }

    fn read_token(&self, body: &[u8]) -> Result<CachedToken> {
        let token: TokenResponse =
            serde_json::from_slice(body).map_err(|source| Error::Decode {
                url: self.token_url.clone(),
                source,
            })?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        let dpop = token
            .token_type
            .as_deref()
            .is_some_and(|kind| kind.eq_ignore_ascii_case("DPoP"));
        tracing::debug!(
            dpop,
            expires_in = lifetime.as_secs(),
            "Received an access token"
        );
        Ok(CachedToken {
            token: AccessToken {
                value: Secret::new(token.access_token),
                dpop,
            },
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_BEFORE_EXPIRY),
        })
    }

    fn sign_assertion(&self) -> Result<Secret> {
        let ClientAuth::PrivateKey {
            client_id,
            key,
            key_id,
        } = &self.client
        else {
            return Err(Error::InvalidKey {
                reason: "no private key configured".to_string(),
            });
        };
        let now = chrono::Utc::now().timestamp();
        let claims = AssertionClaims {
            iss: client_id,
            sub: client_id,
            aud: &self.token_url,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(key.algorithm);
        header.kid = key_id.clone();
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|error| {
            Error::InvalidKey {
                reason: format!("signing the client assertion failed: {error}"),
            }
        })?;
        Ok(Secret::new(token))
    }
}

/// Joins the required and the still-requested optional scopes.
fn requested_scopes(required: &str, optional: &[String]) -> String {
    let mut scopes = required.to_string();
    for scope in optional {
        if !scopes.is_empty() {
            scopes.push(' ');
        }
        scopes.push_str(scope);
    }
    scopes
}

/// Reads the `dpop-nonce` header.
pub(crate) fn dpop_nonce(headers: &HeaderMap) -> Option<String> {
    headers
        .get("dpop-nonce")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

fn token_error(status: reqwest::StatusCode, url: &str, body: &[u8]) -> Error {
    match serde_json::from_slice::<OAuthErrorBody>(body) {
        Ok(parsed) => Error::OAuth {
            status,
            error: parsed.error,
            description: parsed.error_description,
        },
        // A 429 or 5xx from the token endpoint carries Okta's usual error object.
        Err(_) => Error::UnexpectedStatus {
            url: url.to_string(),
            status,
            body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}
