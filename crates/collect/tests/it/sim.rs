//! A small simulated org served on loopback, and a client for it.

use std::time::Duration;

use idaudit_okta::{Client, Credentials, OrgConfig, Secret};
use idaudit_okta_sim::{Org, OrgSpec, RateLimits, RunningSim, SimOptions};

/// Generates an org of `users` users and serves it with Okta's limits over
/// one-second windows.
pub async fn start(users: usize) -> (Org, RunningSim, Client) {
    let options = SimOptions {
        rate_limits: RateLimits::Workforce {
            window: Duration::from_secs(1),
        },
        ..SimOptions::default()
    };
    start_with(users, options).await
}

/// Like [`start`], with the simulator's options (faults, DPoP) given.
pub async fn start_with(users: usize, options: SimOptions) -> (Org, RunningSim, Client) {
    let spec = OrgSpec {
        seed: 11,
        users,
        groups: 30,
        apps: 12,
        log_days: 7,
        ..OrgSpec::default()
    };
    let org = idaudit_okta_sim::generate(&spec);
    let sim = idaudit_okta_sim::serve(org.clone(), options).await.unwrap();
    let scopes = idaudit_okta_sim::DEFAULT_SCOPES
        .iter()
        .map(|scope| scope.to_string())
        .collect();
    let client = client_with_scopes(&sim, scopes);
    (org, sim, client)
}

/// Builds a client of the simulator's service app that requests `scopes`,
/// or the client's default scopes when `scopes` is empty.
pub fn client_with_scopes(sim: &RunningSim, scopes: Vec<String>) -> Client {
    let credentials = Credentials::PrivateKey {
        client_id: sim.client_id.clone(),
        private_key: Secret::new(sim.private_key_pem.clone()),
        key_id: Some(sim.key_id.clone()),
    };
    let config = OrgConfig::new(&sim.base_url, credentials, scopes).unwrap();
    Client::new(&config).unwrap()
}
