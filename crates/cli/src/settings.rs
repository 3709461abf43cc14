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
    /// Further orgs synced into the same store: `[[orgs]]` tables with the
    /// keys of `[okta]`, each with a `name`.
    #[serde(default)]
    pub orgs: Vec<OktaSection>,
    /// Allow-lists, suppression and per-rule settings of detection.
    pub detect: Option<idaudit_detect::Settings>,
    /// Alert destinations: `[[sinks]]` tables.
    #[serde(default)]
    pub sinks: Vec<idaudit_detect::SinkConfig>,
    /// The System Log archive.
    pub archive: Option<ArchiveSection>,
    /// Continuous System Log polling (`logs follow`).
    pub logs: Option<LogsSection>,
    /// The HTTP server (`serve`) and its event-hook endpoint.
    pub server: Option<ServerSection>,
    /// Access review campaigns.
    pub review: Option<ReviewSection>,
    /// Actions on System Log events as they are stored.
    pub workflows: Option<WorkflowsSection>,
}

/// The `[workflows]` section: actions that System Log events trigger in
/// `logs follow` and in the event-hook endpoint of `serve`.
///
/// ```toml
/// [workflows]
/// defaults = true
/// refresh_interval = "60s"
///
/// [[workflows.custom]]
/// name = "admin-deactivated"
/// on = ["user.lifecycle.deactivate"]
/// filter = 'outcome.result == "SUCCESS"'
/// actions = ["refresh", "notify:slack"]
/// ```
///
/// TOML cannot hold a `[workflows]` table and a `[[workflows]]` array at
/// once, so custom workflows are `[[workflows.custom]]` tables.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowsSection {
    /// Whether the built-in workflows run (default `true`).
    pub defaults: Option<bool>,
    /// Minimum time between two directory refreshes, such as `60s` (default `60s`).
    pub refresh_interval: Option<String>,
    /// Workflows of your own.
    #[serde(default)]
    pub custom: Vec<idaudit_collect::workflows::WorkflowConfig>,
}

/// The `[review]` section: settings of access review campaigns.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSection {
    /// `[review.app_owners]`: app id or label (case-insensitive) to the login
    /// of the person who reviews the app's access with `--reviewer app-owner`.
    #[serde(default)]
    pub app_owners: std::collections::BTreeMap<String, String>,
}

/// The `[logs]` section: how `idaudit logs follow` polls the System Log.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsSection {
    /// Time between requests once caught up, such as `15s` (default `15s`).
    pub poll_interval: Option<String>,
    /// How far back the first run of an org starts, at most `90d` (default `7d`).
    pub backfill: Option<String>,
    /// Time between progress lines at INFO, such as `60s` (default `60s`).
    pub report_interval: Option<String>,
}

/// The `[server]` section: where `idaudit serve` listens and how it checks
/// event-hook deliveries. The hook secret comes from `hook_secret_file` or
/// the `IDAUDIT_HOOK_SECRET` variable, never from this file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on (default `127.0.0.1:8080`).
    pub bind: Option<String>,
    /// File holding the value Okta sends in the hook's authorization header.
    pub hook_secret_file: Option<PathBuf>,
    /// Header that carries the secret (default `Authorization`).
    pub hook_header: Option<String>,
    /// Largest accepted hook delivery in bytes (default 4 MiB).
    pub hook_max_body_bytes: Option<usize>,
}

/// The `[archive]` section: where `idaudit archive` writes Parquet objects,
/// and how long archived events stay in the store. S3 credentials come from
/// the standard AWS environment variables, never from this file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveSection {
    /// A folder (relative to this file's folder), or `s3://bucket/prefix`.
    pub location: Option<String>,
    /// Delete archived events published more than this many days ago from the store.
    pub keep_days: Option<u32>,
    /// Most events in one Parquet object (default 50,000).
    pub max_events_per_object: Option<u64>,
    /// Endpoint URL of an S3-compatible service; plain HTTP only for loopback.
    pub endpoint: Option<String>,
    /// AWS region of the bucket [default: `AWS_REGION`, else `us-east-1`].
    pub region: Option<String>,
}

