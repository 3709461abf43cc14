//! Loading the service app's private key for `private_key_jwt`.
//!
//! Okta accepts RSA keys (RS256, RS384, RS512) and EC keys (ES256, ES384,
//! ES512) for client assertions. Admins download keys from the Admin Console
//! as PEM or as a JWK, so both are read: PEM in PKCS#1 (`RSA PRIVATE KEY`),
//! PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) form, and a JWK or a
//! JWK Set with one private key. The key is normalised to the DER forms the
//! signer expects: PKCS#1 for RSA and PKCS#8 for EC.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use rsa::BigUint;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::Deserialize;

use crate::{Error, Secret};

/// A private key ready to sign client assertions.
pub struct SigningKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) algorithm: Algorithm,
    /// The `kid` named inside a JWK, used when the config names none.
    pub(crate) key_id: Option<String>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

enum Material {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
}

/// Reads a PEM or JWK private key; `algorithm` overrides the default for
/// the key type (RS256 for RSA, ES256 for P-256, ES384 for P-384).
pub fn load_signing_key(key: &Secret, algorithm: Option<&str>) -> Result<SigningKey, Error> {
    let text = key.expose().trim();
    let (material, key_id) = if text.starts_with('{') {
        read_jwk(text)?
    } else if text.starts_with("-----BEGIN") {
        (read_pem(text)?, None)
    } else {
        return Err(invalid(
            "expected a PEM block (`-----BEGIN ...`) or a JWK (`{...}`)",
        ));
    };
    let (encoding, default_algorithm) = encode(&material)?;
    let algorithm = match algorithm {
        None => default_algorithm,
        Some(name) => parse_algorithm(name, &material)?,
    };
    Ok(SigningKey {
        encoding,
        algorithm,
        key_id,
    })
}

fn read_pem(text: &str) -> Result<Material, Error> {
    if text.contains("BEGIN RSA PRIVATE KEY") {
        return rsa::RsaPrivateKey::from_pkcs1_pem(text)
            .map(|key| Material::Rsa(Box::new(key)))
            .map_err(|error| invalid(&format!("invalid PKCS#1 RSA key: {error}")));
    }
    if text.contains("BEGIN EC PRIVATE KEY") {
        if let Ok(key) = p256::SecretKey::from_sec1_pem(text) {
            return Ok(Material::P256(key));
        }
        return p384::SecretKey::from_sec1_pem(text)
            .map(Material::P384)
            .map_err(|_| invalid("the EC key is neither P-256 nor P-384"));
    }
    if text.contains("BEGIN PRIVATE KEY") {
        if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(text) {
            return Ok(Material::Rsa(Box::new(key)));
        }
        if let Ok(key) = p256::SecretKey::from_pkcs8_pem(text) {
            return Ok(Material::P256(key));
        }
        if let Ok(key) = p384::SecretKey::from_pkcs8_pem(text) {
            return Ok(Material::P384(key));
        }
        return Err(invalid("the PKCS#8 key is not RSA, P-256 or P-384"));
    }
    if text.contains("PUBLIC KEY") {
        return Err(invalid(
            "this is a public key: use the private key of the pair",
        ));
    }
    Err(invalid(
        "unsupported PEM block: expected `RSA PRIVATE KEY`, `PRIVATE KEY` or `EC PRIVATE KEY`",
    ))
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    crv: Option<String>,
    d: Option<String>,
    n: Option<String>,
    e: Option<String>,
    p: Option<String>,
    q: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

fn read_jwk(text: &str) -> Result<(Material, Option<String>), Error> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|error| invalid(&format!("invalid JWK JSON: {error}")))?;
    // A JWK Set is accepted when it contains exactly one private key.
    let value = match serde_json::from_value::<JwkSet>(value.clone()) {
        Ok(set) => {
            let mut private: Vec<_> = set
                .keys
                .into_iter()
                .filter(|key| key.get("d").is_some())
                .collect();
            if private.len() != 1 {
                return Err(invalid("the JWK Set must contain exactly one private key"));
            }
            private.remove(0)
        }
        Err(_) => value,
    };
    let jwk: Jwk = serde_json::from_value(value.clone())
        .map_err(|error| invalid(&format!("invalid JWK: {error}")))?;
    let Some(d) = jwk.d.as_deref() else {
        return Err(invalid(
            "the JWK has no private part (`d`): use the private key",
        ));
    };
    let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => Material::Rsa(Box::new(rsa_from_jwk(&jwk, d)?)),
        ("EC", Some("P-256")) => Material::P256(
            p256::SecretKey::from_jwk_str(&value.to_string())
                .map_err(|error| invalid(&format!("invalid P-256 JWK: {error}")))?,
        ),
        ("EC", Some("P-384")) => Material::P384(
            p384::SecretKey::from_jwk_str(&value.to_string())
                .map_err(|error| invalid(&format!("invalid P-384 JWK: {error}")))?,
        ),
        (kty, crv) => {
            return Err(invalid(&format!(
                "unsupported JWK type `{kty}`{}",
                crv.map(|crv| format!(" with curve `{crv}`"))
                    .unwrap_or_default()
            )));
        }
    };
    Ok((material, jwk.kid))
}

