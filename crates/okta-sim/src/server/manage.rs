//! Write-back endpoints: remove a group member, unassign an app user, and suspend,
//! unsuspend or deactivate a user.
//!
//! Each change is applied to the live org and written to the System Log as the event
//! Okta writes for it (`group.user_membership.remove`,
//! `application.user_membership.remove`, `user.lifecycle.suspend`,
//! `user.lifecycle.unsuspend`, `user.lifecycle.deactivate`), stored at the time of the
//! request with the calling client as actor. The endpoints need the `manage` scope of
//! their resource. A lifecycle operation that the user's status does not allow gets
//! 403 `E0000038`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use crate::generate::Org;
use crate::generate::events::{
    Actor, Draft, EventLog, Target, app_target, app_user_target, group_target, user_target,
};
use crate::model::{GroupType, UserStatus};

const USERS_MANAGE: &str = "okta.users.manage";
const GROUPS_MANAGE: &str = "okta.groups.manage";
const APPS_MANAGE: &str = "okta.apps.manage";

/// A System Log event to store for a change.
struct Change {
    event_type: &'static str,
    display_message: &'static str,
    legacy_event_type: Option<&'static str>,
    targets: Vec<Target>,
}

/// Stores the event of a change, made by `client_id` through `request_path`, as the newest event.
fn record(org: &mut Org, client_id: &str, request_path: &str, change: Change) {
    let mut log = EventLog::new(ChaCha8Rng::from_entropy());
    log.push(Draft {
        legacy_event_type: change.legacy_event_type,
        targets: change.targets,
        request_url: Some(request_path.to_string()),
        ..Draft::new(
            Utc::now(),
            change.event_type,
            change.display_message,
            Actor::client_app(client_id),
        )
    });
    org.events.extend(log.into_sorted());
}

/// `DELETE /api/v1/groups/{groupId}/users/{userId}`: 204 once the user is no member.
pub(crate) async fn remove_group_member(
    State(state): State<Arc<AppState>>,
    Path((group_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let grant = state
        .authority
        .authorize(&headers, GROUPS_MANAGE, uri.path())?;
    let mut org = state.write_org();
    let group = org
        .group(&group_id)
        .ok_or_else(|| ApiError::not_found(&group_id, "UserGroup"))?
        .clone();
    let user = org
        .user(&user_id)
        .ok_or_else(|| ApiError::not_found(&user_id, "User"))?
        .clone();
    // NOTE: Okta rejects membership changes of imported and built-in groups. Its error
    // code for this case is not documented, so the generic permission error is used.
    if group.group_type != GroupType::OktaGroup {
        return Err(ApiError::forbidden());
    }
    let removed = org.memberships.get_mut(&group.id).is_some_and(|members| {
        let before = members.len();
        members.retain(|member| *member != user.id);
        members.len() < before
    });
    if removed {
        let change = Change {
            event_type: "group.user_membership.remove",
            display_message: "Remove user from group membership",
            legacy_event_type: Some("core.user_group_member.user_remove"),
            targets: vec![user_target(&user), group_target(&group)],
        };
        record(&mut org, &grant.client_id, uri.path(), change);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/v1/apps/{appId}/users/{userId}`: removes a direct assignment; a user
/// assigned only through a group cannot be unassigned here, as in Okta.
pub(crate) async fn unassign_app_user(
    State(state): State<Arc<AppState>>,
    Path((app_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let grant = state
        .authority
        .authorize(&headers, APPS_MANAGE, uri.path())?;
    let mut org = state.write_org();
    let app = org
        .app(&app_id)
        .ok_or_else(|| ApiError::not_found(&app_id, "AppInstance"))?
        .clone();
    let user = org
        .user(&user_id)
        .ok_or_else(|| ApiError::not_found(&user_id, "User"))?
        .clone();
    let removed = org
        .app_user_assignments
        .get_mut(&app.id)
        .is_some_and(|users| {
            let before = users.len();
            users.retain(|assigned| *assigned != user.id);
            users.len() < before
        });
    if !removed {
        return Err(ApiError::not_found(&user_id, "AppUser"));
    }
    let change = Change {
        event_type: "application.user_membership.remove",
        display_message: "Remove user from application membership",
        legacy_event_type: Some("app.generic.unprovision.user_unassigned"),
        targets: vec![
            app_user_target(&user, &app),
            app_target(&app),
            user_target(&user),
        ],
    };
    record(&mut org, &grant.client_id, uri.path(), change);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A lifecycle operation of `POST /api/v1/users/{id}/lifecycle/{operation}`.
struct Lifecycle {
    allowed: fn(UserStatus) -> bool,
    result: UserStatus,
    change: Change,
}

fn lifecycle(operation: &str) -> Option<Lifecycle> {
    let (allowed, result, event_type, display_message, legacy): (
        fn(UserStatus) -> bool,
        _,
        _,
        _,
        _,
    ) = match operation {
        "suspend" => (
            |status| status == UserStatus::Active,
            UserStatus::Suspended,
            "user.lifecycle.suspend",
            "Suspend Okta user",
            None,
        ),
        "unsuspend" => (
            |status| status == UserStatus::Suspended,
            UserStatus::Active,
            "user.lifecycle.unsuspend",
            "Unsuspend Okta user",
            None,
        ),
        "deactivate" => (
            |status| status != UserStatus::Deprovisioned,
            UserStatus::Deprovisioned,
            "user.lifecycle.deactivate",
            "Deactivate Okta user",
            Some("core.user.config.user_deactivated"),
        ),
        _ => return None,
    };
    Some(Lifecycle {
        allowed,
        result,
        change: Change {
            event_type,
            display_message,
            legacy_event_type: legacy,
            targets: Vec::new(),
        },
    })
}

/// `POST /api/v1/users/{id}/lifecycle/{suspend|unsuspend|deactivate}`: 200 with `{}`.
pub(crate) async fn user_lifecycle(
    State(state): State<Arc<AppState>>,
    Path((user_id, operation)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let grant = state
        .authority
        .authorize(&headers, USERS_MANAGE, uri.path())?;
    let Some(mut lifecycle) = lifecycle(&operation) else {
        return Err(ApiError::not_found(uri.path(), "Resource"));
    };
    let mut org = state.write_org();
    let now = Utc::now();
    let user = org
        .users
        .iter_mut()
        .find(|user| user.id == user_id)
        .ok_or_else(|| ApiError::not_found(&user_id, "User"))?;
    if !(lifecycle.allowed)(user.status) {
        return Err(ApiError::status_not_allowed());
    }
    user.status = lifecycle.result;
    user.status_changed = Some(now);
    user.last_updated = now;
    lifecycle.change.targets = vec![user_target(user)];
    record(&mut org, &grant.client_id, uri.path(), lifecycle.change);
    Ok(Json(json!({})).into_response())
}
