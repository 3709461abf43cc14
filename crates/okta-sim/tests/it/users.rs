//! `GET /api/v1/users` and friends: paging by separate `link` lines, DEPROVISIONED users
//! hidden unless a filter or search requests them, filters, lookups by id and login.

use std::collections::BTreeSet;

use idaudit_okta_sim::UserStatus;
use serde_json::Value;

use crate::support::{access_token, collect_pages, encode, get, links, small_org, start};

fn ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn list_pages_through_link_lines() {
    let org = small_org();
    let expected: BTreeSet<String> = org
        .users
        .iter()
        .filter(|user| user.status != UserStatus::Deprovisioned)
        .map(|user| user.id.clone())
        .collect();
    assert!(
        org.users
            .iter()
            .any(|user| user.status == UserStatus::Deprovisioned)
    );
    let sim = start(org).await;
    let token = access_token(&sim).await;

    let first = get(&sim, &token, "/api/v1/users?limit=40").await;
    assert_eq!(first.status(), 200);
    let first_links = links(&first);
    assert_eq!(
        first_links.len(),
        2,
        "self and next on separate lines: {first_links:?}"
    );
    assert_eq!(first_links[0].rel, "self");
    assert_eq!(
        first_links[0].url,
        format!("{}/api/v1/users?limit=40", sim.base_url)
    );
    assert_eq!(first_links[1].rel, "next");
    assert!(
        first_links[1]
            .url
            .starts_with(&format!("{}/api/v1/users?", sim.base_url))
    );
    let first_page: Vec<Value> = first.json().await.unwrap();
    assert_eq!(first_page.len(), 40);

    let all = collect_pages(&sim, &token, "/api/v1/users?limit=40").await;
    assert_eq!(all.len(), expected.len(), "no user twice, none missing");
    assert_eq!(ids(&all), expected);
    assert!(all.iter().all(|user| user["status"] != "DEPROVISIONED"));
    sim.shutdown().await;
}

#[tokio::test]
async fn last_page_has_self_but_no_next() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let response = get(&sim, &token, "/api/v1/users?limit=200").await;
    let page_links = links(&response);
    assert_eq!(page_links.len(), 1);
    assert_eq!(page_links[0].rel, "self");
    sim.shutdown().await;
}

