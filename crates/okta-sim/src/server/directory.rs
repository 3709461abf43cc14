//! Users, groups and apps endpoints of the management API.
//!
//! Lists are ordered by object id and paged with the id of the last object as the
//! `after` cursor. Page sizes follow Okta: users 200 by default and at most; groups 200
//! (Okta documents both 200 and 10000, and 200 is what most orgs get); group members 1000;
//! apps 20, at most 200; app users 50, at most 500; app groups 20, at most 200.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::index::{ById, Ranks};
use super::json_text::{json_array, push_json_string};
use super::paging::{self, Links, Page, Params};
use crate::filter::{Expr, MatchOptions, Operator};
use crate::generate::{AssignmentScope, Org};
use crate::ids::push_derived_object_id;
use crate::model::{App, Group, User, UserStatus};
use crate::time::{format_okta, push_okta_time};

const USERS_READ: &str = "okta.users.read";
const GROUPS_READ: &str = "okta.groups.read";
const APPS_READ: &str = "okta.apps.read";
const ROLES_READ: &str = "okta.roles.read";

/// Parses the query string of a request.
pub(crate) fn query_params(uri: &Uri) -> Params {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn respond(state: &AppState, uri: &Uri, page: Page) -> Response {
    let links = Links {
        base_url: &state.base_url,
        uri,
    };
    let next = page.next_after.map(|cursor| links.next_url(&cursor, &[]));
    paging::paged_response(page.items, &links.self_url(), next.as_deref())
}

/// Checks that a user `filter` uses only the attributes and operators Okta allows there.
fn check_user_filter(expr: &Expr) -> Result<(), ApiError> {
    let allowed = expr
        .comparisons()
        .iter()
        .all(|(path, operator)| match *path {
            "lastUpdated" => *operator == Operator::Eq || operator.is_ordering(),
            "status" | "id" | "profile.login" | "profile.email" | "profile.firstName"
            | "profile.lastName" => *operator == Operator::Eq,
            _ => false,
        });
    if allowed {
        Ok(())
    } else {
        Err(ApiError::invalid_search())
    }
}

/// Selection of users for a list request.
enum UserSelection {
    /// No `filter` or `search`: every user except the DEPROVISIONED ones.
    Default,
    Matching(Expr, MatchOptions),
}

impl UserSelection {
    fn from_params(params: &Params) -> Result<UserSelection, ApiError> {
        if let Some(search) = params.get("search") {
            let expr = Expr::parse(search).map_err(|_| ApiError::invalid_search())?;
            return Ok(UserSelection::Matching(
                expr,
                MatchOptions {
                    ignore_value_case: true,
                },
            ));
        }
        if let Some(filter) = params.get("filter") {
            let expr = Expr::parse(filter).map_err(|_| ApiError::invalid_search())?;
            check_user_filter(&expr)?;
            return Ok(UserSelection::Matching(expr, MatchOptions::default()));
        }
        Ok(UserSelection::Default)
    }

    fn includes(&self, user: &User, base_url: &str) -> bool {
        match self {
            UserSelection::Default => user.status != UserStatus::Deprovisioned,
            UserSelection::Matching(expr, options) => {
                expr.matches(&user.to_okta_json(base_url), *options)
            }
        }
    }
}

/// `GET /api/v1/users`: DEPROVISIONED users are left out unless `filter` or `search` is given.
pub(crate) async fn list_users(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, USERS_READ, uri.path())?;
    let params = query_params(&uri);
    let org = state.read_org();
    let base_url = &state.base_url;
    if let Some(prefix) = params.get("q") {
        let limit = paging::limit(&params, 10, 200)?;
        return Ok(Json(users_starting_with(&org, prefix, limit, base_url)).into_response());
    }
    let selection = UserSelection::from_params(&params)?;
    let limit = paging::limit(&params, 200, 200)?;
    let after = params.get("after").map(String::as_str);
    let index = state.index.users(&org);
    let mut selected: Vec<usize> = index
        .after(&org.users, |user| &user.id, after)
        .filter(|&position| selection.includes(&org.users[position], base_url))
        .take(limit + 1)
        .collect();
    let next_after = split_page(&mut selected, limit).map(|last| org.users[last].id.clone());
    let items = state.index.user_json(&org, &selected, base_url);
    Ok(respond_text(&state, &uri, &items, next_after))
}

