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
    let greedy = client(&sim, 1.0)?;
    let (paced_result, greedy_result) =
        tokio::join!(run_client(paced, duration), run_client(greedy, duration));
    report("beside a greedy client", &paced_result, 0.8, window);
    report("the greedy client", &greedy_result, 1.0, window);
    sim.shutdown().await;
    Ok(())
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