#[tokio::test]
async fn deprovisioned_filter_returns_them() {
    let org = small_org();
    let expected: BTreeSet<String> = org
        .users
        .iter()
        .filter(|user| user.status == UserStatus::Deprovisioned)
        .map(|user| user.id.clone())
        .collect();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let filter = encode(r#"status eq "DEPROVISIONED""#);
    let found = collect_pages(
        &sim,
        &token,
        &format!("/api/v1/users?filter={filter}&limit=5"),
    )
    .await;
    assert!(!found.is_empty());
    assert_eq!(ids(&found), expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn search_over_every_status_returns_all_users() {
    let org = small_org();
    let total = org.users.len();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let statuses = [
        "STAGED",
        "PROVISIONED",
        "ACTIVE",
        "RECOVERY",
        "LOCKED_OUT",
        "PASSWORD_EXPIRED",
        "SUSPENDED",
        "DEPROVISIONED",
    ];
    let search: Vec<String> = statuses
        .iter()
        .map(|status| format!(r#"status eq "{status}""#))
        .collect();
    let path = format!("/api/v1/users?search={}", encode(&search.join(" or ")));
    assert_eq!(collect_pages(&sim, &token, &path).await.len(), total);
    sim.shutdown().await;
}

#[tokio::test]
async fn filter_on_last_updated_combines_with_or() {
    let org = small_org();
    let cutoff = org.users[org.users.len() / 2].last_updated;
    let expected = org
        .users
        .iter()
        .filter(|user| user.last_updated > cutoff || user.status == UserStatus::Staged)
        .count();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let filter = format!(
        r#"lastUpdated gt "{}" or status eq "STAGED""#,
        cutoff.to_rfc3339()
    );
    let found = collect_pages(
        &sim,
        &token,
        &format!("/api/v1/users?filter={}", encode(&filter)),
    )
    .await;
    assert_eq!(found.len(), expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn unsupported_filter_is_invalid_search() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let filter = encode(r#"profile.department eq "Sales""#);
    let response = get(&sim, &token, &format!("/api/v1/users?filter={filter}")).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000031");
    sim.shutdown().await;
}

#[tokio::test]
async fn user_found_by_id_and_login() {
    let org = small_org();
    let leaver = org.scenario("leaver_with_assignments").unwrap().user_ids[0].clone();
    let login = org.user(&leaver).unwrap().profile.login.clone();
    let sim = start(org).await;
    let token = access_token(&sim).await;

    let by_id: Value = get(&sim, &token, &format!("/api/v1/users/{leaver}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_id["id"], leaver);
    assert_eq!(by_id["status"], "DEPROVISIONED");
    assert_eq!(by_id["profile"]["login"], login);
    assert_eq!(
        by_id["_links"]["self"]["href"],
        format!("{}/api/v1/users/{leaver}", sim.base_url)
    );

    let by_login: Value = get(&sim, &token, &format!("/api/v1/users/{login}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_login["id"], leaver);
    sim.shutdown().await;
}

#[tokio::test]
async fn user_json_has_okta_shape() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let users: Vec<Value> = get(&sim, &token, "/api/v1/users?limit=50")
        .await
        .json()
        .await
        .unwrap();
    for user in &users {
        let id = user["id"].as_str().unwrap();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("00u"));
        let profile = &user["profile"];
        for field in [
            "firstName",
            "lastName",
            "login",
            "email",
            "department",
            "title",
            "employeeNumber",
            "city",
            "countryCode",
        ] {
            assert!(profile[field].is_string(), "{field} in {profile}");
        }
        assert_eq!(profile["login"], profile["email"]);
        assert!(user["created"].as_str().unwrap().ends_with(".000Z"));
        assert_eq!(user["credentials"]["provider"]["type"], "OKTA");
    }
    let managed = users
        .iter()
        .filter(|user| user["profile"]["managerId"].is_string())
        .count();
    assert!(
        managed >= users.len() - 1,
        "everyone but the CEO has a manager"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn q_search_is_one_unpaged_page() {
    let org = small_org();
    let first_name = org.users[3].profile.first_name.clone();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let response = get(&sim, &token, &format!("/api/v1/users?q={first_name}")).await;
    assert_eq!(response.status(), 200);
    assert!(links(&response).is_empty(), "q results are not paged");
    let found: Vec<Value> = response.json().await.unwrap();
    assert!(!found.is_empty() && found.len() <= 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn user_roles_list_admin_assignments() {
    let org = small_org();
    let grantee = org.scenario("privilege_grant").unwrap().user_ids[0].clone();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let roles: Vec<Value> = get(&sim, &token, &format!("/api/v1/users/{grantee}/roles"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0]["type"], "SUPER_ADMIN");
    assert_eq!(roles[0]["assignmentType"], "USER");
    sim.shutdown().await;
}

#[tokio::test]
async fn groups_and_members_page() {
    let org = small_org();
    let everyone = org
        .groups
        .iter()
        .find(|group| group.name == "Everyone")
        .unwrap()
        .id
        .clone();
    let member_count = org.memberships[&everyone].len();
    let group_count = org.groups.len();
    let sim = start(org).await;
    let token = access_token(&sim).await;

    let groups = collect_pages(&sim, &token, "/api/v1/groups?limit=7").await;
    assert_eq!(groups.len(), group_count);
    assert!(groups.iter().any(|group| group["type"] == "BUILT_IN"));
    assert!(groups.iter().any(|group| group["type"] == "APP_GROUP"));

    let members = collect_pages(
        &sim,
        &token,
        &format!("/api/v1/groups/{everyone}/users?limit=60"),
    )
    .await;
    assert_eq!(members.len(), member_count);
    sim.shutdown().await;
}

#[tokio::test]
async fn org_change_shows_in_next_page() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let path = "/api/v1/users?limit=5";
    let before: Vec<Value> = get(&sim, &token, path).await.json().await.unwrap();
    // Served twice unchanged, so the rendered users are cached.
    let again: Vec<Value> = get(&sim, &token, path).await.json().await.unwrap();
    assert_eq!(before, again);
    let id = before[0]["id"].as_str().unwrap().to_string();

    let live = sim.org();
    {
        let mut org = live.write().unwrap();
        let user = org.users.iter_mut().find(|user| user.id == id).unwrap();
        user.profile.title = "Changed while serving".to_string();
    }
    let after: Vec<Value> = get(&sim, &token, path).await.json().await.unwrap();
    assert_eq!(after[0]["id"], id.as_str());
    assert_eq!(after[0]["profile"]["title"], "Changed while serving");

    let removed = {
        let mut org = live.write().unwrap();
        let position = org.users.iter().position(|user| user.id == id).unwrap();
        org.users.remove(position).id
    };
    let last: Vec<Value> = get(&sim, &token, path).await.json().await.unwrap();
    assert!(last.iter().all(|user| user["id"] != removed.as_str()));
    sim.shutdown().await;
}