/// Cuts a list of `limit + 1` selected items to the page and returns its last item if
/// the page is full and more follow.
fn split_page(selected: &mut Vec<usize>, limit: usize) -> Option<usize> {
    let more = selected.len() > limit && limit > 0;
    selected.truncate(limit);
    if more { selected.last().copied() } else { None }
}

/// Responds with a page of objects already rendered as JSON text.
fn respond_text(
    state: &AppState,
    uri: &Uri,
    items: &[Arc<str>],
    next_after: Option<String>,
) -> Response {
    let capacity = items.iter().map(|item| item.len() + 1).sum::<usize>() + 2;
    let body = json_array(items.len(), capacity, |position, out| {
        out.push_str(&items[position]);
    });
    respond_body(state, uri, body, next_after)
}

/// Responds with the JSON array text of a page and its `link` headers.
fn respond_body(state: &AppState, uri: &Uri, body: String, next_after: Option<String>) -> Response {
    let links = Links {
        base_url: &state.base_url,
        uri,
    };
    let next = next_after.map(|cursor| links.next_url(&cursor, &[]));
    paging::paged_json_response(body, &links.self_url(), next.as_deref())
}

/// Returns the users found by the `q` search: first name, last name or e-mail starting
/// with the text, as one page without a cursor.
fn users_starting_with(org: &Org, prefix: &str, limit: usize, base_url: &str) -> Vec<Value> {
    let prefix = prefix.to_lowercase();
    let mut users: Vec<&User> = org
        .users
        .iter()
        .filter(|user| user.status != UserStatus::Deprovisioned)
        .filter(|user| {
            let profile = &user.profile;
            [&profile.first_name, &profile.last_name, &profile.email]
                .iter()
                .any(|field| field.to_lowercase().starts_with(&prefix))
        })
        .collect();
    users.sort_by(|left, right| left.id.cmp(&right.id));
    users
        .iter()
        .take(limit)
        .map(|user| user.to_okta_json(base_url))
        .collect()
}

/// Finds a user by id, login, or the part of the login before `@` when that is unambiguous.
fn find_user<'a>(org: &'a Org, key: &str) -> Option<&'a User> {
    if let Some(user) = org.user(key) {
        return Some(user);
    }
    if let Some(user) = org
        .users
        .iter()
        .find(|user| user.profile.login.eq_ignore_ascii_case(key))
    {
        return Some(user);
    }
    let mut short_matches = org.users.iter().filter(|user| {
        user.profile
            .login
            .split('@')
            .next()
            .is_some_and(|short| short.eq_ignore_ascii_case(key))
    });
    let first = short_matches.next();
    if short_matches.next().is_some() {
        None
    } else {
        first
    }
}

/// `GET /api/v1/users/{id}`: also finds DEPROVISIONED users.
pub(crate) async fn get_user(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, USERS_READ, uri.path())?;
    let org = state.read_org();
    let user = find_user(&org, &id).ok_or_else(|| ApiError::not_found(&id, "User"))?;
    Ok(Json(user.to_okta_json(&state.base_url)).into_response())
}

/// `GET /api/v1/users/{id}/groups`: every group of the user, unpaged.
pub(crate) async fn user_groups(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, USERS_READ, uri.path())?;
    let org = state.read_org();
    let user = find_user(&org, &id).ok_or_else(|| ApiError::not_found(&id, "User"))?;
    let groups: Vec<Value> = org
        .groups
        .iter()
        .filter(|group| {
            org.memberships
                .get(&group.id)
                .is_some_and(|members| members.contains(&user.id))
        })
        .map(|group| group.to_okta_json(&state.base_url))
        .collect();
    Ok(Json(groups).into_response())
}

