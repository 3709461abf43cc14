//! Settings: the config file, `IDAUDIT_*` variables and the Okta SDKs' own
//! conventions, merged once into what the commands run with.
//!
//! Precedence, highest first: command-line flags, `IDAUDIT_*` variables,
//! `idaudit.toml`, then the Okta SDK sources (`OKTA_CLIENT_*` variables,
//! `./okta.yaml`, `~/.okta/okta.yaml`). Secrets come from files or the
//! environment, never from flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use idaudit_okta::{ClientOptions, Credentials, DpopMode, OrgConfig, Secret};
use serde::Deserialize;

use crate::args::GlobalArgs;
use crate::okta_sdk_config::{SdkClient, split_scopes};

const DEFAULT_CONFIG: &str = "idaudit.toml";
const DEFAULT_STORE: &str = "idaudit.db";

/// The config file, as written by a user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub store: Option<PathBuf>,
    pub okta: Option<OktaSection>,
    /// Allow-lists, suppression and per-rule settings of detection.
    pub detect: Option<idaudit_detect::Settings>,
    /// Alert destinations: `[[sinks]]` tables.
    #[serde(default)]
    pub sinks: Vec<idaudit_detect::SinkConfig>,
}

/// The `[okta]` section: how to reach the org.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaSection {
    pub org_url: Option<String>,
    pub client_id: Option<String>,
    /// Path of the service app's private key (PEM or JWK).
    pub private_key_file: Option<PathBuf>,
    pub key_id: Option<String>,
    /// Path of a file with the client secret of an API Service Integration.
    pub client_secret_file: Option<PathBuf>,
    /// Path of a file holding an SSWS API token.
    pub api_token_file: Option<PathBuf>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `RS256`, `RS384`, `RS512`, `ES256` or `ES384`; by default from the key type.
    pub signing_algorithm: Option<String>,
    /// `auto` (default), `always` or `never`.
    pub dpop: Option<String>,
    /// Share of each rate-limit bucket idaudit may use, 0 to 1 (default 0.8).
    pub rate_limit_share: Option<f64>,
    /// Requests in flight at once (default 8).
    pub max_concurrency: Option<usize>,
    /// Retries of one request after 429s and transient errors (default 7).
    pub max_retries: Option<u32>,
    /// Values from the Okta SDK conventions, used where the above are unset.
    #[serde(skip)]
    pub sdk: SdkClient,
}

/// Settings shared by every command.
#[derive(Debug)]
pub struct Settings {
    pub store: PathBuf,
    pub okta: OktaSection,
    pub detect: idaudit_detect::Settings,
    pub sinks: Vec<idaudit_detect::SinkConfig>,
    pub config_path: Option<PathBuf>,
}

