//! Settings: the config file and `IDAUDIT_*` variables, merged once into
//! what the commands run with.
//!
//! Precedence, highest first: command-line flags, `IDAUDIT_*` variables,
//! then `idaudit.toml`. Secrets come from files or the environment, never
//! from flags.
//!
//! TODO: read the Okta SDK conventions too (`OKTA_CLIENT_*` variables and
//! `~/.okta/okta.yaml`), so SDK users have nothing new to configure.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use idaudit_okta::{Credentials, OrgConfig, Secret};
use serde::Deserialize;

use crate::args::GlobalArgs;

const DEFAULT_CONFIG: &str = "idaudit.toml";
const DEFAULT_STORE: &str = "idaudit.db";

/// The config file, as written by a user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub store: Option<PathBuf>,
    pub okta: Option<OktaSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaSection {
    pub org_url: Option<String>,
    pub client_id: Option<String>,
    /// Path of the service app's private key (PEM).
    pub private_key_file: Option<PathBuf>,
    pub key_id: Option<String>,
    /// Path of a file holding an SSWS API token.
    pub api_token_file: Option<PathBuf>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Settings shared by every command.
#[derive(Debug)]
pub struct Settings {
    pub store: PathBuf,
    pub okta: OktaSection,
    pub config_path: Option<PathBuf>,
}

impl Settings {
    /// Reads the config file named by `--config`, or `./idaudit.toml` when it exists.
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
        apply_environment(&mut okta);
        Ok(Settings {
            store,
            okta,
            config_path,
        })
    }

    /// Returns true when an org is configured.
    pub fn has_org(&self) -> bool {
        self.okta.org_url.is_some()
    }

    /// Builds the Okta client config, explaining what is missing.
    pub fn org_config(&self) -> Result<OrgConfig> {
        let okta = &self.okta;
        let Some(org_url) = okta.org_url.as_deref() else {
            bail!(
                "No Okta org configured: set `org_url` in the `[okta]` section of `idaudit.toml`, \
                 or IDAUDIT_OKTA_ORG_URL (run `idaudit demo` to try idaudit on a simulated org)"
            );
        };
        let credentials = self.credentials()?;
        Ok(OrgConfig::new(org_url, credentials, okta.scopes.clone())?)
    }

    fn credentials(&self) -> Result<Credentials> {
        let okta = &self.okta;
        if let Some(client_id) = &okta.client_id {
            let private_key = match (
                &okta.private_key_file,
                std::env::var("IDAUDIT_OKTA_PRIVATE_KEY"),
            ) {
                (_, Ok(pem)) if !pem.trim().is_empty() => Secret::new(pem),
                (Some(path), _) => read_secret_file(path, "private key")?,
                (None, _) => bail!(
                    "Missing private key for client `{client_id}`: set `private_key_file` in the `[okta]` \
                     section, or IDAUDIT_OKTA_PRIVATE_KEY"
                ),
            };
            return Ok(Credentials::PrivateKey {
                client_id: client_id.clone(),
                private_key,
                key_id: okta.key_id.clone(),
            });
        }
        if let Ok(token) = std::env::var("IDAUDIT_OKTA_API_TOKEN") {
            return Ok(Credentials::ApiToken(Secret::new(token.trim())));
        }
        if let Some(path) = &okta.api_token_file {
            return Ok(Credentials::ApiToken(read_secret_file(path, "API token")?));
        }
        bail!(
            "Missing credentials: set `client_id` and `private_key_file` of an OAuth service app in the \
             `[okta]` section of `idaudit.toml` (or IDAUDIT_OKTA_API_TOKEN for an SSWS token)"
        )
    }
}

fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read config file `{}`", path.display()))?;
    toml::from_str(&text).with_context(|| format!("Invalid config file `{}`", path.display()))
}

fn read_secret_file(path: &Path, what: &str) -> Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read the {what} file `{}`", path.display()))?;
    Ok(Secret::new(text.trim().to_string()))
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
        okta.scopes = scopes
            .split([' ', ','])
            .filter(|scope| !scope.is_empty())
            .map(str::to_string)
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::ConfigFile;

    #[test]
    fn config_file_parses() {
        let text = r#"
            store = "audit.db"
            [okta]
            org_url = "https://example.okta.com"
            client_id = "0oa1"
            private_key_file = "key.pem"
            scopes = ["okta.users.read"]
        "#;
        let config: ConfigFile = toml::from_str(text).unwrap();
        let okta = config.okta.unwrap();
        assert_eq!(okta.client_id.as_deref(), Some("0oa1"));
        assert_eq!(okta.scopes, vec!["okta.users.read"]);
    }

    #[test]
    fn unknown_keys_rejected() {
        let text = "[okta]\norg = \"https://example.okta.com\"\n";
        assert!(toml::from_str::<ConfigFile>(text).is_err());
    }
}
