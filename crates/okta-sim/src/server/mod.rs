//! The simulator's HTTP server: Okta's management API over an [`Org`] on a loopback port.
//!
//! [`serve`] binds the listener, registers two OAuth clients (a custom service app with
//! an RSA and two EC keys, and an API service integration with a client secret) and an
//! SSWS API token, and serves until [`RunningSim::shutdown`]. Routes:
//!
//! - `POST /oauth2/v1/token` (client credentials with `private_key_jwt` or
//!   `client_secret_basic`, optionally DPoP-bound), in `auth` and `dpop`
//! - users, groups and apps, in `directory`; factors, group rules, owners and roles,
//!   and admin assignees, in `access`; write-back changes, in `manage`
//! - `GET /api/v1/logs`, in `logs`
//!
//! An event hook configured in the options gets new System Log events from `hooks`.
//! A middleware in `limits` applies rate limits and the faults of `faults`, checks DPoP
//! proofs through `caller`, and adds the headers every Okta response carries. The org
//! stays reachable through [`RunningSim::org`], so a test can change it while the server
//! runs.

mod access;
mod auth;
mod caller;
mod directory;
mod dpop;
mod error;
mod faults;
mod hooks;
mod index;
mod json_text;
mod keys;
mod limits;
mod logs;
mod manage;
mod paging;
mod shared;

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLockReadGuard};
use std::time::Duration;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::Utc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Faults, LatencyRange};
pub use hooks::EventHook;
pub use keys::{ClientKey, EcClientKey, EcCurve};
pub use limits::RateLimits;
pub use shared::{OrgWriteGuard, SharedOrg};

use crate::generate::Org;
use crate::ids::{object_id, random_token};
use auth::{Authority, Clients};
use error::ApiError;
use faults::FaultState;
use limits::RateLimiter;

/// How long [`RunningSim::shutdown`] waits for open connections before stopping anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Scopes granted to the service app by default: read access to everything served.
pub const DEFAULT_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.groups.read",
    "okta.apps.read",
    "okta.logs.read",
    "okta.roles.read",
];

/// Settings of a simulator server.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Address to listen on; `127.0.0.1:0` picks a free loopback port.
    pub bind: SocketAddr,
    pub rate_limits: RateLimits,
    /// Okta API scopes granted to the service app.
    pub scopes: Vec<String>,
    /// Lifetime of access tokens; Okta fixes it at one hour.
    pub access_token_lifetime: Duration,
    /// Key registered for the service app; a new RSA 2048 key is generated when `None`.
    pub client_key: Option<ClientKey>,
    /// Whether the service app requires DPoP-bound tokens, as Okta's Admin Console sets
    /// for new service apps. The API service integration never requires DPoP.
    pub dpop: bool,
    /// SSWS API token accepted on the management API; a random one when `None`.
    pub api_token: Option<String>,
    /// Faults to inject; none by default.
    pub faults: Faults,
    /// Event hook that receives System Log events stored after the server started.
    pub event_hook: Option<EventHook>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            rate_limits: RateLimits::default(),
            scopes: DEFAULT_SCOPES
                .iter()
                .map(|scope| scope.to_string())
                .collect(),
            access_token_lifetime: Duration::from_secs(3600),
            client_key: None,
            dpop: false,
            api_token: None,
            faults: Faults::default(),
            event_hook: None,
        }
    }
}

/// State shared by all handlers.
pub(crate) struct AppState {
    pub org: Arc<SharedOrg>,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    pub authority: Authority,
    pub limiter: RateLimiter,
    pub faults: FaultState,
    /// Sorted views of the org and rendered users, rebuilt when the org changes.
    pub index: index::Indexes,
}

