//! Okta objects, read tolerantly.
//!
//! Okta adds enum values (statuses, factor types, credential types) without
//! notice, so every enum-like field is kept as text. Every field is optional
//! where Okta may omit it or send `null`, unknown fields are ignored, and a
//! field of an unexpected JSON type is read as absent rather than failing
//! the page. The System Log sends the string `"null"` in some IP and zone
//! fields; those read as absent. Callers keep the raw JSON beside the model
//! with [`Parsed`].

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A model together with the JSON it was read from.
#[derive(Clone, Debug)]
pub struct Parsed<T> {
    pub model: T,
    pub raw: Value,
}

/// Reads a model from raw JSON.
pub fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> serde_json::Result<T> {
    T::deserialize(value)
}

/// Reads a model and keeps the JSON beside it.
pub fn parse<T: serde::de::DeserializeOwned>(value: Value) -> serde_json::Result<Parsed<T>> {
    Ok(Parsed {
        model: T::deserialize(&value)?,
        raw: value,
    })
}

/// Reads a string; numbers and booleans become text, anything else `None`.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    })
}

/// Like [`text`], with the literal `"null"` and empty strings read as absent.
fn text_not_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(text(deserializer)?.filter(|text| !text.is_empty() && text != "null"))
}

/// Reads a required string field leniently, defaulting to empty.
fn text_or_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(text(deserializer)?.unwrap_or_default())
}

/// Reads a value that may be `null` or of the wrong type as its default.
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).unwrap_or_default())
}

/// Reads a number leniently: numbers or numeric strings, else `None`.
fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    })
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    #[serde(deserialize_with = "text_or_empty")]
    pub id: String,
    #[serde(deserialize_with = "text_or_empty")]
    pub status: String,
    #[serde(deserialize_with = "text")]
    pub created: Option<String>,
    #[serde(deserialize_with = "text")]
    pub activated: Option<String>,
    #[serde(deserialize_with = "text")]
    pub status_changed: Option<String>,
    #[serde(deserialize_with = "text")]
    pub last_login: Option<String>,
    #[serde(deserialize_with = "text")]
    pub last_updated: Option<String>,
    #[serde(deserialize_with = "text")]
    pub password_changed: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub profile: UserProfile,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserProfile {
    #[serde(deserialize_with = "text_or_empty")]
    pub login: String,
    #[serde(deserialize_with = "text")]
    pub email: Option<String>,
    #[serde(deserialize_with = "text")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "text")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "text")]
    pub display_name: Option<String>,
    #[serde(deserialize_with = "text")]
    pub manager_id: Option<String>,
    #[serde(deserialize_with = "text")]
    pub manager: Option<String>,
    #[serde(deserialize_with = "text")]
    pub department: Option<String>,
    #[serde(deserialize_with = "text")]
    pub title: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Group {
    #[serde(deserialize_with = "text_or_empty")]
    pub id: String,
    #[serde(rename = "type", deserialize_with = "text_or_empty")]
    pub group_type: String,
    #[serde(deserialize_with = "text")]
    pub last_updated: Option<String>,
    #[serde(deserialize_with = "text")]
    pub last_membership_updated: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub profile: GroupProfile,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct GroupProfile {
    #[serde(deserialize_with = "text_or_empty")]
    pub name: String,
    #[serde(deserialize_with = "text")]
    pub description: Option<String>,
}

/// A group rule: users matching `expression` are added to `group_ids`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupRule {
    #[serde(deserialize_with = "text_or_empty")]
    pub id: String,
    #[serde(deserialize_with = "text_or_empty")]
    pub name: String,
    /// `ACTIVE`, `INACTIVE` or `INVALID`.
    #[serde(deserialize_with = "text_or_empty")]
    pub status: String,
    #[serde(deserialize_with = "lenient")]
    pub conditions: Value,
    #[serde(deserialize_with = "lenient")]
    pub actions: Value,
}

impl GroupRule {
    /// Returns the rule's Okta Expression Language condition.
    pub fn expression(&self) -> Option<&str> {
        self.conditions.pointer("/expression/value")?.as_str()
    }

    /// Returns the ids of the groups the rule assigns users to.
    pub fn group_ids(&self) -> Vec<String> {
        self.actions
            .pointer("/assignUserToGroups/groupIds")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Application {
    #[serde(deserialize_with = "text_or_empty")]
    pub id: String,
    #[serde(deserialize_with = "text_or_empty")]
    pub name: String,
    #[serde(deserialize_with = "text_or_empty")]
    pub label: String,
    #[serde(deserialize_with = "text_or_empty")]
    pub status: String,
    #[serde(deserialize_with = "text")]
    pub sign_on_mode: Option<String>,
}

/// A row of `/apps/{appId}/users`; `id` is the Okta user id.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppUser {
    #[serde(deserialize_with = "text_or_empty")]
    pub id: String,
    /// `USER` for a direct assignment, `GROUP` for one through a group.
    #[serde(deserialize_with = "text_or_empty")]
    pub scope: String,
    #[serde(deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(deserialize_with = "text")]
    pub created: Option<String>,
    #[serde(deserialize_with = "text")]
    pub sync_state: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub credentials: Option<Value>,
}

impl AppUser {
    /// Returns the user's name in the app (`credentials.userName`), if Okta sent one.
    pub fn user_name(&self) -> Option<String> {
        self.credentials
            .as_ref()?
            .get("userName")?
            .as_str()
            .map(str::to_string)
    }
}

/// A row of `/apps/{appId}/groups`; `id` is the group id.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppGroup {
    #[serde(deserialize_with = "text_or_empty")]
    pub id: String,
    #[serde(deserialize_with = "lenient")]
    pub priority: Option<i64>,
}

/// An admin role assignment, standard or custom.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleAssignment {
    #[serde(deserialize_with = "text_or_empty")]
    pub id: String,
    #[serde(deserialize_with = "text")]
    pub label: Option<String>,
    /// `SUPER_ADMIN`, `ORG_ADMIN`, … or `CUSTOM`.
    #[serde(rename = "type", deserialize_with = "text_or_empty")]
    pub role_type: String,
    #[serde(deserialize_with = "text")]
    pub status: Option<String>,
    /// `USER`, `GROUP` (inherited through a group) or `CLIENT`.
    #[serde(deserialize_with = "text")]
    pub assignment_type: Option<String>,
    /// The custom role's id, for `CUSTOM` assignments.
    #[serde(deserialize_with = "text")]
    pub role: Option<String>,
    #[serde(rename = "resource-set", deserialize_with = "text")]
    pub resource_set: Option<String>,
    #[serde(deserialize_with = "text")]
    pub created: Option<String>,
}

