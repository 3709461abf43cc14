//! Directory objects of a simulated org and their Okta JSON shapes.
//!
//! The structs hold plain data so that tests can read and change an [`crate::Org`];
//! each `to_okta_json` method renders the object as Okta's management API returns it,
//! with `_links` built on the base URL of the running simulator.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use once_cell::race::OnceBox;

use crate::event_table::{EventRecord, EventTables, event_uuid, join_key};
use crate::time::format_okta;

/// Lifecycle status of an Okta user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    LockedOut,
    PasswordExpired,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    /// Returns the status as Okta spells it, e.g. `LOCKED_OUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Staged => "STAGED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Active => "ACTIVE",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Standard profile attributes of a user that the generator fills in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    /// Okta username; the generator uses the e-mail address.
    pub login: String,
    pub email: String,
    pub second_email: Option<String>,
    pub mobile_phone: Option<String>,
    pub title: String,
    pub department: String,
    pub organization: String,
    pub cost_center: String,
    pub employee_number: String,
    pub user_type: String,
    pub city: String,
    pub state: String,
    /// ISO 3166-1 alpha-2 code.
    pub country_code: String,
    pub timezone: String,
    /// Okta user id of the manager; `None` for the CEO.
    pub manager_id: Option<String>,
    /// Display name of the manager, the value of Okta's `manager` attribute.
    pub manager: Option<String>,
}

/// An Okta user (`00u…`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub status: UserStatus,
    pub created: DateTime<Utc>,
    pub activated: Option<DateTime<Utc>>,
    pub status_changed: Option<DateTime<Utc>>,
    pub last_login: Option<DateTime<Utc>>,
    pub last_updated: DateTime<Utc>,
    pub password_changed: Option<DateTime<Utc>>,
    /// Id of the user type (`oty…`).
    pub type_id: String,
    pub profile: UserProfile,
}

impl User {
    /// Renders the user as `GET /api/v1/users/{id}` returns it.
    pub fn to_okta_json(&self, base_url: &str) -> Value {
        let profile = &self.profile;
        json!({
            "id": self.id,
            "status": self.status.as_str(),
            "created": format_okta(self.created),
            "activated": self.activated.map(format_okta),
            "statusChanged": self.status_changed.map(format_okta),
            "lastLogin": self.last_login.map(format_okta),
            "lastUpdated": format_okta(self.last_updated),
            "passwordChanged": self.password_changed.map(format_okta),
            "type": {"id": self.type_id},
            "profile": {
                "firstName": profile.first_name,
                "lastName": profile.last_name,
                "displayName": profile.display_name,
                "login": profile.login,
                "email": profile.email,
                "secondEmail": profile.second_email,
                "mobilePhone": profile.mobile_phone,
                "title": profile.title,
                "department": profile.department,
                "organization": profile.organization,
                "costCenter": profile.cost_center,
                "employeeNumber": profile.employee_number,
                "userType": profile.user_type,
                "city": profile.city,
                "state": profile.state,
                "countryCode": profile.country_code,
                "timezone": profile.timezone,
                "managerId": profile.manager_id,
                "manager": profile.manager,
            },
            "credentials": {
                "password": {},
                "emails": [{"value": profile.email, "status": "VERIFIED", "type": "PRIMARY"}],
                "provider": {"type": "OKTA", "name": "OKTA"},
            },
            "_links": {"self": {"href": format!("{base_url}/api/v1/users/{}", self.id)}},
        })
    }

    /// Returns the name Okta shows in `actor.displayName` and `target[].displayName`.
    pub fn display_name(&self) -> &str {
        &self.profile.display_name
    }
}

/// Kind of an Okta group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupType {
    /// Managed in Okta.
    OktaGroup,
    /// Imported from an app such as Active Directory.
    AppGroup,
    /// Managed by Okta itself, e.g. `Everyone`.
    BuiltIn,
}

impl GroupType {
    /// Returns the type as Okta spells it, e.g. `OKTA_GROUP`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::OktaGroup => "OKTA_GROUP",
            GroupType::AppGroup => "APP_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
        }
    }
}

/// Attributes that Active Directory adds to the profile of an imported group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectoryGroupProfile {
    pub sam_account_name: String,
    pub dn: String,
    pub windows_domain_qualified_name: String,
    pub external_id: String,
    pub object_sid: String,
}

