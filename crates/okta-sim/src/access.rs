//! Factors, group rules, group owners and group admin roles of a simulated org, and
//! their Okta JSON shapes.
//!
//! Like [`crate::model`], these are plain data that tests may read and change; each
//! `to_okta_json` method renders the object as Okta's management API returns it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::time::format_okta;

/// An enrolled MFA factor of a user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub id: String,
    /// Okta `factorType`, e.g. `push`, `token:software:totp`, `sms`, `email`, `webauthn`.
    pub factor_type: String,
    /// Okta `provider`, e.g. `OKTA`, `GOOGLE` or `FIDO`.
    pub provider: String,
    pub vendor_name: String,
    /// `ACTIVE`, or `PENDING_ACTIVATION` for an enrolment not yet finished.
    pub status: String,
    pub created: DateTime<Utc>,
    /// Factor-specific `profile` object, e.g. the phone number of an `sms` factor.
    pub profile: Value,
}

impl Factor {
    /// Renders the factor as `GET /api/v1/users/{id}/factors` lists it.
    pub fn to_okta_json(&self, base_url: &str, user_id: &str) -> Value {
        let url = format!("{base_url}/api/v1/users/{user_id}/factors/{}", self.id);
        json!({
            "id": self.id,
            "factorType": self.factor_type,
            "provider": self.provider,
            "vendorName": self.vendor_name,
            "status": self.status,
            "created": format_okta(self.created),
            "lastUpdated": format_okta(self.created),
            "profile": self.profile,
            "_links": {
                "self": {"href": url, "hints": {"allow": ["GET", "DELETE"]}},
                "user": {"href": format!("{base_url}/api/v1/users/{user_id}"), "hints": {"allow": ["GET"]}},
            },
        })
    }
}

/// A group rule: users matching an Okta expression are added to groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRule {
    /// Rule id (`0pr…`).
    pub id: String,
    pub name: String,
    /// `ACTIVE`, `INACTIVE` or `INVALID`.
    pub status: String,
    /// Okta expression language condition, e.g. `user.department=="Engineering"`.
    pub expression: String,
    pub group_ids: Vec<String>,
    pub excluded_user_ids: Vec<String>,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
}

impl GroupRule {
    /// Renders the rule as `GET /api/v1/groups/rules` lists it; `group_names` fills
    /// `_embedded.groupIdToGroupNameMap` when `expand=groupIdToGroupNameMap` is asked for.
    pub fn to_okta_json(&self, group_names: Option<Value>) -> Value {
        let mut value = json!({
            "type": "group_rule",
            "id": self.id,
            "status": self.status,
            "name": self.name,
            "created": format_okta(self.created),
            "lastUpdated": format_okta(self.last_updated),
            "conditions": {
                "people": {"users": {"exclude": self.excluded_user_ids}, "groups": {"exclude": []}},
                "expression": {"value": self.expression, "type": "urn:okta:expression:1.0"},
            },
            "actions": {"assignUserToGroups": {"groupIds": self.group_ids}},
        });
        if let Some(names) = group_names {
            value["_embedded"] = json!({"groupIdToGroupNameMap": names});
        }
        value
    }
}

/// An admin role assigned to a group, standard (`USER_ADMIN`) or custom (`CUSTOM`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRole {
    pub id: String,
    /// Okta role type, e.g. `HELP_DESK_ADMIN`, or `CUSTOM` for a custom role.
    pub role_type: String,
    pub label: String,
    /// Id of the custom role (`cr0…`); set for `CUSTOM` roles.
    pub custom_role_id: Option<String>,
    /// Id of the resource set the custom role applies to; set for `CUSTOM` roles.
    pub resource_set_id: Option<String>,
    pub created: DateTime<Utc>,
}

impl GroupRole {
    /// Renders the assignment as `GET /api/v1/groups/{id}/roles` lists it.
    pub fn to_okta_json(&self, base_url: &str, group_id: &str) -> Value {
        let mut value = json!({
            "id": self.id,
            "label": self.label,
            "type": self.role_type,
            "status": "ACTIVE",
            "created": format_okta(self.created),
            "lastUpdated": format_okta(self.created),
            "assignmentType": "GROUP",
            "_links": {"assignee": {"href": format!("{base_url}/api/v1/groups/{group_id}")}},
        });
        if let (Some(role), Some(resource_set)) = (&self.custom_role_id, &self.resource_set_id) {
            value["role"] = json!(role);
            value["resource-set"] = json!(resource_set);
            value["_links"]["role"] =
                json!({"href": format!("{base_url}/api/v1/iam/roles/{role}")});
            value["_links"]["resource-set"] =
                json!({"href": format!("{base_url}/api/v1/iam/resource-sets/{resource_set}")});
        }
        value
    }
}