/// An enrolled MFA factor.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Factor {
    #[serde(deserialize_with = "text_or_empty")]
    pub id: String,
    /// `push`, `token:software:totp`, `webauthn`, `signed_nonce`, …
    #[serde(deserialize_with = "text_or_empty")]
    pub factor_type: String,
    #[serde(deserialize_with = "text")]
    pub provider: Option<String>,
    #[serde(deserialize_with = "text")]
    pub vendor_name: Option<String>,
    #[serde(deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(deserialize_with = "text")]
    pub created: Option<String>,
    #[serde(deserialize_with = "text")]
    pub last_updated: Option<String>,
}

/// A System Log event, with the fields of Okta's LogEvent schema.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogEvent {
    #[serde(deserialize_with = "text_or_empty")]
    pub uuid: String,
    #[serde(deserialize_with = "text_or_empty")]
    pub published: String,
    #[serde(deserialize_with = "text_or_empty")]
    pub event_type: String,
    #[serde(deserialize_with = "text")]
    pub version: Option<String>,
    /// `DEBUG`, `INFO`, `WARN` or `ERROR`.
    #[serde(deserialize_with = "text")]
    pub severity: Option<String>,
    #[serde(deserialize_with = "text")]
    pub legacy_event_type: Option<String>,
    #[serde(deserialize_with = "text")]
    pub display_message: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub actor: Option<LogEntity>,
    #[serde(deserialize_with = "lenient")]
    pub client: Option<LogClient>,
    /// Okta Verify device details; often `null`.
    #[serde(deserialize_with = "lenient")]
    pub device: Option<Value>,
    #[serde(deserialize_with = "lenient")]
    pub authentication_context: Option<AuthenticationContext>,
    #[serde(deserialize_with = "lenient")]
    pub security_context: Option<SecurityContext>,
    #[serde(deserialize_with = "lenient")]
    pub debug_context: Option<DebugContext>,
    #[serde(deserialize_with = "lenient")]
    pub outcome: Option<Outcome>,
    #[serde(deserialize_with = "lenient")]
    pub target: Vec<LogEntity>,
    #[serde(deserialize_with = "lenient")]
    pub transaction: Option<Transaction>,
    #[serde(deserialize_with = "lenient")]
    pub request: Option<LogRequest>,
}

