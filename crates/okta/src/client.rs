//! The HTTP client for one Okta org: authentication, paging, the rate-limit
//! budget and retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::auth::{AccessToken, ClientAuth, TokenSource, dpop_nonce};
use crate::budget::Budget;
use crate::error::ApiError;
use crate::link::find_link;
use crate::rate::{RateLimit, backoff};
use crate::{Credentials, Error, OrgConfig, Result, Secret};

/// The SSWS warning is printed once per process, however many clients.
static SSWS_WARNING: std::sync::Once = std::sync::Once::new();

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    /// The URL this page was read from.
    pub url: String,
    pub items: Vec<Value>,
    /// The `next` link exactly as Okta sent it.
    pub next: Option<String>,
    pub rate: RateLimit,
}

/// One page of a listing with its body as received.
pub struct RawPage {
    /// The URL this page was read from.
    pub url: String,
    pub body: bytes::Bytes,
    /// The `next` link exactly as Okta sent it.
    pub next: Option<String>,
    pub rate: RateLimit,
}

impl RawPage {
    /// Returns the JSON text of each item when the body is a JSON array,
    /// as the System Log and most listings send it; `None` otherwise.
    pub fn item_texts(&self) -> Option<Vec<&serde_json::value::RawValue>> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Parses the body into a [`Page`] of JSON values.
    pub fn to_page(&self) -> Result<Page> {
        let value: Value = serde_json::from_slice(&self.body).map_err(|source| Error::Decode {
            url: self.url.clone(),
            source,
        })?;
        let items = match value {
            Value::Array(items) => items,
            // A few listings wrap their items, such as `/iam/assignees/users`.
            Value::Object(mut object) => match object.remove("value") {
                Some(Value::Array(items)) => items,
                _ => vec![Value::Object(object)],
            },
            other => vec![other],
        };
        Ok(Page {
            url: self.url.clone(),
            items,
            next: self.next.clone(),
            rate: self.rate,
        })
    }
}

/// Counters of a client's traffic, for summaries.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct RequestStats {
    pub requests: u64,
    pub rate_limited: u64,
    pub retries: u64,
}

/// The outcome of a DELETE that Okta accepted.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Deleted {
    /// The absolute URL of the request.
    pub url: String,
    /// The HTTP status, usually 204.
    pub status: u16,
    /// Okta's `X-Okta-Request-Id`, which its support and System Log refer to.
    pub request_id: Option<String>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
}

enum Auth {
    OAuth(Box<TokenSource>),
    ApiToken(Secret),
}

/// The credential presented on one request.
enum Presented {
    OAuth(AccessToken),
    ApiToken,
}