/// `GET /api/v1/users/{id}/roles`: admin roles assigned directly to the user.
pub(crate) async fn user_roles(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, ROLES_READ, uri.path())?;
    let org = state.read_org();
    let user = find_user(&org, &id).ok_or_else(|| ApiError::not_found(&id, "User"))?;
    let roles: Vec<Value> = org
        .admin_roles
        .get(&user.id)
        .into_iter()
        .flatten()
        .map(|role| role.to_okta_json(&state.base_url, &user.id))
        .collect();
    Ok(Json(roles).into_response())
}

fn group_json(org: &Org, group: &Group, base_url: &str, with_stats: bool) -> Value {
    let mut value = group.to_okta_json(base_url);
    if with_stats {
        let members = org.memberships.get(&group.id).map_or(0, Vec::len);
        let apps = org
            .app_group_assignments
            .values()
            .filter(|groups| groups.contains(&group.id))
            .count();
        value["_embedded"] = json!({"stats": {"usersCount": members, "appsCount": apps}});
    }
    value
}

fn check_group_filter(expr: &Expr) -> Result<(), ApiError> {
    let allowed = expr
        .comparisons()
        .iter()
        .all(|(path, operator)| match *path {
            "id" | "type" => *operator == Operator::Eq,
            "lastUpdated" | "lastMembershipUpdated" => {
                *operator == Operator::Eq || operator.is_ordering()
            }
            _ => false,
        });
    if allowed {
        Ok(())
    } else {
        Err(ApiError::invalid_search())
    }
}

/// `GET /api/v1/groups`, with `q` (name prefix, one page of at most 300), `filter`,
/// `search` and `expand=stats`.
pub(crate) async fn list_groups(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, GROUPS_READ, uri.path())?;
    let params = query_params(&uri);
    let org = state.read_org();
    let base_url = &state.base_url;
    let with_stats = params
        .get("expand")
        .is_some_and(|expand| expand.split(',').any(|part| part == "stats"));
    let render = |group: &&Group| group_json(&org, group, base_url, with_stats);
    if let Some(prefix) = params.get("q") {
        let mut groups: Vec<&Group> = org.groups.iter().collect();
        groups.sort_by(|left, right| left.id.cmp(&right.id));
        let prefix = prefix.to_lowercase();
        let limit = paging::limit(&params, 300, 300)?;
        let found: Vec<Value> = groups
            .iter()
            .filter(|group| group.name.to_lowercase().starts_with(&prefix))
            .take(limit)
            .map(render)
            .collect();
        return Ok(Json(found).into_response());
    }
    let matcher = group_matcher(&params)?;
    let limit = paging::limit(&params, 200, 200)?;
    let after = params.get("after").map(String::as_str);
    let index = state.index.groups(&org);
    let mut selected: Vec<usize> = index
        .after(&org.groups, |group| &group.id, after)
        .filter(|&position| {
            matcher.as_ref().is_none_or(|(expr, options)| {
                expr.matches(&org.groups[position].to_okta_json(base_url), *options)
            })
        })
        .take(limit + 1)
        .collect();
    let next_after = split_page(&mut selected, limit).map(|last| org.groups[last].id.clone());
    if !with_stats && !state.faults.faults.groups_next_after_last_page {
        let items = state.index.group_json(&org, &selected, base_url);
        return Ok(respond_text(&state, &uri, &items, next_after));
    }
    let mut page = Page {
        items: selected
            .iter()
            .map(|&position| render(&&org.groups[position]))
            .collect(),
        next_after,
    };
    if state.faults.faults.groups_next_after_last_page && page.next_after.is_none() {
        page.next_after = page
            .items
            .last()
            .and_then(|group| group["id"].as_str())
            .map(String::from);
    }
    Ok(respond(&state, &uri, page))
}

