//! Rate-limit budget benchmark: how much of its configured share of one
//! bucket the client uses, alone and beside a greedy second client.
//!
//! Run: `cargo run --release -p idaudit-bench --bin rate_budget -- [WINDOW_SECONDS] [WINDOWS]`
//! (defaults 30 and 4). The simulator serves Okta's Workforce limits with
//! the given window length. Its users bucket gives each app 300 requests per
//! window, so a share of 0.8 allows 240.

use std::time::{Duration, Instant};

use anyhow::Result;
use idaudit_okta::{Client, Credentials, OrgConfig, Secret};
use idaudit_okta_sim::{OrgSpec, RateLimits, RunningSim, SimOptions};

/// Requests per window the simulator gives one app on `/api/v1/users`.
const USERS_BUCKET_SHARE: f64 = 300.0;

#[tokio::main]
async fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().collect();
    let window_seconds: u64 = arguments
        .get(1)
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(30);
    let windows: u64 = arguments
        .get(2)
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(4);
    let window = Duration::from_secs(window_seconds);
    let duration = window * windows as u32;

    let spec = OrgSpec {
        users: 50,
        groups: 5,
        apps: 3,
        log_days: 1,
        ..OrgSpec::default()
    };
    let options = SimOptions {
        rate_limits: RateLimits::Workforce { window },
        ..SimOptions::default()
    };

    println!(
        "window {window_seconds} s, {windows} windows, share 0.8 of {USERS_BUCKET_SHARE} requests per window"
    );
    let sim = idaudit_okta_sim::serve(idaudit_okta_sim::generate(&spec), options.clone()).await?;
    let alone = run_client(client(&sim, 0.8)?, duration).await;
    report("alone", &alone, 0.8, window);
    sim.shutdown().await;

    let sim = idaudit_okta_sim::serve(idaudit_okta_sim::generate(&spec), options).await?;
    let paced = client(&sim, 0.8)?;
    let greedy = greedy_token(&sim).await?;
    let (paced_result, greedy_counts) = tokio::join!(
        run_client(paced, duration),
        run_greedy(&sim.base_url, &greedy, duration)
    );
    report("beside a greedy client", &paced_result, 0.8, window);
    println!(
        "the greedy client: {} successful requests and {} 429s, ignoring every rate-limit header",
        greedy_counts.0, greedy_counts.1
    );
    sim.shutdown().await;
    Ok(())
}

#[derive(serde::Serialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
}

/// Gets an access token for the same service app, outside idaudit's client.
async fn greedy_token(sim: &RunningSim) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let claims = AssertionClaims {
        iss: sim.client_id.clone(),
        sub: sim.client_id.clone(),
        aud: sim.token_url(),
        iat: now,
        exp: now + 300,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(sim.private_key_pem.as_bytes())?;
    let assertion = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )?;
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "okta.users.read"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let response: serde_json::Value = reqwest::Client::new()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await?
        .json()
        .await?;
    Ok(response["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Sends requests from eight tasks as fast as responses come, ignoring
/// rate-limit headers, and returns the successes and the 429s.
async fn run_greedy(base_url: &str, token: &str, duration: Duration) -> (u64, u64) {
    let started = Instant::now();
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, authorization) = (
            http.clone(),
            format!("{base_url}/api/v1/users?limit=1"),
            format!("Bearer {token}"),
        );
        tasks.push(tokio::spawn(async move {
            let (mut successes, mut limited) = (0, 0);
            while started.elapsed() < duration {
                match http
                    .get(&url)
                    .header("authorization", &authorization)
                    .send()
                    .await
                {
                    Ok(response) if response.status() == 429 => {
                        limited += 1;
                        // A short pause keeps the load generator from spinning a core.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Ok(response) if response.status().is_success() => successes += 1,
                    _ => {}
                }
            }
            (successes, limited)
        }));
    }
    let mut totals = (0, 0);
    for task in tasks {
        let (successes, limited) = task.await.unwrap_or((0, 0));
        totals.0 += successes;
        totals.1 += limited;
    }
    totals
}

struct Outcome {
    requests: u64,
    rate_limited: u64,
    failures: u64,
    elapsed: Duration,
}

fn client(sim: &RunningSim, share: f64) -> Result<Client> {
    let credentials = Credentials::PrivateKey {
        client_id: sim.client_id.clone(),
        private_key: Secret::new(sim.private_key_pem.clone()),
        key_id: Some(sim.key_id.clone()),
    };
    let mut config = OrgConfig::new(&sim.base_url, credentials, Vec::new())?;
    config.options.rate_limit_share = share;
    Ok(Client::new(&config)?)
}

/// Reads one-user pages from eight tasks until `duration` has passed.
async fn run_client(client: Client, duration: Duration) -> Outcome {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = 0;
            while started.elapsed() < duration {
                if client.get_json("/api/v1/users?limit=1").await.is_err() {
                    failures += 1;
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for task in tasks {
        failures += task.await.unwrap_or(1);
    }
    let stats = client.stats();
    Outcome {
        requests: stats.requests - stats.rate_limited - failures,
        rate_limited: stats.rate_limited,
        failures,
        elapsed: started.elapsed(),
    }
}

/// Prints the requests per window of wall time as a share of what the
/// client's configured share allows.
fn report(label: &str, outcome: &Outcome, share: f64, window: Duration) {
    let windows = outcome.elapsed.as_secs_f64() / window.as_secs_f64();
    let per_window = outcome.requests as f64 / windows;
    let allowed = (USERS_BUCKET_SHARE * share).floor();
    println!(
        "{label}: {} requests in {:.1} s = {per_window:.1} per window, {:.1}% of its share ({allowed:.0}); {} rate-limited and retried, {} failed",
        outcome.requests,
        outcome.elapsed.as_secs_f64(),
        100.0 * per_window / allowed,
        outcome.rate_limited,
        outcome.failures
    );
}
