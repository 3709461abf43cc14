//! Shared helpers: small orgs, a simulator with a shared key, client assertions, tokens
//! and `link` header parsing. Every request goes over plain HTTP to a loopback port.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DurationRound, Utc};
use idaudit_okta_sim::{
    ClientKey, Org, OrgSpec, RateLimits, RunningSim, ScenarioKind, SimOptions, generate, serve,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Response;
use serde_json::{Value, json};

/// Builds a small org spec whose log ends now, so that every event is inside Okta's retention.
pub fn small_spec(seed: u64) -> OrgSpec {
    OrgSpec {
        seed,
        users: 150,
        groups: 25,
        apps: 12,
        log_days: 5,
        end: Utc::now()
            .duration_trunc(chrono::Duration::seconds(1))
            .unwrap(),
        scenarios: ScenarioKind::all(),
        memberships: None,
    }
}

pub fn small_org() -> Org {
    generate(&small_spec(7))
}

/// Returns one RSA key shared by the whole test binary, so that most tests skip key generation.
pub fn shared_key() -> ClientKey {
    static KEY: OnceLock<ClientKey> = OnceLock::new();
    KEY.get_or_init(|| ClientKey::generate().unwrap()).clone()
}

/// Options with the shared key and no rate limits.
pub fn options() -> SimOptions {
    SimOptions {
        rate_limits: RateLimits::Off,
        client_key: Some(shared_key()),
        ..SimOptions::default()
    }
}

pub async fn start(org: Org) -> RunningSim {
    serve(org, options()).await.unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Claims of a valid client assertion for `sim`; tests change fields to make it invalid.
pub fn assertion_claims(sim: &RunningSim) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "iss": sim.client_id,
        "sub": sim.client_id,
        "aud": sim.token_url(),
        "iat": now,
        "exp": now + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// Signs claims with RS256 and the registered key id.
pub fn sign(sim: &RunningSim, claims: &Value) -> String {
    sign_with(
        &sim.private_key_pem,
        Some(&sim.key_id),
        Algorithm::RS256,
        claims,
    )
}

pub fn sign_with(
    private_key_pem: &str,
    key_id: Option<&str>,
    algorithm: Algorithm,
    claims: &Value,
) -> String {
    let header = Header {
        kid: key_id.map(str::to_string),
        ..Header::new(algorithm)
    };
    let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Posts a client credentials request with a client assertion.
pub async fn request_token(sim: &RunningSim, assertion: &str, scope: &str) -> Response {
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", scope),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    http()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Gets an access token with every default scope.
pub async fn access_token(sim: &RunningSim) -> String {
    access_token_for(
        sim,
        "okta.users.read okta.groups.read okta.apps.read okta.logs.read okta.roles.read",
    )
    .await
}

pub async fn access_token_for(sim: &RunningSim, scope: &str) -> String {
    let assertion = sign(sim, &assertion_claims(sim));
    let response = request_token(sim, &assertion, scope).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Sends an authenticated GET; `path_or_url` is a path on the simulator or an absolute URL.
pub async fn get(sim: &RunningSim, token: &str, path_or_url: &str) -> Response {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_string()
    } else {
        format!("{}{path_or_url}", sim.base_url)
    };
    http().get(url).bearer_auth(token).send().await.unwrap()
}

/// A `link` header line split into URL and relation.
#[derive(Debug, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub rel: String,
}

/// Parses every `link` header line; each line must hold exactly one relation.
pub fn links(response: &Response) -> Vec<Link> {
    response
        .headers()
        .get_all("link")
        .iter()
        .map(|value| {
            let text = value.to_str().unwrap();
            assert_eq!(
                text.matches("rel=").count(),
                1,
                "one relation per link line: {text}"
            );
            let (url_part, rel_part) = text.split_once(';').unwrap();
            Link {
                url: url_part
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
                rel: rel_part
                    .trim()
                    .trim_start_matches("rel=")
                    .trim_matches('"')
                    .to_string(),
            }
        })
        .collect()
}

pub fn next_link(response: &Response) -> Option<String> {
    links(response)
        .into_iter()
        .find(|link| link.rel == "next")
        .map(|link| link.url)
}

/// Follows `next` links from `path` and returns every item of every page.
pub async fn collect_pages(sim: &RunningSim, token: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = Some(path.to_string());
    let mut pages = 0;
    while let Some(current) = url {
        let response = get(sim, token, &current).await;
        assert_eq!(response.status(), 200, "GET {current}");
        url = next_link(&response);
        let page: Vec<Value> = response.json().await.unwrap();
        items.extend(page);
        pages += 1;
        assert!(pages < 1000, "paging did not end");
    }
    items
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
