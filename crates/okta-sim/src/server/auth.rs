//! OAuth 2.0 at the simulator's org authorization server: the token endpoint for its
//! two clients.
//!
//! The custom service app authenticates with `private_key_jwt` only, as Okta requires of
//! custom service apps at the org authorization server. The client assertion must be
//! signed with one of the registered keys: RSA with RS256, RS384 or RS512, EC P-256
//! with ES256, or EC P-384 with ES384. A `kid`, if present, must name the key. The
//! assertion must have `iss` and `sub` equal to the client id, `aud` equal to the token
//! URL, and an `exp` in the future but at most one hour ahead. A `jti` can be used once. When the app requires
//! DPoP, the request also needs a DPoP proof with the server nonce (see `dpop`), and the
//! token is bound to the proof key by `cnf.jkt`.
//!
//! The API service integration authenticates with `client_secret_basic`. Requested
//! scopes must all be granted to the client. Error descriptions are taken word for word
//! from Okta's OAuth error catalog, except those of malformed DPoP proofs.
//!
//! Access tokens are HS256 JWTs with Okta's claims, remembered by the server so that an
//! unknown or expired token is rejected with `E0000011`; `caller` checks them on API
//! requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Value, json};

use super::dpop::{Dpop, Expected, invalid_proof};
use super::error::ApiError;
use super::keys::{ClientKey, EcClientKey};
use crate::ids::random_token;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Okta rejects client assertions that expire more than one hour after they are received.
const MAX_ASSERTION_LIFETIME_SECONDS: i64 = 3600;
const GENERIC_CLIENT_ERROR: &str =
    "Client authentication failed. Either the client or the client credentials are invalid.";
const INVALID_SCOPE: &str = "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.";
const SERVICE_APP_AUTH_METHOD: &str = "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.";
const INTEGRATION_AUTH_METHOD: &str = "OAuth Integration Client Credentials requests to the Org Authorization Server must use either private_key_jwt or client_secret_basic as the token_endpoint_auth_method.";
/// Grant types that Okta supports but a service app is not configured for.
const OTHER_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "password",
    "refresh_token",
    "implicit",
    "interaction_code",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:openid:params:grant-type:ciba",
];

/// Permissions of an access token or API token.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    /// Client id of the app, or `ssws:` and the token's id for an API token; rate limits
    /// are counted per value.
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    /// Thumbprint of the DPoP key the token is bound to.
    pub bound_key: Option<String>,
    /// Whether the grant comes from an SSWS API token, which may call every endpoint.
    pub api_token: bool,
}

/// Body of a successful token response.
#[derive(Serialize)]
pub(crate) struct TokenResponse {
    token_type: &'static str,
    expires_in: u64,
    access_token: String,
    scope: String,
}

#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    ver: u32,
    jti: String,
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    cid: &'a str,
    scp: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Value>,
}

/// A public key registered for the service app, with the algorithms it verifies.
struct RegisteredKey {
    key_id: String,
    algorithms: &'static [Algorithm],
    decoding_key: DecodingKey,
}

/// Settings of the clients registered with an [`Authority`].
pub(crate) struct Clients<'a> {
    pub service_app_id: &'a str,
    pub rsa_key: &'a ClientKey,
    pub ec_keys: &'a [EcClientKey],
    /// Whether the service app requires DPoP-bound tokens.
    pub dpop: bool,
    pub integration_id: &'a str,
    pub integration_secret: &'a str,
    pub api_token: &'a str,
    pub granted_scopes: &'a [String],
    pub token_lifetime: Duration,
}

/// The registered client that sent a token request.
enum Client {
    ServiceApp,
    Integration,
}

/// The org authorization server of the simulator with its clients and issued tokens.
pub(crate) struct Authority {
    pub(super) base_url: String,
    token_url: String,
    client_id: String,
    keys: Vec<RegisteredKey>,
    pub(super) dpop_required: bool,
    integration_id: String,
    integration_secret: String,
    pub(super) api_token: String,
    granted_scopes: Vec<String>,
    token_lifetime: Duration,
    signing_key: EncodingKey,
    /// `jti` of every accepted client assertion, with its `exp`.
    used_assertions: Mutex<HashMap<String, i64>>,
    pub(super) tokens: Mutex<HashMap<String, Grant>>,
    pub(super) dpop: Dpop,
}

