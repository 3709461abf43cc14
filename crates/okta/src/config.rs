//! How to reach one Okta org: its URL, credentials and scopes.

use std::time::Duration;

use url::Url;

use crate::auth::DpopMode;
use crate::{Error, Result, Secret};

/// The read scopes every idaudit job needs.
pub const DEFAULT_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.groups.read",
    "okta.apps.read",
    "okta.logs.read",
];

/// Credentials for the Okta management API.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// An OAuth 2.0 service app that authenticates with `private_key_jwt`.
    PrivateKey {
        client_id: String,
        /// The private key as PEM (PKCS#1 or PKCS#8), RSA or EC.
        private_key: Secret,
        /// The `kid` of the registered public key, sent in the assertion header.
        key_id: Option<String>,
    },
    /// An API Service Integration that authenticates with `client_secret_basic`.
    ClientSecret {
        client_id: String,
        client_secret: Secret,
    },
    /// An SSWS API token; Okta recommends OAuth service apps instead.
    ApiToken(Secret),
}

/// Client behaviour towards the org, with defaults that leave room for the
/// org's other integrations.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The JWS algorithm of client assertions; `None` picks RS256 for RSA
    /// keys, ES256 for P-256 and ES384 for P-384.
    pub signing_algorithm: Option<String>,
    pub dpop: DpopMode,
    /// The share of each rate-limit bucket this client may use, from 0 to 1.
    pub rate_limit_share: f64,
    /// Requests in flight at once.
    pub max_concurrency: usize,
    /// Retries of one request after 429s, 5xx, timeouts and dropped connections.
    pub max_retries: u32,
    pub request_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            signing_algorithm: None,
            dpop: DpopMode::Auto,
            rate_limit_share: 0.8,
            max_concurrency: 8,
            max_retries: 7,
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Everything needed to talk to one org.
#[derive(Clone, Debug)]
pub struct OrgConfig {
    pub org_url: Url,
    pub credentials: Credentials,
    pub scopes: Vec<String>,
    /// Scopes requested when granted and dropped with a warning when Okta
    /// rejects them, such as `okta.roles.read` for admin roles.
    pub optional_scopes: Vec<String>,
    pub options: ClientOptions,
}

impl OrgConfig {
    /// Builds a config, checking that the URL is HTTPS unless its host is loopback.
    pub fn new(org_url: &str, credentials: Credentials, scopes: Vec<String>) -> Result<OrgConfig> {
        let org_url = parse_org_url(org_url)?;
        let scopes = if scopes.is_empty() {
            DEFAULT_SCOPES
                .iter()
                .map(|scope| scope.to_string())
                .collect()
        } else {
            scopes
        };
        Ok(OrgConfig {
            org_url,
            credentials,
            scopes,
            optional_scopes: Vec::new(),
            options: ClientOptions::default(),
        })
    }

    /// Returns the org's host and port, the key under which its data is stored.
    pub fn org_key(&self) -> String {
        org_key(&self.org_url)
    }
}

/// Returns `host` or `host:port` of an org URL.
pub fn org_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Parses an org URL, accepting plain HTTP only for loopback hosts.
pub fn parse_org_url(text: &str) -> Result<Url> {
    let mut url = Url::parse(text.trim()).map_err(|error| Error::InvalidUrl {
        url: text.to_string(),
        reason: error.to_string(),
    })?;
    if url.host_str().is_none() {
        return Err(Error::InvalidUrl {
            url: text.to_string(),
            reason: "it has no host".to_string(),
        });
    }
    // Credentials belong in the config, never in a URL that may be logged.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidUrl {
            url: format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default()),
            reason: "it contains a user name or password".to_string(),
        });
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::InsecureUrl {
                url: text.to_string(),
            });
        }
        other => {
            return Err(Error::InvalidUrl {
                url: text.to_string(),
                reason: format!("unsupported scheme `{other}`"),
            });
        }
    }
    // The org URL is a base: drop any path, query or fragment a user pasted.
    url.set_path("");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Returns true when the URL's host is a loopback name or address.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_org_url;
    use crate::Error;

    #[test]
    fn https_and_loopback_http_accepted() {
        assert!(parse_org_url("https://example.okta.com").is_ok());
        assert!(parse_org_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_org_url("http://localhost:8080/").is_ok());
        assert!(parse_org_url("http://[::1]:8080").is_ok());
    }

    #[test]
    fn plain_http_rejected_for_other_hosts() {
        let error = parse_org_url("http://example.okta.com").unwrap_err();
        assert!(matches!(error, Error::InsecureUrl { .. }), "{error:?}");
        let error = parse_org_url("http://10.0.0.1").unwrap_err();
        assert!(matches!(error, Error::InsecureUrl { .. }), "{error:?}");
    }

    #[test]
    fn credentials_in_url_rejected() {
        let error = parse_org_url("https://admin:hunter2@example.okta.com").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(matches!(error, Error::InvalidUrl { .. }), "{error:?}");
    }

    #[test]
    fn path_dropped() {
        let url = parse_org_url("https://example.okta.com/admin/dashboard?x=1").unwrap();
        assert_eq!(url.as_str(), "https://example.okta.com/");
    }
}