/// A client for one Okta org. Cheap to clone; clones share the token and counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    org_url: Url,
    auth: Auth,
    budget: Budget,
    max_attempts: u32,
    counters: Counters,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaErrorBody {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_summary: String,
    #[serde(default)]
    error_id: String,
    #[serde(default)]
    error_causes: Vec<OktaErrorCause>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaErrorCause {
    #[serde(default)]
    error_summary: String,
}

impl Client {
    /// Builds a client; no request is made until the first call.
    pub fn new(config: &OrgConfig) -> Result<Client> {
        let options = &config.options;
        let http = reqwest::Client::builder()
            .user_agent(concat!("idaudit/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(options.request_timeout)
            .build()
            .map_err(|source| Error::Http {
                url: config.org_url.to_string(),
                source,
            })?;
        let auth = if let Credentials::ApiToken(token) = &config.credentials {
            SSWS_WARNING.call_once(|| {
                tracing::warn!(
                    "Using an SSWS API token: Okta recommends an OAuth 2.0 service app with private_key_jwt"
                );
            });
            Auth::ApiToken(token.clone())
        } else {
            Auth::OAuth(Box::new(TokenSource::new(
                http.clone(),
                join(&config.org_url, "/oauth2/v1/token"),
                client_auth(config)?,
                &config.scopes,
                &config.optional_scopes,
                options.dpop,
            )?))
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                org_url: config.org_url.clone(),
                auth,
                budget: Budget::new(options.rate_limit_share, options.max_concurrency),
                max_attempts: options.max_retries + 1,
                counters: Counters::default(),
            }),
        })
    }

    /// Returns the org's base URL.
    pub fn org_url(&self) -> &Url {
        &self.inner.org_url
    }

    /// Returns the request counters so far.
    pub fn stats(&self) -> RequestStats {
        let counters = &self.inner.counters;
        RequestStats {
            requests: counters.requests.load(Ordering::Relaxed),
            rate_limited: counters.rate_limited.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
        }
    }

    /// Returns the absolute URL of `path_and_query` on this org.
    pub fn url(&self, path_and_query: &str) -> String {
        join(&self.inner.org_url, path_and_query)
    }

    /// Reads every page of a listing and returns all items.
    pub async fn list_all(&self, path_and_query: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        self.for_each_page(path_and_query, |page| {
            items.extend(page.items);
            Ok(())
        })
        .await?;
        Ok(items)
    }

    /// Follows `next` links from `path_and_query` and calls `visit` with each page.
    ///
    /// A `next` link that repeats the URL just read ends the listing with a
    /// warning: Okta's groups listing has been seen to return one after the
    /// last page, and following it would loop forever.
    pub async fn for_each_page(
        &self,
        path_and_query: &str,
        mut visit: impl FnMut(Page) -> Result<()>,
    ) -> Result<()> {
        let mut url = self.url(path_and_query);
        loop {
            let page = self.get_page(&url).await?;
            let next = page.next.clone();
            visit(page)?;
            match next {
                None => return Ok(()),
                Some(next) if next == url => {
                    tracing::warn!(url = %next, "Okta returned a next link equal to the page just read; ending the listing");
                    return Ok(());
                }
                Some(next) => url = next,
            }
        }
    }

    /// Reads one page from an absolute URL on this org.
    pub async fn get_page(&self, url: &str) -> Result<Page> {
        self.get_raw_page(url).await?.to_page()
    }

    /// Reads one page from an absolute URL on this org and keeps its body as
    /// received, for a caller that reads the items without a JSON tree.
    pub async fn get_raw_page(&self, url: &str) -> Result<RawPage> {
        let (body, headers) = self.get(url).await?;
        Ok(RawPage {
            url: url.to_string(),
            body,
            next: find_link(&headers, "next"),
            rate: RateLimit::from_headers(&headers),
        })
    }

    /// Reads one JSON object from `path_and_query`.
    pub async fn get_json(&self, path_and_query: &str) -> Result<Value> {
        let url = self.url(path_and_query);
        let (body, _) = self.get(&url).await?;
        serde_json::from_slice(&body).map_err(|source| Error::Decode { url, source })
    }

    /// Sends a DELETE to `path_and_query`, such as removing a group member or
    /// unassigning an app user, within the same rate budget and retries as reads.
    ///
    /// DELETE is idempotent in Okta's API, so a retry after a 5xx or a dropped
    /// connection cannot remove more than the first attempt would have. A 404
    /// is returned as an error, for the caller to tell "already gone" apart.
    pub async fn delete(&self, path_and_query: &str) -> Result<Deleted> {
        let url = self.url(path_and_query);
        let (status, _, headers) = self.send(Method::DELETE, &url).await?;
        Ok(Deleted {
            status: status.as_u16(),
            request_id: header_text(&headers, "x-okta-request-id"),
            url,
        })
    }

    async fn get(&self, url: &str) -> Result<(bytes::Bytes, HeaderMap)> {
        let (_, body, headers) = self.send(Method::GET, url).await?;
        Ok((body, headers))
    }

    /// Sends a request, retrying 429s after the bucket resets, 5xx and transport
    /// errors with back-off, a rejected token once with a new one, and a
    /// DPoP nonce challenge once with the new nonce.
    async fn send(
        &self,
        method: Method,
        url: &str,
    ) -> Result<(StatusCode, bytes::Bytes, HeaderMap)> {
        self.check_same_org(url)?;
        let mut retry_for: Option<String> = None;
        let mut renewed_token = false;
        let mut took_nonce = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self
                .send_once(&method, url, retry_for.as_deref(), attempt - 1)
                .await;
            let error = match outcome {
                Ok(Response::Success(status, body, headers)) => return Ok((status, body, headers)),
                Ok(Response::RateLimited { rate, request_id }) => {
                    self.inner
                        .counters
                        .rate_limited
                        .fetch_add(1, Ordering::Relaxed);
                    if attempt >= self.inner.max_attempts {
                        return Err(Error::RetriesExhausted {
                            url: url.to_string(),
                            attempts: attempt,
                            last: Box::new(Error::UnexpectedStatus {
                                url: url.to_string(),
                                status: StatusCode::TOO_MANY_REQUESTS,
                                body: String::new(),
                            }),
                        });
                    }
                    let delay = rate.wait_after_429(attempt);
                    tracing::warn!(
                        url,
                        request_id = request_id.as_deref().unwrap_or(""),
                        delay_ms = delay.as_millis() as u64,
                        attempt,
                        concurrency = rate.is_concurrency_limit(),
                        "Rate limited by Okta; waiting before the retry"
                    );
                    retry_for = request_id;
                    tokio::time::sleep(delay).await;
                    continue;
                }
                Ok(Response::NonceChallenge { nonce, error }) => {
                    if took_nonce {
                        return Err(error);
                    }
                    if let Auth::OAuth(source) = &self.inner.auth {
                        source.set_resource_nonce(nonce);
                    }
                    took_nonce = true;
                    tracing::debug!(url, "Okta sent a new DPoP nonce; retrying with it");
                    continue;
                }
                Ok(Response::TokenRejected { token, error }) => {
                    if renewed_token {
                        return Err(error);
                    }
                    if let Auth::OAuth(source) = &self.inner.auth {
                        source.invalidate(&token).await;
                    }
                    renewed_token = true;
                    tracing::debug!(url, "Access token rejected; renewing it once");
                    continue;
                }
                Err(error) => error,
            };
            if !error.is_transient() || attempt >= self.inner.max_attempts {
                return Err(if attempt > 1 && error.is_transient() {
                    Error::RetriesExhausted {
                        url: url.to_string(),
                        attempts: attempt,
                        last: Box::new(error),
                    }
                } else {
                    error
                });
            }
            let delay = backoff(attempt);
            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            let request_id = error.request_id().unwrap_or_default();
            tracing::warn!(url, request_id, delay_ms = delay.as_millis() as u64, attempt, error = %error, "Request failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        retry_for: Option<&str>,
        retry_count: u32,
    ) -> Result<Response> {
        let presented = self.credential().await?;
        let ticket = self.inner.budget.acquire(url).await;
        let outcome = self
            .exchange(method, url, &presented, retry_for, retry_count)
            .await;
        let rate = outcome
            .as_ref()
            .ok()
            .map(|(_, headers, _)| RateLimit::from_headers(headers));
        let rejected = outcome
            .as_ref()
            .is_ok_and(|(status, _, _)| *status == StatusCode::TOO_MANY_REQUESTS);
        self.inner.budget.release(ticket, rate.as_ref(), rejected);
        let (status, headers, body) = outcome?;
        let rate = rate.unwrap_or_default();

        if status.is_success() {
            return Ok(Response::Success(status, body, headers));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let request_id = header_text(&headers, "x-okta-request-id");
            return Ok(Response::RateLimited { rate, request_id });
        }
        let error = api_error(url, status, &headers, &body);
        if let Presented::OAuth(token) = presented {
            if let Some(nonce) = nonce_challenge(status, &headers) {
                return Ok(Response::NonceChallenge { nonce, error });
            }
            if status == StatusCode::UNAUTHORIZED {
                return Ok(Response::TokenRejected {
                    token: token.value,
                    error,
                });
            }
        }
        Err(error)
    }

    /// Sends one request and reads the whole response.
    async fn exchange(
        &self,
        method: &Method,
        url: &str,
        presented: &Presented,
        retry_for: Option<&str>,
        retry_count: u32,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes)> {
        let mut request = self
            .inner
            .http
            .request(method.clone(), url)
            .header(ACCEPT, "application/json");
        match (presented, &self.inner.auth) {
            (Presented::OAuth(token), Auth::OAuth(source)) => {
                let (authorization, proof) = source.authorization(token, method.as_str(), url)?;
                request = request.header(AUTHORIZATION, authorization);
                if let Some(proof) = proof {
                    request = request.header("DPoP", proof.expose());
                }
            }
            (_, Auth::ApiToken(token)) => {
                request = request.header(AUTHORIZATION, format!("SSWS {}", token.expose()));
            }
            (Presented::ApiToken, Auth::OAuth(_)) => {}
        }
        if let Some(request_id) = retry_for {
            request = request
                .header("X-Okta-Retry-For", request_id)
                .header("X-Okta-Retry-Count", retry_count.to_string());
        }
        self.inner.counters.requests.fetch_add(1, Ordering::Relaxed);
        let http_error = |source| Error::Http {
            url: url.to_string(),
            source,
        };
        let response = request.send().await.map_err(http_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|source| Error::Http {
            url: url.to_string(),
            source,
        })?;
        Ok((status, headers, body))
    }

    /// Returns the credential to present on the next request.
    async fn credential(&self) -> Result<Presented> {
        match &self.inner.auth {
            Auth::OAuth(source) => Ok(Presented::OAuth(source.token().await?)),
            Auth::ApiToken(_) => Ok(Presented::ApiToken),
        }
    }

    /// Refuses URLs on another host, so that a `next` link cannot carry the
    /// token elsewhere.
    fn check_same_org(&self, url: &str) -> Result<()> {
        let parsed = Url::parse(url).map_err(|error| Error::InvalidUrl {
            url: url.to_string(),
            reason: error.to_string(),
        })?;
        let org = &self.inner.org_url;
        if parsed.origin() != org.origin() {
            return Err(Error::ForeignLink {
                url: url.to_string(),
                org: org.to_string(),
            });
        }
        Ok(())
    }
}

enum Response {
    Success(StatusCode, bytes::Bytes, HeaderMap),
    RateLimited {
        rate: RateLimit,
        request_id: Option<String>,
    },
    /// A 401 on an OAuth token: renewed once, then `error` is returned.
    TokenRejected {
        token: Secret,
        error: Error,
    },
    /// A resource server's `use_dpop_nonce` challenge: retried once with `nonce`.
    NonceChallenge {
        nonce: String,
        error: Error,
    },
}

/// Returns how an OAuth app authenticates at the token endpoint.
fn client_auth(config: &OrgConfig) -> Result<ClientAuth> {
    match &config.credentials {
        Credentials::PrivateKey {
            client_id,
            private_key,
            key_id,
        } => ClientAuth::private_key(
            client_id,
            private_key,
            key_id.clone(),
            config.options.signing_algorithm.as_deref(),
        ),
        Credentials::ClientSecret {
            client_id,
            client_secret,
        } => Ok(ClientAuth::Secret {
            client_id: client_id.clone(),
            secret: client_secret.clone(),
        }),
        Credentials::ApiToken(_) => Err(Error::InvalidKey {
            reason: "an SSWS API token does not authenticate at the token endpoint".to_string(),
        }),
    }
}

/// Returns the nonce of a `use_dpop_nonce` challenge (RFC 9449 section 8).
fn nonce_challenge(status: StatusCode, headers: &HeaderMap) -> Option<String> {
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::BAD_REQUEST {
        return None;
    }
    let challenge = header_text(headers, WWW_AUTHENTICATE.as_str()).unwrap_or_default();
    if !challenge.contains("use_dpop_nonce") {
        return None;
    }
    dpop_nonce(headers)
}

fn api_error(url: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    if status == StatusCode::FORBIDDEN
        && let Some(scope) = missing_scope(headers)
    {
        return Error::MissingScope {
            url: url.to_string(),
            scope,
        };
    }
    match serde_json::from_slice::<OktaErrorBody>(body) {
        Ok(parsed) if !parsed.error_code.is_empty() => Error::Api(Box::new(ApiError {
            url: url.to_string(),
            status,
            code: parsed.error_code,
            summary: parsed.error_summary,
            error_id: parsed.error_id,
            request_id: header_text(headers, "x-okta-request-id"),
            causes: parsed
                .error_causes
                .into_iter()
                .map(|cause| cause.error_summary)
                .collect(),
        })),
        _ => Error::UnexpectedStatus {
            url: url.to_string(),
            status,
            body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}

/// Reads the scope named by a `WWW-Authenticate: ... error="insufficient_scope"` header.
fn missing_scope(headers: &HeaderMap) -> Option<String> {
    let challenge = header_text(headers, WWW_AUTHENTICATE.as_str())?;
    if !challenge.contains("insufficient_scope") {
        return None;
    }
    let start = challenge.find("scope=\"")? + "scope=\"".len();
    let end = challenge[start..].find('"')?;
    Some(challenge[start..start + end].to_string())
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// Joins a path (with its query) onto the org's base URL.
fn join(org_url: &Url, path_and_query: &str) -> String {
    let base = org_url.as_str().trim_end_matches('/');
    if path_and_query.starts_with('/') {
        format!("{base}{path_and_query}")
    } else {
        format!("{base}/{path_and_query}")
    }
}
