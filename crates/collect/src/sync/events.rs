//! System Log events that change entitlements: which objects they name, and
//! which event explains a change that a sync found.

use idaudit_okta::models::{self, LogEvent};
use idaudit_store::{Attribution, ChangeDraft, StoredEvent};

/// Event types after which an incremental sync reads objects again.
pub(super) const ENTITLEMENT_EVENT_TYPES: &[&str] = &[
    "group.user_membership.add",
    "group.user_membership.remove",
    "application.user_membership.add",
    "application.user_membership.remove",
    "application.user_membership.update",
    "group.application_assignment.add",
    "group.application_assignment.remove",
    "group.application_assignment.update",
    "user.account.privilege.grant",
    "user.account.privilege.revoke",
    "group.privilege.grant",
    "group.privilege.revoke",
    "user.mfa.factor.activate",
    "user.mfa.factor.deactivate",
    "user.mfa.factor.reset_all",
    "user.mfa.factor.suspend",
    "user.mfa.factor.unsuspend",
    "user.mfa.factor.update",
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.deactivate",
    "user.lifecycle.reactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.lifecycle.delete.initiated",
    "user.lifecycle.delete.completed",
    "group.lifecycle.create",
    "group.lifecycle.delete",
];

/// An entitlement event with the ids of its targets by type.
#[derive(Clone, Debug)]
pub(super) struct EntitlementEvent {
    pub uuid: String,
    pub published: String,
    pub event_type: String,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub apps: Vec<String>,
}

impl EntitlementEvent {
    /// Reads a stored event; `None` when its JSON is not a LogEvent.
    pub fn from_stored(event: &StoredEvent) -> Option<EntitlementEvent> {
        let value: serde_json::Value = serde_json::from_str(&event.raw).ok()?;
        let parsed: LogEvent = models::from_value(&value).ok()?;
        let mut entitlement = EntitlementEvent {
            uuid: event.uuid.clone(),
            published: event.published.clone(),
            event_type: event.event_type.clone(),
            users: Vec::new(),
            groups: Vec::new(),
            apps: Vec::new(),
        };
        for target in parsed.target {
            let Some(id) = target.id else { continue };
            match target.entity_type.as_deref() {
                Some("User") => entitlement.users.push(id),
                Some("UserGroup") => entitlement.groups.push(id),
                Some("AppInstance") => entitlement.apps.push(id),
                _ => {}
            }
        }
        Some(entitlement)
    }

    fn is(&self, prefix: &str) -> bool {
        self.event_type.starts_with(prefix)
    }

    fn names_user(&self, id: &str) -> bool {
        self.users.iter().any(|user| user == id)
    }

    fn names_group(&self, id: &str) -> bool {
        self.groups.iter().any(|group| group == id)
    }

    fn names_app(&self, id: &str) -> bool {
        self.apps.iter().any(|app| app == id)
    }

    /// Returns whether the event type adds (`Some(true)`) or removes
    /// (`Some(false)`) access, or `None` when it may do either.
    fn grants(&self) -> Option<bool> {
        let last = self.event_type.rsplit('.').next().unwrap_or_default();
        match last {
            "add" | "grant" | "activate" | "create" | "reactivate" | "unsuspend" => Some(true),
            "remove" | "revoke" | "deactivate" | "suspend" | "reset_all" | "delete" => Some(false),
            _ => None,
        }
    }

    /// Returns how well this event explains `change`, from 0 (unrelated) to 2.
    /// An event of the change's own kind, such as a membership event for a
    /// membership, scores 2. A lifecycle event of the user or group that the
    /// access depends on, such as a deactivation or a group deletion, scores 1.
    fn relevance(&self, change: &ChangeDraft) -> u8 {
        if self.explains_directly(change) {
            return 2;
        }
        let subject = change.subject_id.as_str();
        let user_lifecycle =
            change.subject_type == "user" && self.is("user.lifecycle.") && self.names_user(subject);
        let group_lifecycle = self.is("group.lifecycle.")
            && match change.kind.as_str() {
                "membership" | "group_owner" | "group_rule" => self.names_group(&change.object_id),
                "app_assignment" => granting_groups(change)
                    .iter()
                    .any(|group| self.names_group(group)),
                _ => change.subject_type == "group" && self.names_group(subject),
            };
        u8::from(user_lifecycle || group_lifecycle)
    }