fn group_matcher(params: &Params) -> Result<Option<(Expr, MatchOptions)>, ApiError> {
    if let Some(search) = params.get("search") {
        let expr = Expr::parse(search).map_err(|_| ApiError::invalid_search())?;
        return Ok(Some((
            expr,
            MatchOptions {
                ignore_value_case: true,
            },
        )));
    }
    if let Some(filter) = params.get("filter") {
        let expr = Expr::parse(filter).map_err(|_| ApiError::invalid_search())?;
        check_group_filter(&expr)?;
        return Ok(Some((expr, MatchOptions::default())));
    }
    Ok(None)
}

/// `GET /api/v1/groups/{id}`.
pub(crate) async fn get_group(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, GROUPS_READ, uri.path())?;
    let org = state.read_org();
    let group = org
        .group(&id)
        .ok_or_else(|| ApiError::not_found(&id, "UserGroup"))?;
    let with_stats = query_params(&uri)
        .get("expand")
        .is_some_and(|expand| expand.contains("stats"));
    Ok(Json(group_json(&org, group, &state.base_url, with_stats)).into_response())
}

/// `GET /api/v1/groups/{id}/users`: members as user objects, whatever their status.
// NOTE: whether Okta lists DEPROVISIONED members here is not documented; they are listed.
pub(crate) async fn group_users(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, GROUPS_READ, uri.path())?;
    let params = query_params(&uri);
    let org = state.read_org();
    org.group(&id)
        .ok_or_else(|| ApiError::not_found(&id, "UserGroup"))?;
    let limit = paging::limit(&params, 1000, 1000)?;
    let after = params.get("after").map(String::as_str);
    let index = state.index.users(&org);
    let find = |user_id: &String| index.find(&org.users, |user| &user.id, user_id);
    let members: &[String] = org.memberships.get(&id).map_or(&[], Vec::as_slice);
    let ranks = state.index.sorted_user_ranks(&org, &index, members);
    let mut selected: Vec<usize> = if let Some(ranks) = ranks {
        let id_at = |rank: u32| org.users[index.position_at(rank)].id.as_str();
        let start = after.map_or(0, |after| {
            ranks.partition_point(|&rank| id_at(rank) <= after)
        });
        ranks[start..]
            .iter()
            .take(limit + 1)
            .map(|&rank| index.position_at(rank))
            .collect()
    } else {
        let mut all: Vec<usize> = members.iter().filter_map(find).collect();
        all.sort_by(|left, right| org.users[*left].id.cmp(&org.users[*right].id));
        all.retain(|&position| after.is_none_or(|after| org.users[position].id.as_str() > after));
        all.truncate(limit + 1);
        all
    };
    let next_after = split_page(&mut selected, limit).map(|last| org.users[last].id.clone());
    let items = state.index.user_json(&org, &selected, &state.base_url);
    Ok(respond_text(&state, &uri, &items, next_after))
}

/// `GET /api/v1/groups/{id}/apps`: apps the group is assigned to.
pub(crate) async fn group_apps(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state
        .authority
        .authorize(&headers, GROUPS_READ, uri.path())?;
    let params = query_params(&uri);
    let org = state.read_org();
    org.group(&id)
        .ok_or_else(|| ApiError::not_found(&id, "UserGroup"))?;
    let limit = paging::limit(&params, 20, 200)?;
    let mut apps: Vec<&App> = org
        .apps
        .iter()
        .filter(|app| {
            org.app_group_assignments
                .get(&app.id)
                .is_some_and(|groups| groups.contains(&id))
        })
        .collect();
    apps.sort_by(|left, right| left.id.cmp(&right.id));
    let after = params.get("after").map(String::as_str);
    let page = paging::page_by_key(
        apps,
        |app| &app.id,
        after,
        limit,
        |app| app.to_okta_json(&state.base_url, &org.org_id),
    );
    Ok(respond(&state, &uri, page))
}

/// A test that an app is selected by a filter.
type AppPredicate<'a> = Box<dyn Fn(&App) -> bool + 'a>;