impl Authority {
    pub fn new(base_url: &str, clients: Clients<'_>) -> anyhow::Result<Authority> {
        let mut keys = vec![RegisteredKey {
            key_id: clients.rsa_key.key_id.clone(),
            algorithms: &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512],
            decoding_key: DecodingKey::from_rsa_pem(clients.rsa_key.public_key_pem.as_bytes())
                .context("Failed to read the client's RSA public key")?,
        }];
        for key in clients.ec_keys {
            keys.push(RegisteredKey {
                key_id: key.key_id.clone(),
                algorithms: match key.curve {
                    super::keys::EcCurve::P256 => &[Algorithm::ES256],
                    super::keys::EcCurve::P384 => &[Algorithm::ES384],
                },
                decoding_key: DecodingKey::from_ec_pem(key.public_key_pem.as_bytes())
                    .context("Failed to read the client's EC public key")?,
            });
        }
        let secret: [u8; 32] = rand::random();
        Ok(Authority {
            base_url: base_url.to_string(),
            token_url: format!("{base_url}/oauth2/v1/token"),
            client_id: clients.service_app_id.to_string(),
            keys,
            dpop_required: clients.dpop,
            integration_id: clients.integration_id.to_string(),
            integration_secret: clients.integration_secret.to_string(),
            api_token: clients.api_token.to_string(),
            granted_scopes: clients.granted_scopes.to_vec(),
            token_lifetime: clients.token_lifetime,
            signing_key: EncodingKey::from_secret(&secret),
            used_assertions: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            dpop: Dpop::new(),
        })
    }

    /// Handles a token request: checks the form, the client's credentials and, for a
    /// DPoP app, the proof, then mints a token.
    pub fn issue_token(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, ApiError> {
        let form = parse_form(body)?;
        check_grant_type_known(&form)?;
        let client = self.authenticate_client(&form, headers, now)?;
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "The client is not authorized to use the provided grant type. Configured grant types: [client_credentials].",
            ));
        }
        let bound_key = match client {
            Client::ServiceApp if self.dpop_required => Some(self.check_token_proof(headers, now)?),
            _ => None,
        };
        let scopes = self.check_scopes(form.get("scope"))?;
        let client_id = match client {
            Client::ServiceApp => self.client_id.clone(),
            Client::Integration => self.integration_id.clone(),
        };
        Ok(self.mint(&client_id, scopes, bound_key, now))
    }

    /// Checks the DPoP proof of a token request and returns the thumbprint of its key.
    fn check_token_proof(
        &self,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let Some(proof) = headers.get("dpop").and_then(|value| value.to_str().ok()) else {
            return Err(invalid_proof("The DPoP proof JWT header is missing."));
        };
        let expected = Expected {
            method: "POST",
            url: &self.token_url,
            now,
        };
        let proof = self.dpop.verify(proof, &expected)?;
        if self.keys.iter().any(|key| key.key_id == proof.thumbprint) {
            return Err(invalid_proof(
                "The DPoP proof JWT must not be signed with a key registered for client authentication.",
            ));
        }
        if !self.dpop.accepts_nonce(proof.nonce.as_deref()) {
            return Err(ApiError::use_dpop_nonce(
                StatusCode::BAD_REQUEST,
                "Authorization server requires nonce in DPoP proof.",
                self.dpop.current_nonce(),
                None,
            ));
        }
        Ok(proof.thumbprint)
    }

    fn authenticate_client(
        &self,
        form: &HashMap<String, String>,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<Client, ApiError> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "));
        let secret = form.contains_key("client_secret");
        let assertion = form.get("client_assertion");
        let kinds =
            usize::from(basic.is_some()) + usize::from(secret) + usize::from(assertion.is_some());
        if kinds > 1 {
            return Err(ApiError::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.",
            ));
        }
        if let Some(credentials) = basic {
            return self.check_basic(credentials);
        }
        if secret {
            return Err(match form.get("client_id") {
                Some(id) if *id == self.integration_id => {
                    ApiError::invalid_client(INTEGRATION_AUTH_METHOD)
                }
                Some(id) if *id == self.client_id => {
                    ApiError::invalid_client(SERVICE_APP_AUTH_METHOD)
                }
                _ => ApiError::invalid_client(GENERIC_CLIENT_ERROR),
            });
        }
        let Some(assertion) = assertion else {
            return Err(ApiError::invalid_client("No client credentials found."));
        };
        if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
            return Err(ApiError::invalid_client(GENERIC_CLIENT_ERROR));
        }
        self.verify_assertion(assertion, form.get("client_id"), now)?;
        Ok(Client::ServiceApp)
    }

    /// Checks `client_secret_basic` credentials: base64 of `client_id:client_secret`.
    fn check_basic(&self, credentials: &str) -> Result<Client, ApiError> {
        let decoded = STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some((id, secret)) = decoded.as_deref().and_then(|text| text.split_once(':')) else {
            return Err(ApiError::invalid_client(GENERIC_CLIENT_ERROR));
        };
        if id == self.client_id {
            return Err(ApiError::invalid_client(SERVICE_APP_AUTH_METHOD));
        }
        if id != self.integration_id {
            return Err(ApiError::invalid_client(GENERIC_CLIENT_ERROR));
        }
        if secret != self.integration_secret {
            return Err(ApiError::invalid_client(
                "The client secret supplied for a confidential client is invalid.",
            ));
        }
        Ok(Client::Integration)
    }

    fn verify_assertion(
        &self,
        assertion: &str,
        client_id: Option<&String>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let parse_failed =
            || ApiError::invalid_client("The parsing of the client_assertion failed.");
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| parse_failed())?;
        let unverified = jsonwebtoken::dangerous::insecure_decode::<Value>(assertion)
            .map_err(|_| parse_failed())?;
        let claims = unverified.claims;
        self.check_issuer(&claims, client_id)?;
        let key = self.assertion_key(header.alg, header.kid.as_deref())?;
        check_signature(assertion, key, header.alg)?;
        self.check_audience(&claims)?;
        let expires = check_times(&claims, now)?;
        self.consume_jti(&claims, expires, now)
    }

    /// Finds the registered key for an assertion's `alg` and, if given, `kid`.
    fn assertion_key(
        &self,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Result<&DecodingKey, ApiError> {
        let by_algorithm: Vec<&RegisteredKey> = self
            .keys
            .iter()
            .filter(|key| key.algorithms.contains(&algorithm))
            .collect();
        if by_algorithm.is_empty() {
            return Err(ApiError::invalid_client(
                "The client_assertion JWT signature algorithm is invalid.",
            ));
        }
        let key = match kid {
            Some(kid) => by_algorithm.into_iter().find(|key| key.key_id == kid),
            None => by_algorithm.into_iter().next(),
        };
        key.map(|key| &key.decoding_key)
            .ok_or_else(|| ApiError::invalid_client("The client_assertion JWT kid is invalid."))
    }

    fn check_issuer(&self, claims: &Value, client_id: Option<&String>) -> Result<(), ApiError> {
        let issuer = claims.get("iss").and_then(Value::as_str);
        let client = client_id.map(String::as_str).or(issuer);
        if client != Some(self.client_id.as_str()) {
            return Err(ApiError::invalid_client(GENERIC_CLIENT_ERROR));
        }
        if issuer != client {
            return Err(ApiError::invalid_client(
                "The issuer claim for client_assertion is not a valid client_id.",
            ));
        }
        if claims.get("sub").and_then(Value::as_str) != client {
            return Err(ApiError::invalid_client(
                "The subject claim for client_assertion is not a valid client_id.",
            ));
        }
        Ok(())
    }

    fn check_audience(&self, claims: &Value) -> Result<(), ApiError> {
        let matches = match claims.get("aud") {
            Some(Value::String(audience)) => *audience == self.token_url,
            Some(Value::Array(audiences)) => audiences
                .iter()
                .any(|audience| audience.as_str() == Some(&self.token_url)),
            _ => false,
        };
        if matches {
            Ok(())
        } else {
            Err(ApiError::invalid_client(
                "The audience claim for client_assertion must be the endpoint invoked for the request.",
            ))
        }
    }

    /// Records the assertion's `jti`; a second use of the same `jti` is rejected.
    fn consume_jti(
        &self,
        claims: &Value,
        expires: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
            return Ok(());
        };
        let mut used = self
            .used_assertions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        used.retain(|_, expiry| *expiry > now.timestamp());
        if used.insert(jti.to_string(), expires).is_some() {
            return Err(ApiError::invalid_client(
                "The client_assertion token has already been used.",
            ));
        }
        Ok(())
    }

    fn check_scopes(&self, requested: Option<&String>) -> Result<Vec<String>, ApiError> {
        let scopes: Vec<String> = requested
            .map(|scope| scope.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        if scopes.is_empty() {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "No scopes were requested.",
            ));
        }
        if scopes
            .iter()
            .any(|scope| !self.granted_scopes.contains(scope))
        {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                INVALID_SCOPE,
            ));
        }
        Ok(scopes)
    }

    fn mint(
        &self,
        client_id: &str,
        scopes: Vec<String>,
        bound_key: Option<String>,
        now: DateTime<Utc>,
    ) -> TokenResponse {
        let lifetime =
            chrono::Duration::from_std(self.token_lifetime).unwrap_or(chrono::Duration::hours(1));
        let expires_at = now + lifetime;
        let claims = AccessTokenClaims {
            ver: 1,
            jti: format!("AT.{}", random_token(&mut rand::thread_rng(), 43)),
            iss: &self.base_url,
            aud: &self.base_url,
            sub: client_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            cid: client_id,
            scp: &scopes,
            cnf: bound_key.as_ref().map(|jkt| json!({"jkt": jkt})),
        };
        let header = Header::new(Algorithm::HS256);
        // HS256 signing of serializable claims cannot fail. Should it ever fail, an opaque token replaces the JWT.
        let access_token = jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .unwrap_or_else(|_| random_token(&mut rand::thread_rng(), 64));
        let scope = scopes.join(" ");
        let token_type = if bound_key.is_some() {
            "DPoP"
        } else {
            "Bearer"
        };
        let grant = Grant {
            client_id: client_id.to_string(),
            scopes,
            expires_at,
            bound_key,
            api_token: false,
        };
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.retain(|_, grant| grant.expires_at > now);
        tokens.insert(access_token.clone(), grant);
        TokenResponse {
            token_type,
            expires_in: self.token_lifetime.as_secs(),
            access_token,
            scope,
        }
    }

    /// Drops every issued access token, so that the next API call gets a 401.
    pub fn revoke_all(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

fn check_signature(
    assertion: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
) -> Result<(), ApiError> {
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(assertion, key, &validation)
        .map(|_| ())
        .map_err(|_| ApiError::invalid_client("The client_assertion signature is invalid."))
}

fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, ApiError> {
    let mut form = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if form.insert(key.into_owned(), value.into_owned()).is_some() {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request contained multiple parameters with the same name.",
            ));
        }
    }
    Ok(form)
}