    fn explains_directly(&self, change: &ChangeDraft) -> bool {
        let subject = change.subject_id.as_str();
        let object = change.object_id.as_str();
        match change.kind.as_str() {
            "membership" => {
                self.is("group.user_membership.")
                    && self.names_user(subject)
                    && self.names_group(object)
            }
            "app_assignment" => {
                let through = granting_groups(change);
                (self.is("application.user_membership.")
                    && self.names_user(subject)
                    && self.names_app(object))
                    || (self.is("group.application_assignment.")
                        && self.names_app(object)
                        && through.iter().any(|group| self.names_group(group)))
                    || (self.is("group.user_membership.")
                        && self.names_user(subject)
                        && through.iter().any(|group| self.names_group(group)))
            }
            "app_group_assignment" => {
                self.is("group.application_assignment.")
                    && self.names_group(subject)
                    && self.names_app(object)
            }
            "role" if change.subject_type == "group" => {
                self.is("group.privilege.") && self.names_group(subject)
            }
            "role" => self.is("user.account.privilege.") && self.names_user(subject),
            "factor" => self.is("user.mfa.factor.") && self.names_user(subject),
            "user_status" => self.is("user.lifecycle.") && self.names_user(subject),
            _ => false,
        }
    }
}

/// Returns the groups named in the old and new value of an app assignment,
/// such as `GROUP 00g1`.
fn granting_groups(change: &ChangeDraft) -> Vec<&str> {
    [change.old_value.as_deref(), change.new_value.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(|value| value.strip_prefix("GROUP "))
        .collect()
}

/// Attributes a change to the event that explains it best: the most
/// relevant, then one whose direction (adding or removing access) matches
/// the change, then the newest. A change no event explains is attributed to
/// the sync, at `sync_time`.
pub(super) fn attribute(
    events: &[EntitlementEvent],
    change: &ChangeDraft,
    sync_time: &str,
) -> Attribution {
    let expected_direction = match change.action.as_str() {
        "added" => Some(true),
        "removed" => Some(false),
        _ => None,
    };
    let chosen = events
        .iter()
        .map(|event| (event.relevance(change), event))
        .filter(|(relevance, _)| *relevance > 0)
        .max_by(|(left_relevance, left), (right_relevance, right)| {
            let agrees = |event: &EntitlementEvent| {
                expected_direction.is_none()
                    || event.grants().is_none()
                    || event.grants() == expected_direction
            };
            left_relevance
                .cmp(right_relevance)
                .then(agrees(left).cmp(&agrees(right)))
                .then(left.published.cmp(&right.published))
        });
    match chosen {
        Some((_, event)) => Attribution {
            time: event.published.clone(),
            event_uuid: Some(event.uuid.clone()),
        },
        None => Attribution {
            time: sync_time.to_string(),
            event_uuid: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use idaudit_store::ChangeDraft;

    use super::{EntitlementEvent, attribute};

    fn event(uuid: &str, event_type: &str, users: &[&str], groups: &[&str]) -> EntitlementEvent {
        EntitlementEvent {
            uuid: uuid.to_string(),
            published: format!("2026-12-04T10:00:0{}.000Z", uuid.len()),
            event_type: event_type.to_string(),
            users: users.iter().map(|id| id.to_string()).collect(),
            groups: groups.iter().map(|id| id.to_string()).collect(),
            apps: Vec::new(),
        }
    }

    fn membership(action: &str, user: &str, group: &str) -> ChangeDraft {
        ChangeDraft {
            kind: "membership".to_string(),
            action: action.to_string(),
            subject_type: "user".to_string(),
            subject_id: user.to_string(),
            object_id: group.to_string(),
            old_value: None,
            new_value: None,
        }
    }

    #[test]
    fn membership_matched_by_user_group_and_direction() {
        let events = [
            event("a", "group.user_membership.add", &["u1"], &["g1"]),
            event("bb", "group.user_membership.remove", &["u1"], &["g1"]),
            event("ccc", "group.user_membership.remove", &["u2"], &["g1"]),
        ];
        let added = attribute(&events, &membership("added", "u1", "g1"), "now");
        assert_eq!(added.event_uuid.as_deref(), Some("a"));
        let removed = attribute(&events, &membership("removed", "u1", "g1"), "now");
        assert_eq!(removed.event_uuid.as_deref(), Some("bb"));
        let unexplained = attribute(&events, &membership("added", "u3", "g1"), "now");
        assert_eq!(unexplained.event_uuid, None);
        assert_eq!(unexplained.time, "now");
    }

    #[test]
    fn own_kind_preferred_over_later_lifecycle() {
        let events = [
            event("a", "group.user_membership.remove", &["u1"], &["g1"]),
            event("bb", "user.lifecycle.suspend", &["u1"], &[]),
        ];
        let removed = attribute(&events, &membership("removed", "u1", "g1"), "now");
        assert_eq!(removed.event_uuid.as_deref(), Some("a"));
        let other_group = attribute(&events, &membership("removed", "u1", "g2"), "now");
        assert_eq!(other_group.event_uuid.as_deref(), Some("bb"));
        let unexplained = attribute(&events, &membership("added", "u3", "g1"), "now");
        assert_eq!(unexplained.event_uuid, None);
        assert_eq!(unexplained.time, "now");
    }
}