impl AppState {
    /// Locks the org for reading; a panic in another holder does not make it unreadable.
    pub fn read_org(&self) -> OrgView<'_> {
        let guard = self.org.read().unwrap_or_else(PoisonError::into_inner);
        OrgView {
            generation: self.org.generation(),
            guard,
        }
    }

    /// Locks the org for a change; a panic in another holder does not make it unwritable.
    pub fn write_org(&self) -> OrgWriteGuard<'_> {
        self.org.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A read lock on the served org, with the generation of the state it shows.
pub(crate) struct OrgView<'a> {
    guard: RwLockReadGuard<'a, Org>,
    pub generation: u64,
}

impl std::ops::Deref for OrgView<'_> {
    type Target = Org;

    fn deref(&self) -> &Org {
        &self.guard
    }
}

/// A running simulator.
pub struct RunningSim {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    /// Client id of the service app (`0oa…`, 20 characters).
    pub client_id: String,
    /// PKCS#8 PEM of the RSA private key registered for the service app.
    pub private_key_pem: String,
    /// `kid` of the registered key.
    pub key_id: String,
    /// EC keys registered for the service app as well: one on P-256 (ES256) and one on
    /// P-384 (ES384).
    pub ec_keys: Vec<EcClientKey>,
    /// Client id of the API service integration, which authenticates with
    /// `client_secret_basic` and has the same scopes as the service app.
    pub secret_client_id: String,
    /// Client secret of the API service integration.
    pub client_secret: String,
    /// SSWS API token, sent as `Authorization: SSWS <token>`; it passes every scope check.
    pub api_token: String,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RunningSim")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl RunningSim {
    /// Returns the live org; changes are visible to the next request.
    pub fn org(&self) -> Arc<SharedOrg> {
        Arc::clone(&self.state.org)
    }