/// An Okta group (`00g…`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub last_membership_updated: DateTime<Utc>,
    pub group_type: GroupType,
    pub name: String,
    pub description: String,
    /// App the group was imported from; set for `APP_GROUP`s.
    pub source_app_id: Option<String>,
    /// Directory attributes; set for groups imported from Active Directory.
    pub directory: Option<DirectoryGroupProfile>,
}

impl Group {
    /// Renders the group as `GET /api/v1/groups/{id}` returns it.
    pub fn to_okta_json(&self, base_url: &str) -> Value {
        let group_url = format!("{base_url}/api/v1/groups/{}", self.id);
        let object_class = match self.group_type {
            GroupType::AppGroup => "okta:windows_security_principal",
            GroupType::OktaGroup | GroupType::BuiltIn => "okta:user_group",
        };
        let mut profile = json!({"name": self.name, "description": self.description});
        if let Some(directory) = &self.directory {
            profile["samAccountName"] = json!(directory.sam_account_name);
            profile["dn"] = json!(directory.dn);
            profile["windowsDomainQualifiedName"] = json!(directory.windows_domain_qualified_name);
            profile["externalId"] = json!(directory.external_id);
            profile["objectSid"] = json!(directory.object_sid);
            profile["groupType"] = json!("Security");
            profile["groupScope"] = json!("Global");
        }
        let mut links = json!({
            "users": {"href": format!("{group_url}/users")},
            "apps": {"href": format!("{group_url}/apps")},
        });
        if let Some(app_id) = &self.source_app_id {
            links["source"] = json!({"href": format!("{base_url}/api/v1/apps/{app_id}")});
        }
        json!({
            "id": self.id,
            "created": format_okta(self.created),
            "lastUpdated": format_okta(self.last_updated),
            "lastMembershipUpdated": format_okta(self.last_membership_updated),
            "objectClass": [object_class],
            "type": self.group_type.as_str(),
            "profile": profile,
            "_links": links,
        })
    }
}

/// Lifecycle status of an app integration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppStatus {
    Active,
    Inactive,
}

impl AppStatus {
    /// Returns the status as Okta spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Active => "ACTIVE",
            AppStatus::Inactive => "INACTIVE",
        }
    }
}

/// An app integration (`0oa…`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub id: String,
    /// Catalog key, e.g. `slack` or `oidc_client` for a custom OIDC app.
    pub name: String,
    pub label: String,
    pub status: AppStatus,
    /// Okta `signOnMode`, e.g. `SAML_2_0` or `OPENID_CONNECT`.
    pub sign_on_mode: String,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    /// Provisioning features, e.g. `PUSH_NEW_USERS`; empty for SSO-only apps.
    pub features: Vec<String>,
}

impl App {
    /// Renders the app as `GET /api/v1/apps/{id}` returns it.
    pub fn to_okta_json(&self, base_url: &str, org_id: &str) -> Value {
        let app_url = format!("{base_url}/api/v1/apps/{}", self.id);
        json!({
            "id": self.id,
            "orn": format!("orn:okta:idp:{org_id}:apps:{}:{}", self.name, self.id),
            "name": self.name,
            "label": self.label,
            "status": self.status.as_str(),
            "lastUpdated": format_okta(self.last_updated),
            "created": format_okta(self.created),
            "accessibility": {"selfService": false, "errorRedirectUrl": null, "loginRedirectUrl": null},
            "visibility": {
                "autoSubmitToolbar": false,
                "hide": {"iOS": false, "web": false},
                "appLinks": {self.name.clone(): true},
            },
            "features": self.features,
            "signOnMode": self.sign_on_mode,
            "credentials": {
                "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                "signing": {},
            },
            "settings": {
                "app": self.app_settings(),
                "notifications": {},
                "manualProvisioning": false,
            },
            "_links": {
                "self": {"href": app_url},
                "users": {"href": format!("{app_url}/users")},
                "groups": {"href": format!("{app_url}/groups")},
            },
        })
    }