/// Rejects a missing or unknown `grant_type` before the client is authenticated.
fn check_grant_type_known(form: &HashMap<String, String>) -> Result<(), ApiError> {
    match form.get("grant_type").map(String::as_str) {
        // NOTE: Okta lists every grant type it supports after "Valid values"; the list
        // here names only the one a service app can use.
        None | Some("") => Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The token request must specify a 'grant_type'. Valid values: [client_credentials]",
        )),
        Some("client_credentials") => Ok(()),
        Some(grant_type) if OTHER_GRANT_TYPES.contains(&grant_type) => Ok(()),
        Some(_) => Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The grant type in the request isn't supported.",
        )),
    }
}

/// Checks `exp` and `iat` of a client assertion and returns `exp`.
fn check_times(claims: &Value, now: DateTime<Utc>) -> Result<i64, ApiError> {
    let now = now.timestamp();
    let expires = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| {
        ApiError::invalid_client(
            "The client_assertion must contain the 'exp' claim as seconds since epoch.",
        )
    })?;
    if expires <= now {
        return Err(ApiError::invalid_client(
            "The client_assertion token is expired.",
        ));
    }
    if expires > now + MAX_ASSERTION_LIFETIME_SECONDS {
        return Err(ApiError::invalid_client(
            "The client_assertion token has an expiration too far into the future.",
        ));
    }
    if claims
        .get("iat")
        .and_then(Value::as_i64)
        .is_some_and(|issued| issued > now)
    {
        return Err(ApiError::invalid_client(
            "The client_assertion token must be issued before the current time.",
        ));
    }
    Ok(expires)
}