/// Selects apps for `GET /api/v1/apps`: `user.id eq "…"` and `group.id eq "…"` select
/// by assignment, any other filter is matched against the app JSON.
fn app_matcher<'a>(
    org: &'a Org,
    filter: &str,
    base_url: &'a str,
) -> Result<AppPredicate<'a>, ApiError> {
    let expr = Expr::parse(filter).map_err(|_| ApiError::invalid_search())?;
    if let Expr::Compare {
        path,
        operator: Operator::Eq,
        value: Some(crate::filter::Literal::String(id)),
    } = &expr
    {
        let id = id.clone();
        match path.as_str() {
            "user.id" => {
                return Ok(Box::new(move |app: &App| {
                    org.app_users(&app.id).iter().any(|(user, _)| user.id == id)
                }));
            }
            "group.id" => {
                return Ok(Box::new(move |app: &App| {
                    org.app_group_assignments
                        .get(&app.id)
                        .is_some_and(|groups| groups.contains(&id))
                }));
            }
            _ => {}
        }
    }
    let org_id = org.org_id.as_str();
    Ok(Box::new(move |app: &App| {
        expr.matches(&app.to_okta_json(base_url, org_id), MatchOptions::default())
    }))
}

/// `GET /api/v1/apps`, with `q` (name or label prefix) and `filter`.
pub(crate) async fn list_apps(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.authority.authorize(&headers, APPS_READ, uri.path())?;
    let params = query_params(&uri);
    let org = state.read_org();
    let base_url = state.base_url.as_str();
    let mut apps: Vec<&App> = org.apps.iter().collect();
    if let Some(filter) = params.get("filter") {
        let matcher = app_matcher(&org, filter, base_url)?;
        apps.retain(|app| matcher(app));
    }
    if let Some(prefix) = params.get("q") {
        let prefix = prefix.to_lowercase();
        apps.retain(|app| {
            app.name.to_lowercase().starts_with(&prefix)
                || app.label.to_lowercase().starts_with(&prefix)
        });
    }
    apps.sort_by(|left, right| left.id.cmp(&right.id));
    let limit = paging::limit(&params, 20, 200)?;
    let after = params.get("after").map(String::as_str);
    let page = paging::page_by_key(
        apps,
        |app| &app.id,
        after,
        limit,
        |app| app.to_okta_json(base_url, &org.org_id),
    );
    Ok(respond(&state, &uri, page))
}

/// `GET /api/v1/apps/{id}`.
pub(crate) async fn get_app(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.authority.authorize(&headers, APPS_READ, uri.path())?;
    let org = state.read_org();
    let app = org
        .app(&id)
        .ok_or_else(|| ApiError::not_found(&id, "AppInstance"))?;
    Ok(Json(app.to_okta_json(&state.base_url, &org.org_id)).into_response())
}

/// Renders an app user: the user's assignment to an app with its scope.
fn app_user_json(
    (org, groups): (&Org, &ById),
    app: &App,
    user: &User,
    scope: &AssignmentScope,
    base_url: &str,
    expand: bool,
) -> Value {
    let provisioned = app.provisions_users();
    let created = user.created.max(app.created);
    let mut links = json!({
        "app": {"href": format!("{base_url}/api/v1/apps/{}", app.id)},
        "user": {"href": format!("{base_url}/api/v1/users/{}", user.id)},
    });
    let scope_name = match scope {
        AssignmentScope::User => "USER",
        AssignmentScope::Group(group_id) => {
            let name = groups
                .find(&org.groups, |group| &group.id, group_id)
                .map_or("", |position| org.groups[position].name.as_str());
            links["group"] =
                json!({"name": name, "href": format!("{base_url}/api/v1/groups/{group_id}")});
            "GROUP"
        }
    };
    let mut value = json!({
        "id": user.id,
        "externalId": provisioned.then(|| crate::ids::derived_object_id("ext", &format!("{}/{}", app.id, user.id))),
        "created": format_okta(created),
        "lastUpdated": format_okta(created.max(user.last_updated)),
        "scope": scope_name,
        "status": if provisioned { "PROVISIONED" } else { "ACTIVE" },
        "statusChanged": format_okta(created),
        "passwordChanged": null,
        "syncState": if provisioned { "SYNCHRONIZED" } else { "DISABLED" },
        "lastSync": provisioned.then(|| format_okta(created.max(user.last_updated))),
        "credentials": {"userName": user.profile.login},
        "profile": {"email": user.profile.email},
        "_links": links,
    });
    if expand {
        value["_embedded"] = json!({"user": user.to_okta_json(base_url)});
    }
    value
}

