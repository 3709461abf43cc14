//! Factors, group rules, group owners, group roles and the admin assignee list.

use serde_json::Value;

use crate::support::{access_token, collect_pages, get, next_link, small_org, start};

#[tokio::test]
async fn user_factors_list_several_types() {
    let org = small_org();
    let with_factors: Vec<String> = org.factors.keys().cloned().collect();
    assert!(with_factors.len() > 100, "most users have factors");
    let types: std::collections::BTreeSet<&str> = org
        .factors
        .values()
        .flatten()
        .map(|factor| factor.factor_type.as_str())
        .collect();
    assert!(types.len() >= 4, "factor types: {types:?}");

    let sim = start(org.clone()).await;
    let token = access_token(&sim).await;
    let user_id = &with_factors[0];
    let response = get(&sim, &token, &format!("/api/v1/users/{user_id}/factors")).await;
    assert_eq!(response.status(), 200);
    let factors: Vec<Value> = response.json().await.unwrap();
    assert_eq!(factors.len(), org.factors[user_id].len());
    assert_eq!(factors[0]["factorType"], "push");
    assert_eq!(factors[0]["status"], "ACTIVE");
    assert!(
        factors[0]["_links"]["user"]["href"]
            .as_str()
            .unwrap()
            .ends_with(user_id.as_str())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn group_rules_page_with_expressions() {
    let org = small_org();
    let rules = org.group_rules.len();
    assert!(rules >= 3, "{rules} rules");
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let first = get(
        &sim,
        &token,
        "/api/v1/groups/rules?limit=2&expand=groupIdToGroupNameMap",
    )
    .await;
    assert!(next_link(&first).is_some());
    let page: Vec<Value> = first.json().await.unwrap();
    assert_eq!(page[0]["type"], "group_rule");
    let expression = page[0]["conditions"]["expression"]["value"]
        .as_str()
        .unwrap();
    assert!(
        expression.starts_with("user.department==\""),
        "{expression}"
    );
    assert_eq!(
        page[0]["conditions"]["expression"]["type"],
        "urn:okta:expression:1.0"
    );
    let group_id = page[0]["actions"]["assignUserToGroups"]["groupIds"][0]
        .as_str()
        .unwrap();
    assert!(page[0]["_embedded"]["groupIdToGroupNameMap"][group_id].is_string());
    let all = collect_pages(&sim, &token, "/api/v1/groups/rules?limit=2").await;
    assert_eq!(all.len(), rules);
    sim.shutdown().await;
}

#[tokio::test]
async fn group_owners_and_roles() {
    let org = small_org();
    let (owned_group, owners) = org.group_owners.iter().next().unwrap();
    let (role_group, roles) = org.group_roles.iter().next().unwrap();
    let (owned_group, owner) = (owned_group.clone(), owners[0].clone());
    let (role_group, role_count) = (role_group.clone(), roles.len());
    assert!(
        org.group_roles
            .values()
            .flatten()
            .any(|role| role.role_type == "CUSTOM")
    );

    let sim = start(org).await;
    let token = access_token(&sim).await;
    let owners: Vec<Value> = get(
        &sim,
        &token,
        &format!("/api/v1/groups/{owned_group}/owners"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(owners[0]["id"], owner);
    assert_eq!(owners[0]["type"], "USER");
    let roles: Vec<Value> = get(&sim, &token, &format!("/api/v1/groups/{role_group}/roles"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(roles.len(), role_count);
    assert_eq!(roles[0]["assignmentType"], "GROUP");
    sim.shutdown().await;
}

#[tokio::test]
async fn role_assignees_page_in_body() {
    let org = small_org();
    let admins = org
        .admin_roles
        .values()
        .filter(|roles| !roles.is_empty())
        .count();
    assert!(admins >= 2);
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let mut url = format!("{}/api/v1/iam/assignees/users?limit=1", sim.base_url);
    let mut seen = Vec::new();
    loop {
        let response = get(&sim, &token, &url).await;
        assert_eq!(response.status(), 200);
        assert_eq!(next_link(&response), None, "paging is in the body");
        let body: Value = response.json().await.unwrap();
        seen.extend(
            body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|user| user["id"].clone()),
        );
        match body["_links"]["next"]["href"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
        assert!(seen.len() <= admins);
    }
    assert_eq!(seen.len(), admins);
    sim.shutdown().await;
}