    /// Returns `settings.app`: the fields that Okta's app schema requires for the
    /// sign-on mode (URLs of bookmarks and basic-auth apps, form fields of SWA apps,
    /// WS-Federation options), empty for the others.
    fn app_settings(&self) -> Value {
        let site = format!("https://{}.example.com", self.name.replace('_', "-"));
        match self.sign_on_mode.as_str() {
            "BOOKMARK" => json!({"url": format!("{site}/"), "requestIntegration": false}),
            "BASIC_AUTH" => json!({"url": format!("{site}/"), "authURL": format!("{site}/login")}),
            "BROWSER_PLUGIN" => json!({
                "url": format!("{site}/login"),
                "usernameField": "#username",
                "passwordField": "#password",
                "buttonField": "#sign-in",
                "loginUrlRegex": null,
            }),
            "WS_FEDERATION" => json!({
                "audienceRestriction": "urn:federation:MicrosoftOnline",
                "authnContextClassRef": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                "groupFilter": null,
                "groupName": "",
                "groupValueFormat": "windowsDomainQualifiedName",
                "nameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
                "realm": format!("urn:okta:app:{}", self.id),
                "siteURL": format!("{site}/"),
                "usernameAttribute": "username",
                "wReplyOverride": false,
                "wReplyURL": format!("{site}/wsfed"),
                "attributeStatements": null,
            }),
            _ => json!({}),
        }
    }

    /// Returns whether Okta provisions accounts into this app.
    pub fn provisions_users(&self) -> bool {
        self.features
            .iter()
            .any(|feature| feature == "PUSH_NEW_USERS")
    }
}

/// An admin role assigned directly to a user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignment {
    pub id: String,
    /// Okta role type, e.g. `SUPER_ADMIN`.
    pub role_type: String,
    pub label: String,
    pub created: DateTime<Utc>,
}

impl RoleAssignment {
    /// Renders the assignment as `GET /api/v1/users/{id}/roles` returns it.
    pub fn to_okta_json(&self, base_url: &str, user_id: &str) -> Value {
        json!({
            "id": self.id,
            "label": self.label,
            "type": self.role_type,
            "status": "ACTIVE",
            "created": format_okta(self.created),
            "lastUpdated": format_okta(self.created),
            "assignmentType": "USER",
            "_links": {"assignee": {"href": format!("{base_url}/api/v1/users/{user_id}")}},
        })
    }
}

/// Error from building a [`LogEvent`] out of JSON that is not an Okta LogEvent.
#[derive(Debug, thiserror::Error)]
pub enum LogEventError {
    #[error("Invalid LogEvent JSON")]
    InvalidJson(#[from] serde_json::Error),
    #[error("LogEvent has no string field `{0}`")]
    MissingField(&'static str),
    #[error("LogEvent has an invalid `published` timestamp `{0}`")]
    InvalidPublished(String),
}

/// One System Log event.
///
/// An event built from JSON keeps its text. A generated event is kept compact, as
/// indices into fragments that the events of its log share, and is rendered to the same
/// JSON text on demand: a log of ten million events would otherwise take about 20 GB.
/// [`LogEvent::as_json`] keeps the rendered text of a compact event for the life of the
/// event, so code that walks a large log should use [`LogEvent::write_json`] instead.
/// An event serializes as the JSON object itself.
#[derive(Clone)]
pub struct LogEvent {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Text(Box<TextEvent>),
    Compact {
        tables: Arc<EventTables>,
        record: EventRecord,
        text: OnceBox<String>,
    },
}

/// An event kept as JSON text, with the fields that are read often.
#[derive(Clone)]
struct TextEvent {
    /// JSON object text, valid by construction.
    json: Box<str>,
    published: DateTime<Utc>,
    event_type: Box<str>,
    uuid: Box<str>,
}

/// The fields of a LogEvent that [`LogEvent`] keeps parsed next to the text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexedFields {
    published: Option<String>,
    event_type: Option<String>,
    uuid: Option<String>,
}

impl LogEvent {
    /// Builds an event from a LogEvent JSON object; `published`, `eventType` and `uuid` are required.
    pub fn from_value(value: &Value) -> Result<Self, LogEventError> {
        Self::from_json(&serde_json::to_string(value)?)
    }

