//! Sinks that alerts are delivered to: a Slack incoming webhook, a generic
//! webhook signed with HMAC-SHA256, a JSON Lines file and stdout.
//!
//! Alerts reach sinks through the store's outbox and the worker in
//! [`crate::delivery`]; a sink only sends one alert revision when asked.
//! Secrets come from environment variables named in the configuration. A
//! sink never puts a secret, a URL path or a query in an error or a log
//! line, because a Slack webhook URL carries its token in the path.
//!
//! ```toml
//! [[detect.sinks]]
//! kind = "slack"
//! secret_env = "IDAUDIT_SLACK_WEBHOOK_URL"
//!
//! [[detect.sinks]]
//! kind = "webhook"
//! url = "https://siem.example.com/idaudit"
//! secret_env = "IDAUDIT_WEBHOOK_SECRET"
//!
//! [[detect.sinks]]
//! kind = "jsonl"
//! path = "/var/log/idaudit/alerts.jsonl"
//! ```

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use hmac::{Hmac, Mac};
use idaudit_store::Alert;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Header that carries the HMAC-SHA256 of a webhook body.
pub const SIGNATURE_HEADER: &str = "X-Idaudit-Signature";
/// Header that carries the delivery id, `<alert id>-<revision>`, which a
/// receiver can use to drop a repeated delivery.
pub const DELIVERY_HEADER: &str = "X-Idaudit-Delivery";

/// How long one HTTP delivery may take before it counts as failed.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack's limit on the text of a header block, in characters.
const SLACK_HEADER_LIMIT: usize = 150;

/// One `[[detect.sinks]]` entry of the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub kind: SinkKind,
    /// The sink's name in the outbox. Defaults to the kind and a short hash
    /// of the URL, path or variable, so reordering sinks keeps their names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The endpoint of a `webhook`, or of `slack` when `secret_env` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The file a `jsonl` sink appends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The environment variable that contains the secret: the HMAC key of a
    /// `webhook`, or the whole incoming-webhook URL of `slack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    Slack,
    Webhook,
    Jsonl,
    Stdout,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Slack => "slack",
            SinkKind::Webhook => "webhook",
            SinkKind::Jsonl => "jsonl",
            SinkKind::Stdout => "stdout",
        }
    }
}

/// A sink configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SinkConfigError {
    #[error("Sink `{sink}` of kind `{kind}` needs `{field}`")]
    Missing {
        sink: String,
        kind: &'static str,
        field: &'static str,
    },
    #[error(
        "Environment variable `{variable}` named by `secret_env` of sink `{sink}` is not set: export it before starting idaudit"
    )]
    MissingSecret { sink: String, variable: String },
    #[error("Invalid `url` of sink `{sink}`: {reason}; use an http or https URL")]
    InvalidUrl { sink: String, reason: String },
    #[error("Two sinks are named `{0}`: give each `[[detect.sinks]]` entry its own `name`")]
    DuplicateName(String),
    #[error("Failed to build the HTTP client of sink `{sink}`: {message}")]
    Client { sink: String, message: String },
}

/// Failure of one delivery. The text names the sink's host or file, never
/// a URL path, query or secret.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("Failed to send to `{target}`: {message}")]
    Http { target: String, message: String },
    #[error("`{target}` returned HTTP {status}")]
    Status {
        target: String,
        status: u16,
        /// The delay the server asked for in `Retry-After`, in seconds.
        retry_after: Option<Duration>,
    },
    #[error("Failed to write to `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Failed to encode the alert: {0}")]
    Json(#[from] serde_json::Error),
}

