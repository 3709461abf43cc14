//! The parts of a LogEvent that rules read, parsed tolerantly from raw JSON.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default)]
    pub uuid: String,
    #[serde(default, deserialize_with = "lenient_time")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default)]
    pub event_type: String,
    #[serde(default)]
    pub actor: Option<Entity>,
    #[serde(default)]
    pub client: Option<Client>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub target: Option<Vec<Entity>>,
    #[serde(default)]
    pub debug_context: Option<DebugContext>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub entity_type: Option<String>,
    pub alternate_id: Option<String>,
    pub display_name: Option<String>,
}

impl Entity {
    /// Returns the most readable name: the alternate id (a login), else the
    /// display name, else the id.
    pub fn name(&self) -> Option<&str> {
        [&self.alternate_id, &self.display_name, &self.id]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|name| !name.is_empty() && *name != "unknown")
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub ip_address: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Outcome {
    pub result: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebugContext {
    #[serde(default)]
    pub debug_data: Option<Value>,
}

impl Event {
    /// Parses a stored LogEvent; fields of an unexpected type are read as absent.
    pub fn parse(raw: &str) -> Option<Event> {
        serde_json::from_str(raw).ok()
    }

    pub fn outcome_is(&self, result: &str) -> bool {
        self.outcome
            .as_ref()
            .and_then(|outcome| outcome.result.as_deref())
            == Some(result)
    }

    /// Returns the client IP, treating Okta's `"null"` string as absent.
    pub fn client_ip(&self) -> Option<&str> {
        self.client
            .as_ref()?
            .ip_address
            .as_deref()
            .filter(|ip| !ip.is_empty() && *ip != "null")
    }

    /// Returns the first target of the given type.
    pub fn target_of_type(&self, entity_type: &str) -> Option<&Entity> {
        self.target
            .as_ref()?
            .iter()
            .find(|target| target.entity_type.as_deref() == Some(entity_type))
    }

    /// Returns a `debugContext.debugData` value as text, whether Okta sent it
    /// as a string or as another JSON value.
    pub fn debug_text(&self, key: &str) -> Option<String> {
        let value = self.debug_context.as_ref()?.debug_data.as_ref()?.get(key)?;
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

fn lenient_time<'de, D>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc)))
}