/// An actor or a target of a System Log event.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogEntity {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(rename = "type", deserialize_with = "text")]
    pub entity_type: Option<String>,
    #[serde(deserialize_with = "text")]
    pub alternate_id: Option<String>,
    #[serde(deserialize_with = "text")]
    pub display_name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub detail_entry: Option<Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogClient {
    #[serde(deserialize_with = "lenient")]
    pub user_agent: Option<UserAgent>,
    #[serde(deserialize_with = "text_not_null")]
    pub zone: Option<String>,
    #[serde(deserialize_with = "text_not_null")]
    pub device: Option<String>,
    #[serde(deserialize_with = "text_not_null")]
    pub id: Option<String>,
    #[serde(deserialize_with = "text_not_null")]
    pub ip_address: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub geographical_context: Option<GeographicalContext>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserAgent {
    #[serde(deserialize_with = "text")]
    pub raw_user_agent: Option<String>,
    #[serde(deserialize_with = "text")]
    pub os: Option<String>,
    #[serde(deserialize_with = "text")]
    pub browser: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeographicalContext {
    #[serde(deserialize_with = "text")]
    pub city: Option<String>,
    #[serde(deserialize_with = "text")]
    pub state: Option<String>,
    #[serde(deserialize_with = "text")]
    pub country: Option<String>,
    #[serde(deserialize_with = "text")]
    pub postal_code: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub geolocation: Option<Geolocation>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Geolocation {
    #[serde(deserialize_with = "number")]
    pub lat: Option<f64>,
    #[serde(deserialize_with = "number")]
    pub lon: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthenticationContext {
    #[serde(deserialize_with = "text")]
    pub authentication_provider: Option<String>,
    #[serde(deserialize_with = "text")]
    pub credential_provider: Option<String>,
    #[serde(deserialize_with = "text")]
    pub credential_type: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub issuer: Option<Value>,
    #[serde(deserialize_with = "text")]
    pub external_session_id: Option<String>,
    #[serde(deserialize_with = "text")]
    pub root_session_id: Option<String>,
    #[serde(rename = "interface", deserialize_with = "text")]
    pub interface_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityContext {
    #[serde(deserialize_with = "number")]
    pub as_number: Option<f64>,
    #[serde(deserialize_with = "text")]
    pub as_org: Option<String>,
    #[serde(deserialize_with = "text")]
    pub isp: Option<String>,
    #[serde(deserialize_with = "text")]
    pub domain: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub is_proxy: Option<bool>,
    #[serde(deserialize_with = "lenient")]
    pub risk: Option<Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DebugContext {
    /// Free-form; values may be strings or objects depending on the event type.
    #[serde(deserialize_with = "lenient")]
    pub debug_data: Option<serde_json::Map<String, Value>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Outcome {
    /// `SUCCESS`, `FAILURE`, `SKIPPED`, `ALLOW`, `DENY`, `CHALLENGE`, …
    #[serde(deserialize_with = "text")]
    pub result: Option<String>,
    #[serde(deserialize_with = "text")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Transaction {
    #[serde(rename = "type", deserialize_with = "text")]
    pub transaction_type: Option<String>,
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub detail: Option<Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogRequest {
    #[serde(deserialize_with = "lenient")]
    pub ip_chain: Vec<Value>,
}

impl LogEvent {
    /// Returns a `debugContext.debugData` value as text, whether Okta sent
    /// it as a string or as another JSON value.
    pub fn debug_text(&self, key: &str) -> Option<String> {
        let value = self.debug_context.as_ref()?.debug_data.as_ref()?.get(key)?;
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// Returns the client IP, if Okta sent a real one.
    pub fn client_ip(&self) -> Option<&str> {
        self.client.as_ref()?.ip_address.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{LogEvent, User, from_value};

    #[test]
    fn null_strings_and_wrong_types_tolerated() {
        let event: LogEvent = from_value(&json!({
            "uuid": "u1", "published": "2026-01-01T00:00:00.000Z", "eventType": "user.session.start",
            "client": {"zone": "null", "ipAddress": "null", "geographicalContext": null},
            "target": null, "securityContext": {"asNumber": "14618", "isProxy": "maybe"},
            "outcome": {"result": "SOMETHING_NEW"},
            "debugContext": {"debugData": {"privilegeGranted": {"roles": ["APP_ADMIN"]}, "threatSuspected": "false"}}
        }))
        .unwrap();
        assert_eq!(event.client_ip(), None);
        assert_eq!(event.client.as_ref().unwrap().zone, None);
        assert!(event.target.is_empty());
        assert_eq!(
            event.security_context.as_ref().unwrap().as_number,
            Some(14618.0)
        );
        assert_eq!(event.security_context.as_ref().unwrap().is_proxy, None);
        assert_eq!(
            event.outcome.as_ref().unwrap().result.as_deref(),
            Some("SOMETHING_NEW")
        );
        assert_eq!(
            event.debug_text("threatSuspected").as_deref(),
            Some("false")
        );
        assert_eq!(
            event.debug_text("privilegeGranted").as_deref(),
            Some(r#"{"roles":["APP_ADMIN"]}"#)
        );
    }

    #[test]
    fn unknown_status_kept_as_text() {
        let user: User = from_value(
            &json!({"id": "00u1", "status": "QUANTUM", "profile": {"login": "a@b.c", "email": 5}}),
        )
        .unwrap();
        assert_eq!(user.status, "QUANTUM");
        assert_eq!(user.profile.email.as_deref(), Some("5"));
    }
}
