//! Apps, app users with scope `USER` and `GROUP`, and app groups.

use serde_json::Value;

use crate::support::{access_token, collect_pages, encode, get, small_org, start};

#[tokio::test]
async fn app_users_have_user_and_group_scopes() {
    let org = small_org();
    let leaver = org.scenario("leaver_with_assignments").unwrap().clone();
    let leaver_id = leaver.user_ids[0].clone();
    assert!(!leaver.app_ids.is_empty());
    let app_id = leaver.app_ids[0].clone();
    let expected = org.app_users(&app_id).len();
    let sim = start(org).await;
    let token = access_token(&sim).await;

    let rows = collect_pages(
        &sim,
        &token,
        &format!("/api/v1/apps/{app_id}/users?limit=7"),
    )
    .await;
    assert_eq!(rows.len(), expected);
    let direct: Vec<&Value> = rows.iter().filter(|row| row["scope"] == "USER").collect();
    let through_group: Vec<&Value> = rows.iter().filter(|row| row["scope"] == "GROUP").collect();
    assert!(
        !direct.is_empty(),
        "the leaver at least is assigned directly"
    );
    assert!(
        !through_group.is_empty(),
        "department or Everyone members come through groups"
    );

    let leaver_row = rows
        .iter()
        .find(|row| row["id"] == leaver_id.as_str())
        .expect("leaver is listed");
    assert_eq!(leaver_row["scope"], "USER");
    assert_eq!(
        leaver_row["_links"]["user"]["href"],
        format!("{}/api/v1/users/{leaver_id}", sim.base_url)
    );
    assert_eq!(
        leaver_row["_links"]["app"]["href"],
        format!("{}/api/v1/apps/{app_id}", sim.base_url)
    );

    for row in &through_group {
        let group_href = row["_links"]["group"]["href"].as_str().unwrap();
        assert!(group_href.starts_with(&format!("{}/api/v1/groups/00g", sim.base_url)));
        assert!(row["_links"]["user"]["href"].is_string());
        assert!(row["credentials"]["userName"].is_string());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn leaver_is_listed_on_every_assigned_app() {
    let org = small_org();
    let leaver = org.scenario("leaver_with_assignments").unwrap().clone();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    for app_id in &leaver.app_ids {
        let rows = collect_pages(
            &sim,
            &token,
            &format!("/api/v1/apps/{app_id}/users?limit=500&expand=user"),
        )
        .await;
        let row = rows
            .iter()
            .find(|row| row["id"] == leaver.user_ids[0].as_str())
            .expect("leaver is listed");
        assert_eq!(row["scope"], "USER");
        assert_eq!(row["_embedded"]["user"]["status"], "DEPROVISIONED");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn apps_list_pages_with_default_twenty() {
    let org = small_org();
    let total = org.apps.len();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let first: Vec<Value> = get(&sim, &token, "/api/v1/apps?limit=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first.len(), 5);
    let all = collect_pages(&sim, &token, "/api/v1/apps?limit=5").await;
    assert_eq!(all.len(), total);
    for app in &all {
        assert!(app["id"].as_str().unwrap().starts_with("0oa"));
        assert!(app["signOnMode"].is_string());
        assert!(app["label"].is_string());
    }
    assert!(all.iter().any(|app| app["label"] == "Slack"));
    sim.shutdown().await;
}

#[tokio::test]
async fn apps_filter_by_assigned_user() {
    let org = small_org();
    let leaver = org.scenario("leaver_with_assignments").unwrap().clone();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let filter = encode(&format!(r#"user.id eq "{}""#, leaver.user_ids[0]));
    let apps = collect_pages(&sim, &token, &format!("/api/v1/apps?filter={filter}")).await;
    let ids: Vec<&str> = apps.iter().map(|app| app["id"].as_str().unwrap()).collect();
    for app_id in &leaver.app_ids {
        assert!(ids.contains(&app_id.as_str()));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn app_groups_carry_priority_and_links() {
    let org = small_org();
    let (app_id, group_ids) = org
        .app_group_assignments
        .iter()
        .find(|(_, groups)| !groups.is_empty())
        .map(|(app, groups)| (app.clone(), groups.clone()))
        .unwrap();
    let sim = start(org).await;
    let token = access_token(&sim).await;
    let rows = collect_pages(
        &sim,
        &token,
        &format!("/api/v1/apps/{app_id}/groups?expand=group"),
    )
    .await;
    assert_eq!(rows.len(), group_ids.len());
    for row in &rows {
        assert!(group_ids.contains(&row["id"].as_str().unwrap().to_string()));
        assert!(row["priority"].is_u64());
        assert_eq!(row["_embedded"]["group"]["id"], row["id"]);
    }
    sim.shutdown().await;
}
