//! DPoP proofs (RFC 9449): the proof check shared by the token endpoint and the
//! management API, and the server nonce.
//!
//! A proof is a JWT with header `typ: dpop+jwt`, an asymmetric `alg` (RS256, RS384,
//! RS512, ES256 or ES384) and the public key in `jwk`, signed with that key. Its claims
//! must name the request's method (`htm`) and URL without query or fragment (`htu`),
//! carry an `iat` at most five minutes old and a `jti` never seen before. The token
//! endpoint also requires the server's `nonce`, and a resource request an `ath` equal to
//! the base64url SHA-256 of the access token.
//!
//! Okta renews its nonce every 24 hours and keeps accepting the previous one, so the
//! current and the previous nonce are both accepted here. [`Dpop::rotate_nonce`] also
//! arms a one-time resource challenge: until a resource request presents the new
//! nonce, DPoP resource requests get a 401 `use_dpop_nonce` challenge, as RFC 9449
//! section 8 allows a resource server to send.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::keys::{ec_thumbprint, rsa_thumbprint};
use crate::ids::random_token;

/// Maximum age of a proof's `iat`, in seconds.
const MAX_PROOF_AGE_SECONDS: i64 = 300;
/// Tolerance for an `iat` ahead of the server clock, in seconds.
// NOTE: Okta rejects proofs issued in the future but does not document a tolerance.
// Five seconds covers clocks of client and simulator that differ by rounding.
const FUTURE_TOLERANCE_SECONDS: i64 = 5;
/// JWK members that only a private key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth"];

/// The request a proof must describe.
pub(crate) struct Expected<'a> {
    /// HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// Absolute URL of the request without query or fragment.
    pub url: &'a str,
    pub now: DateTime<Utc>,
}

/// The facts of a valid proof that the caller checks further.
#[derive(Debug)]
pub(crate) struct Proof {
    /// RFC 7638 thumbprint of the proof key, the value of `cnf.jkt` in a bound token.
    pub thumbprint: String,
    pub nonce: Option<String>,
    /// `ath` claim: base64url SHA-256 of the access token, on resource requests.
    pub access_token_hash: Option<String>,
}

/// Server nonces and the one-time resource challenge.
struct Nonces {
    current: String,
    previous: Option<String>,
    resource_challenge: bool,
}

/// DPoP state of the simulator: used proof `jti`s and the nonces.
pub(crate) struct Dpop {
    /// `jti` of every accepted proof, with its `iat`.
    used: Mutex<HashMap<String, i64>>,
    nonces: Mutex<Nonces>,
}

/// Builds a 400 `invalid_dpop_proof` error.
pub(crate) fn invalid_proof(description: &str) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_dpop_proof", description)
}

impl Dpop {
    pub fn new() -> Dpop {
        Dpop {
            used: Mutex::new(HashMap::new()),
            nonces: Mutex::new(Nonces {
                current: new_nonce(),
                previous: None,
                resource_challenge: false,
            }),
        }
    }

    /// Returns the nonce that clients must put in their next proof.
    pub fn current_nonce(&self) -> String {
        self.lock_nonces().current.clone()
    }

    /// Returns whether `nonce` is the current or the previous server nonce.
    pub fn accepts_nonce(&self, nonce: Option<&str>) -> bool {
        let Some(nonce) = nonce else {
            return false;
        };
        let nonces = self.lock_nonces();
        nonces.current == nonce || nonces.previous.as_deref() == Some(nonce)
    }

    /// Replaces the nonce, keeping the old one valid at the token endpoint, and arms the
    /// one-time resource challenge.
    pub fn rotate_nonce(&self) {
        let mut nonces = self.lock_nonces();
        let old = std::mem::replace(&mut nonces.current, new_nonce());
        nonces.previous = Some(old);
        nonces.resource_challenge = true;
    }

    /// Returns the nonce a resource request must present, if the challenge is armed and
    /// the proof lacks it. A proof with the current nonce disarms the challenge.
    pub fn resource_challenge(&self, proof: &Proof) -> Option<String> {
        let mut nonces = self.lock_nonces();
        if !nonces.resource_challenge {
            return None;
        }
        if proof.nonce.as_deref() == Some(nonces.current.as_str()) {
            nonces.resource_challenge = false;
            return None;
        }
        Some(nonces.current.clone())
    }

