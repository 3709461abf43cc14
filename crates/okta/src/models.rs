//! Okta objects, read tolerantly.
//!
//! Okta adds enum values (statuses, types) without notice, so every enum-like
//! field is kept as text, every field is optional where Okta may omit it, and
//! unknown fields are ignored. Callers keep the raw JSON beside the model.

use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub status: String,
    pub created: Option<String>,
    pub activated: Option<String>,
    pub status_changed: Option<String>,
    pub last_login: Option<String>,
    pub last_updated: Option<String>,
    pub password_changed: Option<String>,
    #[serde(default)]
    pub profile: UserProfile,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    #[serde(default)]
    pub login: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub manager_id: Option<String>,
    pub manager: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default, rename = "type")]
    pub group_type: String,
    pub last_updated: Option<String>,
    pub last_membership_updated: Option<String>,
    #[serde(default)]
    pub profile: GroupProfile,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct GroupProfile {
    #[serde(default)]
    pub name: String,
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub status: String,
    pub sign_on_mode: Option<String>,
}

/// A row of `/apps/{appId}/users`; `id` is the Okta user id.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUser {
    pub id: String,
    /// `USER` for a direct assignment, `GROUP` for one through a group.
    #[serde(default)]
    pub scope: String,
    pub status: Option<String>,
    pub created: Option<String>,
    #[serde(default)]
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
#[serde(rename_all = "camelCase")]
pub struct AppGroup {
    pub id: String,
    pub priority: Option<i64>,
}

/// Reads a model from raw JSON.
pub fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> serde_json::Result<T> {
    T::deserialize(value)
}
