//! Keys registered for the simulated service app and RFC 7638 JWK thumbprints.
//!
//! The service app has one RSA key ([`ClientKey`]) and two EC keys ([`EcClientKey`]),
//! one on P-256 for ES256 and one on P-384 for ES384, so that client assertions signed
//! with any of them are accepted. A key's `kid` is its JWK thumbprint, the same value a
//! DPoP-bound token carries in `cnf.jkt` for its proof key.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

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
        let exponent = URL_SAFE_NO_PAD.encode(public_key.e().to_bytes_be());
        let modulus = URL_SAFE_NO_PAD.encode(public_key.n().to_bytes_be());
        Ok(ClientKey {
            private_key_pem,
            public_key_pem,
            key_id: rsa_thumbprint(&exponent, &modulus),
        })
    }
}

/// Elliptic curve of an [`EcClientKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// NIST P-256, signing with ES256.
    P256,
    /// NIST P-384, signing with ES384.
    P384,
}

impl EcCurve {
    /// Returns the JWS algorithm that signs with this curve, e.g. `ES256`.
    pub fn algorithm(self) -> &'static str {
        match self {
            EcCurve::P256 => "ES256",
            EcCurve::P384 => "ES384",
        }
    }

    /// Returns the curve's JWK `crv` name, e.g. `P-256`.
    pub fn jwk_name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
        }
    }
}

/// An EC key pair registered for the service app.
#[derive(Clone)]
pub struct EcClientKey {
    pub curve: EcCurve,
    /// PKCS#8 PEM of the private key, for signing client assertions.
    pub private_key_pem: String,
    /// SPKI PEM of the public key.
    pub public_key_pem: String,
    /// Key id: the RFC 7638 JWK thumbprint of the public key.
    pub key_id: String,
}

impl std::fmt::Debug for EcClientKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EcClientKey")
            .field("curve", &self.curve)
            .field("private_key_pem", &"<redacted>")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl EcClientKey {
    /// Generates a key pair on `curve` with the operating system's random source.
    pub fn generate(curve: EcCurve) -> anyhow::Result<EcClientKey> {
        let (private_key_pem, public_key_pem, x, y) = match curve {
            EcCurve::P256 => {
                let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
                let point = secret.public_key().to_encoded_point(false);
                (
                    secret
                        .to_pkcs8_pem(LineEnding::LF)
                        .map(|pem| pem.to_string()),
                    secret.public_key().to_public_key_pem(LineEnding::LF),
                    point.x().map(|x| x.to_vec()),
                    point.y().map(|y| y.to_vec()),
                )
            }
            EcCurve::P384 => {
                let secret = p384::SecretKey::random(&mut rand::rngs::OsRng);
                let point = secret.public_key().to_encoded_point(false);
                (
                    secret
                        .to_pkcs8_pem(LineEnding::LF)
                        .map(|pem| pem.to_string()),
                    secret.public_key().to_public_key_pem(LineEnding::LF),
                    point.x().map(|x| x.to_vec()),
                    point.y().map(|y| y.to_vec()),
                )
            }
        };
        let private_key_pem = private_key_pem.context("Failed to encode the EC private key")?;
        let public_key_pem = public_key_pem.context("Failed to encode the EC public key")?;
        let (Some(x), Some(y)) = (x, y) else {
            anyhow::bail!(
                "EC public key of curve `{}` has no coordinates",
                curve.jwk_name()
            );
        };
        let key_id = ec_thumbprint(
            curve.jwk_name(),
            &URL_SAFE_NO_PAD.encode(x),
            &URL_SAFE_NO_PAD.encode(y),
        );
        Ok(EcClientKey {
            curve,
            private_key_pem,
            public_key_pem,
            key_id,
        })
    }
}

/// Computes the RFC 7638 thumbprint of an RSA public key from its base64url `e` and `n`.
pub(crate) fn rsa_thumbprint(exponent: &str, modulus: &str) -> String {
    thumbprint(&format!(
        r#"{{"e":"{exponent}","kty":"RSA","n":"{modulus}"}}"#
    ))
}

/// Computes the RFC 7638 thumbprint of an EC public key from its curve name and base64url coordinates.
pub(crate) fn ec_thumbprint(curve: &str, x: &str, y: &str) -> String {
    thumbprint(&format!(
        r#"{{"crv":"{curve}","kty":"EC","x":"{x}","y":"{y}"}}"#
    ))
}

/// Hashes the canonical JWK text with SHA-256 and encodes it as base64url.
fn thumbprint(canonical_jwk: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical_jwk.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_thumbprint_matches_rfc_7638_example() {
        // The example key of RFC 7638 section 3.1 and its published thumbprint.
        let modulus = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            rsa_thumbprint("AQAB", modulus),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn ec_keys_carry_their_curve() {
        let p256 = EcClientKey::generate(EcCurve::P256).unwrap();
        let p384 = EcClientKey::generate(EcCurve::P384).unwrap();
        assert_eq!(p256.curve.algorithm(), "ES256");
        assert_eq!(p384.curve.algorithm(), "ES384");
        assert_ne!(p256.key_id, p384.key_id);
        assert!(
            p256.private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
    }
}
