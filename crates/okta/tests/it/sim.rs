//! The client against the simulator: every way to authenticate, and the
//! same listing under injected faults.

use std::collections::BTreeSet;
use std::time::Duration;

use idaudit_okta::{Client, Credentials, OrgConfig, Secret};
use idaudit_okta_sim::{Faults, Org, OrgSpec, RateLimits, RunningSim, SimOptions};

fn small_org() -> Org {
    idaudit_okta_sim::generate(&OrgSpec {
        seed: 5,
        users: 150,
        groups: 12,
        apps: 4,
        log_days: 1,
        ..OrgSpec::default()
    })
}

async fn start(options: SimOptions) -> (Org, RunningSim) {
    let org = small_org();
    let sim = idaudit_okta_sim::serve(org.clone(), options).await.unwrap();
    (org, sim)
}

fn fast_limits() -> RateLimits {
    RateLimits::Workforce {
        window: Duration::from_secs(1),
    }
}

fn client(sim: &RunningSim, credentials: Credentials) -> Client {
    Client::new(&OrgConfig::new(&sim.base_url, credentials, Vec::new()).unwrap()).unwrap()
}

fn rsa(sim: &RunningSim) -> Credentials {
    Credentials::PrivateKey {
        client_id: sim.client_id.clone(),
        private_key: Secret::new(sim.private_key_pem.clone()),
        key_id: Some(sim.key_id.clone()),
    }
}

/// Returns the ids of every user, DEPROVISIONED included, as a sync reads them.
async fn all_user_ids(client: &Client) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for path in [
        "/api/v1/users?limit=50",
        "/api/v1/users?limit=50&filter=status%20eq%20%22DEPROVISIONED%22",
    ] {
        for user in client.list_all(path).await.unwrap() {
            ids.insert(user["id"].as_str().unwrap().to_string());
        }
    }
    ids
}

fn expected_user_ids(org: &Org) -> BTreeSet<String> {
    org.users.iter().map(|user| user.id.clone()).collect()
}

#[tokio::test]
async fn dpop_app_with_rotated_nonce() {
    let options = SimOptions {
        dpop: true,
        rate_limits: fast_limits(),
        ..SimOptions::default()
    };
    let (org, sim) = start(options).await;
    let client = client(&sim, rsa(&sim));

    assert_eq!(all_user_ids(&client).await, expected_user_ids(&org));
    sim.rotate_dpop_nonce();
    assert_eq!(all_user_ids(&client).await, expected_user_ids(&org));
    sim.shutdown().await;
}

#[tokio::test]
async fn ec_keys_authenticate() {
    let (org, sim) = start(SimOptions::default()).await;
    for key in &sim.ec_keys {
        let credentials = Credentials::PrivateKey {
            client_id: sim.client_id.clone(),
            private_key: Secret::new(key.private_key_pem.clone()),
            key_id: Some(key.key_id.clone()),
        };
        let ids = all_user_ids(&client(&sim, credentials)).await;
        assert_eq!(ids, expected_user_ids(&org), "{:?}", key.curve);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn client_secret_and_api_token_authenticate() {
    let (org, sim) = start(SimOptions::default()).await;
    let secret = Credentials::ClientSecret {
        client_id: sim.secret_client_id.clone(),
        client_secret: Secret::new(sim.client_secret.clone()),
    };
    assert_eq!(
        all_user_ids(&client(&sim, secret)).await,
        expected_user_ids(&org)
    );
    let token = Credentials::ApiToken(Secret::new(sim.api_token.clone()));
    assert_eq!(
        all_user_ids(&client(&sim, token)).await,
        expected_user_ids(&org)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_token_renewed() {
    let (org, sim) = start(SimOptions::default()).await;
    let client = client(&sim, rsa(&sim));
    assert_eq!(all_user_ids(&client).await, expected_user_ids(&org));
    sim.revoke_access_tokens();
    assert_eq!(all_user_ids(&client).await, expected_user_ids(&org));
    sim.shutdown().await;
}

#[tokio::test]
async fn listing_exact_under_faults() {
    let options = SimOptions {
        rate_limits: fast_limits(),
        faults: Faults {
            rate_limit_burst: 3,
            server_error_rate: 0.15,
            drop_body_every: Some(4),
            groups_next_after_last_page: true,
            clock_skew_seconds: -45,
            odd_values: true,
            seed: 9,
            ..Faults::default()
        },
        ..SimOptions::default()
    };
    let (org, sim) = start(options).await;
    let client = client(&sim, rsa(&sim));

    assert_eq!(all_user_ids(&client).await, expected_user_ids(&org));
    // A burst from server start may fall on the token request; this one falls on groups.
    sim.inject_rate_limit_burst(3);
    let groups = client.list_all("/api/v1/groups?limit=5").await.unwrap();
    let group_ids: BTreeSet<String> = groups
        .iter()
        .map(|group| group["id"].as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = org.groups.iter().map(|group| group.id.clone()).collect();
    assert_eq!(group_ids, expected);
    let stats = client.stats();
    assert!(stats.retries > 0, "no fault was retried: {stats:?}");
    assert!(stats.rate_limited >= 3, "{stats:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_429s_waited_out() {
    let options = SimOptions {
        faults: Faults {
            rate_limit_burst: 5,
            ..Faults::default()
        },
        ..SimOptions::default()
    };
    let (org, sim) = start(options).await;
    let client = client(&sim, rsa(&sim));
    assert_eq!(all_user_ids(&client).await, expected_user_ids(&org));
    sim.shutdown().await;
}