    fn lock_nonces(&self) -> std::sync::MutexGuard<'_, Nonces> {
        self.nonces.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks a proof's form, signature, `htm`, `htu`, `iat` and `jti`; the `jti` is
    /// recorded so that the proof cannot be used again.
    pub fn verify(&self, proof: &str, expected: &Expected<'_>) -> Result<Proof, ApiError> {
        let header = decode_header(proof)?;
        if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(invalid_proof(
                "The DPoP proof JWT 'typ' header must be 'dpop+jwt'.",
            ));
        }
        let algorithm = proof_algorithm(&header)?;
        let (key, thumbprint) = proof_key(&header)?;
        let claims = check_signature(proof, &key, algorithm)?;
        check_target(&claims, expected)?;
        let issued = check_issued_at(&claims, expected.now)?;
        self.consume_jti(&claims, issued, expected.now)?;
        Ok(Proof {
            thumbprint,
            nonce: claims
                .get("nonce")
                .and_then(Value::as_str)
                .map(String::from),
            access_token_hash: claims.get("ath").and_then(Value::as_str).map(String::from),
        })
    }

    fn consume_jti(&self, claims: &Value, issued: i64, now: DateTime<Utc>) -> Result<(), ApiError> {
        let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
            return Err(invalid_proof(
                "The DPoP proof JWT must contain a 'jti' claim.",
            ));
        };
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.retain(|_, issued| *issued > now.timestamp() - MAX_PROOF_AGE_SECONDS - 60);
        if used.insert(jti.to_string(), issued).is_some() {
            return Err(invalid_proof("The DPoP proof JWT has already been used."));
        }
        Ok(())
    }
}

/// Computes the `ath` value for an access token: base64url SHA-256 of its text.
pub(crate) fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

fn new_nonce() -> String {
    random_token(&mut rand::thread_rng(), 32)
}

fn decode_header(proof: &str) -> Result<Value, ApiError> {
    let malformed = || invalid_proof("The DPoP proof JWT is malformed.");
    let encoded = proof.split('.').next().ok_or_else(malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| malformed())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed())
}

fn proof_algorithm(header: &Value) -> Result<Algorithm, ApiError> {
    let algorithm = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|alg| alg.parse::<Algorithm>().ok());
    match algorithm {
        Some(
            algorithm @ (Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES256
            | Algorithm::ES384),
        ) => Ok(algorithm),
        _ => Err(invalid_proof(
            "The DPoP proof JWT signature algorithm is not supported.",
        )),
    }
}

/// Reads the public key of the `jwk` header and computes its thumbprint.
fn proof_key(header: &Value) -> Result<(DecodingKey, String), ApiError> {
    let missing = || invalid_proof("The DPoP proof JWT header must contain a public key in 'jwk'.");
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(missing)?;
    if PRIVATE_MEMBERS
        .iter()
        .any(|member| jwk.contains_key(*member))
    {
        return Err(invalid_proof(
            "The DPoP proof JWT 'jwk' header must not contain a private key.",
        ));
    }
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).ok_or_else(missing);
    match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => {
            let (curve, x, y) = (member("crv")?, member("x")?, member("y")?);
            let key = DecodingKey::from_ec_components(x, y).map_err(|_| missing())?;
            Ok((key, ec_thumbprint(curve, x, y)))
        }
        Some("RSA") => {
            let (modulus, exponent) = (member("n")?, member("e")?);
            let key = DecodingKey::from_rsa_components(modulus, exponent).map_err(|_| missing())?;
            Ok((key, rsa_thumbprint(exponent, modulus)))
        }
        _ => Err(missing()),
    }
}

fn check_signature(
    proof: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
) -> Result<Value, ApiError> {
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(proof, key, &validation)
        .map(|data| data.claims)
        .map_err(|_| invalid_proof("The DPoP proof JWT signature is invalid."))
}

/// Checks `htm` and `htu`, ignoring the query and fragment of `htu` as RFC 9449 section 4.3 requires.
fn check_target(claims: &Value, expected: &Expected<'_>) -> Result<(), ApiError> {
    if claims.get("htm").and_then(Value::as_str) != Some(expected.method) {
        return Err(invalid_proof(
            "The DPoP proof JWT 'htm' claim does not match the HTTP method of the request.",
        ));
    }
    let target = claims
        .get("htu")
        .and_then(Value::as_str)
        .map(|url| url.split(['?', '#']).next().unwrap_or(url));
    if target != Some(expected.url) {
        return Err(invalid_proof(
            "The DPoP proof JWT 'htu' claim does not match the URL of the request.",
        ));
    }
    Ok(())
}

fn check_issued_at(claims: &Value, now: DateTime<Utc>) -> Result<i64, ApiError> {
    let Some(issued) = claims.get("iat").and_then(Value::as_i64) else {
        return Err(invalid_proof(
            "The DPoP proof JWT must contain an 'iat' claim.",
        ));
    };
    let now = now.timestamp();
    if issued < now - MAX_PROOF_AGE_SECONDS {
        return Err(invalid_proof(
            "The DPoP proof JWT was issued more than five minutes in the past.",
        ));
    }
    if issued > now + FUTURE_TOLERANCE_SECONDS {
        return Err(invalid_proof(
            "The DPoP proof JWT was issued in the future.",
        ));
    }
    Ok(issued)
}
