//! DPoP proofs (RFC 9449), which Okta requires from service apps created
//! in the Admin Console since early 2024 unless an admin turns it off.
//!
//! One P-256 key pair is made per process. Every request, and every retry,
//! carries a new proof with its own `jti`: `htm` is the method in upper
//! case, `htu` the URL without query or fragment, and resource requests add
//! `ath`, the base64url SHA-256 of the access token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Error, Secret};

/// The process's DPoP key pair.
pub(crate) struct DpopKey {
    encoding: EncodingKey,
    public: Jwk,
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    htm: String,
    htu: String,
    iat: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

impl DpopKey {
    /// Makes a new P-256 key pair.
    pub(crate) fn generate() -> Result<DpopKey, Error> {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let der = secret.to_pkcs8_der().map_err(|error| Error::InvalidKey {
            reason: format!("failed to encode the DPoP key: {error}"),
        })?;
        let point = secret.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(Error::InvalidKey {
                reason: "the DPoP public key has no coordinates".to_string(),
            });
        };
        let public = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            }),
        };
        Ok(DpopKey {
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            public,
        })
    }

    /// Signs a proof for one request; `access_token` is given on resource requests.
    pub(crate) fn proof(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&Secret>,
    ) -> Result<Secret, Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_string());
        header.jwk = Some(self.public.clone());
        let claims = ProofClaims {
            htm: method.to_ascii_uppercase(),
            htu: target_uri(url),
            iat: chrono::Utc::now().timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            nonce,
            ath: access_token.map(|token| URL_SAFE_NO_PAD.encode(Sha256::digest(token.expose()))),
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map(Secret::new)
            .map_err(|error| Error::InvalidKey {
                reason: format!("signing a DPoP proof failed: {error}"),
            })
    }
}

/// Returns the URL without query and fragment, as `htu` requires.
fn target_uri(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or(url).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::DpopKey;
    use crate::Secret;

    fn claims(proof: &Secret) -> serde_json::Value {
        let payload = proof.expose().split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn proof_claims() {
        let key = DpopKey::generate().unwrap();
        let token = Secret::new("access-token");
        let proof = key
            .proof(
                "get",
                "https://example.okta.com/api/v1/users?limit=200#x",
                Some("n1"),
                Some(&token),
            )
            .unwrap();
        let claims = claims(&proof);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://example.okta.com/api/v1/users");
        assert_eq!(claims["nonce"], "n1");
        assert!(claims["ath"].as_str().is_some_and(|ath| ath.len() == 43));

        let header = proof.expose().split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["jwk"]["crv"], "P-256");
        assert!(header["jwk"].get("d").is_none());
    }

    #[test]
    fn each_proof_has_new_jti() {
        let key = DpopKey::generate().unwrap();
        let first = claims(
            &key.proof("POST", "https://e.okta.com/oauth2/v1/token", None, None)
                .unwrap(),
        );
        let second = claims(
            &key.proof("POST", "https://e.okta.com/oauth2/v1/token", None, None)
                .unwrap(),
        );
        assert_ne!(first["jti"], second["jti"]);
        assert!(first.get("ath").is_none());
    }
}