/// Appends an app user as JSON text, the same text that `app_user_json` gives without
/// `expand`, and faster because no `Value` is built: keys in the sorted order of
/// serde_json's default map.
fn write_app_user_text(
    out: &mut String,
    (org, groups): (&Org, &ById),
    (app, user, scope): (&App, &User, &AssignmentScope),
    base_url: &str,
) {
    let provisioned = app.provisions_users();
    let created = user.created.max(app.created);
    let updated = created.max(user.last_updated);
    let push_time = |out: &mut String, time| {
        out.push('"');
        push_okta_time(out, time);
        out.push('"');
    };
    out.push_str("{\"_links\":{\"app\":{\"href\":");
    push_json_string(out, &[base_url, "/api/v1/apps/", &app.id]);
    out.push('}');
    let scope_name = match scope {
        AssignmentScope::User => "USER",
        AssignmentScope::Group(group_id) => {
            let name = groups
                .find(&org.groups, |group| &group.id, group_id)
                .map_or("", |position| org.groups[position].name.as_str());
            out.push_str(",\"group\":{\"href\":");
            push_json_string(out, &[base_url, "/api/v1/groups/", group_id]);
            out.push_str(",\"name\":");
            push_json_string(out, &[name]);
            out.push('}');
            "GROUP"
        }
    };
    out.push_str(",\"user\":{\"href\":");
    push_json_string(out, &[base_url, "/api/v1/users/", &user.id]);
    out.push_str("}},\"created\":");
    push_time(out, created);
    out.push_str(",\"credentials\":{\"userName\":");
    push_json_string(out, &[&user.profile.login]);
    out.push_str("},\"externalId\":");
    if provisioned {
        // A derived id is ASCII letters and digits, which need no escaping.
        out.push('"');
        push_derived_object_id(out, "ext", &[&app.id, "/", &user.id]);
        out.push('"');
    } else {
        out.push_str("null");
    }
    out.push_str(",\"id\":");
    push_json_string(out, &[&user.id]);
    out.push_str(",\"lastSync\":");
    if provisioned {
        push_time(out, updated);
    } else {
        out.push_str("null");
    }
    out.push_str(",\"lastUpdated\":");
    push_time(out, updated);
    out.push_str(",\"passwordChanged\":null,\"profile\":{\"email\":");
    push_json_string(out, &[&user.profile.email]);
    out.push_str("},\"scope\":");
    push_json_string(out, &[scope_name]);
    out.push_str(",\"status\":");
    out.push_str(if provisioned {
        "\"PROVISIONED\""
    } else {
        "\"ACTIVE\""
    });
    out.push_str(",\"statusChanged\":");
    push_time(out, created);
    out.push_str(",\"syncState\":");
    out.push_str(if provisioned {
        "\"SYNCHRONIZED\""
    } else {
        "\"DISABLED\""
    });
    out.push('}');
}