    /// Returns the token endpoint, which is also the `aud` a client assertion must name.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v1/token", self.base_url)
    }

    /// Invalidates every access token issued so far; the next API call with one gets a 401.
    pub fn revoke_access_tokens(&self) {
        self.state.authority.revoke_all();
    }

    /// Replaces the DPoP nonce. The token endpoint keeps accepting the previous nonce;
    /// DPoP resource requests get a 401 `use_dpop_nonce` challenge with the new nonce
    /// until one presents it.
    pub fn rotate_dpop_nonce(&self) {
        self.state.authority.dpop.rotate_nonce();
    }

    /// Makes the next `count` requests get a rate-limit 429 with a reset one second ahead.
    pub fn inject_rate_limit_burst(&self, count: u32) {
        self.state.faults.add_burst(count);
    }

    /// Stops accepting connections, lets open requests finish and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                tracing::warn!(base_url = %self.base_url, "Simulator did not stop within the grace period, aborting it");
                abort.abort();
            }
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a simulator serving `org` and returns once it accepts connections.
///
/// Generates the service app's RSA key unless `options.client_key` supplies one. Key
/// generation is the slowest part of starting, so test suites can generate one
/// [`ClientKey`] and pass it to every simulator.
pub async fn serve(mut org: Org, options: SimOptions) -> anyhow::Result<RunningSim> {
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .with_context(|| format!("Failed to bind the simulator to `{}`", options.bind))?;
    let address = listener
        .local_addr()
        .context("Failed to read the simulator's local address")?;
    let base_url = format!("http://{address}");
    let key = client_key(&options).await?;
    let ec_keys = vec![
        EcClientKey::generate(EcCurve::P256)?,
        EcClientKey::generate(EcCurve::P384)?,
    ];
    let mut rng = rand::thread_rng();
    let client_id = object_id(&mut rng, "0oa");
    let secret_client_id = object_id(&mut rng, "0oa");
    let client_secret = random_token(&mut rng, 64);
    let api_token = options
        .api_token
        .clone()
        .unwrap_or_else(|| format!("00{}", random_token(&mut rng, 40)));
    let authority = Authority::new(
        &base_url,
        Clients {
            service_app_id: &client_id,
            rsa_key: &key,
            ec_keys: &ec_keys,
            dpop: options.dpop,
            integration_id: &secret_client_id,
            integration_secret: &client_secret,
            api_token: &api_token,
            granted_scopes: &options.scopes,
            token_lifetime: options.access_token_lifetime,
        },
    )?;
    if let Some(every) = options.faults.late_log_events_every {
        faults::reorder_late_events(&mut org.events, every);
    }
    let state = Arc::new(AppState {
        org: Arc::new(SharedOrg::new(org)),
        base_url: base_url.clone(),
        authority,
        limiter: RateLimiter::new(options.rate_limits),
        faults: FaultState::new(options.faults.clone()),
        index: index::Indexes::default(),
    });

    let (stop, task) = spawn_server(listener, Arc::clone(&state));
    if let Some(hook) = options.event_hook.clone() {
        hooks::spawn(&state, hook);
    }
    tracing::info!(%base_url, client_id, secret_client_id, "Okta simulator listening");
    Ok(RunningSim {
        base_url,
        client_id,
        private_key_pem: key.private_key_pem,
        key_id: key.key_id,
        ec_keys,
        secret_client_id,
        client_secret,
        api_token,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Returns the key from the options, or generates one off the async runtime's threads.
async fn client_key(options: &SimOptions) -> anyhow::Result<ClientKey> {
    match options.client_key.clone() {
        Some(key) => Ok(key),
        None => tokio::task::spawn_blocking(ClientKey::generate)
            .await
            .context("RSA key generation task failed")?,
    }
}

/// Serves on `listener` until the returned sender fires or is dropped.
fn spawn_server(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    let task = tokio::spawn(async move {
        if let Err(error) = server.await {
            tracing::error!(%error, "Simulator server failed");
        }
    });
    (stop, task)
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/oauth2/v1/token", post(token))
        .route("/api/v1/users", get(directory::list_users))
        .route("/api/v1/users/{id}", get(directory::get_user))
        .route("/api/v1/users/{id}/groups", get(directory::user_groups))
        .route("/api/v1/users/{id}/roles", get(directory::user_roles))
        .route("/api/v1/users/{id}/factors", get(access::user_factors))
        .route(
            "/api/v1/users/{id}/lifecycle/{operation}",
            post(manage::user_lifecycle),
        )
        .route("/api/v1/iam/assignees/users", get(access::role_assignees))
        .route("/api/v1/groups", get(directory::list_groups))
        .route("/api/v1/groups/rules", get(access::group_rules))
        .route("/api/v1/groups/{id}/owners", get(access::group_owners))
        .route("/api/v1/groups/{id}/roles", get(access::group_roles))
        .route(
            "/api/v1/groups/{id}/users/{user_id}",
            delete(manage::remove_group_member),
        )
        .route(
            "/api/v1/apps/{id}/users/{user_id}",
            delete(manage::unassign_app_user),
        )
        .route("/api/v1/groups/{id}", get(directory::get_group))
        .route("/api/v1/groups/{id}/users", get(directory::group_users))
        .route("/api/v1/groups/{id}/apps", get(directory::group_apps))
        .route("/api/v1/apps", get(directory::list_apps))
        .route("/api/v1/apps/{id}", get(directory::get_app))
        .route("/api/v1/apps/{id}/users", get(directory::app_users))
        .route("/api/v1/apps/{id}/groups", get(directory::app_groups))
        .route("/api/v1/logs", get(logs::list_logs))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            limits::envelope,
        ))
        .with_state(state)
}

/// `POST /oauth2/v1/token`.
async fn token(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match state.authority.issue_token(&headers, &body, Utc::now()) {
        Ok(token) => {
            let no_cache = [
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::PRAGMA, HeaderValue::from_static("no-cache")),
            ];
            (no_cache, Json(token)).into_response()
        }
        Err(error) => {
            tracing::debug!(?error, "Token request rejected");
            error.into_response()
        }
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(uri.path(), "Resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
