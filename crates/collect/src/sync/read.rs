//! Reading directory objects from Okta and turning them into store rows.
//!
//! Each reader fetches one listing or one object's sub-listing. The callers
//! in `full` and `incremental` decide which to read; [`fetch_each`] runs a
//! reader over many objects a few at a time.

use std::future::Future;

use futures::stream::{self, StreamExt};
use idaudit_okta::Client;
use idaudit_okta::models::{
    self, AppGroup, AppUser, Application, Factor, Group, GroupRule, RoleAssignment, User,
};
use idaudit_store::{
    AppGroupRow, AppRow, AppUserRow, FactorRow, GroupOwnerRow, GroupRow, GroupRuleRow,
    RoleAssignmentRow, UserRow,
};
use serde_json::Value;

use super::SyncError;
use crate::Progress;

/// Requests for sub-listings in flight at once.
const CONCURRENCY: usize = 4;

/// Returns whether a user of this status has factors worth reading: STAGED
/// and PROVISIONED users have not enrolled yet, and a DEPROVISIONED user
/// cannot sign in, so any factors left on the account grant nothing.
pub(super) fn may_have_factors(status: &str) -> bool {
    !matches!(status, "STAGED" | "PROVISIONED" | "DEPROVISIONED")
}

/// Runs `fetch` for each key, [`CONCURRENCY`] at a time, as one progress phase.
pub(super) async fn fetch_each<T, F, Fut>(
    progress: &dyn Progress,
    phase: &str,
    keys: Vec<String>,
    fetch: F,
) -> Vec<(String, Result<T, SyncError>)>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, SyncError>>,
{
    progress.start_phase(phase, Some(keys.len() as u64));
    let results = fetch_all(progress, keys, fetch).await;
    progress.finish_phase();
    results
}