/// `GET /api/v1/apps/{id}/users`: direct assignments (scope `USER`) and members of
/// assigned groups (scope `GROUP`), with `expand=user` and `q`.
pub(crate) async fn app_users(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.authority.authorize(&headers, APPS_READ, uri.path())?;
    let params = query_params(&uri);
    let org = state.read_org();
    let app = org
        .app(&id)
        .ok_or_else(|| ApiError::not_found(&id, "AppInstance"))?;
    let limit = paging::limit(&params, 50, 500)?;
    let expand = params.get("expand").is_some_and(|expand| expand == "user");
    let prefix = params.get("q").map(|prefix| prefix.to_lowercase());
    let matches_prefix = |user: &User| {
        prefix.as_ref().is_none_or(|prefix| {
            let profile = &user.profile;
            [
                &profile.login,
                &profile.first_name,
                &profile.last_name,
                &profile.email,
            ]
            .iter()
            .any(|field| field.to_lowercase().starts_with(prefix))
        })
    };
    let after = params.get("after").map(String::as_str);
    let groups = state.index.groups(&org);
    let render = |(user, scope): &(&User, AssignmentScope)| {
        app_user_json((&org, &groups), app, user, scope, &state.base_url, expand)
    };
    let users = state.index.users(&org);
    let sorted_ranks = |list: &[String]| state.index.sorted_user_ranks(&org, &users, list);
    let merged = merged_app_users(
        (&org, &users),
        &id,
        (after, limit + 1),
        &matches_prefix,
        &sorted_ranks,
    );
    let page = match merged {
        Some(mut rows) => {
            let more = rows.len() > limit && limit > 0;
            rows.truncate(limit);
            let next_after = more
                .then(|| rows.last().map(|(user, _)| user.id.clone()))
                .flatten();
            if !expand {
                // An app user is about 700 bytes of JSON.
                let body = json_array(rows.len(), rows.len() * 768 + 2, |position, out| {
                    let (user, scope) = &rows[position];
                    write_app_user_text(out, (&org, &groups), (app, user, scope), &state.base_url);
                });
                return Ok(respond_body(&state, &uri, body, next_after));
            }
            Page {
                items: rows.iter().map(render).collect(),
                next_after,
            }
        }
        None => {
            let mut rows = org.app_users(&id);
            rows.retain(|(user, _)| matches_prefix(user));
            paging::page_by_key(rows, |(user, _)| &user.id, after, limit, render)
        }
    };
    Ok(respond(&state, &uri, page))
}

/// Lists up to `wanted` users of an app after the cursor, as [`Org::app_users`] does, by
/// merging the sorted lists of direct assignees and of the assigned groups' members,
/// as user ranks in id order. Returns `None` when one of those lists is not sorted.
fn merged_app_users<'a>(
    (org, users): (&'a Org, &ById),
    app_id: &str,
    (after, wanted): (Option<&str>, usize),
    keep: &dyn Fn(&User) -> bool,
    sorted_ranks: &dyn Fn(&[String]) -> Option<Ranks>,
) -> Option<Vec<(&'a User, AssignmentScope)>> {
    let direct = org
        .app_user_assignments
        .get(app_id)
        .map_or(&[][..], Vec::as_slice);
    let mut lists: Vec<(Ranks, Option<&str>)> = vec![(sorted_ranks(direct)?, None)];
    for group_id in org.app_group_assignments.get(app_id).into_iter().flatten() {
        let members = org.memberships.get(group_id).map_or(&[][..], Vec::as_slice);
        lists.push((sorted_ranks(members)?, Some(group_id.as_str())));
    }
    let id_at = |rank: u32| org.users[users.position_at(rank)].id.as_str();
    let mut sources: Vec<(&[u32], Option<&str>)> = lists
        .iter()
        .map(|(ranks, group)| {
            let start = after.map_or(0, |after| {
                ranks.partition_point(|&rank| id_at(rank) <= after)
            });
            (&ranks[start..], *group)
        })
        .collect();
    let mut rows = Vec::new();
    while rows.len() < wanted {
        let Some(&next) = sources.iter().filter_map(|(list, _)| list.first()).min() else {
            break;
        };
        let mut scope = None;
        for (list, group) in &mut sources {
            if list.first() == Some(&next) {
                scope.get_or_insert_with(|| match group {
                    None => AssignmentScope::User,
                    Some(group) => AssignmentScope::Group(group.to_string()),
                });
                *list = &list[1..];
            }
        }
        let user = &org.users[users.position_at(next)];
        let scope = scope.unwrap_or(AssignmentScope::User);
        let listed = scope == AssignmentScope::User || user.status != UserStatus::Deprovisioned;
        if listed && keep(user) {
            rows.push((user, scope));
        }
    }
    Some(rows)
}

