//! The Okta SDKs' own configuration, read so that someone who already uses
//! an Okta SDK or the Terraform provider has nothing new to set up.
//!
//! The official SDKs read `~/.okta/okta.yaml`, then `./okta.yaml`, then
//! `OKTA_CLIENT_*` variables, each overriding the one before. The YAML keys
//! sit under `okta.client` (`orgUrl`, `authorizationMode`, `clientId`,
//! `scopes`, `privateKey`, `token`). The Go SDK and Terraform spell the
//! variables `OKTA_CLIENT_ORGURL`; the Python SDK splits camel case into
//! `OKTA_CLIENT_ORG_URL`. Both spellings are read.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The values idaudit takes from the Okta SDK conventions.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SdkClient {
    pub org_url: Option<String>,
    /// `PrivateKey` or `SSWS`.
    pub authorization_mode: Option<String>,
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "scopes")]
    pub scopes: Option<Vec<String>>,
    /// The PEM or JWK itself, or a path to a file that contains it.
    pub private_key: Option<String>,
    /// The `kid` of the registered key (Go SDK `privateKeyId`).
    pub private_key_id: Option<String>,
    /// An SSWS API token.
    pub token: Option<String>,
}

#[derive(Deserialize)]
struct YamlFile {
    okta: Option<YamlOkta>,
}

#[derive(Deserialize)]
struct YamlOkta {
    client: Option<SdkClient>,
}

impl SdkClient {
    /// Reads the YAML files that exist and the variables that are set.
    pub fn load(home: Option<&Path>, working_dir: &Path) -> Result<SdkClient> {
        let mut client = SdkClient::default();
        let mut files: Vec<PathBuf> = Vec::new();
        if let Some(home) = home {
            files.push(home.join(".okta").join("okta.yaml"));
        }
        files.push(working_dir.join("okta.yaml"));
        for path in files.iter().filter(|path| path.is_file()) {
            client.overlay(read_yaml(path)?);
        }
        client.overlay(from_environment(|name| std::env::var(name).ok()));
        Ok(client)
    }

    /// Replaces each value that `other` sets.
    fn overlay(&mut self, other: SdkClient) {
        macro_rules! take {
            ($($field:ident),*) => { $(if other.$field.is_some() { self.$field = other.$field; })* };
        }
        take!(
            org_url,
            authorization_mode,
            client_id,
            scopes,
            private_key,
            private_key_id,
            token
        );
    }
}

fn read_yaml(path: &Path) -> Result<SdkClient> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read the Okta SDK config `{}`", path.display()))?;
    let file: YamlFile = yaml_serde::from_str(&text)
        .with_context(|| format!("Invalid Okta SDK config `{}`", path.display()))?;
    Ok(file.okta.and_then(|okta| okta.client).unwrap_or_default())
}

/// Reads `OKTA_CLIENT_*` variables through `read`, in both spellings.
pub fn from_environment(read: impl Fn(&str) -> Option<String>) -> SdkClient {
    let value = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| read(name))
            .filter(|value| !value.trim().is_empty())
    };
    SdkClient {
        org_url: value(&["OKTA_CLIENT_ORGURL", "OKTA_CLIENT_ORG_URL"]),
        authorization_mode: value(&[
            "OKTA_CLIENT_AUTHORIZATIONMODE",
            "OKTA_CLIENT_AUTHORIZATION_MODE",
        ]),
        client_id: value(&["OKTA_CLIENT_CLIENTID", "OKTA_CLIENT_CLIENT_ID"]),
        scopes: value(&["OKTA_CLIENT_SCOPES"]).map(|text| split_scopes(&text)),
        private_key: value(&["OKTA_CLIENT_PRIVATEKEY", "OKTA_CLIENT_PRIVATE_KEY"]),
        private_key_id: value(&["OKTA_CLIENT_PRIVATEKEYID", "OKTA_CLIENT_PRIVATE_KEY_ID"]),
        token: value(&["OKTA_CLIENT_TOKEN"]),
    }
}

/// Splits a scope list written with commas, spaces or both.
pub fn split_scopes(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_string)
        .collect()
}

/// Accepts scopes as a YAML list or as one comma- or space-separated string.
fn scopes<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scopes {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Scopes>::deserialize(deserializer)? {
        Some(Scopes::List(list)) => Some(list),
        Some(Scopes::Text(text)) => Some(split_scopes(&text)),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{SdkClient, from_environment};

    #[test]
    fn both_variable_spellings_read() {
        let go_style: HashMap<&str, &str> = HashMap::from([
            ("OKTA_CLIENT_ORGURL", "https://example.okta.com"),
            ("OKTA_CLIENT_CLIENTID", "0oa1"),
            ("OKTA_CLIENT_SCOPES", "okta.users.read,okta.logs.read"),
            ("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey"),
        ]);
        let client = from_environment(|name| go_style.get(name).map(|value| value.to_string()));
        assert_eq!(client.org_url.as_deref(), Some("https://example.okta.com"));
        assert_eq!(client.client_id.as_deref(), Some("0oa1"));
        assert_eq!(
            client.scopes,
            Some(vec![
                "okta.users.read".to_string(),
                "okta.logs.read".to_string()
            ])
        );

        let python_style: HashMap<&str, &str> =
            HashMap::from([("OKTA_CLIENT_ORG_URL", "https://other.okta.com")]);
        let client = from_environment(|name| python_style.get(name).map(|value| value.to_string()));
        assert_eq!(client.org_url.as_deref(), Some("https://other.okta.com"));
    }

    #[test]
    fn yaml_files_layered() {
        let folder = tempfile::tempdir().unwrap();
        let home = folder.path().join("home");
        let work = folder.path().join("work");
        std::fs::create_dir_all(home.join(".okta")).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(
            home.join(".okta/okta.yaml"),
            "okta:\n  client:\n    orgUrl: https://global.okta.com\n    clientId: 0oaglobal\n    scopes:\n      - okta.users.read\n",
        )
        .unwrap();
        std::fs::write(
            work.join("okta.yaml"),
            "okta:\n  client:\n    orgUrl: https://local.okta.com\n",
        )
        .unwrap();

        let client = SdkClient::load(Some(&home), &work).unwrap();
        assert_eq!(client.org_url.as_deref(), Some("https://local.okta.com"));
        assert_eq!(client.client_id.as_deref(), Some("0oaglobal"));
        assert_eq!(client.scopes, Some(vec!["okta.users.read".to_string()]));
    }
}
