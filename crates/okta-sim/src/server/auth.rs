//! OAuth 2.0 for the simulated service app: the org authorization server's token
//! endpoint and the bearer-token check of the management API.
//!
//! The token endpoint accepts only what Okta's org authorization server accepts from a
//! custom service app: the client credentials grant authenticated with `private_key_jwt`.
//! The client assertion must be signed with the registered RSA key (RS256, RS384 or
//! RS512; a `kid`, if present, must match), have `iss` and `sub` equal to the client id,
//! `aud` equal to the token URL, and an `exp` in the future but at most one hour ahead; a
//! `jti` can be used once. Requested scopes must all be granted to the app. Error
//! descriptions are taken word for word from Okta's OAuth error catalog.
//!
//! Access tokens are HS256 JWTs with Okta's claims, remembered by the server so that an
//! unknown or expired token is rejected with `E0000011`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::ids::random_token;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Okta rejects client assertions that expire more than one hour after they are received.
const MAX_ASSERTION_LIFETIME_SECONDS: i64 = 3600;
const GENERIC_CLIENT_ERROR: &str =
    "Client authentication failed. Either the client or the client credentials are invalid.";
const INVALID_SCOPE: &str = "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.";
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

/// The RSA key pair registered for the service app.
#[derive(Clone)]
pub struct ClientKey {
    /// PKCS#8 PEM of the private key, for signing client assertions.
    pub private_key_pem: String,
    /// SPKI PEM of the public key.
    pub public_key_pem: String,
    /// Key id: the RFC 7638 JWK thumbprint of the public key.
    pub key_id: String,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClientKey")
            .field("private_key_pem", &"<redacted>")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl ClientKey {
    /// Generates an RSA 2048 key pair with the operating system's random source.
    pub fn generate() -> anyhow::Result<ClientKey> {
        let private_key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .context("Failed to generate an RSA key")?;
        let public_key = RsaPublicKey::from(&private_key);
        let private_key_pem = private_key
            .to_pkcs8_pem(LineEnding::LF)
            .context("Failed to encode the RSA private key as PEM")?
            .to_string();
        let public_key_pem = public_key
            .to_public_key_pem(LineEnding::LF)
            .context("Failed to encode the RSA public key as PEM")?;
        Ok(ClientKey {
            private_key_pem,
            public_key_pem,
            key_id: jwk_thumbprint(&public_key),
        })
    }
}

/// Computes the RFC 7638 thumbprint of an RSA public key: SHA-256 over the canonical JWK.
fn jwk_thumbprint(public_key: &RsaPublicKey) -> String {
    let exponent = URL_SAFE_NO_PAD.encode(public_key.e().to_bytes_be());
    let modulus = URL_SAFE_NO_PAD.encode(public_key.n().to_bytes_be());
    let canonical = format!(r#"{{"e":"{exponent}","kty":"RSA","n":"{modulus}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Permissions of an access token.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
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
}

/// The org authorization server of the simulator, with its one service app.
pub(crate) struct Authority {
    base_url: String,
    token_url: String,
    client_id: String,
    key_id: String,
    decoding_key: DecodingKey,
    granted_scopes: Vec<String>,
    token_lifetime: Duration,
    signing_key: EncodingKey,
    /// `jti` of every accepted client assertion, with its `exp`.
    used_assertions: Mutex<HashMap<String, i64>>,
    tokens: Mutex<HashMap<String, Grant>>,
}

/// Settings of the service app registered with an [`Authority`].
pub(crate) struct ServiceApp<'a> {
    pub client_id: &'a str,
    pub key: &'a ClientKey,
    pub granted_scopes: &'a [String],
    pub token_lifetime: Duration,
}

impl Authority {
    pub fn new(base_url: &str, app: ServiceApp<'_>) -> anyhow::Result<Authority> {
        let decoding_key = DecodingKey::from_rsa_pem(app.key.public_key_pem.as_bytes())
            .context("Failed to read the client's public key")?;
        let secret: [u8; 32] = rand::random();
        Ok(Authority {
            base_url: base_url.to_string(),
            token_url: format!("{base_url}/oauth2/v1/token"),
            client_id: app.client_id.to_string(),
            key_id: app.key.key_id.clone(),
            decoding_key,
            granted_scopes: app.granted_scopes.to_vec(),
            token_lifetime: app.token_lifetime,
            signing_key: EncodingKey::from_secret(&secret),
            used_assertions: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Handles a token request: checks the form and the client assertion, then mints a token.
    pub fn issue_token(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, ApiError> {
        let form = parse_form(body)?;
        check_grant_type_known(&form)?;
        let client_id = self.authenticate_client(&form, headers, now)?;
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "The client is not authorized to use the provided grant type. Configured grant types: [client_credentials].",
            ));
        }
        let scopes = self.check_scopes(form.get("scope"))?;
        Ok(self.mint(&client_id, scopes, now))
    }

    fn authenticate_client(
        &self,
        form: &HashMap<String, String>,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("Basic "));
        let secret = form.contains_key("client_secret");
        let assertion = form.get("client_assertion");
        let kinds = usize::from(basic) + usize::from(secret) + usize::from(assertion.is_some());
        if kinds > 1 {
            return Err(ApiError::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.",
            ));
        }
        let Some(assertion) = assertion else {
            return Err(if kinds == 0 {
                ApiError::invalid_client("No client credentials found.")
            } else {
                ApiError::invalid_client(
                    "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.",
                )
            });
        };
        if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
            return Err(ApiError::invalid_client(GENERIC_CLIENT_ERROR));
        }
        self.verify_assertion(assertion, form.get("client_id"), now)?;
        Ok(self.client_id.clone())
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
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) {
            return Err(ApiError::invalid_client(
                "The client_assertion JWT signature algorithm is invalid.",
            ));
        }
        if header.kid.as_ref().is_some_and(|kid| *kid != self.key_id) {
            return Err(ApiError::invalid_client(
                "The client_assertion JWT kid is invalid.",
            ));
        }
        self.check_signature(assertion, header.alg)?;
        self.check_audience(&claims)?;
        let expires = check_times(&claims, now)?;
        self.consume_jti(&claims, expires, now)
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

    fn check_signature(&self, assertion: &str, algorithm: Algorithm) -> Result<(), ApiError> {
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(assertion, &self.decoding_key, &validation)
            .map(|_| ())
            .map_err(|_| ApiError::invalid_client("The client_assertion signature is invalid."))
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

    fn mint(&self, client_id: &str, scopes: Vec<String>, now: DateTime<Utc>) -> TokenResponse {
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
        };
        let header = Header {
            kid: Some(self.key_id.clone()),
            ..Header::new(Algorithm::HS256)
        };
        // HS256 signing of serializable claims cannot fail. Should it ever fail, an opaque token replaces the JWT.
        let access_token = jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .unwrap_or_else(|_| random_token(&mut rand::thread_rng(), 64));
        let scope = scopes.join(" ");
        let grant = Grant {
            client_id: client_id.to_string(),
            scopes,
            expires_at,
        };
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.retain(|_, grant| grant.expires_at > now);
        tokens.insert(access_token.clone(), grant);
        TokenResponse {
            token_type: "Bearer",
            expires_in: self.token_lifetime.as_secs(),
            access_token,
            scope,
        }
    }

    /// Returns the grant behind the request's bearer token, if the token is known and current.
    pub fn grant(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<Grant> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens
            .get(token)
            .filter(|grant| grant.expires_at > now)
            .cloned()
    }

    /// Checks that the request carries a current token with `scope`, or the matching
    /// `manage` scope, which includes reading.
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
        if grant
            .scopes
            .iter()
            .any(|granted| *granted == scope || *granted == manage)
        {
            return Ok(grant);
        }
        let base = &self.base_url;
        Err(ApiError::InsufficientScope {
            challenge: format!(
                "Bearer authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", scope=\"{scope}\", \
                 error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", \
                 resource=\"{resource}\""
            ),
        })
    }

    /// Drops every issued access token, so that the next API call gets a 401.
    pub fn revoke_all(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
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