/// `GET /api/v1/apps/{id}/groups`: assigned groups with their priority, `expand=group`.
pub(crate) async fn app_groups(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.authority.authorize(&headers, APPS_READ, uri.path())?;
    let params = query_params(&uri);
    let org = state.read_org();
    let app = org
        .app(&id)
        .ok_or_else(|| ApiError::not_found(&id, "AppInstance"))?;
    let limit = paging::limit(&params, 20, 200)?;
    let expand = params.get("expand").is_some_and(|expand| expand == "group");
    let base_url = &state.base_url;
    let mut assigned: Vec<(usize, &Group)> = org
        .app_group_assignments
        .get(&id)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(priority, group_id)| org.group(group_id).map(|group| (priority, group)))
        .collect();
    assigned.sort_by(|left, right| left.1.id.cmp(&right.1.id));
    let render = |(priority, group): &(usize, &Group)| {
        let mut value = json!({
            "id": group.id,
            "lastUpdated": format_okta(app.last_updated.max(group.created)),
            "priority": priority,
            "profile": {},
            "_links": {
                "app": {"href": format!("{base_url}/api/v1/apps/{}", app.id)},
                "self": {"href": format!("{base_url}/api/v1/apps/{}/groups/{}", app.id, group.id)},
                "group": {"href": format!("{base_url}/api/v1/groups/{}", group.id)},
            },
        });
        if expand {
            value["_embedded"] = json!({"group": group.to_okta_json(base_url)});
        }
        value
    };
    let after = params.get("after").map(String::as_str);
    let page = paging::page_by_key(assigned, |(_, group)| &group.id, after, limit, render);
    Ok(respond(&state, &uri, page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{OrgSpec, generate};

    #[test]
    fn merged_app_users_match_org_app_users() {
        let org = generate(&OrgSpec {
            users: 300,
            groups: 30,
            apps: 12,
            log_days: 0,
            ..OrgSpec::default()
        });
        let users = ById::build(&org.users, |user: &User| &user.id);
        let sorted_ranks = |list: &[String]| users.sorted_ranks(&org.users, |user| &user.id, list);
        let rows_of = |rows: Vec<(&User, AssignmentScope)>| -> Vec<(String, AssignmentScope)> {
            rows.into_iter()
                .map(|(user, scope)| (user.id.clone(), scope))
                .collect()
        };
        for app in &org.apps {
            let expected = rows_of(org.app_users(&app.id));
            let all = merged_app_users(
                (&org, &users),
                &app.id,
                (None, usize::MAX),
                &|_| true,
                &sorted_ranks,
            );
            assert_eq!(rows_of(all.unwrap()), expected, "app `{}`", app.id);

            let Some((after, _)) = expected.get(2) else {
                continue;
            };
            let rest = merged_app_users(
                (&org, &users),
                &app.id,
                (Some(after), 5),
                &|_| true,
                &sorted_ranks,
            );
            let tail: Vec<_> = expected.iter().skip(3).take(5).cloned().collect();
            assert_eq!(
                rows_of(rest.unwrap()),
                tail,
                "app `{}` after `{after}`",
                app.id
            );
        }
    }

    #[test]
    fn app_user_text_matches_value_rendering() {
        let org = generate(&OrgSpec {
            users: 120,
            groups: 20,
            apps: 12,
            log_days: 0,
            ..OrgSpec::default()
        });
        let groups = ById::build(&org.groups, |group: &Group| &group.id);
        let mut checked = 0;
        for app in &org.apps {
            for (user, scope) in org.app_users(&app.id).into_iter().take(5) {
                let mut text = String::new();
                write_app_user_text(
                    &mut text,
                    (&org, &groups),
                    (app, user, &scope),
                    "http://127.0.0.1:1",
                );
                let value = app_user_json(
                    (&org, &groups),
                    app,
                    user,
                    &scope,
                    "http://127.0.0.1:1",
                    false,
                );
                assert_eq!(
                    text,
                    value.to_string(),
                    "app `{}` user `{}`",
                    app.id,
                    user.id
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "{checked} rows checked");
    }
}