/// The `[okta]` section or one `[[orgs]]` table: how to reach an org.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaSection {
    /// Name that `--org` selects the org by; required in `[[orgs]]`.
    pub name: Option<String>,
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
    /// Whether `IDAUDIT_OKTA_*` secrets apply; true only for `[okta]`, so
    /// that one variable cannot give every `[[orgs]]` table the same key.
    #[serde(skip)]
    pub read_environment: bool,
}

/// Settings shared by every command.
#[derive(Debug)]
pub struct Settings {
    pub store: PathBuf,
    pub okta: OktaSection,
    /// The `[[orgs]]` tables, checked to have unique names and an `org_url`.
    pub orgs: Vec<OktaSection>,
    pub detect: idaudit_detect::Settings,
    pub sinks: Vec<idaudit_detect::SinkConfig>,
    pub archive: ArchiveSection,
    pub logs: LogsSection,
    pub server: ServerSection,
    pub review: ReviewSection,
    pub workflows: WorkflowsSection,
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
        let mut orgs = file.orgs;
        check_org_tables(&orgs)?;
        if let Some(folder) = config_path.as_deref().and_then(Path::parent) {
            resolve_key_paths(&mut okta, folder);
            for org in &mut orgs {
                resolve_key_paths(org, folder);
            }
        }
        apply_environment(&mut okta);
        okta.read_environment = true;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let working_dir =
            std::env::current_dir().context("Failed to read the working directory")?;
        okta.sdk = SdkClient::load(home.as_deref(), &working_dir)?;
        Ok(Settings {
            store,
            okta,
            orgs,
            detect: file.detect.unwrap_or_default(),
            sinks: file.sinks,
            archive: file.archive.unwrap_or_default(),
            logs: file.logs.unwrap_or_default(),
            server: server_section(file.server, config_path.as_deref()),
            review: file.review.unwrap_or_default(),
            workflows: file.workflows.unwrap_or_default(),
            config_path,
        })
    }

    /// Returns true when an org is configured.
    pub fn has_org(&self) -> bool {
        !self.configured_orgs().is_empty()
    }

    /// Returns the configured orgs: `[okta]` when it names an org, then the
    /// `[[orgs]]` tables.
    pub fn configured_orgs(&self) -> Vec<&OktaSection> {
        let okta = &self.okta;
        let main = okta.org_url.is_some() || okta.sdk.org_url.is_some();
        main.then_some(okta).into_iter().chain(&self.orgs).collect()
    }

    /// Returns the orgs a command runs on: the one `requested` by name or
    /// store key, or every configured org.
    pub fn select_orgs(&self, requested: Option<&str>) -> Result<Vec<&OktaSection>> {
        let orgs = self.configured_orgs();
        let Some(requested) = requested else {
            return Ok(orgs);
        };
        for org in &orgs {
            if org.name.as_deref() == Some(requested)
                || org.store_key().ok().as_deref() == Some(requested)
            {
                return Ok(vec![*org]);
            }
        }
        let names: Vec<String> = orgs.iter().map(|org| org.label()).collect();
        bail!(
            "Org `{requested}` is not configured: use one of {}",
            if names.is_empty() {
                "none (set `[okta]` or `[[orgs]]` in `idaudit.toml`)".to_string()
            } else {
                names.join(", ")
            }
        )
    }

    /// Returns the store key of the org `requested` by name or store key,
    /// or `None` when the config names no such org.
    pub fn store_key_of(&self, requested: &str) -> Option<String> {
        let orgs = self.select_orgs(Some(requested)).ok()?;
        orgs.first()?.store_key().ok()
    }

    /// Builds the Okta client config of the only configured org, explaining
    /// what is missing or that `--org` must choose one.
    pub fn org_config(&self) -> Result<OrgConfig> {
        self.single_org()?.org_config()
    }

    /// Returns the only configured org, or `[okta]` when several are.
    pub fn single_org(&self) -> Result<&OktaSection> {
        let orgs = self.configured_orgs();
        match orgs.as_slice() {
            [] => Ok(&self.okta),
            [org] => Ok(org),
            _ => bail!(
                "Several orgs configured ({}): choose one with `--org`",
                orgs.iter()
                    .map(|org| org.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl OktaSection {
    /// Returns the name of the org, or its store key when it has none.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.store_key().unwrap_or_else(|_| "okta".to_string()),
        }
    }

    /// Returns the key under which the org's data is stored: the host and
    /// port of its URL, whatever its name.
    pub fn store_key(&self) -> Result<String> {
        let Some(url) = self.url() else {
            bail!(
                "No `org_url` set for org `{}`",
                self.name.as_deref().unwrap_or("okta")
            );
        };
        Ok(idaudit_okta::org_key(&idaudit_okta::parse_org_url(url)?))
    }

    fn url(&self) -> Option<&str> {
        self.org_url.as_deref().or(self.sdk.org_url.as_deref())
    }

    /// Returns the scopes the config or the Okta SDK sources list, if any.
    pub fn configured_scopes(&self) -> Option<Vec<String>> {
        if !self.scopes.is_empty() {
            return Some(self.scopes.clone());
        }
        self.sdk.scopes.clone()
    }

    /// Builds the Okta client config, explaining what is missing.
    pub fn org_config(&self) -> Result<OrgConfig> {
        let Some(org_url) = self.url() else {
            bail!(
                "No Okta org configured: set `org_url` in the `[okta]` section of `idaudit.toml`, \
                 or IDAUDIT_OKTA_ORG_URL (run `idaudit demo` to try idaudit on a simulated org)"
            );
        };
        let scopes = self.configured_scopes().unwrap_or_default();
        let mut config = OrgConfig::new(org_url, self.credentials()?, scopes)?;
        config.options = self.client_options()?;
        Ok(config)
    }

    fn client_options(&self) -> Result<ClientOptions> {
        let okta = self;
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
        let okta = self;
        let sdk = &okta.sdk;
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| self.read_environment && !value.trim().is_empty())
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

/// Returns the `[server]` section with `hook_secret_file` made relative to
/// the config file's folder.
fn server_section(section: Option<ServerSection>, config_path: Option<&Path>) -> ServerSection {
    let mut section = section.unwrap_or_default();
    let folder = config_path.and_then(Path::parent);
    if let (Some(path), Some(folder)) = (&mut section.hook_secret_file, folder)
        && path.is_relative()
    {
        *path = folder.join(&*path);
    }
    section
}

/// Parses an interval such as `500ms`, `15s`, `5m`, `12h` or `7d`.
pub fn parse_interval(text: &str) -> Result<std::time::Duration> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (amount, unit) = text.split_at(split);
    let invalid = || {
        anyhow::anyhow!(
            "Invalid interval `{text}`: use a number with `ms`, `s`, `m`, `h` or `d`, such as `15s`"
        )
    };
    let amount: u64 = amount.parse().map_err(|_| invalid())?;
    let seconds = |factor: u64| std::time::Duration::from_secs(amount.saturating_mul(factor));
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(amount)),
        "s" => Ok(seconds(1)),
        "m" => Ok(seconds(60)),
        "h" => Ok(seconds(3600)),
        "d" => Ok(seconds(86_400)),
        _ => Err(invalid()),
    }
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

/// Checks that each `[[orgs]]` table has a unique `name` and an `org_url`.
fn check_org_tables(orgs: &[OktaSection]) -> Result<()> {
    let mut names = std::collections::BTreeSet::new();
    for (index, org) in orgs.iter().enumerate() {
        let Some(name) = org.name.as_deref().filter(|name| !name.trim().is_empty()) else {
            bail!(
                "Missing `name` in `[[orgs]]` table {}: give each org a name for `--org`",
                index + 1
            );
        };
        if org.org_url.is_none() {
            bail!("Missing `org_url` in the `[[orgs]]` table `{name}`");
        }
        if !names.insert(name) {
            bail!("Duplicate org name `{name}` in `[[orgs]]`: give each org its own name");
        }
    }
    Ok(())
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
    fn org_tables_parse_and_need_names() {
        let text = r#"
            [okta]
            org_url = "https://main.okta.com"
            api_token_file = "main.token"
            [[orgs]]
            name = "subsidiary"
            org_url = "https://sub.okta.com"
            api_token_file = "sub.token"
        "#;
        let config: ConfigFile = toml::from_str(text).unwrap();
        assert_eq!(config.orgs.len(), 1);
        assert_eq!(config.orgs[0].name.as_deref(), Some("subsidiary"));
        assert!(super::check_org_tables(&config.orgs).is_ok());

        let unnamed = super::OktaSection {
            org_url: Some("https://sub.okta.com".to_string()),
            ..super::OktaSection::default()
        };
        assert!(super::check_org_tables(&[unnamed]).is_err());

        let twin = |url: &str| super::OktaSection {
            name: Some("twin".to_string()),
            org_url: Some(url.to_string()),
            ..super::OktaSection::default()
        };
        let duplicate = [twin("https://a.okta.com"), twin("https://b.okta.com")];
        assert!(super::check_org_tables(&duplicate).is_err());
    }

    #[test]
    fn logs_and_server_sections_parse() {
        let text = r#"
            [logs]
            poll_interval = "30s"
            backfill = "14d"
            [server]
            bind = "127.0.0.1:9090"
            hook_secret_file = "hook-secret.txt"
        "#;
        let config: ConfigFile = toml::from_str(text).unwrap();
        assert_eq!(config.logs.unwrap().backfill.as_deref(), Some("14d"));
        let server = super::server_section(
            config.server,
            Some(std::path::Path::new("/srv/idaudit/idaudit.toml")),
        );
        assert_eq!(
            server.hook_secret_file.unwrap(),
            std::path::Path::new("/srv/idaudit/hook-secret.txt")
        );
    }

    #[test]
    fn workflows_section_parses() {
        let text = r#"
            [workflows]
            defaults = false
            refresh_interval = "30s"
            [[workflows.custom]]
            name = "offboarding"
            on = ["user.lifecycle.deactivate"]
            filter = 'outcome.result == "SUCCESS"'
            actions = ["refresh", "notify:slack"]
            [[workflows.custom]]
            on = ["user.account.privilege.grant"]
            filter = { "target.type" = ["User"], "actor.alternateId|contains" = "@example.com" }
            actions = ["detect"]
        "#;
        let config: ConfigFile = toml::from_str(text).unwrap();
        let workflows = config.workflows.unwrap();
        assert_eq!(workflows.defaults, Some(false));
        assert_eq!(workflows.custom.len(), 2);
        assert!(matches!(
            workflows.custom[0].filter,
            Some(idaudit_collect::workflows::FilterConfig::Expression(_))
        ));
        assert!(matches!(
            workflows.custom[1].filter,
            Some(idaudit_collect::workflows::FilterConfig::Fields(_))
        ));
        let sinks = [idaudit_collect::workflows::SinkRef {
            name: "slack-1".to_string(),
            kind: "slack".to_string(),
        }];
        let built =
            idaudit_collect::workflows::Workflows::build(false, &workflows.custom, &sinks).unwrap();
        assert_eq!(built.workflows().len(), 2);
        assert_eq!(built.workflows()[0].notify, vec!["slack-1".to_string()]);
    }

    #[test]
    fn intervals_parse() {
        use std::time::Duration;
        assert_eq!(
            super::parse_interval("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            super::parse_interval("15s").unwrap(),
            Duration::from_secs(15)
        );
        assert_eq!(
            super::parse_interval("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert!(super::parse_interval("7w").is_err());
        assert!(super::parse_interval("s").is_err());
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