fn rsa_from_jwk(jwk: &Jwk, d: &str) -> Result<rsa::RsaPrivateKey, Error> {
    let number = |name: &str, value: Option<&str>| -> Result<BigUint, Error> {
        let text = value.ok_or_else(|| invalid(&format!("the RSA JWK has no `{name}`")))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| invalid(&format!("the RSA JWK's `{name}` is not base64url")))?;
        Ok(BigUint::from_bytes_be(&bytes))
    };
    let modulus = number("n", jwk.n.as_deref())?;
    let exponent = number("e", jwk.e.as_deref())?;
    let private_exponent = number("d", Some(d))?;
    let primes = match (jwk.p.as_deref(), jwk.q.as_deref()) {
        (Some(p), Some(q)) => vec![number("p", Some(p))?, number("q", Some(q))?],
        _ => Vec::new(),
    };
    rsa::RsaPrivateKey::from_components(modulus, exponent, private_exponent, primes)
        .map_err(|error| invalid(&format!("invalid RSA JWK: {error}")))
}

fn encode(material: &Material) -> Result<(EncodingKey, Algorithm), Error> {
    let failed =
        |error: &dyn std::fmt::Display| invalid(&format!("failed to encode the key: {error}"));
    match material {
        Material::Rsa(key) => {
            let der = key.to_pkcs1_der().map_err(|error| failed(&error))?;
            Ok((EncodingKey::from_rsa_der(der.as_bytes()), Algorithm::RS256))
        }
        Material::P256(key) => {
            let der = key.to_pkcs8_der().map_err(|error| failed(&error))?;
            Ok((EncodingKey::from_ec_der(der.as_bytes()), Algorithm::ES256))
        }
        Material::P384(key) => {
            let der = key.to_pkcs8_der().map_err(|error| failed(&error))?;
            Ok((EncodingKey::from_ec_der(der.as_bytes()), Algorithm::ES384))
        }
    }
}

fn parse_algorithm(name: &str, material: &Material) -> Result<Algorithm, Error> {
    let algorithm = match name.to_ascii_uppercase().as_str() {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        _ => {
            return Err(invalid(&format!(
                "unsupported signing algorithm `{name}`: use RS256, RS384, RS512, ES256 or ES384"
            )));
        }
    };
    let fits = matches!(
        (material, algorithm),
        (
            Material::Rsa(_),
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) | (Material::P256(_), Algorithm::ES256)
            | (Material::P384(_), Algorithm::ES384)
    );
    if !fits {
        return Err(invalid(&format!(
            "algorithm `{name}` does not fit the key type"
        )));
    }
    Ok(algorithm)
}

fn invalid(reason: &str) -> Error {
    Error::InvalidKey {
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    use super::load_signing_key;
    use crate::Secret;

    fn rsa_key() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap()
    }

    #[test]
    fn rsa_pkcs1_and_pkcs8() {
        let key = rsa_key();
        let pkcs1 = key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        assert_eq!(
            load_signing_key(&Secret::new(pkcs1), None)
                .unwrap()
                .algorithm,
            Algorithm::RS256
        );
        let loaded = load_signing_key(&Secret::new(pkcs8), Some("RS512")).unwrap();
        assert_eq!(loaded.algorithm, Algorithm::RS512);
    }

    #[test]
    fn ec_pkcs8_sec1_and_jwk() {
        let p256 = p256::SecretKey::random(&mut rand::thread_rng());
        let pkcs8 = p256.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let sec1 = p256.to_sec1_pem(LineEnding::LF).unwrap().to_string();
        assert_eq!(
            load_signing_key(&Secret::new(pkcs8), None)
                .unwrap()
                .algorithm,
            Algorithm::ES256
        );
        assert_eq!(
            load_signing_key(&Secret::new(sec1), None)
                .unwrap()
                .algorithm,
            Algorithm::ES256
        );

        let p384 = p384::SecretKey::random(&mut rand::thread_rng());
        let jwk = p384.to_jwk_string().to_string();
        assert_eq!(
            load_signing_key(&Secret::new(jwk), None).unwrap().algorithm,
            Algorithm::ES384
        );
    }

    #[test]
    fn rsa_jwk_with_kid() {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let key = rsa_key();
        let encode = |number: &rsa::BigUint| URL_SAFE_NO_PAD.encode(number.to_bytes_be());
        let jwk = serde_json::json!({
            "kty": "RSA", "kid": "key-1",
            "n": encode(key.n()), "e": encode(key.e()), "d": encode(key.d()),
            "p": encode(&key.primes()[0]), "q": encode(&key.primes()[1]),
        });
        let set = serde_json::json!({"keys": [jwk]}).to_string();
        let loaded = load_signing_key(&Secret::new(set), None).unwrap();
        assert_eq!(loaded.algorithm, Algorithm::RS256);
        assert_eq!(loaded.key_id.as_deref(), Some("key-1"));
    }

    #[test]
    fn wrong_inputs_rejected() {
        let p256 = p256::SecretKey::random(&mut rand::thread_rng());
        let pem = p256.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        assert!(load_signing_key(&Secret::new(pem), Some("RS256")).is_err());
        assert!(load_signing_key(&Secret::new("not a key"), None).is_err());
        let public =
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}).to_string();
        let error = load_signing_key(&Secret::new(public), None).unwrap_err();
        assert!(error.to_string().contains("no private part"), "{error}");
    }
}