/// Runs `fetch` for each key, [`CONCURRENCY`] at a time, advancing the
/// current progress phase by one per key.
pub(super) async fn fetch_all<T, F, Fut>(
    progress: &dyn Progress,
    keys: Vec<String>,
    fetch: F,
) -> Vec<(String, Result<T, SyncError>)>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, SyncError>>,
{
    stream::iter(keys.into_iter().map(|key| {
        let future = fetch(key.clone());
        async move {
            let result = future.await;
            progress.advance(1);
            (key, result)
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await
}

/// Runs `fetch` for each key, [`CONCURRENCY`] at a time, and hands each
/// result to `handle` as soon as it completes, so that results are not held
/// until the last one. Advances the current progress phase by one per key.
/// Stops at the first error `handle` returns.
pub(super) async fn for_each_fetched<T, F, Fut>(
    progress: &dyn Progress,
    keys: Vec<String>,
    fetch: F,
    mut handle: impl FnMut(String, Result<T, SyncError>) -> Result<(), SyncError>,
) -> Result<(), SyncError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, SyncError>>,
{
    let mut results = stream::iter(keys.into_iter().map(|key| {
        let future = fetch(key.clone());
        async move { (key, future.await) }
    }))
    .buffer_unordered(CONCURRENCY);
    while let Some((key, result)) = results.next().await {
        progress.advance(1);
        handle(key, result)?;
    }
    Ok(())
}

/// Reads every page of a listing and hands each page's models, each with
/// its JSON, to `sink` as the page arrives. Stops at the first error.
///
/// Like [`Client::for_each_page`], it ends the listing when a `next` link
/// repeats the URL just read, which Okta's groups listing has been seen to do.
pub(super) async fn read_pages<T: serde::de::DeserializeOwned>(
    client: &Client,
    path: &str,
    mut sink: impl FnMut(Vec<(T, Value)>) -> Result<(), SyncError>,
) -> Result<(), SyncError> {
    let mut url = client.url(path);
    loop {
        let page = client.get_page(&url).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for value in page.items {
            let model = models::from_value::<T>(&value)
                .map_err(|error| SyncError::Model(format!("item in `{}`: {error}", page.url)))?;
            items.push((model, value));
        }
        sink(items)?;
        match page.next {
            None => return Ok(()),
            Some(next) if next == url => {
                tracing::warn!(url = %next, "Okta returned a next link equal to the page just read; ending the listing");
                return Ok(());
            }
            Some(next) => url = next,
        }
    }
}

/// Progress of work that runs inside a phase someone else started: it
/// advances that phase and starts or finishes none, so that several
/// listings can run at once under one phase.
pub(super) struct WithinPhase<'a>(pub &'a dyn Progress);

impl Progress for WithinPhase<'_> {
    fn start_phase(&self, _name: &str, _total: Option<u64>) {}

    fn advance(&self, count: u64) {
        self.0.advance(count);
    }

    fn finish_phase(&self) {}
}

/// Returns true for the 404 of an object deleted since it was listed.
pub(super) fn is_vanished(error: &SyncError) -> bool {
    matches!(error, SyncError::Okta(error) if error.status().is_some_and(|status| status == 404))
}

/// Returns true for a 403 naming a scope the token lacks.
pub(super) fn is_missing_scope(error: &SyncError) -> bool {
    matches!(
        error,
        SyncError::Okta(idaudit_okta::Error::MissingScope { .. })
    )
}

/// Warns that admin roles were not read and why.
pub(super) fn warn_roles_skipped() {
    tracing::warn!(
        "Skipped admin role assignments: the token lacks `okta.roles.read`; grant it to the service app and list it in `scopes` to sync roles"
    );
}

/// Reads every page of a listing, keeping each model with its raw JSON.
pub(super) async fn read_listing<T: serde::de::DeserializeOwned>(
    client: &Client,
    progress: &dyn Progress,
    phase: &str,
    path: &str,
) -> Result<Vec<(T, String)>, SyncError> {
    progress.start_phase(phase, None);
    let mut items = Vec::new();
    let mut failure = None;
    client
        .for_each_page(path, |page| {
            progress.advance(page.items.len() as u64);
            for value in page.items {
                match models::from_value::<T>(&value) {
                    Ok(model) => items.push((model, value.to_string())),
                    Err(error) => failure = Some(format!("{phase} in {}: {error}", page.url)),
                }
            }
            Ok(())
        })
        .await?;
    progress.finish_phase();
    match failure {
        Some(message) => Err(SyncError::Model(message)),
        None => Ok(items),
    }
}

/// Reads every user whose listing matches `filter`, or every user in any
/// status when `filter` is `None`.
///
/// Okta omits DEPROVISIONED users from an unfiltered `/api/v1/users`, so the
/// complete listing is read twice: once plain and once with
/// `filter=status eq "DEPROVISIONED"`. A filtered listing includes every status.
pub(super) async fn read_users(
    client: &Client,
    progress: &dyn Progress,
    filter: Option<&str>,
) -> Result<Vec<UserRow>, SyncError> {
    if let Some(filter) = filter {
        let path = format!("/api/v1/users?limit=200&filter={}", encode_query(filter));
        let users = read_listing::<User>(client, progress, "Changed users", &path).await?;
        return Ok(users.into_iter().map(user_row).collect());
    }
    let mut users =
        read_listing::<User>(client, progress, "Users", "/api/v1/users?limit=200").await?;
    if users.is_empty() {
        // Okta returns 200 with an empty list when the app has scopes but no admin role.
        tracing::warn!(
            "Okta listed no users: the service app may lack an admin role; assign it one that can read users, such as Read-only Administrator"
        );
    }
    let deprovisioned = read_listing::<User>(
        client,
        progress,
        "Deprovisioned users",
        "/api/v1/users?limit=200&filter=status%20eq%20%22DEPROVISIONED%22",
    )
    .await?;
    users.extend(deprovisioned);
    // The two listings can overlap if a user is deactivated between them.
    users.sort_by(|left, right| left.0.id.cmp(&right.0.id));
    users.dedup_by(|left, right| left.0.id == right.0.id);
    Ok(users.into_iter().map(user_row).collect())
}

pub(super) async fn read_groups(
    client: &Client,
    progress: &dyn Progress,
    filter: Option<&str>,
) -> Result<Vec<GroupRow>, SyncError> {
    let path = match filter {
        Some(filter) => format!("/api/v1/groups?limit=200&filter={}", encode_query(filter)),
        None => "/api/v1/groups?limit=200".to_string(),
    };
    let groups = read_listing::<Group>(client, progress, "Groups", &path).await?;
    Ok(groups.into_iter().map(group_row).collect())
}

pub(super) async fn read_apps(
    client: &Client,
    progress: &dyn Progress,
) -> Result<Vec<AppRow>, SyncError> {
    let apps =
        read_listing::<Application>(client, progress, "Apps", "/api/v1/apps?limit=200").await?;
    Ok(apps.into_iter().map(app_row).collect())
}

pub(super) async fn read_group_rules(
    client: &Client,
    progress: &dyn Progress,
) -> Result<Vec<GroupRuleRow>, SyncError> {
    let path = "/api/v1/groups/rules?limit=200";
    let rules = read_listing::<GroupRule>(client, progress, "Group rules", path).await?;
    Ok(rules
        .into_iter()
        .map(|(rule, raw)| GroupRuleRow {
            expression: rule.expression().map(str::to_string),
            group_ids: rule.group_ids(),
            id: rule.id,
            name: rule.name,
            status: rule.status,
            raw,
        })
        .collect())
}

/// Reads the ids of the users with an admin role assigned directly.
///
/// `/api/v1/iam/assignees/users` pages in its body (`_links.next.href`)
/// rather than in a `link` header, so the pages are followed here.
pub(super) async fn read_role_assignees(client: &Client) -> Result<Vec<String>, SyncError> {
    let mut ids = Vec::new();
    let mut path = "/api/v1/iam/assignees/users?limit=1000".to_string();
    let base = client.org_url().as_str().trim_end_matches('/').to_string();
    loop {
        let body = client.get_json(&path).await?;
        let items = body.get("value").and_then(Value::as_array);
        for item in items.into_iter().flatten() {
            if let Some(id) = item.get("id").and_then(Value::as_str) {
                ids.push(id.to_string());
            }
        }
        let next = body.pointer("/_links/next/href").and_then(Value::as_str);
        match next.and_then(|href| href.strip_prefix(&base)) {
            Some(next) if next != path => path = next.to_string(),
            _ => break,
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

pub(super) async fn read_user(client: &Client, user_id: &str) -> Result<UserRow, SyncError> {
    let value = client.get_json(&format!("/api/v1/users/{user_id}")).await?;
    let user: User = parse(&value, "user", user_id)?;
    Ok(user_row((user, value.to_string())))
}

pub(super) async fn read_group(client: &Client, group_id: &str) -> Result<GroupRow, SyncError> {
    let value = client
        .get_json(&format!("/api/v1/groups/{group_id}"))
        .await?;
    let group: Group = parse(&value, "group", group_id)?;
    Ok(group_row((group, value.to_string())))
}

pub(super) async fn read_members(
    client: &Client,
    group_id: &str,
) -> Result<Vec<String>, SyncError> {
    // Only the ids are kept, page by page: a group of everyone lists every
    // user with the whole profile.
    let mut ids = Vec::new();
    client
        .for_each_page(
            &format!("/api/v1/groups/{group_id}/users?limit=1000"),
            |page| {
                let page_ids = page
                    .items
                    .iter()
                    .filter_map(|member| Some(member.get("id")?.as_str()?.to_string()));
                ids.extend(page_ids);
                Ok(())
            },
        )
        .await?;
    ids.sort();
    Ok(ids)
}

/// Reads the user assignments of an app and hands each page's rows to
/// `sink` as the page arrives, because an app assigned to everyone lists
/// every user of the org.
pub(super) async fn read_app_user_pages(
    client: &Client,
    app_id: &str,
    mut sink: impl FnMut(Vec<AppUserRow>) -> Result<(), SyncError>,
) -> Result<(), SyncError> {
    let path = format!("/api/v1/apps/{app_id}/users?limit=500");
    read_pages::<AppUser>(client, &path, |page| {
        let rows = page
            .into_iter()
            .map(|(row, value)| app_user_row(app_id, row, &value))
            .collect();
        sink(rows)
    })
    .await
}

pub(super) async fn read_app_groups(
    client: &Client,
    app_id: &str,
) -> Result<Vec<AppGroupRow>, SyncError> {
    let values = client
        .list_all(&format!("/api/v1/apps/{app_id}/groups?limit=200"))
        .await?;
    let mut rows = Vec::with_capacity(values.len());
    for value in values {
        let row: AppGroup = parse(&value, "app group of", app_id)?;
        rows.push(AppGroupRow {
            app_id: app_id.to_string(),
            group_id: row.id,
            priority: row.priority,
            raw: value.to_string(),
        });
    }
    Ok(rows)
}

/// Reads the roles of a user or a group; `assignee_type` is `USER` or `GROUP`.
///
/// A user's listing can include roles inherited through a group
/// (`assignmentType: GROUP`); those are left out here because they are
/// stored once, under the group.
pub(super) async fn read_roles(
    client: &Client,
    assignee_type: &str,
    assignee_id: &str,
) -> Result<Vec<RoleAssignmentRow>, SyncError> {
    let path = match assignee_type {
        "GROUP" => format!("/api/v1/groups/{assignee_id}/roles"),
        _ => format!("/api/v1/users/{assignee_id}/roles"),
    };
    let values = client.list_all(&path).await?;
    let mut rows = Vec::with_capacity(values.len());
    for value in values {
        let role: RoleAssignment = parse(&value, "role of", assignee_id)?;
        let inherited = assignee_type == "USER" && role.assignment_type.as_deref() == Some("GROUP");
        if inherited {
            continue;
        }
        rows.push(RoleAssignmentRow {
            assignee_type: assignee_type.to_string(),
            assignee_id: assignee_id.to_string(),
            id: role.id,
            role_type: role.role_type,
            label: role.label,
            status: role.status,
            assignment_type: role.assignment_type,
            custom_role_id: role.role,
            resource_set_id: role.resource_set,
            created: role.created,
            raw: value.to_string(),
        });
    }
    Ok(rows)
}

pub(super) async fn read_factors(
    client: &Client,
    user_id: &str,
) -> Result<Vec<FactorRow>, SyncError> {
    let values = client
        .list_all(&format!("/api/v1/users/{user_id}/factors"))
        .await?;
    let mut rows = Vec::with_capacity(values.len());
    for value in values {
        let factor: Factor = parse(&value, "factor of", user_id)?;
        rows.push(FactorRow {
            user_id: user_id.to_string(),
            id: factor.id,
            factor_type: factor.factor_type,
            provider: factor.provider,
            vendor_name: factor.vendor_name,
            status: factor.status,
            created: factor.created,
            last_updated: factor.last_updated,
            raw: value.to_string(),
        });
    }
    Ok(rows)
}

pub(super) async fn read_owners(
    client: &Client,
    group_id: &str,
) -> Result<Vec<GroupOwnerRow>, SyncError> {
    let values = client
        .list_all(&format!("/api/v1/groups/{group_id}/owners?limit=1000"))
        .await?;
    Ok(values
        .into_iter()
        .filter_map(|value| {
            let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
            Some(GroupOwnerRow {
                group_id: group_id.to_string(),
                owner_id: text("id")?,
                owner_type: text("type").unwrap_or_else(|| "USER".to_string()),
                display_name: text("displayName"),
                raw: value.to_string(),
            })
        })
        .collect())
}

fn parse<T: serde::de::DeserializeOwned>(
    value: &Value,
    kind: &str,
    id: &str,
) -> Result<T, SyncError> {
    models::from_value(value).map_err(|error| SyncError::Model(format!("{kind} `{id}`: {error}")))
}

/// Percent-encodes a filter expression for a query string.
pub(super) fn encode_query(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

pub(super) fn user_row((user, raw): (User, String)) -> UserRow {
    let profile = user.profile;
    UserRow {
        id: user.id,
        status: user.status,
        login: profile.login,
        email: profile.email,
        first_name: profile.first_name,
        last_name: profile.last_name,
        display_name: profile.display_name,
        manager_id: profile.manager_id,
        department: profile.department,
        title: profile.title,
        created: user.created,
        last_login: user.last_login,
        last_updated: user.last_updated,
        status_changed: user.status_changed,
        raw,
    }
}

pub(super) fn group_row((group, raw): (Group, String)) -> GroupRow {
    GroupRow {
        id: group.id,
        group_type: group.group_type,
        name: group.profile.name,
        description: group.profile.description,
        last_updated: group.last_updated,
        last_membership_updated: group.last_membership_updated,
        raw,
    }
}

pub(super) fn app_row((app, raw): (Application, String)) -> AppRow {
    AppRow {
        id: app.id,
        name: app.name,
        label: app.label,
        status: app.status,
        sign_on_mode: app.sign_on_mode,
        raw,
    }
}

/// Builds an app user row; the granting group of a `GROUP`-scoped
/// assignment is the last segment of `_links.group.href`.
pub(super) fn app_user_row(app_id: &str, row: AppUser, value: &Value) -> AppUserRow {
    let granting_group_id = (row.scope == "GROUP")
        .then(|| value.pointer("/_links/group/href")?.as_str())
        .flatten()
        .and_then(|href| href.rsplit('/').next())
        .map(str::to_string);
    AppUserRow {
        app_id: app_id.to_string(),
        user_name: row.user_name(),
        user_id: row.id,
        scope: row.scope,
        status: row.status,
        created: row.created,
        granting_group_id,
        raw: value.to_string(),
    }
}

/// Turns a failed per-object read into `None` when the object was deleted
/// since it was listed, with a warning; other errors pass through.
pub(super) fn skip_if_vanished<T>(
    result: Result<T, SyncError>,
    kind: &str,
    id: &str,
) -> Result<Option<T>, SyncError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if is_vanished(&error) => {
            tracing::warn!(kind, id, "Skipped a {kind} deleted during the sync");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}