impl DeliveryError {
    /// Returns the delay a server asked for before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A secret that prints as `[redacted]`.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

/// A sink ready to deliver alerts.
#[derive(Debug)]
pub struct Sink {
    name: String,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Slack(HttpEndpoint),
    Webhook {
        endpoint: HttpEndpoint,
        key: Option<Secret>,
    },
    Jsonl(PathBuf),
    Stdout,
}

#[derive(Debug)]
struct HttpEndpoint {
    url: Secret,
    /// `scheme://host[:port]`, the only part of the URL errors show.
    display: String,
    client: reqwest::Client,
}

impl Sink {
    /// Builds a sink, reading secrets from the process environment.
    pub fn from_config(config: &SinkConfig) -> Result<Sink, SinkConfigError> {
        Sink::build(config, &|variable| std::env::var(variable).ok())
    }

    /// Builds a sink, reading secrets through `environment`.
    pub fn build(
        config: &SinkConfig,
        environment: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Sink, SinkConfigError> {
        let name = config.name.clone().unwrap_or_else(|| default_name(config));
        let secret = match &config.secret_env {
            Some(variable) => Some(environment(variable).map(Secret).ok_or_else(|| {
                SinkConfigError::MissingSecret {
                    sink: name.clone(),
                    variable: variable.clone(),
                }
            })?),
            None => None,
        };
        let missing = |field| SinkConfigError::Missing {
            sink: name.clone(),
            kind: config.kind.as_str(),
            field,
        };
        let target = match config.kind {
            SinkKind::Slack => {
                let url = match (&config.url, secret) {
                    (_, Some(url)) => url,
                    (Some(url), None) => Secret(url.clone()),
                    (None, None) => return Err(missing("secret_env` or `url")),
                };
                Target::Slack(HttpEndpoint::new(&name, url)?)
            }
            SinkKind::Webhook => {
                let url = config.url.clone().ok_or_else(|| missing("url"))?;
                Target::Webhook {
                    endpoint: HttpEndpoint::new(&name, Secret(url))?,
                    key: secret,
                }
            }
            SinkKind::Jsonl => Target::Jsonl(config.path.clone().ok_or_else(|| missing("path"))?),
            SinkKind::Stdout => Target::Stdout,
        };
        Ok(Sink { name, target })
    }

    /// Returns the sink's name in the outbox.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends one revision of an alert.
    pub async fn deliver(&self, alert: &Alert, revision: u32) -> Result<(), DeliveryError> {
        match &self.target {
            Target::Slack(endpoint) => {
                let body = serde_json::to_vec(&slack_message(alert, revision))?;
                endpoint.post(body, Vec::new()).await
            }
            Target::Webhook { endpoint, key } => {
                let body = serde_json::to_vec(&alert_record(alert, revision))?;
                let mut headers = vec![(DELIVERY_HEADER, format!("{}-{revision}", alert.id))];
                if let Some(key) = key {
                    headers.push((SIGNATURE_HEADER, signature(key.0.as_bytes(), &body)));
                }
                endpoint.post(body, headers).await
            }
            Target::Jsonl(path) => append_line(path, alert, revision),
            Target::Stdout => {
                let mut line = serde_json::to_vec(&alert_record(alert, revision))?;
                line.push(b'\n');
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(&line)
                    .and_then(|()| stdout.flush())
                    .map_err(|source| DeliveryError::Io {
                        path: "stdout".to_string(),
                        source,
                    })
            }
        }
    }
}

/// Builds every configured sink and checks that their names differ.
pub fn build_sinks(configs: &[SinkConfig]) -> Result<Vec<Sink>, SinkConfigError> {
    let mut sinks: Vec<Sink> = Vec::new();
    for config in configs {
        let sink = Sink::from_config(config)?;
        if sinks.iter().any(|other| other.name == sink.name) {
            return Err(SinkConfigError::DuplicateName(sink.name));
        }
        sinks.push(sink);
    }
    Ok(sinks)
}

fn default_name(config: &SinkConfig) -> String {
    let kind = config.kind.as_str();
    let target = match config.kind {
        SinkKind::Stdout => return kind.to_string(),
        SinkKind::Jsonl => config.path.as_ref().map(|path| path.display().to_string()),
        SinkKind::Slack | SinkKind::Webhook => config.url.clone(),
    };
    let target = target
        .or_else(|| config.secret_env.clone())
        .unwrap_or_default();
    // A hash, not the URL itself, because a Slack URL contains its token.
    let digest = Sha256::digest(target.as_bytes());
    let hash: String = digest[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{kind}-{hash}")
}

impl HttpEndpoint {
    fn new(sink: &str, url: Secret) -> Result<HttpEndpoint, SinkConfigError> {
        let invalid = |reason: String| SinkConfigError::InvalidUrl {
            sink: sink.to_string(),
            reason,
        };
        let parsed = Url::parse(&url.0).map_err(|error| invalid(error.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "scheme `{}` is not supported",
                parsed.scheme()
            )));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| invalid("no host".to_string()))?;
        let display = match parsed.port() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        };
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|error| SinkConfigError::Client {
                sink: sink.to_string(),
                message: error.without_url().to_string(),
            })?;
        Ok(HttpEndpoint {
            url,
            display,
            client,
        })
    }

    async fn post(
        &self,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<(), DeliveryError> {
        let mut request = self
            .client
            .post(&self.url.0)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|error| DeliveryError::Http {
            target: self.display.clone(),
            message: error_chain(error),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(DeliveryError::Status {
            target: self.display.clone(),
            status: status.as_u16(),
            retry_after,
        })
    }
}

/// Formats a reqwest error and its causes without the request URL.
fn error_chain(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn append_line(path: &PathBuf, alert: &Alert, revision: u32) -> Result<(), DeliveryError> {
    let mut line = serde_json::to_vec(&alert_record(alert, revision))?;
    line.push(b'\n');
    let io_error = |source| DeliveryError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_error)?;
    // One write call per line, so concurrent appenders do not interleave lines.
    file.write_all(&line).map_err(io_error)
}

/// Returns the JSON record of one alert revision, as webhooks, files and
/// stdout receive it.
pub fn alert_record(alert: &Alert, revision: u32) -> Value {
    json!({
        "type": "alert",
        "revision": revision,
        "alert": alert,
    })
}

/// Returns `sha256=<hex>`, the HMAC-SHA256 of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("HMAC-SHA256 takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// Builds the Slack Block Kit message of one alert revision: what (rule and
/// severity), who, where, when and how many events are evidence.
pub fn slack_message(alert: &Alert, revision: u32) -> Value {
    let severity = alert.severity.to_uppercase();
    let header: String = format!("[{severity}] {}", alert.title)
        .chars()
        .take(SLACK_HEADER_LIMIT)
        .collect();
    let country = alert.details.get("country").and_then(Value::as_str);
    let place = match (alert.ip.as_deref(), country) {
        (Some(ip), Some(country)) => format!("{ip} ({country})"),
        (Some(ip), None) => ip.to_string(),
        (None, Some(country)) => country.to_string(),
        (None, None) => "unknown".to_string(),
    };
    let when = if alert.first_seen == alert.last_seen {
        alert.first_seen.clone()
    } else {
        format!("{} to {}", alert.first_seen, alert.last_seen)
    };
    let field = |label: &str, value: &str| json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", escape_mrkdwn(value))});
    let update = if revision > 1 {
        format!(", update {revision}")
    } else {
        String::new()
    };
    json!({
        "text": format!("{header}{update}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {"type": "section", "fields": [
                field("What", &format!("{} ({})", alert.rule, alert.severity)),
                field("Who", alert.user.as_deref().unwrap_or("unknown")),
                field("Where", &place),
                field("When", &when),
                field("Evidence", &format!("{} events", alert.count)),
            ]},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": format!("idaudit alert `{}`{}", alert.id, escape_mrkdwn(&update))},
            ]},
        ],
    })
}

/// Escapes the three characters Slack's mrkdwn reserves.
fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
