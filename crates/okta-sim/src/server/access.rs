//! Factors, group rules, group owners, admin roles of groups, and the admin assignee
//! list of the management API.
//!
//! `GET /api/v1/users/{id}/factors` and `GET /api/v1/groups/{id}/roles` return whole
//! lists. Group rules page 50 by default and 200 at most, group owners 1000 by default.
//! `GET /api/v1/iam/assignees/users` pages in its body, `{"value": [...], "_links":
//! {"next": {"href": ...}}}`, 100 by default, and lists every user with a directly
//! assigned admin role.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::AppState;
use super::directory::query_params;
use super::error::ApiError;
use super::paging::{self, Links};

const USERS_READ: &str = "okta.users.read";
const GROUPS_READ: &str = "okta.groups.read";
const ROLES_READ: &str = "okta.roles.read";

/// `GET /api/v1/users/{id}/factors`.
pub(crate) async fn user_factors(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, USERS_READ, uri.path())?;
    let org = state.read_org();
    let user = org
        .user(&id)
        .ok_or_else(|| ApiError::not_found(&id, "User"))?;
    let factors: Vec<Value> = org
        .factors
        .get(&user.id)
        .into_iter()
        .flatten()
        .map(|factor| factor.to_okta_json(&state.base_url, &user.id))
        .collect();
    Ok(Json(factors).into_response())
}

/// `GET /api/v1/groups/rules`, with `search` (rule name contains) and
/// `expand=groupIdToGroupNameMap`.
pub(crate) async fn group_rules(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, GROUPS_READ, uri.path())?;
    let params = query_params(&uri);
    let limit = paging::limit(&params, 50, 200)?;
    let expand = params
        .get("expand")
        .is_some_and(|expand| expand.contains("groupIdToGroupNameMap"));
    let org = state.read_org();
    let search = params.get("search").map(|text| text.to_lowercase());
    let mut rules: Vec<_> = org
        .group_rules
        .iter()
        .filter(|rule| {
            search
                .as_ref()
                .is_none_or(|text| rule.name.to_lowercase().contains(text))
        })
        .collect();
    rules.sort_by(|left, right| left.id.cmp(&right.id));
    let render = |rule: &&crate::access::GroupRule| {
        let names = expand.then(|| {
            let names: Map<String, Value> = rule
                .group_ids
                .iter()
                .filter_map(|id| org.group(id).map(|group| (id.clone(), json!(group.name))))
                .collect();
            Value::Object(names)
        });
        rule.to_okta_json(names)
    };
    let after = params.get("after").map(String::as_str);
    let page = paging::page_by_key(rules, |rule| &rule.id, after, limit, render);
    Ok(respond(&state, &uri, page))
}

fn respond(state: &AppState, uri: &Uri, page: paging::Page) -> Response {
    let links = Links {
        base_url: &state.base_url,
        uri,
    };
    let next = page.next_after.map(|cursor| links.next_url(&cursor, &[]));
    paging::paged_response(page.items, &links.self_url(), next.as_deref())
}

/// `GET /api/v1/groups/{id}/owners`.
pub(crate) async fn group_owners(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, GROUPS_READ, uri.path())?;
    let params = query_params(&uri);
    let limit = paging::limit(&params, 1000, 1000)?;
    let org = state.read_org();
    let group = org
        .group(&id)
        .ok_or_else(|| ApiError::not_found(&id, "UserGroup"))?;
    let mut owners: Vec<_> = org
        .group_owners
        .get(&group.id)
        .into_iter()
        .flatten()
        .filter_map(|user_id| org.user(user_id))
        .collect();
    owners.sort_by(|left, right| left.id.cmp(&right.id));
    let render = |user: &&crate::model::User| {
        json!({
            "id": user.id,
            "type": "USER",
            "displayName": user.display_name(),
            "originType": "OKTA_DIRECTORY",
            "originId": null,
            "resolved": true,
            "lastUpdated": crate::time::format_okta(group.last_updated),
        })
    };
    let after = params.get("after").map(String::as_str);
    let page = paging::page_by_key(owners, |user| &user.id, after, limit, render);
    Ok(respond(&state, &uri, page))
}

/// `GET /api/v1/groups/{id}/roles`: standard and custom admin roles of the group.
pub(crate) async fn group_roles(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, ROLES_READ, uri.path())?;
    let org = state.read_org();
    let group = org
        .group(&id)
        .ok_or_else(|| ApiError::not_found(&id, "UserGroup"))?;
    let roles: Vec<Value> = org
        .group_roles
        .get(&group.id)
        .into_iter()
        .flatten()
        .map(|role| role.to_okta_json(&state.base_url, &group.id))
        .collect();
    Ok(Json(roles).into_response())
}

/// `GET /api/v1/iam/assignees/users`: users with directly assigned admin roles, paged
/// in the body.
pub(crate) async fn role_assignees(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, ROLES_READ, uri.path())?;
    let params = query_params(&uri);
    let limit = paging::limit(&params, 100, 1000)?;
    let org = state.read_org();
    let base_url = &state.base_url;
    let assignees: Vec<&String> = org
        .admin_roles
        .iter()
        .filter(|(_, roles)| !roles.is_empty())
        .map(|(user_id, _)| user_id)
        .collect();
    let render = |user_id: &&String| {
        json!({
            "id": user_id,
            "orn": format!("orn:okta:directory:{}:users:{user_id}", org.org_id),
            "_links": {
                "self": {"href": format!("{base_url}/api/v1/users/{user_id}")},
                "roles": {"href": format!("{base_url}/api/v1/users/{user_id}/roles")},
            },
        })
    };
    let after = params.get("after").map(String::as_str);
    let page = paging::page_by_key(assignees, |user_id| user_id.as_str(), after, limit, render);
    let links = Links {
        base_url,
        uri: &uri,
    };
    let mut body_links = json!({"self": {"href": links.self_url()}});
    if let Some(cursor) = page.next_after {
        body_links["next"] = json!({"href": links.next_url(&cursor, &[])});
    }
    Ok(Json(json!({"value": page.items, "_links": body_links})).into_response())
}