    /// Builds an event from the JSON text of a LogEvent object; the text is kept as is.
    pub fn from_json(text: &str) -> Result<Self, LogEventError> {
        let fields: IndexedFields = serde_json::from_str(text)?;
        let published_text = fields
            .published
            .ok_or(LogEventError::MissingField("published"))?;
        let published = crate::time::parse_iso(&published_text)
            .ok_or(LogEventError::InvalidPublished(published_text))?;
        let event = TextEvent {
            json: text.trim().into(),
            published,
            event_type: fields
                .event_type
                .ok_or(LogEventError::MissingField("eventType"))?
                .into(),
            uuid: fields
                .uuid
                .ok_or(LogEventError::MissingField("uuid"))?
                .into(),
        };
        Ok(LogEvent {
            inner: Inner::Text(Box::new(event)),
        })
    }

    /// Wraps a generated event.
    pub(crate) fn from_record(tables: Arc<EventTables>, record: EventRecord) -> Self {
        LogEvent {
            inner: Inner::Compact {
                tables,
                record,
                text: OnceBox::new(),
            },
        }
    }

    /// Returns the JSON text of the event; generated events are compact.
    ///
    /// A generated event is rendered on the first call and the text is kept.
    pub fn as_json(&self) -> &str {
        match &self.inner {
            Inner::Text(event) => &event.json,
            Inner::Compact {
                tables,
                record,
                text,
            } => text.get_or_init(|| {
                let mut out = String::with_capacity(2048);
                tables.write(record, &mut out);
                Box::new(out)
            }),
        }
    }

    /// Appends the JSON text of the event to `out` without keeping a rendered copy.
    pub fn write_json(&self, out: &mut String) {
        match &self.inner {
            Inner::Text(event) => out.push_str(&event.json),
            Inner::Compact {
                tables,
                record,
                text,
            } => match text.get() {
                Some(rendered) => out.push_str(rendered),
                None => tables.write(record, out),
            },
        }
    }

    /// Returns the JSON text of the event, rendered anew if not kept.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// Parses the event into a JSON value.
    pub fn to_value(&self) -> Value {
        // The text is valid JSON by construction, so the fallback is never taken.
        serde_json::from_str(&self.to_json_string()).unwrap_or(Value::Null)
    }

    /// Returns the `published` timestamp.
    pub fn published(&self) -> DateTime<Utc> {
        match &self.inner {
            Inner::Text(event) => event.published,
            Inner::Compact { record, .. } => record.published,
        }
    }

    /// Returns the `eventType`, e.g. `user.session.start`.
    pub fn event_type(&self) -> &str {
        match &self.inner {
            Inner::Text(event) => &event.event_type,
            Inner::Compact { tables, record, .. } => tables.event_type(record),
        }
    }

    /// Returns the event `uuid`.
    pub fn uuid(&self) -> String {
        match &self.inner {
            Inner::Text(event) => event.uuid.to_string(),
            Inner::Compact { record, .. } => event_uuid(join_key(record.key)),
        }
    }
}

impl fmt::Debug for LogEvent {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("LogEvent")
            .field("published", &self.published())
            .field("event_type", &self.event_type())
            .field("uuid", &self.uuid())
            .finish_non_exhaustive()
    }
}

impl PartialEq for LogEvent {
    fn eq(&self, other: &Self) -> bool {
        self.to_json_string() == other.to_json_string()
    }
}

impl Serialize for LogEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.to_json_string();
        let raw: &RawValue = serde_json::from_str(&text).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for LogEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        LogEvent::from_json(raw.get()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_event_round_trips_through_serde() {
        let value = json!({
            "uuid": "c108c4cc-6641-11f0-b8ab-e7cc1dd1a43e",
            "published": "2025-07-21T14:48:24.597Z",
            "eventType": "system.brand.create",
            "actor": {"id": "00u1", "type": "User"},
        });
        let event = LogEvent::from_value(&value).unwrap();
        assert_eq!(event.event_type(), "system.brand.create");
        assert_eq!(event.to_value(), value);

        let text = serde_json::to_string(&event).unwrap();
        let back: LogEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn log_event_requires_published() {
        let value = json!({"uuid": "x", "eventType": "user.session.start"});
        let error = LogEvent::from_value(&value).unwrap_err();
        assert!(matches!(error, LogEventError::MissingField("published")));
    }
}