impl Settings {
    /// Reads the config file named by `--config`, or `./idaudit.toml` when it
    /// exists, then the environment and the Okta SDK sources.
    pub fn load(global: &GlobalArgs) -> Result<Settings> {
        let config_path = match &global.config {
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|path| path.exists()),
        };
        let file = match &config_path {
            Some(path) => read_config(path)?,
            None => ConfigFile::default(),
        };
        let store = global
            .store
            .clone()
            .or(file.store)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE));
        let mut okta = file.okta.unwrap_or_default();
        if let Some(folder) = config_path.as_deref().and_then(Path::parent) {
            resolve_key_paths(&mut okta, folder);
        }
        apply_environment(&mut okta);
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let working_dir =
            std::env::current_dir().context("Failed to read the working directory")?;
        okta.sdk = SdkClient::load(home.as_deref(), &working_dir)?;
        Ok(Settings {
            store,
            okta,
            detect: file.detect.unwrap_or_default(),
            sinks: file.sinks,
            config_path,
        })
    }

    /// Returns true when an org is configured.
    pub fn has_org(&self) -> bool {
        self.okta.org_url.is_some() || self.okta.sdk.org_url.is_some()
    }

    /// Builds the Okta client config, explaining what is missing.
    pub fn org_config(&self) -> Result<OrgConfig> {
        let okta = &self.okta;
        let Some(org_url) = okta.org_url.as_deref().or(okta.sdk.org_url.as_deref()) else {
            bail!(
                "No Okta org configured: set `org_url` in the `[okta]` section of `idaudit.toml`, \
                 or IDAUDIT_OKTA_ORG_URL (run `idaudit demo` to try idaudit on a simulated org)"
            );
        };
        let scopes = if okta.scopes.is_empty() {
            okta.sdk.scopes.clone().unwrap_or_default()
        } else {
            okta.scopes.clone()
        };
        let mut config = OrgConfig::new(org_url, self.credentials()?, scopes)?;
        config.options = self.client_options()?;
        Ok(config)
    }

    fn client_options(&self) -> Result<ClientOptions> {
        let okta = &self.okta;
        let defaults = ClientOptions::default();
        let dpop = match okta.dpop.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("auto") => DpopMode::Auto,
            Some("always") => DpopMode::Always,
            Some("never") => DpopMode::Never,
            Some(other) => bail!("Invalid `dpop` value `{other}`: use `auto`, `always` or `never`"),
        };
        let share = okta.rate_limit_share.unwrap_or(defaults.rate_limit_share);
        if !(share > 0.0 && share <= 1.0) {
            bail!(
                "Invalid `rate_limit_share` {share}: use a number above 0 and at most 1, such as 0.8"
            );
        }
        Ok(ClientOptions {
            signing_algorithm: okta.signing_algorithm.clone(),
            dpop,
            rate_limit_share: share,
            max_concurrency: okta
                .max_concurrency
                .unwrap_or(defaults.max_concurrency)
                .max(1),
            max_retries: okta.max_retries.unwrap_or(defaults.max_retries),
            request_timeout: defaults.request_timeout,
        })
    }

    fn credentials(&self) -> Result<Credentials> {
        let okta = &self.okta;
        let sdk = &okta.sdk;
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };

        // idaudit's own settings first, then the Okta SDK conventions.
        if let Some(client_id) = &okta.client_id {
            if let Some(secret) = env("IDAUDIT_OKTA_CLIENT_SECRET") {
                return Ok(Credentials::ClientSecret {
                    client_id: client_id.clone(),
                    client_secret: Secret::new(secret.trim()),
                });
            }
            if let Some(path) = &okta.client_secret_file {
                return Ok(Credentials::ClientSecret {
                    client_id: client_id.clone(),
                    client_secret: read_secret_file(path, "client secret")?,
                });
            }
            let private_key = match (env("IDAUDIT_OKTA_PRIVATE_KEY"), &okta.private_key_file) {
                (Some(pem), _) => Secret::new(pem),
                (None, Some(path)) => read_secret_file(path, "private key")?,
                (None, None) => bail!(
                    "Missing private key for client `{client_id}`: set `private_key_file` in the `[okta]` \
                     section, or IDAUDIT_OKTA_PRIVATE_KEY (or `client_secret_file` for an API Service Integration)"
                ),
            };
            return Ok(Credentials::PrivateKey {
                client_id: client_id.clone(),
                private_key,
                key_id: okta.key_id.clone(),
            });
        }
        if let Some(token) = env("IDAUDIT_OKTA_API_TOKEN") {
            return Ok(Credentials::ApiToken(Secret::new(token.trim())));
        }
        if let Some(path) = &okta.api_token_file {
            return Ok(Credentials::ApiToken(read_secret_file(path, "API token")?));
        }
        if let Some(credentials) = sdk_credentials(sdk)? {
            return Ok(credentials);
        }
        bail!(
            "Missing credentials: set `client_id` and `private_key_file` of an OAuth service app in the \
             `[okta]` section of `idaudit.toml` (or IDAUDIT_OKTA_API_TOKEN for an SSWS token)"
        )
    }
}

/// Builds credentials from the Okta SDK conventions, if they name any.
fn sdk_credentials(sdk: &SdkClient) -> Result<Option<Credentials>> {
    let mode = sdk.authorization_mode.as_deref().unwrap_or_default();
    let use_token =
        mode.eq_ignore_ascii_case("SSWS") || (sdk.client_id.is_none() && mode.is_empty());
    if use_token && let Some(token) = &sdk.token {
        return Ok(Some(Credentials::ApiToken(Secret::new(token.trim()))));
    }
    let (Some(client_id), Some(key)) = (&sdk.client_id, &sdk.private_key) else {
        return Ok(None);
    };
    let key = key.trim();
    // The SDKs take the key itself; a path to a key file is accepted too.
    let private_key = if key.starts_with("-----BEGIN") || key.starts_with('{') {
        Secret::new(key)
    } else {
        read_secret_file(Path::new(key), "private key")?
    };
    Ok(Some(Credentials::PrivateKey {
        client_id: client_id.clone(),
        private_key,
        key_id: sdk.private_key_id.clone(),
    }))
}

fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read config file `{}`", path.display()))?;
    toml::from_str(&text).with_context(|| format!("Invalid config file `{}`", path.display()))
}

fn read_secret_file(path: &Path, kind: &str) -> Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read the {kind} file `{}`", path.display()))?;
    Ok(Secret::new(text.trim().to_string()))
}

/// Makes key and secret file paths in the config file relative to the
/// file's own folder, so the config works from any working directory.
fn resolve_key_paths(okta: &mut OktaSection, folder: &Path) {
    for path in [
        &mut okta.private_key_file,
        &mut okta.client_secret_file,
        &mut okta.api_token_file,
    ]
    .into_iter()
    .flatten()
    {
        if path.is_relative() {
            *path = folder.join(&*path);
        }
    }
}

/// Overrides config values with `IDAUDIT_OKTA_*` variables.
fn apply_environment(okta: &mut OktaSection) {
    let read = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    if let Some(url) = read("IDAUDIT_OKTA_ORG_URL") {
        okta.org_url = Some(url);
    }
    if let Some(client_id) = read("IDAUDIT_OKTA_CLIENT_ID") {
        okta.client_id = Some(client_id);
    }
    if let Some(path) = read("IDAUDIT_OKTA_PRIVATE_KEY_FILE") {
        okta.private_key_file = Some(PathBuf::from(path));
    }
    if let Some(key_id) = read("IDAUDIT_OKTA_KEY_ID") {
        okta.key_id = Some(key_id);
    }
    if let Some(scopes) = read("IDAUDIT_OKTA_SCOPES") {
        okta.scopes = split_scopes(&scopes);
    }
}

#[cfg(test)]
mod tests {
    use super::{ConfigFile, sdk_credentials};
    use crate::okta_sdk_config::SdkClient;

    #[test]
    fn config_file_parses() {
        let text = r#"
            store = "audit.db"
            [okta]
            org_url = "https://example.okta.com"
            client_id = "0oa1"
            private_key_file = "key.pem"
            scopes = ["okta.users.read"]
            dpop = "always"
            rate_limit_share = 0.5
        "#;
        let config: ConfigFile = toml::from_str(text).unwrap();
        let okta = config.okta.unwrap();
        assert_eq!(okta.client_id.as_deref(), Some("0oa1"));
        assert_eq!(okta.scopes, vec!["okta.users.read"]);
        assert_eq!(okta.rate_limit_share, Some(0.5));
    }

    #[test]
    fn key_paths_relative_to_config_file() {
        let mut okta = super::OktaSection {
            private_key_file: Some("keys/key.pem".into()),
            api_token_file: Some("/etc/idaudit/token".into()),
            ..super::OktaSection::default()
        };
        super::resolve_key_paths(&mut okta, std::path::Path::new("/srv/idaudit"));
        assert_eq!(
            okta.private_key_file.unwrap(),
            std::path::Path::new("/srv/idaudit/keys/key.pem")
        );
        assert_eq!(
            okta.api_token_file.unwrap(),
            std::path::Path::new("/etc/idaudit/token")
        );
    }

    #[test]
    fn unknown_keys_rejected() {
        let text = "[okta]\norg = \"https://example.okta.com\"\n";
        assert!(toml::from_str::<ConfigFile>(text).is_err());
    }

    #[test]
    fn sdk_token_and_key() {
        let token = SdkClient {
            authorization_mode: Some("SSWS".to_string()),
            token: Some("00abc".to_string()),
            ..SdkClient::default()
        };
        assert!(matches!(
            sdk_credentials(&token).unwrap(),
            Some(idaudit_okta::Credentials::ApiToken(_))
        ));

        let key = SdkClient {
            authorization_mode: Some("PrivateKey".to_string()),
            client_id: Some("0oa1".to_string()),
            private_key: Some(
                "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----".to_string(),
            ),
            ..SdkClient::default()
        };
        assert!(matches!(
            sdk_credentials(&key).unwrap(),
            Some(idaudit_okta::Credentials::PrivateKey { .. })
        ));
        assert!(sdk_credentials(&SdkClient::default()).unwrap().is_none());
    }
}
