//! DPoP: the nonce exchange at the token endpoint, proof checks, and DPoP-bound tokens on
//! the management API, with proofs built here from an EC P-256 key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use idaudit_okta_sim::{RunningSim, SimOptions, serve};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{assertion_claims, http, options, sign, small_org};

/// A DPoP key pair and the proofs it signs.
struct DpopKey {
    signing: SigningKey,
    jwk: Value,
}

impl DpopKey {
    fn generate() -> DpopKey {
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        let point = signing.verifying_key().to_encoded_point(false);
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        });
        DpopKey { signing, jwk }
    }

    /// RFC 7638 thumbprint, computed here independently of the simulator.
    fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.jwk["x"].as_str().unwrap(),
            self.jwk["y"].as_str().unwrap()
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.signing.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        self.sign_with_header(&header, claims)
    }

    /// Signs a proof for `method` and `url` with an optional nonce and access token hash.
    fn proof(&self, method: &str, url: &str, nonce: Option<&str>, token: Option<&str>) -> String {
        let mut claims = json!({
            "htm": method,
            "htu": url,
            "iat": Utc::now().timestamp(),
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(token) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        self.sign(&claims)
    }
}

async fn start_dpop() -> RunningSim {
    serve(
        small_org(),
        SimOptions {
            dpop: true,
            ..options()
        },
    )
    .await
    .unwrap()
}

/// Posts a token request with a fresh client assertion and an optional DPoP proof.
async fn token_request(sim: &RunningSim, proof: Option<&str>) -> Response {
    let assertion = sign(sim, &assertion_claims(sim));
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "okta.users.read okta.groups.read"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let mut request = http().post(sim.token_url()).form(&form);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

async fn assert_oauth_error(response: Response, status: u16, error: &str, description: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "body: {body}");
    assert_eq!(body["error_description"], description, "body: {body}");
}

/// Runs the nonce exchange and returns the nonce and a DPoP-bound access token.
async fn dpop_token(sim: &RunningSim, key: &DpopKey) -> (String, String) {
    let first = token_request(sim, Some(&key.proof("POST", &sim.token_url(), None, None))).await;
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let proof = key.proof("POST", &sim.token_url(), Some(&nonce), None);
    let response = token_request(sim, Some(&proof)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (nonce, body["access_token"].as_str().unwrap().to_string())
}

async fn dpop_get(sim: &RunningSim, token: &str, proof: &str, path: &str) -> Response {
    http()
        .get(format!("{}{path}", sim.base_url))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn token_request_without_proof_is_rejected() {
    let sim = start_dpop().await;
    let response = token_request(&sim, None).await;
    assert_oauth_error(
        response,
        400,
        "invalid_dpop_proof",
        "The DPoP proof JWT header is missing.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn proof_without_nonce_gets_nonce_challenge() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let response =
        token_request(&sim, Some(&key.proof("POST", &sim.token_url(), None, None))).await;
    let nonce = response.headers().get("dpop-nonce").cloned();
    assert_oauth_error(
        response,
        400,
        "use_dpop_nonce",
        "Authorization server requires nonce in DPoP proof.",
    )
    .await;
    assert!(nonce.is_some_and(|nonce| !nonce.is_empty()));
    sim.shutdown().await;
}

#[tokio::test]
async fn nonce_exchange_yields_bound_token() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let first = token_request(&sim, Some(&key.proof("POST", &sim.token_url(), None, None))).await;
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_string();

    let proof = key.proof("POST", &sim.token_url(), Some(&nonce), None);
    let response = token_request(&sim, Some(&proof)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    let claims: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .unwrap()
        .claims;
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    sim.shutdown().await;
}

#[tokio::test]
async fn token_proof_checks_reject_bad_proofs() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let (nonce, _) = dpop_token(&sim, &key).await;
    let token_url = sim.token_url();
    let now = Utc::now().timestamp();
    let claims = |htm: &str, htu: &str, iat: i64| json!({"htm": htm, "htu": htu, "iat": iat, "jti": uuid::Uuid::new_v4().to_string(), "nonce": nonce});
    let cases = [
        (
            "wrong typ",
            key.sign_with_header(
                &json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk}),
                &claims("POST", &token_url, now),
            ),
        ),
        ("wrong htm", key.sign(&claims("GET", &token_url, now))),
        (
            "wrong htu",
            key.sign(&claims("POST", &format!("{}/oauth2/default/v1/token", sim.base_url), now)),
        ),
        ("old iat", key.sign(&claims("POST", &token_url, now - 301))),
        ("future iat", key.sign(&claims("POST", &token_url, now + 120))),
        (
            "private jwk",
            key.sign_with_header(
                &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"d": "secret", "kty": "EC", "crv": "P-256", "x": key.jwk["x"], "y": key.jwk["y"]}}),
                &claims("POST", &token_url, now),
            ),
        ),
    ];
    for (case, proof) in cases {
        let response = token_request(&sim, Some(&proof)).await;
        assert_eq!(response.status(), 400, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{case}: {body}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn proof_with_query_in_htu_is_accepted() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let (nonce, _) = dpop_token(&sim, &key).await;
    let proof = key.proof(
        "POST",
        &format!("{}?x=1", sim.token_url()),
        Some(&nonce),
        None,
    );
    assert_eq!(token_request(&sim, Some(&proof)).await.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn replayed_proof_is_rejected() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let (nonce, _) = dpop_token(&sim, &key).await;
    let proof = key.proof("POST", &sim.token_url(), Some(&nonce), None);
    assert_eq!(token_request(&sim, Some(&proof)).await.status(), 200);
    assert_oauth_error(
        token_request(&sim, Some(&proof)).await,
        400,
        "invalid_dpop_proof",
        "The DPoP proof JWT has already been used.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn bound_token_reads_with_valid_proof() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let (_, token) = dpop_token(&sim, &key).await;
    let url = format!("{}/api/v1/users", sim.base_url);
    let proof = key.proof("GET", &url, None, Some(&token));
    let response = dpop_get(&sim, &token, &proof, "/api/v1/users?limit=2").await;
    assert_eq!(response.status(), 200);
    let users: Vec<Value> = response.json().await.unwrap();
    assert_eq!(users.len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn bound_token_resource_errors() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let (_, token) = dpop_token(&sim, &key).await;
    let url = format!("{}/api/v1/groups", sim.base_url);

    let bearer = http().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_oauth_error(
        bearer,
        400,
        "invalid_request",
        "The resource request must use the DPoP authentication scheme when using a DPoP bound token.",
    )
    .await;

    let without_proof = http()
        .get(&url)
        .header("Authorization", format!("DPoP {token}"))
        .send()
        .await
        .unwrap();
    assert_oauth_error(
        without_proof,
        400,
        "invalid_request",
        "The resource request requires a DPoP proof.",
    )
    .await;

    let wrong_ath = key.proof("GET", &url, None, Some("another token"));
    assert_oauth_error(
        dpop_get(&sim, &token, &wrong_ath, "/api/v1/groups").await,
        400,
        "invalid_dpop_proof",
        "'ath' claim in the DPoP proof does not match the presented access_token.",
    )
    .await;

    let other_key = DpopKey::generate().proof("GET", &url, None, Some(&token));
    assert_oauth_error(
        dpop_get(&sim, &token, &other_key, "/api/v1/groups").await,
        400,
        "invalid_dpop_proof",
        "The access_token is not bound to the provided DPoP proof.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn bearer_token_with_dpop_scheme_is_rejected() {
    let sim = serve(small_org(), options()).await.unwrap();
    let token = crate::support::access_token(&sim).await;
    let key = DpopKey::generate();
    let url = format!("{}/api/v1/users", sim.base_url);
    let proof = key.proof("GET", &url, None, Some(&token));
    assert_oauth_error(
        dpop_get(&sim, &token, &proof, "/api/v1/users").await,
        401,
        "invalid_token",
        "The presented access_token is not DPoP bound.",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn rotated_nonce_challenges_resource_once() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let (old_nonce, token) = dpop_token(&sim, &key).await;
    let url = format!("{}/api/v1/users", sim.base_url);
    sim.rotate_dpop_nonce();

    let challenged = dpop_get(
        &sim,
        &token,
        &key.proof("GET", &url, None, Some(&token)),
        "/api/v1/users",
    )
    .await;
    assert_eq!(challenged.status(), 401);
    let challenge = challenged.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains("error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    let new_nonce = challenged.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(new_nonce, old_nonce);

    let retried = key.proof("GET", &url, Some(&new_nonce), Some(&token));
    assert_eq!(
        dpop_get(&sim, &token, &retried, "/api/v1/users")
            .await
            .status(),
        200
    );
    let later = key.proof("GET", &url, None, Some(&token));
    assert_eq!(
        dpop_get(&sim, &token, &later, "/api/v1/users")
            .await
            .status(),
        200,
        "the challenge is answered once"
    );

    let old = key.proof("POST", &sim.token_url(), Some(&old_nonce), None);
    assert_eq!(
        token_request(&sim, Some(&old)).await.status(),
        200,
        "the previous nonce still works at the token endpoint"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn insufficient_scope_uses_dpop_challenge() {
    let sim = start_dpop().await;
    let key = DpopKey::generate();
    let (_, token) = dpop_token(&sim, &key).await;
    let url = format!("{}/api/v1/logs", sim.base_url);
    let response = dpop_get(
        &sim,
        &token,
        &key.proof("GET", &url, None, Some(&token)),
        "/api/v1/logs",
    )
    .await;
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("DPoP algs=\""), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    sim.shutdown().await;
}
